/* Layer wall (see README "Architecture"): lab/ may not include <ncursesw/curses.h>. */
#error "layer wall: lab/ may not include ncursesw/curses.h: only ui/ uses ncurses"
