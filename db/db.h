/* ablab's record: one SQLite file with the models, sessions, prompts, response pairs, ratings,
 * evaluations and benchmarks. Plain row structs in, plain row structs out; no SQLite types leak.
 *
 * Durability rules (README "The record"): every open sets and reads back foreign_keys=ON,
 * journal_mode=WAL, synchronous=FULL and busy_timeout=5000; every write is one BEGIN IMMEDIATE
 * transaction that is committed before the function returns, and on any failure rolled back when
 * SQLite left it open (sqlite3_get_autocommit) — nothing carries on outside a transaction.
 * Errors fill LabErr with the file, SQLite's message and the SQL that failed; the code says what
 * the caller can do: LAB_EFULL (disk or database full), LAB_EBUSY (locked past the busy timeout),
 * LAB_EIO, LAB_ENOMEM: retry later with the same row; LAB_EDB: anything else.
 *
 * A Db is used from one thread at a time (the lab serializes). Row pointers handed to a callback
 * are valid during that callback only; callbacks must not call back into the same Db. */
#ifndef ABLAB_DB_H
#define ABLAB_DB_H

#include "base.h"

typedef struct Db Db;

#define DB_APPLICATION_ID 0x41624c62  /* "AbLb" in the file header: marks an ablab record */
#define DB_SCHEMA_VERSION 11          /* PRAGMA user_version of a current file */

/* Opens (creating if missing) and migrates the record. Refuses, without writing to it, a file of a
 * newer ablab (user_version above ours: LAB_EUNSUPPORTED) and a foreign file (another
 * application_id, or tables but no id: LAB_EFORMAT). Before migrating a non-empty older file it
 * writes a copy with VACUUM INTO beside it ("FILE.v<N>.bak"); each migration step is one
 * transaction. *out is NULL on error. */
int  db_open(Db **out, const char *path, LabErr *e);
/* How db_open_mode may open a file. Every mode first reads an existing file on a read-only
 * connection and refuses it, unchanged (same bytes; no WAL switch, no backup), when it is foreign
 * (LAB_EFORMAT), newer (LAB_EUNSUPPORTED), at a version no ablab writes (negative, or tables at
 * version 0: LAB_EFORMAT), damaged (PRAGMA quick_check: LAB_EFORMAT), missing a table its version
 * has (LAB_EFORMAT), or holding a value the current schema refuses (LAB_EFORMAT naming the table,
 * row and column). Only then does DB_WRITE reopen it for writing, set the pragmas and migrate. */
typedef enum {
    DB_WRITE,            /* the lab, run, rate: a file that is not writable is refused (LAB_EIO) */
    DB_READ_IF_NEEDED,   /* stats, export, the lab's browsing: writable files as DB_WRITE; a file
                            that is not writable (chmod 444, read-only medium) stays on the
                            read-only connection (no pragma is written) if it is at the current
                            version — an older one is refused (it cannot be migrated in place) */
    DB_READ,             /* always read-only (same rule for older files) */
    DB_SNAPSHOT,         /* read-only, for `merge`: a file at the current version is read as DB_READ;
                            an older one is copied (SQLite's backup API, from the read-only
                            connection) into a private temporary file that is migrated and read
                            instead, and removed by db_close: the file itself is never written */
} DbMode;
int  db_open_mode(Db **out, const char *path, DbMode mode, LabErr *e);
/* The schema version the file had when opened (before any migration of it or of its snapshot). */
int  db_opened_version(const Db *db);
/* True when the file was opened read-only: every write fails with LAB_EIO saying so. */
bool db_read_only(const Db *db);
void db_close(Db *db);                             /* NULL-safe; finalizes every statement */
const char *db_path(const Db *db);
/* The backup written by the last db_open's migration (NULL if none was needed). */
const char *db_backup_path(const Db *db);
/* PRAGMA integrity_check: 0 if "ok", else -1 with the first problem in e. */
int  db_integrity_check(Db *db, LabErr *e);

