/* ablab engine: loads language models (Hugging Face folders, llama2.c .bin, GGUF) and runs the
 * Llama-style and GPT-2 architectures on the CPU with OpenBLAS and our own kernels.
 *
 * The only engine header used outside engine/. It knows nothing of the UI or the database.
 * Two models may be loaded and run side by side in one process: there is no global state.
 * Errors: every function that can fail returns -1 (or NULL) and fills the caller's LabErr. */
#ifndef ABLAB_ENGINE_H
#define ABLAB_ENGINE_H

#include "base.h"

struct ChatMsg; /* chat.h */

typedef struct EngModel EngModel;   /* opaque */
typedef struct EngGen EngGen;       /* one generation in progress */

typedef struct {
    int n_threads;              /* this model's thread budget (0 = 1) */
    int ctx;                    /* KV-cache length to allocate (0 = min(model max, 2048)) */
    const char *quant;          /* NULL or "" = keep file dtype; "f32", "f16", "q8_0" = convert at load */
    const char *tokenizer_path; /* override the tokenizer found beside the weights (NULL = auto) */
    bool mmap;                  /* read weights in place from the file mapping instead of copying them
                                   into memory of our own: less memory, slower decode (file pages stall) */
    void (*progress)(double frac, void *ud); /* optional load progress 0..1 */
    void *progress_ud;
    const char *const *lora;    /* n_lora adapters "PATH[:SCALE]" (a PEFT folder or a llama.cpp .gguf
                                   adapter; SCALE multiplies alpha/r, default 1), applied in order */
    int n_lora;
} EngLoadOpts;

/* A LoRA adapter applied at load (EngInfo.adapters). */
typedef struct {
    const char *name;           /* folder or file base name */
    const char *path;
    const char *format;         /* "peft" or "gguf" */
    char sha256[65];            /* of adapter_model.safetensors or the .gguf file */
    float scale;                /* the SCALE of --lora PATH:SCALE (1 when not given) */
    float alpha;                /* lora_alpha / adapter.lora.alpha */
    int rank;
    bool rslora;                /* use_rslora: alpha / sqrt(r) instead of alpha / r */
    float eff_scale;            /* what B A is multiplied by: scale * alpha / r (rsLoRA: / sqrt(r)) */
    int n_merged;               /* matrices it was added into (F32 bases) */
    int n_unmerged;             /* matrices it stays beside, added at every product (quantized bases) */
} EngAdapterInfo;

typedef struct {
    const char *arch;           /* "llama" or "gpt2" */
    const char *format;         /* "hf", "llama2c", "gguf" */
    const char *name;           /* folder or file base name */
    const char *path;
    const char *dtype;          /* weights as the kernels read them: "f32", "f16", "bf16", "q8_0" */
    const char *file_dtype;     /* weights as stored in the file */
    const char *tokenizer_kind; /* "bpe-bytelevel", "bpe-sentencepiece", "llama2c", ... */
    const char *tokenizer_path;
    int64_t n_params;
    int n_layer, n_head, n_kv_head, dim, hidden, head_dim, vocab, ctx_max, ctx;
    int bos_id, eos_id;         /* -1 if none */
    size_t bytes_on_disk;       /* weight files */
    size_t bytes_mapped;        /* weights read straight from the mapped file */
    size_t bytes_owned;         /* weights converted/copied into our memory */
    size_t bytes_kv;            /* KV cache */
    size_t bytes_scratch;       /* activations and work buffers */
    double load_ms;
    int n_threads;
    const EngAdapterInfo *adapters; /* --lora, in order */
    int n_adapters;
    bool shared;                /* reads another loaded model's weights (eng_share): they are in memory
                                 * once, and bytes_mapped / bytes_owned describe that one copy */
} EngInfo;

/* Loads a model from a Hugging Face folder (config.json + *.safetensors + tokenizer), a llama2.c
 * .bin (tokenizer.bin beside it or in o->tokenizer_path) or a .gguf file. *out is NULL on error. */
