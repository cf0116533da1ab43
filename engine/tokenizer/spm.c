/* SentencePiece: the .model file (a protobuf ModelProto), its normalizer (the precompiled character
 * map, a darts-clone double-array trie), Unigram (Viterbi over piece scores) and BPE (merge by score)
 * segmentation, and the library's encoding rules around them (byte fallback, runs of unknown
 * characters fused into one <unk>, user-defined symbols kept whole). The aim is the ids
 * SentencePieceProcessor.encode gives, byte for byte; decoding lives in decode_stream.c (DEC_SPM).
 *
 * The protobuf reader is a few dozen lines rather than libprotobuf-c: ModelProto is three nested
 * messages with a dozen fields we read, and a hand reader lets every length be checked against the
 * bytes left and every field against the wire type the schema gives it, with the field's name in
 * the error. Unknown fields are skipped (bounded), as protobuf readers do. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tok_internal.h"

#define SPACE_SYM "\xE2\x96\x81"
#define REPL_CHAR "\xEF\xBF\xBD"

/* ---------- protobuf wire format ---------- */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct {
    const unsigned char *p;
    size_t n, off;
    size_t base;     /* offset of p in the file, for messages */
    const char *file;
    const char *msg; /* message name, for messages */
} PbCur;

typedef struct {
    uint32_t field;
    int wt;
    uint64_t v;               /* VARINT, I32, I64 */
    const unsigned char *d;   /* LEN */
    size_t len;
    size_t at;                /* file offset of the field's key */
} PbField;

static int pb_varint(PbCur *c, uint64_t *v, LabErr *e) {
    uint64_t r = 0;
    for (int i = 0; i < 10; i++) {
        if (c->off >= c->n)
            return lab_err(e, LAB_EFORMAT, "%s: %s: a number at offset %zu runs past the end of its message (truncated file?)",
                           c->file, c->msg, c->base + c->off);
        unsigned char b = c->p[c->off++];
        if (i == 9 && b > 1)
            return lab_err(e, LAB_EFORMAT, "%s: %s: a number at offset %zu has more than 64 bits", c->file, c->msg, c->base + c->off - 10);
        r |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return lab_err(e, LAB_EFORMAT, "%s: %s: a number at offset %zu is longer than 10 bytes", c->file, c->msg, c->base + c->off);
}

/* The next field: 1, 0 at the end of the message, -1 on a malformed one. */
static int pb_next(PbCur *c, PbField *f, LabErr *e) {
    if (c->off >= c->n) return 0;
    f->at = c->base + c->off;
    uint64_t key;
    if (pb_varint(c, &key, e)) return -1;
    f->field = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 536870911u)
        return lab_err(e, LAB_EFORMAT, "%s: %s: field number %llu at offset %zu is not a valid protobuf field",
                       c->file, c->msg, (unsigned long long)(key >> 3), f->at);
    size_t left;
    switch (f->wt) {
    case WT_VARINT: return pb_varint(c, &f->v, e) ? -1 : 1;
    case WT_I64:
    case WT_I32: {
        size_t w = f->wt == WT_I32 ? 4 : 8;
        if (c->n - c->off < w)
            return lab_err(e, LAB_EFORMAT, "%s: %s: field %u at offset %zu: %zu-byte value runs past the end of its message (%zu bytes left)",
                           c->file, c->msg, f->field, f->at, w, c->n - c->off);
        f->v = 0;
        for (size_t i = 0; i < w; i++) f->v |= (uint64_t)c->p[c->off + i] << (8 * i);
        c->off += w;
        return 1;
    }
    case WT_LEN:
        if (pb_varint(c, &f->v, e)) return -1;
        left = c->n - c->off;
        if (f->v > left)
            return lab_err(e, LAB_EFORMAT, "%s: %s: field %u at offset %zu: length %llu runs past the end of its message (%zu bytes left)",
                           c->file, c->msg, f->field, f->at, (unsigned long long)f->v, left);
        f->d = c->p + c->off;
        f->len = (size_t)f->v;
        c->off += f->len;
        return 1;
    default:
        return lab_err(e, LAB_EFORMAT, "%s: %s: field %u at offset %zu has wire type %d (groups and unknown types are not protobuf 3/2 messages a .model holds)",
                       c->file, c->msg, f->field, f->at, f->wt);
    }
}

static int pb_want(const PbCur *c, const PbField *f, int wt, const char *name, LabErr *e) {
    static const char *names[] = {"varint", "64-bit", "length-delimited", "group start", "group end", "32-bit", "6", "7"};
    if (f->wt == wt) return 0;
    return lab_err(e, LAB_EFORMAT, "%s: %s.%s (field %u at offset %zu) has the wrong type: %s where the schema says %s",
                   c->file, c->msg, name, f->field, f->at, names[f->wt & 7], names[wt]);
}

static PbCur pb_sub(const PbCur *c, const PbField *f, const char *msg) {
    return (PbCur){f->d, f->len, 0, (size_t)(f->d - c->p) + c->base, c->file, msg};
}

static int pb_i32(const PbCur *c, const PbField *f, const char *name, int *out, LabErr *e) {
    if (pb_want(c, f, WT_VARINT, name, e)) return -1;
    int64_t v = (int64_t)f->v; /* int32 negatives are sign-extended to 64 bits on the wire */
    if (v < INT32_MIN || v > INT32_MAX)
        return lab_err(e, LAB_EFORMAT, "%s: %s.%s = %lld is not an int32", c->file, c->msg, name, (long long)v);
    *out = (int)v;
    return 0;
}

