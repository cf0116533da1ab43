/* Every model family against transformers: each folder of $TEST_DATA_DIR/ref/models (tiny random
 * checkpoints made by tools/refs/models.py with transformers' save_pretrained, their logits for
 * every prompt position and 24 greedy tokens) is run
 *   - from the Hugging Face folder: logits within 1e-3, greedy tokens identical;
 *   - from model.gguf (llama.cpp's convert_hf_to_gguf.py) where the converter made one: the same;
 *   - from ablab's own GGUF of it (eng_save_gguf, f32): the same, so the writer's names, keys and
 *     row orders are what the reader (and llama.cpp) expect;
 *   - with the weights in F16 and BF16 (--quant): within a tolerance relative to the largest
 *     reference logit, 1 % for F16 (11-bit mantissa) and 8 % for BF16 (8-bit), measured on these
 *     models at 0.04-0.35 % and 0.3-2.9 %. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine.h"
#include "gguf.h"
#include "test_engine_util.h"

typedef struct {
    IntVec prompt, greedy;
    float *logits;
    size_t T, V;
    float max_abs;
} Ref;

static void ref_free(Ref *r) {
    ivec_free(&r->prompt);
    ivec_free(&r->greedy);
    free(r->logits);
}

static void ref_read(const char *dir, Ref *g) {
    memset(g, 0, sizeof *g);
    char path[4600];
    snprintf(path, sizeof path, "%s/golden.json", dir);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (!r) fail_msg("%s: %s", path, je.text);
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(r, "input_ids"), i, v) ivec_push(&g->prompt, (int)json_integer_value(v));
    json_array_foreach(json_object_get(r, "greedy_new_ids"), i, v) ivec_push(&g->greedy, (int)json_integer_value(v));
    json_t *shape = json_object_get(r, "logits_shape");
    g->T = (size_t)json_integer_value(json_array_get(shape, 0));
    g->V = (size_t)json_integer_value(json_array_get(shape, 1));
    json_decref(r);
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    char *data;
    size_t len;
    LabErr e = {0};
    assert_int_equal(file_read_all(path, 0, &data, &len, &e), 0);
    assert_int_equal(len, g->T * g->V * 4);
    g->logits = (float *)data;
    assert_int_equal(g->prompt.n, g->T);
    for (size_t k = 0; k < g->T * g->V; k++)
        if (fabsf(g->logits[k]) > g->max_abs) g->max_abs = fabsf(g->logits[k]);
}

/* Max |ours - reference| over every prompt position; -1 when the model does not load (msg filled). */
static double logits_diff(const char *model, const Ref *g, const char *quant, char *msg, size_t msg_n) {
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 2, .quant = quant};
    if (eng_load(&m, model, &o, &e)) {
        snprintf(msg, msg_n, "%s", e.msg);
        return -1;
    }
    if (eng_info(m)->vocab != (int)g->V) {
        snprintf(msg, msg_n, "%s: vocabulary %d, reference %zu", model, eng_info(m)->vocab, g->V);
        eng_free(m);
        return -1;
    }
    float *out = malloc(g->T * g->V * sizeof *out);
    assert_non_null(out);
    double worst = 0.0;
    if (eng_logits(m, g->prompt.v, (int)g->T, out, &e)) {
        snprintf(msg, msg_n, "%s", e.msg);
        worst = -1;
    }
    for (size_t i = 0; worst >= 0 && i < g->T * g->V; i++) {
        double d = fabs((double)out[i] - g->logits[i]);
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    free(out);
    eng_free(m);
    return worst;
}

/* Greedy decoding after the prompt: the reference ran 24 steps without stopping at EOS, so ours
 * must match it token for token up to where it stops, and stop early only on an EOS (which is
 * then the reference's token there too). */
