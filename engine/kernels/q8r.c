/* Q8_0 weights repacked for integer dot products (QT_Q8R), and the decode kernel that reads them.
 *
 * GGUF's Q8_0 interleaves a 2-byte scale with every 32 int8 weights, so a kernel that reads it
 * against float activations spends about ten vector instructions per block turning int8 into float
 * and broadcasting the scale: on one Zen 5 core that capped Q8_0 decode at 23-26 GB/s, below what
 * the memory delivers (F16 streams at 30+). Here a row keeps the same bytes in another order:
 *
 *     [ nb x 32 weights as unsigned bytes q + 128 ][ nb fp16 scales ][ zeros to a multiple of 64 ]
 *
 * (the zeros only for rows of 512 bytes and more; see q8r_row_bytes)
 *
 * and the activations are quantized once per product to int8 blocks of 32 (as ggml does for its
 * q8_0 x q8_0 dot: d = max|x| / 127 rounded to fp16, q = round(x 127 / max|x|), ties to even;
 * actq.h). Then one AVX-512 VNNI instruction (vpdpbusd: unsigned x signed bytes, summed in fours
 * into 32-bit lanes) multiplies two blocks at once. The +128 offset makes the weights unsigned; its contribution, 128 times the sum
 * of each lane's four activations, depends on x only and is subtracted up front by starting each
 * lane's sum at -128 x that sum. The integer sums are exact, so the only errors are the two
 * quantizations, and every path (VNNI, portable) computes the same block sums.
 *
 * The format exists only in memory: it is made at load on CPUs with AVX-512 VNNI, from a Q8_0 file
 * or a --quant q8_0 conversion, and is written back to files as plain Q8_0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "q8r.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define Q8R_X86 1
#else
#define Q8R_X86 0
#endif

/* Rows of 512 bytes and more are padded to whole cache lines, so that no 64-byte load of a row
 * straddles two (2 % more bytes at GPT-2's width of 768, none at 1024 and 3072; the GPT-2 shape's
 * matrix-vector products streamed 26-34 GB/s unpadded, 33-38 padded). Shorter rows, of toy models,
 * are not: there the padding would be a large share of the row. */
size_t q8r_row_bytes(size_t n) {
    size_t raw = n + n / 16;
    return raw < 512 ? raw : (raw + 63) / 64 * 64;
}

bool q8r_supported(void) {
#if Q8R_X86
    static int known = -1; /* asked per product by quant_matvec: the same answer on every thread */
    int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
        __atomic_store_n(&known, v, __ATOMIC_RELAXED);
    }
    return v;
#else
    return false;
#endif
}

/* Blocks into a row's two parts: bytes q + 128 at qs, scales at d. */
static void put_blocks(const BlockQ8_0 *b, size_t nb, uint8_t *qs, uint16_t *d) {
    for (size_t i = 0; i < nb; i++) {
        for (int j = 0; j < QK8_0; j++) qs[i * QK8_0 + (size_t)j] = (uint8_t)(b[i].qs[j] + 128);
        memcpy(&d[i], &b[i].d, sizeof d[i]);
    }
}

static void pad(uint8_t *row, size_t n) { memset(row + n + n / 16, 0, q8r_row_bytes(n) - n - n / 16); }

void q8r_from_q8_0(const void *src, void *dst, size_t n) {
    put_blocks(src, n / QK8_0, dst, (uint16_t *)((uint8_t *)dst + n));
    pad(dst, n);
}

void q8r_from_f32(const float *x, void *dst, size_t n) {
    BlockQ8_0 tmp[64]; /* quantized as Q8_0 (ggml's rule), 64 blocks at a time */
    uint8_t *qs = dst;
    for (size_t i = 0; i < n; i += 64 * QK8_0) {
        size_t k = n - i < 64 * QK8_0 ? n - i : 64 * QK8_0;
        q8_0_from_f32(x + i, tmp, k);
        put_blocks(tmp, k / QK8_0, qs + i, (uint16_t *)(qs + n) + i / QK8_0);
    }
    pad(dst, n);
}

