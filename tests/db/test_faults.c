/* I/O faults and kill -9 on every write path of the record.
 *
 * A test VFS wraps SQLite's default one and fails the N-th write, sync or lock with a chosen code
 * (SQLITE_IOERR_*, SQLITE_FULL, SQLITE_BUSY). A scripted session — opening (with every migration),
 * models, a study session, prompts, pairs and responses, ratings with edits and a step back, an
 * evaluation, a benchmark, settings, history, the session's end, then a study resume in a new
 * connection — runs once to count the operations, then once for every N of every kind. After each
 * run: the error reached the caller as LAB_EIO / LAB_EFULL / LAB_EBUSY (or SQLite recovered by
 * itself and the script finished), the file opens and passes integrity_check, every acknowledged
 * row is there as acknowledged, and every rating equals its latest standing revision.
 *
 * The second half forks a child that runs the same script in a loop, acknowledging each write on a
 * pipe, and kills it with SIGKILL at a random moment: every acknowledged row must survive. */
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

/* ---------- the faulty VFS ---------- */

typedef enum { FK_WRITE, FK_SYNC, FK_LOCK, FK_KINDS } FaultKind;
static const char *const KIND_NAME[FK_KINDS] = {"write", "sync", "lock"};

static struct {
    sqlite3_vfs *base;
    long count[FK_KINDS];
    bool armed, fired;
    FaultKind kind;
    long at;   /* fail the at-th operation of `kind` (1-based) */
    int code;
} G;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, allocated right after this struct */
} FFile;

static bool fault(FaultKind k) {
    long n = ++G.count[k];
    if (G.armed && k == G.kind && n == G.at) {
        G.fired = true;
        return true;
    }
    return false;
}

#define REAL(f) (((FFile *)(f))->real)
static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off) { return REAL(f)->pMethods->xRead(REAL(f), b, n, off); }
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off) {
    if (fault(FK_WRITE)) return G.code;
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size) { return REAL(f)->pMethods->xTruncate(REAL(f), size); }
static int f_sync(sqlite3_file *f, int flags) {
    if (fault(FK_SYNC)) return G.code;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size) { return REAL(f)->pMethods->xFileSize(REAL(f), size); }
static int f_lock(sqlite3_file *f, int level) {
    if (fault(FK_LOCK)) return G.code;
    return REAL(f)->pMethods->xLock(REAL(f), level);
}
static int f_unlock(sqlite3_file *f, int level) { return REAL(f)->pMethods->xUnlock(REAL(f), level); }
static int f_reserved(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int f_control(sqlite3_file *f, int op, void *arg) { return REAL(f)->pMethods->xFileControl(REAL(f), op, arg); }
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_chars(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **out) {
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, out);
}
static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
    /* a WAL connection's locks are these: only taking one can fail (releasing cannot) */
    if ((flags & SQLITE_SHM_LOCK) && fault(FK_LOCK)) return G.code == SQLITE_IOERR_LOCK ? SQLITE_IOERR_SHMLOCK : G.code;
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void f_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out) {
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), off, p); }

static const sqlite3_io_methods F_METHODS = {
    3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_reserved, f_control, f_sector,
    f_chars, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    FFile *p = (FFile *)file;
    p->real = (sqlite3_file *)(p + 1);
    int rc = G.base->xOpen(G.base, name, p->real, flags, out_flags);
    /* the default VFS's files are version 3 (WAL and mmap methods): this wrapper forwards them */
    file->pMethods = rc == SQLITE_OK && p->real->pMethods ? &F_METHODS : NULL;
    return rc;
}
static int v_delete(sqlite3_vfs *v, const char *n, int sync) { (void)v; return G.base->xDelete(G.base, n, sync); }
static int v_access(sqlite3_vfs *v, const char *n, int f, int *out) { (void)v; return G.base->xAccess(G.base, n, f, out); }
static int v_full(sqlite3_vfs *v, const char *n, int sz, char *out) { (void)v; return G.base->xFullPathname(G.base, n, sz, out); }
static int v_random(sqlite3_vfs *v, int n, char *out) { (void)v; return G.base->xRandomness(G.base, n, out); }
static int v_sleep(sqlite3_vfs *v, int us) { (void)v; return G.base->xSleep(G.base, us); }
static int v_time(sqlite3_vfs *v, double *out) { (void)v; return G.base->xCurrentTime(G.base, out); }
static int v_lasterr(sqlite3_vfs *v, int n, char *out) { (void)v; return G.base->xGetLastError(G.base, n, out); }
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out) { (void)v; return G.base->xCurrentTimeInt64(G.base, out); }

