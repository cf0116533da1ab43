/* GGUF reader and writer: the golden llama.cpp files parse, what we write reads back, and every
 * broken case of llama.cpp's tests/test-gguf.cpp (plus truncation at every byte and random
 * mutations) gives its own error, never a read out of bounds.
 *
 * `test_gguf --write-corpus DIR` writes the hand-made broken files of tests/bad/gguf/ and their
 * expected errors (MANIFEST) from the same table the tests use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gguf.h"
#include "../fixture.h"

/* ---------- a byte-level builder of GGUF images ---------- */
typedef struct {
    const char *magic;
    uint32_t version;
    uint64_t n_tensors, n_kv;     /* written as given (the file has 2 tensors and 5 pairs) */
    uint64_t key_len;             /* length written for the first key (0 = true length) */
    uint32_t kv_type;             /* type of the third pair (default u32 = 4) */
    const char *dup_key;          /* name of the second key (default "general.name") */
    uint32_t align_type;          /* type of general.alignment (default u32) */
    uint32_t alignment;
    uint64_t arr_n;               /* element count written for the i32 array (0 = true count 3) */
    uint32_t arr_type;            /* element type of that array (default i32 = 5) */
    uint64_t name_len;            /* length written for tensor b's name (0 = true) */
    const char *name_b;           /* tensor b's name (default "b") */
    uint32_t n_dims_a;            /* default 2 */
    uint64_t ne_a[4];             /* default {32, 2} */
    uint32_t type_b;              /* default q8_0 */
    uint64_t offset_b;            /* default: aligned end of a */
    bool offset_b_set;
    size_t data_short;            /* bytes cut from the end */
} Spec;

static void put(Buf *b, const void *p, size_t n) { assert_int_equal(buf_append(b, p, n), 0); }
static void put32(Buf *b, uint32_t v) { put(b, &v, 4); }
static void put64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void putstr(Buf *b, const char *s) { put64(b, strlen(s)); put(b, s, strlen(s)); }

static Spec spec_ok(void) {
    return (Spec){.magic = "GGUF", .version = 3, .n_tensors = 2, .n_kv = 5, .kv_type = GGUF_TYPE_UINT32,
                  .dup_key = "general.name", .align_type = GGUF_TYPE_UINT32, .alignment = 64,
                  .arr_type = GGUF_TYPE_INT32, .name_b = "b", .n_dims_a = 2, .ne_a = {32, 2, 1, 1},
                  .type_b = GGML_TYPE_Q8_0};
}

static void build(const Spec *s, Buf *b) {
    buf_clear(b);
    put(b, s->magic, 4);
    put32(b, s->version);
    put64(b, s->n_tensors);
    put64(b, s->n_kv);
    /* 1: general.architecture = "llama" */
    const char *k = "general.architecture";
    put64(b, s->key_len ? s->key_len : strlen(k));
    put(b, k, strlen(k));
    put32(b, GGUF_TYPE_STRING);
    putstr(b, "llama");
    /* 2: general.name (or a duplicate) */
    putstr(b, s->dup_key);
    put32(b, GGUF_TYPE_STRING);
    putstr(b, "tiny");
    /* 3: a scalar of a chosen type (u32 7) */
    putstr(b, "llama.block_count");
    put32(b, s->kv_type);
    put32(b, 7);
    /* 4: general.alignment */
    putstr(b, "general.alignment");
    put32(b, s->align_type);
    put32(b, s->alignment);
    /* 5: an i32 array */
    putstr(b, "tokenizer.ggml.token_type");
    put32(b, GGUF_TYPE_ARRAY);
    put32(b, s->arr_type);
    put64(b, s->arr_n ? s->arr_n : 3);
    put32(b, 1); put32(b, 2); put32(b, 3);
    /* tensor a: f32 [32, 2] at 0 */
    putstr(b, "a");
    put32(b, s->n_dims_a);
    for (uint32_t d = 0; d < s->n_dims_a && d < 4; d++) put64(b, s->ne_a[d]);
    put32(b, GGML_TYPE_F32);
    put64(b, 0);
    /* tensor b: q8_0 [64] after a */
    put64(b, s->name_len ? s->name_len : strlen(s->name_b));
    put(b, s->name_b, strlen(s->name_b));
    put32(b, 1);
    put64(b, 64);
    put32(b, s->type_b);
    size_t al = s->alignment && !(s->alignment & (s->alignment - 1)) ? s->alignment : 32;
    put64(b, s->offset_b_set ? s->offset_b : (256 + al - 1) / al * al);
    while (b->len % al) put(b, "", 1);
    size_t data0 = b->len;
    for (int i = 0; i < 64; i++) { float f = (float)i; put(b, &f, 4); }
    while ((b->len - data0) % al) put(b, "", 1);
    for (int i = 0; i < 2; i++) {
        uint16_t d = 0x3c00; /* 1.0 */
        put(b, &d, 2);
        for (int j = 0; j < 32; j++) { int8_t q = (int8_t)(j - 16); put(b, &q, 1); }
    }
    b->len -= s->data_short < b->len ? s->data_short : b->len;
}

