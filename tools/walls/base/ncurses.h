/* Layer wall (see README "Architecture"): base/ may not include <ncurses.h>. */
#error "layer wall: base/ may not include ncurses.h: only ui/ uses ncurses"
