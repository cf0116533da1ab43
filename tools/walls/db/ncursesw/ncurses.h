/* Layer wall (see README "Architecture"): db/ may not include <ncursesw/ncurses.h>. */
#error "layer wall: db/ may not include ncursesw/ncurses.h: only ui/ uses ncurses"
