/* config.json, then optionally "\n\x00GEN\x00\n" and generation_config.json, as the input, beside
 * the fixed model.safetensors of tests/bad/engine/good: every family's config reader and every
 * check of the weights against what it claims. */
#include "engine.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *dir;
    if (!dir) {
        char *st = NULL;
        size_t n = 0;
        LabErr e = {0};
        if (file_read_all(fuzz_src("tests/bad/engine/good/model.safetensors"), 0, &st, &n, &e)) abort();
        const char *p = fuzz_write("cfg/model.safetensors", st, n);
        free(st);
        dir = path_dirname(p);
    }
    const uint8_t *cfg, *gen;
    size_t nc, ng;
    FUZZ_SPLIT(data, size, "\n\x00GEN\x00\n", &cfg, &nc, &gen, &ng);
    fuzz_write("cfg/config.json", cfg, nc);
    char gpath[4400];
    snprintf(gpath, sizeof gpath, "%s/generation_config.json", dir);
    if (nc == size) unlink(gpath); /* no marker: no generation_config.json */
    else fuzz_write("cfg/generation_config.json", gen, ng);
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1, .ctx = 8, .mmap = true};
    if (eng_load(&m, dir, &o, &e) == 0) eng_free(m);
    else if (getenv("FUZZ_DEBUG")) fprintf(stderr, "fuzz_config: %s\n", e.msg);
    return 0;
}