void q8r_to_q8_0(const void *src, void *dst, size_t n) {
    const uint8_t *qs = src;
    const uint16_t *d = (const uint16_t *)(qs + n);
    BlockQ8_0 *b = dst;
    for (size_t i = 0; i < n / QK8_0; i++) {
        for (int j = 0; j < QK8_0; j++) b[i].qs[j] = (int8_t)(qs[i * QK8_0 + (size_t)j] - 128);
        memcpy(&b[i].d, &d[i], sizeof b[i].d);
    }
}

void q8r_to_f32(const void *src, float *dst, size_t n) {
    const uint8_t *qs = src;
    const uint16_t *d = (const uint16_t *)(qs + n);
    for (size_t i = 0; i < n / QK8_0; i++) {
        float s = fp16_to_fp32(d[i]);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + (size_t)j] = s * (float)((int)qs[i * QK8_0 + (size_t)j] - 128);
    }
}

/* Against float activations (no quantization of x): for the rare callers without a whole product
 * to amortize x's quantization over (quant_dot), and when memory for it runs out. */
float q8r_dot_f32(const void *row, const float *x, size_t n) {
    const uint8_t *qs = row;
    const uint16_t *d = (const uint16_t *)(qs + n);
    float s = 0;
    for (size_t i = 0; i < n / QK8_0; i++) {
        float bs = 0;
        for (int j = 0; j < QK8_0; j++) bs += (float)((int)qs[i * QK8_0 + (size_t)j] - 128) * x[i * QK8_0 + (size_t)j];
        s += fp16_to_fp32(d[i]) * bs;
    }
    return s;
}

/* ---------- activations ---------- */
/* x quantized for one product: per pair of blocks p (blocks 2p, 2p+1; a missing odd block is zero)
 * 64 int8, 16 lane offsets (-128 x the sum of the lane's four int8) and 16 scales (8 lanes each). */
typedef struct {
    int8_t *xq;      /* [np * 64] */
    int32_t *corr;   /* [np * 16] */
    float *dx;       /* [np * 16] */
    size_t n, nb, np;
} Q8RX;

static void q8r_prep(const float *x, size_t n, Q8RX *X) {
    size_t nb = n / QK8_0, np = (nb + 1) / 2;
    for (size_t b = 0; b < np * 2; b++) {
        int8_t *q = X->xq + b * QK8_0;
        int32_t *c = X->corr + b * 8;
        float *dxe = X->dx + b * 8;
        if (b >= nb) { /* the zero half of a last, odd pair */
            memset(q, 0, QK8_0);
            memset(c, 0, 8 * sizeof *c);
            memset(dxe, 0, 8 * sizeof *dxe);
            continue;
        }
        const float *xb = x + b * QK8_0;
        float amax = 0;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(xb[j]));
        /* ggml's x86 rule (actq.c): the multiplier is 127 / max|x|, not 1 / d */
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f, dr = fp16_to_fp32(fp32_to_fp16(d));
        for (int j = 0; j < QK8_0; j++) q[j] = (int8_t)rintf(xb[j] * id); /* ties to even, as the SIMD path */
        for (int l = 0; l < 8; l++) {
            c[l] = -128 * ((int32_t)q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3]);
            dxe[l] = dr;
        }
    }
    X->n = n;
    X->nb = nb;
    X->np = np;
}

/* ---------- dots ---------- */
static float dot_q8r_c(const uint8_t *row, const Q8RX *X) {
    const uint16_t *d = (const uint16_t *)(row + X->n);
    float s = 0;
    for (size_t b = 0; b < X->nb; b++) {
        int32_t sum = 0;
        for (int l = 0; l < 8; l++) {
            int32_t ls = X->corr[b * 8 + (size_t)l];
            for (int k = 0; k < 4; k++) ls += (int32_t)row[b * QK8_0 + (size_t)(4 * l + k)] * X->xq[b * QK8_0 + (size_t)(4 * l + k)];
            sum += ls;
        }
        s += (float)sum * X->dx[b * 8] * fp16_to_fp32(d[b]);
    }
    return s;
}

