/* Rows in and out: every write is one BEGIN IMMEDIATE transaction committed before returning;
 * every read hands rows to a callback with pointers into SQLite's column memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* ---------- binding and reading helpers ---------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}
static const char *col_text(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }
static const char *col_str(sqlite3_stmt *st, int i) {
    const char *s = col_text(st, i);
    return s ? s : "";
}
static int64_t col_i64(sqlite3_stmt *st, int i) { return sqlite3_column_int64(st, i); }
/* Named parameters (":name"): a name the statement lacks is a programming error, caught by the tests
 * through the NOT NULL columns it would leave unbound. */
static int par(sqlite3_stmt *st, const char *name) { return sqlite3_bind_parameter_index(st, name); }
static int col_int(sqlite3_stmt *st, int i) { return sqlite3_column_int(st, i); }
static double col_dbl(sqlite3_stmt *st, int i) { return sqlite3_column_double(st, i); }

/* Runs one INSERT/UPDATE/DELETE statement (already bound) as its own transaction. */
static int write_one(Db *db, sqlite3_stmt *st, int64_t *rowid, int *changes, LabErr *e) {
    if (db_tx_begin(db, e)) return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        db_fail(db, sqlite3_sql(st), e);
        sqlite3_reset(st);
        db_tx_abort(db);
        return -1;
    }
    if (rowid) *rowid = sqlite3_last_insert_rowid(db->h);
    if (changes) *changes = sqlite3_changes(db->h);
    sqlite3_reset(st);
    return db_tx_commit(db, e);
}

/* Steps a bound query, calling row() per result; row returns nonzero to stop. Returns the number
 * of rows seen, or -1. */
static int each_row(Db *db, sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *ud), void *ud, LabErr *e) {
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        if (row(st, ud)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, sqlite3_sql(st), e);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return n;
}

/* A query whose one row holds one integer (count, id); *out 0 and return 0 if no row. */
static int one_int(Db *db, sqlite3_stmt *st, int64_t *out, LabErr *e) {
    int rc = sqlite3_step(st);
    *out = 0;
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 1;
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, sqlite3_sql(st), e);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

/* ---------- models ---------- */

int db_model_upsert(Db *db, const DbModel *m, int64_t *id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_MODEL_FIND, e);
    if (!st) return -1;
    bind_text(st, 1, m->path);
    bind_text(st, 2, m->weights_sha256);
    bind_text(st, 3, m->tokenizer_sha256);
    bind_text(st, 4, m->dtype);
    bind_text(st, 5, m->adapters ? m->adapters : "");
    int64_t found;
    int rc = one_int(db, st, &found, e);
    if (rc < 0) return -1;
    int64_t now = wall_time_ms();
    if (rc == 1) {
        if (!(st = db_stmt(db, ST_MODEL_UPDATE, e))) return -1;
        sqlite3_bind_int64(st, 1, found);
        sqlite3_bind_double(st, 2, m->load_ms);
        sqlite3_bind_int64(st, 3, m->bytes_mapped);
        sqlite3_bind_int64(st, 4, m->bytes_owned);
        sqlite3_bind_int64(st, 5, m->bytes_on_disk);
        sqlite3_bind_int64(st, 6, now);
        if (write_one(db, st, NULL, NULL, e)) return -1;
        *id = found;
        return 0;
    }
    if (!(st = db_stmt(db, ST_MODEL_INSERT, e))) return -1;
    const char *t[] = {m->path, m->name, m->arch, m->format, m->dtype, m->file_dtype, m->tokenizer_kind,
                       m->weights_sha256, m->tokenizer_sha256};
    for (int i = 0; i < 9; i++) bind_text(st, i + 1, t[i] ? t[i] : "");
    sqlite3_bind_int64(st, 10, m->n_params);
    int ints[] = {m->n_layer, m->n_head, m->n_kv_head, m->dim, m->vocab, m->ctx_max};
    for (int i = 0; i < 6; i++) sqlite3_bind_int(st, 11 + i, ints[i]);
    sqlite3_bind_int64(st, 17, m->bytes_on_disk);
    sqlite3_bind_int64(st, 18, m->bytes_mapped);
    sqlite3_bind_int64(st, 19, m->bytes_owned);
    sqlite3_bind_double(st, 20, m->load_ms);
    sqlite3_bind_int64(st, 21, now);
    bind_text(st, 22, m->adapters ? m->adapters : "");
    return write_one(db, st, id, NULL, e);
}

typedef struct { int (*each)(const DbModel *, void *); void *ud; } ModelCb;
static int model_row(sqlite3_stmt *st, void *ud) {
    ModelCb *c = ud;
    DbModel m = {
        .id = col_i64(st, 0), .path = col_str(st, 1), .name = col_str(st, 2), .arch = col_str(st, 3),
        .format = col_str(st, 4), .dtype = col_str(st, 5), .file_dtype = col_str(st, 6),
        .tokenizer_kind = col_str(st, 7), .weights_sha256 = col_str(st, 8), .tokenizer_sha256 = col_str(st, 9),
        .n_params = col_i64(st, 10), .n_layer = col_int(st, 11), .n_head = col_int(st, 12),
        .n_kv_head = col_int(st, 13), .dim = col_int(st, 14), .vocab = col_int(st, 15), .ctx_max = col_int(st, 16),
        .bytes_on_disk = col_i64(st, 17), .bytes_mapped = col_i64(st, 18), .bytes_owned = col_i64(st, 19),
        .load_ms = col_dbl(st, 20), .adapters = col_str(st, 21),
    };
    return c->each(&m, c->ud);
}
int db_models_each(Db *db, int (*each)(const DbModel *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_MODELS_ALL, e);
    ModelCb c = {each, ud};
    return st && each_row(db, st, model_row, &c, e) >= 0 ? 0 : -1;
}

