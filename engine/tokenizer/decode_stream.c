/* Decoding, as a stream. tokenizers' decoders work on the whole list of token strings
 * (decode_chain); here each step is a transducer fed one token at a time that holds back only
 * what later tokens could still change:
 *   - ByteLevel: token characters → bytes; complete UTF-8 characters are released, an incomplete one
 *     is held, invalid bytes become U+FFFD per maximal subpart (String::from_utf8_lossy, which
 *     tokenizers applies to the bytes of all tokens at once);
 *   - ByteFallback: a run of <0xXX> tokens is held until a non-byte token ends it; then it becomes
 *     its text if the whole run is valid UTF-8, else one U+FFFD per byte (tokenizers' rule);
 *   - Fuse: from here on the tokens are one text; later steps see it in chunks;
 *   - Replace, Strip, Metaspace: per token, or on the fused text with the pattern's partial match or
 *     the trailing strippable characters held.
 * tok_decode pushes every id through the same transducers and flushes, so a stream's output always
 * equals tok_decode's, by construction. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define REPL_CHAR "\xEF\xBF\xBD"

typedef struct {
    Buf held;
    size_t count;      /* tokens seen (Metaspace) or content characters stripped at the start (Strip) */
    size_t held_chars; /* Strip: content characters held at the end */
    bool started;      /* Strip: past the start; SentencePiece: some text was released */
    bool no_bos_ws;    /* SentencePiece: past the point where a leading U+2581 is dropped */
    bool bos_ws_seen;  /* SentencePiece: the previous piece's leading U+2581 was dropped */
} StepState;

struct TokStream {
    const Tokenizer *t;
    StepState *st;
    bool *fused_in; /* [n_dec + 1] */
    size_t n;
    Buf *out;
    int prev_id, cur_id;
    size_t n_tokens;
};

static int push(TokStream *s, size_t k, const char *d, size_t n);

static int is_byte_token(const char *d, size_t n) {
    if (n != 6 || memcmp(d, "<0x", 3) != 0 || d[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = d[i];
        int x = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (x < 0) return -1;
        v = v * 16 + x;
    }
    return v;
}

/* Releases the complete characters of held bytes (U+FFFD for invalid subparts); at_end also
 * releases an incomplete tail as one U+FFFD. */
static int drain_utf8(TokStream *s, size_t k, Buf *held, bool at_end) {
    Buf o = {0};
    const unsigned char *p = (const unsigned char *)held->data;
    size_t i = 0;
    int rc = 0;
    while (i < held->len && !rc) {
        size_t len;
        int r = tok_u8_scan(p + i, held->len - i, &len);
        if (r == TOK_U8_MORE && !at_end) break;
        rc = r == TOK_U8_OK ? buf_append(&o, p + i, len) : buf_append(&o, REPL_CHAR, 3);
        i += len;
    }
    if (!rc && i > 0) {
        memmove(held->data, held->data + i, held->len - i);
        held->len -= i;
        held->data[held->len] = 0;
    }
    if (!rc) {
        if (o.len) rc = push(s, k + 1, o.data, o.len);
    }
    buf_free(&o);
    return rc;
}

/* Per-token Strip of tokenizers' decoders::strip. */
static int strip_token(TokStream *s, size_t k, const TokDecStep *st, const char *d, size_t n) {
    const unsigned char *p = (const unsigned char *)d;
    size_t a = 0, b = n;
    for (int i = 0; i < st->start && a < n; i++) {
        size_t len;
        tok_u8_scan(p + a, n - a, &len);
        if (tok_u8_cp(p + a, len) != st->content) break;
        a += len;
    }
    for (int i = 0; i < st->stop && b > a; i++) {
        size_t j = b - 1;
        while (j > a && (p[j] & 0xC0) == 0x80) j--;
        if (tok_u8_cp(p + j, b - j) != st->content) break;
        b = j;
    }
    return push(s, k + 1, d + a, b - a);
}

static int strip_fused(TokStream *s, size_t k, const TokDecStep *st, StepState *ss, const char *d, size_t n) {
    const unsigned char *p = (const unsigned char *)d;
    Buf o = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t len;
        tok_u8_scan(p + i, n - i, &len);
        uint32_t cp = tok_u8_cp(p + i, len);
        if (!ss->started) {
            if (ss->count < (size_t)st->start && cp == st->content) {
                ss->count++;
                i += len;
                continue;
            }
            ss->started = true;
        }
        if (st->stop > 0 && cp == st->content) {
            rc = buf_append(&ss->held, d + i, len);
            if (!rc && ++ss->held_chars > (size_t)st->stop) {
                /* the oldest held character can no longer be at the end */
                size_t l0;
                tok_u8_scan((const unsigned char *)ss->held.data, ss->held.len, &l0);
                rc = buf_append(&o, ss->held.data, l0);
                memmove(ss->held.data, ss->held.data + l0, ss->held.len - l0);
                ss->held.len -= l0;
                ss->held_chars--;
            }
        } else {
            rc = buf_append(&o, ss->held.data ? ss->held.data : "", ss->held.len) || buf_append(&o, d + i, len);
            buf_clear(&ss->held);
            ss->held_chars = 0;
        }
        i += len;
    }
    if (!rc && o.len) rc = push(s, k + 1, o.data, o.len);
    buf_free(&o);
    return rc;
}

