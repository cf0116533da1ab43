/* Layer wall (see README "Architecture"): db/ may not include <microhttpd.h>. */
#error "layer wall: db/ may not include microhttpd.h: only src/serve/ runs the HTTP server"
