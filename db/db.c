/* Opening the record: checks that refuse foreign and newer files untouched, the pragmas every
 * connection sets and reads back, migrations on PRAGMA user_version, and the statement cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"
#include "schema.h"

/* ---------- errors ---------- */

static LabErrCode code_of(int rc) {
    switch (rc & 0xff) {
    case SQLITE_FULL: return LAB_EFULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return LAB_EBUSY;
    case SQLITE_NOMEM: return LAB_ENOMEM;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: return LAB_EIO;
    case SQLITE_NOTADB: return LAB_EFORMAT;
    case SQLITE_CONSTRAINT: return LAB_EINVAL; /* the row breaks a rule of the schema */
    default: return LAB_EDB;
    }
}

int db_fail(Db *db, const char *sql, LabErr *e) {
    int rc = sqlite3_extended_errcode(db->h);
    return lab_err(e, code_of(rc), "%s: %s (SQL: %s)", db->path, sqlite3_errmsg(db->h), sql ? sql : "?");
}

/* ---------- statements: prepared once, reset for each use, finalized in db_close ---------- */

sqlite3_stmt *db_stmt(Db *db, DbStmt id, LabErr *e) {
    sqlite3_stmt *st = db->st[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    const char *sql = DB_SQL[id];
    if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        db_fail(db, sql, e);
        return NULL;
    }
    db->st[id] = st;
    return st;
}

int db_step_done(Db *db, sqlite3_stmt *st, LabErr *e) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        sqlite3_reset(st);
        return 0;
    }
    db_fail(db, sqlite3_sql(st), e);
    sqlite3_reset(st);
    return -1;
}

/* ---------- transactions ---------- */

int db_tx_begin(Db *db, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_BEGIN, e);
    return st ? db_step_done(db, st, e) : -1;
}

int db_tx_commit(Db *db, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_COMMIT, e);
    if (!st || db_step_done(db, st, e)) {
        db_tx_abort(db);
        return -1;
    }
    return 0;
}

