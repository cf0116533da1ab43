/* Layer wall (see README "Architecture"): engine/ may not include <microhttpd.h>. */
#error "layer wall: engine/ may not include microhttpd.h: only src/serve/ runs the HTTP server"
