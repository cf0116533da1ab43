/* The AVX2 and AVX-512 dots of kquant.h's types against float activations. quant.c's table picks
 * them at run time (its path: AVX-512 F/BW/VL, AVX2 + FMA + F16C, or kquant.c's portable ones).
 *
 * Each walks the row one block at a time: the block's integer levels are widened to floats in
 * registers and multiplied into a sum per sub-block, which is then scaled by the sub-block's scale;
 * types with a minimum (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) subtract minimum x the sub-block's sum of x,
 * so that each weight costs one conversion and one FMA. */
#include "kquant.h"

#include <string.h>

#include "half.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
/* fp16 scales through F16C, inline: a call per block (half.c) spills every vector register */
#define H2F(h) _cvtsh_ss(h)

/* ================================ AVX-512: 16 lanes ================================ */
/* 16 bytes as 16 int32 lanes, then to floats */
#define U8X16(p) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p)))
#define I2F(v) _mm512_cvtepi32_ps(v)
#define LX(p) _mm512_loadu_ps(p)

/* lane i holds bit (i + base) of the 32-bit word `bits`, as 0 or 16 */
T_AVX512 static inline __m512i bit4_16(uint32_t bits, int base) {
    const __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i v = _mm512_srlv_epi32(_mm512_set1_epi32((int)bits), _mm512_add_epi32(idx, _mm512_set1_epi32(base)));
    return _mm512_slli_epi32(_mm512_and_si512(v, _mm512_set1_epi32(1)), 4);
}

T_AVX512 float kq_dot_q4_0_avx512(const void *w, const float *x, size_t n) {
    const BlockQ4_0 *b = w;
    const __m512i m15 = _mm512_set1_epi32(15), m8 = _mm512_set1_epi32(8);
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < n / QK4; i++, x += QK4) {
        __m512i q = U8X16(b[i].qs);
        __m512 s = _mm512_mul_ps(I2F(_mm512_sub_epi32(_mm512_and_si512(q, m15), m8)), LX(x));
        s = _mm512_fmadd_ps(I2F(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), m8)), LX(x + 16), s);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(H2F(b[i].d)), s, acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* kq_to_f32_q4_0 in vectors (prefill unpacks Q4_0 panels with it): the same products, bit for bit */
T_AVX512 void kq_to_f32_q4_0_avx512(const void *w, float *y, size_t n) {
    const BlockQ4_0 *b = w;
    const __m512i m15 = _mm512_set1_epi32(15), m8 = _mm512_set1_epi32(8);
    for (size_t i = 0; i < n / QK4; i++, y += QK4) {
        __m512i q = U8X16(b[i].qs);
        __m512 d = _mm512_set1_ps(H2F(b[i].d));
        _mm512_storeu_ps(y, _mm512_mul_ps(I2F(_mm512_sub_epi32(_mm512_and_si512(q, m15), m8)), d));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(I2F(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), m8)), d));
    }
}

T_AVX512 float kq_dot_q4_1_avx512(const void *w, const float *x, size_t n) {
    const BlockQ4_1 *b = w;
    const __m512i m15 = _mm512_set1_epi32(15);
    __m512 acc = _mm512_setzero_ps(), accm = acc;
    for (size_t i = 0; i < n / QK4; i++, x += QK4) {
        __m512i q = U8X16(b[i].qs);
        __m512 x0 = LX(x), x1 = LX(x + 16);
        __m512 s = _mm512_mul_ps(I2F(_mm512_and_si512(q, m15)), x0);
        s = _mm512_fmadd_ps(I2F(_mm512_srli_epi32(q, 4)), x1, s);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(H2F(b[i].d)), s, acc);
        accm = _mm512_fmadd_ps(_mm512_set1_ps(H2F(b[i].m)), _mm512_add_ps(x0, x1), accm);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc, accm));
}

T_AVX512 float kq_dot_q5_0_avx512(const void *w, const float *x, size_t n) {
    const BlockQ5_0 *b = w;
    const __m512i m15 = _mm512_set1_epi32(15), m16 = _mm512_set1_epi32(16);
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < n / QK4; i++, x += QK4) {
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        __m512i q = U8X16(b[i].qs);
        __m512i lo = _mm512_sub_epi32(_mm512_or_si512(_mm512_and_si512(q, m15), bit4_16(qh, 0)), m16);
        __m512i hi = _mm512_sub_epi32(_mm512_or_si512(_mm512_srli_epi32(q, 4), bit4_16(qh, 16)), m16);
        __m512 s = _mm512_fmadd_ps(I2F(hi), LX(x + 16), _mm512_mul_ps(I2F(lo), LX(x)));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(H2F(b[i].d)), s, acc);
    }
    return _mm512_reduce_add_ps(acc);
}

