/* Weight formats: bit-exact half-precision conversions, Q8_0 as ggml defines it, and the SIMD
 * matrix-vector kernels against a plain double-precision reference on every path the CPU has. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "quant.h"

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static float rndf(void) { return (float)((rnd() >> 11) * 0x1.0p-53) * 2.0f - 1.0f; }

static void test_fp16_known_values_and_round_trip(void **state) {
    (void)state;
    assert_int_equal(fp32_to_fp16(1.0f), 0x3c00);
    assert_int_equal(fp32_to_fp16(-2.0f), 0xc000);
    assert_int_equal(fp32_to_fp16(65504.0f), 0x7bff);
    assert_int_equal(fp32_to_fp16(65520.0f), 0x7c00);      /* rounds up to infinity */
    assert_int_equal(fp32_to_fp16(65519.99f), 0x7bff);
    assert_int_equal(fp32_to_fp16(0.1f), 0x2e66);
    assert_int_equal(fp32_to_fp16(0x1p-24f), 0x0001);       /* smallest subnormal */
    assert_int_equal(fp32_to_fp16(0x1p-25f), 0x0000);       /* tie to even: 0 */
    assert_int_equal(fp32_to_fp16(0x1.8p-24f), 0x0002);     /* tie to even: 2 */
    assert_int_equal(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00); /* tie to even (down) */
    assert_int_equal(fp32_to_fp16(1.0f + 0x3p-11f), 0x3c02); /* tie to even (up) */
    assert_int_equal(fp32_to_fp16(INFINITY), 0x7c00);
    assert_true((fp32_to_fp16(NAN) & 0x7c00) == 0x7c00 && (fp32_to_fp16(NAN) & 0x3ff));
    for (uint32_t h = 0; h < 65536; h++) {
        float f = fp16_to_fp32((uint16_t)h);
        if (isnan(f)) {
            assert_true((h & 0x7c00) == 0x7c00 && (h & 0x3ff));
            continue;
        }
        assert_int_equal(fp32_to_fp16(f), h);
    }
#ifdef __FLT16_MAX__
    /* the compiler's own conversion (round to nearest even) on random bit patterns */
    for (int i = 0; i < 1000000; i++) {
        float f = u2f((uint32_t)rnd());
        if (isnan(f)) continue;
        _Float16 r = (_Float16)f;
        uint16_t want;
        memcpy(&want, &r, 2);
        if (fp32_to_fp16(f) != want) fail_msg("%a: got %04x want %04x", (double)f, fp32_to_fp16(f), want);
        assert_true(fp16_to_fp32(want) == (float)r);
    }
#endif
}

