/* The screens' registry and what is generated from their key tables: key lookup, the status
 * line, the title bar's keys, the help screen and the keys reference (`ablab keys`). No curses
 * here, so a unit test checks the tables against the handlers without a terminal. */
#include <stdio.h>
#include <string.h>

#include "ui_int.h"

static const UiScreenDef *const screens[SCR_N] = {
    [SCR_COMPARE] = &screen_compare,
    [SCR_HISTORY] = &screen_history,
    [SCR_STATS] = &screen_stats,
    [SCR_SCALE] = &screen_scale,
    [SCR_MODELS] = &screen_models,
    [SCR_STUDY_START] = &screen_study_start,
    [SCR_STUDY_DONE] = &screen_study_done,
    [SCR_SETTINGS] = &screen_settings,
    [SCR_HELP] = &screen_help,
    [SCR_INPUT] = &screen_input,
};

/* The order of the help screen after the current screen, and of the keys reference. */
static const UiScreen reference_order[] = {SCR_COMPARE, SCR_SETTINGS, SCR_HISTORY, SCR_STATS, SCR_SCALE, SCR_MODELS,
                                           SCR_STUDY_START, SCR_STUDY_DONE, SCR_HELP, SCR_INPUT};

const UiScreenDef *ui_screen_def(UiScreen s) {
    if ((int)s <= SCR_NONE || s >= SCR_N) return NULL;
    return screens[s];
}

unsigned ui_mode(const Ui *ui, UiScreen s) {
    unsigned m = ui->study ? UI_IN_STUDY : UI_IN_LAB;
    const UiScreenDef *d = ui_screen_def(s);
    if (d && d->mode) m |= d->mode(ui);
    return m;
}

bool ui_key_applies(const UiKeyDef *d, unsigned mode) {
    static const unsigned groups[] = {UI_IN_PHASES, UI_IN_WHO, UI_IN_PENDING};
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
        if ((d->when & groups[i]) && !(d->when & groups[i] & mode)) return false;
    return true;
}

static bool label_shown(const UiKeyDef *d, unsigned mode) {
    if (!d->label || !ui_key_applies(d, mode)) return false;
    if (!d->show) return true;
    UiKeyDef s = {.when = d->show};
    return ui_key_applies(&s, mode);
}

bool ui_key_is(const UiKeyDef *d, const UiKey *k) {
    for (int i = 0; i < UI_KEY_MAX && d->keys[i].code; i++) {
        const UiKey *w = &d->keys[i];
        if (w->code != k->code || w->alt != k->alt) continue;
        if ((w->code == UK_CHAR || w->code == UK_CTRL) && w->ch != k->ch) continue;
        return true;
    }
    return false;
}

int ui_key_find(const UiScreenDef *d, unsigned mode, const UiKey *k) {
    for (int i = 0; i < d->n_keys; i++)
        if (d->keys[i].key && ui_key_applies(&d->keys[i], mode) && ui_key_is(&d->keys[i], k)) return i;
    return -1;
}

int ui_status_keys(const Ui *ui, const UiKeyDef **out, int max) {
    int n = 0;
    UiScreen s = ui->overlay != SCR_NONE ? ui->overlay : ui->screen;
    const UiScreenDef *d = ui_screen_def(s);
    unsigned mode = ui_mode(ui, s);
    /* while a model loads only the everywhere-keys work (ui_dispatch) */
    bool screen_keys = d && (d->overlay || !ui->loading);
    for (int i = 0; screen_keys && i < d->n_keys && n < max; i++)
        if (label_shown(&d->keys[i], mode)) out[n++] = &d->keys[i];
    if (d && d->overlay) return n;
    for (int i = 0; i < ui_everywhere.n_keys && n < max; i++) {
        const UiKeyDef *g = &ui_everywhere.keys[i];
        if (!g->title && label_shown(g, mode)) out[n++] = g;
    }
    return n;
}

void ui_title_keys(const Ui *ui, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    unsigned mode = ui_mode(ui, SCR_NONE);
    for (int i = 0; i < ui_everywhere.n_keys; i++) {
        const UiKeyDef *g = &ui_everywhere.keys[i];
        if (!g->title || !label_shown(g, mode) || len >= n) continue;
        int w = snprintf(buf + len, n - len, "%s %s  ", g->key, g->label);
        if (w < 0) break;
        len += (size_t)w;
    }
    /* one space after the last, as the bar's right margin */
    if (len >= 2 && len < n) buf[len - 1] = 0;
}

