/* Pre-tokenizers of tokenizer.json: ByteLevel (GPT-2's regex through PCRE2 with Unicode
 * properties), Split (regex or string, every behaviour, invert), Metaspace, Whitespace,
 * WhitespaceSplit, Digits, Punctuation and Sequence. They follow tokenizers' NormalizedString::split:
 * a pattern yields matches and the gaps between them, the behaviour decides what becomes a split,
 * and empty splits are dropped. */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tok_internal.h"

/* ---------- regex ---------- */
int tok_re_compile(TokRegex *re, const char *pattern, size_t len, const char *what, const char *file, LabErr *e) {
    int err;
    PCRE2_SIZE off;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return lab_err(e, LAB_EUNSUPPORTED, "%s: %s regex '%.*s' does not compile at offset %zu: %s", file, what,
                       (int)(len > 200 ? 200 : len), pattern, (size_t)off, (const char *)msg);
    }
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

void tok_re_free(TokRegex *re) {
    if (!re) return;
    pcre2_code_free(re->code);
    re->code = NULL;
}

int tok_re_find(const TokRegex *re, pcre2_match_data *md, const char *s, size_t n, size_t start, size_t *ms, size_t *me) {
    if (start > n) return 0;
    /* The subject was checked once (valid UTF-8 throughout): skipping PCRE2's own check keeps the
     * scan linear instead of re-validating the rest of the text at every match. */
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK, md, NULL)
                     : pcre2_match(re->code, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) return -1; /* e.g. a JIT stack limit: never a silent "no match" */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

/* ---------- GPT-2 bytes_to_unicode ---------- */
static ByteChar byte_chars[256];
static int16_t char_bytes[512];
static pthread_once_t bc_once = PTHREAD_ONCE_INIT;

static void bc_init(void) {
    for (int i = 0; i < 512; i++) char_bytes[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint32_t cp = printable ? (uint32_t)b : (uint32_t)(256 + n++);
        byte_chars[b].n = (uint8_t)utf8_encode(cp, byte_chars[b].s);
        char_bytes[cp] = (int16_t)b;
    }
}

const ByteChar *tok_byte_chars(void) {
    pthread_once(&bc_once, bc_init);
    return byte_chars;
}

int tok_char_byte(uint32_t cp) {
    pthread_once(&bc_once, bc_init);
    return cp < 512 ? char_bytes[cp] : -1;
}

/* ---------- matches → splits ---------- */
typedef struct { size_t a, b; bool m; } Span;
typedef struct { Span *v; size_t n, cap; } Spans;

static int spans_push(Spans *s, size_t a, size_t b, bool m) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        Span *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (Span){a, b, m};
    return 0;
}

typedef bool (*CharPred)(uint32_t cp, const TokPre *pt);

static bool pred_ws(uint32_t cp, const TokPre *pt) { (void)pt; return tok_is_ws(cp); }
static bool pred_numeric(uint32_t cp, const TokPre *pt) {
    (void)pt;
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}
static bool pred_punct(uint32_t cp, const TokPre *pt) {
    (void)pt;
    if (cp < 0x80) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}
static bool pred_repl(uint32_t cp, const TokPre *pt) { return cp == pt->replacement; }

/* tokenizers' Pattern::find_matches for a char predicate: every matching character is its own match. */
static int find_char_matches(const char *s, size_t n, CharPred f, const TokPre *pt, Spans *out) {
    out->n = 0;
    if (n == 0) return spans_push(out, 0, 0, false);
    size_t last = 0, i = 0;
    while (i < n) {
        size_t k;
        tok_u8_scan((const unsigned char *)s + i, n - i, &k);
        if (f(tok_u8_cp((const unsigned char *)s + i, k), pt)) {
            if (last < i && spans_push(out, last, i, false)) return -1;
            if (spans_push(out, i, i + k, true)) return -1;
            last = i + k;
        }
        i += k;
    }
    if (last < n && spans_push(out, last, n, false)) return -1;
    return 0;
}

static int find_re_matches(const TokRegex *re, pcre2_match_data *md, const char *s, size_t n, bool invert, Spans *out) {
    out->n = 0;
    if (n == 0) return spans_push(out, 0, 0, false);
    size_t prev = 0, pos = 0, ms, me;
    int r = 0;
    while (pos <= n && (r = tok_re_find(re, md, s, n, pos, &ms, &me)) == 1) {
        if (prev != ms && spans_push(out, prev, ms, invert)) return -1;
        if (spans_push(out, ms, me, !invert)) return -1;
        prev = me;
        if (me == ms) { /* empty match: move on by one character */
            if (me >= n) break;
            size_t k;
            tok_u8_scan((const unsigned char *)s + me, n - me, &k);
            pos = me + k;
        } else pos = me;
    }
    if (r < 0) return -2;
    if (prev != n && spans_push(out, prev, n, invert)) return -1;
    return 0;
}

/* Applies a SplitDelimiterBehavior in place (tokenizers' NormalizedString::split); removed spans get
 * m = true, kept ones m = false. */
