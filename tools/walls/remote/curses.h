/* Layer wall (see README "Architecture"): remote/ may not include <curses.h>. */
#error "layer wall: remote/ may not include curses.h: the remote arm is base, jansson and libcurl only"
