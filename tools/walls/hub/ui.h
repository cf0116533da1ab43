/* Layer wall (see README "Architecture"): hub/ may not include <ui.h>. */
#error "layer wall: hub/ may not include ui.h: the hub client never draws"
