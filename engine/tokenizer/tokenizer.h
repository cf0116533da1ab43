/* Tokenizers (private to engine/): Hugging Face tokenizer.json (BPE: byte-level and
 * SentencePiece-style with byte fallback; Unigram), GPT-2 vocab.json + merges.txt, llama2.c
 * tokenizer.bin, SentencePiece .model files and vocabularies carried in GGUF metadata. Identical ids
 * to Hugging Face tokenizers (to the sentencepiece library for .model files).
 *
 * A Tokenizer is immutable after loading except for an internal, mutex-guarded word cache, so one
 * tokenizer may be used from several threads. */
#ifndef ABLAB_TOKENIZER_H
#define ABLAB_TOKENIZER_H

#include "base.h"

typedef struct Tokenizer Tokenizer;

typedef enum {
    TOK_KIND_BPE_BYTELEVEL,     /* GPT-2 style: ByteLevel pre-tokenizer/decoder */
    TOK_KIND_BPE_SENTENCEPIECE, /* Llama style: U+2581 spaces, byte fallback */
    TOK_KIND_LLAMA2C,           /* llama2.c tokenizer.bin: score-ordered merges */
    TOK_KIND_SENTENCEPIECE,     /* a SentencePiece .model (Unigram or BPE), encoded as the library does */
    TOK_KIND_UNIGRAM,           /* tokenizer.json with a Unigram model (T5, ALBERT, converted .model files) */
} TokKind;

/* Finds and loads the tokenizer for a model path: a folder with tokenizer.json, or vocab.json +
 * merges.txt; or a llama2.c .bin with tokenizer.bin (or tok*.bin) beside it. vocab_hint is the
 * model's vocabulary size (needed for llama2.c files; 0 if unknown). */
int  tok_load_for_model(Tokenizer **out, const char *model_path, int vocab_hint, LabErr *e);
/* Loads one tokenizer file: tokenizer.json, vocab.json (merges.txt beside it) or a llama2.c .bin. */
int  tok_load_file(Tokenizer **out, const char *path, int vocab_hint, LabErr *e);
int  tok_load_json(Tokenizer **out, const char *path, LabErr *e);
int  tok_load_vocab_merges(Tokenizer **out, const char *vocab_json, const char *merges_txt, LabErr *e);
int  tok_load_llama2c(Tokenizer **out, const char *path, int vocab_size, LabErr *e);
/* Loads a SentencePiece .model (protobuf ModelProto): every length, offset and field type is
 * checked; a malformed file gets an error naming the field and offset. add_special prepends the
 * model's BOS (a control piece), as transformers' Llama tokenizers do. */
int  tok_load_spm(Tokenizer **out, const char *path, LabErr *e);

/* Builds a tokenizer from GGUF's tokenizer.ggml.* arrays. model is "gpt2" (byte-level BPE with
 * merges) or "llama" (SentencePiece BPE by scores). token_type may be NULL. pre is
 * tokenizer.ggml.pre or NULL. */
typedef struct {
    const char *model, *pre;
    const char *const *tokens; const size_t *token_lens; size_t n_tokens;
    const float *scores;                   /* may be NULL */
    const int32_t *token_type;             /* may be NULL */
    const char *const *merges; const size_t *merge_lens; size_t n_merges;
    int bos_id, eos_id, unk_id, pad_id;    /* -1 if absent */
    bool add_bos, add_eos, add_space_prefix;
    const char *source;                    /* file name for messages */
} TokGgufVocab;
int  tok_from_gguf(Tokenizer **out, const TokGgufVocab *v, LabErr *e);

void tok_free(Tokenizer *t);                                  /* NULL-safe */

TokKind tok_kind(const Tokenizer *t);
const char *tok_kind_name(const Tokenizer *t);
const char *tok_path(const Tokenizer *t);
int  tok_vocab_size(const Tokenizer *t);                      /* including added tokens */
int  tok_bos_id(const Tokenizer *t);                          /* -1 if none */
int  tok_eos_id(const Tokenizer *t);                          /* -1 if none */
const char *tok_token_str(const Tokenizer *t, int id);        /* vocabulary string, NULL if out of range */
int  tok_token_id(const Tokenizer *t, const char *s, size_t n); /* -1 if absent */
bool tok_is_special(const Tokenizer *t, int id);

/* Encodes text (any bytes; invalid UTF-8 is handled as Hugging Face does). add_special adds
 * BOS/EOS per the post-processor (tokenizer.json) or as llama2.c's run.c does (BOS). Appends. */
int  tok_encode(const Tokenizer *t, const char *text, size_t len, bool add_special, IntVec *out, LabErr *e);
/* tok_encode that gives up as soon as the text is known to need more than max_ids ids (0: no
 * limit): -1 with LAB_ERANGE "PATH: the text has more than N tokens" (out then holds a partial
 * encoding). A 24 MB line is refused in well under a second instead of after its whole encoding. */
int  tok_encode_max(const Tokenizer *t, const char *text, size_t len, bool add_special, size_t max_ids, IntVec *out,
                    LabErr *e);
/* Appends the decoded text of ids (skip_special_tokens = false). */
int  tok_decode(const Tokenizer *t, const int *ids, size_t n, Buf *out, LabErr *e);

/* Streaming decode: feed ids one at a time; text is released only in whole UTF-8 characters, and
 * the concatenation of everything released (after tok_stream_flush) equals tok_decode of all ids. */
typedef struct TokStream TokStream;
TokStream *tok_stream_new(const Tokenizer *t);
int  tok_stream_push(TokStream *s, int id, Buf *out, LabErr *e); /* appends released text */
int  tok_stream_flush(TokStream *s, Buf *out, LabErr *e);        /* releases what is held (U+FFFD for broken bytes) */
void tok_stream_free(TokStream *s);

#endif
