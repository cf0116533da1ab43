/* Layer wall (see README "Architecture"): remote/ may not include <microhttpd.h>. */
#error "layer wall: remote/ may not include microhttpd.h: only src/serve/ runs the HTTP server"
