/* The compare screen: two panes streaming, the prompt editor, and the vote. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

static void pane_reset(UiPane *p) {
    buf_clear(&p->text);
    memset(&p->san, 0, sizeof p->san);
    memset(&p->m, 0, sizeof p->m);
    p->scroll = 0;
    p->follow = true;
    p->running = p->done = p->have_metrics = false;
    p->err[0] = 0;
}

void compare_reset(Ui *ui) {
    for (int s = 0; s < 2; s++) pane_reset(&ui->pane[s]);
    ui->pair_id = 0;
    ui->ratable = false;
    ui->stopped = false;
    memset(&ui->rated, 0, sizeof ui->rated);
    memset(&ui->rate, 0, sizeof ui->rate);
    ui->tags[0] = ui->comment[0] = 0;
    ui->score_side = 0;
}

static void pane_append(UiPane *p, const char *s, size_t n) {
    if (text_sanitize(&p->san, s, n, &p->text)) LOG_E("ui: out of memory appending output");
}

int compare_ask(Ui *ui, const char *text, int64_t prompt_id) {
    compare_reset(ui);
    ui->flash[0] = 0;
    free(ui->prompt);
    ui->prompt = strdup(text ? text : "");
    LabAskOpts o = {0};
    o.prompt_id = prompt_id;
    o.record_cancelled = true;
    LabEvents ev = evq_lab_events(&ui->q);
    LabErr e = {0};
    int64_t pair = 0;
    for (int s = 0; s < 2; s++) ui->pane[s].running = true;
    ui->phase = PH_RUN;
    if (lab_ask(ui->lab, text, &o, &ev, &pair, &e)) {
        for (int s = 0; s < 2; s++) ui->pane[s].running = false;
        ui->phase = PH_EDIT;
        ui_flash(ui, true, "could not ask: %s", e.msg);
        return -1;
    }
    ui->pair_id = pair;
    return 0;
}

/* The pair's current rating into the vote area (what stands after a step back, or when a rated
 * pair is reopened): 1 if there is one, 0 if not. Edits then start from it. */
static int load_rating(Ui *ui) {
    LabRating cur;
    LabErr e = {0};
    int found = lab_rating_current(ui->lab, ui->pair_id, NULL, &cur, &e);
    if (found != 1) return 0;
    ui->choice = cur.choice;
    ui->rate.score[0] = cur.score[0];
    ui->rate.score[1] = cur.score[1];
    ui->rate.decide_ms = cur.decide_ms;
    snprintf(ui->tags, sizeof ui->tags, "%s", cur.tags);
    snprintf(ui->comment, sizeof ui->comment, "%s", cur.comment);
    ui->rated.rating_id = cur.rating_id;
    ui->rated.pair_id = ui->pair_id;
    ui->rated.model_choice = cur.model_choice;
    return 1;
}

/* Loads a recorded pair into the panes (history "open", study resume), ready to be (re-)rated. */
void compare_show_pair(Ui *ui, int64_t pair_id) {
    LabPair p;
    LabErr e = {0};
    if (lab_pair_get(ui->lab, pair_id, &p, &e)) {
        ui_flash(ui, true, "pair %lld: %s", (long long)pair_id, e.msg);
        return;
    }
    compare_reset(ui);
    ui->flash[0] = 0;
    free(ui->prompt);
    ui->prompt = strdup(p.prompt ? p.prompt : "");
    ui->pair_id = pair_id;
    ui->blind_pair = p.blind;
    for (int side = 0; side < 2; side++) {
        int slot = side == 0 ? p.left_slot : 1 - p.left_slot;
        UiPane *pn = &ui->pane[side];
        if (p.output[slot]) pane_append(pn, p.output[slot], strlen(p.output[slot]));
        text_sanitize_end(&pn->san, &pn->text);
        pn->m = p.metrics[slot];
        pn->have_metrics = true;
        pn->done = true;
        pn->follow = false;
        snprintf(ui->rated.model_name[side], LAB_NAME_MAX, "%s", p.model_name[slot]);
    }
    ui->rated.left_slot = p.left_slot;
    ui->ratable = p.response_id[0] && p.response_id[1];
    ui->phase = ui->ratable ? load_rating(ui) ? PH_RATED : PH_RATE : PH_EDIT;
    if (ui->phase != PH_RATED && p.blind) memset(ui->rated.model_name, 0, sizeof ui->rated.model_name);
    ui->done_ms = now_ms();
    ui->screen = SCR_COMPARE;
    lab_pair_free(&p);
}

