/* Layer wall (see README "Architecture"): hub/ may not include <remote.h>. */
#error "layer wall: hub/ may not include remote.h: the hub client and the remote arm are separate rooms"