static void apply_behavior(Spans *sp, SplitBehavior b) {
    size_t w = 0;
    bool prev = false;
    switch (b) {
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < sp->n; i++) sp->v[i].m = false;
        return;
    case SPLIT_REMOVED:
        return;
    case SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < sp->n; i++) {
            Span s = sp->v[i];
            if (s.m == prev && w > 0) sp->v[w - 1].b = s.b;
            else sp->v[w++] = (Span){s.a, s.b, false};
            prev = s.m;
        }
        sp->n = w;
        return;
    case SPLIT_MERGED_PREV:
        for (size_t i = 0; i < sp->n; i++) {
            Span s = sp->v[i];
            if (s.m && !prev && w > 0) sp->v[w - 1].b = s.b;
            else sp->v[w++] = (Span){s.a, s.b, false};
            prev = s.m;
        }
        sp->n = w;
        return;
    case SPLIT_MERGED_NEXT: {
        /* walk backwards, then restore the order */
        for (size_t i = sp->n; i-- > 0;) {
            Span s = sp->v[i];
            if (s.m && !prev && w > 0) sp->v[sp->n - w].a = s.a;
            else { w++; sp->v[sp->n - w] = (Span){s.a, s.b, false}; }
            prev = s.m;
        }
        memmove(sp->v, sp->v + sp->n - w, w * sizeof *sp->v);
        sp->n = w;
        return;
    }
    }
}

/* ---------- one pre-tokenizer over a list of pieces ---------- */
typedef struct {
    const TokPre *pt;
    TokPieces *p;
    TokPiece *out; size_t n_out, cap_out;
    Spans sp;
    Buf tmp;
    pcre2_match_data *md;
} PreCtx;

static int out_push(PreCtx *c, size_t off, size_t len, int id, bool origin) {
    if (len == 0 && id < 0) return 0; /* empty splits are dropped */
    if (c->n_out == c->cap_out) {
        size_t cap = c->cap_out ? c->cap_out * 2 : 64;
        TokPiece *v = realloc(c->out, cap * sizeof *v);
        if (!v) return -1;
        c->out = v;
        c->cap_out = cap;
    }
    c->out[c->n_out++] = (TokPiece){off, len, id, origin};
    return 0;
}

/* Appends tmp to the arena and returns its offset there. */
static int arena_add(PreCtx *c, const char *s, size_t n, size_t *off) {
    *off = c->p->text.len;
    return buf_append(&c->p->text, s, n);
}

/* Emits the kept spans of the piece at arena offset base. */
static int emit_spans(PreCtx *c, size_t base, bool origin) {
    for (size_t i = 0; i < c->sp.n; i++) {
        if (c->sp.v[i].m) continue;
        if (out_push(c, base + c->sp.v[i].a, c->sp.v[i].b - c->sp.v[i].a, -1, origin && c->sp.v[i].a == 0)) return -1;
    }
    return 0;
}

static int pre_piece(PreCtx *c, TokPiece pc, LabErr *e);

static int pre_bytelevel(PreCtx *c, TokPiece pc) {
    const TokPre *pt = c->pt;
    size_t base = pc.off, n = pc.len;
    if (pt->add_prefix_space && (n == 0 || c->p->text.data[base] != ' ')) {
        buf_clear(&c->tmp);
        if (buf_putc(&c->tmp, ' ') || buf_append(&c->tmp, c->p->text.data + base, n)) return -1;
        if (arena_add(c, c->tmp.data, c->tmp.len, &base)) return -1;
        n++;
    }
    if (pt->use_regex) {
        int r = find_re_matches(&pt->re, c->md, c->p->text.data + base, n, false, &c->sp);
        if (r) return r;
    } else {
        c->sp.n = 0;
        if (spans_push(&c->sp, 0, n, false)) return -1;
    }
    const ByteChar *bc = tok_byte_chars();
    /* each byte becomes at most two bytes of UTF-8: room for all splits at once, then write in place */
    if (buf_reserve(&c->p->text, 2 * n)) return -1;
    for (size_t i = 0; i < c->sp.n; i++) {
        Span s = c->sp.v[i];
        if (s.b == s.a) continue;
        Buf *ar = &c->p->text;
        size_t off = ar->len;
        for (size_t j = s.a; j < s.b; j++) {
            const ByteChar *ch = &bc[(unsigned char)ar->data[base + j]];
            memcpy(ar->data + ar->len, ch->s, 2);
            ar->len += ch->n;
        }
        ar->data[ar->len] = 0;
        if (out_push(c, off, ar->len - off, -1, pc.origin && s.a == 0)) return -1;
    }
    return 0;
}

