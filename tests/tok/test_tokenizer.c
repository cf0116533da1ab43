/* Tokenizers: the golden encodings made with Hugging Face tokenizers 0.23, the real GPT-2 and
 * Llama 2 vocabularies, streaming decode, invalid input, hand-made tokenizer.json files for each
 * component, and hostile files.
 *
 * Run with the argument "slow" for the whole-corpus checks (suite 'slow'). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fixture.h"
#include "gguf.h"
#include "tok_internal.h"
#include "tokenizer.h"

static char *write_bin(const void *data, size_t n);

/* ---------- helpers ---------- */
/* A data file named by its place in ../shared (tests/fixture.h says where it is looked for):
 * malloc'd path, or NULL when it is nowhere. */
static char *shared_file(const char *rel) {
    char p[4096];
    return fixture_find(p, sizeof p, rel) ? strdup(p) : NULL;
}

#define NEED_SHARED(var, rel)                  \
    char *var = shared_file(rel);              \
    if (!var) {                                \
        fixture_say_missing("skipped", rel);   \
        skip();                                \
    }

static char *fixture(const char *name) {
    const char *d = getenv("TEST_DATA_DIR");
    assert_non_null(d);
    char *dir = path_join(d, "tok");
    char *p = path_join(dir, name);
    free(dir);
    return p;
}

static Tokenizer *load_ok(const char *path) {
    Tokenizer *t = NULL;
    LabErr e = {0};
    int rc = tok_load_file(&t, path, 0, &e);
    if (rc) fail_msg("loading %s: %s", path, e.msg);
    return t;
}

static Tokenizer *load_model_ok(const char *path) {
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (tok_load_for_model(&t, path, 0, &e)) fail_msg("loading %s: %s", path, e.msg);
    return t;
}

static IntVec enc(const Tokenizer *t, const char *s, size_t n, bool special) {
    IntVec v = {0};
    LabErr e = {0};
    if (tok_encode(t, s, n, special, &v, &e)) fail_msg("encode: %s", e.msg);
    return v;
}

static char *dec(const Tokenizer *t, const int *ids, size_t n, size_t *len) {
    Buf b = {0};
    LabErr e = {0};
    if (tok_decode(t, ids, n, &b, &e)) fail_msg("decode: %s", e.msg);
    if (len) *len = b.len;
    if (!b.data) return strdup("");
    return buf_steal(&b);
}

/* Streams ids one at a time: every release is whole UTF-8 characters, and all of it equals decode. */
static void check_stream(const Tokenizer *t, const int *ids, size_t n) {
    TokStream *s = tok_stream_new(t);
    assert_non_null(s);
    Buf all = {0}, piece = {0};
    LabErr e = {0};
    for (size_t i = 0; i < n; i++) {
        buf_clear(&piece);
        assert_int_equal(tok_stream_push(s, ids[i], &piece, &e), 0);
        assert_true(utf8_valid(piece.data ? piece.data : "", piece.len));
        assert_int_equal(buf_append(&all, piece.data ? piece.data : "", piece.len), 0);
    }
    buf_clear(&piece);
    assert_int_equal(tok_stream_flush(s, &piece, &e), 0);
    assert_true(utf8_valid(piece.data ? piece.data : "", piece.len));
    assert_int_equal(buf_append(&all, piece.data ? piece.data : "", piece.len), 0);
    size_t dl;
    char *d = dec(t, ids, n, &dl);
    assert_int_equal(all.len, dl);
    assert_memory_equal(all.data ? all.data : "", d, dl);
    free(d);
    buf_free(&all);
    buf_free(&piece);
    tok_stream_free(s);
}

static void assert_ids(IntVec v, const int *want, size_t n, const char *what) {
    bool same = v.n == n && (n == 0 || memcmp(v.v, want, n * sizeof(int)) == 0);
    if (!same) {
        char got[4096] = "", exp[4096] = "";
        for (size_t i = 0; i < v.n && strlen(got) < 4000; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%d ", v.v[i]);
        for (size_t i = 0; i < n && strlen(exp) < 4000; i++) snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%d ", want[i]);
        fail_msg("%s: got [%s] want [%s]", what, got, exp);
    }
}

/* ---------- golden files ---------- */
static void golden_check(const Tokenizer *t, const char *golden_path) {
    json_error_t je;
    json_t *g = json_load_file(golden_path, 0, &je);
    if (!g) fail_msg("%s: %s", golden_path, je.text);
    assert_true(json_array_size(g) > 0);
    for (size_t i = 0; i < json_array_size(g); i++) {
        json_t *x = json_array_get(g, i);
        json_t *jt = json_object_get(x, "text"), *ji = json_object_get(x, "ids"), *jd = json_object_get(x, "decoded");
        size_t n = json_array_size(ji);
        int *want = calloc(n + 1, sizeof *want);
        for (size_t k = 0; k < n; k++) want[k] = (int)json_integer_value(json_array_get(ji, k));
        IntVec v = enc(t, json_string_value(jt), json_string_length(jt), false);
        assert_ids(v, want, n, json_string_value(jt));
        size_t dl;
        char *d = dec(t, want, n, &dl);
        assert_int_equal(dl, json_string_length(jd));
        assert_memory_equal(d, json_string_value(jd), dl);
        check_stream(t, want, n);
        json_t *toks = json_object_get(x, "tokens");
        for (size_t k = 0; toks && k < n; k++) assert_string_equal(tok_token_str(t, want[k]), json_string_value(json_array_get(toks, k)));
        free(d);
        free(want);
        ivec_free(&v);
    }
    json_decref(g);
}

static void test_golden_gpt2(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/gpt2-tokenizer/tokenizer.json");
    char *gold = shared_file("golden/gpt2-tokenizer/encode_golden.json");
    char *vj = shared_file("golden/gpt2-tokenizer/vocab.json");
    Tokenizer *t = load_ok(js);
    assert_int_equal(tok_kind(t), TOK_KIND_BPE_BYTELEVEL);
    assert_int_equal(tok_vocab_size(t), 50257);
    assert_int_equal(tok_eos_id(t), 50256);
    golden_check(t, gold);
    tok_free(t);
    t = load_ok(vj); /* vocab.json + merges.txt beside it */
    golden_check(t, gold);
    tok_free(t);
    free(js); free(gold); free(vj);
}

static void test_golden_spm(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/spm-bpe-tokenizer/tokenizer.json");
    char *gold = shared_file("golden/spm-bpe-tokenizer/encode_golden.json");
    Tokenizer *t = load_ok(js);
    assert_int_equal(tok_kind(t), TOK_KIND_BPE_SENTENCEPIECE);
    assert_int_equal(tok_bos_id(t), 1);
    assert_int_equal(tok_eos_id(t), 2);
    golden_check(t, gold);
    tok_free(t);
    free(js); free(gold);
}

static void test_golden_bytelevel(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/bytelevel-bpe-tokenizer/tokenizer.json");
    char *gold = shared_file("golden/bytelevel-bpe-tokenizer/encode_golden.json");
    Tokenizer *t = load_ok(js);
    golden_check(t, gold);
    tok_free(t);
    free(js); free(gold);
}

/* The Llama folder's TemplateProcessing adds nothing (its "single" is just $A); GPT-2's ByteLevel
 * post-processor adds nothing either: --special changes no ids there. */
static void test_post_processor_templates(void **st) {
    (void)st;
    NEED_SHARED(dir, "golden/llama-tiny-gqa");
    Tokenizer *t = load_model_ok(dir);
    IntVec a = enc(t, "Hello", 5, true), b = enc(t, "Hello", 5, false);
    assert_int_equal(a.n, b.n);
    assert_int_equal(tok_bos_id(t), 1);
    ivec_free(&a); ivec_free(&b);
    tok_free(t);
    free(dir);
    char *p = fixture("template.json");
    t = load_ok(p);
    a = enc(t, "ab", 2, true);
    static const int want[] = {1, 3, 4, 2};
    assert_ids(a, want, 4, "template with BOS and EOS");
    assert_int_equal(tok_bos_id(t), 1);
    assert_int_equal(tok_eos_id(t), 2);
    ivec_free(&a);
    a = enc(t, "ab", 2, false);
    assert_ids(a, want + 1, 2, "template without --special");
    ivec_free(&a);
    tok_free(t);
    free(p);
}


/* transformers rebuilds the post-processor of Llama-style tokenizers from tokenizer_config.json's
 * add_bos_token / add_eos_token. */
static void test_config_add_bos(void **st) {
    (void)st;
    char dir[] = "/tmp/ablab-tok-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *src = fixture("template.json"), *text, *tj = path_join(dir, "tokenizer.json"), *cj = path_join(dir, "tokenizer_config.json");
    size_t len;
    LabErr e;
    assert_int_equal(file_read_all(src, 0, &text, &len, &e), 0);
    json_t *j = json_loads(text, 0, NULL);
    json_object_set_new(j, "post_processor", json_null());
    json_dump_file(j, tj, 0);
    json_decref(j);
    FILE *f = fopen(cj, "w");
    fputs("{\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"</s>\"}, \"add_bos_token\": true, \"add_eos_token\": false}", f);
    fclose(f);
    Tokenizer *t = load_model_ok(dir);
    IntVec v = enc(t, "ab", 2, true);
    static const int want[] = {1, 3, 4};
    assert_ids(v, want, 3, "add_bos_token");
    assert_int_equal(tok_eos_id(t), 2);
    ivec_free(&v);
    tok_free(t);
    unlink(tj);
    unlink(cj);
    rmdir(dir);
    free(tj); free(cj); free(src); free(text);
}

/* ---------- many more strings, against independent references (tests/tok/make_expected.py) ---------- */
static unsigned char *unhex(const char *h, size_t *n) {
    size_t l = strlen(h) / 2;
    unsigned char *b = malloc(l + 1);
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    b[l] = 0;
    *n = l;
    return b;
}

static json_t *expected_json(void) {
    char *p = fixture("expected.json");
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fail_msg("%s: %s", p, je.text);
    free(p);
    return j;
}

/* Each text of the fixture under tokenizer t must give the ids stored under key; decode gives the
 * text back (with invalid UTF-8 replaced by U+FFFD), unless roundtrip is false. */
static void expected_check(const Tokenizer *t, const char *key, bool special, bool roundtrip) {
    json_t *all = expected_json();
    size_t checked = 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *x = json_array_get(all, i), *ji = json_object_get(x, key);
        if (!ji) continue;
        size_t n;
        unsigned char *text = unhex(json_string_value(json_object_get(x, "hex")), &n);
        size_t m = json_array_size(ji);
        int *want = calloc(m + 1, sizeof *want);
        for (size_t k = 0; k < m; k++) want[k] = (int)json_integer_value(json_array_get(ji, k));
        IntVec v = enc(t, (const char *)text, n, special);
        char what[64];
        snprintf(what, sizeof what, "%s text %zu (%zu bytes)", key, i, n);
        assert_ids(v, want, m, what);
        if (roundtrip) {
            Buf lossy = {0};
            LabErr e;
            size_t dl;
            /* Python's decode(errors='replace') of the input, built byte by byte here */
            for (size_t k = 0; k < n;) {
                int l = utf8_seq_len(text + k, n - k);
                if (l) { buf_append(&lossy, text + k, (size_t)l); k += (size_t)l; continue; }
                buf_append(&lossy, "\xEF\xBF\xBD", 3);
                /* skip the maximal subpart: a lead byte and the continuation bytes that fit it */
                size_t adv = 1;
                unsigned c = text[k];
                size_t need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
                while (adv < need && k + adv < n) {
                    unsigned b = text[k + adv];
                    unsigned lo = 0x80, hi = 0xBF;
                    if (adv == 1 && c == 0xE0) lo = 0xA0;
                    if (adv == 1 && c == 0xED) hi = 0x9F;
                    if (adv == 1 && c == 0xF0) lo = 0x90;
                    if (adv == 1 && c == 0xF4) hi = 0x8F;
                    if (b < lo || b > hi) break;
                    adv++;
                }
                k += adv;
            }
            char *d = dec(t, v.v, v.n, &dl);
            (void)e;
            if (dl != lossy.len || memcmp(d, lossy.data ? lossy.data : "", dl) != 0) fail_msg("%s: decode differs from the text", what);
            free(d);
            buf_free(&lossy);
            check_stream(t, v.v, v.n);
        }
        checked++;
        ivec_free(&v);
        free(want);
        free(text);
    }
    assert_true(checked > 40);
    json_decref(all);
}

