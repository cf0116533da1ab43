/* GGUF's Q4_0, Q4_1, Q5_0, Q5_1 and k-quant (Q2_K .. Q6_K) blocks: quantization as llama-quantize
 * does it without an importance matrix, dequantization, and the portable dots.
 *
 * Quantizing is written so that the file is the same, byte for byte, as llama.cpp's: the same
 * search for scales (a least-squares fit over a few candidate grids per sub-block), the same
 * float operations in the same order (this file is compiled without contraction into fused
 * multiply-adds: C17 mode), and round-half-to-even where ggml rounds that way, truncation where
 * ggml truncates. The SIMD dots are in kquant_simd.c. */
#include "kquant.h"

#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>

#include "half.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

_Static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
                   sizeof(BlockQ5_1) == 24,
               "legacy blocks as GGUF stores them");
_Static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
                   sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210,
               "k-quant blocks as GGUF stores them");

/* Round to nearest, ties to even (ggml's rounding for k-quants), for |v| < 2^22: adding 1.5 x 2^23
 * leaves the rounded integer in the low mantissa bits (plain arithmetic: rintf is a libm call on
 * baseline x86-64, and this runs for every weight ~20 times while fitting scales). Values out of
 * that range (never from finite weights) are clamped first. */
static inline int rnd_int(float v) {
    v = fminf(fmaxf(v, -4194303.0f), 4194303.0f) + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

#define MAXI(a, b) ((a) > (b) ? (a) : (b))
#define MINI(a, b) ((a) < (b) ? (a) : (b))
#define NEAR_ZERO 1e-15f /* a group whose largest |x| is below this is all zero */

/* ================================ legacy blocks of 32 ================================ */

/* The value of largest magnitude, with its sign (the first such value on ties). */
static float signed_absmax(const float *x, int n) {
    float amax = 0, mx = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            mx = x[j];
        }
    return mx;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    *mn = FLT_MAX;
    *mx = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *mn) *mn = x[j];
        if (x[j] > *mx) *mx = x[j];
    }
}

/* q = trunc(v) in [0, top] (ggml truncates v = x / d + bias, never negative for finite weights);
 * compared before the conversion, so a NaN or infinite weight gives a level, not undefined behaviour */
static inline uint8_t trunc_q(float v, int top) {
    if (!(v > 0.0f)) return 0;
    if (v >= (float)top) return (uint8_t)top;
    return (uint8_t)(int)v;
}

void kq_from_f32_q4_0(const float *x, void *yv, size_t n) {
    BlockQ4_0 *y = yv;
    for (size_t b = 0; b < n / QK4; b++, x += QK4) {
        float d = signed_absmax(x, QK4) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < 16; j++)
            y[b].qs[j] = (uint8_t)(trunc_q(x[j] * id + 8.5f, 15) | trunc_q(x[j + 16] * id + 8.5f, 15) << 4);
    }
}

void kq_from_f32_q4_1(const float *x, void *yv, size_t n) {
    BlockQ4_1 *y = yv;
    for (size_t b = 0; b < n / QK4; b++, x += QK4) {
        float mn, mx;
        min_max(x, QK4, &mn, &mx);
        float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(mn);
        for (int j = 0; j < 16; j++)
            y[b].qs[j] = (uint8_t)(trunc_q((x[j] - mn) * id + 0.5f, 15) | trunc_q((x[j + 16] - mn) * id + 0.5f, 15) << 4);
    }
}

void kq_from_f32_q5_0(const float *x, void *yv, size_t n) {
    BlockQ5_0 *y = yv;
    for (size_t b = 0; b < n / QK4; b++, x += QK4) {
        float d = signed_absmax(x, QK4) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            uint8_t lo = trunc_q(x[j] * id + 16.5f, 31), hi = trunc_q(x[j + 16] * id + 16.5f, 31);
            y[b].qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        memcpy(y[b].qh, &qh, 4);
    }
}

