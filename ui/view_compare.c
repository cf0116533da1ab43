/* The compare screen: two panes streaming, the prompt editor, and the vote. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

static void pane_reset(UiPane *p) {
    buf_clear(&p->text);
    buf_clear(&p->held);
    p->shown_ms = 0;
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
    ui->hold = false;
    ui->shown_logged = false;
}

/* Blind and not yet voted on: only the answers' text may be seen. */
static bool hidden(const Ui *ui) { return ui->blind_pair && ui->phase != PH_RATED; }

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
    o.shown = true;
    o.follow_up = ui->multi_turn && !ui->study;
    /* a study's recorded pacing, else the lab's; it only matters when blind */
    ui->pacing = ui->study ? ui->protocol.pacing : ui->opt->pacing;
    ui->hold = ui->blind_pair && ui->pacing == LAB_PACING_TOGETHER;
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
    ui_goto(ui, SCR_COMPARE);
    lab_pair_free(&p);
}

/* Pacing together: both answers go on screen in one step, from the record when the pair is
 * complete (so what is shown is what was stored, also for a side answered before a resume). */
static void release_held(Ui *ui, bool ok) {
    LabPair rec;
    LabErr e = {0};
    bool have = ok && lab_pair_get(ui->lab, ui->pair_id, &rec, &e) == 0;
    for (int side = 0; side < 2; side++) {
        UiPane *p = &ui->pane[side];
        int slot = have ? (side == 0 ? rec.left_slot : 1 - rec.left_slot) : 0;
        if (have && rec.output[slot]) pane_append(p, rec.output[slot], strlen(rec.output[slot]));
        else if (p->held.len) pane_append(p, p->held.data, p->held.len);
        text_sanitize_end(&p->san, &p->text);
        if (have) p->m = rec.metrics[slot];
        p->have_metrics = true;
        p->done = true;
        buf_clear(&p->held);
    }
    if (have) lab_pair_free(&rec);
    ui->hold = false;
}

void compare_event(Ui *ui, const Ev *ev) {
    if (ev->kind == EV_PIECE || ev->kind == EV_DONE) {
        if (ev->side < 0 || ev->side > 1) return;
        UiPane *p = &ui->pane[ev->side];
        if (ui->hold) {
            /* nothing of one answer shows before the other is done: no text, no timing */
            if (ev->kind == EV_PIECE && buf_append(&p->held, ev->text, ev->len)) LOG_E("ui: out of memory holding output");
            if (ev->kind == EV_DONE) {
                p->m = ev->m;
                if (ev->err[0]) snprintf(p->err, sizeof p->err, "%s", ev->err);
            }
            return;
        }
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
        if (ui->hold) release_held(ui, ev->ok);
        for (int s = 0; s < 2; s++) ui->pane[s].running = false;
        ui->done_ms = now_ms();
        if (ev->ok) {
            ui->phase = PH_RATE;
        } else {
            ui->phase = PH_EDIT;
            const char *why = ui->pane[0].err[0] ? ui->pane[0].err : ui->pane[1].err[0] ? ui->pane[1].err : "an answer is missing";
            /* blind: an engine's message (its context size, its name) would tell the models apart */
            if (ui->blind_pair) why = "an answer could not be written (recorded as failed)";
            if (ui->study) ui_flash(ui, true, "this prompt cannot be rated: %s; Enter: the next prompt", why);
            else ui_flash(ui, true, "this pair cannot be rated: %s", why);
        }
    }
}

