/* llama.cpp's float arithmetic, step for step (lcmath.h). Written from the operations ggml's CPU
 * backend performs, not from its code: each function names the ggml operation it reproduces. */
#include <math.h>
#include <string.h>

#include "lcmath.h"
#include "quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "simd16.h"
#define LC_X86 1
#define T_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define LC_X86 0
#endif

/* ggml_v_expf, one lane: e^x = 2^n e^b with n = round(x / ln 2), b = x - n ln 2 in two parts, e^b
 * by a degree-5 polynomial in Estrin's form, and 2^n applied by scaling (vscalefps). Past |n| = 192
 * the lane is 0 or infinity. */
float lc_expf(float x) {
    const float shift = 0x1.8p23f;
    float z = fmaf(x, 0x1.715476p+0f, shift);
    float n = z - shift;
    float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    float u = b * b;
    float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                   fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (isnan(n)) return n;
    if (fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    return scalbnf(j, (int)n);
}

/* _mm512_reduce_add_ps as GCC 12 expands it: the upper eight lanes onto the lower, then four,
 * then lanes 0 + 2 and 1 + 3, then those two. */
float lc_sum16(const float a[16]) {
    float t8[8], t4[4];
    for (int i = 0; i < 8; i++) t8[i] = a[i + 8] + a[i];
    for (int i = 0; i < 4; i++) t4[i] = t8[i + 4] + t8[i];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

#if LC_X86

/* lc_expf on 16 lanes: the same operations, lane for lane. */
T_AVX512 static inline __m512 expf_avx512(__m512 x) {
    const __m512 shift = _mm512_set1_ps(0x1.8p23f);
    __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift);
    __m512 n = _mm512_sub_ps(z, shift);
    __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    __m512 u = _mm512_mul_ps(b, b);
    __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    __m512 r = _mm512_scalef_ps(j, n);
    __mmask16 far = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
    if (!far) return r;
    __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
    return _mm512_mask_blend_ps(far, r, _mm512_mask_blend_ps(neg, _mm512_set1_ps(INFINITY), _mm512_setzero_ps()));
}

T_AVX512 static void softmax_avx512(float *row, int lo, int hi) {
    float max = -INFINITY;
    for (int i = lo; i < hi; i++) max = row[i] > max ? row[i] : max;
    __m512 vmax = _mm512_set1_ps(max);
    double sum = 0.0;
    for (int c = lo / 16 * 16; c < hi; c += 16) {
        int a = lo > c ? lo - c : 0, e = hi - c < 16 ? hi - c : 16;
        __mmask16 m = (__mmask16)(((1u << e) - 1) & ~((1u << a) - 1));
        __m512 v = _mm512_maskz_mov_ps(m, expf_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + c), vmax)));
        _mm512_mask_storeu_ps(row + c, m, v);
        sum += (double)sum16_avx512(v);
    }
    float inv = (float)(1.0 / sum);
    memset(row, 0, (size_t)lo * sizeof *row);
    for (int i = lo; i < hi; i++) row[i] *= inv;
}

T_AVX512 static void silu_row_avx512(float *a, const float *b, size_t width) {
    size_t i = 0;
    for (; i + 16 <= width; i += 16) {
        __m512 x = _mm512_loadu_ps(a + i);
        __m512 e = expf_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
        __m512 y = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_storeu_ps(a + i, _mm512_mul_ps(y, _mm512_loadu_ps(b + i)));
    }
    for (; i < width; i++) a[i] = (a[i] / (1.0f + expf(-a[i]))) * b[i];
}
#endif

/* ggml_rms_norm then ggml_mul: the squares rounded to float and summed in double, in order; the
 * mean rounded to float; scale = 1 / sqrtf(mean + eps); x * scale, then times the weight. */
void lc_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
        double sum = 0.0;
        for (int i = 0; i < dim; i++) sum += (double)(xr[i] * xr[i]);
        float mean = (float)(sum / dim);
        float scale = 1.0f / sqrtf(mean + eps);
        for (int i = 0; i < dim; i++) o[i] = (xr[i] * scale) * w[i];
    }
}

