/* The Llama-style forward pass (Meta / llama2.c / Hugging Face LlamaForCausalLM): RMSNorm, RoPE,
 * grouped-query attention, SwiGLU, optional biases. Qwen2 (q/k/v biases) and Qwen3 (RMSNorm over
 * each head of q and k before RoPE) are this pass too. A batch of n tokens goes through sgemm; K
 * and V are written straight into the cache rows of their positions. */
#include <string.h>

#include "matmul.h"
#include "models.h"
#include "rows.h"
#include "ops.h"

void llama_forward(EngModel *m, const int *ids, int n, float *all_logits) {
    const EngConfig *c = &m->cfg;
    const EngWeights *w = &m->w;
    EngRunState *s = &m->s;
    int dim = c->dim, hd = c->head_dim, half = c->rope_dim / 2;
    int qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    int p0 = s->pos;
    for (int t = 0; t < n; t++) eng_tensor_row(&w->tok_emb, ids[t], s->x + (size_t)t * dim);
    for (int l = 0; l < c->n_layer; l++) {
        const EngLayer *L = &w->layers[l];
        float *kc = s->key_cache + ((size_t)l * s->ctx) * kvd;
        float *vc = s->value_cache + ((size_t)l * s->ctx) * kvd;
        float *k, *v; /* the cache rows of p0 .., or s.k / s.v with one row per sequence */
        model_kv_target(s, l, kvd, p0, &k, &v);
        model_rmsnorm(m, s->xb, s->x, L->attn_norm, n, dim);
        model_mm(m, &L->wq, s->xb, n, s->q);
        model_mm(m, &L->wk, s->xb, n, k);
        model_mm(m, &L->wv, s->xb, n, v);
        op_add_bias(s->q, L->bq, n, qd);
        op_add_bias(k, L->bk, n, kvd);
        op_add_bias(v, L->bv, n, kvd);
        if (L->q_norm) { /* qwen3 */
            model_rmsnorm(m, s->q, s->q, L->q_norm, n * c->n_head, hd);
            model_rmsnorm(m, k, k, L->k_norm, n * c->n_kv_head, hd);
        }
        for (int t = 0; t < n; t++) {
            int pos = model_pos(s, p0, t);
            const float *cr = s->rope_cos + (size_t)pos * half, *sr = s->rope_sin + (size_t)pos * half;
            model_rope(m, s->q + (size_t)t * qd, c->n_head, cr, sr);
            model_rope(m, k + (size_t)t * kvd, c->n_kv_head, cr, sr);
        }
        OpAttn a = {.q = s->q, .q_stride = qd, .k_cache = kc, .v_cache = vc, .kv_dim = kvd, .out = s->att_out,
                    .att = s->att, .ctx = s->ctx, .pack = s->pack, .n = n, .p0 = p0,
                    .n_head = c->n_head, .n_kv_head = c->n_kv_head, .head_dim = hd, .scale = c->attn_scale, .f16 = m->attn_f16, .lc = m->llama_order};
        model_kv_store(s, l, kvd, n);
        model_attention(m, &a, l);
        model_mm(m, &L->wo, s->att_out, n, s->xb);
        op_add_bias(s->xb, L->bo, n, dim);
        op_add(s->x, s->xb, (size_t)n * dim);

        model_rmsnorm(m, s->xb, s->x, L->ffn_norm, n, dim);
        model_mm(m, &L->w_gate, s->xb, n, s->hb);
        model_mm(m, &L->w_up, s->xb, n, s->hb2);
        op_add_bias(s->hb, L->b_gate, n, c->hidden);
        op_add_bias(s->hb2, L->b_up, n, c->hidden);
        model_silu_mul(m, s->hb, s->hb2, n, c->hidden);
        model_mm(m, &L->w_down, s->hb, n, s->xb);
        op_add_bias(s->xb, L->b_down, n, dim);
        op_add(s->x, s->xb, (size_t)n * dim);
    }
    s->pos = p0 + n;
    model_head(m, n, all_logits);
}
