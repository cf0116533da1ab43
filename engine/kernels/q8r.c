/* Q8_0 weights repacked for integer dot products (QT_Q8R), and the decode kernels that read them.
 *
 * GGUF's Q8_0 interleaves a 2-byte scale with every 32 int8 weights, so a kernel that reads it
 * against float activations spends about ten vector instructions per block turning int8 into float
 * and broadcasting the scale: on one Zen 5 core that capped Q8_0 decode at 23-26 GB/s, below what
 * the memory delivers (F16 streams at 30+). Here a row keeps the same bytes in another order:
 *
 *     [ pairs of blocks, 64 bytes each ][ nb fp16 scales ][ zeros to a multiple of 64 ]
 *
 * (the zeros only for rows of 512 bytes and more; see q8r_row_bytes). The bytes are q + 128
 * (unsigned), and a pair interleaves its two blocks four bytes at a time: bytes 4k..4k+3 of the
 * first block, then of the second, for k = 0..7. An odd last block stays as it is (32 bytes).
 *
 * The activations are quantized once per product to int8 blocks of 32 (as ggml does for its
 * q8_0 x q8_0 dot: d = max|x| / 127 rounded to fp16, q = round(x 127 / max|x|), ties to even;
 * actq.h). The +128 offset makes the weights unsigned for AVX-512 VNNI (vpdpbusd: unsigned x signed
 * bytes, summed in fours into 32-bit lanes); its contribution, 128 times the sum of a block's
 * activations, depends on x only and is subtracted as a per-block constant. So every path forms
 * the same exact integer I_b = sum of a block's 32 products, and then the same float steps:
 *
 *     acc[b % 8] = fma(float(I_b) * dx_b, dw_b, acc[b % 8])    for b = 0, 1, ... (zero-padded to
 *     a multiple of 8 blocks), then acc[i] + acc[i + 4], then the ones 2 apart, then 1 apart.
 *
 * One product (decode): each 64-byte load of a pair meets x laid out the same way; eight pairs'
 * lane sums are folded into 16 block sums by adds of shuffled registers, and the float steps run
 * on 8 blocks at a time. Several products (q8r_matvecs: batched decode, prefill): the lanes hold
 * vectors instead of weights. Eight bytes of a pair (four of each block) are broadcast to every
 * lane and meet, in lane 2v + h, vector v's four bytes of block h of the pair, so eight vpdpbusd
 * give the exact sums of both blocks for eight vectors, with no folding, and the float steps run
 * on the 16 (vector, block) lanes; two rows at a time share the loads of x. That is about a
 * quarter of the instructions per vector of each vector's product alone, and each vector's result
 * has exactly the bits of its own product, as the portable path's does (test_quant, test_batch).
 *
 * The format exists only in memory: it is made at load on CPUs with AVX-512 VNNI, from a Q8_0 file
 * or a --quant q8_0 conversion, and is written back to files as plain Q8_0. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "q8r.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define Q8R_X86 1
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

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

/* ---------- layout ---------- */
/* Offset in a row of nb blocks of the four bytes 4k..4k+3 of block b. */
static inline size_t wgroup(size_t nb, size_t b, size_t k) {
    return (b | 1) < nb ? (b / 2) * 64 + 8 * k + 4 * (b & 1) : (b / 2) * 64 + 4 * k; /* the odd last block: as it is */
}
/* The same in x's layout for one product (Q8RX.xq): always interleaved (a missing block is zeros). */
static inline size_t xgroup(size_t b, size_t k) { return (b / 2) * 64 + 8 * k + 4 * (b & 1); }

#if Q8R_X86
/* Whole pairs of blocks with AVX-512: the same bytes as put_blocks' loop (q8r_supported only). */
T_VNNI static size_t put_pairs_avx512(const BlockQ8_0 *src, size_t b0, size_t cnt, size_t nb, uint8_t *row) {
    const __m512i ilv = _mm512_set_epi32(15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i flip = _mm512_set1_epi8((char)0x80); /* + 128 on a byte is a flip of its top bit */
    uint16_t *d = (uint16_t *)(row + nb * QK8_0);
    size_t i = 0;
    for (; i + 2 <= cnt && b0 + i + 1 < nb; i += 2) { /* b0 even: (b, b + 1) a whole pair */
        size_t b = b0 + i;
        __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)src[i].qs)),
                                          _mm256_loadu_si256((const __m256i *)src[i + 1].qs), 1);
        _mm512_storeu_si512((void *)(row + (b / 2) * 64), _mm512_permutexvar_epi32(ilv, _mm512_xor_si512(both, flip)));
        memcpy(&d[b], &src[i].d, sizeof d[b]);
        memcpy(&d[b + 1], &src[i + 1].d, sizeof d[b]);
    }
    return i;
}
#endif

