/* F16/BF16/Q8_0 conversions and the matrix-vector kernels of the decode path, with runtime CPU
 * dispatch: AVX-512 (F + BW + VL), AVX2 + FMA + F16C, or portable C. */
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kquant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "simd16.h"
#define QUANT_X86 1
#else
#define QUANT_X86 0
#endif

_Static_assert(sizeof(BlockQ8_0) == 34, "BlockQ8_0 must be 34 bytes as in GGUF");

/* ---------- the table of block-quantized GGUF types (kquant.c) ---------- */
typedef float (*DotFn)(const void *w, const float *x, size_t n);
typedef struct {
    const char *name;   /* ggml's spelling */
    int ggml;           /* ggml's type id */
    unsigned blk, bytes;/* weights and bytes per block */
    void (*to_f32)(const void *src, float *dst, size_t n);
    void (*from_f32)(const float *src, void *dst, size_t n);
    DotFn dot[3];       /* portable, AVX2, AVX-512 */
} KqType;

#if QUANT_X86
#define KQ_ROW(t, id, blk, bytes) \
    {#t, id, blk, bytes, kq_to_f32_##t, kq_from_f32_##t, {kq_dot_##t##_c, kq_dot_##t##_avx2, kq_dot_##t##_avx512}}
#else
#define KQ_ROW(t, id, blk, bytes) {#t, id, blk, bytes, kq_to_f32_##t, kq_from_f32_##t, {kq_dot_##t##_c, kq_dot_##t##_c, kq_dot_##t##_c}}
#endif
static const KqType k_kq[QT_COUNT - QT_Q4_0] = {
    KQ_ROW(q4_0, 2, 32, 18),   KQ_ROW(q4_1, 3, 32, 20),   KQ_ROW(q5_0, 6, 32, 22),
    KQ_ROW(q5_1, 7, 32, 24),   KQ_ROW(q2_K, 10, 256, 84), KQ_ROW(q3_K, 11, 256, 110),
    KQ_ROW(q4_K, 12, 256, 144), KQ_ROW(q5_K, 13, 256, 176), KQ_ROW(q6_K, 14, 256, 210),
};
#undef KQ_ROW

static const KqType *kq_of(QType t) { return t >= QT_Q4_0 && t < QT_COUNT ? &k_kq[t - QT_Q4_0] : NULL; }

const char *qtype_name(QType t) {
    static const char *const n[] = {"f32", "f16", "bf16", "q8_0", "q8_0"};
    if ((unsigned)t < 5) return n[t];
    return kq_of(t) ? kq_of(t)->name : "?";
}

int qtype_parse(const char *s, QType *t) {
    for (int i = 0; i < QT_COUNT; i++)
        if (i != QT_Q8R && !strcasecmp(s, qtype_name((QType)i))) {
            *t = (QType)i;
            return 0;
        }
    return -1;
}

size_t qtype_block(QType t) {
    if (t == QT_Q8_0 || t == QT_Q8R) return QK8_0;
    return kq_of(t) ? kq_of(t)->blk : 1;
}

bool qtype_is_block(QType t) { return t == QT_Q8_0 || t == QT_Q8R || kq_of(t); }

int qtype_to_ggml(QType t) {
    static const int g[] = {0, 1, 30, 8, 8};
    if ((unsigned)t < 5) return g[t];
    return kq_of(t) ? kq_of(t)->ggml : -1;
}

int qtype_from_ggml(int ggml_type, QType *t) {
    for (int i = 0; i < QT_COUNT; i++)
        if (i != QT_Q8R && qtype_to_ggml((QType)i) == ggml_type) {
            *t = (QType)i;
            return 0;
        }
    return -1;
}

int qtype_row_bytes(QType t, size_t n, size_t *out) {
    switch (t) {
    case QT_F32: return size_mul_ok(n, 4, out) ? 0 : -1;
    case QT_F16:
    case QT_BF16: return size_mul_ok(n, 2, out) ? 0 : -1;
    case QT_Q8_0: return n % QK8_0 ? -1 : size_mul_ok(n / QK8_0, sizeof(BlockQ8_0), out) ? 0 : -1;
    case QT_Q8R:
        if (n % QK8_0 || n > SIZE_MAX / 2) return -1;
        *out = q8r_row_bytes(n);
        return 0;
    default: {
        const KqType *k = kq_of(t);
        if (!k || n % k->blk) return -1;
        return size_mul_ok(n / k->blk, k->bytes, out) ? 0 : -1;
    }
    }
}

static int cur_path(void);

/* ---------- row conversions ---------- */
void quant_to_f32(QType t, const void *src, float *dst, size_t n) {
    switch (t) {
    case QT_F32: memcpy(dst, src, n * sizeof(float)); break;
    case QT_F16: for (size_t i = 0; i < n; i++) dst[i] = fp16_to_fp32(((const uint16_t *)src)[i]); break;
    case QT_BF16: for (size_t i = 0; i < n; i++) dst[i] = bf16_to_fp32(((const uint16_t *)src)[i]); break;
    case QT_Q8_0: {
        const BlockQ8_0 *b = src;
        for (size_t i = 0; i < n / QK8_0; i++) {
            float d = fp16_to_fp32(b[i].d);
            for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + j] = d * b[i].qs[j];
        }
        break;
    }
    case QT_Q8R: q8r_to_f32(src, dst, n); break;
#if QUANT_X86
    case QT_Q4_0:
        if (cur_path() == QUANT_PATH_AVX512) kq_to_f32_q4_0_avx512(src, dst, n);
        else kq_of(t)->to_f32(src, dst, n);
        break;
#endif
    default:
        if (kq_of(t)) kq_of(t)->to_f32(src, dst, n);
        break;
    }
}

