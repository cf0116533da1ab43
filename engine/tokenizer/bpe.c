/* BPE merging.
 * - By rank (tokenizer.json, vocab.json + merges.txt, GGUF gpt2): tokenizers' Word::merge_all — a
 *   min-heap of (rank, position) over a linked list of symbols, so each merge costs O(log n);
 *   results per word are kept in a mutex-guarded cache.
 * - By score (llama2.c's run.c encode and SentencePiece-style GGUF "llama" vocabularies): the pair
 *   whose concatenation is the highest-scoring token merges first, the leftmost on ties — run.c's
 *   rescanning loop, done with the same heap instead. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define CACHE_MAX_ENTRIES 100000
#define CACHE_MAX_WORD 256

typedef struct {
    int id;
    int prev, next;
    size_t a, b;   /* text range (score mode over raw text) */
    bool dead;
} Sym;

typedef struct {
    float key;     /* smaller first: rank, or -score */
    int tie;       /* then smaller first (0, or the merged id: see score_push_pair) */
    int pos, right;
    int new_id;
    int left_id, right_id;
} HeapEnt;

typedef struct { HeapEnt *v; size_t n, cap; } Heap;

static bool heap_less(const HeapEnt *x, const HeapEnt *y) {
    if (x->key != y->key) return x->key < y->key;
    if (x->tie != y->tie) return x->tie < y->tie;
    return x->pos < y->pos;
}

static int heap_push(Heap *h, HeapEnt e) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        HeapEnt *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static HeapEnt heap_pop(Heap *h) {
    HeapEnt top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const HeapEnt *best = &last;
        if (l < h->n && heap_less(&h->v[l], best)) { m = l; best = &h->v[l]; }
        if (r < h->n && heap_less(&h->v[r], best)) m = r;
        if (m == i) break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct { Sym *v; size_t n, cap; } Syms;

static int syms_push(Syms *s, int id, size_t a, size_t b) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        Sym *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    int i = (int)s->n;
    s->v[s->n++] = (Sym){id, i - 1, i + 1, a, b, false};
    return 0;
}

/* ---------- by rank ---------- */
static int rank_push_pair(const Tokenizer *t, Heap *h, const Syms *s, int pos) {
    int nx = s->v[pos].next;
    if (pos < 0 || nx >= (int)s->n) return 0;
    int rank, id;
    if (!pairmap_get(&t->merges, s->v[pos].id, s->v[nx].id, &rank, &id)) return 0;
    return heap_push(h, (HeapEnt){(float)rank, 0, pos, nx, id, s->v[pos].id, s->v[nx].id});
}

/* tokenizers' BPE::merge_word: characters (with the continuing-subword prefix and end-of-word
 * suffix), byte fallback, unknown tokens fused or not, then merge_all. */
static int rank_word(const Tokenizer *t, const char *w, size_t n, IntVec *out) {
    Syms s = {0};
    Heap h = {0};
    Buf tmp = {0};
    int rc = -1;
    int unk_id = -1; /* pending unknown token */
    const unsigned char *p = (const unsigned char *)w;
    for (size_t i = 0; i < n;) {
        size_t k;
        tok_u8_scan(p + i, n - i, &k);
        bool first = i == 0, last = i + k >= n;
        const char *str = w + i;
        size_t len = k;
        if ((!first && t->cont_prefix) || (last && t->eow_suffix)) {
            buf_clear(&tmp);
            if (!first && t->cont_prefix && buf_append(&tmp, t->cont_prefix, t->cont_prefix_len)) goto done;
            if (buf_append(&tmp, w + i, k)) goto done;
            if (last && t->eow_suffix && buf_append(&tmp, t->eow_suffix, t->eow_suffix_len)) goto done;
            str = tmp.data;
            len = tmp.len;
        }
        int id = strmap_get(&t->vocab, str, len);
        if (id >= 0) {
            if (unk_id >= 0) {
                if (syms_push(&s, unk_id, 0, 0)) goto done;
                unk_id = -1;
            }
            if (syms_push(&s, id, 0, 0)) goto done;
        } else {
            bool all = t->byte_fallback;
            for (size_t j = 0; j < len && all; j++) all = t->byte_id[(unsigned char)str[j]] >= 0;
            if (all) {
                /* as tokenizers does, a pending unknown token is not flushed before byte tokens */
                for (size_t j = 0; j < len; j++)
                    if (syms_push(&s, t->byte_id[(unsigned char)str[j]], 0, 0)) goto done;
            } else if (t->unk_id >= 0) {
                if (unk_id >= 0 && !t->fuse_unk && syms_push(&s, unk_id, 0, 0)) goto done;
                unk_id = t->unk_id;
            }
        }
        i += k;
    }
    if (unk_id >= 0 && syms_push(&s, unk_id, 0, 0)) goto done;
    for (int i = 0; i + 1 < (int)s.n; i++)
        if (rank_push_pair(t, &h, &s, i)) goto done;
    while (h.n) {
        HeapEnt top = heap_pop(&h);
        Sym *l = &s.v[top.pos];
        if (l->dead || l->next >= (int)s.n) continue;
        int rank, nid;
        Sym *r = &s.v[l->next];
        if (!pairmap_get(&t->merges, l->id, r->id, &rank, &nid) || nid != top.new_id) continue;
        l->id = nid;
        r->dead = true;
        l->next = r->next;
        if (r->next < (int)s.n) s.v[r->next].prev = top.pos;
        if (l->prev >= 0 && rank_push_pair(t, &h, &s, l->prev)) goto done;
        if (rank_push_pair(t, &h, &s, top.pos)) goto done;
    }
    for (size_t i = 0; i < s.n; i++)
        if (!s.v[i].dead && ivec_push(out, s.v[i].id)) goto done;
    rc = 0;
done:
    free(s.v);
    free(h.v);
    buf_free(&tmp);
    return rc;
}

