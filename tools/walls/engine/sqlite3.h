/* Layer wall (see README "Architecture"): engine/ may not include <sqlite3.h>. */
#error "layer wall: engine/ may not include sqlite3.h: only db/ talks to SQLite"
