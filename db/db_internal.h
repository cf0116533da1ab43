/* Private to db/ (and its tests): the connection, the statement cache, transaction helpers. */
#ifndef ABLAB_DB_INTERNAL_H
#define ABLAB_DB_INTERNAL_H

#include <sqlite3.h>

#include "db.h"

typedef enum {
    ST_MODEL_FIND, ST_MODEL_INSERT, ST_MODEL_UPDATE, ST_MODELS_ALL,
    ST_HASH_GET, ST_HASH_PUT,
    ST_SESSION_INSERT, ST_SESSION_BY_NAME, ST_SESSION_BY_ID, ST_SESSION_END, ST_SESSIONS_ALL,
    ST_STUDY_INSERT, ST_STUDY_BY_NAME, ST_STUDY_BY_ID, ST_PAIR_FAIL,
    ST_COUNT_PROMPTS, ST_COUNT_COMPLETE, ST_COUNT_RATED, ST_COUNT_RATED_ANY,
    ST_PROMPT_AT, ST_PROMPT_LAST, ST_PROMPT_INSERT, ST_PROMPTS_OF, ST_PROMPT_GET,
    ST_PAIR_INSERT, ST_PAIR_FIND, ST_PAIR_GET,
    ST_RESPONSE_INSERT, ST_RESPONSES, ST_TURN_INSERT,
    ST_RATING_INSERT, ST_RATING_DELETE, ST_RATINGS, ST_RATINGS_LATEST,
    ST_RATING_UPSERT, ST_REVISION_INSERT, ST_REVISION_GET, ST_REVISION_LATEST, ST_REVISION_UNDO,
    ST_RATING_RESTORE, ST_RATING_OF, ST_REVISIONS,
    ST_PAIRS_ALL, ST_PAIRS_SEARCH,
    ST_EVAL_INSERT, ST_EVALS, ST_BENCH_INSERT, ST_BENCHES, ST_SCALE_INSERT, ST_SCALES,
    ST_SOURCES, ST_SETTING_GET, ST_SETTING_SET, ST_HISTORY_ADD, ST_HISTORY,
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
    ST_COUNT
} DbStmt;

struct Db {
    sqlite3 *h;
    char *path;
    char *backup;
    bool read_only;             /* opened with SQLITE_OPEN_READONLY (db_open_mode) */
    int opened_version;         /* user_version when opened, before migrating */
    char *snapshot;             /* DB_SNAPSHOT of an older file: the private copy, removed on close */
    sqlite3_stmt *st[ST_COUNT];
};

/* The statement `id`, prepared on first use and reset for a new run; NULL with e filled on error. */
sqlite3_stmt *db_stmt(Db *db, DbStmt id, LabErr *e);
/* Fills e from the connection's last error (code mapped to LabErrCode) naming the SQL; returns -1. */
int db_fail(Db *db, const char *sql, LabErr *e);
/* BEGIN IMMEDIATE / COMMIT; db_tx_abort rolls back only if SQLite left a transaction open. */
int  db_tx_begin(Db *db, LabErr *e);
int  db_tx_commit(Db *db, LabErr *e);
void db_tx_abort(Db *db);
/* Runs a statement to completion (no rows expected); -1 with e on error. */
int db_step_done(Db *db, sqlite3_stmt *st, LabErr *e);

/* Tests only: creates or upgrades `path` to exactly `version` (0..DB_SCHEMA_VERSION) with the
 * same migration steps db_open runs, without any other checks. */
int db_migrate_to(const char *path, int version, LabErr *e);

#endif
