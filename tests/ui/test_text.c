/* text.c: what reaches the terminal from model output, and how it wraps by display width. */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

static char *san(const char *parts[], int n) {
    TextSanitizer ts = {0};
    Buf b = {0};
    for (int i = 0; i < n; i++) assert_int_equal(text_sanitize(&ts, parts[i], strlen(parts[i]), &b), 0);
    assert_int_equal(text_sanitize_end(&ts, &b), 0);
    if (!b.data) buf_puts(&b, "");
    return buf_steal(&b);
}

static void assert_no_controls(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        assert_true(*p >= 0x20 || *p == '\n');
        assert_true(*p != 0x7F);
        if (p[0] == 0xC2) assert_true(p[1] >= 0xA0);   /* no C1 controls */
    }
}

static void test_escape_sequences_never_pass(void **state) {
    (void)state;
    const char *one[] = {"red \x1b[31mtext\x1b[0m, title \x1b]0;pwned\x07 end, clear \x1b[2J\x1b[H!"};
    char *s = san(one, 1);
    assert_string_equal(s, "red text, title  end, clear !");
    free(s);
    /* a sequence split across tokens, and an OSC ended by ESC backslash */
    const char *split[] = {"a\x1b", "[3", "8;5;1", "mb\x1b]52;c;", "aGk=\x1b", "\\c"};
    s = san(split, 6);
    assert_string_equal(s, "abc");
    free(s);
    /* C1 CSI (U+009B) and a DCS */
    const char *c1[] = {"x\xc2\x9b" "31my\x1bPq#0;2;0;0;0\x1b\\z"};
    s = san(c1, 1);
    assert_string_equal(s, "xyz");
    free(s);
}

static void test_controls_dropped_newline_and_tab_kept(void **state) {
    (void)state;
    const char *p[] = {"a\rb\bc\x07\x7f" "d\ne\tf\x01"};
    char *s = san(p, 1);
    assert_string_equal(s, "abcd\ne    f");
    assert_no_controls(s);
    free(s);
}

static void test_utf8_split_and_invalid(void **state) {
    (void)state;
    const char *p[] = {"caf\xc3", "\xa9 \xe4\xb8", "\xad", "x\xff" "y"};
    char *s = san(p, 4);
    assert_string_equal(s, "caf\xc3\xa9 \xe4\xb8\xadx\xef\xbf\xbdy");
    free(s);
    const char *q[] = {"end\xe4\xb8"};   /* stream ends inside a character */
    s = san(q, 1);
    assert_string_equal(s, "end\xef\xbf\xbd");
    free(s);
    const char *bidi[] = {"a\xe2\x80\xae" "b"};  /* U+202E right-to-left override */
    s = san(bidi, 1);
    assert_string_equal(s, "a\xef\xbf\xbd" "b");
    free(s);
}

static void test_random_bytes_always_clean(void **state) {
    (void)state;
    srand(7);
    for (int round = 0; round < 200; round++) {
        char raw[257];
        for (int i = 0; i < 256; i++) raw[i] = (char)(rand() % 255 + 1);
        raw[256] = 0;
        TextSanitizer ts = {0};
        Buf b = {0};
        for (int off = 0; off < 256; off += 17) {
            size_t n = off + 17 > 256 ? (size_t)(256 - off) : 17;
            assert_int_equal(text_sanitize(&ts, raw + off, n, &b), 0);
        }
        text_sanitize_end(&ts, &b);
        assert_true(utf8_valid(b.data, b.len));
        assert_no_controls(b.data);
        buf_free(&b);
    }
}

static void test_widths(void **state) {
    (void)state;
    assert_int_equal(text_width("abc", 3), 3);
    assert_int_equal(text_width("\xe4\xb8\xad\xe6\x96\x87", 6), 4);        /* 中文 */
    assert_int_equal(text_width("\xf0\x9f\x98\x80", 4), 2);               /* 😀 */
    assert_int_equal(text_width("e\xcc\x81", 3), 1);                      /* e + combining acute */
    int used;
    /* a wide character that would straddle the edge is left for the next line */
    assert_int_equal(text_fit("ab\xe4\xb8\xad", 5, 3, &used), 2);
    assert_int_equal(used, 2);
    /* combining marks stay with their base */
    assert_int_equal(text_fit("e\xcc\x81x", 4, 1, &used), 3);
}

static void lines_text(const char *s, int width, const char *expect[], size_t n_expect) {
    TextLines tl = {0};
    assert_int_equal(text_wrap(s, strlen(s), width, &tl), 0);
    if (tl.n != n_expect) {
        for (size_t i = 0; i < tl.n; i++) print_message("line %zu: '%.*s'\n", i, (int)tl.v[i].len, s + tl.v[i].start);
        fail_msg("%zu lines, expected %zu", tl.n, n_expect);
    }
    for (size_t i = 0; i < tl.n; i++) {
        char got[256];
        snprintf(got, sizeof got, "%.*s", (int)tl.v[i].len, s + tl.v[i].start);
        assert_string_equal(got, expect[i]);
        assert_true(tl.v[i].cols <= width);
    }
    text_lines_free(&tl);
}

static void test_word_wrap(void **state) {
    (void)state;
    const char *e1[] = {"the quick ", "brown fox ", "jumps"};
    lines_text("the quick brown fox jumps", 10, e1, 3);
    const char *e2[] = {"abcdefghij", "klm"};                  /* a word longer than a line */
    lines_text("abcdefghijklm", 10, e2, 2);
    const char *e3[] = {"one", "", "two"};                     /* blank line kept */
    lines_text("one\n\ntwo", 10, e3, 3);
    const char *e4[] = {""};
    lines_text("", 10, e4, 1);
}

static void test_wrap_by_display_width(void **state) {
    (void)state;
    /* 6 CJK characters = 12 columns: 4 per line of width 9 (8 columns), never split */
    const char *cjk = "\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b\xe4\xba\x94\xe5\x85\xad";
    const char *e1[] = {"\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b", "\xe4\xba\x94\xe5\x85\xad"};
    lines_text(cjk, 9, e1, 2);
    /* emoji count two columns */
    const char *e2[] = {"ab\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"};
    lines_text("ab\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 5, e2, 2);
    /* combining marks add no width: "cafe\u0301 ok" fits 7 columns */
    const char *e3[] = {"cafe\xcc\x81 ok"};
    lines_text("cafe\xcc\x81 ok", 7, e3, 1);
}

static int setup(void **state) {
    (void)state;
    if (!setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "en_US.UTF-8")) {
        print_message("no UTF-8 locale\n");
        return -1;
    }
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_sequences_never_pass), cmocka_unit_test(test_controls_dropped_newline_and_tab_kept),
        cmocka_unit_test(test_utf8_split_and_invalid),      cmocka_unit_test(test_random_bytes_always_clean),
        cmocka_unit_test(test_widths),                      cmocka_unit_test(test_word_wrap),
        cmocka_unit_test(test_wrap_by_display_width),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
