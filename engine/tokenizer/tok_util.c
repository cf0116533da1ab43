/* Small containers and UTF-8 helpers for the tokenizer. */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tok_internal.h"

static uint64_t hash_bytes(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int strmap_grow(StrMap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    StrMap nm = {0};
    nm.keys = calloc(cap, sizeof *nm.keys);
    nm.lens = calloc(cap, sizeof *nm.lens);
    nm.vals = calloc(cap, sizeof *nm.vals);
    if (!nm.keys || !nm.lens || !nm.vals) {
        free(nm.keys); free(nm.lens); free(nm.vals);
        return -1;
    }
    nm.cap = cap;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = hash_bytes(m->keys[i], m->lens[i]) & (cap - 1);
        while (nm.keys[j]) j = (j + 1) & (cap - 1);
        nm.keys[j] = m->keys[i];
        nm.lens[j] = m->lens[i];
        nm.vals[j] = m->vals[i];
    }
    nm.n = m->n;
    free(m->keys); free(m->lens); free(m->vals);
    *m = nm;
    return 0;
}

int strmap_put(StrMap *m, const char *k, size_t n, int v) {
    if (n > UINT32_MAX) return -1;
    if ((m->n + 1) * 4 > m->cap * 3 && strmap_grow(m)) return -1;
    size_t j = hash_bytes(k, n) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->lens[j] == n && memcmp(m->keys[j], k, n) == 0) return 1;
        j = (j + 1) & (m->cap - 1);
    }
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, k, n);
    c[n] = 0;
    m->keys[j] = c;
    m->lens[j] = (uint32_t)n;
    m->vals[j] = v;
    m->n++;
    return 0;
}

int strmap_get(const StrMap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    size_t j = hash_bytes(k, n) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->lens[j] == n && memcmp(m->keys[j], k, n) == 0) return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void strmap_free(StrMap *m) {
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys); free(m->lens); free(m->vals);
    memset(m, 0, sizeof *m);
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int pairmap_grow(PairMap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    PairMap nm = {0};
    nm.keys = malloc(cap * sizeof *nm.keys);
    nm.rank = malloc(cap * sizeof *nm.rank);
    nm.id = malloc(cap * sizeof *nm.id);
    if (!nm.keys || !nm.rank || !nm.id) {
        free(nm.keys); free(nm.rank); free(nm.id);
        return -1;
    }
    memset(nm.keys, 0xff, cap * sizeof *nm.keys);
    nm.cap = cap;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == UINT64_MAX) continue;
        size_t j = hash_u64(m->keys[i]) & (cap - 1);
        while (nm.keys[j] != UINT64_MAX) j = (j + 1) & (cap - 1);
        nm.keys[j] = m->keys[i];
        nm.rank[j] = m->rank[i];
        nm.id[j] = m->id[i];
    }
    nm.n = m->n;
    free(m->keys); free(m->rank); free(m->id);
    *m = nm;
    return 0;
}

int pairmap_put(PairMap *m, int a, int b, int rank, int id) {
    if ((m->n + 1) * 4 > m->cap * 3 && pairmap_grow(m)) return -1;
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t j = hash_u64(k) & (m->cap - 1);
    while (m->keys[j] != UINT64_MAX && m->keys[j] != k) j = (j + 1) & (m->cap - 1);
    if (m->keys[j] == UINT64_MAX) m->n++;
    m->keys[j] = k;
    m->rank[j] = rank;
    m->id[j] = id;
    return 0;
}

bool pairmap_get(const PairMap *m, int a, int b, int *rank, int *id) {
    if (!m->cap) return false;
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t j = hash_u64(k) & (m->cap - 1);
    while (m->keys[j] != UINT64_MAX) {
        if (m->keys[j] == k) {
            *rank = m->rank[j];
            *id = m->id[j];
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

void pairmap_free(PairMap *m) {
    if (!m) return;
    free(m->keys); free(m->rank); free(m->id);
    memset(m, 0, sizeof *m);
}

int tok_u8_scan(const unsigned char *s, size_t n, size_t *len) {
    unsigned c = s[0];
    if (c < 0x80) { *len = 1; return TOK_U8_OK; }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else { *len = 1; return TOK_U8_BAD; }
    for (size_t i = 1; i < need; i++) {
        if (i >= n) { *len = n; return TOK_U8_MORE; }
        unsigned b = s[i];
        bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) { *len = i; return TOK_U8_BAD; }
    }
    *len = need;
    return TOK_U8_OK;
}

int tok_u8_lossy(Buf *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of the pending valid stretch */
    while (i < n) {
        size_t k;
        int r = tok_u8_scan(p + i, n - i, &k);
        if (r == TOK_U8_OK) { i += k; continue; }
        if (buf_append(out, s + run, i - run) || buf_append(out, "\xEF\xBF\xBD", 3)) return -1;
        i += k;
        run = i;
    }
    return buf_append(out, s + run, n - run);
}

uint32_t tok_u8_cp(const unsigned char *s, size_t len) {
    switch (len) {
    case 1: return s[0];
    case 2: return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    case 3: return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    default: return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    }
}

bool tok_is_ws(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

bool tok_is_alnum(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

int pieces_push(TokPieces *p, size_t off, size_t len, int id, bool origin) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        TokPiece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (TokPiece){off, len, id, origin};
    return 0;
}

void pieces_free(TokPieces *p) {
    if (!p) return;
    buf_free(&p->text);
    free(p->v);
    memset(p, 0, sizeof *p);
}