int bpe_word(const Tokenizer *t, const char *s, size_t n, IntVec *out, LabErr *e) {
    if (t->ignore_merges) {
        int id = strmap_get(&t->vocab, s, n);
        if (id >= 0) return ivec_push(out, id) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
    }
    Tokenizer *mt = (Tokenizer *)t; /* the cache is the one mutable part, under its mutex */
    bool cacheable = n <= CACHE_MAX_WORD;
    if (cacheable) {
        pthread_mutex_lock(&mt->cache_mu);
        int ci = strmap_get(&t->cache, s, n);
        if (ci >= 0) {
            int start = t->cache_ids.v[2 * ci], cnt = t->cache_ids.v[2 * ci + 1];
            int rc = ivec_reserve(out, out->n + (size_t)cnt);
            if (!rc && cnt > 0) {
                memcpy(out->v + out->n, t->cache_pool.v + start, (size_t)cnt * sizeof(int));
                out->n += (size_t)cnt;
            }
            pthread_mutex_unlock(&mt->cache_mu);
            return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
        }
        pthread_mutex_unlock(&mt->cache_mu);
    }
    size_t before = out->n;
    if (rank_word(t, s, n, out)) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (!cacheable) return 0;
    pthread_mutex_lock(&mt->cache_mu);
    if (mt->cache.n >= CACHE_MAX_ENTRIES) {
        strmap_free(&mt->cache);
        mt->cache_ids.n = 0;
        mt->cache_pool.n = 0;
    }
    size_t cnt = out->n - before;
    int idx = (int)(mt->cache_ids.n / 2);
    if (ivec_reserve(&mt->cache_pool, mt->cache_pool.n + cnt) == 0 &&
        ivec_reserve(&mt->cache_ids, mt->cache_ids.n + 2) == 0 && strmap_put(&mt->cache, s, n, idx) == 0) {
        mt->cache_ids.v[mt->cache_ids.n++] = (int)mt->cache_pool.n;
        mt->cache_ids.v[mt->cache_ids.n++] = (int)cnt;
        if (cnt) memcpy(mt->cache_pool.v + mt->cache_pool.n, out->v + before, cnt * sizeof(int));
        mt->cache_pool.n += cnt;
    }
    pthread_mutex_unlock(&mt->cache_mu);
    return 0;
}

void bpe_cache_free(Tokenizer *t) {
    strmap_free(&t->cache);
    ivec_free(&t->cache_ids);
    ivec_free(&t->cache_pool);
}

/* ---------- by score ---------- */
typedef struct {
    const Tokenizer *t;
    const char *text;
    bool llama2c;
    Buf cat;
} ScoreCtx;

