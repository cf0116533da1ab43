/* Activations rounded to Q8_0, Q8_1 or Q8_K blocks as ggml's CPU backend rounds them (actq.h).
 *
 * ggml's x86 build quantizes Q8_0 and Q8_1 with AVX2 code whose arithmetic differs from its
 * reference C in two places, and this file follows the code that runs: the multiplier is
 * 127 / max|x| (not 1 / d), and rounding is to nearest even (not half away from zero). Q8_K has no
 * x86 SIMD version in ggml: its reference rounds by adding 1.5 x 2^23 (nearest even too) and keeps
 * d = 1 / iscale as a float. Here every rounding is that addition (|v| <= 127.5 here), so the
 * portable code and the SIMD conversion (cvtps2dq, nearest even) give the same integers. */
#include "actq.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(BlockQ8_1) == 36 && sizeof(BlockQ8K) == 292, "ggml's activation blocks");

/* round to nearest, ties to even, for |v| < 2^22 */
static inline int round_even(float v) {
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

ActType actq_type(QType t) {
    switch (t) {
    case QT_Q8_0:
    case QT_Q8R:
    case QT_Q4_0:
    case QT_Q5_0: return ACT_Q8_0;
    case QT_Q4_1:
    case QT_Q5_1: return ACT_Q8_1;
    case QT_Q2_K:
    case QT_Q3_K:
    case QT_Q4_K:
    case QT_Q5_K:
    case QT_Q6_K: return ACT_Q8_K;
    default: return ACT_NONE;
    }
}

size_t actq_row_bytes(ActType a, size_t n) {
    switch (a) {
    case ACT_Q8_0: return n / 32 * sizeof(BlockQ8_0);
    case ACT_Q8_1: return n / 32 * sizeof(BlockQ8_1);
    case ACT_Q8_K: return n / 256 * sizeof(BlockQ8K);
    default: return n * sizeof(float);
    }
}

/* One block of 32: q, the float scale d (before its fp16 rounding) and the sum of q. */
static int block32(const float *x, int8_t *q, float *d) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    *d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        q[j] = (int8_t)round_even(x[j] * id);
        sum += q[j];
    }
    return sum;
}

/* One block of 256 as Q8_K: returns d (0 for an all-zero block). */
static float block256(const float *x, int8_t *q, int16_t *bsums) {
    float amax = 0, mx = 0;
    for (int j = 0; j < 256; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            mx = x[j];
        }
    if (amax == 0.0f) { /* also a block of NaNs: fabsf(NaN) > 0 is false */
        memset(q, 0, 256);
        memset(bsums, 0, 16 * sizeof *bsums);
        return 0.0f;
    }
    float iscale = -127.0f / mx;
    for (int j = 0; j < 256; j++) {
        int v = round_even(iscale * x[j]);
        q[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int g = 0; g < 16; g++) {
        int s = 0;
        for (int j = 0; j < 16; j++) s += q[16 * g + j];
        bsums[g] = (int16_t)s;
    }
    return 1.0f / iscale;
}

static void quantize_c(ActType a, const float *x, void *dst, size_t n) {
    switch (a) {
    case ACT_Q8_0: {
        BlockQ8_0 *y = dst;
        for (size_t b = 0; b < n / 32; b++) {
            float d;
            block32(x + 32 * b, y[b].qs, &d);
            y[b].d = fp32_to_fp16(d);
        }
        break;
    }
    case ACT_Q8_1: {
        BlockQ8_1 *y = dst;
        for (size_t b = 0; b < n / 32; b++) {
            float d;
            int sum = block32(x + 32 * b, y[b].qs, &d);
            y[b].d = fp32_to_fp16(d);
            y[b].s = fp32_to_fp16(d * (float)sum);
        }
        break;
    }
    case ACT_Q8_K: {
        BlockQ8K *y = dst;
        for (size_t b = 0; b < n / 256; b++) y[b].d = block256(x + 256 * b, y[b].qs, y[b].bsums);
        break;
    }
    default: break;
    }
}

/* ---------- the rounding in floats, on three paths with the same results ---------- */
static void round_c(ActType a, const float *x, float *out, size_t n) {
    int8_t q[256];
    int16_t bs[16];
    if (a == ACT_Q8_K) {
        for (size_t b = 0; b < n / 256; b++, x += 256, out += 256) {
            float d = block256(x, q, bs);
            for (int j = 0; j < 256; j++) out[j] = d * (float)q[j];
        }
        return;
    }
    for (size_t b = 0; b < n / 32; b++, x += 32, out += 32) {
        float d;
        block32(x, q, &d);
        float dr = fp16_to_fp32(fp32_to_fp16(d));
        for (int j = 0; j < 32; j++) out[j] = dr * (float)q[j];
    }
}

static void round_f16_c(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ACTQ_X86 1
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

/* The lanes of v that are not NaN: a NaN rounds to 0 in round_even's bits, to 0x80000000 in cvtps2dq. */
T_AVX512 static inline __mmask16 ordered(__m512 v) { return _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q); }

/* max |x| of a block of 32 skipping NaNs as fmaxf does: max(|x|, m) keeps m where |x| is NaN. */
T_AVX512 static inline float amax32(__m512 v0, __m512 v1) {
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v1), _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps())));
}

