/* Layer wall (see README "Architecture"): base/ may not include <pcre2.h>. */
#error "layer wall: base/ may not include pcre2.h: only engine/ uses PCRE2"
