/* The AVX-512 and AVX2 + FMA kernels of ops.h's element-wise operations (see vmath.h). Each
 * function carries its own target attribute, as quant.c's do, so the file builds for baseline
 * x86-64 and the caller picks a kernel at run time. */
#include "vmath.h"

#include <math.h>

#include "quant.h"

/* quant.c stays the one place that decides the path. */
VmPath vm_path(void) {
    switch (quant_path()) {
    case QUANT_PATH_AVX512: return VM_AVX512;
    case QUANT_PATH_AVX2: return VM_AVX2;
    default: return VM_PORTABLE;
    }
}

#if VM_X86
#include <immintrin.h>

#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_AVX512 __attribute__((target("avx512f,avx2,fma")))

/* ---------- e^x ----------
 * e^x = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]. n ln 2 is taken
 * away in two FMAs (ln 2 = LN2_HI + LN2_LO, LN2_HI the float nearest ln 2), so r carries about
 * half an ulp of error. e^r = 1 + r + r^2 q(r), q of degree 4 fitted (Remez, relative error) on
 * that interval: 3.1e-9 relative, a twentieth of an ulp; the float evaluation adds about one ulp,
 * and the total measured over all floats is within 2 ulp (tests/engine/test_ops.c checks it).
 * x is clamped to [EXP_LO, EXP_HI] first: past them e^x is 0 or +inf in float anyway, and the
 * clamp keeps n small enough that 2^n needs no special case. The clamp keeps NaN (min/max return
 * their second operand on NaN), and NaN flows through the rest to the result. */
#define EXP_HI 89.0f            /* e^89 > FLT_MAX: 2^128 * e^r rounds to +inf */
#define EXP_LO -104.0f          /* e^-104 < 2^-150: rounds to 0 */
#define LOG2E 0x1.715476p+0f    /* 1 / ln 2 */
#define LN2_HI 0x1.62e430p-1f
#define LN2_LO -0x1.05c610p-29f
/* t = x log2e + ROUND_MAGIC rounds x log2e to an integer n (to nearest, even on ties) held in
 * the low mantissa bits of t: for |n| < 2^22, bits(t) - bits(ROUND_MAGIC) == n. */
#define ROUND_MAGIC 0x1.8p23f
#define EXP_C2 0x1.fffffcp-2f   /* ~ 1/2 */
#define EXP_C3 0x1.555492p-3f   /* ~ 1/6 */
#define EXP_C4 0x1.5558f2p-5f   /* ~ 1/24 */
#define EXP_C5 0x1.1239d4p-7f   /* ~ 1/120 */
#define EXP_C6 0x1.6a244cp-10f  /* ~ 1/720 */

/* gelu_new(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). Since
 * 1 + tanh(u) = 2 / (1 + e^(-2u)), it is x / (1 + e^(-2u)) = x * sigmoid(2u): one exponential and
 * no cancellation (0.5 x (2 - 2 / (1 + e^(2u))) loses every digit once e^(2u) < 2^-24). */
#define GELU_M2K -0x1.988454p+0f /* -2 sqrt(2/pi) */
#define GELU_C 0x1.6e4e26p-5f    /* 0.044715 */

T_AVX512 static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), _mm512_min_ps(_mm512_set1_ps(EXP_HI), x));
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), _mm512_set1_ps(ROUND_MAGIC));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(ROUND_MAGIC));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(EXP_C6), r, _mm512_set1_ps(EXP_C5));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(EXP_C4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(EXP_C3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(EXP_C2));
    __m512 p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r), _mm512_set1_ps(1.0f));
    /* p * 2^n with one rounding, subnormal results included */
    return _mm512_scalef_ps(p, n);
}

T_AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), _mm256_min_ps(_mm256_set1_ps(EXP_HI), x));
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), _mm256_set1_ps(ROUND_MAGIC));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(ROUND_MAGIC));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(EXP_C6), r, _mm256_set1_ps(EXP_C5));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(EXP_C4));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(EXP_C3));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(EXP_C2));
    __m256 p = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(r, r), q, r), _mm256_set1_ps(1.0f));
    /* n is in [-150, 129], past the exponent range of one float: scale by 2^(n/2) and then by
     * 2^(n - n/2), both normal. The first product is exact, the second rounds once (to a
     * subnormal, 0 or +inf where it must). */
    __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(_mm256_set1_ps(ROUND_MAGIC)));
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1), bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* ---------- helpers ---------- */
static inline __mmask16 tail16(size_t rem) { return (__mmask16)((1u << rem) - 1); } /* rem < 16 */

