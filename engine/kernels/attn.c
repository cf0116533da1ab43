/* Causal attention over the KV cache (ops.h's op_attention).
 *
 * One query (decode): per head, scores are dot products with the cached keys and the output a
 * weighted sum of the cached values. A prompt batch: per head and tile of ATT_ROWS queries, the
 * scores S = Q K^T and the output O = softmax(S) V are two matrix products (gemm.c's kernel, or
 * sgemm), with the causal mask applied to the tile's scores in between.
 *
 * For models whose matrices are llama.cpp's block types (EngModel.attn_f16), queries, keys, values
 * and probabilities are rounded to fp16 as llama.cpp's default f16 cache holds them and its f16
 * products read them: with activations rounded to int8 before every quantized product, a tiny
 * difference upstream of a rounding becomes a whole step of it, so the two engines agree on a
 * quantized file only as closely as their inputs to each rounding do (docs/speed.md). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "actq.h"
#include "gemm.h"
#include "lcmath.h"
#include "ops.h"

static void attn_one_task(void *ud, int wi, int nw) {
    const OpAttn *a = ud;
    int hd = a->head_dim, group = a->n_head / a->n_kv_head;
    float scale = a->scale > 0.0f ? a->scale : 1.0f / sqrtf((float)hd);
    float *att = a->att + (size_t)wi * ATT_ROWS * a->ctx;
    int units = a->n * a->n_head;
    for (int u = wi; u < units; u += nw) {
        int t = u / a->n_head, h = u % a->n_head;
        int len = a->p0 + t + 1, s0 = a->window > 0 && len > a->window ? len - a->window : 0;
        const float *q = a->q + (size_t)t * a->q_stride + (size_t)h * hd;
        const float *kc = a->k_cache + (size_t)(h / group) * hd;
        const float *vc = a->v_cache + (size_t)(h / group) * hd;
        quant_dots(kc + (size_t)s0 * a->kv_dim, (size_t)a->kv_dim, len - s0, q, (size_t)hd, att + s0);
        for (int s = s0; s < len; s++) att[s] *= scale;
        op_softmax(att + s0, len - s0);
        if (a->f16) actq_round_f16(att + s0, (size_t)(len - s0));
        float *o = a->out + (size_t)t * a->n_head * hd + (size_t)h * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        quant_axpys(att + s0, vc + (size_t)s0 * a->kv_dim, (size_t)a->kv_dim, len - s0, o, (size_t)hd);
    }
}

/* Queries [t0, t0 + tn) of head h: S[tn][len] = Q K^T over the keys 0 .. len-1 (len = the last
 * query's position + 1), masked and softmaxed per row, then O = S V. */
static void attn_tile(const OpAttn *a, int h, int t0, int tn, float *S, float *pack) {
    int hd = a->head_dim, kvh = h / (a->n_head / a->n_kv_head);
    int len = a->p0 + t0 + tn;
    size_t lds = (size_t)a->ctx, ldo = (size_t)a->n_head * hd;
    const float *Q = a->q + (size_t)t0 * a->q_stride + (size_t)h * hd;
    const float *K = a->k_cache + (size_t)kvh * hd, *V = a->v_cache + (size_t)kvh * hd;
    float *O = a->out + (size_t)t0 * ldo + (size_t)h * hd;
    if (pack) {
        GemmB kb = {QT_F32, K, (size_t)a->kv_dim * sizeof(float), false};
        gemm_cols(tn, hd, Q, (size_t)a->q_stride, &kb, 0, len, S, lds, false, pack);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tn, len, hd, 1.0f, Q, a->q_stride, K, a->kv_dim, 0.0f, S,
                    (int)lds);
    }
    float scale = a->scale > 0.0f ? a->scale : 1.0f / sqrtf((float)hd);
    for (int i = 0; i < tn; i++) {
        float *row = S + (size_t)i * lds;
        int valid = a->p0 + t0 + i + 1, lo = a->window > 0 && valid > a->window ? valid - a->window : 0;
        for (int j = lo; j < valid; j++) row[j] *= scale;
        op_softmax(row + lo, valid - lo);
        memset(row, 0, (size_t)lo * sizeof *row);                    /* the sliding window */
        memset(row + valid, 0, (size_t)(len - valid) * sizeof *row); /* the causal mask */
        if (a->f16) actq_round_f16(row + lo, (size_t)(valid - lo));
    }
    if (pack) {
        GemmB vb = {QT_F32, V, (size_t)a->kv_dim * sizeof(float), true};
        gemm_cols(tn, len, S, lds, &vb, 0, hd, O, ldo, false, pack);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tn, hd, len, 1.0f, S, (int)lds, V, a->kv_dim, 0.0f, O,
                    (int)ldo);
    }
}

/* Units are (query tile, head) pairs, dealt round-robin: later tiles see more keys, so each thread
 * gets a share of the early and the late ones. */
static void attn_batch_task(void *ud, int wi, int nw) {
    const OpAttn *a = ud;
    float *S = a->att + (size_t)wi * ATT_ROWS * a->ctx;
    float *pack = gemm_available() ? a->pack + (size_t)wi * GEMM_PACK_FLOATS : NULL; /* NULL: sgemm */
    int tiles = (a->n + ATT_ROWS - 1) / ATT_ROWS;
    for (int u = wi; u < tiles * a->n_head; u += nw) {
        int t0 = u / a->n_head * ATT_ROWS, h = u % a->n_head;
        attn_tile(a, h, t0, a->n - t0 < ATT_ROWS ? a->n - t0 : ATT_ROWS, S, pack);
    }
}

/* A row of scores [0, valid) into probabilities as llama.cpp makes them: scaled, softmaxed over
 * [lo, valid) (zeros before lo), rounded to fp16. */
