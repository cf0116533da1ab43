/* Decode kernels for every 4/5-bit and k-quant weight type (Q4_0 .. Q5_1, Q2_K .. Q6_K) on CPUs
 * with AVX-512 VNNI: integer dots.
 *
 * The float kernels (kquant_simd.c) widen every 4- to 6-bit weight to a 32-bit float before its
 * multiply: at one weight per lane, a 124M model's Q6_K head and Q4_0 layers decoded at a third of
 * llama.cpp's speed. Here the activations are quantized once per product, as ggml quantizes them
 * for these weights (Q8_0 blocks of 32 for Q4_0 / Q5_0, Q8_1 for Q4_1 / Q5_1, Q8_K super-blocks of
 * 256 for the k-quants: actq.h), and the weights stay bytes: one vpdpbusd multiplies 64 unsigned
 * weight levels by 64 signed activations and sums them in fours into 16 exact 32-bit lanes. What
 * depends on x alone is prepared once per call and shared by every row of it:
 *   - the int8 activations, in the order the weight bytes unpack to (see each kernel);
 *   - each lane's "offset": the weights are stored unsigned with a bias (8 for Q4_0, 16 for Q5_0,
 *     4 for Q3_K, 32 for Q6_K; the _1 types, Q2_K, Q4_K and Q5_K have a minimum instead), so each
 *     lane starts at -bias x (the sum of its four activations);
 *   - the block scales of x.
 * The integer sums are exact; the block and sub-block scales multiply them in float. So the result
 * is what ggml's vec_dot computes on the same bytes, up to the order of the float additions.
 *
 * matmul.c has already rounded x to that grid (actq_round_f32), and quantizing a value on the grid
 * gives back its integers, so a call computes exactly what the float kernels compute on the same
 * input, in integers. */
#include "kquant.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "actq.h"
#include "q8r.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define H2F(h) _cvtsh_ss(h)

/* x as one kernel reads it: q (int8, kernel order), off (int32 per 4 values: -bias x their sum),
 * and the activation scales: per 32 (Q8_0) or per 256 (Q8_K); xsum: the sums of each 32 values
 * (Q4_K, Q5_K) or 16 (Q2_K), for the weights' minimums. */
typedef struct {
    int8_t *q;
    int32_t *off;
    float *d;
    int32_t *xsum;
    float *sx;      /* Q8_1's s per block (the _1 types; in xsum's room) */
} PrepX;

/* The bytes PrepX needs for n values (n a multiple of 32). */
static size_t prep_bytes(size_t n) { return n + n + (n / 32 + 1) * sizeof(float) + n / 4 + 256; }

static void prep_carve(PrepX *p, void *mem, size_t n) {
    uint8_t *b = (uint8_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    p->q = (int8_t *)b;
    p->off = (int32_t *)(b + n);
    p->d = (float *)(b + 2 * n);
    p->xsum = (int32_t *)(b + 2 * n + (n / 32 + 1) * sizeof(float));
    p->sx = (float *)p->xsum;
}

/* lane i: -bias times the sum of the four int8 q[4i .. 4i+3] */
T_VNNI static inline __m512i lane_off(const int8_t *q, int bias) {
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)bias), _mm512_loadu_si512(q));
    return _mm512_sub_epi32(_mm512_setzero_si512(), s);
}

/* ---------- Q4_0, Q5_0, Q4_1, Q5_1: blocks of 32 against Q8_0 (Q8_1) blocks ----------
 * Two blocks at a time. Their 2 x 16 bytes hold the low nibbles (values 0..15 of each block) and
 * the high nibbles (16..31); unpacked to 64 bytes they are [b0 0-15 | b1 0-15 | b0 16-31 | b1 16-31],
 * so x is stored in that order (an odd last block: its 32 values in order, 8 lanes). The _1 types
 * have no bias but a minimum m per block, which meets Q8_1's s = d sum(q) of x: + m s. */
typedef struct {
    size_t bs, qs_at, qh_at, m_at; /* block bytes; where qs, qh (0: none) and the minimum (0: none) are */
    int bias;
} Legacy;

static const Legacy LEG_Q4_0 = {sizeof(BlockQ4_0), offsetof(BlockQ4_0, qs), 0, 0, 8};
static const Legacy LEG_Q5_0 = {sizeof(BlockQ5_0), offsetof(BlockQ5_0, qs), offsetof(BlockQ5_0, qh), 0, 16};
static const Legacy LEG_Q4_1 = {sizeof(BlockQ4_1), offsetof(BlockQ4_1, qs), 0, offsetof(BlockQ4_1, m), 0};
static const Legacy LEG_Q5_1 = {sizeof(BlockQ5_1), offsetof(BlockQ5_1, qs), offsetof(BlockQ5_1, qh),
                                offsetof(BlockQ5_1, m), 0};

