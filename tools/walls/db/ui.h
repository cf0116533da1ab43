/* Layer wall (see README "Architecture"): db/ may not include <ui.h>. */
#error "layer wall: db/ may not include ui.h: only main.c starts the UI"
