/* Layer wall (see README "Architecture"): serve/ may not include <sqlite3.h>. */
#error "layer wall: serve/ may not include sqlite3.h: only db/ talks to SQLite"
