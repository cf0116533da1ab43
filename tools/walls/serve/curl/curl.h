/* Layer wall (see README "Architecture"): serve/ may not include <curl/curl.h>. */
#error "layer wall: serve/ may not include curl/curl.h: only src/remote/ is an HTTP client"
