/* `ablab merge`: pooling records of several machines into one, over the global ids of schema 11.
 *
 * Every pooled row carries a UUID; a row of an input is looked up by it in the output:
 *   - found with the same content: already present (nothing written);
 *   - found with other content: a conflict, listed with its table and UUID; the output keeps its row;
 *   - not found: added, its integer references (session, prompt, pair, model, rating, source, ...)
 *     turned into the output's ids through the rows merged before it (parents first).
 * Models are also recognised by what they are (weights, tokenizer, dtype, adapters: the same model
 * on two machines has two rows and two paths), and studies by their protocol (name, prompt set's
 * sha256, sampling, blind, pacing): those count as present. Session names are qualified with the
 * machine they were recorded on ("run:p.txt:a:b@alice:1a2b3c4d", host and source UUID), so that
 * every student's "run:..." session keeps its own name whatever the order of the inputs. A row whose parent was not merged (it was a
 * conflict) is not merged either and counts as a conflict too.
 *
 * Inputs are opened with DB_SNAPSHOT (read-only; an older file through a migrated private copy).
 * The whole merge is one BEGIN IMMEDIATE transaction on the output: an error in any input rolls
 * everything back. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_internal.h"

enum { T_SOURCES, T_MODELS, T_STUDIES, T_SESSIONS, T_PROMPTS, T_PAIRS, T_RESPONSES, T_RATINGS, T_REVISIONS,
       T_EVALS, T_BENCHES, T_SCALES, T_N };

typedef struct {
    const char *col;
    int parent;                 /* the table whose id it holds */
} MergeRef;

typedef struct {
    const char *name;
    MergeRef refs[5];           /* besides source_id, which every table but sources has */
    const char *const *ignore;  /* columns that are local facts, not compared (NULL-terminated) */
} MergeTable;

static const char *const MODEL_LOCAL[] = {"path", "name", "bytes_on_disk", "bytes_mapped", "bytes_owned", "load_ms",
                                          "created_ms", "last_loaded_ms", "source_id", NULL};
static const char *const NAME_LOCAL[] = {"name", NULL};
static const char *const SOURCE_LOCAL[] = {"host", "origin", "is_self", "file", "schema_version", "merged_ms", NULL};

/* parents before children */
static const MergeTable TABLES[T_N] = {
    [T_SOURCES] = {"sources", {{0}}, SOURCE_LOCAL},
    [T_MODELS] = {"models", {{0}}, MODEL_LOCAL},
    [T_STUDIES] = {"studies", {{0}}, NAME_LOCAL},
    [T_SESSIONS] = {"sessions", {{"study_id", T_STUDIES}}, NAME_LOCAL},
    [T_PROMPTS] = {"prompts", {{"session_id", T_SESSIONS}}, NULL},
    [T_PAIRS] = {"pairs", {{"session_id", T_SESSIONS}, {"prompt_id", T_PROMPTS}, {"model_a_id", T_MODELS},
                           {"model_b_id", T_MODELS}}, NULL},
    [T_RESPONSES] = {"responses", {{"pair_id", T_PAIRS}, {"model_id", T_MODELS}}, NULL},
    [T_RATINGS] = {"ratings", {{"pair_id", T_PAIRS}, {"winner_model_id", T_MODELS}}, NULL},
    [T_REVISIONS] = {"rating_revisions", {{"rating_id", T_RATINGS}, {"pair_id", T_PAIRS},
                                          {"winner_model_id", T_MODELS}}, NULL},
    [T_EVALS] = {"evaluations", {{"model_id", T_MODELS}}, NULL},
    [T_BENCHES] = {"benchmarks", {{"model_id", T_MODELS}}, NULL},
    [T_SCALES] = {"scale_results", {{"model_id", T_MODELS}, {"eval_id", T_EVALS}, {"prefill_bench_id", T_BENCHES},
                                    {"decode_bench_id", T_BENCHES}}, NULL},
};


/* ---------- the report ---------- */

