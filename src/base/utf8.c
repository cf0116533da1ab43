#include "base.h"

int utf8_seq_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned c = s[0];
    int len;
    uint32_t min;
    if (c < 0x80) return 1;
    else if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; }
    else return 0;
    if ((size_t)len > n) return 0;
    uint32_t cp = c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

size_t utf8_incomplete_tail(const unsigned char *s, size_t n) {
    /* Look back at most 3 bytes for a lead byte whose sequence runs past the end. */
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned c = s[n - k];
        if ((c & 0xC0) == 0x80) continue;          /* continuation: keep looking */
        int need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        if ((size_t)need <= k) return 0;
        /* the bytes so far must be a valid prefix */
        for (size_t i = 1; i < k; i++)
            if ((s[n - k + i] & 0xC0) != 0x80) return 0;
        if (need == 3 && k >= 2) {
            unsigned c1 = s[n - k + 1];
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;
        }
        if (need == 4) {
            if (c > 0xF4) return 0;
            if (k >= 2) {
                unsigned c1 = s[n - k + 1];
                if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
            }
        }
        if (need == 2 && c < 0xC2) return 0;
        return k;
    }
    return 0;
}

bool utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq_len(p + i, n - i);
        if (!k) return false;
        i += (size_t)k;
    }
    return true;
}

int utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    int k = utf8_seq_len(s, n);
    if (!k) { *cp = 0xFFFD; return 1; }
    if (k == 1) { *cp = s[0]; return 1; }
    uint32_t c = s[0] & (0x7F >> k);
    for (int i = 1; i < k; i++) c = c << 6 | (s[i] & 0x3F);
    *cp = c;
    return k;
}
