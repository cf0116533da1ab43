/* An SQL dump of the whole record that sqlite3 can replay into an equivalent ablab file:
 * the file's identity pragmas, the tables, their rows (values quoted by SQLite itself), then
 * indexes and triggers, and a rebuild of the full-text indexes. */
#include <stdio.h>
#include <string.h>

#include "db_internal.h"

typedef struct {
    int (*write)(const char *, size_t, void *);
    void *ud;
} Out;

static int put(Out *o, const char *s) { return o->write(s, strlen(s), o->ud); }

/* FTS5 keeps its index in shadow tables (NAME_data, NAME_idx, ...) that CREATE VIRTUAL TABLE
 * recreates; dumping them would make the replay fail. */
static bool is_shadow(const char *name) {
    static const char *const suffix[] = {"_data", "_idx", "_content", "_docsize", "_config"};
    size_t n = strlen(name);
    if (strncmp(name, "prompts_fts", 11) && strncmp(name, "responses_fts", 13)) return false;
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        size_t k = strlen(suffix[i]);
        if (n > k && strcmp(name + n - k, suffix[i]) == 0) return true;
    }
    return false;
}

static int dump_rows(Db *db, Out *o, const char *table, LabErr *e) {
    /* SELECT 'INSERT INTO "t" VALUES(' || quote(c1) || ',' || ... || ');' FROM "t" — identifiers
     * come from our own schema and are quoted with %w; values are quoted by SQLite */
    char *cols_sql = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) ORDER BY cid", table);
    sqlite3_stmt *st = NULL;
    Buf q = {0};
    int rc = -1;
    if (!cols_sql) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(db->h, cols_sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, cols_sql, e);
        goto done;
    }
    char *head = sqlite3_mprintf("SELECT 'INSERT INTO \"%w\" VALUES(' ", table);
    if (!head || buf_puts(&q, head)) {
        sqlite3_free(head);
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    sqlite3_free(head);
    int k = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *c = sqlite3_mprintf("%s|| quote(\"%w\") ", k++ ? "|| ',' " : "", (const char *)sqlite3_column_text(st, 0));
        if (!c || buf_puts(&q, c)) {
            sqlite3_free(c);
            lab_err(e, LAB_ENOMEM, "out of memory");
            goto done;
        }
        sqlite3_free(c);
    }
    sqlite3_finalize(st);
    st = NULL;
    char *tail = sqlite3_mprintf("|| ');' FROM \"%w\" ORDER BY rowid", table);
    if (!tail || buf_puts(&q, tail) || buf_putc(&q, 0)) {
        sqlite3_free(tail);
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    sqlite3_free(tail);
    if (sqlite3_prepare_v2(db->h, q.data, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, q.data, e);
        goto done;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (put(o, (const char *)sqlite3_column_text(st, 0)) || put(o, "\n")) {
            lab_err(e, LAB_EIO, "writing the SQL dump failed");
            goto done;
        }
    }
    if (r != SQLITE_DONE) {
        db_fail(db, q.data, e);
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(st);
    sqlite3_free(cols_sql);
    buf_free(&q);
    return rc;
}

int db_dump_sql(Db *db, int (*write)(const char *, size_t, void *), void *ud, LabErr *e) {
    Out o = {write, ud};
    char head[256];
    snprintf(head, sizeof head,
             "-- ablab record dump (schema version %d)\nPRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
             "PRAGMA application_id=%d;\nPRAGMA user_version=%d;\n",
             DB_SCHEMA_VERSION, DB_APPLICATION_ID, DB_SCHEMA_VERSION);
    if (put(&o, head)) return lab_err(e, LAB_EIO, "writing the SQL dump failed");
    /* a read transaction so the dump is one consistent snapshot */
    if (sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return db_fail(db, "BEGIN", e);
    const char *sql = "SELECT type, name, sql FROM sqlite_schema WHERE sql NOT NULL AND name NOT LIKE 'sqlite_%' "
                      "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid";
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(db, sql, e);
        goto done;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *ddl = (const char *)sqlite3_column_text(st, 2);
        if (is_shadow(name)) continue;
        bool table = strcmp(type, "table") == 0;
        if (put(&o, ddl) || put(&o, ";\n")) goto io;
        /* plain tables get their rows right after their CREATE (before any trigger exists, so the
         * full-text indexes are rebuilt once at the end instead of row by row) */
        if (table && strncmp(ddl, "CREATE VIRTUAL", 14) != 0 && dump_rows(db, &o, name, e)) goto done;
    }
    if (r != SQLITE_DONE) {
        db_fail(db, sql, e);
        goto done;
    }
    if (put(&o, "INSERT INTO prompts_fts(prompts_fts) VALUES ('rebuild');\n"
                "INSERT INTO responses_fts(responses_fts) VALUES ('rebuild');\nCOMMIT;\n"))
        goto io;
    rc = 0;
    goto done;
io:
    lab_err(e, LAB_EIO, "writing the SQL dump failed");
done:
    sqlite3_finalize(st);
    sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
    return rc;
}
