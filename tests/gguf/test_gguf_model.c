/* GGUF models end to end: the files llama.cpp's converter wrote give the logits in their .ref
 * folders (F32/F16 within 1e-3, Q8_0 within 1e-2; activations stay float32) and the same greedy
 * tokens; files ablab writes load back with the same logits and carry llama.cpp's metadata;
 * --quant q8_0 at load quantizes exactly as llama.cpp; perplexity reproduces a hand computation
 * from the golden logits; KL of a model against itself is zero. */
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
#include <sys/stat.h>

#include "engine.h"
#include "gguf.h"
#include "../engine/test_engine_util.h"

typedef struct {
    IntVec ids, greedy;
    float *logits; /* [T][V] */
    size_t T, V;
} Ref;

static void ref_free(Ref *r) {
    ivec_free(&r->ids);
    ivec_free(&r->greedy);
    free(r->logits);
}

/* A reference folder (golden.json + logits.f32). */
static void ref_read_dir(const char *dir, Ref *r) {
    memset(r, 0, sizeof *r);
    char path[4200];
    snprintf(path, sizeof path, "%s/golden.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fail_msg("%s: %s", path, je.text);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "input_ids"), i, v) ivec_push(&r->ids, (int)json_integer_value(v));
    json_array_foreach(json_object_get(j, "greedy_new_ids"), i, v) ivec_push(&r->greedy, (int)json_integer_value(v));
    r->T = (size_t)json_integer_value(json_array_get(json_object_get(j, "logits_shape"), 0));
    r->V = (size_t)json_integer_value(json_array_get(json_object_get(j, "logits_shape"), 1));
    json_decref(j);
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    char *data;
    size_t len;
    LabErr e = {0};
    if (file_read_all(path, 0, &data, &len, &e)) fail_msg("%s", e.msg);
    assert_int_equal(len, r->T * r->V * sizeof(float));
    assert_int_equal(r->ids.n, r->T);
    r->logits = (float *)data;
}

/* A reference folder named by its place in ../shared; false after skip() when it is nowhere. */
static bool ref_read(const char *rel, Ref *r) {
    char dir[4096];
    memset(r, 0, sizeof *r);
    if (!shared_path(dir, sizeof dir, "%s", rel)) return false;
    ref_read_dir(dir, r);
    return true;
}

static EngModel *load(const char *path, const char *quant) {
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 2, .quant = quant};
    if (eng_load(&m, path, &o, &e)) fail_msg("%s", e.msg);
    /* `ablab inspect` shows the file's size as the bytes on disk */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) assert_int_equal(eng_info(m)->bytes_on_disk, (size_t)st.st_size);
    return m;
}

static float *logits_of(EngModel *m, const Ref *r) {
    float *out = malloc(r->T * r->V * sizeof *out);
    LabErr e = {0};
    assert_int_equal((size_t)eng_info(m)->vocab, r->V);
    if (eng_logits(m, r->ids.v, (int)r->T, out, &e)) fail_msg("%s", e.msg);
    return out;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= w)) w = d;
    }
    return w;
}

/* Greedy continuation by argmax of the last position, one eng_logits call per token. */
static void check_greedy(EngModel *m, const Ref *r) {
    IntVec seq = {0};
    for (size_t i = 0; i < r->T; i++) ivec_push(&seq, r->ids.v[i]);
    float *lg = malloc((r->T + r->greedy.n) * r->V * sizeof *lg);
    LabErr e = {0};
    for (size_t k = 0; k < r->greedy.n; k++) {
        if (eng_logits(m, seq.v, (int)seq.n, lg, &e)) fail_msg("%s", e.msg);
        const float *last = lg + (seq.n - 1) * r->V;
        int best = 0;
        for (size_t v = 1; v < r->V; v++)
            if (last[v] > last[best]) best = (int)v;
        if (best != r->greedy.v[k]) fail_msg("greedy token %zu: %d, reference %d", k, best, r->greedy.v[k]);
        ivec_push(&seq, best);
    }
    free(lg);
    ivec_free(&seq);
}