void compare_event(Ui *ui, const Ev *ev) {
    if (ev->kind == EV_PIECE || ev->kind == EV_DONE) {
        if (ev->side < 0 || ev->side > 1) return;
        UiPane *p = &ui->pane[ev->side];
        if (ev->kind == EV_PIECE) {
            pane_append(p, ev->text, ev->len);
            p->m = ev->m;
            p->have_metrics = true;
        } else {
            text_sanitize_end(&p->san, &p->text);
            p->m = ev->m;
            p->have_metrics = true;
            p->running = false;
            p->done = true;
            if (ev->err[0]) snprintf(p->err, sizeof p->err, "%s", ev->err);
        }
        return;
    }
    if (ev->kind == EV_PAIR_DONE) {
        ui->pair_id = ev->id;
        ui->ratable = ev->ok;
        for (int s = 0; s < 2; s++) ui->pane[s].running = false;
        ui->done_ms = now_ms();
        if (ev->ok) {
            ui->phase = PH_RATE;
        } else {
            ui->phase = PH_EDIT;
            ui_flash(ui, true, "this pair cannot be rated: %s", ui->pane[0].err[0] ? ui->pane[0].err : ui->pane[1].err[0] ? ui->pane[1].err : "an answer is missing");
        }
    }
}

/* ---------- voting ---------- */

/* Every call is one change of the rating, stored whole (the record keeps each change). */
static int commit_vote(Ui *ui, bool replace) {
    LabErr e = {0};
    ui->rate.by_slot = false;
    ui->rate.tags = ui->tags[0] ? ui->tags : NULL;
    ui->rate.comment = ui->comment[0] ? ui->comment : NULL;
    if (!replace) ui->rate.decide_ms = now_ms() - ui->done_ms;
    LabRateResult res;
    if (lab_rate(ui->lab, ui->pair_id, ui->choice, &ui->rate, &res, &e)) {
        if (lab_rate_pending(ui->lab))
            ui_flash(ui, true, "rating NOT saved yet (%s): r retries, it is kept in memory", e.msg);
        else
            ui_flash(ui, true, "rating failed: %s", e.msg);
        return -1;
    }
    ui->rated = res;
    ui->phase = PH_RATED;
    return 0;
}

static const char *choice_text(LabChoice c) {
    switch (c) {
    case LAB_CHOICE_A: return "A is better";
    case LAB_CHOICE_B: return "B is better";
    case LAB_CHOICE_TIE: return "a tie";
    case LAB_CHOICE_BOTH_BAD: return "both bad";
    }
    return "?";
}

static void vote(Ui *ui, LabChoice c) {
    bool replace = ui->phase == PH_RATED;
    ui->choice = c;
    /* the names a blind vote reveals are shown in the vote area only: a flash would outlive the pair */
    if (commit_vote(ui, replace) == 0) ui_flash(ui, false, "saved: %s", choice_text(c));
}

static void on_tags(Ui *ui, const char *text) {
    if (!text) return;
    snprintf(ui->tags, sizeof ui->tags, "%s", text);
    if (commit_vote(ui, true) == 0) ui_flash(ui, false, "tags saved");
}

static void on_comment(Ui *ui, const char *text) {
    if (!text) return;
    snprintf(ui->comment, sizeof ui->comment, "%s", text);
    if (commit_vote(ui, true) == 0) ui_flash(ui, false, "comment saved");
}

static void leave_vote(Ui *ui) {
    if (ui->study) study_next(ui);
    else ui->phase = PH_EDIT;
}

static void scroll_panes(Ui *ui, int delta) {
    for (int s = 0; s < 2; s++) {
        UiPane *p = &ui->pane[s];
        p->follow = false;
        p->scroll += delta;
        if (p->scroll < 0) p->scroll = 0;   /* the upper bound is applied when drawing */
    }
}

static bool scroll_key(Ui *ui, const UiKey *k, bool arrows) {
    int page = LINES / 3 > 1 ? LINES / 3 : 1;
    switch (k->code) {
    case UK_PGUP: scroll_panes(ui, -page); return true;
    case UK_PGDN: scroll_panes(ui, page); return true;
    case UK_UP: if (!arrows) return false; scroll_panes(ui, -1); return true;
    case UK_DOWN: if (!arrows) return false; scroll_panes(ui, 1); return true;
    case UK_HOME: if (!arrows) return false; scroll_panes(ui, -1000000); return true;
    case UK_END:
        if (!arrows) return false;
        for (int s = 0; s < 2; s++) ui->pane[s].follow = true;
        return true;
    default: return false;
    }
}

