/* The history screen: past pairs newest first, full-text search (the lab's FTS5 index over
 * prompts and outputs), open one to read or re-rate it, copy it. */
#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ui_int.h"

enum { HISTORY_LIMIT = 500 };

typedef struct { Ui *ui; size_t cap; } HistCtx;

void history_free(Ui *ui) {
    for (size_t i = 0; i < ui->n_hist; i++) free(ui->hist[i].prompt);
    free(ui->hist);
    ui->hist = NULL;
    ui->n_hist = 0;
}

static int each_row(const LabPairRow *row, void *ud) {
    HistCtx *c = ud;
    Ui *ui = c->ui;
    if (ui->n_hist == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        UiHistRow *v = realloc(ui->hist, cap * sizeof *v);
        if (!v) return 1;
        ui->hist = v;
        c->cap = cap;
    }
    UiHistRow *h = &ui->hist[ui->n_hist];
    memset(h, 0, sizeof *h);
    h->pair_id = row->pair_id;
    time_t t = (time_t)(row->created_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(h->when, sizeof h->when, "%m-%d %H:%M", &tm);
    snprintf(h->session, sizeof h->session, "%s", row->session_name ? row->session_name : "");
    snprintf(h->choice, sizeof h->choice, "%s", row->last_choice ? row->last_choice : "-");
    for (int s = 0; s < 2; s++) snprintf(h->names[s], sizeof h->names[s], "%s", row->model_name[s] ? row->model_name[s] : "?");
    h->prompt = strdup(row->prompt ? row->prompt : "");
    h->blind = row->blind;
    h->n_ratings = row->n_ratings;
    ui->n_hist++;
    return 0;
}

static void reload(Ui *ui) {
    history_free(ui);
    HistCtx c = {ui, 0};
    LabErr e = {0};
    if (lab_history(ui->lab, ui->search[0] ? ui->search : NULL, 0, HISTORY_LIMIT, 0, each_row, &c, &e))
        ui_flash(ui, true, "history: %s", e.msg);
    if (ui->hist_sel >= (int)ui->n_hist) ui->hist_sel = ui->n_hist ? (int)ui->n_hist - 1 : 0;
    if (ui->hist_sel < 0) ui->hist_sel = 0;
}

static void history_open(Ui *ui) {
    ui->hist_sel = ui->hist_top = 0;
    reload(ui);
}

static void on_search(Ui *ui, const char *text) {
    if (!text) return;
    snprintf(ui->search, sizeof ui->search, "%s", text);
    ui->hist_sel = ui->hist_top = 0;
    reload(ui);
    ui_flash(ui, false, "%zu pair%s '%s'", ui->n_hist, ui->n_hist == 1 ? " matches" : "s match", ui->search);
}

/* Writes the pair as Markdown into copy_dir and onto the terminal clipboard (OSC 52). */
static void copy_pair(Ui *ui, int64_t pair_id) {
    LabPair p;
    LabErr e = {0};
    if (lab_pair_get(ui->lab, pair_id, &p, &e)) { ui_flash(ui, true, "copy: %s", e.msg); return; }
    Buf b = {0};
    buf_printf(&b, "## Prompt\n\n%s\n\n", p.prompt ? p.prompt : "");
    for (int slot = 0; slot < 2; slot++)
        buf_printf(&b, "## %s\n\n%s\n\n", p.model_name[slot], p.output[slot] ? p.output[slot] : "(no answer)");
    lab_pair_free(&p);
    const char *dir = ui->opt->copy_dir ? ui->opt->copy_dir : ".";
    char path[1024];
    snprintf(path, sizeof path, "%s/pair-%lld.md", dir, (long long)pair_id);
    LabErr me = {0};
    FILE *f = NULL;
    if (mkdir_p(dir, &me) == 0) f = fopen(path, "w");
    if (f && b.data) fwrite(b.data, 1, b.len, f);
    bool ok = f && !ferror(f);
    if (f && fclose(f)) ok = false;
    if (b.data) scr_osc52(b.data, b.len);
    if (ok) ui_flash(ui, false, "copied pair %lld to %s and the clipboard (OSC 52)", (long long)pair_id, path);
    else ui_flash(ui, true, "could not write %s: %s (sent to the clipboard via OSC 52)", path, me.msg[0] ? me.msg : strerror(errno));
    buf_free(&b);
}

enum { HK_MOVE, HK_JK, HK_PAGE, HK_OPEN, HK_SEARCH, HK_COPY, HK_RELOAD, HK_BACK, HK_Q };
static const UiKeyDef history_keys[] = {
    [HK_MOVE] = {"↑↓", "select", "select a pair (newest first)", 0, 0, false, {K_(UK_UP), K_(UK_DOWN)}},
    [HK_JK] = {"j k", NULL, "select the next / previous pair (as ↓ ↑)", 0, 0, false, {K_CH('j'), K_CH('k')}},
    [HK_PAGE] = {"PgUp PgDn Home End", NULL, "a page up / down, the newest / oldest pair", 0, 0, false,
                 {K_(UK_PGUP), K_(UK_PGDN), K_(UK_HOME), K_(UK_END)}},
    [HK_OPEN] = {"Enter", "open/re-rate", "open the pair in the compare screen to read and (re-)rate it", 0, 0, false,
                 {K_(UK_ENTER)}},
    [HK_SEARCH] = {"/", "search", "full-text search over prompts and answers (words, \"phrases\", a OR b)", 0, 0, false,
                   {K_CH('/')}},
    [HK_COPY] = {"y", "copy", "copy the pair as Markdown: to a file (the path is shown) and to the terminal's clipboard (OSC 52)",
                 0, 0, false, {K_CH('y')}},
    [HK_RELOAD] = {"r", NULL, "reload the list", 0, 0, false, {K_CH('r')}},
    [HK_BACK] = {"Esc", "back", "clear the search; without one, back to the compare screen", 0, 0, false, {K_(UK_ESC)}},
    [HK_Q] = {"q", NULL, "back to the compare screen", 0, 0, false, {K_CH('q')}},
};

static bool history_key(Ui *ui, const UiKey *k) {
    int page = LINES > 8 ? LINES - 6 : 1;
    switch (ui_key_find(&screen_history, ui_mode(ui, SCR_HISTORY), k)) {
    case HK_MOVE: case HK_JK:
        if (k->code == UK_UP || k->ch == 'k') { if (ui->hist_sel > 0) ui->hist_sel--; }
        else if (ui->hist_sel + 1 < (int)ui->n_hist) ui->hist_sel++;
        return true;
    case HK_PAGE:
        switch (k->code) {
        case UK_PGUP: ui->hist_sel = ui->hist_sel > page ? ui->hist_sel - page : 0; break;
        case UK_PGDN:
            ui->hist_sel += page;
            if (ui->hist_sel >= (int)ui->n_hist) ui->hist_sel = ui->n_hist ? (int)ui->n_hist - 1 : 0;
            break;
        case UK_HOME: ui->hist_sel = 0; break;
        default: ui->hist_sel = ui->n_hist ? (int)ui->n_hist - 1 : 0; break;
        }
        return true;
    case HK_OPEN:
        if (ui->n_hist && !ui->study) compare_show_pair(ui, ui->hist[ui->hist_sel].pair_id);
        return true;
    case HK_SEARCH: ui_input_open(ui, "search prompts and answers (words, \"phrases\", a OR b)", ui->search, on_search); return true;
    case HK_COPY:
        if (ui->n_hist) copy_pair(ui, ui->hist[ui->hist_sel].pair_id);
        else ui_flash(ui, false, "no pair to copy");
        return true;
    case HK_RELOAD: reload(ui); return true;
    case HK_BACK:
        if (!ui->search[0]) { ui_goto(ui, SCR_COMPARE); return true; }
        ui->search[0] = 0;
        reload(ui);
        return true;
    case HK_Q: ui_goto(ui, SCR_COMPARE); return true;
    default: return false;
    }
}

/* Keeps the selected row in view. */
static void history_fit(Ui *ui, const UiLayout *L) {
    int rows = L->full.h - 3;
    if (rows < 1) return;
    if (ui->hist_sel < ui->hist_top) ui->hist_top = ui->hist_sel;
    if (ui->hist_sel >= ui->hist_top + rows) ui->hist_top = ui->hist_sel - rows + 1;
}

static void history_draw(const Ui *ui, const UiLayout *L) {
    UiRect r = L->full;
    d_printf(r, 0, 1, AT_KEY, "%zu pair%s%s%s%s", ui->n_hist, ui->n_hist == 1 ? "" : "s",
             ui->search[0] ? " matching '" : " (newest first)", ui->search, ui->search[0] ? "'" : "");
    d_printf(r, 1, 1, AT_DIM, "%-6s %-11s %-14s %-9s %-36s %s", "pair", "when", "session", "vote", "models (A / B)", "prompt");
    int rows = r.h - 3;
    if (rows < 1) return;
    for (int i = 0; i < rows && ui->hist_top + i < (int)ui->n_hist; i++) {
        const UiHistRow *h = &ui->hist[ui->hist_top + i];
        bool sel = ui->hist_top + i == ui->hist_sel;
        UiRect line = {r.y + 2 + i, r.x, 1, r.w};
        if (sel) d_fill(line, AT_SEL);
        char models[80];
        snprintf(models, sizeof models, "%.15s / %.15s%s", h->names[0], h->names[1], h->blind ? " (b)" : "");
        d_printf(line, 0, 1, sel ? AT_SEL : AT_NORMAL, "%-6lld %-11s %-14.14s %-9s %-36s %s", (long long)h->pair_id,
                 h->when, h->session, h->choice, models, h->prompt);
    }
    if (!ui->n_hist && ui->search[0]) d_printf(r, 3, 2, AT_DIM, "nothing matches: %s clears the search", history_keys[HK_BACK].key);
    else if (!ui->n_hist) d_text(r, 3, 2, "no pairs yet: ask something on the compare screen", AT_DIM);
}

const UiScreenDef screen_history = {
    .name = "history", .title = "History", .who = UI_IN_LAB,
    .open = history_open, .fit = history_fit, .draw = history_draw, .key = history_key, .keys = UI_KEYS(history_keys),
};
