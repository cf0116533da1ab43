/* The element-wise ops of the forward passes (engine/ops.h) on every kernel path this CPU has
 * (portable C, AVX2, AVX-512, forced with quant_set_path) against a plain double-precision
 * reference: lengths that are not multiples of any vector width, inputs out to where exp
 * overflows and underflows, and nothing written past the end of a row.
 *
 * Tolerances are bounds on the float rounding each kernel does, in units of EPS = 2^-23 (FLT_EPSILON,
 * twice the unit roundoff, so each term is a bound with room to spare), not numbers fitted to
 * what the kernels happen to give. Each test prints the largest error it saw per path. */
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

#include "ops.h"
#include "quant.h"

#define EPS ((double)FLT_EPSILON)
#define SENTINEL 12345.0f

static const char *const paths[] = {"portable", "avx2", "avx512"};
/* floats per vector on each path: the summations below run in that many lanes */
static const size_t lanes[] = {1, 8, 16};
static const size_t sizes[] = {1, 7, 17, 768, 1023};
#define N_SIZES (sizeof sizes / sizeof *sizes)
#define MAXN 4096

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static double rndu(void) { return (double)(rnd() >> 11) * 0x1.0p-53; }           /* [0, 1) */
static float rndr(float lo, float hi) { return (float)(lo + (hi - lo) * rndu()); } /* [lo, hi) */

/* Worst error seen on one path, as a multiple of the tolerance and of the value. */
typedef struct {
    double worst_ratio, worst_rel, worst_abs;
} Worst;

/* got vs ref within tol (an absolute bound). NaN must meet NaN, an infinity the same infinity. */
static void expect_close(Worst *w, const char *what, const char *path, size_t n, size_t i, float got, double ref,
                         double tol) {
    if (isnan(ref) || isinf(ref)) {
        if (isnan(ref) ? isnan(got) : (double)got == ref) return;
        fail_msg("%s [%s] n=%zu i=%zu: got %a, reference %a", what, path, n, i, (double)got, ref);
    }
    double d = fabs((double)got - ref);
    if (!(d <= tol))
        fail_msg("%s [%s] n=%zu i=%zu: got %.9g, reference %.9g, error %.3g > tolerance %.3g", what, path, n, i,
                 (double)got, ref, d, tol);
    if (tol > 0 && d / tol > w->worst_ratio) w->worst_ratio = d / tol;
    if (d > w->worst_abs) w->worst_abs = d;
    /* relative error where the value is not tiny beside the row (where it is, the bound is the
     * absolute part of tol) */
    if (fabs(ref) >= 1e-30 && d / fabs(ref) > w->worst_rel) w->worst_rel = d / fabs(ref);
}

static void report(const char *what, const Worst *w) {
    for (int p = 0; p < 3; p++)
        if (w[p].worst_ratio >= 0)
            print_message("%-10s %-8s max |err| %.3g, max relative %.3g, %.2f of the tolerance at most\n", what, paths[p],
                          w[p].worst_abs, w[p].worst_rel, w[p].worst_ratio);
}

static void worst_init(Worst *w) {
    for (int p = 0; p < 3; p++) w[p] = (Worst){-1, 0, 0};
}

/* Forces path p; false (and the path is skipped) when this CPU cannot run it. */
static bool use_path(int p, Worst *w) {
    if (quant_set_path(paths[p])) return false;
    if (w[p].worst_ratio < 0) w[p].worst_ratio = 0;
    return true;
}

static void expect_sentinel(const float *a, size_t n, const char *what, const char *path) {
    if (a[n] != SENTINEL) fail_msg("%s [%s] n=%zu: wrote past the end", what, path, n);
}

/* ---------- exp ---------- */

/* e^x within 2 ulp of the true value. The SIMD exponential: the polynomial's own error is 3e-9
 * relative (0.05 ulp), the reduced argument carries ~0.5 ulp, and evaluating 1 + r + r^2 q(r) and
 * scaling by 2^n round a few times more: ~1 ulp measured over all floats, 2 ulp allowed. libm's
 * expf is within 1 ulp. An ulp is taken at the reference (2^-149 for a subnormal result). */
static double ulp_at(double v) {
    v = fabs(v);
    if (v < FLT_MIN) return 0x1p-149;
    int e;
    frexp(v, &e);
    return ldexp(1.0, e - 24);
}