static int pb_bool(const PbCur *c, const PbField *f, const char *name, bool *out, LabErr *e) {
    if (pb_want(c, f, WT_VARINT, name, e)) return -1;
    *out = f->v != 0;
    return 0;
}

static int pb_str(const PbCur *c, const PbField *f, const char *name, char **out, size_t *len, LabErr *e) {
    if (pb_want(c, f, WT_LEN, name, e)) return -1;
    char *s = malloc(f->len + 1);
    if (!s) return lab_err(e, LAB_ENOMEM, "out of memory");
    memcpy(s, f->d, f->len);
    s[f->len] = 0;
    free(*out);
    *out = s;
    if (len) *len = f->len;
    return 0;
}

/* ---------- the precompiled character map ---------- */
/* darts-clone units: bit 8 has_leaf, label = bits 0-7 plus bit 31 (set on value units, so a value
 * never matches a label), offset = bits 10-31 shifted left by 8 when bit 9 is set. */
static uint32_t da_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t da_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
static bool da_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t da_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* Walks the whole trie once (each node once, so a crafted cycle ends): every child and value position
 * inside the array, every value pointing at a NUL-terminated UTF-8 replacement. */
static int cm_check(const SpmCharsMap *cm, const char *file, const char *what, LabErr *e) {
    if (cm->n_units == 0) return lab_err(e, LAB_EFORMAT, "%s: %s: the trie is empty", file, what);
    uint8_t *seen = calloc(cm->n_units, 1);
    typedef struct { uint32_t pos; int depth; } Ent; /* depth 0: the root, which has no value */
    size_t cap = 256, n = 0;
    Ent *st = malloc(cap * sizeof *st);
    int rc = 0;
    if (!seen || !st) {
        rc = lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    st[n++] = (Ent){0, 0};
    seen[0] = 1;
    while (n && !rc) {
        Ent en = st[--n];
        uint32_t u = cm->units[en.pos];
        size_t base = en.pos ^ da_offset(u);
        if (base >= cm->n_units) {
            rc = lab_err(e, LAB_EFORMAT, "%s: %s: trie node %u points to offset %zu, past the %zu units of the trie",
                         file, what, en.pos, base, cm->n_units);
            break;
        }
        if (en.depth > 0 && da_has_leaf(u)) {
            uint32_t v = da_value(cm->units[base]);
            if (v >= cm->pool_len || !memchr(cm->pool + v, 0, cm->pool_len - v)) {
                rc = lab_err(e, LAB_EFORMAT, "%s: %s: trie value %u is outside the replacement strings (%zu bytes) or not NUL-terminated",
                             file, what, v, cm->pool_len);
                break;
            }
            if (!utf8_valid(cm->pool + v, strlen(cm->pool + v))) {
                rc = lab_err(e, LAB_EFORMAT, "%s: %s: the replacement at offset %u is not valid UTF-8", file, what, v);
                break;
            }
        }
        for (uint32_t c = 1; c < 256; c++) {
            size_t ch = base ^ c;
            if (ch >= cm->n_units || da_label(cm->units[ch]) != c) continue;
            if (seen[ch]) continue; /* darts-clone shares suffixes: a node may have several parents */
            seen[ch] = 1;
            if (n == cap) {
                Ent *ns = realloc(st, 2 * cap * sizeof *st);
                if (!ns) {
                    rc = lab_err(e, LAB_ENOMEM, "out of memory");
                    break;
                }
                st = ns;
                cap *= 2;
            }
            st[n++] = (Ent){(uint32_t)ch, en.depth + 1};
        }
    }
done:
    free(seen);
    free(st);
    return rc;
}

int spm_charsmap_parse(SpmCharsMap *cm, const unsigned char *blob, size_t n, const char *file, const char *what, LabErr *e) {
    memset(cm, 0, sizeof *cm);
    if (n <= 4) return lab_err(e, LAB_EFORMAT, "%s: %s is %zu bytes, too short for its 4-byte trie size", file, what, n);
    uint32_t tsize = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (tsize > n - 4)
        return lab_err(e, LAB_EFORMAT, "%s: %s: trie size %u runs past the end of the map (%zu bytes after the size)", file, what, tsize, n - 4);
    if (tsize % 4 || tsize == 0)
        return lab_err(e, LAB_EFORMAT, "%s: %s: trie size %u is not a positive multiple of 4", file, what, tsize);
    cm->n_units = tsize / 4;
    cm->pool_len = n - 4 - tsize;
    cm->units = malloc(tsize);
    cm->pool = malloc(cm->pool_len + 1);
    if (!cm->units || !cm->pool) {
        spm_charsmap_free(cm);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cm->n_units; i++) {
        const unsigned char *q = blob + 4 + 4 * i;
        cm->units[i] = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    }
    memcpy(cm->pool, blob + 4 + tsize, cm->pool_len);
    cm->pool[cm->pool_len] = 0;
    if (cm_check(cm, file, what, e)) {
        spm_charsmap_free(cm);
        return -1;
    }
    return 0;
}

void spm_charsmap_free(SpmCharsMap *cm) {
    if (!cm) return;
    free(cm->units);
    free(cm->pool);
    memset(cm, 0, sizeof *cm);
}

/* darts-clone's commonPrefixSearch over key[0..n): the values and lengths of the keys that are
 * prefixes, shortest first; at most max stored, the count of all returned. cm_check made every
 * position reached here valid; the bounds are checked again anyway. */
static size_t cm_prefixes(const SpmCharsMap *cm, const unsigned char *key, size_t n, uint32_t *vals, size_t *lens, size_t max) {
    size_t found = 0;
    size_t pos = da_offset(cm->units[0]);
    for (size_t i = 0; i < n; i++) {
        pos ^= key[i];
        if (pos >= cm->n_units) return found;
        uint32_t u = cm->units[pos];
        if (da_label(u) != key[i]) return found;
        pos ^= da_offset(u);
        if (pos >= cm->n_units) return found;
        if (da_has_leaf(u)) {
            if (found < max) {
                vals[found] = da_value(cm->units[pos]);
                lens[found] = i + 1;
            }
            found++;
        }
    }
    return found;
}

/* tokenizers' Precompiled::transform: the replacement of the shortest prefix key, or NULL. */
static const char *cm_first(const SpmCharsMap *cm, const char *s, size_t n) {
    uint32_t v;
    size_t l;
    if (!cm_prefixes(cm, (const unsigned char *)s, n, &v, &l, 1)) return NULL;
    return v < cm->pool_len ? cm->pool + v : NULL;
}

/* tokenizers' Precompiled normalizer: per extended grapheme cluster, the cluster's replacement when
 * it is shorter than 6 bytes and has one, else each character's replacement or the character. */
int spm_charsmap_normalize_hf(const SpmCharsMap *cm, const char *s, size_t n, Buf *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* one grapheme: [i, j) */
        size_t j = i, k;
        utf8proc_int32_t state = 0, prev = -1;
        while (j < n) {
            tok_u8_scan(p + j, n - j, &k);
            utf8proc_int32_t cp = (utf8proc_int32_t)tok_u8_cp(p + j, k);
            if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state)) break;
            prev = cp;
            j += k;
        }
        const char *r;
        if (j - i < 6 && (r = cm_first(cm, s + i, j - i))) {
            if (buf_puts(out, r)) return -1;
        } else {
            for (size_t a = i; a < j; a += k) {
                tok_u8_scan(p + a, j - a, &k);
                r = cm_first(cm, s + a, k);
                if (r ? buf_puts(out, r) : buf_append(out, s + a, k)) return -1;
            }
        }
        i = j;
    }
    return 0;
}