int db_file_hash_get(Db *db, const char *path, int64_t size, int64_t mtime_ns, char out[65], LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_HASH_GET, e);
    if (!st) return -1;
    bind_text(st, 1, path);
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const char *s = col_str(st, 0);
        if (strlen(s) == 64) {
            memcpy(out, s, 65);
            found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        db_fail(db, sqlite3_sql(st), e);
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

int db_file_hash_put(Db *db, const char *path, int64_t size, int64_t mtime_ns, const char *sha, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_HASH_PUT, e);
    if (!st) return -1;
    bind_text(st, 1, path);
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    bind_text(st, 4, sha);
    return write_one(db, st, NULL, NULL, e);
}

/* ---------- sessions ---------- */

int db_session_add(Db *db, const DbSession *s, int64_t *id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_SESSION_INSERT, e);
    if (!st) return -1;
    bind_text(st, 1, s->name);
    bind_text(st, 2, s->kind ? s->kind : "lab");
    bind_text(st, 3, s->participant);
    bind_text(st, 4, s->prompt_set);
    sqlite3_bind_int(st, 5, s->blind);
    sqlite3_bind_int(st, 6, s->consent);
    sqlite3_bind_int64(st, 7, s->seed);
    sqlite3_bind_int64(st, 8, s->started_ms ? s->started_ms : wall_time_ms());
    bind_text(st, 9, s->notes);
    bind_text(st, 10, s->build_version);
    bind_text(st, 11, s->cpu_model);
    sqlite3_bind_int64(st, 12, s->study_id);
    return write_one(db, st, id, NULL, e);
}

typedef struct { int (*each)(const DbSession *, void *); void *ud; } SessionCb;
static int session_row(sqlite3_stmt *st, void *ud) {
    SessionCb *c = ud;
    DbSession s = {
        .id = col_i64(st, 0), .name = col_str(st, 1), .kind = col_str(st, 2), .participant = col_text(st, 3),
        .prompt_set = col_text(st, 4), .notes = col_text(st, 5), .build_version = col_text(st, 6),
        .cpu_model = col_text(st, 7), .blind = col_int(st, 8) != 0, .consent = col_int(st, 9) != 0,
        .seed = col_i64(st, 10), .started_ms = col_i64(st, 11), .ended_ms = col_i64(st, 12),
        .study_id = col_i64(st, 13), .source_id = col_i64(st, 14),
    };
    return c->each(&s, c->ud);
}
static int sessions_query(Db *db, DbStmt id, int (*bind)(sqlite3_stmt *, const void *), const void *arg,
                          int (*each)(const DbSession *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, id, e);
    if (!st) return -1;
    bind(st, arg);
    SessionCb c = {each, ud};
    int n = each_row(db, st, session_row, &c, e);
    return n < 0 ? -1 : n > 0;
}
static int bind_name(sqlite3_stmt *st, const void *a) { return sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC); }
static int bind_id(sqlite3_stmt *st, const void *a) { return sqlite3_bind_int64(st, 1, *(const int64_t *)a); }

int db_session_by_name(Db *db, const char *name, int (*each)(const DbSession *, void *), void *ud, LabErr *e) {
    return sessions_query(db, ST_SESSION_BY_NAME, bind_name, name, each, ud, e);
}
int db_session_by_id(Db *db, int64_t id, int (*each)(const DbSession *, void *), void *ud, LabErr *e) {
    return sessions_query(db, ST_SESSION_BY_ID, bind_id, &id, each, ud, e);
}
int db_sessions_each(Db *db, int64_t only_id, int (*each)(const DbSession *, void *), void *ud, LabErr *e) {
    return sessions_query(db, ST_SESSIONS_ALL, bind_id, &only_id, each, ud, e) < 0 ? -1 : 0;
}

int db_session_end(Db *db, int64_t id, int64_t ended_ms, const char *notes, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_SESSION_END, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, ended_ms);
    bind_text(st, 3, notes);
    int changes = 0;
    if (write_one(db, st, NULL, &changes, e)) return -1;
    return changes ? 0 : lab_err(e, LAB_ENOTFOUND, "%s: no session %lld", db->path, (long long)id);
}

int db_session_counts(Db *db, int64_t id, const char *participant, int *n_prompts, int *n_complete, int *n_rated,
                      LabErr *e) {
    int64_t v[3];
    DbStmt ids[3] = {ST_COUNT_PROMPTS, ST_COUNT_COMPLETE, participant ? ST_COUNT_RATED : ST_COUNT_RATED_ANY};
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *st = db_stmt(db, ids[i], e);
        if (!st) return -1;
        sqlite3_bind_int64(st, 1, id);
        if (i == 2 && participant) bind_text(st, 2, participant);
        if (one_int(db, st, &v[i], e) < 0) return -1;
    }
    *n_prompts = (int)v[0];
    *n_complete = (int)v[1];
    *n_rated = (int)v[2];
    return 0;
}

/* ---------- prompts ---------- */