static int note(DbMergeReport *r, bool conflict, const char *table, const char *uuid, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int note(DbMergeReport *r, bool conflict, const char *table, const char *uuid, const char *fmt, ...) {
    DbMergeNote *n = realloc(r->notes, (r->n_notes + 1) * sizeof *n);
    if (!n) return -1;
    r->notes = n;
    n = &r->notes[r->n_notes];
    memset(n, 0, sizeof *n);
    n->conflict = conflict;
    snprintf(n->table, sizeof n->table, "%s", table);
    snprintf(n->uuid, sizeof n->uuid, "%s", uuid ? uuid : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->what, sizeof n->what, fmt, ap);
    va_end(ap);
    r->n_notes++;
    return 0;
}

void db_merge_report_free(DbMergeReport *r) {
    if (!r) return;
    free(r->notes);
    memset(r, 0, sizeof *r);
}

/* ---------- one input ---------- */

typedef struct {
    Db *out, *in;
    DbMergeReport *rep;
    LabErr *e;
    sqlite3_stmt *map_get, *map_put;
    int64_t in_self;            /* the input's own source row */
    int64_t next_orphan;        /* negative rating ids for revisions whose rating was removed */
    int64_t out_self;           /* the output's own source row */
    sqlite3_stmt *mkval;        /* SELECT ?1 */
} Merge;

static int out_fail(Merge *m, const char *sql) { return db_fail(m->out, sql, m->e); }
static int in_fail(Merge *m, const char *sql) { return db_fail(m->in, sql, m->e); }

/* 1 with *out_id (0 = the row was not merged) if the input's row of table t is mapped, 0 if not. */
static int map_get(Merge *m, int t, int64_t in_id, int64_t *out_id) {
    sqlite3_reset(m->map_get);
    sqlite3_bind_int(m->map_get, 1, t);
    sqlite3_bind_int64(m->map_get, 2, in_id);
    int rc = sqlite3_step(m->map_get);
    if (rc == SQLITE_ROW) {
        *out_id = sqlite3_column_int64(m->map_get, 0);
        sqlite3_reset(m->map_get);
        return 1;
    }
    sqlite3_reset(m->map_get);
    return rc == SQLITE_DONE ? 0 : out_fail(m, sqlite3_sql(m->map_get));
}

static int map_put(Merge *m, int t, int64_t in_id, int64_t out_id) {
    sqlite3_reset(m->map_put);
    sqlite3_bind_int(m->map_put, 1, t);
    sqlite3_bind_int64(m->map_put, 2, in_id);
    sqlite3_bind_int64(m->map_put, 3, out_id);
    return db_step_done(m->out, m->map_put, m->e);
}

static bool ignored(const MergeTable *t, const char *col) {
    for (const char *const *c = t->ignore; c && *c; c++)
        if (!strcmp(*c, col)) return true;
    return false;
}

static int ref_parent(const MergeTable *t, int ti, const char *col) {
    if (ti != T_SOURCES && !strcmp(col, "source_id")) return T_SOURCES;
    for (int i = 0; i < 5 && t->refs[i].col; i++)
        if (!strcmp(t->refs[i].col, col)) return t->refs[i].parent;
    return -1;
}

static bool same_value(sqlite3_value *a, sqlite3_value *b) {
    int ta = sqlite3_value_type(a), tb = sqlite3_value_type(b);
    if (ta != tb) return false;
    switch (ta) {
    case SQLITE_NULL: return true;
    case SQLITE_INTEGER: return sqlite3_value_int64(a) == sqlite3_value_int64(b);
    case SQLITE_FLOAT: return sqlite3_value_double(a) == sqlite3_value_double(b);
    default: {
        int n = sqlite3_value_bytes(a);
        if (n != sqlite3_value_bytes(b)) return false;
        return n == 0 || memcmp(sqlite3_value_blob(a), sqlite3_value_blob(b), (size_t)n) == 0;
    }
    }
}

/* The columns of a table on the input (every one but id), checked against the output's. */
typedef struct {
    char **name;
    int n;
    int uuid_col;
} Cols;

static void cols_free(Cols *c) {
    for (int i = 0; i < c->n; i++) free(c->name[i]);
    free(c->name);
    memset(c, 0, sizeof *c);
}

static int cols_of(Db *db, const char *table, Cols *c, LabErr *e) {
    memset(c, 0, sizeof *c);
    c->uuid_col = -1;
    const char *sql = "SELECT name FROM pragma_table_info(?1) WHERE name <> 'id' ORDER BY cid";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(db, sql, e);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **n = realloc(c->name, (size_t)(c->n + 1) * sizeof *n);
        if (!n || !(n[c->n] = strdup((const char *)sqlite3_column_text(st, 0)))) {
            if (n) c->name = n;
            sqlite3_finalize(st);
            cols_free(c);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
        c->name = n;
        if (!strcmp(n[c->n], "uuid")) c->uuid_col = c->n;
        c->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cols_free(c);
        return db_fail(db, sql, e);
    }
    return 0;
}

static bool cols_equal(const Cols *a, const Cols *b) {
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->name[i], b->name[i])) return false;
    return true;
}

