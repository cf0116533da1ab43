/* The record: migrations, refusals, durability under a full disk and a second writer,
 * and the rows a user's work becomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "db_internal.h"

#include "../tmpdir.h"

static void file_hash(const char *path, char out[65]) {
    LabErr e = {0};
    assert_int_equal(file_sha256(path, out, &e), 0);
}

static int64_t raw_int(const char *path, const char *sql) {
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void raw_exec(const char *path, const char *sql) {
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

/* A session with one prompt answered by two models: what a rating needs. */
typedef struct { int64_t session, prompt, model[2], pair, response[2]; } Fixture;

static void add_fixture(Db *db, const char *session_name, Fixture *f) {
    LabErr e = {0};
    DbModel m = {.path = "/models/a", .name = "a", .arch = "llama", .format = "llama2c", .dtype = "f32",
                 .file_dtype = "f32", .tokenizer_kind = "llama2c",
                 .weights_sha256 = "1111111111111111111111111111111111111111111111111111111111111111",
                 .tokenizer_sha256 = "2222222222222222222222222222222222222222222222222222222222222222",
                 .n_params = 260000, .n_layer = 5, .n_head = 8, .n_kv_head = 4, .dim = 64, .vocab = 512,
                 .ctx_max = 512, .bytes_on_disk = 1000000, .bytes_mapped = 1000000, .load_ms = 3.5};
    assert_int_equal(db_model_upsert(db, &m, &f->model[0], &e), 0);
    m.path = "/models/b";
    m.name = "b";
    m.n_params = 1000;
    assert_int_equal(db_model_upsert(db, &m, &f->model[1], &e), 0);
    DbSession s = {.name = session_name, .kind = "run", .participant = "p1", .blind = true, .seed = 7};
    assert_int_equal(db_session_add(db, &s, &f->session, &e), 0);
    assert_int_equal(db_prompt_add(db, f->session, "set", 0, "Once upon a time", &f->prompt, &e), 0);
    DbPair p = {.session_id = f->session, .prompt_id = f->prompt, .model_id = {f->model[0], f->model[1]},
                .left_slot = 1, .blind = true};
    assert_int_equal(db_pair_add(db, &p, &f->pair, &e), 0);
    for (int slot = 0; slot < 2; slot++) {
        int ids[] = {1, 2, 3 + slot};
        DbResponse r = {.pair_id = f->pair, .model_id = f->model[slot], .slot = slot, .side = 1 - slot,
                        .temp = 0.8, .top_k = 40, .top_p = 0.95, .min_p = 0.05, .repeat_penalty = 1,
                        .repeat_last_n = 64, .max_tokens = 16, .seed = 42 + slot,
                        .output = slot ? "a dragon slept" : "there was a cat", .token_ids = ids, .n_token_ids = 3,
                        .n_prompt = 5, .n_gen = 3, .stop_reason = "length", .ttft_ms = 10 + slot,
                        .prefill_ms = 5, .decode_tok_s = 100, .p50_ms = 9, .p95_ms = 12, .total_ms = 40,
                        .bytes_weights_mapped = 1000000, .bytes_kv = 4096, .bytes_scratch = 1024,
                        .peak_rss = 5000000, .threads = 1, .build_version = "0.1.0", .cpu_model = "test cpu"};
        assert_int_equal(db_response_add(db, &r, &f->response[slot], &e), 0);
    }
}

static DbRating make_rating(const Fixture *f, const char *who) {
    return (DbRating){.pair_id = f->pair, .participant = who, .choice = "a", .winner_model_id = f->model[0],
                      .chosen_side = 1, .score = {4, 0}, .comment = "crisper", .decide_ms = 1500};
}

static int count(const DbPairRow *r, void *ud) {
    (void)r;
    (*(int *)ud)++;
    return 0;
}

/* ---------- opening ---------- */

static void test_new_file_gets_pragmas_and_schema(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    const char *p = tpath("new/fresh.db");
    assert_int_equal(mkdir_p(tpath("new"), &e), 0);
    assert_int_equal(db_open(&db, p, &e), 0);
    assert_null(db_backup_path(db)); /* nothing to back up in a new file */
    sqlite3_stmt *st;
    const char *checks[][2] = {{"PRAGMA foreign_keys", "1"}, {"PRAGMA journal_mode", "wal"},
                               {"PRAGMA synchronous", "2"}, {"PRAGMA busy_timeout", "5000"},
                               {"PRAGMA user_version", "11"}, {"PRAGMA application_id", "1096961122"}};
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        assert_int_equal(sqlite3_prepare_v2(db->h, checks[i][0], -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), checks[i][1]);
        sqlite3_finalize(st);
    }
    assert_int_equal(db_integrity_check(db, &e), 0);
    db_close(db);
    /* a second open of a current file migrates nothing */
    assert_int_equal(db_open(&db, p, &e), 0);
    assert_null(db_backup_path(db));
    db_close(db);
}

static void test_empty_file_is_initialized(void **state) {
    (void)state;
    const char *p = tpath("empty.db");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, p, &e), 0);
    db_close(db);
    assert_int_equal(raw_int(p, "PRAGMA user_version"), DB_SCHEMA_VERSION);
}

static int count_turnless(const DbResponse *r, void *ud) {
    if (!*r->chat_mode && !*r->messages_json && !*r->prompt_text && r->turn == 0) ++*(int *)ud;
    return 0;
}

/* the columns of `models` in every version (v10 added adapters, with a default) */
#define MODEL_COLS                                                                                 \
    "(id,path,name,arch,format,dtype,file_dtype,tokenizer_kind,weights_sha256,tokenizer_sha256,n_params,"    \
    "n_layer,n_head,n_kv_head,dim,vocab,ctx_max,bytes_on_disk,bytes_mapped,bytes_owned,load_ms,created_ms,"  \
    "last_loaded_ms)"