static int replace_all(Buf *o, const TokDecStep *st, const char *d, size_t n, size_t *consumed, bool hold_partial) {
    size_t i = 0;
    while (st->pat_len && i < n) {
        const char *f = memmem(d + i, n - i, st->pat, st->pat_len);
        if (!f) break;
        size_t at = (size_t)(f - d);
        if (buf_append(o, d + i, at - i) || buf_append(o, st->rep, st->rep_len)) return -1;
        i = at + st->pat_len;
    }
    size_t keep = 0;
    if (hold_partial) /* the longest tail that is a proper prefix of the pattern */
        for (size_t l = st->pat_len ? st->pat_len - 1 : 0; l > 0; l--)
            if (l <= n - i && memcmp(d + n - l, st->pat, l) == 0) { keep = l; break; }
    if (buf_append(o, d + i, n - i - keep)) return -1;
    *consumed = n - keep;
    return 0;
}

static int metaspace_map(TokStream *s, size_t k, const TokDecStep *st, const char *d, size_t n, bool first) {
    Buf o = {0};
    const unsigned char *p = (const unsigned char *)d;
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t len;
        tok_u8_scan(p + i, n - i, &len);
        if (tok_u8_cp(p + i, len) == st->replacement) {
            if (!(first && st->prepend)) rc = buf_putc(&o, ' ');
        } else rc = buf_append(&o, d + i, len);
        i += len;
    }
    if (!rc) rc = push(s, k + 1, o.data ? o.data : "", o.len);
    buf_free(&o);
    return rc;
}

static int flush_byte_run(TokStream *s, size_t k, StepState *ss) {
    int rc = 0;
    if (!ss->held.len) return 0;
    if (utf8_valid(ss->held.data, ss->held.len)) rc = push(s, k + 1, ss->held.data, ss->held.len);
    else
        for (size_t i = 0; i < ss->held.len && !rc; i++) rc = push(s, k + 1, REPL_CHAR, 3);
    buf_clear(&ss->held);
    return rc;
}

static int llama2c_piece(TokStream *s, size_t k, StepState *ss) {
    const Tokenizer *t = s->t;
    int id = s->cur_id;
    const char *d = t->tok[id];
    size_t n = t->tok_len[id];
    if ((id == 1 || id == 2) && n >= 2 && d[0] == '\n' && d[n - 1] == '\n') { d++; n -= 2; } /* "\n<s>\n" */
    if (s->prev_id == 1 && n > 0 && d[0] == ' ') { d++; n--; } /* run.c: no leading space after BOS */
    int b = is_byte_token(d, n);
    char byte = (char)b;
    if (b >= 0) { d = &byte; n = 1; }
    if (buf_append(&ss->held, d, n)) return -1;
    return drain_utf8(s, k, &ss->held, false);
}

/* SentencePiece's byte pieces: each complete character as it is, each byte that starts no valid
 * character as U+FFFD (the library's rule, byte by byte). */
static int spm_flush_bytes(TokStream *s, size_t k, StepState *ss) {
    const unsigned char *p = (const unsigned char *)ss->held.data;
    int rc = 0;
    for (size_t i = 0, len; i < ss->held.len && !rc; i += len) {
        if (tok_u8_scan(p + i, ss->held.len - i, &len) != TOK_U8_OK) {
            len = 1;
            rc = push(s, k + 1, REPL_CHAR, 3);
        } else {
            rc = push(s, k + 1, (const char *)p + i, len);
        }
        ss->started = true;
    }
    buf_clear(&ss->held);
    return rc;
}

/* SentencePieceProcessor::Decode, one piece at a time: control pieces vanish, <unk> shows the
 * model's unk_surface, U+2581 becomes a space, and the first piece loses its leading U+2581 when
 * the model adds a dummy prefix or removes extra whitespace. */