/* ---------- the .model ---------- */
typedef struct {
    char *piece;
    size_t len;
    float score;
    int type;
} RawPiece;

typedef struct {
    int model_type;                   /* 1 unigram, 2 bpe, 3 word, 4 char */
    bool byte_fallback, split_digits, ws_suffix, has_unk_surface;
    int unk_id, bos_id, eos_id, pad_id;
    char *unk_surface;
    size_t unk_surface_len;
    char *norm_name;
    const unsigned char *charsmap;
    size_t charsmap_len;
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
    bool denorm_rules;
} RawModel;

static int parse_piece(const PbCur *parent, const PbField *pf, RawPiece *rp, size_t index, LabErr *e) {
    char name[48];
    snprintf(name, sizeof name, "pieces[%zu]", index);
    PbCur c = pb_sub(parent, pf, name);
    PbField f;
    int r;
    bool has_piece = false;
    rp->type = SPM_NORMAL;
    while ((r = pb_next(&c, &f, e)) == 1) {
        switch (f.field) {
        case 1:
            if (pb_str(&c, &f, "piece", &rp->piece, &rp->len, e)) return -1;
            has_piece = true;
            break;
        case 2: {
            if (pb_want(&c, &f, WT_I32, "score", e)) return -1;
            uint32_t bits = (uint32_t)f.v;
            memcpy(&rp->score, &bits, 4);
            break;
        }
        case 3:
            if (pb_i32(&c, &f, "type", &rp->type, e)) return -1;
            if (rp->type < SPM_NORMAL || rp->type > SPM_BYTE)
                return lab_err(e, LAB_EFORMAT, "%s: %s.type = %d is not a SentencePiece piece type (1-6)", c.file, name, rp->type);
            break;
        default: break;
        }
    }
    if (r < 0) return -1;
    if (!has_piece || rp->len == 0) return lab_err(e, LAB_EFORMAT, "%s: %s has no piece text (pieces must not be empty)", c.file, name);
    return 0;
}

static int parse_trainer(const PbCur *parent, const PbField *pf, RawModel *m, LabErr *e) {
    PbCur c = pb_sub(parent, pf, "trainer_spec");
    PbField f;
    int r;
    while ((r = pb_next(&c, &f, e)) == 1) {
        int rc = 0;
        switch (f.field) {
        case 3: rc = pb_i32(&c, &f, "model_type", &m->model_type, e); break;
        case 24: rc = pb_bool(&c, &f, "treat_whitespace_as_suffix", &m->ws_suffix, e); break;
        case 25: rc = pb_bool(&c, &f, "split_digits", &m->split_digits, e); break;
        case 35: rc = pb_bool(&c, &f, "byte_fallback", &m->byte_fallback, e); break;
        case 40: rc = pb_i32(&c, &f, "unk_id", &m->unk_id, e); break;
        case 41: rc = pb_i32(&c, &f, "bos_id", &m->bos_id, e); break;
        case 42: rc = pb_i32(&c, &f, "eos_id", &m->eos_id, e); break;
        case 43: rc = pb_i32(&c, &f, "pad_id", &m->pad_id, e); break;
        case 44:
            rc = pb_str(&c, &f, "unk_surface", &m->unk_surface, &m->unk_surface_len, e);
            m->has_unk_surface = true;
            break;
        default: break;
        }
        if (rc) return -1;
    }
    return r < 0 ? -1 : 0;
}