int  eng_load(EngModel **out, const char *path, const EngLoadOpts *o, LabErr *e);
/* A second model over m's weights, tokenizer and chat template, as eng_load of the same file with
 * the same options would give: the same numbers, read from the same memory. It has its own KV
 * cache, scratch and threads (o->ctx and o->n_threads; o's other fields are not read: the caller
 * shares only a load made with the same ones). The weights stay until the last model reading them
 * is freed, in any order; a model and its shares may run at the same time. *out NULL on error. */
int  eng_share(EngModel **out, EngModel *m, const EngLoadOpts *o, LabErr *e);
/* Whether eng_share takes m: not when m keeps LoRA adapters unmerged beside its weights (their
 * products use a scratch of their own, which two models running at once would both write). */
bool eng_can_share(const EngModel *m);
void eng_free(EngModel *m);                              /* NULL-safe */
/* Writes the loaded model as a GGUF v3 file llama.cpp reads (architecture llama or gpt2, its
 * hyper-parameters, tokenizer.ggml.*, alignment), weights as quant: "f32" (or NULL), "f16",
 * "bf16", "q8_0" or a llama-quantize preset ("q4_0" .. "q6_k", "q4_k_m", ...: each matrix the
 * type llama-quantize gives it; rows that are no whole number of blocks fall back as it does). */
int  eng_save_gguf(EngModel *m, const char *path, const char *quant, LabErr *e);
/* The size in bytes of the file eng_save_gguf(m, path, quant) would write, without quantizing or
 * writing anything (the same header, tensor types and padding). -1 with e filled as eng_save_gguf. */
int  eng_gguf_size(EngModel *m, const char *quant, size_t *bytes, LabErr *e);
/* ablab import: a checkpoint in Meta's reference layout (src: params.json + consolidated.00.safetensors),
 * nanoGPT's (src: model_args.json + one *.safetensors) or any layout a map of rules describes (map,
 * weights, config) written as a Hugging Face folder at out: config.json, model.safetensors, the
 * tokenizer (tokenizer, or the one in src), generation_config.json and a model card naming the
 * sources and their sha256. Every source tensor must be used once and every tensor the config
 * calls for filled with its shape; otherwise -1 with every problem listed in e and nothing written.
 * out must not exist or be an empty folder. report (may be NULL) gets one line on success. */
typedef enum { ENG_IMPORT_META, ENG_IMPORT_NANOGPT, ENG_IMPORT_MAP } EngImportKind;
typedef struct {
    EngImportKind kind;
    const char *src;                        /* META, NANOGPT: the checkpoint's folder */
    const char *map, *weights, *config;     /* MAP */
    const char *tokenizer;                  /* NULL: tokenizer.json / tokenizer.model / vocab.json in src */
    const char *out;
} EngImportOpts;
int  eng_import(const EngImportOpts *o, Buf *report, LabErr *e);
/* Whether `quant` names a type ablab converts to (--quant of convert and at load: f32, f16, bf16,
 * q8_0 and llama-quantize's presets q4_0 .. q6_k, q3_k_m, q4_k_m, ...), and the list of them for
 * messages (static text). */
bool eng_quant_known(const char *quant);
const char *eng_quant_names(void);
const EngInfo *eng_info(const EngModel *m);              /* valid until eng_free */
/* The weights as loaded, in file order (for `ablab inspect --tensors`); valid until eng_free. */
typedef struct {
    const char *name;           /* as in the file ("model.layers.0.self_attn.q_proj.weight", "wq[0]") */
    const char *file_dtype;     /* "f32", "f16", "bf16", "q8_0" */
    const char *dtype;          /* as the kernels read it */
    int64_t rows, cols;         /* logical [out][in] (vectors: 1 x n) */
    size_t bytes;               /* in memory */
    bool mapped;                /* read from the mapped file (else converted/copied) */
} EngTensorInfo;
size_t eng_tensors(const EngModel *m, const EngTensorInfo **out);
/* Changes the thread budget of a loaded model (for the lab's split of cores). Call it between
 * steps, never while another thread is inside eng_gen_step / eng_logits on this model. */