static void test_gpt2_many_strings(void **st) {
    (void)st;
    NEED_SHARED(js, "tokenizers/gpt2/tokenizer.json");
    char *enc_json = shared_file("tokenizers/gpt2/encoder.json");
    Tokenizer *t = load_ok(js);
    expected_check(t, "gpt2", false, true);
    expected_check(t, "gpt2", true, false); /* GPT-2's post-processor adds nothing */
    tok_free(t);
    t = load_ok(enc_json); /* OpenAI's names for vocab.json / merges.txt */
    expected_check(t, "gpt2", false, false);
    tok_free(t);
    free(js); free(enc_json);
}

static void test_spm_many_strings(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/spm-bpe-tokenizer/tokenizer.json");
    Tokenizer *t = load_ok(js);
    expected_check(t, "spm", false, true);
    tok_free(t);
    free(js);
}

static void test_llama2c_runc(void **st) {
    (void)st;
    NEED_SHARED(bin, "tokenizers/llama2/tokenizer.bin");
    Tokenizer *t = NULL;
    LabErr e = {0};
    assert_int_equal(tok_load_llama2c(&t, bin, 32000, &e), 0);
    assert_int_equal(tok_kind(t), TOK_KIND_LLAMA2C);
    assert_int_equal(tok_vocab_size(t), 32000);
    assert_int_equal(tok_bos_id(t), 1);
    assert_int_equal(tok_eos_id(t), 2);
    /* well-known Llama 2 encodings */
    IntVec v = enc(t, "Hello world", 11, true);
    static const int hw[] = {1, 15043, 3186};
    assert_ids(v, hw, 3, "Hello world");
    ivec_free(&v);
    v = enc(t, "", 0, true); /* no dummy prefix for empty text */
    assert_ids(v, hw, 1, "empty");
    ivec_free(&v);
    expected_check(t, "llama2", true, false);
    /* decode as run.c prints: the space after BOS is dropped, byte tokens are bytes */
    static const int ids[] = {1, 15043, 3186, 29871, 243, 162, 155, 131};
    size_t dl;
    char *d = dec(t, ids, 8, &dl);
    assert_string_equal(d, "<s>Hello world \xF0\x9F\x98\x80"); /* BOS shown as HF shows it; run.c drops the space after it */
    free(d);
    check_stream(t, ids, 8);
    tok_free(t);
    free(bin);
}

static void test_llama2c_tok512(void **st) {
    (void)st;
    NEED_SHARED(model, "models/stories260K/stories260K.bin");
    /* the model's own folder: tok512.bin is found beside the checkpoint from its vocabulary size */
    Tokenizer *t = load_model_ok(model);
    assert_int_equal(tok_vocab_size(t), 512);
    assert_non_null(strstr(tok_path(t), "tok512.bin"));
    expected_check(t, "tok512", true, false);
    IntVec v = enc(t, "Once upon a time", 16, true);
    static const int want[] = {1, 403, 407, 261, 378};
    assert_ids(v, want, 5, "Once upon a time");
    size_t dl;
    char *d = dec(t, v.v, v.n, &dl);
    assert_string_equal(d, "<s>Once upon a time");
    free(d);
    ivec_free(&v);
    tok_free(t);
    /* a hint that matches no file names what was found */
    LabErr e = {0};
    assert_int_equal(tok_load_for_model(&t, model, 32000, &e), -1);
    assert_int_equal(e.code, LAB_ENOTFOUND);
    assert_non_null(strstr(e.msg, "tok512.bin (512 tokens)"));
    free(model);
}


/* Cross-check of the two SentencePiece-style paths: the golden spm tokenizer.json exported to
 * llama2.c's format (U+2581 → space, score = -id, which is merge order for this vocabulary) and
 * encoded by run.c's algorithm gives Hugging Face's golden ids. */
