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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer.h"

/* ---------- helpers ---------- */
static char *shared_file(const char *rel) {
    const char *d = getenv("SHARED_DIR");
    if (!d) return NULL;
    char *p = path_join(d, rel);
    if (p && file_exists(p) == 0) {
        free(p);
        return NULL;
    }
    return p;
}

#define NEED_SHARED(var, rel)                                                    \
    char *var = shared_file(rel);                                                \
    if (!var) {                                                                  \
        print_message("skipped: %s not found (SHARED_DIR unset or absent)\n", rel); \
        skip();                                                                  \
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

int main(int argc, char **argv) {
    bool slow = argc > 1 && !strcmp(argv[1], "slow");
    (void)slow;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_gpt2),
        cmocka_unit_test(test_golden_spm),
        cmocka_unit_test(test_golden_bytelevel),
        cmocka_unit_test(test_post_processor_templates),
        cmocka_unit_test(test_gpt2_many_strings),
        cmocka_unit_test(test_spm_many_strings),
        cmocka_unit_test(test_llama2c_runc),
        cmocka_unit_test(test_llama2c_tok512),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, NULL, NULL);
}
