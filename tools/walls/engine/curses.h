/* Layer wall (see README "Architecture"): engine/ may not include <curses.h>. */
#error "layer wall: engine/ may not include curses.h: only ui/ uses ncurses"
