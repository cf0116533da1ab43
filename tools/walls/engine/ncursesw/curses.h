/* Layer wall (see README "Architecture"): engine/ may not include <ncursesw/curses.h>. */
#error "layer wall: engine/ may not include ncursesw/curses.h: only ui/ uses ncurses"