void quant_from_f32(QType t, const float *src, void *dst, size_t n) {
    switch (t) {
    case QT_F32: memcpy(dst, src, n * sizeof(float)); break;
    case QT_F16: for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = fp32_to_fp16(src[i]); break;
    case QT_BF16: for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = fp32_to_bf16(src[i]); break;
    case QT_Q8_0: q8_0_from_f32(src, dst, n); break;
    case QT_Q8R: q8r_from_f32(src, dst, n); break;
    default:
        if (kq_of(t)) kq_of(t)->from_f32(src, dst, n);
        break;
    }
}

/* ---------- dots: portable ---------- */
/* Four partial sums, like the SIMD paths, so that a long row does not lose precision to one
 * running sum. One body for the three element types: T is the stored type, CONV its float value. */
#define DOT_C(name, T, CONV)                                                                       \
    static float name(const void *wv, const float *x, size_t n) {                                  \
        const T *w = wv;                                                                           \
        float s[4] = {0};                                                                          \
        size_t i = 0;                                                                              \
        for (; i + 4 <= n; i += 4)                                                                 \
            for (int k = 0; k < 4; k++) s[k] += CONV(w[i + k]) * x[i + k];                         \
        for (; i < n; i++) s[0] += CONV(w[i]) * x[i];                                              \
        return (s[0] + s[1]) + (s[2] + s[3]);                                                      \
    }
#define AS_FLOAT(v) (v)
DOT_C(dot_f32_c, float, AS_FLOAT)
DOT_C(dot_f16_c, uint16_t, fp16_to_fp32)
DOT_C(dot_bf16_c, uint16_t, bf16_to_fp32)
#undef AS_FLOAT
#undef DOT_C

static float dot_q8_0_c(const void *wv, const float *x, size_t n) {
    const BlockQ8_0 *b = wv;
    float s = 0;
    for (size_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        float bs = 0;
        for (int j = 0; j < QK8_0; j++) bs += (float)b[i].qs[j] * x[j];
        s += fp16_to_fp32(b[i].d) * bs;
    }
    return s;
}

/* ---------- dots: AVX2 + FMA + F16C ---------- */
#if QUANT_X86
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

