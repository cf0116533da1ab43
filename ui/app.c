/* The lab's main loop and everything that is not one screen: startup, the key dispatch order
 * (overlay, global keys, screen), the title and status lines, the one-line input overlay. */
#include <curses.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

enum { LOOP_TIMEOUT_MS = 30 };   /* how long a loop turn waits for a key before draining events */

void ui_flash(Ui *ui, bool err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->flash, sizeof ui->flash, fmt, ap);
    va_end(ap);
    ui->flash_err = err;
    ui->flash_ms = now_ms();
    ui->dirty = true;
    if (err) LOG_W("ui: %s", ui->flash);
}

void ui_input_open(Ui *ui, const char *title, const char *initial, UiInputDone done) {
    snprintf(ui->input_title, sizeof ui->input_title, "%s", title);
    le_set(&ui->input, initial ? initial : "");
    ui->input_done = done;
    ui->overlay = OV_INPUT;
}

static void input_draw(Ui *ui, const UiLayout *L) {
    UiRect box = layout_center(L->full, 5, L->full.w > 80 ? 72 : L->full.w - 4);
    UiRect in = d_box(box, ui->input_title);
    const LineEdit *le = &ui->input;
    /* one line: show the end of the text if it is longer than the box */
    int w = in.w - 2;
    const char *s = le->text.data ? le->text.data : "";
    size_t start = 0;
    while (text_width(s + start, le->cur - start) > w - 1 && start < le->cur) start++;
    while (start < le->cur && ((unsigned char)s[start] & 0xC0) == 0x80) start++;
    int col = d_text(in, 1, 0, "> ", AT_KEY);
    int cx = col + text_width(s + start, le->cur - start);
    d_textn(in, 1, col, s + start, strlen(s + start), AT_NORMAL);
    attrset(A_REVERSE);
    if (cx < in.w) {
        size_t n = le->cur < le->text.len ? (size_t)utf8_seq_len((const unsigned char *)s + le->cur, le->text.len - le->cur) : 0;
        if (n) mvaddnstr(in.y + 1, in.x + cx, s + le->cur, (int)n);
        else mvaddch(in.y + 1, in.x + cx, ' ');
    }
    attrset(A_NORMAL);
}

static void input_key(Ui *ui, const UiKey *k) {
    if (k->code == UK_ESC) {
        ui->overlay = OV_NONE;
        UiInputDone done = ui->input_done;
        ui->input_done = NULL;
        if (done) done(ui, NULL);
        return;
    }
    if (k->code == UK_NEWLINE) return;   /* one line */
    LeResult r = le_key(&ui->input, k);
    if (r == LE_SUBMIT) {
        char *s = strdup(ui->input.text.data ? ui->input.text.data : "");
        le_clear(&ui->input);
        ui->overlay = OV_NONE;
        UiInputDone done = ui->input_done;
        ui->input_done = NULL;
        if (done) done(ui, s ? s : "");
        free(s);
    }
}

const char *ui_side_name(const Ui *ui, int side, char *buf, size_t n) {
    if (ui->blind_pair && ui->phase != PH_RATED) snprintf(buf, n, "Model %c", side ? 'B' : 'A');
    else if (ui->blind_pair) snprintf(buf, n, "%c = %s", side ? 'B' : 'A', ui->rated.model_name[side]);
    else {
        const LabModelInfo *mi = &ui->minfo[side];
        if (ui->pair_id && ui->rated.model_name[side][0]) snprintf(buf, n, "%c · %s", side ? 'B' : 'A', ui->rated.model_name[side]);
        else if (mi->loaded) snprintf(buf, n, "%c · %s", side ? 'B' : 'A', mi->name);
        else snprintf(buf, n, "%c · (no model)", side ? 'B' : 'A');
    }
    return buf;
}

static const char *screen_name(UiScreen s) {
    switch (s) {
    case SCR_COMPARE: return "compare";
    case SCR_HISTORY: return "history";
    case SCR_STATS: return "stats";
    case SCR_MODELS: return "models";
    case SCR_STUDY_START: return "study";
    case SCR_STUDY_DONE: return "study: done";
    }
    return "";
}

