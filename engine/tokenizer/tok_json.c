/* Loading Hugging Face tokenizer.json (model BPE) and GPT-2's vocab.json + merges.txt. Every
 * component type that is not handled is an error naming the type and the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tok_internal.h"

#define WS_CLASS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
/* GPT-2's pattern, with \s spelled as Unicode White_Space (what Oniguruma and Rust mean by it;
 * PCRE2's \s would also take U+180E). */
static const char GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS_CLASS "\\p{L}\\p{N}]+|[" WS_CLASS
                              "]+(?![^" WS_CLASS "])|[" WS_CLASS "]+";
/* tokenizers' Whitespace pre-tokenizer: \w+|[^\w\s]+ in Rust's regex crate, whose \w is Alphabetic,
 * marks, decimal digits, connector punctuation and the joiners. */
#define RUST_WORD "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}\\x{200C}\\x{200D}"
static const char WHITESPACE_RE[] = "[" RUST_WORD "]+|[^" RUST_WORD WS_CLASS "]+";
/* Oniguruma's \w in Unicode mode (what Split and ByteLevel patterns mean): Letter, Mark, Number,
 * Connector_Punctuation. PCRE2 10.42's \w lacks the marks, and its \s lacks U+0085. */
#define ONIG_WORD "\\p{L}\\p{M}\\p{N}\\p{Pc}"

/* Rewrites \s, \S, \w, \W of an Oniguruma pattern into explicit classes with Oniguruma's meaning.
 * Inside a character class \s and \w become the class's contents; \S and \W there are left to PCRE2. */
static int onig_to_pcre2(const char *re, Buf *out) {
    bool in_class = false;
    for (const char *c = re; *c; c++) {
        if (*c == '\\' && c[1]) {
            char k = c[1];
            const char *set = k == 's' || k == 'S' ? WS_CLASS : k == 'w' || k == 'W' ? ONIG_WORD : NULL;
            bool neg = k == 'S' || k == 'W';
            int rc;
            if (set && in_class && !neg) rc = buf_puts(out, set);
            else if (set && !in_class) rc = buf_printf(out, "[%s%s]", neg ? "^" : "", set);
            else rc = buf_append(out, c, 2);
            if (rc) return -1;
            c++;
            continue;
        }
        if (*c == '[' && !in_class) {
            in_class = true;
            if (buf_putc(out, *c)) return -1;
            /* a ']' right after '[' or '[^' is a literal */
            if (c[1] == '^' && buf_putc(out, *++c)) return -1;
            if (c[1] == ']' && buf_putc(out, *++c)) return -1;
            continue;
        }
        if (*c == ']' && in_class) in_class = false;
        if (buf_putc(out, *c)) return -1;
    }
    return buf_append(out, "", 0);
}