void eng_set_threads(EngModel *m, int n_threads);

/* ---------- tokens ---------- */
/* add_special: add BOS/EOS as the tokenizer's post-processor (or llama2.c's run.c) would. */
int  eng_tokenize(const EngModel *m, const char *text, bool add_special, IntVec *ids, LabErr *e);
/* eng_tokenize for a prompt about to be generated from: refused as soon as it is known to need more
 * tokens than the context holds ("the prompt has more than N tokens but the context holds N"),
 * without encoding the rest of it (a 24 MB line takes well under a second). */
int  eng_tokenize_prompt(const EngModel *m, const char *text, bool add_special, IntVec *ids, LabErr *e);
/* Appends the decoded text of ids to out (Hugging Face decode semantics, skip_special_tokens=false). */
int  eng_detokenize(const EngModel *m, const int *ids, size_t n, Buf *out, LabErr *e);
/* The vocabulary string of one id (e.g. "Ġthe"), NULL if out of range. */
const char *eng_token_str(const EngModel *m, int id);

/* ---------- forward ---------- */
/* Logits for every position of ids (a fresh sequence starting at position 0): out is [n][vocab]. */
int  eng_logits(EngModel *m, const int *ids, int n, float *out, LabErr *e);

/* ---------- generation ---------- */
typedef struct EngSampling {
    float temp;            /* 0 = greedy */
    int   top_k;           /* 0 = off */
    float top_p;           /* 1 = off */
    float min_p;           /* 0 = off */
    float repeat_penalty;  /* 1 = off */
    int   repeat_last_n;   /* window for the penalty (-1 = whole context) */
    int   max_tokens;
    uint64_t seed;
    const char *const *stop; /* stop strings (not included in the output) */
    int   n_stop;
    const int *stop_ids;     /* more token ids that end the answer like EOS (a chat template's
                                end-of-turn tokens: eng_chat_stop_ids); copied at eng_gen_start */
    int   n_stop_ids;
} EngSampling;
/* The table's defaults (eng_settings_table): llama.cpp's temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat 1.0 over 64, and 128 tokens; seed 0 (the table's -1, a fresh seed, is the caller's to draw:
 * the engine takes a concrete seed so a stored seed reproduces a response). */
EngSampling eng_sampling_default(void);

/* ---------- sampling settings: the one table (settings.c) ----------
 * Every layer takes the sampling settings' names, defaults, ranges and help from here: the config
 * keys and flags (src/), the lab's settings and its record (src/lab/, and ui/ through lab.h), and
 * eng_gen_start's own check. Rows in this order; the ones before ENG_SET_STOP are stored with every
 * response (ENG_SET_N_STORED of them). */
typedef enum {
    ENG_SET_TEMP, ENG_SET_TOP_K, ENG_SET_TOP_P, ENG_SET_MIN_P, ENG_SET_REPEAT_PENALTY, ENG_SET_REPEAT_LAST_N,
    ENG_SET_MAX_TOKENS, ENG_SET_SEED, ENG_SET_STOP, ENG_SET_COUNT,
    ENG_SET_N_STORED = ENG_SET_STOP
} EngSettingId;

typedef enum {
    ENG_SETTING_REAL,      /* a finite number */
    ENG_SETTING_INT,       /* a whole number */
    ENG_SETTING_SEED,      /* a whole number, or -1 / "random" for a fresh seed per response */
    ENG_SETTING_TEXT       /* a string; min and max bound its length in bytes (repeatable flag) */
} EngSettingType;