static void test_every_earlier_version_migrates_with_data(void **state) {
    (void)state;
    for (int v = 1; v < DB_SCHEMA_VERSION; v++) {
        char name[64];
        snprintf(name, sizeof name, "v%d.db", v);
        const char *p = tpath(name);
        LabErr e = {0};
        assert_int_equal(db_migrate_to(p, v, &e), 0);
        assert_int_equal(raw_int(p, "PRAGMA user_version"), v);
        /* rows as that version's schema held them (v1 tables are in every version) */
        raw_exec(p,
                 "INSERT INTO models" MODEL_COLS " VALUES(1,'/m/a','a','llama','llama2c','f32','f32','llama2c','aa','bb',260000,"
                 "5,8,4,64,512,512,100,100,0,3.5,1,1);"
                 "INSERT INTO models" MODEL_COLS " VALUES(2,'/m/b','b','gpt2','hf','f32','f32','bpe',"
                 "'cc','dd',1000,1,1,1,8,50,64,10,10,0,1.0,1,1);"
                 "INSERT INTO sessions(id,name,kind,participant,blind,consent,seed,started_ms) "
                 "VALUES(1,'old','run','ann',0,1,5,1000);"
                 "INSERT INTO prompts VALUES(1,1,'set',0,'the zebra crossed',1000);"
                 "INSERT INTO pairs(id,session_id,prompt_id,rep,model_a_id,model_b_id,left_slot,blind,created_ms) "
                 "VALUES(1,1,1,0,1,2,0,0,1000);"
                 "INSERT INTO responses VALUES(1,1,0,1,0,0.8,40,0.95,0.05,1,64,16,9,'a striped answer','1 2',"
                 "3,2,'eos',1,1,1,1,1,1,1,1,1,1,1,1,'0.0.9','cpu',1000);"
                 "INSERT INTO ratings(pair_id,participant,choice,winner_model_id,chosen_side,created_ms) "
                 "VALUES(1,'ann','a',1,0,1000);");
        Db *db;
        assert_int_equal(db_open(&db, p, &e), 0);
        assert_non_null(db_backup_path(db));
        assert_int_equal(raw_int(db_backup_path(db), "PRAGMA user_version"), v); /* the copy is the old file */
        assert_int_equal(raw_int(db_backup_path(db), "SELECT count(*) FROM ratings"), 1);
        assert_int_equal(raw_int(p, "PRAGMA user_version"), DB_SCHEMA_VERSION);
        /* v10: the models of older files had no adapters; their ids (and what refers to them) stay */
        assert_int_equal(raw_int(p, "SELECT count(*) FROM models WHERE adapters = '' AND id IN (1, 2)"), 2);
        assert_int_equal(raw_int(p, "SELECT count(*) FROM ratings WHERE winner_model_id = 1"), 1);
        int n_prompts, n_complete, n_rated;
        assert_int_equal(db_session_counts(db, 1, "ann", &n_prompts, &n_complete, &n_rated, &e), 0);
        assert_int_equal(n_prompts, 1);
        assert_int_equal(n_rated, 1);
        /* full-text search reaches rows written before the index existed */
        int hits = 0;
        assert_int_equal(db_pairs_each(db, "zebra", 0, 10, 0, count, &hits, &e), 0);
        assert_int_equal(hits, 1);
        hits = 0;
        assert_int_equal(db_pairs_each(db, "striped", 0, 10, 0, count, &hits, &e), 0);
        assert_int_equal(hits, 1);
        /* a run's pair was not shown while written: no pacing; nothing failed */
        DbPair op;
        assert_int_equal(db_pair_get(db, 1, &op, &e), 1);
        assert_string_equal(op.pacing, "");
        assert_false(op.failed);
        /* a response of an older file has no turn: read back with no chat mode */
        int turns = 0;
        assert_int_equal(db_responses_each(db, 0, 0, count_turnless, &turns, &e), 0);
        assert_int_equal(turns, 1);
        /* v11: every row has a UUID and comes from the file's own (migrated) source */
        assert_int_equal(raw_int(p, "SELECT count(*) FROM sessions s JOIN sources o ON o.id = s.source_id "
                                    "WHERE length(s.uuid) = 36 AND o.is_self = 1 AND o.origin = 'migrated'"), 1);
        assert_int_equal(raw_int(p, "SELECT count(*) FROM responses WHERE length(uuid) = 36 AND source_id = 1"), 1);
        /* and the newer tables work */
        DbEval ev = {.model_id = 1, .dataset = "d", .metric = "perplexity", .value = 3.25, .n_tokens = 100};
        int64_t id;
        assert_int_equal(db_eval_add(db, &ev, &id, &e), 0);
        assert_int_equal(db_setting_set(db, "k", "v", &e), 0);
        assert_int_equal(db_integrity_check(db, &e), 0);
        db_close(db);
    }
}

/* Two processes opening the same old file at once: one migrates, the other finds it done. */
static void copy_file(const char *from, const char *to) {
    char *data;
    size_t n;
    LabErr e = {0};
    assert_int_equal(file_read_all(from, 0, &data, &n, &e), 0);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    free(data);
}

static void raw_text(const char *path, const char *sql, char *out, size_t n) {
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    out[0] = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* Schema 11: every pooled row has a UUID and a source. Rows of an older file get UUIDs from what
 * they hold, so two copies of one old file migrate to the same ids (merge relies on it); a new
 * file's own source is random; rows added afterwards, by ablab or any SQLite client, get a random
 * version-4 UUID and the file's own source. */
static void test_uuids_and_sources(void **state) {
    (void)state;
    LabErr e = {0};
    const char *old = tpath("uuid-v10.db"), *c1 = tpath("uuid-c1.db"), *c2 = tpath("uuid-c2.db");
    assert_int_equal(db_migrate_to(old, 10, &e), 0);
    Db *db;
    /* rows made at version 10 through the v10 schema's columns */
    raw_exec(old,
             "INSERT INTO models(id,path,name,arch,format,dtype,file_dtype,tokenizer_kind,weights_sha256,"
             "tokenizer_sha256,n_params,n_layer,n_head,n_kv_head,dim,vocab,ctx_max,bytes_on_disk,bytes_mapped,"
             "bytes_owned,load_ms,created_ms,last_loaded_ms) VALUES(1,'/m/a','a','llama','llama2c','f32','f32',"
             "'llama2c','aa','bb',260000,5,8,4,64,512,512,100,100,0,3.5,1,1);"
             "INSERT INTO sessions(id,name,kind,participant,blind,consent,seed,started_ms) "
             "VALUES(1,'old','run','ann',0,1,5,1000), (2,'older','run','bob',0,1,6,1001);"
             "INSERT INTO prompts VALUES(1,1,'set',0,'the zebra crossed',1000);"
             "INSERT INTO pairs(id,session_id,prompt_id,rep,model_a_id,model_b_id,left_slot,blind,created_ms) "
             "VALUES(1,1,1,0,1,1,0,0,1000);");
    copy_file(old, c1);
    copy_file(old, c2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(db_open(&db, i ? c2 : c1, &e), 0);
        db_close(db);
    }
    const char *tables[] = {"models", "sessions", "prompts", "pairs", "sources"};
    for (int i = 0; i < 5; i++) {
        char q[256], a[2048], b[2048];
        snprintf(q, sizeof q, "SELECT group_concat(uuid, ' ') FROM (SELECT uuid FROM %s ORDER BY id)", tables[i]);
        raw_text(c1, q, a, sizeof a);
        raw_text(c2, q, b, sizeof b);
        assert_true(strlen(a) >= 36);
        assert_string_equal(a, b);
        snprintf(q, sizeof q, "SELECT count(*) FROM %s WHERE uuid IS NULL OR length(uuid) <> 36", tables[i]);
        assert_int_equal(raw_int(c1, q), 0);
    }
    assert_int_equal(raw_int(c1, "SELECT count(DISTINCT uuid) FROM sessions"), 2);
    assert_int_equal(raw_int(c1, "SELECT count(*) FROM sources WHERE is_self = 1 AND origin = 'migrated'"), 1);
    assert_int_equal(raw_int(c1, "SELECT count(*) FROM sessions WHERE source_id = "
                                 "(SELECT id FROM sources WHERE is_self = 1)"), 2);
    /* a row added by a plain SQLite connection (no ablab functions) gets a v4 UUID and the own source */
    raw_exec(c1, "INSERT INTO sessions(name,kind,blind,seed,started_ms) VALUES('cli','run',0,1,2000)");
    char u[64];
    raw_text(c1, "SELECT uuid FROM sessions WHERE name = 'cli'", u, sizeof u);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
    assert_int_equal(raw_int(c1, "SELECT source_id FROM sessions WHERE name = 'cli'"),
                     raw_int(c1, "SELECT id FROM sources WHERE is_self = 1"));
    /* two new files have different own sources */
    const char *n1 = tpath("uuid-new1.db"), *n2 = tpath("uuid-new2.db");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(db_open(&db, i ? n2 : n1, &e), 0);
        db_close(db);
    }
    char a[64], b[64];
    raw_text(n1, "SELECT uuid || origin FROM sources WHERE is_self = 1", a, sizeof a);
    raw_text(n2, "SELECT uuid || origin FROM sources WHERE is_self = 1", b, sizeof b);
    assert_int_equal(strlen(a), 36 + 7);
    assert_string_not_equal(a, b);
    assert_string_equal(a + 36, "created");
}

