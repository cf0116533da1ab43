/* Opening the record: checks that refuse foreign and newer files untouched, the pragmas every
 * connection sets and reads back, migrations on PRAGMA user_version, and the statement cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    if (db->read_only && (rc & 0xff) == SQLITE_READONLY)
        return lab_err(e, LAB_EIO, "%s: the record is open read-only (the file is not writable): nothing can be "
                       "recorded (SQL: %s)", db->path, sql ? sql : "?");
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

/* Rows of a query (e.g. PRAGMA foreign_key_check): 0 if none, 1 if some, -1 on error. */
static int any_row(Db *db, const char *sql, LabErr *e) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(db, sql, e);
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : db_fail(db, sql, e);
    sqlite3_finalize(st);
    return out;
}

/* One step = one transaction: the schema change and the new user_version commit together. The
 * rebuilding step runs with foreign keys off (SQLite's procedure for changing a table's shape:
 * foreign_keys cannot change inside a transaction) and checks them all before committing. */
static int migrate_step(Db *db, int to, LabErr *e) {
    if (to < 1 || to > DB_SCHEMA_VERSION) return lab_err(e, LAB_EINVAL, "%s: no migration to version %d", db->path, to);
    bool rebuild = to == DB_STEP_REBUILD || to == DB_STEP_MODELS_ADAPTERS;
    if (rebuild && exec(db, "PRAGMA foreign_keys=OFF", e)) return -1;
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE", e)) goto out;
    /* another process may have migrated while we waited for the write lock */
    int64_t now_at = 0;
    if (query_int(db, "PRAGMA user_version", &now_at, e)) {
        db_tx_abort(db);
        goto out;
    }
    if (now_at >= to) {
        rc = exec(db, "COMMIT", e);
        goto out;
    }
    char ver[64];
    snprintf(ver, sizeof ver, "PRAGMA user_version=%d", to);
    if (exec(db, DB_MIGRATIONS[to - 1], e) || exec(db, ver, e)) {
        lab_err_prefix(e, "migrating to schema version %d", to);
        db_tx_abort(db);
        goto out;
    }
    if (rebuild) {
        int bad = any_row(db, "PRAGMA foreign_key_check", e);
        if (bad) {
            if (bad > 0) lab_err(e, LAB_EFORMAT, "%s: a row refers to a missing row (PRAGMA foreign_key_check)", db->path);
            lab_err_prefix(e, "migrating to schema version %d", to);
            db_tx_abort(db);
            goto out;
        }
    }
    if (exec(db, "COMMIT", e)) {
        db_tx_abort(db);
        goto out;
    }
    rc = 0;
out:
    if (rebuild) {
        LabErr ignore = {0};
        if (pragma_check(db, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1", rc ? &ignore : e)) rc = -1;
    }
    return rc;
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

/* "file:PATH?immutable=1" with PATH percent-encoded where a URI needs it. */
static char *immutable_uri(const char *path) {
    Buf b = {0};
    buf_puts(&b, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f) buf_printf(&b, "%%%02X", *p);
        else buf_putc(&b, (char)*p);
    }
    buf_puts(&b, "?immutable=1");
    if (buf_putc(&b, 0)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* ---------- SQL functions the migrations use ---------- */

/* ablab_uuid_of(v, ...): a UUID (RFC 9562 version 8, from sha256) of its arguments' types and
 * values, so that a row's id follows from what it holds (schema version 11 fills existing rows
 * with it). */
static void sql_uuid_of(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    Buf b = {0};
    for (int i = 0; i < argc; i++) {
        int type = sqlite3_value_type(argv[i]);
        const void *data = NULL;
        int n = 0;
        char num[64];
        if (type == SQLITE_INTEGER) n = snprintf(num, sizeof num, "%lld", (long long)sqlite3_value_int64(argv[i]));
        else if (type == SQLITE_FLOAT) n = snprintf(num, sizeof num, "%.17g", sqlite3_value_double(argv[i]));
        if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) data = num;
        else if (type != SQLITE_NULL) {
            data = sqlite3_value_blob(argv[i]);
            n = sqlite3_value_bytes(argv[i]);
        }
        /* type and length before the bytes: ("ab", "c") and ("a", "bc") hash apart */
        bool oom = buf_printf(&b, "%d:%d:", type, n) != 0 || (n > 0 && buf_append(&b, data, (size_t)n) != 0);
        if (oom) {
            buf_free(&b);
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    if (!b.data) {
        buf_free(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    char hex[65], uuid[37];
    sha256_hex(b.data, b.len, hex);
    buf_free(&b);
    hex[12] = '8';                                         /* version 8: application-defined */
    int d = hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10;
    hex[16] = "89ab"[d & 3];                               /* variant 10xx */
    snprintf(uuid, sizeof uuid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    sqlite3_result_text(ctx, uuid, 36, SQLITE_TRANSIENT);
}

/* ablab_hostname(): this machine's name, the label of a record's own source. */
static void sql_hostname(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "unknown");
    sqlite3_result_text(ctx, host, -1, SQLITE_TRANSIENT);
}

static int add_functions(sqlite3 *h) {
    int rc = sqlite3_create_function(h, "ablab_uuid_of", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_uuid_of,
                                     NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function(h, "ablab_hostname", 0, SQLITE_UTF8, NULL, sql_hostname, NULL, NULL);
    return rc;
}

/* read_only opens with SQLITE_OPEN_READONLY; immutable as well, telling SQLite that nothing can
 * change the file (a WAL file on a read-only medium, where the -shm index cannot be created). */
static int raw_open_ex(Db **out, const char *path, bool read_only, bool immutable, LabErr *e) {
    *out = NULL;
    Db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    char *uri = NULL;
    if (immutable && !(uri = immutable_uri(path))) {
        db_close(db);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    int rc = sqlite3_open_v2(uri ? uri : path, &db->h, flags | (uri ? SQLITE_OPEN_URI : 0), NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        lab_err(e, code_of(rc), "%s: cannot open: %s", path, db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        db_close(db);
        return -1;
    }
    db->read_only = read_only;
    sqlite3_extended_result_codes(db->h, 1);
    if (add_functions(db->h) != SQLITE_OK) {
        lab_err(e, LAB_ENOMEM, "%s: cannot register SQL functions: %s", path, sqlite3_errmsg(db->h));
        db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

static int raw_open(Db **out, const char *path, bool read_only, LabErr *e) {
    return raw_open_ex(out, path, read_only, false, e);
}

int db_migrate_to(const char *path, int version, LabErr *e) {
    if (version < 0 || version > DB_SCHEMA_VERSION) return lab_err(e, LAB_EINVAL, "no schema version %d", version);
    Db *db;
    if (raw_open(&db, path, false, e)) return -1;
    int64_t have = 0;
    int rc = set_pragmas(db, e) || query_int(db, "PRAGMA user_version", &have, e) ? -1 : 0;
    for (int v = (int)have + 1; rc == 0 && v <= version; v++) rc = migrate_step(db, v, e);
    db_close(db);
    return rc;
}

/* What an existing file says about itself, read without writing anything. */
typedef struct {
    int64_t app_id, version, n_tables;
} Header;

static int read_header(Db *db, Header *h, LabErr *e) {
    if (query_int(db, "PRAGMA application_id", &h->app_id, e) || query_int(db, "PRAGMA user_version", &h->version, e) ||
        query_int(db, "SELECT count(*) FROM sqlite_schema", &h->n_tables, e)) {
        if (e && e->code == LAB_EFORMAT) lab_err(e, LAB_EFORMAT, "%s: not an ablab record (not an SQLite database); left untouched", db->path);
        else lab_err_prefix(e, "reading the file's header; left untouched");
        return -1;
    }
    return 0;
}

static bool is_empty(const Header *h) { return h->app_id == 0 && h->n_tables == 0 && h->version == 0; }

/* Identity and version: a foreign file, a newer ablab's file, or a version no ablab writes. */
static int check_header(Db *db, const Header *h, LabErr *e) {
    if (is_empty(h)) return 0;
    if (h->app_id != DB_APPLICATION_ID)
        return lab_err(e, LAB_EFORMAT, "%s: not an ablab record (application_id 0x%08llx, %lld tables); left untouched",
                       db->path, (unsigned long long)(uint32_t)h->app_id, (long long)h->n_tables);
    if (h->version > DB_SCHEMA_VERSION)
        return lab_err(e, LAB_EUNSUPPORTED,
                       "%s: written by a newer ablab (schema version %lld, this build knows up to %d); left untouched",
                       db->path, (long long)h->version, DB_SCHEMA_VERSION);
    if (h->version < 0 || (h->version == 0 && h->n_tables > 0))
        return lab_err(e, LAB_EFORMAT, "%s: schema version %lld is not one ablab writes (1..%d); left untouched",
                       db->path, (long long)h->version, DB_SCHEMA_VERSION);
    return 0;
}

/* The whole file's structure (PRAGMA quick_check: every b-tree page and record), then the tables
 * its version must have. Runs on the read-only connection, before any write. */
static int check_structure(Db *db, const Header *h, LabErr *e) {
    char got[512];
    if (query_text(db, "PRAGMA quick_check", got, sizeof got, e))
        return lab_err_prefix(e, "%s: integrity check failed; left untouched", db->path);
    if (strcmp(got, "ok") != 0)
        return lab_err(e, LAB_EFORMAT, "%s: damaged (integrity check: %s); left untouched", db->path, got);
    const char *sql = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(db, sql, e);
    for (const DbTableSince *t = DB_TABLES; t->name; t++) {
        if (t->since > h->version) continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) continue;
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return db_fail(db, sql, e);
        return lab_err(e, LAB_EFORMAT, "%s: schema version %lld but the table '%s' is missing; left untouched",
                       db->path, (long long)h->version, t->name);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Before the STRICT rebuild (version 5) writes anything: copy every row into TEMP tables of the new
 * shapes (TEMP lives outside the file), so a value the new schema refuses names its table, row and
 * column and the file stays as it was. */
static int check_strict_copy(Db *db, const Header *h, LabErr *e) {
    if (h->version >= DB_STEP_REBUILD || is_empty(h)) return 0;
    for (const DbStrictTable *t = DB_STRICT_TABLES; t->name; t++) {
        bool present = false;
        for (const DbTableSince *k = DB_TABLES; k->name; k++)
            if (!strcmp(k->name, t->name)) present = k->since <= h->version;
        if (!present) continue;
        char *create = sqlite3_mprintf("CREATE TEMP TABLE \"%w\"%s", t->name, t->body);
        char *copy = sqlite3_mprintf("INSERT INTO temp.\"%w\" SELECT * FROM main.\"%w\"", t->name, t->name);
        if (!create || !copy) {
            sqlite3_free(create);
            sqlite3_free(copy);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
        int rc = exec(db, create, e);
        if (!rc && sqlite3_exec(db->h, copy, NULL, NULL, NULL) != SQLITE_OK) {
            /* find the first row that does not fit, to name it */
            char why[256];
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(db->h));
            int64_t bad_row = -1;
            char *one = sqlite3_mprintf("INSERT INTO temp.\"%w\" SELECT * FROM main.\"%w\" WHERE rowid = ?1", t->name,
                                        t->name);
            char *ids = sqlite3_mprintf("SELECT rowid FROM main.\"%w\" ORDER BY rowid", t->name);
            sqlite3_stmt *si = NULL, *so = NULL;
            if (one && ids && sqlite3_prepare_v2(db->h, ids, -1, &si, NULL) == SQLITE_OK &&
                sqlite3_prepare_v2(db->h, one, -1, &so, NULL) == SQLITE_OK) {
                while (bad_row < 0 && sqlite3_step(si) == SQLITE_ROW) {
                    sqlite3_reset(so);
                    sqlite3_bind_int64(so, 1, sqlite3_column_int64(si, 0));
                    if (sqlite3_step(so) != SQLITE_DONE) {
                        bad_row = sqlite3_column_int64(si, 0);
                        snprintf(why, sizeof why, "%s", sqlite3_errmsg(db->h));
                    }
                }
            }
            sqlite3_finalize(si);
            sqlite3_finalize(so);
            sqlite3_free(one);
            sqlite3_free(ids);
            if (bad_row >= 0)
                lab_err(e, LAB_EFORMAT, "%s: table '%s', row %lld: %s; left untouched (schema version %d keeps every "
                        "value in its column's type and range)", db->path, t->name, (long long)bad_row, why,
                        DB_STEP_REBUILD);
            else
                lab_err(e, LAB_EFORMAT, "%s: table '%s': %s; left untouched (schema version %d keeps every value in "
                        "its column's type and range)", db->path, t->name, why, DB_STEP_REBUILD);
            rc = -1;
        }
        sqlite3_free(create);
        sqlite3_free(copy);
        if (rc) return -1;
    }
    return 0;
}

static bool side_file_exists(const char *path, const char *suffix) {
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (!p) return true; /* the careful answer */
    snprintf(p, n, "%s%s", path, suffix);
    bool yes = file_exists(p) != 0;
    free(p);
    return yes;
}

static bool writable(const char *path) { return access(path, W_OK) == 0; }

/* The file is not the one stat'ed as st0 (NULL: unknown), or a writer's side file is beside it. */
static bool file_changed(const char *path, const struct stat *st0) {
    struct stat st;
    if (!st0 || stat(path, &st) != 0) return true;
    return st.st_ino != st0->st_ino || st.st_size != st0->st_size || st.st_mtim.tv_sec != st0->st_mtim.tv_sec ||
           st.st_mtim.tv_nsec != st0->st_mtim.tv_nsec || side_file_exists(path, "-wal") ||
           side_file_exists(path, "-journal");
}

/* A database file and what SQLite keeps beside it. */
static void remove_with_sides(const char *path) {
    static const char *const sides[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
        char *p = malloc(strlen(path) + 16);
        if (!p) return;
        snprintf(p, strlen(path) + 16, "%s%s", path, sides[i]);
        unlink(p);
        free(p);
    }
}

/* DB_SNAPSHOT of an older file that passed every read-only check on `ro`: copies it page by page
 * into a private temporary file, migrates that copy and opens it as *out (its path and messages
 * still name the original file). */
static int open_snapshot(Db *ro, Db **out, int version, LabErr *e) {
    *out = NULL;
    const char *dir = getenv("TMPDIR");
    char *tmp = path_join(dir && *dir ? dir : "/tmp", "ablab-snapshot-XXXXXX");
    if (!tmp) return lab_err(e, LAB_ENOMEM, "out of memory");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lab_err(e, LAB_EIO, "%s: cannot make a temporary copy to migrate (%s: %s); left untouched", ro->path, tmp,
                strerror(errno));
        free(tmp);
        return -1;
    }
    close(fd);
    sqlite3 *to = NULL;
    int rc = sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE, NULL);
    sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(to, "main", ro->h, "main") : NULL;
    if (b) {
        rc = sqlite3_backup_step(b, -1);
        rc = sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    } else rc = SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        lab_err(e, LAB_EIO, "%s: copying it to %s to migrate failed: %s; left untouched", ro->path, tmp,
                to ? sqlite3_errmsg(to) : "cannot open");
        sqlite3_close(to);
        remove_with_sides(tmp);
        free(tmp);
        return -1;
    }
    sqlite3_close(to);
    Db *db = NULL;
    if (db_open_mode(&db, tmp, DB_WRITE, e)) {
        lab_err_prefix(e, "%s (a migrated copy of it)", ro->path);
        remove_with_sides(tmp);
        free(tmp);
        return -1;
    }
    free(tmp); /* db->path is its own copy of it */
    db->snapshot = db->path;
    db->path = strdup(ro->path);
    db->opened_version = version;
    if (!db->path) {
        db_close(db);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    *out = db;
    return 0;
}

int db_open_mode(Db **out, const char *path, DbMode mode, LabErr *e) {
    *out = NULL;
    Db *db = NULL;
    Header h = {0};
    bool exists = file_exists(path) == 1, stay_read_only = false;
    if (!exists && mode == DB_SNAPSHOT)
        return lab_err(e, LAB_EIO, "%s: cannot read it: %s", path, file_exists(path) == 2 ? "a folder" : strerror(ENOENT));
    if (exists) {
        /* Look before touching: a read-only connection, so nothing below can change the file
         * (no WAL switch, no journal, no backup) until every check has passed. */
        /* With no -wal or -journal beside it, no writer is active and nothing is left to recover:
         * read it as immutable, so that even a WAL file gets no -wal/-shm made beside it. An
         * immutable read takes no lock, though: a writer that starts meanwhile (another ablab
         * migrating the same file) can change the file under it, and the look fails on a torn
         * view ("temp.models has 23 columns but 24 values"). So when the look fails and the file
         * has changed since, it is looked at once more with locks, in one read transaction. */
        struct stat st0;
        bool have_st0 = stat(path, &st0) == 0;
        for (int attempt = 0;; attempt++) {
            bool quiet = attempt == 0 && !side_file_exists(path, "-wal") && !side_file_exists(path, "-journal");
            if (raw_open_ex(&db, path, true, quiet, e)) return -1;
            if (exec(db, "PRAGMA busy_timeout=5000", e)) goto fail;
            bool txn = !quiet && exec(db, "BEGIN", NULL) == 0;
            int rc = read_header(db, &h, e);
            if (rc && quiet) {
                /* a WAL file whose folder is read-only: its -shm index cannot be made; nothing can
                 * write to it either, so read it as immutable */
                if ((sqlite3_extended_errcode(db->h) & 0xff) != SQLITE_READONLY) goto fail;
                db_close(db);
                db = NULL;
                lab_err_clear(e);
                if (raw_open_ex(&db, path, true, true, e) || read_header(db, &h, e)) goto fail;
                rc = 0;
            }
            if (!rc) rc = check_header(db, &h, e);
            if (!rc && !is_empty(&h)) rc = check_structure(db, &h, e) || check_strict_copy(db, &h, e);
            if (txn) exec(db, "COMMIT", NULL);
            if (!rc) break;
            if (!quiet || !file_changed(path, have_st0 ? &st0 : NULL)) goto fail;
            db_close(db); /* a writer came in during the unlocked look: again, locked */
            db = NULL;
            lab_err_clear(e);
        }
        bool can_write = writable(path);
        if (!can_write && mode == DB_WRITE) {
            lab_err(e, LAB_EIO, "%s: the file is not writable (%s): cannot record into it; left untouched", path,
                    strerror(errno));
            goto fail;
        }
        if (mode == DB_SNAPSHOT && is_empty(&h)) {
            lab_err(e, LAB_EFORMAT, "%s: not an ablab record (an empty file); left untouched", path);
            goto fail;
        }
        if (mode == DB_SNAPSHOT && h.version != DB_SCHEMA_VERSION) {
            int rc = open_snapshot(db, out, (int)h.version, e);
            db_close(db);
            return rc;
        }
        stay_read_only = mode == DB_READ || mode == DB_SNAPSHOT || !can_write;
        if (stay_read_only) {
            if (h.version != DB_SCHEMA_VERSION) {
                lab_err(e, LAB_EUNSUPPORTED, "%s: opened read-only, but it is at schema version %lld and this build "
                        "reads version %d: copy it somewhere writable and open the copy to upgrade it; left untouched",
                        path, (long long)h.version, DB_SCHEMA_VERSION);
                goto fail;
            }
            if (exec(db, "PRAGMA query_only=ON", e)) goto fail;
            db->opened_version = (int)h.version;
            *out = db;
            return 0;
        }
        db_close(db);
        db = NULL;
    }
    if (raw_open(&db, path, false, e)) return -1;
    /* read again: another process may have created or migrated the file since */
    if (exec(db, "PRAGMA busy_timeout=5000", e) || read_header(db, &h, e) || check_header(db, &h, e)) goto fail;
    if (set_pragmas(db, e)) goto fail;
    db->opened_version = (int)h.version;
    if (h.version < DB_SCHEMA_VERSION) {
        if (h.n_tables > 0 && backup_before_migrating(db, (int)h.version, e)) goto fail;
        for (int v = (int)h.version + 1; v <= DB_SCHEMA_VERSION; v++)
            if (migrate_step(db, v, e)) goto fail;
        LOG_I("%s: migrated the record from schema version %lld to %d%s%s", path, (long long)h.version,
              DB_SCHEMA_VERSION, db->backup ? "; backup " : "", db->backup ? db->backup : "");
    }
    *out = db;
    return 0;
fail:
    db_close(db);
    return -1;
}

int db_open(Db **out, const char *path, LabErr *e) { return db_open_mode(out, path, DB_WRITE, e); }

bool db_read_only(const Db *db) { return db->read_only; }
int db_opened_version(const Db *db) { return db->opened_version; }

void db_close(Db *db) {
    if (!db) return;
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(db->st[i]);
    if (db->h) sqlite3_close(db->h);
    if (db->snapshot) {
        remove_with_sides(db->snapshot);
        if (db->backup) remove_with_sides(db->backup);
    }
    free(db->snapshot);
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
