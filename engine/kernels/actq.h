/* Private to engine/: activations rounded to int8 blocks as llama.cpp's CPU backend rounds them
 * before multiplying them into quantized weights (actq.c).
 *
 * ggml never multiplies a quantized weight by a float: each activation row is first quantized to
 * the weight type's "vec_dot type" and the products are integer dots. Which one depends on the
 * weight:
 *   Q4_0, Q5_0, Q8_0   -> Q8_0: blocks of 32, d = max|x| / 127 stored as fp16, q = round(x 127 / max|x|)
 *   Q4_1, Q5_1         -> Q8_1: Q8_0's d and q, plus s = d * sum(q) stored as fp16 (for the weights' minimum)
 *   Q2_K .. Q6_K       -> Q8_K: blocks of 256, m = the value of largest |x| with its sign, q = round(-127 x / m)
 *                         (at most 127), d = 1 / (-127 / m) as float32, and the sums of each 16 q
 * (rounding ties to even in all three, as the x86 build of ggml does). The rounding of x is part of
 * what llama.cpp computes: reading the same file, an engine that multiplies float activations into
 * the same weights lands as far from llama.cpp as a Q8_0 file lands from f32. */
#ifndef ABLAB_ACTQ_H
#define ABLAB_ACTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "half.h"
#include "quant.h"

typedef struct {
    uint16_t d;          /* fp16 scale */
    uint16_t s;          /* fp16: d * sum(qs) */
    int8_t qs[32];
} BlockQ8_1;             /* 36 bytes, ggml's block_q8_1 */

typedef struct {
    float d;             /* scale (negative when the largest |x| is negative) */
    int8_t qs[256];
    int16_t bsums[16];   /* sum of each 16 qs */
} BlockQ8K;              /* 292 bytes, ggml's block_q8_K */

typedef enum { ACT_NONE = 0, ACT_Q8_0, ACT_Q8_1, ACT_Q8_K } ActType;

/* The activation format ggml rounds x to for weights of type t; ACT_NONE for the float types. */
ActType actq_type(QType t);
/* Bytes of n activations (n a multiple of the format's block) in format a. */
size_t actq_row_bytes(ActType a, size_t n);

/* n floats (n a multiple of 32, or of 256 for Q8_K) into blocks of a: the bytes ggml's x86 build
 * writes (tests/gguf/test_actq.c checks them against ggml's own). */
void actq_quantize(ActType a, const float *x, void *dst, size_t n);
/* n floats x as a rounds them, back in floats into out (which may be x): d q for each value, d as
 * stored (ACT_NONE: a copy). A float kernel fed these values computes what ggml's integer dot
 * computes, up to the order of its float additions (and, for Q8_1, up to s's own fp16 rounding,
 * which a float product does not see: ggml adds m s for a weight minimum m, the float kernel m d
 * sum(q)). */
void actq_round_f32(ActType a, const float *x, float *out, size_t n);
/* x[i] rounded to the nearest fp16 value (ties to even), in place: what llama.cpp's f16 KV cache and
 * its f16 products keep of a float. */
void actq_round_f16(float *x, size_t n);
/* Both run on quant_path()'s path (AVX-512, AVX2 or portable) with the same results on each, for
 * finite x (tests/gguf/test_actq.c). */

#endif
