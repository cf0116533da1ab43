/* The Gemma 3 text forward pass (Hugging Face Gemma3ForCausalLM): embeddings scaled by sqrt(dim);
 * RMSNorms whose weights are stored as (1 + w) at load (as llama.cpp's converter does), before and
 * after both the attention and the MLP; RMSNorm over each head of q and k; attention scaled by
 * query_pre_attn_scalar^-1/2, sliding-window layers (with their own RoPE base) among global ones;
 * GeGLU with tanh GELU; the logits soft-capped. */
#include "matmul.h"
#include "models.h"
#include "rows.h"
#include "ops.h"

void gemma3_forward(EngModel *m, const int *ids, int n, float *all_logits) {
    const EngConfig *c = &m->cfg;
    const EngWeights *w = &m->w;
    EngRunState *s = &m->s;
    int dim = c->dim, hd = c->head_dim, half = c->rope_dim / 2;
    int qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    int p0 = s->pos;
    for (int t = 0; t < n; t++) {
        float *x = s->x + (size_t)t * dim;
        eng_tensor_row(&w->tok_emb, ids[t], x);
        for (int i = 0; i < dim; i++) x[i] *= c->embed_scale;
    }
    for (int l = 0; l < c->n_layer; l++) {
        const EngLayer *L = &w->layers[l];
        float *kc = s->key_cache + ((size_t)l * s->ctx) * kvd;
        float *vc = s->value_cache + ((size_t)l * s->ctx) * kvd;
        float *k, *v; /* the cache rows of p0 .., or s.k / s.v with one row per sequence */
        model_kv_target(s, l, kvd, p0, &k, &v);
        const float *cos_t = L->sliding ? s->rope_cos_l : s->rope_cos, *sin_t = L->sliding ? s->rope_sin_l : s->rope_sin;
        op_rmsnorm(s->xb, s->x, L->attn_norm, n, dim, c->norm_eps);
        model_mm(m, &L->wq, s->xb, n, s->q);
        model_mm(m, &L->wk, s->xb, n, k);
        model_mm(m, &L->wv, s->xb, n, v);
        op_rmsnorm(s->q, s->q, L->q_norm, n * c->n_head, hd, c->norm_eps);
        op_rmsnorm(k, k, L->k_norm, n * c->n_kv_head, hd, c->norm_eps);
        for (int t = 0; t < n; t++) {
            int pos = model_pos(s, p0, t);
            const float *cr = cos_t + (size_t)pos * half, *sr = sin_t + (size_t)pos * half;
            op_rope(s->q + (size_t)t * qd, c->n_head, hd, c->rope_dim, cr, sr, false);
            op_rope(k + (size_t)t * kvd, c->n_kv_head, hd, c->rope_dim, cr, sr, false);
        }
        OpAttn a = {.q = s->q, .q_stride = qd, .k_cache = kc, .v_cache = vc, .kv_dim = kvd, .out = s->att_out,
                    .att = s->att, .ctx = s->ctx, .pack = s->pack, .n = n, .p0 = p0,
                    .n_head = c->n_head, .n_kv_head = c->n_kv_head, .head_dim = hd, .scale = c->attn_scale,
                    .window = L->sliding ? c->sliding_window : 0, .f16 = m->attn_f16, .lc = m->llama_order};
        model_kv_store(s, l, kvd, n);
        model_attention(m, &a, l);
        model_mm(m, &L->wo, s->att_out, n, s->xb);
        op_rmsnorm(s->xb, s->xb, L->post_attn_norm, n, dim, c->norm_eps);
        op_add(s->x, s->xb, (size_t)n * dim);

        op_rmsnorm(s->xb, s->x, L->ffn_norm, n, dim, c->norm_eps);
        model_mm(m, &L->w_gate, s->xb, n, s->hb);
        model_mm(m, &L->w_up, s->xb, n, s->hb2);
        op_gelu_mul(s->hb, s->hb2, (size_t)n * c->hidden);
        model_mm(m, &L->w_down, s->hb, n, s->xb);
        op_rmsnorm(s->xb, s->xb, L->post_ffn_norm, n, dim, c->norm_eps);
        op_add(s->x, s->xb, (size_t)n * dim);
    }
    s->pos = p0 + n;
    model_head(m, n, all_logits);
}