T_VNNI static void prep_q8_0(const float *x, size_t n, const Legacy *L, PrepX *p) {
    size_t nb = n / 32;
    BlockQ8_1 blk[4];
    BlockQ8_0 b0[4];
    for (size_t b = 0, k; b < nb; b += k) {
        k = nb - b >= 4 ? 4 : nb - b >= 2 ? 2 : 1;
        const int8_t *qs[4];
        if (L->m_at) { /* Q8_1: Q8_0's d and q, and s */
            actq_quantize(ACT_Q8_1, x + 32 * b, blk, 32 * k);
            for (size_t j = 0; j < k; j++) {
                qs[j] = blk[j].qs;
                p->d[b + j] = H2F(blk[j].d);
                p->sx[b + j] = H2F(blk[j].s);
            }
        } else {
            actq_quantize(ACT_Q8_0, x + 32 * b, b0, 32 * k);
            for (size_t j = 0; j < k; j++) {
                qs[j] = b0[j].qs;
                p->d[b + j] = H2F(b0[j].d);
            }
        }
        int8_t *q = p->q + 32 * b;
        if (k == 4) { /* [b0..b3 values 0-15 | b0..b3 values 16-31]; one lane: 4 low and 4 high values */
            for (size_t j = 0; j < 4; j++) {
                memcpy(q + 16 * j, qs[j], 16);
                memcpy(q + 64 + 16 * j, qs[j] + 16, 16);
            }
            _mm512_storeu_si512(p->off + 8 * b, _mm512_add_epi32(lane_off(q, L->bias), lane_off(q + 64, L->bias)));
        } else if (k == 2) {
            memcpy(q, qs[0], 16);
            memcpy(q + 16, qs[1], 16);
            memcpy(q + 32, qs[0] + 16, 16);
            memcpy(q + 48, qs[1] + 16, 16);
            _mm512_storeu_si512(p->off + 8 * b, lane_off(q, L->bias));
        } else {
            memcpy(q, qs[0], 32);
            __m256i v = _mm256_loadu_si256((const __m256i *)q);
            __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)L->bias), v);
            _mm256_storeu_si256((__m256i *)(p->off + 8 * b), _mm256_sub_epi32(_mm256_setzero_si256(), s));
        }
    }
}

/* lanes 0-3 and 8-11 take the first block's scale, 4-7 and 12-15 the second's */
#define IDX_2BLK _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1)

/* The 64 unpacked levels of two blocks from their 16-byte qs. */
T_VNNI static inline __m512i nibbles2(const uint8_t *qs0, const uint8_t *qs1) {
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qs0)),
                                        _mm_loadu_si128((const __m128i *)qs1), 1);
    const __m256i m = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(v, m), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static inline uint32_t u16_pair(const uint8_t *a, const uint8_t *b) {
    uint16_t x, y;
    memcpy(&x, a, 2);
    memcpy(&y, b, 2);
    return (uint32_t)x | (uint32_t)y << 16;
}

static inline uint64_t u16_four(const uint8_t *a, size_t stride) {
    return u16_pair(a, a + stride) | (uint64_t)u16_pair(a + 2 * stride, a + 3 * stride) << 32;
}

/* lane i of four blocks' sums: the scale of block i / 4 */
#define IDX_4BLK _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)

/* Four blocks from b0 (prep_q8_0's group at block b): acc + their 16 lanes times the blocks' scales;
 * the _1 types' minimums into accm. (Gathering the four blocks' bytes with two 64-byte loads and
 * VBMI byte permutes instead of four 16-byte loads was no faster on Zen 5.) */
