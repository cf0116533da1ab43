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

#include "actq.h"
#include "kquant.h"
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
    assert_int_equal(qtype_parse("q4_2", &t), -1);
}

/* The 4/5-bit and k-quant types: layout sizes as GGUF's, names and ggml ids both ways, and a round
 * trip through each quantizer on random, all-zero, constant and near-zero rows (bytes identical to
 * llama-quantize's are checked on whole models in test_kquant.py). */
static void test_kquant_round_trips(void **state) {
    (void)state;
    static const struct { QType t; const char *name; int ggml; size_t blk, bytes; double rel_err; } k[] = {
        {QT_Q4_0, "q4_0", 2, 32, 18, 0.06},   {QT_Q4_1, "q4_1", 3, 32, 20, 0.04},  {QT_Q5_0, "q5_0", 6, 32, 22, 0.03},
        {QT_Q5_1, "q5_1", 7, 32, 24, 0.02},   {QT_Q2_K, "q2_K", 10, 256, 84, 0.2}, {QT_Q3_K, "q3_K", 11, 256, 110, 0.08},
        {QT_Q4_K, "q4_K", 12, 256, 144, 0.04}, {QT_Q5_K, "q5_K", 13, 256, 176, 0.02}, {QT_Q6_K, "q6_K", 14, 256, 210, 0.01},
    };
    enum { N = 1024 };
    float x[N], y[N];
    uint8_t q[N * 2];
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        QType t;
        assert_string_equal(qtype_name(k[i].t), k[i].name);
        assert_int_equal(qtype_parse(k[i].name, &t), 0);
        assert_int_equal(t, k[i].t);
        assert_int_equal(qtype_to_ggml(k[i].t), k[i].ggml);
        assert_int_equal(qtype_from_ggml(k[i].ggml, &t), 0);
        assert_int_equal(t, k[i].t);
        assert_int_equal(qtype_block(k[i].t), k[i].blk);
        size_t rb;
        assert_int_equal(qtype_row_bytes(k[i].t, N, &rb), 0);
        assert_int_equal(rb, N / k[i].blk * k[i].bytes);
        assert_int_equal(qtype_row_bytes(k[i].t, k[i].blk + 16, &rb), -1);
        for (int kind = 0; kind < 4; kind++) {
            for (int j = 0; j < N; j++)
                x[j] = kind == 0 ? rndf() : kind == 1 ? 0.0f : kind == 2 ? 0.75f : rndf() * 1e-20f;
            quant_from_f32(k[i].t, x, q, N);
            quant_to_f32(k[i].t, q, y, N);
            double err = 0;
            for (int j = 0; j < N; j++) {
                assert_true(isfinite(y[j]));
                err += fabs((double)y[j] - x[j]);
            }
            err /= N;
            if (kind == 0 && err > k[i].rel_err) fail_msg("%s: mean |error| %g on values in [-1, 1]", k[i].name, err);
            if (kind == 1) for (int j = 0; j < N; j++) assert_true(y[j] == 0.0f);
            if (kind == 2 && err > 0.75 * k[i].rel_err) fail_msg("%s: constant 0.75 comes back %g off", k[i].name, err);
            if (kind == 3 && err > 1e-20) fail_msg("%s: values of 1e-20 come back %g off", k[i].name, err);
        }
    }
    QType t;
    assert_int_equal(qtype_parse("Q4_K", &t), 0); /* ggml's spelling, any case */
    assert_int_equal(qtype_from_ggml(20, &t), -1); /* iq4_nl: not read */
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
    /* x as matmul.c hands it to a block type: rounded to the int8 grid ggml rounds it to, which the
     * integer kernels (Q8R, kquant_vnni.c) quantize back without loss */
    if (actq_type(t) != ACT_NONE) actq_round_f32(actq_type(t), x, x, cols);
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
        /* the _1 types' integer path adds m s with s = d sum(q) of x in fp16, as ggml does (Q8_1):
         * that term is off the float product by up to 2^-11 of itself */
        double tol = (t == QT_Q4_1 || t == QT_Q5_1 ? 5e-4 : 1e-5) * mag + 1e-6;
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
    /* the 4/5-bit blocks of 32 and the k-quants' super-blocks of 256 */
    /* blocks of 32: 1, 2, 3, 5, 7 and 32 of them (the integer kernel takes four, then a pair, then one) */
    static const size_t cols_32[] = {32, 64, 96, 160, 224, 1024}, cols_256[] = {256, 768, 2816};
    for (int t = QT_Q4_0; t <= QT_Q5_1; t++)
        for (size_t i = 0; i < sizeof cols_32 / sizeof *cols_32; i++) check_matvec((QType)t, 5, cols_32[i]);
    for (int t = QT_Q2_K; t <= QT_Q6_K; t++)
        for (size_t i = 0; i < 3; i++) check_matvec((QType)t, 5, cols_256[i]);
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

