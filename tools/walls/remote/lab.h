/* Layer wall (see README "Architecture"): remote/ may not include <lab.h>. */
#error "layer wall: remote/ may not include lab.h: the remote arm is base, jansson and libcurl only"