static const char *jstr(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
static bool jbool(json_t *o, const char *key, bool dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int dup_str(const char *s, char **out, size_t *len) {
    size_t n = strlen(s);
    *out = malloc(n + 1);
    if (!*out) return -1;
    memcpy(*out, s, n + 1);
    if (len) *len = n;
    return 0;
}

static int first_char(const char *s, uint32_t *cp) {
    size_t n = strlen(s), k;
    if (n == 0 || tok_u8_scan((const unsigned char *)s, n, &k) != TOK_U8_OK) return -1;
    *cp = tok_u8_cp((const unsigned char *)s, k);
    return 0;
}

/* A pattern {"String": s} or {"Regex": r}: the literal (regex NULL) or the regex source. */
static int get_pattern(json_t *o, const char *file, const char *what, const char **lit, const char **regex, LabErr *e) {
    json_t *p = json_object_get(o, "pattern");
    *lit = jstr(p, "String");
    *regex = jstr(p, "Regex");
    if (!*lit && !*regex) return lab_err(e, LAB_EFORMAT, "%s: %s has no pattern {\"String\"|\"Regex\": ...}", file, what);
    return 0;
}

/* Standard base64 (RFC 4648, with or without padding) into out; -1 on a character outside it. */
static int base64_decode(const char *s, size_t n, Buf *out) {
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
              : c == '+' ? 62 : c == '/' ? 63 : c == '=' ? -2 : -1;
        if (v == -1) return -1;
        if (v == -2) { /* padding: only at the end */
            for (size_t j = i; j < n; j++)
                if (s[j] != '=') return -1;
            break;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (buf_putc(out, (char)(acc >> bits & 0xFF))) return -2;
        }
    }
    return 0;
}

/* ---------- normalizer ---------- */
static int parse_norm(json_t *o, const char *file, TokNorm **out, LabErr *e) {
    const char *type = jstr(o, "type");
    if (!type) return lab_err(e, LAB_EFORMAT, "%s: normalizer without a \"type\"", file);
    TokNorm *nm = calloc(1, sizeof *nm);
    if (!nm) return lab_err(e, LAB_ENOMEM, "out of memory");
    *out = nm;
    if (!strcmp(type, "Sequence")) {
        nm->type = NORM_SEQ;
        json_t *arr = json_object_get(o, "normalizers");
        if (!json_is_array(arr)) return lab_err(e, LAB_EFORMAT, "%s: normalizer Sequence without \"normalizers\"", file);
        nm->kids = calloc(json_array_size(arr) + 1, sizeof *nm->kids);
        if (!nm->kids) return lab_err(e, LAB_ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            nm->n_kids++;
            if (parse_norm(json_array_get(arr, i), file, &nm->kids[i], e)) return -1;
        }
    } else if (!strcmp(type, "Prepend")) {
        nm->type = NORM_PREPEND;
        const char *s = jstr(o, "prepend");
        if (!s) return lab_err(e, LAB_EFORMAT, "%s: normalizer Prepend without \"prepend\"", file);
        if (dup_str(s, &nm->a, &nm->a_len)) return lab_err(e, LAB_ENOMEM, "out of memory");
    } else if (!strcmp(type, "Replace")) {
        nm->type = NORM_REPLACE;
        const char *lit, *re, *content = jstr(o, "content");
        if (get_pattern(o, file, "normalizer Replace", &lit, &re, e)) return -1;
        if (!content) return lab_err(e, LAB_EFORMAT, "%s: normalizer Replace without \"content\"", file);
        if (dup_str(content, &nm->b, &nm->b_len)) return lab_err(e, LAB_ENOMEM, "out of memory");
        if (lit) {
            if (dup_str(lit, &nm->a, &nm->a_len)) return lab_err(e, LAB_ENOMEM, "out of memory");
        } else if (tok_re_compile(&nm->re, re, strlen(re), "normalizer Replace", file, e)) return -1;
    } else if (!strcmp(type, "NFC")) nm->type = NORM_NFC;
    else if (!strcmp(type, "NFKC")) nm->type = NORM_NFKC;
    else if (!strcmp(type, "NFD")) nm->type = NORM_NFD;
    else if (!strcmp(type, "NFKD")) nm->type = NORM_NFKD;
    else if (!strcmp(type, "Lowercase")) nm->type = NORM_LOWER;
    else if (!strcmp(type, "Precompiled")) {
        nm->type = NORM_PRECOMPILED;
        json_t *cm = json_object_get(o, "precompiled_charsmap");
        if (json_is_null(cm) || (json_is_string(cm) && json_string_length(cm) == 0)) { /* an identity map */
            nm->type = NORM_SEQ;
            return 0;
        }
        if (!json_is_string(cm)) return lab_err(e, LAB_EFORMAT, "%s: normalizer Precompiled without a \"precompiled_charsmap\" string", file);
        Buf blob = {0};
        int r = base64_decode(json_string_value(cm), json_string_length(cm), &blob);
        if (r == -2) return lab_err(e, LAB_ENOMEM, "out of memory");
        if (r < 0) {
            buf_free(&blob);
            return lab_err(e, LAB_EFORMAT, "%s: normalizer Precompiled: precompiled_charsmap is not base64", file);
        }
        r = spm_charsmap_parse(&nm->cm, (const unsigned char *)(blob.data ? blob.data : ""), blob.len, file,
                               "normalizer Precompiled precompiled_charsmap", e);
        buf_free(&blob);
        if (r) return -1;
    } else if (!strcmp(type, "Strip")) {
        nm->type = NORM_STRIP;
        nm->left = jbool(o, "strip_left", true);
        nm->right = jbool(o, "strip_right", true);
    } else return lab_err(e, LAB_EUNSUPPORTED, "%s: normalizer type '%s' is not supported", file, type);
    return 0;
}

/* ---------- pre-tokenizer ---------- */
static int parse_behavior(json_t *o, const char *file, const char *what, SplitBehavior dflt, SplitBehavior *b, LabErr *e) {
    const char *s = jstr(o, "behavior");
    if (!s) { *b = dflt; return 0; }
    if (!strcmp(s, "Removed")) *b = SPLIT_REMOVED;
    else if (!strcmp(s, "Isolated")) *b = SPLIT_ISOLATED;
    else if (!strcmp(s, "MergedWithPrevious")) *b = SPLIT_MERGED_PREV;
    else if (!strcmp(s, "MergedWithNext")) *b = SPLIT_MERGED_NEXT;
    else if (!strcmp(s, "Contiguous")) *b = SPLIT_CONTIGUOUS;
    else return lab_err(e, LAB_EUNSUPPORTED, "%s: %s behavior '%s' is not supported", file, what, s);
    return 0;
}

static int escape_regex(const char *lit, Buf *out) {
    for (const char *c = lit; *c; c++) {
        if (strchr("\\^$.|?*+()[]{}-#&~ ", *c) && buf_putc(out, '\\')) return -1;
        if (buf_putc(out, *c)) return -1;
    }
    return 0;
}

static int parse_pre(json_t *o, const char *file, TokPre **out, LabErr *e) {
    const char *type = jstr(o, "type");
    if (!type) return lab_err(e, LAB_EFORMAT, "%s: pre_tokenizer without a \"type\"", file);
    TokPre *pt = calloc(1, sizeof *pt);
    if (!pt) return lab_err(e, LAB_ENOMEM, "out of memory");
    *out = pt;
    if (!strcmp(type, "Sequence")) {
        pt->type = PRE_SEQ;
        json_t *arr = json_object_get(o, "pretokenizers");
        if (!json_is_array(arr)) return lab_err(e, LAB_EFORMAT, "%s: pre_tokenizer Sequence without \"pretokenizers\"", file);
        pt->kids = calloc(json_array_size(arr) + 1, sizeof *pt->kids);
        if (!pt->kids) return lab_err(e, LAB_ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            pt->n_kids++;
            if (parse_pre(json_array_get(arr, i), file, &pt->kids[i], e)) return -1;
        }
    } else if (!strcmp(type, "ByteLevel")) {
        pt->type = PRE_BYTELEVEL;
        pt->add_prefix_space = jbool(o, "add_prefix_space", true);
        pt->use_regex = jbool(o, "use_regex", true);
        if (pt->use_regex && tok_re_compile(&pt->re, GPT2_RE, strlen(GPT2_RE), "ByteLevel", file, e)) return -1;
    } else if (!strcmp(type, "Split")) {
        pt->type = PRE_SPLIT;
        const char *lit, *re;
        if (get_pattern(o, file, "pre_tokenizer Split", &lit, &re, e)) return -1;
        if (parse_behavior(o, file, "pre_tokenizer Split", SPLIT_ISOLATED, &pt->behavior, e)) return -1;
        pt->invert = jbool(o, "invert", false);
        if (lit) {
            Buf b = {0};
            if (escape_regex(lit, &b) || buf_append(&b, "", 0)) {
                buf_free(&b);
                return lab_err(e, LAB_ENOMEM, "out of memory");
            }
            int rc = tok_re_compile(&pt->re, b.data, b.len, "pre_tokenizer Split", file, e);
            buf_free(&b);
            if (rc) return -1;
        } else {
            Buf b = {0};
            if (onig_to_pcre2(re, &b)) {
                buf_free(&b);
                return lab_err(e, LAB_ENOMEM, "out of memory");
            }
            int rc = tok_re_compile(&pt->re, b.data, b.len, "pre_tokenizer Split", file, e);
            buf_free(&b);
            if (rc) return -1;
        }
    } else if (!strcmp(type, "Metaspace")) {
        pt->type = PRE_METASPACE;
        const char *r = jstr(o, "replacement");
        if (!r || first_char(r, &pt->replacement)) return lab_err(e, LAB_EFORMAT, "%s: pre_tokenizer Metaspace without a \"replacement\" character", file);
        pt->repl_len = utf8_encode(pt->replacement, pt->repl);
        const char *scheme = jstr(o, "prepend_scheme");
        if (!scheme) pt->scheme = jbool(o, "add_prefix_space", true) ? PREPEND_ALWAYS : PREPEND_NEVER;
        else if (!strcmp(scheme, "always")) pt->scheme = PREPEND_ALWAYS;
        else if (!strcmp(scheme, "first")) pt->scheme = PREPEND_FIRST;
        else if (!strcmp(scheme, "never")) pt->scheme = PREPEND_NEVER;
        else return lab_err(e, LAB_EUNSUPPORTED, "%s: Metaspace prepend_scheme '%s' is not supported", file, scheme);
        pt->split = jbool(o, "split", true);
    } else if (!strcmp(type, "Whitespace")) {
        pt->type = PRE_WHITESPACE;
        if (tok_re_compile(&pt->re, WHITESPACE_RE, strlen(WHITESPACE_RE), "Whitespace", file, e)) return -1;
    } else if (!strcmp(type, "WhitespaceSplit")) pt->type = PRE_WHITESPACE_SPLIT;
    else if (!strcmp(type, "Digits")) {
        pt->type = PRE_DIGITS;
        pt->individual_digits = jbool(o, "individual_digits", false);
    } else if (!strcmp(type, "Punctuation")) {
        pt->type = PRE_PUNCT;
        if (parse_behavior(o, file, "pre_tokenizer Punctuation", SPLIT_ISOLATED, &pt->behavior, e)) return -1;
    } else return lab_err(e, LAB_EUNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported", file, type);
    return 0;
}

/* ---------- decoder ---------- */
static int parse_dec(Tokenizer *t, json_t *o, const char *file, LabErr *e) {
    const char *type = jstr(o, "type");
    if (!type) return lab_err(e, LAB_EFORMAT, "%s: decoder without a \"type\"", file);
    TokDecStep st = {0};
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(o, "decoders");
        if (!json_is_array(arr)) return lab_err(e, LAB_EFORMAT, "%s: decoder Sequence without \"decoders\"", file);
        for (size_t i = 0; i < json_array_size(arr); i++)
            if (parse_dec(t, json_array_get(arr, i), file, e)) return -1;
        t->has_decoder = true;
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) st.type = DEC_BYTELEVEL;
    else if (!strcmp(type, "ByteFallback")) st.type = DEC_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) st.type = DEC_FUSE;
    else if (!strcmp(type, "Replace")) {
        st.type = DEC_REPLACE;
        const char *lit, *re, *content = jstr(o, "content");
        if (get_pattern(o, file, "decoder Replace", &lit, &re, e)) return -1;
        if (!lit) return lab_err(e, LAB_EUNSUPPORTED, "%s: decoder Replace with a Regex pattern is not supported", file);
        if (!content) return lab_err(e, LAB_EFORMAT, "%s: decoder Replace without \"content\"", file);
        if (dup_str(lit, &st.pat, &st.pat_len) || dup_str(content, &st.rep, &st.rep_len)) {
            free(st.pat);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
    } else if (!strcmp(type, "Strip")) {
        st.type = DEC_STRIP;
        const char *c = jstr(o, "content");
        json_t *a = json_object_get(o, "start"), *b = json_object_get(o, "stop");
        if (!c || first_char(c, &st.content)) return lab_err(e, LAB_EFORMAT, "%s: decoder Strip without a \"content\" character", file);
        json_int_t ja = json_is_integer(a) ? json_integer_value(a) : 0, jb = json_is_integer(b) ? json_integer_value(b) : 0;
        if (ja < 0 || jb < 0 || ja > 1000000 || jb > 1000000)
            return lab_err(e, LAB_ERANGE, "%s: decoder Strip start/stop out of range", file);
        st.start = (int)ja;
        st.stop = (int)jb;
    } else if (!strcmp(type, "Metaspace")) {
        st.type = DEC_METASPACE;
        const char *r = jstr(o, "replacement");
        if (!r || first_char(r, &st.replacement)) return lab_err(e, LAB_EFORMAT, "%s: decoder Metaspace without a \"replacement\" character", file);
        const char *scheme = jstr(o, "prepend_scheme");
        st.prepend = scheme ? strcmp(scheme, "never") != 0 : jbool(o, "add_prefix_space", true);
    } else return lab_err(e, LAB_EUNSUPPORTED, "%s: decoder type '%s' is not supported", file, type);
    if (dec_step_add(t, &st, e)) {
        free(st.pat);
        free(st.rep);
        return -1;
    }
    return 0;
}

/* ---------- post-processor ---------- */
static int push_id(int **v, size_t *n, int id) {
    int *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return -1;
    nv[(*n)++] = id;
    *v = nv;
    return 0;
}

static int post_special_ids(Tokenizer *t, json_t *specials, const char *name, bool before, const char *file, LabErr *e) {
    json_t *sp = json_object_get(specials, name);
    json_t *ids = json_object_get(sp, "ids");
    if (!json_is_array(ids)) return lab_err(e, LAB_EFORMAT, "%s: post_processor special token '%s' has no \"ids\"", file, name);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        json_t *x = json_array_get(ids, i);
        json_int_t id = json_is_integer(x) ? json_integer_value(x) : -1;
        if (id < 0 || id >= t->n_vocab)
            return lab_err(e, LAB_ERANGE, "%s: post_processor special token '%s' has id %lld, past the vocabulary (%d tokens)",
                           file, name, (long long)id, t->n_vocab);
        if (before ? push_id(&t->post_pre, &t->n_post_pre, (int)id) : push_id(&t->post_post, &t->n_post_post, (int)id))
            return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    return 0;
}

static int pair_id(Tokenizer *t, json_t *o, const char *key, const char *file, int *id, LabErr *e) {
    json_t *p = json_object_get(o, key);
    json_t *x = json_array_get(p, 1);
    json_int_t v = json_is_integer(x) ? json_integer_value(x) : -1;
    if (v < 0 || v >= t->n_vocab) return lab_err(e, LAB_EFORMAT, "%s: post_processor \"%s\" needs [token, id] with an id in the vocabulary", file, key);
    *id = (int)v;
    return 0;
}

static int parse_post(Tokenizer *t, json_t *o, const char *file, LabErr *e) {
    const char *type = jstr(o, "type");
    if (!type) return lab_err(e, LAB_EFORMAT, "%s: post_processor without a \"type\"", file);
    if (!strcmp(type, "ByteLevel")) return 0; /* offsets only: no ids change */
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(o, "processors");
        if (!json_is_array(arr)) return lab_err(e, LAB_EFORMAT, "%s: post_processor Sequence without \"processors\"", file);
        for (size_t i = 0; i < json_array_size(arr); i++)
            if (parse_post(t, json_array_get(arr, i), file, e)) return -1;
        return 0;
    }
    if (!strcmp(type, "TemplateProcessing")) {
        json_t *single = json_object_get(o, "single"), *specials = json_object_get(o, "special_tokens");
        if (!json_is_array(single)) return lab_err(e, LAB_EFORMAT, "%s: TemplateProcessing without \"single\"", file);
        bool seen_a = false;
        for (size_t i = 0; i < json_array_size(single); i++) {
            json_t *it = json_array_get(single, i);
            json_t *sp = json_object_get(it, "SpecialToken");
            if (sp) {
                const char *name = jstr(sp, "id");
                if (!name) return lab_err(e, LAB_EFORMAT, "%s: TemplateProcessing SpecialToken without \"id\"", file);
                if (post_special_ids(t, specials, name, !seen_a, file, e)) return -1;
            } else if (json_object_get(it, "Sequence")) {
                seen_a = true;
            } else return lab_err(e, LAB_EFORMAT, "%s: TemplateProcessing item %zu is neither SpecialToken nor Sequence", file, i);
        }
        return 0;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        int cls, sep;
        if (pair_id(t, o, "cls", file, &cls, e) || pair_id(t, o, "sep", file, &sep, e)) return -1;
        if (push_id(&t->post_pre, &t->n_post_pre, cls) || push_id(&t->post_post, &t->n_post_post, sep))
            return lab_err(e, LAB_ENOMEM, "out of memory");
        return 0;
    }
    return lab_err(e, LAB_EUNSUPPORTED, "%s: post_processor type '%s' is not supported", file, type);
}

