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
#include "remote.h"

/* What scale measures (bits per byte from logits, speed against parameters and memory) a server
 * that sends text cannot give: said plainly instead of a made-up row. */
static int refuse_remote(const char *what, LabErr *e) {
    return lab_err(e, LAB_EUNSUPPORTED,
                   "%s is a remote model: a server gives no logits, parameter count or memory, so its bits per byte "
                   "and its place on the size, speed and cost plots cannot be measured (scale needs a local model)",
                   what);
}

/* ---------- the record ---------- */

void lab_scale_rows_free(LabScaleRows *r) {
    if (!r) return;
    free(r->v);
    *r = (LabScaleRows){0};
}

static void row_from_db(LabScaleRow *o, const DbScale *s) {
    *o = (LabScaleRow){.id = s->id, .model_id = s->model_id, .ctx = s->ctx, .threads = s->threads,
                       .n_prompt = s->n_prompt, .n_gen = s->n_gen, .reps = s->reps, .n_params = s->n_params,
                       .n_params_nonemb = s->n_params_nonemb, .bytes_on_disk = s->bytes_on_disk,
                       .bytes_resident = s->bytes_resident, .n_tokens = s->n_tokens, .load_ms = s->load_ms,
                       .prefill_tok_s = s->prefill_tok_s, .decode_tok_s = s->decode_tok_s,
                       .bits_per_byte = s->bits_per_byte, .token_ppl = s->token_ppl, .eval_id = s->eval_id,
                       .prefill_bench_id = s->prefill_bench_id, .decode_bench_id = s->decode_bench_id,
                       .created_ms = s->created_ms};
    lab_copy_name(o->path, sizeof o->path, s->model_path);
    lab_copy_name(o->name, sizeof o->name, s->model_name);
    lab_copy_name(o->dtype, sizeof o->dtype, s->dtype);
    lab_copy_name(o->weights_sha256, sizeof o->weights_sha256, s->weights_sha256);
    lab_copy_name(o->corpus, sizeof o->corpus, s->corpus);
    lab_copy_name(o->corpus_sha256, sizeof o->corpus_sha256, s->corpus_sha256);
    lab_copy_name(o->cpu, sizeof o->cpu, s->cpu_model);
    lab_copy_name(o->version, sizeof o->version, s->build_version);
}

int lab_scale_record(Lab *l, const char *path, const struct EngModel *m, LabScaleRow *row, LabErr *e) {
    if (lab_model_row(l, path, m, &row->model_id, e)) return -1;
    if (!row->model_id) return lab_err(e, LAB_EIO, "the record is read-only: the measurement of %s is not stored", path);
    const EngInfo *in = eng_info(m);
    lab_copy_name(row->path, sizeof row->path, in->path ? in->path : path);
    lab_copy_name(row->name, sizeof row->name, in->name);
    lab_copy_name(row->dtype, sizeof row->dtype, in->dtype);
    if (!row->cpu[0]) lab_copy_name(row->cpu, sizeof row->cpu, cpu_model_name());
    lab_copy_name(row->version, sizeof row->version, ABLAB_VERSION);
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

/* ---------- measuring one model (`ablab scale` and the scale screen) ---------- */

/* Token and position embeddings, by the names the loaders give them (HF, GGUF, llama2.c). */
static bool is_embedding(const char *name) {
    static const char *const EMB[] = {"embed_tokens", "wte", "wpe", "token_embd", "position_embd",
                                      "tok_embeddings", "token_embedding", "embed_positions"};
    for (size_t i = 0; i < sizeof EMB / sizeof *EMB; i++)
        if (strstr(name, EMB[i])) return true;
    return false;
}

static int64_t nonemb_params(const EngModel *m) {
    const EngTensorInfo *t;
    size_t n = eng_tensors(m, &t);
    int64_t emb = 0;
    for (size_t i = 0; i < n; i++)
        if (is_embedding(t[i].name)) emb += t[i].rows * t[i].cols;
    int64_t total = eng_info(m)->n_params;
    return emb < total ? total - emb : 0;
}

/* The mean token count of the prompt file's non-empty lines under m's tokenizer. */
static int prompts_len(const char *path, const char *text, EngModel *m, int *out, LabErr *e) {
    int64_t sum = 0, lines = 0;
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len) {
            char *line = strndup(s, len);
            IntVec ids = {0};
            if (!line) return lab_err(e, LAB_ENOMEM, "out of memory");
            int rc = eng_tokenize(m, line, true, &ids, e);
            free(line);
            sum += (int64_t)ids.n;
            ivec_free(&ids);
            if (rc) return -1;
            lines++;
        }
        s = nl ? nl + 1 : s + len;
    }
    if (!lines) return lab_err(e, LAB_EINVAL, "%s: no prompts (every line is empty)", path);
    *out = (int)((sum + lines / 2) / lines);
    if (*out < 1) *out = 1;
    return 0;
}

