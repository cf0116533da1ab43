/* Layer wall (see README "Architecture"): hub/ may not include <db.h>. */
#error "layer wall: hub/ may not include db.h: the hub client stores nothing in the database"
