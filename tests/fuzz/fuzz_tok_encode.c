/* Arbitrary text (any bytes) through the real tokenizers in the tree: a byte-level BPE
 * tokenizer.json, a SentencePiece-style BPE tokenizer.json with byte fallback, and llama2.c's
 * tok512.bin; encode, decode, and the ids of the input decoded and streamed. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Tokenizer *tk[3];
    if (!tk[0]) {
        LabErr e = {0};
        if (tok_load_json(&tk[0], fuzz_src("tests/fixtures/shared/golden/bytelevel-bpe-tokenizer/tokenizer.json"), &e) ||
            tok_load_json(&tk[1], fuzz_src("tests/fixtures/shared/golden/spm-bpe-tokenizer/tokenizer.json"), &e) ||
            tok_load_llama2c(&tk[2], fuzz_src("tests/fixtures/shared/models/stories260K/tok512.bin"), 512, &e)) {
            fprintf(stderr, "fuzz_tok_encode: %s\n", e.msg);
            abort();
        }
    }
    for (int i = 0; i < 3; i++) fuzz_tok_exercise(tk[i], data, size);
    return 0;
}
