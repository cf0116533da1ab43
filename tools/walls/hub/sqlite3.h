/* Layer wall (see README "Architecture"): hub/ may not include <sqlite3.h>. */
#error "layer wall: hub/ may not include sqlite3.h: only db/ talks to SQLite"
