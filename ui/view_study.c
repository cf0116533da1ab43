/* User-testing sessions: the start screen (instructions, consent, pseudonym), the prompt set in the
 * lab's balanced order with balanced sides, progress k/n, the thank-you screen. Quitting and
 * starting again with the same pseudonym resumes where the participant stopped. */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

static const char *const study_files[2] = {"study/instructions.txt", "study/consent.txt"};

static void on_pseudonym(Ui *ui, const char *text) {
    if (!text) return;
    /* a pseudonym is a short label: letters, digits, '-', '_' and '.' */
    char clean[LAB_NAME_MAX];
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < sizeof clean && n < 40; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')
            clean[n++] = *p;
    clean[n] = 0;
    if (!n) {
        ui_flash(ui, true, "a pseudonym needs letters or digits (no real names)");
        return;
    }
    snprintf(ui->participant, sizeof ui->participant, "%s", clean);
}

int study_begin(Ui *ui, LabErr *e) {
    const char *assets = ui->opt->assets_dir ? ui->opt->assets_dir : "assets";
    for (int i = 0; i < 2; i++) {
        char *path = path_join(assets, study_files[i]);
        if (!path) return lab_err(e, LAB_ENOMEM, "out of memory");
        size_t len;
        int rc = file_read_all(path, 1 << 20, &ui->study_text[i], &len, e);
        free(path);
        if (rc) return -1;
    }
    const UiOptions *o = ui->opt;
    if (lab_prompts_read(o->prompts_path, &ui->prompts, e)) return -1;
    /* lines starting with '#' describe the set (the sets in assets/prompts): not prompts */
    size_t kept = 0;
    for (size_t i = 0; i < ui->prompts.n; i++) {
        if (ui->prompts.v[i][0] == '#') {
            free(ui->prompts.v[i]);
            continue;
        }
        if (ui->prompts.line) ui->prompts.line[kept] = ui->prompts.line[i];
        ui->prompts.v[kept++] = ui->prompts.v[i];
    }
    ui->prompts.n = kept;
    if (!ui->prompts.n) return lab_err(e, LAB_EINVAL, "%s: no prompts", o->prompts_path);
    /* the whole set against both models before anything is recorded: every line that cannot be
     * asked is named (on stderr, once the terminal is back), and the study does not start */
    LabStudySpec spec = {.name = o->study_name && *o->study_name ? o->study_name : path_basename(o->prompts_path),
                         .prompt_set = path_basename(o->prompts_path), .prompts = &ui->prompts,
                         .sampling = o->sampling, .blind = o->blind, .pacing = o->pacing,
                         .source = o->study_source ? o->study_source : ""};
    LabStudy recorded;
    int max_tokens = spec.sampling.max_tokens;
    LabErr fe = {0};
    if (lab_study_find(ui->lab, spec.name, &recorded, &fe) == 1) max_tokens = recorded.sampling.max_tokens;
    LabStrList bad;
    int n_bad = lab_prompts_check(ui->lab, &ui->prompts, o->prompts_path, max_tokens, &bad, e);
    if (n_bad < 0) return -1;
    if (n_bad > 0) {
        if (o->problems) *o->problems = bad;
        else lab_strlist_free(&bad);
        return lab_err(e, LAB_EINVAL, "%s: %d of %zu prompts cannot be asked (listed above); the study was not started",
                       o->prompts_path, n_bad, ui->prompts.n);
    }
    if (lab_study_open(ui->lab, &spec, o->study_strict, &ui->protocol, e)) return -1;
    ui_goto(ui, SCR_STUDY_START);
    if (ui->opt->participant) on_pseudonym(ui, ui->opt->participant);
    if (!ui->participant[0]) ui_input_open(ui, "your pseudonym (no real names)", "", on_pseudonym);
    return 0;
}