/* ---------- the broken cases (llama.cpp's handcrafted files, and more) ---------- */
typedef struct {
    const char *name;   /* file name in tests/bad/gguf/ */
    void (*mod)(Spec *);
    const char *expect; /* substring of the error */
} Case;

#define CASE(n, body) static void mod_##n(Spec *s) { body; }
CASE(bad_magic, s->magic = "GGML")
CASE(version_0, s->version = 0)
CASE(version_1, s->version = 1)
CASE(version_future, s->version = 4)
CASE(n_tensors_2_63, s->n_tensors = 1ull << 63)
CASE(n_tensors_too_many, s->n_tensors = 3)
CASE(n_kv_2_63, s->n_kv = 1ull << 63)
CASE(n_kv_max, s->n_kv = UINT64_MAX)
CASE(key_size_huge, s->key_len = 1ull << 62)
CASE(kv_bad_type, s->kv_type = 13)
CASE(kv_duplicate_key, s->dup_key = "general.architecture")
CASE(align_not_pow2, s->alignment = 48)
CASE(align_zero, s->alignment = 0)
CASE(align_wrong_type, s->align_type = GGUF_TYPE_INT32)
CASE(array_count_huge, s->arr_n = 1ull << 61)
CASE(array_nested, s->arr_type = GGUF_TYPE_ARRAY)
CASE(array_bad_type, s->arr_type = 77)
CASE(tensor_name_too_long, { s->name_b = "a_tensor_name_that_is_much_longer_than_the_sixty_four_bytes_ggml_allows"; })
CASE(tensor_name_size_huge, s->name_len = UINT64_MAX - 3)
CASE(tensor_dims_0, s->n_dims_a = 0)
CASE(tensor_dims_5, s->n_dims_a = 5)
CASE(tensor_shape_zero, s->ne_a[1] = 0)
CASE(tensor_shape_negative, s->ne_a[1] = (uint64_t)-5)
CASE(tensor_ne_overflow, { s->n_dims_a = 4; s->ne_a[1] = 1ull << 30; s->ne_a[2] = 1ull << 30; s->ne_a[3] = 1ull << 20; })
CASE(tensor_bad_type, s->type_b = 99)
CASE(tensor_removed_type, s->type_b = 4)
CASE(tensor_block_mismatch, s->type_b = GGML_TYPE_Q4_K)
CASE(tensor_offset_unaligned, { s->offset_b = 260; s->offset_b_set = true; })
CASE(tensor_offset_past_end, { s->offset_b = 1ull << 40; s->offset_b_set = true; })
CASE(tensor_offset_max, { s->offset_b = UINT64_MAX - 63; s->offset_b_set = true; })
CASE(tensor_overlap, { s->offset_b = 192; s->offset_b_set = true; })
CASE(tensor_duplicate_name, s->name_b = "a")
CASE(data_not_enough, s->data_short = 1)
#undef CASE

