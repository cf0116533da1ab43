/* Activations rounded as llama.cpp rounds them before a quantized product (engine/kernels/actq.h),
 * against ggml's own bytes: tests/fixtures/ref/actq/rows.bin, written by tools/refs/actq_refs.py
 * from libggml's q8_0, q8_1 and q8_K converters (llama.cpp c392e509, x86 build). */
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

typedef struct {
    uint32_t n;
    float *x;                 /* [n] */
    uint8_t *q8_0, *q8_1, *q8_K;
    uint8_t *buf;
} Rows;

/* The fixture: "ABAQ", version 1, n, n floats, then ggml's three formats of them. */
static void rows_read(Rows *r) {
    char path[4096];
    snprintf(path, sizeof path, "%s/ref/actq/rows.bin", getenv("TEST_DATA_DIR"));
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    r->buf = malloc((size_t)size);
    assert_non_null(r->buf);
    assert_int_equal(fread(r->buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    uint32_t version;
    assert_memory_equal(r->buf, "ABAQ", 4);
    memcpy(&version, r->buf + 4, 4);
    memcpy(&r->n, r->buf + 8, 4);
    assert_int_equal(version, 1);
    assert_true(r->n > 0 && r->n % 256 == 0);
    size_t n = r->n, want = 12 + 4 * n + actq_row_bytes(ACT_Q8_0, n) + actq_row_bytes(ACT_Q8_1, n) +
                          actq_row_bytes(ACT_Q8_K, n);
    assert_int_equal((size_t)size, want);
    r->x = malloc(4 * n);
    assert_non_null(r->x);
    memcpy(r->x, r->buf + 12, 4 * n);
    r->q8_0 = r->buf + 12 + 4 * n;
    r->q8_1 = r->q8_0 + actq_row_bytes(ACT_Q8_0, n);
    r->q8_K = r->q8_1 + actq_row_bytes(ACT_Q8_1, n);
}

static void rows_free(Rows *r) {
    free(r->x);
    free(r->buf);
}

/* Byte for byte what ggml writes, block by block (a mismatch names the block). */
static void check_format(ActType a, const char *name, const uint8_t *want, const Rows *r) {
    size_t bytes = actq_row_bytes(a, r->n), blk = a == ACT_Q8_K ? 256 : 32, bb = bytes / (r->n / blk);
    uint8_t *got = malloc(bytes);
    assert_non_null(got);
    actq_quantize(a, r->x, got, r->n);
    for (size_t b = 0; b < r->n / blk; b++)
        if (memcmp(got + b * bb, want + b * bb, bb)) fail_msg("%s: block %zu differs from ggml's", name, b);
    free(got);
}

static void test_q8_0_as_ggml(void **s) {
    (void)s;
    Rows r;
    rows_read(&r);
    check_format(ACT_Q8_0, "q8_0", r.q8_0, &r);
    rows_free(&r);
}

static void test_q8_1_as_ggml(void **s) {
    (void)s;
    Rows r;
    rows_read(&r);
    check_format(ACT_Q8_1, "q8_1", r.q8_1, &r);
    rows_free(&r);
}

static void test_q8_K_as_ggml(void **s) {
    (void)s;
    Rows r;
    rows_read(&r);
    check_format(ACT_Q8_K, "q8_K", r.q8_K, &r);
    rows_free(&r);
}

/* The fixture tells ggml's rounding from a plain one: some values are exact ties, which ggml sends
 * to even where roundf goes away from zero. */
static void test_fixture_has_ties(void **s) {
    (void)s;
    Rows r;
    rows_read(&r);
    const BlockQ8_0 *q = (const BlockQ8_0 *)r.q8_0;
    int ties = 0;
    for (size_t b = 0; b < r.n / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(r.x[b * 32 + (size_t)j]));
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 32; j++)
            if ((int)roundf(r.x[b * 32 + (size_t)j] * id) != q[b].qs[j]) ties++;
    }
    print_message("%d values where ggml's q8_0 is not roundf's\n", ties);
    assert_true(ties >= 10);
    rows_free(&r);
}

/* actq_round_f32 gives d q from ggml's blocks (d as ggml stores it: fp16 for q8_0/q8_1, float
 * for q8_K), in place and into another buffer alike. */
