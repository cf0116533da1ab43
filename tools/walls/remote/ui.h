/* Layer wall (see README "Architecture"): remote/ may not include <ui.h>. */
#error "layer wall: remote/ may not include ui.h: the remote arm is base, jansson and libcurl only"
