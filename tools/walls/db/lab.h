/* Layer wall (see README "Architecture"): db/ may not include <lab.h>. */
#error "layer wall: db/ may not include lab.h: lower layers never call the application"