/* cnt Q8_0 blocks, the first being block b0 of the row's nb, into the row. */
static void put_blocks(const BlockQ8_0 *src, size_t b0, size_t cnt, size_t nb, uint8_t *row) {
    uint16_t *d = (uint16_t *)(row + nb * QK8_0);
    size_t i = 0;
#if Q8R_X86
    if (b0 % 2 == 0 && q8r_supported()) i = put_pairs_avx512(src, b0, cnt, nb, row);
#endif
    for (; i < cnt; i++) {
        size_t b = b0 + i;
        for (size_t k = 0; k < 8; k++) {
            uint8_t *o = row + wgroup(nb, b, k);
            for (int t = 0; t < 4; t++) o[t] = (uint8_t)(src[i].qs[4 * k + (size_t)t] + 128);
        }
        memcpy(&d[b], &src[i].d, sizeof d[b]);
    }
}

static void pad(uint8_t *row, size_t n) { memset(row + n + n / 16, 0, q8r_row_bytes(n) - n - n / 16); }

void q8r_from_q8_0(const void *src, void *dst, size_t n) {
    put_blocks(src, 0, n / QK8_0, n / QK8_0, dst);
    pad(dst, n);
}

void q8r_from_f32(const float *x, void *dst, size_t n) {
    BlockQ8_0 tmp[64]; /* quantized as Q8_0 (ggml's rule), 64 blocks at a time */
    for (size_t i = 0; i < n; i += 64 * QK8_0) {
        size_t k = n - i < 64 * QK8_0 ? n - i : 64 * QK8_0;
        q8_0_from_f32(x + i, tmp, k);
        put_blocks(tmp, i / QK8_0, k / QK8_0, n / QK8_0, dst);
    }
    pad(dst, n);
}

/* Block b of a row as int8 q and its fp16 scale. */
static void get_block(const uint8_t *row, size_t nb, size_t b, int8_t q[QK8_0], uint16_t *d) {
    for (size_t k = 0; k < 8; k++) {
        const uint8_t *g = row + wgroup(nb, b, k);
        for (int t = 0; t < 4; t++) q[4 * k + (size_t)t] = (int8_t)(g[t] - 128);
    }
    memcpy(d, row + nb * QK8_0 + 2 * b, sizeof *d);
}

void q8r_to_q8_0(const void *src, void *dst, size_t n) {
    BlockQ8_0 *b = dst;
    for (size_t i = 0; i < n / QK8_0; i++) get_block(src, n / QK8_0, i, b[i].qs, &b[i].d);
}

void q8r_to_f32(const void *src, float *dst, size_t n) {
    for (size_t i = 0; i < n / QK8_0; i++) {
        int8_t q[QK8_0];
        uint16_t d;
        get_block(src, n / QK8_0, i, q, &d);
        float s = fp16_to_fp32(d);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + (size_t)j] = s * (float)q[j];
    }
}

/* Against float activations (no quantization of x): for the rare callers without a whole product
 * to amortize x's quantization over (quant_dot), and when memory for it runs out. */
float q8r_dot_f32(const void *row, const float *x, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n / QK8_0; i++) {
        int8_t q[QK8_0];
        uint16_t d;
        get_block(row, n / QK8_0, i, q, &d);
        float bs = 0;
        for (int j = 0; j < QK8_0; j++) bs += (float)q[j] * x[i * QK8_0 + (size_t)j];
        s += fp16_to_fp32(d) * bs;
    }
    return s;
}

/* ---------- activations ---------- */
/* x quantized for one product. Pairs are counted to np8, a multiple of 8 (16 blocks): past the
 * row everything is zero, so padded blocks add fma(0 x 0, 0, acc) on every path alike. */
typedef struct {
    int8_t *xq;      /* [np8 * 64]: a pair's two blocks interleaved as the weights' (xgroup) */
    int32_t *corr;   /* [np8 * 2]: per block, -128 x the sum of its int8 */
    float *dx;       /* [np8 * 2]: per block, the scale (fp16-rounded, as float) */
    size_t n, nb, np, np8;
} Q8RX;

static size_t q8r_np8(size_t n) { return ((n / QK8_0 + 1) / 2 + 7) / 8 * 8; }
static size_t q8rx_bytes(size_t np8) { return np8 * (64 + 2 * sizeof(int32_t) + 2 * sizeof(float)); }
static size_t al64(size_t n) { return (n + 63) / 64 * 64; } /* aligned_alloc's sizes */

static void q8rx_at(Q8RX *X, void *mem, size_t n) {
    size_t np8 = q8r_np8(n);
    X->xq = mem;
    X->corr = (int32_t *)((char *)mem + np8 * 64);
    X->dx = (float *)((char *)mem + np8 * 72);
    X->n = n;
    X->nb = n / QK8_0;
    X->np = (X->nb + 1) / 2;
    X->np8 = np8;
}

/* One block: amax, scale, int8 (ggml's x86 rule, as actq.c: the multiplier is 127 / max|x|, not
 * 1 / d; ties to even, as the SIMD path's cvtps2dq). */
