/* A llama2.c checkpoint (.bin) as the input: the header checks, the size it implies, the weights
 * taken from the file, and a forward pass of two tokens when it loads. */
#include "engine.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("l2c/model.bin", data, size);
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1, .ctx = 8, .mmap = true};
    if (eng_load(&m, path, &o, &e) == 0) {
        const EngInfo *in = eng_info(m);
        float *lg = malloc((size_t)in->vocab * 2 * sizeof *lg);
        int ids[2] = {0, in->vocab - 1};
        if (lg) eng_logits(m, ids, 2, lg, &e);
        free(lg);
        eng_free(m);
    }
    return 0;
}