typedef struct {
    const LabScaleJob *j;
    const char *name;
    const char *stage;
    double lo, hi; /* this stage's share of the whole */
} Progress;

static void report(Progress *p, const char *stage, double lo, double hi, double frac) {
    p->stage = stage, p->lo = lo, p->hi = hi;
    if (p->j->progress) p->j->progress(p->name, stage, lo + (hi - lo) * frac, p->j->ud);
}

static void eval_progress(double frac, void *ud) {
    Progress *p = ud;
    if (p->j->progress) p->j->progress(p->name, p->stage, p->lo + (p->hi - p->lo) * frac, p->j->ud);
}

static bool cancelled(const LabScaleJob *j) { return j->cancel && __atomic_load_n(j->cancel, __ATOMIC_RELAXED); }

/* bench's measurement: one warm-up run, then the mean of reps runs (tokens per second); the
 * cancel flag is looked at between runs. */
static int bench_mean(const LabScaleJob *j, Progress *p, EngModel *m, bool pp, int n, double *mean, double *sd,
                      LabErr *e) {
    double s = 0, s2 = 0;
    for (int rep = -1; rep < j->reps; rep++) {
        if (cancelled(j)) return lab_err(e, LAB_ECANCEL, "measurement cancelled");
        double ms;
        if (pp ? eng_bench_pp(m, n, &ms, e) : eng_bench_tg(m, n, &ms, e)) return -1;
        eval_progress((double)(rep + 2) / (j->reps + 1), p);
        if (rep < 0) continue;
        double v = n / (ms / 1000.0);
        s += v;
        s2 += v * v;
    }
    *mean = s / j->reps;
    double var = j->reps > 1 ? (s2 - s * s / j->reps) / (j->reps - 1) : 0;
    *sd = var > 0 ? sqrt(var) : 0;
    return 0;
}