/* "SELECT id, c1, c2, ... FROM t" + tail */
static char *select_sql(const char *table, const Cols *c, const char *tail) {
    Buf b = {0};
    buf_puts(&b, "SELECT id");
    for (int i = 0; i < c->n; i++) buf_printf(&b, ", \"%s\"", c->name[i]);
    buf_printf(&b, " FROM main.\"%s\" %s", table, tail);
    if (buf_putc(&b, 0)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static char *insert_sql(const char *table, const Cols *c) {
    Buf b = {0};
    buf_printf(&b, "INSERT INTO main.\"%s\"(", table);
    for (int i = 0; i < c->n; i++) buf_printf(&b, "%s\"%s\"", i ? ", " : "", c->name[i]);
    buf_puts(&b, ") VALUES (");
    for (int i = 0; i < c->n; i++) buf_printf(&b, "%s?%d", i ? ", " : "", i + 1);
    buf_puts(&b, ")");
    if (buf_putc(&b, 0)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* The row the output would hold for an input row: the input's values with references turned into
 * output ids. *skip_parent names the table of a parent that was not merged (then the row is not). */
typedef struct {
    sqlite3_value **v;          /* [n] copies */
} Row;

static void row_free(Row *r, int n) {
    if (!r->v) return;
    for (int i = 0; i < n; i++) sqlite3_value_free(r->v[i]);
    free(r->v);
    r->v = NULL;
}

/* sqlite3_value has no constructor: values are made by a prepared "SELECT ?1" on the output. */
static sqlite3_value *make_value(Merge *m, const char *text, int64_t num, bool null) {
    sqlite3_stmt *st = m->mkval;
    sqlite3_reset(st);
    if (null) sqlite3_bind_null(st, 1);
    else if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_int64(st, 1, num);
    sqlite3_value *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_value_dup(sqlite3_column_value(st, 0)) : NULL;
    sqlite3_reset(st);
    return v;
}

/* "host:1a2b3c4d" (the host label and the first 8 hex digits of the source's UUID: two laptops
 * may share a host name) of an output source; malloc'd, NULL on error */
static char *source_tag(Merge *m, int64_t out_source) {
    const char *sql = "SELECT host || ':' || substr(uuid, 1, 8) FROM main.sources WHERE id = ?1";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->out->h, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_int64(st, 1, out_source);
    char *h = sqlite3_step(st) == SQLITE_ROW ? strdup((const char *)sqlite3_column_text(st, 0)) : NULL;
    sqlite3_finalize(st);
    return h;
}

static int64_t self_source(Db *db) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "SELECT id FROM main.sources WHERE is_self = 1", -1, &st, NULL) != SQLITE_OK) return 0;
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return id;
}

/* NAME@HOST:UUID8 for a row of another machine -- the same whatever the order of the inputs --
 * unless it already ends so (a pooled record merged again) or the row is the output's own. */
static sqlite3_value *qualified_name(Merge *m, sqlite3_value *name, int64_t out_source) {
    if (out_source == m->out_self) return sqlite3_value_dup(name);
    char *tag = source_tag(m, out_source);
    const char *n = (const char *)sqlite3_value_text(name);
    if (!tag || !n) {
        free(tag);
        return NULL;
    }
    size_t ln = strlen(n), lt = strlen(tag);
    char *q = malloc(ln + lt + 2);
    sqlite3_value *v = NULL;
    if (q) {
        if (ln > lt && n[ln - lt - 1] == '@' && !strcmp(n + ln - lt, tag)) snprintf(q, ln + lt + 2, "%s", n);
        else snprintf(q, ln + lt + 2, "%s@%s", n, tag);
        v = make_value(m, q, 0, false);
    }
    free(q);
    free(tag);
    return v;
}

/* Builds the output's version of the input row at `in` (columns 1..n after id). Returns 0 with
 * *missing = -1 when every reference resolved, or the table of the first parent not merged. */
static int build_row(Merge *m, int ti, const Cols *c, sqlite3_stmt *in, Row *r, int *missing) {
    const MergeTable *t = &TABLES[ti];
    *missing = -1;
    r->v = calloc((size_t)c->n, sizeof *r->v);
    if (!r->v) return lab_err(m->e, LAB_ENOMEM, "out of memory");
    int64_t out_source = 0;
    for (int i = 0; i < c->n; i++) {
        sqlite3_value *v = sqlite3_column_value(in, i + 1);
        int parent = ref_parent(t, ti, c->name[i]);
        if (parent < 0) {
            if (!(r->v[i] = sqlite3_value_dup(v))) return lab_err(m->e, LAB_ENOMEM, "out of memory");
            continue;
        }
        int64_t in_ref = sqlite3_value_type(v) == SQLITE_NULL ? 0 : sqlite3_value_int64(v);
        if (parent == T_SOURCES && !in_ref) in_ref = m->in_self;
        int64_t out_ref = 0;
        if (in_ref) {
            int found = map_get(m, parent, in_ref, &out_ref);
            if (found < 0) return -1;
            if (!found && ti == T_REVISIONS && parent == T_RATINGS) {
                /* the rating was removed (its first vote stepped back): its revisions keep one id of
                 * their own that no rating has */
                out_ref = m->next_orphan--;
                if (map_put(m, T_RATINGS, in_ref, out_ref)) return -1;
                found = 1;
            }
            if (!found || !out_ref) {
                if (*missing < 0) *missing = parent;
                out_ref = 0;
            }
        }
        if (parent == T_SOURCES) out_source = out_ref;
        r->v[i] = make_value(m, NULL, out_ref, !in_ref);
        if (!r->v[i]) return lab_err(m->e, LAB_ENOMEM, "out of memory");
    }
    if (ti == T_SESSIONS && out_source) {
        for (int i = 0; i < c->n; i++) {
            if (strcmp(c->name[i], "name")) continue;
            sqlite3_value *q = qualified_name(m, r->v[i], out_source);
            if (!q) return lab_err(m->e, LAB_ENOMEM, "out of memory");
            sqlite3_value_free(r->v[i]);
            r->v[i] = q;
        }
    }
    return 0;
}

static int col_index(const Cols *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->name[i], name)) return i;
    return -1;
}