T_AVX512 float kq_dot_q5_1_avx512(const void *w, const float *x, size_t n) {
    const BlockQ5_1 *b = w;
    const __m512i m15 = _mm512_set1_epi32(15);
    __m512 acc = _mm512_setzero_ps(), accm = acc;
    for (size_t i = 0; i < n / QK4; i++, x += QK4) {
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        __m512i q = U8X16(b[i].qs);
        __m512i lo = _mm512_or_si512(_mm512_and_si512(q, m15), bit4_16(qh, 0));
        __m512i hi = _mm512_or_si512(_mm512_srli_epi32(q, 4), bit4_16(qh, 16));
        __m512 x0 = LX(x), x1 = LX(x + 16);
        __m512 s = _mm512_fmadd_ps(I2F(hi), x1, _mm512_mul_ps(I2F(lo), x0));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(H2F(b[i].d)), s, acc);
        accm = _mm512_fmadd_ps(_mm512_set1_ps(H2F(b[i].m)), _mm512_add_ps(x0, x1), accm);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc, accm));
}

T_AVX512 float kq_dot_q2_K_avx512(const void *w, const float *x, size_t n) {
    const BlockQ2_K *b = w;
    const __m512i m3 = _mm512_set1_epi32(3);
    __m512 acc = _mm512_setzero_ps(), accm = acc;
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        for (int s = 0; s < 16; s++) { /* sub-block s: 16 values of qs[32 h + 16 (s % 2)], bits 2 ((s % 8) / 2) */
            __m512i q = U8X16(b[i].qs + 32 * (s / 8) + 16 * (s % 2));
            q = _mm512_and_si512(_mm512_srli_epi32(q, (unsigned)(2 * ((s % 8) / 2))), m3);
            __m512 xs = LX(x + 16 * s);
            uint8_t sc = b[i].scales[s];
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)(sc & 15)), _mm512_mul_ps(I2F(q), xs), acc);
            accm = _mm512_fmadd_ps(_mm512_set1_ps(dmin * (float)(sc >> 4)), xs, accm);
        }
    }
    return _mm512_reduce_add_ps(_mm512_sub_ps(acc, accm));
}

T_AVX512 float kq_dot_q3_K_avx512(const void *w, const float *x, size_t n) {
    const BlockQ3_K *b = w;
    const __m512i m3 = _mm512_set1_epi32(3), one = _mm512_set1_epi32(1), m4 = _mm512_set1_epi32(4);
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d);
        int8_t sc[16];
        kq_q3_scales(b[i].scales, sc);
        for (int s = 0; s < 16; s++) {
            int l0 = 16 * (s % 2);
            __m512i q = U8X16(b[i].qs + 32 * (s / 8) + l0);
            q = _mm512_and_si512(_mm512_srli_epi32(q, (unsigned)(2 * ((s % 8) / 2))), m3);
            __m512i h = _mm512_and_si512(_mm512_srli_epi32(U8X16(b[i].hmask + l0), (unsigned)(s / 2)), one);
            q = _mm512_sub_epi32(_mm512_or_si512(q, _mm512_slli_epi32(h, 2)), m4);
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)sc[s]), _mm512_mul_ps(I2F(q), LX(x + 16 * s)), acc);
        }
    }
    return _mm512_reduce_add_ps(acc);
}

T_AVX512 float kq_dot_q4_K_avx512(const void *w, const float *x, size_t n) {
    const BlockQ4_K *b = w;
    const __m512i m15 = _mm512_set1_epi32(15);
    __m512 acc = _mm512_setzero_ps(), accm = acc;
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        for (int p = 0; p < 4; p++) { /* sub-blocks 2p (low nibbles) and 2p + 1 (high) share 32 bytes */
            uint8_t sc0, m0, sc1, m1;
            kq_scale_min(2 * p, b[i].scales, &sc0, &m0);
            kq_scale_min(2 * p + 1, b[i].scales, &sc1, &m1);
            const uint8_t *q = b[i].qs + 32 * p;
            const float *xp = x + 64 * p;
            __m512i a = U8X16(q), c = U8X16(q + 16);
            __m512 x0 = LX(xp), x1 = LX(xp + 16), x2 = LX(xp + 32), x3 = LX(xp + 48);
            __m512 s0 = _mm512_fmadd_ps(I2F(_mm512_and_si512(c, m15)), x1, _mm512_mul_ps(I2F(_mm512_and_si512(a, m15)), x0));
            __m512 s1 = _mm512_fmadd_ps(I2F(_mm512_srli_epi32(c, 4)), x3, _mm512_mul_ps(I2F(_mm512_srli_epi32(a, 4)), x2));
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)sc0), s0, acc);
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)sc1), s1, acc);
            accm = _mm512_fmadd_ps(_mm512_set1_ps(dmin * (float)m0), _mm512_add_ps(x0, x1), accm);
            accm = _mm512_fmadd_ps(_mm512_set1_ps(dmin * (float)m1), _mm512_add_ps(x2, x3), accm);
        }
    }
    return _mm512_reduce_add_ps(_mm512_sub_ps(acc, accm));
}

