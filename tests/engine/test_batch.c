/* Batched decode (issue 18): generations of one model stepped together through eng_gen_step_many
 * give exactly what each gives alone through eng_gen_start / eng_gen_step (ids, text, stop), and
 * the multi-vector kernel behind it (mm_vecs) gives each vector exactly mm_vec's bits.
 *   - six sequences with their own prompts, seeds, temperatures, top-k, max_tokens, stop ids and
 *     stop strings (some finish early, so the batch shrinks as it runs), on the shipped models
 *     (gpt2-mini, scratch-shakespeare: llama), on a Q8_0 GGUF of each (ablab's writer), with
 *     q4_k_m at load, on every family's reference checkpoint in tests/fixtures/ref/models, and
 *     with the AVX2 and portable kernel paths forced;
 *   - mm_vecs against mm_vec, bit for bit, for every dtype the decode kernels read;
 *   - a model sharing another's weights (eng_share) gives the same answers as its own load, while
 *     both run at once and after the first is freed. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"
#include "matmul.h"
#include "quant.h"
#include "test_engine_util.h"

#define NSEQ 6

typedef struct {
    IntVec ids;
    Buf text;
    EngStop stop;
} Out;

static void out_free(Out *o) {
    ivec_free(&o->ids);
    buf_free(&o->text);
}

typedef struct {
    IntVec prompt;
    EngSampling s;
    int stop_id;
    const char *stop_str;
} Seq;

/* the ids a generation produced, EOS included (eng_gen_ids) */
static void ids_take(Out *o, const EngGen *g) {
    const IntVec *ids = eng_gen_ids(g);
    for (size_t i = 0; i < ids->n; i++) ivec_push(&o->ids, ids->v[i]);
}

static void piece_add(Out *o, int rc, const EngPiece *p) {
    if (p->len) assert_int_equal(buf_append(&o->text, p->text, p->len), 0);
    if (rc == 0) o->stop = p->stop;
}

static void run_alone(EngModel *m, const Seq *q, Out *o) {
    LabErr e = {0};
    EngGen *g;
    if (eng_gen_start(&g, m, q->prompt.v, (int)q->prompt.n, &q->s, &e)) fail_msg("%s", e.msg);
    for (;;) {
        EngPiece p;
        int rc = eng_gen_step(g, &p, &e);
        if (rc < 0) fail_msg("%s", e.msg);
        piece_add(o, rc, &p);
        if (rc == 0) break;
    }
    ids_take(o, g);
    eng_gen_free(g);
}

static void expect_same(const char *what, int i, const Out *a, const Out *b) {
    bool same = a->ids.n == b->ids.n && !memcmp(a->ids.v, b->ids.v, a->ids.n * sizeof *a->ids.v) &&
                a->text.len == b->text.len && (!a->text.len || !memcmp(a->text.data, b->text.data, a->text.len)) &&
                a->stop == b->stop;
    if (!same)
        fail_msg("%s: sequence %d: alone %zu ids '%s' (%s), batched %zu ids '%s' (%s)", what, i, a->ids.n,
                 a->text.data ? a->text.data : "", eng_stop_name(a->stop), b->ids.n, b->text.data ? b->text.data : "",
                 eng_stop_name(b->stop));
}

