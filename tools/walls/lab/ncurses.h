/* Layer wall (see README "Architecture"): lab/ may not include <ncurses.h>. */
#error "layer wall: lab/ may not include ncurses.h: only ui/ uses ncurses"