/* ---------- Q8R: Q8_0 repacked for integer dots ---------- */
/* The same weights as Q8_0, byte for byte, in another order; conversions both ways are exact. */
static void test_q8r_layout_round_trip(void **state) {
    (void)state;
    static const size_t widths[] = {32, 64, 96, 480, 512, 768, 800, 1024, 2816, 3072};
    assert_int_equal(q8r_row_bytes(32), 34);     /* short rows: no padding */
    assert_int_equal(q8r_row_bytes(768), 832);   /* 816, padded to whole cache lines */
    assert_int_equal(q8r_row_bytes(1024), 1088); /* already whole */
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        size_t n = widths[w], qb, rb;
        assert_int_equal(qtype_row_bytes(QT_Q8_0, n, &qb), 0);
        assert_int_equal(qtype_row_bytes(QT_Q8R, n, &rb), 0);
        assert_int_equal(rb, q8r_row_bytes(n));
        assert_true(rb >= qb && rb < qb + 64);
        float *x = malloc(n * sizeof *x), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        uint8_t *q = malloc(qb), *q2 = malloc(qb), *r = malloc(rb), *r2 = malloc(rb);
        for (size_t i = 0; i < n; i++) x[i] = rndf() * 4.0f;
        quant_from_f32(QT_Q8_0, x, q, n);
        memset(r, 0xAB, rb);
        q8r_from_q8_0(q, r, n);
        for (size_t i = n + n / 16; i < rb; i++) assert_int_equal(r[i], 0); /* padding is zeros */
        q8r_to_q8_0(r, q2, n);
        assert_memory_equal(q, q2, qb);
        quant_from_f32(QT_Q8R, x, r2, n); /* quantizing straight to Q8R: the same bytes */
        assert_memory_equal(r, r2, rb);
        quant_to_f32(QT_Q8_0, q, a, n);
        quant_to_f32(QT_Q8R, r, b, n);
        assert_memory_equal(a, b, n * sizeof *a);
        assert_string_equal(qtype_name(QT_Q8R), "q8_0");
        free(x); free(a); free(b); free(q); free(q2); free(r); free(r2);
    }
}

/* Decode with Q8R weights quantizes x to int8 blocks (as ggml's q8_0 x q8_0 dot): the reference
 * below does exactly that in double, so every path must agree with it to float rounding; and the
 * result stays within the activations' quantization error of the float product. */