T_VNNI static inline __attribute__((always_inline)) __m512 group4(const uint8_t *b0, size_t b, const Legacy *L,
                                                                 const PrepX *p, __m512 acc, __m128 *accm) {
    const size_t bs = L->bs;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m128 mw = _mm_setzero_ps();
    uint64_t ml = 0, mh = 0;
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(b0 + L->qs_at)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(b0 + bs + L->qs_at)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(b0 + 2 * bs + L->qs_at)), 2);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(b0 + 3 * bs + L->qs_at)), 3);
    __m128 dw;
    if (bs * 3 + 2 <= 64 && (!L->m_at || L->m_at + bs * 3 + 2 <= 64)) { /* Q4_0, Q4_1: every scale in the first 64 bytes */
        __m512i raw = _mm512_loadu_si512(b0);
        /* 16-bit lanes 0-3: the four scales (bytes 0, bs, 2 bs, 3 bs); 4-7: the four minimums */
        const int m2 = (int)L->m_at / 2, h = (int)bs / 2;
        const __m512i iw = _mm512_setr_epi32(h << 16, 2 * h | 3 * h << 16, m2 | (m2 + h) << 16,
                                             (m2 + 2 * h) | (m2 + 3 * h) << 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        __m128i dm = _mm512_castsi512_si128(_mm512_permutexvar_epi16(iw, raw));
        dw = _mm_cvtph_ps(dm);
        if (L->m_at) mw = _mm_cvtph_ps(_mm_srli_si128(dm, 8));
    } else {
        dw = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)u16_four(b0, bs)));
        if (L->m_at) mw = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)u16_four(b0 + L->m_at, bs)));
    }
    if (L->qh_at) { /* bit j of qh is the fifth bit of value j */
        for (int j = 0; j < 4; j++) {
            uint32_t h;
            memcpy(&h, b0 + j * bs + L->qh_at, 4);
            ml |= (uint64_t)(h & 0xFFFF) << 16 * j;
            mh |= (uint64_t)(h >> 16) << 16 * j;
        }
    }
    __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    if (L->qh_at) {
        lo = _mm512_mask_add_epi8(lo, (__mmask64)ml, lo, _mm512_set1_epi8(16));
        hi = _mm512_mask_add_epi8(hi, (__mmask64)mh, hi, _mm512_set1_epi8(16));
    }
    __m512i s = _mm512_dpbusd_epi32(_mm512_loadu_si512(p->off + 8 * b), lo, _mm512_loadu_si512(p->q + 32 * b));
    s = _mm512_dpbusd_epi32(s, hi, _mm512_loadu_si512(p->q + 32 * b + 64));
    __m128 dd = _mm_mul_ps(dw, _mm_loadu_ps(p->d + b));
    if (L->m_at) *accm = _mm_fmadd_ps(mw, _mm_loadu_ps(p->sx + b), *accm);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(IDX_4BLK, _mm512_castps128_ps512(dd)), acc);
}

/* One row of a legacy type against prepared x: four blocks at a time (two accumulators in turn),
 * then a pair, then an odd last block, as prep_q8_0 lays x out. Inlined per type (L constant). */
T_VNNI static inline __attribute__((always_inline)) float dot_legacy(const uint8_t *row, size_t nb, const Legacy *L,
                                                                    const PrepX *p) {
    const size_t bs = L->bs;
    const __m512i sixteen = _mm512_set1_epi8(16);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    size_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        acc0 = group4(row + b * bs, b, L, p, acc0, &accm);
        acc1 = group4(row + (b + 4) * bs, b + 4, L, p, acc1, &accm);
    }
    if (b + 4 <= nb) {
        acc0 = group4(row + b * bs, b, L, p, acc0, &accm);
        b += 4;
    }
    if (b + 2 <= nb) {
        const uint8_t *b0 = row + b * bs, *b1 = b0 + bs;
        __m512i w = nibbles2(b0 + L->qs_at, b1 + L->qs_at);
        if (L->qh_at) {
            uint32_t h0, h1;
            memcpy(&h0, b0 + L->qh_at, 4);
            memcpy(&h1, b1 + L->qh_at, 4);
            uint64_t m = (uint64_t)(h0 & 0xFFFF) | (uint64_t)(h1 & 0xFFFF) << 16 | (uint64_t)(h0 >> 16) << 32 |
                         (uint64_t)(h1 >> 16) << 48;
            w = _mm512_mask_add_epi8(w, (__mmask64)m, w, sixteen);
        }
        __m512i s = _mm512_dpbusd_epi32(_mm512_loadu_si512(p->off + 8 * b), w, _mm512_loadu_si512(p->q + 32 * b));
        __m128 dw = _mm_cvtph_ps(_mm_cvtsi32_si128((int)u16_pair(b0, b1)));
        __m128 dd = _mm_mul_ps(dw, _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(p->d + b))));
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(IDX_2BLK, _mm512_castps128_ps512(dd)), acc0);
        if (L->m_at) {
            __m128 mw = _mm_cvtph_ps(_mm_cvtsi32_si128((int)u16_pair(b0 + L->m_at, b1 + L->m_at)));
            accm = _mm_fmadd_ps(mw, _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(p->sx + b))), accm);
        }
        b += 2;
    }
    __m128 m2 = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    float r = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
    if (b < nb) { /* an odd last block: 8 lanes */
        const uint8_t *b0 = row + b * bs;
        __m128i v = _mm_loadu_si128((const __m128i *)(b0 + L->qs_at));
        const __m128i m = _mm_set1_epi8(0x0F);
        __m256i w = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(v, m)),
                                            _mm_and_si128(_mm_srli_epi16(v, 4), m), 1);
        if (L->qh_at) {
            uint32_t h;
            memcpy(&h, b0 + L->qh_at, 4);
            w = _mm256_mask_add_epi8(w, (__mmask32)h, w, _mm256_set1_epi8(16));
        }
        __m256i s = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(p->off + 8 * b)), w,
                                        _mm256_loadu_si256((const __m256i *)(p->q + 32 * b)));
        __m256 f = _mm256_cvtepi32_ps(s);
        __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
        h4 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        h4 = _mm_add_ss(h4, _mm_movehdup_ps(h4));
        uint16_t d0;
        memcpy(&d0, b0, 2);
        r += _mm_cvtss_f32(h4) * (H2F(d0) * p->d[b]);
        if (L->m_at) {
            uint16_t m0;
            memcpy(&m0, b0 + L->m_at, 2);
            r += H2F(m0) * p->sx[b];
        }
    }
    return r;
}