void ui_keys_hint(const UiScreenDef *d, const int *ids, int n, const char *sep, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++) {
        const UiKeyDef *k = &d->keys[ids[i]];
        int w = snprintf(buf + len, cap - len, "%s%s %s", i ? sep : "", k->key, k->label ? k->label : k->help);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* ---------- help and the keys reference ---------- */

enum { HELP_KEY_COLS = 20 };   /* the key column of the help screen */

/* Text being built; err stays set once an append ran out of memory, so nothing is cut short
 * silently. */
typedef struct { Buf *b; int err; } Out;

static void out_append(Out *o, const char *s, size_t n) { o->err |= buf_append(o->b, s, n); }
static void out_puts(Out *o, const char *s) { o->err |= buf_puts(o->b, s); }
static void out_pad(Out *o, int n) {
    for (int i = 0; i < n; i++) out_puts(o, " ");
}

static const char *who_note(unsigned when) {
    if ((when & UI_IN_WHO) == UI_IN_LAB) return " (not in a study)";
    if ((when & UI_IN_WHO) == UI_IN_STUDY) return " (in a study)";
    return "";
}

static bool screen_reachable(const UiScreenDef *d, unsigned who) { return !d->who || (d->who & who); }

/* "  KEY   help", the help wrapped at width and continued under the help column. */
static void help_line(Out *o, const char *key, const char *help, const char *note, int width) {
    Buf text = {0};
    o->err |= buf_puts(&text, help) | buf_puts(&text, note);
    int kw = text_width(key, strlen(key));
    int indent = 2 + (kw < HELP_KEY_COLS ? HELP_KEY_COLS : kw + 1) + 1;
    int avail = width - indent > 20 ? width - indent : 20;
    TextLines tl = {0};
    if (!text.data || text_wrap(text.data, text.len, avail, &tl)) {
        o->err = -1;
    } else {
        for (size_t i = 0; i < tl.n; i++) {
            if (i == 0) {
                out_puts(o, "  ");
                out_puts(o, key);
                out_pad(o, indent - 2 - kw);
            } else {
                out_pad(o, indent);
            }
            size_t len = tl.v[i].len;
            while (len && text.data[tl.v[i].start + len - 1] == ' ') len--;   /* the space the line broke at */
            out_append(o, text.data + tl.v[i].start, len);
            out_puts(o, "\n");
        }
    }
    text_lines_free(&tl);
    buf_free(&text);
}

/* One screen's keys that work for who (UI_IN_LAB, UI_IN_STUDY, or both: then each key restricted
 * to one of them says so). */
static void help_screen(Out *o, const UiScreenDef *d, unsigned who, int width) {
    out_puts(o, d->title);
    out_puts(o, "\n");
    for (int i = 0; i < d->n_keys; i++) {
        const UiKeyDef *k = &d->keys[i];
        if ((k->when & UI_IN_WHO) && !(k->when & who)) continue;
        if (!k->key) {
            out_puts(o, " ");   /* a heading inside the screen */
            out_puts(o, k->help);
            out_puts(o, "\n");
            continue;
        }
        help_line(o, k->key, k->help, who == UI_IN_WHO ? who_note(k->when) : "", width);
    }
}

int ui_help_text(const Ui *ui, int width, Buf *out) {
    unsigned who = ui->study ? UI_IN_STUDY : UI_IN_LAB;
    const UiScreenDef *cur = ui_screen_def(ui->screen);
    Out o = {out, 0};
    buf_clear(out);
    if (cur) help_screen(&o, cur, who, width);
    help_screen(&o, &ui_everywhere, who, width);
    for (size_t i = 0; i < sizeof reference_order / sizeof *reference_order; i++) {
        const UiScreenDef *d = ui_screen_def(reference_order[i]);
        if (d == cur || !screen_reachable(d, who)) continue;
        help_screen(&o, d, who, width);
    }
    return o.err || !out->data ? -1 : 0;
}

static void md_cell(Out *o, const char *s) {
    for (; *s; s++) {
        if (*s == '|') out_puts(o, "\\|");
        else out_append(o, s, 1);
    }
}

static void md_screen(Out *o, const UiScreenDef *d) {
    out_puts(o, "### ");
    out_puts(o, d->title);
    out_puts(o, "\n\n| key | does |\n|---|---|\n");
    unsigned section = d->who;   /* a note says where a key works when its heading does not */
    for (int i = 0; i < d->n_keys; i++) {
        const UiKeyDef *k = &d->keys[i];
        out_puts(o, "| ");
        if (!k->key) {
            section = k->when & UI_IN_WHO;
            out_puts(o, "**");
            md_cell(o, k->help);
            out_puts(o, "** | |\n");
            continue;
        }
        out_puts(o, "`");
        md_cell(o, k->key);
        out_puts(o, "` | ");
        md_cell(o, k->help);
        if ((k->when & UI_IN_WHO) != section) out_puts(o, who_note(k->when));
        out_puts(o, " |\n");
    }
    out_puts(o, "\n");
}

int ui_keys_reference(bool markdown, Buf *out) {
    Out o = {out, 0};
    buf_clear(out);
    if (markdown) {
        out_puts(&o, "<!-- generated by `ablab keys --markdown` from the lab's key tables (ui/); do not edit -->\n\n");
        md_screen(&o, &ui_everywhere);
        for (size_t i = 0; i < sizeof reference_order / sizeof *reference_order; i++)
            md_screen(&o, ui_screen_def(reference_order[i]));
    } else {
        help_screen(&o, &ui_everywhere, UI_IN_WHO, UI_HELP_WIDTH);
        for (size_t i = 0; i < sizeof reference_order / sizeof *reference_order; i++)
            help_screen(&o, ui_screen_def(reference_order[i]), UI_IN_WHO, UI_HELP_WIDTH);
    }
    return o.err || !out->data ? -1 : 0;
}
