/* Layer wall (see README "Architecture"): base/ may not include <jansson.h>. */
#error "layer wall: base/ may not include jansson.h: JSON parsing belongs to engine/, db/ and the application"
