/* GGUF: the parser straight from memory (header, metadata, tensor infos, layout), then the model
 * build from a file holding the same bytes (architecture keys, shapes, the vocabulary in
 * tokenizer.ggml.*) and a forward pass of two tokens when it loads. */
#include "engine.h"
#include "fuzz.h"
#include "gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GgufFile *g = NULL;
    LabErr e = {0};
    if (gguf_parse(&g, data, size, "fuzz.gguf", &e)) return 0;
    gguf_close(g);
    const char *path = fuzz_write("model.gguf", data, size);
    EngModel *m = NULL;
    EngLoadOpts o = {.n_threads = 1, .ctx = 8, .mmap = true};
    if (eng_load(&m, path, &o, &e) == 0) {
        const EngInfo *in = eng_info(m);
        if (in->vocab <= 4096) {
            float *lg = malloc((size_t)in->vocab * 2 * sizeof *lg);
            int ids[2] = {0, in->vocab - 1};
            if (lg) eng_logits(m, ids, 2, lg, &e);
            free(lg);
        }
        IntVec v = {0};
        if (eng_tokenize(m, "Hello, world! \xc3\xa9", true, &v, &e) == 0) {
            Buf b = {0};
            eng_detokenize(m, v.v, v.n, &b, &e);
            buf_free(&b);
        }
        ivec_free(&v);
        eng_free(m);
    }
    return 0;
}