/* ---------- models ---------- */
typedef struct {
    int64_t id;
    const char *path, *name, *arch, *format, *dtype, *file_dtype, *tokenizer_kind;
    const char *weights_sha256, *tokenizer_sha256;  /* 64 hex chars */
    int64_t n_params;
    int n_layer, n_head, n_kv_head, dim, vocab, ctx_max;
    int64_t bytes_on_disk, bytes_mapped, bytes_owned;
    double load_ms;
    const char *adapters;   /* LoRA adapters applied at load: "" (or NULL) for none, else a JSON list of
                               {name, format, sha256, scale, effective_scale} in order (schema v10) */
} DbModel;
/* Finds the model with the same path, hashes, dtype and adapters (updating its load time and sizes) or adds
 * it; *id is its row. */
int  db_model_upsert(Db *db, const DbModel *m, int64_t *id, LabErr *e);
/* each() gets every model (id order); return nonzero from it to stop. */
int  db_models_each(Db *db, int (*each)(const DbModel *m, void *ud), void *ud, LabErr *e);

/* A file's sha256 remembered by (path, size, mtime) so a big model is hashed once.
 * db_file_hash_get returns 1 with out filled when the stored entry matches, 0 if not. */
int  db_file_hash_get(Db *db, const char *path, int64_t size, int64_t mtime_ns, char out[65], LabErr *e);
int  db_file_hash_put(Db *db, const char *path, int64_t size, int64_t mtime_ns, const char *sha, LabErr *e);

/* ---------- sessions ---------- */
typedef struct {
    int64_t id;
    const char *name, *kind, *participant, *prompt_set, *notes, *build_version, *cpu_model;
    bool blind, consent;
    int64_t seed, started_ms, ended_ms;   /* ended_ms 0 while open */
    int64_t study_id;                     /* the study whose protocol it runs on; 0 = none */
    int64_t source_id;                    /* the machine it was recorded on (read only; schema 11) */
} DbSession;
int  db_session_add(Db *db, const DbSession *s, int64_t *id, LabErr *e);
/* 1 and each() called once if found, 0 if there is no such session. */
int  db_session_by_name(Db *db, const char *name, int (*each)(const DbSession *s, void *ud), void *ud, LabErr *e);
int  db_session_by_id(Db *db, int64_t id, int (*each)(const DbSession *s, void *ud), void *ud, LabErr *e);
int  db_session_end(Db *db, int64_t id, int64_t ended_ms, const char *notes, LabErr *e);
int  db_sessions_each(Db *db, int64_t only_id /* 0 = all */, int (*each)(const DbSession *s, void *ud), void *ud, LabErr *e);
/* Progress of a session: its prompts, its pairs with both responses, and its pairs rated by
 * `participant` (NULL = by anyone). */
int  db_session_counts(Db *db, int64_t id, const char *participant, int *n_prompts, int *n_complete,
                       int *n_rated, LabErr *e);

/* ---------- studies: the protocol every participant's session of a study runs on ---------- */
typedef struct {
    int64_t id;
    const char *name, *prompt_set;
    const char *prompts_sha256;  /* of the set's prompts, as the lab hashes them */
    int n_prompts;
    const char *sampling;        /* the settings table's rows: "temperature=0.8;top_k=40;...;seed=-1;" */
    bool blind;
    const char *pacing;          /* "together" or "natural" */
    const char *source;          /* where the protocol came from, in words */
    int64_t created_ms;
} DbStudy;
/* LAB_EINVAL (the constraint's message) when the name is taken or a field is out of range. */
int  db_study_add(Db *db, const DbStudy *s, int64_t *id, LabErr *e);
/* 1 and each() called once if found, 0 if there is no such study. */
int  db_study_by_name(Db *db, const char *name, int (*each)(const DbStudy *s, void *ud), void *ud, LabErr *e);
int  db_study_by_id(Db *db, int64_t id, int (*each)(const DbStudy *s, void *ud), void *ud, LabErr *e);

/* ---------- prompts ---------- */
/* Adds a prompt to a session at `position` (-1 = after the last). If the position is taken by the
 * same text, *id is that row (idempotent resume); by another text: LAB_EINVAL. */
int  db_prompt_add(Db *db, int64_t session_id, const char *prompt_set, int position, const char *text,
                   int64_t *id, LabErr *e);
