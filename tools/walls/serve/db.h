/* Layer wall (see README "Architecture"): serve/ may not include <db.h>. */
#error "layer wall: serve/ may not include db.h: serving records nothing: the record is the client's"