static void test_exp(void **st) {
    (void)st;
    static float x[MAXN + 1], y[MAXN + 1];
    Worst w[3];
    worst_init(w);
    for (size_t si = 0; si < N_SIZES + 1; si++) {
        size_t n = si < N_SIZES ? sizes[si] : MAXN;
        /* over the whole range where e^x is a finite nonzero float, and past it on both sides */
        for (size_t i = 0; i < n; i++) x[i] = rndr(-110.0f, 95.0f);
        if (n == MAXN)
            for (size_t i = 0; i < n; i++) x[i] = rndr(-1.0f, 1.0f) * (float)(1 << (i % 8)); /* near 0 too */
        for (int p = 0; p < 3; p++) {
            if (!use_path(p, w)) continue;
            y[n] = SENTINEL;
            op_exp(y, x, n);
            expect_sentinel(y, n, "exp", paths[p]);
            for (size_t i = 0; i < n; i++) {
                double ref = exp((double)x[i]);
                if (ref >= 0x1.ffffffp127) ref = INFINITY; /* rounds past FLT_MAX */
                expect_close(&w[p], "exp", paths[p], n, i, y[i], ref, 2.0 * ulp_at(ref));
            }
        }
    }
    /* the edges, and in place */
    static const float edge[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.72283f, 88.72284f, 89.0f, 1e30f, INFINITY,
                                 -87.33654f, -100.0f, -103.9f, -103.98f, -104.0f, -1e30f, -INFINITY, NAN,
                                 0x1p-30f, -0x1p-30f, 0.34657359f, -0.34657359f};
    size_t ne = sizeof edge / sizeof *edge;
    for (int p = 0; p < 3; p++) {
        if (!use_path(p, w)) continue;
        memcpy(y, edge, sizeof edge);
        op_exp(y, y, ne);
        for (size_t i = 0; i < ne; i++) {
            double ref = exp((double)edge[i]);
            if (ref >= 0x1.ffffffp127) ref = INFINITY; /* rounds past FLT_MAX */
            expect_close(&w[p], "exp edge", paths[p], ne, i, y[i], ref, 2.0 * ulp_at(ref));
        }
        assert_true(y[0] == 1.0f && y[1] == 1.0f && y[13] == 0.0f && y[15] == 0.0f && isinf(y[8]) && isnan(y[16]));
    }
    assert_int_equal(quant_set_path(NULL), 0);
    report("exp", w);
    for (int p = 0; p < 3; p++)
        if (w[p].worst_ratio >= 0) print_message("exp        %-8s max error %.2f ulp\n", paths[p], 2.0 * w[p].worst_ratio);
}

/* ---------- softmax ---------- */

/* Each output is e_i * (1 / sum). e_i: the exp's 2 ulp (4 EPS at most); x_i - max rounds once
 * (half an ulp of a value up to ~88 in size, which is a relative error of e_i of
 * |x_i - max| * EPS / 2); 1/sum and the product: EPS each. The sum of k float additions of
 * positive terms is within k EPS/2 relative; on a path of L lanes a term goes through about
 * n/L + L additions (its lane, then the reduction). So: EPS (6 + |x_i - max| / 2 + k / 2), and
 * a few subnormal steps (2^-147) where e_i / sum underflows. */
static double softmax_tol(double ref, double dx, size_t n, int p) {
    if (ref == 0) return 0; /* e^-inf, or underflowed: only the subnormal floor applies */
    double k = (double)n / (double)lanes[p] + (double)lanes[p];
    return ref * EPS * (6.0 + fabs(dx) / 2.0 + k / 2.0);
}

static void softmax_check(Worst *w, const char *what, const float *x0, size_t n) {
    static float x[MAXN + 1];
    static double ref[MAXN];
    double mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x0[i] > mx) mx = x0[i];
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += ref[i] = exp((double)x0[i] - mx);
    for (size_t i = 0; i < n; i++) ref[i] /= sum;
    for (int p = 0; p < 3; p++) {
        if (!use_path(p, w)) continue;
        memcpy(x, x0, n * sizeof *x);
        x[n] = SENTINEL;
        op_softmax(x, (int)n);
        expect_sentinel(x, n, what, paths[p]);
        for (size_t i = 0; i < n; i++)
            expect_close(&w[p], what, paths[p], n, i, x[i], ref[i], softmax_tol(ref[i], x0[i] - mx, n, p) + 0x1p-147);
    }
}