void kq_from_f32_q5_1(const float *x, void *yv, size_t n) {
    BlockQ5_1 *y = yv;
    for (size_t b = 0; b < n / QK4; b++, x += QK4) {
        float mn, mx;
        min_max(x, QK4, &mn, &mx);
        float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            uint8_t lo = trunc_q((x[j] - mn) * id + 0.5f, 31), hi = trunc_q((x[j + 16] - mn) * id + 0.5f, 31);
            y[b].qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        memcpy(y[b].qh, &qh, 4);
    }
}

void kq_to_f32_q4_0(const void *bv, float *y, size_t n) {
    const BlockQ4_0 *b = bv;
    for (size_t i = 0; i < n / QK4; i++, y += QK4) {
        float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[i].qs[j] & 15) - 8) * d;
            y[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* One block's 16 bytes of nibbles (and Q5_0's fifth bits, h: bit j for value j) as its 32 int8
 * values q - bias into out: value j is byte j's low nibble, value j + 16 its high one. */
static void legacy_int8(const uint8_t qs[16], uint32_t h, int bias, int8_t out[32]) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0F), b = _mm_set1_epi8((char)bias);
    __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
    if (h) { /* the fifth bits, one byte per value: 16 where set */
        const __m128i sel = _mm_set1_epi64x((long long)0x8040201008040201ull), sixteen = _mm_set1_epi8(16);
        /* byte k: the byte of h that holds value k's bit (values 0-15 in hl, 16-31 in hh) */
        __m128i hl = _mm_unpacklo_epi64(_mm_set1_epi8((char)(h & 0xFF)), _mm_set1_epi8((char)(h >> 8 & 0xFF)));
        __m128i hh = _mm_unpacklo_epi64(_mm_set1_epi8((char)(h >> 16 & 0xFF)), _mm_set1_epi8((char)(h >> 24)));
        lo = _mm_or_si128(lo, _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(hl, sel), sel), sixteen));
        hi = _mm_or_si128(hi, _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(hh, sel), sel), sixteen));
    }
    _mm_storeu_si128((__m128i *)out, _mm_sub_epi8(lo, b));
    _mm_storeu_si128((__m128i *)(out + 16), _mm_sub_epi8(hi, b));
#else
    for (int j = 0; j < 16; j++) {
        out[j] = (int8_t)(((qs[j] & 15) | (int)((h >> j) & 1) << 4) - bias);
        out[j + 16] = (int8_t)(((qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4) - bias);
    }
#endif
}

void kq_q8_0_of_q4_0(const void *src, void *dst, size_t n) {
    const BlockQ4_0 *b = src;
    BlockQ8_0 *o = dst;
    for (size_t i = 0; i < n / QK4; i++) {
        o[i].d = b[i].d;
        legacy_int8(b[i].qs, 0, 8, o[i].qs);
    }
}

void kq_q8_0_of_q5_0(const void *src, void *dst, size_t n) {
    const BlockQ5_0 *b = src;
    BlockQ8_0 *o = dst;
    for (size_t i = 0; i < n / QK4; i++) {
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        o[i].d = b[i].d;
        legacy_int8(b[i].qs, qh, 16, o[i].qs);
    }
}