static int study_start(Ui *ui) {
    char name[LAB_NAME_MAX * 3];
    snprintf(name, sizeof name, "study:%s:%s", ui->protocol.name, ui->participant);
    LabSessionSpec spec = {0};
    spec.name = name;
    spec.kind = "study";
    spec.participant = ui->participant;
    spec.prompt_set = ui->protocol.prompt_set;
    spec.blind = ui->protocol.blind;
    spec.consent = true;
    spec.seed = -1;
    spec.study_id = ui->protocol.id;
    LabErr e = {0};
    if (lab_session_start(ui->lab, &spec, &ui->sess, &e) || lab_session_set_prompts(ui->lab, &ui->prompts, &e)) {
        ui_flash(ui, true, "%s", e.msg);
        return -1;
    }
    ui->blind_pair = ui->sess.blind;
    ui_goto(ui, SCR_COMPARE);
    study_next(ui);
    if (ui->sess.resumed && ui->screen == SCR_COMPARE)
        ui_flash(ui, false, "welcome back, %s: %d of %d already rated", ui->participant, ui->sess.n_rated, ui->sess.n_prompts);
    return 0;
}

void study_next(Ui *ui) {
    LabErr e = {0};
    int rc = lab_study_next(ui->lab, &ui->item, &e);
    if (rc < 0) {
        ui->phase = PH_EDIT;
        ui_flash(ui, true, "%s (Enter tries again)", e.msg);
        return;
    }
    if (rc == 0) {
        ui->have_item = false;
        lab_session_end(ui->lab, NULL, &e);
        lab_session_info(ui->lab, &ui->sess, &e);
        ui_goto(ui, SCR_STUDY_DONE);
        ui->phase = PH_EDIT;
        return;
    }
    ui->have_item = true;
    ui->blind_pair = ui->sess.blind;
    if (ui->item.answered && ui->item.pair_id) {
        compare_show_pair(ui, ui->item.pair_id);
        ui->blind_pair = ui->sess.blind;
    } else {
        compare_ask(ui, ui->item.text, ui->item.prompt_id);
    }
}

enum { SS_AGREE, SS_ENTER, SS_LEAVE, SS_NAME };
static const UiKeyDef start_keys[] = {
    [SS_AGREE] = {"y", "I agree, start", "agree to the consent text and start (asks for a pseudonym first if there is none)",
                  0, 0, false, {K_CH('y')}},
    [SS_ENTER] = {"Enter", NULL, "asks for a pseudonym if there is none yet", 0, 0, false, {K_(UK_ENTER)}},
    [SS_LEAVE] = {"n", "I do not agree (quit)", "do not agree: leave without starting (q too)", 0, 0, false,
                  {K_CH('n'), K_CH('q')}},
    [SS_NAME] = {"p", "change pseudonym", "change the pseudonym (no real names)", 0, 0, false, {K_CH('p')}},
};

static bool study_start_key(Ui *ui, const UiKey *k) {
    switch (ui_key_find(&screen_study_start, ui_mode(ui, SCR_STUDY_START), k)) {
    case SS_NAME: ui_input_open(ui, "your pseudonym (no real names)", ui->participant, on_pseudonym); return true;
    case SS_LEAVE: ui->quit = true; return true;
    case SS_AGREE: case SS_ENTER:
        if (!ui->participant[0]) { ui_input_open(ui, "your pseudonym (no real names)", "", on_pseudonym); return true; }
        if (k->code == UK_ENTER) {
            ui_flash(ui, false, "press %s to agree to the consent text and start, %s to leave", start_keys[SS_AGREE].key,
                     start_keys[SS_LEAVE].key);
            return true;
        }
        ui->consent = true;
        study_start(ui);
        return true;
    default: return false;
    }
}

enum { SD_FINISH };
static const UiKeyDef done_keys[] = {
    [SD_FINISH] = {"Enter", "finish", "finish (q and Esc too)", 0, 0, false, {K_(UK_ENTER), K_CH('q'), K_(UK_ESC)}},
};

static bool study_done_key(Ui *ui, const UiKey *k) {
    if (ui_key_find(&screen_study_done, ui_mode(ui, SCR_STUDY_DONE), k) != SD_FINISH) return false;
    ui->quit = true;
    return true;
}

/* Draws a text file's paragraphs wrapped into r from row y; returns the next free row. */
static int draw_para(UiRect r, int y, const char *s, UiAttr a) {
    TextSanitizer ts = {0};
    Buf b = {0};
    text_sanitize(&ts, s, strlen(s), &b);
    TextLines tl = {0};
    if (b.data && text_wrap(b.data, b.len, r.w, &tl) == 0)
        for (size_t i = 0; i < tl.n && y < r.h; i++, y++) d_textn(r, y, 0, b.data + tl.v[i].start, tl.v[i].len, a);
    text_lines_free(&tl);
    buf_free(&b);
    return y;
}

