/* config.json as the input, beside the fixed model.safetensors of tests/bad/engine/good: the
 * config reader and every check of the weights against what it claims. */
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
    fuzz_write("cfg/config.json", data, size);
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1, .ctx = 8, .mmap = true};
    if (eng_load(&m, dir, &o, &e) == 0) eng_free(m);
    return 0;
}
