/* Layer wall (see README "Architecture"): base/ may not include <cblas.h>. */
#error "layer wall: base/ may not include cblas.h: only engine/ uses OpenBLAS"