static void test_bf16_round_to_nearest_even(void **state) {
    (void)state;
    assert_int_equal(fp32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(fp32_to_bf16(u2f(0x3f808000)), 0x3f80); /* tie: even stays */
    assert_int_equal(fp32_to_bf16(u2f(0x3f818000)), 0x3f82); /* tie: odd rounds up */
    assert_int_equal(fp32_to_bf16(u2f(0x3f808001)), 0x3f81);
    assert_true(isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
    assert_int_equal(fp32_to_bf16(u2f(0x7f7fffff)), 0x7f80); /* max float rounds to infinity */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bf16_to_fp32((uint16_t)h);
        assert_int_equal(f2u(f), h << 16);
        if (!isnan(f)) assert_int_equal(fp32_to_bf16(f), h);
    }
}

static void test_q8_0_as_ggml(void **state) {
    (void)state;
    float x[64];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
    for (int j = 0; j < 32; j++) x[32 + j] = 0.0f; /* all-zero block: d = 0, q = 0 */
    BlockQ8_0 b[2];
    quant_from_f32(QT_Q8_0, x, b, 64);
    assert_int_equal(b[0].d, fp32_to_fp16(16.0f / 127.0f));
    assert_int_equal(b[0].qs[0], -127);            /* -16 is the block's max |x| */
    assert_int_equal(b[0].qs[16], 0);
    assert_int_equal(b[0].qs[31], (int8_t)roundf(15.0f * (127.0f / 16.0f)));
    assert_int_equal(b[0].qs[24], 64);             /* 8 * 127/16 = 63.5 rounds away from zero */
    assert_int_equal(b[1].d, 0);
    for (int j = 0; j < 32; j++) assert_int_equal(b[1].qs[j], 0);
    float y[64];
    quant_to_f32(QT_Q8_0, b, y, 64);
    float d = fp16_to_fp32(b[0].d);
    for (int j = 0; j < 64; j++) assert_true(fabsf(y[j] - x[j]) <= d * 0.5f + 16.0f * 1e-3f);
    size_t rb;
    assert_int_equal(qtype_row_bytes(QT_Q8_0, 64, &rb), 0);
    assert_int_equal(rb, 68);
    assert_int_equal(qtype_row_bytes(QT_Q8_0, 65, &rb), -1);
    QType t;
    assert_int_equal(qtype_parse("q8_0", &t), 0);
    assert_int_equal(t, QT_Q8_0);
    assert_int_equal(qtype_parse("q4_0", &t), -1);
}

/* Plain reference: dequantize, then sum in double. */
static void check_matvec(QType t, size_t rows, size_t cols) {
    float *wf = malloc(rows * cols * sizeof *wf), *x = malloc(cols * sizeof *x), *deq = malloc(cols * sizeof *deq);
    float *y = malloc(rows * sizeof *y), *y2 = malloc(rows * sizeof *y2), *yp = malloc(rows * sizeof *yp);
    size_t rb;
    assert_int_equal(qtype_row_bytes(t, cols, &rb), 0);
    uint8_t *w = malloc(rows * rb);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = rndf();
    for (size_t i = 0; i < cols; i++) x[i] = rndf() * 3.0f;
    for (size_t r = 0; r < rows; r++) quant_from_f32(t, wf + r * cols, w + r * rb, cols);
    quant_matvec(t, w, cols, x, y, 0, rows); /* the best path */
    static const char *const paths[] = {"portable", "avx2", "avx512"};
    for (int p = 0; p < 3; p++) {
        if (quant_set_path(paths[p])) continue; /* this CPU lacks it */
        quant_matvec(t, w, cols, x, yp, 0, rows);
        for (size_t r = 0; r < rows; r++) y2[r] = p == 0 || fabsf(yp[r] - y[r]) > fabsf(y2[r] - y[r]) ? yp[r] : y2[r];
    }
    assert_int_equal(quant_set_path(NULL), 0);
    for (size_t r = 0; r < rows; r++) {
        quant_to_f32(t, w + r * rb, deq, cols);
        double ref = 0, mag = 0;
        for (size_t c = 0; c < cols; c++) {
            ref += (double)deq[c] * x[c];
            mag += fabs((double)deq[c] * x[c]);
        }
        double tol = 1e-5 * mag + 1e-6;
        if (fabs(y[r] - ref) > tol || fabs(y2[r] - ref) > tol)
            fail_msg("%s %zux%zu row %zu: best path %g, farthest path %g, ref %g", qtype_name(t), rows, cols, r, (double)y[r],
                     (double)y2[r], ref);
        assert_true(fabsf(quant_dot(t, w + r * rb, x, cols) - y[r]) <= tol);
    }
    /* a row range leaves the other rows alone */
    for (size_t r = 0; r < rows; r++) y2[r] = -99.0f;
    quant_matvec(t, w, cols, x, y2, 1, rows - 1);
    assert_true(y2[0] == -99.0f && y2[rows - 1] == -99.0f);
    if (rows > 2) assert_true(y2[1] == y[1]);
    free(wf); free(x); free(deq); free(y); free(y2); free(yp); free(w);
}

static void test_matvec_all_types_all_paths(void **state) {
    (void)state;
    print_message("kernel path on this CPU: %s\n", quant_path_name());
    static const size_t cols_float[] = {1, 7, 16, 31, 64, 100, 1000, 2816};
    static const size_t cols_q8[] = {32, 64, 96, 1024, 2816};
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < sizeof cols_float / sizeof *cols_float; i++) check_matvec((QType)t, 5, cols_float[i]);
    for (size_t i = 0; i < sizeof cols_q8 / sizeof *cols_q8; i++) check_matvec(QT_Q8_0, 5, cols_q8[i]);
}

/* y += a x on every path equals the plain loop (one fma or mul+add per element: within 1 ulp). */
static void test_axpy_all_paths(void **state) {
    (void)state;
    static const char *const paths[] = {"portable", "avx2", "avx512"};
    for (size_t n = 0; n < 70; n++) {
        float x[70], y0[70], y[70];
        for (size_t i = 0; i < n; i++) x[i] = rndf(), y0[i] = rndf();
        for (int p = 0; p < 3; p++) {
            if (quant_set_path(paths[p])) continue;
            memcpy(y, y0, sizeof y);
            quant_axpy(0.37f, x, y, n);
            for (size_t i = 0; i < n; i++) assert_true(fabsf(y[i] - (y0[i] + 0.37f * x[i])) <= 1e-6f);
        }
        assert_int_equal(quant_set_path(NULL), 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_known_values_and_round_trip),
        cmocka_unit_test(test_bf16_round_to_nearest_even),
        cmocka_unit_test(test_q8_0_as_ggml),
        cmocka_unit_test(test_matvec_all_types_all_paths),
        cmocka_unit_test(test_axpy_all_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