/* The output row recognised by what it is, for rows whose UUID the output does not hold:
 * models by weights, tokenizer, dtype and adapters; studies by name and protocol. 0 if none. */
static int natural_match(Merge *m, int ti, const Cols *c, const Row *r, int64_t *out_id) {
    static const char *const model_key[] = {"weights_sha256", "tokenizer_sha256", "dtype", "adapters", NULL};
    static const char *const study_key[] = {"name", "prompts_sha256", "n_prompts", "sampling", "blind", "pacing", NULL};
    const char *const *key = ti == T_MODELS ? model_key : ti == T_STUDIES ? study_key : NULL;
    *out_id = 0;
    if (!key) return 0;
    Buf b = {0};
    buf_printf(&b, "SELECT id FROM main.\"%s\" WHERE 1", TABLES[ti].name);
    for (int k = 0; key[k]; k++) buf_printf(&b, " AND \"%s\" IS ?%d", key[k], k + 1);
    buf_puts(&b, " ORDER BY id LIMIT 1");
    if (buf_putc(&b, 0)) {
        buf_free(&b);
        return lab_err(m->e, LAB_ENOMEM, "out of memory");
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->out->h, b.data, -1, &st, NULL) != SQLITE_OK) {
        out_fail(m, b.data);
        buf_free(&b);
        return -1;
    }
    for (int k = 0; key[k]; k++) {
        int i = col_index(c, key[k]);
        if (i >= 0) sqlite3_bind_value(st, k + 1, r->v[i]);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out_id = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE) out_fail(m, b.data);
    sqlite3_finalize(st);
    buf_free(&b);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A study whose name the output already gives another protocol: added as NAME@HOST:UUID8. */