/* ---------- merges ---------- */
static int add_merge(Tokenizer *t, const char *a, size_t na, const char *b, size_t nb, int rank, const char *file,
                     const char *where, LabErr *e) {
    int ia = strmap_get(&t->vocab, a, na), ib = strmap_get(&t->vocab, b, nb);
    if (ia < 0 || ib < 0) {
        const char *bad = ia < 0 ? a : b;
        size_t nbad = ia < 0 ? na : nb;
        return lab_err(e, LAB_EFORMAT, "%s: %s: merge token '%.*s' is not in the vocabulary", file, where, (int)(nbad > 80 ? 80 : nbad), bad);
    }
    Buf cat = {0};
    size_t skip = t->cont_prefix && nb >= t->cont_prefix_len ? t->cont_prefix_len : 0;
    if (buf_append(&cat, a, na) || buf_append(&cat, b + skip, nb - skip)) {
        buf_free(&cat);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    int id = strmap_get(&t->vocab, cat.data, cat.len);
    if (id < 0) {
        int rc = lab_err(e, LAB_EFORMAT, "%s: %s: merged token '%.*s' is not in the vocabulary", file, where,
                         (int)(cat.len > 80 ? 80 : cat.len), cat.data);
        buf_free(&cat);
        return rc;
    }
    buf_free(&cat);
    return pairmap_put(&t->merges, ia, ib, rank, id) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}

static int load_merges_json(Tokenizer *t, json_t *merges, const char *file, LabErr *e) {
    if (!merges) return 0;
    if (!json_is_array(merges)) return lab_err(e, LAB_EFORMAT, "%s: model.merges is not an array", file);
    for (size_t i = 0; i < json_array_size(merges); i++) {
        json_t *m = json_array_get(merges, i);
        char where[64];
        snprintf(where, sizeof where, "model.merges[%zu]", i);
        if (i > INT32_MAX / 2) return lab_err(e, LAB_ERANGE, "%s: too many merges", file);
        if (json_is_string(m)) {
            const char *s = json_string_value(m);
            size_t n = json_string_length(m);
            const char *sp = memchr(s, ' ', n);
            if (!sp) return lab_err(e, LAB_EFORMAT, "%s: %s '%s' is not two tokens separated by a space", file, where, s);
            if (add_merge(t, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp - s) - 1, (int)i, file, where, e)) return -1;
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            json_t *a = json_array_get(m, 0), *b = json_array_get(m, 1);
            if (add_merge(t, json_string_value(a), json_string_length(a), json_string_value(b), json_string_length(b),
                          (int)i, file, where, e))
                return -1;
        } else return lab_err(e, LAB_EFORMAT, "%s: %s is neither \"a b\" nor [\"a\", \"b\"]", file, where);
    }
    return 0;
}