/* ggml_silu (blocks of 16 through the vector exponential, the rest of a row through expf) then
 * ggml_mul. */
void lc_silu_mul(float *a, const float *b, size_t n, size_t width) {
#if LC_X86
    if (quant_path() == QUANT_PATH_AVX512) {
        for (size_t r0 = 0; r0 < n; r0 += width) silu_row_avx512(a + r0, b + r0, width);
        return;
    }
#endif
    for (size_t r0 = 0; r0 < n; r0 += width) {
        size_t full = r0 + width / 16 * 16;
        for (size_t i = r0; i < r0 + width; i++) {
            float x = a[i];
            float e = i < full ? lc_expf(0.0f - x) : expf(-x);
            a[i] = (x / (1.0f + e)) * b[i];
        }
    }
}

/* ggml_soft_max over a row of n_kv scores, masked outside [lo, hi): the maximum, e^(x - max)
 * through the vector exponential 16 at a time, each block summed as _mm512_reduce_add_ps and added
 * in double, then every value times (float)(1 / sum). Masked blocks add zeros, so the row's own
 * blocks (from position 0) decide the sum. */
void lc_softmax(float *row, int lo, int hi) {
#if LC_X86
    if (quant_path() == QUANT_PATH_AVX512) {
        softmax_avx512(row, lo, hi);
        return;
    }
#endif
    float max = -INFINITY;
    for (int i = lo; i < hi; i++) max = row[i] > max ? row[i] : max;
    double sum = 0.0;
    for (int c = lo / 16 * 16; c < hi; c += 16) {
        float v[16];
        for (int l = 0; l < 16; l++) {
            int i = c + l;
            v[l] = i >= lo && i < hi ? lc_expf(row[i] - max) : 0.0f;
            if (i >= lo && i < hi) row[i] = v[l];
        }
        sum += (double)lc_sum16(v);
    }
    float inv = (float)(1.0 / sum);
    memset(row, 0, (size_t)lo * sizeof *row);
    for (int i = lo; i < hi; i++) row[i] *= inv;
}

/* ggml_rope's cache: the angle of pair j at position p is p * theta_scale^j, theta_scale =
 * powf(theta, -2 / rot_dim), the powers taken by repeated float multiplication. */
void lc_rope_tables(float *cos_t, float *sin_t, int ctx, int half, int rot_dim, float theta) {
    float scale = powf(theta, -2.0f / (float)rot_dim);
    for (int p = 0; p < ctx; p++) {
        float a = (float)p;
        for (int j = 0; j < half; j++) {
            cos_t[(size_t)p * half + j] = cosf(a);
            sin_t[(size_t)p * half + j] = sinf(a);
            a *= scale;
        }
    }
}

void lc_rope(float *v, int n_heads, int head_dim, int rot_dim, const float *c, const float *s, bool interleaved) {
    int half = rot_dim / 2, step = interleaved ? 1 : half;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * head_dim;
        for (int j = 0; j < half; j++) {
            float *p0 = interleaved ? x + 2 * j : x + j, *p1 = p0 + step;
            float x0 = *p0, x1 = *p1;
            *p0 = fmaf(x0, c[j], -(x1 * s[j]));
            *p1 = fmaf(x0, s[j], x1 * c[j]);
        }
    }
}

/* ---------- a prompt's attention: llamafile's f16 GEMM (tinyBLAS, 16 lanes) ---------- */
/* lanes[l] accumulates the products of index l, l + 16, ... by fused multiply-adds from zero. */

#if LC_X86
/* 16 (row, column) accumulators: sum16x16_avx512 (simd16.h) reduces each as lc_sum16 does. */