T_AVX2 static inline __m256i tail8(size_t rem) { /* rem < 8: lanes 0 .. rem-1 all ones */
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

T_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T_AVX2 static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T_AVX2 static inline double hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

T_AVX512 static inline __m256 hi8(__m512 v) { /* the upper 8 floats, with AVX-512F alone */
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* ---------- exp ---------- */
T_AVX512 void vm_exp_avx512(float *y, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

T_AVX2 void vm_exp_avx2(float *y, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = tail8(n - i);
        _mm256_maskstore_ps(y + i, m, exp8(_mm256_maskload_ps(x + i, m)));
    }
}

/* ---------- softmax: max, e^(x - max) summed as it is stored, times 1/sum ---------- */
T_AVX512 void vm_softmax_avx512(float *x, size_t n) {
    __m512 ninf = _mm512_set1_ps(-INFINITY), m0 = ninf, m1 = ninf;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i + 16 <= n; i += 16) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
    if (i < n) m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(ninf, tail16(n - i), x + i));
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));

    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
        _mm512_storeu_ps(x + i, e);
        s0 = _mm512_add_ps(s0, e);
    }
    __mmask16 m = tail16(n - i);
    if (i < n) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mx));
        _mm512_mask_storeu_ps(x + i, m, e);
        s1 = _mm512_maskz_mov_ps(m, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)));

    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (i < n) _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
}

T_AVX2 void vm_softmax_avx2(float *x, size_t n) {
    __m256 ninf = _mm256_set1_ps(-INFINITY), m0 = ninf, m1 = ninf;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    __m256i m = tail8(n - i);
    if (i < n) m1 = _mm256_max_ps(m1, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m)));
    __m256 mx = _mm256_set1_ps(hmax8(_mm256_max_ps(m0, m1)));

    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mx));
        _mm256_storeu_ps(x + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (i < n) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), mx));
        _mm256_maskstore_ps(x + i, m, e);
        s1 = _mm256_and_ps(e, _mm256_castsi256_ps(m));
    }
    __m256 inv = _mm256_set1_ps(1.0f / hsum8(_mm256_add_ps(s0, s1)));

    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    if (i < n) _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv));
}

/* ---------- activations ---------- */
T_AVX512 static inline __m512 gelu16(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(GELU_M2K)),
                             _mm512_fmadd_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(GELU_C), one)); /* -2u */
    return _mm512_div_ps(x, _mm512_add_ps(one, exp16(z)));
}

T_AVX512 void vm_gelu_new_avx512(float *a, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(a + i, gelu16(_mm512_loadu_ps(a + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(a + i, m, gelu16(_mm512_maskz_loadu_ps(m, a + i)));
    }
}

T_AVX2 static inline __m256 gelu8(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(GELU_M2K)),
                             _mm256_fmadd_ps(_mm256_mul_ps(x, x), _mm256_set1_ps(GELU_C), one));
    return _mm256_div_ps(x, _mm256_add_ps(one, exp8(z)));
}

T_AVX2 void vm_gelu_new_avx2(float *a, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(a + i, gelu8(_mm256_loadu_ps(a + i)));
    if (i < n) {
        __m256i m = tail8(n - i);
        _mm256_maskstore_ps(a + i, m, gelu8(_mm256_maskload_ps(a + i, m)));
    }
}

/* silu(a) * b = a / (1 + e^-a) * b */
T_AVX512 static inline __m512 silu_mul16(__m512 a, __m512 b) {
    __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), a));
    return _mm512_mul_ps(_mm512_div_ps(a, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), b);
}

