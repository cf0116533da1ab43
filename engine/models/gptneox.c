/* The GPT-NeoX forward pass (Hugging Face GPTNeoXForCausalLM; the Pythia suite): LayerNorms with
 * biases, one fused query_key_value projection, RoPE on the first rope_dim dimensions of each head
 * (rotary_pct), exact (erf) GELU, and either the parallel residual x + attn(ln1 x) + mlp(ln2 x)
 * or the sequential one. The head (embed_out) is its own matrix. */
#include <string.h>

#include "matmul.h"
#include "models.h"
#include "rows.h"
#include "ops.h"

void gptneox_forward(EngModel *m, const int *ids, int n, float *all_logits) {
    const EngConfig *c = &m->cfg;
    const EngWeights *w = &m->w;
    EngRunState *s = &m->s;
    int dim = c->dim, hd = c->head_dim, half = c->rope_dim / 2;
    int p0 = s->pos;
    for (int t = 0; t < n; t++) eng_tensor_row(&w->tok_emb, ids[t], s->x + (size_t)t * dim);
    for (int l = 0; l < c->n_layer; l++) {
        const EngLayer *L = &w->layers[l];
        float *kc = s->key_cache + ((size_t)l * s->ctx) * dim;
        float *vc = s->value_cache + ((size_t)l * s->ctx) * dim;
        op_layernorm(s->xb, s->x, L->ln1_w, L->ln1_b, n, dim, c->norm_eps);
        model_mm(m, &L->c_attn, s->xb, n, s->qkv);
        op_add_bias(s->qkv, L->c_attn_b, n, 3 * dim);
        /* split the fused rows into q and the cache's k and v: per head [q|k|v] in Hugging Face's
         * layout, [all q | all k | all v] in llama.cpp's */
        for (int t = 0; t < n; t++) {
            const float *f = s->qkv + (size_t)t * 3 * dim;
            float *q = s->q + (size_t)t * dim, *k, *v;
            model_kv_rows(s, l, dim, p0, t, &k, &v);
            for (int h = 0; h < c->n_head; h++) {
                size_t qo = c->qkv_per_head ? (size_t)h * 3 * hd : (size_t)h * hd;
                size_t step = c->qkv_per_head ? (size_t)hd : (size_t)dim;
                memcpy(q + (size_t)h * hd, f + qo, (size_t)hd * sizeof(float));
                memcpy(k + (size_t)h * hd, f + qo + step, (size_t)hd * sizeof(float));
                memcpy(v + (size_t)h * hd, f + qo + 2 * step, (size_t)hd * sizeof(float));
            }
            int pos = model_pos(s, p0, t);
            const float *cr = s->rope_cos + (size_t)pos * half, *sr = s->rope_sin + (size_t)pos * half;
            op_rope(q, c->n_head, hd, c->rope_dim, cr, sr, false);
            op_rope(k, c->n_head, hd, c->rope_dim, cr, sr, false);
        }
        OpAttn a = {.q = s->q, .q_stride = dim, .k_cache = kc, .v_cache = vc, .kv_dim = dim, .out = s->att_out,
                    .att = s->att, .ctx = s->ctx, .pack = s->pack, .n = n, .p0 = p0,
                    .n_head = c->n_head, .n_kv_head = c->n_head, .head_dim = hd, .f16 = m->attn_f16, .lc = m->llama_order};
        model_attention(m, &a, l);
        model_mm(m, &L->c_proj, s->att_out, n, s->xb);
        op_add_bias(s->xb, L->c_proj_b, n, dim);
        if (!c->parallel_residual) op_add(s->x, s->xb, (size_t)n * dim);

        op_layernorm(s->xb2, s->x, L->ln2_w, L->ln2_b, n, dim, c->norm_eps);
        model_mm(m, &L->c_fc, s->xb2, n, s->hb);
        op_add_bias(s->hb, L->c_fc_b, n, c->hidden);
        op_gelu_erf(s->hb, (size_t)n * c->hidden);
        model_mm(m, &L->c_fc_proj, s->hb, n, s->xb2);
        op_add_bias(s->xb2, L->c_fc_proj_b, n, dim);
        if (c->parallel_residual) op_add(s->xb2, s->xb, (size_t)n * dim); /* mlp + attn, then + x */
        op_add(s->x, s->xb2, (size_t)n * dim);
    }
    s->pos = p0 + n;
    model_head(m, n, all_logits);
}
