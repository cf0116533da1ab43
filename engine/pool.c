/* A small per-model thread pool. Each model owns one, so two models running side by side each use
 * their own thread budget; OpenBLAS itself is kept at one thread (its count is process-wide).
 * A job is fn(ud, i, n) for i in [0, n): the caller runs i = 0 and the workers the rest. */
#include <stdlib.h>

#include "model.h"

struct EngPool {
    int n;                      /* threads including the caller */
    pthread_t *threads;         /* [n - 1] */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    void (*fn)(void *ud, int i, int n);
    void *ud;
    unsigned long gen;          /* job generation: workers run once per increment */
    int pending;                /* workers still running the current job */
    bool quit;
};

typedef struct { EngPool *p; int i; } PoolArg;

static void *pool_worker(void *arg) {
    PoolArg a = *(PoolArg *)arg;
    free(arg);
    EngPool *p = a.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        void (*fn)(void *, int, int) = p->fn;
        void *ud = p->ud;
        pthread_mutex_unlock(&p->mu);
        fn(ud, a.i, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

EngPool *eng_pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    EngPool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = 1;
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
    p->quit = true;
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ud = ud;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ud, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
