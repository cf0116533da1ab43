/* Layer wall (see README "Architecture"): ui/ may not include <db.h>. */
#error "layer wall: ui/ may not include db.h: the UI and the engine never see the database; go through lab.h"