static void golden_gguf(const char *name, double tol, bool greedy) {
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "golden/gguf/%s.ref", name);
    Ref r;
    if (!ref_read(rel, &r)) return;
    snprintf(rel, sizeof rel, "golden/gguf/%s.gguf", name);
    if (!shared_path(path, sizeof path, "%s", rel)) return;
    EngModel *m = load(path, NULL);
    assert_string_equal(eng_info(m)->format, "gguf");
    float *lg = logits_of(m, &r);
    double d = max_diff(lg, r.logits, r.T * r.V);
    print_message("%s: max |logit - ref| = %.3g (tolerance %g)\n", name, d, tol);
    assert_true(d <= tol);
    if (greedy) check_greedy(m, &r);
    free(lg);
    eng_free(m);
    ref_free(&r);
}

static void test_llama_f32(void **s) { (void)s; golden_gguf("llama-tiny-gqa-f32", 1e-3, true); }
static void test_llama_f16(void **s) { (void)s; golden_gguf("llama-tiny-gqa-f16", 1e-3, true); }
/* The Q8_0 references are transformers' logits on the dequantized weights with float activations.
 * ablab rounds the activations to int8 blocks before every Q8_0 product, as llama.cpp does: that
 * moves the logits as far from these references as llama.cpp itself lands (max 0.022 on
 * llama-tiny-gqa-q8_0, 0.025 on gpt2-tiny-random-q8_0; ablab 0.022 and 0.025). */
#define Q8_0_VS_FLOAT_REF 4e-2
static void test_llama_q8_0(void **s) { (void)s; golden_gguf("llama-tiny-gqa-q8_0", Q8_0_VS_FLOAT_REF, false); }
static void test_gpt2_f32(void **s) { (void)s; golden_gguf("gpt2-tiny-random-f32", 1e-3, true); }
static void test_gpt2_q8_0(void **s) { (void)s; golden_gguf("gpt2-tiny-random-q8_0", Q8_0_VS_FLOAT_REF, false); }

/* ablab's logits on llama.cpp's own file at rel (golden/gguf/NAME.gguf), for the ids of r */
static float *logits_of_shared(const char *rel, const Ref *r) {
    char path[4096];
    if (!shared_path(path, sizeof path, "%s", rel)) fail_msg("%s missing", rel);
    EngModel *m = load(path, NULL);
    float *lg = logits_of(m, r);
    eng_free(m);
    return lg;
}

static char *tmp_path(const char *suffix) {
    char *p = malloc(256);
    snprintf(p, 256, "/tmp/ablab_test_%d_%s", (int)getpid(), suffix);
    return p;
}

/* A Hugging Face folder written as GGUF at quant and loaded back: its logits against ref_rel
 * (the HF reference for f32; llama.cpp's own file's reference for q8_0, since we quantize as
 * llama.cpp does) within tol, and the metadata llama.cpp reads. */
static void round_trip_dir(const char *folder, const char *dir, const char *quant, const char *ref_rel, const Ref *ref,
                           double tol, const char *arch) {
    Ref r = *ref;
    EngModel *m = load(dir, NULL);
    char *out = tmp_path("rt.gguf");
    LabErr e = {0};
    if (eng_save_gguf(m, out, quant, &e)) fail_msg("%s", e.msg);
    float *before = logits_of(m, &r);
    eng_free(m);

    GgufFile *g;
    if (gguf_open(&g, out, &e)) fail_msg("%s", e.msg);
    char key[128];
    GgufStr a;
    uint64_t u;
    assert_int_equal(gguf_get_str(g, "general.architecture", &a, &e), 0);
    assert_true(a.len == strlen(arch) && !memcmp(a.s, arch, a.len));
    static const char *const keys[] = {"context_length", "embedding_length", "block_count", "feed_forward_length",
                                       "attention.head_count"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        snprintf(key, sizeof key, "%s.%s", arch, keys[i]);
        if (gguf_get_u64(g, key, &u, &e) != 0) fail_msg("%s missing", key);
    }
    assert_int_equal(gguf_get_u64(g, "general.alignment", &u, &e), 0);
    assert_int_equal(u, 32);
    const GgufTensor *te = gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(te);
    assert_string_equal(ggml_type_name(te->type), quant);
    gguf_close(g);

    EngModel *back = load(out, NULL);
    float *after = logits_of(back, &r);
    double d = max_diff(after, r.logits, r.T * r.V);
    print_message("%s -> %s gguf: max |logit - %s| = %.3g (tolerance %g)\n", folder, quant, ref_rel, d, tol);
    assert_true(d <= tol);
    if (!strcmp(quant, "q8_0")) { /* the same bytes as llama.cpp's converter: the same logits as its file */
        char rel[256];
        snprintf(rel, sizeof rel, "%.*s.gguf", (int)(strlen(ref_rel) - 4), ref_rel);
        float *theirs = logits_of_shared(rel, &r);
        double dt = max_diff(after, theirs, r.T * r.V);
        print_message("%s -> q8_0 gguf: max |logit - ablab on %s| = %.3g\n", folder, rel, dt);
        assert_true(dt <= 1e-5);
        free(theirs);
    }
    if (!strcmp(quant, "f32")) assert_true(max_diff(after, before, r.T * r.V) <= 1e-5);
    free(before);
    free(after);
    eng_free(back);
    unlink(out);
    free(out);
}

