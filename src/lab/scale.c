/* Scaling: `ablab scale`'s measurements in the record (schema v8, scale_results), the power-law
 * fit of quality against size, and the Pareto frontier of quality against cost.
 *
 * The fit is L(N) = E + A * N^(-alpha) (Kaplan et al. 2020 with Chinchilla's irreducible term).
 * For a fixed alpha the model is linear in E and A, so the least-squares problem is solved by
 * variable projection: the residual sum of squares as a function of alpha alone (E and A by
 * ordinary least squares at each alpha) is scanned on a log grid and its minimum refined by
 * golden-section search. That is the same minimum a Gauss-Newton fit of all three reaches, without
 * its starting-point trouble on a handful of points. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablab_config.h"
#include "engine.h"
#include "lab_internal.h"

/* ---------- the record ---------- */

void lab_scale_rows_free(LabScaleRows *r) {
    if (!r) return;
    free(r->v);
    *r = (LabScaleRows){0};
}

static void copy_str(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

static void row_from_db(LabScaleRow *o, const DbScale *s) {
    *o = (LabScaleRow){.id = s->id, .model_id = s->model_id, .ctx = s->ctx, .threads = s->threads,
                       .n_prompt = s->n_prompt, .n_gen = s->n_gen, .reps = s->reps, .n_params = s->n_params,
                       .n_params_nonemb = s->n_params_nonemb, .bytes_on_disk = s->bytes_on_disk,
                       .bytes_resident = s->bytes_resident, .n_tokens = s->n_tokens, .load_ms = s->load_ms,
                       .prefill_tok_s = s->prefill_tok_s, .decode_tok_s = s->decode_tok_s,
                       .bits_per_byte = s->bits_per_byte, .token_ppl = s->token_ppl, .eval_id = s->eval_id,
                       .prefill_bench_id = s->prefill_bench_id, .decode_bench_id = s->decode_bench_id,
                       .created_ms = s->created_ms};
    copy_str(o->path, sizeof o->path, s->model_path);
    copy_str(o->name, sizeof o->name, s->model_name);
    copy_str(o->dtype, sizeof o->dtype, s->dtype);
    copy_str(o->weights_sha256, sizeof o->weights_sha256, s->weights_sha256);
    copy_str(o->corpus, sizeof o->corpus, s->corpus);
    copy_str(o->corpus_sha256, sizeof o->corpus_sha256, s->corpus_sha256);
    copy_str(o->cpu, sizeof o->cpu, s->cpu_model);
    copy_str(o->version, sizeof o->version, s->build_version);
}

int lab_scale_model_id(Lab *l, const char *path, const struct EngModel *m, int64_t *id, LabErr *e) {
    return lab_model_row(l, path, m, id, e);
}

int lab_scale_record(Lab *l, const char *path, const struct EngModel *m, LabScaleRow *row, LabErr *e) {
    if (lab_model_row(l, path, m, &row->model_id, e)) return -1;
    if (!row->model_id) return lab_err(e, LAB_EIO, "the record is read-only: the measurement of %s is not stored", path);
    const EngInfo *in = eng_info(m);
    copy_str(row->path, sizeof row->path, in->path ? in->path : path);
    copy_str(row->name, sizeof row->name, in->name);
    copy_str(row->dtype, sizeof row->dtype, in->dtype);
    if (!row->cpu[0]) copy_str(row->cpu, sizeof row->cpu, cpu_model_name());
    copy_str(row->version, sizeof row->version, ABLAB_VERSION);
    if (!row->created_ms) row->created_ms = wall_time_ms();
    DbScale s = {.model_id = row->model_id, .corpus = row->corpus, .corpus_sha256 = row->corpus_sha256,
                 .ctx = row->ctx, .threads = row->threads, .n_prompt = row->n_prompt, .n_gen = row->n_gen,
                 .reps = row->reps, .n_params = row->n_params, .n_params_nonemb = row->n_params_nonemb,
                 .bytes_on_disk = row->bytes_on_disk, .bytes_resident = row->bytes_resident,
                 .load_ms = row->load_ms, .prefill_tok_s = row->prefill_tok_s, .decode_tok_s = row->decode_tok_s,
                 .bits_per_byte = row->bits_per_byte, .token_ppl = row->token_ppl, .n_tokens = row->n_tokens,
                 .eval_id = row->eval_id, .prefill_bench_id = row->prefill_bench_id,
                 .decode_bench_id = row->decode_bench_id, .cpu_model = row->cpu, .build_version = row->version,
                 .created_ms = row->created_ms};
    pthread_mutex_lock(&l->mu);
    int rc = db_scale_add(l->db, &s, &row->id, e);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static int push_row(const DbScale *s, void *ud) {
    LabScaleRows *r = ud;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        LabScaleRow *v = realloc(r->v, cap * sizeof *v);
        if (!v) return -1;
        r->v = v;
        r->cap = cap;
    }
    row_from_db(&r->v[r->n++], s);
    return 0;
}

int lab_scale_rows(Lab *l, LabScaleRows *out, LabErr *e) {
    pthread_mutex_lock(&l->mu);
    int rc = db_scales_each(l->db, push_row, out, e);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int lab_scale_find(Lab *l, int64_t model_id, const char *corpus_sha256, int ctx, int threads, int n_prompt,
                   int n_gen, int reps, LabScaleRow *out, LabErr *e) {
    LabScaleRows all = {0};
    if (lab_scale_rows(l, &all, e)) {
        lab_scale_rows_free(&all);
        return -1;
    }
    int found = 0;
    for (size_t i = all.n; i-- > 0 && !found;) {
        const LabScaleRow *r = &all.v[i];
        if (r->model_id == model_id && !strcmp(r->corpus_sha256, corpus_sha256) && r->ctx == ctx &&
            r->threads == threads && r->n_prompt == n_prompt && r->n_gen == n_gen && r->reps == reps) {
            *out = *r;
            found = 1;
        }
    }
    lab_scale_rows_free(&all);
    return found;
}

/* ---------- the power-law fit ---------- */

/* E and A by least squares for a fixed alpha (x = n^-alpha); the residual sum of squares. */
static double fit_linear(const double *n, const double *y, const size_t *idx, size_t k, double alpha, double *E,
                         double *A) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < k; i++) {
        double x = pow(n[idx[i]], -alpha), v = y[idx[i]];
        sx += x;
        sy += v;
        sxx += x * x;
        sxy += x * v;
    }
    double d = (double)k * sxx - sx * sx;
    if (fabs(d) < 1e-300) return INFINITY;
    *A = ((double)k * sxy - sx * sy) / d;
    *E = (sy - *A * sx) / (double)k;
    double rss = 0;
    for (size_t i = 0; i < k; i++) {
        double r = y[idx[i]] - (*E + *A * pow(n[idx[i]], -alpha));
        rss += r * r;
    }
    return rss;
}

