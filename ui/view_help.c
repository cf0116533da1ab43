/* Help (F1 or ?): every key of every screen that can be reached, the current screen's first,
 * generated from the screens' key tables (keys.c). */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "ui_int.h"

enum { HELP_W = UI_HELP_WIDTH + 4 };   /* the box's widest: the text and its borders */

enum { HK_LINE, HK_JK, HK_PAGE, HK_CLOSE };
static const UiKeyDef help_keys[] = {
    [HK_LINE] = {"↑↓", "scroll", "scroll a line", 0, 0, false, {K_(UK_UP), K_(UK_DOWN)}},
    [HK_JK] = {"j k", NULL, "scroll a line (as ↓ ↑)", 0, 0, false, {K_CH('j'), K_CH('k')}},
    [HK_PAGE] = {"PgUp PgDn Space", "page", "scroll a page", 0, 0, false, {K_(UK_PGUP), K_(UK_PGDN), K_CH(' ')}},
    [HK_CLOSE] = {"Esc q ? F1 Enter", "close", "close the help", 0, 0, false,
                  {K_(UK_ESC), K_CH('q'), K_CH('?'), K_(UK_F1), K_(UK_ENTER)}},
};

static bool help_key(Ui *ui, const UiKey *k) {
    switch (ui_key_find(&screen_help, ui_mode(ui, SCR_HELP), k)) {
    case HK_CLOSE: ui_overlay_close(ui); break;
    case HK_LINE: ui->help_scroll += k->code == UK_DOWN ? 1 : -1; break;
    case HK_JK: ui->help_scroll += k->ch == 'j' ? 1 : -1; break;
    case HK_PAGE: ui->help_scroll += k->code == UK_PGUP ? -10 : 10; break;
    default: break;
    }
    if (ui->help_scroll < 0) ui->help_scroll = 0;
    return true;   /* the overlay keeps every key from the screen beneath */
}

static UiRect help_box(const UiLayout *L, int total, UiRect *in) {
    UiRect box = layout_center(L->full, total + 2, HELP_W);
    /* the inside, as d_box lays it out */
    *in = (UiRect){box.y + 1, box.x + 2, box.h - 2, box.w - 4};
    return box;
}

static int count_lines(const Buf *b) {
    int n = 0;
    for (size_t i = 0; i < b->len; i++) n += b->data[i] == '\n';
    return n;
}

static void help_open(Ui *ui) { ui->help_scroll = 0; }

static void help_fit(Ui *ui, const UiLayout *L) {
    Buf b = {0};
    UiRect in;
    if (ui_help_text(ui, UI_HELP_WIDTH, &b) == 0) {
        int total = count_lines(&b);
        help_box(L, total, &in);
        if (ui->help_scroll > total - in.h) ui->help_scroll = total - in.h > 0 ? total - in.h : 0;
    }
    buf_free(&b);
}

static void help_draw(const Ui *ui, const UiLayout *L) {
    Buf b = {0};
    if (ui_help_text(ui, UI_HELP_WIDTH, &b)) {
        buf_free(&b);
        return;
    }
    UiRect in;
    UiRect box = help_box(L, count_lines(&b), &in);
    in = d_box(box, "help: keys");
    const char *p = b.data, *end = b.data + b.len;
    for (int line = 0; p < end && line < ui->help_scroll + in.h; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        /* screens' headings start at the margin, their sections one space in, keys two */
        UiAttr a = n && p[0] != ' ' ? AT_HEAD_A : n > 1 && p[1] != ' ' ? AT_KEY : AT_NORMAL;
        if (line >= ui->help_scroll) d_textn(in, line - ui->help_scroll, 0, p, n, a);
        p += n + 1;
    }
    buf_free(&b);
}

const UiScreenDef screen_help = {
    .name = "help", .title = "Help", .overlay = true,
    .open = help_open, .fit = help_fit, .draw = help_draw, .key = help_key, .keys = UI_KEYS(help_keys),
};
