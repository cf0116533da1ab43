/* GPT-2's vocab.json + merges.txt: the input is vocab.json, then "\n\x00MERGES\x00\n", then
 * merges.txt; a fixed text goes through what loads. */
#include "fuzz_tok_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *vocab, *merges;
    size_t nv, nm;
    FUZZ_SPLIT(data, size, "\n\x00MERGES\x00\n", &vocab, &nv, &merges, &nm);
    const char *vp = fuzz_write("vm/vocab.json", vocab, nv);
    char vpath[4400];
    snprintf(vpath, sizeof vpath, "%s", vp);
    const char *mp = fuzz_write("vm/merges.txt", merges, nm);
    Tokenizer *t = NULL;
    LabErr e = {0};
    if (tok_load_vocab_merges(&t, vpath, mp, &e) == 0) {
        static const char text[] = "Hello world! The quick brown fox. caf\xc3\xa9 \xff\xfe 12345";
        fuzz_tok_exercise(t, (const uint8_t *)text, sizeof text - 1);
        tok_free(t);
    }
    return 0;
}