#if Q8R_X86
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Pair p of the row: 64 weights (two blocks), their lane sums made exact, times x's scales, times
 * the weight scales sc (16 blocks' worth) picked for the pair's two blocks. */
#define Q8R_PAIR(acc, wq, p, j, sc)                                                                   \
    do {                                                                                             \
        __m512i a_ = _mm512_load_si512((const void *)(X->corr + (p) * 16));                          \
        a_ = _mm512_dpbusd_epi32(a_, (wq), _mm512_load_si512((const void *)(X->xq + (p) * 64)));     \
        __m512 f_ = _mm512_mul_ps(_mm512_cvtepi32_ps(a_), _mm512_load_ps(X->dx + (p) * 16));          \
        __m512i ix_ = _mm512_add_epi32(half, _mm512_set1_epi32(2 * (j)));                            \
        acc = _mm512_fmadd_ps(f_, _mm512_permutexvar_ps(ix_, (sc)), acc);                            \
    } while (0)

T_VNNI static float dot_q8r_vnni(const uint8_t *row, const Q8RX *X) {
    const uint16_t *d = (const uint16_t *)(row + X->n);
    const __m512i half = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    size_t nb = X->nb, np = X->np;
    for (size_t p = 0; p < np; p += 8) { /* 8 pairs share one load of 16 scales */
        size_t left = nb - 2 * p;
        __m512 sc = left >= 16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d + 2 * p)))
                               : _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << left) - 1), d + 2 * p));
        size_t pairs = np - p < 8 ? np - p : 8, full = left / 2 < pairs ? left / 2 : pairs;
        size_t j = 0;
        for (; j + 2 <= full; j += 2) {
            Q8R_PAIR(acc0, _mm512_loadu_si512((const void *)(row + (p + j) * 64)), p + j, j, sc);
            Q8R_PAIR(acc1, _mm512_loadu_si512((const void *)(row + (p + j + 1) * 64)), p + j + 1, j + 1, sc);
        }
        for (; j < full; j++) Q8R_PAIR(acc0, _mm512_loadu_si512((const void *)(row + (p + j) * 64)), p + j, j, sc);
        if (j < pairs) /* half a pair: the odd last block */
            Q8R_PAIR(acc1, _mm512_maskz_loadu_epi8((__mmask64)0xffffffffu, row + (p + j) * 64), p + j, j, sc);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}
#undef Q8R_PAIR

/* dot_q8r_vnni of one row against nv vectors at once (q8r_matvecs): each pair of weight blocks is
 * loaded, and its scales picked, once for all of them; every vector's accumulators take exactly
 * the steps dot_q8r_vnni takes (same operands, same order), so each result has its bits. */
#define Q8R_PAIR_V(acc, wq, p, ws, Xv)                                                                \
    do {                                                                                             \
        __m512i a_ = _mm512_load_si512((const void *)((Xv)->corr + (p) * 16));                       \
        a_ = _mm512_dpbusd_epi32(a_, (wq), _mm512_load_si512((const void *)((Xv)->xq + (p) * 64)));  \
        __m512 f_ = _mm512_mul_ps(_mm512_cvtepi32_ps(a_), _mm512_load_ps((Xv)->dx + (p) * 16));       \
        acc = _mm512_fmadd_ps(f_, (ws), acc);                                                        \
    } while (0)

T_VNNI static inline __attribute__((always_inline)) void dot_q8r_vnni_nv(const int nv, const uint8_t *row,
                                                                          const Q8RX *X, float *out) {
    const uint16_t *d = (const uint16_t *)(row + X[0].n);
    const __m512i half = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc0[4], acc1[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) acc0[v] = acc1[v] = _mm512_setzero_ps();
    size_t nb = X[0].nb, np = X[0].np;
    for (size_t p = 0; p < np; p += 8) {
        size_t left = nb - 2 * p;
        __m512 sc = left >= 16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d + 2 * p)))
                               : _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << left) - 1), d + 2 * p));
        size_t pairs = np - p < 8 ? np - p : 8, full = left / 2 < pairs ? left / 2 : pairs;
        size_t j = 0;
        for (; j + 2 <= full; j += 2) {
            __m512i w0 = _mm512_loadu_si512((const void *)(row + (p + j) * 64));
            __m512i w1 = _mm512_loadu_si512((const void *)(row + (p + j + 1) * 64));
            __m512 s0 = _mm512_permutexvar_ps(_mm512_add_epi32(half, _mm512_set1_epi32(2 * (int)j)), sc);
            __m512 s1 = _mm512_permutexvar_ps(_mm512_add_epi32(half, _mm512_set1_epi32(2 * (int)j + 2)), sc);
        #pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
                Q8R_PAIR_V(acc0[v], w0, p + j, s0, &X[v]);
                Q8R_PAIR_V(acc1[v], w1, p + j + 1, s1, &X[v]);
            }
        }
        for (; j < full; j++) {
            __m512i w0 = _mm512_loadu_si512((const void *)(row + (p + j) * 64));
            __m512 s0 = _mm512_permutexvar_ps(_mm512_add_epi32(half, _mm512_set1_epi32(2 * (int)j)), sc);
        #pragma GCC unroll 4
    for (int v = 0; v < nv; v++) Q8R_PAIR_V(acc0[v], w0, p + j, s0, &X[v]);
        }
        if (j < pairs) { /* half a pair: the odd last block */
            __m512i w1 = _mm512_maskz_loadu_epi8((__mmask64)0xffffffffu, row + (p + j) * 64);
            __m512 s1 = _mm512_permutexvar_ps(_mm512_add_epi32(half, _mm512_set1_epi32(2 * (int)j)), sc);
        #pragma GCC unroll 4
    for (int v = 0; v < nv; v++) Q8R_PAIR_V(acc1[v], w1, p + j, s1, &X[v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) out[v] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[v], acc1[v]));
}
#undef Q8R_PAIR_V