static void test_round_is_d_times_q(void **s) {
    (void)s;
    Rows r;
    rows_read(&r);
    float *y = malloc(4 * (size_t)r.n), *z = malloc(4 * (size_t)r.n);
    assert_non_null(y);
    assert_non_null(z);
    const ActType types[2] = {ACT_Q8_0, ACT_Q8_K};
    for (int k = 0; k < 2; k++) {
        actq_round_f32(types[k], r.x, y, r.n);
        memcpy(z, r.x, 4 * (size_t)r.n);
        actq_round_f32(types[k], z, z, r.n);
        assert_memory_equal(y, z, 4 * (size_t)r.n);
        for (size_t i = 0; i < r.n; i++) {
            float want;
            if (types[k] == ACT_Q8_0) {
                const BlockQ8_0 *q = (const BlockQ8_0 *)r.q8_0 + i / 32;
                want = fp16_to_fp32(q->d) * (float)q->qs[i % 32];
            } else {
                const BlockQ8K *q = (const BlockQ8K *)r.q8_K + i / 256;
                want = q->d * (float)q->qs[i % 256];
            }
            if (y[i] != want) fail_msg("type %d value %zu: %g, ggml's d q %g", (int)types[k], i, y[i], want);
        }
    }
    /* the float types pass through */
    actq_round_f32(ACT_NONE, r.x, y, r.n);
    assert_memory_equal(y, r.x, 4 * (size_t)r.n);
    assert_int_equal(actq_type(QT_F32), ACT_NONE);
    assert_int_equal(actq_type(QT_F16), ACT_NONE);
    assert_int_equal(actq_type(QT_Q4_1), ACT_Q8_1);
    assert_int_equal(actq_type(QT_Q6_K), ACT_Q8_K);
    assert_int_equal(actq_type(QT_Q5_0), ACT_Q8_0);
    free(y);
    free(z);
    rows_free(&r);
}

/* Every kernel path this CPU has rounds to the same floats, in blocks and to fp16: the fixture's rows
 * and random ones with values of every magnitude, subnormal halves included. */
static void test_paths_agree(void **s) {
    (void)s;
    Rows r;
    rows_read(&r);
    size_t n = r.n;
    float *x = malloc(12 * n), *want = malloc(4 * n), *got = malloc(4 * n);
    assert_non_null(x);
    assert_non_null(want);
    assert_non_null(got);
    memcpy(x, r.x, 4 * n);
    uint64_t st = 1234567;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)(st >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
        x[n + i] = ldexpf(u, (int)((st >> 20) % 40) - 30);
    }
    /* a third row: the random values with special blocks at the start: all zero, a NaN among
     * values (one in the last vector of its block, where a NaN-propagating max would keep it), an
     * infinity, equal largest values of both signs */
    float *xs = x + 2 * n;
    memcpy(xs, x + n, 4 * n);
    memset(xs, 0, 256 * sizeof *xs);
    xs[256 + 5] = NAN;
    xs[256 + 250] = NAN;
    xs[512 + 7] = INFINITY;
    xs[768 + 3] = -2.5f;
    xs[768 + 200] = 2.5f;
    xs[1024 + 31] = -NAN;
    static const char *const paths[] = {"avx2", "avx512"};
    const ActType types[3] = {ACT_Q8_0, ACT_Q8_1, ACT_Q8_K};
    for (int k = 0; k < 3; k++)
        for (int row = 0; row < 3; row++) {
            assert_int_equal(quant_set_path("portable"), 0);
            actq_round_f32(types[k], x + row * n, want, n);
            for (int p = 0; p < 2; p++) {
                if (quant_set_path(paths[p])) continue;
                memset(got, 0xff, 4 * n);
                actq_round_f32(types[k], x + row * n, got, n);
                if (memcmp(got, want, 4 * n))
                    fail_msg("%s rounds type %d (row %d) differently from portable", paths[p], (int)types[k], row);
            }
        }
    /* the blocks themselves (actq_quantize), on the same three rows */
    uint8_t *qw = malloc(2 * n), *qg = malloc(2 * n); /* every format takes at most 1.14 bytes a value */
    assert_non_null(qw);
    assert_non_null(qg);
    for (int k = 0; k < 3; k++) {
        size_t bytes = actq_row_bytes(types[k], n);
        for (int row = 0; row < 3; row++) {
            assert_int_equal(quant_set_path("portable"), 0);
            actq_quantize(types[k], x + row * n, qw, n);
            for (int p = 0; p < 2; p++) {
                if (quant_set_path(paths[p])) continue;
                memset(qg, 0xa5, bytes);
                actq_quantize(types[k], x + row * n, qg, n);
                if (memcmp(qg, qw, bytes))
                    fail_msg("%s quantizes type %d (row %d) differently from portable", paths[p], (int)types[k], row);
            }
        }
    }
    free(qw);
    free(qg);
    assert_int_equal(quant_set_path("portable"), 0);
    memcpy(want, x + n, 4 * n);
    actq_round_f16(want, n);
    for (int p = 0; p < 2; p++) {
        if (quant_set_path(paths[p])) continue;
        memcpy(got, x + n, 4 * n);
        actq_round_f16(got, n - 3); /* a tail shorter than a vector */
        actq_round_f16(got + n - 3, 3);
        if (memcmp(got, want, 4 * n)) fail_msg("%s rounds to fp16 differently from portable", paths[p]);
    }
    quant_set_path(NULL);
    free(x);
    free(want);
    free(got);
    rows_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_0_as_ggml),     cmocka_unit_test(test_q8_1_as_ggml),
        cmocka_unit_test(test_q8_K_as_ggml),     cmocka_unit_test(test_fixture_has_ties),
        cmocka_unit_test(test_round_is_d_times_q), cmocka_unit_test(test_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