T_AVX512 static void gemm16_avx512(int M, int N, int K, const float *A, size_t lda, const float *B, size_t ldb, float *C,
                                   size_t ldc) {
    int M4 = M / 4 * 4, N4 = N / 4 * 4;
    for (int i = 0; i < M4; i += 4)
        for (int j = 0; j < N4; j += 4) {
            __m512 acc[16];
            _Pragma("GCC unroll 16") for (int u = 0; u < 16; u++) acc[u] = _mm512_setzero_ps();
            for (int c = 0; c < K; c += 16) {
                __m512 av[4], bv[4];
                _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) av[r] = _mm512_loadu_ps(A + (size_t)(i + r) * lda + c);
                _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) bv[r] = _mm512_loadu_ps(B + (size_t)(j + r) * ldb + c);
                _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++)
                    _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) acc[4 * r + q] = _mm512_fmadd_ps(av[r], bv[q], acc[4 * r + q]);
            }
            __m512 res = sum16x16_avx512(acc);
            float out[16];
            _mm512_storeu_ps(out, res);
            for (int r = 0; r < 4; r++) memcpy(C + (size_t)(i + r) * ldc + j, out + 4 * r, 4 * sizeof(float));
        }
    for (int i = 0; i < M; i++) /* the edges, one pair at a time */
        for (int j = i < M4 ? N4 : 0; j < N; j++) {
            __m512 acc = _mm512_setzero_ps();
            for (int c = 0; c < K; c += 16)
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(A + (size_t)i * lda + c), _mm512_loadu_ps(B + (size_t)j * ldb + c), acc);
            C[(size_t)i * ldc + j] = sum16_avx512(acc);
        }
}

T_AVX512 static void mix_avx512(const float *p, const float *v, size_t vstride, int len, int hd, float *out) {
    for (int d = 0; d < hd; d += 16) {
        __m512 acc[16];
        _Pragma("GCC unroll 16") for (int l = 0; l < 16; l++) acc[l] = _mm512_setzero_ps();
        const float *vd = v + d;
        int s0 = 0;
        for (; s0 + 16 <= len; s0 += 16)
            _Pragma("GCC unroll 16") for (int l = 0; l < 16; l++) acc[l] =
                _mm512_fmadd_ps(_mm512_set1_ps(p[s0 + l]), _mm512_loadu_ps(vd + (size_t)(s0 + l) * vstride), acc[l]);
        _Pragma("GCC unroll 16") for (int l = 0; l < 16; l++) if (s0 + l < len) acc[l] =
            _mm512_fmadd_ps(_mm512_set1_ps(p[s0 + l]), _mm512_loadu_ps(vd + (size_t)(s0 + l) * vstride), acc[l]);
        _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) acc[i] = _mm512_add_ps(acc[i + 8], acc[i]);
        _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) acc[i] = _mm512_add_ps(acc[i + 4], acc[i]);
        __m512 r = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3]));
        _mm512_storeu_ps(out + d, r);
    }
}
#endif

void lc_gemm16(int M, int N, int K, const float *A, size_t lda, const float *B, size_t ldb, float *C, size_t ldc) {
#if LC_X86
    if (quant_path() == QUANT_PATH_AVX512) {
        gemm16_avx512(M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
#endif
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc[16] = {0};
            for (int c = 0; c < K; c += 16)
                for (int l = 0; l < 16; l++) acc[l] = fmaf(A[(size_t)i * lda + c + l], B[(size_t)j * ldb + c + l], acc[l]);
            C[(size_t)i * ldc + j] = lc_sum16(acc);
        }
}

void lc_mix(const float *p, const float *v, size_t vstride, int len, int hd, float *out) {
#if LC_X86
    if (quant_path() == QUANT_PATH_AVX512) {
        mix_avx512(p, v, vstride, len, hd, out);
        return;
    }
#endif
    for (int d = 0; d < hd; d++) {
        float acc[16] = {0};
        for (int s = 0; s < len; s++) acc[s & 15] = fmaf(p[s], v[(size_t)s * vstride + d], acc[s & 15]);
        out[d] = lc_sum16(acc);
    }
}