/* Several processes open one old file at once: exactly one migrates it, and none is refused on the
 * way. An immutable look that a migrating writer changed under it once refused the file ("temp.
 * sessions has 13 columns but 14 values were supplied"): about one open in 250 with 12 at a time,
 * so the race is run 30 times over with 8. */
static void test_concurrent_opens_migrate_once(void **state) {
    (void)state;
    for (int round = 0; round < 30; round++) {
        char name[32];
        snprintf(name, sizeof name, "race%d.db", round);
        const char *p = tpath(name);
        LabErr e = {0};
        assert_int_equal(db_migrate_to(p, 1, &e), 0);
        raw_exec(p, "INSERT INTO sessions(name,kind,blind,seed,started_ms) VALUES('s','lab',0,1,1)");
        pid_t kids[8];
        for (int i = 0; i < 8; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) {
                Db *c;
                LabErr ce = {0};
                int rc = db_open(&c, p, &ce);
                if (rc) fprintf(stderr, "round %d child %d: %s\n", round, i, ce.msg);
                db_close(c);
                _exit(rc ? 1 : 0);
            }
        }
        for (int i = 0; i < 8; i++) {
            int status;
            assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        assert_int_equal(raw_int(p, "PRAGMA user_version"), DB_SCHEMA_VERSION);
        assert_int_equal(raw_int(p, "SELECT count(*) FROM sessions"), 1);
    }
}

static void test_newer_file_is_refused_untouched(void **state) {
    (void)state;
    const char *p = tpath("newer.db");
    LabErr e = {0};
    assert_int_equal(db_migrate_to(p, DB_SCHEMA_VERSION, &e), 0);
    raw_exec(p, "PRAGMA journal_mode=DELETE; PRAGMA user_version=99;");
    char before[65], after[65];
    file_hash(p, before);
    Db *db = (Db *)1;
    assert_int_equal(db_open(&db, p, &e), -1);
    assert_null(db);
    assert_int_equal(e.code, LAB_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "newer ablab"));
    file_hash(p, after);
    assert_string_equal(before, after);
    assert_int_equal(file_exists(tpath("newer.db-wal")), 0);
}

static void test_foreign_files_are_refused_untouched(void **state) {
    (void)state;
    const char *p = tpath("foreign.db");
    raw_exec(p, "CREATE TABLE recipes(name TEXT); INSERT INTO recipes VALUES('soup');");
    char before[65], after[65];
    file_hash(p, before);
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, p, &e), -1);
    assert_int_equal(e.code, LAB_EFORMAT);
    assert_non_null(strstr(e.msg, "not an ablab record"));
    file_hash(p, after);
    assert_string_equal(before, after);

    const char *t = tpath("notes.txt");
    FILE *f = fopen(t, "w");
    assert_non_null(f);
    fputs("this is not a database, just some notes that are long enough to fill a header......\n", f);
    fclose(f);
    file_hash(t, before);
    assert_int_equal(db_open(&db, t, &e), -1);
    assert_int_equal(e.code, LAB_EFORMAT);
    file_hash(t, after);
    assert_string_equal(before, after);
}

/* ---------- rows ---------- */

typedef struct { int n; char text[8][64]; } Texts;
static int collect_text(const char *s, void *ud) {
    Texts *t = ud;
    if (t->n < 8) snprintf(t->text[t->n++], 64, "%s", s);
    return 0;
}
static int collect_rating(const DbRating *r, void *ud) {
    Texts *t = ud;
    if (t->n < 8) snprintf(t->text[t->n++], 64, "%s:%s:%d:%d:%s", r->participant, r->choice, r->score[0], r->chosen_side,
                           r->model_name[0]);
    return 0;
}
static int collect_response(const DbResponse *r, void *ud) {
    Texts *t = ud;
    if (t->n < 8)
        snprintf(t->text[t->n++], 64, "%d:%s:%zu:%d:%s:%s", r->slot, r->output, r->n_token_ids,
                 r->token_ids[2], r->model_name, r->prompt);
    return 0;
}

/* A current file with a few rows, in rollback-journal mode (what another tool may hand us) and
 * closed; returns its sha256 in before. */
static void make_closed_file(const char *p, char before[65]) {
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, p, &e), 0);
    Fixture f;
    add_fixture(db, "closed", &f);
    DbRating r = make_rating(&f, "p1");
    int64_t id;
    assert_int_equal(db_rating_add(db, &r, &id, &e), 0);
    db_close(db);
    raw_exec(p, "PRAGMA journal_mode=DELETE");
    file_hash(p, before);
}

static void assert_untouched(const char *p, const char before[65]) {
    char after[65], side[600];
    file_hash(p, after);
    assert_string_equal(before, after);
    const char *suffix[] = {"-wal", "-shm", "-journal"};
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", p, suffix[i]);
        if (file_exists(side) == 1) fail_msg("%s was created", side);
    }
}

/* A negative, a huge negative and a zero version with tables: no ablab writes these. Each is
 * refused before the backup and before any pragma is written (once a backup file and an index -1
 * into the migration table). */
static void test_unknown_versions_are_refused_untouched(void **state) {
    (void)state;
    const char *versions[] = {"-1", "-2147483648", "0"};
    for (int i = 0; i < 3; i++) {
        char name[64], sql[96], before[65];
        snprintf(name, sizeof name, "version%d.db", i);
        const char *p = tpath(name);
        make_closed_file(p, before);
        snprintf(sql, sizeof sql, "PRAGMA user_version=%s", versions[i]);
        raw_exec(p, sql);
        file_hash(p, before);
        LabErr e = {0};
        Db *db = (Db *)1;
        assert_int_equal(db_open(&db, p, &e), -1);
        assert_null(db);
        assert_int_equal(e.code, LAB_EFORMAT);
        assert_non_null(strstr(e.msg, "is not one ablab writes"));
        assert_non_null(strstr(e.msg, versions[i]));
        assert_untouched(p, before);
        char bak[600];
        snprintf(bak, sizeof bak, "%s.v%s.bak", p, versions[i]);
        assert_int_equal(file_exists(bak), 0);
        assert_int_equal(db_open_mode(&db, p, DB_READ_IF_NEEDED, &e), -1);
        assert_untouched(p, before);
    }
}

