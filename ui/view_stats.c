/* The stats screen: the numbers `ablab stats` prints (lab_stats), drawn as bars. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

static void stats_open(Ui *ui) {
    if (ui->have_stats) lab_stats_free(&ui->stats);
    ui->have_stats = false;
    ui->stats_scroll = 0;
    LabStatsQuery q = {0};
    LabErr e = {0};
    if (lab_stats(ui->lab, &q, &ui->stats, &e)) {
        ui_flash(ui, true, "stats: %s", e.msg);
        return;
    }
    ui->have_stats = true;
}

enum { SK_SCROLL, SK_JK, SK_PAGE, SK_REFRESH, SK_SCALE, SK_BACK };
static const UiKeyDef stats_keys[] = {
    [SK_SCROLL] = {"↑↓", "scroll", "scroll a line", 0, 0, false, {K_(UK_UP), K_(UK_DOWN)}},
    [SK_JK] = {"j k", NULL, "scroll a line (as ↓ ↑)", 0, 0, false, {K_CH('j'), K_CH('k')}},
    [SK_PAGE] = {"PgUp PgDn", NULL, "scroll a page", 0, 0, false, {K_(UK_PGUP), K_(UK_PGDN)}},
    [SK_REFRESH] = {"r", "refresh", "refresh: the numbers of `ablab stats` (Wilson intervals, sign test, position bias, "
                    "Bradley–Terry Elo, TTFT and tokens/s per model)", 0, 0, false, {K_CH('r')}},
    [SK_SCALE] = {"s", "scale", "scale: size, speed, memory and bits per byte of the models `ablab scale` measured in "
                  "this record, the power-law fit and text plots", 0, 0, false, {K_CH('s')}},
    [SK_BACK] = {"Esc q", "back", "back to the compare screen", 0, 0, false, {K_(UK_ESC), K_CH('q')}},
};

static bool stats_key(Ui *ui, const UiKey *k) {
    switch (ui_key_find(&screen_stats, ui_mode(ui, SCR_STATS), k)) {
    case SK_SCROLL: case SK_JK:
        if (k->code == UK_UP || k->ch == 'k') { if (ui->stats_scroll > 0) ui->stats_scroll--; }
        else ui->stats_scroll++;
        return true;
    case SK_PAGE:
        if (k->code == UK_PGUP) ui->stats_scroll = ui->stats_scroll > 10 ? ui->stats_scroll - 10 : 0;
        else ui->stats_scroll += 10;
        return true;
    case SK_REFRESH: stats_open(ui); ui_flash(ui, false, "stats refreshed"); return true;
    case SK_SCALE: ui_goto(ui, SCR_SCALE); return true;
    case SK_BACK: ui_goto(ui, SCR_COMPARE); return true;
    default: return false;
    }
}


static void bar_row(UiCanvas *cv, const char *label, double v, double vmax, const char *value, UiAttr a) {
    UiRect line = ui_canvas_row(cv);
    if (!line.h) return;
    int lw = 24, vw = 30, bw = line.w - lw - vw - 4;
    d_printf(line, 0, 2, AT_NORMAL, "%-22.22s", label);
    if (bw > 4) d_bar(line.y, line.x + lw + 2, bw, vmax > 0 && !isnan(v) ? v / vmax : NAN, NAN, NAN, a);
    d_text(line, 0, lw + 3 + (bw > 4 ? bw : 0), value, AT_NORMAL);
}

/* Lays the numbers out (and draws them when paint); returns how many rows they take. */
static int stats_render(const Ui *ui, const UiLayout *L, bool paint) {
    UiCanvas cv = {L->full, 0, ui->stats_scroll, paint};
    if (!ui->have_stats) {
        if (paint) d_text(cv.r, 1, 2, "no statistics (see the message below)", AT_DIM);
        return 0;
    }
    const LabStats *S = &ui->stats;
    UiRect line = ui_canvas_row(&cv);
    if (line.h)
        d_printf(line, 0, 1, AT_KEY, "votes %d · complete pairs %d · prompts %d · sessions %d · participants %d%s%s",
                 S->n_votes, S->n_pairs_complete, S->n_prompts, S->n_sessions, S->n_participants,
                 S->any_blind ? " · blind" : "", S->any_open ? " · open" : "");
    if (strcmp(S->kappa_kind ? S->kappa_kind : "none", "none") && (line = ui_canvas_row(&cv)).h)
        d_printf(line, 0, 1, AT_NORMAL, "inter-rater agreement: %s κ = %.2f over %d pairs", S->kappa_kind, S->kappa, S->kappa_items);
    ui_canvas_row(&cv);
    if ((line = ui_canvas_row(&cv)).h) d_text(line, 0, 1, "Win rates (Wilson 95% interval in brackets)", AT_HEAD_A);
    if (!S->n_pairs && (line = ui_canvas_row(&cv)).h) d_text(line, 0, 2, "no votes yet: rate a pair on the compare screen", AT_DIM);
    for (size_t i = 0; i < S->n_pairs; i++) {
        const LabPairStats *p = &S->pairs[i];
        if ((line = ui_canvas_row(&cv)).h)
            d_printf(line, 0, 2, AT_KEY, "%s vs %s: votes %d — %s won %d, %s won %d, ties %d, both bad %d", p->name[0], p->name[1],
                     p->votes, p->name[0], p->wins[0], p->name[1], p->wins[1], p->ties, p->both_bad);
        if ((line = ui_canvas_row(&cv)).h) {
            int lw = 24, bw = line.w - lw - 30;
            d_printf(line, 0, 2, AT_NORMAL, "%-22.22s", p->name[0]);
            if (bw > 4) d_bar(line.y, line.x + lw + 2, bw, p->win_rate, p->win_ci.lo, p->win_ci.hi, AT_BAR_A);
            if (isnan(p->win_rate)) d_text(line, 0, lw + 3 + (bw > 4 ? bw : 0), "no decisive votes", AT_DIM);
            else d_printf(line, 0, lw + 3 + (bw > 4 ? bw : 0), AT_NORMAL, "%.0f%% [%.0f–%.0f]", p->win_rate * 100,
                          p->win_ci.lo * 100, p->win_ci.hi * 100);
        }
        if ((line = ui_canvas_row(&cv)).h) {
            char more[64];
            if (p->more_votes == 0) snprintf(more, sizeof more, "separated");
            else if (p->more_votes < 0) snprintf(more, sizeof more, "no separation at this rate");
            else snprintf(more, sizeof more, "~%d more votes to separate", p->more_votes);
            char left[32];
            if (isnan(p->left_rate)) snprintf(left, sizeof left, "n/a");
            else snprintf(left, sizeof left, "%.0f%%", p->left_rate * 100);
            d_printf(line, 0, 4, AT_DIM, "sign test p = %.3g · left side won %s of decisive votes · %s", p->sign_p, left, more);
        }
        if ((p->n_score[0] || p->n_score[1]) && (line = ui_canvas_row(&cv)).h)
            d_printf(line, 0, 4, AT_DIM, "mean score: %s %.2f (%d) · %s %.2f (%d)", p->name[0], p->mean_score[0], p->n_score[0],
                     p->name[1], p->mean_score[1], p->n_score[1]);
    }
    ui_canvas_row(&cv);
    if ((line = ui_canvas_row(&cv)).h) d_text(line, 0, 1, "Models: Bradley–Terry rating (Elo scale), speed and memory", AT_HEAD_A);
    double max_ttft = 0, max_toks = 0;
    for (size_t i = 0; i < S->n_models; i++) {
        if (S->models[i].ttft_p90 > max_ttft) max_ttft = S->models[i].ttft_p90;
        if (S->models[i].tok_s_p90 > max_toks) max_toks = S->models[i].tok_s_p90;
    }
    for (size_t i = 0; i < S->n_models; i++) {
        const LabModelStats *m = &S->models[i];
        char v[64], mem[32];
        if ((line = ui_canvas_row(&cv)).h) {
            if (isnan(m->engine_med)) snprintf(mem, sizeof mem, "unknown (remote)");
            else fmt_bytes(mem, sizeof mem, m->engine_med);
            if (m->rated)
                d_printf(line, 0, 2, AT_KEY, "%s (%s, %s): Elo %.0f [%.0f–%.0f] · responses %d · engine mem %s", m->name, m->arch,
                         m->dtype, m->elo, m->elo_ci.lo, m->elo_ci.hi, m->n_responses, mem);
            else
                d_printf(line, 0, 2, AT_KEY, "%s (%s, %s): not rated yet · responses %d · engine mem %s", m->name, m->arch, m->dtype,
                         m->n_responses, mem);
        }
        snprintf(v, sizeof v, "%.0f ms (p90 %.0f)", m->ttft_med, m->ttft_p90);
        bar_row(&cv, "  time to first token", m->ttft_med, max_ttft, v, AT_BAR_B);
        snprintf(v, sizeof v, "%.1f tok/s (p90 %.1f)", m->tok_s_med, m->tok_s_p90);
        bar_row(&cv, "  tokens per second", m->tok_s_med, max_toks, v, AT_BAR_A);
    }
    return cv.y;
}

/* The scroll stops at the last row. */
static void stats_fit(Ui *ui, const UiLayout *L) {
    int rows = stats_render(ui, L, false);
    if (ui->stats_scroll > rows - 1) ui->stats_scroll = rows > 0 ? rows - 1 : 0;
}

static void stats_draw(const Ui *ui, const UiLayout *L) { stats_render(ui, L, true); }

const UiScreenDef screen_stats = {
    .name = "stats", .title = "Stats", .who = UI_IN_LAB,
    .open = stats_open, .fit = stats_fit, .draw = stats_draw, .key = stats_key, .keys = UI_KEYS(stats_keys),
};