static int rename_study(Merge *m, const Cols *c, Row *r, const char *uuid) {
    int ni = col_index(c, "name"), si = col_index(c, "source_id");
    if (ni < 0 || si < 0) return 0;
    const char *sql = "SELECT 1 FROM main.studies WHERE name = ?1";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->out->h, sql, -1, &st, NULL) != SQLITE_OK) return out_fail(m, sql);
    sqlite3_bind_value(st, 1, r->v[ni]);
    int taken = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!taken) return 0;
    sqlite3_value *q = qualified_name(m, r->v[ni], sqlite3_value_int64(r->v[si]));
    if (!q) return lab_err(m->e, LAB_ENOMEM, "out of memory");
    if (note(m->rep, false, "studies", uuid, "study '%s' names another protocol here: added as '%s'",
             (const char *)sqlite3_value_text(r->v[ni]), (const char *)sqlite3_value_text(q))) {
        sqlite3_value_free(q);
        return lab_err(m->e, LAB_ENOMEM, "out of memory");
    }
    sqlite3_value_free(r->v[ni]);
    r->v[ni] = q;
    return 0;
}

/* A response's turn (schema 9) goes with it. */
static int copy_turn(Merge *m, int64_t in_response, int64_t out_response) {
    const char *get = "SELECT mode, messages_json, prompt_text, conversation_id, turn FROM main.turns WHERE response_id = ?1";
    const char *put = "INSERT INTO main.turns(response_id, mode, messages_json, prompt_text, conversation_id, turn) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *g = NULL, *p = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(m->in->h, get, -1, &g, NULL) != SQLITE_OK) return in_fail(m, get);
    sqlite3_bind_int64(g, 1, in_response);
    int s = sqlite3_step(g);
    if (s == SQLITE_DONE) {
        rc = 0;
        goto done;
    }
    if (s != SQLITE_ROW) {
        in_fail(m, get);
        goto done;
    }
    int64_t conv = 0;
    int found = map_get(m, T_PAIRS, sqlite3_column_int64(g, 3), &conv);
    if (found < 0) goto done;
    if (!found || !conv) {
        rc = 0; /* its conversation's first pair was a conflict: the response stands alone */
        goto done;
    }
    if (sqlite3_prepare_v2(m->out->h, put, -1, &p, NULL) != SQLITE_OK) {
        out_fail(m, put);
        goto done;
    }
    sqlite3_bind_int64(p, 1, out_response);
    for (int i = 0; i < 3; i++) sqlite3_bind_value(p, i + 2, sqlite3_column_value(g, i));
    sqlite3_bind_int64(p, 5, conv);
    sqlite3_bind_value(p, 6, sqlite3_column_value(g, 4));
    rc = db_step_done(m->out, p, m->e);
done:
    sqlite3_finalize(g);
    sqlite3_finalize(p);
    return rc;
}

