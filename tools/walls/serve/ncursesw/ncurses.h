/* Layer wall (see README "Architecture"): serve/ may not include <ncursesw/ncurses.h>. */
#error "layer wall: serve/ may not include ncursesw/ncurses.h: only ui/ uses ncurses"
