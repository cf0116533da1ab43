/* Layer wall (see README "Architecture"): db/ may not include <pcre2.h>. */
#error "layer wall: db/ may not include pcre2.h: only engine/ uses PCRE2"
