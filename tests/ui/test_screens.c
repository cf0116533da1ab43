/* The screens' key tables against their handlers, without a terminal: every key a screen's table
 * lists is used by that screen in the modes the table says (and the table's lookup finds that very
 * entry), every key a screen uses is in its table, the status line and the title bar are made of
 * table entries that work at that moment, and the help screen and `ablab keys` show every key.
 * The handlers run against a real lab (an empty database in a temporary folder, no models). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui_int.h"

typedef struct {
    Ui ui;
    UiOptions opt;
    char dir[64];
} Fx;

static const char *who_name(unsigned mode) { return mode & UI_IN_STUDY ? "study" : "lab"; }

static int setup(void **state) {
    Fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ablab-screens-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char db[128];
    snprintf(db, sizeof db, "%s/lab.db", f->dir);
    LabConfig c;
    lab_config_init(&c);
    c.db_path = db;
    Ui *ui = &f->ui;
    LabErr e = {0};
    if (lab_open(&ui->lab, &c, &e)) fail_msg("lab_open: %s", e.msg);
    f->opt.db_path = db;
    f->opt.copy_dir = f->dir;
    f->opt.prompts_path = "three.txt";
    ui->opt = &f->opt;
    ui->screen = SCR_COMPARE;
    evq_init(&ui->q);
    le_init(&ui->ed);
    le_init(&ui->input);
    le_history_add(&ui->ed, "an earlier prompt");
    for (int s = 0; s < 2; s++) ui->pane[s].follow = true;
    ui->prompts.v = calloc(1, sizeof *ui->prompts.v);
    assert_non_null(ui->prompts.v);
    ui->prompts.v[0] = strdup("Once upon a time");
    ui->prompts.n = 1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    Fx *f = *state;
    Ui *ui = &f->ui;
    lab_close(ui->lab);
    history_free(ui);
    if (ui->have_stats) lab_stats_free(&ui->stats);
    lab_strlist_free(&ui->prompts);
    for (int s = 0; s < 2; s++) buf_free(&ui->pane[s].text);
    free(ui->prompt);
    le_free(&ui->ed);
    le_free(&ui->input);
    ev_free(evq_pop_all(&ui->q));
    evq_free(&ui->q);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static UiPhase phase_of(unsigned mode) {
    if (mode & UI_IN_RUN) return PH_RUN;
    if (mode & UI_IN_RATE) return PH_RATE;
    if (mode & UI_IN_RATED) return PH_RATED;
    return PH_EDIT;
}

/* Puts the lab on screen s in mode (lab or study, and a compare phase): a prompt half typed, a
 * history entry and something to put back, a participant with a pseudonym. */
static void enter(Fx *f, UiScreen s, unsigned mode) {
    Ui *ui = &f->ui;
    ui->quit = false;
    ui->loading = false;
    ui->flash[0] = 0;
    ui->study = mode & UI_IN_STUDY;
    ui->phase = phase_of(mode);
    snprintf(ui->participant, sizeof ui->participant, "p7");
    le_set(&ui->ed, "hello world");
    ui->ed.cur = 5;
    buf_clear(&ui->ed.kill);
    buf_puts(&ui->ed.kill, "x");
    ui->search[0] = 0;
    const UiScreenDef *d = ui_screen_def(s);
    assert_non_null(d);
    if (d->overlay) {
        ui_goto(ui, SCR_COMPARE);
        if (s == SCR_INPUT) ui_input_open(ui, "a value", "abc", NULL);
        else ui_goto(ui, s);
    } else {
        ui_goto(ui, s);
    }
    ui->phase = phase_of(mode);   /* ui_goto's open may not change it, but be sure */
    /* the scale screen's keys while a measurement runs (no worker here: the flag alone) */
    ui->scale_measuring = s == SCR_SCALE && (mode & UI_IN_RUN);
    assert_int_equal(ui->overlay, d->overlay ? s : SCR_NONE);
    assert_int_equal(ui->screen, d->overlay ? SCR_COMPARE : s);
}