static void round_trip(const char *folder, const char *quant, const char *ref_rel, double tol, const char *arch) {
    char dir[4096];
    if (!shared_path(dir, sizeof dir, "golden/%s", folder)) return;
    Ref r;
    if (!ref_read(ref_rel, &r)) return;
    round_trip_dir(folder, dir, quant, ref_rel, &r, tol, arch);
    ref_free(&r);
}

static void test_write_llama_f32(void **s) { (void)s; round_trip("llama-tiny-gqa", "f32", "golden/llama-tiny-gqa", 1e-3, "llama"); }
static void test_write_llama_q8_0(void **s) {
    (void)s;
    round_trip("llama-tiny-gqa", "q8_0", "golden/gguf/llama-tiny-gqa-q8_0.ref", Q8_0_VS_FLOAT_REF, "llama");
}
/* BF16 keeps 8 bits of mantissa: weights move by up to 2^-9 relative, logits by ~1e-2 here */
static void test_write_llama_bf16(void **s) { (void)s; round_trip("llama-tiny-gqa", "bf16", "golden/llama-tiny-gqa", 5e-2, "llama"); }
/* The shipped gpt2-mini against its training reference, and gpt2-tiny-random when ../shared has it */
static void test_write_gpt2_f32(void **s) {
    (void)s;
    char dir[4096], ref[4096];
    snprintf(dir, sizeof dir, "%s/models/gpt2-mini", getenv("ABLAB_ASSETS"));
    snprintf(ref, sizeof ref, "%s/default-models/gpt2-mini", getenv("TEST_DATA_DIR"));
    Ref r;
    ref_read_dir(ref, &r);
    round_trip_dir("gpt2-mini", dir, "f32", "its training reference", &r, 1e-3, "gpt2");
    ref_free(&r);
    if (fixture_want(dir, sizeof dir, "golden/gpt2-tiny-random"))
        round_trip("gpt2-tiny-random", "f32", "golden/gpt2-tiny-random", 1e-3, "gpt2");
}
static void test_write_gpt2_q8_0(void **s) {
    (void)s;
    round_trip("gpt2-tiny-random", "q8_0", "golden/gguf/gpt2-tiny-random-q8_0.ref", Q8_0_VS_FLOAT_REF, "gpt2");
}
/* A GGUF file (permuted q/k, interleaved RoPE) written again stays what it was. */
static void test_rewrite_gguf(void **s) {
    (void)s;
    char path[4096];
    if (!shared_path(path, sizeof path, "golden/gguf/llama-tiny-gqa-f16.gguf")) return;
    Ref r;
    if (!ref_read("golden/gguf/llama-tiny-gqa-f16.ref", &r)) return;
    EngModel *m = load(path, NULL);
    char *out = tmp_path("re.gguf");
    LabErr e = {0};
    if (eng_save_gguf(m, out, "f16", &e)) fail_msg("%s", e.msg);
    eng_free(m);
    EngModel *back = load(out, NULL);
    float *lg = logits_of(back, &r);
    assert_true(max_diff(lg, r.logits, r.T * r.V) <= 1e-3);
    free(lg);
    eng_free(back);
    unlink(out);
    free(out);
    ref_free(&r);
}