static void greedy_check(const char *model, const Ref *g) {
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1};
    if (eng_load(&m, model, &o, &e)) fail_msg("%s", e.msg);
    EngSampling s = eng_sampling_default();
    s.temp = 0;
    s.max_tokens = (int)g->greedy.n;
    EngGen *gen = NULL;
    if (eng_gen_start(&gen, m, g->prompt.v, (int)g->prompt.n, &s, &e)) fail_msg("%s", e.msg);
    EngPiece p;
    int rc;
    while ((rc = eng_gen_step(gen, &p, &e)) == 1) {}
    assert_int_equal(rc, 0);
    const IntVec *ids = eng_gen_ids(gen);
    for (size_t i = 0; i < ids->n; i++)
        if (i >= g->greedy.n || ids->v[i] != g->greedy.v[i])
            fail_msg("%s: greedy token %zu is %d, reference %d", model, i, ids->v[i], i < g->greedy.n ? g->greedy.v[i] : -1);
    /* the ids end with the EOS that stopped it, which matched the reference's token there */
    if (ids->n < g->greedy.n && p.stop != ENG_STOP_EOS)
        fail_msg("%s: greedy stopped (%s) after %zu of %zu tokens", model, eng_stop_name(p.stop), ids->n, g->greedy.n);
    eng_gen_free(gen);
    eng_free(m);
}

static int failures;

static void expect_close(const char *what, double d, double tol, const char *msg) {
    if (d < 0) {
        printf("FAIL %s: %s\n", what, msg);
        failures++;
    } else if (!(d <= tol)) {
        printf("FAIL %s: max |logit diff| = %.3g > %.3g\n", what, d, tol);
        failures++;
    } else {
        printf("ok   %s: max |logit diff| = %.3g (tolerance %.3g)\n", what, d, tol);
    }
}

static void run_family(const char *dir, const char *name) {
    Ref g;
    ref_read(dir, &g);
    char msg[1024] = "", path[4600];
    char what[512];
    snprintf(what, sizeof what, "%s hf f32", name);
    expect_close(what, logits_diff(dir, &g, NULL, msg, sizeof msg), 1e-3, msg);
    greedy_check(dir, &g);
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    if (file_exists(path) == 1) {
        snprintf(what, sizeof what, "%s llama.cpp gguf", name);
        expect_close(what, logits_diff(path, &g, NULL, msg, sizeof msg), 1e-3, msg);
        greedy_check(path, &g);
    }
    /* ablab's own GGUF of the folder */
    char tmpl[] = "/tmp/ablab-fam-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    snprintf(path, sizeof path, "%s/own.gguf", tmpl);
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1};
    if (eng_load(&m, dir, &o, &e) || eng_save_gguf(m, path, "f32", &e)) fail_msg("%s", e.msg);
    eng_free(m);
    snprintf(what, sizeof what, "%s ablab gguf", name);
    expect_close(what, logits_diff(path, &g, NULL, msg, sizeof msg), 1e-3, msg);
    greedy_check(path, &g);
    unlink(path);
    rmdir(tmpl);
    snprintf(what, sizeof what, "%s hf --quant f16", name);
    expect_close(what, logits_diff(dir, &g, "f16", msg, sizeof msg), 0.01 * g.max_abs, msg);
    snprintf(what, sizeof what, "%s hf --quant bf16", name);
    expect_close(what, logits_diff(dir, &g, "bf16", msg, sizeof msg), 0.08 * g.max_abs, msg);
    ref_free(&g);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_families(void **st) {
    (void)st;
    const char *td = getenv("TEST_DATA_DIR");
    char root[3900];
    snprintf(root, sizeof root, "%s/ref/models", td ? td : "");
    DIR *d = td ? opendir(root) : NULL;
    if (!d) {
        printf("# %s is absent: skipping\n", root);
        skip();
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s/golden.json", root, de->d_name);
        if (de->d_name[0] != '.' && file_exists(p) == 1) names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    const char *only = getenv("ABLAB_FAMILY"); /* run one folder while debugging */
    for (size_t i = 0; i < n; i++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        if (!only || !strcmp(only, names[i])) run_family(dir, names[i]);
        free(names[i]);
    }
    assert_true(n > 0);
    if (failures) fail_msg("%d checks failed", failures);
}

/* The folder of the first reference, or a skip. */
static bool first_ref(char *dir, size_t n, Ref *g) {
    const char *td = getenv("TEST_DATA_DIR");
    snprintf(dir, n, "%s/ref/models/qwen2", td ? td : "");
    char p[4200];
    snprintf(p, sizeof p, "%s/golden.json", dir);
    if (!td || file_exists(p) != 1) {
        printf("# %s is absent: skipping\n", p);
        skip();
        return false;
    }
    ref_read(dir, g);
    return true;
}

/* A copy of a reference folder (links to its files) with its own generation_config.json. */
static void folder_with_generation(char *out, size_t n, const char *src, const char *gen_json) {
    char tmpl[] = "/tmp/ablab-gen-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    snprintf(out, n, "%s", tmpl);
    static const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char a[4400], b[4400];
        snprintf(a, sizeof a, "%s/%s", src, files[i]);
        snprintf(b, sizeof b, "%s/%s", out, files[i]);
        assert_int_equal(symlink(a, b), 0);
    }
    char p[4400];
    snprintf(p, sizeof p, "%s/generation_config.json", out);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(gen_json, f);
    fclose(f);
}

