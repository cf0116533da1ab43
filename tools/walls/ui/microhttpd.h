/* Layer wall (see README "Architecture"): ui/ may not include <microhttpd.h>. */
#error "layer wall: ui/ may not include microhttpd.h: only src/serve/ runs the HTTP server"
