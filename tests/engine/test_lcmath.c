/* llama.cpp's arithmetic (engine/kernels/lcmath.h, q8r_matmul_lc): every path this CPU has gives the
 * same bits as the portable one, each function computes what it names (an exponential, a softmax,
 * a sum of products) to float accuracy, and the tiled GEMM gives each pair the bits of its lone dot.
 * That these bits are llama.cpp's is tests/gguf/test_kquant.py's check against llama.cpp's logits. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "half.h"
#include "lcmath.h"
#include "q8r.h"
#include "quant.h"

static const char *const paths[] = {"portable", "avx2", "avx512"};

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static float rndr(float lo, float hi) { return lo + (hi - lo) * (float)((double)(rnd() >> 11) * 0x1.0p-53); }
static float rnd16(float lo, float hi) { return fp16_to_fp32(fp32_to_fp16(rndr(lo, hi))); } /* fp16-valued */

static bool same_bits(const float *a, const float *b, size_t n, size_t *at) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i])) {
            *at = i;
            return false;
        }
    return true;
}

/* e^x to within a few units in the last place of expf over the range a softmax sees, 0 and
 * infinity past the ends, NaN through. */
static void test_expf(void **state) {
    (void)state;
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = lc_expf(x);
        double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel;
    }
    printf("# lc_expf over [-87, 88]: worst relative error %.3g (%.2f ulp)\n", worst, worst / FLT_EPSILON);
    assert_true(worst < 4 * FLT_EPSILON);
    assert_true(lc_expf(-INFINITY) == 0.0f);
    assert_true(lc_expf(-200.0f) == 0.0f);
    assert_true(isinf(lc_expf(200.0f)));
    assert_true(isnan(lc_expf(NAN)));
    assert_true(lc_expf(0.0f) == 1.0f);
}

/* lc_sum16's pairing, where the order decides whether two halves of an ulp of 1 survive. */
static void test_sum16_order(void **state) {
    (void)state;
    float a[16] = {0}; /* lanes 2 and 10 meet first (2^-23), then 1: kept; in index order both are lost */
    a[0] = 1.0f;
    a[2] = 0x1.0p-24f;
    a[10] = 0x1.0p-24f;
    assert_true(lc_sum16(a) == 1.0f + 0x1.0p-23f);
    float b[16] = {0}; /* (0 + 2) + (1 + 3): lanes 1 and 3 meet before 1; (0 + 1) + (2 + 3) loses both */
    b[0] = 1.0f;
    b[1] = 0x1.0p-24f;
    b[3] = 0x1.0p-24f;
    assert_true(lc_sum16(b) == 1.0f + 0x1.0p-23f);
    float c[16] = {0}; /* 1 + 2^-24 ties to even: 1 */
    c[0] = 1.0f;
    c[8] = 0x1.0p-24f;
    assert_true(lc_sum16(c) == 1.0f);
}

/* The same bits on every path this CPU has, for each function, at sizes off every vector width. */
static void test_paths_agree(void **state) {
    (void)state;
    enum { M = 7, N = 37, K = 96, W = 53 };
    float A[M * K], B[N * K], C0[M * N], C1[M * N];
    for (int i = 0; i < M * K; i++) A[i] = rnd16(-2, 2);
    for (int i = 0; i < N * K; i++) B[i] = rnd16(-2, 2);
    float row0[N], row1[N], sa[3 * W], sb[3 * W], ga[3 * W], gb[3 * W];
    for (int i = 0; i < N; i++) row0[i] = rndr(-30, 10);
    for (int i = 0; i < 3 * W; i++) {
        sa[i] = rndr(-12, 12);
        sb[i] = rndr(-3, 3);
    }
    assert_int_equal(quant_set_path("portable"), 0);
    lc_gemm16(M, N, K, A, K, B, K, C0, N);
    memcpy(row1, row0, sizeof row0);
    lc_softmax(row1, 5, N);
    memcpy(ga, sa, sizeof sa);
    lc_silu_mul(ga, sb, 3 * W, W);
    float want_row[N], want_silu[3 * W];
    memcpy(want_row, row1, sizeof row1);
    memcpy(want_silu, ga, sizeof ga);
    for (int p = 1; p < 3; p++) {
        if (quant_set_path(paths[p])) continue; /* this CPU lacks it */
        size_t at = 0;
        lc_gemm16(M, N, K, A, K, B, K, C1, N);
        if (!same_bits(C0, C1, M * N, &at)) fail_msg("%s: lc_gemm16 pair %zu differs from portable", paths[p], at);
        memcpy(row1, row0, sizeof row0);
        lc_softmax(row1, 5, N);
        if (!same_bits(want_row, row1, N, &at)) fail_msg("%s: lc_softmax element %zu differs", paths[p], at);
        memcpy(gb, sa, sizeof sa);
        lc_silu_mul(gb, sb, 3 * W, W);
        if (!same_bits(want_silu, gb, 3 * W, &at)) fail_msg("%s: lc_silu_mul element %zu differs", paths[p], at);
        printf("# %s: lc_gemm16, lc_softmax, lc_silu_mul: the portable bits\n", paths[p]);
    }
    quant_set_path(NULL);
    /* what they compute: the dot products, a distribution over [5, N), silu(a) b */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double d = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                d += (double)A[i * K + k] * B[j * K + k];
                mag += fabs((double)A[i * K + k] * B[j * K + k]);
            }
            assert_true(fabs(C0[i * N + j] - d) <= 8 * FLT_EPSILON * mag);
        }
    double sum = 0;
    for (int i = 0; i < N; i++) {
        if (i < 5) assert_true(want_row[i] == 0.0f);
        sum += want_row[i];
    }
    assert_true(fabs(sum - 1.0) < 1e-5);
    for (int i = 0; i < 3 * W; i++) {
        double x = sa[i], want = x / (1 + exp(-x)) * sb[i];
        assert_true(fabs(want_silu[i] - want) <= 1e-6 * (fabs(want) + 1e-30) + 1e-30);
    }
}

