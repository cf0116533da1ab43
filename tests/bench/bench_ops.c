/* bench_ops [-p portable|avx2|avx512] [-n TOKENS] [-r REPS]: the element-wise ops of one layer of
 * a prompt of TOKENS (default 512) at two real shapes, on every kernel path the CPU has (or the
 * one named), best of REPS (default 20). Inputs are restored before every timed call, so in-place
 * ops always see the same values. Under `valgrind --tool=callgrind ... -r 1` the op_* functions'
 * inclusive counts are the instructions of one layer (valgrind hides AVX-512: avx2 and portable
 * only). Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"
#include "quant.h"

typedef struct {
    const char *name;
    int dim, hidden, heads;
    bool llama;
} Shape;

static const Shape shapes[] = {
    {"gpt2-124m", 768, 3072, 12, false}, /* layernorm, biases, gelu_new */
    {"scratch", 1024, 2816, 16, true},   /* rmsnorm, SwiGLU (tests/bench/README.md) */
};

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float rndf(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * 0x1.0p-53) * 2.0f - 1.0f;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench_ops: out of memory\n");
        exit(1);
    }
    return p;
}

enum { OP_NORM, OP_BIAS, OP_ACT, OP_ADD, OP_SOFTMAX, N_OPS };

/* Runs op k of one layer once; returns the elements it touched. */
static double run_op(int k, const Shape *s, int n, float *buf, float *buf2, const float *w, const float *b) {
    size_t nd = (size_t)n * s->dim, nh = (size_t)n * s->hidden;
    switch (k) {
    case OP_NORM:
        for (int i = 0; i < 2; i++) {
            if (s->llama) op_rmsnorm(buf2, buf, w, n, s->dim, 1e-5f);
            else op_layernorm(buf2, buf, w, b, n, s->dim, 1e-5f);
        }
        return 2.0 * (double)nd;
    case OP_BIAS:
        if (s->llama) return 0; /* no biases */
        op_add_bias(buf, b, n, 3 * s->dim);
        op_add_bias(buf, b, n, s->dim);
        op_add_bias(buf, b, n, s->hidden);
        op_add_bias(buf, b, n, s->dim);
        return (double)(nd * 5 + nh);
    case OP_ACT:
        if (s->llama) op_silu_mul(buf, buf2, nh);
        else op_gelu_new(buf, nh);
        return (double)nh;
    case OP_ADD:
        op_add(buf, buf2, nd);
        op_add(buf, buf2, nd);
        return 2.0 * (double)nd;
    case OP_SOFTMAX: { /* causal rows: position p attends to p + 1 */
        double e = 0;
        for (int h = 0; h < s->heads; h++)
            for (int p = 0; p < n; p++) {
                op_softmax(buf + (size_t)p * n, p + 1);
                e += p + 1;
            }
        return e;
    }
    }
    return 0;
}

static const char *const op_names[][2] = {
    {"layernorm", "rmsnorm"}, {"add_bias", "add_bias"}, {"gelu_new", "silu_mul"}, {"add", "add"}, {"softmax", "softmax"}};

int main(int argc, char **argv) {
    const char *only = NULL;
    int n = 512, reps = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-p") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_ops [-p portable|avx2|avx512] [-n TOKENS] [-r REPS]\n");
            return 2;
        }
    }
    if (n < 1 || reps < 1) return 2;
    size_t cap = (size_t)n * 3 * 1024;
    if (cap < (size_t)n * 2816) cap = (size_t)n * 2816;
    if (cap < (size_t)n * n) cap = (size_t)n * n;
    float *src = xmalloc(cap * sizeof *src), *src2 = xmalloc(cap * sizeof *src2);
    float *buf = xmalloc(cap * sizeof *buf), *buf2 = xmalloc(cap * sizeof *buf2);
    float *w = xmalloc(3 * 1024 * sizeof *w), *b = xmalloc(3 * 1024 * sizeof *b);
    for (size_t i = 0; i < cap; i++) src[i] = 4.0f * rndf(), src2[i] = rndf();
    for (int i = 0; i < 3 * 1024; i++) w[i] = 1.0f + 0.5f * rndf(), b[i] = 0.1f * rndf();

    static const char *const paths[] = {"portable", "avx2", "avx512"};
    printf("| shape | op | path | µs per layer (pp%d) | ns per element |\n|---|---|---|---:|---:|\n", n);
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int k = 0; k < N_OPS; k++)
            for (int p = 0; p < 3; p++) {
                if (only && strcmp(only, paths[p])) continue;
                if (quant_set_path(paths[p])) continue;
                const Shape *s = &shapes[si];
                double best = 1e30, elems = 0;
                for (int r = 0; r < reps; r++) {
                    memcpy(buf, src, cap * sizeof *buf);
                    memcpy(buf2, src2, cap * sizeof *buf2);
                    double t0 = now();
                    elems = run_op(k, s, n, buf, buf2, w, b);
                    double t = now() - t0;
                    if (t < best) best = t;
                }
                if (elems == 0) continue;
                printf("| %s | %s | %s | %.1f | %.3f |\n", s->name, op_names[k][s->llama], paths[p], best * 1e6,
                       best * 1e9 / elems);
            }
    quant_set_path(NULL);
    free(src);
    free(src2);
    free(buf);
    free(buf2);
    free(w);
    free(b);
    return 0;
}