static void study_done_draw(const Ui *ui, const UiLayout *L) {
    UiRect in = d_box(layout_center(L->full, 9, 70), "thank you");
    d_printf(in, 1, 0, AT_OK, "Thank you, %s!", ui->participant);
    d_printf(in, 3, 0, AT_NORMAL, "You rated %d of %d prompts. Your answers are saved.", ui->sess.n_rated, ui->sess.n_prompts);
    if (ui->item.n_failed)
        d_printf(in, 4, 0, AT_DIM, "%d prompt%s could not be answered and %s skipped.", ui->item.n_failed,
                 ui->item.n_failed == 1 ? "" : "s", ui->item.n_failed == 1 ? "was" : "were");
    d_printf(in, 5, 0, AT_DIM, "Press %s to %s.", done_keys[SD_FINISH].key, done_keys[SD_FINISH].label);
}

/* The recorded protocol in words, for the start screen: the settings table's names and values. */
static void protocol_text(const LabStudy *p, char *out, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < LAB_SAMPLING_N && k < n; i++) {
        LabSettingInfo in;
        char v[48];
        lab_sampling_info(i, &in);
        lab_sampling_format(&p->sampling, i, v, sizeof v);
        k += (size_t)snprintf(out + k, n - k, "%s%s %s", i ? " · " : "", in.name, v);
    }
}

static void study_start_draw(const Ui *ui, const UiLayout *L) {
    UiRect box = layout_center(L->full, L->full.h, 96);
    UiRect in = d_box(box, "user study");
    /* the texts get what is left above the protocol (four lines) and the two fixed lines */
    UiRect text = {in.y, in.x, in.h > 7 ? in.h - 7 : 0, in.w};
    int y = draw_para(text, 0, ui->study_text[0], AT_NORMAL);
    y++;
    if (y < text.h) d_text(text, y++, 0, "Consent", AT_HEAD_A);
    draw_para(text, y, ui->study_text[1], AT_NORMAL);
    const LabStudy *p = &ui->protocol;
    char proto[1024];
    int n = snprintf(proto, sizeof proto, "Study %s: prompt set %s (%d prompts, sha256 %.12s). Every participant: ", p->name,
                     p->prompt_set, p->n_prompts, p->prompts_sha256);
    protocol_text(p, proto + n, sizeof proto - (size_t)n);
    n = (int)strlen(proto);
    if (p->blind)
        snprintf(proto + n, sizeof proto - (size_t)n, ". Blind: names are shown after each vote; %s.",
                 p->pacing == LAB_PACING_TOGETHER ? "both answers appear together once both are written"
                                                  : "each answer appears as it is written");
    else snprintf(proto + n, sizeof proto - (size_t)n, ". Open: the names are shown with the answers.");
    UiRect pr = {in.y + (in.h > 6 ? in.h - 6 : 0), in.x, in.h > 6 ? 4 : 0, in.w};
    draw_para(pr, 0, proto, AT_DIM);
    if (ui->participant[0]) d_printf(in, in.h - 2, 0, AT_KEY, "Pseudonym: %s", ui->participant);
    else d_printf(in, in.h - 2, 0, AT_KEY, "Pseudonym: (none yet: press %s)", start_keys[SS_NAME].key);
    static const int ids[] = {SS_AGREE, SS_LEAVE, SS_NAME};
    char hint[160];
    ui_keys_hint(&screen_study_start, ids, 3, "      ", hint, sizeof hint);
    d_text(in, in.h - 1, 0, hint, AT_OK);
}

const UiScreenDef screen_study_start = {
    .name = "study", .title = "Study: the start screen", .who = UI_IN_STUDY,
    .draw = study_start_draw, .key = study_start_key, .keys = UI_KEYS(start_keys),
};

const UiScreenDef screen_study_done = {
    .name = "study: done", .title = "Study: the thank-you screen", .who = UI_IN_STUDY,
    .draw = study_done_draw, .key = study_done_key, .keys = UI_KEYS(done_keys),
};
