/* Layer wall (see README "Architecture"): remote/ may not include <cblas.h>. */
#error "layer wall: remote/ may not include cblas.h: the remote arm is base, jansson and libcurl only"
