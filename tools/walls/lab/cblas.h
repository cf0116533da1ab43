/* Layer wall (see README "Architecture"): lab/ may not include <cblas.h>. */
#error "layer wall: lab/ may not include cblas.h: only engine/ uses OpenBLAS"