/* ---------- the k-quants against Q8_K super-blocks of 256 ---------- */
static void prep_q8_k(const float *x, size_t n, PrepX *p, bool q4k_order) {
    BlockQ8K blk;
    for (size_t s = 0; s < n / QK_K; s++) {
        actq_quantize(ACT_Q8_K, x + QK_K * s, &blk, QK_K);
        int8_t *q = p->q + QK_K * s;
        if (q4k_order) { /* per 128: [0-31 | 64-95 | 32-63 | 96-127] (Q4_K's nibbles unpack so) */
            for (int h = 0; h < 2; h++) {
                const int8_t *src = blk.qs + 128 * h;
                int8_t *dst = q + 128 * h;
                memcpy(dst, src, 32);
                memcpy(dst + 32, src + 64, 32);
                memcpy(dst + 64, src + 32, 32);
                memcpy(dst + 96, src + 96, 32);
            }
            for (int j = 0; j < 8; j++) p->xsum[8 * s + j] = blk.bsums[2 * j] + blk.bsums[2 * j + 1];
        } else {
            memcpy(q, blk.qs, QK_K);
            for (int j = 0; j < 16; j++) p->xsum[16 * s + j] = blk.bsums[j];
        }
        p->d[s] = blk.d;
    }
}

T_VNNI static void prep_off(PrepX *p, size_t n, int bias) {
    for (size_t i = 0; i < n; i += 64) _mm512_storeu_si512(p->off + i / 4, lane_off(p->q + i, bias));
}

/* For the 64 values c*64 .. c*64+63 of a super-block in order (16 lanes of four): each lane's
 * sub-block of 16 values, 4c + lane / 4 (Q6_K, Q3_K and Q2_K pick their scales with it). */
T_VNNI static inline __m512i sub16_idx(int c) {
    return _mm512_add_epi32(_mm512_set1_epi32(4 * c), _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
}

/* ggml's hsum_float_8: ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)). */
T_VNNI static inline float hsum8_ggml(__m256 acc) {
    __m128 h = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* Q6_K. Per half (128 values): ql's 64 bytes L and qh's 32 bytes H give, per byte l < 32,
 *   value l      = L[l] & 15      | (H[l] & 3) << 4       value l + 32 = L[l+32] & 15 | (H[l] >> 2 & 3) << 4
 *   value l + 64 = L[l] >> 4      | (H[l] >> 4 & 3) << 4  value l + 96 = L[l+32] >> 4 | (H[l] >> 6) << 4
 * so [L & 15 | bits of H] are values 0..63 in order and [L >> 4 | bits of H] 64..127: x stays in
 * order. Levels are 0..63 with a bias of 32; a sub-block of 16 values (4 lanes) has a signed scale.
 * The float steps are ggml's vec_dot_q6_K_q8_K's: per super-block eight exact lane sums (lane l:
 * values 4l .. 4l+3 of every 32) fused into eight accumulators with d = dx * dw, then the lanes
 * added as ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), so a prompt computes llama.cpp's bits. */
T_VNNI static inline __attribute__((always_inline)) float
dot_q6_k(const BlockQ6_K *b, size_t nsb, const PrepX *p) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    /* 16-bit shifts: the first 256 bits take one count, the second another */
    const __m512i sh_a = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh_b = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    __m256 acc = _mm256_setzero_ps();
    for (size_t s = 0; s < nsb; s++) {
        const int8_t *xq = p->q + QK_K * s;
        const int32_t *off = p->off + QK_K / 4 * s;
        __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b[s].scales));
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i L = _mm512_loadu_si512(b[s].ql + 64 * h);
            __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b[s].qh + 32 * h)));
            __m512i qa = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_and_si512(_mm512_sllv_epi16(H, sh_a), m30));
            __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                         _mm512_and_si512(_mm512_srlv_epi16(H, sh_b), m30));
            __m512i da = _mm512_dpbusd_epi32(_mm512_loadu_si512(off + 32 * h), qa, _mm512_loadu_si512(xq + 128 * h));
            __m512i db = _mm512_dpbusd_epi32(_mm512_loadu_si512(off + 32 * h + 16), qb,
                                             _mm512_loadu_si512(xq + 128 * h + 64));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(da, _mm512_permutexvar_epi32(sub16_idx(2 * h), sc)));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(db, _mm512_permutexvar_epi32(sub16_idx(2 * h + 1), sc)));
        }
        /* ggml's lanes: lane l of the eight sums the values 4l .. 4l+3 of every 32 */
        __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(p->d[s] * H2F(b[s].d)), _mm256_cvtepi32_ps(lanes), acc);
    }
    return hsum8_ggml(acc);
}

