/* Screen layout: rectangles computed from the terminal size alone (pure; no curses), so every
 * screen agrees on where things go and the arithmetic is unit-tested. */
#ifndef UI_LAYOUT_H
#define UI_LAYOUT_H

#include <stdbool.h>

typedef struct { int y, x, h, w; } UiRect;   /* h or w 0 = not shown */

enum {
    UI_MIN_COLS = 40,       /* below this the lab shows only a "too small" message */
    UI_MIN_LINES = 12,
    UI_SIDE_BY_SIDE_COLS = 100, /* at or above: panes A | B; below: A above B */
};

typedef struct {
    bool too_small;         /* only `message` is valid then */
    bool side_by_side;
    UiRect title;           /* one line at the top */
    UiRect pane[2];         /* whole pane: head line + body + metrics line */
    UiRect head[2], body[2], metrics[2];
    UiRect divider;         /* the vertical rule between side-by-side panes (w 1), else h 0 */
    UiRect rule;            /* line above the editor */
    UiRect editor;          /* prompt editor lines */
    UiRect status;          /* last line: keys that work now */
    UiRect full;            /* everything between title and status (overlays, other screens) */
} UiLayout;

/* Lays out the compare screen for a lines x cols terminal. editor_lines is how many lines the
 * prompt editor would like (1..); it gets at most a quarter of the height and at least 1. */
UiLayout layout_compute(int lines, int cols, int editor_lines);

/* A box of at most h x w centred in r (for dialogs and overlays), clipped to r. */
UiRect layout_center(UiRect r, int h, int w);

/* Rows laid out on a virtual canvas of r, shifted up by scroll (the stats and scale screens). */
typedef struct { UiRect r; int y, scroll; bool paint; } UiCanvas;
/* The next row: h 0 when it is out of view, or when only measuring (paint false). */
UiRect ui_canvas_row(UiCanvas *cv);

#endif
