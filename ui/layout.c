#include "layout.h"

static UiRect rect(int y, int x, int h, int w) {
    UiRect r = {y, x, h < 0 ? 0 : h, w < 0 ? 0 : w};
    return r;
}

UiLayout layout_compute(int lines, int cols, int editor_lines) {
    UiLayout L = {0};
    if (lines < UI_MIN_LINES || cols < UI_MIN_COLS) {
        L.too_small = true;
        L.full = rect(0, 0, lines, cols);
        return L;
    }
    L.title = rect(0, 0, 1, cols);
    L.status = rect(lines - 1, 0, 1, cols);
    L.full = rect(1, 0, lines - 2, cols);

    int ed = editor_lines < 1 ? 1 : editor_lines;
    int ed_max = (lines - 2) / 4;
    if (ed_max < 1) ed_max = 1;
    if (ed > ed_max) ed = ed_max;
    L.editor = rect(lines - 1 - ed, 0, ed, cols);
    L.rule = rect(L.editor.y - 1, 0, 1, cols);

    int top = 1, avail = L.rule.y - top;   /* lines for the two panes */
    L.side_by_side = cols >= UI_SIDE_BY_SIDE_COLS;
    if (L.side_by_side) {
        int wa = (cols - 1) / 2, wb = cols - 1 - wa;
        L.pane[0] = rect(top, 0, avail, wa);
        L.divider = rect(top, wa, avail, 1);
        L.pane[1] = rect(top, wa + 1, avail, wb);
    } else {
        int ha = avail / 2, hb = avail - ha;
        L.pane[0] = rect(top, 0, ha, cols);
        L.pane[1] = rect(top + ha, 0, hb, cols);
    }
    for (int s = 0; s < 2; s++) {
        UiRect p = L.pane[s];
        L.head[s] = rect(p.y, p.x, 1, p.w);
        L.metrics[s] = rect(p.y + p.h - 1, p.x, 1, p.w);
        L.body[s] = rect(p.y + 1, p.x, p.h - 2, p.w);
    }
    return L;
}

UiRect layout_center(UiRect r, int h, int w) {
    if (h > r.h) h = r.h;
    if (w > r.w) w = r.w;
    return rect(r.y + (r.h - h) / 2, r.x + (r.w - w) / 2, h, w);
}

UiRect ui_canvas_row(UiCanvas *cv) {
    UiRect line = {cv->r.y + cv->y - cv->scroll, cv->r.x, 1, cv->r.w};
    if (!cv->paint || cv->y - cv->scroll < 0 || cv->y - cv->scroll >= cv->r.h) line.h = 0;
    cv->y++;
    return line;
}
