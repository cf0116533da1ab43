/* The lab's main loop and everything that is not one screen: startup, the key dispatch order
 * (overlay, the keys every screen shares, the screen), the title and status lines, the one-line
 * input overlay. Screens are reached through their tables (keys.c); none is named here but the
 * first. */
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

/* ---------- the one-line input overlay ---------- */

void ui_input_open(Ui *ui, const char *title, const char *initial, UiInputDone done) {
    snprintf(ui->input_title, sizeof ui->input_title, "%s", title);
    le_set(&ui->input, initial ? initial : "");
    ui->input_done = done;
    ui_goto(ui, SCR_INPUT);
}

enum { IK_ACCEPT, IK_CANCEL, IK_EDIT, IK_MOVE };
static const UiKeyDef input_keys[] = {
    [IK_ACCEPT] = {"Enter", "accept", "accept the text", 0, 0, false, {K_(UK_ENTER)}},
    [IK_CANCEL] = {"Esc", "cancel", "cancel", 0, 0, false, {K_(UK_ESC)}},
    [IK_EDIT] = {"Ctrl-A/E/K/U/W", "edit", "start / end of the line, delete to the end / start, the word before",
                 0, 0, false, {K_CTRL('a'), K_CTRL('e'), K_CTRL('k'), K_CTRL('u'), K_CTRL('w')}},
    [IK_MOVE] = {"← → Home End", NULL, "move the cursor", 0, 0, false, {K_(UK_LEFT), K_(UK_RIGHT), K_(UK_HOME), K_(UK_END)}},
};