typedef struct {
    EngSettingId id;
    const char *name;      /* config key ([sampling] NAME), stored and exported column: "top_p" */
    const char *flag;      /* long option without the dashes: "top-p" */
    const char *arg;       /* the option's argument in usage text: "P" */
    const char *label;     /* on the settings screen: "top-p" */
    EngSettingType type;
    double def;            /* default (SEED: -1 = random; TEXT: none) */
    double min, max;       /* the valid range ... */
    bool min_open, max_open; /* ... each bound excluded when true: (0, 100] */
    double step;           /* what one +/- on the settings screen adds */
    bool per_command;      /* only a flag of the commands that take it (stop: `ablab generate`),
                              not a config key, not on the settings screen, not stored */
    const char *help;      /* one line: what it does and its special values */
} EngSetting;

/* The table, ENG_SET_COUNT rows in EngSettingId order; static, valid for the process. */
const EngSetting *eng_settings_table(void);
const EngSetting *eng_setting(EngSettingId id);         /* NULL for an id out of range */
const EngSetting *eng_setting_find(const char *name);   /* by name ("top_p"), NULL if none */
/* The valid values in words: "a number in [0, 1]", "an integer in [1, 1048576]", ... */
void eng_setting_range(const EngSetting *s, char *out, size_t n);
/* A value as the config and the settings screen show it (%g; seed -1 is "random"); TEXT: "none". */
void eng_setting_format(const EngSetting *s, double v, char *out, size_t n);
/* Checks a number against the row's type and range: -1 with LAB_EINVAL and the message every path
 * shows, "top_p must be a number in [0, 1], not 1.5" (the caller prefixes where the value came
 * from: "config.ini:3: ", "--top-p: ", "ABLAB_TOP_P: "). TEXT rows: always -1 (use _parse). */
int  eng_setting_check(const EngSetting *s, double v, LabErr *e);
/* Parses text for a row (whole text, no trailing junk; "random" for SEED) and checks it as above.
 * *num gets the number; *whole gets it exactly for INT and SEED (seeds exceed double's 53 bits);
 * either may be NULL. TEXT rows check the length only. Errors quote the text: "..., not 'warm'". */
int  eng_setting_parse(const EngSetting *s, const char *text, double *num, int64_t *whole, LabErr *e);
/* Every row of s through eng_setting_check (seed excepted: the engine's is already concrete). */
int  eng_sampling_check(const EngSampling *s, LabErr *e);

typedef enum {
    ENG_STOP_NONE = 0, ENG_STOP_EOS, ENG_STOP_LENGTH, ENG_STOP_STRING, ENG_STOP_CANCEL,
    ENG_STOP_CONTEXT, ENG_STOP_ERROR
} EngStop;
const char *eng_stop_name(EngStop s);    /* "eos", "length", "stop", "cancel", "context", "error" */

typedef struct {
    int id;                /* token produced this step (-1 when only flushing held text) */
    const char *text;      /* complete UTF-8 text released this step (may be ""); valid until the next call */
    size_t len;
    EngStop stop;          /* set when eng_gen_step returns 0 */
} EngPiece;

typedef struct {
    double load_ms;
    int    n_prompt, n_gen;
    double prefill_ms;     /* prompt processing */
    double ttft_ms;        /* from eng_gen_start to the first generated token */
    double decode_tok_s;   /* generated tokens after the first / their time */
    double total_ms;
    double p50_ms, p95_ms; /* per-token decode latency */
    const double *token_ms; int n_token_ms; /* every token's latency (valid until eng_gen_free) */
    size_t bytes_weights_mapped, bytes_weights_owned, bytes_kv, bytes_scratch;
    int64_t n_params;
    int n_threads;
} EngMetrics;

/* Starts a generation after the prompt ids (processed as one batch). The model's KV cache belongs
 * to this generation until eng_gen_free: one generation per model at a time. */
int  eng_gen_start(EngGen **out, EngModel *m, const int *prompt, int n, const EngSampling *s, LabErr *e);
/* 1: a token was produced (piece filled); 0: finished (piece->stop says why, piece->text holds any
 * text still held back); -1: error (e filled), e.g. "non-finite logits at token 3" when the model
 * gives NaN or inf logits; the generation then stays finished with stop ENG_STOP_ERROR. */