static void test_llama2c_matches_spm_golden(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/spm-bpe-tokenizer/tokenizer.json");
    char *gold = shared_file("golden/spm-bpe-tokenizer/encode_golden.json");
    Tokenizer *hf = load_ok(js);
    Buf b = {0};
    int32_t max_len = 64;
    buf_append(&b, &max_len, 4);
    for (int i = 0; i < tok_vocab_size(hf); i++) {
        const char *s = tok_token_str(hf, i);
        Buf piece = {0};
        if (i == 1) buf_puts(&piece, "\n<s>\n");
        else if (i == 2) buf_puts(&piece, "\n</s>\n");
        else
            for (const char *c = s; *c;) {
                if (!strncmp(c, "\xE2\x96\x81", 3)) { buf_putc(&piece, ' '); c += 3; }
                else buf_putc(&piece, *c++);
            }
        float score = -(float)i;
        int32_t len = (int32_t)piece.len;
        buf_append(&b, &score, 4);
        buf_append(&b, &len, 4);
        buf_append(&b, piece.data, piece.len);
        buf_free(&piece);
    }
    char *bin = write_bin(b.data, b.len);
    Tokenizer *t = NULL;
    LabErr e = {0};
    assert_int_equal(tok_load_llama2c(&t, bin, tok_vocab_size(hf), &e), 0);
    json_t *g = json_load_file(gold, 0, NULL);
    assert_non_null(g);
    for (size_t i = 0; i < json_array_size(g); i++) {
        json_t *x = json_array_get(g, i), *ji = json_object_get(x, "ids");
        size_t n = json_array_size(ji);
        int *want = calloc(n + 1, sizeof *want);
        for (size_t k = 0; k < n; k++) want[k] = (int)json_integer_value(json_array_get(ji, k));
        IntVec v = enc(t, json_string_value(json_object_get(x, "text")), json_string_length(json_object_get(x, "text")), false);
        assert_ids(v, want, n, json_string_value(json_object_get(x, "text")));
        ivec_free(&v);
        free(want);
    }
    json_decref(g);
    unlink(bin);
    free(bin);
    buf_free(&b);
    tok_free(t);
    tok_free(hf);
    free(js);
    free(gold);
}

/* The shipped default models' tokenizers (assets/, in the repository): every fixture text decodes back. */
static void test_asset_tokenizers(void **st) {
    (void)st;
    const char *assets = getenv("ABLAB_ASSETS");
    static const char *const models[] = {"models/scratch-shakespeare", "models/gpt2-mini", NULL};
    int seen = 0;
    for (int m = 0; assets && models[m]; m++) {
        char *dir = path_join(assets, models[m]);
        char *tj = path_join(dir, "tokenizer.json");
        if (file_exists(tj) != 1) { free(dir); free(tj); continue; }
        Tokenizer *t = load_model_ok(dir);
        json_t *all = expected_json();
        for (size_t i = 0; i < json_array_size(all); i++) {
            size_t n, dl;
            unsigned char *text = unhex(json_string_value(json_object_get(json_array_get(all, i), "hex")), &n);
            if (!utf8_valid((const char *)text, n)) { free(text); continue; }
            IntVec v = enc(t, (const char *)text, n, true);
            char *d = dec(t, v.v, v.n, &dl);
            if (dl != n || memcmp(d, text, n)) fail_msg("%s: text %zu does not decode back", models[m], i);
            free(d);
            ivec_free(&v);
            free(text);
        }
        json_decref(all);
        tok_free(t);
        free(dir);
        free(tj);
        seen++;
    }
    if (!seen) {
        print_message("skipped: no default model in ABLAB_ASSETS\n");
        skip();
    }
}

/* ---------- hand-made tokenizer.json files, one component at a time ---------- */
/* The character vocabulary every made-up tokenizer starts with: id = position. */
static const char *const CHARS[] = {"<unk>", " ", "a", "b", "c", "d", "e", "f", "h", "i", "l", "m", "n", "o", "r", "s",
                                    "t", "u", "w", "x", "y", "y", "H", "X", "!", "?", "-", "'", "[", "]", "<", ">",
                                    "1", "2", "3", "\xE2\x96\x81", "<0xC3>", "<0xA9>", "<0xE2>", "<0x82>", "<0xAC>", NULL};
enum { C_UNK = 0, C_SP = 1, C_A = 2, C_B = 3, C_C = 4, C_D = 5, C_X = 19, C_N_BASE = 41 };

static char *write_tmp(const char *text) {
    char tmpl[] = "/tmp/ablab-tok-XXXXXX.json";
    int fd = mkstemps(tmpl, 5);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return strdup(tmpl);
}

/* A tokenizer.json with the character vocabulary plus extra "token": id entries (JSON text, may be
 * ""), the given merges array, model options and top-level components. */
static int mk_tok_e(Tokenizer **t, const char *top, const char *extra_vocab, const char *merges, const char *model_opts, LabErr *e) {
    Buf b = {0};
    buf_printf(&b, "{\"version\": \"1.0\", %s, \"model\": {\"type\": \"BPE\", %s \"vocab\": {", top, model_opts ? model_opts : "");
    int id = 0;
    for (int i = 0; CHARS[i]; i++) {
        if (i == 21) { id++; continue; } /* a hole filled by extra_vocab's first entry when given */
        buf_printf(&b, "%s\"%s\": %d", id ? ", " : "", CHARS[i], id);
        id++;
    }
    buf_printf(&b, "%s%s}, \"merges\": [%s]}}", extra_vocab && *extra_vocab ? ", " : "", extra_vocab ? extra_vocab : "", merges ? merges : "");
    char *p = write_tmp(b.data);
    buf_free(&b);
    int rc = tok_load_file(t, p, 0, e);
    unlink(p);
    free(p);
    return rc;
}

static Tokenizer *mk_tok(const char *top, const char *extra_vocab, const char *merges, const char *model_opts) {
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (mk_tok_e(&t, top, extra_vocab, merges, model_opts, &e)) fail_msg("%s", e.msg);
    return t;
}

/* The pre-tokenizer's splits of text, joined with '|'; added tokens shown as [content]. */
static char *splits(const Tokenizer *t, const char *text) {
    TokPieces p = {0};
    LabErr e = {0};
    buf_append(&p.text, text, strlen(text));
    pieces_push(&p, 0, p.text.len, -1, true);
    assert_int_equal(pre_apply(t->pre, &p, 0, &e), 0);
    Buf o = {0};
    for (size_t i = 0; i < p.n; i++) {
        if (i) buf_putc(&o, '|');
        buf_append(&o, p.text.data + p.v[i].off, p.v[i].len);
    }
    buf_append(&o, "", 0);
    pieces_free(&p);
    return buf_steal(&o);
}

static void expect_splits(const char *pre_json, const char *text, const char *want) {
    char top[2048];
    snprintf(top, sizeof top, "\"pre_tokenizer\": %s", pre_json);
    Tokenizer *t = mk_tok(top, "\"y2\": 21", NULL, NULL);
    char *got = splits(t, text);
    if (strcmp(got, want)) fail_msg("%s on '%s': got '%s' want '%s'", pre_json, text, got, want);
    free(got);
    tok_free(t);
}

/* Expectations from tokenizers' documentation and tests (SplitDelimiterBehavior's example
 * "the-final--countdown", Metaspace's tests, the pre-tokenizers' docstrings). */
static void test_pretokenizers(void **st) {
    (void)st;
    const char *txt = "the-final--countdown";
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Removed\", \"invert\": false}", txt, "the|final|countdown");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Isolated\", \"invert\": false}", txt, "the|-|final|-|-|countdown");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"MergedWithPrevious\", \"invert\": false}", txt, "the-|final-|-|countdown");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"MergedWithNext\", \"invert\": false}", txt, "the|-final|-|-countdown");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Contiguous\", \"invert\": false}", txt, "the|-|final|--|countdown");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Removed\", \"invert\": true}", txt, "-|-|-");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+\"}, \"behavior\": \"Removed\", \"invert\": false}", "a  b\tc ", "a|b|c");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"String\": \".\"}, \"behavior\": \"Isolated\"}", "a.b", "a|.|b"); /* literal, not any-char */
    /* Llama 3's pattern (Oniguruma syntax: \s is Unicode White_Space); expected from the same pattern in Python's regex */
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false}",
                  "Hello WORLD'S 12345 \n\n  x...", "Hello| WORLD|'S| |123|45| \n\n| | x|...");
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+\"}, \"behavior\": \"Removed\"}", "a\xC2\x85" "b", "a|b"); /* U+0085 */
    expect_splits("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": \"Removed\", \"invert\": true}",
                  "cafe\xCC\x81 x_1!", "cafe\xCC\x81|x_1"); /* \w takes the combining mark */
    expect_splits("{\"type\": \"Whitespace\"}", "Hey man!", "Hey|man|!");
    expect_splits("{\"type\": \"Whitespace\"}", "don't  stop...now", "don|'|t|stop|...|now");
    expect_splits("{\"type\": \"Whitespace\"}", "na\xC3\xAFve cafe\xCC\x81 x_1", "na\xC3\xAFve|cafe\xCC\x81|x_1");
    expect_splits("{\"type\": \"WhitespaceSplit\"}", "Hey  man!\n", "Hey|man!");
    expect_splits("{\"type\": \"Digits\", \"individual_digits\": false}", "Call 123 please", "Call |123| please");
    expect_splits("{\"type\": \"Digits\", \"individual_digits\": true}", "Call 123 please", "Call |1|2|3| please");
    expect_splits("{\"type\": \"Punctuation\", \"behavior\": \"Isolated\"}", "Hey friend!     How are you?!?", "Hey friend|!|     How are you|?|!|?");
    expect_splits("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\", \"split\": true}",
                  "Hey friend!", "\xE2\x96\x81Hey|\xE2\x96\x81" "friend!");
    expect_splits("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\", \"split\": true}",
                  "Hey   friend!", "\xE2\x96\x81Hey|\xE2\x96\x81|\xE2\x96\x81|\xE2\x96\x81" "friend!");
    expect_splits("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\", \"split\": false}",
                  "Hey friend!", "\xE2\x96\x81Hey\xE2\x96\x81" "friend!");
    expect_splits("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"never\", \"split\": true}",
                  "Hey you", "Hey|\xE2\x96\x81you");
    expect_splits("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"add_prefix_space\": true}", /* before prepend_scheme existed */
                  "Hey", "\xE2\x96\x81Hey");
    expect_splits("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true}", "Hello world", "\xC4\xA0Hello|\xC4\xA0world");
    expect_splits("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": false}", "Hello world", "\xC4\xA0Hello\xC4\xA0world");
    expect_splits("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}", "  x", "\xC4\xA0|\xC4\xA0x");
    expect_splits("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"WhitespaceSplit\"}, {\"type\": \"Digits\", \"individual_digits\": true}]}",
                  "ab12 c3", "ab|1|2|c|3");
}