/* ---------- vocabulary ---------- */
/* Fills the vocabulary from a {token: id} object plus the added tokens (may be NULL). */
static int load_vocab(Tokenizer *t, json_t *vocab, json_t *added, const char *file, const char *field, LabErr *e) {
    if (!json_is_object(vocab)) return lab_err(e, LAB_EFORMAT, "%s: %s is not an object of token: id", file, field);
    size_t n_entries = json_object_size(vocab) + (json_is_array(added) ? json_array_size(added) : 0);
    json_int_t max_id = -1;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0)
            return lab_err(e, LAB_EFORMAT, "%s: %s: token '%.80s' has no valid id", file, field, key);
        if (json_integer_value(val) > max_id) max_id = json_integer_value(val);
    }
    for (size_t i = 0; json_is_array(added) && i < json_array_size(added); i++) {
        json_t *id = json_object_get(json_array_get(added, i), "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0)
            return lab_err(e, LAB_EFORMAT, "%s: added_tokens[%zu] has no valid \"id\"", file, i);
        if (json_integer_value(id) > max_id) max_id = json_integer_value(id);
    }
    if (max_id < 0) return lab_err(e, LAB_EFORMAT, "%s: %s is empty", file, field);
    if ((size_t)max_id >= n_entries)
        return lab_err(e, LAB_ERANGE, "%s: id %lld is past the vocabulary (%zu entries)", file, (long long)max_id, n_entries);
    if (tok_set_vocab_size(t, (int)max_id + 1, e)) return -1;
    json_object_foreach(vocab, key, val) {
        if (tok_set_token(t, (int)json_integer_value(val), key, strlen(key), true, e)) return -1;
    }
    for (size_t i = 0; json_is_array(added) && i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        json_t *c = json_object_get(a, "content");
        if (!json_is_string(c)) return lab_err(e, LAB_EFORMAT, "%s: added_tokens[%zu] has no \"content\"", file, i);
        TokAdded at = {(char *)json_string_value(c), json_string_length(c), (int)json_integer_value(json_object_get(a, "id")),
                       jbool(a, "single_word", false), jbool(a, "lstrip", false), jbool(a, "rstrip", false),
                       false, jbool(a, "special", false)};
        at.normalized = jbool(a, "normalized", !at.special);
        if (tok_add_added(t, &at, e)) return -1;
    }
    return 0;
}