bool compare_key(Ui *ui, const UiKey *k) {
    bool ch = k->code == UK_CHAR && !k->alt;
    uint32_t c = ch ? k->ch : 0;
    if (ui->phase == PH_RATE || ui->phase == PH_RATED) {
        if (k->code == UK_LEFT || c == 'a' || c == 'A') { vote(ui, LAB_CHOICE_A); return true; }
        if (k->code == UK_RIGHT || c == 'b' || c == 'B') { vote(ui, LAB_CHOICE_B); return true; }
        if (c == 't') { vote(ui, LAB_CHOICE_TIE); return true; }
        if (c == 'x') { vote(ui, LAB_CHOICE_BOTH_BAD); return true; }
        if (c == 'r' && lab_rate_pending(ui->lab)) {
            LabErr e = {0};
            LabRateResult res;
            if (lab_rate_retry(ui->lab, &res, &e) == 0) {
                ui->rated = res;
                ui->phase = PH_RATED;
                ui_flash(ui, false, "rating saved");
            } else {
                ui_flash(ui, true, "still not saved: %s (r retries)", e.msg);
            }
            return true;
        }
        if (scroll_key(ui, k, true)) return true;
        if (ui->phase == PH_RATE) {
            if (k->code == UK_ESC && !ui->study) { ui->phase = PH_EDIT; ui_flash(ui, false, "not rated (F3 history can rate it later)"); return true; }
            if (c == 'u') {
                int64_t pid = 0;
                LabErr e = {0};
                if (lab_undo_rating(ui->lab, &pid, &e)) ui_flash(ui, true, "nothing to undo: %s", e.msg);
                else ui_flash(ui, false, "undid the rating of pair %lld", (long long)pid);
                return true;
            }
            return false;
        }
        /* PH_RATED */
        if (c >= '1' && c <= '5') {
            ui->rate.score[ui->score_side] = (int)(c - '0');
            int side = ui->score_side;
            ui->score_side = 1 - ui->score_side;
            if (commit_vote(ui, true) == 0) ui_flash(ui, false, "score %c = %d saved", side ? 'B' : 'A', (int)(c - '0'));
            return true;
        }
        if (c == 'g') { ui_input_open(ui, "tags (comma-separated)", ui->tags, on_tags); return true; }
        if (c == 'c') { ui_input_open(ui, "comment", ui->comment, on_comment); return true; }
        if (c == 'u') {
            int64_t pid = 0;
            LabErr e = {0};
            if (lab_undo_rating(ui->lab, &pid, &e)) { ui_flash(ui, true, "undo failed: %s", e.msg); return true; }
            if (pid != ui->pair_id) { ui_flash(ui, false, "stepped back a change of pair %lld", (long long)pid); return true; }
            memset(&ui->rate, 0, sizeof ui->rate);
            ui->tags[0] = ui->comment[0] = 0;
            ui->score_side = 0;
            if (load_rating(ui)) { ui_flash(ui, false, "stepped back one change (u again for the one before)"); return true; }
            ui->phase = PH_RATE;
            ui_flash(ui, false, "rating undone: vote again");
            return true;
        }
        if (k->code == UK_ENTER || k->code == UK_ESC || c == 'n' || c == 'i') { leave_vote(ui); return true; }
        if (!ui->study && ch && c != 'q' && c != '?') {
            /* any other character starts the next prompt with it */
            leave_vote(ui);
            return le_key(&ui->ed, k) != LE_IGNORED;
        }
        return false;
    }
    if (ui->study && ui->phase == PH_EDIT) {
        /* a study's prompts come from its set: the editor is read-only */
        if (k->code == UK_ENTER) { study_next(ui); return true; }
        return scroll_key(ui, k, true);
    }
    if (ui->phase == PH_RUN && k->code == UK_ESC) {
        lab_stop(ui->lab);
        ui->stopped = true;
        ui_flash(ui, false, "stopped: both answers so far are kept");
        return true;
    }
    if (scroll_key(ui, k, false)) return true;
    if (c == '?' && ui->ed.text.len == 0) return false;    /* help */
    LeResult r = le_key(&ui->ed, k);
    if (r == LE_SUBMIT) {
        if (ui->phase == PH_RUN) { ui_flash(ui, false, "both models are still answering: wait, or Esc to stop"); return true; }
        if (!ui->ed.text.len) return true;
        char *text = le_take(&ui->ed);
        if (text) {
            ui->blind_pair = ui->opt->blind;
            compare_ask(ui, text, 0);
            free(text);
        }
        return true;
    }
    return r != LE_IGNORED;
}