/* --quant q8_0 at load quantizes the HF float32 weights as llama.cpp's converter did, and takes
 * under 30 % of the F32 memory on GPT-2's shapes. */
static void test_quant_at_load(void **s) {
    (void)s;
    char dir[4096];
    if (!shared_path(dir, sizeof dir, "golden/llama-tiny-gqa")) return;
    Ref r;
    if (!ref_read("golden/gguf/llama-tiny-gqa-q8_0.ref", &r)) return;
    EngModel *m = load(dir, "q8_0");
    assert_string_equal(eng_info(m)->dtype, "q8_0");
    float *lg = logits_of(m, &r);
    double d = max_diff(lg, r.logits, r.T * r.V);
    print_message("llama-tiny-gqa --quant q8_0: max |logit - llama.cpp q8_0 ref| = %.3g\n", d);
    assert_true(d <= Q8_0_VS_FLOAT_REF);
    float *theirs = logits_of_shared("golden/gguf/llama-tiny-gqa-q8_0.gguf", &r);
    double dt = max_diff(lg, theirs, r.T * r.V);
    print_message("llama-tiny-gqa --quant q8_0: max |logit - ablab on llama.cpp's q8_0 file| = %.3g\n", dt);
    assert_true(dt <= 1e-5);
    free(theirs);
    free(lg);
    eng_free(m);
    ref_free(&r);

    char g[2][4096];
    int n = gpt2_models(g);
    for (int i = 0; i < n; i++) {
        EngModel *f = load(g[i], "f32"), *q = load(g[i], "q8_0");
        const EngInfo *fi = eng_info(f), *qi = eng_info(q);
        size_t fb = fi->bytes_mapped + fi->bytes_owned, qb = qi->bytes_mapped + qi->bytes_owned;
        print_message("%s weights: f32 %zu bytes, q8_0 %zu bytes (%.1f %%)\n", g[i], fb, qb, 100.0 * qb / fb);
        assert_true(qb * 100 <= fb * 30);
        eng_free(f);
        eng_free(q);
    }
}

/* Perplexity over the golden prompt equals exp of the mean negative log-softmax computed here
 * from the reference logits; with a short window and stride every token is still scored once. */
static void test_perplexity_by_hand(void **s) {
    (void)s;
    char dir[4096];
    if (!shared_path(dir, sizeof dir, "golden/llama-tiny-gqa")) return;
    Ref r;
    if (!ref_read("golden/llama-tiny-gqa", &r)) return;
    double nll = 0;
    for (size_t t = 1; t < r.T; t++) {
        const float *row = r.logits + (t - 1) * r.V;
        double mx = row[0], sum = 0;
        for (size_t v = 1; v < r.V; v++) mx = row[v] > mx ? row[v] : mx;
        for (size_t v = 0; v < r.V; v++) sum += exp(row[v] - mx);
        nll -= row[r.ids.v[t]] - mx - log(sum);
    }
    double hand = exp(nll / (double)(r.T - 1));
    EngModel *m = load(dir, NULL);
    EngEvalResult res;
    LabErr e = {0};
    EngEvalOpts o = {.ctx = (int)r.T};
    if (eng_eval_ids(m, r.ids.v, r.T, &o, &res, &e)) fail_msg("%s", e.msg);
    print_message("perplexity: hand %.6f, ablab %.6f over %lld tokens\n", hand, res.token_ppl, (long long)res.n_tokens);
    assert_int_equal(res.n_tokens, r.T - 1);
    assert_int_equal(res.n_windows, 1);
    assert_true(fabs(res.token_ppl - hand) <= 1e-4 * hand);
    /* windows of 8 moving by 4: more windows, every token scored once, less context per token */
    EngEvalOpts o2 = {.ctx = 8, .stride = 4};
    EngEvalResult res2;
    if (eng_eval_ids(m, r.ids.v, r.T, &o2, &res2, &e)) fail_msg("%s", e.msg);
    assert_int_equal(res2.n_tokens, r.T - 1);
    assert_true(res2.n_windows > 1);
    assert_true(isfinite(res2.token_ppl) && res2.token_ppl != res.token_ppl);
    EngEvalOpts bad = {.ctx = 8, .stride = 9};
    assert_int_equal(eng_eval_ids(m, r.ids.v, r.T, &bad, &res2, &e), -1);
    assert_non_null(strstr(e.msg, "stride 9 is longer than the window 8"));
    eng_free(m);
    ref_free(&r);
}