static int merge_table(Merge *m, int ti) {
    const MergeTable *t = &TABLES[ti];
    DbMergeCount *count = &m->rep->count[ti];
    Cols ci = {0}, co = {0};
    char *sel_in = NULL, *sel_out = NULL, *ins = NULL;
    sqlite3_stmt *in = NULL, *find = NULL, *add = NULL;
    Row r = {0};
    int rc = -1;
    if (cols_of(m->in, t->name, &ci, m->e) || cols_of(m->out, t->name, &co, m->e)) goto done;
    if (!cols_equal(&ci, &co) || ci.uuid_col < 0) {
        lab_err(m->e, LAB_EFORMAT, "%s: table '%s' has other columns than this build's schema %d", m->in->path, t->name,
                DB_SCHEMA_VERSION);
        goto done;
    }
    sel_in = select_sql(t->name, &ci, "ORDER BY id");
    sel_out = select_sql(t->name, &ci, "WHERE uuid = ?1");
    ins = insert_sql(t->name, &ci);
    if (!sel_in || !sel_out || !ins) {
        lab_err(m->e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    if (sqlite3_prepare_v2(m->in->h, sel_in, -1, &in, NULL) != SQLITE_OK) {
        in_fail(m, sel_in);
        goto done;
    }
    if (sqlite3_prepare_v2(m->out->h, sel_out, -1, &find, NULL) != SQLITE_OK) {
        out_fail(m, sel_out);
        goto done;
    }
    if (sqlite3_prepare_v2(m->out->h, ins, -1, &add, NULL) != SQLITE_OK) {
        out_fail(m, ins);
        goto done;
    }
    int s;
    while ((s = sqlite3_step(in)) == SQLITE_ROW) {
        int64_t in_id = sqlite3_column_int64(in, 0);
        const char *uuid = (const char *)sqlite3_column_text(in, ci.uuid_col + 1);
        char uuid_copy[40];
        snprintf(uuid_copy, sizeof uuid_copy, "%s", uuid ? uuid : "");
        if (!uuid || strlen(uuid) != 36) {
            lab_err(m->e, LAB_EFORMAT, "%s: table '%s', row %lld has no global id (uuid); not merged", m->in->path,
                    t->name, (long long)in_id);
            goto done;
        }
        int missing;
        if (build_row(m, ti, &ci, in, &r, &missing)) goto done;
        if (missing >= 0) {
            count->conflicts++;
            if (map_put(m, ti, in_id, 0) ||
                note(m->rep, true, t->name, uuid_copy, "not merged: its %s row was not merged", TABLES[missing].name))
                goto done;
            row_free(&r, ci.n);
            continue;
        }
        /* by global id */
        sqlite3_reset(find);
        sqlite3_bind_text(find, 1, uuid_copy, -1, SQLITE_TRANSIENT);
        int f = sqlite3_step(find);
        if (f == SQLITE_ROW) {
            int64_t out_id = sqlite3_column_int64(find, 0);
            const char *differs = NULL;
            for (int i = 0; i < ci.n && !differs; i++)
                if (!ignored(t, ci.name[i]) && !same_value(r.v[i], sqlite3_column_value(find, i + 1)))
                    differs = ci.name[i];
            if (ti == T_REVISIONS && differs && !strcmp(differs, "rating_id")) differs = NULL;
            if (differs) {
                count->conflicts++;
                if (note(m->rep, true, t->name, uuid_copy, "the same id holds another %s here: kept this record's row",
                         differs)) goto oom;
            } else count->present++;
            if (map_put(m, ti, in_id, out_id)) goto done;
            row_free(&r, ci.n);
            continue;
        }
        if (f != SQLITE_DONE) {
            out_fail(m, sel_out);
            goto done;
        }
        /* by what it is */
        int64_t out_id = 0;
        int nm = natural_match(m, ti, &ci, &r, &out_id);
        if (nm < 0) goto done;
        if (nm) {
            count->present++;
            if (map_put(m, ti, in_id, out_id)) goto done;
            row_free(&r, ci.n);
            continue;
        }
        if (ti == T_STUDIES && rename_study(m, &ci, &r, uuid_copy)) goto done;
        sqlite3_reset(add);
        for (int i = 0; i < ci.n; i++) sqlite3_bind_value(add, i + 1, r.v[i]);
        int a = sqlite3_step(add);
        if (a == SQLITE_DONE) {
            int64_t new_id = sqlite3_last_insert_rowid(m->out->h);
            count->added++;
            if (map_put(m, ti, in_id, new_id)) goto done;
            if (ti == T_RESPONSES && copy_turn(m, in_id, new_id)) goto done;
        } else if ((sqlite3_extended_errcode(m->out->h) & 0xff) == SQLITE_CONSTRAINT) {
            /* another row already has its place (the same session's position, the same pair's
             * slot, a participant's one rating of a pair): two records went separate ways */
            char why[300];
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(m->out->h));
            sqlite3_reset(add);
            count->conflicts++;
            if (map_put(m, ti, in_id, 0) ||
                note(m->rep, true, t->name, uuid_copy, "another row here takes its place (%s): not merged", why))
                goto done;
        } else {
            out_fail(m, ins);
            goto done;
        }
        sqlite3_reset(add);
        row_free(&r, ci.n);
    }
    if (s != SQLITE_DONE) {
        in_fail(m, sel_in);
        goto done;
    }
    rc = 0;
    goto done;
oom:
    lab_err(m->e, LAB_ENOMEM, "out of memory");
done:
    row_free(&r, ci.n);
    sqlite3_finalize(in);
    sqlite3_finalize(find);
    sqlite3_finalize(add);
    free(sel_in);
    free(sel_out);
    free(ins);
    cols_free(&ci);
    cols_free(&co);
    return rc;
}

/* Every machine the input knows (itself, and those merged into it) becomes a source of the
 * output, matched by UUID; the labels of one already there are kept. */
static int merge_sources(Merge *m) {
    DbMergeCount *count = &m->rep->count[T_SOURCES];
    const char *get = "SELECT id, uuid, host, origin, is_self, file, schema_version, merged_ms FROM main.sources ORDER BY id";
    const char *find = "SELECT id FROM main.sources WHERE uuid = ?1";
    const char *put = "INSERT INTO main.sources(uuid, host, origin, is_self, file, schema_version, merged_ms) "
                      "VALUES (:uuid, :host, :origin, 0, :file, :version, :now)";
    sqlite3_stmt *g = NULL, *f = NULL, *p = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(m->in->h, get, -1, &g, NULL) != SQLITE_OK) return in_fail(m, get);
    if (sqlite3_prepare_v2(m->out->h, find, -1, &f, NULL) != SQLITE_OK) {
        out_fail(m, find);
        goto done;
    }
    if (sqlite3_prepare_v2(m->out->h, put, -1, &p, NULL) != SQLITE_OK) {
        out_fail(m, put);
        goto done;
    }
    int s;
    while ((s = sqlite3_step(g)) == SQLITE_ROW) {
        int64_t in_id = sqlite3_column_int64(g, 0);
        sqlite3_reset(f);
        sqlite3_bind_value(f, 1, sqlite3_column_value(g, 1));
        int k = sqlite3_step(f);
        if (k == SQLITE_ROW) {
            count->present++;
            if (map_put(m, T_SOURCES, in_id, sqlite3_column_int64(f, 0))) goto done;
            continue;
        }
        if (k != SQLITE_DONE) {
            out_fail(m, find);
            goto done;
        }
        bool self = sqlite3_column_int(g, 4) == 1;
        sqlite3_reset(p);
        sqlite3_bind_value(p, 1, sqlite3_column_value(g, 1));
        /* an older file's own source was made when its private copy was migrated here: the host
         * is this machine's, not the one that recorded it; its file name says more */
        if (self && db_opened_version(m->in) < DB_SCHEMA_VERSION)
            sqlite3_bind_text(p, 2, path_basename(m->in->path), -1, SQLITE_TRANSIENT);
        else sqlite3_bind_value(p, 2, sqlite3_column_value(g, 2));
        sqlite3_bind_value(p, 3, sqlite3_column_value(g, 3));
        if (self) {
            sqlite3_bind_text(p, 4, path_basename(m->in->path), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(p, 5, db_opened_version(m->in));
        } else {
            sqlite3_bind_value(p, 4, sqlite3_column_value(g, 5));
            sqlite3_bind_value(p, 5, sqlite3_column_value(g, 6));
        }
        sqlite3_bind_int64(p, 6, self ? wall_time_ms() : sqlite3_column_int64(g, 7));
        if (db_step_done(m->out, p, m->e)) goto done;
        count->added++;
        if (map_put(m, T_SOURCES, in_id, sqlite3_last_insert_rowid(m->out->h))) goto done;
    }
    if (s != SQLITE_DONE) {
        in_fail(m, get);
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(g);
    sqlite3_finalize(f);
    sqlite3_finalize(p);
    return rc;
}

static int exec_out(Db *db, const char *sql, LabErr *e) {
    if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail(db, sql, e);
    return 0;
}

static int merge_one(Db *out, Db *in, DbMergeReport *rep, LabErr *e) {
    Merge m = {.out = out, .in = in, .rep = rep, .e = e, .in_self = self_source(in), .next_orphan = -1,
             .out_self = self_source(out)};
    const char *get = "SELECT out_id FROM temp.merge_map WHERE t = ?1 AND in_id = ?2";
    const char *put = "INSERT INTO temp.merge_map(t, in_id, out_id) VALUES (?1, ?2, ?3)";
    const char *low = "SELECT min(0, coalesce(min(rating_id), 0)) - 1 FROM main.rating_revisions";
    int rc = -1;
    if (exec_out(out, "DELETE FROM temp.merge_map", e)) return -1;
    if (sqlite3_prepare_v2(out->h, get, -1, &m.map_get, NULL) != SQLITE_OK) {
        out_fail(&m, get);
        goto done;
    }
    if (sqlite3_prepare_v2(out->h, put, -1, &m.map_put, NULL) != SQLITE_OK) {
        out_fail(&m, put);
        goto done;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(out->h, low, -1, &st, NULL) != SQLITE_OK) {
        out_fail(&m, low);
        goto done;
    }
    if (sqlite3_step(st) == SQLITE_ROW) m.next_orphan = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(out->h, "SELECT ?1", -1, &m.mkval, NULL) != SQLITE_OK) {
        out_fail(&m, "SELECT ?1");
        goto done;
    }
    for (int t = 0; t < T_N; t++) rep->count[t].table = TABLES[t].name;
    if (merge_sources(&m)) goto done;
    for (int t = T_SOURCES + 1; t < T_N; t++)
        if (merge_table(&m, t)) goto done;
    rc = 0;
done:
    sqlite3_finalize(m.map_get);
    sqlite3_finalize(m.map_put);
    sqlite3_finalize(m.mkval);
    return rc;
}

static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int db_merge(Db *out, const char *const *inputs, int n, DbMergeReport *reps, LabErr *e) {
    if (out->read_only) return lab_err(e, LAB_EIO, "%s: opened read-only: cannot merge into it", out->path);
    for (int i = 0; i < n; i++) {
        memset(&reps[i], 0, sizeof reps[i]);
        if (same_file(inputs[i], out->path))
            return lab_err(e, LAB_EINVAL, "%s: is the output itself; name another file to merge into", inputs[i]);
    }
    if (exec_out(out, "CREATE TEMP TABLE IF NOT EXISTS merge_map(t INTEGER NOT NULL, in_id INTEGER NOT NULL, "
                      "out_id INTEGER NOT NULL, PRIMARY KEY(t, in_id)) WITHOUT ROWID", e))
        return -1;
    if (db_tx_begin(out, e)) return -1;
    for (int i = 0; i < n; i++) {
        Db *in = NULL;
        if (db_open_mode(&in, inputs[i], DB_SNAPSHOT, e) || merge_one(out, in, &reps[i], e)) {
            db_close(in);
            db_tx_abort(out);
            for (int k = 0; k <= i; k++) db_merge_report_free(&reps[k]);
            lab_err_prefix(e, "nothing was merged into %s", out->path);
            return -1;
        }
        db_close(in);
    }
    return db_tx_commit(out, e);
}
