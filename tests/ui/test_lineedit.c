/* lineedit.c: the prompt editor, fed keys the way the terminal delivers them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lineedit.h"

static LeResult key(LineEdit *le, UiKeyCode c) {
    UiKey k = {c, 0, false};
    return le_key(le, &k);
}
static LeResult ctrl(LineEdit *le, char ch) {
    UiKey k = {UK_CTRL, (uint32_t)ch, false};
    return le_key(le, &k);
}
static void type(LineEdit *le, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += (size_t)utf8_decode(p + i, n - i, &cp);
        UiKey k = {UK_CHAR, cp, false};
        if (cp == '\n') k.code = UK_NEWLINE;
        assert_int_equal(le_key(le, &k), LE_CHANGED);
    }
}

static void test_typing_and_submit(void **state) {
    (void)state;
    LineEdit le;
    le_init(&le);
    type(&le, "What is Impressionism?");
    assert_int_equal(key(&le, UK_ENTER), LE_SUBMIT);
    char *s = le_take(&le);
    assert_string_equal(s, "What is Impressionism?");
    assert_int_equal(le.text.len, 0);
    free(s);
    le_free(&le);
}

static void test_emacs_keys(void **state) {
    (void)state;
    LineEdit le;
    le_init(&le);
    type(&le, "hello brave new world");
    ctrl(&le, 'w');                                   /* kill "world" */
    assert_string_equal(le.text.data, "hello brave new ");
    ctrl(&le, 'a');
    assert_int_equal(le.cur, 0);
    type(&le, ">> ");
    ctrl(&le, 'e');
    assert_int_equal(le.cur, le.text.len);
    ctrl(&le, 'u');                                   /* kill to start */
    assert_string_equal(le.text.data, "");
    ctrl(&le, 'y');                                   /* yank it back */
    assert_string_equal(le.text.data, ">> hello brave new ");
    key(&le, UK_HOME);
    key(&le, UK_RIGHT);
    key(&le, UK_RIGHT);
    key(&le, UK_RIGHT);
    ctrl(&le, 'k');
    assert_string_equal(le.text.data, ">> ");
    key(&le, UK_BACKSPACE);
    assert_string_equal(le.text.data, ">>");
    le_free(&le);
}

static void test_multibyte_cursor(void **state) {
    (void)state;
    LineEdit le;
    le_init(&le);
    type(&le, "na\xc3\xafve \xe4\xb8\xad");           /* naïve 中 */
    key(&le, UK_BACKSPACE);                           /* removes the whole CJK character */
    assert_string_equal(le.text.data, "na\xc3\xafve ");
    key(&le, UK_HOME);
    key(&le, UK_RIGHT);
    key(&le, UK_RIGHT);
    key(&le, UK_DELETE);                              /* removes ï (2 bytes) */
    assert_string_equal(le.text.data, "nave ");
    assert_true(utf8_valid(le.text.data, le.text.len));
    le_free(&le);
}

static void test_multiline(void **state) {
    (void)state;
    LineEdit le;
    le_init(&le);
    type(&le, "first line");
    assert_int_equal(key(&le, UK_NEWLINE), LE_CHANGED);
    type(&le, "second");
    key(&le, UK_UP);                                  /* moves up a line, not into history */
    assert_true(le.cur <= strlen("first line"));
    ctrl(&le, 'e');
    type(&le, "!");
    assert_string_equal(le.text.data, "first line!\nsecond");
    /* bracketed paste: Enter inside a paste is a line break, not a submit */
    key(&le, UK_PASTE_BEGIN);
    assert_int_equal(key(&le, UK_ENTER), LE_CHANGED);
    key(&le, UK_PASTE_END);
    assert_int_equal(key(&le, UK_ENTER), LE_SUBMIT);
    le_insert(&le, "pa\x1b[31mste\r\nd", 14);          /* pasted controls dropped, CRLF -> LF */
    assert_true(strstr(le.text.data, "pa[31mste\nd") != NULL);
    le_free(&le);
}

static void test_history_browse_and_persist(void **state) {
    (void)state;
    char path[] = "/tmp/ablab-hist-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    LineEdit le;
    le_init(&le);
    const char *entries[] = {"one", "two\nlines", "back\\slash"};
    for (int i = 0; i < 3; i++) {
        le_set(&le, entries[i]);
        free(le_take(&le));
    }
    type(&le, "draft");
    key(&le, UK_UP);
    assert_string_equal(le.text.data, "back\\slash");
    key(&le, UK_UP);
    assert_string_equal(le.text.data, "two\nlines");
    key(&le, UK_DOWN);                                /* cursor at end of last line: next entry */
    assert_string_equal(le.text.data, "back\\slash");
    key(&le, UK_DOWN);
    assert_string_equal(le.text.data, "draft");       /* the draft came back */
    LabErr e = {0};
    assert_int_equal(le_history_save(&le, path, &e), 0);
    le_free(&le);

    LineEdit le2;
    le_init(&le2);
    assert_int_equal(le_history_load(&le2, path, &e), 0);
    assert_int_equal(le2.n_hist, 3);
    for (int i = 0; i < 3; i++) assert_string_equal(le2.hist[i], entries[i]);
    le_free(&le2);
    unlink(path);
    LineEdit le3;
    le_init(&le3);
    assert_int_equal(le_history_load(&le3, "/nonexistent/ablab/history", &e), 0);   /* missing = empty */
    assert_int_equal(le3.n_hist, 0);
    le_free(&le3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typing_and_submit), cmocka_unit_test(test_emacs_keys),
        cmocka_unit_test(test_multibyte_cursor),  cmocka_unit_test(test_multiline),
        cmocka_unit_test(test_history_browse_and_persist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
