/* Layer wall (see README "Architecture"): remote/ may not include <ncurses.h>. */
#error "layer wall: remote/ may not include ncurses.h: the remote arm is base, jansson and libcurl only"
