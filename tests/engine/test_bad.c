/* The broken-model corpus (tests/bad/engine, made by make_bad.py): every case must fail to load
 * with its own error (MANIFEST: case<TAB>substring), and never read out of bounds (this test also
 * runs under ASan/UBSan). The intact models the cases derive from must load and run. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"

static const char *bad_dir(void) {
    const char *d = getenv("TEST_BAD_DIR");
    assert_non_null(d);
    return d;
}

static void test_intact_models_load(void **st) {
    (void)st;
    const char *names[] = {"good", "good.bin", "good_untied.bin"};
    int64_t params[] = {856, 728, 728 + 16 * 8};
    float prev[48] = {0};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/engine/%s", bad_dir(), names[i]);
        EngModel *m = NULL;
        LabErr e = {0};
        if (eng_load(&m, path, NULL, &e)) fail_msg("%s: %s", path, e.msg);
        assert_int_equal(eng_info(m)->n_params, params[i]);
        int ids[3] = {1, 5, 9};
        float lg[3 * 16];
        assert_int_equal(eng_logits(m, ids, 3, lg, &e), 0);
        for (int j = 0; j < 48; j++) assert_true(isfinite(lg[j]));
        /* the untied .bin shares every weight with good.bin but its classifier: other logits */
        if (i == 2) assert_memory_not_equal(lg, prev, sizeof prev);
        memcpy(prev, lg, sizeof prev);
        eng_free(m);
    }
}

static void test_each_case_gives_its_error(void **st) {
    (void)st;
    char path[4096];
    snprintf(path, sizeof path, "%s/engine/MANIFEST", bad_dir());
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        const char *want = tab + 1;
        snprintf(path, sizeof path, "%s/engine/%s", bad_dir(), line);
        EngModel *m = NULL;
        LabErr e = {0};
        int rc = eng_load(&m, path, NULL, &e);
        if (rc == 0) {
            eng_free(m);
            fail_msg("%s: loaded, but must fail with \"%s\"", line, want);
        }
        assert_null(m);
        assert_int_not_equal(e.code, LAB_OK);
        if (!strstr(e.msg, want)) fail_msg("%s: error \"%s\" does not say \"%s\"", line, e.msg, want);
        n++;
    }
    fclose(f);
    printf("# %d broken models refused with their own error\n", n);
    assert_true(n >= 30);
}

/* Weights that load but make every logit NaN (issue 21: the top-k quickselect then ran off the
 * candidate buffer): the generation stops at its first token with an error naming the step, and
 * stays finished with stop reason "error". */
static void test_nonfinite_logits_stop_generation(void **st) {
    (void)st;
    const char *names[] = {"nan_final_norm.bin", "nan_norm"};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/engine/%s", bad_dir(), names[i]);
        EngModel *m = NULL;
        LabErr e = {0};
        if (eng_load(&m, path, NULL, &e)) fail_msg("%s: %s", path, e.msg);
        assert_int_equal(eng_info(m)->vocab, 64);
        EngSampling s = eng_sampling_default(); /* top-k 40 < vocab: the quickselect path */
        s.max_tokens = 8;
        EngGen *g = NULL;
        int ids[3] = {1, 5, 9};
        assert_int_equal(eng_gen_start(&g, m, ids, 3, &s, &e), 0);
        EngPiece p;
        assert_int_equal(eng_gen_step(g, &p, &e), -1);
        if (!strstr(e.msg, "non-finite logits at token 1")) fail_msg("%s: error \"%s\"", names[i], e.msg);
        assert_int_equal(eng_gen_step(g, &p, &e), 0);
        assert_int_equal(p.stop, ENG_STOP_ERROR);
        assert_string_equal(eng_stop_name(p.stop), "error");
        assert_int_equal((int)eng_gen_ids(g)->n, 0);
        eng_gen_free(g);
        eng_free(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact_models_load),
        cmocka_unit_test(test_each_case_gives_its_error),
        cmocka_unit_test(test_nonfinite_logits_stop_generation),
    };
    return cmocka_run_group_tests_name("bad-models", tests, NULL, NULL);
}