int lab_scale_measure(Lab *l, const LabScaleJob *j, LabScaleRow *row, bool *stored, LabErr *e) {
    if (!j->path || !j->text || !j->corpus_sha256 || j->reps < 1 || j->n_prompt < 1 || j->n_gen < 1)
        return lab_err(e, LAB_EINVAL, "scale: a model, a corpus and positive -p, -n, -r are needed");
    if (remote_is_url(j->path)) return refuse_remote(j->path, e);
    Progress pr = {j, path_basename(j->path), "load", 0, 0.05};
    report(&pr, "load", 0, 0.05, 0);
    EngLoadOpts lo = {.n_threads = j->threads > 0 ? j->threads : 1, .ctx = j->load_ctx, .quant = j->quant,
                      .tokenizer_path = j->tokenizer, .mmap = j->mmap};
    EngModel *m = NULL;
    if (eng_load(&m, j->path, &lo, e)) return -1;
    const EngInfo *in = eng_info(m);
    pr.name = in->name;
    int rc = -1, pp = j->n_prompt, tg = j->n_gen, win = j->ctx ? j->ctx : in->ctx;
    if (j->prompts_text && prompts_len(j->prompts_name ? j->prompts_name : "prompts", j->prompts_text, m, &pp, e))
        goto out;
    if (pp > in->ctx) pp = in->ctx;
    if (tg > in->ctx) tg = in->ctx;
    int64_t model_id;
    if (lab_model_row(l, j->path, m, &model_id, e)) goto out;
    int found = lab_scale_find(l, model_id, j->corpus_sha256, win, in->n_threads, pp, tg, j->reps, row, e);
    if (found < 0) goto out;
    *stored = found == 1;
    if (found) {
        rc = 0;
        goto out;
    }
    *row = (LabScaleRow){.ctx = win, .threads = in->n_threads, .n_prompt = pp, .n_gen = tg, .reps = j->reps,
                         .n_params = in->n_params, .n_params_nonemb = nonemb_params(m),
                         .bytes_on_disk = (int64_t)in->bytes_on_disk,
                         .bytes_resident = (int64_t)(in->bytes_mapped + in->bytes_owned + in->bytes_kv + in->bytes_scratch),
                         .load_ms = in->load_ms};
    lab_copy_name(row->corpus, sizeof row->corpus, j->corpus_name);
    lab_copy_name(row->corpus_sha256, sizeof row->corpus_sha256, j->corpus_sha256);
    /* eval's method */
    report(&pr, "eval", 0.05, 0.6, 0);
    EngEvalOpts eo = {.ctx = j->ctx, .progress = eval_progress, .progress_ud = &pr, .cancel = j->cancel};
    EngEvalResult r;
    if (eng_eval_text(m, j->text, &eo, &r, e)) goto out;
    row->bits_per_byte = r.bits_per_byte;
    row->token_ppl = r.token_ppl;
    row->n_tokens = r.n_tokens;
    /* bench's method */
    double mean[2], sd[2];
    for (int kind = 0; kind < 2; kind++) {
        report(&pr, "bench", kind ? 0.8 : 0.6, kind ? 1.0 : 0.8, 0);
        if (bench_mean(j, &pr, m, kind == 0, kind == 0 ? pp : tg, &mean[kind], &sd[kind], e)) goto out;
    }
    if (cancelled(j)) {
        lab_err(e, LAB_ECANCEL, "measurement cancelled");
        goto out;
    }
    row->prefill_tok_s = mean[0];
    row->decode_tok_s = mean[1];
    /* Every number is in: now the record (eval's rows, bench's, then the measurement citing them),
     * so a cancelled or failed measurement leaves nothing behind. */
    char details[512];
    snprintf(details, sizeof details,
             "{\"ctx\": %d, \"stride\": %d, \"bytes\": %lld, \"words\": %lld, \"windows\": %lld, \"sum_nll\": %.6f, "
             "\"dtype\": \"%s\", \"by\": \"scale\"}",
             win, win, (long long)r.n_bytes, (long long)r.n_words, (long long)r.n_windows, r.sum_nll, in->dtype);
    LabEvalRecord er = {row->corpus, r.n_tokens, r.token_ppl, r.byte_ppl, r.word_ppl, r.bits_per_byte, details,
                        &row->eval_id};
    if (lab_record_eval(l, j->path, m, &er, e)) goto out;
    for (int kind = 0; kind < 2; kind++) {
        bool is_pp = kind == 0;
        int n = is_pp ? pp : tg;
        char name[32];
        snprintf(name, sizeof name, "%s%d", is_pp ? "pp" : "tg", n);
        snprintf(details, sizeof details,
                 "{\"tokens_per_s_sd\": %.3f, \"reps\": %d, \"dtype\": \"%s\", \"decode_bytes\": %zu, "
                 "\"openblas_core\": \"%s\", \"kernels\": \"%s\", \"by\": \"scale\"}",
                 sd[kind], j->reps, in->dtype, eng_bench_decode_bytes(m), eng_blas_core(), eng_kernel_path());
        LabBenchRecord br = {name, in->n_threads, is_pp ? n : 0, is_pp ? 0 : n, is_pp ? mean[0] : 0,
                             is_pp ? 0 : mean[1], details, is_pp ? &row->prefill_bench_id : &row->decode_bench_id};
        if (lab_record_bench(l, j->path, m, &br, e)) goto out;
    }
    if (lab_scale_record(l, j->path, m, row, e)) goto out;
    /* the row as the record holds it (weights hash, stored path, rounding of every column), so a
     * table rendered now and one rendered later with --from-db are the same */
    int64_t id = row->id;
    if (lab_scale_find(l, row->model_id, j->corpus_sha256, win, in->n_threads, pp, tg, j->reps, row, e) != 1 ||
        row->id != id) {
        if (!e->msg[0]) lab_err(e, LAB_EIO, "scale: measurement %lld was stored but cannot be read back", (long long)id);
        goto out;
    }
    rc = 0;
    report(&pr, "done", 1, 1, 0);
out:
    eng_free(m);
    return rc;
}

