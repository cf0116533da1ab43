/* Internals shared by the tokenizer's files (tokenizer.c, bpe.c, normalize.c, pretok.c,
 * decode_stream.c, tok_util.c). Private to engine/; the rest of engine uses tokenizer.h. */
#ifndef ABLAB_TOK_INTERNAL_H
#define ABLAB_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>

#include "tokenizer.h"

/* ---------- small containers (tok_util.c) ---------- */
/* Byte-string → int map with open addressing; keys are copied. */
typedef struct {
    char **keys;
    uint32_t *lens;
    int *vals;
    size_t cap, n;
} StrMap;
int  strmap_put(StrMap *m, const char *k, size_t n, int v);      /* 0, 1 if the key existed (value kept), -1 ENOMEM */
int  strmap_get(const StrMap *m, const char *k, size_t n);       /* -1 if absent */
void strmap_free(StrMap *m);

/* (a, b) pair of ids → merge rank and merged id. */
typedef struct {
    uint64_t *keys; /* UINT64_MAX = empty */
    int32_t *rank, *id;
    size_t cap, n;
} PairMap;
int  pairmap_put(PairMap *m, int a, int b, int rank, int id);   /* replaces; 0 or -1 ENOMEM */
bool pairmap_get(const PairMap *m, int a, int b, int *rank, int *id);
void pairmap_free(PairMap *m);

/* UTF-8 in the way Rust's String::from_utf8_lossy and Python's decode(errors='replace') read it:
 * at s[0..n) there is a valid character (TOK_U8_OK, its length), an invalid "maximal subpart"
 * (TOK_U8_BAD, its length: one U+FFFD replaces it), or the start of a character that more bytes
 * could still complete (TOK_U8_MORE, length n). n must be > 0. */
enum { TOK_U8_OK, TOK_U8_BAD, TOK_U8_MORE };
int  tok_u8_scan(const unsigned char *s, size_t n, size_t *len);
/* Appends s with every invalid subpart replaced by U+FFFD (a trailing incomplete one too). */
int  tok_u8_lossy(Buf *out, const char *s, size_t n);
uint32_t tok_u8_cp(const unsigned char *s, size_t len);      /* code point of one valid char */
/* Rust's char::is_whitespace (Unicode White_Space). */
bool tok_is_ws(uint32_t cp);
/* Rust's char::is_alphanumeric (Alphabetic or Numeric) approximated with general categories L*, N*. */
bool tok_is_alnum(uint32_t cp);

/* ---------- regex (pretok.c) ---------- */
typedef struct {
    pcre2_code *code;
    pcre2_match_data *md; /* not shared across threads: see tok_re_find */
    bool jit;
} TokRegex;
int  tok_re_compile(TokRegex *re, const char *pattern, size_t len, const char *what, const char *file, LabErr *e);
void tok_re_free(TokRegex *re);
/* Finds the next match at or after start in valid UTF-8 s[0..n); md comes from
 * pcre2_match_data_create_from_pattern and belongs to the caller. Returns 1 (found, *ms, *me), 0 none. */
int  tok_re_find(const TokRegex *re, pcre2_match_data *md, const char *s, size_t n, size_t start, size_t *ms, size_t *me);

/* ---------- pieces of text during encoding ---------- */
/* Text is kept in one arena; a piece is a range of it, with a fixed token when an added token matched. */
typedef struct {
    size_t off, len;
    int id;      /* >= 0: an added token, not to be touched by the later stages */
    bool origin; /* starts at offset 0 of the original text (Metaspace prepend_scheme "first") */
} TokPiece;
typedef struct {
    Buf text;
    TokPiece *v;
    size_t n, cap;
} TokPieces;
int  pieces_push(TokPieces *p, size_t off, size_t len, int id, bool origin);
void pieces_free(TokPieces *p);

/* ---------- SentencePiece's precompiled character map (spm.c) ---------- */
/* A darts-clone double-array trie (keys: UTF-8 byte strings) whose values are offsets of
 * NUL-terminated replacements in pool. Parsing checks the whole trie: every position a lookup can
 * reach lies in the array and every value in the pool. */
typedef struct {
    uint32_t *units; size_t n_units;
    char *pool; size_t pool_len;
} SpmCharsMap;
int  spm_charsmap_parse(SpmCharsMap *cm, const unsigned char *blob, size_t n, const char *file, const char *what, LabErr *e);
void spm_charsmap_free(SpmCharsMap *cm);
/* tokenizers' Precompiled normalizer over valid UTF-8 s[0..n): appends to out; -1 ENOMEM. */
int  spm_charsmap_normalize_hf(const SpmCharsMap *cm, const char *s, size_t n, Buf *out);

