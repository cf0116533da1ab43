/* Layer wall (see README "Architecture"): engine/ may not include <db.h>. */
#error "layer wall: engine/ may not include db.h: the UI and the engine never see the database; go through lab.h"