static int parse_normalizer(const PbCur *parent, const PbField *pf, RawModel *m, bool denorm, LabErr *e) {
    PbCur c = pb_sub(parent, pf, denorm ? "denormalizer_spec" : "normalizer_spec");
    PbField f;
    int r;
    while ((r = pb_next(&c, &f, e)) == 1) {
        int rc = 0;
        if (denorm) {
            if (f.field == 2) {
                rc = pb_want(&c, &f, WT_LEN, "precompiled_charsmap", e);
                if (f.len) m->denorm_rules = true;
            }
            if (rc) return -1;
            continue;
        }
        switch (f.field) {
        case 1: rc = pb_str(&c, &f, "name", &m->norm_name, NULL, e); break;
        case 2:
            rc = pb_want(&c, &f, WT_LEN, "precompiled_charsmap", e);
            m->charsmap = f.d;
            m->charsmap_len = f.len;
            break;
        case 3: rc = pb_bool(&c, &f, "add_dummy_prefix", &m->add_dummy_prefix, e); break;
        case 4: rc = pb_bool(&c, &f, "remove_extra_whitespaces", &m->remove_extra_ws, e); break;
        case 5: rc = pb_bool(&c, &f, "escape_whitespaces", &m->escape_ws, e); break;
        default: break;
        }
        if (rc) return -1;
    }
    return r < 0 ? -1 : 0;
}

void spm_free(SpmModel *s) {
    if (!s) return;
    free(s->type);
    strmap_free(&s->pieces);
    strmap_free(&s->reserved);
    spm_charsmap_free(&s->cm);
    for (size_t i = 0; i < s->n_user; i++) free(s->user[i]);
    free(s->user);
    free(s->user_len);
    free(s->unk_surface);
    free(s->norm_name);
    free(s);
}

static int byte_of_piece(const char *s, size_t n) {
    unsigned v;
    char tail;
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    char hex[3] = {s[3], s[4], 0};
    if (sscanf(hex, "%2X%c", &v, &tail) != 1) return -1;
    bool hexok = true;
    for (int i = 3; i < 5; i++) hexok = hexok && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F'));
    return hexok ? (int)v : -1;
}

