/* Layer wall (see README "Architecture"): engine/ may not include <lab.h>. */
#error "layer wall: engine/ may not include lab.h: lower layers never call the application"