T_AVX512 float kq_dot_q5_K_avx512(const void *w, const float *x, size_t n) {
    const BlockQ5_K *b = w;
    const __m512i m15 = _mm512_set1_epi32(15), one = _mm512_set1_epi32(1);
    __m512 acc = _mm512_setzero_ps(), accm = acc;
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        __m512i h0 = U8X16(b[i].qh), h1 = U8X16(b[i].qh + 16);
        for (int p = 0; p < 4; p++) {
            uint8_t sc0, m0, sc1, m1;
            kq_scale_min(2 * p, b[i].scales, &sc0, &m0);
            kq_scale_min(2 * p + 1, b[i].scales, &sc1, &m1);
            const uint8_t *q = b[i].qs + 32 * p;
            const float *xp = x + 64 * p;
            __m512i a = U8X16(q), c = U8X16(q + 16);
            /* fifth bits: bit 2p of qh for the low nibbles, 2p + 1 for the high ones */
            __m512i ha0 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h0, (unsigned)(2 * p)), one), 4);
            __m512i ha1 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h1, (unsigned)(2 * p)), one), 4);
            __m512i hb0 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h0, (unsigned)(2 * p + 1)), one), 4);
            __m512i hb1 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h1, (unsigned)(2 * p + 1)), one), 4);
            __m512 x0 = LX(xp), x1 = LX(xp + 16), x2 = LX(xp + 32), x3 = LX(xp + 48);
            __m512 s0 = _mm512_fmadd_ps(I2F(_mm512_or_si512(_mm512_and_si512(c, m15), ha1)), x1,
                                        _mm512_mul_ps(I2F(_mm512_or_si512(_mm512_and_si512(a, m15), ha0)), x0));
            __m512 s1 = _mm512_fmadd_ps(I2F(_mm512_or_si512(_mm512_srli_epi32(c, 4), hb1)), x3,
                                        _mm512_mul_ps(I2F(_mm512_or_si512(_mm512_srli_epi32(a, 4), hb0)), x2));
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)sc0), s0, acc);
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)sc1), s1, acc);
            accm = _mm512_fmadd_ps(_mm512_set1_ps(dmin * (float)m0), _mm512_add_ps(x0, x1), accm);
            accm = _mm512_fmadd_ps(_mm512_set1_ps(dmin * (float)m1), _mm512_add_ps(x2, x3), accm);
        }
    }
    return _mm512_reduce_add_ps(_mm512_sub_ps(acc, accm));
}

T_AVX512 float kq_dot_q6_K_avx512(const void *w, const float *x, size_t n) {
    const BlockQ6_K *b = w;
    const __m512i m15 = _mm512_set1_epi32(15), m3 = _mm512_set1_epi32(3), m32 = _mm512_set1_epi32(32);
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d);
        for (int h = 0; h < 2; h++)
            for (int half = 0; half < 2; half++) { /* l in [16 half, 16 half + 16) of each quarter */
                const uint8_t *ql = b[i].ql + 64 * h + 16 * half, *qh = b[i].qh + 32 * h + 16 * half;
                __m512i la = U8X16(ql), lb = U8X16(ql + 32), hh = U8X16(qh);
                __m512i q[4] = {
                    _mm512_or_si512(_mm512_and_si512(la, m15), _mm512_slli_epi32(_mm512_and_si512(hh, m3), 4)),
                    _mm512_or_si512(_mm512_and_si512(lb, m15), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hh, 2), m3), 4)),
                    _mm512_or_si512(_mm512_srli_epi32(la, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hh, 4), m3), 4)),
                    _mm512_or_si512(_mm512_srli_epi32(lb, 4), _mm512_slli_epi32(_mm512_srli_epi32(hh, 6), 4)),
                };
                for (int qt = 0; qt < 4; qt++) {
                    int k = 128 * h + 32 * qt + 16 * half;
                    __m512 s = _mm512_mul_ps(I2F(_mm512_sub_epi32(q[qt], m32)), LX(x + k));
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)b[i].scales[k / 16]), s, acc);
                }
            }
    }
    return _mm512_reduce_add_ps(acc);
}
#undef U8X16
#undef I2F
#undef LX

