/* Timings for `ablab bench`, measured as llama-bench measures them: prompt processing of n tokens
 * as one batch from an empty cache (pp), and generating n tokens one at a time (tg), token ids
 * given (no tokenization, no sampling), plus what bounds decoding: the bytes of weights read per
 * token and the machine's read bandwidth. */
#include <cblas.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "model.h"
#include "quant.h"

/* Token ids that do not depend on a tokenizer: a fixed walk over the vocabulary. */
static int bench_id(int i, int vocab) { return (int)(((int64_t)i * 7919 + 13) % vocab); }

int eng_bench_pp(EngModel *m, int n, double *ms, LabErr *e) {
    if (n < 1 || n > m->s.ctx) return lab_err(e, LAB_EINVAL, "%s: pp%d does not fit the context of %d", m->name, n, m->s.ctx);
    if (m->busy) return lab_err(e, LAB_EINVAL, "%s: a generation is using this model", m->name);
    int *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) return lab_err(e, LAB_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) ids[i] = bench_id(i, m->cfg.vocab);
    m->s.pos = 0;
    double t0 = now_ms();
    int rc = eng_forward(m, ids, n, NULL, e); /* logits of the last position only, as llama-bench */
    *ms = now_ms() - t0;
    free(ids);
    return rc;
}

int eng_bench_tg(EngModel *m, int n, double *ms, LabErr *e) {
    if (n < 1 || n > m->s.ctx) return lab_err(e, LAB_EINVAL, "%s: tg%d does not fit the context of %d", m->name, n, m->s.ctx);
    if (m->busy) return lab_err(e, LAB_EINVAL, "%s: a generation is using this model", m->name);
    m->s.pos = 0;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        int id = bench_id(i, m->cfg.vocab);
        if (eng_forward_step(m, id, e)) return -1;
    }
    *ms = now_ms() - t0;
    return 0;
}

static size_t tensor_bytes(const EngTensor *t) {
    size_t b = 0;
    if (t->data) eng_dtype_bytes(t->dt, t->rows, t->cols, &b);
    return b;
}

size_t eng_bench_decode_bytes(const EngModel *m) {
    const EngConfig *c = &m->cfg;
    const EngWeights *w = &m->w;
    size_t b = tensor_bytes(&w->lm_head) + (size_t)c->dim * 4; /* the head and one embedding row */
    for (int i = 0; i < c->n_layer; i++) {
        const EngLayer *y = &w->layers[i];
        const EngTensor *mats[] = {&y->wq, &y->wk, &y->wv, &y->wo, &y->w_gate, &y->w_up, &y->w_down,
                                   &y->c_attn, &y->c_proj, &y->c_fc, &y->c_fc_proj};
        for (size_t k = 0; k < sizeof mats / sizeof *mats; k++) b += tensor_bytes(mats[k]);
    }
    return b;
}

const char *eng_blas_core(void) { return openblas_get_corename(); }

const char *eng_kernel_path(void) { return quant_path_name(); }

/* ---------- read bandwidth: each thread streams its slice of a buffer larger than the caches ---------- */
typedef struct {
    const float *buf;
    size_t n;
    float out[64];
} BwJob;

static void bw_task(void *ud, int i, int n) {
    BwJob *j = ud;
    size_t per = j->n / (size_t)n / 64 * 64, s = per * (size_t)i;
    /* dot of a slice with itself: one stream of loads through the vector unit */
    j->out[i % 64] = quant_dot(QT_F32, j->buf + s, j->buf + s, per);
}

double eng_read_bandwidth(int n_threads, size_t bytes) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    size_t n = bytes / sizeof(float);
    float *buf = NULL;
    /* in 2 MiB huge pages where the kernel gives them, as the weights are (model.c): the bound is
     * the best this machine reads, not what 4 KiB pages allow */
    size_t huge = (size_t)2 << 20, rounded = (n * sizeof *buf + huge - 1) / huge * huge;
    if (posix_memalign((void **)&buf, huge, rounded)) return 0;
#ifdef MADV_HUGEPAGE
    madvise(buf, rounded, MADV_HUGEPAGE);
#endif
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7) * 0.125f; /* fault every page in */
    EngPool *p = eng_pool_new(n_threads);
    if (!p) {
        free(buf);
        return 0;
    }
    BwJob j = {buf, n, {0}};
    double best = 0;
    for (int rep = 0; rep < 10; rep++) { /* the best of 10: a busy moment only lowers a few */
        double t0 = now_ms();
        eng_pool_run(p, bw_task, &j);
        double s = (now_ms() - t0) / 1000.0;
        double gbs = (double)(n / (size_t)n_threads / 64 * 64 * (size_t)n_threads) * 4 / s / 1e9;
        if (gbs > best) best = gbs;
    }
    eng_pool_free(p);
    free(buf);
    return best;
}