typedef struct { int64_t id, session_id; int position; const char *prompt_set, *text; int64_t created_ms; } DbPrompt;
int  db_prompts_each(Db *db, int64_t session_id, int (*each)(const DbPrompt *p, void *ud), void *ud, LabErr *e);
/* 1 with each() called if found, 0 if not. */
int  db_prompt_get(Db *db, int64_t id, int (*each)(const DbPrompt *p, void *ud), void *ud, LabErr *e);

/* ---------- pairs (a prompt answered by models A and B) ---------- */
typedef struct {
    int64_t id, session_id, prompt_id;
    int rep;
    int64_t model_id[2];      /* by slot */
    int left_slot;            /* which slot was shown on the left */
    bool blind;
    int64_t created_ms;
    char pacing[12];          /* how the answers were revealed while written: "together", "natural",
                                 "" = not shown then (`ablab run`) */
    int64_t response_id[2];   /* by slot; 0 = not recorded (filled by the getters) */
    bool failed;              /* an error kept it from being answered (filled by the getters) */
} DbPair;
int  db_pair_add(Db *db, const DbPair *p, int64_t *id, LabErr *e);
/* 1 with *out filled if found, 0 if not. */
int  db_pair_find(Db *db, int64_t session_id, int64_t prompt_id, int rep, DbPair *out, LabErr *e);
int  db_pair_get(Db *db, int64_t id, DbPair *out, LabErr *e);
/* Records the error that kept a pair from being answered (a study then moves past it); NULL clears it. */
int  db_pair_fail(Db *db, int64_t id, const char *error, LabErr *e);

/* ---------- responses ---------- */
typedef struct {
    int64_t id, pair_id, model_id;
    int slot, side;                      /* model slot; side it was shown on */
    double temp, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n, max_tokens;
    int64_t seed;
    const char *output;
    const int *token_ids; size_t n_token_ids;
    int n_prompt, n_gen;
    const char *stop_reason;
    double ttft_ms, prefill_ms, decode_tok_s, p50_ms, p95_ms, total_ms;
    int64_t bytes_weights_mapped, bytes_weights_owned, bytes_kv, bytes_scratch, peak_rss;
    int threads;
    const char *build_version, *cpu_model;
    int64_t created_ms;
    /* the turn (schema 9; chat_mode NULL or "" = not recorded: responses of older files): how the
     * prompt was made ("raw" or "chat"), the messages the arm was given as a JSON array (its own
     * history, then the new user turn), the exact text the model was given, the conversation (the
     * id of its first pair) and this turn's index in it (0 = first) */
    const char *chat_mode, *messages_json, *prompt_text;
    int64_t conversation_id;
    int turn;
    int64_t source_id;                   /* the machine it was recorded on (read only; schema 11) */
    /* filled by queries only (joined): */
    int64_t session_id, prompt_id;
    int rep, prompt_position;
    const char *session_name, *prompt, *model_name;
    bool blind;
} DbResponse;
/* One transaction (the response and, when r->chat_mode is set, its turn); LAB_EINVAL if the pair
 * already has a response for that slot. */
int  db_response_add(Db *db, const DbResponse *r, int64_t *id, LabErr *e);
/* session_id 0 = all; response_id nonzero = only that one. Order: id. */
int  db_responses_each(Db *db, int64_t session_id, int64_t response_id,
                       int (*each)(const DbResponse *r, void *ud), void *ud, LabErr *e);

/* ---------- ratings ---------- */
typedef struct {
    int64_t id, pair_id;
    const char *participant;             /* "" = anonymous */
    const char *choice;                  /* resolved to models: "a", "b", "tie", "both-bad" */
    int64_t winner_model_id;             /* 0 for tie / both-bad */
    int chosen_side;                     /* side shown of the winner, -1 for tie / both-bad */
    int score[2];                        /* by slot, 1..5, 0 = none */
    const char *tags, *comment;
    double decide_ms;                    /* < 0 = unknown */
    int64_t created_ms;
    /* filled by queries only (joined): */
    int64_t session_id, prompt_id, model_id[2];
    int rep, left_slot;
    bool blind;
    const char *session_name, *model_name[2], *prompt;
    const char *pacing;                  /* the pair's: "together", "natural", "" = not recorded */
    int64_t source_id;                   /* the machine the rating was given on (schema 11) */
} DbRating;
/* Sets r->participant's rating of r->pair_id to r — adding it, or replacing every field of the
 * current one except created_ms — and appends that state to the rating's revisions, in one
 * BEGIN IMMEDIATE transaction committed before returning. *id (may be NULL) is the rating's row,
 * the same for every change of one participant's rating of a pair while it exists; *revision_id
 * (may be NULL) the revision this change added. */