/* Metaspace's "first": only the split that starts the original text gets the prefix; a text after an
 * added token does not. Through encode, with the character vocabulary. */
static void test_metaspace_first(void **st) {
    (void)st;
    Tokenizer *t = mk_tok("\"added_tokens\": [{\"id\": 41, \"content\": \"<x>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
                          "\"normalized\": false, \"special\": true}], "
                          "\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"first\", \"split\": true}",
                          "\"y2\": 21, \"<x>\": 41", NULL, NULL);
    IntVec v = enc(t, "<x>ab a", 7, false);
    static const int w1[] = {41, C_A, C_B, 35, C_A};
    assert_ids(v, w1, 5, "<x>ab a");
    ivec_free(&v);
    v = enc(t, "ab<x>", 5, false);
    static const int w2[] = {35, C_A, C_B, 41};
    assert_ids(v, w2, 4, "ab<x>");
    ivec_free(&v);
    tok_free(t);
}

static void expect_norm(const char *norm_json, const char *in, const char *want) {
    char top[2048];
    snprintf(top, sizeof top, "\"normalizer\": %s", norm_json);
    Tokenizer *t = mk_tok(top, "\"y2\": 21", NULL, NULL);
    Buf o = {0};
    bool lead;
    LabErr e = {0};
    assert_int_equal(norm_apply(t->norm, in, strlen(in), &o, &lead, &e), 0);
    if (strcmp(o.data, want)) fail_msg("%s on '%s': got '%s' want '%s'", norm_json, in, o.data, want);
    buf_free(&o);
    tok_free(t);
}

static void test_normalizers(void **st) {
    (void)st;
    expect_norm("{\"type\": \"NFC\"}", "e\xCC\x81", "\xC3\xA9");
    expect_norm("{\"type\": \"NFD\"}", "\xC3\xA9", "e\xCC\x81");
    expect_norm("{\"type\": \"NFKC\"}", "\xEF\xAC\x81\xE2\x91\xA0", "fi1");              /* ﬁ① */
    expect_norm("{\"type\": \"NFKD\"}", "\xEF\xAC\x81\xC3\xA9", "fie\xCC\x81");
    expect_norm("{\"type\": \"Lowercase\"}", "HeLLo \xC3\x80\xCE\xA3 \xC4\xB0", "hello \xC3\xA0\xCF\x83 i\xCC\x87"); /* İ → i + U+0307 */
    expect_norm("{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": true}", " \t hi \xE3\x80\x80", "hi");
    expect_norm("{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": false}", "  hi  ", "hi  ");
    expect_norm("{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xE2\x96\x81\"}", "a b c", "a\xE2\x96\x81" "b\xE2\x96\x81" "c");
    expect_norm("{\"type\": \"Replace\", \"pattern\": {\"Regex\": \" {2,}\"}, \"content\": \" \"}", "a   b  c d", "a b c d");
    expect_norm("{\"type\": \"Prepend\", \"prepend\": \"\xE2\x96\x81\"}", "", "");
    expect_norm("{\"type\": \"Prepend\", \"prepend\": \"\xE2\x96\x81\"}", "x", "\xE2\x96\x81x");
    expect_norm("{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFKC\"}, {\"type\": \"Lowercase\"}]}", "\xEF\xBC\xA1\xEF\xBC\xA2", "ab");
}

/* Added tokens: lstrip, rstrip, single_word, normalized, leftmost-longest. */
static void test_added_tokens(void **st) {
    (void)st;
    Tokenizer *t = mk_tok(
        "\"added_tokens\": ["
        "{\"id\": 41, \"content\": \"<m>\", \"single_word\": false, \"lstrip\": true, \"rstrip\": false, \"normalized\": false, \"special\": true},"
        "{\"id\": 42, \"content\": \"<r>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": true, \"normalized\": false, \"special\": true},"
        "{\"id\": 43, \"content\": \"[X]\", \"single_word\": true, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": false},"
        "{\"id\": 44, \"content\": \"hi\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": true, \"special\": false},"
        "{\"id\": 45, \"content\": \"<H>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true},"
        "{\"id\": 46, \"content\": \"ab\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": false},"
        "{\"id\": 47, \"content\": \"abc\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": false}],"
        "\"normalizer\": {\"type\": \"Lowercase\"}",
        "\"y2\": 21", NULL, NULL);
    struct { const char *in; int want[12]; size_t n; } cases[] = {
        {"a <m> b", {C_A, 41, C_SP, C_B}, 4},            /* lstrip takes the space before */
        {"x<r>  y", {C_X, 42, 20}, 3},                    /* rstrip takes the spaces after */
        {"a[X]b", {C_A, 28, C_X, 29, C_B}, 5},            /* not a single word: normalized characters */
        {"a [X] b", {C_A, C_SP, 43, C_SP, C_B}, 5},
        {"HI", {44}, 1},                                  /* normalized: matched after Lowercase */
        {"<H>", {45}, 1},                                 /* not normalized: matched in the raw text */
        {"xabcd", {C_X, 47, C_D}, 3},                     /* leftmost-longest */
        {"xabd", {C_X, 46, C_D}, 3},
    };
    /* the raw pass runs first: "[X]" is matched before Lowercase could touch it, "hi" after */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        IntVec v = enc(t, cases[i].in, strlen(cases[i].in), false);
        assert_ids(v, cases[i].want, cases[i].n, cases[i].in);
        ivec_free(&v);
    }
    assert_true(tok_is_special(t, 41));
    assert_false(tok_is_special(t, 43));
    assert_int_equal(tok_token_id(t, "<r>", 3), 42);
    tok_free(t);
}