static void quant_block(const float *xb, int8_t q[QK8_0], float *dr, int32_t *corr) {
    float amax = 0;
    for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(xb[j]));
    float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
    *dr = fp16_to_fp32(fp32_to_fp16(d));
    int32_t s = 0;
    for (int j = 0; j < QK8_0; j++) s += q[j] = (int8_t)rintf(xb[j] * id);
    *corr = -128 * s;
}

static void q8r_prep(const float *x, size_t n, Q8RX *X) {
    memset(X->xq, 0, q8rx_bytes(X->np8));
    for (size_t b = 0; b < X->nb; b++) {
        int8_t q[QK8_0];
        quant_block(x + b * QK8_0, q, &X->dx[b], &X->corr[b]);
        for (size_t k = 0; k < 8; k++) memcpy(X->xq + xgroup(b, k), q + 4 * k, 4);
    }
}

/* ---------- dots ---------- */
/* The float steps shared by every path: 8 accumulators folded 4, 2, 1 apart. */
static float fold8(const float acc[8]) {
    float s4[4], s2[2];
    for (int i = 0; i < 4; i++) s4[i] = acc[i] + acc[i + 4];
    for (int i = 0; i < 2; i++) s2[i] = s4[i] + s4[i + 2];
    return s2[0] + s2[1];
}

/* Blocks are taken to a multiple of 8 (pairs to a multiple of 4). */
static size_t q8r_np4(size_t nb) { return ((nb + 1) / 2 + 3) / 4 * 4; }

static float dot_q8r_c(const uint8_t *row, const Q8RX *X) {
    const uint16_t *d = (const uint16_t *)(row + X->n);
    float acc[8] = {0};
    for (size_t b = 0; b < 2 * q8r_np4(X->nb); b++) {
        int32_t sum = 0;
        float dw = 0;
        if (b < X->nb) {
            for (size_t k = 0; k < 8; k++) {
                const uint8_t *g = row + wgroup(X->nb, b, k);
                const int8_t *xg = X->xq + xgroup(b, k);
                for (int t = 0; t < 4; t++) sum += ((int32_t)g[t] - 128) * xg[t];
            }
            dw = fp16_to_fp32(d[b]);
        }
        acc[b % 8] = fmaf((float)sum * X->dx[b], dw, acc[b % 8]);
    }
    return fold8(acc);
}

#if Q8R_X86

/* x quantized for one product with AVX-512: the same numbers as q8r_prep */
T_VNNI static void q8r_prep_avx512(const float *x, size_t n, Q8RX *X) {
    (void)n;
    const __m512i ilv = _mm512_set_epi32(15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0);
    memset(X->corr, 0, X->np8 * 2 * (sizeof *X->corr + sizeof *X->dx));
    for (size_t p = 0; p < X->np8; p++) {
        __m256i q[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (size_t h = 0; h < 2; h++) {
            size_t b = 2 * p + h;
            if (b >= X->nb) continue;
            __m512 v0 = _mm512_loadu_ps(x + b * QK8_0), v1 = _mm512_loadu_ps(x + b * QK8_0 + 16);
            float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
            float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
            X->dx[b] = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
            __m512 vid = _mm512_set1_ps(id);
            __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
            X->corr[b] = -128 * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
            q[h] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtsepi32_epi8(i0)), _mm512_cvtsepi32_epi8(i1), 1);
        }
        __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(q[0]), q[1], 1);
        _mm512_store_si512((void *)(X->xq + p * 64), _mm512_permutexvar_epi32(ilv, both));
    }
}

/* Eight pairs' lane sums (r[j]: even lanes block 2j, odd lanes block 2j + 1, four bytes each) as
 * the 16 block sums, in block order. */