static sqlite3_vfs F_VFS;

/* Makes the faulty VFS the default, so db_open uses it unchanged. */
static void vfs_install(void) {
    G.base = sqlite3_vfs_find(NULL);
    assert_non_null(G.base);
    assert_true(G.base->iVersion >= 2);
    F_VFS = (sqlite3_vfs){.iVersion = 2, .szOsFile = (int)sizeof(FFile) + G.base->szOsFile,
                          .mxPathname = G.base->mxPathname, .zName = "ablab-faulty", .xOpen = v_open,
                          .xDelete = v_delete, .xAccess = v_access, .xFullPathname = v_full, .xRandomness = v_random,
                          .xSleep = v_sleep, .xCurrentTime = v_time, .xGetLastError = v_lasterr,
                          .xCurrentTimeInt64 = v_time64};
    assert_int_equal(sqlite3_vfs_register(&F_VFS, 1), SQLITE_OK);
}

/* ---------- the scripted session, acknowledging each write ---------- */

typedef enum { A_MODEL, A_SESSION, A_PROMPT, A_PAIR, A_RESPONSE, A_REVISION, A_UNDO, A_EVAL, A_BENCH, A_SETTING,
               A_HISTORY, A_END, A_HASH, A_KINDS } AckKind;
static const char *const ACK_TABLE[A_KINDS] = {"models", "sessions", "prompts", "pairs", "responses",
                                               "rating_revisions", "rating_revisions", "evaluations", "benchmarks",
                                               "settings", "prompt_history", "sessions", "file_hashes"};
typedef struct {
    int kind;
    int64_t id;
    char state[64]; /* revisions: "choice:score_a:tags"; settings and hashes: the key */
} Ack;

typedef struct {
    Ack *v;
    size_t n, cap;
    int fd; /* >= 0: also written to this pipe (the kill -9 child) */
} Acks;

static void ack(Acks *a, int kind, int64_t id, const char *state) {
    Ack x = {.kind = kind, .id = id};
    snprintf(x.state, sizeof x.state, "%s", state ? state : "");
    if (a->fd >= 0) {
        if (write(a->fd, &x, sizeof x) != (ssize_t)sizeof x) _exit(4);
        return;
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 128;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        assert_non_null(a->v);
    }
    a->v[a->n++] = x;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != 0) goto fail;                                                                \
    } while (0)

static int none_session(const DbSession *s, void *ud) {
    (void)s;
    (void)ud;
    return 0;
}

/* One study session, its prompts answered and rated (with edits and a step back), the other
 * records, then a resume in a new connection. `round` makes the names unique. Returns 0 when it
 * ran to the end, -1 with e filled at the first failure. */
