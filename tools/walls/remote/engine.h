/* Layer wall (see README "Architecture"): remote/ may not include <engine.h>. */
#error "layer wall: remote/ may not include engine.h: the remote arm is base, jansson and libcurl only"
