/* Layer wall (see README "Architecture"): ui/ may not include <sqlite3.h>. */
#error "layer wall: ui/ may not include sqlite3.h: only db/ talks to SQLite"