int db_prompt_add(Db *db, int64_t session_id, const char *prompt_set, int position, const char *text, int64_t *id,
                  LabErr *e) {
    /* look and insert inside one transaction so two writers cannot take the same position */
    if (db_tx_begin(db, e)) return -1;
    sqlite3_stmt *st;
    if (position < 0) {
        int64_t last;
        if (!(st = db_stmt(db, ST_PROMPT_LAST, e))) goto fail;
        sqlite3_bind_int64(st, 1, session_id);
        if (one_int(db, st, &last, e) < 0) goto fail;
        position = (int)last + 1;
    } else {
        if (!(st = db_stmt(db, ST_PROMPT_AT, e))) goto fail;
        sqlite3_bind_int64(st, 1, session_id);
        sqlite3_bind_int(st, 2, position);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int64_t found = col_i64(st, 0);
            bool same = strcmp(col_str(st, 1), text) == 0;
            sqlite3_reset(st);
            db_tx_abort(db);
            if (!same)
                return lab_err(e, LAB_EINVAL, "%s: prompt %d of session %lld differs from the stored prompt set",
                               db->path, position + 1, (long long)session_id);
            *id = found;
            return 0;
        }
        if (rc != SQLITE_DONE) {
            db_fail(db, sqlite3_sql(st), e);
            sqlite3_reset(st);
            goto fail;
        }
        sqlite3_reset(st);
    }
    if (!(st = db_stmt(db, ST_PROMPT_INSERT, e))) goto fail;
    sqlite3_bind_int64(st, 1, session_id);
    bind_text(st, 2, prompt_set);
    sqlite3_bind_int(st, 3, position);
    bind_text(st, 4, text);
    sqlite3_bind_int64(st, 5, wall_time_ms());
    if (db_step_done(db, st, e)) goto fail;
    *id = sqlite3_last_insert_rowid(db->h);
    return db_tx_commit(db, e);
fail:
    db_tx_abort(db);
    return -1;
}

typedef struct { int (*each)(const DbPrompt *, void *); void *ud; } PromptCb;
static int prompt_row(sqlite3_stmt *st, void *ud) {
    PromptCb *c = ud;
    DbPrompt p = {.id = col_i64(st, 0), .session_id = col_i64(st, 1), .position = col_int(st, 2),
                  .prompt_set = col_text(st, 3), .text = col_str(st, 4), .created_ms = col_i64(st, 5)};
    return c->each(&p, c->ud);
}
int db_prompts_each(Db *db, int64_t session_id, int (*each)(const DbPrompt *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_PROMPTS_OF, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, session_id);
    PromptCb c = {each, ud};
    return each_row(db, st, prompt_row, &c, e) < 0 ? -1 : 0;
}
int db_prompt_get(Db *db, int64_t id, int (*each)(const DbPrompt *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_PROMPT_GET, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    PromptCb c = {each, ud};
    int n = each_row(db, st, prompt_row, &c, e);
    return n < 0 ? -1 : n > 0;
}

/* ---------- pairs ---------- */

int db_pair_add(Db *db, const DbPair *p, int64_t *id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_PAIR_INSERT, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, p->session_id);
    sqlite3_bind_int64(st, 2, p->prompt_id);
    sqlite3_bind_int(st, 3, p->rep);
    sqlite3_bind_int64(st, 4, p->model_id[0]);
    sqlite3_bind_int64(st, 5, p->model_id[1]);
    sqlite3_bind_int(st, 6, p->left_slot);
    sqlite3_bind_int(st, 7, p->blind);
    sqlite3_bind_int64(st, 8, p->created_ms ? p->created_ms : wall_time_ms());
    sqlite3_bind_text(st, 9, p->pacing, -1, SQLITE_STATIC);
    return write_one(db, st, id, NULL, e);
}

/* ---------- studies ---------- */

int db_study_add(Db *db, const DbStudy *s, int64_t *id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_STUDY_INSERT, e);
    if (!st) return -1;
    bind_text(st, par(st, ":name"), s->name);
    bind_text(st, par(st, ":prompt_set"), s->prompt_set);
    bind_text(st, par(st, ":sha"), s->prompts_sha256);
    sqlite3_bind_int(st, par(st, ":n"), s->n_prompts);
    bind_text(st, par(st, ":sampling"), s->sampling);
    sqlite3_bind_int(st, par(st, ":blind"), s->blind);
    bind_text(st, par(st, ":pacing"), s->pacing);
    bind_text(st, par(st, ":source"), s->source);
    sqlite3_bind_int64(st, par(st, ":created"), s->created_ms ? s->created_ms : wall_time_ms());
    return write_one(db, st, id, NULL, e);
}

typedef struct { int (*each)(const DbStudy *, void *); void *ud; } StudyCb;
static int study_row(sqlite3_stmt *st, void *ud) {
    StudyCb *c = ud;
    DbStudy s = {.id = col_i64(st, 0), .name = col_str(st, 1), .prompt_set = col_str(st, 2),
                 .prompts_sha256 = col_str(st, 3), .n_prompts = col_int(st, 4), .sampling = col_str(st, 5),
                 .blind = col_int(st, 6) != 0, .pacing = col_str(st, 7), .source = col_str(st, 8),
                 .created_ms = col_i64(st, 9)};
    return c->each(&s, c->ud);
}
static int studies_query(Db *db, DbStmt id, int (*bind)(sqlite3_stmt *, const void *), const void *arg,
                         int (*each)(const DbStudy *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, id, e);
    if (!st) return -1;
    bind(st, arg);
    StudyCb c = {each, ud};
    int n = each_row(db, st, study_row, &c, e);
    return n < 0 ? -1 : n > 0;
}
int db_study_by_name(Db *db, const char *name, int (*each)(const DbStudy *, void *), void *ud, LabErr *e) {
    return studies_query(db, ST_STUDY_BY_NAME, bind_name, name, each, ud, e);
}
int db_study_by_id(Db *db, int64_t id, int (*each)(const DbStudy *, void *), void *ud, LabErr *e) {
    return studies_query(db, ST_STUDY_BY_ID, bind_id, &id, each, ud, e);
}

int db_pair_fail(Db *db, int64_t id, const char *error, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_PAIR_FAIL, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, par(st, ":id"), id);
    bind_text(st, par(st, ":error"), error);
    int changes = 0;
    if (write_one(db, st, NULL, &changes, e)) return -1;
    return changes ? 0 : lab_err(e, LAB_ENOTFOUND, "%s: no pair %lld", db->path, (long long)id);
}

