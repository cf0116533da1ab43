/* Layer wall (see README "Architecture"): db/ may not include <cblas.h>. */
#error "layer wall: db/ may not include cblas.h: only engine/ uses OpenBLAS"
