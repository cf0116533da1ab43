/* Layer wall (see README "Architecture"): ui/ may not include <engine.h>. */
#error "layer wall: ui/ may not include engine.h: the UI and the database never see the engine; go through lab.h"
