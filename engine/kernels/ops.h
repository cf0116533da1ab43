/* Private to engine/: the small operations of the forward passes (norms, RoPE, activations,
 * attention over the KV cache). Row-wise, in float32, in the order the references compute them. */
#ifndef ABLAB_OPS_H
#define ABLAB_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "pool.h"

/* out[t] = w * (x[t] / sqrt(mean(x[t]^2) + eps)) for n rows of dim (llama2.c / HF LlamaRMSNorm). */
void op_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps);
/* out[t] = (x[t] - mean) / sqrt(var + eps) * w + b (torch.nn.LayerNorm). */
void op_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim, float eps);
/* y[t][i] += b[i] for n rows of dim; NULL b does nothing. */
void op_add_bias(float *y, const float *b, int n, int dim);
void op_add(float *x, const float *y, size_t n);           /* x += y */
void op_silu_mul(float *a, const float *b, size_t n);      /* a = silu(a) * b */
void op_gelu_new(float *a, size_t n);                      /* tanh approximation (GPT-2's gelu_new) */
/* gelu_new as llama.cpp's x86 build computes it: x rounded to fp16, its GELU rounded to fp16 (ggml's
 * table of all fp16 inputs), for -10 < x < 10; 0 below, x above. For models in block types. */
void op_gelu_new_f16(float *a, size_t n);
void op_gelu_erf(float *a, size_t n);                      /* exact: 0.5 x (1 + erf(x / sqrt 2)) (torch's gelu) */
void op_gelu_mul(float *a, const float *b, size_t n);      /* a = gelu_tanh(a) * b (GeGLU) */
/* x = cap * tanh(x / cap) (Gemma's logit soft-capping); nothing for cap <= 0. */
void op_softcap(float *x, size_t n, float cap);
/* x = exp(x - max) * (1 / sum), in place, for one row of n (nothing for n <= 0). -inf entries
 * beside a finite max give 0; a row holding NaN or +inf, or all -inf, comes out all NaN. The SIMD
 * paths multiply by 1/sum, the portable one divides: within an ulp of each other. */
void op_softmax(float *x, int n);
/* The index of the first largest of x[0 .. n); NaN never wins; 0 when none is above -inf (or n is
 * 0). What a loop keeping the first strictly larger value gives, in SIMD: greedy sampling scans a
 * vocabulary of 50-250 thousand logits per token. */
size_t op_argmax(const float *x, size_t n);
/* The index of the first inf or NaN in x[0 .. n), or n when every value is finite. */
size_t op_first_nonfinite(const float *x, size_t n);
/* y[i] = e^x[i] for i < n; y may be x. Within 2 ulp on the SIMD paths (libm's expf on the portable
 * one), subnormals included; 0 far below, +inf above ~88.72, NaN for NaN. */
void op_exp(float *y, const float *x, size_t n);

/* The inverse frequencies of RoPE over rot_dim dimensions, inv[j] = theta^(-2j/rot_dim) for
 * j < rot_dim/2, in float as run.c and transformers compute them. */
void op_rope_inv_freq(float *inv, int rot_dim, float theta);
/* Llama 3's frequency-dependent scaling of inv[half] (transformers' "llama3" rope type): long
 * wavelengths divided by factor, short ones kept, those between blended. */
void op_rope_llama3(float *inv, int half, float factor, float low_freq_factor, float high_freq_factor, int orig_ctx);
/* cos/sin tables [ctx][half]: angle(pos, j) = pos * inv[j]. */
void op_rope_tables(float *cos_t, float *sin_t, int ctx, int half, const float *inv);
/* Rotates the first rot_dim dimensions of n_heads heads of head_dim (the rest pass through, as
 * partial rotary does): interleaved pairs (2j, 2j+1) or halves (j, j + rot_dim/2). */
void op_rope(float *v, int n_heads, int head_dim, int rot_dim, const float *cos_row, const float *sin_row,
             bool interleaved);

/* Query rows per attention tile: prompt batches compute scores ATT_ROWS queries at a time. */
#define ATT_ROWS 64

/* Causal attention for n query rows at positions p0 .. p0+n-1 against the cache rows 0 .. p0+t.
 * q: [n][q_stride] (head h at h*head_dim); k_cache, v_cache: [ctx][kv_dim] of this layer;
 * out: [n][n_head*head_dim]. att: per-thread scratch [threads][ATT_ROWS * ctx]; pack: per-thread
 * [threads][GEMM_PACK_FLOATS] for gemm.c (sgemm runs instead where gemm.c cannot). Heads and
 * query tiles split over the pool. */
typedef struct {
    float *q; int q_stride;
    float *k_cache, *v_cache; int kv_dim;
    float *out;
    float *att; int ctx;
    float *pack;
    int n, p0, n_head, n_kv_head, head_dim;
    float scale;    /* score scale; 0: 1/sqrt(head_dim) */
    int window;     /* sliding window: a query at p sees keys p-window+1 .. p; 0: all before it */
    /* round as llama.cpp's default f16 KV cache and its f16 products do: the n queries and the n
     * new cache rows (positions p0 ..) in place, and the probabilities before they weight V */
    bool f16;
    /* and a prompt (n >= 2) in llama.cpp's order (lcmath.h: llamafile's f16 products, ggml's
     * softmax); requires f16 */
    bool lc;
} OpAttn;
void op_attention(const OpAttn *a, EngPool *pool);

#endif