int  eng_gen_step(EngGen *g, EngPiece *piece, LabErr *e);
void eng_gen_cancel(EngGen *g);                          /* safe from another thread */
const EngMetrics *eng_gen_metrics(const EngGen *g);
const IntVec *eng_gen_ids(const EngGen *g);              /* generated ids so far */
void eng_gen_free(EngGen *g);                            /* NULL-safe */
/* Batched decode: eng_gen_start_own is eng_gen_start for a generation with a KV cache of its own
 * (sized for the prompt and max_tokens, within the model's context), so that many generations of
 * one model can exist at once; eng_gen_step works on it as on any. eng_gen_step_many steps n of
 * them (all of eng_gen_start_own, one model) together: the tokens they sampled last go through ONE
 * forward pass (the weights are read once for all of them), then each is sampled with its own
 * seed, settings and stops. rcs[i], pieces[i] and errs[i] are what eng_gen_step(gens[i]) would give;
 * each generation produces exactly the ids and text it produces alone with eng_gen_start (same
 * bits: every row goes through the one-token kernels). Returns how many still run (rcs[i] == 1),
 * or -1 when the shared pass failed (each generation it held finished with an error in errs[i]).
 * Like every call on a model: from one thread at a time. */
int  eng_gen_start_own(EngGen **out, EngModel *m, const int *prompt, int n, const EngSampling *s, LabErr *e);
int  eng_gen_step_many(EngGen *const *gens, int n, EngPiece *pieces, int *rcs, LabErr *errs);
/* eng_gen_start_own of n prompts (prompts[i], ns[i] ids, settings ss[i]) at once: their prompts go
 * through shared passes, each into its own cache, so that the weights are read once for many
 * prompts where their kernels give every row the bits it gets alone; each generation starts exactly
 * as eng_gen_start_own starts it (its prefill_ms is that of the pass it was in). outs[i] is NULL and
 * errs[i] says why where prompt i could not start; the others start. Returns how many started. */
int  eng_gen_start_own_many(EngGen **outs, EngModel *m, const int *const *prompts, const int *ns,
                            const EngSampling *const *ss, int n, LabErr *errs);

/* ---------- chat templates (chat.c; the renderer is engine/chat/, header chat.h) ---------- */
/* True when the model carries a chat template that loaded: in its folder (chat_template.jinja, else
 * tokenizer_config.json's chat_template), or in a GGUF file (tokenizer.chat_template, with the
 * file's bos/eos tokens as bos_token/eos_token). */
bool eng_chat_available(const EngModel *m);
/* Why a template beside the weights was refused (names the file, line and construct); NULL when
 * there was none or it loaded. Valid until eng_free. */
const char *eng_chat_error(const EngModel *m);
/* Renders msgs with the model's template and special tokens (add_generation_prompt as given).
 * The text is appended to out; tokenize it without adding special tokens (the template wrote
 * them). -1 with e filled: no template, or the template raised or failed. */
int  eng_chat_render(const EngModel *m, const struct ChatMsg *msgs, int n, bool add_generation_prompt, Buf *out, LabErr *e);
/* The ids that end an assistant turn under the template (appended to out): tokenizer_config.json's
 * eos_token and the end-of-turn markers the template itself writes (<|eot_id|>, <|im_end|>,
 * <end_of_turn>, <|end|>, <|eom_id|>, </s>, <|endoftext|>), each where it is one token of the
 * vocabulary. Generation also stops at the model's EOS and generation_config.json's eos list. */
int  eng_chat_stop_ids(const EngModel *m, IntVec *out);
/* A GGUF file's chat setup (tokenizer.chat_template) read from its header alone, as eng_load would
 * use it (chat.h's ChatSetup; free with chat_setup_free). A file without one leaves s->tmpl NULL. */
struct ChatSetup;
int  eng_gguf_chat_setup(const char *path, struct ChatSetup *s, LabErr *e);