static void draw_title(Ui *ui, const UiLayout *L) {
    d_fill(L->title, AT_TITLE);
    int col = d_printf(L->title, 0, 0, AT_TITLE, " ablab · %s", screen_name(ui->screen));
    if (ui->study && ui->have_item && ui->screen == SCR_COMPARE)
        col += d_printf(L->title, 0, col, AT_TITLE, " · %s · prompt %d/%d", ui->participant, ui->item.k, ui->item.n);
    if (ui->blind_pair) col += d_printf(L->title, 0, col, AT_TITLE, " · blind");
    const char *tabs = ui->study ? "F1 help  Ctrl-Q quit (resume later) " : "F1 help  F2 settings  F3 history  F4 stats  F5 models ";
    int w = text_width(tabs, strlen(tabs));
    if (L->title.w - col > w + 2) d_text(L->title, 0, L->title.w - w, tabs, AT_TITLE);
}

static void draw_status(Ui *ui, const UiLayout *L) {
    if (ui->flash[0] && now_ms() - ui->flash_ms < 6000) {
        d_fill(L->status, ui->flash_err ? AT_ERR : AT_STATUS);
        d_printf(L->status, 0, 0, ui->flash_err ? AT_ERR : AT_STATUS, " %s", ui->flash);
        return;
    }
    ui->flash[0] = 0;
    if (ui->overlay == OV_HELP) {
        const char *kv[] = {"↑↓ PgUp PgDn", "scroll", "Esc ? q", "close"};
        d_status(L->status, kv, 4);
    } else if (ui->overlay == OV_INPUT) {
        const char *kv[] = {"Enter", "accept", "Esc", "cancel", "Ctrl-A/E/K/U/W", "edit"};
        d_status(L->status, kv, 6);
    } else if (ui->overlay == OV_SETTINGS) {
        const char *kv[] = {"↑↓", "field", "←→", "side", "Enter", "edit", "-/+", "change", "Space", "shared/per side",
                            "Esc", "close", "?", "help"};
        d_status(L->status, kv, 14);
    } else if (ui->screen == SCR_COMPARE) {
        compare_status(ui, L->status);
    } else if (ui->screen == SCR_HISTORY) {
        const char *kv[] = {"↑↓", "select", "Enter", "open/re-rate", "/", "search", "y", "copy", "Esc", "back", "?", "help"};
        d_status(L->status, kv, 12);
    } else if (ui->screen == SCR_STATS) {
        const char *kv[] = {"↑↓", "scroll", "r", "refresh", "Esc", "back", "?", "help"};
        d_status(L->status, kv, 8);
    } else if (ui->screen == SCR_MODELS) {
        const char *kv[] = {"a", "load into A", "b", "load into B", "s", "swap sides", "Esc", "back", "?", "help"};
        d_status(L->status, kv, ui->loading ? 0 : 10);
    } else {
        const char *st[] = {"y", "agree and start", "n", "quit", "p", "pseudonym", "F1", "help"};
        const char *dn[] = {"Enter", "finish", "F1", "help"};
        if (ui->screen == SCR_STUDY_START) d_status(L->status, st, 8);
        else d_status(L->status, dn, 4);
    }
}

static int editor_lines(Ui *ui, int cols) {
    TextLines tl = {0};
    int n = 1;
    if (ui->ed.text.data && text_wrap(ui->ed.text.data, ui->ed.text.len, cols > 4 ? cols - 2 : 2, &tl) == 0) n = (int)tl.n;
    text_lines_free(&tl);
    return n < 3 ? 3 : n;
}

static void draw(Ui *ui) {
    erase();
    UiLayout L = layout_compute(LINES, COLS, editor_lines(ui, COLS));
    if (L.too_small) {
        UiRect r = {0, 0, LINES, COLS};
        d_printf(r, LINES / 2 - 1, 0, AT_ERR, "Terminal too small: %d×%d.", COLS, LINES);
        d_printf(r, LINES / 2, 0, AT_NORMAL, "The lab needs at least %d×%d.", UI_MIN_COLS, UI_MIN_LINES);
        d_printf(r, LINES / 2 + 1, 0, AT_DIM, "Enlarge it, or Ctrl-Q to quit.");
        refresh();
        return;
    }
    draw_title(ui, &L);
    switch (ui->screen) {
    case SCR_COMPARE: compare_draw(ui, &L); break;
    case SCR_HISTORY: history_draw(ui, &L); break;
    case SCR_STATS: stats_draw(ui, &L); break;
    case SCR_MODELS: models_draw(ui, &L); break;
    case SCR_STUDY_START:
    case SCR_STUDY_DONE: study_draw(ui, &L); break;
    }
    if (ui->overlay == OV_SETTINGS) settings_draw(ui, &L);
    else if (ui->overlay == OV_HELP) help_draw(ui, &L);
    else if (ui->overlay == OV_INPUT) input_draw(ui, &L);
    draw_status(ui, &L);
    refresh();
}

