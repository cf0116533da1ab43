/* The per-sequence parts of a forward pass (models.h): one sequence's positions in the model's KV
 * cache, or one row per sequence (EngRunState.seq), each in its own cache. */
#include <string.h>

#include "lcmath.h"
#include "matmul.h"
#include "models.h"
#include "rows.h"

void model_mm(EngModel *m, const EngTensor *W, const float *X, int n, float *Y) {
    const EngRunState *s = &m->s;
    if (s->seq && !s->prompt) { /* a decode step of several sequences */
        mm_vecs(W, X, n, Y, m->pool);
        return;
    }
    /* a prompt pass of a llama.cpp-arithmetic model: llama.cpp's order where the type has it */
    bool lc = m->llama_order && !s->step;
    void (*batch)(const EngTensor *, const float *, int, float *, EngPool *, float *) = lc ? mm_prompt : mm_batch;
    if (!s->seq || (lc ? mm_prompt_rowwise(W) : mm_batch_rowwise(W))) {
        batch(W, X, n, Y, m->pool, s->pack);
        return;
    }
    /* each prompt as a batch of its own: what its rows get depends on the batch */
    size_t cols = (size_t)W->cols, rows = (size_t)W->rows;
    for (int t0 = 0, t1; t0 < n; t0 = t1) {
        t1 = model_prompt_end(s, t0, n);
        batch(W, X + (size_t)t0 * cols, t1 - t0, Y + (size_t)t0 * rows, m->pool, s->pack);
    }
}

void model_kv_rows(const EngRunState *s, int l, int kvd, int p0, int t, float **k, float **v) {
    if (s->seq) {
        const EngSeq *q = &s->seq[t];
        size_t at = ((size_t)l * q->ctx + (size_t)q->pos) * kvd;
        *k = q->key_cache + at;
        *v = q->value_cache + at;
        return;
    }
    size_t at = ((size_t)l * s->ctx + (size_t)(p0 + t)) * kvd;
    *k = s->key_cache + at;
    *v = s->value_cache + at;
}

void model_kv_target(const EngRunState *s, int l, int kvd, int p0, float **k, float **v) {
    if (s->seq) {
        *k = s->k;
        *v = s->v;
        return;
    }
    model_kv_rows(s, l, kvd, p0, 0, k, v);
}

void model_kv_store(const EngRunState *s, int l, int kvd, int n) {
    if (!s->seq) return;
    for (int t = 0; t < n; t++) {
        float *k, *v;
        model_kv_rows(s, l, kvd, 0, t, &k, &v);
        memcpy(k, s->k + (size_t)t * kvd, (size_t)kvd * sizeof *k);
        memcpy(v, s->v + (size_t)t * kvd, (size_t)kvd * sizeof *v);
    }
}

void model_attention(EngModel *m, const OpAttn *a, int l) {
    const EngRunState *s = &m->s;
    if (!s->seq) {
        op_attention(a, m->pool);
        return;
    }
    for (int t = 0, t1; t < a->n; t = t1) {
        t1 = s->prompt ? model_prompt_end(s, t, a->n) : t + 1; /* a prompt's rows together, as alone */
        const EngSeq *q = &s->seq[t];
        size_t layer = (size_t)l * q->ctx * a->kv_dim;
        OpAttn one = *a;
        one.q = a->q + (size_t)t * a->q_stride;
        one.out = a->out + (size_t)t * a->n_head * a->head_dim;
        one.k_cache = q->key_cache + layer;
        one.v_cache = q->value_cache + layer;
        one.ctx = q->ctx;
        one.n = t1 - t;
        one.p0 = q->pos;
        op_attention(&one, m->pool);
    }
}

void model_rmsnorm(const EngModel *m, float *out, const float *x, const float *w, int n, int dim) {
    if (m->llama_order) lc_rmsnorm(out, x, w, n, dim, m->cfg.norm_eps);
    else op_rmsnorm(out, x, w, n, dim, m->cfg.norm_eps);
}

void model_silu_mul(const EngModel *m, float *a, const float *b, int n, int width) {
    if (m->llama_order) lc_silu_mul(a, b, (size_t)n * width, (size_t)width);
    else op_silu_mul(a, b, (size_t)n * width);
}

void model_rope(const EngModel *m, float *v, int n_heads, const float *cos_row, const float *sin_row) {
    const EngConfig *c = &m->cfg;
    if (m->llama_order) lc_rope(v, n_heads, c->head_dim, c->rope_dim, cos_row, sin_row, c->rope_interleaved);
    else op_rope(v, n_heads, c->head_dim, c->rope_dim, cos_row, sin_row, c->rope_interleaved);
}
