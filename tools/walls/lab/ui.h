/* Layer wall (see README "Architecture"): lab/ may not include <ui.h>. */
#error "layer wall: lab/ may not include ui.h: only main.c starts the UI"