T_VNNI static inline __attribute__((always_inline)) __m512i fold_pairs(const __m512i r[8]) {
    __m512i s[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) /* per 128 bits: [A, B] of pair 2i, then of 2i+1, each over 2 of 8 groups */
        s[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(r[2 * i], r[2 * i + 1]), _mm512_unpackhi_epi64(r[2 * i], r[2 * i + 1]));
    __m512i t0 = _mm512_add_epi32(_mm512_shuffle_i32x4(s[0], s[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_i32x4(s[0], s[1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512i t1 = _mm512_add_epi32(_mm512_shuffle_i32x4(s[2], s[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_i32x4(s[2], s[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* fold8 of the 8 lanes */
T_VNNI static inline float fold8_avx(__m256 a) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

T_VNNI static inline __m256 hi256(__m512 a) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)); }

/* The 16 weight scales from block b (zeros past nb). */
T_VNNI static inline __m512 wscales16(const uint16_t *d, size_t b, size_t nb) {
    size_t left = nb - b;
    return left >= 16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d + b)))
                      : _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << left) - 1), d + b));
}

T_VNNI static float dot_q8r_vnni(const uint8_t *row, const Q8RX *X) {
    const uint16_t *d = (const uint16_t *)(row + X->n);
    const size_t nb = X->nb, npf = nb / 2, np4 = q8r_np4(nb);
    __m256 acc = _mm256_setzero_ps();
    for (size_t p0 = 0; p0 < np4; p0 += 8) {
        __m512i r[8];
        if (p0 + 8 <= npf) {
#pragma GCC unroll 8
            for (size_t j = 0; j < 8; j++)
                r[j] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512((const void *)(row + (p0 + j) * 64)),
                                           _mm512_load_si512((const void *)(X->xq + (p0 + j) * 64)));
        } else {
            for (size_t j = 0; j < 8; j++) {
                size_t p = p0 + j;
                __m512i w = _mm512_setzero_si512();
                if (p < npf) w = _mm512_loadu_si512((const void *)(row + p * 64));
                else if (p < X->np) /* the odd last block's groups into the even lanes */
                    w = _mm512_maskz_expand_epi32((__mmask16)0x5555,
                                                  _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(row + p * 64))));
                r[j] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, _mm512_load_si512((const void *)(X->xq + p * 64)));
            }
        }
        __m512i s = _mm512_add_epi32(fold_pairs(r), _mm512_loadu_si512((const void *)(X->corr + 2 * p0)));
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_loadu_ps(X->dx + 2 * p0));
        __m512 dw = wscales16(d, 2 * p0, nb);
        acc = _mm256_fmadd_ps(_mm512_castps512_ps256(f), _mm512_castps512_ps256(dw), acc);
        if (p0 + 8 <= np4) acc = _mm256_fmadd_ps(hi256(f), hi256(dw), acc); /* else blocks past np4 */
    }
    return fold8_avx(acc);
}

/* ---------- several products ---------- */
/* Up to eight vectors' x for one pass over the rows: pair p's group k (bytes 4k..4k+3 of both
 * blocks) as 16 lanes, lane 2v + h holding vector v's four bytes of block 2p + h. */
typedef struct {
    int8_t *xt;      /* [np8][8][64] */
    int32_t *corr;   /* [np8][16] */
    float *dx;       /* [np8][16] */
} Q8RT;

static size_t q8rt_bytes(size_t np8) { return np8 * (8 * 64 + 16 * sizeof(int32_t) + 16 * sizeof(float)); }

static void q8rt_at(Q8RT *T, void *mem, size_t np8) {
    T->xt = mem;
    T->corr = (int32_t *)((char *)mem + np8 * 512);
    T->dx = (float *)((char *)mem + np8 * (512 + 64));
}

/* Vector v's one-product form X into lanes 2v, 2v + 1 of T. */
static void q8rt_put(Q8RT *T, const Q8RX *X, int v) {
    for (size_t p = 0; p < X->np8; p++) {
        for (size_t k = 0; k < 8; k++)
            for (size_t h = 0; h < 2; h++)
                memcpy(T->xt + p * 512 + k * 64 + 4 * (2 * (size_t)v + h), X->xq + p * 64 + 4 * (2 * k + h), 4);
        for (size_t h = 0; h < 2; h++) {
            T->corr[p * 16 + 2 * (size_t)v + h] = X->corr[2 * p + h];
            T->dx[p * 16 + 2 * (size_t)v + h] = X->dx[2 * p + h];
        }
    }
}

static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* The two floats at p in every pair of lanes */
T_VNNI static inline __m512 wpair(const float *p) {
    double v;
    memcpy(&v, p, sizeof v);
    return _mm512_castpd_ps(_mm512_set1_pd(v));
}
static inline uint32_t ld32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One or two rows (nr) against the (up to) eight vectors of T: out[r][v] for v < 8. dw[r]: [np8 * 2]
 * floats of scratch per row. Two rows share each load of x: the loads, not the products, bound one
 * row at a time (16 loads per pair of blocks against 8 vpdpbusd). */
