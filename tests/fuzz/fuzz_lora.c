/* LoRA adapters (--lora) on the fixed tiny llama of tests/bad/engine/good: an input starting with
 * "GGUF" is a llama.cpp adapter file; any other is adapter_config.json, then "\n\x00ST\x00\n" and
 * adapter_model.safetensors, of a PEFT folder. The config's checks, the tensor names, shapes and
 * pairs against the model, the merge (F32) or the unmerged pair beside F16 weights (odd sizes),
 * then one forward pass when it loads. */
#include "engine.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *model;
    if (!model) {
        char *cfg = NULL, *st = NULL;
        size_t nc = 0, ns = 0;
        LabErr e = {0};
        if (file_read_all(fuzz_src("tests/bad/engine/good/config.json"), 0, &cfg, &nc, &e) ||
            file_read_all(fuzz_src("tests/bad/engine/good/model.safetensors"), 0, &st, &ns, &e))
            abort();
        fuzz_write("model/config.json", cfg, nc);
        model = path_dirname(fuzz_write("model/model.safetensors", st, ns));
        free(cfg);
        free(st);
    }
    const char *spec;
    char dirbuf[4400];
    if (size >= 4 && !memcmp(data, "GGUF", 4)) {
        spec = fuzz_write("adapter.gguf", data, size);
    } else {
        const uint8_t *cfg, *st;
        size_t nc, ns;
        FUZZ_SPLIT(data, size, "\n\x00ST\x00\n", &cfg, &nc, &st, &ns);
        fuzz_write("peft/adapter_config.json", cfg, nc);
        char *dir = path_dirname(fuzz_write("peft/adapter_model.safetensors", st, ns));
        if (!dir) abort();
        snprintf(dirbuf, sizeof dirbuf, "%s", dir);
        free(dir);
        spec = dirbuf;
    }
    const char *lora[1] = {spec};
    EngModel *m = NULL;
    LabErr e = {0};
    EngLoadOpts o = {.n_threads = 1, .ctx = 8, .mmap = true, .quant = (size & 1) ? "f16" : NULL, .lora = lora,
                     .n_lora = 1};
    if (eng_load(&m, model, &o, &e) == 0) {
        float lg[2 * 16];
        int ids[2] = {1, 2};
        eng_logits(m, ids, 2, lg, &e);
        eng_free(m);
    } else if (getenv("FUZZ_DEBUG")) {
        fprintf(stderr, "fuzz_lora: %s\n", e.msg);
    }
    return 0;
}