/* One damaged b-tree page in a rollback-journal file: refused by every mode with the same bytes
 * on disk (a WAL switch would rewrite header bytes 18-19, 24-27 and 92-95). */
static void test_damaged_file_is_refused_untouched(void **state) {
    (void)state;
    const char *p = tpath("damaged.db");
    char before[65];
    make_closed_file(p, before);
    int64_t page = raw_int(p, "PRAGMA page_size"), root = raw_int(p, "SELECT rootpage FROM sqlite_schema WHERE name = 'responses'");
    assert_true(page >= 512 && root > 1);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)((root - 1) * page), SEEK_SET), 0);
    unsigned char junk[16] = {0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    fclose(f);
    file_hash(p, before);
    DbMode modes[] = {DB_WRITE, DB_READ_IF_NEEDED, DB_READ};
    for (int i = 0; i < 3; i++) {
        LabErr e = {0};
        Db *db = (Db *)1;
        assert_int_equal(db_open_mode(&db, p, modes[i], &e), -1);
        assert_null(db);
        assert_non_null(strstr(e.msg, "left untouched"));
        assert_untouched(p, before);
    }
}

/* A REAL 1e308 in an INTEGER column of a version 4 file: the STRICT schema of version 5 cannot
 * hold it, so the file is refused before the backup, naming the table, the row and the column. */
static void test_out_of_range_value_is_refused_before_migrating(void **state) {
    (void)state;
    const char *p = tpath("huge.db");
    LabErr e = {0};
    assert_int_equal(db_migrate_to(p, 4, &e), 0);
    raw_exec(p,
             "INSERT INTO models VALUES(1,'/m/a','a','llama','llama2c','f32','f32','llama2c','aa','bb',260000,"
             "5,8,4,64,512,512,100,100,0,3.5,1,1);"
             "INSERT INTO sessions(id,name,kind,participant,blind,consent,seed,started_ms) "
             "VALUES(1,'old','run','ann',0,1,5,1000);"
             "INSERT INTO prompts VALUES(1,1,'set',0,'the zebra crossed',1000);"
             "INSERT INTO pairs VALUES(1,1,1,0,1,1,0,0,1000);"
             "INSERT INTO responses VALUES(1,1,0,1,0,0.8,40,0.95,0.05,1,64,16,9,'an answer','1 2',"
             "3,2,'eos',1,1,1,1,1,1,1,1,1e308,1,1,1,'0.0.9','cpu',1000);"
             "PRAGMA journal_mode=DELETE;");
    char before[65];
    file_hash(p, before);
    Db *db = (Db *)1;
    assert_int_equal(db_open(&db, p, &e), -1);
    assert_null(db);
    assert_int_equal(e.code, LAB_EFORMAT);
    assert_non_null(strstr(e.msg, "table 'responses', row 1"));
    assert_non_null(strstr(e.msg, "bytes_kv"));
    assert_untouched(p, before);
    char bak[600];
    snprintf(bak, sizeof bak, "%s.v4.bak", p);
    assert_int_equal(file_exists(bak), 0);
    /* within range, the same file migrates, and the new tables refuse the value */
    raw_exec(p, "UPDATE responses SET bytes_kv = 4096");
    assert_int_equal(db_open(&db, p, &e), 0);
    assert_non_null(db_backup_path(db));
    assert_int_equal(sqlite3_exec(db->h, "UPDATE responses SET bytes_kv = 1e308", NULL, NULL, NULL) & 0xff,
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db->h, "UPDATE responses SET n_gen = 'many'", NULL, NULL, NULL) & 0xff,
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db->h, "UPDATE responses SET bytes_kv = 4611686018427387904", NULL, NULL, NULL) & 0xff,
                     SQLITE_CONSTRAINT);
    assert_int_equal(raw_int(p, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%STRICT'"), 16); /* v5's twelve, v7's studies, v8's scale_results, v9's turns, v11's sources */
    db_close(db);
}

static void test_missing_table_is_refused_untouched(void **state) {
    (void)state;
    const char *p = tpath("missing.db");
    char before[65];
    make_closed_file(p, before);
    raw_exec(p, "DROP TABLE file_hashes");
    file_hash(p, before);
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, p, &e), -1);
    assert_int_equal(e.code, LAB_EFORMAT);
    assert_non_null(strstr(e.msg, "'file_hashes' is missing"));
    assert_untouched(p, before);
}

/* What a marker of a handed-in record does: read it without being able to write. Returns 0 or the
 * number of the check that failed (run in a child that may have dropped root). */
static int read_only_checks(const char *p) {
    LabErr e = {0};
    Db *db = NULL;
    if (db_open(&db, p, &e) != -1 || e.code != LAB_EIO || !strstr(e.msg, "not writable")) return 10;
    if (db_open_mode(&db, p, DB_READ_IF_NEEDED, &e)) {
        fprintf(stderr, "read-only open: %s\n", e.msg);
        return 11;
    }
    if (!db_read_only(db)) return 12;
    Texts t = {0};
    if (db_ratings_each(db, 0, false, collect_rating, &t, &e) || t.n != 1) return 13;
    int hits = 0;
    if (db_pairs_each(db, "dragon", 0, 10, 0, count, &hits, &e) || hits != 1) return 14;
    if (db_setting_set(db, "k", "v", &e) != -1 || e.code != LAB_EIO || !strstr(e.msg, "read-only")) return 15;
    db_close(db);
    return 0;
}

/* chmod 444 in a folder that cannot be written either (a read-only medium): the record opens
 * read-only, reads work, writes fail saying why, and nothing changes on disk. As root (where
 * permissions do not bind) the checks run in a child that becomes nobody. */
static void test_read_only_file_opens_read_only(void **state) {
    (void)state;
    const char *dir = tpath("ro"), *p = tpath("ro/handed-in.db");
    LabErr e = {0};
    assert_int_equal(mkdir_p(dir, &e), 0);
    char before[65];
    make_closed_file(p, before);
    raw_exec(p, "PRAGMA journal_mode=WAL"); /* as the lab leaves it */
    file_hash(p, before);
    assert_int_equal(chmod(p, 0444), 0);
    assert_int_equal(chmod(dir, 0555), 0);
    assert_int_equal(chmod(tmpdir, 0711), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) || setuid(65534))) _exit(99);
        _exit(read_only_checks(p));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status)) fail_msg("read-only check %d failed", WEXITSTATUS(status));
    assert_untouched(p, before);
    /* DB_READ reads a writable file without writing to it */
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(chmod(p, 0644), 0);
    Db *db;
    assert_int_equal(db_open_mode(&db, p, DB_READ, &e), 0);
    assert_true(db_read_only(db));
    Texts t = {0};
    assert_int_equal(db_ratings_each(db, 0, false, collect_rating, &t, &e), 0);
    assert_int_equal(t.n, 1);
    db_close(db);
    assert_untouched(p, before);
}

static int copy_study(const DbStudy *s, void *ud) {
    char *out = ud;
    snprintf(out, 512, "%s|%s|%d|%s|%d|%s|%s", s->name, s->prompt_set, s->n_prompts, s->sampling, s->blind, s->pacing,
             s->source);
    return 1;
}