static int pre_metaspace(PreCtx *c, TokPiece pc) {
    const TokPre *pt = c->pt;
    const char *s = c->p->text.data + pc.off;
    buf_clear(&c->tmp);
    bool starts = pc.len >= (size_t)pt->repl_len && memcmp(s, pt->repl, (size_t)pt->repl_len) == 0;
    bool lead_space = pc.len > 0 && s[0] == ' ';
    if (pc.len > 0 && !starts && !lead_space && (pt->scheme == PREPEND_ALWAYS || (pt->scheme == PREPEND_FIRST && pc.origin)))
        if (buf_append(&c->tmp, pt->repl, (size_t)pt->repl_len)) return -1;
    for (size_t i = 0; i < pc.len; i++) {
        if (s[i] == ' ' ? buf_append(&c->tmp, pt->repl, (size_t)pt->repl_len) : buf_putc(&c->tmp, s[i])) return -1;
        s = c->p->text.data + pc.off; /* the arena is not touched here, but keep s honest */
    }
    size_t base;
    if (arena_add(c, c->tmp.data, c->tmp.len, &base)) return -1;
    size_t n = c->tmp.len;
    if (!pt->split) return out_push(c, base, n, -1, pc.origin);
    if (find_char_matches(c->p->text.data + base, n, pred_repl, pt, &c->sp)) return -1;
    apply_behavior(&c->sp, SPLIT_MERGED_NEXT);
    return emit_spans(c, base, pc.origin);
}

static int pre_piece(PreCtx *c, TokPiece pc, LabErr *e) {
    const TokPre *pt = c->pt;
    const char *s = c->p->text.data + pc.off;
    int rc = 0;
    switch (pt->type) {
    case PRE_BYTELEVEL: rc = pre_bytelevel(c, pc); break;
    case PRE_METASPACE: rc = pre_metaspace(c, pc); break;
    case PRE_SPLIT:
        rc = find_re_matches(&pt->re, c->md, s, pc.len, pt->invert, &c->sp);
        if (!rc) { apply_behavior(&c->sp, pt->behavior); rc = emit_spans(c, pc.off, pc.origin); }
        break;
    case PRE_WHITESPACE:
        rc = find_re_matches(&pt->re, c->md, s, pc.len, true, &c->sp);
        if (!rc) { apply_behavior(&c->sp, SPLIT_REMOVED); rc = emit_spans(c, pc.off, pc.origin); }
        break;
    case PRE_WHITESPACE_SPLIT:
        rc = find_char_matches(s, pc.len, pred_ws, pt, &c->sp);
        if (!rc) { apply_behavior(&c->sp, SPLIT_REMOVED); rc = emit_spans(c, pc.off, pc.origin); }
        break;
    case PRE_DIGITS:
        rc = find_char_matches(s, pc.len, pred_numeric, pt, &c->sp);
        if (!rc) {
            apply_behavior(&c->sp, pt->individual_digits ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS);
            rc = emit_spans(c, pc.off, pc.origin);
        }
        break;
    case PRE_PUNCT:
        rc = find_char_matches(s, pc.len, pred_punct, pt, &c->sp);
        if (!rc) { apply_behavior(&c->sp, pt->behavior); rc = emit_spans(c, pc.off, pc.origin); }
        break;
    case PRE_SEQ:
        return lab_err(e, LAB_EINVAL, "nested pre-tokenizer sequence reached pre_piece");
    }
    if (rc == -2) return lab_err(e, LAB_EUNSUPPORTED, "regex matching failed (text too hard for PCRE2's limits)");
    return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}

int pre_apply(const TokPre *pt, TokPieces *p, size_t first, LabErr *e) {
    if (pt->type == PRE_SEQ) {
        for (size_t i = 0; i < pt->n_kids; i++)
            if (pre_apply(pt->kids[i], p, first, e)) return -1;
        return 0;
    }
    PreCtx c = {.pt = pt, .p = p};
    int rc = 0;
    if (pt->re.code && !(c.md = pcre2_match_data_create_from_pattern(pt->re.code, NULL)))
        return lab_err(e, LAB_ENOMEM, "out of memory");
    for (size_t i = first; i < p->n && !rc; i++) {
        TokPiece pc = p->v[i];
        if (pc.id >= 0) rc = out_push(&c, pc.off, pc.len, pc.id, pc.origin) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
        else rc = pre_piece(&c, pc, e);
    }
    if (!rc && first == 0) { /* the usual case: the new list replaces the old one */
        TokPiece *old = p->v;
        p->v = c.out;
        p->n = c.n_out;
        p->cap = c.cap_out;
        c.out = old;
    } else if (!rc) {
        p->n = first;
        for (size_t i = 0; i < c.n_out && !rc; i++)
            rc = pieces_push(p, c.out[i].off, c.out[i].len, c.out[i].id, c.out[i].origin) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
    }
    free(c.out);
    free(c.sp.v);
    buf_free(&c.tmp);
    pcre2_match_data_free(c.md);
    return rc;
}

void pre_free(TokPre *pt) {
    if (!pt) return;
    for (size_t i = 0; i < pt->n_kids; i++) pre_free(pt->kids[i]);
    free(pt->kids);
    tok_re_free(&pt->re);
    free(pt);
}