/* The six sequences: prompts of different lengths, settings and stops of their own. */
static void make_seqs(EngModel *m, Seq *q) {
    static const char *texts[NSEQ] = {"Once upon a time", "The", "To be, or not to be: that is the question",
                                      "A quick brown fox jumps", "Hello, world. Hello", "In the beginning was"};
    const EngInfo *in = eng_info(m);
    for (int i = 0; i < NSEQ; i++) {
        q[i] = (Seq){.s = eng_sampling_default(), .stop_id = -1};
        LabErr e = {0};
        if (eng_tokenize(m, texts[i], true, &q[i].prompt, &e) || q[i].prompt.n == 0) {
            ivec_free(&q[i].prompt);
            for (int k = 0; k < 3 + 2 * i; k++) ivec_push(&q[i].prompt, (7 + 13 * k + 31 * i) % in->vocab);
        }
        EngSampling *s = &q[i].s;
        s->seed = 1000 + (uint64_t)i * 7919;
        s->temp = i == 0 ? 0.0f : 0.6f + 0.2f * (float)i;
        s->top_k = i == 3 ? 0 : 40;
        s->top_p = i == 4 ? 1.0f : 0.95f;
        s->repeat_penalty = i == 5 ? 1.3f : 1.0f;
        s->max_tokens = 6 + 4 * i;
    }
    /* sequence 1 ends early on a stop id: the third token it gives alone */
    Out o = {0};
    run_alone(m, &q[1], &o);
    if (o.ids.n >= 3) q[1].stop_id = o.ids.v[2];
    out_free(&o);
    q[1].s.stop_ids = &q[1].stop_id;
    q[1].s.n_stop_ids = q[1].stop_id >= 0;
    q[2].stop_str = "e";
    q[2].s.stop = &q[2].stop_str;
    q[2].s.n_stop = 1;
}

/* One eng_gen_step_many over those of g[0 .. n) not done, their pieces added to out: how many run on. */
static int step_live(EngGen **g, int n, bool *done, Out *out) {
    EngGen *run[NSEQ];
    EngPiece p[NSEQ];
    int at[NSEQ], rc[NSEQ], k = 0;
    LabErr errs[NSEQ];
    for (int i = 0; i < n; i++)
        if (!done[i]) {
            at[k] = i;
            run[k++] = g[i];
        }
    int live = eng_gen_step_many(run, k, p, rc, errs);
    assert_true(live >= 0);
    for (int j = 0; j < k; j++) {
        if (rc[j] < 0) fail_msg("%s", errs[j].msg);
        piece_add(&out[at[j]], rc[j], &p[j]);
        if (rc[j] == 0) done[at[j]] = true;
    }
    return live;
}

/* The sequences alone, then batched (half started before the first batched step, one started
 * later, one stepped alone once in between): the same ids, text and stop for each. */
static void check_model(EngModel *m, const char *what) {
    Seq q[NSEQ];
    make_seqs(m, q);
    Out alone[NSEQ], batched[NSEQ];
    memset(alone, 0, sizeof alone);
    memset(batched, 0, sizeof batched);
    for (int i = 0; i < NSEQ; i++) run_alone(m, &q[i], &alone[i]);
    EngGen *g[NSEQ];
    LabErr e = {0};
    for (int i = 0; i < NSEQ - 1; i++)
        if (eng_gen_start_own(&g[i], m, q[i].prompt.v, (int)q[i].prompt.n, &q[i].s, &e)) fail_msg("%s", e.msg);
    EngPiece p0;
    LabErr errs[NSEQ];
    /* one of them stepped alone first: the own-cache generation through eng_gen_step */
    int r0 = eng_gen_step(g[0], &p0, &e);
    assert_true(r0 >= 0);
    piece_add(&batched[0], r0, &p0);
    bool done[NSEQ] = {r0 == 0};
    int steps = 0, live;
    do {
        if (steps == 2) /* a late one joins the batch */
            if (eng_gen_start_own(&g[NSEQ - 1], m, q[NSEQ - 1].prompt.v, (int)q[NSEQ - 1].prompt.n, &q[NSEQ - 1].s, &e))
                fail_msg("%s", e.msg);
        live = step_live(g, steps >= 2 ? NSEQ : NSEQ - 1, done, batched);
        steps++;
    } while (live > 0 || steps <= 2);
    for (int i = 0; i < NSEQ; i++) {
        assert_true(done[i]);
        ids_take(&batched[i], g[i]);
        expect_same(what, i, &alone[i], &batched[i]);
        eng_gen_free(g[i]);
        out_free(&batched[i]);
    }
    /* the prompts started together (eng_gen_start_own_many: shared passes), then stepped together */
    const int *pp[NSEQ];
    int pn[NSEQ];
    const EngSampling *ps[NSEQ];
    for (int i = 0; i < NSEQ; i++) {
        pp[i] = q[i].prompt.v;
        pn[i] = (int)q[i].prompt.n;
        ps[i] = &q[i].s;
    }
    memset(batched, 0, sizeof batched);
    assert_int_equal(eng_gen_start_own_many(g, m, pp, pn, ps, NSEQ, errs), NSEQ);
    memset(done, 0, sizeof done);
    do live = step_live(g, NSEQ, done, batched);
    while (live > 0);
    for (int i = 0; i < NSEQ; i++) {
        ids_take(&batched[i], g[i]);
        char w2[300];
        snprintf(w2, sizeof w2, "%s, prompts started together", what);
        expect_same(w2, i, &alone[i], &batched[i]);
        eng_gen_free(g[i]);
        out_free(&alone[i]);
        out_free(&batched[i]);
        ivec_free(&q[i].prompt);
    }
    /* the stops were met: one early on its stop id, the others ran to their own max_tokens or ended */
    printf("# %s: %d batched steps\n", what, steps);
}

