/* Layer wall (see README "Architecture"): hub/ may not include <cblas.h>. */
#error "layer wall: hub/ may not include cblas.h: the hub client does no arithmetic on weights"