static void input_draw(const Ui *ui, const UiLayout *L) {
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

static bool input_key(Ui *ui, const UiKey *k) {
    if (ui_key_find(&screen_input, ui_mode(ui, SCR_INPUT), k) == IK_CANCEL) {
        ui_overlay_close(ui);
        UiInputDone done = ui->input_done;
        ui->input_done = NULL;
        if (done) done(ui, NULL);
        return true;
    }
    if (k->code == UK_NEWLINE) return true;   /* one line */
    /* Enter and the editing keys are the line editor's */
    LeResult r = le_key(&ui->input, k);
    if (r == LE_SUBMIT) {
        char *s = strdup(ui->input.text.data ? ui->input.text.data : "");
        le_clear(&ui->input);
        ui_overlay_close(ui);
        UiInputDone done = ui->input_done;
        ui->input_done = NULL;
        if (done) done(ui, s ? s : "");
        free(s);
    }
    return true;   /* the overlay keeps every key from the screen beneath */
}

const UiScreenDef screen_input = {
    .name = "input", .title = "Text input (pseudonym, search, tags, a path, a value)", .overlay = true,
    .draw = input_draw, .key = input_key, .keys = UI_KEYS(input_keys),
};

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

/* ---------- screens and the keys they share ---------- */

void ui_goto(Ui *ui, UiScreen s) {
    const UiScreenDef *d = ui_screen_def(s);
    if (!d) return;
    if (d->overlay) {
        ui->overlay = s;
        if (d->open) d->open(ui);
    } else {
        ui->overlay = SCR_NONE;
        if (d->open) d->open(ui);
        ui->screen = s;
    }
    ui->dirty = true;
}

void ui_overlay_close(Ui *ui) {
    ui->overlay = SCR_NONE;
    ui->dirty = true;
}

/* The title bar shows the keys marked title, in this order. */
enum { G_HELP, G_SETTINGS, G_HISTORY, G_STATS, G_MODELS, G_COMPARE, G_LOCKED, G_QUIT, G_QUIT_STUDY, G_HELP_Q };
static const UiKeyDef everywhere_keys[] = {
    [G_HELP] = {"F1", "help", "this help (every key, scrollable)", 0, 0, true, {K_(UK_F1)}},
    [G_SETTINGS] = {"F2", "settings", "settings: sampling (shared or per side) and threads", UI_IN_LAB, 0, true, {K_(UK_F2)}},
    [G_HISTORY] = {"F3", "history", "history: search, open and re-rate, copy past pairs", UI_IN_LAB, 0, true, {K_(UK_F3)}},
    [G_STATS] = {"F4", "stats", "statistics: win rates, Elo, speed (the numbers of `ablab stats`)", UI_IN_LAB, 0, true,
                 {K_(UK_F4)}},
    [G_MODELS] = {"F5", "models", "models: what A and B hold; load another, swap the sides", UI_IN_LAB, 0, true, {K_(UK_F5)}},
    [G_COMPARE] = {"F6", NULL, "back to the compare screen (Esc or q leave the other screens too)", UI_IN_LAB, 0, false,
                   {K_(UK_F6)}},
    [G_LOCKED] = {"F2-F6", NULL, "not available during a study (history and stats would show the hidden names)",
                  UI_IN_STUDY, 0, false, {K_(UK_F2), K_(UK_F3), K_(UK_F4), K_(UK_F5), K_(UK_F6)}},
    [G_QUIT] = {"Ctrl-Q", "quit", "quit (Ctrl-C too): running answers are stopped and recorded, ratings are already saved",
                UI_IN_LAB, 0, false, {K_CTRL('q'), K_CTRL('c')}},
    [G_QUIT_STUDY] = {"Ctrl-Q", "quit (resume later)",
                      "quit (Ctrl-C too): every vote is saved; the same command later resumes at the first prompt not rated",
                      UI_IN_STUDY, 0, true, {K_CTRL('q'), K_CTRL('c')}},
    [G_HELP_Q] = {"?", NULL, "this help too, where ? is not typed into a prompt", 0, 0, false, {K_CH('?')}},
};

const UiScreenDef ui_everywhere = {.name = "everywhere", .title = "Everywhere", .keys = UI_KEYS(everywhere_keys)};

bool ui_dispatch(Ui *ui, const UiKey *k) {
    int g = ui_key_find(&ui_everywhere, ui_mode(ui, SCR_NONE), k);
    if (g == G_QUIT || g == G_QUIT_STUDY) {
        ui->quit = true;
        return true;
    }
    const UiScreenDef *over = ui_screen_def(ui->overlay);
    if (over) return over->key(ui, k);
    if (ui->loading && g != G_HELP && g != G_HELP_Q) {
        ui_flash(ui, false, "loading model %c… (Ctrl-Q quits after it)", ui->load_slot ? 'B' : 'A');
        return true;
    }
    if ((g == G_HISTORY || g == G_STATS || g == G_MODELS) && ui->blind_pair && ui->screen == SCR_COMPARE &&
        (ui->phase == PH_RUN || ui->phase == PH_RATE)) {
        /* a blind pair not yet voted on: those screens name the models */
        ui_flash(ui, false, "vote first: the history, stats and models screens show the names of a blind pair");
        return true;
    }
    switch (g) {
    case G_HELP: ui_goto(ui, SCR_HELP); return true;
    case G_SETTINGS: ui_goto(ui, SCR_SETTINGS); return true;
    case G_HISTORY: ui_goto(ui, SCR_HISTORY); return true;
    case G_STATS: ui_goto(ui, SCR_STATS); return true;
    case G_MODELS: ui_goto(ui, SCR_MODELS); return true;
    case G_COMPARE: ui_goto(ui, SCR_COMPARE); return true;
    case G_LOCKED:
        /* a participant sees only the study: history and stats would show the hidden names */
        ui_flash(ui, false, "not available during a study (F1 help, Ctrl-Q quit: you can resume later)");
        return true;
    default: break;
    }
    if (ui_screen_def(ui->screen)->key(ui, k)) return true;
    /* '?' comes after the screen: in the prompt editor it is typed */
    if (g == G_HELP_Q) {
        ui_goto(ui, SCR_HELP);
        return true;
    }
    return false;
}

static void draw_title(const Ui *ui, const UiLayout *L) {
    d_fill(L->title, AT_TITLE);
    int col = d_printf(L->title, 0, 0, AT_TITLE, " ablab · %s", ui_screen_def(ui->screen)->name);
    if (ui->study && ui->have_item && ui->screen == SCR_COMPARE)
        col += d_printf(L->title, 0, col, AT_TITLE, " · %s · prompt %d/%d", ui->participant, ui->item.k, ui->item.n);
    if (ui->blind_pair) col += d_printf(L->title, 0, col, AT_TITLE, " · blind");
    char tabs[256];
    ui_title_keys(ui, tabs, sizeof tabs);
    int w = text_width(tabs, strlen(tabs));
    if (L->title.w - col > w + 2) d_text(L->title, 0, L->title.w - w, tabs, AT_TITLE);
}

static bool flash_live(const Ui *ui) { return ui->flash[0] && now_ms() - ui->flash_ms < 6000; }

static void draw_status(const Ui *ui, const UiLayout *L) {
    if (flash_live(ui)) {
        d_fill(L->status, ui->flash_err ? AT_ERR : AT_STATUS);
        d_printf(L->status, 0, 0, ui->flash_err ? AT_ERR : AT_STATUS, " %s", ui->flash);
        return;
    }
    const UiKeyDef *keys[32];
    int n = ui_status_keys(ui, keys, 32);
    const char *kv[64];
    for (int i = 0; i < n; i++) {
        kv[2 * i] = keys[i]->key;
        kv[2 * i + 1] = keys[i]->label;
    }
    d_status(L->status, kv, 2 * n);
}

static int editor_lines(const Ui *ui, int cols) {
    TextLines tl = {0};
    int n = 1;
    if (ui->ed.text.data && text_wrap(ui->ed.text.data, ui->ed.text.len, cols > 4 ? cols - 2 : 2, &tl) == 0) n = (int)tl.n;
    text_lines_free(&tl);
    return n < 3 ? 3 : n;
}

/* Clamps what the screen and overlay show to the terminal's size: the one step before drawing
 * that may change state, so that the draw functions only read it. */
static void fit(Ui *ui, const UiLayout *L) {
    if (L->too_small) return;
    const UiScreenDef *d = ui_screen_def(ui->screen), *o = ui_screen_def(ui->overlay);
    if (d->fit) d->fit(ui, L);
    if (o && o->fit) o->fit(ui, L);
}

static void draw(const Ui *ui, const UiLayout *L) {
    erase();
    if (L->too_small) {
        UiRect r = {0, 0, LINES, COLS};
        d_printf(r, LINES / 2 - 1, 0, AT_ERR, "Terminal too small: %d×%d.", COLS, LINES);
        d_printf(r, LINES / 2, 0, AT_NORMAL, "The lab needs at least %d×%d.", UI_MIN_COLS, UI_MIN_LINES);
        d_printf(r, LINES / 2 + 1, 0, AT_DIM, "Enlarge it, or Ctrl-Q to quit.");
        refresh();
        return;
    }
    draw_title(ui, L);
    ui_screen_def(ui->screen)->draw(ui, L);
    const UiScreenDef *o = ui_screen_def(ui->overlay);
    if (o) o->draw(ui, L);
    draw_status(ui, L);
    refresh();
}

static void drain(Ui *ui) {
    Ev *list = evq_pop_all(&ui->q);
    for (Ev *ev = list; ev; ev = ev->next) {
        if (ev->kind == EV_LOAD_PROGRESS || ev->kind == EV_LOAD_DONE) models_event(ui, ev);
        else if (ev->kind == EV_SCALE_PROGRESS || ev->kind == EV_SCALE_DONE) scale_event(ui, ev);
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
    ui->screen = SCR_COMPARE;
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
        c.chat[k] = o->chat[k];
        c.quant[k] = o->quant[k];
        c.lora[k] = o->lora[k];
        c.n_lora[k] = o->n_lora[k];
    }
    c.system_prompt = o->system_prompt;
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
    scale_stop(ui);
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
    scale_free(ui);
    lab_strlist_free(&ui->prompts);
    free(ui->study_text[0]);
    free(ui->study_text[1]);
    for (int s = 0; s < 2; s++) {
        buf_free(&ui->pane[s].text);
        buf_free(&ui->pane[s].held);
    }
    free(ui->prompt);
    free(ui->load_path);
    lab_pulled_free(&ui->pulled);
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
                ui_dispatch(ui, &k);
            }
            ui->dirty = true;
        }
        if (ui->flash[0] && !flash_live(ui)) {
            ui->flash[0] = 0;
            ui->dirty = true;
        }
        if (ui->dirty) {
            UiLayout L = layout_compute(LINES, COLS, editor_lines(ui, COLS));
            fit(ui, &L);
            draw(ui, &L);
            compare_shown(ui);   /* after the frame is on screen: when each answer was fully shown */
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
