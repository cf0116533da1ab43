/* Layer wall (see README "Architecture"): engine/ may not include <ncurses.h>. */
#error "layer wall: engine/ may not include ncurses.h: only ui/ uses ncurses"
