/* SentencePiece: .model files against the sentencepiece library's own ids and decodes
 * (tests/fixtures/ref/spm, made by tools/refs/spm.py), the tokenizer.json conversions against the
 * tokenizers library's ids, tokenizer.model found beside weights, user-defined symbols, and the
 * malformed files of tests/bad/spm (made by tests/bad/spm/make_bad.py) with their errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tmpdir.h"
#include "tok_internal.h"
#include "tokenizer.h"

static char *ref(const char *rel) {
    const char *d = getenv("TEST_DATA_DIR");
    assert_non_null(d);
    char *p = malloc(strlen(d) + strlen(rel) + 16);
    sprintf(p, "%s/ref/spm/%s", d, rel);
    return p;
}

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fail_msg("%s: %s", path, je.text);
    return j;
}

static Tokenizer *load_ok(const char *path) {
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (tok_load_file(&t, path, 0, &e)) fail_msg("loading %s: %s", path, e.msg);
    return t;
}

static bool ids_equal(const IntVec *got, json_t *want) {
    if (got->n != json_array_size(want)) return false;
    for (size_t i = 0; i < got->n; i++)
        if (got->v[i] != (int)json_integer_value(json_array_get(want, i))) return false;
    return true;
}

static void print_ids(const char *what, const IntVec *v) {
    printf("#   %s:", what);
    for (size_t i = 0; i < v->n; i++) printf(" %d", v->v[i]);
    printf("\n");
}

/* Every case of a reference file: encode gives its ids; decoding them (whole, and streamed one id
 * at a time) gives its text, skipping special ids when skip_special (tokenizers' default). */
static void check_cases(Tokenizer *t, const char *enc_json, const char *ids_key, bool skip_special) {
    char *p = ref(enc_json);
    json_t *root = load_json(p);
    json_t *cases = json_object_get(root, "cases");
    assert_true(json_array_size(cases) >= 40);
    size_t bad = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *text = json_string_value(json_object_get(c, "text"));
        IntVec got = {0};
        LabErr e = {0};
        if (tok_encode(t, text, strlen(text), false, &got, &e)) fail_msg("%s: encode %s", enc_json, e.msg);
        json_t *want = json_object_get(c, ids_key);
        if (!ids_equal(&got, want)) {
            char *w = json_dumps(want, JSON_COMPACT);
            printf("# %s: '%s'\n#   expected %s\n", enc_json, text, w);
            print_ids("got", &got);
            free(w);
            bad++;
        }
        IntVec keep = {0};
        for (size_t k = 0; k < json_array_size(want); k++) {
            int id = (int)json_integer_value(json_array_get(want, k));
            if (!(skip_special && tok_is_special(t, id))) assert_int_equal(ivec_push(&keep, id), 0);
        }
        Buf whole = {0}, streamed = {0};
        assert_int_equal(tok_decode(t, keep.v, keep.n, &whole, &e), 0);
        TokStream *s = tok_stream_new(t);
        for (size_t k = 0; k < keep.n; k++) assert_int_equal(tok_stream_push(s, keep.v[k], &streamed, &e), 0);
        assert_int_equal(tok_stream_flush(s, &streamed, &e), 0);
        tok_stream_free(s);
        const char *dec = json_string_value(json_object_get(c, "decoded"));
        if (strcmp(whole.data ? whole.data : "", dec)) {
            printf("# %s: decode of '%s' gave '%s', expected '%s'\n", enc_json, text, whole.data, dec);
            bad++;
        }
        assert_string_equal(streamed.data ? streamed.data : "", whole.data ? whole.data : "");
        buf_free(&whole);
        buf_free(&streamed);
        ivec_free(&keep);
        ivec_free(&got);
    }
    json_decref(root);
    free(p);
    assert_int_equal(bad, 0);
}

static void test_unigram_default(void **state) {
    (void)state;
    char *p = ref("unigram-default/unigram-default.model");
    Tokenizer *t = load_ok(p);
    assert_int_equal(tok_kind(t), TOK_KIND_SENTENCEPIECE);
    assert_string_equal(tok_kind_name(t), "sentencepiece-unigram");
    assert_int_equal(tok_vocab_size(t), 800);
    check_cases(t, "unigram-default/encode.json", "ids", false);
    tok_free(t);
    free(p);
}

