/* Layer wall (see README "Architecture"): hub/ may not include <curses.h>. */
#error "layer wall: hub/ may not include curses.h: the hub client never draws: progress goes through a callback"
