/* Normalizers of tokenizer.json: Sequence, Prepend, Replace, NFC/NFKC/NFD/NFKD (utf8proc),
 * Lowercase, Strip, Precompiled (SentencePiece's character map, spm.c). Input is always valid UTF-8 (tok_encode replaces invalid bytes first). */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tok_internal.h"

static int norm_one(const TokNorm *nm, const char *s, size_t n, Buf *out, bool *lead_removed, LabErr *e);

static int norm_unicode(const TokNorm *nm, const char *s, size_t n, Buf *out, LabErr *e) {
    int opts = UTF8PROC_STABLE;
    switch (nm->type) {
    case NORM_NFC: opts |= UTF8PROC_COMPOSE; break;
    case NORM_NFKC: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NORM_NFD: opts |= UTF8PROC_DECOMPOSE; break;
    default: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    if (n == 0) return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, (utf8proc_option_t)opts);
    if (r < 0) {
        free(dst);
        return lab_err(e, LAB_EINVAL, "unicode normalization failed: %s", utf8proc_errmsg(r));
    }
    int rc = buf_append(out, dst, (size_t)r);
    free(dst);
    return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}

static int norm_lower(const char *s, size_t n, Buf *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k;
        tok_u8_scan(p + i, n - i, &k);
        uint32_t cp = tok_u8_cp(p + i, k);
        i += k;
        if (cp < 0x80) {
            if (buf_putc(out, (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp))) return -1;
            continue;
        }
        char enc[4];
        if (cp == 0x130) { /* Rust's to_lowercase: the one unconditional two-character mapping */
            if (buf_append(out, "i\xCC\x87", 3)) return -1;
            continue;
        }
        uint32_t lc = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        if (buf_append(out, enc, (size_t)utf8_encode(lc, enc))) return -1;
    }
    return 0;
}

static int norm_strip(const TokNorm *nm, const char *s, size_t n, Buf *out, bool *lead_removed) {
    const unsigned char *p = (const unsigned char *)s;
    size_t a = 0, b = n;
    if (nm->left) {
        while (a < n) {
            size_t k;
            tok_u8_scan(p + a, n - a, &k);
            if (!tok_is_ws(tok_u8_cp(p + a, k))) break;
            a += k;
        }
        if (a > 0) *lead_removed = true;
    }
    if (nm->right) {
        while (b > a) {
            size_t st = b - 1;
            while (st > a && (p[st] & 0xC0) == 0x80) st--;
            if (!tok_is_ws(tok_u8_cp(p + st, b - st))) break;
            b = st;
        }
    }
    return buf_append(out, s + a, b - a);
}

static int norm_replace(const TokNorm *nm, const char *s, size_t n, Buf *out, bool *lead_removed, LabErr *e) {
    size_t i = 0;
    if (nm->re.code) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(nm->re.code, NULL);
        if (!md) return lab_err(e, LAB_ENOMEM, "out of memory");
        size_t ms, me, pos = 0;
        int rc = 0;
        int r = 0;
        while (pos <= n && (r = tok_re_find(&nm->re, md, s, n, pos, &ms, &me)) == 1) {
            if (ms == 0 && me > 0 && nm->b_len == 0) *lead_removed = true;
            if (buf_append(out, s + i, ms - i) || buf_append(out, nm->b, nm->b_len)) { rc = -1; break; }
            i = me;
            if (me == ms) { /* empty match: step over one character */
                if (me >= n) break;
                size_t k;
                tok_u8_scan((const unsigned char *)s + me, n - me, &k);
                pos = me + k;
            } else pos = me;
        }
        pcre2_match_data_free(md);
        if (!rc && r < 0) return lab_err(e, LAB_EUNSUPPORTED, "Replace: regex matching failed (PCRE2's limits)");
        if (rc || buf_append(out, s + i, n - i)) return lab_err(e, LAB_ENOMEM, "out of memory");
        return 0;
    }
    if (nm->a_len == 0) return buf_append(out, s, n);
    while (i < n) {
        const char *f = memmem(s + i, n - i, nm->a, nm->a_len);
        if (!f) break;
        size_t at = (size_t)(f - s);
        if (at == 0 && nm->b_len == 0) *lead_removed = true;
        if (buf_append(out, s + i, at - i) || buf_append(out, nm->b, nm->b_len)) return lab_err(e, LAB_ENOMEM, "out of memory");
        i = at + nm->a_len;
    }
    return buf_append(out, s + i, n - i) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}

static int norm_one(const TokNorm *nm, const char *s, size_t n, Buf *out, bool *lead_removed, LabErr *e) {
    switch (nm->type) {
    case NORM_SEQ: {
        Buf a = {0}, b = {0};
        if (buf_append(&a, s, n)) return lab_err(e, LAB_ENOMEM, "out of memory");
        for (size_t i = 0; i < nm->n_kids; i++) {
            buf_clear(&b);
            int rc = buf_append(&b, "", 0) ? lab_err(e, LAB_ENOMEM, "out of memory")
                                        : norm_one(nm->kids[i], a.data, a.len, &b, lead_removed, e);
            if (rc) {
                buf_free(&a); buf_free(&b);
                return -1;
            }
            Buf t = a; a = b; b = t;
        }
        int rc = buf_append(out, a.data, a.len);
        buf_free(&a); buf_free(&b);
        return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
    }
    case NORM_PREPEND:
        if (n == 0) return 0;
        if (buf_append(out, nm->a, nm->a_len) || buf_append(out, s, n)) return lab_err(e, LAB_ENOMEM, "out of memory");
        return 0;
    case NORM_REPLACE: return norm_replace(nm, s, n, out, lead_removed, e);
    case NORM_NFC: case NORM_NFKC: case NORM_NFD: case NORM_NFKD: return norm_unicode(nm, s, n, out, e);
    case NORM_LOWER: return norm_lower(s, n, out) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
    case NORM_STRIP: return norm_strip(nm, s, n, out, lead_removed) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
    case NORM_PRECOMPILED: return spm_charsmap_normalize_hf(&nm->cm, s, n, out) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
    }
    return lab_err(e, LAB_EINVAL, "bad normalizer");
}

int norm_apply(const TokNorm *nm, const char *s, size_t n, Buf *out, bool *lead_removed, LabErr *e) {
    buf_clear(out);
    *lead_removed = false;
    if (buf_reserve(out, 1)) return lab_err(e, LAB_ENOMEM, "out of memory");
    out->data[out->len] = 0;
    return norm_one(nm, s, n, out, lead_removed, e);
}

void norm_free(TokNorm *nm) {
    if (!nm) return;
    for (size_t i = 0; i < nm->n_kids; i++) norm_free(nm->kids[i]);
    free(nm->kids);
    free(nm->a);
    free(nm->b);
    tok_re_free(&nm->re);
    spm_charsmap_free(&nm->cm);
    free(nm);
}