/* Q4_K and Q5_K: per 64 bytes of qs (two pairs of sub-blocks of 32), the low nibbles are sub-blocks
 * 0 and 2 of the four, the high ones 1 and 3; x is stored to match (prep_q8_k). Levels 0..15 (Q5_K:
 * 0..31, the fifth bit of value 32 j + l being bit j of qh[l]), a six-bit scale and minimum per
 * sub-block: w = d sc q - dmin m, and the minimums meet the sums of x. The float steps are ggml's
 * vec_dot_q4_K_q8_K / vec_dot_q5_K_q8_K's: eight lanes as Q6_K's; the minimums' products in four
 * lanes (Q4_K) or summed whole into one float (Q5_K, a fused multiply-add, as GCC compiles ggml's
 * summs += dmin * sum), added to the lanes' total last. */
T_VNNI static inline __attribute__((always_inline)) float
dot_q45_k(const uint8_t *row, size_t nsb, bool q5, const PrepX *p) {
    const size_t bs = q5 ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
    const size_t qs_at = q5 ? offsetof(BlockQ5_K, qs) : offsetof(BlockQ4_K, qs);
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
    const __m512i idx_lo = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i idx_hi = _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m512i four = _mm512_set1_epi32(4);
    /* which bit of qh each half of lo / hi reads: sub-blocks 4h, 4h+2 / 4h+1, 4h+3 */
    const __m512i bit_lo = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(4), 1);
    const __m512i bit_hi = _mm512_inserti64x4(_mm512_set1_epi8(2), _mm256_set1_epi8(8), 1);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    float summ = 0.0f;
    for (size_t s = 0; s < nsb; s++, row += bs) {
        /* the eight six-bit scales and minimums (kq_scale_min), four at a time in 32-bit words */
        uint32_t w0, w1, w2;
        memcpy(&w0, row + 4, 4);
        memcpy(&w1, row + 8, 4);
        memcpy(&w2, row + 12, 4);
        uint64_t sc = (uint64_t)(w0 & 0x3F3F3F3Fu) |
                      (uint64_t)((w2 & 0x0F0F0F0Fu) | ((w0 >> 6) & 0x03030303u) << 4) << 32;
        uint64_t mn = (uint64_t)(w1 & 0x3F3F3F3Fu) |
                      (uint64_t)(((w2 >> 4) & 0x0F0F0F0Fu) | ((w1 >> 6) & 0x03030303u) << 4) << 32;
        __m512i scv = _mm512_castsi256_si512(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc)));
        __m256i mnv = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mn));
        const int8_t *xq = p->q + QK_K * s;
        __m512i QH = q5 ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(row + 16))) : _mm512_setzero_si512();
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i V = _mm512_loadu_si512(row + qs_at + 64 * h);
            __m512i lo = _mm512_and_si512(V, m4), hi = _mm512_and_si512(_mm512_srli_epi16(V, 4), m4);
            if (q5) {
                lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(QH, _mm512_slli_epi16(bit_lo, 4 * h)), lo, sixteen);
                hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(QH, _mm512_slli_epi16(bit_hi, 4 * h)), hi, sixteen);
            }
            __m512i dl = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(xq + 128 * h));
            __m512i dh = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, _mm512_loadu_si512(xq + 128 * h + 64));
            __m512i il = h ? _mm512_add_epi32(idx_lo, four) : idx_lo, ih = h ? _mm512_add_epi32(idx_hi, four) : idx_hi;
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(dl, _mm512_permutexvar_epi32(il, scv)));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(dh, _mm512_permutexvar_epi32(ih, scv)));
        }
        uint16_t d, dmin;
        memcpy(&d, row, 2);
        memcpy(&dmin, row + 2, 2);
        float dx = p->d[s];
        /* ggml's lanes: lane l of the eight sums the values 4l .. 4l+3 of every sub-block of 32 */
        __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dx * H2F(d)), _mm256_cvtepi32_ps(lanes), acc);
        /* the minimums: per pair of sub-blocks (Q4_K, four lanes) or all eight at once (Q5_K) */
        __m256i ms = _mm256_mullo_epi32(mnv, _mm256_loadu_si256((const __m256i *)(p->xsum + 8 * s)));
        __m128i pairs = _mm_hadd_epi32(_mm256_castsi256_si128(ms), _mm256_extracti128_si256(ms, 1));
        float dm = -dx * H2F(dmin);
        if (q5) {
            __m128i all = _mm_hadd_epi32(_mm_hadd_epi32(pairs, _mm_setzero_si128()), _mm_setzero_si128());
            summ = fmaf(dm, (float)_mm_cvtsi128_si32(all), summ);
        } else {
            accm = _mm_fmadd_ps(_mm_set1_ps(dm), _mm_cvtepi32_ps(pairs), accm);
        }
    }
    if (q5) return hsum8_ggml(acc) + summ;
    accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));
    return hsum8_ggml(acc) + _mm_cvtss_f32(accm);
}