static int build(Tokenizer *t, RawModel *m, RawPiece *pc, size_t n, LabErr *e) {
    const char *f = t->path;
    if (m->model_type != 1 && m->model_type != 2)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: trainer_spec.model_type %d (%s) is not supported (Unigram and BPE are)", f,
                       m->model_type, m->model_type == 3 ? "WORD" : m->model_type == 4 ? "CHAR" : "unknown");
    if (m->denorm_rules)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: denormalizer_spec carries rules, which this reader does not apply", f);
    if (n == 0) return lab_err(e, LAB_EFORMAT, "%s: the model has no pieces", f);
    if (n > (1u << 24)) return lab_err(e, LAB_EFORMAT, "%s: %zu pieces is more than a vocabulary holds", f, n);
    SpmModel *s = calloc(1, sizeof *s);
    if (!s) return lab_err(e, LAB_ENOMEM, "out of memory");
    t->spm = s;
    s->bpe = m->model_type == 2;
    s->add_dummy_prefix = m->add_dummy_prefix;
    s->remove_extra_ws = m->remove_extra_ws;
    s->escape_ws = m->escape_ws;
    s->ws_suffix = m->ws_suffix;
    s->byte_fallback = m->byte_fallback;
    s->norm_name = m->norm_name;
    m->norm_name = NULL;
    if (m->has_unk_surface) {
        s->unk_surface = m->unk_surface;
        s->unk_surface_len = m->unk_surface_len;
        m->unk_surface = NULL;
    } else {
        if (!(s->unk_surface = strdup(" \xE2\x81\x87 "))) return lab_err(e, LAB_ENOMEM, "out of memory");
        s->unk_surface_len = strlen(s->unk_surface);
    }
    if (tok_set_vocab_size(t, (int)n, e)) return -1;
    if (!(s->type = malloc(n)) || !(t->scores = malloc(n * sizeof *t->scores))) return lab_err(e, LAB_ENOMEM, "out of memory");
    s->unk_id = -1;
    bool bytes[256] = {0};
    s->min_score = FLT_MAX;
    s->max_score = FLT_MIN; /* as the library starts it: user-defined pieces score length × this − 0.1 */
    for (size_t i = 0; i < n; i++) {
        RawPiece *p = &pc[i];
        int id = (int)i;
        bool normal = p->type == SPM_NORMAL || p->type == SPM_USER || p->type == SPM_UNUSED;
        int r = strmap_put(normal ? &s->pieces : &s->reserved, p->piece, p->len, id);
        if (r < 0) return lab_err(e, LAB_ENOMEM, "out of memory");
        if (r == 1) return lab_err(e, LAB_EFORMAT, "%s: piece %zu '%.80s' is already defined", f, i, p->piece);
        if (!utf8_valid(p->piece, p->len)) return lab_err(e, LAB_EFORMAT, "%s: piece %zu is not valid UTF-8", f, i);
        s->type[i] = (uint8_t)p->type;
        t->scores[i] = p->score;
        if (p->type == SPM_NORMAL) {
            if (p->score < s->min_score) s->min_score = p->score;
            if (p->score > s->max_score) s->max_score = p->score;
        }
        if (normal && p->len > s->max_piece) s->max_piece = p->len;
        if (p->type == SPM_UNKNOWN) {
            if (s->unk_id >= 0) return lab_err(e, LAB_EFORMAT, "%s: pieces %d and %zu are both the unknown piece", f, s->unk_id, i);
            s->unk_id = id;
        }
        if (p->type == SPM_BYTE) {
            if (!m->byte_fallback)
                return lab_err(e, LAB_EFORMAT, "%s: byte piece %zu '%.80s' although trainer_spec.byte_fallback is false", f, i, p->piece);
            int b = byte_of_piece(p->piece, p->len);
            if (b < 0) return lab_err(e, LAB_EFORMAT, "%s: byte piece %zu '%.80s' is not <0xXX>", f, i, p->piece);
            bytes[b] = true;
            t->byte_id[b] = id;
        }
        if (p->type == SPM_USER) {
            char **u = realloc(s->user, (s->n_user + 1) * sizeof *u);
            size_t *ul = u ? realloc(s->user_len, (s->n_user + 1) * sizeof *ul) : NULL;
            if (u) s->user = u;
            if (!ul) return lab_err(e, LAB_ENOMEM, "out of memory");
            s->user_len = ul;
            if (!(s->user[s->n_user] = strdup(p->piece))) return lab_err(e, LAB_ENOMEM, "out of memory");
            s->user_len[s->n_user++] = p->len;
        }
        if (tok_set_token(t, id, p->piece, p->len, true, e)) return -1;
        if (p->type == SPM_CONTROL || p->type == SPM_UNKNOWN) t->special[i] = true;
    }
    if (s->unk_id < 0) return lab_err(e, LAB_EFORMAT, "%s: no piece has the UNKNOWN type (unk is not defined)", f);
    if (m->byte_fallback)
        for (int b = 0; b < 256; b++)
            if (!bytes[b]) return lab_err(e, LAB_EFORMAT, "%s: byte_fallback is true but there is no byte piece <0x%02X>", f, b);
    t->unk_id = s->unk_id;
    t->byte_fallback = m->byte_fallback;
    if (m->charsmap_len) {
        if (spm_charsmap_parse(&s->cm, m->charsmap, m->charsmap_len, f, "normalizer_spec.precompiled_charsmap", e)) return -1;
        s->has_cm = true;
    }
    /* ids come from the pieces' positions; trainer_spec's ids only name which of them are bos/eos */
    if (m->bos_id >= (int)n || m->eos_id >= (int)n)
        return lab_err(e, LAB_EFORMAT, "%s: trainer_spec bos_id %d / eos_id %d past the %zu pieces", f, m->bos_id, m->eos_id, n);
    if (m->bos_id >= 0 && s->type[m->bos_id] == SPM_CONTROL) {
        t->bos_id = m->bos_id;
        if (!(t->post_pre = malloc(sizeof(int)))) return lab_err(e, LAB_ENOMEM, "out of memory");
        t->post_pre[t->n_post_pre++] = t->bos_id;
    }
    if (m->eos_id >= 0 && s->type[m->eos_id] == SPM_CONTROL) t->eos_id = m->eos_id;
    TokDecStep st = {.type = DEC_SPM};
    return dec_step_add(t, &st, e);
}

int tok_load_spm(Tokenizer **out, const char *path, LabErr *e) {
    *out = NULL;
    char *data = NULL;
    size_t size = 0;
    if (file_read_all(path, (size_t)1 << 30, &data, &size, e)) return -1;
    Tokenizer *t = tok_alloc(TOK_KIND_SENTENCEPIECE, MODEL_SPM, path);
    RawModel m = {.model_type = 1, .unk_id = 0, .bos_id = 1, .eos_id = 2, .pad_id = -1,
                  .add_dummy_prefix = true, .remove_extra_ws = true, .escape_ws = true};
    RawPiece *pc = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    if (!t) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    if (size == 0) {
        lab_err(e, LAB_EFORMAT, "%s: empty file (not a SentencePiece model)", path);
        goto done;
    }
    PbCur c = {(const unsigned char *)data, size, 0, 0, path, "ModelProto"};
    PbField f;
    int r;
    bool has_norm = false;
    while ((r = pb_next(&c, &f, e)) == 1) {
        switch (f.field) {
        case 1:
            if (pb_want(&c, &f, WT_LEN, "pieces", e)) goto done;
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 1024;
                RawPiece *np = realloc(pc, nc * sizeof *np);
                if (!np) {
                    lab_err(e, LAB_ENOMEM, "out of memory");
                    goto done;
                }
                pc = np;
                cap = nc;
            }
            memset(&pc[n], 0, sizeof pc[n]);
            n++;
            if (parse_piece(&c, &f, &pc[n - 1], n - 1, e)) goto done;
            break;
        case 2:
            if (pb_want(&c, &f, WT_LEN, "trainer_spec", e) || parse_trainer(&c, &f, &m, e)) goto done;
            break;
        case 3:
            if (pb_want(&c, &f, WT_LEN, "normalizer_spec", e) || parse_normalizer(&c, &f, &m, false, e)) goto done;
            has_norm = true;
            break;
        case 5:
            if (pb_want(&c, &f, WT_LEN, "denormalizer_spec", e) || parse_normalizer(&c, &f, &m, true, e)) goto done;
            break;
        default: break;
        }
    }
    if (r < 0) goto done;
    if (!has_norm) {
        lab_err(e, LAB_EFORMAT, "%s: no normalizer_spec (not a SentencePiece model?)", path);
        goto done;
    }
    if (build(t, &m, pc, n, e) || tok_finish(t, e)) goto done;
    rc = 0;