static void test_bpe_byte_fallback(void **state) {
    (void)state;
    char *p = ref("bpe-bytefallback/bpe-bytefallback.model");
    Tokenizer *t = load_ok(p);
    assert_string_equal(tok_kind_name(t), "sentencepiece-bpe");
    check_cases(t, "bpe-bytefallback/encode.json", "ids", false);
    /* the emoji has no piece: its four bytes come out as <0xF0> <0x9F> <0x99> <0x82> */
    IntVec v = {0};
    LabErr e = {0};
    assert_int_equal(tok_encode(t, "\xF0\x9F\x99\x82", 4, false, &v, &e), 0);
    assert_true(v.n >= 4);
    assert_string_equal(tok_token_str(t, v.v[v.n - 4]), "<0xF0>");
    assert_string_equal(tok_token_str(t, v.v[v.n - 1]), "<0x82>");
    ivec_free(&v);
    tok_free(t);
    free(p);
}

static void test_digits_nfkc_cf(void **state) {
    (void)state;
    char *p = ref("unigram-digits-nfkc_cf/unigram-digits-nfkc_cf.model");
    Tokenizer *t = load_ok(p);
    check_cases(t, "unigram-digits-nfkc_cf/encode.json", "ids", false);
    tok_free(t);
    free(p);
}

/* transformers' and tokenizers' conversions of the default model: the fast tokenizer's own ids */
static void test_fast_conversions(void **state) {
    (void)state;
    static const char *dirs[] = {"fast-t5", "fast-tokenizers-from_spm", "fast-llama"};
    for (size_t i = 0; i < 3; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "unigram-default/%s/tokenizer.json", dirs[i]);
        char *p = ref(rel);
        Tokenizer *t = load_ok(p);
        if (i < 2) assert_int_equal(tok_kind(t), TOK_KIND_UNIGRAM);
        snprintf(rel, sizeof rel, "unigram-default/%s/fast_encode.json", dirs[i]);
        check_cases(t, rel, "ids", true);
        tok_free(t);
        free(p);
    }
}

/* a folder of weights with tokenizer.model beside them; add_special puts the model's BOS first */
static void test_beside_weights(void **state) {
    (void)state;
    char *src = ref("unigram-default/unigram-default.model");
    char *dst = strdup(tpath("tokenizer.model"));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
    assert_int_equal(system(cmd), 0);
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (tok_load_for_model(&t, tmpdir, 0, &e)) fail_msg("%s", e.msg);
    assert_int_equal(tok_kind(t), TOK_KIND_SENTENCEPIECE);
    IntVec v = {0};
    assert_int_equal(tok_encode(t, "Hello world", 11, true, &v, &e), 0);
    assert_true(v.n > 1);
    assert_int_equal(v.v[0], 1);
    assert_int_equal(tok_bos_id(t), 1);
    assert_int_equal(tok_eos_id(t), 2);
    assert_true(tok_is_special(t, 1) && tok_is_special(t, 2));
    /* control pieces decode to nothing */
    Buf out = {0};
    assert_int_equal(tok_decode(t, v.v, v.n, &out, &e), 0);
    assert_string_equal(out.data, "Hello world");
    buf_free(&out);
    ivec_free(&v);
    tok_free(t);
    free(dst);
    free(src);
}

/* A user-defined symbol appended to the model (pieces are a repeated field: one more at the end is
 * id 800): it is kept whole, never normalized or split, in Unigram and in BPE. */
static void append_piece(const char *src, const char *dst, const char *piece, int type) {
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 64);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    size_t pl = strlen(piece), k = (size_t)n;
    unsigned char msg[64];
    size_t m = 0;
    msg[m++] = 0x0A; /* piece: field 1, length-delimited */
    msg[m++] = (unsigned char)pl;
    memcpy(msg + m, piece, pl);
    m += pl;
    msg[m++] = 0x15; /* score: field 2, 32-bit */
    float z = 0;
    memcpy(msg + m, &z, 4);
    m += 4;
    msg[m++] = 0x18; /* type: field 3, varint */
    msg[m++] = (unsigned char)type;
    b[k++] = 0x0A;
    b[k++] = (unsigned char)m;
    memcpy(b + k, msg, m);
    k += m;
    f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, k, f), k);
    fclose(f);
    free(b);
}

