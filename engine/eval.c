/* Perplexity and KL divergence over a text: rolling log-likelihood with a sliding window, as
 * lm-evaluation-harness's loglikelihood_rolling (a prefix token, then every token of the text
 * scored once) and llama-perplexity's KL mode.
 *
 * Windows: the sequence s = [prefix] + tokens is cut into windows of at most ctx tokens. Each
 * window is a fresh sequence (positions from 0) and scores the tokens no earlier window scored;
 * the next window ends `stride` tokens further, so it sees ctx - stride already-scored tokens as
 * context (at least one: with stride == ctx the windows overlap by one token, lm-eval's rolling
 * windows with context_len = 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define EVAL_CHUNK 64 /* positions per forward call: bounds the logits buffer to 64 x vocab */

static void eval_finish(EngEvalResult *r) {
    r->token_ppl = r->n_tokens ? exp(r->sum_nll / (double)r->n_tokens) : NAN;
    r->byte_ppl = r->n_bytes ? exp(r->sum_nll / (double)r->n_bytes) : NAN;
    r->word_ppl = r->n_words ? exp(r->sum_nll / (double)r->n_words) : NAN;
    r->bits_per_byte = r->n_bytes ? r->sum_nll / ((double)r->n_bytes * M_LN2) : NAN;
}

/* log-softmax of row at target, and (optionally) the full log-probabilities into lp. */
static double log_prob(const float *row, int V, int target, double *lp) {
    float mx = row[0];
    for (int i = 1; i < V; i++)
        if (row[i] > mx) mx = row[i];
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)row[i] - mx);
    double lse = mx + log(sum);
    if (lp)
        for (int i = 0; i < V; i++) lp[i] = (double)row[i] - lse;
    return (double)row[target] - lse;
}

static int argmax(const float *row, int V) {
    int b = 0;
    for (int i = 1; i < V; i++)
        if (row[i] > row[b]) b = i;
    return b;
}

typedef struct {
    EngModel *m, *ref;        /* ref: KL mode */
    float *lg, *lg_ref;       /* [EVAL_CHUNK][V] */
    double *lp, *lp_ref;      /* [V] (KL mode) */
    EngEvalResult *r;
    EngKlResult *kl;
    double *kls;              /* KL mode: every scored token's KL, for the quantiles */
    size_t n_kls, cap_kls;
} Ev;

/* Runs s[b, e) as a fresh sequence in each model and scores targets [from, e). */
static int eval_window(Ev *E, const int *s, int64_t b, int64_t e, int64_t from, LabErr *err) {
    int V = E->m->cfg.vocab;
    E->m->s.pos = 0;
    if (E->ref) E->ref->s.pos = 0;
    for (int64_t c0 = b; c0 < e; c0 += EVAL_CHUNK) {
        int n = (int)(e - c0 < EVAL_CHUNK ? e - c0 : EVAL_CHUNK);
        if (eng_forward(E->m, s + c0, n, E->lg, err)) return -1;
        if (E->ref && eng_forward(E->ref, s + c0, n, E->lg_ref, err)) return -1;
        for (int i = 0; i < n; i++) {
            int64_t t = c0 + i + 1; /* the token row i predicts */
            if (t < from || t >= e) continue;
            const float *row = E->lg + (size_t)i * V;
            if (!E->ref) {
                E->r->sum_nll -= log_prob(row, V, s[t], NULL);
                E->r->n_tokens++;
                continue;
            }
            const float *rrow = E->lg_ref + (size_t)i * V;
            E->kl->sum_nll -= log_prob(row, V, s[t], E->lp);
            E->kl->ref_sum_nll -= log_prob(rrow, V, s[t], E->lp_ref);
            double kl = 0;
            for (int v = 0; v < V; v++) kl += exp(E->lp_ref[v]) * (E->lp_ref[v] - E->lp[v]);
            if (E->n_kls == E->cap_kls) {
                size_t cap = E->cap_kls ? 2 * E->cap_kls : 1024;
                double *v = realloc(E->kls, cap * sizeof *v);
                if (!v) return lab_err(err, LAB_ENOMEM, "out of memory");
                E->kls = v;
                E->cap_kls = cap;
            }
            E->kls[E->n_kls++] = kl;
            E->kl->sum_kl += kl;
            E->kl->sum_kl2 += kl * kl;
            if (kl > E->kl->max_kl) E->kl->max_kl = kl;
            E->kl->n_same_top += argmax(row, V) == argmax(rrow, V);
            E->kl->n_tokens++;
        }
    }
    return 0;
}