/* ---------- drawing ---------- */

static void draw_metrics(const UiPane *p, UiRect r, UiAttr a) {
    if (!p->have_metrics) {
        d_text(r, 0, 0, p->running ? " waiting for the first token…" : "", AT_DIM);
        return;
    }
    char mem[32];
    fmt_bytes(mem, sizeof mem, (double)p->m.bytes_engine);
    int col = d_printf(r, 0, 0, AT_DIM, " TTFT %.0f ms · %.1f tok/s · %d tok · mem %s", p->m.ttft_ms,
                       p->m.decode_tok_s, p->m.n_gen, mem);
    if (p->done) d_printf(r, 0, col, a, " · %s", p->err[0] ? "error" : p->m.stop[0] ? p->m.stop : "done");
}

static void draw_pane(Ui *ui, const UiLayout *L, int side) {
    UiPane *p = &ui->pane[side];
    UiRect head = L->head[side], body = L->body[side];
    UiAttr ha = side ? AT_HEAD_B : AT_HEAD_A;
    char name[LAB_NAME_MAX + 16];
    ui_side_name(ui, side, name, sizeof name);
    int col = d_printf(head, 0, 0, ha, " %s ", name);
    if (p->running) d_text(head, 0, col, ui->stopped ? " stopping…" : " writing…", AT_DIM);

    TextLines tl = {0};
    const char *s = p->text.data ? p->text.data : "";
    if (text_wrap(s, p->text.len, body.w - 1, &tl)) return;
    int total = (int)tl.n, maxtop = total > body.h ? total - body.h : 0;
    if (p->follow || p->scroll > maxtop) p->scroll = maxtop;
    if (p->scroll >= maxtop) p->follow = true;   /* scrolled back to the end: follow again */
    for (int i = 0; i < body.h && p->scroll + i < total; i++) {
        const TextLine *ln = &tl.v[p->scroll + i];
        d_textn(body, i, 1, s + ln->start, ln->len, AT_NORMAL);
    }
    if (p->err[0]) d_printf(body, body.h - 1, 1, AT_ERR, "error: %s", p->err);
    if (total > body.h) {
        char pos[48];
        snprintf(pos, sizeof pos, " %d-%d/%d ", p->scroll + 1, p->scroll + body.h < total ? p->scroll + body.h : total, total);
        int w = (int)strlen(pos);
        if (head.w > w + col + 12) d_text(head, 0, head.w - w, pos, AT_DIM);
    }
    text_lines_free(&tl);
    draw_metrics(p, L->metrics[side], AT_OK);
}

static void draw_editor(Ui *ui, const UiLayout *L) {
    UiRect r = L->editor;
    const char *s = ui->ed.text.data ? ui->ed.text.data : "";
    TextLines tl = {0};
    if (text_wrap(s, ui->ed.text.len, r.w - 3, &tl)) return;
    /* the line holding the cursor */
    size_t cl = 0;
    for (size_t i = 0; i < tl.n; i++)
        if (tl.v[i].start <= ui->ed.cur) cl = i;
    int top = (int)cl >= r.h ? (int)cl - r.h + 1 : 0;
    for (int i = 0; i < r.h && top + i < (int)tl.n; i++) {
        const TextLine *ln = &tl.v[top + i];
        d_text(r, i, 0, top + i == 0 ? "›" : " ", AT_KEY);
        d_textn(r, i, 2, s + ln->start, ln->len, AT_NORMAL);
    }
    const TextLine *ln = &tl.v[cl];
    int cx = 2 + text_width(s + ln->start, ui->ed.cur - ln->start);
    int cy = (int)cl - top;
    if (cx < r.w && cy < r.h) {
        attrset(A_REVERSE);
        size_t n = ui->ed.cur < ui->ed.text.len ? (size_t)utf8_seq_len((const unsigned char *)s + ui->ed.cur, ui->ed.text.len - ui->ed.cur) : 0;
        if (n && s[ui->ed.cur] != '\n') mvaddnstr(r.y + cy, r.x + cx, s + ui->ed.cur, (int)n);
        else mvaddch(r.y + cy, r.x + cx, ' ');
        attrset(A_NORMAL);
    }
    text_lines_free(&tl);
    if (!ui->ed.text.len && ui->phase == PH_EDIT)
        d_text(r, 0, 3, "type a prompt for both models, Enter sends  (Ctrl-J new line, ↑ history, ? help)", AT_DIM);
}

