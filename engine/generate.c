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
}

void eng_gen_free(EngGen *g) {
    if (!g) return;
    if (g->m) g->m->busy = false;
    gen_free_parts(g);
    free(g);
}

int eng_gen_start(EngGen **out, EngModel *m, const int *prompt, int n, const EngSampling *s, LabErr *e) {
    *out = NULL;
    if (m->busy) return lab_err(e, LAB_EINVAL, "%s: another generation is using this model", m->name);
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
    if (g->s.max_tokens <= 0 || g->s.max_tokens > m->s.ctx) g->s.max_tokens = m->s.ctx;
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
    m->s.pos = 0;
    double tp = now_ms();
    if (eng_forward(m, g->hist, n, NULL, e)) {
        eng_gen_free(g);
        return -1;
    }
    /* The decoder sees the prompt's last token first, so the text continues the prompt: a
     * SentencePiece leading space is kept after a word, and llama2.c's rule (no leading space
     * right after BOS) applies. What that token itself decodes to is not part of the answer. */
    if (g->ts && tok_stream_push(g->ts, g->hist[n - 1], &g->fresh, e)) {
        eng_gen_free(g);
        return -1;
    }
    buf_clear(&g->fresh);
    m->busy = true;
    g->m = m;
    const EngInfo *in = &m->info;
    g->met = (EngMetrics){.load_ms = in->load_ms, .n_prompt = n, .prefill_ms = now_ms() - tp,
                          .bytes_weights_mapped = in->bytes_mapped, .bytes_weights_owned = in->bytes_owned,
                          .bytes_kv = in->bytes_kv, .bytes_scratch = in->bytes_scratch, .n_params = in->n_params,
                          .n_threads = in->n_threads, .token_ms = g->token_ms};
    g->t_start = t0;
    g->t_last = t0;
    *out = g;
    return 0;
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

int eng_gen_step(EngGen *g, EngPiece *piece, LabErr *e) {
    EngModel *m = g->m;
    buf_clear(&g->out);
    *piece = (EngPiece){.id = -1, .text = "", .len = 0, .stop = ENG_STOP_NONE};
    if (g->finished) {
        piece->stop = g->stop;
        return 0;
    }
    if (atomic_load(&g->cancel)) return gen_finish(g, ENG_STOP_CANCEL, piece, e);
    if ((int)g->ids.n >= g->s.max_tokens) return gen_finish(g, ENG_STOP_LENGTH, piece, e);
    if (g->started) { /* run the token sampled last step */
        if (m->s.pos >= m->s.ctx) return gen_finish(g, ENG_STOP_CONTEXT, piece, e);
        if (eng_forward(m, &g->hist[g->n_hist - 1], 1, NULL, e)) {
            g->finished = true;
            g->stop = ENG_STOP_ERROR;
            return -1;
        }
    }
    g->started = true;
    /* An overflowing fp16 checkpoint or a damaged weight gives NaN or inf logits: sampling from them
     * would be noise, so the generation stops with an error naming the step. */
    for (int v = 0; v < m->cfg.vocab; v++)
        if (!isfinite(m->s.logits[v])) {
            g->finished = true;
            g->stop = ENG_STOP_ERROR;
            gen_metrics(g);
            return lab_err(e, LAB_ERANGE, "%s: non-finite logits at token %zu (logit %d is %g)", m->name, g->ids.n + 1, v,
                           (double)m->s.logits[v]);
        }
    int id = eng_sample(m->s.logits, m->cfg.vocab, &g->s, g->hist, g->n_hist, g->cands, &g->rng);
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