static const Case k_cases[] = {
#define C(n, msg) {#n, mod_##n, msg}
    C(bad_magic, "not a GGUF file"),
    C(version_0, "GGUF version 0 is not valid"),
    C(version_1, "GGUF version 1"),
    C(version_future, "GGUF version 4 is not valid"),
    C(n_tensors_2_63, "tensor count 9223372036854775808 cannot fit"),
    C(n_tensors_too_many, "tensor 2 has an empty name"),
    C(n_kv_2_63, "key-value count 9223372036854775808 cannot fit"),
    C(n_kv_max, "key-value count 18446744073709551615 cannot fit"),
    C(key_size_huge, "string length 4611686018427387904 exceeds"),
    C(kv_bad_type, "key 'llama.block_count' has unknown value type 13"),
    C(kv_duplicate_key, "duplicate key 'general.architecture'"),
    C(align_not_pow2, "general.alignment 48 is not a power of two"),
    C(align_zero, "general.alignment 0 is not a power of two"),
    C(align_wrong_type, "general.alignment has type i32, expected u32"),
    C(array_count_huge, "array of 2305843009213693952 i32 exceeds"),
    C(array_nested, "array of nested array"),
    C(array_bad_type, "array of unknown type 77"),
    C(tensor_name_too_long, "is too long"),
    C(tensor_name_size_huge, "exceeds the"),
    C(tensor_dims_0, "tensor 'a' has 0 dimensions"),
    C(tensor_dims_5, "tensor 'a' has 5 dimensions"),
    C(tensor_shape_zero, "tensor 'a': dimension 1 is 0"),
    C(tensor_shape_negative, "tensor 'a': dimension 1 is 18446744073709551611"),
    C(tensor_ne_overflow, "the product of its dimensions overflows"),
    C(tensor_bad_type, "tensor 'b' has unknown type 99"),
    C(tensor_removed_type, "tensor 'b' has unknown type 4"),
    C(tensor_block_mismatch, "not a multiple of q4_K's block size 256"),
    C(tensor_offset_unaligned, "offset 260 is not a multiple of the alignment 64"),
    C(tensor_offset_past_end, "ends past the end of the data"),
    C(tensor_offset_max, "ends past the end of the data"),
    C(tensor_overlap, "tensors 'a' and 'b' overlap"),
    C(tensor_duplicate_name, "duplicate tensor name 'a'"),
    C(data_not_enough, "tensor 'b' (offset 256, 68 bytes) ends past the end of the data"),
#undef C
};
#define N_CASES (sizeof k_cases / sizeof *k_cases)

/* Touches every byte the reader hands out, so that ASan sees any pointer past the image. */
static unsigned touch_all(const GgufFile *g) {
    unsigned h = 0;
    for (size_t i = 0; i < g->n_kv; i++) {
        const GgufKV *kv = &g->kv[i];
        h += (unsigned)strlen(kv->key);
        for (size_t j = 0; j < kv->str.len; j++) h += (uint8_t)kv->str.s[j];
        if (kv->strs)
            for (size_t a = 0; a < kv->n; a++)
                for (size_t j = 0; j < kv->strs[a].len; j++) h += (uint8_t)kv->strs[a].s[j];
    }
    for (size_t i = 0; i < g->n_tensors; i++) {
        const uint8_t *p = g->tensors[i].data;
        for (size_t j = 0; j < g->tensors[i].nbytes; j++) h += p[j];
    }
    return h;
}