/* Q8_K's pivot: the first of 256 values with the largest |x|, with its sign, as block256 finds it
 * (max(|x|, m) keeps m where |x| is NaN, as block256's comparison skips a NaN); 0 when every |x| is 0
 * or NaN. */
T_AVX512 static inline float first_max256(const float *x) {
    __m512 m = _mm512_setzero_ps();
    for (int j = 0; j < 256; j += 16) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + j)), m);
    float amax = _mm512_reduce_max_ps(m);
    if (!(amax > 0.0f)) return 0.0f;
    for (int j = 0; j < 256; j += 16) {
        __mmask16 k = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
        if (k) return x[j + __builtin_ctz(k)];
    }
    return 0.0f; /* not reached: amax is one of the |x| */
}

/* The same operations as round_c: the largest |x| is exact whatever the order (NaNs skipped, as
 * fmaxf and block256 skip them), v * id rounds once, cvtps2dq rounds to nearest even as round_even
 * does (|v| <= 127.5) and a NaN to 0 as round_even's bits do, and d q is one product. */
T_AVX512 static void round_avx512(ActType a, const float *x, float *out, size_t n) {
    if (a == ACT_Q8_K) {
        for (size_t b = 0; b < n / 256; b++, x += 256, out += 256) {
            float mx = first_max256(x);
            if (mx == 0.0f) { /* all zero (or NaN): zeros, as block256 */
                memset(out, 0, 256 * sizeof *out);
                continue;
            }
            float iscale = -127.0f / mx, d = 1.0f / iscale;
            __m512 vs = _mm512_set1_ps(iscale), vd = _mm512_set1_ps(d);
            __m512i top = _mm512_set1_epi32(127);
            for (int j = 0; j < 256; j += 16) {
                __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + j), vs);
                __m512i q = _mm512_min_epi32(_mm512_maskz_cvtps_epi32(ordered(v), v), top); /* NaN: 0 */
                _mm512_storeu_ps(out + j, _mm512_mul_ps(vd, _mm512_cvtepi32_ps(q)));
            }
        }
        return;
    }
    for (size_t b = 0; b < n / 32; b++, x += 32, out += 32) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = amax32(v0, v1);
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m512 vid = _mm512_set1_ps(id), dr = _mm512_set1_ps(fp16_to_fp32(fp32_to_fp16(d)));
        __m512 p0 = _mm512_mul_ps(v0, vid), p1 = _mm512_mul_ps(v1, vid);
        _mm512_storeu_ps(out, _mm512_mul_ps(dr, _mm512_cvtepi32_ps(_mm512_maskz_cvtps_epi32(ordered(p0), p0))));
        _mm512_storeu_ps(out + 16, _mm512_mul_ps(dr, _mm512_cvtepi32_ps(_mm512_maskz_cvtps_epi32(ordered(p1), p1))));
    }
}

/* actq_quantize's blocks with AVX-512, the same bytes as quantize_c: max(|x|, m) keeps m where |x| is
 * NaN as fmaxf does, cvtps2dq rounds to nearest even as round_even does (|v| <= 127.5), a NaN
 * rounds to 0 in both (cvtps2dq's 0x80000000 truncates to 0 as round_even's bits do), and the
 * integer sums are exact. The fp16 scales go through fp32_to_fp16 as there. */