static void lc_probs(float *row, int lo, int valid, float scale) {
    for (int j = lo; j < valid; j++) row[j] *= scale;
    lc_softmax(row, lo, valid);
    actq_round_f16(row + lo, (size_t)(valid - lo));
}

/* A prompt in llama.cpp's order (a->lc, two or more rows): each (row, head) unit in
 * llamafile's order (lcmath.h). */
static void attn_lc_task(void *ud, int wi, int nw) {
    const OpAttn *a = ud;
    int hd = a->head_dim, group = a->n_head / a->n_kv_head;
    float scale = a->scale > 0.0f ? a->scale : 1.0f / sqrtf((float)hd);
    float *row = a->att + (size_t)wi * ATT_ROWS * a->ctx;
    for (int u = wi; u < a->n * a->n_head; u += nw) {
        int t = u / a->n_head, h = u % a->n_head;
        int len = a->p0 + t + 1, lo = a->window > 0 && len > a->window ? len - a->window : 0;
        size_t kvo = (size_t)(h / group) * hd;
        lc_gemm16(1, len, hd, a->q + (size_t)t * a->q_stride + (size_t)h * hd, (size_t)hd, a->k_cache + kvo, (size_t)a->kv_dim,
                  row, (size_t)len);
        lc_probs(row, lo, len, scale);
        lc_mix(row, a->v_cache + kvo, (size_t)a->kv_dim, len, hd, a->out + (size_t)t * a->n_head * hd + (size_t)h * hd);
    }
}

/* The same for a tile of tn queries from t0 of head h through lc_gemm16: S = Q K^T over the keys
 * 0 .. len-1 (the tile's last query's), each row scaled, softmaxed, rounded to fp16 and zero past
 * its own keys up to k16 (len rounded up to 16); V^T of the head over 0 .. k16 (zeros past len)
 * into vt; then O = S V. Rows of zeros add nothing to llamafile's lanes, so each query gets what
 * it gets alone. */
static void attn_lc_tile(const OpAttn *a, int h, int t0, int tn, float *S, float *vt) {
    int hd = a->head_dim, kvh = h / (a->n_head / a->n_kv_head);
    int len = a->p0 + t0 + tn, k16 = (len + 15) / 16 * 16;
    float scale = a->scale > 0.0f ? a->scale : 1.0f / sqrtf((float)hd);
    size_t lds = (size_t)a->ctx, ldo = (size_t)a->n_head * hd;
    const float *V = a->v_cache + (size_t)kvh * hd;
    lc_gemm16(tn, len, hd, a->q + (size_t)t0 * a->q_stride + (size_t)h * hd, (size_t)a->q_stride,
              a->k_cache + (size_t)kvh * hd, (size_t)a->kv_dim, S, lds);
    for (int i = 0; i < tn; i++) {
        float *row = S + (size_t)i * lds;
        int valid = a->p0 + t0 + i + 1, lo = a->window > 0 && valid > a->window ? valid - a->window : 0;
        lc_probs(row, lo, valid, scale);
        memset(row + valid, 0, (size_t)(k16 - valid) * sizeof *row);
    }
    for (int d = 0; d < hd; d++) {
        float *o = vt + (size_t)d * k16;
        for (int j = 0; j < len; j++) o[j] = V[(size_t)j * a->kv_dim + d];
        memset(o + len, 0, (size_t)(k16 - len) * sizeof *o);
    }
    lc_gemm16(tn, hd, k16, S, lds, vt, (size_t)k16, a->out + (size_t)t0 * ldo + (size_t)h * hd, ldo);
}

static void attn_lc_tiles_task(void *ud, int wi, int nw) {
    const OpAttn *a = ud;
    float *S = a->att + (size_t)wi * ATT_ROWS * a->ctx, *vt = a->pack + (size_t)wi * GEMM_PACK_FLOATS;
    int tiles = (a->n + ATT_ROWS - 1) / ATT_ROWS;
    for (int u = wi; u < tiles * a->n_head; u += nw) {
        int t0 = u / a->n_head * ATT_ROWS, h = u % a->n_head;
        attn_lc_tile(a, h, t0, a->n - t0 < ATT_ROWS ? a->n - t0 : ATT_ROWS, S, vt);
    }
}

void op_attention(const OpAttn *a, EngPool *pool) {
    if (a->f16) { /* llama.cpp stores K and V as f16 and multiplies Q into K as f16 */
        for (int t = 0; t < a->n; t++) {
            actq_round_f16(a->q + (size_t)t * a->q_stride, (size_t)a->n_head * (size_t)a->head_dim);
            actq_round_f16(a->k_cache + (size_t)(a->p0 + t) * a->kv_dim, (size_t)a->kv_dim);
            actq_round_f16(a->v_cache + (size_t)(a->p0 + t) * a->kv_dim, (size_t)a->kv_dim);
        }
    }
    void (*task)(void *, int, int) = a->n > 1 ? attn_batch_task : attn_one_task;
    if (a->lc && a->n > 1 && a->head_dim % 16 == 0) { /* llama.cpp's order: in tiles where the scratch holds them */
        size_t k16 = (size_t)(a->p0 + a->n + 15) / 16 * 16;
        bool tiles = a->pack && k16 <= (size_t)a->ctx && (size_t)a->head_dim * k16 <= GEMM_PACK_FLOATS;
        task = tiles ? attn_lc_tiles_task : attn_lc_task;
    }
    if ((size_t)a->n * a->n_head * (size_t)(a->p0 + a->n) * (size_t)a->head_dim < (1u << 16)) task((void *)a, 0, 1);
    else eng_pool_run(pool, task, (void *)a);
}