/* ================================ AVX2: 8 lanes ================================ */
#define U8X8(p) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p)))
#define I2F(v) _mm256_cvtepi32_ps(v)
#define LX(p) _mm256_loadu_ps(p)

T_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* lane i holds bit (i + base) of `bits`, as 0 or 16 */
T_AVX2 static inline __m256i bit4_8(uint32_t bits, int base) {
    __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(base));
    __m256i v = _mm256_srlv_epi32(_mm256_set1_epi32((int)bits), idx);
    return _mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(1)), 4);
}

/* The legacy types: 32 values as four groups of 8 (low nibbles of bytes 0-7, 8-15, then high). */
#define LEGACY_AVX2(t, BLOCK, HAS_QH, OFFSET, HAS_MIN)                                               \
    T_AVX2 float kq_dot_##t##_avx2(const void *w, const float *x, size_t n) {                     \
        const BLOCK *b = w;                                                                       \
        const __m256i m15 = _mm256_set1_epi32(15), off = _mm256_set1_epi32(OFFSET);               \
        __m256 acc = _mm256_setzero_ps(), accm = acc;                                             \
        for (size_t i = 0; i < n / QK4; i++, x += QK4) {                                          \
            uint32_t qh = 0;                                                                      \
            if (HAS_QH) memcpy(&qh, (const uint8_t *)&b[i] + (HAS_MIN ? 4 : 2), 4);              \
            const uint8_t *qs = (const uint8_t *)&b[i] + sizeof(BLOCK) - 16;                      \
            __m256 s = _mm256_setzero_ps(), sx = s;                                               \
            for (int g = 0; g < 4; g++) {                                                         \
                __m256i q = U8X8(qs + 8 * (g % 2));                                               \
                q = g < 2 ? _mm256_and_si256(q, m15) : _mm256_srli_epi32(q, 4);                   \
                if (HAS_QH) q = _mm256_or_si256(q, bit4_8(qh, 8 * g));                            \
                __m256 xv = LX(x + 8 * g);                                                        \
                s = _mm256_fmadd_ps(I2F(_mm256_sub_epi32(q, off)), xv, s);                        \
                if (HAS_MIN) sx = _mm256_add_ps(sx, xv);                                          \
            }                                                                                     \
            acc = _mm256_fmadd_ps(_mm256_set1_ps(H2F(b[i].d)), s, acc);                  \
            if (HAS_MIN) {                                                                        \
                uint16_t m;                                                                       \
                memcpy(&m, (const uint8_t *)&b[i] + 2, 2);                                        \
                accm = _mm256_fmadd_ps(_mm256_set1_ps(H2F(m)), sx, accm);                \
            }                                                                                     \
        }                                                                                         \
        return hsum8(_mm256_add_ps(acc, accm));                                                   \
    }
LEGACY_AVX2(q4_0, BlockQ4_0, 0, 8, 0)
LEGACY_AVX2(q4_1, BlockQ4_1, 0, 0, 1)
LEGACY_AVX2(q5_0, BlockQ5_0, 1, 16, 0)
LEGACY_AVX2(q5_1, BlockQ5_1, 1, 0, 1)
#undef LEGACY_AVX2

T_AVX2 float kq_dot_q2_K_avx2(const void *w, const float *x, size_t n) {
    const BlockQ2_K *b = w;
    const __m256i m3 = _mm256_set1_epi32(3);
    __m256 acc = _mm256_setzero_ps(), accm = acc;
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d), dmin = H2F(b[i].dmin);
        for (int s = 0; s < 16; s++) {
            const uint8_t *q = b[i].qs + 32 * (s / 8) + 16 * (s % 2);
            int sh = 2 * ((s % 8) / 2);
            __m256i qa = _mm256_and_si256(_mm256_srli_epi32(U8X8(q), sh), m3);
            __m256i qb = _mm256_and_si256(_mm256_srli_epi32(U8X8(q + 8), sh), m3);
            __m256 x0 = LX(x + 16 * s), x1 = LX(x + 16 * s + 8);
            __m256 p = _mm256_fmadd_ps(I2F(qb), x1, _mm256_mul_ps(I2F(qa), x0));
            uint8_t sc = b[i].scales[s];
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)(sc & 15)), p, acc);
            accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin * (float)(sc >> 4)), _mm256_add_ps(x0, x1), accm);
        }
    }
    return hsum8(_mm256_sub_ps(acc, accm));
}