T_VNNI static inline __attribute__((always_inline)) void rows_vnni8(const int nr, const uint8_t *const row[2],
                                                                     const Q8RT *T, size_t n, float *const dw[2],
                                                                     float out[2][8]) {
    const size_t nb = n / QK8_0, npf = nb / 2, np = (nb + 1) / 2, np4 = q8r_np4(nb);
    for (int r = 0; r < nr; r++) {
        const uint16_t *d = (const uint16_t *)(row[r] + n);
        for (size_t b = 0; b < 2 * np4; b += 16) _mm512_store_ps(dw[r] + b, wscales16(d, b, nb));
    }
    __m512 acc[2][4];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) acc[j / 4][j % 4] = _mm512_setzero_ps();
    size_t p0 = 0;
    for (; p0 + 4 <= npf; p0 += 4) { /* four whole pairs */
#pragma GCC unroll 4
        for (size_t j = 0; j < 4; j++) {
            size_t p = p0 + j;
            const int8_t *xt = T->xt + p * 512;
            __m512i x[8];
#pragma GCC unroll 8
            for (size_t k = 0; k < 8; k++) {
                x[k] = _mm512_load_si512((const void *)(xt + 64 * k));
                if (nr == 2) __asm__("" : "+v"(x[k])); /* kept in a register for both rows, not loaded twice */
            }
            __m512i corr = _mm512_load_si512((const void *)(T->corr + p * 16));
            __m512 dxv = _mm512_load_ps(T->dx + p * 16);
#pragma GCC unroll 2
            for (int r = 0; r < nr; r++) {
                const uint8_t *w = row[r] + p * 64;
                /* two chains of sums, not one of eight: vpdpbusd's latency bounds a chain (the sums
                 * are integers: any order is exact). Group k's eight bytes go to every lane from one
                 * load of the pair by vpermq: 6 % faster in cache than eight broadcast loads. */
                __m512i a[2] = {corr, _mm512_setzero_si512()};
                const __m512i wv = _mm512_loadu_si512((const void *)w);
#pragma GCC unroll 8
                for (size_t k = 0; k < 8; k++)
                    a[k % 2] = _mm512_dpbusd_epi32(a[k % 2], _mm512_permutexvar_epi64(_mm512_set1_epi64((long long)k), wv),
                                                   x[k]);
                __m512i as = _mm512_add_epi32(a[0], a[1]);
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(as), dxv);
                acc[r][j] = _mm512_fmadd_ps(f, wpair(dw[r] + 2 * p), acc[r][j]);
            }
        }
    }
    for (; p0 < np4; p0 += 4) /* the rest: whole pairs, the odd last block, padding */
        for (size_t j = 0; j < 4; j++) {
            size_t p = p0 + j;
            const int8_t *xt = T->xt + p * 512;
            for (int r = 0; r < nr; r++) {
                const uint8_t *w = row[r] + p * 64;
                __m512i a = _mm512_load_si512((const void *)(T->corr + p * 16));
                if (p < npf)
                    for (size_t k = 0; k < 8; k++)
                        a = _mm512_dpbusd_epi32(a, _mm512_set1_epi64((long long)ld64(w + 8 * k)),
                                                _mm512_load_si512((const void *)(xt + 64 * k)));
                else if (p < np) /* the odd last block: its four bytes in every lane, odd lanes' x zero */
                    for (size_t k = 0; k < 8; k++)
                        a = _mm512_dpbusd_epi32(a, _mm512_set1_epi32((int)ld32(w + 4 * k)),
                                                _mm512_load_si512((const void *)(xt + 64 * k)));
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_load_ps(T->dx + p * 16));
                acc[r][j] = _mm512_fmadd_ps(f, wpair(dw[r] + 2 * p), acc[r][j]);
            }
        }
    /* fold8 per vector: accumulator j holds blocks 2j and 2j + 1 (mod 8) in its lane pairs */
    for (int r = 0; r < nr; r++) {
        __m512 s = _mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][2]), _mm512_add_ps(acc[r][1], acc[r][3]));
        s = _mm512_add_ps(s, _mm512_permute_ps(s, 0xB1)); /* lane 2v: block parity 0 + parity 1 */
        _Alignas(64) float o[16];
        _mm512_store_ps(o, s);
        for (int v = 0; v < 8; v++) out[r][v] = o[2 * v];
    }
}

T_VNNI static void rows2_vnni8(const uint8_t *const row[2], const Q8RT *T, size_t n, float *const dw[2], float out[2][8]) {
    rows_vnni8(2, row, T, n, dw, out);
}
T_VNNI static void rows1_vnni8(const uint8_t *const row[2], const Q8RT *T, size_t n, float *const dw[2], float out[2][8]) {
    rows_vnni8(1, row, T, n, dw, out);
}
#endif

/* x's quantized form lives on the stack for rows up to this long, on the heap beyond */
#define Q8R_STACK_COLS 8192

