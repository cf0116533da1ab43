/* Layer wall (see README "Architecture"): lab/ may not include <ncursesw/ncurses.h>. */
#error "layer wall: lab/ may not include ncursesw/ncurses.h: only ui/ uses ncurses"