static EngModel *load(const char *path, const char *quant) {
    EngLoadOpts o = {.n_threads = 2, .quant = quant};
    EngModel *m;
    LabErr e = {0};
    if (eng_load(&m, path, &o, &e)) fail_msg("%s: %s", path, e.msg);
    return m;
}

static void check_path(const char *path, const char *quant, const char *what) {
    EngModel *m = load(path, quant);
    check_model(m, what);
    eng_free(m);
}

static void shipped(char *out, size_t n, const char *name) {
    const char *assets = getenv("ABLAB_ASSETS");
    snprintf(out, n, "%s/models/%s", assets ? assets : "assets", name);
    if (file_exists(out) != 2) fail_msg("the shipped model %s is missing", out);
}

/* A Q8_0 GGUF of a shipped model, as `ablab convert --quant q8_0` writes it. */
static void q8_gguf(const char *src, char *out, size_t n) {
    static int k;
    snprintf(out, n, "/tmp/ablab-batch-%d-%d.gguf", (int)getpid(), k++);
    EngModel *m = load(src, NULL);
    LabErr e = {0};
    if (eng_save_gguf(m, out, "q8_0", &e)) fail_msg("%s", e.msg);
    eng_free(m);
}

static void test_shipped(void **st) {
    (void)st;
    static const char *names[] = {"gpt2-mini", "scratch-shakespeare"};
    for (int i = 0; i < 2; i++) {
        char dir[4096], gguf[256], what[300];
        shipped(dir, sizeof dir, names[i]);
        check_path(dir, NULL, names[i]);
        q8_gguf(dir, gguf, sizeof gguf);
        snprintf(what, sizeof what, "%s q8_0 gguf (%s)", names[i], eng_kernel_path());
        check_path(gguf, NULL, what);
        snprintf(what, sizeof what, "%s q4_k_m", names[i]);
        check_path(dir, "q4_k_m", what);
        /* the lower kernel paths, the GGUF loaded under them (Q8_0 kept, not repacked) */
        static const char *paths[] = {"avx2", "portable"};
        for (int k = 0; k < 2; k++) {
            if (quant_set_path(paths[k])) {
                printf("# the %s path cannot run here: not checked\n", paths[k]);
                continue;
            }
            snprintf(what, sizeof what, "%s q8_0 gguf (%s)", names[i], paths[k]);
            check_path(gguf, NULL, what);
            snprintf(what, sizeof what, "%s (%s)", names[i], paths[k]);
            check_path(dir, NULL, what);
            quant_set_path(NULL);
        }
        unlink(gguf);
    }
}