static void test_softmax(void **st) {
    (void)st;
    static float x[MAXN];
    Worst w[3];
    worst_init(w);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = sizes[si];
        for (size_t i = 0; i < n; i++) x[i] = rndr(-20.0f, 20.0f); /* attention scores */
        softmax_check(w, "softmax", x, n);
        for (size_t i = 0; i < n; i++) x[i] = rndr(-1000.0f, 1000.0f); /* most underflow to 0 */
        softmax_check(w, "softmax wide", x, n);
        for (size_t i = 0; i < n; i++) x[i] = 3.5f; /* all equal: 1/n each */
        softmax_check(w, "softmax flat", x, n);
        for (size_t i = 0; i < n; i++) x[i] = 1e30f * (i % 3 ? 1.0f : -1.0f); /* huge: only the max survives */
        softmax_check(w, "softmax huge", x, n);
        for (size_t i = 0; i < n; i++) x[i] = i % 2 ? -INFINITY : rndr(-5.0f, 5.0f); /* masked out */
        if (n > 1) softmax_check(w, "softmax -inf", x, n);
    }
    /* the cases where a naive exp(x) / sum(exp(x)) breaks */
    for (int p = 0; p < 3; p++) {
        if (!use_path(p, w)) continue;
        float a[] = {-1e30f, 0.0f};
        op_softmax(a, 2);
        assert_true(a[0] == 0.0f && a[1] == 1.0f);
        float b[] = {1000.0f, 1000.0f, 999.0f};
        op_softmax(b, 3);
        assert_true(fabs(b[0] - 0.42231882) < 1e-6 && b[0] == b[1] && fabs(b[2] - 0.15536241) < 1e-6);
        float c[] = {7.0f};
        op_softmax(c, 1);
        assert_true(c[0] == 1.0f);
        float d[] = {-INFINITY, -INFINITY, -INFINITY}; /* nothing to attend to: NaN, as exp(-inf + inf) */
        op_softmax(d, 3);
        assert_true(isnan(d[0]) && isnan(d[1]) && isnan(d[2]));
        float e[] = {1.0f, NAN, 2.0f};
        op_softmax(e, 3);
        assert_true(isnan(e[0]) && isnan(e[1]) && isnan(e[2]));
        float f[] = {5.0f};
        op_softmax(f, 0); /* nothing */
        assert_true(f[0] == 5.0f);
    }
    assert_int_equal(quant_set_path(NULL), 0);
    report("softmax", w);
}

/* ---------- gelu_new ---------- */

/* gelu_new(x) = 0.5 x (1 + tanh(u)) = x / (1 + e^z), z = -2u = -2 sqrt(2/pi) (x + 0.044715 x^3).
 * Computing z in float costs about 4 roundings (relative 4 EPS/2 of z), and an absolute error dz
 * in z is a relative error dz * e^z / (1 + e^z) of the result: the function is that sensitive to
 * its input there, whatever the kernel. Then the exp's 2 ulp, 1 + e^z and the division: a few
 * EPS more. So EPS (6 + 2 |z| e^z / (1 + e^z)). Where z > 88.7, e^z overflows float and the
 * result is 0 on every path (portable C included), short by |x| e^-z < 1e-35: that is the
 * absolute floor. */
static double gelu_ref(double x, double *z) {
    double u = sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
    *z = -2.0 * u;
    /* not 0.5 x (1 + tanh(u)): that cancels in double too, for x below about -6 */
    return x / (1.0 + exp(*z));
}

