#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base.h"

static void test_err_names_and_prefix(void **state) {
    (void)state;
    LabErr e = {0};
    assert_int_equal(lab_err(&e, LAB_EFORMAT, "tensor '%s' ends past the end", "wq"), -1);
    assert_int_equal(e.code, LAB_EFORMAT);
    lab_err_prefix(&e, "%s", "model.safetensors");
    assert_string_equal(e.msg, "model.safetensors: tensor 'wq' ends past the end");
    assert_int_equal(lab_err(NULL, LAB_EIO, "x"), -1); /* NULL-safe */
}

static void test_buf_grows_and_formats(void **state) {
    (void)state;
    Buf b = {0};
    for (int i = 0; i < 1000; i++) assert_int_equal(buf_printf(&b, "%d,", i), 0);
    assert_true(b.len > 3000);
    assert_memory_equal(b.data, "0,1,2,", 6);
    assert_int_equal(b.data[b.len], 0);
    buf_free(&b);
    buf_free(&b);
    IntVec v = {0};
    for (int i = 0; i < 100000; i++) assert_int_equal(ivec_push(&v, i), 0);
    assert_int_equal(v.v[99999], 99999);
    ivec_free(&v);
}

static void test_sha256_known_vectors(void **state) {
    (void)state;
    char h[65];
    sha256_hex("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(m, strlen(m), h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Every length up to five blocks and a long message, against coreutils' sha256sum: the SHA-NI
 * blocks on CPUs that have them, the portable ones under ABLAB_SHA_PORTABLE (the suite runs both). */
static void test_sha256_against_sha256sum(void **state) {
    (void)state;
    size_t big = (1u << 20) + 77;
    unsigned char *d = malloc(big);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < big; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        d[i] = (unsigned char)x;
    }
    char dir[] = "/tmp/ablab-sha-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], cmd[128], want[65], got[65];
    snprintf(path, sizeof path, "%s/m", dir);
    static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 191, 255, 256, 319, 320, 1 << 20};
    for (size_t i = 0; i <= sizeof lens / sizeof *lens; i++) {
        size_t n = i < sizeof lens / sizeof *lens ? lens[i] : big;
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(d, 1, n, f), n);
        fclose(f);
        snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        assert_non_null(fgets(want, sizeof want, p));
        pclose(p);
        sha256_hex(d, n, got);
        if (strcmp(got, want)) fail_msg("sha256 of %zu bytes: %s, sha256sum %s", n, got, want);
        LabErr e = {0};
        assert_int_equal(file_sha256(path, got, &e), 0);
        assert_string_equal(got, want);
    }
    unlink(path);
    rmdir(dir);
    free(d);
}

static void test_utf8(void **state) {
    (void)state;
    const unsigned char euro[] = {0xE2, 0x82, 0xAC};
    assert_int_equal(utf8_seq_len(euro, 3), 3);
    assert_int_equal(utf8_seq_len(euro, 2), 0);
    assert_int_equal(utf8_incomplete_tail(euro, 2), 2);
    assert_int_equal(utf8_incomplete_tail(euro, 3), 0);
    const unsigned char bad[] = {'a', 0xFF};
    assert_int_equal(utf8_incomplete_tail(bad, 2), 0);
    assert_false(utf8_valid((const char *)bad, 2));
    const unsigned char surrogate[] = {0xED, 0xA0, 0x80};
    assert_int_equal(utf8_seq_len(surrogate, 3), 0);
    const unsigned char overlong[] = {0xC0, 0xAF};
    assert_int_equal(utf8_seq_len(overlong, 2), 0);
    char out[4];
    assert_int_equal(utf8_encode(0x1F600, out), 4);
    uint32_t cp;
    assert_int_equal(utf8_decode((unsigned char *)out, 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
}

static void test_files(void **state) {
    (void)state;
    char dir[] = "/tmp/ablab_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *sub = path_join(dir, "a/b/c");
    LabErr e = {0};
    assert_int_equal(mkdir_p(sub, &e), 0);
    assert_int_equal(file_exists(sub), 2);
    char *f = path_join(sub, "x.txt");
    FILE *fp = fopen(f, "w");
    fputs("hello", fp);
    fclose(fp);
    MappedFile mf;
    assert_int_equal(mapped_open(&mf, f, &e), 0);
    assert_int_equal(mf.size, 5);
    assert_memory_equal(mf.data, "hello", 5);
    mapped_close(&mf);
    char *txt;
    size_t n;
    assert_int_equal(file_read_all(f, 0, &txt, &n, &e), 0);
    assert_string_equal(txt, "hello");
    free(txt);
    assert_int_equal(file_read_all(f, 3, &txt, &n, &e), -1);
    assert_non_null(strstr(e.msg, "x.txt"));
    assert_int_equal(mapped_open(&mf, "/nonexistent/file", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/file"));
    char h[65];
    assert_int_equal(file_sha256(f, h, &e), 0);
    assert_string_equal(h, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    unlink(f);
    free(f);
    free(sub);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_names_and_prefix), cmocka_unit_test(test_buf_grows_and_formats),
        cmocka_unit_test(test_sha256_known_vectors), cmocka_unit_test(test_sha256_against_sha256sum), cmocka_unit_test(test_utf8), cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
