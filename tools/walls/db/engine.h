/* Layer wall (see README "Architecture"): db/ may not include <engine.h>. */
#error "layer wall: db/ may not include engine.h: the UI and the database never see the engine; go through lab.h"
