/* Layer wall (see README "Architecture"): ui/ may not include <jansson.h>. */
#error "layer wall: ui/ may not include jansson.h: JSON parsing belongs to engine/, db/ and the application"