/* The modes each screen is driven in. */
static int modes_of(UiScreen s, unsigned *out) {
    const UiScreenDef *d = ui_screen_def(s);
    int n = 0;
    unsigned who[2] = {UI_IN_LAB, UI_IN_STUDY};
    for (int w = 0; w < 2; w++) {
        if (d->who && !(d->who & who[w])) continue;
        if (s == SCR_COMPARE) {
            unsigned ph[] = {UI_IN_EDIT, UI_IN_RUN, UI_IN_RATE, UI_IN_RATED};
            for (int p = 0; p < 4; p++) out[n++] = who[w] | ph[p];
        } else if (s == SCR_SCALE) { /* idle, and while "measure now" runs */
            out[n++] = who[w] | UI_IN_EDIT;
            out[n++] = who[w] | UI_IN_RUN;
        } else {
            out[n++] = who[w];
        }
    }
    return n;
}

static void key_text(const UiKey *k, char *buf, size_t n) {
    if (k->code == UK_CHAR) snprintf(buf, n, "'%c'%s", (char)k->ch, k->alt ? " (alt)" : "");
    else if (k->code == UK_CTRL) snprintf(buf, n, "Ctrl-%c", (char)k->ch);
    else snprintf(buf, n, "key code %d", (int)k->code);
}

/* Every key in a screen's table is used by that screen's handler, in every mode the entry
 * applies in, and the table's lookup finds that entry (no entry hidden behind an earlier one). */
static void test_table_keys_are_handled(void **state) {
    Fx *f = *state;
    Ui *ui = &f->ui;
    int checked = 0;
    for (UiScreen s = SCR_COMPARE; s < SCR_N; s++) {
        const UiScreenDef *d = ui_screen_def(s);
        unsigned modes[8];
        int nm = modes_of(s, modes);
        assert_true(nm > 0);
        for (int m = 0; m < nm; m++) {
            for (int i = 0; i < d->n_keys; i++) {
                const UiKeyDef *e = &d->keys[i];
                /* a rating the database refused cannot be staged here; help shows it (below) */
                if (!e->key || (e->when & UI_IN_PENDING)) continue;
                if (!ui_key_applies(e, modes[m])) continue;
                assert_true(e->keys[0].code != UK_NONE);
                for (int j = 0; j < UI_KEY_MAX && e->keys[j].code; j++) {
                    enter(f, s, modes[m]);
                    assert_int_equal(ui_mode(ui, s) & ~UI_IN_PENDING,
                                     modes[m] & (UI_IN_WHO | (s == SCR_COMPARE || s == SCR_SCALE ? UI_IN_PHASES : 0)));
                    char kt[32];
                    key_text(&e->keys[j], kt, sizeof kt);
                    int found = ui_key_find(d, ui_mode(ui, s), &e->keys[j]);
                    if (found != i)
                        fail_msg("%s (%s, mode %#x): %s of '%s' is found as entry %d, not %d", d->name, who_name(modes[m]),
                                 modes[m], kt, e->key, found, i);
                    if (!d->key(ui, &e->keys[j]))
                        fail_msg("%s (%s, mode %#x): '%s' (%s) is in the table but the screen does not use it", d->name,
                                 who_name(modes[m]), modes[m], e->key, kt);
                    ui->scale_measuring = false;
                    checked++;
                }
            }
        }
    }
    /* the keys every screen shares go through the whole dispatch */
    unsigned who[2] = {UI_IN_LAB, UI_IN_STUDY};
    for (int w = 0; w < 2; w++) {
        for (int i = 0; i < ui_everywhere.n_keys; i++) {
            const UiKeyDef *e = &ui_everywhere.keys[i];
            if (!ui_key_applies(e, who[w])) continue;
            for (int j = 0; j < UI_KEY_MAX && e->keys[j].code; j++) {
                enter(f, SCR_COMPARE, who[w] | UI_IN_RATE);
                if (ui_key_find(&ui_everywhere, ui_mode(ui, SCR_NONE), &e->keys[j]) != i)
                    fail_msg("everywhere (%s): '%s' is found as another entry", who_name(who[w]), e->key);
                if (!ui_dispatch(ui, &e->keys[j]))
                    fail_msg("everywhere (%s): '%s' is in the table but not used", who_name(who[w]), e->key);
                checked++;
            }
        }
    }
    assert_true(checked > 100);
}