static int pair_row(sqlite3_stmt *st, void *ud) {
    DbPair *p = ud;
    *p = (DbPair){.id = col_i64(st, 0), .session_id = col_i64(st, 1), .prompt_id = col_i64(st, 2),
                  .rep = col_int(st, 3), .model_id = {col_i64(st, 4), col_i64(st, 5)}, .left_slot = col_int(st, 6),
                  .blind = col_int(st, 7) != 0, .created_ms = col_i64(st, 8),
                  .response_id = {col_i64(st, 9), col_i64(st, 10)},
                  .failed = sqlite3_column_type(st, 12) != SQLITE_NULL};
    snprintf(p->pacing, sizeof p->pacing, "%s", col_str(st, 11));
    return 1;
}
int db_pair_find(Db *db, int64_t session_id, int64_t prompt_id, int rep, DbPair *out, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_PAIR_FIND, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, session_id);
    sqlite3_bind_int64(st, 2, prompt_id);
    sqlite3_bind_int(st, 3, rep);
    int n = each_row(db, st, pair_row, out, e);
    return n < 0 ? -1 : n > 0;
}
int db_pair_get(Db *db, int64_t id, DbPair *out, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_PAIR_GET, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int n = each_row(db, st, pair_row, out, e);
    return n < 0 ? -1 : n > 0;
}

/* ---------- responses ---------- */

static char *ids_text(const int *ids, size_t n) {
    if (n == 0) return strdup("");
    Buf b = {0};
    for (size_t i = 0; i < n; i++)
        if (buf_printf(&b, i ? " %d" : "%d", ids[i])) {
            buf_free(&b);
            return NULL;
        }
    return buf_steal(&b);
}

int db_response_add(Db *db, const DbResponse *r, int64_t *id, LabErr *e) {
    char *ids = ids_text(r->token_ids, r->n_token_ids);
    if (!ids) return lab_err(e, LAB_ENOMEM, "out of memory");
    sqlite3_stmt *st = db_stmt(db, ST_RESPONSE_INSERT, e);
    if (!st) {
        free(ids);
        return -1;
    }
    int k = 1;
    sqlite3_bind_int64(st, k++, r->pair_id);
    sqlite3_bind_int(st, k++, r->slot);
    sqlite3_bind_int64(st, k++, r->model_id);
    sqlite3_bind_int(st, k++, r->side);
    sqlite3_bind_double(st, k++, r->temp);
    sqlite3_bind_int(st, k++, r->top_k);
    sqlite3_bind_double(st, k++, r->top_p);
    sqlite3_bind_double(st, k++, r->min_p);
    sqlite3_bind_double(st, k++, r->repeat_penalty);
    sqlite3_bind_int(st, k++, r->repeat_last_n);
    sqlite3_bind_int(st, k++, r->max_tokens);
    sqlite3_bind_int64(st, k++, r->seed);
    bind_text(st, k++, r->output ? r->output : "");
    bind_text(st, k++, ids);
    sqlite3_bind_int(st, k++, r->n_prompt);
    sqlite3_bind_int(st, k++, r->n_gen);
    bind_text(st, k++, r->stop_reason ? r->stop_reason : "");
    double d[] = {r->ttft_ms, r->prefill_ms, r->decode_tok_s, r->p50_ms, r->p95_ms, r->total_ms};
    for (int i = 0; i < 6; i++) sqlite3_bind_double(st, k++, d[i]);
    int64_t b[] = {r->bytes_weights_mapped, r->bytes_weights_owned, r->bytes_kv, r->bytes_scratch, r->peak_rss};
    for (int i = 0; i < 5; i++) sqlite3_bind_int64(st, k++, b[i]);
    sqlite3_bind_int(st, k++, r->threads);
    bind_text(st, k++, r->build_version ? r->build_version : "");
    bind_text(st, k++, r->cpu_model ? r->cpu_model : "");
    sqlite3_bind_int64(st, k++, r->created_ms ? r->created_ms : wall_time_ms());
    if (!r->chat_mode || !*r->chat_mode) {
        int rc = write_one(db, st, id, NULL, e); /* a second response for the pair and slot: LAB_EINVAL */
        free(ids);
        return rc;
    }
    /* the response and its turn in one transaction */
    sqlite3_stmt *tt = db_stmt(db, ST_TURN_INSERT, e);
    if (!tt || db_tx_begin(db, e)) {
        sqlite3_reset(st);
        free(ids);
        return -1;
    }
    int64_t rid = 0;
    const char *failed_sql = NULL;
    if (sqlite3_step(st) != SQLITE_DONE) failed_sql = sqlite3_sql(st);
    else {
        rid = sqlite3_last_insert_rowid(db->h);
        sqlite3_bind_int64(tt, 1, rid);
        bind_text(tt, 2, r->chat_mode);
        bind_text(tt, 3, r->messages_json ? r->messages_json : "[]");
        bind_text(tt, 4, r->prompt_text ? r->prompt_text : "");
        sqlite3_bind_int64(tt, 5, r->conversation_id ? r->conversation_id : r->pair_id);
        sqlite3_bind_int(tt, 6, r->turn);
        if (sqlite3_step(tt) != SQLITE_DONE) failed_sql = sqlite3_sql(tt);
    }
    if (failed_sql) db_fail(db, failed_sql, e);
    sqlite3_reset(st);
    sqlite3_reset(tt);
    free(ids);
    if (failed_sql) {
        db_tx_abort(db);
        return -1;
    }
    if (id) *id = rid;
    return db_tx_commit(db, e);
}