static void test_gelu_new(void **st) {
    (void)st;
    static float x[MAXN + 1], a[MAXN + 1];
    Worst w[3];
    worst_init(w);
    for (size_t si = 0; si < N_SIZES + 1; si++) {
        size_t n = si < N_SIZES ? sizes[si] : 64;
        if (si < N_SIZES)
            for (size_t i = 0; i < n; i++) x[i] = rndr(-12.0f, 12.0f) * (i % 4 ? 0.25f : 1.0f);
        else { /* where exp over- and underflows, and signed zeros */
            static const float edge[] = {0.0f, -0.0f, 1e-20f, -1e-20f, 1e-3f, -1e-3f, -5.0f, -9.0f, -10.5f,
                                         -11.0f, -20.0f, -1e20f, 9.0f, 20.0f, 1e20f, 3.0e38f};
            n = sizeof edge / sizeof *edge;
            memcpy(x, edge, sizeof edge);
        }
        for (int p = 0; p < 3; p++) {
            if (!use_path(p, w)) continue;
            memcpy(a, x, n * sizeof *a);
            a[n] = SENTINEL;
            op_gelu_new(a, n);
            expect_sentinel(a, n, "gelu_new", paths[p]);
            for (size_t i = 0; i < n; i++) {
                double z, ref = gelu_ref(x[i], &z);
                double s = z > 700 ? 1.0 : exp(z) / (1.0 + exp(z));
                double tol = fabs(ref) * EPS * (6.0 + 2.0 * fabs(z) * s) + 1e-35;
                if (isinf(x[i]) || fabs(x[i]) > 1e19) ref = x[i] > 0 ? x[i] : 0.0; /* the limits; double overflows */
                expect_close(&w[p], "gelu_new", paths[p], n, i, a[i], ref, tol);
            }
        }
    }
    assert_int_equal(quant_set_path(NULL), 0);
    report("gelu_new", w);
}

/* ---------- silu_mul ---------- */

/* a / (1 + e^-a) * b: the exp's 2 ulp, then 1 + e, the division and the product, one rounding
 * each: 6 EPS with room. Below a = -88.7, e^-a overflows float and the result is 0 on every path,
 * short by |a b| e^a < 1e-35: the absolute floor. */
static void test_silu_mul(void **st) {
    (void)st;
    static float a0[MAXN + 1], b[MAXN], a[MAXN + 1];
    Worst w[3];
    worst_init(w);
    for (size_t si = 0; si < N_SIZES + 1; si++) {
        size_t n = si < N_SIZES ? sizes[si] : 12;
        for (size_t i = 0; i < n; i++) a0[i] = rndr(-20.0f, 20.0f), b[i] = rndr(-2.0f, 2.0f);
        if (si == N_SIZES) {
            static const float edge[] = {0.0f, -0.0f, 1e-30f, -90.0f, -100.0f, -200.0f, 90.0f, 200.0f, -1e30f,
                                         1e30f, 88.0f, -88.0f};
            memcpy(a0, edge, sizeof edge);
        }
        for (int p = 0; p < 3; p++) {
            if (!use_path(p, w)) continue;
            memcpy(a, a0, n * sizeof *a);
            a[n] = SENTINEL;
            op_silu_mul(a, b, n);
            expect_sentinel(a, n, "silu_mul", paths[p]);
            for (size_t i = 0; i < n; i++) {
                double v = a0[i], ref = v / (1.0 + exp(-v)) * b[i];
                expect_close(&w[p], "silu_mul", paths[p], n, i, a[i], ref, fabs(ref) * 6.0 * EPS + 1e-35);
            }
        }
    }
    assert_int_equal(quant_set_path(NULL), 0);
    report("silu_mul", w);
}

/* ---------- layernorm ---------- */

/* out = (x - mean) * r * w + b with mean and 1/sqrt(var + eps) from double sums (each rounded to
 * float once: EPS/2 of mean and of r). The float part: x - mean rounds once, then * r, * w, + b
 * (fused): each step's error is EPS/2 of what it produces, and the rounded mean shifts x - mean
 * by EPS/2 |mean|. So: EPS (2 |ref| + 2 |b| + (|x| + |mean|) r |w|). A residual-stream row looks
 * like GPT-2's: most entries small, a few outliers hundreds of times larger, an offset mean. */