/* The other way: a key a screen uses is in its table (for the screens that leave unknown keys
 * alone; the overlays keep every key, the prompt editor types them). */
static void test_used_keys_are_in_the_table(void **state) {
    Fx *f = *state;
    Ui *ui = &f->ui;
    UiKey cand[200];
    int n = 0;
    for (int c = UK_ENTER; c <= UK_F10; c++) cand[n++] = (UiKey){(UiKeyCode)c, 0, false};
    for (uint32_t ch = 32; ch < 127; ch++) cand[n++] = (UiKey){UK_CHAR, ch, false};
    for (uint32_t ch = 'a'; ch <= 'z'; ch++) cand[n++] = (UiKey){UK_CTRL, ch, false};
    struct { UiScreen s; unsigned mode; } cases[] = {
        {SCR_COMPARE, UI_IN_LAB | UI_IN_RATE}, {SCR_COMPARE, UI_IN_STUDY | UI_IN_RATE},
        {SCR_COMPARE, UI_IN_STUDY | UI_IN_RATED}, {SCR_COMPARE, UI_IN_STUDY | UI_IN_EDIT},
        {SCR_HISTORY, UI_IN_LAB}, {SCR_STATS, UI_IN_LAB}, {SCR_SCALE, UI_IN_LAB}, {SCR_MODELS, UI_IN_LAB},
        {SCR_STUDY_START, UI_IN_STUDY}, {SCR_STUDY_DONE, UI_IN_STUDY},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const UiScreenDef *d = ui_screen_def(cases[c].s);
        for (int i = 0; i < n; i++) {
            enter(f, cases[c].s, cases[c].mode);
            unsigned mode = ui_mode(ui, cases[c].s);
            char kt[32];
            key_text(&cand[i], kt, sizeof kt);
            if (d->key(ui, &cand[i]) && ui_key_find(d, mode, &cand[i]) < 0)
                fail_msg("%s (%s, mode %#x): uses %s, which its key table does not list", d->name, who_name(mode), mode, kt);
        }
    }
}

static bool in_table(const UiScreenDef *d, const UiKeyDef *k) { return k >= d->keys && k < d->keys + d->n_keys; }

/* The status line is the table's entries with a label that work now. */
static void check_status(Fx *f, UiScreen s, unsigned mode, const char *const *want, int n_want) {
    Ui *ui = &f->ui;
    enter(f, s, mode);
    const UiKeyDef *st[32];
    int n = ui_status_keys(ui, st, 32);
    const UiScreenDef *d = ui_screen_def(s);
    char got[512] = "";
    for (int i = 0; i < n; i++) {
        assert_true(in_table(d, st[i]) || (!d->overlay && in_table(&ui_everywhere, st[i])));
        assert_non_null(st[i]->label);
        snprintf(got + strlen(got), sizeof got - strlen(got), "[%s %s]", st[i]->key, st[i]->label);
        /* the entry works now: its first key is used */
        enter(f, s, mode);
        UiKey k = st[i]->keys[0];
        if (!ui_dispatch(ui, &k)) fail_msg("%s: the status line shows '%s %s', which does nothing now", d->name, st[i]->key, st[i]->label);
    }
    char exp[512] = "";
    for (int i = 0; i + 1 < n_want; i += 2) snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "[%s %s]", want[i], want[i + 1]);
    if (strcmp(got, exp)) fail_msg("%s mode %#x: status line\n  got  %s\n  want %s", d->name, mode, got, exp);
}

