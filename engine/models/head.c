/* The end of every forward pass: the final norm, the output head (and its bias), soft-capping. */
#include <string.h>

#include "matmul.h"
#include "models.h"
#include "rows.h"
#include "ops.h"

/* The final norm of rows rows of x into out. */
static void final_norm(const EngModel *m, float *out, const float *x, int rows) {
    const EngWeights *w = &m->w;
    const EngConfig *c = &m->cfg;
    if (w->out_norm_b) op_layernorm(out, x, w->out_norm, w->out_norm_b, rows, c->dim, c->norm_eps);
    else model_rmsnorm(m, out, x, w->out_norm, rows, c->dim);
}

void model_head(EngModel *m, int n, float *all_logits) {
    const EngConfig *c = &m->cfg;
    const EngWeights *w = &m->w;
    EngRunState *s = &m->s;
    int dim = c->dim, V = c->vocab;
    if (s->seq && s->prompt) { /* each prompt's last row, as the head of its pass alone: all_logits [k][V] */
        int k = 0;
        for (int t0 = 0, t1; t0 < n; t0 = t1, k++) {
            t1 = model_prompt_end(s, t0, n);
            final_norm(m, s->xb + (size_t)k * dim, s->x + (size_t)(t1 - 1) * dim, 1);
        }
        mm_vecs(&w->lm_head, s->xb, k, all_logits, m->pool); /* each row as mm_vec alone */
        op_add_bias(all_logits, w->lm_head_b, k, V);
        op_softcap(all_logits, (size_t)k * V, c->final_softcap);
        return;
    }
    /* with all_logits every position goes through the head, else only the last */
    int rows = all_logits ? n : 1;
    const float *x = all_logits ? s->x : s->x + (size_t)(n - 1) * dim;
    final_norm(m, s->xb, x, rows);
    float *out = all_logits ? all_logits : s->logits;
    if (all_logits) model_mm(m, &w->lm_head, s->xb, n, all_logits);
    else mm_vec(&w->lm_head, s->xb, s->logits, m->pool);
    op_add_bias(out, w->lm_head_b, rows, V);
    op_softcap(out, (size_t)rows * V, c->final_softcap);
    if (all_logits) memcpy(s->logits, all_logits + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
}