/* A study's protocol is stored once and found by name and id; a session names it; a pair keeps its
 * pacing and the error that kept it from being answered. */
typedef struct { int n; char mode[8], msgs[256], text[256]; int64_t conv; int turn; } TurnSeen;
static int see_turn(const DbResponse *r, void *ud) {
    TurnSeen *t = ud;
    if (!*r->chat_mode) return 0;
    t->n++;
    snprintf(t->mode, sizeof t->mode, "%s", r->chat_mode);
    snprintf(t->msgs, sizeof t->msgs, "%s", r->messages_json);
    snprintf(t->text, sizeof t->text, "%s", r->prompt_text);
    t->conv = r->conversation_id;
    t->turn = r->turn;
    return 0;
}

/* A chat turn is stored with its response in one transaction and read back with it; a refused
 * response leaves no turn behind. */
static void test_turns(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, tpath("turns.db"), &e), 0);
    Fixture f;
    add_fixture(db, "turns", &f);
    DbPair p = {.session_id = f.session, .prompt_id = f.prompt, .rep = 1, .model_id = {f.model[0], f.model[1]}};
    int64_t pair;
    assert_int_equal(db_pair_add(db, &p, &pair, &e), 0);
    DbResponse r = {.pair_id = pair, .model_id = f.model[0], .slot = 0, .output = "Fine.", .stop_reason = "eos",
                    .chat_mode = "chat", .messages_json = "[{\"role\":\"user\",\"content\":\"Hi\"}]",
                    .prompt_text = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                    .conversation_id = f.pair, .turn = 1};
    int64_t rid;
    assert_int_equal(db_response_add(db, &r, &rid, &e), 0);
    TurnSeen t = {0};
    assert_int_equal(db_responses_each(db, 0, rid, see_turn, &t, &e), 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.mode, "chat");
    assert_string_equal(t.msgs, "[{\"role\":\"user\",\"content\":\"Hi\"}]");
    assert_string_equal(t.text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    assert_int_equal(t.conv, f.pair);
    assert_int_equal(t.turn, 1);
    /* the same slot again: refused, and no second turn is left */
    assert_int_equal(db_response_add(db, &r, &rid, &e), -1);
    assert_int_equal(raw_int(tpath("turns.db"), "SELECT count(*) FROM turns"), 1);
    /* a mode outside raw/chat is refused with the response */
    r.slot = 1;
    r.model_id = f.model[1];
    r.chat_mode = "json";
    assert_int_equal(db_response_add(db, &r, &rid, &e), -1);
    assert_int_equal(raw_int(tpath("turns.db"), "SELECT count(*) FROM responses WHERE pair_id = 2"), 1);
    db_close(db);
}

static void test_studies_and_failed_pairs(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, tpath("studies.db"), &e), 0);
    const char *sha = "abababababababababababababababababababababababababababababababab";
    DbStudy s = {.name = "pilot", .prompt_set = "set.txt", .prompts_sha256 = sha, .n_prompts = 3,
                 .sampling = "temperature=0.8;seed=-1;", .blind = true, .pacing = "together", .source = "flags"};
    int64_t sid, again;
    assert_int_equal(db_study_add(db, &s, &sid, &e), 0);
    assert_int_equal(db_study_add(db, &s, &again, &e), -1); /* the name is the study */
    s.name = "other";
    s.pacing = "fast";
    assert_int_equal(db_study_add(db, &s, &again, &e), -1); /* a pacing the lab does not know */
    char got[512] = "";
    assert_int_equal(db_study_by_name(db, "pilot", copy_study, got, &e), 1);
    assert_string_equal(got, "pilot|set.txt|3|temperature=0.8;seed=-1;|1|together|flags");
    got[0] = 0;
    assert_int_equal(db_study_by_id(db, sid, copy_study, got, &e), 1);
    assert_true(got[0]);
    assert_int_equal(db_study_by_name(db, "nope", copy_study, got, &e), 0);

    Fixture f;
    add_fixture(db, "s1", &f);
    DbSession ss = {.name = "study-pilot-p1", .kind = "study", .participant = "p1", .blind = true, .seed = 3,
                    .study_id = sid};
    int64_t sess;
    assert_int_equal(db_session_add(db, &ss, &sess, &e), 0);
    DbPair pp = {.session_id = sess, .prompt_id = f.prompt, .model_id = {f.model[0], f.model[1]}, .blind = true};
    snprintf(pp.pacing, sizeof pp.pacing, "together");
    int64_t pid;
    assert_int_equal(db_pair_add(db, &pp, &pid, &e), 0);
    DbPair back;
    assert_int_equal(db_pair_get(db, pid, &back, &e), 1);
    assert_string_equal(back.pacing, "together");
    assert_false(back.failed);
    assert_int_equal(db_pair_fail(db, pid, "model A: prompt too long", &e), 0);
    assert_int_equal(db_pair_get(db, pid, &back, &e), 1);
    assert_true(back.failed);
    assert_int_equal(db_pair_fail(db, 999999, "x", &e), -1);
    assert_int_equal(e.code, LAB_ENOTFOUND);
    db_close(db);
}

static int model_adapters_seen(const DbModel *m, void *ud) {
    if (m->adapters && strstr(m->adapters, "\"llama-lora\"")) ++*(int *)ud;
    return 0;
}

