/* Layer wall (see README "Architecture"): hub/ may not include <ncurses.h>. */
#error "layer wall: hub/ may not include ncurses.h: the hub client never draws: progress goes through a callback"
