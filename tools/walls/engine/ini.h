/* Layer wall (see README "Architecture"): engine/ may not include <ini.h>. */
#error "layer wall: engine/ may not include ini.h: configuration belongs to src/"
