/* Layer wall (see README "Architecture"): engine/ may not include <curl/curl.h>. */
#error "layer wall: engine/ may not include curl/curl.h: only src/remote/ talks HTTP (through remote.h)"
