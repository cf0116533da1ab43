/* What every tokenizer harness does with a tokenizer that loaded: encode texts (with and without
 * the special tokens), decode the ids back, decode ids taken from the input, and stream them. */
#ifndef ABLAB_FUZZ_TOK_COMMON_H
#define ABLAB_FUZZ_TOK_COMMON_H

#include "fuzz.h"
#include "tokenizer.h"

static inline void fuzz_tok_exercise(const Tokenizer *t, const uint8_t *text, size_t n) {
    LabErr e = {0};
    IntVec ids = {0};
    Buf out = {0};
    for (int special = 0; special < 2; special++) {
        ids.n = 0;
        if (tok_encode(t, (const char *)text, n, special, &ids, &e) == 0) {
            int V = tok_vocab_size(t);
            for (size_t i = 0; i < ids.n; i++)
                if (ids.v[i] < 0 || ids.v[i] >= V) abort(); /* an id outside the vocabulary is a bug */
            buf_clear(&out);
            tok_decode(t, ids.v, ids.n, &out, &e);
        }
    }
    /* ids from the input bytes, in and out of range */
    ids.n = 0;
    for (size_t i = 0; i + 2 <= n && ids.n < 256; i += 2) ivec_push(&ids, (int)(int16_t)(text[i] | text[i + 1] << 8));
    buf_clear(&out);
    tok_decode(t, ids.v, ids.n, &out, &e);
    TokStream *s = tok_stream_new(t);
    if (s) {
        for (size_t i = 0; i < ids.n; i++) {
            buf_clear(&out);
            if (tok_stream_push(s, ids.v[i], &out, &e)) break;
        }
        buf_clear(&out);
        tok_stream_flush(s, &out, &e);
        tok_stream_free(s);
    }
    ivec_free(&ids);
    buf_free(&out);
}

#endif