static void test_layernorm(void **st) {
    (void)st;
    enum { ROWS = 3 };
    static float x[ROWS * MAXN], wt[MAXN], bs[MAXN], out[ROWS * MAXN + 1];
    static const size_t dims[] = {1, 7, 17, 768, 1023, 4096};
    Worst w[3];
    worst_init(w);
    const float eps = 1e-5f;
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        size_t dim = dims[di];
        for (size_t i = 0; i < dim; i++) wt[i] = rndr(0.2f, 2.0f), bs[i] = rndr(-0.5f, 0.5f);
        for (size_t t = 0; t < ROWS; t++)
            for (size_t i = 0; i < dim; i++)
                x[t * dim + i] = rndr(-2.0f, 2.0f) + (t == 1 ? 3.0f : 0.0f) + (i % 97 == 5 ? 300.0f : 0.0f);
        for (int p = 0; p < 3; p++) {
            if (!use_path(p, w)) continue;
            out[ROWS * dim] = SENTINEL;
            op_layernorm(out, x, wt, bs, ROWS, (int)dim, eps);
            expect_sentinel(out, ROWS * dim, "layernorm", paths[p]);
            for (size_t t = 0; t < ROWS; t++) {
                const float *xr = x + t * dim;
                double mean = 0, var = 0;
                for (size_t i = 0; i < dim; i++) mean += xr[i];
                mean /= (double)dim;
                for (size_t i = 0; i < dim; i++) var += (xr[i] - mean) * (xr[i] - mean);
                var /= (double)dim;
                double r = 1.0 / sqrt(var + eps);
                for (size_t i = 0; i < dim; i++) {
                    double ref = (xr[i] - mean) * r * wt[i] + bs[i];
                    double tol = EPS * (2 * fabs(ref) + 2 * fabs(bs[i]) + (fabs(xr[i]) + fabs(mean)) * r * wt[i]);
                    expect_close(&w[p], "layernorm", paths[p], dim, t * dim + i, out[t * dim + i], ref, tol);
                }
            }
        }
    }
    assert_int_equal(quant_set_path(NULL), 0);
    report("layernorm", w);
}

/* ---------- rmsnorm ---------- */

/* out = w * (x * s), s = 1/sqrt(sum(x^2)/dim + eps) summed in float: k additions in a lane and the
 * reduction (k = dim/L + L on L lanes) are k EPS/2 of the sum, halved by the square root; the
 * division by dim, + eps, sqrt and 1/: about 2 EPS; the two products: EPS. So EPS (4 + k / 4)
 * relative. */
static void test_rmsnorm(void **st) {
    (void)st;
    enum { ROWS = 3 };
    static float x[ROWS * MAXN], wt[MAXN], out[ROWS * MAXN + 1];
    static const size_t dims[] = {1, 7, 17, 768, 1023, 4096};
    Worst w[3];
    worst_init(w);
    const float eps = 1e-5f;
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        size_t dim = dims[di];
        for (size_t i = 0; i < dim; i++) wt[i] = rndr(-2.0f, 2.0f);
        for (size_t t = 0; t < ROWS; t++)
            for (size_t i = 0; i < dim; i++)
                x[t * dim + i] = rndr(-3.0f, 3.0f) * (t == 2 ? 1e-3f : 1.0f) + (i % 61 == 3 ? 40.0f : 0.0f);
        for (int p = 0; p < 3; p++) {
            if (!use_path(p, w)) continue;
            out[ROWS * dim] = SENTINEL;
            op_rmsnorm(out, x, wt, ROWS, (int)dim, eps);
            expect_sentinel(out, ROWS * dim, "rmsnorm", paths[p]);
            double k = (double)dim / (double)lanes[p] + (double)lanes[p];
            for (size_t t = 0; t < ROWS; t++) {
                const float *xr = x + t * dim;
                double ss = 0;
                for (size_t i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
                double s = 1.0 / sqrt(ss / (double)dim + eps);
                for (size_t i = 0; i < dim; i++) {
                    double ref = wt[i] * (xr[i] * s);
                    expect_close(&w[p], "rmsnorm", paths[p], dim, t * dim + i, out[t * dim + i], ref,
                                 fabs(ref) * EPS * (4.0 + k / 4.0));
                }
            }
        }
    }
    assert_int_equal(quant_set_path(NULL), 0);
    report("rmsnorm", w);
}

