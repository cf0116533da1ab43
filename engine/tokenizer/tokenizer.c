/* Tokenizer: vocabulary tables, added tokens, the encode pipeline (added tokens → normalizer →
 * pre-tokenizer → BPE → post-processor) and the shared parts of every loader. The file formats are
 * read in tok_json.c (tokenizer.json, vocab.json + merges.txt) and tok_llama2c.c (tokenizer.bin,
 * GGUF arrays, finding the tokenizer of a model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tok_internal.h"

Tokenizer *tok_alloc(TokKind kind, ModelType model, const char *path) {
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->model = model;
    t->path = strdup(path ? path : "");
    t->unk_id = t->bos_id = t->eos_id = t->space_id = -1;
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    pthread_mutex_init(&t->cache_mu, NULL);
    if (!t->path) {
        free(t);
        return NULL;
    }
    return t;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_vocab; i++) free(t->tok ? t->tok[i] : NULL);
    free(t->tok);
    free(t->tok_len);
    free(t->special);
    strmap_free(&t->vocab);
    pairmap_free(&t->merges);
    free(t->scores);
    free(t->uscores);
    spm_free(t->spm);
    free(t->cont_prefix);
    free(t->eow_suffix);
    for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    norm_free(t->norm);
    pre_free(t->pre);
    for (size_t i = 0; i < t->n_dec; i++) {
        free(t->dec[i].pat);
        free(t->dec[i].rep);
    }
    free(t->dec);
    free(t->post_pre);
    free(t->post_post);
    bpe_cache_free(t);
    pthread_mutex_destroy(&t->cache_mu);
    free(t->path);
    free(t);
}

int tok_set_vocab_size(Tokenizer *t, int n, LabErr *e) {
    if (n <= 0) return lab_err(e, LAB_EFORMAT, "%s: the vocabulary is empty", t->path);
    t->n_vocab = n;
    t->tok = calloc((size_t)n, sizeof *t->tok);
    t->tok_len = calloc((size_t)n, sizeof *t->tok_len);
    t->special = calloc((size_t)n, sizeof *t->special);
    if (!t->tok || !t->tok_len || !t->special) return lab_err(e, LAB_ENOMEM, "%s: out of memory for %d tokens", t->path, n);
    return 0;
}

/* Records id ↔ string. in_model: also a token of the model vocabulary (the BPE's symbols). */
int tok_set_token(Tokenizer *t, int id, const char *s, size_t n, bool in_model, LabErr *e) {
    if (id < 0 || id >= t->n_vocab)
        return lab_err(e, LAB_ERANGE, "%s: token id %d is past the vocabulary (%d tokens)", t->path, id, t->n_vocab);
    if (n > UINT32_MAX) return lab_err(e, LAB_ERANGE, "%s: token %d is too long", t->path, id);
    if (in_model) {
        int r = strmap_put(&t->vocab, s, n, id);
        if (r < 0) return lab_err(e, LAB_ENOMEM, "out of memory");
        if (r == 1 && t->model != MODEL_LLAMA2C)
            return lab_err(e, LAB_EFORMAT, "%s: token '%.*s' appears twice in the vocabulary", t->path, (int)(n > 80 ? 80 : n), s);
        if (t->tok[id] && t->model != MODEL_LLAMA2C)
            return lab_err(e, LAB_EFORMAT, "%s: id %d is given to both '%s' and '%.*s'", t->path, id, t->tok[id],
                           (int)(n > 80 ? 80 : n), s);
    }
    char *c = malloc(n + 1);
    if (!c) return lab_err(e, LAB_ENOMEM, "out of memory");
    memcpy(c, s, n);
    c[n] = 0;
    free(t->tok[id]);
    t->tok[id] = c;
    t->tok_len[id] = (uint32_t)n;
    return 0;
}

void tok_find_byte_tokens(Tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = strmap_get(&t->vocab, name, 6);
    }
}