/* Q3_K's sixteen signed scales (kq_q3_scales) in one vector: the low four bits of scale j are the
 * low nibble of byte j (j < 8) or the high nibble of byte j - 8; its top two bits are bits
 * 2 (j / 4) .. +1 of byte 8 + j % 4; minus 32. */
T_VNNI static inline __m128i q3_scales(const uint8_t *p) {
    uint64_t lo8;
    uint32_t w;
    memcpy(&lo8, p, 8);
    memcpy(&w, p + 8, 4);
    const uint32_t M = 0x03030303u;
    __m128i v = _mm_cvtsi64_si128((long long)lo8), m4 = _mm_set1_epi8(0x0F);
    __m128i lo = _mm_unpacklo_epi64(_mm_and_si128(v, m4), _mm_and_si128(_mm_srli_epi16(v, 4), m4));
    __m128i hi = _mm_set_epi64x((long long)((uint64_t)((w >> 4) & M) | (uint64_t)((w >> 6) & M) << 32),
                                (long long)((uint64_t)(w & M) | (uint64_t)((w >> 2) & M) << 32));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
}

/* Q2_K and Q3_K. Per half (128 values), byte l of qs holds four 2-bit levels: value 32 j + l in bits
 * 2j..2j+1, so shifting the 32 bytes by 0 and 2 (then 4 and 6) gives values 0..63 (64..127) in
 * order. Q3_K's third bit of value 32 j + l (over the whole super-block: j = 0..7) is bit j of
 * hmask[l], and its levels are biased by 4; Q2_K has a scale and minimum per 16 values (nibbles),
 * Q3_K a signed six-bit scale. Sub-blocks of 16 values are 4 lanes, as in Q6_K. */