static void test_valid_image_parses(void **state) {
    (void)state;
    Buf b = {0};
    Spec s = spec_ok();
    build(&s, &b);
    GgufFile *g;
    LabErr e = {0};
    int rc = gguf_parse(&g, b.data, b.len, "mem.gguf", &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(g->n_kv, 5);
    assert_int_equal(g->n_tensors, 2);
    assert_int_equal(g->alignment, 64);
    GgufStr arch;
    assert_int_equal(gguf_get_str(g, "general.architecture", &arch, &e), 0);
    assert_int_equal(arch.len, 5);
    assert_memory_equal(arch.s, "llama", 5);
    uint64_t bc;
    assert_int_equal(gguf_get_u64(g, "llama.block_count", &bc, &e), 0);
    assert_int_equal(bc, 7);
    assert_int_equal(gguf_get_u64(g, "absent.key", &bc, &e), 1);
    float f;
    assert_int_equal(gguf_get_f32(g, "general.architecture", &f, &e), -1);
    assert_non_null(strstr(e.msg, "general.architecture has type string, expected a float"));
    const GgufTensor *t = gguf_find_tensor(g, "b");
    assert_non_null(t);
    assert_int_equal(t->nbytes, 68);
    assert_int_equal(t->offset, 256);
    assert_int_equal(((const uint8_t *)t->data)[2], (uint8_t)-16);
    touch_all(g);
    gguf_close(g);
    buf_free(&b);
}

static void test_hostile_cases_give_their_error(void **state) {
    (void)state;
    Buf b = {0};
    for (size_t i = 0; i < N_CASES; i++) {
        Spec s = spec_ok();
        k_cases[i].mod(&s);
        build(&s, &b);
        GgufFile *g = NULL;
        LabErr e = {0};
        int rc = gguf_parse(&g, b.data, b.len, "bad.gguf", &e);
        if (rc == 0) fail_msg("case %s: parsed without error", k_cases[i].name);
        assert_null(g);
        if (!strstr(e.msg, k_cases[i].expect))
            fail_msg("case %s: error '%s' lacks '%s'", k_cases[i].name, e.msg, k_cases[i].expect);
        assert_memory_equal(e.msg, "bad.gguf: ", 10);
    }
    buf_free(&b);
}

/* Every prefix of a valid file is refused with an error (the full file is not). */
static void test_truncation_at_every_byte(void **state) {
    (void)state;
    Buf b = {0};
    Spec s = spec_ok();
    build(&s, &b);
    for (size_t n = 0; n < b.len; n++) {
        char *copy = malloc(n ? n : 1); /* exact size: ASan catches any read past n */
        memcpy(copy, b.data, n);
        GgufFile *g = NULL;
        LabErr e = {0};
        if (gguf_parse(&g, copy, n, "cut.gguf", &e) == 0) fail_msg("prefix of %zu bytes parsed", n);
        assert_true(strlen(e.msg) > 10);
        free(copy);
    }
    buf_free(&b);
}

/* Seeded random mutations of a valid image must never crash nor read outside it; what parses
 * must be self-consistent. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_fuzz_mutations(void **state) {
    (void)state;
    Buf b = {0};
    Spec s = spec_ok();
    build(&s, &b);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int parsed = 0;
    for (int it = 0; it < 3000; it++) {
        uint8_t *m = malloc(b.len);
        memcpy(m, b.data, b.len);
        int n_mut = 1 + (int)(rng_next(&seed) % 4);
        for (int k = 0; k < n_mut; k++) {
            size_t pos = rng_next(&seed) % b.len;
            switch (rng_next(&seed) % 4) {
            case 0: m[pos] = (uint8_t)rng_next(&seed); break;
            case 1: m[pos] ^= (uint8_t)(1u << (rng_next(&seed) % 8)); break;
            case 2: m[pos] = 0xff; break;
            default: if (pos + 8 <= b.len) memset(m + pos, 0xff, 8); break;
            }
        }
        size_t len = rng_next(&seed) % 8 == 0 ? rng_next(&seed) % b.len : b.len;
        GgufFile *g = NULL;
        LabErr e = {0};
        if (gguf_parse(&g, m, len, "fuzz.gguf", &e) == 0) {
            parsed++;
            touch_all(g);
            for (size_t i = 0; i < g->n_tensors; i++)
                assert_true((const uint8_t *)g->tensors[i].data + g->tensors[i].nbytes <= m + len);
            gguf_close(g);
        } else {
            assert_true(e.msg[0] != 0);
        }
        free(m);
    }
    assert_true(parsed > 0); /* some mutations (inside tensor data) leave a valid file */
    buf_free(&b);
}

