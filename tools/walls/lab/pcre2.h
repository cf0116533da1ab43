/* Layer wall (see README "Architecture"): lab/ may not include <pcre2.h>. */
#error "layer wall: lab/ may not include pcre2.h: only engine/ uses PCRE2"