static void test_families(void **st) {
    (void)st;
    static const char *fams[] = {"gemma3_text", "gpt_neox-parallel", "gpt_neox-sequential", "llama-head-dim",
                                 "llama-rope-llama3", "llama-smollm-tied", "phi", "qwen2", "qwen3"};
    const char *td = getenv("TEST_DATA_DIR");
    for (size_t i = 0; i < sizeof fams / sizeof *fams; i++) {
        char dir[4096], what[300];
        const char *only = getenv("ABLAB_FAMILY"); /* one family while debugging */
        if (only && strcmp(only, fams[i])) continue;
        snprintf(dir, sizeof dir, "%s/ref/models/%s", td ? td : "tests/fixtures", fams[i]);
        if (file_exists(dir) != 2) fail_msg("the reference model %s is missing", dir);
        check_path(dir, NULL, fams[i]);
        snprintf(what, sizeof what, "%s q8_0", fams[i]);
        check_path(dir, "q8_0", what);
    }
}

/* A generation of eng_gen_start (the model's own cache) is not one eng_gen_step_many takes. */
static void test_refusal(void **st) {
    (void)st;
    char dir[4096];
    shipped(dir, sizeof dir, "gpt2-mini");
    EngModel *m = load(dir, NULL);
    EngSampling s = eng_sampling_default();
    int prompt[] = {1, 2, 3};
    EngGen *g[2];
    LabErr e = {0};
    assert_int_equal(eng_gen_start_own(&g[0], m, prompt, 3, &s, &e), 0);
    assert_int_equal(eng_gen_start(&g[1], m, prompt, 3, &s, &e), 0);
    EngPiece p[2];
    int rc[2];
    LabErr errs[2] = {{0}};
    assert_int_equal(eng_gen_step_many(g, 2, p, rc, errs), -1);
    assert_int_equal(rc[0], -1);
    assert_non_null(strstr(errs[0].msg, "eng_gen_start_own"));
    eng_gen_free(g[0]);
    eng_gen_free(g[1]);
    eng_free(m);
}

/* ---------- two models over one set of weights ---------- */
typedef struct {
    EngModel *m;
    Seq *q;
    Out out[NSEQ];
} Arm;

static void *arm_run(void *ud) {
    Arm *a = ud;
    for (int i = 0; i < NSEQ; i++) run_alone(a->m, &a->q[i], &a->out[i]);
    return NULL;
}

static void arm_free(Arm *a) {
    for (int i = 0; i < NSEQ; i++) out_free(&a->out[i]);
    memset(a->out, 0, sizeof a->out);
}

static void check_arms(const char *what, const Arm *x, const Arm *y) {
    for (int i = 0; i < NSEQ; i++) expect_same(what, i, &x->out[i], &y->out[i]);
}

/* A share answers as a load of its own: alone, while its base answers on another thread, and after
 * the base is freed (its weights stay for the share); it has its own context and threads, and says
 * that its weights are shared. */
static void check_share(const char *path, const char *quant, const char *what) {
    EngModel *own = load(path, quant), *base = load(path, quant), *sh;
    EngLoadOpts so = {.n_threads = 1, .ctx = 64};
    LabErr e = {0};
    if (eng_share(&sh, base, &so, &e)) fail_msg("%s: %s", what, e.msg);
    const EngInfo *bi = eng_info(base), *si = eng_info(sh);
    assert_true(si->shared);
    assert_false(bi->shared);
    assert_int_equal(si->ctx, 64);
    assert_int_equal(si->n_threads, 1);
    assert_int_equal(bi->n_threads, 2);
    assert_true(si->bytes_kv < bi->bytes_kv);
    assert_int_equal(si->bytes_owned, bi->bytes_owned);
    assert_string_equal(si->dtype, bi->dtype);
    assert_int_equal(si->n_params, bi->n_params);
    Seq q[NSEQ];
    make_seqs(own, q);
    Arm ref = {.m = own, .q = q}, a = {.m = base, .q = q}, b = {.m = sh, .q = q};
    arm_run(&ref);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, arm_run, &a), 0);
    arm_run(&b);
    assert_int_equal(pthread_join(t, NULL), 0);
    check_arms(what, &ref, &a);
    check_arms(what, &ref, &b);
    arm_free(&b);
    eng_free(base); /* the share keeps the weights */
    arm_run(&b);
    check_arms(what, &ref, &b);
    /* a share of a share reads the same weights */
    EngModel *sh2;
    if (eng_share(&sh2, sh, NULL, &e)) fail_msg("%s: %s", what, e.msg);
    eng_free(sh);
    Arm c = {.m = sh2, .q = q};
    arm_run(&c);
    check_arms(what, &ref, &c);
    eng_free(sh2);
    arm_free(&ref);
    arm_free(&a);
    arm_free(&b);
    arm_free(&c);
    for (int i = 0; i < NSEQ; i++) ivec_free(&q[i].prompt);
    eng_free(own);
    printf("# %s: a share answers as its own load\n", what);
}