int tok_add_added(Tokenizer *t, const TokAdded *a, LabErr *e) {
    if (a->id < 0 || a->id >= t->n_vocab)
        return lab_err(e, LAB_ERANGE, "%s: added token '%s' has id %d, past the vocabulary (%d tokens)", t->path,
                       a->content, a->id, t->n_vocab);
    if (a->len == 0) return lab_err(e, LAB_EFORMAT, "%s: added token %d is empty", t->path, a->id);
    TokAdded *v = realloc(t->added, (t->n_added + 1) * sizeof *v);
    if (!v) return lab_err(e, LAB_ENOMEM, "out of memory");
    t->added = v;
    TokAdded c = *a;
    c.content = malloc(a->len + 1);
    if (!c.content) return lab_err(e, LAB_ENOMEM, "out of memory");
    memcpy(c.content, a->content, a->len);
    c.content[a->len] = 0;
    t->added[t->n_added++] = c;
    if (tok_set_token(t, a->id, a->content, a->len, false, e)) return -1;
    if (a->special) t->special[a->id] = true;
    if (a->normalized) t->any_added_norm = true;
    else t->any_added_raw = true;
    return 0;
}

static int added_cmp(const void *x, const void *y) {
    const TokAdded *a = x, *b = y;
    unsigned char ca = (unsigned char)a->content[0], cb = (unsigned char)b->content[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1; /* longest first: leftmost-longest matching */
    return a->id < b->id ? -1 : a->id > b->id;
}

/* A bound on the bytes of a piece that one id out of the BPE stands for, so that a piece of n bytes
 * gives at least ceil(n / bound) ids and an over-long text can be refused before its merges run.
 * Why it holds: the merging starts from base symbols that each cover one character (at most 4
 * bytes) or one byte of the piece (a byte token, an unknown character's <unk>); a merge makes the
 * token whose string is the two strings joined (tokenizer.json's and merges.txt's merges are
 * checked to be so at load; the score merges look the joined text up), dropping only a
 * continuing-subword prefix, so every base symbol adds at least one byte to the final token's
 * string when no token string is empty. A final token therefore covers at most 4 bytes per byte
 * of its string: 4 x the longest token. It fails, and 0 (no bound) is returned, when a symbol can
 * cover more or nothing: fused unknown characters (one <unk> for a run of any length) or
 * characters that are dropped (no byte token and no <unk>). llama2.c's encoder refuses text with a
 * byte that has no byte token, so it drops nothing. */
/* Whether every character a piece can hold after the pre-tokenizer is one of ByteLevel's 256: a
 * ByteLevel stage, and only splitting stages (which change no text) besides it. */
static bool pre_bytelevel_only(const TokPre *pt) {
    if (!pt) return false;
    if (pt->type == PRE_BYTELEVEL) return true;
    if (pt->type != PRE_SEQ) return false;
    bool any = false;
    for (size_t i = 0; i < pt->n_kids; i++) {
        PreType k = pt->kids[i]->type;
        if (k == PRE_BYTELEVEL) any = true;
        else if (k != PRE_SPLIT && k != PRE_DIGITS && k != PRE_PUNCT) return false;
    }
    return any;
}

/* The pre-tokenizer's pieces hold at least as many bytes as its input (nothing removed). */
static bool pre_keeps(const TokPre *pt) {
    if (!pt) return true;
    switch (pt->type) {
    case PRE_SEQ:
        for (size_t i = 0; i < pt->n_kids; i++)
            if (!pre_keeps(pt->kids[i])) return false;
        return true;
    case PRE_BYTELEVEL: case PRE_DIGITS: case PRE_PUNCT: return true;
    case PRE_METASPACE: return pt->repl_len >= 1;        /* a space becomes a character of 1-4 bytes */
    case PRE_SPLIT: return pt->behavior != SPLIT_REMOVED;
    default: return false;                                /* Whitespace, WhitespaceSplit drop spaces */
    }
}

/* The normalizer's output is never shorter than its input: prepending, and literal replacements by
 * something at least as long. NFC & co and lowercasing can shorten a character, Strip drops. */
static bool norm_keeps(const TokNorm *nm) {
    if (!nm) return true;
    switch (nm->type) {
    case NORM_SEQ:
        for (size_t i = 0; i < nm->n_kids; i++)
            if (!norm_keeps(nm->kids[i])) return false;
        return true;
    case NORM_PREPEND: return true;
    case NORM_REPLACE: return !nm->re.code && nm->b_len >= nm->a_len;
    default: return false;
    }
}

static size_t tok_cover_bound(const Tokenizer *t) {
    size_t longest = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        if (t->tok_len[i] == 0) return 0;
        if (t->tok_len[i] > longest) longest = t->tok_len[i];
    }
    bool all_bytes = true;
    for (int b = 0; b < 256 && all_bytes; b++) all_bytes = t->byte_id[b] >= 0;
    bool ok;
    switch (t->model) {
    case MODEL_LLAMA2C: ok = true; break;
    case MODEL_BPE_SCORES: ok = all_bytes || t->unk_id >= 0; break; /* an unknown character: its bytes or one <unk> */
    case MODEL_BPE_RANKS: /* byte fallback when complete, else one <unk> per character unless fused */
        ok = (t->byte_fallback && all_bytes) || (t->unk_id >= 0 && !t->fuse_unk);
        if (!ok && pre_bytelevel_only(t->pre)) { /* every character is known when the 256 are tokens */
            const ByteChar *bc = tok_byte_chars();
            ok = true;
            for (int b = 0; b < 256 && ok; b++) ok = strmap_get(&t->vocab, bc[b].s, bc[b].n) >= 0;
        }
        break;
    default: /* Unigram and SentencePiece .model: a run of unknown characters becomes one <unk> */
        ok = false;
        break;
    }
    return ok && longest <= SIZE_MAX / 4 ? 4 * longest : 0;
}