T_AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T_AVX2 static float dot_f32_avx2(const void *wv, const float *x, size_t n) {
    const float *w = wv;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

T_AVX2 static float dot_f16_avx2(const void *wv, const float *x, size_t n) {
    const uint16_t *w = wv;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
#define LH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(LH(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(LH(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(LH(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(LH(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(LH(w + i), _mm256_loadu_ps(x + i), a0);
#undef LH
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += fp16_to_fp32(w[i]) * x[i];
    return s;
}

T_AVX2 static float dot_bf16_avx2(const void *wv, const float *x, size_t n) {
    const uint16_t *w = wv;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    size_t i = 0;
#define LB(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(LB(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(LB(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(LB(w + i), _mm256_loadu_ps(x + i), a0);
#undef LB
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += bf16_to_fp32(w[i]) * x[i];
    return s;
}

T_AVX2 static float dot_q8_0_avx2(const void *wv, const float *x, size_t n) {
    const BlockQ8_0 *b = wv;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
#define LQ(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
    for (size_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        __m256 s0 = _mm256_mul_ps(LQ(b[i].qs), _mm256_loadu_ps(x));
        __m256 s1 = _mm256_mul_ps(LQ(b[i].qs + 8), _mm256_loadu_ps(x + 8));
        s0 = _mm256_fmadd_ps(LQ(b[i].qs + 16), _mm256_loadu_ps(x + 16), s0);
        s1 = _mm256_fmadd_ps(LQ(b[i].qs + 24), _mm256_loadu_ps(x + 24), s1);
        __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
        acc0 = _mm256_fmadd_ps(d, s0, acc0);
        acc1 = _mm256_fmadd_ps(d, s1, acc1);
    }
#undef LQ
    return hsum256(_mm256_add_ps(acc0, acc1));
}

/* ---------- dots: AVX-512 ---------- */
/* dot_f32_avx512's accumulators from element i on (a3 holds what came before), added as it adds them. */
T_AVX512 static inline __m512 dot_f32_acc(const float *w, const float *x, size_t n, size_t i, __m512 a3) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a1);
    }
    return _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
}

T_AVX512 static float dot_f32_avx512(const void *wv, const float *x, size_t n) {
    const float *w = wv;
    __m512 a3 = _mm512_setzero_ps();
    size_t i = 0;
    /* GGUF aligns tensor data to 32 bytes only: a row at 32 mod 64 would make every 64-byte load
     * of the weights straddle two cache lines (~30 % slower streaming). Take the values up to the
     * next line boundary first, so the weights' loads are aligned (x's are in L1 either way). */
    size_t head = (16 - (((uintptr_t)w & 63) >> 2)) & 15;
    if (head && head < n && ((uintptr_t)w & 3) == 0) {
        __mmask16 m = (__mmask16)((1u << head) - 1);
        a3 = _mm512_maskz_mul_ps(m, _mm512_maskz_loadu_ps(m, w), _mm512_maskz_loadu_ps(m, x));
        i = head;
    }
    return sum16_avx512(dot_f32_acc(w, x, n, i, a3));
}

/* out[s] = dot_f32_avx512(K + s ldk, q, n) for s < m, the same bits, 16 rows at a time: each row's
 * accumulators as dot_f32_avx512 forms them for a row starting on a cache line (other rows:
 * dot_f32_avx512 itself), then the 16 rows' horizontal sums together (sum16x16_avx512, the pairs
 * of dot_f32_avx512's sum16_avx512): 31 shuffles and 15 adds instead of 16 chains of 8 steps.
 * Attention's scores over the cache: one call per head instead of one per position. */
T_AVX512 static void dots_f32_avx512(const float *K, size_t ldk, int m, const float *q, size_t n, float *out) {
    int s = 0;
    for (; s + 16 <= m; s += 16) {
        bool lines = true;
        for (int r = 0; r < 16 && lines; r++) lines = ((uintptr_t)(K + (size_t)(s + r) * ldk) & 63) == 0;
        if (!lines) {
            for (int r = 0; r < 16; r++) out[s + r] = dot_f32_avx512(K + (size_t)(s + r) * ldk, q, n);
            continue;
        }
        __m512 v[16];
        for (int r = 0; r < 16; r++) v[r] = dot_f32_acc(K + (size_t)(s + r) * ldk, q, n, 0, _mm512_setzero_ps());
        _mm512_storeu_ps(out + s, sum16x16_avx512(v));
    }
    for (; s < m; s++) out[s] = dot_f32_avx512(K + (size_t)s * ldk, q, n);
}

T_AVX512 static float dot_f16_avx512(const void *wv, const float *x, size_t n) {
    const uint16_t *w = wv;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
#define LH(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(LH(w + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(LH(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(LH(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(LH(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(LH(w + i), _mm512_loadu_ps(x + i), a0);
#undef LH
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 wt = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + i));
        a1 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(m, x + i), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

