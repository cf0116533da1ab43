/* Layer wall (see README "Architecture"): serve/ may not include <ui.h>. */
#error "layer wall: serve/ may not include ui.h: only main.c starts the UI"
