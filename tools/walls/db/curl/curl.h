/* Layer wall (see README "Architecture"): db/ may not include <curl/curl.h>. */
#error "layer wall: db/ may not include curl/curl.h: only src/remote/ talks HTTP (through remote.h)"
