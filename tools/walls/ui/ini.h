/* Layer wall (see README "Architecture"): ui/ may not include <ini.h>. */
#error "layer wall: ui/ may not include ini.h: configuration belongs to src/"
