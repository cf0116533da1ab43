/* Layer wall (see README "Architecture"): hub/ may not include <ncursesw/curses.h>. */
#error "layer wall: hub/ may not include ncursesw/curses.h: the hub client never draws"
