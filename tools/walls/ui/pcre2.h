/* Layer wall (see README "Architecture"): ui/ may not include <pcre2.h>. */
#error "layer wall: ui/ may not include pcre2.h: only engine/ uses PCRE2"