void q8r_matvec(bool vnni, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1) {
    size_t rb = q8r_row_bytes(cols);
    _Alignas(64) uint8_t stack[(Q8R_STACK_COLS / 64 + 8) * 80];
    void *mem = stack, *heap = NULL;
    if (q8rx_bytes(q8r_np8(cols)) > sizeof stack) {
        if (!(mem = heap = aligned_alloc(64, al64(q8rx_bytes(q8r_np8(cols)))))) {
            /* no memory for x's quantized form: the float dot, row by row */
            for (size_t r = r0; r < r1; r++) y[r] = q8r_dot_f32((const uint8_t *)w + r * rb, x, cols);
            return;
        }
    }
    Q8RX X;
    q8rx_at(&X, mem, cols);
    const uint8_t *p = (const uint8_t *)w + r0 * rb;
#if Q8R_X86
    if (vnni) {
        q8r_prep_avx512(x, cols, &X);
        for (size_t r = r0; r < r1; r++, p += rb) {
            prefetch_rows_ahead(p, rb, (r1 - r) * rb, Q8R_AHEAD_BYTES);
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

/* Bytes of weight rows per chunk of q8r_matvecs: the chunk stays in cache while every group of
 * eight vectors goes over it. */
#define Q8R_CHUNK_BYTES (12u << 10)
#define Q8R_CHUNK_MANY (256u << 10)
#define Q8R_AHEAD 4 /* rows prefetched ahead */

/* A chunk of rows [c0, c1) as Q8R: the weights themselves, or (conv) those rows converted into buf,
 * where row c0 comes first. */
static const uint8_t *chunk_rows(const void *w, size_t rb, size_t cols, const Q8RConv *conv, uint8_t *buf, size_t c0,
                                 size_t c1) {
    if (!conv) return (const uint8_t *)w + c0 * rb;
    for (size_t r = c0; r < c1; r++) conv->fn(conv->src, cols, r, buf + (r - c0) * rb, conv->scratch);
    return buf;
}

/* q8r_matvecs over w, or over conv's rows; -1 (nothing written) when conv's buffers find no memory. */
static int matvecs(bool vnni, const void *w, const Q8RConv *conv, size_t cols, const float *x, int n, float *y,
                   size_t ldy, size_t r0, size_t r1) {
    size_t rb = q8r_row_bytes(cols), np8 = q8r_np8(cols), per = q8rx_bytes(np8);
    size_t chunk = rb >= Q8R_CHUNK_BYTES ? 1 : Q8R_CHUNK_BYTES / rb;
#if Q8R_X86
    if (vnni) {
        size_t groups = ((size_t)n + 7) / 8, tb = q8rt_bytes(np8);
        /* a prompt's many groups: rows enough to stay in L2 while each group, its x in L1, meets them */
        if (groups > 2) chunk = rb >= Q8R_CHUNK_MANY ? 1 : Q8R_CHUNK_MANY / rb;
        chunk += chunk & 1; /* rows go two at a time: no lone row per chunk */
        uint8_t *mem = aligned_alloc(64, al64(groups * tb + per + 2 * np8 * 2 * sizeof(float)));
        uint8_t *cbuf = conv ? aligned_alloc(64, al64(chunk * rb)) : NULL;
        Q8RT *T = malloc(groups * sizeof *T);
        if (!mem || !T || (conv && !cbuf)) { /* no memory for the vectors' quantized forms */
            free(mem);
            free(cbuf);
            free(T);
            if (conv) return matvecs(false, w, conv, cols, x, n, y, ldy, r0, r1); /* needs less */
            for (int v = 0; v < n; v++) q8r_matvec(vnni, w, cols, x + (size_t)v * cols, y + (size_t)v * ldy, r0, r1);
            return 0;
        }
        memset(mem, 0, groups * tb); /* lanes of vectors past n: zero */
        Q8RX X;
        q8rx_at(&X, mem + groups * tb, cols);
        float *dw[2] = {(float *)(mem + groups * tb + per), (float *)(mem + groups * tb + per) + np8 * 2};
        for (size_t g = 0; g < groups; g++) q8rt_at(&T[g], mem + g * tb, np8);
        for (int v = 0; v < n; v++) {
            q8r_prep_avx512(x + (size_t)v * cols, cols, &X);
            q8rt_put(&T[v / 8], &X, v % 8);
        }
        for (size_t c0 = r0; c0 < r1; c0 += chunk) {
            size_t c1 = r1 - c0 < chunk ? r1 : c0 + chunk;
            const uint8_t *rows = chunk_rows(w, rb, cols, conv, cbuf, c0, c1);
            for (size_t g = 0; g < groups; g++) {
                int nv = n - 8 * (int)g < 8 ? n - 8 * (int)g : 8;
                float o[2][8];
                for (size_t r = c0; r < c1; r += 2) {
                    const uint8_t *p[2] = {rows + (r - c0) * rb, rows + (r + 1 - c0) * rb};
                    /* the first group over a chunk waits on memory for every row: ask for the rows
                     * ahead while these are multiplied (each row then serves the rest from cache) */
                    if (g == 0 && !conv)
                        for (size_t b = 0, e = r + Q8R_AHEAD + 2 <= r1 ? 2 * rb : r + Q8R_AHEAD < r1 ? rb : 0; b < e;
                             b += 64)
                            __builtin_prefetch(p[0] + Q8R_AHEAD * rb + b);
                    int nr = r + 1 < c1 ? 2 : 1;
                    if (nr == 2) rows2_vnni8(p, &T[g], cols, dw, o);
                    else rows1_vnni8(p, &T[g], cols, dw, o);
                    for (int k = 0; k < nr; k++)
                        for (int i = 0; i < nv; i++) y[(8 * g + (size_t)i) * ldy + r + (size_t)k] = o[k][i];
                }
            }
        }
        free(T);
        free(cbuf);
        free(mem);
        return 0;
    }
#else
    (void)vnni;
#endif
    uint8_t *mem = aligned_alloc(64, al64((size_t)n * per));
    uint8_t *cbuf = conv ? aligned_alloc(64, al64(chunk * rb)) : NULL;
    Q8RX *X = malloc((size_t)n * sizeof *X);
    if (!mem || !X || (conv && !cbuf)) { /* one product at a time, as alone */
        free(mem);
        free(cbuf);
        free(X);
        if (conv) return -1;
        for (int v = 0; v < n; v++) q8r_matvec(false, w, cols, x + (size_t)v * cols, y + (size_t)v * ldy, r0, r1);
        return 0;
    }
    for (int v = 0; v < n; v++) {
        q8rx_at(&X[v], mem + (size_t)v * per, cols);
        q8r_prep(x + (size_t)v * cols, cols, &X[v]);
    }
    for (size_t c0 = r0; c0 < r1; c0 += chunk) {
        size_t c1 = r1 - c0 < chunk ? r1 : c0 + chunk;
        const uint8_t *rows = chunk_rows(w, rb, cols, conv, cbuf, c0, c1);
        for (int v = 0; v < n; v++) {
            const uint8_t *p = rows;
            for (size_t r = c0; r < c1; r++, p += rb) y[(size_t)v * ldy + r] = dot_q8r_c(p, &X[v]);
        }
    }
    free(cbuf);
    free(mem);
    free(X);
    return 0;
}

void q8r_matvecs(bool vnni, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                 size_t r1) {
    if (n <= 1) {
        if (n == 1) q8r_matvec(vnni, w, cols, x, y, r0, r1);
        return;
    }
    matvecs(vnni, w, NULL, cols, x, n, y, ldy, r0, r1);
}

int q8r_matvecs_conv(bool vnni, const Q8RConv *conv, size_t cols, const float *x, int n, float *y, size_t ldy,
                     size_t r0, size_t r1) {
    return n < 1 ? 0 : matvecs(vnni, NULL, conv, cols, x, n, y, ldy, r0, r1);
}

/* ---------- a prompt's products in llama.cpp's order (q8r_matmul_lc) ---------- */
/* Per row and token, ggml's Q8_0 x Q8_0 dot (vec_dot_q8_0_q8_0, and llamafile's tinyBLAS_Q0 on a
 * prompt): eight float lanes, lane k the exact sum of the four products 4k .. 4k+3 of a block; per
 * block d = dw * dx and lane = fma(d, sum, lane), blocks in order; then the lanes added as
 * ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)). */
static float dot_lc_c(const uint8_t *row, const Q8RX *X) {
    const uint16_t *d = (const uint16_t *)(row + X->n);
    float acc[8] = {0};
    for (size_t b = 0; b < X->nb; b++) {
        float dd = fp16_to_fp32(d[b]) * X->dx[b];
        for (size_t k = 0; k < 8; k++) {
            const uint8_t *g = row + wgroup(X->nb, b, k);
            const int8_t *xg = X->xq + xgroup(b, k);
            int32_t sum = 0;
            for (int t = 0; t < 4; t++) sum += ((int32_t)g[t] - 128) * xg[t];
            acc[k] = fmaf(dd, (float)sum, acc[k]);
        }
    }
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

#if Q8R_X86
#define LC_ROWS 16
/* A panel of 16 rows for the VNNI kernel: per block, the four bytes of group k of every row (row r
 * at 4 r) for k = 0 .. 7, then the rows' scales as floats. Rows past the matrix are zero. */
#define LC_BLOCK_BYTES (8 * 64 + 64)
static void lc_pack(const uint8_t *w, size_t rb, size_t nb, size_t nrows, uint8_t *panel) {
    memset(panel, 0, nb * LC_BLOCK_BYTES);
    for (size_t r = 0; r < nrows; r++) {
        const uint8_t *row = w + r * rb;
        const uint16_t *d = (const uint16_t *)(row + nb * QK8_0);
        for (size_t b = 0; b < nb; b++) {
            uint8_t *pb = panel + b * LC_BLOCK_BYTES;
            for (size_t k = 0; k < 8; k++) memcpy(pb + 64 * k + 4 * r, row + wgroup(nb, b, k), 4);
            float f = fp16_to_fp32(d[b]);
            memcpy(pb + 8 * 64 + 4 * r, &f, 4);
        }
    }
}

/* A token for the VNNI kernel: per block, the eight groups of four int8 as int32 and the eight
 * -128 x (their sum) that undo the weights' +128, then the scale. */
typedef struct {
    int32_t g[8], corr[8];
    float dx;
} LcGroups;

static void lc_prep(const Q8RX *X, LcGroups *G) {
    for (size_t b = 0; b < X->nb; b++)
        for (size_t k = 0; k < 8; k++) {
            const int8_t *xg = X->xq + xgroup(b, k);
            memcpy(&G[b].g[k], xg, 4);
            G[b].corr[k] = -128 * ((int32_t)xg[0] + xg[1] + xg[2] + xg[3]);
        }
    for (size_t b = 0; b < X->nb; b++) G[b].dx = X->dx[b];
}

/* 16 rows x T tokens (T = 1 or 2): the lanes are the rows, one accumulator per (token, group k).
 * The loops must unroll for the accumulators to stay in registers. */
#define LC_UNROLL _Pragma("GCC unroll 8")
T_VNNI static inline __attribute__((always_inline)) void lc_tile(int T, const uint8_t *panel, size_t nb,
                                                                 const LcGroups *const *G, float *const *y,
                                                                 __mmask16 m) {
    __m512 acc[2][8];
    LC_UNROLL for (int t = 0; t < 2; t++) LC_UNROLL for (int k = 0; k < 8; k++) acc[t][k] = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + b * LC_BLOCK_BYTES;
        __m512 dw = _mm512_load_ps((const float *)(pb + 8 * 64));
        LC_UNROLL for (int t = 0; t < T; t++) {
            const LcGroups *g = &G[t][b];
            __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(g->dx));
            LC_UNROLL for (int k = 0; k < 8; k++) {
                __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi32(g->corr[k]),
                                                _mm512_load_si512((const void *)(pb + 64 * k)),
                                                _mm512_set1_epi32(g->g[k]));
                acc[t][k] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(s), acc[t][k]);
            }
        }
    }
    LC_UNROLL for (int t = 0; t < T; t++) {
        __m512 r = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][4]), _mm512_add_ps(acc[t][2], acc[t][6])),
                                 _mm512_add_ps(_mm512_add_ps(acc[t][1], acc[t][5]), _mm512_add_ps(acc[t][3], acc[t][7])));
        _mm512_mask_storeu_ps(y[t], m, r);
    }
}
T_VNNI static void lc_tile1(const uint8_t *panel, size_t nb, const LcGroups *const *G, float *const *y, __mmask16 m) {
    lc_tile(1, panel, nb, G, y, m);
}
T_VNNI static void lc_tile2(const uint8_t *panel, size_t nb, const LcGroups *const *G, float *const *y, __mmask16 m) {
    lc_tile(2, panel, nb, G, y, m);
}
#endif