/* ---------- add, add_bias: one rounding, the same on every path: exact ---------- */
static void test_add_and_bias(void **st) {
    (void)st;
    enum { ROWS = 3 };
    static float x0[ROWS * MAXN], y[ROWS * MAXN], x[ROWS * MAXN + 1];
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = sizes[si];
        for (size_t i = 0; i < ROWS * n; i++) x0[i] = rndr(-100.0f, 100.0f), y[i] = rndr(-1.0f, 1.0f);
        for (int p = 0; p < 3; p++) {
            if (quant_set_path(paths[p])) continue;
            memcpy(x, x0, n * sizeof *x);
            x[n] = SENTINEL;
            op_add(x, y, n);
            expect_sentinel(x, n, "add", paths[p]);
            for (size_t i = 0; i < n; i++)
                if (x[i] != (float)((double)x0[i] + y[i])) fail_msg("add [%s] n=%zu i=%zu", paths[p], n, i);

            memcpy(x, x0, ROWS * n * sizeof *x);
            x[ROWS * n] = SENTINEL;
            op_add_bias(x, y, ROWS, (int)n);
            expect_sentinel(x, ROWS * n, "add_bias", paths[p]);
            for (size_t i = 0; i < ROWS * n; i++)
                if (x[i] != (float)((double)x0[i] + y[i % n])) fail_msg("add_bias [%s] n=%zu i=%zu", paths[p], n, i);
            op_add_bias(x, NULL, ROWS, (int)n); /* no bias: nothing */
            for (size_t i = 0; i < ROWS * n; i++) assert_true(x[i] == (float)((double)x0[i] + y[i % n]));
        }
    }
    assert_int_equal(quant_set_path(NULL), 0);
}

/* Greedy sampling's scans of a vocabulary: op_argmax is the first index of the largest value with
 * NaN never winning (0 when nothing is above -inf), op_first_nonfinite the first inf or NaN; on
 * every path, against the plain loops, for ties, NaN first, last and in a vector's tail, -inf
 * everywhere, all NaN, +inf, and GPT-2's vocabulary length. */
static size_t argmax_ref(const float *x, size_t n) {
    size_t best = 0;
    float bl = n && !isnan(x[0]) ? x[0] : -INFINITY;
    for (size_t i = 1; i < n; i++)
        if (x[i] > bl) bl = x[best = i];
    return best;
}

static void test_argmax_and_nonfinite(void **st) {
    (void)st;
    static const size_t ns[] = {1, 2, 7, 8, 9, 15, 16, 17, 33, 768, 50257};
    static float x[50257];
    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
        size_t n = ns[ni];
        for (int kind = 0; kind < 9; kind++) {
            for (size_t i = 0; i < n; i++) x[i] = rndr(-20.0f, 20.0f);
            size_t at = (size_t)(rnd() % n);
            switch (kind) {
            case 1: x[at] = 25.0f, x[n - 1] = 25.0f; break;            /* a tie: the first wins */
            case 2: x[0] = NAN; break;                                /* NaN first */
            case 3: x[n - 1] = NAN, x[at] = 30.0f; break;             /* NaN in the tail */
            case 4: for (size_t i = 0; i < n; i++) x[i] = -INFINITY; break;
            case 5: for (size_t i = 0; i < n; i++) x[i] = NAN; break;
            case 6: x[at] = INFINITY; break;
            case 7: x[at] = -INFINITY, x[0] = NAN; break;
            case 8: for (size_t i = 0; i < n; i++) x[i] = i == at ? 1.0f : -INFINITY; break;
            default: break;
            }
            size_t want = argmax_ref(x, n), bad = n;
            for (size_t i = 0; i < n && bad == n; i++)
                if (!isfinite(x[i])) bad = i;
            for (int p = 0; p < 3; p++) {
                if (quant_set_path(paths[p])) continue;
                size_t got = op_argmax(x, n), gb = op_first_nonfinite(x, n);
                if (got != want) fail_msg("argmax [%s] n=%zu case %d: %zu, the loop %zu", paths[p], n, kind, got, want);
                if (gb != bad) fail_msg("first_nonfinite [%s] n=%zu case %d: %zu, the loop %zu", paths[p], n, kind, gb, bad);
            }
        }
    }
    assert_int_equal(quant_set_path(NULL), 0);
}

int main(void) {
    print_message("kernel path on this CPU: %s\n", quant_path_name());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_gelu_new),
        cmocka_unit_test(test_silu_mul),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_add_and_bias),
        cmocka_unit_test(test_argmax_and_nonfinite),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