T_AVX512 static float dot_bf16_avx512(const void *wv, const float *x, size_t n) {
    const uint16_t *w = wv;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    size_t i = 0;
#define LB(v) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16))
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(LB(_mm256_loadu_si256((const __m256i *)(w + i))), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(LB(_mm256_loadu_si256((const __m256i *)(w + i + 16))), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        a0 = _mm512_fmadd_ps(LB(_mm256_maskz_loadu_epi16(m, w + i)), _mm512_maskz_loadu_ps(m, x + i), a0);
    }
#undef LB
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

T_AVX512 static float dot_q8_0_avx512(const void *wv, const float *x, size_t n) {
    const BlockQ8_0 *b = wv;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    size_t nb = n / QK8_0, i = 0;
#define LQ(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))
    /* the two halves of a block share its scale: sum them lane-wise, then scale once */
    for (; i + 2 <= nb; i += 2, x += 2 * QK8_0) {
        __m512 s = _mm512_fmadd_ps(LQ(b[i].qs + 16), _mm512_loadu_ps(x + 16), _mm512_mul_ps(LQ(b[i].qs), _mm512_loadu_ps(x)));
        __m512 t = _mm512_fmadd_ps(LQ(b[i + 1].qs + 16), _mm512_loadu_ps(x + 48),
                                   _mm512_mul_ps(LQ(b[i + 1].qs), _mm512_loadu_ps(x + 32)));
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(b[i].d)), s, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(b[i + 1].d)), t, acc1);
    }
    if (i < nb) {
        __m512 s = _mm512_fmadd_ps(LQ(b[i].qs + 16), _mm512_loadu_ps(x + 16), _mm512_mul_ps(LQ(b[i].qs), _mm512_loadu_ps(x)));
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(b[i].d)), s, acc0);
    }
#undef LQ
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

T_AVX2 static void axpy_avx2(float a, const float *x, float *y, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

T_AVX512 static void axpy_avx512(float a, const float *x, float *y, size_t n) {
    __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* y += a[s] x[s] for s = 0 .. m-1 (rows ldx apart), y held in registers 64 values at a time: each
 * value takes the fmas axpy_avx512 gives it, in the same order, so the bits of m calls. */
T_AVX512 static void axpys_avx512(const float *a, const float *x, size_t ldx, int m, float *y, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 r0 = _mm512_loadu_ps(y + i), r1 = _mm512_loadu_ps(y + i + 16), r2 = _mm512_loadu_ps(y + i + 32),
               r3 = _mm512_loadu_ps(y + i + 48);
        for (int s = 0; s < m; s++) {
            const float *xs = x + (size_t)s * ldx + i;
            __m512 va = _mm512_set1_ps(a[s]);
            r0 = _mm512_fmadd_ps(va, _mm512_loadu_ps(xs), r0);
            r1 = _mm512_fmadd_ps(va, _mm512_loadu_ps(xs + 16), r1);
            r2 = _mm512_fmadd_ps(va, _mm512_loadu_ps(xs + 32), r2);
            r3 = _mm512_fmadd_ps(va, _mm512_loadu_ps(xs + 48), r3);
        }
        _mm512_storeu_ps(y + i, r0);
        _mm512_storeu_ps(y + i + 16, r1);
        _mm512_storeu_ps(y + i + 32, r2);
        _mm512_storeu_ps(y + i + 48, r3);
    }
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 r = _mm512_maskz_loadu_ps(k, y + i);
        for (int s = 0; s < m; s++) r = _mm512_fmadd_ps(_mm512_set1_ps(a[s]), _mm512_maskz_loadu_ps(k, x + (size_t)s * ldx + i), r);
        _mm512_mask_storeu_ps(y + i, k, r);
    }
}
#endif

/* ---------- dispatch ---------- */
enum { PATH_UNSET = 0, PATH_PORTABLE = QUANT_PATH_PORTABLE, PATH_AVX2 = QUANT_PATH_AVX2, PATH_AVX512 = QUANT_PATH_AVX512 };
static int g_path;          /* resolved once; every thread computes the same value */
static int g_forced;        /* PATH_UNSET, or a path set by quant_set_path */

static int detect_path(void) {
#if QUANT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return PATH_AVX512;
#if defined(__clang__) && __clang_major__ < 15
    /* clang 14 (the fuzz build's) has no "f16c" for this builtin; every CPU with AVX2 and FMA has F16C */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return PATH_AVX2;
#else
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return PATH_AVX2;
#endif
#endif
    return PATH_PORTABLE;
}