static void go_screen(Ui *ui, UiScreen s) {
    ui->overlay = OV_NONE;
    if (s == SCR_HISTORY) history_open(ui);
    if (s == SCR_STATS) stats_open(ui);
    ui->screen = s;
}

/* Keys every screen shares. Returns true when used. */
static bool global_key(Ui *ui, const UiKey *k) {
    if (k->code == UK_CTRL && (k->ch == 'c' || k->ch == 'q')) { ui->quit = true; return true; }
    if (ui->study && k->code >= UK_F2 && k->code <= UK_F6) {
        /* a participant sees only the study: history and stats would show the hidden names */
        ui_flash(ui, false, "not available during a study (F1 help, Ctrl-Q quit: you can resume later)");
        return true;
    }
    switch (k->code) {
    case UK_F1: ui->overlay = OV_HELP; ui->help_scroll = 0; return true;
    case UK_F2: settings_open(ui); return true;
    case UK_F3: go_screen(ui, SCR_HISTORY); return true;
    case UK_F4: go_screen(ui, SCR_STATS); return true;
    case UK_F5: go_screen(ui, SCR_MODELS); return true;
    case UK_F6: go_screen(ui, SCR_COMPARE); return true;
    default: return false;
    }
}

static void dispatch(Ui *ui, const UiKey *k) {
    if (k->code == UK_CTRL && (k->ch == 'c' || k->ch == 'q')) { ui->quit = true; return; }
    switch (ui->overlay) {
    case OV_HELP: help_key(ui, k); return;
    case OV_SETTINGS: if (settings_key(ui, k)) return; break;
    case OV_INPUT: input_key(ui, k); return;
    case OV_NONE: break;
    }
    if (ui->loading && k->code != UK_F1 && !(k->code == UK_CHAR && k->ch == '?')) {
        ui_flash(ui, false, "loading model %c… (Ctrl-Q quits after it)", ui->load_slot ? 'B' : 'A');
        return;
    }
    if (global_key(ui, k)) return;
    bool used = false;
    switch (ui->screen) {
    case SCR_COMPARE: used = compare_key(ui, k); break;
    case SCR_HISTORY: used = history_key(ui, k); break;
    case SCR_STATS: used = stats_key(ui, k); break;
    case SCR_MODELS: used = models_key(ui, k); break;
    case SCR_STUDY_START:
    case SCR_STUDY_DONE: used = study_key(ui, k); break;
    }
    if (used) return;
    if (k->code == UK_CHAR && !k->alt && k->ch == '?') { ui->overlay = OV_HELP; ui->help_scroll = 0; return; }
    if (k->code == UK_CHAR && !k->alt && k->ch == 'q') {
        if (ui->screen == SCR_COMPARE || ui->screen == SCR_STUDY_DONE) ui->quit = true;
        else go_screen(ui, SCR_COMPARE);
        return;
    }
    if (k->code == UK_ESC && ui->screen != SCR_COMPARE && ui->screen != SCR_STUDY_START && ui->screen != SCR_STUDY_DONE)
        go_screen(ui, SCR_COMPARE);
}

static void drain(Ui *ui) {
    Ev *list = evq_pop_all(&ui->q);
    for (Ev *ev = list; ev; ev = ev->next) {
        if (ev->kind == EV_LOAD_PROGRESS || ev->kind == EV_LOAD_DONE) models_event(ui, ev);
        else compare_event(ui, ev);
        ui->dirty = true;
    }
    ev_free(list);
}

static void load_progress(int slot, double frac, void *ud) {
    /* lab_open runs on the UI thread before the loop: drawing here is drawing from the UI thread */
    (void)ud;
    UiRect r = {0, 0, LINES, COLS};
    UiRect box = layout_center(r, 5, COLS > 70 ? 60 : COLS - 2);
    UiRect in = d_box(box, "loading models");
    d_printf(in, 0, 0, AT_NORMAL, "model %c  %3.0f%%", slot ? 'B' : 'A', frac * 100);
    d_bar(in.y + 1, in.x, in.w, frac, NAN, NAN, slot ? AT_BAR_B : AT_BAR_A);
    refresh();
}