static void test_share(void **st) {
    (void)st;
    char dir[4096];
    shipped(dir, sizeof dir, "gpt2-mini");
    check_share(dir, NULL, "gpt2-mini");
    shipped(dir, sizeof dir, "scratch-shakespeare");
    check_share(dir, "q4_k_m", "scratch-shakespeare q4_k_m");
}

/* ---------- mm_vecs against mm_vec ---------- */
static void check_kernel(QType t, bool transposed, int rows, int cols, EngPool *pool) {
    int n = 5;
    size_t rb = 0;
    EngTensor W = {.dt = (EngDType)t, .rows = rows, .cols = cols, .transposed = transposed};
    float *wf = malloc((size_t)rows * cols * sizeof *wf);
    for (size_t i = 0; i < (size_t)rows * cols; i++) wf[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 7));
    void *data;
    if (t == QT_F32) data = wf;
    else {
        assert_int_equal(qtype_row_bytes(t, (size_t)cols, &rb), 0);
        data = malloc(rb * (size_t)rows + 64);
        for (int r = 0; r < rows; r++) quant_from_f32(t, wf + (size_t)r * cols, (char *)data + (size_t)r * rb, (size_t)cols);
    }
    W.data = data;
    float *x = malloc((size_t)n * cols * sizeof *x), *y1 = malloc((size_t)n * rows * sizeof *y1),
          *yn = malloc((size_t)n * rows * sizeof *yn);
    for (size_t i = 0; i < (size_t)n * cols; i++) x[i] = cosf((float)i * 0.11f) * (float)(1 + i % 5);
    for (int v = 0; v < n; v++) mm_vec(&W, x + (size_t)v * cols, y1 + (size_t)v * rows, pool);
    mm_vecs(&W, x, n, yn, pool);
    for (size_t i = 0; i < (size_t)n * rows; i++)
        if (memcmp(&y1[i], &yn[i], sizeof *y1))
            fail_msg("%s%s %dx%d (%s): vector %zu row %zu: mm_vec %.9g, mm_vecs %.9g", qtype_name(t),
                     transposed ? " transposed" : "", rows, cols, quant_path_name(), i / (size_t)rows, i % (size_t)rows,
                     (double)y1[i], (double)yn[i]);
    if (data != wf) free(data);
    free(wf);
    free(x);
    free(y1);
    free(yn);
}

static void test_kernels(void **st) {
    (void)st;
    EngPool *pool = eng_pool_new(2);
    static const QType types[] = {QT_F32, QT_F16,  QT_BF16, QT_Q8_0, QT_Q8R, QT_Q4_0, QT_Q4_1,
                                  QT_Q5_0, QT_Q5_1, QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K};
    static const char *paths[] = {NULL, "avx2", "portable"};
    for (int k = 0; k < 3; k++) {
        if (paths[k] && quant_set_path(paths[k])) continue;
        for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
            check_kernel(types[i], false, 600, 768, pool); /* big enough for the pool's split */
            check_kernel(types[i], false, 37, 256, pool);  /* small: one thread */
        }
        check_kernel(QT_F32, true, 600, 768, pool);
        check_kernel(QT_F32, true, 40, 64, pool);
        quant_set_path(NULL);
    }
    eng_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_refusal),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_shipped),
        cmocka_unit_test(test_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