/* ---------- normalizers (normalize.c) ---------- */
typedef enum { NORM_SEQ, NORM_PREPEND, NORM_REPLACE, NORM_NFC, NORM_NFKC, NORM_NFD, NORM_NFKD,
               NORM_LOWER, NORM_STRIP, NORM_PRECOMPILED } NormType;
typedef struct TokNorm {
    NormType type;
    struct TokNorm **kids; size_t n_kids;
    char *a; size_t a_len;  /* Prepend: text; Replace: the literal pattern */
    char *b; size_t b_len;  /* Replace: content */
    TokRegex re;            /* Replace with a Regex pattern (re.code != NULL) */
    bool left, right;       /* Strip */
    SpmCharsMap cm;         /* Precompiled */
} TokNorm;
/* Normalizes s[0..n) into out (cleared first). *lead_removed is set when the first characters were
 * removed (the normalized text then no longer starts at the original offset). */
int  norm_apply(const TokNorm *nm, const char *s, size_t n, Buf *out, bool *lead_removed, LabErr *e);
void norm_free(TokNorm *nm);

/* ---------- pre-tokenizers (pretok.c) ---------- */
typedef enum { PRE_SEQ, PRE_BYTELEVEL, PRE_SPLIT, PRE_METASPACE, PRE_WHITESPACE, PRE_WHITESPACE_SPLIT,
               PRE_DIGITS, PRE_PUNCT } PreType;
typedef enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS } SplitBehavior;
typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } PrependScheme;
typedef struct TokPre {
    PreType type;
    struct TokPre **kids; size_t n_kids;
    TokRegex re;             /* ByteLevel (use_regex), Split, Whitespace */
    SplitBehavior behavior;
    bool invert;
    bool add_prefix_space, use_regex; /* ByteLevel */
    bool individual_digits;           /* Digits */
    uint32_t replacement; char repl[4]; int repl_len; PrependScheme scheme; bool split; /* Metaspace */
} TokPre;
/* Replaces pieces p[first..) that carry no token by their pre-tokenized splits (empty ones dropped). */
int  pre_apply(const TokPre *pt, TokPieces *p, size_t first, LabErr *e);
void pre_free(TokPre *pt);
/* GPT-2's byte → printable character table (bytes_to_unicode), as UTF-8 strings. */
typedef struct { char s[4]; uint8_t n; } ByteChar;
extern const ByteChar *tok_byte_chars(void);
/* The reverse: code point → byte, -1 if the character is not one of the 256. */
int  tok_char_byte(uint32_t cp);

/* ---------- decoders (decode_stream.c) ---------- */
typedef enum { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE,
               DEC_LLAMA2C, DEC_SPM } DecType;
typedef struct {
    DecType type;
    char *pat; size_t pat_len;  /* Replace */
    char *rep; size_t rep_len;
    uint32_t content; int start, stop;  /* Strip */
    uint32_t replacement; bool prepend; /* Metaspace (prepend: scheme is not "never") */
} TokDecStep;

/* ---------- the tokenizer ---------- */
typedef struct {
    char *content; size_t len;
    int id;
    bool single_word, lstrip, rstrip, normalized, special;
} TokAdded;

typedef enum { MODEL_BPE_RANKS, MODEL_BPE_SCORES, MODEL_LLAMA2C, MODEL_SPM, MODEL_UNIGRAM } ModelType;

/* ---------- SentencePiece .model (spm.c) ---------- */
typedef enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER = 4, SPM_UNUSED = 5, SPM_BYTE = 6 } SpmType;
typedef struct SpmModel {
    bool bpe;                       /* model_type BPE, else Unigram */
    uint8_t *type;                  /* [n_vocab] SpmType */
    StrMap pieces;                  /* NORMAL, USER_DEFINED and UNUSED pieces: what segmentation may pick */
    StrMap reserved;                /* the others (control, unknown, byte) */
    size_t max_piece;               /* longest piece of `pieces`, in bytes */
    float min_score, max_score;     /* over NORMAL pieces (max starts at FLT_MIN, as the library's) */
    int unk_id;
    bool byte_fallback;
    SpmCharsMap cm; bool has_cm;    /* normalizer_spec.precompiled_charsmap (none: identity) */
    bool add_dummy_prefix, remove_extra_ws, escape_ws, ws_suffix;
    char **user; size_t *user_len; size_t n_user; /* user-defined symbols: never normalized or split */
    char *unk_surface; size_t unk_surface_len;    /* what decoding shows for <unk> */
    char *norm_name;
} SpmModel;
void spm_free(SpmModel *s);