static int spm_piece(TokStream *s, size_t k, StepState *ss) {
    const Tokenizer *t = s->t;
    const SpmModel *m = t->spm;
    int id = s->cur_id;
    int ty = m->type[id];
    if (ty == SPM_BYTE) return buf_putc(&ss->held, (char)is_byte_token(t->tok[id], t->tok_len[id]));
    if (spm_flush_bytes(s, k, ss)) return -1;
    if (ss->bos_ws_seen || ss->started) ss->no_bos_ws = true;
    ss->bos_ws_seen = false;
    if (ty == SPM_CONTROL) return 0;
    if (ty == SPM_UNKNOWN) {
        ss->started = ss->started || m->unk_surface_len > 0;
        return push(s, k + 1, m->unk_surface, m->unk_surface_len);
    }
    const char *d = t->tok[id];
    size_t n = t->tok_len[id];
    if (!ss->no_bos_ws && (m->add_dummy_prefix || m->remove_extra_ws) && n >= 3 && !memcmp(d, "\xE2\x96\x81", 3)) {
        d += 3;
        n -= 3;
        ss->bos_ws_seen = !m->remove_extra_ws; /* with extra whitespace removed, every leading one goes */
    }
    Buf o = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        if (n - i >= 3 && !memcmp(d + i, "\xE2\x96\x81", 3)) {
            rc = buf_putc(&o, ' ');
            i += 3;
        } else rc = buf_putc(&o, d[i++]);
    }
    if (!rc && o.len) {
        ss->started = true;
        rc = push(s, k + 1, o.data, o.len);
    }
    buf_free(&o);
    return rc;
}

static int push(TokStream *s, size_t k, const char *d, size_t n) {
    if (k == s->n) return buf_append(s->out, d, n);
    const TokDecStep *st = &s->t->dec[k];
    StepState *ss = &s->st[k];
    bool fused = s->fused_in[k];
    switch (st->type) {
    case DEC_FUSE:
        return push(s, k + 1, d, n);
    case DEC_LLAMA2C:
        return llama2c_piece(s, k, ss);
    case DEC_SPM:
        return spm_piece(s, k, ss);
    case DEC_BYTELEVEL:
        if (fused) return buf_append(&ss->held, d, n); /* the whole text is one token: wait for the end */
        {
            const unsigned char *p = (const unsigned char *)d;
            size_t mark = ss->held.len;
            bool ok = true;
            for (size_t i = 0; i < n && ok;) {
                size_t len;
                tok_u8_scan(p + i, n - i, &len);
                int b = tok_char_byte(tok_u8_cp(p + i, len));
                if (b < 0) ok = false;
                else if (buf_putc(&ss->held, (char)b)) return -1;
                i += len;
            }
            if (!ok) { /* tokenizers keeps such a token's own bytes */
                ss->held.len = mark;
                if (buf_append(&ss->held, d, n)) return -1;
            }
            return drain_utf8(s, k, &ss->held, false);
        }
    case DEC_BYTEFALLBACK: {
        if (fused) return buf_append(&ss->held, d, n);
        int b = is_byte_token(d, n);
        if (b >= 0) return buf_putc(&ss->held, (char)b);
        if (flush_byte_run(s, k, ss)) return -1;
        return push(s, k + 1, d, n);
    }
    case DEC_REPLACE: {
        Buf o = {0}, cat = {0};
        size_t used;
        int rc;
        if (!fused) {
            rc = replace_all(&o, st, d, n, &used, false);
        } else {
            rc = buf_append(&cat, ss->held.data ? ss->held.data : "", ss->held.len) || buf_append(&cat, d, n) ||
                 replace_all(&o, st, cat.data, cat.len, &used, true);
            if (!rc) {
                buf_clear(&ss->held);
                rc = buf_append(&ss->held, cat.data + used, cat.len - used);
            }
        }
        if (!rc && (o.len || !fused)) rc = push(s, k + 1, o.data ? o.data : "", o.len);
        buf_free(&o);
        buf_free(&cat);
        return rc;
    }
    case DEC_STRIP:
        return fused ? strip_fused(s, k, st, ss, d, n) : strip_token(s, k, st, d, n);
    case DEC_METASPACE:
        return metaspace_map(s, k, st, d, n, fused || ss->count++ == 0);
    }
    return -1;
}