static int eval_run(Ev *E, const int *s, int64_t L, const EngEvalOpts *o, int64_t *n_windows, LabErr *err) {
    EngModel *m = E->m;
    int ctx = o && o->ctx > 0 ? o->ctx : m->s.ctx;
    if (ctx > m->s.ctx || (E->ref && ctx > E->ref->s.ctx))
        return lab_err(err, LAB_EINVAL, "%s: window of %d tokens exceeds the context loaded (%d)", m->name, ctx,
                       E->ref && E->ref->s.ctx < m->s.ctx ? E->ref->s.ctx : m->s.ctx);
    if (ctx < 2) return lab_err(err, LAB_EINVAL, "a window needs at least 2 tokens (got %d)", ctx);
    int stride = o && o->stride > 0 ? o->stride : ctx;
    if (stride > ctx) return lab_err(err, LAB_EINVAL, "stride %d is longer than the window %d", stride, ctx);
    if (m->busy || (E->ref && E->ref->busy)) return lab_err(err, LAB_EINVAL, "%s: a generation is using this model", m->name);
    *n_windows = 0;
    for (int64_t b = 0, prev_end = 1; prev_end < L;) {
        int64_t e = b + ctx < L ? b + ctx : L;
        if (eval_window(E, s, b, e, prev_end, err)) return -1;
        ++*n_windows;
        prev_end = e;
        if (o && o->progress) o->progress((double)e / (double)L, o->progress_ud);
        if (o && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED))
            return lab_err(err, LAB_ECANCEL, "evaluation cancelled");
        int64_t nb = e + stride - ctx;
        b = nb > e - 1 ? e - 1 : nb; /* at least one token of context for the next target */
    }
    return 0;
}

/* lm-evaluation-harness's word count: len(re.split(r"\s+", text)) (ASCII whitespace here). */
static int64_t count_words(const char *t, size_t n) {
    int64_t runs = 0;
    for (size_t i = 0; i < n;) {
        if (strchr(" \t\n\r\f\v", t[i]) && t[i]) {
            runs++;
            while (i < n && t[i] && strchr(" \t\n\r\f\v", t[i])) i++;
        } else {
            i++;
        }
    }
    return runs + 1;
}

static int eval_alloc(Ev *E, bool kl, LabErr *err) {
    size_t V = (size_t)E->m->cfg.vocab;
    E->lg = malloc(EVAL_CHUNK * V * sizeof(float));
    if (kl) {
        E->lg_ref = malloc(EVAL_CHUNK * V * sizeof(float));
        E->lp = malloc(V * sizeof(double));
        E->lp_ref = malloc(V * sizeof(double));
    }
    if (!E->lg || (kl && (!E->lg_ref || !E->lp || !E->lp_ref))) return lab_err(err, LAB_ENOMEM, "out of memory");
    return 0;
}

static void eval_free(Ev *E) {
    free(E->kls);
    free(E->lg);
    free(E->lg_ref);
    free(E->lp);
    free(E->lp_ref);
}

int eng_eval_ids(EngModel *m, const int *ids, size_t n, const EngEvalOpts *o, EngEvalResult *r, LabErr *e) {
    memset(r, 0, sizeof *r);
    if (n < 2) return lab_err(e, LAB_EINVAL, "%s: %zu tokens: nothing to score", m->name, n);
    Ev E = {.m = m, .r = r};
    double t0 = now_ms();
    int rc = eval_alloc(&E, false, e) || eval_run(&E, ids, (int64_t)n, o, &r->n_windows, e) ? -1 : 0;
    eval_free(&E);
    r->ms = now_ms() - t0;
    eval_finish(r);
    return rc;
}

