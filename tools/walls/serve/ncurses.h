/* Layer wall (see README "Architecture"): serve/ may not include <ncurses.h>. */
#error "layer wall: serve/ may not include ncurses.h: only ui/ uses ncurses"
