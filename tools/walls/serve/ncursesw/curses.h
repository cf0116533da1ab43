/* Layer wall (see README "Architecture"): serve/ may not include <ncursesw/curses.h>. */
#error "layer wall: serve/ may not include ncursesw/curses.h: only ui/ uses ncurses"