static void test_writer_round_trip(void **state) {
    (void)state;
    char path[] = "/tmp/ablab_gguf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    LabErr e = {0};
    GgufWriter *w = gguf_writer_new(64);
    assert_non_null(w);
    float a[3 * 32];
    for (int i = 0; i < 96; i++) a[i] = (float)i * 0.5f;
    uint16_t h[5] = {0x3c00, 0x4000, 0, 0x8000, 0x7bff};
    int32_t ints[4] = {-1, 2, -3, 4};
    const char *toks[3] = {"<s>", "hello", ""};
    assert_int_equal(gguf_w_str(w, "general.architecture", "llama", 5, &e), 0);
    assert_int_equal(gguf_w_u32(w, "llama.block_count", 12, &e), 0);
    assert_int_equal(gguf_w_f32(w, "llama.rope.freq_base", 10000.0f, &e), 0);
    assert_int_equal(gguf_w_bool(w, "tokenizer.ggml.add_bos_token", true, &e), 0);
    assert_int_equal(gguf_w_i32(w, "x.neg", -7, &e), 0);
    assert_int_equal(gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, ints, 4, &e), 0);
    assert_int_equal(gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3, &e), 0);
    assert_int_equal(gguf_w_u32(w, "llama.block_count", 1, &e), -1);
    assert_non_null(strstr(e.msg, "duplicate key"));
    assert_int_equal(gguf_w_tensor(w, "a", GGML_TYPE_F32, 2, (uint64_t[]){32, 3}, a, &e), 0);
    assert_int_equal(gguf_w_tensor(w, "h", GGML_TYPE_F16, 1, (uint64_t[]){5}, h, &e), 0);
    assert_int_equal(gguf_w_tensor(w, "bad", GGML_TYPE_Q8_0, 1, (uint64_t[]){33}, a, &e), -1);
    assert_int_equal(gguf_w_write(w, path, &e), 0);
    gguf_writer_free(w);

    GgufFile *g;
    if (gguf_open(&g, path, &e)) fail_msg("%s", e.msg);
    assert_int_equal(g->alignment, 64);
    assert_int_equal(g->n_kv, 8); /* general.alignment included */
    uint64_t u;
    int64_t i64;
    float f;
    bool bl;
    assert_int_equal(gguf_get_u64(g, "llama.block_count", &u, &e), 0);
    assert_int_equal(u, 12);
    assert_int_equal(gguf_get_i64(g, "x.neg", &i64, &e), 0);
    assert_int_equal(i64, -7);
    assert_int_equal(gguf_get_u64(g, "x.neg", &u, &e), -1);
    assert_int_equal(gguf_get_f32(g, "llama.rope.freq_base", &f, &e), 0);
    assert_true(f == 10000.0f);
    assert_int_equal(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &bl, &e), 0);
    assert_true(bl);
    const GgufKV *kv;
    assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &kv, &e), 0);
    assert_int_equal(kv->n, 3);
    assert_int_equal(kv->strs[1].len, 5);
    assert_memory_equal(kv->strs[1].s, "hello", 5);
    assert_int_equal(kv->strs[2].len, 0);
    assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &kv, &e), 0);
    assert_memory_equal(kv->data, ints, sizeof ints);
    assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_FLOAT32, &kv, &e), -1);
    const GgufTensor *t = gguf_find_tensor(g, "a");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 32);
    assert_int_equal(t->ne[1], 3);
    assert_int_equal(t->n_dims, 2);
    assert_memory_equal(t->data, a, sizeof a);
    t = gguf_find_tensor(g, "h");
    assert_int_equal(t->offset % 64, 0);
    assert_memory_equal(t->data, h, sizeof h);
    assert_int_equal(g->data_offset % 64, 0);
    gguf_close(g);
    unlink(path);
}