static int flush_step(TokStream *s, size_t k) {
    const TokDecStep *st = &s->t->dec[k];
    StepState *ss = &s->st[k];
    bool fused = s->fused_in[k];
    int rc = 0;
    switch (st->type) {
    case DEC_LLAMA2C:
        return drain_utf8(s, k, &ss->held, true);
    case DEC_SPM:
        return spm_flush_bytes(s, k, ss);
    case DEC_BYTELEVEL:
        if (fused && ss->held.len) {
            /* the fused text as one token: its characters' bytes, or its own bytes */
            Buf b = {0};
            const unsigned char *p = (const unsigned char *)ss->held.data;
            bool ok = true;
            for (size_t i = 0; i < ss->held.len && ok && !rc;) {
                size_t len;
                tok_u8_scan(p + i, ss->held.len - i, &len);
                int x = tok_char_byte(tok_u8_cp(p + i, len));
                if (x < 0) ok = false;
                else rc = buf_putc(&b, (char)x);
                i += len;
            }
            if (!rc && ok) {
                buf_clear(&ss->held);
                rc = buf_append(&ss->held, b.data ? b.data : "", b.len);
            }
            buf_free(&b);
            if (rc) return rc;
        }
        return drain_utf8(s, k, &ss->held, true);
    case DEC_BYTEFALLBACK:
        if (fused && ss->held.len) {
            int b = is_byte_token(ss->held.data, ss->held.len);
            if (b >= 0) {
                ss->held.len = 1;
                ss->held.data[0] = (char)b;
            } else {
                rc = push(s, k + 1, ss->held.data, ss->held.len);
                buf_clear(&ss->held);
                return rc;
            }
        }
        return flush_byte_run(s, k, ss);
    case DEC_REPLACE:
        if (ss->held.len) rc = push(s, k + 1, ss->held.data, ss->held.len);
        buf_clear(&ss->held);
        return rc;
    case DEC_STRIP: /* what is held is at the very end: stripped */
        buf_clear(&ss->held);
        ss->held_chars = 0;
        return 0;
    default:
        return 0;
    }
}

TokStream *tok_stream_new(const Tokenizer *t) {
    TokStream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->t = t;
    s->n = t->n_dec;
    s->prev_id = -1;
    s->st = calloc(s->n + 1, sizeof *s->st);
    s->fused_in = calloc(s->n + 1, sizeof *s->fused_in);
    if (!s->st || !s->fused_in) {
        tok_stream_free(s);
        return NULL;
    }
    for (size_t k = 0; k < s->n; k++) {
        DecType ty = t->dec[k].type;
        s->fused_in[k + 1] = s->fused_in[k] || ty == DEC_BYTELEVEL || ty == DEC_FUSE || ty == DEC_LLAMA2C || ty == DEC_SPM;
    }
    return s;
}

int tok_stream_push(TokStream *s, int id, Buf *out, LabErr *e) {
    const Tokenizer *t = s->t;
    if (id < 0 || id >= t->n_vocab || !t->tok[id])
        return lab_err(e, LAB_ERANGE, "%s: token id %d is outside the vocabulary (%d tokens)", t->path, id, t->n_vocab);
    s->out = out;
    s->cur_id = id;
    int rc;
    if (!t->has_decoder) { /* tokenizers joins the tokens with spaces when there is no decoder */
        rc = (s->n_tokens ? buf_putc(out, ' ') : 0) || buf_append(out, t->tok[id], t->tok_len[id]);
    } else {
        rc = push(s, 0, t->tok[id], t->tok_len[id]);
    }
    s->prev_id = id;
    s->n_tokens++;
    if (out->data == NULL && buf_append(out, "", 0)) rc = -1;
    return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}

int tok_stream_flush(TokStream *s, Buf *out, LabErr *e) {
    s->out = out;
    for (size_t k = 0; k < s->n; k++)
        if (flush_step(s, k)) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (out->data == NULL && buf_append(out, "", 0)) return lab_err(e, LAB_ENOMEM, "out of memory");
    return 0;
}

void tok_stream_free(TokStream *s) {
    if (!s) return;
    if (s->st)
        for (size_t k = 0; k <= s->n; k++) buf_free(&s->st[k].held);
    free(s->st);
    free(s->fused_in);
    free(s);
}

int tok_decode(const Tokenizer *t, const int *ids, size_t n, Buf *out, LabErr *e) {
    TokStream *s = tok_stream_new(t);
    if (!s) return lab_err(e, LAB_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) rc = tok_stream_push(s, ids[i], out, e);
    if (!rc) rc = tok_stream_flush(s, out, e);
    tok_stream_free(s);
    return rc;
}

int dec_step_add(Tokenizer *t, const TokDecStep *st, LabErr *e) {
    TokDecStep *v = realloc(t->dec, (t->n_dec + 1) * sizeof *v);
    if (!v) return lab_err(e, LAB_ENOMEM, "out of memory");
    t->dec = v;
    t->dec[t->n_dec++] = *st;
    t->has_decoder = true;
    return 0;
}
