/* The per-model thread pool (engine/pool.c): every job runs exactly once on every thread, whether
 * the workers are spinning between jobs, asleep after a pause, or slower than the caller (so the
 * caller sleeps); freeing works in each of those states. A lost wake-up shows as a hang, which
 * meson's timeout turns into a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "model.h"

typedef struct {
    atomic_int runs[8];   /* per thread index */
    atomic_int bad_n;     /* calls that saw a wrong thread count */
    int n;
    int slow_ms;          /* thread 1 busy-waits this long (the caller then sleeps) */
} Job;

static void busy_ms(int ms) {
    double t0 = now_ms();
    while (now_ms() - t0 < ms) {}
}

static void job_fn(void *ud, int i, int n) {
    Job *j = ud;
    if (n != j->n) atomic_fetch_add(&j->bad_n, 1);
    if (i == 1 && j->slow_ms) busy_ms(j->slow_ms);
    atomic_fetch_add(&j->runs[i], 1);
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void check_counts(Job *j, int expect) {
    for (int i = 0; i < j->n; i++) assert_int_equal(atomic_load(&j->runs[i]), expect);
    assert_int_equal(atomic_load(&j->bad_n), 0);
}

static void test_jobs_back_to_back(void **state) {
    (void)state;
    for (int n = 2; n <= 4; n++) {
        EngPool *p = eng_pool_new(n);
        assert_non_null(p);
        assert_int_equal(eng_pool_size(p), n);
        Job j = {.n = n};
        for (int k = 0; k < 20000; k++) eng_pool_run(p, job_fn, &j); /* workers never get to sleep */
        check_counts(&j, 20000);
        eng_pool_free(p); /* right after a job: workers are spinning */
    }
}

static void test_jobs_after_pauses_wake_sleeping_workers(void **state) {
    (void)state;
    EngPool *p = eng_pool_new(3);
    Job j = {.n = 3};
    for (int k = 0; k < 60; k++) {
        eng_pool_run(p, job_fn, &j);
        sleep_us(k % 3 == 0 ? 2000 : 150); /* past the spin (workers asleep) and inside it */
    }
    check_counts(&j, 60);
    sleep_us(5000);
    eng_pool_free(p); /* workers asleep */
}

static void test_slow_worker_makes_the_caller_wait(void **state) {
    (void)state;
    EngPool *p = eng_pool_new(2);
    Job j = {.n = 2, .slow_ms = 2}; /* longer than the caller's spin: it sleeps until signalled */
    for (int k = 0; k < 50; k++) {
        eng_pool_run(p, job_fn, &j);
        assert_int_equal(atomic_load(&j.runs[1]), k + 1); /* the job is whole when run returns */
    }
    check_counts(&j, 50);
    eng_pool_free(p);
}

static void test_one_thread_runs_inline(void **state) {
    (void)state;
    EngPool *p = eng_pool_new(1);
    Job j = {.n = 1};
    eng_pool_run(p, job_fn, &j);
    eng_pool_run(NULL, job_fn, &j);
    check_counts(&j, 2);
    eng_pool_free(p);
    eng_pool_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_back_to_back),
        cmocka_unit_test(test_jobs_after_pauses_wake_sleeping_workers),
        cmocka_unit_test(test_slow_worker_makes_the_caller_wait),
        cmocka_unit_test(test_one_thread_runs_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
