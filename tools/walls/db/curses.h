/* Layer wall (see README "Architecture"): db/ may not include <curses.h>. */
#error "layer wall: db/ may not include curses.h: only ui/ uses ncurses"
