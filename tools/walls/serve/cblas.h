/* Layer wall (see README "Architecture"): serve/ may not include <cblas.h>. */
#error "layer wall: serve/ may not include cblas.h: only engine/ uses OpenBLAS"