T_AVX512 void vm_silu_mul_avx512(float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(a + i, silu_mul16(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(a + i, m, silu_mul16(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

T_AVX2 static inline __m256 silu_mul8(__m256 a, __m256 b) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), a));
    return _mm256_mul_ps(_mm256_div_ps(a, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), b);
}

T_AVX2 void vm_silu_mul_avx2(float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(a + i, silu_mul8(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    if (i < n) {
        __m256i m = tail8(n - i);
        _mm256_maskstore_ps(a + i, m, silu_mul8(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
    }
}

/* ---------- x += y ---------- */
T_AVX512 void vm_add_avx512(float *x, const float *y, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm512_storeu_ps(x + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
        _mm512_storeu_ps(x + i + 16, _mm512_add_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16)));
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail16(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

T_AVX2 void vm_add_avx2(float *x, const float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        _mm256_storeu_ps(x + i + 8, _mm256_add_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) x[i] += y[i];
}

/* ---------- layernorm ----------
 * Mean and variance are summed in double, two passes, as the portable C does: a row of the
 * residual stream can carry a few large outlier dimensions beside many small ones, and float
 * lanes would put their rounding straight into every output through the mean. The conversions
 * cost little beside the output pass, which is in float. */
T_AVX512 void vm_layernorm_avx512(float *out, const float *x, const float *w, const float *b, size_t dim, float eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(hi8(v)));
    }
    __mmask16 m = tail16(dim - i);
    if (i < dim) {
        __m512 v = _mm512_maskz_loadu_ps(m, x + i); /* zeros add nothing */
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(hi8(v)));
    }
    double mean = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / (double)dim;

    __m512d md = _mm512_set1_pd(mean);
    s0 = s1 = _mm512_setzero_pd();
    for (i = 0; i + 16 <= dim; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), md);
        __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(hi8(v)), md);
        s0 = _mm512_fmadd_pd(d0, d0, s0);
        s1 = _mm512_fmadd_pd(d1, d1, s1);
    }
    if (i < dim) { /* the lanes past the row must add 0, not mean^2 */
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512d d0 = _mm512_maskz_sub_pd((__mmask8)m, _mm512_cvtps_pd(_mm512_castps512_ps256(v)), md);
        __m512d d1 = _mm512_maskz_sub_pd((__mmask8)(m >> 8), _mm512_cvtps_pd(hi8(v)), md);
        s0 = _mm512_fmadd_pd(d0, d0, s0);
        s1 = _mm512_fmadd_pd(d1, d1, s1);
    }
    double var = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / (double)dim;

    __m512 r = _mm512_set1_ps((float)(1.0 / sqrt(var + (double)eps))), mf = _mm512_set1_ps((float)mean);
    for (i = 0; i + 16 <= dim; i += 16) {
        __m512 y = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mf), r);
        _mm512_storeu_ps(out + i, _mm512_fmadd_ps(y, _mm512_loadu_ps(w + i), _mm512_loadu_ps(b + i)));
    }
    if (i < dim) {
        __m512 y = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mf), r);
        _mm512_mask_storeu_ps(out + i, m, _mm512_fmadd_ps(y, _mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

T_AVX2 void vm_layernorm_avx2(float *out, const float *x, const float *w, const float *b, size_t dim, float eps) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double sum = hsum4d(_mm256_add_pd(s0, s1));
    for (size_t j = i; j < dim; j++) sum += x[j];
    double mean = sum / (double)dim;

    __m256d md = _mm256_set1_pd(mean);
    s0 = s1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= dim; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), md);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), md);
        s0 = _mm256_fmadd_pd(d0, d0, s0);
        s1 = _mm256_fmadd_pd(d1, d1, s1);
    }
    double var = hsum4d(_mm256_add_pd(s0, s1));
    for (size_t j = i; j < dim; j++) var += ((double)x[j] - mean) * ((double)x[j] - mean);
    var /= (double)dim;

    float rs = (float)(1.0 / sqrt(var + (double)eps)), mfs = (float)mean;
    __m256 r = _mm256_set1_ps(rs), mf = _mm256_set1_ps(mfs);
    for (i = 0; i + 8 <= dim; i += 8) {
        __m256 y = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mf), r);
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(y, _mm256_loadu_ps(w + i), _mm256_loadu_ps(b + i)));
    }
    for (; i < dim; i++) out[i] = fmaf((x[i] - mfs) * rs, w[i], b[i]);
}