void db_tx_abort(Db *db) {
    /* after SQLITE_FULL/IOERR/BUSY/NOMEM SQLite may or may not have rolled back already */
    if (sqlite3_get_autocommit(db->h)) return;
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/* ---------- pragmas ---------- */

static int exec(Db *db, const char *sql, LabErr *e) {
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sqlite3_extended_errcode(db->h);
        lab_err(e, code_of(rc), "%s: %s (SQL: %.200s)", db->path, msg ? msg : sqlite3_errmsg(db->h), sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Runs a one-row query and returns its first column as text in out (empty if no row). */
static int query_text(Db *db, const char *sql, char *out, size_t n, LabErr *e) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(db, sql, e);
    int rc = sqlite3_step(st);
    out[0] = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, n, "%s", t ? (const char *)t : "");
    } else if (rc != SQLITE_DONE) {
        db_fail(db, sql, e);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int query_int(Db *db, const char *sql, int64_t *out, LabErr *e) {
    char buf[64];
    if (query_text(db, sql, buf, sizeof buf, e)) return -1;
    *out = strtoll(buf, NULL, 10);
    return 0;
}

/* Sets a pragma and reads it back: a pragma SQLite silently ignores (e.g. WAL on a file system
 * without shared memory) must not pass unnoticed. */
static int pragma_check(Db *db, const char *set, const char *get, const char *want, LabErr *e) {
    char got[64];
    if (exec(db, set, e) || query_text(db, get, got, sizeof got, e)) return -1;
    if (strcmp(got, want) != 0)
        return lab_err(e, LAB_EDB, "%s: '%s' left the setting at '%s' instead of '%s'", db->path, set, got, want);
    return 0;
}

static int set_pragmas(Db *db, LabErr *e) {
    /* foreign_keys is a no-op inside a transaction: set here, before any */
    if (pragma_check(db, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1", e)) return -1;
    if (pragma_check(db, "PRAGMA busy_timeout=5000", "PRAGMA busy_timeout", "5000", e)) return -1;
    if (pragma_check(db, "PRAGMA journal_mode=WAL", "PRAGMA journal_mode", "wal", e)) return -1;
    if (pragma_check(db, "PRAGMA synchronous=FULL", "PRAGMA synchronous", "2", e)) return -1;
    return 0;
}

/* ---------- migrations ---------- */

/* One step = one transaction: the schema change and the new user_version commit together. */
static int migrate_step(Db *db, int to, LabErr *e) {
    if (exec(db, "BEGIN IMMEDIATE", e)) return -1;
    /* another process may have migrated while we waited for the write lock */
    int64_t now_at = 0;
    if (query_int(db, "PRAGMA user_version", &now_at, e)) {
        db_tx_abort(db);
        return -1;
    }
    if (now_at >= to) return exec(db, "COMMIT", e);
    char ver[64];
    snprintf(ver, sizeof ver, "PRAGMA user_version=%d", to);
    if (exec(db, DB_MIGRATIONS[to - 1], e) || exec(db, ver, e)) {
        lab_err_prefix(e, "migrating to schema version %d", to);
        db_tx_abort(db);
        return -1;
    }
    if (exec(db, "COMMIT", e)) {
        db_tx_abort(db);
        return -1;
    }
    return 0;
}

static int backup_before_migrating(Db *db, int from, LabErr *e) {
    size_t n = strlen(db->path) + 64;
    char *bak = malloc(n);
    if (!bak) return lab_err(e, LAB_ENOMEM, "out of memory");
    const char *sql = "VACUUM INTO ?1";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        free(bak);
        return db_fail(db, sql, e);
    }
    /* FILE.v<N>.bak, or .v<N>.2.bak ... if taken (also by another process opening the same file
     * at this moment: VACUUM INTO refuses an existing file, and then the next name is tried) */
    int rc = SQLITE_ERROR;
    for (int i = 1; i < 1000 && rc != SQLITE_DONE; i++) {
        if (i == 1) snprintf(bak, n, "%s.v%d.bak", db->path, from);
        else snprintf(bak, n, "%s.v%d.%d.bak", db->path, from, i);
        if (file_exists(bak)) continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, bak, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE && !file_exists(bak)) break; /* failed for another reason */
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        lab_err(e, code_of(sqlite3_extended_errcode(db->h)), "%s: backup before migrating to %s failed: %s (SQL: %s)",
                db->path, bak, sqlite3_errmsg(db->h), sql);
        free(bak);
        return -1;
    }
    db->backup = bak;
    return 0;
}

static int raw_open(Db **out, const char *path, LabErr *e) {
    *out = NULL;
    Db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        lab_err(e, code_of(rc), "%s: cannot open: %s", path, db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        db_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->h, 1);
    *out = db;
    return 0;
}

int db_migrate_to(const char *path, int version, LabErr *e) {
    if (version < 0 || version > DB_SCHEMA_VERSION) return lab_err(e, LAB_EINVAL, "no schema version %d", version);
    Db *db;
    if (raw_open(&db, path, e)) return -1;
    int64_t have = 0;
    int rc = set_pragmas(db, e) || query_int(db, "PRAGMA user_version", &have, e) ? -1 : 0;
    for (int v = (int)have + 1; rc == 0 && v <= version; v++) rc = migrate_step(db, v, e);
    db_close(db);
    return rc;
}

int db_open(Db **out, const char *path, LabErr *e) {
    *out = NULL;
    Db *db;
    if (raw_open(&db, path, e)) return -1;
    /* Look before touching: these reads change nothing in the file (no WAL switch yet). */
    int64_t app_id = 0, version = 0, n_tables = 0;
    if (exec(db, "PRAGMA busy_timeout=5000", e) || query_int(db, "PRAGMA application_id", &app_id, e) ||
        query_int(db, "PRAGMA user_version", &version, e) ||
        query_int(db, "SELECT count(*) FROM sqlite_schema", &n_tables, e)) {
        if (e && e->code == LAB_EFORMAT) lab_err(e, LAB_EFORMAT, "%s: not an ablab record (not an SQLite database)", path);
        goto fail;
    }
    if (app_id != DB_APPLICATION_ID && (app_id != 0 || n_tables > 0 || version != 0)) {
        lab_err(e, LAB_EFORMAT, "%s: not an ablab record (application_id 0x%08llx, %lld tables); left untouched",
                path, (unsigned long long)(uint32_t)app_id, (long long)n_tables);
        goto fail;
    }
    if (version > DB_SCHEMA_VERSION) {
        lab_err(e, LAB_EUNSUPPORTED,
                "%s: written by a newer ablab (schema version %lld, this build knows up to %d); left untouched",
                path, (long long)version, DB_SCHEMA_VERSION);
        goto fail;
    }
    if (set_pragmas(db, e)) goto fail;
    if (version < DB_SCHEMA_VERSION) {
        if (n_tables > 0 && backup_before_migrating(db, (int)version, e)) goto fail;
        for (int v = (int)version + 1; v <= DB_SCHEMA_VERSION; v++)
            if (migrate_step(db, v, e)) goto fail;
        LOG_I("%s: migrated the record from schema version %lld to %d%s%s", path, (long long)version,
              DB_SCHEMA_VERSION, db->backup ? "; backup " : "", db->backup ? db->backup : "");
    }
    *out = db;
    return 0;
fail:
    db_close(db);
    return -1;
}

void db_close(Db *db) {
    if (!db) return;
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(db->st[i]);
    if (db->h) sqlite3_close(db->h);
    free(db->path);
    free(db->backup);
    free(db);
}

const char *db_path(const Db *db) { return db->path; }
const char *db_backup_path(const Db *db) { return db->backup; }

int db_integrity_check(Db *db, LabErr *e) {
    char got[512];
    if (query_text(db, "PRAGMA integrity_check", got, sizeof got, e)) return -1;
    if (strcmp(got, "ok") != 0) return lab_err(e, LAB_EDB, "%s: integrity_check: %s", db->path, got);
    return 0;
}
