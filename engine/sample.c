/* Sampling as llama.cpp's common sampler chain does it (src/llama-sampling.cpp), with our own RNG. */
#include "sample.h"

#include "ops.h"

#include <math.h>
#include <stdlib.h>

void eng_rng_seed(EngRng *r, uint64_t seed) { r->s = seed; }

static uint64_t rng_next(EngRng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double eng_rng_uniform(EngRng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

const char *eng_stop_name(EngStop s) {
    switch (s) {
    case ENG_STOP_EOS: return "eos";
    case ENG_STOP_LENGTH: return "length";
    case ENG_STOP_STRING: return "stop";
    case ENG_STOP_CANCEL: return "cancel";
    case ENG_STOP_CONTEXT: return "context";
    case ENG_STOP_ERROR: return "error";
    default: return "none";
    }
}

/* Descending by logit, then ascending by id: a total order for any floats, because eng_sample
 * turns NaN into -inf before sorting (NaN compares false both ways, and a quickselect over an
 * inconsistent order runs off the ends of the buffer). */
static int cand_desc(const void *a, const void *b) {
    float x = ((const EngCand *)a)->logit, y = ((const EngCand *)b)->logit;
    if (x != y) return x > y ? -1 : 1;
    return ((const EngCand *)a)->id - ((const EngCand *)b)->id;
}

/* Probabilities of cands[0..n) from their logits (p field), defined for any non-NaN logits: with
 * a +inf among them the +inf ones share the mass; when all are -inf, they share it evenly. */
static void cand_softmax(EngCand *c, int n) {
    float mx = c[0].logit;
    for (int i = 1; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        c[i].p = isinf(mx) ? (c[i].logit == mx ? 1.0f : 0.0f) : expf(c[i].logit - mx);
        sum += c[i].p;
    }
    for (int i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
}

/* NaN ranks below everything: it becomes -inf. */
static void cand_no_nan(EngCand *c, int n) {
    for (int i = 0; i < n; i++)
        if (isnan(c[i].logit)) c[i].logit = -INFINITY;
}

/* Moves the k largest to the front, in descending order; O(vocab * log) via selection + sort. */
static void top_k_front(EngCand *c, int n, int k) {
    if (k >= n) {
        qsort(c, (size_t)n, sizeof *c, cand_desc);
        return;
    }
    /* quickselect the k-th boundary, then sort the front */
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        EngCand pivot = c[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (cand_desc(&c[i], &pivot) < 0) i++;
            while (cand_desc(&c[j], &pivot) > 0) j--;
            if (i <= j) {
                EngCand t = c[i];
                c[i] = c[j];
                c[j] = t;
                i++;
                j--;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
    qsort(c, (size_t)k, sizeof *c, cand_desc);
}

int eng_sample(const float *logits, int vocab, const EngSampling *s, const int *recent, int n_recent,
               EngCand *cands, EngRng *rng) {
    bool penalize = s->repeat_penalty != 1.0f && s->repeat_penalty > 0.0f && n_recent > 0;
    if (!(s->temp > 0.0f) && !penalize) /* greedy as below, without copying the logits: a NaN never wins */
        return vocab > 0 ? (int)op_argmax(logits, (size_t)vocab) : 0;
    for (int i = 0; i < vocab; i++) cands[i] = (EngCand){i, logits[i], 0.0f};
    /* repetition penalty: once per distinct token in the window (llama.cpp's penalties sampler) */
    if (penalize) {
        int from = s->repeat_last_n < 0 || s->repeat_last_n > n_recent ? 0 : n_recent - s->repeat_last_n;
        for (int i = from; i < n_recent; i++) {
            int id = recent[i];
            if (id < 0 || id >= vocab || cands[id].p != 0.0f) continue;
            cands[id].p = 1.0f; /* marks it as penalized */
            float *l = &cands[id].logit;
            *l = *l <= 0.0f ? *l * s->repeat_penalty : *l / s->repeat_penalty;
        }
    }
    cand_no_nan(cands, vocab); /* a NaN logit, or one the penalty made NaN (0 x inf) */
    if (!(s->temp > 0.0f)) { /* 0, negative or NaN: greedy */
        int best = 0;
        for (int i = 1; i < vocab; i++)
            if (cands[i].logit > cands[best].logit) best = i;
        return best;
    }
    int n = vocab;
    if (s->top_k > 0 && s->top_k < n) {
        top_k_front(cands, n, s->top_k);
        n = s->top_k;
    } else {
        qsort(cands, (size_t)n, sizeof *cands, cand_desc);
    }
    if (s->top_p < 1.0f) {
        cand_softmax(cands, n);
        double cum = 0.0;
        for (int i = 0; i < n; i++) {
            cum += cands[i].p;
            if (cum >= s->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (s->min_p > 0.0f) {
        float min_logit = cands[0].logit + logf(s->min_p);
        int keep = 1;
        while (keep < n && cands[keep].logit >= min_logit) keep++;
        n = keep;
    }
    for (int i = 0; i < n; i++) cands[i].logit /= s->temp;
    cand_no_nan(cands, n); /* inf / inf */
    cand_softmax(cands, n);
    double u = eng_rng_uniform(rng), cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += cands[i].p;
        if (u < cum) return cands[i].id;
    }
    return cands[n - 1].id;
}