/* ---------- rmsnorm: the sum of squares in float lanes, as HF and llama2.c keep it in float ---------- */
T_AVX512 void vm_rmsnorm_avx512(float *out, const float *x, const float *w, size_t dim, float eps) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        s0 = _mm512_fmadd_ps(v0, v0, s0);
        s1 = _mm512_fmadd_ps(v1, v1, s1);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        s0 = _mm512_fmadd_ps(v, v, s0);
    }
    __mmask16 m = tail16(dim - i);
    if (i < dim) {
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        s1 = _mm512_fmadd_ps(v, v, s1);
    }
    float ss = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    ss /= (float)dim;
    ss += eps;
    __m512 sc = _mm512_set1_ps(1.0f / sqrtf(ss));
    for (i = 0; i + 16 <= dim; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(sc, _mm512_loadu_ps(x + i))));
    if (i < dim)
        _mm512_mask_storeu_ps(out + i, m,
                              _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_mul_ps(sc, _mm512_maskz_loadu_ps(m, x + i))));
}

T_AVX2 void vm_rmsnorm_avx2(float *out, const float *x, const float *w, size_t dim, float eps) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        s0 = _mm256_fmadd_ps(v0, v0, s0);
        s1 = _mm256_fmadd_ps(v1, v1, s1);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(v, v, s0);
    }
    float ss = hsum8(_mm256_add_ps(s0, s1));
    for (size_t j = i; j < dim; j++) ss = fmaf(x[j], x[j], ss);
    ss /= (float)dim;
    ss += eps;
    float scs = 1.0f / sqrtf(ss);
    __m256 sc = _mm256_set1_ps(scs);
    for (i = 0; i + 8 <= dim; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(sc, _mm256_loadu_ps(x + i))));
    for (; i < dim; i++) out[i] = w[i] * (scs * x[i]);
}

/* ---------- scans of a row of logits (op_argmax, op_first_nonfinite) ---------- */
/* max_ps(v, m) gives m where v is NaN: NaN never becomes the maximum. */
T_AVX512 size_t vm_argmax_avx512(const float *x, size_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m = ninf;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) m = _mm512_max_ps(_mm512_loadu_ps(x + i), m);
    __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
    if (i < n) m = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, tail, x + i), m);
    float best = _mm512_reduce_max_ps(m);
    if (best == -INFINITY) return 0;
    const __m512 b = _mm512_set1_ps(best);
    for (i = 0; i + 16 <= n; i += 16) {
        __mmask16 e = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), b, _CMP_EQ_OQ);
        if (e) return i + (size_t)__builtin_ctz(e);
    }
    __mmask16 e = _mm512_mask_cmp_ps_mask(tail, _mm512_maskz_loadu_ps(tail, x + i), b, _CMP_EQ_OQ);
    return e ? i + (size_t)__builtin_ctz(e) : 0;
}

T_AVX2 size_t vm_argmax_avx2(const float *x, size_t n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
    _Alignas(32) float l[8];
    _mm256_store_ps(l, m);
    float best = -INFINITY;
    for (int k = 0; k < 8; k++) best = l[k] > best ? l[k] : best;
    for (size_t j = i; j < n; j++) best = x[j] > best ? x[j] : best;
    if (best == -INFINITY) return 0;
    const __m256 b = _mm256_set1_ps(best);
    for (i = 0; i + 8 <= n; i += 8) {
        int e = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), b, _CMP_EQ_OQ));
        if (e) return i + (size_t)__builtin_ctz((unsigned)e);
    }
    for (; i < n; i++)
        if (x[i] == best) return i;
    return 0;
}

/* A float is not finite when its exponent bits are all ones (inf, NaN). */
T_AVX512 size_t vm_first_nonfinite_avx512(const float *x, size_t n) {
    const __m512i ex = _mm512_set1_epi32(0x7F800000);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 k = _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_loadu_si512(x + i), ex), ex);
        if (k) return i + (size_t)__builtin_ctz(k);
    }
    if (i < n) {
        __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
        __mmask16 k = _mm512_mask_cmpeq_epi32_mask(tail, _mm512_and_si512(_mm512_maskz_loadu_epi32(tail, x + i), ex), ex);
        if (k) return i + (size_t)__builtin_ctz(k);
    }
    return n;
}

T_AVX2 size_t vm_first_nonfinite_avx2(const float *x, size_t n) {
    const __m256i ex = _mm256_set1_epi32(0x7F800000);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), ex);
        int k = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(v, ex)));
        if (k) return i + (size_t)__builtin_ctz((unsigned)k);
    }
    for (; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}
#endif