static void check_q8r(size_t rows, size_t cols) {
    size_t rb;
    assert_int_equal(qtype_row_bytes(QT_Q8R, cols, &rb), 0);
    uint8_t *w = malloc(rows * rb);
    float *x = malloc(cols * sizeof *x), *wf = malloc(cols * sizeof *wf), *y = malloc(rows * sizeof *y);
    float *row = malloc(cols * sizeof *row);
    int8_t *xq = malloc(cols);
    double *dx = malloc(cols / 32 * sizeof *dx), *dexact = malloc(cols / 32 * sizeof *dexact);
    BlockQ8_0 *blk = malloc(cols / 32 * sizeof *blk);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) row[c] = rndf() * (r % 3 == 0 ? 0.01f : 1.0f);
        quant_from_f32(QT_Q8R, row, w + r * rb, cols);
    }
    for (size_t c = 0; c < cols; c++) x[c] = rndf() * 5.0f;
    x[cols / 2] = 0;
    if (cols >= 64) memset(x + 32, 0, 32 * sizeof *x); /* an all-zero block: scale 0 */
    for (size_t b = 0; b < cols / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        dx[b] = fp16_to_fp32(fp32_to_fp16(d));
        dexact[b] = d;
        for (int j = 0; j < 32; j++) xq[b * 32 + j] = (int8_t)rintf(x[b * 32 + j] * id);
    }
    static const char *const paths[] = {"portable", "avx2", "avx512"};
    float *first = malloc(rows * sizeof *first);
    for (int p = 0; p < 3; p++) {
        if (quant_set_path(paths[p])) continue;
        for (size_t r = 0; r < rows; r++) y[r] = -99.0f;
        quant_matvec(QT_Q8R, w, cols, x, y, 1, rows); /* a row range: row 0 untouched */
        assert_true(y[0] == -99.0f);
        /* every path takes the same float steps after exact integer block sums (q8r.c): the same bits */
        if (p == 0) memcpy(first, y, rows * sizeof *y);
        else if (memcmp(first + 1, y + 1, (rows - 1) * sizeof *y))
            fail_msg("q8r %zux%zu: the %s path's bits differ from the portable path's", rows, cols, paths[p]);
        for (size_t r = 1; r < rows; r++) {
            const uint8_t *qs = w + r * rb;
            double ref = 0, mag = 0, fl = 0, err = 0;
            quant_to_f32(QT_Q8R, qs, wf, cols);
            q8r_to_q8_0(qs, blk, cols); /* the row's blocks, whatever order Q8R keeps them in */
            for (size_t b = 0; b < cols / 32; b++) {
                long sum = 0;
                for (int j = 0; j < 32; j++) sum += (long)blk[b].qs[j] * xq[b * 32 + j];
                double sc = (double)fp16_to_fp32(blk[b].d) * dx[b];
                ref += sc * (double)sum;
                for (int j = 0; j < 32; j++) {
                    mag += fabs(sc * ((double)blk[b].qs[j] * xq[b * 32 + j]));
                    fl += (double)wf[b * 32 + j] * x[b * 32 + j];
                    /* |x - dx xq| <= d / 2 + 127 |dx - d| (dx is d rounded to fp16) */
                    err += fabs((double)wf[b * 32 + j]) * (dexact[b] * 0.5 + 127 * fabs(dx[b] - dexact[b]));
                }
            }
            if (fabs(y[r] - ref) > 1e-5 * mag + 1e-6)
                fail_msg("q8r %s %zux%zu row %zu: %g, integer reference %g", paths[p], rows, cols, r, (double)y[r], ref);
            if (fabs(y[r] - fl) > err + 1e-5 * mag + 1e-6)
                fail_msg("q8r %s %zux%zu row %zu: %g, float product %g, beyond x's quantization (%g)", paths[p], rows,
                         cols, r, (double)y[r], fl, err);
            assert_true(fabsf(quant_dot(QT_Q8R, qs, x, cols) - (float)fl) <= 1e-5 * mag + 1e-4); /* float x */
        }
    }
    assert_int_equal(quant_set_path(NULL), 0);
    free(w); free(x); free(wf); free(y); free(row); free(xq); free(dx); free(dexact); free(blk); free(first);
}

static void test_q8r_matvec_all_paths(void **state) {
    (void)state;
    print_message("Q8R VNNI kernel on this CPU: %s\n", q8r_supported() ? "yes" : "no (portable only)");
    /* odd and even block counts, short rows, a partial group of 8 pairs, GPT-2's and Llama's widths */
    static const size_t cols[] = {32, 64, 96, 160, 480, 512, 544, 768, 800, 1024, 2816, 3072};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) check_q8r(7, cols[i]);
}

/* Several vectors at once (batched decode, prefill): each vector's result has the bits of its own
 * product, for odd block counts, odd row ranges (rows go two at a time), and counts of vectors
 * that fill one group of eight, part of one, several, and enough for the prompt-sized chunks. */