static void test_rows_round_trip(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, tpath("rows.db"), &e), 0);
    Fixture f;
    add_fixture(db, "s1", &f);
    /* the same model again is the same row */
    int64_t again;
    DbModel m = {.path = "/models/a", .name = "a", .arch = "llama", .format = "llama2c", .dtype = "f32",
                 .file_dtype = "f32", .tokenizer_kind = "llama2c",
                 .weights_sha256 = "1111111111111111111111111111111111111111111111111111111111111111",
                 .tokenizer_sha256 = "2222222222222222222222222222222222222222222222222222222222222222",
                 .load_ms = 9};
    assert_int_equal(db_model_upsert(db, &m, &again, &e), 0);
    assert_int_equal(again, f.model[0]);
    /* the same weights with a LoRA adapter are another model (base vs base + adapter), found again
     * by the same adapters, which read back as written */
    const char *ad = "[{\"name\":\"llama-lora\",\"format\":\"peft\",\"sha256\":\"ab\",\"scale\":1,"
                     "\"effective_scale\":2}]";
    m.adapters = ad;
    int64_t with, with2;
    assert_int_equal(db_model_upsert(db, &m, &with, &e), 0);
    assert_true(with != f.model[0]);
    assert_int_equal(db_model_upsert(db, &m, &with2, &e), 0);
    assert_int_equal(with2, with);
    m.adapters = NULL;
    int found = 0;
    assert_int_equal(db_models_each(db, model_adapters_seen, &found, &e), 0);
    assert_int_equal(found, 1);
    /* a prompt set resumes idempotently, and a changed set is refused */
    int64_t pid;
    assert_int_equal(db_prompt_add(db, f.session, "set", 0, "Once upon a time", &pid, &e), 0);
    assert_int_equal(pid, f.prompt);
    assert_int_equal(db_prompt_add(db, f.session, "set", 0, "Something else", &pid, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);
    assert_int_equal(db_prompt_add(db, f.session, NULL, -1, "appended", &pid, &e), 0);
    /* a second response for a slot is refused */
    DbResponse dup = {.pair_id = f.pair, .model_id = f.model[0], .slot = 0, .output = "x", .stop_reason = "eos"};
    int64_t rid;
    assert_int_equal(db_response_add(db, &dup, &rid, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);
    assert_non_null(strstr(e.msg, "INSERT INTO responses")); /* the message carries the SQL */
    DbPair p;
    assert_int_equal(db_pair_find(db, f.session, f.prompt, 0, &p, &e), 1);
    assert_int_equal(p.response_id[0], f.response[0]);
    assert_int_equal(p.response_id[1], f.response[1]);
    assert_int_equal(p.left_slot, 1);
    assert_int_equal(db_pair_find(db, f.session, f.prompt, 1, &p, &e), 0);

    Texts t = {0};
    assert_int_equal(db_responses_each(db, f.session, 0, collect_response, &t, &e), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.text[0], "0:there was a cat:3:3:a:Once upon a time");
    assert_string_equal(t.text[1], "1:a dragon slept:3:4:b:Once upon a time");

    /* ratings: all, and the latest per participant */
    int64_t r1, r2, r3;
    DbRating r = make_rating(&f, "p1");
    assert_int_equal(db_rating_add(db, &r, &r1, &e), 0);
    r.choice = "tie";
    r.winner_model_id = 0;
    r.chosen_side = -1;
    assert_int_equal(db_rating_add(db, &r, &r2, &e), 0);
    r = make_rating(&f, "p2");
    assert_int_equal(db_rating_add(db, &r, &r3, &e), 0);
    memset(&t, 0, sizeof t);
    assert_int_equal(db_ratings_each(db, 0, true, collect_rating, &t, &e), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.text[0], "p1:tie:4:-1:a");
    assert_string_equal(t.text[1], "p2:a:4:1:a");
    assert_int_equal(db_rating_delete(db, r2, &e), 0);
    assert_int_equal(db_rating_delete(db, r2, &e), -1);
    assert_int_equal(e.code, LAB_ENOTFOUND);
    memset(&t, 0, sizeof t);
    assert_int_equal(db_ratings_each(db, f.session, true, collect_rating, &t, &e), 0);
    assert_int_equal(t.n, 1); /* p1's one rating (changed once) is gone; p2's stays */
    assert_string_equal(t.text[0], "p2:a:4:1:a");
    assert_true(r1 == r2);
    /* a bad score is refused by the schema */
    r.score[0] = 9;
    assert_int_equal(db_rating_add(db, &r, &r3, &e), -1);

    /* search */
    int hits = 0;
    assert_int_equal(db_pairs_each(db, "dragon", 0, 10, 0, count, &hits, &e), 0);
    assert_int_equal(hits, 1);
    hits = 0;
    assert_int_equal(db_pairs_each(db, "penguin", 0, 10, 0, count, &hits, &e), 0);
    assert_int_equal(hits, 0);
    assert_int_equal(db_pairs_each(db, "\"unbalanced", 0, 10, 0, count, &hits, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);

    /* settings and the line editor's history (distinct, oldest first) */
    char *v;
    assert_int_equal(db_setting_get(db, "threads", &v, &e), 0);
    assert_int_equal(db_setting_set(db, "threads", "2", &e), 0);
    assert_int_equal(db_setting_get(db, "threads", &v, &e), 1);
    assert_string_equal(v, "2");
    free(v);
    assert_int_equal(db_history_add(db, "one", &e), 0);
    assert_int_equal(db_history_add(db, "two", &e), 0);
    assert_int_equal(db_history_add(db, "one", &e), 0);
    memset(&t, 0, sizeof t);
    assert_int_equal(db_history_each(db, 10, collect_text, &t, &e), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.text[0], "two");
    assert_string_equal(t.text[1], "one");

    DbBench b = {.model_id = f.model[0], .name = "decode-128", .threads = 1, .n_gen = 128, .decode_tok_s = 900};
    int64_t bid;
    assert_int_equal(db_bench_add(db, &b, &bid, &e), 0);
    b.model_id = 999; /* foreign keys are on */
    assert_int_equal(db_bench_add(db, &b, &bid, &e), -1);
    assert_int_equal(db_session_end(db, f.session, 5000, "done", &e), 0);
    db_close(db);
}

static int dump_to_buf(const char *s, size_t n, void *ud) { return buf_append(ud, s, n); }

static void test_sql_dump_replays_into_an_equal_record(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    const char *src = tpath("dumpsrc.db"), *dst = tpath("dumpdst.db");
    assert_int_equal(db_open(&db, src, &e), 0);
    Fixture f;
    add_fixture(db, "dumped 'quoted' session", &f);
    DbRating r = make_rating(&f, "p'1");
    int64_t id;
    assert_int_equal(db_rating_add(db, &r, &id, &e), 0);
    Buf b = {0};
    assert_int_equal(db_dump_sql(db, dump_to_buf, &b, &e), 0);
    db_close(db);
    raw_exec(dst, b.data);
    buf_free(&b);
    assert_int_equal(db_open(&db, dst, &e), 0); /* a valid ablab record, nothing to migrate */
    assert_null(db_backup_path(db));
    Texts t = {0};
    assert_int_equal(db_ratings_each(db, 0, false, collect_rating, &t, &e), 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.text[0], "p'1:a:4:1:a");
    int hits = 0;
    assert_int_equal(db_pairs_each(db, "dragon", 0, 10, 0, count, &hits, &e), 0);
    assert_int_equal(hits, 1);
    db_close(db);
    const char *tables[] = {"models", "sessions", "prompts", "pairs", "responses", "ratings"};
    for (int i = 0; i < 6; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT count(*) FROM %s", tables[i]);
        assert_int_equal(raw_int(src, q), raw_int(dst, q));
    }
}

/* ---------- merging (db/merge.c) ---------- */

static const DbMergeCount *merge_count(const DbMergeReport *r, const char *table) {
    for (int i = 0; i < DB_MERGE_TABLES; i++)
        if (r->count[i].table && !strcmp(r->count[i].table, table)) return &r->count[i];
    fail_msg("no table %s in the report", table);
    return NULL;
}

/* What the end-to-end test (tests/db/test_merge.py) cannot make with the binary: a rating whose
 * first vote was stepped back (its revisions point at a rating that no longer exists), and two
 * copies of one record that went separate ways (another prompt at the same place of the same
 * session). */
static void test_merge_orphans_and_diverged_copies(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db, *out;
    const char *a = tpath("m-a.db"), *b = tpath("m-b.db"), *o = tpath("m-out.db");
    assert_int_equal(db_open(&db, a, &e), 0);
    Fixture f;
    add_fixture(db, "shared session", &f);
    DbRating r = make_rating(&f, "ann");
    int64_t rid, rev;
    assert_int_equal(db_rating_set(db, &r, &rid, &rev, &e), 0);
    assert_int_equal(db_rating_undo(db, rev, NULL, &e), 0); /* no rating left; its revision stays */
    db_close(db);
    copy_file(a, b);
    int64_t pid;
    assert_int_equal(db_open(&db, a, &e), 0);
    assert_int_equal(db_prompt_add(db, f.session, "set", 1, "the owl", &pid, &e), 0);
    db_close(db);
    assert_int_equal(db_open(&db, b, &e), 0);
    assert_int_equal(db_prompt_add(db, f.session, "set", 1, "the fox", &pid, &e), 0);
    db_close(db);

    assert_int_equal(db_open(&out, o, &e), 0);
    const char *in[] = {a, b};
    DbMergeReport rep[2];
    assert_int_equal(db_merge(out, in, 2, rep, &e), 0);
    /* a: everything added, the orphaned revision with a rating id no rating has */
    assert_int_equal(merge_count(&rep[0], "rating_revisions")->added, 1);
    assert_int_equal(merge_count(&rep[0], "ratings")->added, 0);
    assert_int_equal(raw_int(o, "SELECT count(*) FROM rating_revisions WHERE rating_id < 0"), 1);
    /* b: the shared rows are present; its other prompt at position 1 is a conflict, named */
    assert_int_equal(merge_count(&rep[1], "sessions")->present, 1);
    assert_int_equal(merge_count(&rep[1], "responses")->present, 2);
    assert_int_equal(merge_count(&rep[1], "rating_revisions")->present, 1);
    assert_int_equal(merge_count(&rep[1], "prompts")->present, 1);
    assert_int_equal(merge_count(&rep[1], "prompts")->conflicts, 1);
    assert_int_equal(rep[1].n_notes, 1);
    assert_true(rep[1].notes[0].conflict);
    assert_string_equal(rep[1].notes[0].table, "prompts");
    assert_int_equal(strlen(rep[1].notes[0].uuid), 36);
    assert_non_null(strstr(rep[1].notes[0].what, "UNIQUE"));
    assert_int_equal(raw_int(o, "SELECT count(*) FROM prompts WHERE text = 'the owl'"), 1);
    assert_int_equal(raw_int(o, "SELECT count(*) FROM prompts WHERE text = 'the fox'"), 0);
    for (int i = 0; i < 2; i++) db_merge_report_free(&rep[i]);
    /* again: nothing added, the orphan recognised (not a conflict) */
    assert_int_equal(db_merge(out, in, 2, rep, &e), 0);
    for (int i = 0; i < DB_MERGE_TABLES; i++) assert_int_equal(rep[0].count[i].added + rep[1].count[i].added, 0);
    assert_int_equal(merge_count(&rep[0], "rating_revisions")->present, 1);
    assert_int_equal(merge_count(&rep[0], "rating_revisions")->conflicts, 0);
    for (int i = 0; i < 2; i++) db_merge_report_free(&rep[i]);
    /* a record read-only, refused as a target */
    db_close(out);
    assert_int_equal(db_open_mode(&out, o, DB_READ, &e), 0);
    assert_int_equal(db_merge(out, in, 1, rep, &e), -1);
    assert_int_equal(e.code, LAB_EIO);
    db_close(out);
}

/* ---------- rating history ---------- */

typedef struct { int n, undone; char last[64]; } Revs;
static int collect_revision(const DbRatingRevision *v, void *ud) {
    Revs *r = ud;
    r->n++;
    r->undone += v->undone_ms != 0;
    snprintf(r->last, sizeof r->last, "%s:%d:%s", v->choice, v->score[0], v->tags ? v->tags : "");
    return 0;
}
static int current_state(const DbRating *r, void *ud) {
    snprintf(ud, 64, "%lld:%s:%d:%d:%s:%s", (long long)r->id, r->choice, r->score[0], r->score[1], r->tags ? r->tags : "",
             r->comment ? r->comment : "");
    return 0;
}

/* Each change is a revision of one rating; a step back restores the state before it, one change at
 * a time, down to no rating; nothing is deleted from the revisions. */
static void test_rating_changes_are_kept_and_stepped_back(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, tpath("revisions.db"), &e), 0);
    Fixture f;
    add_fixture(db, "revisions", &f);
    DbRating r = make_rating(&f, "p1");
    r.score[0] = 0;
    r.comment = NULL;
    int64_t id[3], rev[3], pair = 0;
    assert_int_equal(db_rating_set(db, &r, &id[0], &rev[0], &e), 0);       /* the vote */
    r.score[0] = 4;
    assert_int_equal(db_rating_set(db, &r, &id[1], &rev[1], &e), 0);       /* + a score */
    r.tags = "fluent";
    assert_int_equal(db_rating_set(db, &r, &id[2], &rev[2], &e), 0);       /* + tags */
    assert_true(id[0] == id[1] && id[1] == id[2]);
    assert_true(rev[0] < rev[1] && rev[1] < rev[2]);
    char now[64] = "", want[64];
    assert_int_equal(db_rating_of(db, f.pair, "p1", current_state, now, &e), 1);
    snprintf(want, sizeof want, "%lld:a:4:0:fluent:", (long long)id[0]);
    assert_string_equal(now, want);
    Texts t = {0};
    assert_int_equal(db_ratings_each(db, 0, false, collect_rating, &t, &e), 0);
    assert_int_equal(t.n, 1); /* one rating, three revisions */
    /* a step back of an earlier change while a later one stands is refused */
    assert_int_equal(db_rating_undo(db, rev[1], NULL, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);
    assert_int_equal(db_rating_undo(db, rev[2], &pair, &e), 1);
    assert_int_equal(pair, f.pair);
    assert_int_equal(db_rating_of(db, f.pair, "p1", current_state, now, &e), 1);
    snprintf(want, sizeof want, "%lld:a:4:0::", (long long)id[0]);
    assert_string_equal(now, want);
    assert_int_equal(db_rating_undo(db, rev[1], NULL, &e), 1);
    assert_int_equal(db_rating_of(db, f.pair, "p1", current_state, now, &e), 1);
    snprintf(want, sizeof want, "%lld:a:0:0::", (long long)id[0]);
    assert_string_equal(now, want);
    assert_int_equal(db_rating_undo(db, rev[0], NULL, &e), 0); /* the vote itself: no rating left */
    assert_int_equal(db_rating_of(db, f.pair, "p1", current_state, now, &e), 0);
    assert_int_equal(db_rating_undo(db, rev[0], NULL, &e), -1);
    assert_int_equal(e.code, LAB_ENOTFOUND);
    Revs v = {0};
    assert_int_equal(db_rating_revisions_each(db, 0, collect_revision, &v, &e), 0);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.undone, 3);
    assert_string_equal(v.last, "a:4:fluent");
    /* rating again after that starts over from this vote */
    int64_t id2, rev2;
    assert_int_equal(db_rating_set(db, &r, &id2, &rev2, &e), 0);
    assert_true(rev2 > rev[2]);
    assert_int_equal(db_rating_of(db, f.pair, "p1", current_state, now, &e), 1);
    snprintf(want, sizeof want, "%lld:a:4:0:fluent:", (long long)id2);
    assert_string_equal(now, want);
    assert_int_equal(db_rating_undo(db, rev2, NULL, &e), 0);
    assert_int_equal(db_integrity_check(db, &e), 0);
    db_close(db);
}

