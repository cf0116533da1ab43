/* Layer wall (see README "Architecture"): hub/ may not include <engine.h>. */
#error "layer wall: hub/ may not include engine.h: the hub client fetches files, it does not load them"
