/* The scale screen (next to stats: `s` there): what `ablab scale` stored in this record — per
 * model, size, speed, memory and bits per byte (the newest measurement of each), the fit of bits
 * per byte against non-embedding parameters, and two text plots: bits per byte against
 * parameters (log axis) and decode tokens/s as bars. `m` measures the two loaded models now on a
 * corpus (lab_scale_measure_loaded on a worker thread, progress through the event queue); Esc
 * cancels it and the lab stores nothing of the model it was measuring. */
#include <curses.h>
#include <math.h>
#include <pthread.h>
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

/* ---------- measure now ---------- */

static void measure_progress(const char *model, const char *stage, double frac, void *ud) {
    Ui *ui = ud;
    Ev *ev = calloc(1, sizeof *ev);
    if (!ev) return;
    ev->kind = EV_SCALE_PROGRESS;
    ev->frac = frac;
    size_t n = strlen(model) + strlen(stage) + 8;
    if ((ev->text = malloc(n))) snprintf(ev->text, n, "%s · %s", model, stage);
    evq_push(&ui->q, ev);
}

static void *measure_main(void *arg) {
    Ui *ui = arg;
    LabErr e = {0};
    int n = lab_scale_measure_loaded(ui->lab, ui->scale_corpus, measure_progress, ui, &ui->scale_cancel, &e);
    Ev *ev = calloc(1, sizeof *ev);
    if (ev) {
        ev->kind = EV_SCALE_DONE;
        ev->ok = n > 0;
        ev->id = n;
        ev->side = e.code == LAB_ECANCEL;
        if (n < 0) snprintf(ev->err, sizeof ev->err, "%s", e.msg);
        evq_push(&ui->q, ev);
    }
    return NULL;
}

void scale_event(Ui *ui, const Ev *ev) {
    if (ev->kind == EV_SCALE_PROGRESS) {
        ui->scale_frac = ev->frac;
        if (ev->text) snprintf(ui->scale_stage, sizeof ui->scale_stage, "%s", ev->text);
        return;
    }
    pthread_join(ui->scale_thread, NULL);
    ui->scale_measuring = false;
    scale_open(ui);
    if (ev->ok) ui_flash(ui, false, "measured %lld model%s: the new rows are in the table", (long long)ev->id, ev->id == 1 ? "" : "s");
    else if (ev->side) ui_flash(ui, false, "measurement cancelled: nothing of it was stored");
    else ui_flash(ui, true, "measure: %s", ev->err);
}

void scale_stop(Ui *ui) {
    if (!ui->scale_measuring) return;
    __atomic_store_n(&ui->scale_cancel, 1, __ATOMIC_RELAXED);
    pthread_join(ui->scale_thread, NULL);
    ui->scale_measuring = false;
}

static void on_corpus(Ui *ui, const char *text) {
    if (!text || !*text) return;
    if (ui->scale_measuring) return;
    if (lab_busy(ui->lab)) { ui_flash(ui, true, "wait for the answers to end (or Esc on the compare screen)"); return; }
    snprintf(ui->scale_corpus, sizeof ui->scale_corpus, "%s", text);
    ui->scale_cancel = 0;
    ui->scale_frac = 0;
    snprintf(ui->scale_stage, sizeof ui->scale_stage, "starting");
    ui->scale_measuring = true;
    if (pthread_create(&ui->scale_thread, NULL, measure_main, ui)) {
        ui->scale_measuring = false;
        ui_flash(ui, true, "could not start the measuring thread");
    }
}

/* UI_IN_RUN while a measurement runs (Esc cancels it), UI_IN_EDIT otherwise (Esc goes back) */
static unsigned scale_mode(const Ui *ui) { return ui->scale_measuring ? UI_IN_RUN : UI_IN_EDIT; }

