#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char tmpdir[64];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ablab_cfg_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    setenv("XDG_DATA_HOME", tmpdir, 1);
    setenv("XDG_STATE_HOME", tmpdir, 1);
    unsetenv("ABLAB_CONFIG");
    unsetenv("ABLAB_DB");
    unsetenv("ABLAB_MODEL_A");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

static void write_config(const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/ablab", tmpdir);
    LabErr e;
    mkdir_p(path, &e);
    strcat(path, "/config.ini");
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_defaults_without_file(void **state) {
    (void)state;
    AppConfig c;
    LabErr e = {0};
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_false(c.config_file_found);
    char want[128];
    snprintf(want, sizeof want, "%s/ablab/ablab.db", tmpdir);
    assert_string_equal(c.db, want);
    assert_int_equal(c.src[CFG_DB], CFG_DEFAULT);
    assert_non_null(strstr(c.model_a, "scratch-shakespeare"));
    assert_non_null(strstr(c.model_b, "gpt2-mini"));
    assert_true(c.sampling.seed < 0);
    cfg_free(&c);
}

static void test_file_env_flag_precedence(void **state) {
    (void)state;
    write_config("[models]\na = /m/a\n[sampling]\ntemperature = 0.3\nseed = 7\n[lab]\nthreads = 1\n");
    setenv("ABLAB_DB", "/tmp/env.db", 1);
    AppConfig c;
    LabErr e = {0};
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_true(c.config_file_found);
    assert_string_equal(c.model_a, "/m/a");
    assert_int_equal(c.src[CFG_MODEL_A], CFG_FILE);
    assert_non_null(strstr(c.src_detail[CFG_MODEL_A], "config.ini:2"));
    assert_float_equal(c.sampling.temp, 0.3, 1e-9);
    assert_int_equal(c.sampling.seed, 7);
    assert_string_equal(c.db, "/tmp/env.db");
    assert_int_equal(c.src[CFG_DB], CFG_ENV);
    CfgKey temp = (CfgKey)cfg_key_by_flag("temp");
    assert_int_equal(temp, CFG_SAMPLING);
    assert_int_equal(cfg_set(&c, temp, "1.5", CFG_FLAG, "--temp", &e), 0);
    assert_int_equal(c.src[temp], CFG_FLAG);
    assert_int_equal(cfg_set(&c, temp, "hot", CFG_FLAG, "--temp", &e), -1);
    assert_string_equal(e.msg, "--temp: temperature must be a number in [0, 100], not 'hot'");
    assert_float_equal(c.sampling.temp, 1.5, 1e-9); /* a bad value changes nothing */
    unsetenv("ABLAB_DB");
    cfg_free(&c);
}

/* models.mmap: off by default; true from the file, ABLAB_MMAP or the --mmap switch; a bad value
 * names itself and changes nothing. */
static void test_mmap_switch(void **state) {
    (void)state;
    write_config("[models]\na = /m/a\n");
    AppConfig c;
    LabErr e = {0};
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_false(c.mmap);
    assert_true(cfg_key_is_switch(CFG_MMAP) && cfg_key_is_switch(CFG_BLIND) && !cfg_key_is_switch(CFG_THREADS));
    char out[32];
    cfg_format(&c, CFG_MMAP, out, sizeof out);
    assert_string_equal(out, "false");
    cfg_free(&c);
    write_config("[models]\nmmap = yes\n");
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_true(c.mmap);
    assert_int_equal(c.src[CFG_MMAP], CFG_FILE);
    assert_int_equal(cfg_set(&c, CFG_MMAP, "sometimes", CFG_FLAG, "--mmap", &e), -1);
    assert_non_null(strstr(e.msg, "sometimes"));
    assert_true(c.mmap);
    cfg_free(&c);
    write_config("[models]\nmmap = false\n");
    setenv("ABLAB_MMAP", "1", 1);
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_true(c.mmap); /* the environment beats the file */
    assert_int_equal(c.src[CFG_MMAP], CFG_ENV);
    unsetenv("ABLAB_MMAP");
    cfg_free(&c);
}

static void test_bad_file_names_line_and_key(void **state) {
    (void)state;
    write_config("[sampling]\ntop_k = 40\ntempreature = 0.3\n");
    AppConfig c;
    LabErr e = {0};
    assert_int_equal(cfg_load(&c, &e), -1);
    assert_non_null(strstr(e.msg, "config.ini:3"));
    assert_non_null(strstr(e.msg, "tempreature"));
    cfg_free(&c);
    write_config("[sampling]\ntop_p = 2\n");
    assert_int_equal(cfg_load(&c, &e), -1);
    char want[256];
    snprintf(want, sizeof want, "%s/ablab/config.ini:2: top_p must be a number in [0, 1], not 2", tmpdir);
    assert_string_equal(e.msg, want);
    cfg_free(&c);
}

/* Each sampling key is also an ABLAB_ variable, checked by the same table (the environment beats
 * the file, as for every key). */
static void test_sampling_env(void **state) {
    (void)state;
    write_config("[sampling]\nmax_tokens = 64\n");
    setenv("ABLAB_MAX_TOKENS", "32", 1);
    AppConfig c;
    LabErr e = {0};
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_int_equal(c.sampling.max_tokens, 32);
    assert_int_equal(c.src[cfg_key_by_flag("max-tokens")], CFG_ENV);
    assert_string_equal(c.src_detail[cfg_key_by_flag("max-tokens")], "ABLAB_MAX_TOKENS");
    cfg_free(&c);
    setenv("ABLAB_MAX_TOKENS", "0", 1);
    assert_int_equal(cfg_load(&c, &e), -1);
    assert_string_equal(e.msg, "ABLAB_MAX_TOKENS: max_tokens must be an integer in [1, 1048576], not 0");
    cfg_free(&c);
    unsetenv("ABLAB_MAX_TOKENS");
    setenv("ABLAB_SEED", "random", 1);
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_int_equal(c.sampling.seed, -1);
    cfg_free(&c);
    setenv("ABLAB_SEED", "18446744073709551615", 1);
    assert_int_equal(cfg_load(&c, &e), -1);
    assert_non_null(strstr(e.msg, "ABLAB_SEED: seed must be 'random' (or -1) or an integer in [0, 9223372036854775807]"));
    cfg_free(&c);
    setenv("ABLAB_SEED", "9223372036854775807", 1);
    assert_int_equal(cfg_load(&c, &e), 0);
    assert_true(c.sampling.seed == INT64_MAX); /* exact: no trip through a double */
    cfg_free(&c);
    unsetenv("ABLAB_SEED");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_without_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_env_flag_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmap_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_file_names_line_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sampling_env, setup, teardown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