/* BPE model options: unknown characters, byte fallback, prefix/suffix, ignore_merges. */
static void test_bpe_options(void **st) {
    (void)st;
    Tokenizer *t = mk_tok("\"normalizer\": null", "\"y2\": 21", NULL, "\"unk_token\": \"<unk>\", \"fuse_unk\": false,");
    IntVec v = enc(t, "a\xC5\x81\xC5\x81" "b", 6, false); /* Ł is not in the vocabulary */
    static const int w1[] = {C_A, C_UNK, C_UNK, C_B};
    assert_ids(v, w1, 4, "unk, not fused");
    ivec_free(&v);
    tok_free(t);
    t = mk_tok("\"normalizer\": null", "\"y2\": 21", NULL, "\"unk_token\": \"<unk>\", \"fuse_unk\": true,");
    v = enc(t, "a\xC5\x81\xC5\x81" "b", 6, false);
    static const int w2[] = {C_A, C_UNK, C_B};
    assert_ids(v, w2, 3, "unk, fused");
    ivec_free(&v);
    tok_free(t);
    t = mk_tok("\"normalizer\": null", "\"y2\": 21", NULL, "\"unk_token\": \"<unk>\", \"byte_fallback\": true,");
    v = enc(t, "\xC3\xA9\xC5\x81", 4, false); /* é has byte tokens, Ł does not */
    static const int w3[] = {36, 37, C_UNK};
    assert_ids(v, w3, 3, "byte fallback");
    ivec_free(&v);
    tok_free(t);
    t = mk_tok("\"normalizer\": null", "\"y2\": 21", NULL, NULL); /* no unk_token: tokenizers drops the character */
    v = enc(t, "a\xC5\x81" "b", 4, false);
    static const int w4[] = {C_A, C_B};
    assert_ids(v, w4, 2, "no unk token");
    ivec_free(&v);
    tok_free(t);
    t = mk_tok("\"normalizer\": null", "\"##b\": 21, \"ab\": 41", "\"a ##b\"", "\"continuing_subword_prefix\": \"##\",");
    v = enc(t, "abb", 3, false);
    static const int w5[] = {41, 21};
    assert_ids(v, w5, 2, "continuing_subword_prefix");
    ivec_free(&v);
    tok_free(t);
    t = mk_tok("\"normalizer\": null", "\"b</w>\": 21, \"ab</w>\": 41", "[\"a\", \"b</w>\"]", "\"end_of_word_suffix\": \"</w>\",");
    v = enc(t, "ab", 2, false);
    static const int w6[] = {41};
    assert_ids(v, w6, 1, "end_of_word_suffix, merges as pairs");
    ivec_free(&v);
    tok_free(t);
    for (int ig = 0; ig < 2; ig++) {
        t = mk_tok("\"normalizer\": null", "\"y2\": 21, \"abc\": 41", NULL, ig ? "\"ignore_merges\": true," : "\"ignore_merges\": false,");
        v = enc(t, "abc", 3, false);
        static const int w7[] = {41}, w8[] = {C_A, C_B, C_C};
        assert_ids(v, ig ? w7 : w8, ig ? 1 : 3, "ignore_merges");
        ivec_free(&v);
        tok_free(t);
    }
}

static void expect_decode(const char *dec_json, const char *extra_vocab, const int *ids, size_t n, const char *want) {
    char top[2048];
    snprintf(top, sizeof top, "\"decoder\": %s", dec_json);
    Tokenizer *t = mk_tok(top, extra_vocab, NULL, NULL);
    char *d = dec(t, ids, n, NULL);
    if (strcmp(d, want)) fail_msg("%s: got '%s' want '%s'", dec_json, d, want);
    check_stream(t, ids, n);
    free(d);
    tok_free(t);
}

/* Decoders, per tokenizers' decode_chain. */
static void test_decoders(void **st) {
    (void)st;
    const char *ms_vocab = "\"y2\": 21, \"\xE2\x96\x81Hey\": 41, \"\xE2\x96\x81" "friend!\": 42, \"\xE2\x96\x81" "a\xE2\x96\x81" "b\": 43";
    static const int hey[] = {41, 42}, ab_first[] = {43, 42};
    expect_decode("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\", \"split\": true}", ms_vocab, hey, 2, "Hey friend!");
    expect_decode("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"never\", \"split\": true}", ms_vocab, hey, 2, " Hey friend!");
    /* tokenizers drops every replacement character of the first token, not only the leading one */
    expect_decode("{\"type\": \"Metaspace\", \"replacement\": \"\xE2\x96\x81\", \"prepend_scheme\": \"always\", \"split\": true}", ms_vocab, ab_first, 2, "ab friend!");
    static const int euro[] = {38, 39, 40}, broken[] = {38, 39, C_A}, mixed[] = {C_A, 36, 37, C_B};
    const char *bf = "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}";
    expect_decode(bf, "\"y2\": 21", euro, 3, "\xE2\x82\xAC");
    expect_decode(bf, "\"y2\": 21", broken, 3, "\xEF\xBF\xBD\xEF\xBF\xBD" "a"); /* one U+FFFD per byte of a broken run */
    expect_decode(bf, "\"y2\": 21", mixed, 4, "a\xC3\xA9" "b");
    static const int euro_bad[] = {38, 39, 40, 36}; /* € then a lone 0xC3 in the same run: the whole run is broken */
    expect_decode(bf, "\"y2\": 21", euro_bad, 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    const char *strip = "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 1}]}";
    static const int sp_ab_sp[] = {C_SP, C_SP, C_A, C_B, C_SP, C_SP};
    expect_decode(strip, "\"y2\": 21", sp_ab_sp, 6, " ab ");
    const char *strip_tok = "{\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}"; /* per token, before any Fuse */
    static const int sp_a[] = {C_SP, C_A, C_SP, C_B};
    expect_decode(strip_tok, "\"y2\": 21", sp_a, 4, "ab");
    const char *repl = "{\"type\": \"Replace\", \"pattern\": {\"String\": \"ab\"}, \"content\": \"X\"}";
    static const int a_b[] = {C_A, C_B, 41};
    expect_decode(repl, "\"y2\": 21, \"cab\": 41", a_b, 3, "abcX"); /* per token: "a"+"b" never match */
    const char *repl_fused = "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Fuse\"}, {\"type\": \"Replace\", \"pattern\": {\"String\": \"ab\"}, \"content\": \"X\"}]}";
    expect_decode(repl_fused, "\"y2\": 21, \"cab\": 41", a_b, 3, "XcX");
    static const int plain[] = {C_A, C_SP, C_B};
    expect_decode("null", "\"y2\": 21", plain, 3, "a   b"); /* no decoder: tokens joined with spaces */
}

/* Streaming: nothing is released before a character is complete. */
static void test_stream_holds_partial_chars(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/gpt2-tokenizer/tokenizer.json");
    Tokenizer *t = load_ok(js);
    /* "👍" in GPT-2 is the tokens of bytes F0 9F / 91 / 8D */
    IntVec v = enc(t, "\xF0\x9F\x91\x8D!", 5, false);
    assert_true(v.n >= 2);
    TokStream *s = tok_stream_new(t);
    Buf out = {0};
    LabErr e = {0};
    for (size_t i = 0; i + 1 < v.n; i++) {
        assert_int_equal(tok_stream_push(s, v.v[i], &out, &e), 0);
        if (i + 2 < v.n) assert_int_equal(out.len, 0); /* still incomplete */
    }
    assert_string_equal(out.data, "\xF0\x9F\x91\x8D");
    assert_int_equal(tok_stream_push(s, v.v[v.n - 1], &out, &e), 0);
    assert_string_equal(out.data, "\xF0\x9F\x91\x8D!");
    tok_stream_free(s);
    /* a lone lead byte at the end: one U+FFFD on flush, as from_utf8_lossy gives */
    s = tok_stream_new(t);
    buf_clear(&out);
    int c3 = tok_token_id(t, "\xC3\x83", 2); /* the byte-level character of byte 0xC3 */
    assert_true(c3 >= 0);
    assert_int_equal(tok_stream_push(s, c3, &out, &e), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(tok_stream_flush(s, &out, &e), 0);
    assert_string_equal(out.data, "\xEF\xBF\xBD");
    tok_stream_free(s);
    /* a lead byte followed by a non-continuation: U+FFFD then the character */
    int a = tok_token_id(t, "a", 1);
    int ids[] = {c3, a};
    char *d = dec(t, ids, 2, NULL);
    assert_string_equal(d, "\xEF\xBF\xBD" "a");
    free(d);
    buf_free(&out);
    ivec_free(&v);
    tok_free(t);
    free(js);
}

/* Invalid UTF-8 input is read as Python's bytes.decode('utf-8', errors='replace') would. */
static void test_invalid_utf8_input(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/gpt2-tokenizer/tokenizer.json");
    Tokenizer *t = load_ok(js);
    static const struct { const char *bad, *good; } cases[] = {
        {"a\xFF" "b", "a\xEF\xBF\xBD" "b"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  /* a surrogate: three maximal subparts */
        {"\xE2\x82" "x", "\xEF\xBF\xBD" "x"},                      /* a truncated character: one */
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                  /* an overlong form */
        {"x\xF0\x9F\x98", "x\xEF\xBF\xBD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        IntVec a = enc(t, cases[i].bad, strlen(cases[i].bad), false), b = enc(t, cases[i].good, strlen(cases[i].good), false);
        assert_ids(a, b.v, b.n, cases[i].bad);
        ivec_free(&a);
        ivec_free(&b);
    }
    tok_free(t);
    free(js);
}


/* ---------- hostile files: clear errors, no crash (the sanitizer build runs these too) ---------- */
static void expect_load_error(const char *path, const char *needle) {
    Tokenizer *t = (Tokenizer *)0x1;
    LabErr e = {0};
    assert_int_equal(tok_load_file(&t, path, 0, &e), -1);
    assert_null(t);
    if (!strstr(e.msg, needle)) fail_msg("error for %s: '%s' lacks '%s'", path, e.msg, needle);
    if (!strstr(e.msg, path_basename(path))) fail_msg("error '%s' does not name the file", e.msg);
}

static void expect_json_error(const char *json, const char *needle) {
    char *p = write_tmp(json);
    expect_load_error(p, needle);
    unlink(p);
    free(p);
}

static void test_hostile_json(void **st) {
    (void)st;
    /* a truncated tokenizer.json: jansson's position */
    char *good = fixture("template.json");
    char *text;
    size_t len;
    LabErr e;
    assert_int_equal(file_read_all(good, 0, &text, &len, &e), 0);
    text[len / 2] = 0;
    expect_json_error(text, "line ");
    free(text);
    free(good);
    /* jansson alone took the 0 of `"a": 0\0,` and went on (issue 21's NUL-after-number header) */
    {
        char bad[1024];
        snprintf(bad, sizeof bad, "%s/tok/nul_after_number.json", getenv("TEST_BAD_DIR"));
        Tokenizer *tb = NULL;
        LabErr eb = {0};
        assert_int_equal(tok_load_json(&tb, bad, &eb), -1);
        assert_null(tb);
        if (!strstr(eb.msg, "a NUL byte at offset 60")) fail_msg("%s", eb.msg);
    }
    const char *model_ok = "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}";
    char buf[4096];
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a zz\"]}}", "'zz' is not in the vocabulary");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}", "merged token 'ab' is not in the vocabulary");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"ab\"]}}", "not two tokens");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0, \"c\": 2}, \"merges\": []}}", "id 0 is given to both");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 99999999}, \"merges\": []}}", "id 99999999 is past the vocabulary");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": -1}, \"merges\": []}}", "has no valid id");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}, \"merges\": []}}", "duplicate");
    expect_json_error("{\"added_tokens\": [{\"id\": 0, \"content\": \"a\"}], \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"c\": 2}, \"merges\": []}}",
                      "no token has id 1");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0}, \"merges\": []}}", "unk_token '<unk>' is not in the vocabulary");
    expect_json_error("{\"added_tokens\": [{\"id\": 7, \"content\": \"<x>\"}], \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                      "past the vocabulary");
    expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": [1, 2], \"merges\": []}}", "not an object");
    expect_json_error("{\"nomodel\": 1}", "no \"model\" object");
    /* every unsupported component is named, with the file */
    expect_json_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.vocab of a Unigram model is not a non-empty list");
    expect_json_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "model type 'WordPiece'");
    snprintf(buf, sizeof buf, "{\"normalizer\": {\"type\": \"BertNormalizer\"}, %s}", model_ok);
    expect_json_error(buf, "normalizer type 'BertNormalizer' is not supported");
    snprintf(buf, sizeof buf, "{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Precompiled\"}]}, %s}", model_ok);
    expect_json_error(buf, "normalizer Precompiled without a \"precompiled_charsmap\" string");
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\": {\"type\": \"CharDelimiterSplit\", \"delimiter\": \"x\"}, %s}", model_ok);
    expect_json_error(buf, "pre_tokenizer type 'CharDelimiterSplit' is not supported");
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}, %s}", model_ok);
    expect_json_error(buf, "does not compile");
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"x\"}, \"behavior\": \"Sideways\"}, %s}", model_ok);
    expect_json_error(buf, "behavior 'Sideways'");
    snprintf(buf, sizeof buf, "{\"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\"}, %s}", model_ok);
    expect_json_error(buf, "decoder type 'WordPiece' is not supported");
    snprintf(buf, sizeof buf, "{\"post_processor\": {\"type\": \"Chaos\"}, %s}", model_ok);
    expect_json_error(buf, "post_processor type 'Chaos' is not supported");
    snprintf(buf, sizeof buf, "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {}}, %s}", model_ok);
    expect_json_error(buf, "'<s>' has no \"ids\"");
    snprintf(buf, sizeof buf, "{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {\"a\": 0}, \"merges\": []}}");
    expect_json_error(buf, "dropout");
}

