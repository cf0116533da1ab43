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

void actq_quantize(ActType a, const float *x, void *dst, size_t n) {
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

void actq_round_f32(ActType a, const float *x, float *out, size_t n) {
    int8_t q[256];
    int16_t bs[16];
    switch (a) {
    case ACT_Q8_0:
    case ACT_Q8_1:
        for (size_t b = 0; b < n / 32; b++, x += 32, out += 32) {
            float d;
            block32(x, q, &d);
            float dr = fp16_to_fp32(fp32_to_fp16(d));
            for (int j = 0; j < 32; j++) out[j] = dr * (float)q[j];
        }
        break;
    case ACT_Q8_K:
        for (size_t b = 0; b < n / 256; b++, x += 256, out += 256) {
            float d = block256(x, q, bs);
            for (int j = 0; j < 256; j++) out[j] = d * (float)q[j];
        }
        break;
    default:
        if (out != x) memmove(out, x, n * sizeof *out);
        break;
    }
}
