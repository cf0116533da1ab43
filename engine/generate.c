/* Step-wise generation: the prompt as one batch at eng_gen_start, then one token per eng_gen_step,
 * so a UI can interleave two engines. Everything a generation needs (candidates, history, latency
 * list, text buffers) is allocated at start; steps allocate nothing except when a text buffer
 * first grows. Text goes through the tokenizer's streaming decoder (whole UTF-8 characters), then
 * through the stop-string filter, which holds back any tail that could still become a stop string. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ops.h"
#include "sample.h"
#include "tokenizer.h"

struct EngGen {
    EngModel *m;
    EngSampling s;
    char **stops;           /* [s.n_stop] copies */
    EngRng rng;
    EngCand *cands;         /* [vocab] */
    int *hist;              /* [ctx] prompt + generated tokens */
    int n_hist;
    IntVec ids;             /* generated */
    TokStream *ts;          /* NULL without a tokenizer */
    Buf fresh;              /* text the decoder released this step */
    Buf held;               /* text not yet given out (could start a stop string) */
    Buf out;                /* this step's piece text */
    atomic_bool cancel;
    bool started, finished;
    EngStop stop;
    EngMetrics met;
    double *token_ms;       /* [cap] */
    double *sorted;         /* [cap] for percentiles */
    int cap;
    double t_start, t_last;
    /* eng_gen_start_own: a KV cache of its own, so several generations of one model can run and be
     * stepped together (eng_gen_step_many) */
    bool own;
    EngSeq seq;
    float *kv;              /* the cache's memory (kv_cap bytes) */
    size_t kv_cap;
    size_t kv_bytes;        /* of them, what the cache uses */
    float *logits;          /* [vocab] what the next sample reads after the prompt */
};

static void gen_free_parts(EngGen *g) {
    if (g->stops)
        for (int i = 0; i < g->s.n_stop; i++) free(g->stops[i]);
    free(g->stops);
    free((void *)g->s.stop_ids);
    free(g->cands);
    free(g->hist);
    ivec_free(&g->ids);
    tok_stream_free(g->ts);
    buf_free(&g->fresh);
    buf_free(&g->held);
    buf_free(&g->out);
    free(g->token_ms);
    free(g->sorted);
    free(g->kv);
    free(g->logits);
}

/* An own generation's cache memory (64-byte aligned): a spare one of the model big enough, else new. */
static float *kv_take(EngModel *m, size_t bytes, size_t *got) {
    int best = -1;
    for (int i = 0; i < m->n_kv_spare; i++)
        if (m->kv_spare[i].bytes >= bytes && (best < 0 || m->kv_spare[i].bytes < m->kv_spare[best].bytes)) best = i;
    if (best >= 0) {
        float *p = m->kv_spare[best].p;
        *got = m->kv_spare[best].bytes;
        m->kv_spare[best] = m->kv_spare[--m->n_kv_spare];
        return p;
    }
    *got = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, *got);
}

/* Keeps a finished generation's cache for the next one (the largest ones when all spares are taken). */
static void kv_give(EngModel *m, float *p, size_t bytes) {
    if (!p) return;
    int cap = (int)(sizeof m->kv_spare / sizeof *m->kv_spare);
    if (m->n_kv_spare < cap) {
        m->kv_spare[m->n_kv_spare++] = (struct EngKvSpare){p, bytes};
        return;
    }
    int small = 0;
    for (int i = 1; i < cap; i++)
        if (m->kv_spare[i].bytes < m->kv_spare[small].bytes) small = i;
    if (m->kv_spare[small].bytes < bytes) {
        free(m->kv_spare[small].p);
        m->kv_spare[small] = (struct EngKvSpare){p, bytes};
    } else {
        free(p);
    }
}

void eng_gen_free(EngGen *g) {
    if (!g) return;
    if (g->m && !g->own) g->m->busy = false;
    if (g->m && g->own) { /* the cache goes back to the model */
        kv_give(g->m, g->kv, g->kv_cap);
        g->kv = NULL;
    }
    gen_free_parts(g);
    free(g);
}

