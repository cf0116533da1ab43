/* Layer wall (see README "Architecture"): base/ may not include <microhttpd.h>. */
#error "layer wall: base/ may not include microhttpd.h: only src/serve/ runs the HTTP server"
