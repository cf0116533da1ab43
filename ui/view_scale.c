/* The scale screen (next to stats: `s` there): what `ablab scale` stored in this record — per
 * model, size, speed, memory and bits per byte (the newest measurement of each), the fit of bits
 * per byte against non-embedding parameters, and two text plots: bits per byte against
 * parameters (log axis) and decode tokens/s as bars. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

void scale_free(Ui *ui) {
    lab_scale_rows_free(&ui->scale_rows);
    ui->have_scale = false;
}

static void scale_open(Ui *ui) {
    scale_free(ui);
    ui->scale_scroll = 0;
    LabScaleRows all = {0};
    LabErr e = {0};
    if (lab_scale_rows(ui->lab, &all, &e)) {
        lab_scale_rows_free(&all);
        ui_flash(ui, true, "scale: %s", e.msg);
        return;
    }
    /* the newest measurement of each model row, in the order first measured */
    size_t n = 0;
    for (size_t i = 0; i < all.n; i++) {
        size_t k = 0;
        while (k < n && all.v[k].model_id != all.v[i].model_id) k++;
        all.v[k] = all.v[i];
        if (k == n) n++;
    }
    all.n = n;
    ui->scale_rows = all;
    ui->have_scale = true;
}

enum { CK_SCROLL, CK_JK, CK_PAGE, CK_REFRESH, CK_BACK };
static const UiKeyDef scale_keys[] = {
    [CK_SCROLL] = {"↑↓", "scroll", "scroll a line", 0, 0, false, {K_(UK_UP), K_(UK_DOWN)}},
    [CK_JK] = {"j k", NULL, "scroll a line (as ↓ ↑)", 0, 0, false, {K_CH('j'), K_CH('k')}},
    [CK_PAGE] = {"PgUp PgDn", NULL, "scroll a page", 0, 0, false, {K_(UK_PGUP), K_(UK_PGDN)}},
    [CK_REFRESH] = {"r", "refresh", "refresh: the measurements `ablab scale` stored in this record", 0, 0, false,
                    {K_CH('r')}},
    [CK_BACK] = {"Esc q", "back", "back to the stats screen", 0, 0, false, {K_(UK_ESC), K_CH('q')}},
};

static bool scale_key(Ui *ui, const UiKey *k) {
    switch (ui_key_find(&screen_scale, ui_mode(ui, SCR_SCALE), k)) {
    case CK_SCROLL: case CK_JK:
        if (k->code == UK_UP || k->ch == 'k') { if (ui->scale_scroll > 0) ui->scale_scroll--; }
        else ui->scale_scroll++;
        return true;
    case CK_PAGE:
        if (k->code == UK_PGUP) ui->scale_scroll = ui->scale_scroll > 10 ? ui->scale_scroll - 10 : 0;
        else ui->scale_scroll += 10;
        return true;
    case CK_REFRESH: scale_open(ui); ui_flash(ui, false, "scale refreshed"); return true;
    case CK_BACK: ui_goto(ui, SCR_STATS); return true;
    default: return false;
    }
}

typedef struct { UiRect r; int y, scroll; bool paint; } Canvas;

static UiRect row(Canvas *cv) {
    UiRect line = {cv->r.y + cv->y - cv->scroll, cv->r.x, 1, cv->r.w};
    if (!cv->paint || cv->y - cv->scroll < 0 || cv->y - cv->scroll >= cv->r.h) line.h = 0;
    cv->y++;
    return line;
}

enum { PLOT_H = 10 };