/* Runs the prompt (g->hist[0 .. n)) into g's own cache, the model's cache set aside meanwhile:
 * eng_forward's very numbers, the prompt's last logits kept in g->logits. */
static int prefill_own(EngGen *g, EngModel *m, int n, LabErr *e) {
    EngRunState *rs = &m->s;
    float *kc = rs->key_cache, *vc = rs->value_cache;
    int ctx = rs->ctx, pos = rs->pos;
    rs->key_cache = g->seq.key_cache;
    rs->value_cache = g->seq.value_cache;
    rs->ctx = g->seq.ctx;
    rs->pos = 0;
    int rc = eng_forward(m, g->hist, n, NULL, e);
    g->seq.pos = rs->pos;
    if (!rc) memcpy(g->logits, rs->logits, (size_t)m->cfg.vocab * sizeof *g->logits);
    rs->key_cache = kc;
    rs->value_cache = vc;
    rs->ctx = ctx;
    rs->pos = pos;
    return rc;
}

/* A generation up to its prompt's pass: checked, its memory and its own cache (own) taken, the
 * prompt (or BOS) in g->hist[0 .. g->n_hist). */
static int gen_new(EngGen **out, EngModel *m, const int *prompt, int n, const EngSampling *s, bool own, LabErr *e) {
    *out = NULL;
    if (!own && m->busy) return lab_err(e, LAB_EINVAL, "%s: another generation is using this model", m->name);
    /* the same check as every other path that takes a setting (engine.h's table) */
    if (eng_sampling_check(s, e)) return lab_err_prefix(e, "%s", m->name);
    double t0 = now_ms();
    int bos = m->cfg.bos_id;
    if (n < 0 || (n > 0 && !prompt)) return lab_err(e, LAB_EINVAL, "%s: invalid prompt (%d ids)", m->name, n);
    if (n == 0 && bos < 0)
        return lab_err(e, LAB_EINVAL, "%s: empty prompt and the model has no BOS token to start from", m->name);
    if (n > m->s.ctx)
        return lab_err(e, LAB_ERANGE, "%s: the prompt has %d tokens but the context holds %d", m->name, n, m->s.ctx);
    EngGen *g = calloc(1, sizeof *g);
    if (!g) return lab_err(e, LAB_ENOMEM, "out of memory");
    g->s = *s;
    g->own = own;
    if (g->s.max_tokens <= 0 || g->s.max_tokens > m->s.ctx) g->s.max_tokens = m->s.ctx;
    if (own) { /* the positions this generation can reach: the prompt, then max_tokens - 1 fed back */
        int np = n > 0 ? n : 1, need = g->s.max_tokens < m->s.ctx - np ? np + g->s.max_tokens : m->s.ctx;
        /* Every cache row sits where it sits in the model's cache modulo 64 bytes: the attention's
         * dot product (quant.c's dot_f32_avx512) starts at the key row's next 64-byte boundary, so
         * its order of additions, and the bits of a score, follow the row's alignment. Hence a
         * 64-byte aligned base and a length congruent to the model's modulo 16 positions. */
        g->seq.ctx = need + ((m->s.ctx - need) % 16 + 16) % 16;
        if (g->seq.ctx > m->s.ctx) g->seq.ctx = m->s.ctx;
        size_t kvd = (size_t)m->cfg.n_kv_head * m->cfg.head_dim, half = ((size_t)m->cfg.n_layer * g->seq.ctx * kvd + 15) / 16 * 16;
        size_t kv_bytes = g->kv_bytes = 2 * half * sizeof *g->kv;
        size_t vb = (size_t)m->cfg.vocab * sizeof *g->logits;
        g->kv = kv_take(m, kv_bytes, &g->kv_cap);
        g->logits = aligned_alloc(64, (vb + 63) / 64 * 64); /* as s.logits */
        if (!g->kv || !g->logits) {
            eng_gen_free(g);
            return lab_err(e, LAB_ENOMEM, "%s: out of memory for a KV cache of %d positions", m->name, g->seq.ctx);
        }
        /* like the model's cache, not cleared: rows past the positions filled are never read */
        g->seq.key_cache = g->kv;
        g->seq.value_cache = g->kv + half;
    }
    g->cap = g->s.max_tokens;
    int V = m->cfg.vocab;
    g->cands = malloc((size_t)V * sizeof *g->cands);
    g->hist = malloc((size_t)m->s.ctx * sizeof *g->hist);
    g->token_ms = calloc((size_t)g->cap, sizeof *g->token_ms);
    g->sorted = calloc((size_t)g->cap, sizeof *g->sorted);
    g->stops = s->n_stop > 0 ? calloc((size_t)s->n_stop, sizeof *g->stops) : NULL;
    if (s->n_stop_ids > 0) {
        int *ids = malloc((size_t)s->n_stop_ids * sizeof *ids);
        if (ids) memcpy(ids, s->stop_ids, (size_t)s->n_stop_ids * sizeof *ids);
        g->s.stop_ids = ids;
    } else {
        g->s.stop_ids = NULL;
        g->s.n_stop_ids = 0;
    }
    bool ok = g->cands && g->hist && g->token_ms && g->sorted && (s->n_stop <= 0 || g->stops) &&
              (s->n_stop_ids <= 0 || g->s.stop_ids) &&
              !ivec_reserve(&g->ids, (size_t)g->cap) && !buf_reserve(&g->fresh, 256) && !buf_reserve(&g->held, 256) &&
              !buf_reserve(&g->out, 256);
    for (int i = 0; ok && i < s->n_stop; i++) ok = (g->stops[i] = strdup(s->stop[i] ? s->stop[i] : "")) != NULL;
    g->s.stop = NULL;
    if (ok && m->tok) ok = (g->ts = tok_stream_new(m->tok)) != NULL;
    if (!ok) {
        if (!g->stops) g->s.n_stop = 0;
        eng_gen_free(g);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    eng_rng_seed(&g->rng, s->seed);
    atomic_init(&g->cancel, false);
    if (n > 0) memcpy(g->hist, prompt, (size_t)n * sizeof *prompt);
    else g->hist[n++] = bos;
    g->n_hist = n;
    g->m = m;
    g->t_start = t0;
    *out = g;
    return 0;
}

/* The rest of a start once the prompt has run (taking prefill_ms of its pass): the decoder primed,
 * the metrics so far. -1 with e filled (g is then the caller's to free). */
static int gen_started(EngGen *g, double prefill_ms, LabErr *e) {
    EngModel *m = g->m;
    int n = g->n_hist;
    /* The decoder sees the prompt's last token first, so the text continues the prompt: a
     * SentencePiece leading space is kept after a word, and llama2.c's rule (no leading space
     * right after BOS) applies. What that token itself decodes to is not part of the answer. */
    if (g->ts && tok_stream_push(g->ts, g->hist[n - 1], &g->fresh, e)) {
        return -1;
    }
    buf_clear(&g->fresh);
    if (!g->own) m->busy = true;
    const EngInfo *in = &m->info;
    g->met = (EngMetrics){.load_ms = in->load_ms, .n_prompt = n, .prefill_ms = prefill_ms,
                          .bytes_weights_mapped = in->bytes_mapped, .bytes_weights_owned = in->bytes_owned,
                          .bytes_kv = g->own ? g->kv_bytes : in->bytes_kv, .bytes_scratch = in->bytes_scratch,
                          .n_params = in->n_params, .n_threads = in->n_threads, .token_ms = g->token_ms};
    g->t_last = g->t_start;
    return 0;
}

static int gen_start(EngGen **out, EngModel *m, const int *prompt, int n, const EngSampling *s, bool own, LabErr *e) {
    EngGen *g;
    if (gen_new(&g, m, prompt, n, s, own, e)) return -1;
    double tp = now_ms();
    int rc = own ? prefill_own(g, m, g->n_hist, e) : (m->s.pos = 0, eng_forward(m, g->hist, g->n_hist, NULL, e));
    if (rc || gen_started(g, now_ms() - tp, e)) {
        if (!own) m->busy = false;
        g->m = NULL;
        eng_gen_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

int eng_gen_start(EngGen **out, EngModel *m, const int *prompt, int n, const EngSampling *s, LabErr *e) {
    return gen_start(out, m, prompt, n, s, false, e);
}

int eng_gen_start_own(EngGen **out, EngModel *m, const int *prompt, int n, const EngSampling *s, LabErr *e) {
    return gen_start(out, m, prompt, n, s, true, e);
}

/* The prompts of g[0 .. k) through one pass (eng_forward_prompts), each one's last logits kept. */
static int prompts_pass(EngGen *const *g, int k, EngModel *m, LabErr *e) {
    const int **ids = malloc((size_t)k * sizeof *ids);
    int *n = malloc((size_t)k * sizeof *n);
    EngSeq *seq = malloc((size_t)k * sizeof *seq);
    size_t vb = (size_t)m->cfg.vocab * sizeof(float);
    float *lg = aligned_alloc(64, ((size_t)k * vb + 63) / 64 * 64);
    int rc = -1;
    if (!ids || !n || !seq || !lg) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < k; i++) {
        ids[i] = g[i]->hist;
        n[i] = g[i]->n_hist;
        seq[i] = g[i]->seq;
    }
    if ((rc = eng_forward_prompts(m, ids, n, seq, k, lg, e))) goto out;
    for (int i = 0; i < k; i++) {
        g[i]->seq = seq[i];
        memcpy(g[i]->logits, (const char *)lg + (size_t)i * vb, vb);
    }
out:
    free(ids);
    free(n);
    free(seq);
    free(lg);
    return rc;
}

int eng_gen_start_own_many(EngGen **outs, EngModel *m, const int *const *prompts, const int *ns,
                           const EngSampling *const *ss, int n, LabErr *errs) {
    EngGen **g = calloc(n > 0 ? (size_t)n : 1, sizeof *g);
    int *done = calloc(n > 0 ? (size_t)n : 1, sizeof *done);
    for (int i = 0; i < n; i++) {
        outs[i] = NULL;
        if (!g || !done) lab_err(&errs[i], LAB_ENOMEM, "out of memory");
        else if (gen_new(&g[i], m, prompts[i], ns[i], ss[i], true, &errs[i])) g[i] = NULL;
    }
    if (!g || !done) {
        free(g);
        free(done);
        return 0;
    }
    /* the prompts in order, as many to a pass as it holds; a pass that fails fails its prompts */
    for (int i = 0; i < n;) {
        if (!g[i]) {
            i++;
            continue;
        }
        double tp = now_ms();
        if (g[i]->n_hist > m->s.batch) { /* alone, in eng_forward's chunks */
            LabErr e = {0};
            done[i] = prefill_own(g[i], m, g[i]->n_hist, &e) ? -1 : 1;
            if (done[i] < 0) errs[i] = e;
            else if (gen_started(g[i], now_ms() - tp, &errs[i])) done[i] = -1;
            i++;
            continue;
        }
        EngGen *pass[64];
        int at[64], k = 0, rows = 0;
        for (int j = i; j < n && k < 64; j++) {
            if (!g[j]) continue;
            if (g[j]->n_hist > m->s.batch || rows + g[j]->n_hist > m->s.batch) break;
            rows += g[j]->n_hist;
            at[k] = j;
            pass[k++] = g[j];
        }
        LabErr e = {0};
        int rc = prompts_pass(pass, k, m, &e);
        double ms = now_ms() - tp;
        for (int j = 0; j < k; j++) {
            int x = at[j];
            if (rc) errs[x] = e;
            done[x] = rc || gen_started(g[x], ms, &errs[x]) ? -1 : 1;
        }
        i = at[k - 1] + 1;
    }
    int started = 0;
    for (int i = 0; i < n; i++) {
        if (done[i] == 1) {
            outs[i] = g[i];
            started++;
        } else {
            eng_gen_free(g[i]);
        }
    }
    free(g);
    free(done);
    return started;
}

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void gen_metrics(EngGen *g) {
    EngMetrics *mt = &g->met;
    double now = now_ms();
    mt->total_ms = now - g->t_start;
    mt->n_gen = (int)g->ids.n;
    mt->n_token_ms = (int)g->ids.n;
    int nd = mt->n_token_ms - 1; /* decode latencies: the tokens after the first */
    if (nd > 0) {
        double sum = 0.0;
        for (int i = 0; i < nd; i++) sum += (g->sorted[i] = g->token_ms[i + 1]);
        qsort(g->sorted, (size_t)nd, sizeof *g->sorted, dcmp);
        mt->p50_ms = g->sorted[(nd - 1) / 2];
        int i95 = (int)(0.95 * nd + 0.999999) - 1;
        mt->p95_ms = g->sorted[i95 < 0 ? 0 : i95 >= nd ? nd - 1 : i95];
        mt->decode_tok_s = sum > 0 ? nd * 1000.0 / sum : 0.0;
    }
}

/* Moves text that can no longer be part of a stop string from held to out; true when a stop
 * string was found (the text before it is released, it and what follows are dropped). */
static bool release_text(EngGen *g, bool final) {
    Buf *h = &g->held;
    size_t cut = h->len, keep = 0;
    bool hit = false;
    for (int i = 0; i < g->s.n_stop; i++) {
        size_t sl = strlen(g->stops[i]);
        if (!sl || !h->len) continue;
        const char *p = memmem(h->data, h->len, g->stops[i], sl);
        if (p && (size_t)(p - h->data) < cut) {
            cut = (size_t)(p - h->data);
            hit = true;
        }
        if (!final) /* the longest tail of held that begins this stop string */
            for (size_t k = sl - 1 < h->len ? sl - 1 : h->len; k > keep; k--)
                if (!memcmp(h->data + h->len - k, g->stops[i], k)) {
                    keep = k;
                    break;
                }
    }
    if (!hit) cut = h->len - keep;
    buf_append(&g->out, h->data, cut);
    if (hit) h->len = 0;
    else {
        memmove(h->data, h->data + cut, h->len - cut);
        h->len -= cut;
    }
    if (h->data) h->data[h->len] = '\0';
    return hit;
}

static int gen_finish(EngGen *g, EngStop why, EngPiece *piece, LabErr *e) {
    g->finished = true;
    g->stop = why;
    if (why != ENG_STOP_STRING) {
        buf_clear(&g->fresh);
        if (g->ts && tok_stream_flush(g->ts, &g->fresh, e)) return -1;
        buf_append(&g->held, g->fresh.data ? g->fresh.data : "", g->fresh.len);
        if (release_text(g, true)) g->stop = ENG_STOP_STRING;
    }
    gen_metrics(g);
    piece->id = -1;
    piece->stop = g->stop;
    piece->text = g->out.data ? g->out.data : "";
    piece->len = g->out.len;
    return 0;
}

/* A step up to its forward pass: STEP_DONE when the step ends without one (*rc is the step's
 * return, piece filled), STEP_RUN when the token sampled last must run first, STEP_SAMPLE when
 * the prompt's logits are there to sample from (the first step). */
enum { STEP_DONE, STEP_RUN, STEP_SAMPLE };
static int step_begin(EngGen *g, EngPiece *piece, int *rc, LabErr *e) {
    EngModel *m = g->m;
    buf_clear(&g->out);
    *piece = (EngPiece){.id = -1, .text = "", .len = 0, .stop = ENG_STOP_NONE};
    *rc = 0;
    if (g->finished) {
        piece->stop = g->stop;
        return STEP_DONE;
    }
    EngStop why = ENG_STOP_NONE;
    if (atomic_load(&g->cancel)) why = ENG_STOP_CANCEL;
    else if ((int)g->ids.n >= g->s.max_tokens) why = ENG_STOP_LENGTH;
    else if (g->started && (g->own ? g->seq.pos >= g->seq.ctx : m->s.pos >= m->s.ctx)) why = ENG_STOP_CONTEXT;
    if (why != ENG_STOP_NONE) {
        *rc = gen_finish(g, why, piece, e);
        return STEP_DONE;
    }
    if (!g->started) {
        g->started = true;
        return STEP_SAMPLE;
    }
    return STEP_RUN;
}

static int step_failed(EngGen *g) {
    g->finished = true;
    g->stop = ENG_STOP_ERROR;
    return -1;
}

static int step_sample(EngGen *g, const float *logits, EngPiece *piece, LabErr *e);

int eng_gen_step(EngGen *g, EngPiece *piece, LabErr *e) {
    EngModel *m = g->m;
    int rc, what = step_begin(g, piece, &rc, e);
    if (what == STEP_DONE) return rc;
    if (what == STEP_RUN) { /* run the token sampled last step */
        int id = g->hist[g->n_hist - 1];
        if (g->own ? eng_forward_seqs(m, &id, &g->seq, 1, g->logits, e) : eng_forward_step(m, id, e))
            return step_failed(g);
    }
    return step_sample(g, g->own ? g->logits : m->s.logits, piece, e);
}

int eng_gen_step_many(EngGen *const *gens, int n, EngPiece *pieces, int *rcs, LabErr *errs) {
    if (n <= 0) return 0;
    EngModel *m = gens[0]->m;
    for (int i = 0; i < n; i++)
        if (!gens[i]->own || gens[i]->m != m) {
            for (int k = 0; k < n; k++) {
                rcs[k] = -1;
                pieces[k] = (EngPiece){.id = -1, .text = "", .stop = ENG_STOP_ERROR};
                lab_err(&errs[k], LAB_EINVAL, "%s: eng_gen_step_many takes generations of eng_gen_start_own of one model",
                        m->name);
            }
            return -1;
        }
    int *what = malloc((size_t)n * sizeof *what), *ids = malloc((size_t)n * sizeof *ids);
    EngSeq *seq = malloc((size_t)n * sizeof *seq);
    int *at = malloc((size_t)n * sizeof *at);
    int k = 0;
    LabErr fe = {0};
    bool failed = !what || !ids || !seq || !at;
    if (failed) lab_err(&fe, LAB_ENOMEM, "out of memory");
    for (int i = 0; i < n && !failed; i++) {
        what[i] = step_begin(gens[i], &pieces[i], &rcs[i], &errs[i]);
        if (what[i] != STEP_RUN) continue;
        at[k] = i;
        ids[k] = gens[i]->hist[gens[i]->n_hist - 1];
        seq[k++] = gens[i]->seq;
    }
    /* the sampled tokens of all of them through one pass: the weights read once for all */
    if (!failed && k > 0) {
        if ((size_t)k > m->logits_rows_n) { /* kept between steps: no fresh pages every token */
            free(m->logits_rows);
            m->logits_rows_n = 0;
            if ((m->logits_rows = aligned_alloc(64, ((size_t)k * m->cfg.vocab * sizeof(float) + 63) / 64 * 64)))
                m->logits_rows_n = (size_t)k;
        }
        float *lg = m->logits_rows;
        if (!lg) failed = lab_err(&fe, LAB_ENOMEM, "out of memory") != 0;
        else if (eng_forward_seqs(m, ids, seq, k, lg, &fe)) failed = true;
        for (int j = 0; j < k && !failed; j++) gens[at[j]]->seq = seq[j];
    }
    int live = 0;
    for (int i = 0; i < n; i++) {
        if (failed) {
            if (what && what[i] == STEP_DONE) continue;
            errs[i] = fe;
            pieces[i] = (EngPiece){.id = -1, .text = "", .len = 0, .stop = ENG_STOP_ERROR};
            rcs[i] = step_failed(gens[i]);
            continue;
        }
        if (what[i] == STEP_SAMPLE) rcs[i] = step_sample(gens[i], gens[i]->logits, &pieces[i], &errs[i]);
        live += rcs[i] == 1;
    }
    for (int j = 0; j < k && !failed; j++) {
        int i = at[j];
        rcs[i] = step_sample(gens[i], m->logits_rows + (size_t)j * m->cfg.vocab, &pieces[i], &errs[i]);
        live += rcs[i] == 1;
    }
    free(what);
    free(ids);
    free(seq);
    free(at);
    return failed ? -1 : live;
}

/* The rest of a step: the next token sampled from logits, its stops, its text. */
static int step_sample(EngGen *g, const float *logits, EngPiece *piece, LabErr *e) {
    EngModel *m = g->m;
    /* An overflowing fp16 checkpoint or a damaged weight gives NaN or inf logits: sampling from them
     * would be noise, so the generation stops with an error naming the step. */
    size_t v = op_first_nonfinite(logits, (size_t)m->cfg.vocab);
    if (v < (size_t)m->cfg.vocab) {
        g->finished = true;
        g->stop = ENG_STOP_ERROR;
        gen_metrics(g);
        return lab_err(e, LAB_ERANGE, "%s: non-finite logits at token %zu (logit %zu is %g)", m->name, g->ids.n + 1, v,
                       (double)logits[v]);
    }
    int id = eng_sample(logits, m->cfg.vocab, &g->s, g->hist, g->n_hist, g->cands, &g->rng);
    double now = now_ms();
    if (g->ids.n == 0) g->met.ttft_ms = now - g->t_start;
    g->token_ms[g->ids.n] = now - g->t_last;
    g->t_last = now;
    ivec_push(&g->ids, id); /* reserved at start: no allocation */
    g->met.n_gen = g->met.n_token_ms = (int)g->ids.n; /* live counts; timings summarized at the end */
    if (g->n_hist < m->s.ctx) g->hist[g->n_hist++] = id;
    bool eos = id == m->cfg.eos_id || (m->cfg.bos_stops && id == m->cfg.bos_id);
    for (int i = 0; i < m->cfg.n_eos; i++) eos = eos || id == m->cfg.eos_ids[i]; /* eos_token_id lists */
    for (int i = 0; i < g->s.n_stop_ids; i++) eos = eos || id == g->s.stop_ids[i]; /* a template's end of turn */
    if (eos) return gen_finish(g, ENG_STOP_EOS, piece, e);
    if (g->ts) {
        buf_clear(&g->fresh);
        if (tok_stream_push(g->ts, id, &g->fresh, e)) return -1;
        buf_append(&g->held, g->fresh.data ? g->fresh.data : "", g->fresh.len);
        if (release_text(g, false)) {
            gen_metrics(g);
            g->finished = true;
            g->stop = ENG_STOP_STRING;
            piece->stop = ENG_STOP_STRING;
            piece->text = g->out.data ? g->out.data : "";
            piece->len = g->out.len;
            return 0;
        }
    }
    piece->id = id;
    piece->text = g->out.data ? g->out.data : "";
    piece->len = g->out.len;
    return 1;
}

void eng_gen_cancel(EngGen *g) { atomic_store(&g->cancel, true); }

const EngMetrics *eng_gen_metrics(const EngGen *g) { return &g->met; }

const IntVec *eng_gen_ids(const EngGen *g) { return &g->ids; }