void kq_to_f32_q4_1(const void *bv, float *y, size_t n) {
    const BlockQ4_1 *b = bv;
    for (size_t i = 0; i < n / QK4; i++, y += QK4) {
        float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b[i].qs[j] & 15) * d + m;
            y[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

void kq_to_f32_q5_0(const void *bv, float *y, size_t n) {
    const BlockQ5_0 *b = bv;
    for (size_t i = 0; i < n / QK4; i++, y += QK4) {
        float d = fp16_to_fp32(b[i].d);
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int lo = (b[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4, hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(lo - 16) * d;
            y[j + 16] = (float)(hi - 16) * d;
        }
    }
}

void kq_to_f32_q5_1(const void *bv, float *y, size_t n) {
    const BlockQ5_1 *b = bv;
    for (size_t i = 0; i < n / QK4; i++, y += QK4) {
        float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int lo = (b[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4, hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)lo * d + m;
            y[j + 16] = (float)hi * d + m;
        }
    }
}

/* ================================ k-quants: scale searches ================================ */

/* Symmetric levels L in [0, 2 nmax) (value l - nmax) for n values and the scale that fits them
 * best in the x^2-weighted least-squares sense, trying 18 grids around nmax / max. */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float mx = signed_absmax(x, n);
    if (fabsf(mx) < NEAR_ZERO) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / mx, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = MAXI(-nmax, MINI(nmax - 1, rnd_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (!is) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / mx;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = MAXI(-nmax, MINI(nmax - 1, rnd_int(iscale * x[i])));
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + MAXI(-nmax, MINI(nmax - 1, rnd_int(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's sub-block fit: levels in [-nmax, nmax) refined one value at a time (up to five sweeps)
 * while the x^2-weighted fit improves; L returned biased by nmax. */
static float fit_q3(int n, int nmax, const float *x, int8_t *L) {
    float mx = signed_absmax(x, n);
    if (fabsf(mx) < NEAR_ZERO) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / mx, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = MAXI(-nmax, MINI(nmax - 1, rnd_int(iscale * x[i])));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * (float)L[i] * (float)L[i];
            int nl = MAXI(-nmax, MINI(nmax - 1, rnd_int(x[i] * sl2 / slx)));
            if (nl == L[i]) continue;
            slx += w * x[i] * (float)nl;
            sl2 += w * (float)nl * (float)nl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)nl;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* Asymmetric levels L in [0, nmax] with value scale * L - min (min >= 0 returned in *neg_min):
 * starting from the range's grid, nstep + 1 grids (nmax + rmin + rdelta * is) are each fitted by
 * weighted least squares for scale and offset, and the one with the smallest weighted error
 * (absolute with mad, squared without) is kept. */
static float fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, uint8_t *Laux,
                        float rmin, float rdelta, int nstep, bool mad) {
    float mn = x[0], mx = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *neg_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)MAXI(0, MINI(nmax, rnd_int(iscale * (x[i] - mn))));
        float diff = scale * (float)L[i] + mn - x[i];
        best += w[i] * (mad ? fabsf(diff) : diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = MAXI(0, MINI(nmax, rnd_int(iscale * (x[i] - mn))));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float s = (sum_w * sum_xl - sum_x * sum_l) / D, m = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (m > 0) {
            m = 0;
            s = sum_xl / sum_l2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = s * (float)Laux[i] + m - x[i];
            err += w[i] * (mad ? fabsf(diff) : diff * diff);
        }
        if (err < best) {
            memcpy(L, Laux, (size_t)n);
            best = err;
            scale = s;
            mn = m;
        }
    }
    *neg_min = -mn;
    return scale;
}

/* Four 2-bit values 32 apart in each byte, for each half of 128 (Q2_K's and Q3_K's qs). */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < QK_K; h += 128)
        for (int l = 0; l < 32; l++)
            qs[h / 4 + l] = (uint8_t)(L[h + l] | L[h + l + 32] << 2 | L[h + l + 64] << 4 | L[h + l + 96] << 6);
}

/* ================================ Q2_K ================================ */
void kq_from_f32_q2_K(const float *x, void *yv, size_t n) {
    BlockQ2_K *y = yv;
    uint8_t L[QK_K], Laux[16];
    float w[16], mins[16], scales[16];
    for (size_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_affine(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float is = 15.0f / max_scale;
            for (int j = 0; j < 16; j++) y[b].scales[j] = (uint8_t)rnd_int(is * scales[j]);
            y[b].d = fp32_to_fp16(max_scale / 15.0f);
        } else {
            memset(y[b].scales, 0, 16);
            y[b].d = fp32_to_fp16(0.0f);
        }
        if (max_min > 0) {
            float is = 15.0f / max_min;
            for (int j = 0; j < 16; j++) y[b].scales[j] = (uint8_t)(y[b].scales[j] | rnd_int(is * mins[j]) << 4);
            y[b].dmin = fp32_to_fp16(max_min / 15.0f);
        } else {
            y[b].dmin = fp32_to_fp16(0.0f);
        }
        /* requantize against the scales as stored */
        for (int j = 0; j < 16; j++) {
            float d = fp16_to_fp32(y[b].d) * (float)(y[b].scales[j] & 15);
            if (d == 0.0f) continue;
            float dm = fp16_to_fp32(y[b].dmin) * (float)(y[b].scales[j] >> 4);
            for (int i = 0; i < 16; i++) L[16 * j + i] = (uint8_t)MAXI(0, MINI(3, rnd_int((x[16 * j + i] + dm) / d)));
        }
        pack_2bit(L, y[b].qs);
    }
}

void kq_to_f32_q2_K(const void *bv, float *y, size_t n) {
    const BlockQ2_K *b = bv;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
        for (int k = 0; k < QK_K; k++) {
            int h = k / 128, sh = (k % 128) / 32 * 2, l = k % 32, sub = k / 16;
            uint8_t sc = b[i].scales[sub];
            int q = (b[i].qs[h * 32 + l] >> sh) & 3;
            y[k] = d * (float)(sc & 15) * (float)q - dmin * (float)(sc >> 4);
        }
        y += QK_K;
    }
}

/* ================================ Q3_K ================================ */
void kq_q3_scales(const uint8_t p[12], int8_t out[16]) {
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? p[j] & 15 : p[j - 8] >> 4, hi = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | hi << 4) - 32);
    }
}