static int scale_render(const Ui *ui, const UiLayout *L, bool paint) {
    Canvas cv = {L->full, 0, ui->scale_scroll, paint};
    const LabScaleRows *R = &ui->scale_rows;
    UiRect line;
    if (!ui->have_scale || !R->n) {
        if (paint) {
            d_text(cv.r, 1, 2, "no scale measurements in this record", AT_DIM);
            d_text(cv.r, 2, 2, "measure: ablab scale --models M1 M2 ... --corpus FILE --db THIS-RECORD", AT_DIM);
        }
        return 3;
    }
    if ((line = row(&cv)).h)
        d_printf(line, 0, 1, AT_KEY, "%zu models · machine %s · threads %d · corpus %s · ablab %s", R->n, R->v[0].cpu,
                 R->v[0].threads, R->v[0].corpus, R->v[0].version);
    row(&cv);
    if ((line = row(&cv)).h)
        d_printf(line, 0, 1, AT_HEAD_A, "%-22s %-5s %11s %11s %9s %9s %9s %8s %10s", "model", "dtype", "params",
                 "non-emb", "res. MB", "pp tok/s", "tg tok/s", "bits/B", "GB*s/1ktok");
    double *x = calloc(R->n, sizeof *x), *y = calloc(R->n, sizeof *y);
    double max_tg = 0;
    for (size_t i = 0; i < R->n; i++) {
        const LabScaleRow *r = &R->v[i];
        if (x) x[i] = (double)r->n_params_nonemb;
        if (y) y[i] = r->bits_per_byte;
        if (r->decode_tok_s > max_tg) max_tg = r->decode_tok_s;
        if ((line = row(&cv)).h)
            d_printf(line, 0, 1, AT_NORMAL, "%-22.22s %-5.5s %11lld %11lld %9.2f %9.1f %9.1f %8.4f %10.4g", r->name,
                     r->dtype, (long long)r->n_params, (long long)r->n_params_nonemb, (double)r->bytes_resident / 1e6,
                     r->prefill_tok_s, r->decode_tok_s, r->bits_per_byte,
                     r->decode_tok_s > 0 ? (double)r->bytes_resident / 1e9 * 1000 / r->decode_tok_s : NAN);
    }
    row(&cv);
    LabPowerFit fit;
    LabErr e = {0};
    bool fitted = x && y && lab_power_fit(x, y, R->n, 200, 1, &fit, &e) == 0;
    if ((line = row(&cv)).h) {
        if (!fitted) d_printf(line, 0, 1, AT_DIM, "no fit: %s", e.msg[0] ? e.msg : "out of memory");
        else if (fit.loglog)
            d_printf(line, 0, 1, AT_NORMAL, "log-log slope (fewer than four sizes): alpha = %.3f", fit.alpha);
        else
            d_printf(line, 0, 1, AT_NORMAL, "fit: bits/byte = %.3f + %.3g N^-%.3f, alpha 95%% [%.3f, %.3f]", fit.E, fit.A,
                     fit.alpha, fit.alpha_ci.lo, fit.alpha_ci.hi);
    }
    row(&cv);
    /* bits per byte against log10 non-embedding parameters: each model a letter */
    if ((line = row(&cv)).h) d_text(line, 0, 1, "bits per byte (rows) against non-embedding parameters (log axis)", AT_HEAD_A);
    double xa = INFINITY, xb = -INFINITY, ya = INFINITY, yb = -INFINITY;
    for (size_t i = 0; x && y && i < R->n; i++) {
        if (!(x[i] > 0)) continue;
        double lx = log10(x[i]);
        if (lx < xa) xa = lx;
        if (lx > xb) xb = lx;
        if (y[i] < ya) ya = y[i];
        if (y[i] > yb) yb = y[i];
    }
    if (xb <= xa) xb = xa + 1;
    if (yb <= ya) yb = ya + 1;
    int pw = cv.r.w - 16;
    if (pw < 10) pw = 10;
    for (int rr = 0; rr < PLOT_H; rr++) {
        if (!(line = row(&cv)).h) continue;
        double yv = yb - (yb - ya) * rr / (PLOT_H - 1);
        d_printf(line, 0, 1, AT_DIM, "%7.3f |", yv);
        for (size_t i = 0; x && y && i < R->n; i++) {
            if (!(x[i] > 0)) continue;
            int py = (int)lround((yb - y[i]) / (yb - ya) * (PLOT_H - 1));
            int px = (int)lround((log10(x[i]) - xa) / (xb - xa) * (pw - 1));
            if (py == rr) d_printf(line, 0, 10 + px, AT_KEY, "%c", (char)('A' + (int)(i % 26)));
        }
    }
    if ((line = row(&cv)).h) d_printf(line, 0, 1, AT_DIM, "        +%.*s", pw > 200 ? 200 : pw,
                                      "--------------------------------------------------------------------------------"
                                      "--------------------------------------------------------------------------------"
                                      "----------------------------------------");
    if ((line = row(&cv)).h) {
        d_printf(line, 0, 9, AT_DIM, "1e%.1f", xa);
        d_printf(line, 0, 9 + pw - 6, AT_DIM, "1e%.1f", xb);
    }
    for (size_t i = 0; i < R->n; i++)
        if ((line = row(&cv)).h) d_printf(line, 0, 3, AT_DIM, "%c  %s (%s)", (char)('A' + (int)(i % 26)), R->v[i].name, R->v[i].dtype);
    row(&cv);
    if ((line = row(&cv)).h) d_text(line, 0, 1, "decode tokens/s", AT_HEAD_A);
    for (size_t i = 0; i < R->n; i++) {
        if (!(line = row(&cv)).h) continue;
        int lw = 24, vw = 14, bw = line.w - lw - vw - 4;
        d_printf(line, 0, 2, AT_NORMAL, "%-22.22s", R->v[i].name);
        if (bw > 4) d_bar(line.y, line.x + lw + 2, bw, max_tg > 0 ? R->v[i].decode_tok_s / max_tg : NAN, NAN, NAN, AT_BAR_A);
        d_printf(line, 0, lw + 3 + (bw > 4 ? bw : 0), AT_NORMAL, "%.1f", R->v[i].decode_tok_s);
    }
    free(x);
    free(y);
    return cv.y;
}

static void scale_fit(Ui *ui, const UiLayout *L) {
    int rows = scale_render(ui, L, false);
    if (ui->scale_scroll > rows - 1) ui->scale_scroll = rows > 0 ? rows - 1 : 0;
}

static void scale_draw(const Ui *ui, const UiLayout *L) { scale_render(ui, L, true); }

const UiScreenDef screen_scale = {
    .name = "scale", .title = "Scale", .who = UI_IN_LAB,
    .open = scale_open, .fit = scale_fit, .draw = scale_draw, .key = scale_key, .keys = UI_KEYS(scale_keys),
};
