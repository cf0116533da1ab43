#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "text.h"

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

int text_cp_width(uint32_t cp) {
    if (cp == '\n') return 0;
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;   /* unknown: we print U+FFFD instead, one column */
}

static int put_cp(Buf *out, uint32_t cp) {
    char tmp[4];
    int k = utf8_encode(cp, tmp);
    return buf_append(out, tmp, (size_t)k);
}

/* A code point we let through: printable per wcwidth, or a combining / zero-width mark. */
static bool cp_printable(uint32_t cp) {
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return false;
    if (cp == 0x2028 || cp == 0x2029) return false;          /* line/paragraph separators */
    /* bidi overrides and isolates can reorder what the terminal shows after them */
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) return false;
    return wcwidth((wchar_t)cp) >= 0;
}

static int sanitize_cp(TextSanitizer *ts, uint32_t cp, Buf *out) {
    switch (ts->state) {
    case 1: /* after ESC */
        if (cp == '[') ts->state = 2;
        else if (cp == ']' || cp == 'P' || cp == '_' || cp == '^' || cp == 'X') ts->state = 3;
        else if (cp >= 0x20 && cp <= 0x2F) ts->state = 1;     /* intermediate bytes: ESC ( B ... */
        else ts->state = 0;                                    /* two-byte sequence: drop the final */
        return 0;
    case 2: /* CSI: parameters and intermediates until a final byte 0x40..0x7E */
        if (cp >= 0x40 && cp <= 0x7E) ts->state = 0;
        else if (cp < 0x20 || cp > 0x7E) ts->state = 0;       /* malformed: stop swallowing */
        return 0;
    case 3: /* string until BEL or ST (ESC \ or U+009C) */
        if (cp == 0x07 || cp == 0x9C) ts->state = 0;
        else if (cp == 0x1B) ts->state = 4;
        return 0;
    case 4:
        ts->state = cp == '\\' ? 0 : 3;
        return 0;
    default:
        break;
    }
    if (cp == 0x1B) { ts->state = 1; return 0; }
    if (cp == 0x9B) { ts->state = 2; return 0; }              /* C1 CSI */
    if (cp == 0x9D || cp == 0x90 || cp == 0x9E || cp == 0x9F || cp == 0x98) { ts->state = 3; return 0; }
    if (cp == '\n') return buf_putc(out, '\n');
    if (cp == '\t') return buf_append(out, "    ", 4);
    if (!cp_printable(cp)) {
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return 0;  /* controls vanish */
        return buf_append(out, REPLACEMENT, 3);
    }
    return put_cp(out, cp);
}

int text_sanitize(TextSanitizer *ts, const char *s, size_t n, Buf *out) {
    /* Join a held partial sequence with the new bytes first. */
    unsigned char joined[8];
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (ts->n_hold) {
        size_t take = n < 4 ? n : 4;
        memcpy(joined, ts->hold, ts->n_hold);
        memcpy(joined + ts->n_hold, p, take);
        size_t jn = ts->n_hold + take;
        int k = utf8_seq_len(joined, jn);
        if (k == 0 && utf8_incomplete_tail(joined, jn) == jn) {  /* still incomplete */
            if (jn > 4) jn = 4;
            memcpy(ts->hold, joined, jn);
            ts->n_hold = jn;
            return 0;
        }
        size_t from_new;
        if (k == 0) {                                            /* invalid: replace the first byte */
            if (buf_append(out, REPLACEMENT, 3)) return -1;
            memmove(ts->hold, ts->hold + 1, --ts->n_hold);
            continue;
        }
        uint32_t cp;
        utf8_decode(joined, (size_t)k, &cp);
        from_new = (size_t)k - ts->n_hold;
        ts->n_hold = 0;
        if (sanitize_cp(ts, cp, out)) return -1;
        i = from_new;
    }
    while (i < n) {
        int k = utf8_seq_len(p + i, n - i);
        if (k == 0) {
            size_t tail = utf8_incomplete_tail(p + i, n - i);
            if (tail && tail == n - i) {
                memcpy(ts->hold, p + i, tail);
                ts->n_hold = tail;
                return 0;
            }
            if (buf_append(out, REPLACEMENT, 3)) return -1;
            i++;
            continue;
        }
        uint32_t cp;
        utf8_decode(p + i, (size_t)k, &cp);
        if (sanitize_cp(ts, cp, out)) return -1;
        i += (size_t)k;
    }
    if (!out->data && buf_reserve(out, 1)) return -1;
    return 0;
}

int text_sanitize_end(TextSanitizer *ts, Buf *out) {
    int rc = 0;
    if (ts->n_hold) rc = buf_append(out, REPLACEMENT, 3);
    ts->n_hold = 0;
    ts->state = 0;
    return rc;
}

/* Decodes the character at s[i] (text is sanitized, so valid UTF-8 is expected; stray bytes count
 * as one column). */
static size_t next_cp(const char *s, size_t n, size_t i, uint32_t *cp) {
    return (size_t)utf8_decode((const unsigned char *)s + i, n - i, cp);
}

int text_width(const char *s, size_t n) {
    int w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += next_cp(s, n, i, &cp);
        w += text_cp_width(cp);
    }
    return w;
}

size_t text_fit(const char *s, size_t n, int cols, int *used) {
    int w = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = next_cp(s, n, i, &cp);
        if (cp == '\n') break;
        int cw = text_cp_width(cp);
        if (w + cw > cols) break;
        w += cw;
        i += k;
    }
    if (used) *used = w;
    return i;
}

static int lines_push(TextLines *tl, size_t start, size_t len, int cols) {
    if (tl->n == tl->cap) {
        size_t cap = tl->cap ? tl->cap * 2 : 64, bytes;
        if (!size_mul_ok(cap, sizeof *tl->v, &bytes)) return -1;
        TextLine *v = realloc(tl->v, bytes);
        if (!v) return -1;
        tl->v = v;
        tl->cap = cap;
    }
    tl->v[tl->n++] = (TextLine){start, len, cols};
    return 0;
}

int text_wrap(const char *s, size_t n, int width, TextLines *out) {
    out->n = 0;
    if (width < 1) width = 1;
    size_t start = 0, i = 0;
    int w = 0;
    size_t brk = 0;         /* byte offset just after the last break opportunity (0 = none) */
    int brk_w = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = next_cp(s, n, i, &cp);
        if (cp == '\n') {
            if (lines_push(out, start, i - start, w)) return -1;
            i += k;
            start = i;
            w = 0;
            brk = 0;
            continue;
        }
        int cw = text_cp_width(cp);
        if (cp == ' ') {                       /* a space never starts a wrap: it hangs at the end */
            i += k;
            if (w + cw <= width) w += cw;
            brk = i;
            brk_w = w;
            continue;
        }
        if (w + cw > width && w > 0) {
            size_t end;
            int end_w;
            if (brk > start) { end = brk; end_w = brk_w; }
            else { end = i; end_w = w; }
            if (lines_push(out, start, end - start, end_w)) return -1;
            start = end;
            brk = 0;
            w = text_width(s + start, i - start);
            continue;                          /* re-examine cp on the new line */
        }
        if (cw == 2 && w > 0) { brk = i; brk_w = w; }  /* may break before a wide character */
        w += cw;
        i += k;
        if (cw == 2) { brk = i; brk_w = w; }           /* ... and after it */
    }
    return lines_push(out, start, n - start, w);
}

void text_lines_free(TextLines *tl) {
    if (!tl) return;
    free(tl->v);
    tl->v = NULL;
    tl->n = tl->cap = 0;
}