static int cur_path(void) {
    int f = __atomic_load_n(&g_forced, __ATOMIC_RELAXED);
    if (f != PATH_UNSET) return f;
    int p = __atomic_load_n(&g_path, __ATOMIC_RELAXED);
    if (p == PATH_UNSET) {
        p = detect_path();
        __atomic_store_n(&g_path, p, __ATOMIC_RELAXED);
    }
    return p;
}

int quant_set_path(const char *name) {
    int want = !name ? PATH_UNSET : !strcmp(name, "portable") ? PATH_PORTABLE : !strcmp(name, "avx2") ? PATH_AVX2
             : !strcmp(name, "avx512") ? PATH_AVX512 : -1;
    if (want < 0 || want > detect_path()) return -1;
    __atomic_store_n(&g_forced, want, __ATOMIC_RELAXED);
    return 0;
}

QuantPath quant_path(void) { return (QuantPath)cur_path(); }

const char *quant_path_name(void) {
    switch (cur_path()) {
    case PATH_AVX512: return "avx512";
    case PATH_AVX2: return "avx2";
    default: return "portable";
    }
}

static DotFn pick_dot(QType t, int path) {
    if (kq_of(t)) return kq_of(t)->dot[path == PATH_AVX512 ? 2 : path == PATH_AVX2 ? 1 : 0];
#if QUANT_X86
    if (path == PATH_AVX512) {
        switch (t) {
        case QT_F32: return dot_f32_avx512;
        case QT_F16: return dot_f16_avx512;
        case QT_BF16: return dot_bf16_avx512;
        case QT_Q8_0: return dot_q8_0_avx512;
        default: break;
        }
    }
    if (path == PATH_AVX2) {
        switch (t) {
        case QT_F32: return dot_f32_avx2;
        case QT_F16: return dot_f16_avx2;
        case QT_BF16: return dot_bf16_avx2;
        case QT_Q8_0: return dot_q8_0_avx2;
        default: break;
        }
    }
#endif
    switch (t) {
    case QT_F16: return dot_f16_c;
    case QT_BF16: return dot_bf16_c;
    case QT_Q8_0: return dot_q8_0_c;
    case QT_Q8R: return q8r_dot_f32;
    default: return dot_f32_c;
    }
}

float quant_dot(QType t, const void *row, const float *x, size_t n) { return pick_dot(t, cur_path())(row, x, n); }

void quant_matvec(QType t, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1) {
    if (t == QT_Q8R) {
        q8r_matvec(cur_path() == PATH_AVX512 && q8r_supported(), w, cols, x, y, r0, r1);
        return;
    }
    if (cur_path() == PATH_AVX512 && kq_of(t) && !kq_matvec_vnni(t, w, cols, x, y, r0, r1)) return;
    DotFn dot = pick_dot(t, cur_path());
    size_t rb;
    if (qtype_row_bytes(t, cols, &rb)) return;
    const uint8_t *p = (const uint8_t *)w + r0 * rb;
    for (size_t r = r0; r < r1; r++, p += rb) y[r] = dot(p, x, cols);
}

/* Weight rows per chunk of quant_matvecs: the chunk stays in L1/L2 while every vector goes over it. */
#define MV_CHUNK_BYTES (16u << 10)

void quant_matvecs(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                   size_t r1) {
    if (t == QT_Q8R) {
        q8r_matvecs(cur_path() == PATH_AVX512 && q8r_supported(), w, cols, x, n, y, ldy, r0, r1);
        return;
    }
    if (cur_path() == PATH_AVX512 && kq_of(t) && !kq_matvecs_vnni(t, w, cols, x, n, y, ldy, r0, r1)) return;
    DotFn dot = pick_dot(t, cur_path());
    bool vnni = cur_path() == PATH_AVX512 && kq_of(t);
    size_t rb;
    if (qtype_row_bytes(t, cols, &rb)) return;
    size_t chunk = rb >= MV_CHUNK_BYTES ? 1 : MV_CHUNK_BYTES / rb;
    for (size_t c0 = r0; c0 < r1; c0 += chunk) {
        size_t c1 = r1 - c0 < chunk ? r1 : c0 + chunk;
        for (int v = 0; v < n; v++) {
            const uint8_t *p = (const uint8_t *)w + c0 * rb;
            const float *xv = x + (size_t)v * cols;
            float *yv = y + (size_t)v * ldy;
            /* quant_matvec's integer path, as it takes it (a row's result does not depend on the range) */
            if (vnni && !kq_matvec_vnni(t, w, cols, xv, yv, c0, c1)) continue;
            for (size_t r = c0; r < c1; r++, p += rb) yv[r] = dot(p, xv, cols);
        }
    }
}