void kq_from_f32_q3_K(const float *x, void *yv, size_t n) {
    BlockQ3_K *y = yv;
    int8_t L[QK_K];
    float scales[16];
    for (size_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(y[b].scales, 0, 12);
        if (max_scale != 0.0f) {
            float is = -32.0f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = MAXI(-32, MINI(31, (int8_t)rnd_int(is * scales[j]))) + 32;
                if (j < 8) y[b].scales[j] = (uint8_t)(l & 15);
                else y[b].scales[j - 8] = (uint8_t)(y[b].scales[j - 8] | (l & 15) << 4);
                y[b].scales[8 + j % 4] = (uint8_t)(y[b].scales[8 + j % 4] | (l >> 4) << (2 * (j / 4)));
            }
            y[b].d = fp32_to_fp16(1 / is);
        } else {
            y[b].d = fp32_to_fp16(0.0f);
        }
        int8_t sc[16];
        kq_q3_scales(y[b].scales, sc);
        for (int j = 0; j < 16; j++) {
            float d = fp16_to_fp32(y[b].d) * (float)sc[j];
            if (d == 0.0f) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(MAXI(-4, MINI(3, rnd_int(x[16 * j + i] / d))) + 4);
        }
        /* the third bit of quant j goes to hmask[j % 32], bit j / 32 */
        memset(y[b].hmask, 0, 32);
        uint8_t low[QK_K];
        for (int j = 0; j < QK_K; j++) {
            int l = L[j];
            if (l > 3) {
                y[b].hmask[j % 32] = (uint8_t)(y[b].hmask[j % 32] | 1 << (j / 32));
                l -= 4;
            }
            low[j] = (uint8_t)l;
        }
        pack_2bit(low, y[b].qs);
    }
}

void kq_to_f32_q3_K(const void *bv, float *y, size_t n) {
    const BlockQ3_K *b = bv;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d);
        int8_t sc[16];
        kq_q3_scales(b[i].scales, sc);
        for (int k = 0; k < QK_K; k++) {
            int h = k / 128, sh = (k % 128) / 32 * 2, l = k % 32;
            int q = ((b[i].qs[h * 32 + l] >> sh) & 3) - ((b[i].hmask[l] >> (k / 32)) & 1 ? 0 : 4);
            y[k] = d * (float)sc[k / 16] * (float)q;
        }
        y += QK_K;
    }
}