done:
    for (size_t i = 0; i < n; i++) free(pc[i].piece);
    free(pc);
    free(m.unk_surface);
    free(m.norm_name);
    free(data);
    if (rc) tok_free(t);
    else *out = t;
    return rc;
}

/* ---------- normalization (normalizer.cc's rules) ---------- */
/* The longest user-defined symbol at the start of s, 0 if none. */
static size_t user_prefix(const SpmModel *s, const char *p, size_t n) {
    size_t best = 0;
    for (size_t i = 0; i < s->n_user; i++)
        if (s->user_len[i] <= n && s->user_len[i] > best && memcmp(s->user[i], p, s->user_len[i]) == 0) best = s->user_len[i];
    return best;
}

/* One normalized unit at the start of p: a user-defined symbol as it is, the longest rule of the
 * map (among the first 32 the trie reports, as the library), one character, or U+FFFD for one
 * invalid byte. */
static void norm_prefix(const SpmModel *s, const char *p, size_t n, const char **out, size_t *out_len, size_t *used) {
    size_t u = user_prefix(s, p, n);
    if (u) {
        *out = p;
        *out_len = *used = u;
        return;
    }
    if (s->has_cm) {
        uint32_t vals[32];
        size_t lens[32], best = 0;
        uint32_t bv = 0;
        size_t k = cm_prefixes(&s->cm, (const unsigned char *)p, n, vals, lens, 32);
        if (k > 32) k = 32;
        for (size_t i = 0; i < k; i++)
            if (lens[i] > best) {
                best = lens[i];
                bv = vals[i];
            }
        if (best) {
            *out = s->cm.pool + bv;
            *out_len = strlen(*out);
            *used = best;
            return;
        }
    }
    size_t len;
    if (tok_u8_scan((const unsigned char *)p, n, &len) == TOK_U8_OK) {
        *out = p;
        *out_len = *used = len;
    } else {
        *out = REPL_CHAR;
        *out_len = 3;
        *used = 1;
    }
}

static int put_space(const SpmModel *s, Buf *o) { return s->escape_ws ? buf_append(o, SPACE_SYM, 3) : buf_putc(o, ' '); }

int spm_normalize(const SpmModel *s, const char *in, size_t n, Buf *o) {
    buf_clear(o);
    if (buf_append(o, "", 0)) return -1;
    const char *r;
    size_t rl, used;
    if (s->remove_extra_ws)
        while (n) {
            norm_prefix(s, in, n, &r, &rl, &used);
            if (!(rl == 1 && r[0] == ' ')) break;
            in += used;
            n -= used;
        }
    if (!n) return 0;
    if (!s->ws_suffix && s->add_dummy_prefix && put_space(s, o)) return -1;
    bool prev_space = s->remove_extra_ws;
    while (n) {
        norm_prefix(s, in, n, &r, &rl, &used);
        while (prev_space && rl && r[0] == ' ') {
            r++;
            rl--;
        }
        if (rl) {
            for (size_t i = 0; i < rl; i++)
                if (s->escape_ws && r[i] == ' ' ? put_space(s, o) : buf_putc(o, r[i])) return -1;
            prev_space = r[rl - 1] == ' ';
        }
        in += used;
        n -= used;
        if (!s->remove_extra_ws) prev_space = false;
    }
    if (s->remove_extra_ws) {
        const char *sp = s->escape_ws ? SPACE_SYM : " ";
        size_t sl = strlen(sp);
        while (o->len >= sl && memcmp(o->data + o->len - sl, sp, sl) == 0) o->len -= sl;
        o->data[o->len] = 0;
    }
    if (s->ws_suffix && s->add_dummy_prefix && put_space(s, o)) return -1;
    return 0;
}

