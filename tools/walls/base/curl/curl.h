/* Layer wall (see README "Architecture"): base/ may not include <curl/curl.h>. */
#error "layer wall: base/ may not include curl/curl.h: only src/remote/ talks HTTP (through remote.h)"