/* A version 5 file kept each change as another row of ratings: after the upgrade the newest row
 * per (pair, participant) is the rating and every row is one of its revisions. */
static void test_old_rating_rows_become_revisions(void **state) {
    (void)state;
    const char *p = tpath("v5ratings.db");
    LabErr e = {0};
    assert_int_equal(db_migrate_to(p, 5, &e), 0);
    raw_exec(p,
             "INSERT INTO models VALUES(1,'/m/a','a','llama','llama2c','f32','f32','llama2c','aa','bb',260000,"
             "5,8,4,64,512,512,100,100,0,3.5,1,1);"
             "INSERT INTO sessions(id,name,kind,participant,blind,consent,seed,started_ms) "
             "VALUES(1,'old','run','ann',0,1,5,1000);"
             "INSERT INTO prompts VALUES(1,1,'set',0,'the zebra crossed',1000);"
             "INSERT INTO pairs VALUES(1,1,1,0,1,1,0,0,1000);"
             "INSERT INTO ratings(pair_id,participant,choice,winner_model_id,chosen_side,created_ms) "
             "VALUES(1,'ann','a',1,0,1000);"
             "INSERT INTO ratings(pair_id,participant,choice,winner_model_id,chosen_side,score_a,created_ms) "
             "VALUES(1,'ann','tie',NULL,NULL,3,2000);"
             "INSERT INTO ratings(pair_id,participant,choice,winner_model_id,chosen_side,created_ms) "
             "VALUES(1,'bob','b',1,1,3000);");
    Db *db;
    assert_int_equal(db_open(&db, p, &e), 0);
    char now[64] = "";
    assert_int_equal(db_rating_of(db, 1, "ann", current_state, now, &e), 1);
    assert_string_equal(now, "2:tie:3:0::");
    Revs v = {0};
    assert_int_equal(db_rating_revisions_each(db, 2, collect_revision, &v, &e), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(raw_int(p, "SELECT count(*) FROM ratings"), 2);
    assert_int_equal(raw_int(p, "SELECT count(*) FROM rating_revisions"), 3);
    db_close(db);
}

/* ---------- durability ---------- */

/* kill -9 at random moments, on every write path: tests/db/test_faults.c */

static void test_full_database_keeps_rating_for_retry(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    assert_int_equal(db_open(&db, tpath("full.db"), &e), 0);
    Fixture f;
    add_fixture(db, "full", &f);
    int64_t pages = 0, id;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db->h, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", (long long)pages);
    assert_int_equal(sqlite3_exec(db->h, sql, NULL, NULL, NULL), SQLITE_OK);
    /* a comment big enough to need new pages (more than the free pages a migration left) */
    size_t big_n = 1024 * 1024;
    char *big = malloc(big_n);
    assert_non_null(big);
    memset(big, 'x', big_n - 1);
    big[big_n - 1] = 0;
    DbRating r = make_rating(&f, "p1");
    r.comment = big;
    int n_before = 0;
    Texts t = {0};
    assert_int_equal(db_ratings_each(db, 0, false, collect_rating, &t, &e), 0);
    n_before = t.n;
    assert_int_equal(db_rating_add(db, &r, &id, &e), -1);
    assert_int_equal(e.code, LAB_EFULL);
    assert_non_null(strstr(e.msg, "INSERT INTO ratings"));
    assert_true(sqlite3_get_autocommit(db->h)); /* no transaction left open */
    /* nothing else was lost and the connection still works */
    memset(&t, 0, sizeof t);
    assert_int_equal(db_ratings_each(db, 0, false, collect_rating, &t, &e), 0);
    assert_int_equal(t.n, n_before);
    Texts rs = {0};
    assert_int_equal(db_responses_each(db, 0, 0, collect_response, &rs, &e), 0);
    assert_int_equal(rs.n, 2);
    /* space comes back: the same rating goes through */
    assert_int_equal(sqlite3_exec(db->h, "PRAGMA max_page_count=1000000", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(db_rating_add(db, &r, &id, &e), 0);
    assert_int_equal(db_integrity_check(db, &e), 0);
    free(big);
    db_close(db);
}

static void test_second_writer_does_not_lose_a_rating(void **state) {
    (void)state;
    LabErr e = {0};
    Db *db;
    const char *p = tpath("locked.db");
    assert_int_equal(db_open(&db, p, &e), 0);
    Fixture f;
    add_fixture(db, "locked", &f);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* another process takes the write lock, writes, and holds it for a while */
        close(fd[0]);
        sqlite3 *h;
        if (sqlite3_open(p, &h) != SQLITE_OK) _exit(2);
        if (sqlite3_exec(h, "BEGIN IMMEDIATE; INSERT INTO settings VALUES('other','1');", NULL, NULL, NULL)) _exit(3);
        char c = 'L';
        if (write(fd[1], &c, 1) != 1) _exit(4);
        struct timespec ts = {0, 700 * 1000000L};
        nanosleep(&ts, NULL);
        if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL)) _exit(5);
        sqlite3_close(h);
        _exit(0);
    }
    close(fd[1]);
    char c;
    assert_int_equal(read(fd[0], &c, 1), 1); /* the lock is held now */
    close(fd[0]);
    DbRating r = make_rating(&f, "p1");
    int64_t id;
    assert_int_equal(db_rating_add(db, &r, &id, &e), 0); /* waits within busy_timeout, then commits */
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *v;
    assert_int_equal(db_setting_get(db, "other", &v, &e), 1); /* the other writer's row is there too */
    free(v);
    Texts t = {0};
    assert_int_equal(db_ratings_each(db, 0, false, collect_rating, &t, &e), 0);
    assert_int_equal(t.n, 1);
    db_close(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file_gets_pragmas_and_schema),
        cmocka_unit_test(test_empty_file_is_initialized),
        cmocka_unit_test(test_every_earlier_version_migrates_with_data),
        cmocka_unit_test(test_uuids_and_sources),
        cmocka_unit_test(test_concurrent_opens_migrate_once),
        cmocka_unit_test(test_newer_file_is_refused_untouched),
        cmocka_unit_test(test_foreign_files_are_refused_untouched),
        cmocka_unit_test(test_unknown_versions_are_refused_untouched),
        cmocka_unit_test(test_damaged_file_is_refused_untouched),
        cmocka_unit_test(test_out_of_range_value_is_refused_before_migrating),
        cmocka_unit_test(test_missing_table_is_refused_untouched),
        cmocka_unit_test(test_read_only_file_opens_read_only),
        cmocka_unit_test(test_rows_round_trip),
        cmocka_unit_test(test_studies_and_failed_pairs),
        cmocka_unit_test(test_turns),
        cmocka_unit_test(test_sql_dump_replays_into_an_equal_record),
        cmocka_unit_test(test_rating_changes_are_kept_and_stepped_back),
        cmocka_unit_test(test_merge_orphans_and_diverged_copies),
        cmocka_unit_test(test_old_rating_rows_become_revisions),
        cmocka_unit_test(test_full_database_keeps_rating_for_retry),
        cmocka_unit_test(test_second_writer_does_not_lose_a_rating),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
