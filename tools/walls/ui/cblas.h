/* Layer wall (see README "Architecture"): ui/ may not include <cblas.h>. */
#error "layer wall: ui/ may not include cblas.h: only engine/ uses OpenBLAS"
