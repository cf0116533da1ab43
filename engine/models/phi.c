/* The Phi forward pass (Hugging Face PhiForCausalLM; Phi-1, 1.5, 2): one LayerNorm feeds both the
 * attention and the MLP, whose outputs are added to the residual together; q/k/v/dense with
 * biases, RoPE on the first rope_dim dimensions of each head (partial_rotary_factor), gelu_new,
 * and an untied head with a bias. */
#include "matmul.h"
#include "models.h"
#include "rows.h"
#include "ops.h"

void phi_forward(EngModel *m, const int *ids, int n, float *all_logits) {
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
        op_layernorm(s->xb, s->x, L->ln1_w, L->ln1_b, n, dim, c->norm_eps);
        model_mm(m, &L->wq, s->xb, n, s->q);
        model_mm(m, &L->wk, s->xb, n, k);
        model_mm(m, &L->wv, s->xb, n, v);
        op_add_bias(s->q, L->bq, n, qd);
        op_add_bias(k, L->bk, n, kvd);
        op_add_bias(v, L->bv, n, kvd);
        for (int t = 0; t < n; t++) {
            int pos = model_pos(s, p0, t);
            const float *cr = s->rope_cos + (size_t)pos * half, *sr = s->rope_sin + (size_t)pos * half;
            op_rope(s->q + (size_t)t * qd, c->n_head, hd, c->rope_dim, cr, sr, false);
            op_rope(k + (size_t)t * kvd, c->n_kv_head, hd, c->rope_dim, cr, sr, false);
        }
        OpAttn a = {.q = s->q, .q_stride = qd, .k_cache = kc, .v_cache = vc, .kv_dim = kvd, .out = s->att_out,
                    .att = s->att, .ctx = s->ctx, .pack = s->pack, .n = n, .p0 = p0,
                    .n_head = c->n_head, .n_kv_head = c->n_kv_head, .head_dim = hd, .f16 = m->attn_f16, .lc = m->llama_order};
        model_kv_store(s, l, kvd, n);
        model_attention(m, &a, l);
        /* the MLP reads the same normed input (xb) before the attention's output overwrites it */
        model_mm(m, &L->c_fc, s->xb, n, s->hb);
        op_add_bias(s->hb, L->c_fc_b, n, c->hidden);
        op_gelu_new(s->hb, (size_t)n * c->hidden);
        model_mm(m, &L->wo, s->att_out, n, s->xb);
        op_add_bias(s->xb, L->bo, n, dim);
        model_mm(m, &L->c_fc_proj, s->hb, n, s->xb2);
        op_add_bias(s->xb2, L->c_fc_proj_b, n, dim);
        op_add(s->xb, s->xb2, (size_t)n * dim); /* attn + mlp, then + x */
        op_add(s->x, s->xb, (size_t)n * dim);
    }
    s->pos = p0 + n;
    model_head(m, n, all_logits);
}
