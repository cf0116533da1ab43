/* Layer wall (see README "Architecture"): remote/ may not include <ncursesw/curses.h>. */
#error "layer wall: remote/ may not include ncursesw/curses.h: only ui/ uses ncurses"