typedef struct {
    int (*each)(const DbResponse *, void *);
    void *ud;
    IntVec ids;
    LabErr *e;
    int err;
} ResponseCb;
static int response_row(sqlite3_stmt *st, void *ud) {
    ResponseCb *c = ud;
    c->ids.n = 0;
    const char *t = col_str(st, 14);
    while (*t) {
        char *end;
        long v = strtol(t, &end, 10);
        if (end == t) break;
        if (ivec_push(&c->ids, (int)v)) {
            c->err = lab_err(c->e, LAB_ENOMEM, "out of memory");
            return 1;
        }
        t = end;
    }
    int k = 0;
    DbResponse r = {0};
    r.id = col_i64(st, k++);
    r.pair_id = col_i64(st, k++);
    r.model_id = col_i64(st, k++);
    r.slot = col_int(st, k++);
    r.side = col_int(st, k++);
    r.temp = col_dbl(st, k++);
    r.top_p = col_dbl(st, k++);
    r.min_p = col_dbl(st, k++);
    r.repeat_penalty = col_dbl(st, k++);
    r.top_k = col_int(st, k++);
    r.repeat_last_n = col_int(st, k++);
    r.max_tokens = col_int(st, k++);
    r.seed = col_i64(st, k++);
    r.output = col_str(st, k++);
    k++; /* token ids, parsed above */
    r.token_ids = c->ids.v;
    r.n_token_ids = c->ids.n;
    r.n_prompt = col_int(st, k++);
    r.n_gen = col_int(st, k++);
    r.stop_reason = col_str(st, k++);
    r.ttft_ms = col_dbl(st, k++);
    r.prefill_ms = col_dbl(st, k++);
    r.decode_tok_s = col_dbl(st, k++);
    r.p50_ms = col_dbl(st, k++);
    r.p95_ms = col_dbl(st, k++);
    r.total_ms = col_dbl(st, k++);
    r.bytes_weights_mapped = col_i64(st, k++);
    r.bytes_weights_owned = col_i64(st, k++);
    r.bytes_kv = col_i64(st, k++);
    r.bytes_scratch = col_i64(st, k++);
    r.peak_rss = col_i64(st, k++);
    r.threads = col_int(st, k++);
    r.build_version = col_str(st, k++);
    r.cpu_model = col_str(st, k++);
    r.created_ms = col_i64(st, k++);
    r.session_id = col_i64(st, k++);
    r.prompt_id = col_i64(st, k++);
    r.rep = col_int(st, k++);
    r.prompt_position = col_int(st, k++);
    r.session_name = col_str(st, k++);
    r.prompt = col_str(st, k++);
    r.model_name = col_str(st, k++);
    r.blind = col_int(st, k++) != 0;
    r.chat_mode = col_str(st, k++);
    r.messages_json = col_str(st, k++);
    r.prompt_text = col_str(st, k++);
    r.conversation_id = col_i64(st, k++);
    r.turn = col_int(st, k++);
    r.source_id = col_i64(st, k++);
    return c->each(&r, c->ud);
}
int db_responses_each(Db *db, int64_t session_id, int64_t response_id, int (*each)(const DbResponse *, void *),
                      void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_RESPONSES, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, session_id);
    sqlite3_bind_int64(st, 2, response_id);
    ResponseCb c = {.each = each, .ud = ud, .e = e};
    int n = each_row(db, st, response_row, &c, e);
    ivec_free(&c.ids);
    return n < 0 || c.err ? -1 : 0;
}

/* ---------- ratings ---------- */

int db_rating_set(Db *db, const DbRating *r, int64_t *id, int64_t *revision_id, LabErr *e) {
    if (db_tx_begin(db, e)) return -1;
    sqlite3_stmt *st = db_stmt(db, ST_RATING_UPSERT, e);
    if (!st) goto fail;
    int64_t now = r->created_ms ? r->created_ms : wall_time_ms();
    sqlite3_bind_int64(st, 1, r->pair_id);
    bind_text(st, 2, r->participant ? r->participant : "");
    bind_text(st, 3, r->choice);
    if (r->winner_model_id) sqlite3_bind_int64(st, 4, r->winner_model_id);
    if (r->chosen_side >= 0) sqlite3_bind_int(st, 5, r->chosen_side);
    for (int s = 0; s < 2; s++)
        if (r->score[s]) sqlite3_bind_int(st, 6 + s, r->score[s]);
    bind_text(st, 8, r->tags && *r->tags ? r->tags : NULL);
    bind_text(st, 9, r->comment && *r->comment ? r->comment : NULL);
    if (r->decide_ms >= 0) sqlite3_bind_double(st, 10, r->decide_ms);
    sqlite3_bind_int64(st, 11, now);
    int64_t rid;
    if (one_int(db, st, &rid, e) != 1) {
        if (e && !e->msg[0]) lab_err(e, LAB_EDB, "%s: the rating was not stored (SQL: %s)", db->path, sqlite3_sql(st));
        goto fail;
    }
    if (!(st = db_stmt(db, ST_REVISION_INSERT, e))) goto fail;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, now);
    if (db_step_done(db, st, e)) goto fail;
    int64_t rev = sqlite3_last_insert_rowid(db->h);
    if (db_tx_commit(db, e)) return -1;
    if (id) *id = rid;
    if (revision_id) *revision_id = rev;
    return 0;
fail:
    db_tx_abort(db);
    return -1;
}

int db_rating_add(Db *db, const DbRating *r, int64_t *id, LabErr *e) { return db_rating_set(db, r, id, NULL, e); }