void compare_shown(Ui *ui) {
    if (ui->screen != SCR_COMPARE || ui->shown_logged || !ui->pair_id) return;
    double now = now_ms();
    for (int s = 0; s < 2; s++)
        if (ui->pane[s].done && !ui->pane[s].running && ui->pane[s].shown_ms == 0) ui->pane[s].shown_ms = now;
    if (ui->pane[0].shown_ms == 0 || ui->pane[1].shown_ms == 0) return;
    ui->shown_logged = true;
    double gap = ui->pane[0].shown_ms - ui->pane[1].shown_ms;
    LOG_I("ui: pair %lld: both answers fully shown %.1f ms apart (%s%s)", (long long)ui->pair_id, gap < 0 ? -gap : gap,
          ui->blind_pair ? "blind, pacing " : "open", ui->blind_pair ? lab_pacing_name(ui->pacing) : "");
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

/* ---------- keys ---------- */

enum {
    CK_H_EDIT, CK_SEND, CK_NEWLINE, CK_HISTORY, CK_MOVE, CK_LINE, CK_DELETE, CK_KILL, CK_YANK, CK_TYPE, CK_NEW_CONV, CK_SCROLL,
    CK_STOP,
    CK_H_STUDY, CK_NEXT_ITEM, CK_STUDY_SCROLL, CK_STUDY_QUIT,
    CK_H_VOTE, CK_A, CK_B, CK_TIE, CK_BAD, CK_VSCROLL, CK_VPAGE, CK_SKIP, CK_UNDO, CK_RETRY, CK_QUIT,
    CK_H_RATED, CK_SCORE, CK_TAGS, CK_COMMENT, CK_REVOTE, CK_NEXT, CK_NEXT_STUDY, CK_TYPE_ON,
};
enum { EDITING = UI_IN_EDIT | UI_IN_RUN, VOTING = UI_IN_RATE | UI_IN_RATED };
static const UiKeyDef compare_keys[] = {
    [CK_H_EDIT] = {.help = "Prompt editor", .when = EDITING | UI_IN_LAB},
    [CK_SEND] = {"Enter", "send", "send the prompt to both models at once", EDITING | UI_IN_LAB, UI_IN_EDIT, false, {K_(UK_ENTER)}},
    [CK_NEWLINE] = {"Ctrl-J/Alt-Enter", "new line", "new line in the prompt (a bracketed paste keeps its lines)",
                    EDITING | UI_IN_LAB, UI_IN_EDIT, false, {K_(UK_NEWLINE)}},
    [CK_HISTORY] = {"↑↓", "history", "move between lines; past the first or last: the previous or next prompt from the history",
                    EDITING | UI_IN_LAB, UI_IN_EDIT, false, {K_(UK_UP), K_(UK_DOWN)}},
    [CK_MOVE] = {"← → Home End", NULL, "move the cursor; Home and End: start and end of the line", EDITING | UI_IN_LAB, 0,
                 false, {K_(UK_LEFT), K_(UK_RIGHT), K_(UK_HOME), K_(UK_END)}},
    [CK_LINE] = {"Ctrl-A Ctrl-E Ctrl-B Ctrl-F", NULL, "start / end of the line, back / forward a character",
                 EDITING | UI_IN_LAB, 0, false, {K_CTRL('a'), K_CTRL('e'), K_CTRL('b'), K_CTRL('f')}},
    [CK_DELETE] = {"Backspace Delete Ctrl-D", NULL, "delete a character", EDITING | UI_IN_LAB, 0, false,
                   {K_(UK_BACKSPACE), K_(UK_DELETE), K_CTRL('d')}},
    [CK_KILL] = {"Ctrl-K Ctrl-U Ctrl-W", NULL, "delete to the end / start of the line, the word before the cursor",
                 EDITING | UI_IN_LAB, 0, false, {K_CTRL('k'), K_CTRL('u'), K_CTRL('w')}},
    [CK_YANK] = {"Ctrl-Y", NULL, "put back what was deleted last", EDITING | UI_IN_LAB, 0, false, {K_CTRL('y')}},
    [CK_TYPE] = {"other keys", NULL, "type the prompt (? too, once the prompt is not empty)", EDITING | UI_IN_LAB, 0, false,
                 {K_CH('h'), K_CH('q'), K_(UK_TAB)}},
    [CK_NEW_CONV] = {"Ctrl-N", NULL, "a new conversation: both models forget the turns so far (multi-turn, set in F2)",
                     UI_IN_EDIT | UI_IN_LAB, 0, false, {K_CTRL('n')}},
    [CK_SCROLL] = {"PgUp/PgDn", "scroll", "scroll both answers", EDITING, 0, false, {K_(UK_PGUP), K_(UK_PGDN)}},
    [CK_STOP] = {"Esc", "stop both", "while they answer: stop both (what was written is kept and recorded)", UI_IN_RUN, 0,
                 false, {K_(UK_ESC)}},
    [CK_H_STUDY] = {.help = "Between the prompts of a study", .when = UI_IN_EDIT | UI_IN_STUDY},
    [CK_NEXT_ITEM] = {"Enter", "next prompt", "the next prompt of the study (after an error: try again)",
                      UI_IN_EDIT | UI_IN_STUDY, 0, false, {K_(UK_ENTER)}},
    [CK_STUDY_SCROLL] = {"↑↓ Home End", NULL, "scroll both answers", UI_IN_EDIT | UI_IN_STUDY, 0, false,
                         {K_(UK_UP), K_(UK_DOWN), K_(UK_HOME), K_(UK_END)}},
    [CK_STUDY_QUIT] = {"q", NULL, "quit (the study resumes here next time)", UI_IN_EDIT | UI_IN_STUDY, 0, false, {K_CH('q')}},
    [CK_H_VOTE] = {.help = "Voting (once both answers have ended; every vote is saved the moment it is given)", .when = VOTING},
    [CK_A] = {"a/←", "A better", "A is better", UI_IN_RATE, 0, false, {K_CH('a'), K_CH('A'), K_(UK_LEFT)}},
    [CK_B] = {"b/→", "B better", "B is better", UI_IN_RATE, 0, false, {K_CH('b'), K_CH('B'), K_(UK_RIGHT)}},
    [CK_TIE] = {"t", "tie", "a tie", UI_IN_RATE, 0, false, {K_CH('t')}},
    [CK_BAD] = {"x", "both bad", "both bad", UI_IN_RATE, 0, false, {K_CH('x')}},
    [CK_VSCROLL] = {"↑↓", "scroll", "scroll both answers", VOTING, UI_IN_RATE, false, {K_(UK_UP), K_(UK_DOWN)}},
    [CK_VPAGE] = {"PgUp PgDn Home End", NULL, "scroll both answers a page, to the start, to the end", VOTING, 0, false,
                  {K_(UK_PGUP), K_(UK_PGDN), K_(UK_HOME), K_(UK_END)}},
    [CK_SKIP] = {"Esc", "skip", "skip the vote (the history can rate the pair later)", UI_IN_RATE | UI_IN_LAB, 0, false,
                 {K_(UK_ESC)}},
    [CK_UNDO] = {"u", "undo", "step back the last change of a rating (repeatable); with none left, vote again", VOTING,
                UI_IN_RATED, false, {K_CH('u')}},
    [CK_RETRY] = {"r", "retry", "retry a rating the database refused (it is kept in memory until then)",
                  VOTING | UI_IN_PENDING, 0, false, {K_CH('r')}},
    [CK_QUIT] = {"q", NULL, "quit (outside the prompt editor)", VOTING, 0, false, {K_CH('q')}},
    [CK_H_RATED] = {.help = "After the vote (in blind mode the names are shown now)", .when = UI_IN_RATED},
    [CK_SCORE] = {"1-5", "score", "score A, then B (optional; each replaces the saved rating)", UI_IN_RATED, 0, false,
                  {K_CH('1'), K_CH('2'), K_CH('3'), K_CH('4'), K_CH('5')}},
    [CK_TAGS] = {"g", "tags", "tags, comma-separated (optional)", UI_IN_RATED, 0, false, {K_CH('g')}},
    [CK_COMMENT] = {"c", "comment", "a comment (optional)", UI_IN_RATED, 0, false, {K_CH('c')}},
    [CK_REVOTE] = {"a/b/t/x", "change vote", "change the vote (← → too)", UI_IN_RATED, 0, false,
                   {K_CH('a'), K_CH('A'), K_(UK_LEFT), K_CH('b'), K_CH('B'), K_(UK_RIGHT), K_CH('t'), K_CH('x')}},
    [CK_NEXT] = {"Enter", "new prompt", "done: back to the prompt editor (Esc and n too)", UI_IN_RATED | UI_IN_LAB, 0, false,
                 {K_(UK_ENTER), K_(UK_ESC), K_CH('n'), K_CH('i')}},
    [CK_NEXT_STUDY] = {"Enter", "next prompt", "done: the next prompt (Esc and n too)", UI_IN_RATED | UI_IN_STUDY, 0, false,
                       {K_(UK_ENTER), K_(UK_ESC), K_CH('n'), K_CH('i')}},
    [CK_TYPE_ON] = {"other letters", NULL, "start the next prompt with that letter", UI_IN_RATED | UI_IN_LAB, 0, false,
                    {K_CH('h'), K_CH('w')}},
};

static unsigned compare_mode(const Ui *ui) {
    static const unsigned phase[] = {[PH_EDIT] = UI_IN_EDIT, [PH_RUN] = UI_IN_RUN, [PH_RATE] = UI_IN_RATE,
                                     [PH_RATED] = UI_IN_RATED};
    return phase[ui->phase] | (ui->lab && lab_rate_pending(ui->lab) ? UI_IN_PENDING : 0);
}

static LabChoice choice_of(const UiKey *k) {
    unsigned rate = (UI_IN_RATE | UI_IN_LAB);
    switch (ui_key_find(&screen_compare, rate, k)) {
    case CK_B: return LAB_CHOICE_B;
    case CK_TIE: return LAB_CHOICE_TIE;
    case CK_BAD: return LAB_CHOICE_BOTH_BAD;
    default: return LAB_CHOICE_A;
    }
}

/* The prompt editor's keys (and any other) while not voting. */
static bool edit_key(Ui *ui, const UiKey *k) {
    if (k->code == UK_CHAR && !k->alt && k->ch == '?' && ui->ed.text.len == 0) return false;    /* help */
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

static void undo(Ui *ui) {
    int64_t pid = 0;
    LabErr e = {0};
    if (ui->phase == PH_RATE) {
        if (lab_undo_rating(ui->lab, &pid, &e)) ui_flash(ui, true, "nothing to undo: %s", e.msg);
        else ui_flash(ui, false, "undid the rating of pair %lld", (long long)pid);
        return;
    }
    if (lab_undo_rating(ui->lab, &pid, &e)) { ui_flash(ui, true, "undo failed: %s", e.msg); return; }
    if (pid != ui->pair_id) { ui_flash(ui, false, "stepped back a change of pair %lld", (long long)pid); return; }
    memset(&ui->rate, 0, sizeof ui->rate);
    ui->tags[0] = ui->comment[0] = 0;
    ui->score_side = 0;
    if (load_rating(ui)) { ui_flash(ui, false, "stepped back one change (u again for the one before)"); return; }
    ui->phase = PH_RATE;
    ui_flash(ui, false, "rating undone: vote again");
}

static void retry(Ui *ui) {
    LabErr e = {0};
    LabRateResult res;
    if (lab_rate_retry(ui->lab, &res, &e) == 0) {
        ui->rated = res;
        ui->phase = PH_RATED;
        ui_flash(ui, false, "rating saved");
    } else {
        ui_flash(ui, true, "still not saved: %s (r retries)", e.msg);
    }
}

static void score(Ui *ui, int v) {
    ui->rate.score[ui->score_side] = v;
    int side = ui->score_side;
    ui->score_side = 1 - ui->score_side;
    if (commit_vote(ui, true) == 0) ui_flash(ui, false, "score %c = %d saved", side ? 'B' : 'A', v);
}

static bool compare_key(Ui *ui, const UiKey *k) {
    int id = ui_key_find(&screen_compare, ui_mode(ui, SCR_COMPARE), k);
    switch (id) {
    case CK_A: vote(ui, LAB_CHOICE_A); return true;
    case CK_B: vote(ui, LAB_CHOICE_B); return true;
    case CK_TIE: vote(ui, LAB_CHOICE_TIE); return true;
    case CK_BAD: vote(ui, LAB_CHOICE_BOTH_BAD); return true;
    case CK_REVOTE: vote(ui, choice_of(k)); return true;
    case CK_RETRY: retry(ui); return true;
    case CK_SCROLL: case CK_VSCROLL: case CK_VPAGE: case CK_STUDY_SCROLL: return scroll_key(ui, k, true);
    case CK_SKIP: ui->phase = PH_EDIT; ui_flash(ui, false, "not rated (F3 history can rate it later)"); return true;
    case CK_UNDO: undo(ui); return true;
    case CK_QUIT: case CK_STUDY_QUIT: ui->quit = true; return true;
    case CK_SCORE: score(ui, (int)(k->ch - '0')); return true;
    case CK_TAGS: ui_input_open(ui, "tags (comma-separated)", ui->tags, on_tags); return true;
    case CK_COMMENT: ui_input_open(ui, "comment", ui->comment, on_comment); return true;
    case CK_NEXT: case CK_NEXT_STUDY: leave_vote(ui); return true;
    case CK_NEXT_ITEM: study_next(ui); return true;
    case CK_NEW_CONV:
        lab_conversation_reset(ui->lab);
        ui_flash(ui, false, ui->multi_turn ? "new conversation: the next prompt is its first turn"
                                           : "new conversation (each prompt stands alone: F2 turns multi-turn on)");
        return true;
    case CK_STOP:
        lab_stop(ui->lab);
        ui->stopped = true;
        ui_flash(ui, false, "stopped: both answers so far are kept");
        return true;
    default: break;
    }
    bool ch = k->code == UK_CHAR && !k->alt;
    switch (ui->phase) {
    case PH_RATE: return false;
    case PH_RATED:
        if (ui->study || !ch || k->ch == '?') return false;
        /* any other character starts the next prompt with it */
        leave_vote(ui);
        return le_key(&ui->ed, k) != LE_IGNORED;
    case PH_EDIT:
        if (ui->study) return false;   /* a study's prompts come from its set: the editor is read-only */
        return edit_key(ui, k);
    case PH_RUN: return edit_key(ui, k);
    }
    return false;
}

/* ---------- drawing ---------- */

static void draw_metrics(const Ui *ui, const UiPane *p, UiRect r, UiAttr a) {
    if (hidden(ui)) {
        /* no speed, size, token count or stop reason before the vote: the same words on both sides */
        d_text(r, 0, 0, p->running ? " answering…" : "", AT_DIM);
        return;
    }
    if (!p->have_metrics) {
        d_text(r, 0, 0, p->running ? " waiting for the first token…" : "", AT_DIM);
        return;
    }
    char mem[32];
    fmt_bytes(mem, sizeof mem, (double)p->m.bytes_engine);
    /* a remote arm's memory is the server's: unknown here, never shown as 0 */
    int col = d_printf(r, 0, 0, AT_DIM, " TTFT %.0f ms · %.1f tok/s · %d tok · %s%s", p->m.ttft_ms,
                       p->m.decode_tok_s, p->m.n_gen, p->m.remote ? "remote, mem unknown" : "mem ",
                       p->m.remote ? "" : mem);
    if (p->done) d_printf(r, 0, col, a, " · %s", p->err[0] ? "error" : p->m.stop[0] ? p->m.stop : "done");
}

/* The pane's text wrapped to its body; returns the first line that can be shown at the top. */
static int pane_maxtop(const UiPane *p, UiRect body, TextLines *tl) {
    const char *s = p->text.data ? p->text.data : "";
    if (text_wrap(s, p->text.len, body.w - 1, tl)) return -1;
    int total = (int)tl->n;
    return total > body.h ? total - body.h : 0;
}

/* Keeps each pane's scroll inside its text at the current size, and the end in view while it
 * follows the stream. */
static void compare_fit(Ui *ui, const UiLayout *L) {
    for (int side = 0; side < 2; side++) {
        UiPane *p = &ui->pane[side];
        TextLines tl = {0};
        int maxtop = pane_maxtop(p, L->body[side], &tl);
        text_lines_free(&tl);
        if (maxtop < 0) continue;
        if (p->follow || p->scroll > maxtop) p->scroll = maxtop;
        if (p->scroll >= maxtop) p->follow = true;   /* scrolled back to the end: follow again */
    }
}

static void draw_pane(const Ui *ui, const UiLayout *L, int side) {
    const UiPane *p = &ui->pane[side];
    UiRect head = L->head[side], body = L->body[side];
    UiAttr ha = side ? AT_HEAD_B : AT_HEAD_A;
    char name[LAB_NAME_MAX + 16];
    ui_side_name(ui, side, name, sizeof name);
    int col = d_printf(head, 0, 0, ha, " %s ", name);
    LabModelInfo mi;
    /* how its prompts are sent; not in a blind pair (it would tell the models apart) */
    if (!ui->blind_pair && !ui->study && lab_model_info(ui->lab, side, &mi) == 0 && mi.loaded)
        col += d_text(head, 0, col, mi.chat ? "[chat] " : "[raw] ", AT_DIM);
    if (p->running) d_text(head, 0, col, ui->stopped ? " stopping…" : " writing…", AT_DIM);

    TextLines tl = {0};
    const char *s = p->text.data ? p->text.data : "";
    int maxtop = pane_maxtop(p, body, &tl);
    if (maxtop < 0) return;
    int total = (int)tl.n;
    int top = p->scroll < maxtop ? p->scroll : maxtop;   /* compare_fit has clamped it */
    for (int i = 0; i < body.h && top + i < total; i++) {
        const TextLine *ln = &tl.v[top + i];
        d_textn(body, i, 1, s + ln->start, ln->len, AT_NORMAL);
    }
    if (p->err[0] && !p->running)
        d_printf(body, body.h - 1, 1, AT_ERR, "error: %s", hidden(ui) ? "this answer could not be written" : p->err);
    if (total > body.h) {
        char pos[48];
        snprintf(pos, sizeof pos, " %d-%d/%d ", top + 1, top + body.h < total ? top + body.h : total, total);
        int w = (int)strlen(pos);
        if (head.w > w + col + 12) d_text(head, 0, head.w - w, pos, AT_DIM);
    }
    text_lines_free(&tl);
    draw_metrics(ui, p, L->metrics[side], AT_OK);
}

static void draw_editor(const Ui *ui, const UiLayout *L) {
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
    if (!ui->ed.text.len && ui->phase == PH_EDIT) {
        static const int ids[] = {CK_SEND, CK_NEWLINE, CK_HISTORY};
        char hint[160];
        ui_keys_hint(&screen_compare, ids, 3, " · ", hint, sizeof hint);
        d_printf(r, 0, 3, AT_DIM, "type a prompt for both models  (%s)", hint);
    }
}

static void draw_vote(const Ui *ui, const UiLayout *L) {
    UiRect r = L->editor;
    if (ui->phase == PH_RATE) {
        d_text(r, 0, 0, "Which answer is better?", AT_OK);
        static const int ids[] = {CK_A, CK_B, CK_TIE, CK_BAD};
        char hint[160];
        ui_keys_hint(&screen_compare, ids, 4, "    ", hint, sizeof hint);
        d_text(r, r.h > 1 ? 1 : 0, r.h > 1 ? 2 : 25, hint, AT_KEY);
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

static void compare_draw(const Ui *ui, const UiLayout *L) {
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
        int turns = ui->multi_turn && !ui->study ? lab_conversation_turns(ui->lab) : 0;
        if (turns > 0) snprintf(head, sizeof head, " turn %d ", turns);
        else snprintf(head, sizeof head, " prompt ");
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

const UiScreenDef screen_compare = {
    .name = "compare", .title = "Compare screen",
    .fit = compare_fit, .draw = compare_draw, .key = compare_key, .mode = compare_mode, .keys = UI_KEYS(compare_keys),
};
