/* Private to engine/: GGUF's 4-bit, 5-bit and k-quant weight blocks (kquant.c), laid out byte for
 * byte as ggml defines them (ggml-common.h), with the row conversions and dot kernels quant.c's
 * table registers for them.
 *
 * Legacy blocks hold 32 weights with one fp16 scale (and, for _1, an fp16 minimum): weight =
 * d * q (+ m). K-quants hold super-blocks of 256 weights in sub-blocks of 16 or 32, each with a
 * small integer scale (and minimum) that multiplies the super-block's fp16 scale(s). */
#ifndef ABLAB_KQUANT_H
#define ABLAB_KQUANT_H

#include <stddef.h>
#include <stdint.h>

#define QK4 32       /* weights per block of Q4_0, Q4_1, Q5_0, Q5_1 */
#define QK_K 256     /* weights per super-block of the k-quants */

typedef struct { uint16_t d; uint8_t qs[16]; } BlockQ4_0;                  /* 18 bytes: q in 0..15, w = d (q - 8) */
typedef struct { uint16_t d, m; uint8_t qs[16]; } BlockQ4_1;               /* 20: w = d q + m */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } BlockQ5_0;   /* 22: 5th bits in qh, w = d (q - 16) */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } BlockQ5_1;/* 24: w = d q + m */
typedef struct {
    uint8_t scales[16];  /* per 16 weights: low nibble scale, high nibble minimum */
    uint8_t qs[64];      /* 2-bit quants */
    uint16_t d, dmin;
} BlockQ2_K;             /* 84 bytes */
typedef struct {
    uint8_t hmask[32];   /* the third bit of each quant */
    uint8_t qs[64];      /* low 2 bits */
    uint8_t scales[12];  /* 16 six-bit scales, biased by 32 */
    uint16_t d;
} BlockQ3_K;             /* 110 */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];  /* 8 six-bit scales and 8 six-bit minimums, packed */
    uint8_t qs[128];     /* 4-bit quants */
} BlockQ4_K;             /* 144 */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];      /* the fifth bits */
    uint8_t qs[128];     /* low 4 bits */
} BlockQ5_K;             /* 176 */
typedef struct {
    uint8_t ql[128];     /* low 4 bits */
    uint8_t qh[64];      /* high 2 bits */
    int8_t scales[16];   /* per 16 weights */
    uint16_t d;
} BlockQ6_K;             /* 210 */

/* The six-bit scale and minimum of sub-block j (0..7) of a Q4_K/Q5_K super-block. */
static inline void kq_scale_min(int j, const uint8_t *s, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *mn = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* kq_to_f32_q4_0 on the AVX-512 path (the same values). */
void kq_to_f32_q4_0_avx512(const void *w, float *y, size_t n);
/* n weights (a multiple of 32) of Q4_0 / Q5_0 as the Q8_0 blocks of the same values (exact: each
 * weight is d (q - 8) or d (q - 16), an int8 times the block's scale; dst: BlockQ8_0[n / 32]). */
void kq_q8_0_of_q4_0(const void *src, void *dst, size_t n);
void kq_q8_0_of_q5_0(const void *src, void *dst, size_t n);
/* The sixteen signed scales (-32..31) of a Q3_K super-block. */
void kq_q3_scales(const uint8_t packed[12], int8_t out[16]);

/* Per type: quantize n floats (n a multiple of the block) as ggml's reference quantizer does
 * without an importance matrix (bit for bit what llama-quantize writes), dequantize, and the
 * portable dot with float activations. */
#define KQ_DECLARE(t)                                                    \
    void kq_from_f32_##t(const float *x, void *y, size_t n);            \
    void kq_to_f32_##t(const void *b, float *y, size_t n);              \
    float kq_dot_##t##_c(const void *w, const float *x, size_t n);      \
    float kq_dot_##t##_avx2(const void *w, const float *x, size_t n);   \
    float kq_dot_##t##_avx512(const void *w, const float *x, size_t n);
KQ_DECLARE(q4_0)
KQ_DECLARE(q4_1)
KQ_DECLARE(q5_0)
KQ_DECLARE(q5_1)
KQ_DECLARE(q2_K)
KQ_DECLARE(q3_K)
KQ_DECLARE(q4_K)
KQ_DECLARE(q5_K)
KQ_DECLARE(q6_K)
#undef KQ_DECLARE

#endif
