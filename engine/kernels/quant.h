/* Weight formats and the kernels that read them (private to engine/): F32, F16, BF16 and Q8_0
 * (GGUF's blocks of 32 int8 weights with one fp16 scale).
 *
 * Conversions are bit-exact (round to nearest even, as numpy/torch/ggml do). The matrix-vector
 * kernels choose an AVX-512 or AVX2+FMA+F16C path at run time (__builtin_cpu_supports) and fall
 * back to portable C; all paths agree within float rounding (they sum in a different order).
 * Q8_0 weights as stored are dequantized on the fly against float32 activations. On CPUs with
 * AVX-512 VNNI the loader repacks them (QT_Q8R, q8r.c) and decode quantizes the activations to
 * int8 blocks as ggml's q8_0 x q8_0 dot does, for integer products. */
#ifndef ABLAB_QUANT_H
#define ABLAB_QUANT_H

#include "base.h"
#include "half.h"
#include "q8r.h"


/* QT_Q8R: Q8_0 repacked in memory for integer dot products (q8r.c); named "q8_0" like the format
 * it holds, parsed never. */
typedef enum { QT_F32 = 0, QT_F16 = 1, QT_BF16 = 2, QT_Q8_0 = 3, QT_Q8R = 4 } QType;

const char *qtype_name(QType t);                  /* "f32", "f16", "bf16", "q8_0" (Q8R too) */
int  qtype_parse(const char *s, QType *t);        /* 0, or -1 for an unknown name */
/* Bytes of a row of n weights; n must be a multiple of 32 for Q8_0 (-1 otherwise or on overflow). */
int  qtype_row_bytes(QType t, size_t n, size_t *out);


/* Row conversions: n values (n % 32 == 0 for Q8_0; Q8R: a whole row of n). */
void quant_to_f32(QType t, const void *src, float *dst, size_t n);   /* dequantize */
void quant_from_f32(QType t, const float *src, void *dst, size_t n); /* Q8_0 as ggml: d = max|x|/127, q = round(x/d) */

/* y[r] = dot(W row r, x) for r in [r0, r1); W is rows of `cols` weights of type t, row-major. */
void quant_matvec(QType t, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1);
float quant_dot(QType t, const void *row, const float *x, size_t n);

/* y[i] += a * x[i] for i < n (SIMD; attention's weighted sum of values). */
void quant_axpy(float a, const float *x, float *y, size_t n);

/* The kernels quant_dot / quant_axpy would run now, for loops of many short calls (attention over
 * the cache: two per cached position and head) that should not choose a path at every call. */
typedef float (*QuantDotFn)(const void *row, const float *x, size_t n);
typedef void (*QuantAxpyFn)(float a, const float *x, float *y, size_t n);
QuantDotFn quant_dot_fn(QType t);
QuantAxpyFn quant_axpy_fn(void);

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