/* ================================ Q4_K and Q5_K ================================ */
/* Eight sub-blocks of 32: scale and minimum each fitted (weights av|x| + |x|), then both sets
 * quantized to six bits against the super-block's largest. */
static void fit_k_scales(const float *x, int nmax, float rmin, int nstep, uint8_t *L, uint8_t packed[12], uint16_t *d,
                         uint16_t *dmin) {
    float w[32], mins[8], scales[8], max_scale = 0, max_min = 0;
    uint8_t Laux[32];
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av + fabsf(x[32 * j + l]);
        scales[j] = fit_affine(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float is = max_scale > 0 ? 63.0f / max_scale : 0.0f, im = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)rnd_int(is * scales[j]), lm = (uint8_t)rnd_int(im * mins[j]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        if (j < 4) {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
            packed[j - 4] = (uint8_t)(packed[j - 4] | (ls >> 4) << 6);
            packed[j] = (uint8_t)(packed[j] | (lm >> 4) << 6);
        }
    }
    *d = fp32_to_fp16(max_scale / 63.0f);
    *dmin = fp32_to_fp16(max_min / 63.0f);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, mn;
        kq_scale_min(j, packed, &sc, &mn);
        float dd = fp16_to_fp32(*d) * (float)sc;
        if (dd == 0.0f) continue;
        float dm = fp16_to_fp32(*dmin) * (float)mn;
        for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)MAXI(0, MINI(nmax, rnd_int((x[32 * j + i] + dm) / dd)));
    }
}

void kq_from_f32_q4_K(const float *x, void *yv, size_t n) {
    BlockQ4_K *y = yv;
    uint8_t L[QK_K];
    for (size_t b = 0; b < n / QK_K; b++, x += QK_K) {
        fit_k_scales(x, 15, -1.0f, 20, L, y[b].scales, &y[b].d, &y[b].dmin);
        for (int h = 0; h < 4; h++)
            for (int l = 0; l < 32; l++) y[b].qs[32 * h + l] = (uint8_t)(L[64 * h + l] | L[64 * h + l + 32] << 4);
    }
}

void kq_to_f32_q4_K(const void *bv, float *y, size_t n) {
    const BlockQ4_K *b = bv;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, mn;
            kq_scale_min(j, b[i].scales, &sc, &mn);
            float dl = d * (float)sc, ml = dmin * (float)mn;
            const uint8_t *q = b[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) y[32 * j + l] = dl * (float)(j % 2 ? q[l] >> 4 : q[l] & 15) - ml;
        }
        y += QK_K;
    }
}

void kq_from_f32_q5_K(const float *x, void *yv, size_t n) {
    BlockQ5_K *y = yv;
    uint8_t L[QK_K];
    for (size_t b = 0; b < n / QK_K; b++, x += QK_K) {
        fit_k_scales(x, 31, -0.5f, 15, L, y[b].scales, &y[b].d, &y[b].dmin);
        memset(y[b].qh, 0, 32);
        for (int h = 0; h < 4; h++)
            for (int l = 0; l < 32; l++) {
                int a = L[64 * h + l], c = L[64 * h + l + 32];
                y[b].qh[l] = (uint8_t)(y[b].qh[l] | (a >> 4) << (2 * h) | (c >> 4) << (2 * h + 1));
                y[b].qs[32 * h + l] = (uint8_t)((a & 15) | (c & 15) << 4);
            }
    }
}

void kq_to_f32_q5_K(const void *bv, float *y, size_t n) {
    const BlockQ5_K *b = bv;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, mn;
            kq_scale_min(j, b[i].scales, &sc, &mn);
            float dl = d * (float)sc, ml = dmin * (float)mn;
            const uint8_t *q = b[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) {
                int v = (j % 2 ? q[l] >> 4 : q[l] & 15) | ((b[i].qh[l] >> j) & 1) << 4;
                y[32 * j + l] = dl * (float)v - ml;
            }
        }
        y += QK_K;
    }
}

