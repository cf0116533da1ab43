/* C = A B^T for prompt batches: an AVX-512 kernel in the BLIS layout.
 *
 * Loops, outer to inner: columns of C in blocks of GEMM_NC, K in blocks of GEMM_KC (B's block
 * converted to F32 and packed as panels [k][64]), panels of 64 columns, then rows of A six at a
 * time. A 6 x 64 block of C lives in 24 zmm registers while the kernel walks the block's K: per k,
 * four loads of the packed panel (which stays in L1 across the whole of A) and six broadcasts of
 * A, for 24 FMAs. A is read in place (rows of the activations; no packing needed for broadcasts). */
#include "gemm.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define MR 6
#define NR 64

#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

/* ---------- packing: B's block [n0, n0+NR) x [k0, k0+kc) into panel[k][NR], as F32 ---------- */

/* 16 x 16 transpose in registers: r[i][j] -> r[j][i]. */
T_AVX512 static INLINE void transpose16(__m512 r[16]) {
    __m512 a[16], b[16];
#pragma GCC unroll 16
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* groups of four rows: b[4g + c] holds, in 128-bit lane l, rows 4g..4g+3 at column 4l + c */
#pragma GCC unroll 16
    for (int g = 0; g < 4; g++) {
        __m512 x = a[4 * g], y = a[4 * g + 1], z = a[4 * g + 2], w = a[4 * g + 3];
        b[4 * g + 0] = _mm512_shuffle_ps(x, z, 0x44);
        b[4 * g + 1] = _mm512_shuffle_ps(x, z, 0xEE);
        b[4 * g + 2] = _mm512_shuffle_ps(y, w, 0x44);
        b[4 * g + 3] = _mm512_shuffle_ps(y, w, 0xEE);
    }
#pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        __m512 u0 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x44), u1 = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xEE);
        __m512 u2 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x44), u3 = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
}

/* Values [k, k+cnt) (cnt <= 16) of row `row` (of `cols` values) as F32, zeros beyond cnt.
 * Q8_0 and Q8R: k % 16 == 0, cnt == 16. */
T_AVX512 static INLINE __m512 load_row16(QType dt, const uint8_t *row, int cols, int k, int cnt) {
    __mmask16 m = cnt >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cnt) - 1);
    switch (dt) {
    default: break; /* the block types go through pack_nk_deq */
    case QT_F32: return _mm512_maskz_loadu_ps(m, (const float *)row + k);
    case QT_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k));
    case QT_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + k)), 16));
    case QT_Q8_0: {
        const BlockQ8_0 *b = (const BlockQ8_0 *)row + k / QK8_0;
        __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b->qs + k % QK8_0))));
        return _mm512_mul_ps(q, _mm512_set1_ps(_cvtsh_ss(b->d)));
    }
    case QT_Q8R: { /* q + 128 bytes, pairs of blocks interleaved by 4 bytes, then the row's scales (q8r.c) */
        size_t b = (size_t)k / QK8_0, nb = (size_t)cols / QK8_0, h = (size_t)(k % QK8_0) / 16;
        __m128i q8;
        if ((b | 1) < nb) { /* groups 4h..4h+3 of block b: every other 4 bytes of 32 */
            __m256i g = _mm256_loadu_si256((const __m256i *)(row + (b / 2) * 64 + 32 * h));
            __m256i ix = _mm256_add_epi32(_mm256_set_epi32(7, 7, 7, 7, 6, 4, 2, 0), _mm256_set1_epi32((int)(b & 1)));
            q8 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(g, ix));
        } else { /* the odd last block, as it is */
            q8 = _mm_loadu_si128((const __m128i *)(row + (b / 2) * 64 + 16 * h));
        }
        __m512i u = _mm512_cvtepu8_epi32(q8);
        __m512 q = _mm512_cvtepi32_ps(_mm512_sub_epi32(u, _mm512_set1_epi32(128)));
        const uint16_t *d = (const uint16_t *)(row + cols);
        return _mm512_mul_ps(q, _mm512_set1_ps(_cvtsh_ss(d[k / QK8_0])));
    }
    }
    return _mm512_setzero_ps();
}