T_VNNI static inline __attribute__((always_inline)) float
dot_q23_k(const uint8_t *row, size_t nsb, bool q3, const PrepX *p) {
    const size_t bs = q3 ? sizeof(BlockQ3_K) : sizeof(BlockQ2_K);
    const size_t qs_at = q3 ? offsetof(BlockQ3_K, qs) : offsetof(BlockQ2_K, qs);
    const __m512i m3 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4), m15 = _mm512_set1_epi32(15);
    const __m512i sh_a = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    const __m512i sh_b = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    const __m512i bit_a = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1);
    const __m512i bit_b = _mm512_inserti64x4(_mm512_set1_epi8(4), _mm256_set1_epi8(8), 1);
    __m512 acc = _mm512_setzero_ps(), accm = acc;
    for (size_t s = 0; s < nsb; s++, row += bs) {
        const int8_t *xq = p->q + QK_K * s;
        const int32_t *off = p->off + QK_K / 4 * s;
        __m512i sc, mn = _mm512_setzero_si512();
        __m512i HM = _mm512_setzero_si512();
        float d;
        if (q3) {
            sc = _mm512_cvtepi8_epi32(q3_scales(row + offsetof(BlockQ3_K, scales)));
            HM = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)row));
            uint16_t dh;
            memcpy(&dh, row + offsetof(BlockQ3_K, d), 2);
            d = H2F(dh);
        } else {
            __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)row));
            sc = _mm512_and_si512(v, m15);
            mn = _mm512_srli_epi32(v, 4);
            uint16_t dh, mh;
            memcpy(&dh, row + offsetof(BlockQ2_K, d), 2);
            memcpy(&mh, row + offsetof(BlockQ2_K, dmin), 2);
            d = H2F(dh);
            __m512 ms = _mm512_cvtepi32_ps(_mm512_mullo_epi32(mn, _mm512_loadu_si512(p->xsum + 16 * s)));
            accm = _mm512_fmadd_ps(ms, _mm512_set1_ps(H2F(mh) * p->d[s]), accm);
        }
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i Q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(row + qs_at + 32 * h)));
            __m512i za = _mm512_and_si512(_mm512_srlv_epi16(Q, sh_a), m3);
            __m512i zb = _mm512_and_si512(_mm512_srlv_epi16(Q, sh_b), m3);
            __m512i oa = _mm512_setzero_si512(), ob = oa;
            if (q3) {
                za = _mm512_mask_add_epi8(za, _mm512_test_epi8_mask(HM, _mm512_slli_epi16(bit_a, 4 * h)), za, four);
                zb = _mm512_mask_add_epi8(zb, _mm512_test_epi8_mask(HM, _mm512_slli_epi16(bit_b, 4 * h)), zb, four);
                oa = _mm512_loadu_si512(off + 32 * h);
                ob = _mm512_loadu_si512(off + 32 * h + 16);
            }
            __m512i da = _mm512_dpbusd_epi32(oa, za, _mm512_loadu_si512(xq + 128 * h));
            __m512i db = _mm512_dpbusd_epi32(ob, zb, _mm512_loadu_si512(xq + 128 * h + 64));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(da, _mm512_permutexvar_epi32(sub16_idx(2 * h), sc)));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(db, _mm512_permutexvar_epi32(sub16_idx(2 * h + 1), sc)));
        }
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * p->d[s]), acc);
    }
    return _mm512_reduce_add_ps(_mm512_sub_ps(acc, accm));
}

/* Every row of [r0, r1) of one type: a function per type, so the type's flags fold into constants
 * (nblk: blocks of 32, or super-blocks of 256 for the k-quants). */
#define KQ_ROWS(T, CALL)                                                                                   \
    T_VNNI static void rows_##T(const uint8_t *row, size_t rb, size_t nblk, const PrepX *p, float *y, size_t n, \
                                bool pf) {                                                                \
        for (size_t r = 0; r < n; r++, row += rb) {                                                       \
            if (pf) prefetch_rows_ahead(row, rb, (n - r) * rb, KQ_AHEAD_BYTES);                           \
            y[r] = CALL;                                                                                  \
        }                                                                                                 \
    }
KQ_ROWS(q4_0, dot_legacy(row, nblk, &LEG_Q4_0, p))
KQ_ROWS(q5_0, dot_legacy(row, nblk, &LEG_Q5_0, p))
KQ_ROWS(q4_1, dot_legacy(row, nblk, &LEG_Q4_1, p))
KQ_ROWS(q5_1, dot_legacy(row, nblk, &LEG_Q5_1, p))
KQ_ROWS(q2_k, dot_q23_k(row, nblk, false, p))
KQ_ROWS(q3_k, dot_q23_k(row, nblk, true, p))
KQ_ROWS(q4_k, dot_q45_k(row, nblk, false, p))
KQ_ROWS(q5_k, dot_q45_k(row, nblk, true, p))
KQ_ROWS(q6_k, dot_q6_k((const BlockQ6_K *)row, nblk, p))
#undef KQ_ROWS