static void test_q8r_matvecs_bits(void **state) {
    (void)state;
    static const size_t cols[] = {32, 96, 160, 768, 800, 1600};
    static const int ns[] = {2, 5, 8, 9, 17, 24, 40};
    static const char *const paths[] = {"avx512", "portable"};
    const size_t rows = 37, r0 = 3, r1 = 36;
    for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++) {
        size_t c = cols[ci], rb;
        assert_int_equal(qtype_row_bytes(QT_Q8R, c, &rb), 0);
        uint8_t *w = malloc(rows * rb);
        float *row = malloc(c * sizeof *row), *x = malloc(40 * c * sizeof *x);
        float *y1 = malloc(40 * rows * sizeof *y1), *yn = malloc(40 * rows * sizeof *yn);
        for (size_t r = 0; r < rows; r++) {
            for (size_t j = 0; j < c; j++) row[j] = rndf() * (r % 4 == 1 ? 0.02f : 1.0f);
            quant_from_f32(QT_Q8R, row, w + r * rb, c);
        }
        for (size_t i = 0; i < 40 * c; i++) x[i] = rndf() * 3.0f;
        memset(x + 3 * c, 0, c * sizeof *x); /* a zero vector: every scale 0 */
        for (int p = 0; p < 2; p++) {
            if (quant_set_path(paths[p])) continue;
            for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
                int n = ns[k];
                for (size_t i = 0; i < (size_t)n * rows; i++) y1[i] = yn[i] = -7.0f;
                for (int v = 0; v < n; v++) quant_matvec(QT_Q8R, w, c, x + (size_t)v * c, y1 + (size_t)v * rows, r0, r1);
                quant_matvecs(QT_Q8R, w, c, x, n, yn, rows, r0, r1);
                for (size_t i = 0; i < (size_t)n * rows; i++)
                    if (memcmp(&y1[i], &yn[i], sizeof *y1))
                        fail_msg("q8r %s %zu cols, %d vectors: vector %zu row %zu: alone %.9g, together %.9g", paths[p], c,
                                 n, i / rows, i % rows, (double)y1[i], (double)yn[i]);
            }
        }
        assert_int_equal(quant_set_path(NULL), 0);
        free(w); free(row); free(x); free(y1); free(yn);
    }
}

/* The 4/5-bit blocks of 32 on the integer path, for every way the kernel splits a row (groups of
 * four blocks, a pair, one): batched products give each vector the bits of its own product. */
static void test_legacy_batched_bits(void **state) {
    (void)state;
    static const size_t cols[] = {128, 160, 192, 224, 768, 3072};
    const size_t rows = 19;
    for (int t = QT_Q4_0; t <= QT_Q5_1; t++)
        for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++) {
            size_t c = cols[ci], rb;
            assert_int_equal(qtype_row_bytes((QType)t, c, &rb), 0);
            uint8_t *w = malloc(rows * rb);
            float *row = malloc(c * sizeof *row), *x = malloc(3 * c * sizeof *x);
            float *ya = malloc(3 * rows * sizeof *ya), *yn = malloc(3 * rows * sizeof *yn);
            for (size_t r = 0; r < rows; r++) {
                for (size_t j = 0; j < c; j++) row[j] = rndf() * (r % 3 == 1 ? 0.05f : 1.0f);
                quant_from_f32((QType)t, row, w + r * rb, c);
            }
            for (size_t i = 0; i < 3 * c; i++) x[i] = rndf() * 3.0f;
            actq_round_f32(actq_type((QType)t), x, x, 3 * c);
            for (int v = 0; v < 3; v++) quant_matvec((QType)t, w, c, x + v * c, ya + v * rows, 0, rows);
            quant_matvecs((QType)t, w, c, x, 3, yn, rows, 0, rows);
            for (size_t i = 0; i < 3 * rows; i++)
                if (memcmp(&ya[i], &yn[i], sizeof *ya))
                    fail_msg("%s %zu cols vector %zu row %zu: alone %.9g, batched %.9g", qtype_name((QType)t), c, i / rows,
                             i % rows, (double)ya[i], (double)yn[i]);
            free(w); free(row); free(x); free(ya); free(yn);
        }
}