/* bos/eos: the template's tokens, else tokenizer_config.json beside the file, else a known name. */
/* A Unigram model: "vocab" is a list of [piece, score] whose positions are the ids. */
static int load_unigram(Tokenizer *t, json_t *model, json_t *added, const char *file, LabErr *e) {
    json_t *vocab = json_object_get(model, "vocab"), *x;
    if (!json_is_array(vocab) || json_array_size(vocab) == 0)
        return lab_err(e, LAB_EFORMAT, "%s: model.vocab of a Unigram model is not a non-empty list of [piece, score]", file);
    size_t n = json_array_size(vocab), total = n;
    if (n > (1u << 24)) return lab_err(e, LAB_EFORMAT, "%s: model.vocab has %zu entries", file, n);
    for (size_t i = 0; json_is_array(added) && i < json_array_size(added); i++) {
        json_t *id = json_object_get(json_array_get(added, i), "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > (1 << 24))
            return lab_err(e, LAB_EFORMAT, "%s: added_tokens[%zu] has no valid \"id\"", file, i);
        if ((size_t)json_integer_value(id) >= total) total = (size_t)json_integer_value(id) + 1;
    }
    t->model = MODEL_UNIGRAM;
    if (tok_set_vocab_size(t, (int)total, e)) return -1;
    if (!(t->uscores = calloc(total, sizeof *t->uscores))) return lab_err(e, LAB_ENOMEM, "out of memory");
    t->min_score = INFINITY;
    for (size_t i = 0; i < n; i++) {
        json_t *ent = json_array_get(vocab, i), *p = json_array_get(ent, 0), *sc = json_array_get(ent, 1);
        if (!json_is_array(ent) || json_array_size(ent) != 2 || !json_is_string(p) || !json_is_number(sc))
            return lab_err(e, LAB_EFORMAT, "%s: model.vocab[%zu] is not [piece, score]", file, i);
        if (json_string_length(p) == 0) return lab_err(e, LAB_EFORMAT, "%s: model.vocab[%zu] is an empty piece", file, i);
        if (tok_set_token(t, (int)i, json_string_value(p), json_string_length(p), true, e)) return -1;
        t->uscores[i] = json_number_value(sc);
        if (t->uscores[i] < t->min_score) t->min_score = t->uscores[i];
        if (json_string_length(p) > t->max_piece) t->max_piece = json_string_length(p);
    }
    x = json_object_get(model, "unk_id");
    if (json_is_integer(x)) {
        if (json_integer_value(x) < 0 || (size_t)json_integer_value(x) >= n)
            return lab_err(e, LAB_EFORMAT, "%s: model.unk_id %lld is outside model.vocab (%zu pieces)", file, (long long)json_integer_value(x), n);
        t->unk_id = (int)json_integer_value(x);
    } else if (x && !json_is_null(x)) return lab_err(e, LAB_EFORMAT, "%s: model.unk_id is not an integer", file);
    t->byte_fallback = jbool(model, "byte_fallback", false);
    t->fuse_unk = true; /* tokenizers' Unigram always fuses runs of unknown pieces */
    tok_find_byte_tokens(t);
    for (size_t i = 0; json_is_array(added) && i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        json_t *c = json_object_get(a, "content");
        if (!json_is_string(c)) return lab_err(e, LAB_EFORMAT, "%s: added_tokens[%zu] has no \"content\"", file, i);
        TokAdded at = {(char *)json_string_value(c), json_string_length(c), (int)json_integer_value(json_object_get(a, "id")),
                       jbool(a, "single_word", false), jbool(a, "lstrip", false), jbool(a, "rstrip", false),
                       false, jbool(a, "special", false)};
        at.normalized = jbool(a, "normalized", !at.special);
        if (tok_add_added(t, &at, e)) return -1;
    }
    return 0;
}

static int config_token(Tokenizer *t, json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    const char *s = json_is_string(v) ? json_string_value(v) : jstr(v, "content");
    return s ? tok_token_id(t, s, strlen(s)) : -1;
}

static int find_bos_eos(Tokenizer *t, const char *file, LabErr *e) {
    if (t->n_post_pre) t->bos_id = t->post_pre[0];
    if (t->n_post_post) t->eos_id = t->post_post[t->n_post_post - 1];
    char *dir = path_dirname(file), *cfgp = dir ? path_join(dir, "tokenizer_config.json") : NULL;
    json_t *cfg = cfgp && file_exists(cfgp) == 1 ? json_load_file(cfgp, 0, NULL) : NULL;
    if (t->bos_id < 0) t->bos_id = config_token(t, cfg, "bos_token");
    if (t->eos_id < 0) t->eos_id = config_token(t, cfg, "eos_token");
    /* transformers' Llama/Gemma tokenizer classes rebuild the post-processor from add_bos_token /
     * add_eos_token when the config sets them: the same ids come out here */
    int bos = config_token(t, cfg, "bos_token"), eos = config_token(t, cfg, "eos_token");
    bool add_bos = jbool(cfg, "add_bos_token", false) && !t->n_post_pre && bos >= 0;
    bool add_eos = jbool(cfg, "add_eos_token", false) && !t->n_post_post && eos >= 0;
    json_decref(cfg);
    if ((add_bos && push_id(&t->post_pre, &t->n_post_pre, bos)) || (add_eos && push_id(&t->post_post, &t->n_post_post, eos))) {
        free(cfgp);
        free(dir);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    if (add_bos) t->bos_id = bos;
    if (add_eos) t->eos_id = eos;
    free(cfgp);
    free(dir);
    static const char *bos_names[] = {"<s>", "<|begin_of_text|>", "<|startoftext|>", "<|endoftext|>", NULL};
    static const char *eos_names[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", NULL};
    for (int i = 0; t->bos_id < 0 && bos_names[i]; i++) t->bos_id = tok_token_id(t, bos_names[i], strlen(bos_names[i]));
    for (int i = 0; t->eos_id < 0 && eos_names[i]; i++) t->eos_id = tok_token_id(t, eos_names[i], strlen(eos_names[i]));
    return 0;
}

static TokKind guess_kind(const Tokenizer *t) {
    for (size_t i = 0; i < t->n_dec; i++)
        if (t->dec[i].type == DEC_BYTELEVEL) return TOK_KIND_BPE_BYTELEVEL;
    return TOK_KIND_BPE_SENTENCEPIECE;
}

static int json_open(const char *path, json_t **root, LabErr *e) {
    *root = NULL;
    char *text;
    size_t len;
    if (file_read_all(path, (size_t)1 << 30, &text, &len, e)) return -1;
    /* jansson takes `1\0` for the number 1 and goes on: a NUL is refused here, as any JSON parser must */
    const char *nul = memchr(text, 0, len);
    if (nul) {
        lab_err(e, LAB_EFORMAT, "%s: a NUL byte at offset %zu (not JSON text)", path, (size_t)(nul - text));
        free(text);
        return -1;
    }
    json_error_t je;
    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!*root) return lab_err(e, LAB_EFORMAT, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
    return 0;
}

int tok_load_json(Tokenizer **out, const char *path, LabErr *e) {
    *out = NULL;
    json_t *root;
    if (json_open(path, &root, e)) return -1;
    Tokenizer *t = tok_alloc(TOK_KIND_BPE_BYTELEVEL, MODEL_BPE_RANKS, path);
    if (!t) {
        json_decref(root);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    json_t *model = json_object_get(root, "model");
    const char *mtype = jstr(model, "type");
    json_t *x;
    if (!json_is_object(model)) {
        lab_err(e, LAB_EFORMAT, "%s: no \"model\" object", path);
        goto fail;
    }
    if (mtype && !strcmp(mtype, "Unigram")) {
        if (load_unigram(t, model, json_object_get(root, "added_tokens"), path, e)) goto fail;
        goto pipeline;
    }
    if (mtype ? strcmp(mtype, "BPE") != 0 : !json_object_get(model, "merges")) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: model type '%s' is not supported (BPE and Unigram are)", path, mtype ? mtype : "(none)");
        goto fail;
    }
    if ((x = json_object_get(model, "dropout")) && !json_is_null(x) && json_number_value(x) > 0) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: BPE dropout %g is not supported (tokenization would be random)", path, json_number_value(x));
        goto fail;
    }
    const char *pfx = jstr(model, "continuing_subword_prefix"), *sfx = jstr(model, "end_of_word_suffix");
    if (pfx && *pfx && dup_str(pfx, &t->cont_prefix, &t->cont_prefix_len)) goto oom;
    if (sfx && *sfx && dup_str(sfx, &t->eow_suffix, &t->eow_suffix_len)) goto oom;
    t->byte_fallback = jbool(model, "byte_fallback", false);
    t->fuse_unk = jbool(model, "fuse_unk", false);
    t->ignore_merges = jbool(model, "ignore_merges", false);
    if (load_vocab(t, json_object_get(model, "vocab"), json_object_get(root, "added_tokens"), path, "model.vocab", e)) goto fail;
    const char *unk = jstr(model, "unk_token");
    if (unk && (t->unk_id = strmap_get(&t->vocab, unk, strlen(unk))) < 0) {
        lab_err(e, LAB_EFORMAT, "%s: model.unk_token '%s' is not in the vocabulary", path, unk);
        goto fail;
    }
    if (load_merges_json(t, json_object_get(model, "merges"), path, e)) goto fail;
    tok_find_byte_tokens(t);
pipeline:
    if ((x = json_object_get(root, "normalizer")) && !json_is_null(x) && parse_norm(x, path, &t->norm, e)) goto fail;
    if ((x = json_object_get(root, "pre_tokenizer")) && !json_is_null(x) && parse_pre(x, path, &t->pre, e)) goto fail;
    if ((x = json_object_get(root, "decoder")) && !json_is_null(x) && parse_dec(t, x, path, e)) goto fail;
    if ((x = json_object_get(root, "post_processor")) && !json_is_null(x) && parse_post(t, x, path, e)) goto fail;
    t->kind = t->model == MODEL_UNIGRAM ? TOK_KIND_UNIGRAM : guess_kind(t);
    if (find_bos_eos(t, path, e) || tok_finish(t, e)) goto fail;
    json_decref(root);
    *out = t;
    return 0;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
fail:
    json_decref(root);
    tok_free(t);
    return -1;
}

/* Pre-tokenizer regexes of byte-level vocabularies by GGUF's tokenizer.ggml.pre name (llama.cpp's
 * names; the patterns are those of the models' tokenizer.json, in Oniguruma syntax). */
static const struct { const char *pre; const char *re; bool ignore_merges; } BYTELEVEL_PRES[] = {
    {"gpt-2", NULL, false}, {"gpt2", NULL, false}, {"default", NULL, false},
    {"llama-bpe", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", true},
    {"qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", false},
};

/* The GPT-2 pipeline: ByteLevel pre-tokenizer (GPT-2's regex, or the one GGUF's pre names) and
 * decoder, <|endoftext|> special. */
int tok_setup_gpt2(Tokenizer *t, const char *pre, LabErr *e) {
    const char *re = GPT2_RE;
    bool known = pre == NULL;
    for (size_t i = 0; !known && i < sizeof BYTELEVEL_PRES / sizeof *BYTELEVEL_PRES; i++)
        if (!strcmp(pre, BYTELEVEL_PRES[i].pre)) {
            known = true;
            t->ignore_merges = BYTELEVEL_PRES[i].ignore_merges;
            if (BYTELEVEL_PRES[i].re) re = BYTELEVEL_PRES[i].re;
        }
    if (!known)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: tokenizer.ggml.pre '%s' is not supported (gpt-2, default, llama-bpe, qwen2)", t->path, pre);
    TokPre *pt = calloc(1, sizeof *pt);
    if (!pt) return lab_err(e, LAB_ENOMEM, "out of memory");
    t->pre = pt;
    pt->type = PRE_BYTELEVEL;
    pt->use_regex = true;
    if (re == GPT2_RE) {
        if (tok_re_compile(&pt->re, re, strlen(re), "ByteLevel", t->path, e)) return -1;
    } else {
        Buf b = {0};
        int rc = onig_to_pcre2(re, &b) ? lab_err(e, LAB_ENOMEM, "out of memory")
                                       : tok_re_compile(&pt->re, b.data, b.len, "tokenizer.ggml.pre", t->path, e);
        buf_free(&b);
        if (rc) return -1;
    }
    TokDecStep st = {.type = DEC_BYTELEVEL};
    if (dec_step_add(t, &st, e)) return -1;
    int eot = strmap_get(&t->vocab, "<|endoftext|>", 13);
    if (eot >= 0) {
        TokAdded a = {"<|endoftext|>", 13, eot, false, false, false, false, true};
        if (tok_add_added(t, &a, e)) return -1;
        t->bos_id = t->eos_id = eot;
    }
    t->kind = TOK_KIND_BPE_BYTELEVEL;
    return 0;
}

int tok_load_vocab_merges(Tokenizer **out, const char *vocab_json, const char *merges_txt, LabErr *e) {
    *out = NULL;
    json_t *root;
    if (json_open(vocab_json, &root, e)) return -1;
    char *text = NULL;
    size_t len = 0;
    Tokenizer *t = tok_alloc(TOK_KIND_BPE_BYTELEVEL, MODEL_BPE_RANKS, vocab_json);
    if (!t) {
        json_decref(root);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    if (load_vocab(t, root, NULL, vocab_json, "vocabulary", e)) goto fail;
    if (file_read_all(merges_txt, (size_t)1 << 30, &text, &len, e)) goto fail;
    size_t line = 0, rank = 0;
    for (size_t i = 0; i < len;) {
        const char *s = text + i, *nl = memchr(s, '\n', len - i);
        size_t n = nl ? (size_t)(nl - s) : len - i;
        i += n + 1;
        line++;
        if (n && s[n - 1] == '\r') n--;
        if (line == 1 && n >= 8 && !memcmp(s, "#version", 8)) continue;
        if (n == 0) continue;
        const char *sp = memchr(s, ' ', n);
        char where[64];
        snprintf(where, sizeof where, "line %zu", line);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp - s) - 1)) {
            lab_err(e, LAB_EFORMAT, "%s: %s: '%.*s' is not two tokens separated by one space", merges_txt, where, (int)(n > 80 ? 80 : n), s);
            goto fail;
        }
        if (rank > INT32_MAX / 2) {
            lab_err(e, LAB_ERANGE, "%s: too many merges", merges_txt);
            goto fail;
        }
        if (add_merge(t, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp - s) - 1, (int)rank++, merges_txt, where, e)) goto fail;
    }
    if (tok_setup_gpt2(t, NULL, e) || tok_finish(t, e)) goto fail;
    free(text);
    json_decref(root);
    *out = t;
    return 0;
fail:
    free(text);
    json_decref(root);
    tok_free(t);
    return -1;
}
