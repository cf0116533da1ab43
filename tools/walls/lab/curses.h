/* Layer wall (see README "Architecture"): lab/ may not include <curses.h>. */
#error "layer wall: lab/ may not include curses.h: only ui/ uses ncurses"
