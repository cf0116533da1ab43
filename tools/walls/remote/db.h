/* Layer wall (see README "Architecture"): remote/ may not include <db.h>. */
#error "layer wall: remote/ may not include db.h: the remote arm is base, jansson and libcurl only"