int  db_rating_set(Db *db, const DbRating *r, int64_t *id, int64_t *revision_id, LabErr *e);
/* db_rating_set without the revision id. */
int  db_rating_add(Db *db, const DbRating *r, int64_t *id, LabErr *e);
int  db_rating_delete(Db *db, int64_t id, LabErr *e);   /* LAB_ENOTFOUND if no such rating */
/* Steps back the change `revision_id` made: marks it undone and gives its rating the state of the
 * rating's latest revision still standing, or removes the rating when none is left (the first
 * vote was undone). One transaction. Returns 1 when the rating still exists, 0 when it was
 * removed; LAB_ENOTFOUND if no such revision or it is already undone, LAB_EINVAL when a later
 * change of the same rating stands (step back that one first). *pair_id (may be NULL) gets the
 * rating's pair. */
int  db_rating_undo(Db *db, int64_t revision_id, int64_t *pair_id, LabErr *e);
/* The current rating of `participant` ("" = anonymous) for a pair: 1 with each() called, 0 if none. */
int  db_rating_of(Db *db, int64_t pair_id, const char *participant, int (*each)(const DbRating *r, void *ud),
                  void *ud, LabErr *e);
typedef struct {
    int64_t id, rating_id, pair_id;
    const char *participant, *choice;
    int64_t winner_model_id;
    int chosen_side;                     /* -1 for tie / both-bad */
    int score[2];                        /* by slot, 0 = none */
    const char *tags, *comment;          /* NULL if none */
    double decide_ms;                    /* < 0 = unknown */
    int64_t created_ms, undone_ms;       /* undone_ms 0 while it stands */
} DbRatingRevision;
/* Every revision (rating_id 0) or one rating's, oldest first. */
int  db_rating_revisions_each(Db *db, int64_t rating_id, int (*each)(const DbRatingRevision *v, void *ud), void *ud,
                              LabErr *e);
/* latest_only: only the newest rating per (pair, participant) — what statistics count (since
 * schema version 6 there is one rating per pair and participant, so every rating). */
int  db_ratings_each(Db *db, int64_t session_id, bool latest_only,
                     int (*each)(const DbRating *r, void *ud), void *ud, LabErr *e);

/* ---------- history and search ---------- */
typedef struct {
    int64_t pair_id, session_id, prompt_id;
    int rep, left_slot;
    bool blind;
    int64_t created_ms;
    const char *session_name, *prompt, *output[2], *model_name[2];  /* output NULL if missing */
    int n_ratings;
    const char *last_choice;             /* NULL if unrated */
} DbPairRow;
/* Pairs newest first; search (FTS5 query over prompts and outputs) NULL or "" = all.
 * LAB_EINVAL for a malformed query. */
int  db_pairs_each(Db *db, const char *search, int64_t session_id, int limit, int offset,
                   int (*each)(const DbPairRow *r, void *ud), void *ud, LabErr *e);

/* ---------- evaluations and benchmarks ---------- */
typedef struct {
    int64_t id, model_id;
    const char *dataset, *metric;        /* e.g. "tinystories-val", "perplexity" */
    double value;
    int64_t n_tokens;
    const char *details_json;            /* NULL or a JSON object */
    const char *build_version;
    int64_t created_ms;
} DbEval;
int  db_eval_add(Db *db, const DbEval *v, int64_t *id, LabErr *e);
int  db_evals_each(Db *db, int (*each)(const DbEval *v, void *ud), void *ud, LabErr *e);

typedef struct {
    int64_t id, model_id;
    const char *name;                    /* benchmark name, e.g. "decode-128" */
    int threads, n_prompt, n_gen;
    double prefill_tok_s, decode_tok_s, ttft_ms;
    int64_t peak_rss;
    const char *cpu_model, *build_version, *details_json;
    int64_t created_ms;
} DbBench;
int  db_bench_add(Db *db, const DbBench *b, int64_t *id, LabErr *e);
int  db_benches_each(Db *db, int (*each)(const DbBench *b, void *ud), void *ud, LabErr *e);