static void draw_vote(Ui *ui, const UiLayout *L) {
    UiRect r = L->editor;
    if (ui->phase == PH_RATE) {
        d_text(r, 0, 0, "Which answer is better?", AT_OK);
        d_text(r, r.h > 1 ? 1 : 0, r.h > 1 ? 2 : 25, "a/← A    b/→ B    t tie    x both bad", AT_KEY);
        return;
    }
    char sc[2][8];
    for (int s = 0; s < 2; s++) {
        if (ui->rate.score[s]) snprintf(sc[s], sizeof sc[s], "%d", ui->rate.score[s]);
        else snprintf(sc[s], sizeof sc[s], "-");
    }
    int col = d_printf(r, 0, 0, AT_OK, "Saved: %s.", choice_text(ui->choice));
    if (ui->blind_pair)
        d_printf(r, 0, col, AT_NORMAL, "  Revealed: A = %s, B = %s", ui->rated.model_name[0], ui->rated.model_name[1]);
    int row = r.h > 1 ? 1 : 0;
    d_printf(r, row, 2, AT_NORMAL, "scores A %s  B %s   tags: %s   comment: %s", sc[0], sc[1], ui->tags[0] ? ui->tags : "-",
             ui->comment[0] ? ui->comment : "-");
}

void compare_draw(Ui *ui, const UiLayout *L) {
    for (int s = 0; s < 2; s++) draw_pane(ui, L, s);
    if (L->divider.h) {
        attrset(scr_attr(AT_DIM));
        mvvline(L->divider.y, L->divider.x, ACS_VLINE, L->divider.h);
        attrset(A_NORMAL);
    }
    attrset(scr_attr(AT_DIM));
    mvhline(L->rule.y, 0, ACS_HLINE, L->rule.w);
    attrset(A_NORMAL);
    if (ui->prompt && ui->phase != PH_EDIT) {
        char head[64];
        snprintf(head, sizeof head, " prompt ");
        int col = d_text(L->rule, 0, 1, head, AT_DIM);
        d_printf(L->rule, 0, 1 + col, AT_NORMAL, "%s ", ui->prompt);
    } else if (ui->study && ui->have_item) {
        d_printf(L->rule, 0, 1, AT_DIM, " prompt %d/%d ", ui->item.k, ui->item.n);
    }
    if (ui->phase == PH_RATE || ui->phase == PH_RATED) draw_vote(ui, L);
    else if (ui->study) {
        d_text(L->editor, 0, 0, ui->phase == PH_RUN ? "both models are answering…" : "Enter: next prompt", AT_DIM);
    } else draw_editor(ui, L);
}

void compare_status(Ui *ui, UiRect r) {
    switch (ui->phase) {
    case PH_EDIT: {
        const char *kv[] = {"Enter", "send", "Ctrl-J", "new line", "↑↓", "history", "PgUp/PgDn", "scroll", "F2", "settings",
                            "F3", "history", "Ctrl-Q", "quit", "F1/?", "help"};
        const char *st[] = {"Enter", "next prompt", "PgUp/PgDn", "scroll", "Ctrl-Q", "quit", "F1/?", "help"};
        if (ui->study) d_status(r, st, 8);
        else d_status(r, kv, 16);
        break;
    }
    case PH_RUN: {
        const char *kv[] = {"Esc", "stop both", "PgUp/PgDn", "scroll", "Ctrl-Q", "quit", "F1", "help"};
        d_status(r, kv, 8);
        break;
    }
    case PH_RATE: {
        const char *kv[] = {"a/←", "A better", "b/→", "B better", "t", "tie", "x", "both bad", "↑↓", "scroll", "Esc", "skip",
                            "?", "help"};
        d_status(r, kv, ui->study ? 10 : 14);
        break;
    }
    case PH_RATED: {
        const char *kv[] = {"1-5", ui->score_side ? "score B" : "score A", "g", "tags", "c", "comment", "u", "undo",
                            "a/b/t/x", "change vote", "Enter", ui->study ? "next prompt" : "new prompt", "?", "help"};
        d_status(r, kv, 14);
        break;
    }
    }
}
