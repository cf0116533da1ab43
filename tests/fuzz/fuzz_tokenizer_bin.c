/* llama2.c's tokenizer.bin as the input; the vocabulary size run.c would take from the model is the
 * first byte pair (bounded), and a fixed text goes through what loads. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int vocab = 1 + (data[0] | data[1] << 8) % 4096;
    const char *path = fuzz_write("tokenizer.bin", data + 2, size - 2);
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (tok_load_llama2c(&t, path, vocab, &e) == 0) {
        static const char text[] = "Once upon a time, there was a little girl named Lily. \xc3\xa9\xff";
        fuzz_tok_exercise(t, (const uint8_t *)text, sizeof text - 1);
        tok_free(t);
    }
    return 0;
}
