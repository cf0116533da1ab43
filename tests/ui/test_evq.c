/* evq.c: the queue between the lab's worker threads and the UI thread loses nothing, keeps each
 * side's pieces in order and copies what the callbacks were given. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "evq.h"

enum { N_PIECES = 20000 };

typedef struct { LabEvents ev; int side; } Worker;

static void *worker(void *arg) {
    Worker *w = arg;
    char text[32];
    LabMetrics m = {0};
    for (int i = 0; i < N_PIECES; i++) {
        int n = snprintf(text, sizeof text, "%d:%d ", w->side, i);
        m.n_gen = i + 1;
        w->ev.on_piece(w->side, text, (size_t)n, &m, w->ev.ud);
        text[0] = 'X';   /* the queue must hold its own copy */
    }
    snprintf(m.stop, sizeof m.stop, "length");
    LabErr err = {0};
    w->ev.on_done(w->side, &m, 100 + w->side, w->side ? NULL : &err, w->ev.ud);
    return NULL;
}

static void test_two_workers_nothing_lost_in_order(void **state) {
    (void)state;
    EvQueue q;
    evq_init(&q);
    LabEvents ev = evq_lab_events(&q);
    Worker w[2] = {{ev, 0}, {ev, 1}};
    pthread_t th[2];
    for (int s = 0; s < 2; s++) assert_int_equal(pthread_create(&th[s], NULL, worker, &w[s]), 0);
    int next[2] = {0, 0}, done[2] = {0, 0};
    /* drain while the workers push, like the UI loop does */
    while (!(done[0] && done[1])) {
        Ev *list = evq_pop_all(&q);
        for (Ev *e = list; e; e = e->next) {
            if (e->kind == EV_PIECE) {
                char want[32];
                int n = snprintf(want, sizeof want, "%d:%d ", e->side, next[e->side]);
                assert_int_equal(e->len, (size_t)n);
                assert_string_equal(e->text, want);
                assert_int_equal(e->m.n_gen, next[e->side] + 1);
                next[e->side]++;
            } else {
                assert_int_equal(e->kind, EV_DONE);
                assert_int_equal(next[e->side], N_PIECES);       /* done comes after every piece */
                assert_int_equal(e->id, 100 + e->side);
                assert_string_equal(e->m.stop, "length");
                assert_string_equal(e->err, "");
                done[e->side] = 1;
            }
        }
        ev_free(list);
    }
    for (int s = 0; s < 2; s++) pthread_join(th[s], NULL);
    assert_null(evq_pop_all(&q));
    evq_free(&q);
}

static void test_pair_done_and_errors_are_copied(void **state) {
    (void)state;
    EvQueue q;
    evq_init(&q);
    LabEvents ev = evq_lab_events(&q);
    LabErr err;
    lab_err(&err, LAB_EIO, "model.safetensors: read failed");
    ev.on_done(1, NULL, 0, &err, ev.ud);
    ev.on_pair_done(42, false, ev.ud);
    Ev *list = evq_pop_all(&q);
    assert_non_null(list);
    assert_int_equal(list->kind, EV_DONE);
    assert_string_equal(list->err, "model.safetensors: read failed");
    assert_non_null(list->next);
    assert_int_equal(list->next->kind, EV_PAIR_DONE);
    assert_int_equal(list->next->id, 42);
    assert_false(list->next->ok);
    assert_null(list->next->next);
    ev_free(list);
    evq_free(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_workers_nothing_lost_in_order),
        cmocka_unit_test(test_pair_done_and_errors_are_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
