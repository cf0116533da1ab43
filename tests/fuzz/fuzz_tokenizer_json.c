/* tokenizer.json as the input (model, added tokens, normalizer, pre-tokenizer, post-processor,
 * decoder), then text through it: the text is what follows a "\n\x00TEXT\x00\n" marker, or a fixed
 * sentence. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *json, *text;
    size_t nj, nt;
    FUZZ_SPLIT(data, size, "\n\x00TEXT\x00\n", &json, &nj, &text, &nt);
    static const char fixed[] = "Hello world! <s> caf\xc3\xa9  \t\n 123 \xf0\x9f\x98\x80 ab";
    if (!nt) {
        text = (const uint8_t *)fixed;
        nt = sizeof fixed - 1;
    }
    const char *path = fuzz_write("tj/tokenizer.json", json, nj);
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (tok_load_json(&t, path, &e) == 0) {
        fuzz_tok_exercise(t, text, nt);
        tok_free(t);
    }
    return 0;
}