static void test_golden_llama_cpp_files_parse(void **state) {
    (void)state;
    static const struct { const char *file, *arch; size_t n_tensors; int wtype; } k[] = {
        {"llama-tiny-gqa-f32.gguf", "llama", 21, GGML_TYPE_F32},
        {"llama-tiny-gqa-f16.gguf", "llama", 21, GGML_TYPE_F16},
        {"llama-tiny-gqa-q8_0.gguf", "llama", 21, GGML_TYPE_Q8_0},
        {"gpt2-tiny-random-f32.gguf", "gpt2", 29, GGML_TYPE_F32},
        {"gpt2-tiny-random-q8_0.gguf", "gpt2", 29, GGML_TYPE_Q8_0},
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        char path[4096], rel[256];
        snprintf(rel, sizeof rel, "golden/gguf/%s", k[i].file);
        /* the Llama files ship in tests/fixtures; GPT-2's (28 MB, 9 MB) only in ../shared */
        if (!fixture_want(path, sizeof path, rel)) {
            assert_int_equal(strcmp(k[i].arch, "gpt2"), 0);
            continue;
        }
        GgufFile *g;
        LabErr e = {0};
        if (gguf_open(&g, path, &e)) fail_msg("%s", e.msg);
        assert_int_equal(g->n_tensors, k[i].n_tensors);
        GgufStr arch;
        assert_int_equal(gguf_get_str(g, "general.architecture", &arch, &e), 0);
        assert_int_equal(arch.len, strlen(k[i].arch));
        assert_memory_equal(arch.s, k[i].arch, arch.len);
        const GgufTensor *t = gguf_find_tensor(g, "token_embd.weight");
        assert_non_null(t);
        assert_int_equal(t->type, k[i].wtype);
        assert_int_equal(t->ne[0], 64);
        const GgufKV *toks;
        assert_int_equal(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, &e), 0);
        assert_int_equal(toks->n, t->ne[1]);
        gguf_close(g);
    }
}

/* The files in tests/bad/gguf/ (written by --write-corpus from the table above) give the error
 * their MANIFEST line names, through the mapped-file path. */
static void test_bad_corpus_on_disk(void **state) {
    (void)state;
    const char *dir = getenv("TEST_BAD_DIR");
    assert_non_null(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/gguf/MANIFEST", dir);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab) continue;
        *tab = 0;
        char *want = tab + 1;
        want[strcspn(want, "\n")] = 0;
        snprintf(path, sizeof path, "%s/gguf/%s", dir, line);
        GgufFile *g = NULL;
        LabErr e = {0};
        if (gguf_open(&g, path, &e) == 0) fail_msg("%s parsed without error", line);
        if (!strstr(e.msg, want)) fail_msg("%s: error '%s' lacks '%s'", line, e.msg, want);
        n++;
    }
    fclose(f);
    assert_int_equal(n, (int)N_CASES);
}

static int write_corpus(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    FILE *man = fopen(path, "w");
    if (!man) return 1;
    fprintf(man, "# file<TAB>substring of the error ablab must give (written by test_gguf --write-corpus)\n");
    Buf b = {0};
    for (size_t i = 0; i < N_CASES; i++) {
        Spec s = spec_ok();
        k_cases[i].mod(&s);
        build(&s, &b);
        snprintf(path, sizeof path, "%s/%s.gguf", dir, k_cases[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) return 1;
        fprintf(man, "%s.gguf\t%s\n", k_cases[i].name, k_cases[i].expect);
    }
    buf_free(&b);
    return fclose(man) ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) return write_corpus(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_image_parses),
        cmocka_unit_test(test_hostile_cases_give_their_error),
        cmocka_unit_test(test_truncation_at_every_byte),
        cmocka_unit_test(test_fuzz_mutations),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_golden_llama_cpp_files_parse),
        cmocka_unit_test(test_bad_corpus_on_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