/* ---------- Unigram: Viterbi over piece scores (the library's optimized encoder) ---------- */
int unigram_viterbi(const UnigramSpec *u, const char *s, size_t n, TokSegs *segs) {
    segs->n = 0;
    if (n == 0) return 0;
    typedef struct { double score; size_t start; int id; } Best;
    Best *b = malloc((n + 1) * sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i <= n; i++) b[i] = (Best){0, SIZE_MAX, -1};
    const unsigned char *p = (const unsigned char *)s;
    size_t at = 0;
    while (at < n) {
        double here = b[at].score;
        size_t mblen;
        tok_u8_scan(p + at, n - at, &mblen);
        bool single = false;
        size_t lim = n - at < u->max_len ? n - at : u->max_len;
        for (size_t len = 1; len <= lim; len++) {
            int id = strmap_get(u->pieces, s + at, len);
            if (id < 0) continue;
            if (u->type && u->type[id] == SPM_UNUSED) continue;
            double sc = u->type && u->type[id] == SPM_USER ? (double)((float)len * u->max_score) - 0.1 : u->score_f ? (double)u->score_f[id] : u->score_d[id];
            double cand = sc + here;
            if (u->round_float) cand = (double)(float)cand;
            Best *tg = &b[at + len];
            if (tg->start == SIZE_MAX || cand > tg->score) *tg = (Best){cand, at, id};
            if (len == mblen) single = true;
        }
        if (!single) {
            double cand = u->unk_score + here;
            if (u->round_float) cand = (double)(float)cand;
            Best *tg = &b[at + mblen];
            if (tg->start == SIZE_MAX || cand > tg->score) *tg = (Best){cand, at, u->unk_id};
        }
        at += mblen;
    }
    size_t cnt = 0;
    for (size_t end = n; end > 0; end = b[end].start) cnt++;
    if (segs->cap < cnt) {
        TokSeg *nv = realloc(segs->v, cnt * sizeof *nv);
        if (!nv) {
            free(b);
            return -1;
        }
        segs->v = nv;
        segs->cap = cnt;
    }
    segs->n = cnt;
    for (size_t end = n, k = cnt; end > 0; end = b[end].start) segs->v[--k] = (TokSeg){b[end].start, end, b[end].id};
    free(b);
    return 0;
}

/* ---------- BPE (bpe_model.cc): merge the adjacent pair whose piece scores highest, leftmost first ---------- */
typedef struct { size_t a, b; int prev, next; bool freeze; } SSym;
typedef struct { float score; int left, right; size_t size; } SPair;

static bool pair_before(const SPair *x, const SPair *y) { /* x pops before y */
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static int heap_push(SPair **h, size_t *n, size_t *cap, SPair v) {
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        SPair *nh = realloc(*h, nc * sizeof *nh);
        if (!nh) return -1;
        *h = nh;
        *cap = nc;
    }
    size_t i = (*n)++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (!pair_before(&v, &(*h)[par])) break;
        (*h)[i] = (*h)[par];
        i = par;
    }
    (*h)[i] = v;
    return 0;
}

