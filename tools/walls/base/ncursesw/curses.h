/* Layer wall (see README "Architecture"): base/ may not include <ncursesw/curses.h>. */
#error "layer wall: base/ may not include ncursesw/curses.h: only ui/ uses ncurses"