bool quant_has_lc(QType t) {
    return t == QT_Q8R || ((t == QT_Q5_K || t == QT_Q6_K) && cur_path() == PATH_AVX512 && q8r_supported());
}

void quant_matmul_lc(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                     size_t r1) {
    if (t == QT_Q8R) q8r_matmul_lc(cur_path() == PATH_AVX512 && q8r_supported(), w, cols, x, n, y, ldy, r0, r1);
    else quant_matvecs(t, w, cols, x, n, y, ldy, r0, r1); /* its VNNI dots (ggml's lanes) */
}

/* ---------- a prompt of Q4_0 / Q5_0 on the Q8R kernel ---------- */
bool quant_matmul_q8r(QType t) {
    return (t == QT_Q4_0 || t == QT_Q5_0) && cur_path() == PATH_AVX512 && q8r_supported();
}

/* Row r of a Q4_0 / Q5_0 matrix as a Q8R row: its Q8_0 blocks (exact) into scratch, then repacked. */
#define CONV_LEGACY(t, B)                                                                                \
    static void conv_##t(const void *src, size_t cols, size_t r, uint8_t *dst, void *scratch) {       \
        size_t rb = cols / QK4 * sizeof(B);                                                           \
        kq_q8_0_of_##t((const uint8_t *)src + r * rb, scratch, cols);                                \
        q8r_from_q8_0(scratch, dst, cols);                                                           \
    }
CONV_LEGACY(q4_0, BlockQ4_0)
CONV_LEGACY(q5_0, BlockQ5_0)
#undef CONV_LEGACY

void quant_matmul(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                  size_t r1) {
    void *scratch;
    if (quant_matmul_q8r(t) && cols % QK8_0 == 0 && (scratch = malloc(cols / QK8_0 * sizeof(BlockQ8_0)))) {
        Q8RConv c = {t == QT_Q4_0 ? conv_q4_0 : conv_q5_0, w, scratch};
        int rc = q8r_matvecs_conv(true, &c, cols, x, n, y, ldy, r0, r1);
        free(scratch);
        if (!rc) return;
    }
    quant_matvecs(t, w, cols, x, n, y, ldy, r0, r1); /* the decode kernels (their VNNI path quantizes x itself) */
}

static void axpy_c(float a, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

typedef void (*QuantAxpyFn)(float a, const float *x, float *y, size_t n);

static QuantAxpyFn quant_axpy_fn(void) {
#if QUANT_X86
    int p = cur_path();
    if (p == PATH_AVX512) return axpy_avx512;
    if (p == PATH_AVX2) return axpy_avx2;
#endif
    return axpy_c;
}

QuantDotFn quant_dot_fn(QType t) { return pick_dot(t, cur_path()); }

void quant_axpys(const float *a, const float *x, size_t ldx, int m, float *y, size_t n) {
#if QUANT_X86
    if (cur_path() == PATH_AVX512) {
        axpys_avx512(a, x, ldx, m, y, n);
        return;
    }
#endif
    QuantAxpyFn axpy = quant_axpy_fn();
    for (int s = 0; s < m; s++) axpy(a[s], x + (size_t)s * ldx, y, n);
}

void quant_dots(const float *K, size_t ldk, int m, const float *q, size_t n, float *out) {
#if QUANT_X86
    if (cur_path() == PATH_AVX512) {
        dots_f32_avx512(K, ldk, m, q, n, out);
        return;
    }
#endif
    DotFn dot = pick_dot(QT_F32, cur_path());
    for (int s = 0; s < m; s++) out[s] = dot(K + (size_t)s * ldk, q, n);
}

void quant_axpy(float a, const float *x, float *y, size_t n) { quant_axpy_fn()(a, x, y, n); }