int db_rating_undo(Db *db, int64_t revision_id, int64_t *pair_id, LabErr *e) {
    if (db_tx_begin(db, e)) return -1;
    sqlite3_stmt *st = db_stmt(db, ST_REVISION_GET, e);
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, revision_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) lab_err(e, LAB_ENOTFOUND, "%s: no rating change %lld", db->path, (long long)revision_id);
        else db_fail(db, sqlite3_sql(st), e);
        sqlite3_reset(st);
        goto fail;
    }
    int64_t rating = col_i64(st, 0), pair = col_i64(st, 1);
    bool undone = col_int(st, 2) != 0;
    sqlite3_reset(st);
    if (undone) {
        lab_err(e, LAB_ENOTFOUND, "%s: rating change %lld was already undone", db->path, (long long)revision_id);
        goto fail;
    }
    int64_t latest;
    if (!(st = db_stmt(db, ST_REVISION_LATEST, e))) goto fail;
    sqlite3_bind_int64(st, 1, rating);
    if (one_int(db, st, &latest, e) < 0) goto fail;
    if (latest != revision_id) {
        lab_err(e, LAB_EINVAL, "%s: rating %lld changed after change %lld: step back the later change first", db->path,
                (long long)rating, (long long)revision_id);
        goto fail;
    }
    if (!(st = db_stmt(db, ST_REVISION_UNDO, e))) goto fail;
    sqlite3_bind_int64(st, 1, revision_id);
    sqlite3_bind_int64(st, 2, wall_time_ms());
    if (db_step_done(db, st, e)) goto fail;
    if (!(st = db_stmt(db, ST_REVISION_LATEST, e))) goto fail;
    sqlite3_bind_int64(st, 1, rating);
    if (one_int(db, st, &latest, e) < 0) goto fail;
    if (latest) {
        if (!(st = db_stmt(db, ST_RATING_RESTORE, e))) goto fail;
        sqlite3_bind_int64(st, 1, rating);
        sqlite3_bind_int64(st, 2, latest);
    } else {
        if (!(st = db_stmt(db, ST_RATING_DELETE, e))) goto fail;
        sqlite3_bind_int64(st, 1, rating);
    }
    if (db_step_done(db, st, e)) goto fail;
    if (db_tx_commit(db, e)) return -1;
    if (pair_id) *pair_id = pair;
    return latest != 0;
fail:
    db_tx_abort(db);
    return -1;
}

typedef struct { int (*each)(const DbRatingRevision *, void *); void *ud; } RevisionCb;
static int revision_row(sqlite3_stmt *st, void *ud) {
    RevisionCb *c = ud;
    DbRatingRevision v = {
        .id = col_i64(st, 0), .rating_id = col_i64(st, 1), .pair_id = col_i64(st, 2), .participant = col_str(st, 3),
        .choice = col_str(st, 4), .winner_model_id = col_i64(st, 5),
        .chosen_side = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : col_int(st, 6),
        .score = {col_int(st, 7), col_int(st, 8)}, .tags = col_text(st, 9), .comment = col_text(st, 10),
        .decide_ms = sqlite3_column_type(st, 11) == SQLITE_NULL ? -1.0 : col_dbl(st, 11),
        .created_ms = col_i64(st, 12), .undone_ms = col_i64(st, 13),
    };
    return c->each(&v, c->ud);
}
int db_rating_revisions_each(Db *db, int64_t rating_id, int (*each)(const DbRatingRevision *, void *), void *ud,
                             LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_REVISIONS, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, rating_id);
    RevisionCb c = {each, ud};
    return each_row(db, st, revision_row, &c, e) < 0 ? -1 : 0;
}

int db_rating_delete(Db *db, int64_t id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_RATING_DELETE, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int changes = 0;
    if (write_one(db, st, NULL, &changes, e)) return -1;
    return changes ? 0 : lab_err(e, LAB_ENOTFOUND, "%s: no rating %lld", db->path, (long long)id);
}

typedef struct { int (*each)(const DbRating *, void *); void *ud; } RatingCb;
static int rating_row(sqlite3_stmt *st, void *ud) {
    RatingCb *c = ud;
    DbRating r = {
        .id = col_i64(st, 0), .pair_id = col_i64(st, 1), .participant = col_str(st, 2), .choice = col_str(st, 3),
        .winner_model_id = col_i64(st, 4),
        .chosen_side = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : col_int(st, 5),
        .score = {col_int(st, 6), col_int(st, 7)}, .tags = col_text(st, 8), .comment = col_text(st, 9),
        .decide_ms = sqlite3_column_type(st, 10) == SQLITE_NULL ? -1.0 : col_dbl(st, 10),
        .created_ms = col_i64(st, 11), .session_id = col_i64(st, 12), .prompt_id = col_i64(st, 13),
        .model_id = {col_i64(st, 14), col_i64(st, 15)}, .rep = col_int(st, 16), .left_slot = col_int(st, 17),
        .blind = col_int(st, 18) != 0, .session_name = col_str(st, 19),
        .model_name = {col_str(st, 20), col_str(st, 21)}, .prompt = col_str(st, 22),
        .pacing = col_str(st, 23), .source_id = col_i64(st, 24),
    };
    return c->each(&r, c->ud);
}
int db_ratings_each(Db *db, int64_t session_id, bool latest_only, int (*each)(const DbRating *, void *), void *ud,
                    LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, latest_only ? ST_RATINGS_LATEST : ST_RATINGS, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, session_id);
    RatingCb c = {each, ud};
    return each_row(db, st, rating_row, &c, e) < 0 ? -1 : 0;
}

int db_rating_of(Db *db, int64_t pair_id, const char *participant, int (*each)(const DbRating *, void *), void *ud,
                 LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_RATING_OF, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, 0);
    sqlite3_bind_int64(st, 2, pair_id);
    bind_text(st, 3, participant ? participant : "");
    RatingCb c = {each, ud};
    int n = each_row(db, st, rating_row, &c, e);
    return n < 0 ? -1 : n > 0;
}

/* ---------- history ---------- */