/* Rows [n0, n0+NR) of B, values [k0, k0+kn), transposed into K blocks of GEMM_KC: the values of
 * block kb go to dst + kb * kstride as [kc][NR]. Each row is read from start to end in one sweep.
 * Columns past n_end repeat the last row: their results are masked off when C is stored. */
T_AVX512 static INLINE void pack_nk_t(const QType dt, const GemmB *B, int K, int n0, int n_end, int k0, int kn, float *dst,
                                      size_t kstride) {
    for (int g = 0; g < NR / 16; g++) {
        const uint8_t *rows[16];
        for (int i = 0; i < 16; i++) {
            int n = n0 + 16 * g + i;
            if (n >= n_end) n = n_end - 1;
            rows[i] = (const uint8_t *)B->data + (size_t)n * B->row_bytes;
        }
        for (int kk = 0; kk < kn; kk += 16) {
            int cnt = kn - kk < 16 ? kn - kk : 16;
            float *panel = dst + (size_t)(kk / GEMM_KC) * kstride + (size_t)(kk % GEMM_KC) * NR + 16 * g;
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++) r[i] = load_row16(dt, rows[i], K, k0 + kk, cnt);
            transpose16(r);
            if (cnt == 16) {
#pragma GCC unroll 16
                for (int t = 0; t < 16; t++) _mm512_store_ps(panel + (size_t)t * NR, r[t]);
            } else {
#pragma GCC unroll 16
                for (int t = 0; t < 16; t++)
                    if (t < cnt) _mm512_store_ps(panel + (size_t)t * NR, r[t]);
            }
        }
    }
}

/* pack_nk for the 4/5-bit and k-quant types (kquant.h): sixteen rows' values [k, k + 256) are
 * dequantized into a small buffer (k0 and the block lengths are whole blocks: K is a multiple of
 * the block, and K blocks start at multiples of GEMM_KC), then transposed as F32 rows. */
T_AVX512 static void pack_nk_deq(const GemmB *B, int n0, int n_end, int k0, int kn, float *dst, size_t kstride) {
    _Alignas(64) float tmp[16][GEMM_KC];
    size_t blk = qtype_block(B->dt), bb = 0;
    qtype_row_bytes(B->dt, blk, &bb);
    for (int g = 0; g < NR / 16; g++)
        for (int kk = 0; kk < kn; kk += GEMM_KC) {
            int len = kn - kk < GEMM_KC ? kn - kk : GEMM_KC;
            for (int i = 0; i < 16; i++) {
                int n = n0 + 16 * g + i;
                if (n >= n_end) n = n_end - 1;
                const uint8_t *row = (const uint8_t *)B->data + (size_t)n * B->row_bytes;
                quant_to_f32(B->dt, row + (size_t)(k0 + kk) / blk * bb, tmp[i], (size_t)len);
            }
            for (int k = 0; k < len; k += 16) {
                int cnt = len - k < 16 ? len - k : 16;
                __mmask16 m = cnt >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cnt) - 1);
                float *panel = dst + (size_t)((kk + k) / GEMM_KC) * kstride + (size_t)((kk + k) % GEMM_KC) * NR + 16 * g;
                __m512 r[16];
                for (int i = 0; i < 16; i++) r[i] = _mm512_maskz_loadu_ps(m, tmp[i] + k);
                transpose16(r);
                for (int t = 0; t < cnt; t++) _mm512_store_ps(panel + (size_t)t * NR, r[t]);
            }
        }
}

