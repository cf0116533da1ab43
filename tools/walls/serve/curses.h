/* Layer wall (see README "Architecture"): serve/ may not include <curses.h>. */
#error "layer wall: serve/ may not include curses.h: only ui/ uses ncurses"