static void folder_remove(const char *dir) {
    static const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                                  "generation_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* generation_config.json's eos_token_id, a list: greedy decoding stops on any of them (here the
 * reference's 4th greedy token, second in the list), and its bos_token_id replaces config.json's. */
static void test_generation_config_eos_list(void **st) {
    (void)st;
    char src[4096], dir[64];
    Ref g;
    if (!first_ref(src, sizeof src, &g)) return;
    char gen[256];
    snprintf(gen, sizeof gen, "{\"bos_token_id\": 5, \"eos_token_id\": [599, %d]}", g.greedy.v[3]);
    folder_with_generation(dir, sizeof dir, src, gen);
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1};
    if (eng_load(&m, dir, &o, &e)) fail_msg("%s", e.msg);
    assert_int_equal(eng_info(m)->bos_id, 5);
    assert_int_equal(eng_info(m)->eos_id, 599);
    EngSampling s = eng_sampling_default();
    s.temp = 0;
    s.max_tokens = 24;
    EngGen *gen_h = NULL;
    if (eng_gen_start(&gen_h, m, g.prompt.v, (int)g.prompt.n, &s, &e)) fail_msg("%s", e.msg);
    EngPiece p;
    int rc;
    while ((rc = eng_gen_step(gen_h, &p, &e)) == 1) {}
    assert_int_equal(rc, 0);
    assert_int_equal(p.stop, ENG_STOP_EOS);
    const IntVec *ids = eng_gen_ids(gen_h);
    assert_int_equal(ids->n, 4); /* three tokens, then the EOS that ends it */
    assert_int_equal(ids->v[3], g.greedy.v[3]);
    eng_gen_free(gen_h);
    eng_free(m);
    folder_remove(dir);
    /* a list of something else is refused, naming the file and the field */
    folder_with_generation(dir, sizeof dir, src, "{\"eos_token_id\": [\"</s>\"]}");
    assert_int_not_equal(eng_load(&m, dir, &o, &e), 0);
    assert_non_null(strstr(e.msg, "generation_config.json: \"eos_token_id\" is not a token id or a list of them"));
    folder_remove(dir);
    ref_free(&g);
}

/* Whether key is one of the '|'-separated keys of list. */
static bool in_list(const char *list, const char *key) {
    size_t n = strlen(key);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, key, n)) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* A copy of GGUF src at dst with the keys of `drop` ('|'-separated, NULL: none) left out and `add`
 * adding what replaces them. */
typedef int (*GgufAdd)(GgufWriter *w, LabErr *e);
static void gguf_variant(const char *src, const char *dst, const char *drop, GgufAdd add) {
    GgufFile *g = NULL;
    LabErr e = {0};
    if (gguf_open(&g, src, &e)) fail_msg("%s", e.msg);
    GgufWriter *w = gguf_writer_new(g->alignment);
    assert_non_null(w);
    for (size_t i = 0; i < g->n_kv; i++) {
        if (!strcmp(g->kv[i].key, "general.alignment") || in_list(drop, g->kv[i].key)) continue;
        if (gguf_w_kv(w, &g->kv[i], &e)) fail_msg("%s", e.msg);
    }
    if (add && add(w, &e)) fail_msg("%s", e.msg);
    for (size_t i = 0; i < g->n_tensors; i++) {
        const GgufTensor *t = &g->tensors[i];
        if (gguf_w_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, &e)) fail_msg("%s", e.msg);
    }
    if (gguf_w_write(w, dst, &e)) fail_msg("%s", e.msg);
    gguf_writer_free(w);
    gguf_close(g);
}

