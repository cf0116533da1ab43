/* Layer wall (see README "Architecture"): base/ may not include <ui.h>. */
#error "layer wall: base/ may not include ui.h: only main.c starts the UI"
