/* Layer wall (see README "Architecture"): lab/ may not include <microhttpd.h>. */
#error "layer wall: lab/ may not include microhttpd.h: only src/serve/ runs the HTTP server"