/* pf: prefetch ahead (the first pass over these rows; not when they are already in cache) */
T_VNNI static void run_rows(QType t, const void *w, size_t cols, size_t rb, const PrepX *p, float *y, size_t r0,
                            size_t r1, bool pf) {
    const uint8_t *row = (const uint8_t *)w + r0 * rb;
    const size_t n = r1 - r0, nb = cols / 32;
    switch (t) {
    case QT_Q4_0: rows_q4_0(row, rb, nb, p, y + r0, n, pf); return;
    case QT_Q5_0: rows_q5_0(row, rb, nb, p, y + r0, n, pf); return;
    case QT_Q4_1: rows_q4_1(row, rb, nb, p, y + r0, n, pf); return;
    case QT_Q5_1: rows_q5_1(row, rb, nb, p, y + r0, n, pf); return;
    case QT_Q2_K: rows_q2_k(row, rb, cols / QK_K, p, y + r0, n, pf); return;
    case QT_Q3_K: rows_q3_k(row, rb, cols / QK_K, p, y + r0, n, pf); return;
    case QT_Q4_K: rows_q4_k(row, rb, cols / QK_K, p, y + r0, n, pf); return;
    case QT_Q5_K: rows_q5_k(row, rb, cols / QK_K, p, y + r0, n, pf); return;
    default: rows_q6_k(row, rb, cols / QK_K, p, y + r0, n, pf); return; /* usable() admits Q4_0 .. Q6_K only */
    }
}

#define PREP_STACK 8192 /* values prepared on the stack; longer rows use the heap */

static void prep_for(QType t, const float *x, size_t cols, PrepX *p) {
    switch (t) {
    case QT_Q4_0: prep_q8_0(x, cols, &LEG_Q4_0, p); break;
    case QT_Q5_0: prep_q8_0(x, cols, &LEG_Q5_0, p); break;
    case QT_Q4_1: prep_q8_0(x, cols, &LEG_Q4_1, p); break;
    case QT_Q5_1: prep_q8_0(x, cols, &LEG_Q5_1, p); break;
    case QT_Q4_K:
    case QT_Q5_K: prep_q8_k(x, cols, p, true); break;
    case QT_Q2_K: prep_q8_k(x, cols, p, false); break;
    case QT_Q3_K: prep_q8_k(x, cols, p, false); prep_off(p, cols, 4); break;
    default: prep_q8_k(x, cols, p, false); prep_off(p, cols, 32); break;
    }
}

/* The type is one of ours and the CPU has VNNI: its row bytes in *rb. */
static bool usable(QType t, size_t cols, size_t *rb) {
    return t >= QT_Q4_0 && t <= QT_Q6_K && q8r_supported() && cols % qtype_block(t) == 0 &&
           !qtype_row_bytes(t, cols, rb);
}

int kq_matvec_vnni(QType t, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1) {
    size_t rb;
    if (!usable(t, cols, &rb)) return -1;
    uint8_t stack[2 * PREP_STACK + (PREP_STACK / 32 + 1) * sizeof(float) + PREP_STACK / 4 + 256];
    void *mem = cols <= PREP_STACK ? stack : malloc(prep_bytes(cols));
    if (!mem) return -1;
    PrepX p;
    prep_carve(&p, mem, cols);
    prep_for(t, x, cols, &p);
    run_rows(t, w, cols, rb, &p, y, r0, r1, true);
    if (mem != stack) free(mem);
    return 0;
}

/* Weight rows per chunk of kq_matvecs_vnni: the chunk stays in L1/L2 while every vector goes over it. */
#define MVS_CHUNK_BYTES (16u << 10)

int kq_matvecs_vnni(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                    size_t r1) {
    size_t rb;
    if (n < 1 || !usable(t, cols, &rb)) return -1;
    size_t pb = prep_bytes(cols);
    uint8_t *mem = malloc(pb * (size_t)n);
    PrepX *p = malloc((size_t)n * sizeof *p);
    if (!mem || !p) {
        free(mem);
        free(p);
        return -1;
    }
    for (int v = 0; v < n; v++) { /* each x prepared once, not once per chunk */
        prep_carve(&p[v], mem + pb * (size_t)v, cols);
        prep_for(t, x + (size_t)v * cols, cols, &p[v]);
    }
    size_t chunk = rb >= MVS_CHUNK_BYTES ? 1 : MVS_CHUNK_BYTES / rb;
    for (size_t c0 = r0; c0 < r1; c0 += chunk) {
        size_t c1 = r1 - c0 < chunk ? r1 : c0 + chunk;
        for (int v = 0; v < n; v++) run_rows(t, w, cols, rb, &p[v], y + (size_t)v * ldy, c0, c1, v == 0);
    }
    free(mem);
    free(p);
    return 0;
}

#else
int kq_matvec_vnni(QType t, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1) {
    (void)t, (void)w, (void)cols, (void)x, (void)y, (void)r0, (void)r1;
    return -1;
}
int kq_matvecs_vnni(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                    size_t r1) {
    (void)t, (void)w, (void)cols, (void)x, (void)n, (void)y, (void)ldy, (void)r0, (void)r1;
    return -1;
}
#endif
