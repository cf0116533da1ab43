/* The GPT-2 forward pass (Hugging Face GPT2LMHeadModel): learned positions, pre-LayerNorm blocks,
 * fused q|k|v projection (Conv1D, stored [in][out]), gelu_new MLP (or exact erf GELU for
 * activation_function "gelu", as nanoGPT trains), head tied to the embedding. */
#include <string.h>

#include "matmul.h"
#include "models.h"
#include "rows.h"
#include "ops.h"

void gpt2_forward(EngModel *m, const int *ids, int n, float *all_logits) {
    const EngConfig *c = &m->cfg;
    const EngWeights *w = &m->w;
    EngRunState *s = &m->s;
    int dim = c->dim, hd = c->head_dim;
    int p0 = s->pos;
    for (int t = 0; t < n; t++) {
        float *x = s->x + (size_t)t * dim;
        eng_tensor_row(&w->tok_emb, ids[t], x);
        eng_tensor_row(&w->pos_emb, model_pos(s, p0, t), s->xb);
        op_add(x, s->xb, (size_t)dim);
    }
    for (int l = 0; l < c->n_layer; l++) {
        const EngLayer *L = &w->layers[l];
        float *kc = s->key_cache + ((size_t)l * s->ctx) * dim;
        float *vc = s->value_cache + ((size_t)l * s->ctx) * dim;
        op_layernorm(s->xb, s->x, L->ln1_w, L->ln1_b, n, dim, c->norm_eps);
        model_mm(m, &L->c_attn, s->xb, n, s->q); /* [n][3*dim]: q | k | v */
        op_add_bias(s->q, L->c_attn_b, n, 3 * dim);
        for (int t = 0; t < n; t++) {
            const float *qkv = s->q + (size_t)t * 3 * dim;
            float *k, *v;
            model_kv_rows(s, l, dim, p0, t, &k, &v);
            memcpy(k, qkv + dim, (size_t)dim * sizeof(float));
            memcpy(v, qkv + 2 * dim, (size_t)dim * sizeof(float));
        }
        OpAttn a = {.q = s->q, .q_stride = 3 * dim, .k_cache = kc, .v_cache = vc, .kv_dim = dim, .out = s->att_out,
                    .att = s->att, .ctx = s->ctx, .pack = s->pack, .n = n, .p0 = p0,
                    .n_head = c->n_head, .n_kv_head = c->n_head, .head_dim = hd, .f16 = m->attn_f16, .lc = m->llama_order};
        model_attention(m, &a, l);
        model_mm(m, &L->c_proj, s->att_out, n, s->xb);
        op_add_bias(s->xb, L->c_proj_b, n, dim);
        op_add(s->x, s->xb, (size_t)n * dim);

        op_layernorm(s->xb, s->x, L->ln2_w, L->ln2_b, n, dim, c->norm_eps);
        model_mm(m, &L->c_fc, s->xb, n, s->hb);
        op_add_bias(s->hb, L->c_fc_b, n, c->hidden);
        if (c->act == ENG_ACT_GELU_ERF) op_gelu_erf(s->hb, (size_t)n * c->hidden); /* activation_function "gelu" */
        else if (m->attn_f16) op_gelu_new_f16(s->hb, (size_t)n * c->hidden); /* as llama.cpp (ops.h) */
        else op_gelu_new(s->hb, (size_t)n * c->hidden);
        model_mm(m, &L->c_fc_proj, s->hb, n, s->xb);
        op_add_bias(s->xb, L->c_fc_proj_b, n, dim);
        op_add(s->x, s->xb, (size_t)n * dim);
    }
    s->pos = p0 + n;
    model_head(m, n, all_logits);
}