/* KL of the Q8_0 file against the F32 one is small and positive; of a model against itself, 0. */
static void test_kl(void **s) {
    (void)s;
    char f32[4096], q8[4096];
    if (!shared_path(f32, sizeof f32, "golden/gguf/llama-tiny-gqa-f32.gguf") ||
        !shared_path(q8, sizeof q8, "golden/gguf/llama-tiny-gqa-q8_0.gguf"))
        return;
    Ref r;
    if (!ref_read("golden/gguf/llama-tiny-gqa-f32.ref", &r)) return;
    EngModel *a = load(f32, NULL), *b = load(q8, NULL), *a2 = load(f32, NULL);
    EngKlResult k;
    LabErr e = {0};
    if (eng_eval_kl_ids(a2, a, r.ids.v, r.T, NULL, &k, &e)) fail_msg("%s", e.msg);
    assert_true(fabs(k.kl_mean) < 1e-9);
    assert_true(k.same_top_pct == 100.0);
    if (eng_eval_kl_ids(b, a, r.ids.v, r.T, NULL, &k, &e)) fail_msg("%s", e.msg);
    print_message("KL(f32 || q8_0) = %.3g nats/token (max %.3g), same top token %.1f %%\n", k.kl_mean, k.max_kl,
                  k.same_top_pct);
    assert_true(k.kl_mean > 0 && k.kl_mean < 1e-2);
    assert_int_equal(k.n_tokens, r.T - 1);
    eng_free(a);
    eng_free(a2);
    eng_free(b);
    ref_free(&r);
}

/* Loader errors name the file and the field. */
static void test_loader_errors(void **s) {
    (void)s;
    char *out = tmp_path("bad.gguf");
    LabErr e = {0};
    GgufWriter *w = gguf_writer_new(0);
    assert_int_equal(gguf_w_str(w, "general.architecture", "mamba", 5, &e), 0);
    assert_int_equal(gguf_w_write(w, out, &e), 0);
    gguf_writer_free(w);
    EngModel *m = NULL;
    assert_int_equal(eng_load(&m, out, NULL, &e), -1);
    assert_null(m);
    assert_non_null(strstr(e.msg, "architecture 'mamba' is not one ablab runs"));
    w = gguf_writer_new(0);
    assert_int_equal(gguf_w_str(w, "general.architecture", "llama", 5, &e), 0);
    assert_int_equal(gguf_w_u32(w, "llama.embedding_length", 64, &e), 0);
    assert_int_equal(gguf_w_write(w, out, &e), 0);
    gguf_writer_free(w);
    assert_int_equal(eng_load(&m, out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "metadata key llama.block_count is missing"));
    char bad[4096];
    snprintf(bad, sizeof bad, "%s/gguf/tensor_overlap.gguf", getenv("TEST_BAD_DIR"));
    assert_int_equal(eng_load(&m, bad, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "tensors 'a' and 'b' overlap"));
    unlink(out);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_f32),       cmocka_unit_test(test_llama_f16),
        cmocka_unit_test(test_llama_q8_0),      cmocka_unit_test(test_gpt2_f32),
        cmocka_unit_test(test_gpt2_q8_0),       cmocka_unit_test(test_write_llama_f32),
        cmocka_unit_test(test_write_llama_q8_0), cmocka_unit_test(test_write_llama_bf16),
        cmocka_unit_test(test_write_gpt2_f32),
        cmocka_unit_test(test_write_gpt2_q8_0), cmocka_unit_test(test_rewrite_gguf),
        cmocka_unit_test(test_quant_at_load),   cmocka_unit_test(test_perplexity_by_hand),
        cmocka_unit_test(test_kl),              cmocka_unit_test(test_loader_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
