/* Layer wall (see README "Architecture"): base/ may not include <engine.h>. */
#error "layer wall: base/ may not include engine.h: the UI and the database never see the engine; go through lab.h"
