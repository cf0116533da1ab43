/* A SentencePiece .model (protobuf ModelProto: pieces, trainer and normalizer specs, the
 * precompiled character map's double-array trie) as the input, then fixed texts through what loads:
 * NFKC-sensitive characters, whitespace runs, digits, an emoji, invalid UTF-8. Seeds:
 * tests/fuzz/make_spm_seeds.py. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("spm/tokenizer.model", data, size);
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (tok_load_spm(&t, path, &e) == 0) {
        static const char text[] = "  Hello\t\tworld \xef\xbc\xa6\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c \xef\xac\x81ne \xe2\x91\xa0 e\xcc\x81 "
                                   "0123 \xf0\x9f\x99\x82 \xe2\x96\x81 \xff\xfe end  ";
        fuzz_tok_exercise(t, (const uint8_t *)text, sizeof text - 1);
        tok_free(t);
    }
    return 0;
}