/* ---------- evaluation (eval.c) ---------- */
/* Rolling log-likelihood over a text, as lm-evaluation-harness scores it: a prefix token (BOS, else
 * EOS, as <|endoftext|> for GPT-2), then every token of the text scored once, in windows of ctx
 * tokens whose ends move by stride (the overlap is context only). */
typedef struct {
    int ctx;                   /* window length (0 = the context the model was loaded with) */
    int stride;                /* new tokens per window (0 = ctx: windows overlap by one token) */
    void (*progress)(double frac, void *ud); /* optional, after each window */
    void *progress_ud;
    const int *cancel;         /* optional: non-zero stops at the next window (LAB_ECANCEL) */
} EngEvalOpts;

typedef struct {
    double sum_nll;            /* -sum of log p over the scored tokens (nats) */
    int64_t n_tokens;          /* tokens scored */
    int64_t n_bytes;           /* UTF-8 bytes of the text */
    int64_t n_words;           /* len(re.split(r"\s+", text)) over ASCII whitespace, as lm-eval */
    double token_ppl;          /* exp(sum_nll / n_tokens) */
    double byte_ppl;           /* exp(sum_nll / n_bytes) */
    double word_ppl;           /* exp(sum_nll / n_words) */
    double bits_per_byte;      /* sum_nll / (n_bytes ln 2) */
    int64_t n_windows;
    double ms;
} EngEvalResult;

typedef struct {
    int64_t n_tokens, n_same_top, n_windows;
    double sum_kl, sum_kl2, max_kl; /* KL(reference || model) per token, nats */
    double kl_mean, kl_sd, same_top_pct;
    double kl_median, kl_p99;  /* per-token KL quantiles, linear between order statistics (numpy's
                                  default), as llama-perplexity's "Median KLD" and "99.0% KLD" */
    double sum_nll, ref_sum_nll, token_ppl, ref_token_ppl;
    double ms;
} EngKlResult;

/* Perplexity of text (NUL-terminated UTF-8). -1 with e filled (no tokenizer, window too long, ...). */
int eng_eval_text(EngModel *m, const char *text, const EngEvalOpts *o, EngEvalResult *r, LabErr *e);
/* The same over token ids as given (ids[0] is context only; n_bytes and n_words are left 0). */
int eng_eval_ids(EngModel *m, const int *ids, size_t n, const EngEvalOpts *o, EngEvalResult *r, LabErr *e);
/* KL divergence of m against ref (e.g. a quantized model against its F32 original) on the same
 * tokens; both models must tokenize the text identically. */
int eng_eval_kl(EngModel *m, EngModel *ref, const char *text, const EngEvalOpts *o, EngKlResult *r, LabErr *e);
int eng_eval_kl_ids(EngModel *m, EngModel *ref, const int *ids, size_t n, const EngEvalOpts *o, EngKlResult *r,
                    LabErr *e);

/* ---------- benchmarks (bench.c) ---------- */
/* One prompt-processing run: n ids (a fixed walk over the vocabulary, no tokenizer) as one batch
 * from an empty cache; *ms is its wall time. */
int eng_bench_pp(EngModel *m, int n, double *ms, LabErr *e);
/* One generation run: n tokens decoded one at a time from an empty cache (ids given, no sampling). */
int eng_bench_tg(EngModel *m, int n, double *ms, LabErr *e);
/* Bytes of weights a decode step reads (every matrix, the head, one embedding row). */
size_t eng_bench_decode_bytes(const EngModel *m);
/* openblas_get_corename(): the kernels OpenBLAS chose (e.g. "Haswell", "Cooperlake"). */
const char *eng_blas_core(void);
/* The path the decode kernels take on this CPU: "avx512", "avx2" or "portable". */
const char *eng_kernel_path(void);
/* Main-memory read bandwidth in GB/s with n threads streaming a buffer of `bytes` (best of 5); 0 if
 * the buffer cannot be allocated. */
double eng_read_bandwidth(int n_threads, size_t bytes);

#endif
