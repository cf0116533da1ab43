/* Layer wall (see README "Architecture"): ui/ may not include <curl/curl.h>. */
#error "layer wall: ui/ may not include curl/curl.h: only src/remote/ talks HTTP (through remote.h)"
