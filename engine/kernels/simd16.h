/* Private to engine/kernels: horizontal sums of 16 floats in one fixed order, so that kernels that
 * must agree bit for bit (quant.c's dot and its 16-row form, lcmath.c's llama.cpp order) do not
 * depend on how a compiler expands _mm512_reduce_add_ps. The order is GCC 12's expansion of it:
 * the upper eight lanes onto the lower, then the upper four of those, then lanes 0 + 2 and 1 + 3,
 * then those two. Include only on x86, after <immintrin.h>. */
#ifndef ABLAB_SIMD16_H
#define ABLAB_SIMD16_H

#include <immintrin.h>

#define T_SIMD16 __attribute__((target("avx512f,avx2,fma")))

T_SIMD16 static inline float sum16_avx512(__m512 a) {
    __m256 t8 = _mm256_add_ps(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)), _mm512_castps512_ps256(a));
    __m128 t4 = _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
    __m128 t2 = _mm_add_ps(t4, _mm_shuffle_ps(t4, t4, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(t2) + _mm_cvtss_f32(_mm_shuffle_ps(t2, t2, 1));
}

/* 16 vectors summed as sum16_avx512 sums each: the same pairs at every level, the vectors
 * interleaved by shuffles (31 shuffles and 15 adds for 16 sums); lane i = sum16_avx512(a[i]). */
T_SIMD16 static inline __m512 sum16x16_avx512(const __m512 a[16]) {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512 b[8], c4[4], d[2];
    _Pragma("GCC unroll 8") for (int p = 0; p < 8; p++) /* upper eight lanes onto the lower: 2p, 2p+1 */
        b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++) /* then four: block m is 4p + m */
        c4[p] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    _Pragma("GCC unroll 2") for (int p = 0; p < 2; p++) /* lanes 0 + 2 and 1 + 3 */
        d[p] = _mm512_add_ps(_mm512_shuffle_ps(c4[2 * p], c4[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(c4[2 * p], c4[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 r = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_permutexvar_ps(order, r); /* lane 4m + j held vector m + 4j */
}

#endif