int tok_finish(Tokenizer *t, LabErr *e) {
    t->cover_max = tok_cover_bound(t);
    t->raw_bound = t->cover_max && t->model != MODEL_LLAMA2C && norm_keeps(t->norm) && pre_keeps(t->pre);
    for (size_t i = 0; i < t->n_added && t->raw_bound; i++) t->raw_bound = !t->added[i].lstrip && !t->added[i].rstrip;
    if (t->n_added) qsort(t->added, t->n_added, sizeof *t->added, added_cmp);
    for (size_t b = 0, k = 0; b <= 256; b++) {
        while (k < t->n_added && (unsigned char)t->added[k].content[0] < b) k++;
        t->added_at[b] = k;
    }
    for (int i = 0; i < t->n_vocab; i++)
        if (!t->tok[i]) return lab_err(e, LAB_EFORMAT, "%s: no token has id %d (ids must run from 0 to %d)", t->path, i, t->n_vocab - 1);
    return 0;
}

/* ---------- accessors ---------- */
TokKind tok_kind(const Tokenizer *t) { return t->kind; }
const char *tok_kind_name(const Tokenizer *t) {
    switch (t->kind) {
    case TOK_KIND_BPE_BYTELEVEL: return "bpe-bytelevel";
    case TOK_KIND_BPE_SENTENCEPIECE: return "bpe-sentencepiece";
    case TOK_KIND_LLAMA2C: return "llama2c";
    case TOK_KIND_SENTENCEPIECE: return t->spm && t->spm->bpe ? "sentencepiece-bpe" : "sentencepiece-unigram";
    case TOK_KIND_UNIGRAM: return "unigram";
    }
    return "?";
}
const char *tok_path(const Tokenizer *t) { return t->path; }
int tok_vocab_size(const Tokenizer *t) { return t->n_vocab; }
int tok_bos_id(const Tokenizer *t) { return t->bos_id; }
int tok_eos_id(const Tokenizer *t) { return t->eos_id; }
const char *tok_token_str(const Tokenizer *t, int id) { return id >= 0 && id < t->n_vocab ? t->tok[id] : NULL; }
bool tok_is_special(const Tokenizer *t, int id) { return id >= 0 && id < t->n_vocab && t->special[id]; }

int tok_token_id(const Tokenizer *t, const char *s, size_t n) {
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].content, s, n) == 0) return t->added[i].id;
    return strmap_get(&t->vocab, s, n);
}

/* ---------- encode ---------- */
/* Rust regex's \w, which tokenizers uses for single_word: Alphabetic, marks, decimal digits,
 * connector punctuation and the joiners. */
static bool is_word_char(uint32_t cp) {
    if (cp < 0x80) return cp == '_' || tok_is_alnum(cp);
    if (cp == 0x200C || cp == 0x200D) return true;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC;
}

static uint32_t last_cp(const char *s, size_t n) {
    size_t j = n - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
    return tok_u8_cp((const unsigned char *)s + j, n - j);
}

static uint32_t first_cp(const char *s, size_t n) {
    size_t k;
    tok_u8_scan((const unsigned char *)s, n, &k);
    return tok_u8_cp((const unsigned char *)s, k);
}

/* tokenizers' AddedVocabulary::find_matches on the piece s[0..n): leftmost-longest matches of the
 * added tokens of this pass, single_word checked, lstrip/rstrip widening the match over whitespace. */