void q8r_matmul_lc(bool vnni, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                   size_t r1) {
    size_t rb = q8r_row_bytes(cols), nb = cols / QK8_0, per = q8rx_bytes(q8r_np8(cols));
    if (n < 1 || r1 <= r0) return;
#if Q8R_X86
    if (vnni) {
        size_t gbytes = al64(nb * sizeof(LcGroups)), pbytes = nb * LC_BLOCK_BYTES;
        uint8_t *mem = aligned_alloc(64, al64(pbytes) + al64(per) + (size_t)n * gbytes);
        if (mem) {
            uint8_t *panel = mem, *xmem = mem + al64(pbytes), *gmem = xmem + al64(per);
            Q8RX X;
            q8rx_at(&X, xmem, cols);
            for (int v = 0; v < n; v++) { /* each token quantized once, as ggml quantizes it */
                q8r_prep_avx512(x + (size_t)v * cols, cols, &X);
                lc_prep(&X, (LcGroups *)(gmem + (size_t)v * gbytes));
            }
            for (size_t p0 = r0; p0 < r1; p0 += LC_ROWS) {
                size_t rows = r1 - p0 < LC_ROWS ? r1 - p0 : LC_ROWS;
                lc_pack((const uint8_t *)w + p0 * rb, rb, nb, rows, panel);
                __mmask16 m = (__mmask16)((1u << rows) - 1);
                for (int v = 0; v < n; v += 2) {
                    int T = n - v >= 2 ? 2 : 1;
                    const LcGroups *G[2];
                    float *yy[2];
                    for (int t = 0; t < T; t++) {
                        G[t] = (const LcGroups *)(gmem + (size_t)(v + t) * gbytes);
                        yy[t] = y + (size_t)(v + t) * ldy + p0;
                    }
                    if (T == 2) lc_tile2(panel, nb, G, yy, m);
                    else lc_tile1(panel, nb, G, yy, m);
                }
            }
            free(mem);
            return;
        }
        vnni = false; /* no memory for the panel: the portable loop below, the same bits */
    }
#endif
    uint8_t *mem = aligned_alloc(64, al64(per));
    if (!mem) { /* no memory for x's quantized form: float dots, row by row */
        for (int v = 0; v < n; v++)
            for (size_t r = r0; r < r1; r++)
                y[(size_t)v * ldy + r] = q8r_dot_f32((const uint8_t *)w + r * rb, x + (size_t)v * cols, cols);
        return;
    }
    Q8RX X;
    q8rx_at(&X, mem, cols);
    for (int v = 0; v < n; v++) {
        q8r_prep(x + (size_t)v * cols, cols, &X);
        for (size_t r = r0; r < r1; r++) y[(size_t)v * ldy + r] = dot_lc_c((const uint8_t *)w + r * rb, &X);
    }
    free(mem);
}
