/* Layer wall (see README "Architecture"): base/ may not include <curses.h>. */
#error "layer wall: base/ may not include curses.h: only ui/ uses ncurses"
