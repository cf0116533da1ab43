/* Layer wall (see README "Architecture"): serve/ may not include <pcre2.h>. */
#error "layer wall: serve/ may not include pcre2.h: only engine/ uses PCRE2"
