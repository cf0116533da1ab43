/* Layer wall (see README "Architecture"): db/ may not include <ncurses.h>. */
#error "layer wall: db/ may not include ncurses.h: only ui/ uses ncurses"