int lab_scale_slot_source(Lab *l, int slot, char *path, size_t path_cap, char *quant, size_t quant_cap, LabErr *e) {
    if (slot < 0 || slot > 1) return lab_err(e, LAB_EINVAL, "no slot %d", slot);
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    if (l->slot[slot].r) {
        char what[16];
        snprintf(what, sizeof what, "model %c", slot ? 'B' : 'A');
        rc = refuse_remote(what, e);
    } else if (!l->slot[slot].m) {
        rc = lab_err(e, LAB_ENOTFOUND, "no model loaded in %c", slot ? 'B' : 'A');
    } else {
        const EngInfo *in = eng_info(l->slot[slot].m);
        const char *p = in->path ? in->path : "";
        if (!*p || strlen(p) >= path_cap) rc = lab_err(e, LAB_EINVAL, "model %c: no path to load it from again", slot ? 'B' : 'A');
        else snprintf(path, path_cap, "%s", p);
        snprintf(quant, quant_cap, "%s", l->quant[slot] ? l->quant[slot] : "");
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int lab_scale_measure_loaded(Lab *l, const char *corpus_path,
                             void (*progress)(const char *model, const char *stage, double frac, void *ud), void *ud,
                             const int *cancel, LabErr *e) {
    char *text = NULL;
    size_t len = 0;
    if (!corpus_path || !*corpus_path) return lab_err(e, LAB_EINVAL, "give a corpus file to measure on");
    if (file_read_all(corpus_path, 0, &text, &len, e)) return -1;
    int rc = -1, n = 0;
    if (strlen(text) != len) {
        lab_err(e, LAB_EINVAL, "%s: the corpus contains a NUL byte", corpus_path);
        goto out;
    }
    if (!len) {
        lab_err(e, LAB_EINVAL, "%s: the corpus is empty", corpus_path);
        goto out;
    }
    char sha[65];
    sha256_hex(text, len, sha);
    pthread_mutex_lock(&l->mu);
    int threads = l->settings.threads > 0 ? l->settings.threads : 1, ctx = l->ctx;
    bool mmap = l->mmap;
    pthread_mutex_unlock(&l->mu);
    char path[2][1024], quant[2][32];
    for (int s = 0; s < 2; s++) {
        LabErr se = {0};
        if (lab_scale_slot_source(l, s, path[s], sizeof path[s], quant[s], sizeof quant[s], &se)) {
            if (se.code == LAB_ENOTFOUND) continue; /* an empty slot */
            *e = se;
            goto out;
        }
        if (s == 1 && n == 1 && !strcmp(path[0], path[1]) && !strcmp(quant[0], quant[1])) continue;
        LabScaleJob j = {.path = path[s], .quant = quant[s][0] ? quant[s] : NULL, .corpus_name = path_basename(corpus_path),
                         .text = text, .corpus_sha256 = sha, .load_ctx = ctx, .threads = threads, .n_prompt = 64,
                         .n_gen = 32, .reps = 3, .mmap = mmap, .progress = progress, .ud = ud, .cancel = cancel};
        LabScaleRow row;
        bool stored;
        if (lab_scale_measure(l, &j, &row, &stored, e)) goto out;
        n++;
    }
    if (!n) {
        lab_err(e, LAB_ENOTFOUND, "no model is loaded to measure");
        goto out;
    }
    rc = n;
out:
    free(text);
    return rc;
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