#define ALPHA_LO 1e-3
#define ALPHA_HI 3.0
#define GRID 240

static double fit_power(const double *n, const double *y, const size_t *idx, size_t k, double *E, double *A,
                        double *alpha) {
    double best = INFINITY, ba = ALPHA_LO, step = log(ALPHA_HI / ALPHA_LO) / (GRID - 1);
    int bi = 0;
    for (int g = 0; g < GRID; g++) {
        double a = ALPHA_LO * exp(step * g), e_, a_;
        double r = fit_linear(n, y, idx, k, a, &e_, &a_);
        if (r < best) best = r, ba = a, bi = g;
    }
    /* golden section between the grid's neighbours of the best point */
    double lo = ALPHA_LO * exp(step * (bi > 0 ? bi - 1 : 0)), hi = ALPHA_LO * exp(step * (bi < GRID - 1 ? bi + 1 : bi));
    const double gr = (sqrt(5.0) - 1) / 2;
    double c = hi - gr * (hi - lo), d = lo + gr * (hi - lo), e_, a_;
    double fc = fit_linear(n, y, idx, k, c, &e_, &a_), fd = fit_linear(n, y, idx, k, d, &e_, &a_);
    for (int it = 0; it < 100 && hi - lo > 1e-10; it++) {
        if (fc < fd) {
            hi = d, d = c, fd = fc;
            c = hi - gr * (hi - lo);
            fc = fit_linear(n, y, idx, k, c, &e_, &a_);
        } else {
            lo = c, c = d, fc = fd;
            d = lo + gr * (hi - lo);
            fd = fit_linear(n, y, idx, k, d, &e_, &a_);
        }
    }
    double a = (lo + hi) / 2, r = fit_linear(n, y, idx, k, a, E, A);
    if (r > best) r = fit_linear(n, y, idx, k, ba, E, A), a = ba;
    *alpha = a;
    return r;
}