typedef struct { int (*each)(const DbPairRow *, void *); void *ud; } PairRowCb;
static int pairrow_row(sqlite3_stmt *st, void *ud) {
    PairRowCb *c = ud;
    DbPairRow r = {
        .pair_id = col_i64(st, 0), .session_id = col_i64(st, 1), .prompt_id = col_i64(st, 2), .rep = col_int(st, 3),
        .left_slot = col_int(st, 4), .blind = col_int(st, 5) != 0, .created_ms = col_i64(st, 6),
        .session_name = col_str(st, 7), .prompt = col_str(st, 8), .output = {col_text(st, 9), col_text(st, 10)},
        .model_name = {col_str(st, 11), col_str(st, 12)}, .n_ratings = col_int(st, 13), .last_choice = col_text(st, 14),
    };
    return c->each(&r, c->ud);
}
int db_pairs_each(Db *db, const char *search, int64_t session_id, int limit, int offset,
                  int (*each)(const DbPairRow *, void *), void *ud, LabErr *e) {
    bool fts = search && *search;
    sqlite3_stmt *st = db_stmt(db, fts ? ST_PAIRS_SEARCH : ST_PAIRS_ALL, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, session_id);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    sqlite3_bind_int(st, 3, offset > 0 ? offset : 0);
    if (fts) bind_text(st, 4, search);
    PairRowCb c = {each, ud};
    if (each_row(db, st, pairrow_row, &c, e) < 0) {
        /* FTS5 reports a malformed query as a plain SQLITE_ERROR: make that a usage error */
        if (fts && e && e->code == LAB_EDB) e->code = LAB_EINVAL;
        return -1;
    }
    return 0;
}

/* ---------- evaluations and benchmarks ---------- */

int db_eval_add(Db *db, const DbEval *v, int64_t *id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_EVAL_INSERT, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, v->model_id);
    bind_text(st, 2, v->dataset);
    bind_text(st, 3, v->metric);
    sqlite3_bind_double(st, 4, v->value);
    sqlite3_bind_int64(st, 5, v->n_tokens);
    bind_text(st, 6, v->details_json);
    bind_text(st, 7, v->build_version);
    sqlite3_bind_int64(st, 8, v->created_ms ? v->created_ms : wall_time_ms());
    return write_one(db, st, id, NULL, e);
}

typedef struct { int (*each)(const DbEval *, void *); void *ud; } EvalCb;
static int eval_row(sqlite3_stmt *st, void *ud) {
    EvalCb *c = ud;
    DbEval v = {.id = col_i64(st, 0), .model_id = col_i64(st, 1), .dataset = col_str(st, 2), .metric = col_str(st, 3),
                .value = col_dbl(st, 4), .n_tokens = col_i64(st, 5), .details_json = col_text(st, 6),
                .build_version = col_text(st, 7), .created_ms = col_i64(st, 8)};
    return c->each(&v, c->ud);
}
int db_evals_each(Db *db, int (*each)(const DbEval *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_EVALS, e);
    EvalCb c = {each, ud};
    return st && each_row(db, st, eval_row, &c, e) >= 0 ? 0 : -1;
}

int db_bench_add(Db *db, const DbBench *b, int64_t *id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_BENCH_INSERT, e);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, b->model_id);
    bind_text(st, 2, b->name);
    sqlite3_bind_int(st, 3, b->threads);
    sqlite3_bind_int(st, 4, b->n_prompt);
    sqlite3_bind_int(st, 5, b->n_gen);
    sqlite3_bind_double(st, 6, b->prefill_tok_s);
    sqlite3_bind_double(st, 7, b->decode_tok_s);
    sqlite3_bind_double(st, 8, b->ttft_ms);
    sqlite3_bind_int64(st, 9, b->peak_rss);
    bind_text(st, 10, b->cpu_model);
    bind_text(st, 11, b->build_version);
    bind_text(st, 12, b->details_json);
    sqlite3_bind_int64(st, 13, b->created_ms ? b->created_ms : wall_time_ms());
    return write_one(db, st, id, NULL, e);
}

typedef struct { int (*each)(const DbBench *, void *); void *ud; } BenchCb;
static int bench_row(sqlite3_stmt *st, void *ud) {
    BenchCb *c = ud;
    DbBench b = {.id = col_i64(st, 0), .model_id = col_i64(st, 1), .name = col_str(st, 2), .threads = col_int(st, 3),
                 .n_prompt = col_int(st, 4), .n_gen = col_int(st, 5), .prefill_tok_s = col_dbl(st, 6),
                 .decode_tok_s = col_dbl(st, 7), .ttft_ms = col_dbl(st, 8), .peak_rss = col_i64(st, 9),
                 .cpu_model = col_text(st, 10), .build_version = col_text(st, 11), .details_json = col_text(st, 12),
                 .created_ms = col_i64(st, 13)};
    return c->each(&b, c->ud);
}
int db_benches_each(Db *db, int (*each)(const DbBench *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_BENCHES, e);
    BenchCb c = {each, ud};
    return st && each_row(db, st, bench_row, &c, e) >= 0 ? 0 : -1;
}

/* ---------- scale measurements ---------- */

static void bind_id_or_null(sqlite3_stmt *st, const char *name, int64_t id) {
    int i = sqlite3_bind_parameter_index(st, name);
    if (id > 0) sqlite3_bind_int64(st, i, id);
    else sqlite3_bind_null(st, i);
}

int db_scale_add(Db *db, const DbScale *s, int64_t *id, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_SCALE_INSERT, e);
    if (!st) return -1;
