/* Causal attention over the KV cache (ops.h's op_attention). */
#include <math.h>
#include <string.h>

#include "ops.h"

static void attn_task(void *ud, int wi, int nw) {
    const OpAttn *a = ud;
    int hd = a->head_dim, group = a->n_head / a->n_kv_head;
    float scale = 1.0f / sqrtf((float)hd);
    float *att = a->att + (size_t)wi * a->ctx;
    int units = a->n * a->n_head;
    for (int u = wi; u < units; u += nw) {
        int t = u / a->n_head, h = u % a->n_head;
        int len = a->p0 + t + 1;
        const float *q = a->q + (size_t)t * a->q_stride + (size_t)h * hd;
        const float *kc = a->k_cache + (size_t)(h / group) * hd;
        const float *vc = a->v_cache + (size_t)(h / group) * hd;
        for (int s = 0; s < len; s++) {
            const float *k = kc + (size_t)s * a->kv_dim;
            att[s] = quant_dot(QT_F32, k, q, (size_t)hd) * scale;
        }
        op_softmax(att, len);
        float *o = a->out + (size_t)t * a->n_head * hd + (size_t)h * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int s = 0; s < len; s++) {
            const float *v = vc + (size_t)s * a->kv_dim;
            quant_axpy(att[s], v, o, (size_t)hd);
        }
    }
}

void op_attention(const OpAttn *a, EngPool *pool) {
    if ((size_t)a->n * a->n_head * (size_t)(a->p0 + a->n) * (size_t)a->head_dim < (1u << 16)) attn_task((void *)a, 0, 1);
    else eng_pool_run(pool, attn_task, (void *)a);
}
