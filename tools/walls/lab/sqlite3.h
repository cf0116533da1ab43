/* Layer wall (see README "Architecture"): lab/ may not include <sqlite3.h>. */
#error "layer wall: lab/ may not include sqlite3.h: only db/ talks to SQLite"
