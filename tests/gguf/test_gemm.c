/* gemm.c, the prompt-batch kernel: C = A B^T for every weight dtype and both layouts, against a
 * double-precision reference over the same (dequantized) weights. Sizes cross every edge the
 * kernel has: rows not a multiple of its 6, columns not a multiple of its 64, K not a multiple of
 * 16 nor of its K block, a column range [n0, n1) that starts inside a panel, and accumulation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gemm.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static float rndf(void) { return (float)((rnd() >> 11) * 0x1.0p-53) * 2.0f - 1.0f; }

static float *pack_buf(void) {
    float *p = NULL;
    assert_int_equal(posix_memalign((void **)&p, 64, GEMM_PACK_FLOATS * sizeof(float)), 0);
    return p;
}

/* One case: B of dtype dt, [N][K] (or [K][N] when kn), checked over columns [n0, n1). */
static void check(QType dt, bool kn, int M, int N, int K, int n0, int n1, bool accumulate) {
    size_t lda = (size_t)K + 3, ldc = (size_t)N + 5; /* strides wider than the rows, as in attention */
    float *A = malloc((size_t)M * lda * sizeof *A);
    float *Bf = malloc((size_t)N * K * sizeof *Bf); /* logical B[n][k] as F32 (after dequantizing) */
    float *C = malloc((size_t)M * ldc * sizeof *C);
    float *C0 = malloc((size_t)M * ldc * sizeof *C0);
    assert_non_null(A); assert_non_null(Bf); assert_non_null(C); assert_non_null(C0);
    for (size_t i = 0; i < (size_t)M * lda; i++) A[i] = rndf();
    for (size_t i = 0; i < (size_t)M * ldc; i++) C0[i] = C[i] = rndf();
    size_t rb = 0;
    void *Bs;
    if (kn) { /* stored [K][N] with two floats of padding per row */
        rb = ((size_t)N + 2) * sizeof(float);
        float *b = calloc((size_t)K, rb);
        assert_non_null(b);
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++) b[(size_t)k * (N + 2) + n] = Bf[(size_t)n * K + k] = rndf();
        Bs = b;
    } else {
        assert_int_equal(qtype_row_bytes(dt, (size_t)K, &rb), 0);
        Bs = calloc((size_t)N, rb);
        float *row = malloc((size_t)K * sizeof *row);
        assert_non_null(Bs); assert_non_null(row);
        for (int n = 0; n < N; n++) {
            for (int k = 0; k < K; k++) row[k] = rndf();
            quant_from_f32(dt, row, (char *)Bs + (size_t)n * rb, (size_t)K);
            quant_to_f32(dt, (char *)Bs + (size_t)n * rb, Bf + (size_t)n * K, (size_t)K); /* what the kernel sees */
        }
        free(row);
    }
    GemmB B = {dt, Bs, rb, kn};
    float *pack = pack_buf();
    gemm_cols(M, K, A, lda, &B, n0, n1, C, ldc, accumulate, pack);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            size_t at = (size_t)i * ldc + (size_t)n;
            if (n < n0 || n >= n1) { /* outside the range: untouched */
                assert_true(C[at] == C0[at]);
                continue;
            }
            double ref = accumulate ? C0[at] : 0.0, mag = fabs(ref);
            for (int k = 0; k < K; k++) {
                ref += (double)A[(size_t)i * lda + k] * Bf[(size_t)n * K + k];
                mag += fabs((double)A[(size_t)i * lda + k] * Bf[(size_t)n * K + k]);
            }
            /* float sums of K products: the error grows at most like K * eps * sum |a b| */
            double err = fabs(C[at] - ref) / (mag + 1e-30);
            if (err > worst) worst = err;
        }
    if (worst > 1e-6 * (K > 16 ? K / 16.0 : 1.0)) {
        fprintf(stderr, "dt %s kn %d M %d N %d K %d [%d,%d) acc %d: relative error %g\n", qtype_name(dt), kn, M, N, K,
                n0, n1, accumulate, worst);
        fail();
    }
    free(pack);
    free(A); free(Bf); free(C); free(C0); free(Bs);
}

static void test_gemm_all_dtypes_and_edges(void **state) {
    (void)state;
    if (!gemm_available()) skip(); /* sgemm does the batches on this CPU */
    static const QType dts[] = {QT_F32, QT_F16, QT_BF16, QT_Q8_0, QT_Q8R};
    static const int shapes[][3] = {/* M, N, K */
                                    {1, 1, 32},    {6, 64, 64},   {7, 65, 96},  {13, 130, 288},
                                    {5, 200, 544}, {64, 64, 512}, {3, 700, 32}, {12, 1030, 64}};
    for (size_t d = 0; d < sizeof dts / sizeof *dts; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            check(dts[d], false, M, N, K, 0, N, false);
            check(dts[d], false, M, N, K, N / 3, N - N / 5, true);
        }
    /* the 4/5-bit and k-quant types (dequantized in blocks of rows as they are packed): K past one
     * K block and past the scratch's super-block, rows not a multiple of the panel */
    static const int kshapes[][3] = {{3, 70, 256}, {7, 130, 768}, {6, 64, 2816}, {2, 1030, 512}};
    for (int t = QT_Q4_0; t <= QT_Q6_K; t++)
        for (size_t s = 0; s < sizeof kshapes / sizeof *kshapes; s++) {
            int M = kshapes[s][0], N = kshapes[s][1], K = kshapes[s][2];
            check((QType)t, false, M, N, K, 0, N, false);
            check((QType)t, false, M, N, K, N / 3, N - N / 5, true);
        }
    /* F32 only: K not a multiple of 16 or of the K block */
    static const int odd[][3] = {{4, 33, 1}, {9, 17, 15}, {6, 100, 257}, {2, 64, 600}, {11, 5, 37}};
    for (size_t s = 0; s < sizeof odd / sizeof *odd; s++) {
        check(QT_F32, false, odd[s][0], odd[s][1], odd[s][2], 0, odd[s][1], false);
        check(QT_F16, false, odd[s][0], odd[s][1], odd[s][2], 1, odd[s][1], true);
        check(QT_F32, true, odd[s][0], odd[s][1], odd[s][2], 0, odd[s][1], false);
        check(QT_F32, true, odd[s][0], odd[s][1], odd[s][2], odd[s][1] / 2, odd[s][1], true);
    }
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        check(QT_F32, true, shapes[s][0], shapes[s][1], shapes[s][2], 0, shapes[s][1], false);
}

static void test_gemm_forced_paths_decline(void **state) {
    (void)state;
    if (!gemm_available()) skip();
    /* a forced lower path (tests comparing kernels) must send batches back to sgemm */
    assert_int_equal(quant_set_path("avx2"), 0);
    assert_false(gemm_available());
    assert_int_equal(quant_set_path(NULL), 0);
    assert_true(gemm_available());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_all_dtypes_and_edges),
        cmocka_unit_test(test_gemm_forced_paths_decline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
