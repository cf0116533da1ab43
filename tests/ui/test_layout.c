/* layout.c: the rectangles every screen draws into, for the sizes users actually have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "layout.h"

static int bottom(UiRect r) { return r.y + r.h; }
static int right(UiRect r) { return r.x + r.w; }

/* No two rectangles overlap and everything lies on the screen. */
static void check_tiles(const UiLayout *L, int lines, int cols) {
    const UiRect *rs[] = {&L->title, &L->head[0], &L->body[0], &L->metrics[0], &L->head[1], &L->body[1],
                          &L->metrics[1], &L->rule, &L->editor, &L->status, &L->divider};
    int n = (int)(sizeof rs / sizeof *rs);
    for (int i = 0; i < n; i++) {
        if (!rs[i]->h || !rs[i]->w) continue;
        assert_true(rs[i]->y >= 0 && rs[i]->x >= 0);
        assert_true(bottom(*rs[i]) <= lines && right(*rs[i]) <= cols);
        for (int j = i + 1; j < n; j++) {
            if (!rs[j]->h || !rs[j]->w) continue;
            bool apart = bottom(*rs[i]) <= rs[j]->y || bottom(*rs[j]) <= rs[i]->y ||
                         right(*rs[i]) <= rs[j]->x || right(*rs[j]) <= rs[i]->x;
            if (!apart) fail_msg("rects %d and %d overlap at %dx%d", i, j, lines, cols);
        }
    }
}

static void test_wide_terminal_side_by_side(void **state) {
    (void)state;
    UiLayout L = layout_compute(50, 160, 3);
    assert_false(L.too_small);
    assert_true(L.side_by_side);
    assert_int_equal(L.pane[0].y, L.pane[1].y);                 /* same rows */
    assert_true(L.pane[0].x < L.pane[1].x);
    assert_true(abs(L.pane[0].w - L.pane[1].w) <= 1);            /* fair halves */
    assert_int_equal(L.pane[0].w + L.pane[1].w + 1, 160);        /* plus the divider */
    assert_int_equal(L.status.y, 49);
    assert_int_equal(L.editor.h, 3);
    assert_int_equal(bottom(L.editor), L.status.y);
    assert_int_equal(bottom(L.pane[0]), L.rule.y);
    check_tiles(&L, 50, 160);
}

static void test_narrow_terminal_stacks(void **state) {
    (void)state;
    UiLayout L = layout_compute(20, 60, 3);
    assert_false(L.too_small);
    assert_false(L.side_by_side);
    assert_int_equal(L.pane[0].w, 60);
    assert_int_equal(bottom(L.pane[0]), L.pane[1].y);           /* B right below A */
    assert_true(L.body[0].h >= 1 && L.body[1].h >= 1);
    assert_true(L.editor.h >= 1 && L.editor.h <= 3);
    check_tiles(&L, 20, 60);
}

static void test_threshold_is_100_columns(void **state) {
    (void)state;
    assert_false(layout_compute(30, 99, 1).side_by_side);
    assert_true(layout_compute(30, 100, 1).side_by_side);
}

static void test_too_small(void **state) {
    (void)state;
    assert_true(layout_compute(11, 80, 1).too_small);
    assert_true(layout_compute(40, 39, 1).too_small);
    assert_false(layout_compute(UI_MIN_LINES, UI_MIN_COLS, 1).too_small);
}

static void test_every_size_tiles(void **state) {
    (void)state;
    for (int l = UI_MIN_LINES; l <= 80; l++)
        for (int c = UI_MIN_COLS; c <= 260; c += 7)
            for (int ed = 1; ed <= 8; ed += 3) {
                UiLayout L = layout_compute(l, c, ed);
                assert_false(L.too_small);
                assert_true(L.body[0].h >= 1 && L.body[1].h >= 1);
                check_tiles(&L, l, c);
            }
}

static void test_editor_capped(void **state) {
    (void)state;
    UiLayout L = layout_compute(24, 80, 50);
    assert_int_equal(L.editor.h, (24 - 2) / 4);
}

static void test_center(void **state) {
    (void)state;
    UiRect r = layout_center((UiRect){1, 0, 20, 60}, 10, 40);
    assert_int_equal(r.y, 6);
    assert_int_equal(r.x, 10);
    r = layout_center((UiRect){1, 0, 5, 20}, 10, 40);           /* clipped */
    assert_int_equal(r.h, 5);
    assert_int_equal(r.w, 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_terminal_side_by_side), cmocka_unit_test(test_narrow_terminal_stacks),
        cmocka_unit_test(test_threshold_is_100_columns),  cmocka_unit_test(test_too_small),
        cmocka_unit_test(test_every_size_tiles),          cmocka_unit_test(test_editor_capped),
        cmocka_unit_test(test_center),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