/* The text's tokens after the prefix lm-evaluation-harness uses: BOS, else EOS (GPT-2's
 * <|endoftext|>); without either the first token is context only. */
static int eval_tokens(EngModel *m, const char *text, IntVec *ids, LabErr *e) {
    int prefix = m->cfg.bos_id >= 0 ? m->cfg.bos_id : m->cfg.eos_id;
    if (prefix >= 0 && ivec_push(ids, prefix)) return lab_err(e, LAB_ENOMEM, "out of memory");
    return eng_tokenize(m, text, false, ids, e);
}

int eng_eval_text(EngModel *m, const char *text, const EngEvalOpts *o, EngEvalResult *r, LabErr *e) {
    IntVec ids = {0};
    int rc = eval_tokens(m, text, &ids, e);
    if (!rc) rc = eng_eval_ids(m, ids.v, ids.n, o, r, e);
    r->n_bytes = (int64_t)strlen(text);
    r->n_words = count_words(text, strlen(text));
    eval_finish(r);
    ivec_free(&ids);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v[0..n) with linear interpolation between order statistics. */
static double quantile_sorted(const double *v, size_t n, double q) {
    double h = q * (double)(n - 1);
    size_t lo = (size_t)h;
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

int eng_eval_kl_ids(EngModel *m, EngModel *ref, const int *ids, size_t n, const EngEvalOpts *o, EngKlResult *r,
                    LabErr *e) {
    memset(r, 0, sizeof *r);
    if (m->cfg.vocab != ref->cfg.vocab)
        return lab_err(e, LAB_EINVAL, "%s and %s have different vocabularies (%d and %d): KL needs the same tokens",
                       m->name, ref->name, m->cfg.vocab, ref->cfg.vocab);
    if (n < 2) return lab_err(e, LAB_EINVAL, "%zu tokens: nothing to score", n);
    Ev E = {.m = m, .ref = ref, .kl = r};
    double t0 = now_ms();
    int rc = eval_alloc(&E, true, e) || eval_run(&E, ids, (int64_t)n, o, &r->n_windows, e) ? -1 : 0;
    r->ms = now_ms() - t0;
    if (E.n_kls) {
        qsort(E.kls, E.n_kls, sizeof *E.kls, cmp_double);
        r->kl_median = quantile_sorted(E.kls, E.n_kls, 0.5);
        r->kl_p99 = quantile_sorted(E.kls, E.n_kls, 0.99);
    }
    eval_free(&E);
    if (r->n_tokens) {
        double nt = (double)r->n_tokens;
        r->kl_mean = r->sum_kl / nt;
        double var = r->sum_kl2 / nt - r->kl_mean * r->kl_mean;
        r->kl_sd = var > 0 ? sqrt(var) : 0;
        r->same_top_pct = 100.0 * (double)r->n_same_top / nt;
        r->token_ppl = exp(r->sum_nll / nt);
        r->ref_token_ppl = exp(r->ref_sum_nll / nt);
    }
    return rc;
}

int eng_eval_kl(EngModel *m, EngModel *ref, const char *text, const EngEvalOpts *o, EngKlResult *r, LabErr *e) {
    memset(r, 0, sizeof *r);
    IntVec ids = {0}, rids = {0};
    int rc = eval_tokens(m, text, &ids, e) || eval_tokens(ref, text, &rids, e) ? -1 : 0;
    if (!rc && (ids.n != rids.n || memcmp(ids.v, rids.v, ids.n * sizeof *ids.v)))
        rc = lab_err(e, LAB_EINVAL, "%s and %s tokenize the text differently: KL needs the same tokens", m->name, ref->name);
    if (!rc) rc = eng_eval_kl_ids(m, ref, ids.v, ids.n, o, r, e);
    ivec_free(&ids);
    ivec_free(&rids);
    return rc;
}
