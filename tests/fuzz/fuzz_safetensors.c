/* A Hugging Face folder whose model.safetensors is the input (header, tensor table, data) beside a
 * fixed config.json of the tiny llama of tests/bad/engine/good: the reader, then the model build
 * that checks every tensor against the config, then one forward pass when it loads. */
#include "engine.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *dir;
    if (!dir) {
        char *cfg = NULL;
        size_t n = 0;
        LabErr e = {0};
        if (file_read_all(fuzz_src("tests/bad/engine/good/config.json"), 0, &cfg, &n, &e)) abort();
        const char *p = fuzz_write("st/config.json", cfg, n);
        free(cfg);
        dir = path_dirname(p);
    }
    fuzz_write("st/model.safetensors", data, size);
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1, .ctx = 8, .mmap = (size & 1) != 0};
    if (eng_load(&m, dir, &o, &e) == 0) {
        float lg[2 * 64];
        int ids[2] = {1, 2};
        if (eng_info(m)->vocab <= 64) eng_logits(m, ids, 2, lg, &e);
        eng_free(m);
    }
    return 0;
}
