/* Layer wall (see README "Architecture"): base/ may not include <db.h>. */
#error "layer wall: base/ may not include db.h: the UI and the engine never see the database; go through lab.h"
