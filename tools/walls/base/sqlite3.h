/* Layer wall (see README "Architecture"): base/ may not include <sqlite3.h>. */
#error "layer wall: base/ may not include sqlite3.h: only db/ talks to SQLite"