/* One `ablab scale` measurement of a model (schema v8, scale_results). The eval and bench rows
 * recorded with it are linked by id (0 = none). */
typedef struct {
    int64_t id, model_id;
    const char *corpus, *corpus_sha256;  /* the corpus file's name and the sha256 of its bytes */
    int ctx, threads, n_prompt, n_gen, reps;
    int64_t n_params, n_params_nonemb, bytes_on_disk, bytes_resident;
    double load_ms, prefill_tok_s, decode_tok_s, bits_per_byte, token_ppl;
    int64_t n_tokens, eval_id, prefill_bench_id, decode_bench_id;
    const char *cpu_model, *build_version;
    int64_t created_ms;
    /* read only (from the model's row): */
    const char *model_path, *model_name, *dtype, *weights_sha256;
} DbScale;
int  db_scale_add(Db *db, const DbScale *s, int64_t *id, LabErr *e);
/* Every stored measurement, oldest first; the strings are valid during the callback only. */
int  db_scales_each(Db *db, int (*each)(const DbScale *s, void *ud), void *ud, LabErr *e);

/* ---------- small state: settings and the line editor's history ---------- */
/* 1 with *value (malloc'd, caller frees) if set, 0 if not. */
int  db_setting_get(Db *db, const char *key, char **value, LabErr *e);
int  db_setting_set(Db *db, const char *key, const char *value, LabErr *e);
int  db_history_add(Db *db, const char *text, LabErr *e);
/* The newest `limit` distinct entries, oldest first. */
int  db_history_each(Db *db, int limit, int (*each)(const char *text, void *ud), void *ud, LabErr *e);

/* ---------- machines (schema 11): the record's own and those merged into it ---------- */
typedef struct {
    int64_t id;
    const char *uuid, *host;
    const char *origin;                  /* "created", "migrated" (an older file upgraded) */
    bool is_self;                        /* this record's own machine */
    const char *file;                    /* the file it was merged from ("" for the own one) */
    int schema_version;                  /* of that file when merged (0 = not merged) */
} DbSource;
/* Every source, id order. */
int  db_sources_each(Db *db, int (*each)(const DbSource *s, void *ud), void *ud, LabErr *e);

/* ---------- merging records (schema 11; db/merge.c says how) ---------- */
#define DB_MERGE_TABLES 12
typedef struct {
    const char *table;                   /* "sources", "models", "studies", "sessions", ... */
    int64_t added, present, conflicts;   /* present: the same UUID with the same content, or the same
                                            model (by hash) / study (by protocol) */
} DbMergeCount;
typedef struct {
    bool conflict;                       /* false: a remark (a study renamed) */
    char table[24], uuid[40];
    char what[360];
} DbMergeNote;
typedef struct {
    DbMergeCount count[DB_MERGE_TABLES]; /* parents first */
    DbMergeNote *notes;
    size_t n_notes;
} DbMergeReport;
/* Merges the records `inputs[0..n)` into `out` in one transaction, filling reps[i] for input i.
 * Inputs are opened read-only (DB_SNAPSHOT) and never written. A conflict (one UUID, two
 * contents; a row whose place another row takes) is listed in the report and leaves the output's
 * row as it was; it is not an error. Errors (an input that is not an ablab record, newer, damaged,
 * unreadable; a write that fails) name the file and roll everything back: -1, the output as it was,
 * reps freed. Free each report with db_merge_report_free. */
int  db_merge(Db *out, const char *const *inputs, int n, DbMergeReport *reps, LabErr *e);
void db_merge_report_free(DbMergeReport *r);   /* NULL-safe */

/* ---------- dump ---------- */
/* Writes an SQL script (schema, rows, user_version, application_id) that `sqlite3 NEW.db < dump`
 * turns into an equivalent ablab record. */
int  db_dump_sql(Db *db, int (*write)(const char *s, size_t n, void *ud), void *ud, LabErr *e);

#endif
