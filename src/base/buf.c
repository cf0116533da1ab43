#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(Buf *b, size_t extra) {
    size_t need;
    if (!size_add_ok(b->len, extra, &need) || !size_add_ok(need, 1, &need)) return -1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (!size_mul_ok(cap, 2, &cap)) return -1;
    }
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(Buf *b, const void *p, size_t n) {
    if (buf_reserve(b, n)) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int buf_puts(Buf *b, const char *s) { return buf_append(b, s, strlen(s)); }
int buf_putc(Buf *b, char c) { return buf_append(b, &c, 1); }

int buf_printf(Buf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n)) {
        va_end(ap2);
        return -1;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return 0;
}

void buf_clear(Buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void buf_free(Buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *buf_steal(Buf *b) {
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int ivec_reserve(IntVec *iv, size_t n) {
    if (n <= iv->cap) return 0;
    size_t cap = iv->cap ? iv->cap : 16, bytes;
    while (cap < n) {
        if (!size_mul_ok(cap, 2, &cap)) return -1;
    }
    if (!size_mul_ok(cap, sizeof(int), &bytes)) return -1;
    int *p = realloc(iv->v, bytes);
    if (!p) return -1;
    iv->v = p;
    iv->cap = cap;
    return 0;
}

int ivec_push(IntVec *iv, int x) {
    if (iv->n == iv->cap && ivec_reserve(iv, iv->n + 1)) return -1;
    iv->v[iv->n++] = x;
    return 0;
}

void ivec_free(IntVec *iv) {
    if (!iv) return;
    free(iv->v);
    iv->v = NULL;
    iv->n = iv->cap = 0;
}
