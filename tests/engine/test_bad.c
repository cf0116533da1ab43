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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact_models_load),
        cmocka_unit_test(test_each_case_gives_its_error),
    };
    return cmocka_run_group_tests_name("bad-models", tests, NULL, NULL);
}