static int script(const char *path, int round, Acks *a, LabErr *e) {
    Db *db = NULL;
    int64_t id, model[2], session, prompt[3], pair[3], rev = 0;
    char name[64], sname[64], buf[64];
    TRY(db_open(&db, path, e));
    for (int k = 0; k < 2; k++) {
        DbModel m = {.path = k ? "/models/b" : "/models/a", .name = k ? "b" : "a", .arch = "llama", .format = "gguf",
                     .dtype = "q8_0", .file_dtype = "q8_0", .tokenizer_kind = "bpe",
                     .weights_sha256 = "1111111111111111111111111111111111111111111111111111111111111111",
                     .tokenizer_sha256 = "2222222222222222222222222222222222222222222222222222222222222222",
                     .n_params = 1000 + k, .n_layer = 2, .n_head = 2, .n_kv_head = 1, .dim = 8, .vocab = 32,
                     .ctx_max = 64, .bytes_on_disk = 4096, .bytes_mapped = 4096, .load_ms = 1};
        TRY(db_model_upsert(db, &m, &model[k], e));
        ack(a, A_MODEL, model[k], NULL);
    }
    snprintf(name, sizeof name, "/models/a.%d", round);
    TRY(db_file_hash_put(db, name, 4096, round, "3333333333333333333333333333333333333333333333333333333333333333", e));
    ack(a, A_HASH, 0, name);
    snprintf(sname, sizeof sname, "study-set-p%d", round);
    DbSession s = {.name = sname, .kind = "study", .participant = "p", .prompt_set = "set", .blind = true, .seed = 5};
    TRY(db_session_add(db, &s, &session, e));
    ack(a, A_SESSION, session, NULL);
    static const char *const texts[3] = {"Once upon a time", "The dragon", "A quiet sea"};
    for (int i = 0; i < 3; i++) {
        TRY(db_prompt_add(db, session, "set", i, texts[i], &prompt[i], e));
        ack(a, A_PROMPT, prompt[i], NULL);
        DbPair p = {.session_id = session, .prompt_id = prompt[i], .model_id = {model[0], model[1]},
                    .left_slot = i % 2, .blind = true};
        TRY(db_pair_add(db, &p, &pair[i], e));
        ack(a, A_PAIR, pair[i], NULL);
        for (int slot = 0; slot < 2; slot++) {
            int ids[] = {1, 2, 3};
            DbResponse r = {.pair_id = pair[i], .model_id = model[slot], .slot = slot, .side = slot ^ (i % 2),
                            .temp = 0.8, .top_k = 40, .top_p = 0.95, .min_p = 0.05, .repeat_penalty = 1,
                            .repeat_last_n = 64, .max_tokens = 16, .seed = 42, .output = "an answer that goes on",
                            .token_ids = ids, .n_token_ids = 3, .n_prompt = 4, .n_gen = 3, .stop_reason = "length",
                            .ttft_ms = 1, .prefill_ms = 1, .decode_tok_s = 10, .p50_ms = 1, .p95_ms = 1,
                            .total_ms = 5, .bytes_kv = 1024, .peak_rss = 4096, .threads = 1,
                            .build_version = "0.1.0", .cpu_model = "cpu"};
            TRY(db_response_add(db, &r, &id, e));
            ack(a, A_RESPONSE, id, NULL);
        }
        TRY(db_history_add(db, texts[i], e));
        ack(a, A_HISTORY, 0, texts[i]);
        /* a vote, then a score, then tags: three changes of one rating */
        DbRating g = {.pair_id = pair[i], .participant = "p", .choice = "a", .winner_model_id = model[0],
                      .chosen_side = i % 2, .decide_ms = 900};
        static const char *const tags[3] = {NULL, NULL, "fluent"};
        for (int step = 0; step < 3; step++) {
            g.score[0] = step >= 1 ? 4 : 0;
            g.tags = tags[step];
            TRY(db_rating_set(db, &g, &id, &rev, e));
            snprintf(buf, sizeof buf, "a:%d:%s", g.score[0], g.tags ? g.tags : "");
            ack(a, A_REVISION, rev, buf);
        }
        if (i == 1) { /* u: the tags go again */
            if (db_rating_undo(db, rev, NULL, e) < 0) goto fail;
            ack(a, A_UNDO, rev, NULL);
        }
    }
    snprintf(name, sizeof name, "lab.settings.%d", round);
    TRY(db_setting_set(db, name, "{\"temp\":0.8}", e));
    ack(a, A_SETTING, 0, name);
    DbEval v = {.model_id = model[0], .dataset = "d", .metric = "token_ppl", .value = 3.5, .n_tokens = 100};
    TRY(db_eval_add(db, &v, &id, e));
    ack(a, A_EVAL, id, NULL);
    DbBench b = {.model_id = model[1], .name = "tg16", .threads = 1, .n_prompt = 4, .n_gen = 16, .decode_tok_s = 50,
                 .peak_rss = 4096};
    TRY(db_bench_add(db, &b, &id, e));
    ack(a, A_BENCH, id, NULL);
    TRY(db_session_end(db, session, wall_time_ms(), "done", e));
    ack(a, A_END, session, NULL);
    db_close(db);
    db = NULL;
    /* the study resumed: a new connection finds the session and its prompts, and rates again */
    TRY(db_open(&db, path, e));
    int found = db_session_by_name(db, sname, none_session, NULL, e);
    if (found != 1) {
        if (found == 0) lab_err(e, LAB_EDB, "resume: session %s not found", sname);
        goto fail;
    }
    for (int i = 0; i < 3; i++) {
        TRY(db_prompt_add(db, session, "set", i, texts[i], &id, e));
        if (id != prompt[i]) return lab_err(e, LAB_EDB, "resume found prompt %lld, not %lld", (long long)id,
                                            (long long)prompt[i]);
    }
    int np, nc, nr;
    TRY(db_session_counts(db, session, "p", &np, &nc, &nr, e));
    DbRating g = {.pair_id = pair[2], .participant = "p", .choice = "b", .winner_model_id = model[1],
                  .chosen_side = 0, .score = {2, 5}, .decide_ms = 100};
    TRY(db_rating_set(db, &g, &id, &rev, e));
    ack(a, A_REVISION, rev, "b:2:");
    db_close(db);
    return 0;
fail:
    db_close(db);
    return -1;
}