/* A prompt of Q4_0 / Q5_0 on the Q8R kernel (quant_matmul, where quant_matmul_q8r says so): the
 * Q8_0 blocks the rows are converted to hold the file's values exactly; each vector's products have
 * the same bits alone as with others (a prompt read with others gives its own bits); and they are
 * the decode kernel's (the same integer sums of the same quantized x) up to the order of the float
 * additions. Odd block counts, odd row ranges, zero vectors and rows of small values included. */
static void test_legacy_matmul_q8r(void **state) {
    (void)state;
    static const size_t cols[] = {32, 96, 160, 768, 800};
    static const int ns[] = {1, 2, 9, 24, 40};
    static const QType types[] = {QT_Q4_0, QT_Q5_0};
    const size_t rows = 37, r0 = 3, r1 = 36;
    for (size_t ti = 0; ti < 2; ti++)
        for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++) {
            QType t = types[ti];
            size_t c = cols[ci], rb;
            assert_int_equal(qtype_row_bytes(t, c, &rb), 0);
            uint8_t *w = malloc(rows * rb);
            BlockQ8_0 *b8 = malloc(c / 32 * sizeof *b8);
            float *wf = malloc(rows * c * sizeof *wf), *f8 = malloc(c * sizeof *f8), *x = malloc(40 * c * sizeof *x);
            float *y1 = malloc(40 * rows * sizeof *y1), *yn = malloc(40 * rows * sizeof *yn), *yd = malloc(40 * rows * sizeof *yd);
            for (size_t r = 0; r < rows; r++) {
                for (size_t j = 0; j < c; j++) f8[j] = rndf() * (r % 4 == 1 ? 0.02f : 1.0f);
                quant_from_f32(t, f8, w + r * rb, c);
                quant_to_f32(t, w + r * rb, wf + r * c, c);
                if (t == QT_Q4_0) kq_q8_0_of_q4_0(w + r * rb, b8, c);
                else kq_q8_0_of_q5_0(w + r * rb, b8, c);
                quant_to_f32(QT_Q8_0, b8, f8, c);
                if (memcmp(f8, wf + r * c, c * sizeof *f8))
                    fail_msg("%s %zu cols row %zu: its Q8_0 blocks hold other values", qtype_name(t), c, r);
            }
            for (size_t i = 0; i < 40 * c; i++) x[i] = rndf() * 3.0f;
            memset(x + 3 * c, 0, c * sizeof *x);
            for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
                int n = ns[k];
                for (size_t i = 0; i < (size_t)n * rows; i++) y1[i] = yn[i] = yd[i] = -7.0f;
                for (int v = 0; v < n; v++) {
                    quant_matmul(t, w, c, x + (size_t)v * c, 1, y1 + (size_t)v * rows, rows, r0, r1);
                    float xr[800];
                    actq_round_f32(actq_type(t), x + (size_t)v * c, xr, c);
                    quant_matvec(t, w, c, xr, yd + (size_t)v * rows, r0, r1);
                }
                quant_matmul(t, w, c, x, n, yn, rows, r0, r1);
                for (size_t i = 0; i < (size_t)n * rows; i++) {
                    size_t v = i / rows, r = i % rows;
                    if (memcmp(&y1[i], &yn[i], sizeof *y1))
                        fail_msg("%s %zu cols, %d vectors: vector %zu row %zu: alone %.9g, together %.9g", qtype_name(t), c,
                                 n, v, r, (double)y1[i], (double)yn[i]);
                    if (r < r0 || r >= r1) {
                        if (yn[i] != -7.0f) fail_msg("%s: row %zu outside [%zu, %zu) written", qtype_name(t), r, r0, r1);
                        continue;
                    }
                    double mag = 0;
                    for (size_t j = 0; j < c; j++) mag += fabs((double)wf[r * c + j] * x[v * c + j]);
                    if (fabs((double)yn[i] - yd[i]) > 1e-5 * mag + 1e-6)
                        fail_msg("%s %zu cols vector %zu row %zu: prompt kernel %.9g, decode kernel %.9g", qtype_name(t), c,
                                 v, r, (double)yn[i], (double)yd[i]);
                }
            }
            free(w); free(b8); free(wf); free(f8); free(x); free(y1); free(yn); free(yd);
        }
}

