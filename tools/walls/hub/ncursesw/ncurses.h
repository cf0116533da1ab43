/* Layer wall (see README "Architecture"): hub/ may not include <ncursesw/ncurses.h>. */
#error "layer wall: hub/ may not include ncursesw/ncurses.h: the hub client never draws"
