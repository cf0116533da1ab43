/* Layer wall (see README "Architecture"): hub/ may not include <microhttpd.h>. */
#error "layer wall: hub/ may not include microhttpd.h: the hub client is a client; serving is src/serve/"