static int split_added_piece(const Tokenizer *t, TokPieces *dst, const TokPieces *src, const TokPiece *pc, bool normalized) {
    const char *s = src->text.data + pc->off;
    size_t n = pc->len, start_off = 0, i = 0;
    while (i < n) {
        const TokAdded *m = NULL;
        for (; i < n && !m; i++) {
            unsigned char c = (unsigned char)s[i];
            for (size_t k = t->added_at[c]; k < t->added_at[c + 1]; k++) {
                const TokAdded *a = &t->added[k];
                if (a->normalized != normalized || a->len > n - i) continue;
                if (memcmp(a->content, s + i, a->len) == 0) { m = a; break; }
            }
        }
        if (!m) break;
        size_t start = i - 1, stop = start + m->len;
        i = stop;
        if (m->single_word) {
            bool start_ok = start == 0 || !is_word_char(last_cp(s, start));
            bool stop_ok = stop == n || !is_word_char(first_cp(s + stop, n - stop));
            if (!start_ok || !stop_ok) continue;
        }
        if (m->lstrip) {
            size_t a = start;
            while (a > 0) {
                size_t j = a - 1;
                while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                if (!tok_is_ws(tok_u8_cp((const unsigned char *)s + j, a - j))) break;
                a = j;
            }
            start = a > start_off ? a : start_off;
        }
        if (m->rstrip) {
            while (stop < n) {
                size_t k;
                tok_u8_scan((const unsigned char *)s + stop, n - stop, &k);
                if (!tok_is_ws(tok_u8_cp((const unsigned char *)s + stop, k))) break;
                stop += k;
            }
            i = stop;
        }
        if (start_off < start && pieces_push(dst, pc->off + start_off, start - start_off, -1, pc->origin && start_off == 0)) return -1;
        if (pieces_push(dst, pc->off + start, stop - start, m->id, false)) return -1;
        start_off = stop;
    }
    if (start_off < n && pieces_push(dst, pc->off + start_off, n - start_off, -1, pc->origin && start_off == 0)) return -1;
    return 0;
}

static int split_added(const Tokenizer *t, TokPieces *p, bool normalized, LabErr *e) {
    TokPieces np = {0};
    np.text = p->text; /* shares the arena: only the list is rebuilt */
    for (size_t i = 0; i < p->n; i++) {
        int rc = p->v[i].id >= 0 ? pieces_push(&np, p->v[i].off, p->v[i].len, p->v[i].id, false)
                                 : split_added_piece(t, &np, p, &p->v[i], normalized);
        if (rc) {
            free(np.v);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
    }
    free(p->v);
    p->v = np.v;
    p->n = np.n;
    p->cap = np.cap;
    return 0;
}

static int normalize_pieces(const Tokenizer *t, TokPieces *p, LabErr *e) {
    Buf tmp = {0};
    int rc = 0;
    for (size_t i = 0; i < p->n && !rc; i++) {
        TokPiece *pc = &p->v[i];
        if (pc->id >= 0) continue;
        bool lead_removed;
        rc = norm_apply(t->norm, p->text.data + pc->off, pc->len, &tmp, &lead_removed, e);
        if (rc) break;
        pc->off = p->text.len;
        pc->len = tmp.len;
        if (lead_removed) pc->origin = false;
        if (buf_append(&p->text, tmp.data, tmp.len)) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    }
    buf_free(&tmp);
    if (rc) lab_err_prefix(e, "%s: normalizer", t->path);
    return rc;
}

static int too_many(const Tokenizer *t, size_t max_ids, LabErr *e) {
    return lab_err(e, LAB_ERANGE, "%s: the text has more than %zu tokens", t->path, max_ids);
}

static int encode_llama2c(const Tokenizer *t, const char *text, size_t len, bool add_special, size_t max_ids,
                          IntVec *out, LabErr *e) {
    int lead[2];
    size_t n_lead = 0;
    if (add_special) lead[n_lead++] = 1;
    if (len > 0) { /* run.c's dummy prefix: the " " token, only for non-empty text */
        if (t->space_id < 0) return lab_err(e, LAB_EFORMAT, "%s: the vocabulary has no \" \" token for the dummy prefix", t->path);
        lead[n_lead++] = t->space_id;
    }
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++)
        if (3 + (int)p[i] >= t->n_vocab && strmap_get(&t->vocab, text + i, 1) < 0)
            return lab_err(e, LAB_ERANGE, "%s: byte 0x%02X has no byte token (vocabulary of %d)", t->path, p[i], t->n_vocab);
    /* every byte of the text is in some id (above), each id covers at most cover_max of them */
    if (max_ids && t->cover_max && (len + t->cover_max - 1) / t->cover_max > max_ids) return too_many(t, max_ids, e);
    size_t before = out->n;
    if (bpe_scores_text(t, text, len, true, lead, n_lead, out, e)) return -1;
    return max_ids && out->n - before > max_ids ? too_many(t, max_ids, e) : 0;
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, bool add_special, IntVec *out, LabErr *e) {
    return tok_encode_max(t, text, len, add_special, 0, out, e);
}

