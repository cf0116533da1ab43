/* Layer wall (see README "Architecture"): hub/ may not include <lab.h>. */
#error "layer wall: hub/ may not include lab.h: the lab uses the hub client, not the other way round"
