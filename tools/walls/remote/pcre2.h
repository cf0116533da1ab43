/* Layer wall (see README "Architecture"): remote/ may not include <pcre2.h>. */
#error "layer wall: remote/ may not include pcre2.h: the remote arm is base, jansson and libcurl only"