/* ---------- checks ---------- */

static int64_t one_int(sqlite3 *h, const char *sql, int64_t id, const char *text) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 1, id);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* The record after a fault: it opens, passes integrity_check, holds every acknowledged row as
 * acknowledged, and each rating equals its latest standing revision. */
static void check_record(const char *path, const Acks *a, const char *when) {
    LabErr e = {0};
    Db *db;
    if (db_open(&db, path, &e)) fail_msg("%s: the record does not open after the fault: %s", when, e.msg);
    if (db_integrity_check(db, &e)) fail_msg("%s: %s", when, e.msg);
    sqlite3 *h = db->h;
    for (size_t i = 0; i < a->n; i++) {
        const Ack *x = &a->v[i];
        char sql[256];
        int64_t n;
        if (x->kind == A_SETTING) n = one_int(h, "SELECT count(*) FROM settings WHERE key = ?1", 0, x->state);
        else if (x->kind == A_HASH) n = one_int(h, "SELECT count(*) FROM file_hashes WHERE path = ?1", 0, x->state);
        else if (x->kind == A_HISTORY) n = one_int(h, "SELECT count(*) FROM prompt_history WHERE text = ?1", 0, x->state);
        else if (x->kind == A_UNDO)
            n = one_int(h, "SELECT count(*) FROM rating_revisions WHERE id = ?1 AND undone_ms IS NOT NULL", x->id, NULL);
        else if (x->kind == A_END)
            n = one_int(h, "SELECT count(*) FROM sessions WHERE id = ?1 AND ended_ms IS NOT NULL", x->id, NULL);
        else if (x->kind == A_REVISION) {
            sqlite3_stmt *st;
            assert_int_equal(sqlite3_prepare_v2(h,
                                                "SELECT count(*) FROM rating_revisions WHERE id = ?1 AND choice || ':' || "
                                                "coalesce(score_a, 0) || ':' || coalesce(tags, '') = ?2",
                                                -1, &st, NULL),
                             SQLITE_OK);
            sqlite3_bind_int64(st, 1, x->id);
            sqlite3_bind_text(st, 2, x->state, -1, SQLITE_STATIC);
            n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
            sqlite3_finalize(st);
        } else {
            snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE id = ?1", ACK_TABLE[x->kind]);
            n = one_int(h, sql, x->id, NULL);
        }
        if (n < 1)
            fail_msg("%s: acknowledged %s %lld '%s' is not in the record", when, ACK_TABLE[x->kind], (long long)x->id,
                     x->state);
    }
    /* the current rating is always its latest standing revision */
    int64_t bad = one_int(h,
                          "SELECT count(*) FROM ratings g WHERE NOT EXISTS (SELECT 1 FROM rating_revisions v WHERE "
                          "v.id = (SELECT max(id) FROM rating_revisions WHERE rating_id = g.id AND undone_ms IS NULL) "
                          "AND v.choice = g.choice AND v.score_a IS g.score_a AND v.score_b IS g.score_b AND v.tags IS g.tags "
                          "AND v.comment IS g.comment)",
                          0, NULL);
    if (bad != 0) fail_msg("%s: %lld ratings differ from their latest standing revision", when, (long long)bad);
    db_close(db);
}

