/* Layer wall (see README "Architecture"): base/ may not include <lab.h>. */
#error "layer wall: base/ may not include lab.h: lower layers never call the application"
