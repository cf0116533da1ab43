/* Layer wall (see README "Architecture"): db/ may not include <ncursesw/curses.h>. */
#error "layer wall: db/ may not include ncursesw/curses.h: only ui/ uses ncurses"
