/* Layer wall (see README "Architecture"): engine/ may not include <ncursesw/ncurses.h>. */
#error "layer wall: engine/ may not include ncursesw/ncurses.h: only ui/ uses ncurses"
