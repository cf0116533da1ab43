/* Layer wall (see README "Architecture"): engine/ may not include <ui.h>. */
#error "layer wall: engine/ may not include ui.h: only main.c starts the UI"
