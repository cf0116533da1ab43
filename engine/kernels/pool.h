/* Private to engine/: the per-model thread pool (pool.c). */
#ifndef ABLAB_POOL_H
#define ABLAB_POOL_H

/* ---------- threads ----------------------------------------------------------------------------- */
/* A small per-model pool: decode matvecs split their output rows over n workers. OpenBLAS is kept
 * at one thread (its thread count is process-wide, and two models run side by side). */
typedef struct EngPool EngPool;
EngPool *eng_pool_new(int n_threads);               /* NULL on failure; n <= 1 runs inline */
void eng_pool_free(EngPool *p);                     /* NULL-safe */
int  eng_pool_size(const EngPool *p);               /* 1 for NULL */
/* Runs fn(ud, i, n) for i in [0, n) on the pool's threads and waits for all. */
void eng_pool_run(EngPool *p, void (*fn)(void *ud, int i, int n), void *ud);

#endif
