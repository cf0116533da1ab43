/* Layer wall (see README "Architecture"): hub/ may not include <pcre2.h>. */
#error "layer wall: hub/ may not include pcre2.h: the hub client needs no regular expressions"