static int ui_start(Ui *ui, const UiOptions *o, LabErr *e) {
    memset(ui, 0, sizeof *ui);
    ui->opt = o;
    evq_init(&ui->q);
    le_init(&ui->ed);
    le_init(&ui->input);
    ui->ed.max_hist = 500;
    if (o->history_path) {
        LabErr he = {0};
        if (le_history_load(&ui->ed, o->history_path, &he)) LOG_W("history: %s", he.msg);
    }
    for (int s = 0; s < 2; s++) ui->pane[s].follow = true;
    if (scr_locale(e)) return -1;
    scr_install_signals();
    if (scr_open(e)) return -1;
    erase();
    refresh();
    LabConfig c;
    lab_config_init(&c);
    c.model_path[0] = o->model_path[0];
    c.model_path[1] = o->model_path[1];
    c.db_path = o->db_path;
    c.threads = o->threads;
    c.ctx = o->ctx;
    c.sampling = o->sampling;
    c.blind = o->blind;
    c.mmap = o->mmap;
    for (int k = 0; k < 2; k++) {
        c.tokenizer_path[k] = o->tokenizer[k];
        c.quant[k] = o->quant[k];
    }
    c.restore_settings = o->restore_settings;
    c.progress = load_progress;
    if (lab_open(&ui->lab, &c, e)) {
        scr_close();
        return -1;
    }
    ui->blind_pair = o->blind;
    if (lab_read_only(ui->lab)) ui_flash(ui, true, "%s is read-only: history and stats only, nothing is recorded", c.db_path);
    models_refresh(ui);
    ui->dirty = true;
    return 0;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* How quickly keys were answered (read -> handled -> screen refreshed), for the log. */
static void log_key_latency(Ui *ui) {
    int n = ui->n_key_ms;
    if (!n) return;
    qsort(ui->key_ms, (size_t)n, sizeof *ui->key_ms, cmp_float);
    LOG_I("ui: %d keys answered in median %.2f ms, p95 %.2f ms, max %.2f ms (key read to screen refreshed)", n,
          ui->key_ms[n / 2], ui->key_ms[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1], ui->key_ms[n - 1]);
}

static void ui_finish(Ui *ui) {
    log_key_latency(ui);
    if (ui->lab && lab_busy(ui->lab)) {
        lab_stop(ui->lab);
        lab_wait(ui->lab);           /* stopped answers are recorded (record_cancelled) */
    }
    if (ui->loading) pthread_join(ui->load_thread, NULL);
    ev_free(evq_pop_all(&ui->q));
    scr_close();
    if (ui->opt->history_path) {
        LabErr he = {0};
        if (le_history_save(&ui->ed, ui->opt->history_path, &he)) LOG_W("history: %s", he.msg);
    }
    lab_close(ui->lab);
    ui->lab = NULL;
    history_free(ui);
    if (ui->have_stats) lab_stats_free(&ui->stats);
    lab_strlist_free(&ui->prompts);
    free(ui->study_text[0]);
    free(ui->study_text[1]);
    for (int s = 0; s < 2; s++) buf_free(&ui->pane[s].text);
    free(ui->prompt);
    free(ui->load_path);
    le_free(&ui->ed);
    le_free(&ui->input);
    evq_free(&ui->q);
}

static int ui_loop(Ui *ui) {
    while (!ui->quit && !scr_signal()) {
        UiKey k;
        bool got = scr_read_key(&k, LOOP_TIMEOUT_MS);
        drain(ui);
        double t_key = got ? now_ms() : 0;
        if (got) {
            if (k.code == UK_RESIZE) {
                /* the one place a resize is handled: ncurses has updated LINES x COLS, every draw
                 * lays out from them, pane scrolls are clamped there; repaint everything */
                clearok(curscr, TRUE);
            } else {
                dispatch(ui, &k);
            }
            ui->dirty = true;
        }
        if (ui->flash[0] && now_ms() - ui->flash_ms >= 6000) ui->dirty = true;
        if (ui->dirty) {
            draw(ui);
            ui->dirty = false;
        }
        if (got && ui->n_key_ms < (int)(sizeof ui->key_ms / sizeof *ui->key_ms))
            ui->key_ms[ui->n_key_ms++] = (float)(now_ms() - t_key);
    }
    return scr_signal();
}

static int ui_run(const UiOptions *o, bool study, LabErr *e) {
    Ui *ui = calloc(1, sizeof *ui);
    if (!ui) return lab_err(e, LAB_ENOMEM, "out of memory");
    int rc = -1;
    if (ui_start(ui, o, e) == 0) {
        ui->study = study;
        if (!study || study_begin(ui, e) == 0) rc = ui_loop(ui);
    }
    ui_finish(ui);
    free(ui);
    return rc;
}

int ui_run_lab(const UiOptions *o, LabErr *e) { return ui_run(o, false, e); }
int ui_run_study(const UiOptions *o, LabErr *e) { return ui_run(o, true, e); }