int tok_encode_max(const Tokenizer *t, const char *text, size_t len, bool add_special, size_t max_ids, IntVec *out,
                   LabErr *e) {
    if (!text && len) return lab_err(e, LAB_EINVAL, "tok_encode: NULL text");
    if (t->model == MODEL_LLAMA2C) return encode_llama2c(t, text, len, add_special, max_ids, out, e);
    size_t start = out->n;
    if (t->model == MODEL_SPM) { /* no lower bound here (tok_cover_bound): the count once encoded */
        if (add_special)
            for (size_t i = 0; i < t->n_post_pre; i++)
                if (ivec_push(out, t->post_pre[i])) return lab_err(e, LAB_ENOMEM, "out of memory");
        if (spm_encode(t, text, len, out, e)) return -1;
        return max_ids && out->n - start > max_ids ? too_many(t, max_ids, e) : 0;
    }
    /* U+FFFD for an invalid subpart (1-3 bytes) is 3 bytes: the replacement shortens nothing either */
    if (max_ids && t->raw_bound &&
        (len + t->cover_max - 1) / t->cover_max + (add_special ? t->n_post_pre + t->n_post_post : 0) > max_ids)
        return too_many(t, max_ids, e);
    TokPieces p = {0};
    int rc = -1;
    if (add_special)
        for (size_t i = 0; i < t->n_post_pre; i++)
            if (ivec_push(out, t->post_pre[i])) goto oom;
    /* tokenizers only takes valid UTF-8 (a Rust &str / a Python str); invalid bytes become U+FFFD as
     * Python's bytes.decode('utf-8', errors='replace') makes them. */
    if (utf8_valid(text ? text : "", len) ? buf_append(&p.text, text ? text : "", len) : tok_u8_lossy(&p.text, text, len)) goto oom;
    if (pieces_push(&p, 0, p.text.len, -1, true)) goto oom;
    if (t->any_added_raw && split_added(t, &p, false, e)) goto fail;
    if (t->norm && normalize_pieces(t, &p, e)) goto fail;
    if (t->any_added_norm && split_added(t, &p, true, e)) goto fail;
    if (t->pre && pre_apply(t->pre, &p, 0, e)) {
        lab_err_prefix(e, "%s: pre-tokenizer", t->path);
        goto fail;
    }
    if (max_ids && t->cover_max) { /* a lower bound on the count before any merging (tok_cover_bound) */
        size_t lb = add_special ? t->n_post_pre + t->n_post_post : 0;
        for (size_t i = 0; i < p.n && lb <= max_ids; i++)
            lb += p.v[i].id >= 0 ? 1 : (p.v[i].len + t->cover_max - 1) / t->cover_max;
        if (lb > max_ids) {
            too_many(t, max_ids, e);
            goto fail;
        }
    }
    for (size_t i = 0; i < p.n; i++) {
        if (max_ids && out->n - start > max_ids) {
            too_many(t, max_ids, e);
            goto fail;
        }
        const TokPiece *pc = &p.v[i];
        if (pc->id >= 0) {
            if (ivec_push(out, pc->id)) goto oom;
        } else if (pc->len == 0) {
            continue;
        } else if (t->model == MODEL_UNIGRAM) {
            if (unigram_word(t, p.text.data + pc->off, pc->len, out, e)) goto fail;
        } else if (t->model == MODEL_BPE_SCORES) {
            if (bpe_scores_text(t, p.text.data + pc->off, pc->len, false, NULL, 0, out, e)) goto fail;
        } else if (bpe_word(t, p.text.data + pc->off, pc->len, out, e)) goto fail;
    }
    if (add_special)
        for (size_t i = 0; i < t->n_post_post; i++)
            if (ivec_push(out, t->post_post[i])) goto oom;
    if (max_ids && out->n - start > max_ids) {
        too_many(t, max_ids, e);
        goto fail;
    }
    rc = 0;
    goto fail;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
fail:
    pieces_free(&p);
    return rc;
}