/* quant_dots (attention's scores over the cached keys) gives each key the bits of quant_dot of that
 * key alone, on every path: rows on cache lines (16 at a time), rows off them, head sizes with and
 * without a tail of 16, and counts that leave a remainder of rows. */
static void test_dots_bits(void **state) {
    (void)state;
    static const size_t ns[] = {1, 16, 20, 64, 80, 100, 128};
    static const int ms[] = {1, 15, 16, 17, 33, 50};
    static const char *const paths[] = {"avx512", "avx2", "portable"};
    const size_t ldk = 256;
    float *K = aligned_alloc(64, (ldk * 50 + 64) * sizeof *K), q[128], one[50], all[50];
    for (size_t i = 0; i < ldk * 50 + 64; i++) K[i] = rndf() * 4.0f;
    for (size_t i = 0; i < 128; i++) q[i] = rndf();
    for (int p = 0; p < 3; p++) {
        if (quant_set_path(paths[p])) continue;
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
                for (size_t off = 0; off < 24; off += 5) { /* 0: every row on a cache line */
                    size_t n = ns[ni];
                    int m = ms[mi];
                    for (int r = 0; r < m; r++) one[r] = quant_dot(QT_F32, K + off + (size_t)r * ldk, q, n);
                    quant_dots(K + off, ldk, m, q, n, all);
                    for (int r = 0; r < m; r++)
                        if (memcmp(&one[r], &all[r], sizeof *one))
                            fail_msg("dots %s n=%zu m=%d off=%zu row %d: alone %.9g, together %.9g", paths[p], n, m, off, r,
                                     (double)one[r], (double)all[r]);
                }
    }
    assert_int_equal(quant_set_path(NULL), 0);
    free(K);
}

/* quant_axpys keeps y in registers across the rows: the bits of one quant_axpy per row, in order,
 * for lengths with and without a tail of 16, on every path. */
static void test_axpys_bits(void **state) {
    (void)state;
    static const size_t lens[] = {1, 16, 40, 64, 80, 128, 200};
    static const char *const paths[] = {"portable", "avx2", "avx512"};
    float a[37], x[37 * 210], y1[210], y2[210];
    for (int s = 0; s < 37; s++) a[s] = rndf();
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = rndf() * 3.0f;
    for (int p = 0; p < 3; p++) {
        if (quant_set_path(paths[p])) continue;
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++)
            for (int m = 0; m <= 37; m += 9) {
                size_t n = lens[k];
                for (size_t i = 0; i < n; i++) y1[i] = y2[i] = rndf();
                for (int s = 0; s < m; s++) quant_axpy(a[s], x + (size_t)s * 210, y1, n);
                quant_axpys(a, x, 210, m, y2, n);
                if (memcmp(y1, y2, n * sizeof *y1)) fail_msg("axpys %s n %zu m %d: not the bits of %d axpys", paths[p], n, m, m);
            }
    }
    assert_int_equal(quant_set_path(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_known_values_and_round_trip),
        cmocka_unit_test(test_bf16_round_to_nearest_even),
        cmocka_unit_test(test_q8_0_as_ggml),
        cmocka_unit_test(test_kquant_round_trips),
        cmocka_unit_test(test_matvec_all_types_all_paths),
        cmocka_unit_test(test_axpy_all_paths),
        cmocka_unit_test(test_q8r_layout_round_trip),
        cmocka_unit_test(test_q8r_matvec_all_paths),
        cmocka_unit_test(test_q8r_matvecs_bits),
        cmocka_unit_test(test_legacy_batched_bits),
        cmocka_unit_test(test_legacy_matmul_q8r),
        cmocka_unit_test(test_dots_bits),
        cmocka_unit_test(test_axpys_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