/* ================================ Q6_K ================================ */
void kq_from_f32_q6_K(const float *x, void *yv, size_t n) {
    BlockQ6_K *y = yv;
    int8_t L[QK_K];
    float scales[16];
    for (size_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_symmetric(16, 32, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        if (amax < NEAR_ZERO) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        float is = -128.0f / max_scale;
        y[b].d = fp32_to_fp16(1 / is);
        for (int j = 0; j < 16; j++) y[b].scales[j] = (int8_t)MINI(127, rnd_int(is * scales[j]));
        for (int j = 0; j < 16; j++) {
            float d = fp16_to_fp32(y[b].d) * (float)y[b].scales[j];
            if (d == 0.0f) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(MAXI(-32, MINI(31, rnd_int(x[16 * j + i] / d))) + 32);
        }
        /* per half of 128: low nibbles of values l and l + 64 share ql[l], l + 32 and l + 96
         * share ql[l + 32]; the four high 2-bit pairs share qh[l] */
        for (int h = 0; h < 2; h++) {
            const uint8_t *Lh = (const uint8_t *)L + 128 * h;
            uint8_t *ql = y[b].ql + 64 * h, *qh = y[b].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 15) | (Lh[l + 64] & 15) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 15) | (Lh[l + 96] & 15) << 4);
                qh[l] = (uint8_t)(Lh[l] >> 4 | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 | (Lh[l + 96] >> 4) << 6);
            }
        }
    }
}

void kq_to_f32_q6_K(const void *bv, float *y, size_t n) {
    const BlockQ6_K *b = bv;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d);
        for (int k = 0; k < QK_K; k++) {
            int h = k / 128, r = k % 128, quarter = r / 32, l = r % 32;
            uint8_t lq = b[i].ql[64 * h + l + (quarter & 1) * 32];
            int lo = quarter < 2 ? lq & 15 : lq >> 4, hi = (b[i].qh[32 * h + l] >> (2 * quarter)) & 3;
            y[k] = d * (float)b[i].scales[k / 16] * (float)((lo | hi << 4) - 32);
        }
        y += QK_K;
    }
}

/* ================================ portable dots ================================ */
/* Dequantize a super-block (or eight legacy blocks) at a time, then multiply: four running sums,
 * as the float dots in quant.c. */
#define KQ_DOT_C(t, BLOCK, PER)                                                                   \
    float kq_dot_##t##_c(const void *w, const float *x, size_t n) {                               \
        const BLOCK *b = w;                                                                       \
        float tmp[256], s[4] = {0};                                                               \
        for (size_t i = 0; i < n; i += 256, b += 256 / (PER)) {                                   \
            size_t k = n - i < 256 ? n - i : 256;                                                 \
            kq_to_f32_##t(b, tmp, k);                                                             \
            for (size_t j = 0; j < k; j += 4)                                                     \
                for (int u = 0; u < 4; u++) s[u] += tmp[j + (size_t)u] * x[i + j + (size_t)u];    \
        }                                                                                         \
        return (s[0] + s[1]) + (s[2] + s[3]);                                                     \
    }
KQ_DOT_C(q4_0, BlockQ4_0, QK4)
KQ_DOT_C(q4_1, BlockQ4_1, QK4)
KQ_DOT_C(q5_0, BlockQ5_0, QK4)
KQ_DOT_C(q5_1, BlockQ5_1, QK4)
KQ_DOT_C(q2_K, BlockQ2_K, QK_K)
KQ_DOT_C(q3_K, BlockQ3_K, QK_K)
KQ_DOT_C(q4_K, BlockQ4_K, QK_K)
KQ_DOT_C(q5_K, BlockQ5_K, QK_K)
KQ_DOT_C(q6_K, BlockQ6_K, QK_K)
#undef KQ_DOT_C
