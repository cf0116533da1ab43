/* Layer wall (see README "Architecture"): remote/ may not include <sqlite3.h>. */
#error "layer wall: remote/ may not include sqlite3.h: the remote arm is base, jansson and libcurl only"