/* A segmentation: byte ranges of the text and their piece ids. */
typedef struct { size_t a, b; int id; } TokSeg;
typedef struct { TokSeg *v; size_t n, cap; } TokSegs;
/* What Viterbi needs: pieces → id, their scores (float or double), the unknown piece's score. */
typedef struct {
    const StrMap *pieces;
    const uint8_t *type;            /* SpmType per id, or NULL (tokenizers: every vocabulary entry counts) */
    const float *score_f; const double *score_d;
    size_t max_len;
    float max_score;                /* user-defined pieces score len × max_score − 0.1 */
    double unk_score;
    int unk_id;
    bool round_float;               /* the library keeps path scores in float */
} UnigramSpec;
int  unigram_viterbi(const UnigramSpec *u, const char *s, size_t n, TokSegs *segs); /* -1 ENOMEM */
/* SentencePieceProcessor.encode of text (no BOS/EOS): appends ids. */
int  spm_encode(const Tokenizer *t, const char *text, size_t len, IntVec *out, LabErr *e);
int  spm_normalize(const SpmModel *s, const char *in, size_t n, Buf *o);
/* tokenizers' Unigram model on one pre-tokenized piece: appends ids. */
int  unigram_word(const Tokenizer *t, const char *s, size_t n, IntVec *out, LabErr *e);

struct Tokenizer {
    TokKind kind;
    ModelType model;
    char *path;
    /* vocabulary: id → string (model tokens, overridden by added tokens), string → id */
    int n_vocab;
    char **tok; uint32_t *tok_len;
    StrMap vocab;       /* model vocabulary */
    bool *special;      /* [n_vocab] */
    /* BPE */
    PairMap merges;
    float *scores;      /* [n_vocab] for MODEL_BPE_SCORES / MODEL_LLAMA2C / MODEL_SPM */
    SpmModel *spm;      /* MODEL_SPM */
    double *uscores;    /* [n_vocab] MODEL_UNIGRAM (tokenizer.json) */
    double min_score;   /* MODEL_UNIGRAM: lowest score (the unknown piece scores 10 below it) */
    size_t max_piece;   /* MODEL_UNIGRAM: longest vocabulary entry in bytes */
    int unk_id;
    bool byte_fallback, fuse_unk, ignore_merges;
    char *cont_prefix; size_t cont_prefix_len;
    char *eow_suffix; size_t eow_suffix_len;
    int byte_id[256];   /* <0xXX> tokens, -1 if absent */
    int space_id;       /* llama2c: the " " token of the dummy prefix */
    /* added tokens, longest first within each first byte */
    TokAdded *added; size_t n_added;
    size_t added_at[257];           /* added[added_at[b] .. added_at[b + 1]) start with byte b */
    bool any_added_raw, any_added_norm;
    /* pipeline */
    TokNorm *norm;
    TokPre *pre;
    TokDecStep *dec; size_t n_dec; bool has_decoder;
    int *post_pre, *post_post; size_t n_post_pre, n_post_post; /* ids added around the text */
    int bos_id, eos_id;
    /* The most bytes of a piece (after normalizing and pre-tokenizing) that one id from the BPE can
     * stand for, or 0 when no bound holds (tok_finish; see tok_cover_bound). */
    size_t cover_max;
    /* Normalizer and pre-tokenizer never shorten the text nor drop any of it, and no added token
     * absorbs whitespace: the raw text's length then bounds the count before they run. */
    bool raw_bound;
    /* word cache: split text → ids */
    pthread_mutex_t cache_mu;
    StrMap cache;                   /* key → index into cache_ids */
    IntVec cache_ids;               /* [start, count] pairs into cache_pool */
    IntVec cache_pool;
};

Tokenizer *tok_alloc(TokKind kind, ModelType model, const char *path);
/* Sets up the id tables after the vocabulary is known. */
int  tok_set_vocab_size(Tokenizer *t, int n, LabErr *e);
int  tok_set_token(Tokenizer *t, int id, const char *s, size_t n, bool in_model, LabErr *e);
void tok_find_byte_tokens(Tokenizer *t);
int  tok_add_added(Tokenizer *t, const TokAdded *a, LabErr *e);
int  tok_finish(Tokenizer *t, LabErr *e);

/* BPE on one split (bpe.c): appends ids. */
int  bpe_word(const Tokenizer *t, const char *s, size_t n, IntVec *out, LabErr *e);
/* llama2.c's run.c encode and SentencePiece score merging over whole text. */
/* lead: ids placed before the text that take part in the merging (run.c's BOS and dummy prefix). */
int  bpe_scores_text(const Tokenizer *t, const char *s, size_t n, bool llama2c, const int *lead, size_t n_lead,
                     IntVec *out, LabErr *e);
void bpe_cache_free(Tokenizer *t);

/* Decoder pipeline for tokenizer.json (decode_stream.c) */
int  dec_step_add(Tokenizer *t, const TokDecStep *st, LabErr *e);

#endif
