/* Private to db/: the migration steps and every statement's SQL (schema.c). */
#ifndef ABLAB_DB_SCHEMA_H
#define ABLAB_DB_SCHEMA_H

#include "db_internal.h"

/* DB_MIGRATIONS[v-1] takes a file from schema version v-1 to v. */
extern const char *const DB_MIGRATIONS[DB_SCHEMA_VERSION];
extern const char *const DB_SQL[ST_COUNT];
/* The migration step that rebuilds tables (copy, drop, rename) and so runs with foreign keys off,
 * checking them with PRAGMA foreign_key_check before it commits. */
#define DB_STEP_REBUILD 5
/* The step that rebuilds `models` with the adapters in its key (the same way). */
#define DB_STEP_MODELS_ADAPTERS 10

/* Version 5's STRICT table bodies ("(cols...) STRICT"), NULL-terminated: db.c copies an older
 * file's rows into TEMP tables of these shapes before migrating, so a value the new schema would
 * refuse is found (and the file refused untouched) before anything is written. */
typedef struct { const char *name, *body; } DbStrictTable;
extern const DbStrictTable DB_STRICT_TABLES[];
/* Every table of the record and the version that added it, NULL-terminated. */
typedef struct { const char *name; int since; } DbTableSince;
extern const DbTableSince DB_TABLES[];

#endif
