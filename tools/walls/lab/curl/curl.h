/* Layer wall (see README "Architecture"): lab/ may not include <curl/curl.h>. */
#error "layer wall: lab/ may not include curl/curl.h: only src/remote/ talks HTTP (through remote.h)"
