/* A small per-model thread pool. Each model owns one, so two models running side by side each use
 * their own thread budget; OpenBLAS itself is kept at one thread (its count is process-wide).
 * A job is fn(ud, i, n) for i in [0, n): the caller runs i = 0 and the workers the rest.
 *
 * A decode step hands the pool ~60 jobs of a few hundred microseconds each, so waking sleeping
 * workers through a condition variable (tens of microseconds, and the worker starts late) costs
 * a real share of the step. Workers and the caller therefore spin on the job counter for a short
 * while (POOL_SPIN_US) before sleeping: between the jobs of one token they never sleep, while an
 * idle pool (the user reading, the other model generating) sleeps and costs nothing. A pool with
 * more threads than the machine has CPUs never spins, and spinning threads yield now and then.
 *
 * Sleeping is race-free by two store-then-load pairs (sequentially consistent atomics): a worker
 * counts itself in `sleepers` before its last look at `gen`, and the caller bumps `gen` before it
 * looks at `sleepers`, so either the worker sees the job or the caller sees the sleeper (and the
 * mutex makes its broadcast wait until the worker is inside pthread_cond_wait). `pending` and
 * `waiting` pair the same way for the caller's sleep. */
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include "base.h"
#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define POOL_SPIN_US 200.0 /* how long a waiting thread spins before it sleeps */

struct EngPool {
    int n;                      /* threads including the caller */
    pthread_t *threads;         /* [n - 1] */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    void (*fn)(void *ud, int i, int n);
    void *ud;
    atomic_ulong gen;           /* job generation: workers run once per increment */
    atomic_int pending;         /* workers still running the current job */
    atomic_int sleepers;        /* workers asleep on `go` (the caller signals only when some are) */
    atomic_bool waiting;        /* the caller is asleep on `done` */
    atomic_bool quit;
    double spin_us;             /* POOL_SPIN_US, or 0 when the pool has more threads than the CPUs */
};

typedef struct { EngPool *p; int i; } PoolArg;

/* One step of a spin: mostly a pause; every 64th a sched_yield, so that when threads outnumber
 * the cores (two models' pools side by side, or a pool larger than the machine) a spinning thread
 * hands its core to the one that has the work instead of burning its time slice. */
static void spin_step(int k) {
    if ((k & 63) == 63) sched_yield();
    else CPU_RELAX();
}

/* Spins until *gen != seen or quit, for up to spin_us; true if it changed. */
static bool spin_for_job(EngPool *p, unsigned long seen) {
    if (p->spin_us <= 0) return atomic_load(&p->gen) != seen || atomic_load(&p->quit);
    double t0 = now_ms();
    for (int k = 0;; k++) {
        if (atomic_load_explicit(&p->gen, memory_order_acquire) != seen || atomic_load(&p->quit)) return true;
        if ((k & 63) == 63 && (now_ms() - t0) * 1000.0 > p->spin_us) return false;
        spin_step(k);
    }
}

static void *pool_worker(void *arg) {
    PoolArg a = *(PoolArg *)arg;
    free(arg);
    EngPool *p = a.p;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_for_job(p, seen)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (!atomic_load(&p->quit) && atomic_load(&p->gen) == seen) pthread_cond_wait(&p->go, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        p->fn(p->ud, a.i, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

EngPool *eng_pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    EngPool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->spin_us = cpus > 0 && n_threads > cpus ? 0.0 : POOL_SPIN_US;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            eng_pool_free(p);
            return NULL;
        }
        for (int i = 1; i < n_threads; i++) {
            PoolArg *a = malloc(sizeof *a);
            if (!a) break;
            a->p = p;
            a->i = i;
            if (pthread_create(&p->threads[i - 1], NULL, pool_worker, a) != 0) {
                free(a);
                break;
            }
            p->n = i + 1;
        }
    }
    return p;
}

void eng_pool_free(EngPool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, true);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n - 1; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}

int eng_pool_size(const EngPool *p) { return p ? p->n : 1; }

void eng_pool_run(EngPool *p, void (*fn)(void *ud, int i, int n), void *ud) {
    if (!p || p->n == 1) {
        fn(ud, 0, 1);
        return;
    }
    p->fn = fn;
    p->ud = ud;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1); /* publishes fn, ud, pending; seq_cst: see sleepers below */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ud, 0, p->n);
    /* wait for the workers: spin a while, then sleep until the last one signals */
    double t0 = now_ms();
    for (int k = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; k++) {
        if (p->spin_us <= 0 || ((k & 63) == 63 && (now_ms() - t0) * 1000.0 > p->spin_us)) {
            pthread_mutex_lock(&p->mu);
            atomic_store(&p->waiting, true);
            while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
            atomic_store(&p->waiting, false);
            pthread_mutex_unlock(&p->mu);
            break;
        }
        spin_step(k);
    }
}