#define I64(n, v) sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":" n), (v))
#define DBL(n, v) sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":" n), (v))
#define TXT(n, v) bind_text(st, sqlite3_bind_parameter_index(st, ":" n), (v))
    I64("model_id", s->model_id);
    TXT("corpus", s->corpus);
    TXT("corpus_sha256", s->corpus_sha256);
    I64("ctx", s->ctx);
    I64("threads", s->threads);
    I64("n_prompt", s->n_prompt);
    I64("n_gen", s->n_gen);
    I64("reps", s->reps);
    I64("n_params", s->n_params);
    I64("n_params_nonemb", s->n_params_nonemb);
    I64("bytes_on_disk", s->bytes_on_disk);
    I64("bytes_resident", s->bytes_resident);
    DBL("load_ms", s->load_ms);
    DBL("prefill_tok_s", s->prefill_tok_s);
    DBL("decode_tok_s", s->decode_tok_s);
    DBL("bits_per_byte", s->bits_per_byte);
    DBL("token_ppl", s->token_ppl);
    I64("n_tokens", s->n_tokens);
    TXT("cpu_model", s->cpu_model);
    TXT("build_version", s->build_version);
    I64("created_ms", s->created_ms ? s->created_ms : wall_time_ms());
#undef I64
#undef DBL
#undef TXT
    bind_id_or_null(st, ":eval_id", s->eval_id);
    bind_id_or_null(st, ":prefill_bench_id", s->prefill_bench_id);
    bind_id_or_null(st, ":decode_bench_id", s->decode_bench_id);
    return write_one(db, st, id, NULL, e);
}

typedef struct { int (*each)(const DbScale *, void *); void *ud; } ScaleCb;
static int scale_row(sqlite3_stmt *st, void *ud) {
    ScaleCb *c = ud;
    DbScale s = {.id = col_i64(st, 0), .model_id = col_i64(st, 1), .corpus = col_str(st, 2),
                 .corpus_sha256 = col_str(st, 3), .ctx = col_int(st, 4), .threads = col_int(st, 5),
                 .n_prompt = col_int(st, 6), .n_gen = col_int(st, 7), .reps = col_int(st, 8),
                 .n_params = col_i64(st, 9), .n_params_nonemb = col_i64(st, 10), .bytes_on_disk = col_i64(st, 11),
                 .bytes_resident = col_i64(st, 12), .load_ms = col_dbl(st, 13), .prefill_tok_s = col_dbl(st, 14),
                 .decode_tok_s = col_dbl(st, 15), .bits_per_byte = col_dbl(st, 16), .token_ppl = col_dbl(st, 17),
                 .n_tokens = col_i64(st, 18), .eval_id = col_i64(st, 19), .prefill_bench_id = col_i64(st, 20),
                 .decode_bench_id = col_i64(st, 21), .cpu_model = col_str(st, 22), .build_version = col_str(st, 23),
                 .created_ms = col_i64(st, 24), .model_path = col_str(st, 25), .model_name = col_str(st, 26),
                 .dtype = col_str(st, 27), .weights_sha256 = col_str(st, 28)};
    return c->each(&s, c->ud);
}
int db_scales_each(Db *db, int (*each)(const DbScale *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_SCALES, e);
    ScaleCb c = {each, ud};
    return st && each_row(db, st, scale_row, &c, e) >= 0 ? 0 : -1;
}

/* ---------- settings and history ---------- */

int db_setting_get(Db *db, const char *key, char **value, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_SETTING_GET, e);
    if (!st) return -1;
    bind_text(st, 1, key);
    int rc = sqlite3_step(st), found = 0;
    *value = NULL;
    if (rc == SQLITE_ROW) {
        if (!(*value = strdup(col_str(st, 0)))) found = lab_err(e, LAB_ENOMEM, "out of memory");
        else found = 1;
    } else if (rc != SQLITE_DONE) {
        found = db_fail(db, sqlite3_sql(st), e);
    }
    sqlite3_reset(st);
    return found;
}

int db_setting_set(Db *db, const char *key, const char *value, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_SETTING_SET, e);
    if (!st) return -1;
    bind_text(st, 1, key);
    bind_text(st, 2, value);
    return write_one(db, st, NULL, NULL, e);
}

int db_history_add(Db *db, const char *text, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_HISTORY_ADD, e);
    if (!st) return -1;
    bind_text(st, 1, text);
    sqlite3_bind_int64(st, 2, wall_time_ms());
    return write_one(db, st, NULL, NULL, e);
}

typedef struct { int (*each)(const char *, void *); void *ud; } HistCb;
static int hist_row(sqlite3_stmt *st, void *ud) {
    HistCb *c = ud;
    return c->each(col_str(st, 0), c->ud);
}
int db_history_each(Db *db, int limit, int (*each)(const char *, void *), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_HISTORY, e);
    if (!st) return -1;
    sqlite3_bind_int(st, 1, limit > 0 ? limit : -1);
    HistCb c = {each, ud};
    return each_row(db, st, hist_row, &c, e) < 0 ? -1 : 0;
}

/* ---------- sources (schema 11) ---------- */

typedef struct { int (*each)(const DbSource *, void *); void *ud; } SourceCb;
static int source_row(sqlite3_stmt *st, void *ud) {
    SourceCb *c = ud;
    DbSource x = {.id = col_i64(st, 0), .uuid = col_str(st, 1), .host = col_str(st, 2), .origin = col_str(st, 3),
                  .is_self = col_int(st, 4) == 1, .file = col_str(st, 5), .schema_version = col_int(st, 6)};
    return c->each(&x, c->ud);
}
int db_sources_each(Db *db, int (*each)(const DbSource *s, void *ud), void *ud, LabErr *e) {
    sqlite3_stmt *st = db_stmt(db, ST_SOURCES, e);
    if (!st) return -1;
    SourceCb c = {each, ud};
    return each_row(db, st, source_row, &c, e) < 0 ? -1 : 0;
}