T_VNNI static void dot_q8r_vnni_multi(int nv, const uint8_t *row, const Q8RX *X, float *out) {
    switch (nv) {
    case 4: dot_q8r_vnni_nv(4, row, X, out); break;
    case 3: dot_q8r_vnni_nv(3, row, X, out); break;
    case 2: dot_q8r_vnni_nv(2, row, X, out); break;
    default: dot_q8r_vnni_nv(1, row, X, out); break;
    }
}

/* q8r_prep with AVX-512: the same numbers (cvtps2dq rounds to nearest even, as rintf) */
T_VNNI static void q8r_prep_avx512(const float *x, size_t n, Q8RX *X) {
    size_t nb = n / QK8_0, np = (nb + 1) / 2;
    const __m512i ones = _mm512_set1_epi8(1);
    for (size_t p = 0; p < np; p++) {
        float dr[2] = {0, 0};
        for (int h = 0; h < 2; h++) {
            size_t b = 2 * p + (size_t)h;
            int8_t *q = X->xq + b * QK8_0;
            if (b >= nb) {
                memset(q, 0, QK8_0);
                continue;
            }
            __m512 v0 = _mm512_loadu_ps(x + b * QK8_0), v1 = _mm512_loadu_ps(x + b * QK8_0 + 16);
            float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
            float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
            dr[h] = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
            __m512 vid = _mm512_set1_ps(id);
            _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid))));
            _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid))));
        }
        /* each lane's four int8 summed by one dot with ones, times -128 */
        __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_load_si512((const void *)(X->xq + p * 64)));
        _mm512_store_si512((void *)(X->corr + p * 16), _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sums, 7)));
        _mm512_store_ps(X->dx + p * 16, _mm512_mask_blend_ps((__mmask16)0xff00, _mm512_set1_ps(dr[0]), _mm512_set1_ps(dr[1])));
    }
    X->n = n;
    X->nb = nb;
    X->np = np;
}
#endif

/* x's quantized form lives on the stack for rows up to this long, on the heap beyond */
#define Q8R_STACK_COLS 8192

/* Decode prefetches the weights this many bytes ahead of the row it multiplies. The hardware
 * prefetcher alone left one core at 19 GB/s on GPT-2 XL's 1600-wide rows (11 tok/s at Q8_0, below
 * llama.cpp's 12); 4 KiB ahead gave 15 tok/s there and no loss on the 124M shape (8 KiB: the same
 * within the noise). */