static void test_status_line_from_the_table(void **state) {
    Fx *f = *state;
    const char *rate[] = {"a/←", "A better", "b/→", "B better", "t", "tie", "x", "both bad", "↑↓", "scroll", "Esc", "skip", "Ctrl-Q", "quit"};
    check_status(f, SCR_COMPARE, UI_IN_LAB | UI_IN_RATE, rate, 14);
    /* a participant cannot skip, and Ctrl-Q sits in the title bar */
    const char *rate_study[] = {"a/←", "A better", "b/→", "B better", "t", "tie", "x", "both bad", "↑↓", "scroll"};
    check_status(f, SCR_COMPARE, UI_IN_STUDY | UI_IN_RATE, rate_study, 10);
    const char *rated[] = {"u", "undo", "1-5", "score", "g", "tags", "c", "comment", "a/b/t/x", "change vote", "Enter", "new prompt",
                           "Ctrl-Q", "quit"};
    check_status(f, SCR_COMPARE, UI_IN_LAB | UI_IN_RATED, rated, 14);
    const char *edit[] = {"Enter", "send", "Ctrl-J/Alt-Enter", "new line", "↑↓", "history", "PgUp/PgDn", "scroll", "Ctrl-Q", "quit"};
    check_status(f, SCR_COMPARE, UI_IN_LAB | UI_IN_EDIT, edit, 10);
    const char *run[] = {"PgUp/PgDn", "scroll", "Esc", "stop both", "Ctrl-Q", "quit"};
    check_status(f, SCR_COMPARE, UI_IN_LAB | UI_IN_RUN, run, 6);
    const char *history[] = {"↑↓", "select", "Enter", "open/re-rate", "/", "search", "y", "copy", "Esc", "back", "Ctrl-Q", "quit"};
    check_status(f, SCR_HISTORY, UI_IN_LAB, history, 12);
    const char *settings[] = {"↑↓", "field", "←→", "side", "Enter", "edit", "-/+", "change", "Space", "shared/per side", "Esc", "close",
                              "?", "help"};
    check_status(f, SCR_SETTINGS, UI_IN_LAB, settings, 14);
    const char *start[] = {"y", "I agree, start", "n", "I do not agree (quit)", "p", "change pseudonym"};
    check_status(f, SCR_STUDY_START, UI_IN_STUDY, start, 6);

    /* while a model loads only the keys every screen shares work, and only they are shown */
    Ui *ui = &f->ui;
    enter(f, SCR_MODELS, UI_IN_LAB);
    ui->loading = true;
    const UiKeyDef *st[32];
    int n = ui_status_keys(ui, st, 32);
    assert_int_equal(n, 1);
    assert_string_equal(st[0]->label, "quit");
    ui->loading = false;

    /* the title bar's keys */
    char title[256];
    enter(f, SCR_COMPARE, UI_IN_LAB | UI_IN_EDIT);
    ui_title_keys(ui, title, sizeof title);
    assert_string_equal(title, "F1 help  F2 settings  F3 history  F4 stats  F5 models ");
    enter(f, SCR_COMPARE, UI_IN_STUDY | UI_IN_EDIT);
    ui_title_keys(ui, title, sizeof title);
    assert_string_equal(title, "F1 help  Ctrl-Q quit (resume later) ");
}

/* The line of the help text that shows entry e: "  KEY   help...", unwrapped at this width. */
static bool help_shows(const char *text, const UiKeyDef *e) {
    size_t kl = strlen(e->key);
    for (const char *p = text; (p = strstr(p, e->key)); p++) {
        if (p - text < 2 || p[-1] != ' ' || p[-2] != ' ' || (p - text > 2 && p[-3] != '\n')) continue;
        const char *q = p + kl;
        while (*q == ' ') q++;
        if (!strncmp(q, e->help, strlen(e->help)) && q[strlen(e->help)] == '\n') return true;
    }
    return false;
}