T_AVX512 static void pack_nk(const GemmB *B, int K, int n0, int n_end, int k0, int kn, float *dst, size_t kstride) {
    switch (B->dt) {
    case QT_F32: pack_nk_t(QT_F32, B, K, n0, n_end, k0, kn, dst, kstride); break;
    case QT_F16: pack_nk_t(QT_F16, B, K, n0, n_end, k0, kn, dst, kstride); break;
    case QT_BF16: pack_nk_t(QT_BF16, B, K, n0, n_end, k0, kn, dst, kstride); break;
    case QT_Q8_0: pack_nk_t(QT_Q8_0, B, K, n0, n_end, k0, kn, dst, kstride); break;
    case QT_Q8R: pack_nk_t(QT_Q8R, B, K, n0, n_end, k0, kn, dst, kstride); break;
    default: pack_nk_deq(B, n0, n_end, k0, kn, dst, kstride); break;
    }
}

/* B stored [K][N] (F32): rows [k0, k0+kn) of B, columns [n0, n0+NR) (zeros past n_end), in the
 * same K blocks as pack_nk. */
T_AVX512 static void pack_kn(const GemmB *B, int n0, int n_end, int k0, int kn, float *dst, size_t kstride) {
    __mmask16 m[4];
    for (int j = 0; j < 4; j++) {
        int left = n_end - (n0 + 16 * j);
        m[j] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    for (int k = 0; k < kn; k++) {
        const float *src = (const float *)((const uint8_t *)B->data + (size_t)(k0 + k) * B->row_bytes) + n0;
        float *panel = dst + (size_t)(k / GEMM_KC) * kstride + (size_t)(k % GEMM_KC) * NR;
        for (int j = 0; j < 4; j++) _mm512_store_ps(panel + 16 * j, _mm512_maskz_loadu_ps(m[j], src + 16 * j));
    }
}

/* ---------- the kernel: C[mr][64] (+)= A[mr][kc] panel[kc][64] ---------- */
T_AVX512 static INLINE void kernel(const int mr, int kc, const float *A, size_t lda, const float *panel, float *C,
                                   size_t ldc, const __mmask16 m[4], bool acc) {
    __m512 c[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < 4; j++) c[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const float *p = panel + (size_t)k * NR;
        __m512 b0 = _mm512_load_ps(p), b1 = _mm512_load_ps(p + 16), b2 = _mm512_load_ps(p + 32),
               b3 = _mm512_load_ps(p + 48);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(A[(size_t)i * lda + k]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
            c[i][2] = _mm512_fmadd_ps(a, b2, c[i][2]);
            c[i][3] = _mm512_fmadd_ps(a, b3, c[i][3]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < 4; j++) {
            float *dst = C + (size_t)i * ldc + 16 * j;
            __m512 v = c[i][j];
            if (acc) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m[j], dst));
            _mm512_mask_storeu_ps(dst, m[j], v);
        }
}

T_AVX512 static void kernel_any(int mr, int kc, const float *A, size_t lda, const float *panel, float *C, size_t ldc,
                                const __mmask16 m[4], bool acc) {
    switch (mr) {
    case 6: kernel(6, kc, A, lda, panel, C, ldc, m, acc); break;
    case 5: kernel(5, kc, A, lda, panel, C, ldc, m, acc); break;
    case 4: kernel(4, kc, A, lda, panel, C, ldc, m, acc); break;
    case 3: kernel(3, kc, A, lda, panel, C, ldc, m, acc); break;
    case 2: kernel(2, kc, A, lda, panel, C, ldc, m, acc); break;
    default: kernel(1, kc, A, lda, panel, C, ldc, m, acc); break;
    }
}

/* Packed layout of a block of nc columns and ks values of K: K blocks of GEMM_KC one after another,
 * each holding the block's panels of NR columns as [kc][NR]. */
T_AVX512 static void gemm_avx512(int M, int K, const float *A, size_t lda, const GemmB *B, int n0, int n1, float *C,
                                 size_t ldc, bool accumulate, float *pack) {
    /* as many columns per block as let the whole of K fit the scratch (rows packed in one sweep) */
    int nc_max = (int)(GEMM_PACK_FLOATS / (size_t)K) / NR * NR;
    if (nc_max < NR) nc_max = NR;
    if (nc_max > 1024) nc_max = 1024;
    for (int jc = n0; jc < n1; jc += nc_max) {
        int nc = n1 - jc < nc_max ? n1 - jc : nc_max;
        int panels = (nc + NR - 1) / NR;
        size_t nc_pad = (size_t)panels * NR;
        /* K in super-blocks that fit the scratch (all of K unless K is very long) */
        int ks_max = (int)(GEMM_PACK_FLOATS / nc_pad) / GEMM_KC * GEMM_KC;
        for (int ks = 0; ks < K; ks += ks_max) {
            int kn = K - ks < ks_max ? K - ks : ks_max;
            size_t kstride = (size_t)GEMM_KC * nc_pad;
            for (int p = 0; p < panels; p++) {
                /* panel p of K block kb starts at kb * kstride + p * kc(kb) * NR */
                if (B->kn) {
                    for (int kb = 0; kb < kn; kb += GEMM_KC) {
                        int kc = kn - kb < GEMM_KC ? kn - kb : GEMM_KC;
                        pack_kn(B, jc + p * NR, n1, ks + kb, kc, pack + (size_t)(kb / GEMM_KC) * kstride + (size_t)p * kc * NR,
                                kstride);
                    }
                } else {
                    /* full K blocks share one stride; the last, shorter block is packed on its own */
                    int full = kn / GEMM_KC * GEMM_KC;
                    if (full) pack_nk(B, K, jc + p * NR, n1, ks, full, pack + (size_t)p * GEMM_KC * NR, kstride);
                    if (full < kn)
                        pack_nk(B, K, jc + p * NR, n1, ks + full, kn - full,
                                pack + (size_t)(full / GEMM_KC) * kstride + (size_t)p * (kn - full) * NR, kstride);
                }
            }
            for (int kb = 0; kb < kn; kb += GEMM_KC) {
                int kc = kn - kb < GEMM_KC ? kn - kb : GEMM_KC;
                bool acc = accumulate || ks + kb > 0;
                for (int p = 0; p < panels; p++) {
                    int j0 = jc + p * NR;
                    __mmask16 m[4];
                    for (int j = 0; j < 4; j++) {
                        int left = n1 - (j0 + 16 * j);
                        m[j] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
                    }
                    const float *panel = pack + (size_t)(kb / GEMM_KC) * kstride + (size_t)p * kc * NR;
                    for (int i = 0; i < M; i += MR) {
                        int mr = M - i < MR ? M - i : MR;
                        kernel_any(mr, kc, A + (size_t)i * lda + ks + kb, lda, panel, C + (size_t)i * ldc + j0, ldc, m,
                                   acc);
                    }
                }
            }
        }
    }
}

bool gemm_available(void) { return quant_path() == QUANT_PATH_AVX512; }

void gemm_cols(int M, int K, const float *A, size_t lda, const GemmB *B, int n0, int n1, float *C, size_t ldc,
               bool accumulate, float *pack) {
    if (M <= 0 || n1 <= n0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc + n0, 0, (size_t)(n1 - n0) * sizeof *C);
        return;
    }
    gemm_avx512(M, K, A, lda, B, n0, n1, C, ldc, accumulate, pack);
}

#else /* not x86-64: sgemm does the batches */

bool gemm_available(void) { return false; }

void gemm_cols(int M, int K, const float *A, size_t lda, const GemmB *B, int n0, int n1, float *C, size_t ldc,
               bool accumulate, float *pack) {
    (void)M, (void)K, (void)A, (void)lda, (void)B, (void)n0, (void)n1, (void)C, (void)ldc, (void)accumulate, (void)pack;
}

#endif
