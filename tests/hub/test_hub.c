/* src/hub/'s choice of files (hub_select) on listings shaped like real repositories: which files a
 * user gets decides whether a pull loads at all and how many gigabytes it costs. The network side
 * is tested end to end by test_pull.py against fake_hub.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hub.h"

/* A listing of the given names (sizes 1, no sha256: hub_select looks at names only). */
static HubList listing(const char *const *names) {
    HubList l = {0};
    size_t n = 0;
    while (names[n]) n++;
    if (n == 0) return l;
    l.v = calloc(n, sizeof *l.v);
    assert_non_null(l.v);
    for (size_t i = 0; i < n; i++) {
        l.v[i].path = strdup(names[i]);
        l.v[i].size = 1;
    }
    l.n = n;
    return l;
}

/* The selected names, sorted, joined by spaces. */
static char *chosen(const HubList *l, const IntVec *sel) {
    const char *v[64];
    size_t n = sel->n;
    assert_true(n < 64);
    for (size_t i = 0; i < n; i++) v[i] = l->v[sel->v[i]].path;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    Buf b = {0};
    for (size_t i = 0; i < n; i++) buf_printf(&b, "%s%s", i ? " " : "", v[i]);
    return b.data ? buf_steal(&b) : strdup("");
}

static void expect(const char *const *names, const char *const *include, int n_include, const char *want,
                   const char *note_has) {
    HubList l = listing(names);
    IntVec sel = {0};
    Buf note = {0};
    LabErr e = {0};
    assert_int_equal(hub_select(&l, include, n_include, &sel, &note, &e), 0);
    char *got = chosen(&l, &sel);
    assert_string_equal(got, want);
    if (note_has) {
        assert_non_null(note.data);
        assert_non_null(strstr(note.data, note_has));
    } else {
        assert_true(note.len == 0);
    }
    free(got);
    ivec_free(&sel);
    buf_free(&note);
    hub_list_free(&l);
}

static void expect_err(const char *const *names, const char *const *include, int n_include, LabErrCode code, const char *msg_has) {
    HubList l = listing(names);
    IntVec sel = {0};
    LabErr e = {0};
    assert_int_equal(hub_select(&l, include, n_include, &sel, NULL, &e), -1);
    assert_int_equal(e.code, code);
    if (!strstr(e.msg, msg_has)) fail_msg("'%s' not in: %s", msg_has, e.msg);
    ivec_free(&sel);
    hub_list_free(&l);
}

/* openai-community/gpt2-xl's top level: PyTorch, TensorFlow, Flax, Rust and ONNX copies beside the
 * safetensors; only config, tokenizer and safetensors come. */
static void test_gpt2_xl(void **state) {
    (void)state;
    const char *names[] = {".gitattributes", "README.md", "config.json", "flax_model.msgpack", "generation_config.json",
                           "merges.txt", "model.safetensors", "pytorch_model.bin", "rust_model.ot", "tf_model.h5",
                           "tokenizer.json", "vocab.json", "64-8bits.tflite", NULL};
    expect(names, NULL, 0, "config.json generation_config.json merges.txt model.safetensors tokenizer.json vocab.json", NULL);
}

/* A sharded checkpoint brings every shard and the index; Mistral's second copy of the weights
 * (consolidated.safetensors) stays behind. */
static void test_shards_and_mistral(void **state) {
    (void)state;
    const char *names[] = {"config.json", "consolidated.safetensors", "model-00001-of-00002.safetensors",
                           "model-00002-of-00002.safetensors", "model.safetensors.index.json", "params.json",
                           "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json", NULL};
    expect(names, NULL, 0,
           "config.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors model.safetensors.index.json "
           "special_tokens_map.json tokenizer.json tokenizer.model tokenizer_config.json", NULL);
    const char *only[] = {"consolidated.safetensors", "params.json", "tokenizer.model", NULL};
    expect(only, NULL, 0, "consolidated.safetensors tokenizer.model", NULL); /* the only weights there are */
}

/* A GGUF repository: one file, Q4_K_M by default (said in the note), else Q8_0, else the only one;
 * several without either is an error asking for --include and naming them. */
static void test_gguf_choice(void **state) {
    (void)state;
    const char *many[] = {"README.md", "Llama-3.2-1B-Instruct-Q3_K_L.gguf", "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
                          "Llama-3.2-1B-Instruct-Q8_0.gguf", "Llama-3.2-1B-Instruct-f16.gguf", NULL};
    expect(many, NULL, 0, "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "taking Llama-3.2-1B-Instruct-Q4_K_M.gguf");
    const char *q8[] = {"tiny.Q8_0.gguf", "tiny.F16.gguf", NULL};
    expect(q8, NULL, 0, "tiny.Q8_0.gguf", "taking tiny.Q8_0.gguf");
    const char *one[] = {"config.json", "model-f16.gguf", NULL};
    expect(one, NULL, 0, "config.json model-f16.gguf", NULL);
    const char *none[] = {"a-Q2_K.gguf", "a-F16.gguf", NULL};
    expect_err(none, NULL, 0, LAB_EINVAL, "pick one with --include NAME\n  a-Q2_K.gguf\n  a-F16.gguf");
    /* safetensors win over GGUFs in a repository that has both */
    const char *both[] = {"config.json", "model.safetensors", "model-Q4_K_M.gguf", NULL};
    expect(both, NULL, 0, "config.json model.safetensors", NULL);
}

/* --include replaces the choice of weights; config and tokenizer files still come; a glob that
 * matches nothing lists the repository. */
static void test_include(void **state) {
    (void)state;
    const char *many[] = {"config.json", "m-Q4_K_M.gguf", "m-Q8_0.gguf", "m-F16.gguf", "tokenizer.json", NULL};
    const char *inc[] = {"*Q8_0*"};
    expect(many, inc, 1, "config.json m-Q8_0.gguf tokenizer.json", NULL);
    const char *two[] = {"*F16.gguf", "*.gguf"}; /* overlapping globs: each file once */
    expect(many, two, 2, "config.json m-F16.gguf m-Q4_K_M.gguf m-Q8_0.gguf tokenizer.json", NULL);
    const char *bad[] = {"*.onnx"};
    expect_err(many, bad, 1, LAB_EINVAL, "--include '*.onnx' matches no file; the repository has: config.json, m-Q4_K_M.gguf");
}

/* Nothing ablab loads: refused, naming what there is. */
static void test_no_weights(void **state) {
    (void)state;
    const char *names[] = {"config.json", "pytorch_model.bin", "vocab.json", NULL};
    expect_err(names, NULL, 0, LAB_ENOTFOUND, "no safetensors or GGUF weights in the repository (it has: config.json, pytorch_model.bin");
    const char *empty[] = {NULL};
    expect_err(empty, NULL, 0, LAB_ENOTFOUND, "it has: nothing");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_xl),
        cmocka_unit_test(test_shards_and_mistral),
        cmocka_unit_test(test_gguf_choice),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_no_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
