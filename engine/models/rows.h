/* Private to engine/models/: the parts of a forward pass that differ per sequence (rows.c). */
#ifndef ABLAB_ROWS_H
#define ABLAB_ROWS_H

#include "model.h"
#include "ops.h"

/* ---------- what a pass does per sequence (rows.c) ---------------------------------------------
 * A pass runs either positions p0 = s.pos .. of one sequence, or (s.seq set: eng_forward_seqs) one
 * row per sequence, each at its own position in its own cache and computed as that sequence's
 * decode step alone, or (s.seq and s.prompt: eng_forward_prompts) the prompts of several sequences,
 * each computed as its own pass alone. The families go through these wherever they differ. */
/* The position of row t (p0: s.pos at the start of the pass). */
static inline int model_pos(const EngRunState *s, int p0, int t) { return s->seq ? s->seq[t].pos : p0 + t; }
/* The end of the prompt that begins at row t0 of a prompt pass (s.prompt): its rows share a cache. */
static inline int model_prompt_end(const EngRunState *s, int t0, int n) {
    int t1 = t0 + 1;
    while (t1 < n && s->seq[t1].key_cache == s->seq[t0].key_cache) t1++;
    return t1;
}
/* Y[n][rows] = X W^T: mm_batch (a prompt batch), with s.seq mm_vecs (each row as mm_vec alone), with
 * s.prompt mm_batch of each prompt (of all rows at once where mm_batch_rowwise). */
void model_mm(EngModel *m, const EngTensor *W, const float *X, int n, float *Y);
/* The cache rows (kvd floats) of row t's key and value in layer l. */
void model_kv_rows(const EngRunState *s, int l, int kvd, int p0, int t, float **k, float **v);
/* Where the projections write the pass's n keys and values of layer l: the cache rows p0 .. of the
 * one sequence, or s.k / s.v (kvd floats a row) until model_kv_store copies each row to its cache. */
void model_kv_target(const EngRunState *s, int l, int kvd, int p0, float **k, float **v);
void model_kv_store(const EngRunState *s, int l, int kvd, int n);
/* Attention of layer l for the pass: a filled as for one sequence (caches of layer l, n, p0); with
 * s.seq each row attends alone (n = 1) to its own cache at its own position, with s.prompt each
 * prompt's rows together. */
void model_attention(EngModel *m, const OpAttn *a, int l);
/* RMSNorm and SiLU-times-up, as llama.cpp computes them for a llama.cpp-arithmetic model
 * (EngModel.llama_order, lcmath.h), else ops.h's. */
void model_rmsnorm(const EngModel *m, float *out, const float *x, const float *w, int n, int dim);
void model_silu_mul(const EngModel *m, float *a, const float *b, int n, int width);
void model_rope(const EngModel *m, float *v, int n_heads, const float *cos_row, const float *sin_row);

#endif
