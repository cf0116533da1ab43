/* Private to db/: the migration steps and every statement's SQL (schema.c). */
#ifndef ABLAB_DB_SCHEMA_H
#define ABLAB_DB_SCHEMA_H

#include "db_internal.h"

/* DB_MIGRATIONS[v-1] takes a file from schema version v-1 to v. */
extern const char *const DB_MIGRATIONS[DB_SCHEMA_VERSION];
extern const char *const DB_SQL[ST_COUNT];

#endif