T_AVX512 static void quantize_avx512(ActType a, const float *x, void *dst, size_t n) {
    if (a == ACT_Q8_K) {
        BlockQ8K *y = dst;
        for (size_t b = 0; b < n / 256; b++, x += 256) {
            float mx = first_max256(x);
            if (mx == 0.0f) {
                memset(y[b].qs, 0, sizeof y[b].qs);
                memset(y[b].bsums, 0, sizeof y[b].bsums);
                y[b].d = 0.0f;
                continue;
            }
            float iscale = -127.0f / mx;
            __m512 vs = _mm512_set1_ps(iscale);
            for (int g = 0; g < 16; g++) {
                __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + 16 * g))),
                                             _mm512_set1_epi32(127));
                __m128i q8 = _mm512_cvtepi32_epi8(q);
                _mm_storeu_si128((__m128i *)(y[b].qs + 16 * g), q8);
                /* the sum of the int8 values as stored (a NaN's lane is 0 there) */
                y[b].bsums[g] = (int16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(q8));
            }
            y[b].d = 1.0f / iscale;
        }
        return;
    }
    const size_t bs = a == ACT_Q8_1 ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
    uint8_t *out = dst;
    for (size_t b = 0; b < n / 32; b++, x += 32, out += bs) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = amax32(v0, v1);
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m128i q0 = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)));
        __m128i q1 = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid)));
        uint16_t dh = fp32_to_fp16(d);
        if (a == ACT_Q8_1) {
            BlockQ8_1 *y = (BlockQ8_1 *)out;
            int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_cvtepi8_epi32(q0), _mm512_cvtepi8_epi32(q1)));
            y->d = dh;
            y->s = fp32_to_fp16(d * (float)sum);
            _mm_storeu_si128((__m128i *)y->qs, q0);
            _mm_storeu_si128((__m128i *)(y->qs + 16), q1);
        } else {
            BlockQ8_0 *y = (BlockQ8_0 *)out;
            y->d = dh;
            _mm_storeu_si128((__m128i *)y->qs, q0);
            _mm_storeu_si128((__m128i *)(y->qs + 16), q1);
        }
    }
}

T_AVX2 static float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* cvtps2dq with NaN lanes 0, as round_even gives (see ordered) */
T_AVX2 static inline __m256i cvt_ordered8(__m256 v) {
    return _mm256_and_si256(_mm256_cvtps_epi32(v), _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_ORD_Q)));
}

T_AVX2 static void round_avx2(ActType a, const float *x, float *out, size_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    if (a == ACT_Q8_K) {
        for (size_t b = 0; b < n / 256; b++, x += 256, out += 256) {
            __m256 m = _mm256_setzero_ps();
            for (int j = 0; j < 256; j += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
            float amax = hmax8(m), mx = 0;
            if (!(amax > 0.0f)) {
                memset(out, 0, 256 * sizeof *out);
                continue;
            }
            for (int j = 0; j < 256; j += 8) {
                int k = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
                if (k) {
                    mx = x[j + __builtin_ctz((unsigned)k)];
                    break;
                }
            }
            float iscale = -127.0f / mx, d = 1.0f / iscale;
            __m256 vs = _mm256_set1_ps(iscale), vd = _mm256_set1_ps(d);
            __m256i top = _mm256_set1_epi32(127);
            for (int j = 0; j < 256; j += 8) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j), vs);
                __m256i q = _mm256_min_epi32(cvt_ordered8(v), top);
                _mm256_storeu_ps(out + j, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(q)));
            }
        }
        return;
    }
    for (size_t b = 0; b < n / 32; b++, x += 32, out += 32) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int g = 0; g < 4; g++) {
            v[g] = _mm256_loadu_ps(x + 8 * g);
            m = _mm256_max_ps(_mm256_andnot_ps(sign, v[g]), m);
        }
        float amax = hmax8(m);
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m256 vid = _mm256_set1_ps(id), dr = _mm256_set1_ps(fp16_to_fp32(fp32_to_fp16(d)));
        for (int g = 0; g < 4; g++)
            _mm256_storeu_ps(out + 8 * g, _mm256_mul_ps(dr, _mm256_cvtepi32_ps(cvt_ordered8(_mm256_mul_ps(v[g], vid)))));
    }
}

/* vcvtps2ph rounds to nearest even, as fp32_to_fp16 */
T_AVX512 static void round_f16_avx512(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    round_f16_c(x + i, n - i);
}

T_AVX2 static void round_f16_avx2(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    round_f16_c(x + i, n - i);
}
#else
#define ACTQ_X86 0
#endif

void actq_round_f32(ActType a, const float *x, float *out, size_t n) {
    if (a == ACT_NONE) {
        if (out != x) memmove(out, x, n * sizeof *out);
        return;
    }
#if ACTQ_X86
    QuantPath p = quant_path();
    if (p == QUANT_PATH_AVX512) {
        round_avx512(a, x, out, n);
        return;
    }
    if (p == QUANT_PATH_AVX2) {
        round_avx2(a, x, out, n);
        return;
    }
#endif
    round_c(a, x, out, n);
}

void actq_quantize(ActType a, const float *x, void *dst, size_t n) {
#if ACTQ_X86
    if (a != ACT_NONE && quant_path() == QUANT_PATH_AVX512) {
        quantize_avx512(a, x, dst, n);
        return;
    }
#endif
    quantize_c(a, x, dst, n);
}

void actq_round_f16(float *x, size_t n) {
#if ACTQ_X86
    QuantPath p = quant_path();
    if (p == QUANT_PATH_AVX512) {
        round_f16_avx512(x, n);
        return;
    }
    if (p == QUANT_PATH_AVX2) {
        round_f16_avx2(x, n);
        return;
    }
#endif
    round_f16_c(x, n);
}
