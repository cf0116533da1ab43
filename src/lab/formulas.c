/* The statistics used by `ablab stats`, the stats screen and the exports: pure functions of
 * counts, tested against hand-computed values (tests/lab/test_stats.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"
#include "lab_internal.h"

LabInterval lab_wilson(int successes, int n, double z) {
    if (n <= 0 || successes < 0 || successes > n) return (LabInterval){0.0, 1.0};
    double p = (double)successes / n, z2 = z * z, nn = n;
    double denom = 1.0 + z2 / nn;
    double center = (p + z2 / (2.0 * nn)) / denom;
    double half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
    LabInterval r = {center - half, center + half};
    if (r.lo < 0) r.lo = 0;
    if (r.hi > 1) r.hi = 1;
    return r;
}

double lab_sign_test(int wins, int losses) {
    if (wins < 0 || losses < 0) return NAN;
    int n = wins + losses;
    if (n == 0) return 1.0;
    int k = wins < losses ? wins : losses;
    /* P(X <= k) for X ~ Bin(n, 1/2), summed in log space so large n does not underflow early */
    double lnorm = -n * log(2.0), sum = 0.0;
    for (int i = 0; i <= k; i++)
        sum += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) + lnorm);
    double p = 2.0 * sum;
    return p > 1.0 ? 1.0 : p;
}

int lab_bradley_terry(const double *win, size_t n, double *elo) {
    if (n == 0) return 0;
    double *p = malloc(n * sizeof *p), *np = malloc(n * sizeof *np);
    if (!p || !np) {
        free(p);
        free(np);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        double w = 0;
        for (size_t j = 0; j < n; j++) w += win[i * n + j];
        if (!(w > 0)) { /* a model that never scores has strength 0: no finite rating */
            free(p);
            free(np);
            return -1;
        }
        p[i] = 1.0;
    }
    int rc = -1;
    for (int it = 0; it < 100000; it++) {
        double change = 0, logsum = 0;
        for (size_t i = 0; i < n; i++) {
            double w = 0, d = 0;
            for (size_t j = 0; j < n; j++) {
                if (j == i) continue;
                double nij = win[i * n + j] + win[j * n + i];
                w += win[i * n + j];
                if (nij > 0) d += nij / (p[i] + p[j]);
            }
            np[i] = d > 0 ? w / d : p[i];
            logsum += log(np[i]);
        }
        double g = exp(logsum / (double)n); /* keep the geometric mean at 1 */
        for (size_t i = 0; i < n; i++) {
            np[i] /= g;
            double c = fabs(log(np[i]) - log(p[i]));
            if (c > change) change = c;
            p[i] = np[i];
        }
        if (change < 1e-12) {
            rc = 0;
            break;
        }
    }
    if (rc == 0)
        for (size_t i = 0; i < n; i++) elo[i] = 1000.0 + 400.0 * log10(p[i]);
    free(p);
    free(np);
    return rc;
}

double lab_cohen_kappa(const int *a, const int *b, size_t n, int k) {
    if (n == 0 || k <= 0) return NAN;
    double *ca = calloc((size_t)k, sizeof *ca), *cb = calloc((size_t)k, sizeof *cb);
    if (!ca || !cb) {
        free(ca);
        free(cb);
        return NAN;
    }
    double agree = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 0 || a[i] >= k || b[i] < 0 || b[i] >= k) {
            free(ca);
            free(cb);
            return NAN;
        }
        ca[a[i]]++;
        cb[b[i]]++;
        agree += a[i] == b[i];
    }
    double po = agree / (double)n, pe = 0;
    for (int j = 0; j < k; j++) pe += (ca[j] / (double)n) * (cb[j] / (double)n);
    free(ca);
    free(cb);
    if (pe >= 1.0) return NAN;
    return (po - pe) / (1.0 - pe);
}

double lab_fleiss_kappa(const int *counts, size_t n_items, int k) {
    if (n_items == 0 || k <= 0) return NAN;
    double *pj = calloc((size_t)k, sizeof *pj);
    if (!pj) return NAN;
    double pbar = 0, total = 0;
    for (size_t i = 0; i < n_items; i++) {
        double ni = 0, s = 0;
        for (int j = 0; j < k; j++) {
            double c = counts[i * (size_t)k + j];
            ni += c;
            s += c * (c - 1);
            pj[j] += c;
        }
        if (ni < 2) {
            free(pj);
            return NAN;
        }
        pbar += s / (ni * (ni - 1));
        total += ni;
    }
    pbar /= (double)n_items;
    double pe = 0;
    for (int j = 0; j < k; j++) pe += (pj[j] / total) * (pj[j] / total);
    free(pj);
    if (pe >= 1.0) return NAN;
    return (pbar - pe) / (1.0 - pe);
}

/* Wilson bounds for a continuous rate p after n votes */
static bool separated(double p, int n) {
    double z = 1.96, z2 = z * z, nn = n;
    double denom = 1.0 + z2 / nn;
    double center = (p + z2 / (2.0 * nn)) / denom;
    double half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
    return center - half > 0.5 || center + half < 0.5;
}

int lab_votes_to_separate(double p) {
    if (!(p >= 0 && p <= 1) || p == 0.5) return -1;
    /* the interval narrows monotonically in n at a fixed rate: binary search */
    int lo = 1, hi = 1;
    while (!separated(p, hi)) {
        if (hi > (1 << 28)) return -1;
        hi *= 2;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (separated(p, mid)) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

double lab_quantile(double *v, size_t n, double q) {
    if (n == 0) return NAN;
    qsort(v, n, sizeof *v, lab_cmp_double);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= n) return v[n - 1];
    double f = pos - (double)i;
    return v[i] + f * (v[i + 1] - v[i]);
}

int lab_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
