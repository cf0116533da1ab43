/* Drawing helpers: everything is clipped to a rectangle, and text is measured by display width. */
#include <curses.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

void d_fill(UiRect r, UiAttr a) {
    attrset(scr_attr(a));
    for (int y = 0; y < r.h; y++) mvhline(r.y + y, r.x, ' ', r.w);
    attrset(A_NORMAL);
}

int d_textn(UiRect r, int row, int col, const char *s, size_t n, UiAttr a) {
    if (row < 0 || row >= r.h || col >= r.w || col < 0) return 0;
    int used;
    size_t fit = text_fit(s, n, r.w - col, &used);
    attrset(scr_attr(a));
    mvaddnstr(r.y + row, r.x + col, s, (int)fit);
    attrset(A_NORMAL);
    return used;
}

int d_text(UiRect r, int row, int col, const char *s, UiAttr a) { return d_textn(r, row, col, s, strlen(s), a); }

int d_printf(UiRect r, int row, int col, UiAttr a, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* the format may carry user or model text: sanitize like any other output */
    TextSanitizer ts = {0};
    Buf b = {0};
    text_sanitize(&ts, buf, strlen(buf), &b);
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] == '\n') b.data[i] = ' ';
    int w = b.data ? d_textn(r, row, col, b.data, b.len, a) : 0;
    buf_free(&b);
    return w;
}

UiRect d_box(UiRect r, const char *title) {
    d_fill(r, AT_NORMAL);
    if (r.h < 3 || r.w < 4) return r;
    attrset(A_BOLD);
    mvaddch(r.y, r.x, ACS_ULCORNER);
    mvhline(r.y, r.x + 1, ACS_HLINE, r.w - 2);
    mvaddch(r.y, r.x + r.w - 1, ACS_URCORNER);
    mvvline(r.y + 1, r.x, ACS_VLINE, r.h - 2);
    mvvline(r.y + 1, r.x + r.w - 1, ACS_VLINE, r.h - 2);
    mvaddch(r.y + r.h - 1, r.x, ACS_LLCORNER);
    mvhline(r.y + r.h - 1, r.x + 1, ACS_HLINE, r.w - 2);
    mvaddch(r.y + r.h - 1, r.x + r.w - 1, ACS_LRCORNER);
    attrset(A_NORMAL);
    if (title) {
        UiRect t = {r.y, r.x + 2, 1, r.w - 4};
        d_printf(t, 0, 0, AT_KEY, " %s ", title);
    }
    UiRect in = {r.y + 1, r.x + 2, r.h - 2, r.w - 4};
    return in;
}

void d_bar(int y, int x, int w, double v, double lo, double hi, UiAttr a) {
    if (w < 3) return;
    attrset(scr_attr(AT_DIM));
    for (int i = 0; i < w; i++) mvaddch(y, x + i, ACS_BULLET);
    if (isnan(v)) { attrset(A_NORMAL); return; }
    int fill = (int)lround(v * w);
    if (fill < 0) fill = 0;
    if (fill > w) fill = w;
    /* a visible block (not only a coloured space) so the bar reads without colour and in captures */
    attrset(scr_attr(a) & ~A_REVERSE);
    for (int i = 0; i < fill; i++) mvaddstr(y, x + i, "\xe2\x96\x88");   /* U+2588 full block */
    if (!isnan(lo) && !isnan(hi)) {
        int l = (int)lround(lo * (w - 1)), h = (int)lround(hi * (w - 1));
        attrset(scr_attr(AT_BAR_CI));
        if (l >= 0 && l < w) mvaddch(y, x + l, '[');
        if (h >= 0 && h < w) mvaddch(y, x + h, ']');
    }
    attrset(A_NORMAL);
}

void fmt_bytes(char *out, size_t n, double bytes) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) { bytes /= 1024; i++; }
    if (i == 0) snprintf(out, n, "%.0f B", bytes);
    else snprintf(out, n, "%.1f %s", bytes, u[i]);
}

void d_status(UiRect r, const char *const *kv, int n) {
    d_fill(r, AT_STATUS);
    int col = 0;
    for (int i = 0; i + 1 < n; i += 2) {
        int need = text_width(kv[i], strlen(kv[i])) + text_width(kv[i + 1], strlen(kv[i + 1])) + 2;
        if (col + need > r.w) break;
        col += d_text(r, 0, col, kv[i], AT_KEY);
        col += d_text(r, 0, col, " ", AT_STATUS);
        col += d_text(r, 0, col, kv[i + 1], AT_STATUS);
        col += d_text(r, 0, col, "  ", AT_STATUS);
    }
}