enum { CK_SCROLL, CK_JK, CK_PAGE, CK_REFRESH, CK_MEASURE, CK_CANCEL, CK_BACK };
static const UiKeyDef scale_keys[] = {
    [CK_SCROLL] = {"↑↓", "scroll", "scroll a line", 0, 0, false, {K_(UK_UP), K_(UK_DOWN)}},
    [CK_JK] = {"j k", NULL, "scroll a line (as ↓ ↑)", 0, 0, false, {K_CH('j'), K_CH('k')}},
    [CK_PAGE] = {"PgUp PgDn", NULL, "scroll a page", 0, 0, false, {K_(UK_PGUP), K_(UK_PGDN)}},
    [CK_REFRESH] = {"r", "refresh", "refresh: the measurements `ablab scale` stored in this record", 0, 0, false,
                    {K_CH('r')}},
    [CK_MEASURE] = {"m", "measure now", "measure the models loaded in A and B now on a corpus you name (as `ablab scale`: "
                    "bits per byte, pp64/tg32 tokens/s, memory); the rows join the table", UI_IN_EDIT, 0, false, {K_CH('m')}},
    [CK_CANCEL] = {"Esc", "cancel", "cancel the measurement (the model being measured leaves nothing in the record)",
                   UI_IN_RUN, 0, false, {K_(UK_ESC)}},
    [CK_BACK] = {"Esc q", "back", "back to the stats screen", UI_IN_EDIT, 0, false, {K_(UK_ESC), K_CH('q')}},
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
    case CK_MEASURE:
        ui_input_open(ui, "measure A and B on the corpus (a UTF-8 text file):", ui->scale_corpus, on_corpus);
        return true;
    case CK_CANCEL:
        __atomic_store_n(&ui->scale_cancel, 1, __ATOMIC_RELAXED);
        snprintf(ui->scale_stage, sizeof ui->scale_stage, "cancelling");
        return true;
    case CK_BACK: ui_goto(ui, SCR_STATS); return true;
    default: return false;
    }
}


enum { PLOT_H = 10 };

