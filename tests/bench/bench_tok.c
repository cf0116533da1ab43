/* Tokenizer throughput: encodes a corpus file with a tokenizer on one core and prints MB/s
 * (best of several runs, cold word cache each run: a fresh tokenizer per run).
 *   bench_tok [TOKENIZER [TEXT [RUNS]]]
 * Defaults (from SHARED_DIR): the real GPT-2 tokenizer.json and corpus/tinyshakespeare.txt.
 * Exits 77 (skipped) when the files are absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer.h"

/* CPU time of this thread: what one core spent, whatever else the machine is doing. */
static double thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    const char *shared = getenv("SHARED_DIR");
    char *tok_path = argc > 1 ? strdup(argv[1]) : shared ? path_join(shared, "tokenizers/gpt2/tokenizer.json") : NULL;
    char *text_path = argc > 2 ? strdup(argv[2]) : shared ? path_join(shared, "corpus/tinyshakespeare.txt") : NULL;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (!tok_path || !text_path || file_exists(tok_path) != 1 || file_exists(text_path) != 1) {
        fprintf(stderr, "skipped: tokenizer or text not found (set SHARED_DIR or pass paths)\n");
        free(tok_path);
        free(text_path);
        return 77;
    }
    LabErr e = {0};
    char *text;
    size_t len;
    if (file_read_all(text_path, 0, &text, &len, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double best = 1e30, best_cpu = 1e30, load_ms = 0;
    size_t n_tokens = 0;
    for (int r = 0; r < (runs > 0 ? runs : 1); r++) {
        Tokenizer *t = NULL;
        double t0 = now_ms();
        if (tok_load_file(&t, tok_path, 0, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double t1 = now_ms(), c1 = thread_cpu_ms();
        IntVec ids = {0};
        if (tok_encode(t, text, len, false, &ids, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double t2 = now_ms(), c2 = thread_cpu_ms();
        if (t2 - t1 < best) best = t2 - t1;
        if (c2 - c1 < best_cpu) best_cpu = c2 - c1;
        load_ms = t1 - t0;
        n_tokens = ids.n;
        ivec_free(&ids);
        tok_free(t);
    }
    printf("tokenizer %s\ntext      %s (%zu bytes)\n", tok_path, text_path, len);
    printf("encode    %.1f MB/s of one core's CPU time (%.1f ms), %.1f MB/s wall clock (%.1f ms); best of %d, "
           "%zu tokens, cold cache; load %.0f ms\n",
           (double)len / 1e6 / (best_cpu / 1e3), best_cpu, (double)len / 1e6 / (best / 1e3), best, runs, n_tokens, load_ms);
    free(text);
    free(tok_path);
    free(text_path);
    return 0;
}