/* Ordinary least squares of ln y on ln n: the slope and intercept. */
static int fit_loglog(const double *n, const double *y, const size_t *idx, size_t k, double *slope, double *icept) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < k; i++) {
        double x = log(n[idx[i]]), v = log(y[idx[i]]);
        sx += x;
        sy += v;
        sxx += x * x;
        sxy += x * v;
    }
    double d = (double)k * sxx - sx * sx;
    if (fabs(d) < 1e-12) return -1;
    *slope = ((double)k * sxy - sx * sy) / d;
    *icept = (sy - *slope * sx) / (double)k;
    return 0;
}

static size_t distinct_sizes(const double *n, const size_t *idx, size_t k) {
    size_t d = 0;
    for (size_t i = 0; i < k; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) seen = n[idx[j]] == n[idx[i]];
        d += !seen;
    }
    return d;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int lab_power_fit(const double *n, const double *y, size_t count, int rounds, uint64_t seed, LabPowerFit *out,
                  LabErr *e) {
    *out = (LabPowerFit){.alpha_ci = {NAN, NAN}, .E = NAN, .A = NAN, .alpha = NAN, .n_points = (int)count};
    if (count < 2) return lab_err(e, LAB_EINVAL, "a scaling fit needs at least two models (got %zu)", count);
    for (size_t i = 0; i < count; i++) {
        if (!(n[i] > 0) || !isfinite(n[i]))
            return lab_err(e, LAB_EINVAL, "scaling fit: point %zu has %g parameters (must be positive)", i + 1, n[i]);
        if (!(y[i] > 0) || !isfinite(y[i]))
            return lab_err(e, LAB_EINVAL, "scaling fit: point %zu has quality %g (must be positive and finite)", i + 1,
                           y[i]);
    }
    size_t *idx = malloc(2 * count * sizeof *idx), *pick = idx + count;
    double *boot = malloc((size_t)(rounds > 0 ? rounds : 1000) * sizeof *boot);
    if (!idx || !boot) {
        free(idx);
        free(boot);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) idx[i] = i;
    size_t sizes = distinct_sizes(n, idx, count);
    if (sizes < 2) {
        free(idx);
        free(boot);
        return lab_err(e, LAB_EINVAL, "scaling fit: every model has the same number of parameters");
    }
    out->loglog = sizes < 4;
    out->rounds = rounds > 0 ? rounds : 1000;
    if (out->loglog) {
        double slope, icept;
        fit_loglog(n, y, idx, count, &slope, &icept);
        out->alpha = -slope;
        out->A = exp(icept);
        out->E = 0;
        out->rss = 0;
        for (size_t i = 0; i < count; i++) {
            double r = y[i] - out->A * pow(n[i], slope);
            out->rss += r * r;
        }
    } else {
        out->rss = fit_power(n, y, idx, count, &out->E, &out->A, &out->alpha);
    }
    /* the bootstrap: points resampled with replacement; a draw with too few distinct sizes for
     * the model being fitted is drawn again (bounded, so a degenerate set cannot hang) */
    size_t need = out->loglog ? 2 : 3, nb = 0;
    uint64_t st = seed ? seed : 1;
    if (!(out->loglog && sizes < 3)) {
        for (int r = 0, tries = 0; r < out->rounds && tries < out->rounds * 20; tries++) {
            for (size_t i = 0; i < count; i++) pick[i] = (size_t)(lab_rng_next(&st) % count);
            if (distinct_sizes(n, pick, count) < need) continue;
            r++;
            double a;
            if (out->loglog) {
                double slope, icept;
                if (fit_loglog(n, y, pick, count, &slope, &icept)) continue;
                a = -slope;
            } else {
                double E_, A_;
                fit_power(n, y, pick, count, &E_, &A_, &a);
            }
            boot[nb++] = a;
        }
    }
    if (nb >= 20) {
        qsort(boot, nb, sizeof *boot, cmp_double);
        out->alpha_ci.lo = boot[(size_t)floor(0.025 * (double)(nb - 1))];
        out->alpha_ci.hi = boot[(size_t)ceil(0.975 * (double)(nb - 1))];
    }
    free(idx);
    free(boot);
    return 0;
}

double lab_power_eval(const LabPowerFit *f, double n) { return f->E + f->A * pow(n, -f->alpha); }

void lab_pareto_min(const double *x, const double *y, size_t n, bool *on) {
    for (size_t i = 0; i < n; i++) {
        on[i] = isfinite(x[i]) && isfinite(y[i]);
        for (size_t j = 0; j < n && on[i]; j++)
            if (j != i && isfinite(x[j]) && isfinite(y[j]) && x[j] <= x[i] && y[j] <= y[i] &&
                (x[j] < x[i] || y[j] < y[i]))
                on[i] = false;
    }
}