static void test_help_shows_every_key(void **state) {
    Fx *f = *state;
    Ui *ui = &f->ui;
    unsigned who[2] = {UI_IN_LAB, UI_IN_STUDY};
    for (int w = 0; w < 2; w++) {
        for (UiScreen cur = SCR_COMPARE; cur < SCR_N; cur++) {
            const UiScreenDef *cd = ui_screen_def(cur);
            if (cd->overlay || (cd->who && !(cd->who & who[w]))) continue;
            enter(f, cur, who[w] | UI_IN_EDIT);
            Buf b = {0};
            assert_int_equal(ui_help_text(ui, 1000, &b), 0);
            /* the screen the help was opened on comes first */
            assert_memory_equal(b.data, cd->title, strlen(cd->title));
            for (UiScreen s = SCR_COMPARE; s <= SCR_N; s++) {
                const UiScreenDef *d = s == SCR_N ? &ui_everywhere : ui_screen_def(s);
                bool reachable = !d->who || (d->who & who[w]);
                for (int i = 0; i < d->n_keys; i++) {
                    const UiKeyDef *e = &d->keys[i];
                    if (!e->key) continue;
                    bool should = reachable && (!(e->when & UI_IN_WHO) || (e->when & who[w]));
                    if (should && !help_shows(b.data, e))
                        fail_msg("help (%s, on %s): no line for '%s  %s' of %s", who_name(who[w]), cd->name, e->key, e->help, d->name);
                }
                /* a participant is not shown the screens a study keeps away (history would show the names) */
                if (!reachable) assert_null(strstr(b.data, d->title));
            }
            buf_free(&b);
        }
    }
    /* wrapped to the help box, no line is wider than it */
    enter(f, SCR_COMPARE, UI_IN_LAB | UI_IN_EDIT);
    Buf b = {0};
    assert_int_equal(ui_help_text(ui, UI_HELP_WIDTH, &b), 0);
    for (char *line = b.data, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        int w = text_width(line, (size_t)(nl - line));
        if (w > UI_HELP_WIDTH) fail_msg("help line %d columns wide: %.*s", w, (int)(nl - line), line);
    }
    buf_free(&b);
}

/* `ablab keys --markdown` prints the tables: every screen, every key and its help. */
static void test_keys_reference(void **state) {
    (void)state;
    Buf md = {0};
    assert_int_equal(ui_keys_reference(true, &md), 0);
    for (UiScreen s = SCR_COMPARE; s <= SCR_N; s++) {
        const UiScreenDef *d = s == SCR_N ? &ui_everywhere : ui_screen_def(s);
        char head[160];
        snprintf(head, sizeof head, "### %s\n\n| key | does |\n|---|---|\n", d->title);
        if (!strstr(md.data, head)) fail_msg("keys --markdown: no table for %s", d->title);
        for (int i = 0; i < d->n_keys; i++) {
            const UiKeyDef *e = &d->keys[i];
            char row[512];
            if (e->key) snprintf(row, sizeof row, "| `%s` | %s", e->key, e->help);
            else snprintf(row, sizeof row, "| **%s** | |", e->help);
            if (!strstr(md.data, row)) fail_msg("keys --markdown: no row '%s'", row);
        }
    }
    /* the command prints exactly that */
    const char *bin = getenv("ABLAB_BIN");
    if (bin && *bin) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "'%s' keys --markdown", bin);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        Buf out = {0};
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) buf_append(&out, buf, n);
        int rc = pclose(p);
        assert_int_equal(rc, 0);
        assert_int_equal(out.len, md.len);
        assert_memory_equal(out.data, md.data, md.len);
        buf_free(&out);
        /* hidden from the command list */
        snprintf(cmd, sizeof cmd, "'%s' --help", bin);
        p = popen(cmd, "r");
        assert_non_null(p);
        Buf help = {0};
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) buf_append(&help, buf, n);
        assert_int_equal(pclose(p), 0);
        assert_non_null(help.data);
        assert_null(strstr(help.data, "  keys "));
        buf_free(&help);
    } else {
        print_message("ABLAB_BIN not set: `ablab keys --markdown` itself not run\n");
    }
    buf_free(&md);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table_keys_are_handled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_keys_are_in_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_line_from_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_shows_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_reference, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