/* A query at a time (lc_gemm16 of one row: its edge path; lc_mix) and in tiles (lc_gemm16 of 4 x 4)
 * give each pair the same bits. */
static void test_gemm16_is_the_lone_dot(void **state) {
    (void)state;
    enum { T = 9, L = 45, HD = 64, KVD = 128 };
    float q[T * HD], k[L * KVD], v[L * KVD], s1[T * L], s2[L], p[T * 48], vt[HD * 48], o1[T * HD], o2[HD];
    for (int i = 0; i < T * HD; i++) q[i] = rnd16(-1, 1);
    for (int i = 0; i < L * KVD; i++) {
        k[i] = rnd16(-1, 1);
        v[i] = rnd16(-1, 1);
    }
    memset(p, 0, sizeof p);
    for (int t = 0; t < T; t++)
        for (int s = 0; s < L - T + t + 1; s++) p[t * 48 + s] = rnd16(0, 0.1f); /* causal rows, zeros past */
    for (int d = 0; d < HD; d++) {
        for (int s = 0; s < L; s++) vt[d * 48 + s] = v[s * KVD + 64 + d];
        for (int s = L; s < 48; s++) vt[d * 48 + s] = 0;
    }
    for (int pth = 0; pth < 3; pth++) {
        if (quant_set_path(paths[pth])) continue;
        lc_gemm16(T, L, HD, q, HD, k + 64, KVD, s1, L);
        lc_gemm16(T, HD, 48, p, 48, vt, 48, o1, HD);
        for (int t = 0; t < T; t++) {
            size_t at;
            lc_gemm16(1, L, HD, q + t * HD, HD, k + 64, KVD, s2, L);
            if (!same_bits(s1 + t * L, s2, L, &at)) fail_msg("%s: scores of query %d, key %zu", paths[pth], t, at);
            lc_mix(p + t * 48, v + 64, KVD, L, HD, o2);
            if (!same_bits(o1 + t * HD, o2, HD, &at)) fail_msg("%s: mix of query %d, dim %zu", paths[pth], t, at);
        }
    }
    quant_set_path(NULL);
}

/* q8r_matmul_lc: the VNNI kernel gives the portable bits, rows not a multiple of 16, an odd number
 * of blocks, 1 to 3 tokens; and each token's result does not depend on the others. */
static void test_q8r_matmul_lc(void **state) {
    (void)state;
    if (!q8r_supported()) {
        printf("# no AVX-512 VNNI: the portable path only\n");
    }
    static const size_t colss[] = {96, 256, 800};
    for (size_t ci = 0; ci < 3; ci++) {
        size_t cols = colss[ci], rows = 37, rb = q8r_row_bytes(cols);
        uint8_t *w = aligned_alloc(64, (rows * rb + 63) / 64 * 64);
        float *row = malloc(cols * sizeof *row), *x = malloc(3 * cols * sizeof *x);
        float y0[3 * 37], y1[3 * 37], y2[37];
        for (size_t r = 0; r < rows; r++) {
            for (size_t c = 0; c < cols; c++) row[c] = rndr(-1, 1) * (r == 5 ? 0.0f : 1.0f); /* a zero row */
            q8r_from_f32(row, w + r * rb, cols);
        }
        for (size_t i = 0; i < 3 * cols; i++) x[i] = rndr(-3, 3);
        for (int n = 1; n <= 3; n++) {
            q8r_matmul_lc(false, w, cols, x, n, y0, rows, 0, rows);
            if (q8r_supported()) {
                q8r_matmul_lc(true, w, cols, x, n, y1, rows, 0, rows);
                size_t at;
                if (!same_bits(y0, y1, (size_t)n * rows, &at))
                    fail_msg("cols %zu, %d tokens: VNNI differs from portable at %zu", cols, n, at);
                q8r_matmul_lc(true, w, cols, x + cols, 1, y2, rows, 3, rows); /* token 1 alone, rows 3 .. */
                if (n >= 2 && !same_bits(y1 + rows + 3, y2 + 3, rows - 3, &at))
                    fail_msg("cols %zu: token 1 alone differs at row %zu", cols, at + 3);
            }
            for (size_t r = 0; r < rows; r++) { /* a dot product of the dequantized rows, to the rounding */
                q8r_to_f32(w + r * rb, row, cols);
                double d = 0, mag = 0;
                for (size_t c = 0; c < cols; c++) {
                    d += (double)row[c] * x[c];
                    mag += fabs((double)row[c] * x[c]);
                }
                assert_true(fabs(y0[r] - d) <= 0.02 * mag + 1e-6); /* x's int8 rounding: half a step of 3/127 */
            }
        }
        free(w);
        free(row);
        free(x);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expf),
        cmocka_unit_test(test_sum16_order),
        cmocka_unit_test(test_paths_agree),
        cmocka_unit_test(test_gemm16_is_the_lone_dot),
        cmocka_unit_test(test_q8r_matmul_lc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