static SPair heap_pop(SPair *h, size_t *n) {
    SPair top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const SPair *mv = &last;
        if (l < *n && pair_before(&h[l], mv)) { m = l; mv = &h[l]; }
        if (r < *n && pair_before(&h[r], mv)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

typedef struct {
    const Tokenizer *t;
    const char *text;
    SSym *sym;
    SPair *h;
    size_t hn, hcap;
    /* merges made of UNUSED pieces, remembered to split them back (resegment) */
    size_t *rv_a, *rv_m, *rv_b; /* piece [a, b) was made of [a, m) + [m, b) */
    size_t rvn, rvcap;
} BpeRun;

static int bpe_add_pair(BpeRun *r, int left, int right) {
    if (left < 0 || right < 0 || r->sym[left].freeze || r->sym[right].freeze) return 0;
    const SpmModel *s = r->t->spm;
    size_t a = r->sym[left].a, b = r->sym[right].b;
    int id = strmap_get(&s->pieces, r->text + a, b - a);
    if (id < 0) return 0;
    if (heap_push(&r->h, &r->hn, &r->hcap, (SPair){r->t->scores[id], left, right, b - a})) return -1;
    if (s->type[id] == SPM_UNUSED) {
        if (r->rvn == r->rvcap) {
            size_t nc = r->rvcap ? 2 * r->rvcap : 16;
            size_t *x = realloc(r->rv_a, nc * sizeof *x), *y = x ? realloc(r->rv_m, nc * sizeof *y) : NULL,
                   *z = y ? realloc(r->rv_b, nc * sizeof *z) : NULL;
            if (x) r->rv_a = x;
            if (y) r->rv_m = y;
            if (!z) return -1;
            r->rv_b = z;
            r->rvcap = nc;
        }
        r->rv_a[r->rvn] = a;
        r->rv_m[r->rvn] = r->sym[left].b;
        r->rv_b[r->rvn++] = b;
    }
    return 0;
}

static int spm_piece_id(const SpmModel *s, const char *p, size_t n) {
    int id = strmap_get(&s->reserved, p, n);
    if (id >= 0) return id;
    id = strmap_get(&s->pieces, p, n);
    return id >= 0 ? id : s->unk_id;
}

static int bpe_reseg(BpeRun *r, size_t a, size_t b, TokSegs *out, int depth) {
    const SpmModel *s = r->t->spm;
    int id = spm_piece_id(s, r->text + a, b - a);
    if (s->type[id] == SPM_UNUSED && depth < 64) {
        /* the last merge recorded for this text wins, as a hash map keyed by the piece would keep */
        for (size_t i = r->rvn; i-- > 0;)
            if (r->rv_b[i] - r->rv_a[i] == b - a && memcmp(r->text + r->rv_a[i], r->text + a, b - a) == 0) {
                size_t m = a + (r->rv_m[i] - r->rv_a[i]);
                return bpe_reseg(r, a, m, out, depth + 1) || bpe_reseg(r, m, b, out, depth + 1) ? -1 : 0;
            }
    }
    if (out->n == out->cap) {
        size_t nc = out->cap ? 2 * out->cap : 64;
        TokSeg *nv = realloc(out->v, nc * sizeof *nv);
        if (!nv) return -1;
        out->v = nv;
        out->cap = nc;
    }
    out->v[out->n++] = (TokSeg){a, b, id};
    return 0;
}

static int spm_bpe(const Tokenizer *t, const char *s, size_t n, TokSegs *out) {
    const SpmModel *sp = t->spm;
    out->n = 0;
    if (!n) return 0;
    BpeRun r = {t, s, malloc(n * sizeof(SSym)), NULL, 0, 0, NULL, NULL, NULL, 0, 0};
    int rc = -1, cnt = 0;
    if (!r.sym) goto done;
    for (size_t i = 0; i < n;) {
        size_t len = user_prefix(sp, s + i, n - i);
        bool fr = len > 0;
        if (!fr) tok_u8_scan((const unsigned char *)s + i, n - i, &len);
        r.sym[cnt] = (SSym){i, i + len, cnt - 1, i + len < n ? cnt + 1 : -1, fr};
        cnt++;
        i += len;
    }
    for (int i = 1; i < cnt; i++)
        if (bpe_add_pair(&r, i - 1, i)) goto done;
    while (r.hn) {
        SPair top = heap_pop(r.h, &r.hn);
        SSym *l = &r.sym[top.left], *rt = &r.sym[top.right];
        if (l->a == l->b || rt->a == rt->b || (l->b - l->a) + (rt->b - rt->a) != top.size) continue;
        l->b = rt->b;
        l->next = rt->next;
        if (rt->next >= 0) r.sym[rt->next].prev = top.left;
        rt->a = rt->b;
        if (bpe_add_pair(&r, l->prev, top.left) || bpe_add_pair(&r, top.left, l->next)) goto done;
    }
    for (int i = 0; i >= 0 && i < cnt; i = r.sym[i].next)
        if (bpe_reseg(&r, r.sym[i].a, r.sym[i].b, out, 0)) goto done;
    rc = 0;
done:
    free(r.sym);
    free(r.h);
    free(r.rv_a);
    free(r.rv_m);
    free(r.rv_b);
    return rc;
}

/* ---------- encode ---------- */
int spm_encode(const Tokenizer *t, const char *text, size_t len, IntVec *out, LabErr *e) {
    const SpmModel *s = t->spm;
    Buf norm = {0};
    TokSegs segs = {0};
    int rc = -1;
    if (spm_normalize(s, text ? text : "", len, &norm)) goto oom;
    if (s->bpe) {
        if (spm_bpe(t, norm.data, norm.len, &segs)) goto oom;
    } else {
        UnigramSpec u = {&s->pieces, s->type, t->scores, NULL, s->max_piece, s->max_score,
                         (double)(s->min_score - 10.0f), s->unk_id, true};
        if (unigram_viterbi(&u, norm.data, norm.len, &segs)) goto oom;
    }
    bool prev_unk = false;
    for (size_t i = 0; i < segs.n; i++) {
        const TokSeg *g = &segs.v[i];
        bool unk = g->id == s->unk_id;
        if (unk && s->byte_fallback) {
            for (size_t j = g->a; j < g->b; j++)
                if (ivec_push(out, t->byte_id[(unsigned char)norm.data[j]])) goto oom;
        } else if (!(unk && prev_unk)) {
            if (ivec_push(out, g->id)) goto oom;
        }
        prev_unk = unk;
    }
    rc = 0;
    goto done;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
done:
    buf_free(&norm);
    free(segs.v);
    return rc;
}

/* tokenizers' Unigram on one pre-tokenized piece: Viterbi, runs of unknown pieces fused into one
 * when fuse_unk, then each piece's id, its bytes (byte_fallback) or the unknown id. */
int unigram_word(const Tokenizer *t, const char *s, size_t n, IntVec *out, LabErr *e) {
    TokSegs segs = {0};
    UnigramSpec u = {&t->vocab, NULL, NULL, t->uscores, t->max_piece, 0, t->min_score - 10.0, t->unk_id, false};
    if (unigram_viterbi(&u, s, n, &segs)) return lab_err(e, LAB_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < segs.n && !rc; i++) {
        size_t a = segs.v[i].a, b = segs.v[i].b;
        int id = segs.v[i].id;
        if (t->fuse_unk && t->unk_id >= 0 && id == t->unk_id)
            while (i + 1 < segs.n && segs.v[i + 1].id == t->unk_id) b = segs.v[++i].b;
        id = strmap_get(&t->vocab, s + a, b - a); /* tokenizers maps the piece's text, not the lattice node */
        if (id >= 0) {
            rc = ivec_push(out, id);
            continue;
        }
        bool all = t->byte_fallback;
        for (size_t j = a; j < b && all; j++) all = t->byte_id[(unsigned char)s[j]] >= 0;
        if (all) {
            for (size_t j = a; j < b && !rc; j++) rc = ivec_push(out, t->byte_id[(unsigned char)s[j]]);
        } else if (t->unk_id < 0) {
            free(segs.v);
            return lab_err(e, LAB_EFORMAT, "%s: '%.*s' has no token and the model has no unk_id", t->path, (int)(b - a > 80 ? 80 : b - a), s + a);
        } else {
            rc = ivec_push(out, t->unk_id);
        }
    }
    free(segs.v);
    return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}