/* The token that the two symbols' text forms, -1 if none. */
static int score_pair(ScoreCtx *c, const Sym *l, const Sym *r) {
    const Tokenizer *t = c->t;
    if (c->llama2c) {
        buf_clear(&c->cat);
        if (buf_append(&c->cat, t->tok[l->id], t->tok_len[l->id]) || buf_append(&c->cat, t->tok[r->id], t->tok_len[r->id]))
            return -2;
        return strmap_get(&t->vocab, c->cat.data, c->cat.len);
    }
    return strmap_get(&t->vocab, c->text + l->a, r->b - l->a);
}

static int score_push_pair(ScoreCtx *c, Heap *h, const Syms *s, int pos) {
    if (pos < 0) return 0;
    int nx = s->v[pos].next;
    if (nx >= (int)s->n) return 0;
    int id = score_pair(c, &s->v[pos], &s->v[nx]);
    if (id == -2) return -1;
    if (id < 0) return 0;
    float sc = c->t->scores[id];
    if (!(sc > -1e10f)) return 0; /* run.c starts its search at -1e10 and needs a strictly better score */
    /* Equal scores: run.c takes the leftmost pair. For GGUF vocabularies the lower merged id goes
     * first: llama.cpp's converter gives every piece of a Hugging Face BPE vocabulary the same score
     * (-1000), and such a vocabulary lists merged tokens in merge order, so this is the BPE's own order. */
    return heap_push(h, (HeapEnt){-sc, c->llama2c ? 0 : id, pos, nx, id, s->v[pos].id, s->v[nx].id});
}

int bpe_scores_text(const Tokenizer *t, const char *text, size_t n, bool llama2c, const int *lead, size_t n_lead,
                    IntVec *out, LabErr *e) {
    ScoreCtx c = {t, text, llama2c, {0}};
    Syms s = {0};
    Heap h = {0};
    int rc = -1;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < n_lead; i++)
        if (syms_push(&s, lead[i], 0, 0)) goto done;
    if (llama2c) {
        /* run.c's encode: a code point (at most 4 bytes) at a time, looked up whole, else its bytes */
        size_t start = 0, len = 0;
        for (size_t i = 0; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80 || len == 0) { start = i; len = 0; }
            len++;
            if (i + 1 < n && (p[i + 1] & 0xC0) == 0x80 && len < 4) continue;
            int id = strmap_get(&t->vocab, text + start, len);
            if (id >= 0) {
                if (syms_push(&s, id, start, i + 1)) goto done;
            } else {
                for (size_t j = 0; j < len; j++)
                    if (syms_push(&s, (int)p[start + j] + 3, start + j, start + j + 1)) goto done; /* <0xXX> = 3 + byte */
            }
            len = 0;
        }
    } else {
        for (size_t i = 0; i < n;) {
            size_t k;
            tok_u8_scan(p + i, n - i, &k);
            if (syms_push(&s, strmap_get(&t->vocab, text + i, k), i, i + k)) goto done;
            i += k;
        }
    }
    for (int i = 0; i + 1 < (int)s.n; i++)
        if (score_push_pair(&c, &h, &s, i)) goto done;
    while (h.n) {
        HeapEnt top = heap_pop(&h);
        Sym *l = &s.v[top.pos];
        if (l->dead || l->next != top.right || s.v[top.right].dead || l->id != top.left_id ||
            s.v[top.right].id != top.right_id)
            continue;
        if (!llama2c && (l->b != s.v[top.right].a)) continue;
        Sym *r = &s.v[top.right];
        l->id = top.new_id;
        l->b = r->b;
        r->dead = true;
        l->next = r->next;
        if (r->next < (int)s.n) s.v[r->next].prev = top.pos;
        if (score_push_pair(&c, &h, &s, l->prev) || score_push_pair(&c, &h, &s, top.pos)) goto done;
    }
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i].dead) continue;
        if (s.v[i].id >= 0) {
            if (ivec_push(out, s.v[i].id)) goto done;
            continue;
        }
        /* a character that is not a token (SentencePiece): its bytes, or <unk> */
        bool all = true;
        for (size_t j = s.v[i].a; j < s.v[i].b && all; j++) all = t->byte_id[p[j]] >= 0;
        if (all) {
            for (size_t j = s.v[i].a; j < s.v[i].b; j++)
                if (ivec_push(out, t->byte_id[p[j]])) goto done;
        } else if (t->unk_id >= 0 && ivec_push(out, t->unk_id)) goto done;
    }
    rc = 0;
done:
    free(s.v);
    free(h.v);
    buf_free(&c.cat);
    return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}