T_AVX2 float kq_dot_q3_K_avx2(const void *w, const float *x, size_t n) {
    const BlockQ3_K *b = w;
    const __m256i m3 = _mm256_set1_epi32(3), one = _mm256_set1_epi32(1), m4 = _mm256_set1_epi32(4);
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d);
        int8_t sc[16];
        kq_q3_scales(b[i].scales, sc);
        for (int s = 0; s < 16; s++) {
            int l0 = 16 * (s % 2), sh = 2 * ((s % 8) / 2);
            __m256 p = _mm256_setzero_ps();
            for (int g = 0; g < 2; g++) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi32(U8X8(b[i].qs + 32 * (s / 8) + l0 + 8 * g), sh), m3);
                __m256i h = _mm256_and_si256(_mm256_srli_epi32(U8X8(b[i].hmask + l0 + 8 * g), s / 2), one);
                q = _mm256_sub_epi32(_mm256_or_si256(q, _mm256_slli_epi32(h, 2)), m4);
                p = _mm256_fmadd_ps(I2F(q), LX(x + 16 * s + 8 * g), p);
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)sc[s]), p, acc);
        }
    }
    return hsum8(acc);
}

/* Q4_K and Q5_K: sub-block j of 32 reads bytes qs[32 (j / 2) ..] (low nibbles for even j) and, for
 * Q5_K, bit j of qh[0 .. 31]. */
T_AVX2 static inline float dot_k45_avx2(const uint8_t *qs, const uint8_t *qh, const uint8_t *scales, float d, float dmin,
                                         const float *x, __m256 *accm) {
    const __m256i m15 = _mm256_set1_epi32(15), one = _mm256_set1_epi32(1);
    __m256 acc = _mm256_setzero_ps();
    for (int j = 0; j < 8; j++) {
        uint8_t sc, mn;
        kq_scale_min(j, scales, &sc, &mn);
        const uint8_t *q = qs + 32 * (j / 2);
        __m256 p = _mm256_setzero_ps(), sx = p;
        for (int g = 0; g < 4; g++) {
            __m256i v = U8X8(q + 8 * g);
            v = j % 2 ? _mm256_srli_epi32(v, 4) : _mm256_and_si256(v, m15);
            if (qh) v = _mm256_or_si256(v, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(U8X8(qh + 8 * g), j), one), 4));
            __m256 xv = LX(x + 32 * j + 8 * g);
            p = _mm256_fmadd_ps(I2F(v), xv, p);
            sx = _mm256_add_ps(sx, xv);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)sc), p, acc);
        *accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin * (float)mn), sx, *accm);
    }
    return hsum8(acc);
}

T_AVX2 float kq_dot_q4_K_avx2(const void *w, const float *x, size_t n) {
    const BlockQ4_K *b = w;
    __m256 accm = _mm256_setzero_ps();
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K)
        s += dot_k45_avx2(b[i].qs, NULL, b[i].scales, H2F(b[i].d), H2F(b[i].dmin), x, &accm);
    return s - hsum8(accm);
}

T_AVX2 float kq_dot_q5_K_avx2(const void *w, const float *x, size_t n) {
    const BlockQ5_K *b = w;
    __m256 accm = _mm256_setzero_ps();
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K)
        s += dot_k45_avx2(b[i].qs, b[i].qh, b[i].scales, H2F(b[i].d), H2F(b[i].dmin), x, &accm);
    return s - hsum8(accm);
}

T_AVX2 float kq_dot_q6_K_avx2(const void *w, const float *x, size_t n) {
    const BlockQ6_K *b = w;
    const __m256i m15 = _mm256_set1_epi32(15), m3 = _mm256_set1_epi32(3), m32 = _mm256_set1_epi32(32);
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float d = H2F(b[i].d);
        for (int s = 0; s < 16; s++) { /* sub-block s: half h, quarter qt, 16 values from l0 */
            int h = s / 8, qt = (s % 8) / 2, l0 = 16 * (s % 2);
            const uint8_t *ql = b[i].ql + 64 * h + 32 * (qt & 1) + l0, *qh = b[i].qh + 32 * h + l0;
            __m256 p = _mm256_setzero_ps();
            for (int g = 0; g < 2; g++) {
                __m256i lo = U8X8(ql + 8 * g);
                lo = qt < 2 ? _mm256_and_si256(lo, m15) : _mm256_srli_epi32(lo, 4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi32(U8X8(qh + 8 * g), 2 * qt), m3);
                __m256i q = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), m32);
                p = _mm256_fmadd_ps(I2F(q), LX(x + 16 * s + 8 * g), p);
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)b[i].scales[s]), p, acc);
        }
    }
    return hsum8(acc);
}
#undef U8X8
#undef I2F
#undef LX

#endif