static void test_user_defined(void **state) {
    (void)state;
    static const char *models[] = {"unigram-default/unigram-default.model", "bpe-bytefallback/bpe-bytefallback.model"};
    for (int i = 0; i < 2; i++) {
        char *src = ref(models[i]);
        char *dst = strdup(tpath("user.model"));
        append_piece(src, dst, "<SEP>", SPM_USER);
        Tokenizer *t = load_ok(dst);
        IntVec with = {0}, a = {0}, b = {0};
        LabErr e = {0};
        assert_int_equal(tok_encode(t, "Romeo<SEP>Juliet", 16, false, &with, &e), 0);
        int n_sep = 0;
        for (size_t k = 0; k < with.n; k++) n_sep += with.v[k] == 800;
        assert_int_equal(n_sep, 1);
        Buf out = {0};
        assert_int_equal(tok_decode(t, with.v, with.n, &out, &e), 0);
        assert_string_equal(out.data, "Romeo<SEP>Juliet");
        buf_free(&out);
        /* a control symbol is never matched in text: the same characters as any other */
        append_piece(src, dst, "<CTL>", SPM_CONTROL);
        tok_free(t);
        t = load_ok(dst);
        assert_int_equal(tok_encode(t, "x<CTL>", 6, false, &a, &e), 0);
        for (size_t k = 0; k < a.n; k++) assert_int_not_equal(a.v[k], 800);
        int ctl = 800;
        assert_int_equal(tok_decode(t, &ctl, 1, &out, &e), 0);
        assert_string_equal(out.data ? out.data : "", "");
        buf_free(&out);
        ivec_free(&with);
        ivec_free(&a);
        ivec_free(&b);
        tok_free(t);
        free(dst);
        free(src);
    }
}

static void test_bad_files(void **state) {
    (void)state;
    const char *bd = getenv("TEST_BAD_DIR");
    assert_non_null(bd);
    char p[4096];
    snprintf(p, sizeof p, "%s/spm/expected.json", bd);
    json_t *exp = load_json(p);
    assert_true(json_object_size(exp) >= 10);
    const char *name;
    json_t *msg;
    json_object_foreach(exp, name, msg) {
        snprintf(p, sizeof p, "%s/spm/%s", bd, name);
        Tokenizer *t = NULL;
        LabErr e = {0};
        int rc = tok_load_file(&t, p, 0, &e);
        if (rc == 0) fail_msg("%s loaded, expected an error with '%s'", name, json_string_value(msg));
        assert_null(t);
        if (!strstr(e.msg, json_string_value(msg)) || !strstr(e.msg, name))
            fail_msg("%s: error '%s' does not name the file or say '%s'", name, e.msg, json_string_value(msg));
    }
    json_decref(exp);
}

/* Every prefix length at a stride and a few hundred single-byte changes of a good model (a fixed
 * seed): each loads or is refused with a message; one that loads encodes and decodes text. Under
 * the sanitizer build this is where a read past a bound would show. */
static void test_mutations(void **state) {
    (void)state;
    char *src = ref("bpe-bytefallback/bpe-bytefallback.model");
    char *data = NULL;
    size_t n = 0;
    LabErr e = {0};
    assert_int_equal(file_read_all(src, 1 << 24, &data, &n, &e), 0);
    char *dst = strdup(tpath("mut.model"));
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int loaded = 0, refused = 0;
    for (int k = 0; k < 140; k++) {
        size_t len = n;
        unsigned char *b = malloc(n);
        memcpy(b, data, n);
        if (k < 40) {
            len = (size_t)k * (n / 40);
        } else {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(seed >> 33) % n;
            b[at] = (unsigned char)(seed >> 13);
        }
        FILE *f = fopen(dst, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(fwrite(b, 1, len, f), len);
        fclose(f);
        free(b);
        Tokenizer *t = NULL;
        if (tok_load_file(&t, dst, 0, &e)) {
            assert_null(t);
            assert_non_null(strstr(e.msg, "mut.model"));
            refused++;
            continue;
        }
        loaded++;
        IntVec v = {0};
        Buf out = {0};
        const char *text = "O Romeo, Romeo! ﬁne ① 🙂 x";
        if (tok_encode(t, text, strlen(text), true, &v, &e) == 0) tok_decode(t, v.v, v.n, &out, &e);
        buf_free(&out);
        ivec_free(&v);
        tok_free(t);
    }
    printf("# mutations: %d loaded, %d refused\n", loaded, refused);
    assert_true(refused >= 40 - 1); /* the truncations short of the whole file are refused */
    free(dst);
    free(data);
    free(src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unigram_default),
        cmocka_unit_test(test_bpe_byte_fallback),
        cmocka_unit_test(test_digits_nfkc_cf),
        cmocka_unit_test(test_fast_conversions),
        cmocka_unit_test(test_beside_weights),
        cmocka_unit_test(test_user_defined),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
