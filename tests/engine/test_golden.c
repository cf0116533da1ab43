/* Engines against the Hugging Face references (shared/golden, tests/fixture.h says where they are
 * found; and the shipped gpt2-mini's, tests/fixtures/default-models): logits within 1e-3 of
 * logits.f32 for every prompt position, greedy continuations identical to greedy_new_ids. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "quant.h"
#include "test_engine_util.h"

typedef struct {
    IntVec prompt, greedy;
    float *logits;
    size_t T, V;
} Golden;

static void golden_free(Golden *g) {
    ivec_free(&g->prompt);
    ivec_free(&g->greedy);
    free(g->logits);
}

/* Loads golden.json + logits.f32 of a folder. */
static bool golden_read(const char *dir, Golden *g) {
    memset(g, 0, sizeof *g);
    char path[4200];
    snprintf(path, sizeof path, "%s/golden.json", dir);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    assert_non_null(r);
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
    return true;
}

/* Max |ours - reference| over all prompt positions. */
static double logits_diff(const char *model_dir, const Golden *g, const char *quant) {
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 2, .quant = quant};
    if (eng_load(&m, model_dir, &o, &e)) fail_msg("%s", e.msg);
    assert_int_equal(eng_info(m)->vocab, (int)g->V);
    float *out = malloc(g->T * g->V * sizeof *out);
    assert_non_null(out);
    if (eng_logits(m, g->prompt.v, (int)g->T, out, &e)) fail_msg("%s", e.msg);
    double worst = 0.0;
    for (size_t i = 0; i < g->T * g->V; i++) {
        double d = fabs((double)out[i] - g->logits[i]);
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    free(out);
    eng_free(m);
    return worst;
}

static void greedy_check(const char *model_dir, const Golden *g) {
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1};
    if (eng_load(&m, model_dir, &o, &e)) fail_msg("%s", e.msg);
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
    /* HF's greedy_new_ids run to 24 tokens unless EOS comes first */
    assert_int_equal(ids->n, g->greedy.n);
    for (size_t i = 0; i < ids->n; i++) {
        if (ids->v[i] != g->greedy.v[i]) fail_msg("%s: greedy token %zu is %d, reference %d", model_dir, i, ids->v[i], g->greedy.v[i]);
    }
    eng_gen_free(gen);
    eng_free(m);
}

/* The model in dir against the reference in ref (golden.json + logits.f32). */
static void run_golden(const char *name, const char *dir, const char *ref) {
    Golden g;
    golden_read(ref, &g);
    double d = logits_diff(dir, &g, NULL);
    printf("# %s f32: max |logit diff| = %.3g\n", name, d);
    if (!(d <= 1e-3)) fail_msg("%s: logits differ from transformers by %g (tolerance 1e-3)", name, d);
    greedy_check(dir, &g);
    golden_free(&g);
}

static void test_llama_golden(void **st) {
    (void)st;
    char dir[4096];
    if (!shared_path(dir, sizeof dir, "golden/llama-tiny-gqa")) return;
    run_golden("llama-tiny-gqa", dir, dir);
}

/* The shipped gpt2-mini (F16 weights, 6 layers, its reference from training) always, and the
 * golden gpt2-tiny-random (F32) when ../shared has it. */
static void test_gpt2_golden(void **st) {
    (void)st;
    char dir[4096], ref[4096];
    snprintf(dir, sizeof dir, "%s/models/gpt2-mini", getenv("ABLAB_ASSETS"));
    snprintf(ref, sizeof ref, "%s/default-models/gpt2-mini", getenv("TEST_DATA_DIR"));
    run_golden("gpt2-mini", dir, ref);
    if (fixture_want(dir, sizeof dir, "golden/gpt2-tiny-random")) run_golden("gpt2-tiny-random", dir, dir);
}

/* argv[1]: a kernel path to force ("portable", "avx2", "avx512"); skipped (77) if the CPU lacks it. */
int main(int argc, char **argv) {
    if (argc > 1 && quant_set_path(argv[1])) {
        printf("# kernel path %s: not on this CPU, skipping\n", argv[1]);
        return 77;
    }
    printf("# kernel path: %s\n", quant_path_name());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_golden),
        cmocka_unit_test(test_gpt2_golden),
    };
    return cmocka_run_group_tests_name("golden", tests, NULL, NULL);
}