static void remove_record(const char *path) {
    char p[700];
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* The folder for the fault runs: memory-backed when there is one (the runs sync thousands of
 * times; what is tested is SQLite's and our handling of the error, not the disk). */
static char fault_dir_path[512];
static const char *fault_dir(void) {
    char *dir = fault_dir_path;
    if (!dir[0]) {
        struct stat st;
        if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
            snprintf(dir, sizeof fault_dir_path, "/dev/shm/ablab-faults-XXXXXX");
            if (!mkdtemp(dir)) snprintf(dir, sizeof fault_dir_path, "%s", tpath("faults"));
        } else {
            snprintf(dir, sizeof fault_dir_path, "%s", tpath("faults"));
        }
        LabErr e = {0};
        assert_int_equal(mkdir_p(dir, &e), 0);
    }
    return dir;
}

static bool reported(const LabErr *e, int code) {
    if (!e->msg[0]) return false;
    switch (code & 0xff) {
    case SQLITE_FULL: return e->code == LAB_EFULL;
    case SQLITE_BUSY: return e->code == LAB_EBUSY;
    default: return e->code == LAB_EIO;
    }
}

/* A current, empty record (made once, without faults): each faulted session starts from a copy,
 * so the runs spend their operations on the session rather than on the migrations (db.c's own
 * tests cover those). */
static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Every N of every kind, with the codes a disk, a full disk and another process give. */
static void test_every_io_fault_keeps_acknowledged_ratings(void **state) {
    (void)state;
    vfs_install();
    char path[600], base[600];
    snprintf(path, sizeof path, "%s/record.db", fault_dir());
    snprintf(base, sizeof base, "%s/empty.db", fault_dir());
    remove_record(base);
    Db *db;
    LabErr be = {0};
    assert_int_equal(db_open(&db, base, &be), 0);
    db_close(db);
    /* clean runs count the operations (the second one: the first session of the process takes
     * a few more locks) */
    G.armed = false;
    long total[FK_KINDS];
    Acks clean = {.fd = -1};
    LabErr e = {0};
    for (int i = 0; i < 2; i++) {
        remove_record(path);
        copy_file(base, path);
        memset(G.count, 0, sizeof G.count);
        clean.n = 0;
        if (script(path, 0, &clean, &e)) fail_msg("the session without faults failed: %s", e.msg);
        memcpy(total, G.count, sizeof total); /* before the checks add their own operations */
        check_record(path, &clean, "no fault");
    }
    fprintf(stderr, "# a clean session: %ld writes, %ld syncs, %ld locks; %zu acknowledged writes\n", total[FK_WRITE],
            total[FK_SYNC], total[FK_LOCK], clean.n);
    assert_true(total[FK_WRITE] > 50 && total[FK_SYNC] > 10 && total[FK_LOCK] > 10);
    free(clean.v);
    struct { FaultKind kind; int code; } plans[] = {
        {FK_WRITE, SQLITE_IOERR_WRITE}, {FK_WRITE, SQLITE_FULL}, {FK_SYNC, SQLITE_IOERR_FSYNC},
        {FK_LOCK, SQLITE_BUSY}, {FK_LOCK, SQLITE_IOERR_LOCK},
    };
    int runs = 0, told = 0, recovered = 0, missed = 0;
    for (size_t p = 0; p < sizeof plans / sizeof *plans; p++) {
        for (long n = 1; n <= total[plans[p].kind]; n++) {
            remove_record(path);
            copy_file(base, path);
            memset(G.count, 0, sizeof G.count);
            G.kind = plans[p].kind;
            G.code = plans[p].code;
            G.at = n;
            G.fired = false;
            G.armed = true;
            Acks a = {.fd = -1};
            LabErr fe = {0};
            int rc = script(path, 0, &a, &fe);
            G.armed = false;
            char when[160];
            snprintf(when, sizeof when, "%s %ld of %ld failing with %d", KIND_NAME[G.kind], n, total[G.kind], G.code);
            if (!G.fired) {
                /* lock counts vary a little from run to run (WAL read retries, checkpoints) */
                if (rc) fail_msg("%s: no fault happened, yet the session failed: %s", when, fe.msg);
                missed++;
                if (getenv("FAULTS_VERBOSE")) fprintf(stderr, "# missed: %s (ran %ld)\n", when, G.count[G.kind]);
            } else if (rc) {
                if (!reported(&fe, G.code)) fail_msg("%s: the caller got '%s' (%s)", when, fe.msg, lab_err_code_name(fe.code));
                told++;
            } else {
                recovered++; /* e.g. a busy lock SQLite retried, a failed checkpoint at close */
            }
            check_record(path, &a, when);
            free(a.v);
            runs++;
        }
    }
    fprintf(stderr, "# %d faulted sessions: %d reported the error to the caller, %d recovered by themselves, %d "
                    "ended before the N-th operation\n", runs, told, recovered, missed);
    assert_true(told > runs / 2);
    assert_true(missed < runs / 20);
    remove_record(path);
    remove_record(base);
}

/* ---------- kill -9 on every write path ---------- */

/* A child runs the scripted session over and over (every write path of the record) and sends each
 * acknowledged write on a pipe; the parent kills it at a random moment, 30 times. */
static void test_kill9_on_every_write_path(void **state) {
    (void)state;
    sqlite3_vfs_unregister(&F_VFS); /* the plain default VFS again */
    char path[600];
    snprintf(path, sizeof path, "%s/kill.db", fault_dir());
    remove_record(path);
    Acks all = {.fd = -1};
    srand(4242);
    int kinds_seen[A_KINDS] = {0};
    for (int round = 0; round < 30; round++) {
        int fd[2];
        assert_int_equal(pipe(fd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fd[0]);
            Acks a = {.fd = fd[1]};
            LabErr ce = {0};
            for (int k = 0;; k++)
                if (script(path, round * 100000 + k, &a, &ce)) {
                    fprintf(stderr, "child: %s\n", ce.msg);
                    _exit(3);
                }
        }
        close(fd[1]);
        /* kill after a random number of acknowledged writes (up to two sessions' worth, so every
         * write path is hit whatever the machine's speed), then a random moment more */
        Ack x;
        int want = 1 + rand() % 70, got = 0;
        while (got < want && read(fd[0], &x, sizeof x) == sizeof x) {
            ack(&all, x.kind, x.id, x.state);
            kinds_seen[x.kind]++;
            got++;
        }
        assert_int_equal(got, want);
        struct timespec ts = {0, (long)(rand() % 2000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        while (read(fd[0], &x, sizeof x) == sizeof x) {
            ack(&all, x.kind, x.id, x.state);
            kinds_seen[x.kind]++;
        }
        close(fd[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status)) fail_msg("round %d: the child stopped by itself (status %d)", round, status);
        char when[64];
        snprintf(when, sizeof when, "after kill -9 number %d", round + 1);
        check_record(path, &all, when);
    }
    for (int k = 0; k < A_KINDS; k++)
        if (!kinds_seen[k]) fail_msg("no %s write was acknowledged before a kill: widen the rounds", ACK_TABLE[k]);
    fprintf(stderr, "# 30 kills, %zu acknowledged writes of %d kinds all kept\n", all.n, A_KINDS);
    free(all.v);
    remove_record(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_io_fault_keeps_acknowledged_ratings),
        cmocka_unit_test(test_kill9_on_every_write_path),
    };
    int rc = cmocka_run_group_tests(tests, setup_dir, teardown_dir);
    /* the memory-backed folder is outside the test's temporary folder */
    const char *dir = fault_dir_path;
    if (!strncmp(dir, "/dev/shm/ablab-faults-", 22)) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}
