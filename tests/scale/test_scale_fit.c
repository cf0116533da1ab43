/* The scaling fit (src/lab/scale.c): L(N) = E + A N^-alpha recovered from synthetic points made
 * with a known alpha and noise, its bootstrap interval covering the truth; the log-log slope for
 * fewer than four sizes; the Pareto frontier; bad input refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lab.h"

/* Box-Muller over a splitmix64 stream: noise the test reproduces exactly. */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double gauss(uint64_t *s) {
    double u = ((double)(mix(s) >> 11) + 0.5) / 9007199254740992.0, v = ((double)(mix(s) >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static void test_recovers_kaplan_alpha(void **st) {
    (void)st;
    /* Kaplan et al.'s L(N) = (N_c / N)^0.076 with an irreducible term, over 1e5..1e11 */
    const double alpha = 0.076, E = 1.2, A = pow(8.8e13, alpha);
    double n[13], y[13];
    uint64_t seed = 42;
    for (int i = 0; i < 13; i++) {
        n[i] = pow(10, 5 + 0.5 * i);
        y[i] = (E + A * pow(n[i], -alpha)) * (1 + 0.002 * gauss(&seed));
    }
    LabPowerFit f;
    LabErr e = {0};
    assert_int_equal(lab_power_fit(n, y, 13, 500, 7, &f, &e), 0);
    assert_false(f.loglog);
    printf("# alpha = %.4f, 95%% interval [%.4f, %.4f], E = %.3f, A = %.3f\n", f.alpha, f.alpha_ci.lo, f.alpha_ci.hi,
           f.E, f.A);
    assert_true(fabs(f.alpha - alpha) < 0.02);
    assert_true(isfinite(f.alpha_ci.lo) && isfinite(f.alpha_ci.hi));
    assert_true(f.alpha_ci.lo < f.alpha_ci.hi);
    assert_true(f.alpha_ci.lo <= alpha + 0.02 && f.alpha_ci.hi >= alpha - 0.02);
    assert_true(fabs(lab_power_eval(&f, 1e8) - (E + A * pow(1e8, -alpha))) < 0.05);
}

static void test_exact_points_exact_fit(void **st) {
    (void)st;
    double n[6], y[6];
    for (int i = 0; i < 6; i++) {
        n[i] = pow(10, 4 + i);
        y[i] = 0.8 + 30 * pow(n[i], -0.3);
    }
    LabPowerFit f;
    LabErr e = {0};
    assert_int_equal(lab_power_fit(n, y, 6, 200, 1, &f, &e), 0);
    assert_true(fabs(f.alpha - 0.3) < 1e-4);
    assert_true(fabs(f.E - 0.8) < 1e-3);
    assert_true(fabs(f.A - 30) < 0.05);
}

static void test_few_sizes_loglog(void **st) {
    (void)st;
    double n[3] = {1e5, 1e6, 1e7}, y[3];
    for (int i = 0; i < 3; i++) y[i] = 5 * pow(n[i], -0.1);
    LabPowerFit f;
    LabErr e = {0};
    assert_int_equal(lab_power_fit(n, y, 3, 200, 1, &f, &e), 0);
    assert_true(f.loglog);
    assert_true(fabs(f.alpha - 0.1) < 1e-9);
    assert_true(fabs(f.A - 5) < 1e-6);
    assert_int_equal(lab_power_fit(n, y, 2, 200, 1, &f, &e), 0);
    assert_true(f.loglog && isnan(f.alpha_ci.lo)); /* two points: a slope, no interval */
}

static void test_bad_input(void **st) {
    (void)st;
    double n[3] = {1e5, 0, 1e7}, y[3] = {2, 1.5, 1};
    LabPowerFit f;
    LabErr e = {0};
    assert_int_equal(lab_power_fit(n, y, 1, 0, 1, &f, &e), -1);
    assert_non_null(strstr(e.msg, "at least two"));
    assert_int_equal(lab_power_fit(n, y, 3, 0, 1, &f, &e), -1);
    assert_non_null(strstr(e.msg, "point 2"));
    double same[2] = {1e6, 1e6};
    assert_int_equal(lab_power_fit(same, y, 2, 0, 1, &f, &e), -1);
    assert_non_null(strstr(e.msg, "same number"));
}

static void test_pareto(void **st) {
    (void)st;
    /* cost, bits per byte: b is dominated by a (cheaper and better); c and a trade off; d ties a's cost but is worse */
    double x[4] = {1, 2, 0.5, 1}, y[4] = {1.5, 1.8, 2.0, 1.6};
    bool on[4];
    lab_pareto_min(x, y, 4, on);
    assert_true(on[0]);
    assert_false(on[1]);
    assert_true(on[2]);
    assert_false(on[3]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovers_kaplan_alpha), cmocka_unit_test(test_exact_points_exact_fit),
        cmocka_unit_test(test_few_sizes_loglog), cmocka_unit_test(test_bad_input), cmocka_unit_test(test_pareto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