#define PF_AHEAD 4096
void q8r_matvec(bool vnni, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1) {
    size_t rb = q8r_row_bytes(cols), np = (cols / QK8_0 + 1) / 2;
    _Alignas(64) int8_t sq[Q8R_STACK_COLS + 64];
    _Alignas(64) int32_t sc[Q8R_STACK_COLS / 4 + 16];
    _Alignas(64) float sd[Q8R_STACK_COLS / 4 + 16];
    void *heap = NULL;
    Q8RX X = {sq, sc, sd, 0, 0, 0};
    if (np * 64 > sizeof sq) {
        heap = aligned_alloc(64, np * (64 + 16 * 4 + 16 * 4));
        if (!heap) { /* no memory for x's quantized form: the float dot, row by row */
            for (size_t r = r0; r < r1; r++) y[r] = q8r_dot_f32((const uint8_t *)w + r * rb, x, cols);
            return;
        }
        X.xq = heap;
        X.corr = (int32_t *)((char *)heap + np * 64);
        X.dx = (float *)((char *)heap + np * (64 + 64));
    }
    const uint8_t *p = (const uint8_t *)w + r0 * rb;
#if Q8R_X86
    if (vnni) {
        q8r_prep_avx512(x, cols, &X);
        const uint8_t *w0 = w;
        size_t end = r1 * rb; /* bytes: prefetch no further than the last row */
        for (size_t r = r0; r < r1; r++, p += rb) {
            for (size_t at = r * rb + PF_AHEAD, b = 0; b < rb && at + b < end; b += 64) __builtin_prefetch(w0 + at + b);
            y[r] = dot_q8r_vnni(p, &X);
        }
        free(heap);
        return;
    }
#else
    (void)vnni;
#endif
    q8r_prep(x, cols, &X);
    for (size_t r = r0; r < r1; r++, p += rb) y[r] = dot_q8r_c(p, &X);
    free(heap);
}

/* Bytes of weight rows per chunk of q8r_matvecs: the chunk stays in L1 while every vector goes over it. */
#define Q8R_CHUNK_BYTES (12u << 10)
#define Q8R_AHEAD 4 /* rows prefetched ahead */

void q8r_matvecs(bool vnni, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                 size_t r1) {
    size_t rb = q8r_row_bytes(cols), np = (cols / QK8_0 + 1) / 2, per = np * (64 + 16 * 4 + 16 * 4);
    Q8RX *X = malloc((size_t)n * sizeof *X);
    uint8_t *heap = X ? aligned_alloc(64, (size_t)n * per) : NULL;
    if (!heap) { /* no memory for the vectors' quantized forms: one product at a time, as alone */
        free(X);
        for (int v = 0; v < n; v++) q8r_matvec(vnni, w, cols, x + (size_t)v * cols, y + (size_t)v * ldy, r0, r1);
        return;
    }
    for (int v = 0; v < n; v++) {
        uint8_t *b = heap + (size_t)v * per;
        X[v] = (Q8RX){(int8_t *)b, (int32_t *)(b + np * 64), (float *)(b + np * 128), 0, 0, 0};
#if Q8R_X86
        if (vnni) q8r_prep_avx512(x + (size_t)v * cols, cols, &X[v]);
        else q8r_prep(x + (size_t)v * cols, cols, &X[v]);
#else
        (void)vnni;
        q8r_prep(x + (size_t)v * cols, cols, &X[v]);
#endif
    }
    size_t chunk = rb >= Q8R_CHUNK_BYTES ? 1 : Q8R_CHUNK_BYTES / rb;
    for (size_t c0 = r0; c0 < r1; c0 += chunk) {
        size_t c1 = r1 - c0 < chunk ? r1 : c0 + chunk;
        for (int v = 0; v < n; v++) {
            float *yv = y + (size_t)v * ldy;
            const uint8_t *p = (const uint8_t *)w + c0 * rb;
#if Q8R_X86
            if (vnni) { /* up to four vectors per load of a row */
                int nv = n - v < 4 ? n - v : 4;
                float o[4];
                for (size_t r = c0; r < c1; r++, p += rb) {
                    /* the first vectors over a chunk wait on memory for every row: ask for the rows
                     * ahead while these are multiplied (each row then serves the rest from cache) */
                    if (v == 0 && r + Q8R_AHEAD < r1)
                        for (size_t b = 0; b < rb; b += 64) __builtin_prefetch(p + Q8R_AHEAD * rb + b);
                    dot_q8r_vnni_multi(nv, p, &X[v], o);
                    for (int i = 0; i < nv; i++) y[(size_t)(v + i) * ldy + r] = o[i];
                }
                v += nv - 1;
                continue;
            }
#endif
            for (size_t r = c0; r < c1; r++, p += rb) yv[r] = dot_q8r_c(p, &X[v]);
        }
    }
    free(heap);
    free(X);
}
