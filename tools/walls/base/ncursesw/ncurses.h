/* Layer wall (see README "Architecture"): base/ may not include <ncursesw/ncurses.h>. */
#error "layer wall: base/ may not include ncursesw/ncurses.h: only ui/ uses ncurses"