static int add_yarn(GgufWriter *w, LabErr *e) { return gguf_w_str(w, "qwen2.rope.scaling.type", "yarn", 4, e); }
static int add_attn_softcap(GgufWriter *w, LabErr *e) { return gguf_w_f32(w, "qwen2.attn_logit_softcapping", 30.0f, e); }
static int add_final_softcap(GgufWriter *w, LabErr *e) { return gguf_w_f32(w, "qwen2.final_logit_softcapping", 30.0f, e); }
static int add_half_rope(GgufWriter *w, LabErr *e) { return gguf_w_u32(w, "qwen2.rope.dimension_count", 8, e); }
static int add_key_length(GgufWriter *w, LabErr *e) { /* head_dim 8 where the tensors have 16 */
    return gguf_w_u32(w, "qwen2.attention.key_length", 8, e) || gguf_w_u32(w, "qwen2.attention.value_length", 8, e) ||
           gguf_w_u32(w, "qwen2.rope.dimension_count", 8, e);
}
static int add_short_pattern(GgufWriter *w, LabErr *e) {
    bool p[2] = {true, false};
    return gguf_w_arr(w, "gemma3.attention.sliding_window_pattern", GGUF_TYPE_BOOL, p, 2, e);
}

/* GGUF metadata that changes the math and that ablab does not apply is refused, each with its own
 * message naming the file and the key; so is metadata that disagrees with the tensors. */
static void test_gguf_refusals(void **st) {
    (void)st;
    const char *td = getenv("TEST_DATA_DIR");
    char qwen2[4200], gemma[4200];
    snprintf(qwen2, sizeof qwen2, "%s/ref/models/qwen2", td ? td : "");
    snprintf(gemma, sizeof gemma, "%s/ref/models/gemma3_text", td ? td : "");
    if (!td || file_exists(qwen2) != 2 || file_exists(gemma) != 2) {
        printf("# %s is absent: skipping\n", qwen2);
        skip();
        return;
    }
    char tmpl[] = "/tmp/ablab-ggufbad-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char good_q[128], good_g[128], bad[128];
    snprintf(good_q, sizeof good_q, "%s/qwen2.gguf", tmpl);
    snprintf(good_g, sizeof good_g, "%s/gemma3.gguf", tmpl);
    snprintf(bad, sizeof bad, "%s/bad.gguf", tmpl);
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1};
    if (eng_load(&m, qwen2, &o, &e) || eng_save_gguf(m, good_q, "f32", &e)) fail_msg("%s", e.msg);
    eng_free(m);
    if (eng_load(&m, gemma, &o, &e) || eng_save_gguf(m, good_g, "f32", &e)) fail_msg("%s", e.msg);
    eng_free(m);
    static const struct {
        const char *src_kind, *drop;
        GgufAdd add;
        const char *expect;
    } cases[] = {
        {"q", NULL, add_yarn, "qwen2.rope.scaling.type is 'yarn' (ablab applies none and linear, and rope_freqs)"},
        {"q", NULL, add_attn_softcap, "qwen2.attn_logit_softcapping = 30 is set, which ablab does not apply to qwen2"},
        {"q", NULL, add_final_softcap, "qwen2.final_logit_softcapping = 30 is set, which ablab does not apply to qwen2"},
        {"q", "qwen2.rope.dimension_count", add_half_rope,
         "qwen2.rope.dimension_count 8 differs from key_length 16 (partial rotary is read for gptneox and phi2)"},
        {"q", "qwen2.attention.key_length|qwen2.attention.value_length|qwen2.rope.dimension_count", add_key_length, "tensor 'blk.0.attn_q.weight' has shape [64, 64, 1, 1], expected [64, 32]"},
        {"g", "gemma3.attention.sliding_window_pattern", add_short_pattern, "gemma3.attention.sliding_window_pattern has 2 entries for 3 layers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gguf_variant(cases[i].src_kind[0] == 'q' ? good_q : good_g, bad, cases[i].drop, cases[i].add);
        int rc = eng_load(&m, bad, &o, &e);
        if (rc == 0) fail_msg("case %zu loaded; expected \"%s\"", i, cases[i].expect);
        if (!strstr(e.msg, cases[i].expect) || !strstr(e.msg, "bad.gguf"))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, e.msg, cases[i].expect);
        printf("ok   %s\n", cases[i].expect);
        unlink(bad);
    }
    unlink(good_q);
    unlink(good_g);
    rmdir(tmpl);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_families), cmocka_unit_test(test_generation_config_eos_list),
                                       cmocka_unit_test(test_gguf_refusals)};
    return cmocka_run_group_tests_name("families", tests, NULL, NULL);
}