static int scale_render(const Ui *ui, const UiLayout *L, bool paint) {
    UiCanvas cv = {L->full, 0, ui->scale_scroll, paint};
    const LabScaleRows *R = &ui->scale_rows;
    UiRect line;
    if (ui->scale_measuring) { /* the progress line, above everything */
        if ((line = ui_canvas_row(&cv)).h) {
            int bw = line.w - 60;
            d_printf(line, 0, 1, AT_KEY, "measuring %-36.36s %3.0f%%", ui->scale_stage, ui->scale_frac * 100);
            if (bw > 4) d_bar(line.y, line.x + 56, bw, ui->scale_frac, NAN, NAN, AT_BAR_A);
        }
        if ((line = ui_canvas_row(&cv)).h) d_text(line, 0, 1, "Esc cancels: nothing of the model being measured is stored", AT_DIM);
        ui_canvas_row(&cv);
    }
    if (!ui->have_scale || !R->n) {
        if (paint) {
            d_text(cv.r, cv.y + 1, 2, "no scale measurements in this record", AT_DIM);
            d_text(cv.r, cv.y + 2, 2, "measure: m (the loaded models, now), or ablab scale --models M1 M2 ... --corpus FILE --db THIS-RECORD", AT_DIM);
        }
        return cv.y + 3;
    }
    if ((line = ui_canvas_row(&cv)).h)
        d_printf(line, 0, 1, AT_KEY, "%zu models · machine %s · threads %d · corpus %s · ablab %s", R->n, R->v[0].cpu,
                 R->v[0].threads, R->v[0].corpus, R->v[0].version);
    ui_canvas_row(&cv);
    if ((line = ui_canvas_row(&cv)).h)
        d_printf(line, 0, 1, AT_HEAD_A, "%-22s %-5s %11s %11s %9s %9s %9s %8s %10s", "model", "dtype", "params",
                 "non-emb", "res. MB", "pp tok/s", "tg tok/s", "bits/B", "GB*s/1ktok");
    double *x = calloc(R->n, sizeof *x), *y = calloc(R->n, sizeof *y);
    double max_tg = 0;
    for (size_t i = 0; i < R->n; i++) {
        const LabScaleRow *r = &R->v[i];
        if (x) x[i] = (double)r->n_params_nonemb;
        if (y) y[i] = r->bits_per_byte;
        if (r->decode_tok_s > max_tg) max_tg = r->decode_tok_s;
        if ((line = ui_canvas_row(&cv)).h)
            d_printf(line, 0, 1, AT_NORMAL, "%-22.22s %-5.5s %11lld %11lld %9.2f %9.1f %9.1f %8.4f %10.4g", r->name,
                     r->dtype, (long long)r->n_params, (long long)r->n_params_nonemb, (double)r->bytes_resident / 1e6,
                     r->prefill_tok_s, r->decode_tok_s, r->bits_per_byte,
                     r->decode_tok_s > 0 ? (double)r->bytes_resident / 1e9 * 1000 / r->decode_tok_s : NAN);
    }
    ui_canvas_row(&cv);
    LabPowerFit fit;
    LabErr e = {0};
    bool fitted = x && y && lab_power_fit(x, y, R->n, 200, 1, &fit, &e) == 0;
    if ((line = ui_canvas_row(&cv)).h) {
        if (!fitted) d_printf(line, 0, 1, AT_DIM, "no fit: %s", e.msg[0] ? e.msg : "out of memory");
        else if (fit.loglog)
            d_printf(line, 0, 1, AT_NORMAL, "log-log slope (fewer than four sizes): alpha = %.3f", fit.alpha);
        else
            d_printf(line, 0, 1, AT_NORMAL, "fit: bits/byte = %.3f + %.3g N^-%.3f, alpha 95%% [%.3f, %.3f]", fit.E, fit.A,
                     fit.alpha, fit.alpha_ci.lo, fit.alpha_ci.hi);
    }
    ui_canvas_row(&cv);
    /* bits per byte against log10 non-embedding parameters: each model a letter */
    if ((line = ui_canvas_row(&cv)).h) d_text(line, 0, 1, "bits per byte (rows) against non-embedding parameters (log axis)", AT_HEAD_A);
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
        if (!(line = ui_canvas_row(&cv)).h) continue;
        double yv = yb - (yb - ya) * rr / (PLOT_H - 1);
        d_printf(line, 0, 1, AT_DIM, "%7.3f |", yv);
        for (size_t i = 0; x && y && i < R->n; i++) {
            if (!(x[i] > 0)) continue;
            int py = (int)lround((yb - y[i]) / (yb - ya) * (PLOT_H - 1));
            int px = (int)lround((log10(x[i]) - xa) / (xb - xa) * (pw - 1));
            if (py == rr) d_printf(line, 0, 10 + px, AT_KEY, "%c", (char)('A' + (int)(i % 26)));
        }
    }
    if ((line = ui_canvas_row(&cv)).h) d_printf(line, 0, 1, AT_DIM, "        +%.*s", pw > 200 ? 200 : pw,
                                      "--------------------------------------------------------------------------------"
                                      "--------------------------------------------------------------------------------"
                                      "----------------------------------------");
    if ((line = ui_canvas_row(&cv)).h) {
        d_printf(line, 0, 9, AT_DIM, "1e%.1f", xa);
        d_printf(line, 0, 9 + pw - 6, AT_DIM, "1e%.1f", xb);
    }
    for (size_t i = 0; i < R->n; i++)
        if ((line = ui_canvas_row(&cv)).h) d_printf(line, 0, 3, AT_DIM, "%c  %s (%s)", (char)('A' + (int)(i % 26)), R->v[i].name, R->v[i].dtype);
    ui_canvas_row(&cv);
    if ((line = ui_canvas_row(&cv)).h) d_text(line, 0, 1, "decode tokens/s", AT_HEAD_A);
    for (size_t i = 0; i < R->n; i++) {
        if (!(line = ui_canvas_row(&cv)).h) continue;
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
    .open = scale_open, .fit = scale_fit, .draw = scale_draw, .key = scale_key, .mode = scale_mode,
    .keys = UI_KEYS(scale_keys),
};
