/* Weight formats and the kernels that read them (private to engine/): F32, F16, BF16, Q8_0
 * (GGUF's blocks of 32 int8 weights with one fp16 scale), and GGUF's Q4_0, Q4_1, Q5_0, Q5_1 and
 * k-quants Q2_K .. Q6_K (kquant.h), each a block layout with its kernels in one table (quant.c).
 *
 * Conversions are bit-exact (round to nearest even, as numpy/torch/ggml do). The matrix-vector
 * kernels choose an AVX-512 or AVX2+FMA+F16C path at run time (__builtin_cpu_supports) and fall
 * back to portable C; all paths agree within float rounding (they sum in a different order).
 * Q8_0 weights as stored are dequantized on the fly against float32 activations (which matmul.c
 * has rounded to int8 blocks first, as llama.cpp does: actq.h). On CPUs with
 * AVX-512 VNNI the loader repacks them (QT_Q8R, q8r.c) and decode quantizes the activations to
 * int8 blocks as ggml's q8_0 x q8_0 dot does, for integer products. */
#ifndef ABLAB_QUANT_H
#define ABLAB_QUANT_H

#include "base.h"
#include "half.h"
#include "q8r.h"

#include <stdbool.h>


/* QT_Q8R: Q8_0 repacked in memory for integer dot products (q8r.c); named "q8_0" like the format
 * it holds, parsed never. */
/* QT_Q4_0 .. QT_Q6_K: GGUF's 4/5-bit and k-quant blocks (kquant.c), registered in quant.c's table. */
typedef enum {
    QT_F32 = 0, QT_F16 = 1, QT_BF16 = 2, QT_Q8_0 = 3, QT_Q8R = 4,
    QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K,
    QT_COUNT
} QType;

/* "f32", "f16", "bf16", "q8_0" (Q8R too), "q4_0" .. "q5_1", "q2_K" .. "q6_K" (ggml's spelling) */
const char *qtype_name(QType t);
int  qtype_parse(const char *s, QType *t);        /* 0, or -1 for an unknown name (case-insensitive) */
/* Weights per block: 1 for F32/F16/BF16, 32 for Q8_0/Q8R/Q4_0/Q4_1/Q5_0/Q5_1, 256 for the k-quants. */
size_t qtype_block(QType t);
bool qtype_is_block(QType t);                     /* a block-quantized type (Q8_0, Q8R, Q4_0 .. Q6_K) */
int  qtype_to_ggml(QType t);                      /* ggml's type id (Q8R: Q8_0's) */
int  qtype_from_ggml(int ggml_type, QType *t);    /* 0, or -1 for a type ablab does not read */
/* Bytes of a row of n weights; n must be a multiple of qtype_block (-1 otherwise or on overflow). */
int  qtype_row_bytes(QType t, size_t n, size_t *out);


/* Row conversions: n values (a multiple of qtype_block; Q8R: a whole row of n). Quantizing gives
 * the bytes ggml's reference quantizers give (llama-quantize without an importance matrix). */
void quant_to_f32(QType t, const void *src, float *dst, size_t n);   /* dequantize */
void quant_from_f32(QType t, const float *src, void *dst, size_t n); /* Q8_0 as ggml: d = max|x|/127, q = round(x/d) */

/* y[r] = dot(W row r, x) for r in [r0, r1); W is rows of `cols` weights of type t, row-major. */
void quant_matvec(QType t, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1);
/* quant_matvec's integer path for Q4_0 .. Q5_1 and Q2_K .. Q6_K on CPUs with AVX-512 VNNI
 * (kquant_vnni.c): x quantized once as ggml quantizes it for the type (actq.h), then integer dots.
 * -1 (nothing written) for another type, another CPU, or no memory: use the float kernels. */
int kq_matvec_vnni(QType t, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1);
/* The same for n vectors x[n][cols] into y[v * ldy + r] (batched decode): each x prepared once, rows in
 * cache-sized chunks that every vector goes over; each y the bits kq_matvec_vnni gives. */
int kq_matvecs_vnni(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                    size_t r1);
/* quant_matvec for n vectors x[n][cols] at once (y[v][r] at y + v * ldy + r): the rows in chunks
 * that stay in cache while every vector meets them, so the weights are read from memory once for
 * all n; each y[v] gets exactly the bits quant_matvec of x[v] gives (the same kernel per row). */
void quant_matvecs(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                   size_t r1);
float quant_dot(QType t, const void *row, const float *x, size_t n);

/* out[s] = quant_dot(QT_F32, K + s * ldk, q, n) for s < m, with the same bits: attention's scores
 * of one query over the cached keys, in one call. */
void quant_dots(const float *K, size_t ldk, int m, const float *q, size_t n, float *out);

/* y[i] += a * x[i] for i < n (SIMD). */
void quant_axpy(float a, const float *x, float *y, size_t n);
/* y[0..n) += a[s] x[s * ldx ..] for s = 0 .. m-1: the bits of m quant_axpy calls in that order,
 * without storing y between them (attention's weighted sum of value rows). */
void quant_axpys(const float *a, const float *x, size_t ldx, int m, float *y, size_t n);

/* The products of a prompt pass in llama.cpp's order (lcmath.h), for the types that have them here:
 * Q8R (q8r_matmul_lc, every path), Q5_K and Q6_K on CPUs with AVX-512 VNNI (their integer dots,
 * whose lanes and float steps are ggml's vec_dot_q5_K_q8_K / _q6_K_q8_K). Q4_K's dot has ggml's
 * order too, but its prompts stay on the float GEMM, which is twice as fast. quant_matmul_lc is quant_matvecs' signature; each
 * y[v] depends on x[v] and the row alone. */
bool quant_has_lc(QType t);
void quant_matmul_lc(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                     size_t r1);

/* A prompt pass's products for the types whose weights are exactly Q8_0 (Q4_0, Q5_0) on CPUs with
 * AVX-512 VNNI: rows converted to Q8R a cache-sized chunk at a time, then the Q8R kernel, eight
 * tokens per instruction (q8r_matvecs_conv), instead of the float GEMM. quant_matmul_q8r: whether
 * quant_matmul takes that path for t; otherwise quant_matmul is quant_matvecs. Each y[v] depends
 * on x[v] and the row alone. */
bool quant_matmul_q8r(QType t);
void quant_matmul(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                  size_t r1);

/* The kernel quant_dot would run now, for loops of many short calls (attention over the cache: one
 * per cached position and head) that should not choose a path at every call. */
typedef float (*QuantDotFn)(const void *row, const float *x, size_t n);
QuantDotFn quant_dot_fn(QType t);

/* Forces a kernel path: "portable", "avx2", "avx512", or NULL for the best the CPU has (the
 * default). -1 if this CPU cannot run the one named. For tests and benchmarks comparing paths. */
int  quant_set_path(const char *name);
/* The path quant_matvec takes now (the best the CPU has, or the one quant_set_path forced), and
 * its name: "avx512", "avx2" or "portable". The engine's other SIMD code (gemm.c, vmath.c) follows
 * it, so forcing a path forces them all. Cheap: one relaxed atomic load. */
typedef enum { QUANT_PATH_PORTABLE = 1, QUANT_PATH_AVX2, QUANT_PATH_AVX512 } QuantPath;
QuantPath quant_path(void);
const char *quant_path_name(void);

#endif