static char *write_bin(const void *data, size_t n) {
    char tmpl[] = "/tmp/ablab-tok-XXXXXX.bin";
    int fd = mkstemps(tmpl, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return strdup(tmpl);
}

static void test_hostile_bin(void **st) {
    (void)st;
    /* a valid little vocabulary: <unk>, <s>, </s>, 256 bytes, " ", "a" */
    Buf b = {0};
    int32_t max_len = 8;
    buf_append(&b, &max_len, 4);
    for (int i = 0; i < 261; i++) {
        char name[16];
        if (i < 3) snprintf(name, sizeof name, "%s", i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : "\n</s>\n");
        else if (i < 259) snprintf(name, sizeof name, "<0x%02X>", i - 3);
        else snprintf(name, sizeof name, "%s", i == 259 ? " " : "a");
        float score = i == 260 ? -1.0f : 0.0f;
        int32_t len = (int32_t)strlen(name);
        buf_append(&b, &score, 4);
        buf_append(&b, &len, 4);
        buf_append(&b, name, (size_t)len);
    }
    char *p = write_bin(b.data, b.len);
    Tokenizer *t = load_ok(p);
    assert_int_equal(tok_vocab_size(t), 261);
    IntVec v = enc(t, "a\xC3\xA9", 3, true);
    static const int want[] = {1, 259, 260, 3 + 0xC3, 3 + 0xA9};
    assert_ids(v, want, 5, "tiny llama2.c vocabulary");
    ivec_free(&v);
    tok_free(t);
    unlink(p);
    free(p);
    /* a 500 MB string length in the last record */
    size_t last = b.len - 1 - 8;
    int32_t huge = 500 * 1000 * 1000;
    memcpy(b.data + last + 4, &huge, 4);
    p = write_bin(b.data, b.len);
    expect_load_error(p, "string length 500000000 runs past the end of the file");
    unlink(p);
    free(p);
    /* a negative length reads as a huge one */
    int32_t neg = -5;
    memcpy(b.data + last + 4, &neg, 4);
    p = write_bin(b.data, b.len);
    expect_load_error(p, "runs past the end");
    unlink(p);
    free(p);
    /* cut inside a record header, and a bad header */
    p = write_bin(b.data, 4 + 3);
    expect_load_error(p, "record header ends past the end");
    unlink(p);
    free(p);
    int32_t bad = -1;
    memcpy(b.data, &bad, 4);
    p = write_bin(b.data, b.len);
    expect_load_error(p, "max_token_length -1");
    unlink(p);
    free(p);
    p = write_bin(b.data, 2);
    expect_load_error(p, "too short");
    unlink(p);
    free(p);
    /* more tokens asked for than the file has */
    memcpy(b.data, &max_len, 4);
    memcpy(b.data + last + 4, &(int32_t){1}, 4);
    p = write_bin(b.data, b.len);
    LabErr e = {0};
    assert_int_equal(tok_load_llama2c(&t, p, 32000, &e), -1);
    assert_non_null(strstr(e.msg, "the file ends before its record"));
    unlink(p);
    free(p);
    buf_free(&b);
}

static void test_hostile_vocab_merges(void **st) {
    (void)st;
    char dir[] = "/tmp/ablab-tok-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *vj = path_join(dir, "vocab.json"), *mt = path_join(dir, "merges.txt");
    FILE *f = fopen(vj, "w");
    fputs("{\"a\": 0, \"b\": 1, \"ab\": 2, \"<|endoftext|>\": 3}", f);
    fclose(f);
    f = fopen(mt, "w");
    fputs("#version: 0.2\na b\n", f);
    fclose(f);
    Tokenizer *t = load_model_ok(dir);
    IntVec v = enc(t, "ab<|endoftext|>", 15, false);
    static const int w[] = {2, 3};
    assert_ids(v, w, 2, "vocab.json + merges.txt");
    assert_int_equal(tok_eos_id(t), 3);
    ivec_free(&v);
    tok_free(t);
    f = fopen(mt, "w");
    fputs("#version: 0.2\na b\na b c\n", f);
    fclose(f);
    LabErr e = {0};
    assert_int_equal(tok_load_for_model(&t, dir, 0, &e), -1);
    assert_non_null(strstr(e.msg, "merges.txt: line 3"));
    f = fopen(mt, "w");
    fputs("a q\n", f);
    fclose(f);
    assert_int_equal(tok_load_for_model(&t, dir, 0, &e), -1);
    assert_non_null(strstr(e.msg, "line 1: merge token 'q' is not in the vocabulary"));
    unlink(mt);
    assert_int_equal(tok_load_for_model(&t, dir, 0, &e), -1);
    assert_int_equal(e.code, LAB_ENOTFOUND);
    unlink(vj);
    rmdir(dir);
    free(vj);
    free(mt);
}

/* ---------- GGUF vocabularies (the arrays llama.cpp's converter wrote for the golden models) ---------- */
static Tokenizer *gguf_tok_pre(const char *path, GgufFile **gp, const char *pre_override);
static Tokenizer *gguf_tok(const char *path, GgufFile **gp) { return gguf_tok_pre(path, gp, NULL); }

static Tokenizer *gguf_tok_pre(const char *path, GgufFile **gp, const char *pre_override) {
    GgufFile *g = NULL;
    LabErr e = {0};
    if (gguf_open(&g, path, &e)) fail_msg("%s", e.msg);
    const GgufKV *toks = gguf_find_kv(g, "tokenizer.ggml.tokens"), *merges = gguf_find_kv(g, "tokenizer.ggml.merges");
    const GgufKV *scores = gguf_find_kv(g, "tokenizer.ggml.scores"), *types = gguf_find_kv(g, "tokenizer.ggml.token_type");
    GgufStr model, pre;
    assert_int_equal(gguf_get_str(g, "tokenizer.ggml.model", &model, &e), 0);
    int has_pre = gguf_get_str(g, "tokenizer.ggml.pre", &pre, &e);
    assert_non_null(toks);
    size_t n = toks->n, nm = merges ? merges->n : 0;
    const char **ts = calloc(n, sizeof *ts), **ms = calloc(nm + 1, sizeof *ms);
    size_t *tl = calloc(n, sizeof *tl), *ml = calloc(nm + 1, sizeof *ml);
    for (size_t i = 0; i < n; i++) { ts[i] = toks->strs[i].s; tl[i] = toks->strs[i].len; }
    for (size_t i = 0; i < nm; i++) { ms[i] = merges->strs[i].s; ml[i] = merges->strs[i].len; }
    char mname[32], pname[32];
    snprintf(mname, sizeof mname, "%.*s", (int)model.len, model.s);
    snprintf(pname, sizeof pname, "%.*s", has_pre == 0 ? (int)pre.len : 0, has_pre == 0 ? pre.s : "");
    int64_t bos = -1, eos = -1, unk = -1;
    gguf_get_i64(g, "tokenizer.ggml.bos_token_id", &bos, &e);
    gguf_get_i64(g, "tokenizer.ggml.eos_token_id", &eos, &e);
    gguf_get_i64(g, "tokenizer.ggml.unknown_token_id", &unk, &e);
    TokGgufVocab v = {mname, pre_override ? pre_override : has_pre == 0 ? pname : NULL, ts, tl, n, scores ? (const float *)scores->data : NULL,
                      types ? (const int32_t *)types->data : NULL, ms, ml, nm, (int)bos, (int)eos, (int)unk, -1,
                      false, false, true, path};
    Tokenizer *t = NULL;
    if (tok_from_gguf(&t, &v, &e)) fail_msg("%s", e.msg);
    free(ts); free(tl); free(ms); free(ml);
    *gp = g;
    return t;
}

/* GPT-2's vocabulary as llama.cpp's converter stores it (the file is only in ../shared) */
static void test_gguf_vocab_gpt2(void **st) {
    (void)st;
    NEED_SHARED(gp, "golden/gguf/gpt2-tiny-random-f32.gguf");
    char *g2 = shared_file("golden/gpt2-tokenizer/encode_golden.json");
    GgufFile *g;
    Tokenizer *t = gguf_tok(gp, &g);
    assert_int_equal(tok_kind(t), TOK_KIND_BPE_BYTELEVEL);
    assert_int_equal(tok_eos_id(t), 50256);
    golden_check(t, g2);
    tok_free(t);
    gguf_close(g);
    /* the same vocabulary with Llama 3's pre-tokenizer: digits in groups of three */
    t = gguf_tok_pre(gp, &g, "llama-bpe");
    char *hfp = shared_file("golden/gpt2-tokenizer/tokenizer.json");
    Tokenizer *hf = load_ok(hfp);
    free(hfp);
    IntVec got = enc(t, "12345 abc", 9, false), want = {0};
    LabErr pe;
    assert_int_equal(tok_encode(hf, "123", 3, false, &want, &pe), 0);
    assert_int_equal(tok_encode(hf, "45", 2, false, &want, &pe), 0);
    assert_int_equal(tok_encode(hf, " abc", 4, false, &want, &pe), 0);
    assert_ids(got, want.v, want.n, "llama-bpe pre-tokenizer");
    ivec_free(&got);
    ivec_free(&want);
    tok_free(hf);
    tok_free(t);
    gguf_close(g);
    free(gp); free(g2);
}

/* The Llama vocabulary of llama.cpp's converter, and hostile vocabulary arrays */
static void test_gguf_vocab_llama(void **st) {
    (void)st;
    NEED_SHARED(lp, "golden/gguf/llama-tiny-gqa-f32.gguf");
    char *gs = shared_file("golden/spm-bpe-tokenizer/encode_golden.json");
    GgufFile *g;
    Tokenizer *t;
    /* the Llama vocabulary: every score is -1000, merge order comes from the vocabulary order */
    t = gguf_tok(lp, &g);
    assert_int_equal(tok_kind(t), TOK_KIND_BPE_SENTENCEPIECE);
    assert_int_equal(tok_bos_id(t), 1);
    golden_check(t, gs);
    tok_free(t);
    gguf_close(g);
    /* hostile arrays */
    const char *toks[] = {"a", "b"};
    size_t lens[] = {1, 1};
    const char *mg[] = {"a c"};
    size_t mgl[] = {3};
    TokGgufVocab v = {"gpt2", NULL, toks, lens, 2, NULL, NULL, mg, mgl, 1, -1, 7, -1, -1, false, false, false, "x.gguf"};
    LabErr e = {0};
    assert_int_equal(tok_from_gguf(&t, &v, &e), -1);
    assert_non_null(strstr(e.msg, "x.gguf: tokenizer.ggml.merges[0]"));
    v.n_merges = 0;
    assert_int_equal(tok_from_gguf(&t, &v, &e), -1);
    assert_non_null(strstr(e.msg, "past the vocabulary"));
    v.model = "bert";
    assert_int_equal(tok_from_gguf(&t, &v, &e), -1);
    assert_non_null(strstr(e.msg, "'bert' is not supported"));
    v.model = "gpt2";
    v.pre = "falcon";
    assert_int_equal(tok_from_gguf(&t, &v, &e), -1);
    assert_non_null(strstr(e.msg, "'falcon' is not supported"));
    v.pre = NULL;
    v.model = "llama";
    assert_int_equal(tok_from_gguf(&t, &v, &e), -1);
    assert_non_null(strstr(e.msg, "scores is missing"));
    free(lp); free(gs);
}

/* ---------- two threads on one tokenizer (the word cache is shared) ---------- */
typedef struct { const Tokenizer *t; const char *text; size_t len; IntVec out; int rc; } EncJob;

static void *enc_thread(void *arg) {
    EncJob *j = arg;
    LabErr e;
    for (int r = 0; r < 3 && !j->rc; r++) {
        j->out.n = 0;
        j->rc = tok_encode(j->t, j->text, j->len, false, &j->out, &e);
    }
    return NULL;
}

static void test_two_threads(void **st) {
    (void)st;
    NEED_SHARED(js, "golden/gpt2-tokenizer/tokenizer.json");
    char *corpus = shared_file("corpus/tinystories_sample.txt");
    Tokenizer *t = load_ok(js);
    char *text;
    size_t len;
    LabErr e;
    assert_int_equal(file_read_all(corpus, 0, &text, &len, &e), 0);
    IntVec ref = enc(t, text, len, false);
    tok_free(t);
    t = load_ok(js); /* a cold cache, filled by both threads at once */
    EncJob a = {t, text, len, {0}, 0}, b = {t, text, len, {0}, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, enc_thread, &a);
    pthread_create(&tb, NULL, enc_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_ids(a.out, ref.v, ref.n, "thread a");
    assert_ids(b.out, ref.v, ref.n, "thread b");
    ivec_free(&a.out); ivec_free(&b.out); ivec_free(&ref);
    free(text);
    tok_free(t);
    free(js); free(corpus);
}


/* ---------- slow: the real GPT-2 over the whole corpus ---------- */
static const char *const CORPUS[] = {"corpus/tinyshakespeare.txt", "corpus/wikitext2_test.txt", "corpus/wikitext2_valid.txt",
                                     "corpus/tinystories_sample.txt", "corpus/devils_dictionary.txt", NULL};

/* Skips, naming the first corpus file that is nowhere (they stay in ../shared: 4 MB). */
static void need_corpus(void) {
    for (int i = 0; CORPUS[i]; i++) {
        NEED_SHARED(p, CORPUS[i]);
        free(p);
    }
}

static void test_corpus_roundtrip(void **st) {
    (void)st;
    need_corpus();
    NEED_SHARED(js, "tokenizers/gpt2/tokenizer.json");
    Tokenizer *t = load_ok(js);
    for (int i = 0; CORPUS[i]; i++) {
        char *p = shared_file(CORPUS[i]);
        if (!p) fail_msg("%s is missing", CORPUS[i]);
        char *text;
        size_t len, dl;
        LabErr e;
        assert_int_equal(file_read_all(p, 0, &text, &len, &e), 0);
        IntVec v = enc(t, text, len, false);
        if (!strcmp(CORPUS[i], "corpus/tinyshakespeare.txt")) assert_int_equal(v.n, 338025); /* nanoGPT's 301,966 + 36,059 */
        char *d = dec(t, v.v, v.n, &dl);
        assert_int_equal(dl, len);
        assert_memory_equal(d, text, len);
        check_stream(t, v.v, v.n > 20000 ? 20000 : v.n);
        print_message("%s: %zu bytes, %zu tokens, decoded back exactly\n", CORPUS[i], len, v.n);
        free(d);
        ivec_free(&v);
        free(text);
        free(p);
    }
    tok_free(t);
    free(js);
}

/* vocab.json + merges.txt (OpenAI's encoder.json + vocab.bpe) and tokenizer.json: the same tables,
 * and the same ids for every line of the corpus. */
static void test_vocab_merges_agree(void **st) {
    (void)st;
    need_corpus();
    NEED_SHARED(js, "tokenizers/gpt2/tokenizer.json");
    char *ej = shared_file("tokenizers/gpt2/encoder.json");
    Tokenizer *a = load_ok(js), *b = load_ok(ej);
    assert_int_equal(tok_vocab_size(a), tok_vocab_size(b));
    for (int i = 0; i < tok_vocab_size(a); i++) assert_string_equal(tok_token_str(a, i), tok_token_str(b, i));
    assert_int_equal(a->merges.n, b->merges.n);
    for (size_t k = 0; k < a->merges.cap; k++) {
        if (a->merges.keys[k] == UINT64_MAX) continue;
        int rank, id;
        assert_true(pairmap_get(&b->merges, (int)(a->merges.keys[k] >> 32), (int)(uint32_t)a->merges.keys[k], &rank, &id));
        assert_int_equal(rank, a->merges.rank[k]);
        assert_int_equal(id, a->merges.id[k]);
    }
    size_t lines = 0;
    for (int i = 0; CORPUS[i]; i++) {
        char *p = shared_file(CORPUS[i]);
        char *text;
        size_t len;
        LabErr e;
        assert_int_equal(file_read_all(p, 0, &text, &len, &e), 0);
        for (size_t off = 0; off < len;) {
            char *nl = memchr(text + off, '\n', len - off);
            size_t n = nl ? (size_t)(nl - text - off) + 1 : len - off;
            IntVec x = enc(a, text + off, n, false), y = enc(b, text + off, n, false);
            assert_ids(x, y.v, y.n, "vocab.json+merges.txt vs tokenizer.json");
            ivec_free(&x);
            ivec_free(&y);
            off += n;
            lines++;
        }
        free(text);
        free(p);
    }
    print_message("%zu lines agree\n", lines);
    tok_free(a);
    tok_free(b);
    free(js);
    free(ej);
}

/* Issue 21: a 24 MB one-line prompt took 17-20 s to be refused for the context, because the
 * whole line was encoded first. tok_encode_max gives up as soon as the count is known to pass the
 * limit: well under 0.5 s of CPU for 24 MB with each kind of tokenizer (3 s allowed under the
 * sanitizers, which slow the normalizer's and pre-tokenizer's passes down several times). A text
 * that fits is encoded exactly as tok_encode does. */
static void test_long_line_refused_fast(void **st) {
    (void)st;
    NEED_SHARED(story, "corpus/tinystories_sample.txt");
    NEED_SHARED(l2c, "models/stories260K/tok512.bin");
    NEED_SHARED(spm, "golden/spm-bpe-tokenizer/tokenizer.json");
    NEED_SHARED(bl, "golden/bytelevel-bpe-tokenizer/tokenizer.json");
    char *text;
    size_t n;
    LabErr e = {0};
    assert_int_equal(file_read_all(story, 0, &text, &n, &e), 0);
    size_t big = (size_t)24 << 20;
    char *line = malloc(big + 1);
    assert_non_null(line);
    for (size_t at = 0; at < big; at += n) memcpy(line + at, text, big - at < n ? big - at : n);
    for (size_t i = 0; i < big; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[big] = 0;
    const char *paths[3] = {l2c, spm, bl};
#if defined(__SANITIZE_ADDRESS__)
    const double limit = 3.0;
#else
    const double limit = 0.5;
#endif
    for (int k = 0; k < 3; k++) {
        Tokenizer *t = NULL;
        if (tok_load_file(&t, paths[k], 512, &e)) fail_msg("%s: %s", paths[k], e.msg);
        IntVec v = {0};
        clock_t c0 = clock();
        int rc = tok_encode_max(t, line, big, true, 2048, &v, &e);
        double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
        printf("# %s: 24 MB refused in %.3f s of CPU: %s\n", tok_kind_name(t), secs, e.msg);
        assert_int_equal(rc, -1);
        assert_int_equal(e.code, LAB_ERANGE);
        assert_non_null(strstr(e.msg, "the text has more than 2048 tokens"));
        if (secs > limit) fail_msg("%s: %.3f s to refuse 24 MB (limit %.1f s)", paths[k], secs, limit);
        /* a text that fits, and one whose limit is its exact count: the same ids as tok_encode */
        IntVec all = {0}, lim = {0};
        assert_int_equal(tok_encode(t, text, 3000, true, &all, &e), 0);
        assert_int_equal(tok_encode_max(t, text, 3000, true, all.n, &lim, &e), 0);
        assert_int_equal(lim.n, all.n);
        assert_memory_equal(lim.v, all.v, all.n * sizeof *all.v);
        lim.n = 0;
        assert_int_equal(tok_encode_max(t, text, 3000, true, all.n - 1, &lim, &e), -1);
        ivec_free(&all);
        ivec_free(&lim);
        ivec_free(&v);
        tok_free(t);
    }
    free(line);
    free(text);
    free(story);
    free(l2c);
    free(spm);
    free(bl);
}

int main(int argc, char **argv) {
    bool slow = argc > 1 && !strcmp(argv[1], "slow");
    const struct CMUnitTest slow_tests[] = {
        cmocka_unit_test(test_corpus_roundtrip),
        cmocka_unit_test(test_vocab_merges_agree),
    };
    if (slow) return cmocka_run_group_tests_name("tokenizer-corpus", slow_tests, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_gpt2),
        cmocka_unit_test(test_golden_spm),
        cmocka_unit_test(test_golden_bytelevel),
        cmocka_unit_test(test_post_processor_templates),
        cmocka_unit_test(test_config_add_bos),
        cmocka_unit_test(test_gpt2_many_strings),
        cmocka_unit_test(test_asset_tokenizers),
        cmocka_unit_test(test_spm_many_strings),
        cmocka_unit_test(test_llama2c_runc),
        cmocka_unit_test(test_llama2c_tok512),
        cmocka_unit_test(test_long_line_refused_fast),
        cmocka_unit_test(test_llama2c_matches_spm_golden),
        cmocka_unit_test(test_pretokenizers),
        cmocka_unit_test(test_metaspace_first),
        cmocka_unit_test(test_normalizers),
        cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_bpe_options),
        cmocka_unit_test(test_decoders),
        cmocka_unit_test(test_stream_holds_partial_chars),
        cmocka_unit_test(test_invalid_utf8_input),
        cmocka_unit_test(test_hostile_json),
        cmocka_unit_test(test_hostile_bin),
        cmocka_unit_test(test_hostile_vocab_merges),
        cmocka_unit_test(test_gguf_vocab_gpt2),
        cmocka_unit_test(test_gguf_vocab_llama),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, NULL, NULL);
}
