/* Layer wall (see README "Architecture"): remote/ may not include <ncursesw/ncurses.h>. */
#error "layer wall: remote/ may not include ncursesw/ncurses.h: only ui/ uses ncurses"
