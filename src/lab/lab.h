/* ablab application layer: the lab session. Two engines answer one prompt side by side on worker
 * threads, every complete answer is recorded, ratings are committed the moment they are given,
 * and the record comes back out as statistics and exports.
 *
 * The only header the UI and the batch commands use. It includes base.h only and carries its own
 * plain types (no engine or database types leak through).
 *
 * Vocabulary
 *   slot  which configured model: 0 = model A (--a), 1 = model B (--b).
 *   side  where an answer is shown: 0 = the left (or top) pane, labelled "A"; 1 = the right (or
 *         bottom) pane, labelled "B". In open mode side == slot. In blind mode the lab shuffles
 *         sides per prompt (seeded, balanced) and stores what was shown where; the UI only ever
 *         deals in sides and learns the names from lab_rate's result after the vote.
 *   pair  one prompt answered by both models (one response per slot), the unit that is rated.
 *
 * Threads: every function is called from one thread (the UI or command thread), except that
 * LabEvents callbacks run on the lab's worker threads. Callbacks must not call back into the lab
 * (queue the event and handle it on your own thread); lab_stop and lab_busy are the exceptions,
 * they are safe from anywhere.
 *
 * Errors: functions that can fail return -1 and fill the caller's LabErr (code + message naming
 * the file, table or field). Strings in returned structs are owned as each comment says. */
#ifndef ABLAB_LAB_H
#define ABLAB_LAB_H

#include <stdio.h>

#include "base.h"

typedef struct Lab Lab;

enum { LAB_SLOT_A = 0, LAB_SLOT_B = 1, LAB_SIDE_LEFT = 0, LAB_SIDE_RIGHT = 1 };
#define LAB_NAME_MAX 128   /* display strings in fixed arrays are truncated to this (NUL included) */

/* ---------- configuration -------------------------------------------------------------------- */
typedef struct {
    double temp;            /* 0 = greedy */
    int    top_k;           /* 0 = off */
    double top_p;           /* 1 = off */
    double min_p;           /* 0 = off */
    double repeat_penalty;  /* 1 = off */
    int    repeat_last_n;   /* -1 = whole context */
    int    max_tokens;
    int64_t seed;           /* -1 = a fresh random seed per response (the seed used is stored) */
} LabSampling;

/* The defaults of engine.h's settings table (llama.cpp's temp 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * no penalty over 64; 128 tokens; seed -1). */
LabSampling lab_sampling_default(void);

/* ---------- the sampling settings' table (engine.h's, in the lab's terms; settings.c) ---------
 * Row i (0 <= i < LAB_SAMPLING_N) is one field of LabSampling, in the table's order: the config
 * keys, the flags' help, the settings screen's rows and the export columns all walk these rows,
 * and every value from the user goes through lab_sampling_parse or lab_sampling_check. */
enum { LAB_SAMPLING_N = 8 };
typedef struct {
    const char *name;       /* config key, stored and exported column: "top_p" */
    const char *flag;       /* long option without the dashes: "top-p" */
    const char *arg;        /* the option's argument in usage text: "P" */
    const char *label;      /* on the settings screen: "top-p" */
    const char *help;
    char range[96];         /* the valid values in words: "a number in [0, 1]" */
    char def[32];           /* the default as lab_sampling_format writes it */
} LabSettingInfo;
/* -1 for a row out of range. Strings are static. */
int  lab_sampling_info(int i, LabSettingInfo *out);
/* Row i of s as text ("0.8", "40", "random" for seed -1); "" for a bad row. */
void lab_sampling_format(const LabSampling *s, int i, char *out, size_t n);
/* Sets row i of s from text after the table's check; on error s is unchanged and e says
 * "top_p must be a number in [0, 1], not 1.5" (callers prefix where the text came from). */
int  lab_sampling_parse(LabSampling *s, int i, const char *text, LabErr *e);
/* The text of row i one settings-screen step (dir +1 or -1) away, held inside the range. */
void lab_sampling_step(const LabSampling *s, int i, int dir, char *out, size_t n);
/* Every row of s through the table's check; e names the first bad one as lab_sampling_parse does. */
int  lab_sampling_check(const LabSampling *s, LabErr *e);
/* The engine's settings for s with a concrete seed (s->seed may be -1) and no stop strings. */
struct EngSampling;
void lab_sampling_engine(const LabSampling *s, uint64_t seed, struct EngSampling *out);

/* How a blind pair's two answers appear while they are written. TOGETHER (the default): neither
 * pane shows text until both answers are complete, then both appear in the same frame, so neither
 * speed nor time to the first token tells the models apart. NATURAL: each pane shows its text as
 * its model writes it. The pacing used is recorded with each pair. */
typedef enum { LAB_PACING_TOGETHER = 0, LAB_PACING_NATURAL = 1 } LabPacing;
const char *lab_pacing_name(LabPacing p);             /* "together", "natural" */
int  lab_pacing_parse(const char *s, LabPacing *out); /* the names above; -1 otherwise */

/* How an arm's prompts reach its model. RAW: as text (a base model; several turns are the text so
 * far, each new user turn after a blank line). CHAT: through the model's chat template
 * (tokenizer_config.json's chat_template or chat_template.jinja), rendered as transformers does,
 * and the answer ends at the template's end-of-turn tokens. AUTO: chat when the model has a
 * template that loaded, else raw. */
typedef enum { LAB_CHAT_AUTO = 0, LAB_CHAT_ON = 1, LAB_CHAT_RAW = 2 } LabChatMode;
const char *lab_chat_mode_name(LabChatMode m);              /* "auto", "chat", "raw" */

/* A conversation's messages (owned strings; lab_chat_msgs_free). */
typedef struct { char **role, **content; int n; } LabChatMsgs;
void lab_chat_msgs_free(LabChatMsgs *m);
/* A prompt set's conversation line as the lab stores it ({"messages":[...]}: lab_prompts_read):
 * 1 with *out filled, 0 when text is a plain prompt, -1 out of memory. */
int  lab_conversation_parse(const char *text, LabChatMsgs *out, LabErr *e);

typedef struct {
    const char *model_path[2]; /* per slot; NULL or "" = no model in that slot (a database-only lab
                                  is enough for stats, export, history and rating) */
    const char *db_path;       /* created (with its folder) if missing */
    int threads;               /* total for the lab, split between the two engines (0 = 2) */
    int ctx;                   /* KV cache length per model (0 = engine default) */
    LabSampling sampling;      /* the initial shared settings for both slots */
    bool blind;                /* the initial mode of ad-hoc prompts (sessions set their own) */
    LabPacing pacing;          /* how blind ad-hoc pairs are revealed (studies set their own) */
    bool mmap;                 /* engines read weights in place from the files (EngLoadOpts.mmap) */
    const char *tokenizer_path[2]; /* per slot: the tokenizer instead of the one beside the weights
                                      (NULL = found beside them); the first load only */
    const char *quant[2];      /* per slot: convert the weights at load ("f32", "f16", "bf16", "q8_0";
                                  NULL = as the file holds them); kept for later loads into the slot */
    LabChatMode chat[2];       /* per slot (lab_chat_set); CHAT on a model without a usable
                                  template fails lab_open with the reason */
    const char *system_prompt; /* sent first in every conversation (NULL or "" = none): a system
                                  message to a chat arm, text and a blank line before a raw arm's */
    const char *const *lora[2]; /* per slot: n_lora[k] LoRA adapters "PATH[:SCALE]" (EngLoadOpts.lora),
                                  applied in order; kept for later loads into the slot */
    int n_lora[2];
    bool restore_settings;     /* start from the settings the last lab_settings_set saved in the
                                  database (the UI), instead of `sampling` and `threads` */
    /* optional model-load progress, called on the thread that runs lab_open */
    void (*progress)(int slot, double frac, void *ud);
    void *progress_ud;
} LabConfig;

#define LAB_MERGE_TABLES 12

/* Defaults: no models, db "ablab.db", threads 2, ctx 0, lab_sampling_default(), open mode. */
void lab_config_init(LabConfig *c);
/* The threads one slot gets of a total budget: A gets the larger half, and each slot gets at least
 * one (so a total of 1 still runs two threads). `ablab bench --pair` splits its budget the same way. */
int  lab_thread_share(int threads, int slot);

/* Opens the database (creating/migrating it) and loads the models that are named. On error
 * *out is NULL and nothing stays open. The current session is an open-mode "lab" session that is
 * created on the first lab_ask (see lab_session_start to choose another). */
int  lab_open(Lab **out, const LabConfig *c, LabErr *e);
/* A lab on the record alone (no engines are touched, so it starts at once): what `ablab stats`,
 * `ablab export` and `ablab rate` use. lab_model_swap can still load models into it later. */
int  lab_open_record(Lab **out, const char *db_path, LabErr *e);
/* lab_open and lab_open_record open a record that cannot be written (chmod 444, a read-only
 * medium) read-only when it is at the current schema version: browsing, statistics and exports
 * work, and every write (asking, rating, settings) fails with LAB_EIO saying the record is
 * read-only. True in that case; say so to the user. */
bool lab_read_only(const Lab *l);
/* Stops and joins any generation (stopped answers follow record_cancelled), frees the models,
 * closes the database. A rating still pending (lab_rate_pending) is dropped: offer the retry
 * before closing. NULL-safe. */
void lab_close(Lab *l);

/* ---------- pooling records of several machines (`ablab merge`; pool.c) ------------------------ */
typedef struct {
    const char *table;                    /* "sources", "models", "studies", "sessions", ... */
    int64_t added, present, conflicts;
} LabMergeCount;
typedef struct {
    bool conflict;                        /* false: a remark (a study added under another name) */
    const char *table, *uuid, *what;
} LabMergeNote;
typedef struct {
    const char *path;
    LabMergeCount count[LAB_MERGE_TABLES]; /* parents first */
    const LabMergeNote *notes;
    size_t n_notes;
} LabMergeInput;
typedef struct {
    LabMergeInput *inputs;                /* [n], in the order given */
    int n;
    void *priv;
} LabMergeResult;
/* Merges the records `inputs` into the record at out_path (created if missing) in one transaction:
 * every row by its global id, models by hash, studies by protocol; inputs are only read. Conflicts
 * are listed in *res (not an error). On error (naming the file) the output is left as it was and
 * *res is empty. Free *res with lab_merge_result_free (NULL-safe, also after an error). */
int  lab_merge(const char *out_path, const char *const *inputs, int n, LabMergeResult *res, LabErr *e);
void lab_merge_result_free(LabMergeResult *res);

/* ---------- evaluations and benchmarks (`ablab eval`, `ablab bench`; record.c) ---------------- */
/* Both take a model the command loaded itself (an engine EngModel, opaque here): its row in the
 * record is found or added (path, hashes, dtype) and the results are added to it. */
struct EngModel;
typedef struct {
    const char *dataset;          /* the text file's name */
    int64_t n_tokens;
    double token_ppl, byte_ppl, word_ppl, bits_per_byte;
    const char *details_json;     /* NULL or a JSON object (window, stride, bytes, words, ...) */
    int64_t *id_out;              /* NULL, or gets the id of the bits_per_byte row */
} LabEvalRecord;
/* One row per metric: "token_ppl", "byte_ppl", "word_ppl", "bits_per_byte". */
int  lab_record_eval(Lab *l, const char *path, const struct EngModel *m, const LabEvalRecord *r, LabErr *e);
typedef struct {
    const char *name;             /* "pp512", "tg128" */
    int threads, n_prompt, n_gen;
    double prefill_tok_s, decode_tok_s; /* the mean of the repetitions (0 for the other kind) */
    const char *details_json;     /* NULL or a JSON object (sd, CPU-time figures, kernels, ...) */
    int64_t *id_out;              /* NULL, or gets the new row's id */
} LabBenchRecord;
int  lab_record_bench(Lab *l, const char *path, const struct EngModel *m, const LabBenchRecord *r, LabErr *e);

typedef struct { double lo, hi; } LabInterval;

/* ---------- scaling: `ablab scale` and the lab's scale screen (scale.c) ----------------------- */
/* One model's measurement as stored (schema v8): quality, size, speed and the settings and
 * machine it was measured on. Strings are copies the row owns (fixed buffers). */
typedef struct {
    int64_t id, model_id;
    char path[512], name[LAB_NAME_MAX], dtype[16], weights_sha256[65];
    char corpus[256], corpus_sha256[65], cpu[128], version[32];
    int ctx, threads, n_prompt, n_gen, reps;
    int64_t n_params, n_params_nonemb, bytes_on_disk, bytes_resident, n_tokens;
    double load_ms, prefill_tok_s, decode_tok_s, bits_per_byte, token_ppl;
    int64_t eval_id, prefill_bench_id, decode_bench_id, created_ms;
} LabScaleRow;
typedef struct { LabScaleRow *v; size_t n, cap; } LabScaleRows;
void lab_scale_rows_free(LabScaleRows *r);

/* Stores one measurement of the model m loaded from path (its model row found or added, as
 * lab_record_eval). row->model_id and row->id are filled. */
int  lab_scale_record(Lab *l, const char *path, const struct EngModel *m, LabScaleRow *row, LabErr *e);
/* Every stored measurement, oldest first, appended to out (caller frees with lab_scale_rows_free). */
int  lab_scale_rows(Lab *l, LabScaleRows *out, LabErr *e);
/* The newest stored measurement of model_id on corpus_sha256 with these settings: 1 and *out
 * filled, 0 if none. */
int  lab_scale_find(Lab *l, int64_t model_id, const char *corpus_sha256, int ctx, int threads, int n_prompt,
                    int n_gen, int reps, LabScaleRow *out, LabErr *e);

/* One model's measurement as `ablab scale` makes it (and the lab's scale screen): the model loaded
 * from path (quant at load, NULL = the file's dtype), bits per byte on the corpus (eval's method),
 * pp and tg tokens/s (bench's: a warm-up, then the mean of reps runs), sizes and load time. The
 * corpus and prompt texts are the caller's and must outlive the call. */
typedef struct {
    const char *path, *quant, *tokenizer;  /* the model; quant/tokenizer NULL = as found */
    const char *corpus_name;               /* as recorded (the file's base name) */
    const char *text;                      /* the corpus, NUL-terminated UTF-8 */
    const char *corpus_sha256;             /* of text */
    const char *prompts_name, *prompts_text; /* NULL, or: pp = the lines' mean token count */
    int load_ctx;                          /* KV cache to allocate (0 = the engine's default) */
    int ctx;                               /* eval window (0 = the loaded context) */
    int threads, n_prompt, n_gen, reps;
    bool mmap;
    /* optional: stage ("load", "eval", "bench"), overall fraction 0..1; on the calling thread */
    void (*progress)(const char *model, const char *stage, double frac, void *ud);
    void *ud;
    const int *cancel;                     /* optional: non-zero stops at the next window or run */
} LabScaleJob;
/* Measures j->path and stores the measurement with the eval and bench rows it made, written only
 * once every number is in (a cancelled or failed measurement stores nothing). A measurement of
 * the same model on the same corpus with the same settings already in the record is returned
 * instead (*stored = true) without measuring. -1 with e filled (LAB_ECANCEL when cancelled). */
int  lab_scale_measure(Lab *l, const LabScaleJob *j, LabScaleRow *row, bool *stored, LabErr *e);
/* The path and --quant ("" = none) of the model loaded in slot (0 = A, 1 = B), for measuring it
 * (lab_scale_measure loads its own copy). LAB_ENOTFOUND if the slot is empty. */
int  lab_scale_slot_source(Lab *l, int slot, char *path, size_t path_cap, char *quant, size_t quant_cap, LabErr *e);
/* The scale screen's "measure now": the models loaded in A and B (once if both are the same file
 * at the same type), each loaded again on its own and measured with the lab's threads on the
 * corpus file at corpus_path, with `ablab scale`'s defaults (pp64, tg32, 3 repetitions). progress,
 * ud and cancel as in LabScaleJob (progress runs on the calling thread: call this from a worker).
 * Returns the number of models measured or found measured before; -1 with e filled (LAB_ECANCEL
 * when cancelled: the model being measured leaves nothing in the record, one finished before it
 * stays). */
int  lab_scale_measure_loaded(Lab *l, const char *corpus_path,
                              void (*progress)(const char *model, const char *stage, double frac, void *ud), void *ud,
                              const int *cancel, LabErr *e);

/* Power law with an irreducible term, L(N) = E + A * N^(-alpha), fitted to (n[i], y[i]) by
 * nonlinear least squares (Levenberg–Marquardt on log A, alpha, E), with a seeded bootstrap
 * (resampling points, `rounds` times, 0 = 1000) for the 95% percentile interval of alpha.
 * With fewer than four distinct sizes: the log-log slope of y against n (loglog = true, alpha =
 * -slope, E = 0, A = exp(intercept)), its interval from the same bootstrap when 3 points, NaN
 * else. -1 with e filled for fewer than two points, a size <= 0, or a y that is not positive
 * and finite where a log is needed. */
typedef struct {
    bool loglog;             /* the plain log-log slope, not the three-parameter fit */
    double E, A, alpha;
    LabInterval alpha_ci;    /* NaN bounds when there is no interval */
    double rss;              /* residual sum of squares of the fit */
    int n_points, rounds;
} LabPowerFit;
int  lab_power_fit(const double *n, const double *y, size_t count, int rounds, uint64_t seed, LabPowerFit *out,
                   LabErr *e);
double lab_power_eval(const LabPowerFit *f, double n);

/* The Pareto frontier of points where less x and less y are both better (cost and bits per
 * byte): on[i] = true when no other point is at most as large in both and smaller in one. */
void lab_pareto_min(const double *x, const double *y, size_t n, bool *on);

/* The three plots of `ablab scale` (SVG, svg.c): quality against non-embedding parameters (log
 * axis, the fitted curve; a second panel of Elo when ratings exist), bits per byte against cost
 * per million generated tokens (machine-hours without a price) with the Pareto frontier, decode
 * tokens/s against resident bytes. Every plot carries its axis labels with units and the
 * conditions line. -1 if writing f failed. */
typedef enum { LAB_SCALE_PLOT_PARAMS, LAB_SCALE_PLOT_COST, LAB_SCALE_PLOT_SPEED } LabScalePlot;
typedef struct {
    const LabScaleRow *rows;
    size_t n;
    const double *elo;            /* per row, NaN = not rated; NULL = no ratings */
    const LabPowerFit *fit;       /* NULL = none */
    double price;                 /* USD per hour, 0 = none */
    const char *conditions;       /* "machine ..., threads ..., date ..., ablab ..." */
} LabScalePlotData;
int  lab_scale_svg(FILE *f, LabScalePlot which, const LabScalePlotData *d);

/* ---------- models (the models screen) ------------------------------------------------------- */
typedef struct {
    bool loaded;
    int64_t db_id;                    /* row in the record (0 if none) */
    char name[LAB_NAME_MAX];          /* folder or file base name */
    char path[1024];                  /* truncated for display if longer */
    char arch[32], format[16], dtype[16], file_dtype[16], tokenizer_kind[32];
    int64_t n_params;
    int n_layer, n_head, n_kv_head, dim, vocab, ctx, ctx_max;
    size_t bytes_on_disk;             /* weight files */
    size_t bytes_mapped, bytes_owned; /* weights in memory: mapped from the file / our own copy */
    size_t bytes_kv, bytes_scratch;
    size_t bytes_memory;              /* mapped + owned + kv + scratch; kv + scratch when shared */
    bool shared;                      /* the same file as the other slot's, with the same --quant and
                                         adapters: it reads that slot's weights (one copy in memory), and
                                         load_ms is the time to set up its own cache and threads */
    double load_ms;
    int n_threads;                    /* this engine's share of the lab's threads */
    bool has_template;                /* the model carries a chat template that loaded */
    bool chat;                        /* its prompts go through the template (the slot's mode) */
    char chat_note[256];              /* why a template beside the weights was refused, "" if none */
    bool remote;                      /* served elsewhere (an http(s):// URL): path is its URL without
                                         credentials and "#MODEL", name "MODEL @ HOST:PORT"; parameters,
                                         shape, context, bytes and threads are unknown (0), not zero */
    char served_model[256];           /* remote: the model id the server serves */
} LabModelInfo;

/* Fills *out for a slot (out->loaded false if the slot is empty). Returns -1 for a bad slot. */
int  lab_model_info(const Lab *l, int slot, LabModelInfo *out);
/* Loads `path` into `slot`, replacing what was there. Blocking: run it from a worker thread to
 * draw the progress (called with 0..1 on the loading thread); meanwhile lab_model_info may be
 * called and lab_ask answers LAB_EBUSY. Fails with LAB_EBUSY while a generation or another load
 * runs; on any failure the previous model stays loaded. */
int  lab_model_swap(Lab *l, int slot, const char *path, void (*progress)(double frac, void *ud),
                    void *ud, LabErr *e);
/* Exchanges the models of slots A and B (and their per-slot settings). LAB_EBUSY while generating. */
int  lab_model_swap_slots(Lab *l, LabErr *e);

/* A model `ablab pull` finished: a folder under the models directory holding ablab-pull.json. */
typedef struct {
    char name[LAB_NAME_MAX];          /* "owner/name" (the folder under the models directory) */
    char path[1024];                  /* the folder; a longer path is left out of the list */
    char revision[64];                /* as pulled ("main", a tag, a commit) */
    int64_t bytes;                    /* the pulled files, from the record */
    int64_t pulled_at_ms;             /* unix ms; 0 if the record has none */
} LabPulled;
typedef struct { LabPulled *v; size_t n; } LabPulledList;
/* Fills *out with the finished pulls under models_dir (OWNER/NAME and NAME folders), sorted by
 * name. A folder without the record (a pull under way or interrupted) or with an unreadable one
 * is left out; a missing models_dir gives an empty list. Returns 0, or -1 with e filled (out of
 * memory, models_dir unreadable). *out is the caller's: lab_pulled_free. */
int  lab_pulled_list(const char *models_dir, LabPulledList *out, LabErr *e);
void lab_pulled_free(LabPulledList *l);   /* NULL-safe; leaves l zeroed */

/* ---------- chat: each arm raw or chat, a system prompt, multi-turn conversations ------------- */
/* Sets how a slot's prompts are sent (from the next ask). LAB_EINVAL for CHAT on a model without a
 * usable template (the message says why), LAB_EBUSY while generating. */
int  lab_chat_set(Lab *l, int slot, LabChatMode mode, LabErr *e);
LabChatMode lab_chat_get(const Lab *l, int slot);
/* The system prompt of the conversations that start from now (NULL or "" = none). */
int  lab_system_set(Lab *l, const char *text, LabErr *e);
const char *lab_system_get(const Lab *l);                  /* "" if none; valid until the next set */
/* Forgets both arms' histories: the next ask starts a new conversation. */
void lab_conversation_reset(Lab *l);
/* User turns asked in the current conversation so far (0: the next ask starts one). */
int  lab_conversation_turns(Lab *l);

/* ---------- settings (the settings overlay) -------------------------------------------------- */
typedef struct {
    bool shared;            /* one set of sampling settings for both slots (s[1] mirrors s[0]) */
    LabSampling s[2];       /* per slot */
    int threads;            /* total, split between the engines (each gets at least 1) */
} LabSettings;

void lab_settings_get(const Lab *l, LabSettings *out);
/* Validates (ranges as `ablab config` accepts), applies to the next lab_ask, applies the thread
 * split to the loaded engines and remembers the settings in the database for the next start.
 * LAB_EINVAL names the bad field; LAB_EBUSY while generating (threads cannot change mid-answer). */
int  lab_settings_set(Lab *l, const LabSettings *s, LabErr *e);

/* ---------- sessions and studies ------------------------------------------------------------- */
typedef struct {
    const char *name;        /* unique; starting a session whose name exists resumes it */
    const char *kind;        /* "lab", "run" or "study" (NULL = "lab") */
    const char *participant; /* pseudonym (NULL = none) */
    const char *prompt_set;  /* name of the prompt set, e.g. the file name (NULL = ad hoc) */
    bool blind;
    bool consent;            /* the participant agreed to the consent text */
    int64_t seed;            /* blind sides and study order; -1 = random (stored, so a resume
                                reproduces the same order and sides) */
    const char *notes;
    int64_t study_id;        /* the study (lab_study_open) whose protocol every ask of this session
                                follows; 0 = none. A resumed session must name the same study. */
} LabSessionSpec;

typedef struct {
    int64_t id;
    char name[LAB_NAME_MAX], kind[16], participant[LAB_NAME_MAX], prompt_set[LAB_NAME_MAX];
    bool blind, consent, resumed, ended;
    int64_t seed;
    int64_t started_ms, ended_ms;  /* unix ms; ended_ms 0 while open */
    int n_prompts;                 /* prompts in the session's set */
    int n_pairs_complete;          /* pairs with both responses recorded */
    int n_rated;                   /* pairs rated by this session's participant */
    int64_t study_id;              /* 0 = not part of a study */
} LabSessionInfo;

/* Starts (or resumes, when the name exists) a session and makes it current. A resumed session
 * keeps its stored mode, seed and participant; spec fields that contradict them give LAB_EINVAL
 * (e.g. resuming a blind session as open). */
int  lab_session_start(Lab *l, const LabSessionSpec *spec, LabSessionInfo *out, LabErr *e);
/* The current session (out->id 0 if none yet). */
int  lab_session_info(Lab *l, LabSessionInfo *out, LabErr *e);
/* Records the end time (and notes if non-NULL) of the current session. */
int  lab_session_end(Lab *l, const char *notes, LabErr *e);

/* A list of strings (prompts, history entries). lab_strlist_free frees the strings and the arrays.
 * line[i] is the line of the file v[i] came from (lab_prompts_read; NULL otherwise). */
typedef struct { char **v; size_t n; int *line; } LabStrList;
void lab_strlist_free(LabStrList *s);

/* Reads prompts from a file: one prompt a line (blank lines and lines starting with '#' skipped),
 * or JSON lines {"prompt": "..."} (detected per line by a leading '{'). Errors name the file and line. */
int  lab_prompts_read(const char *path, LabStrList *out, LabErr *e);
/* Stores `prompts` as the current session's prompt set at positions 0..n-1. Idempotent: on a
 * resumed session the same prompts are found again; a different text at a stored position gives
 * LAB_EINVAL ("prompt 3 differs from the stored set"). */
int  lab_session_set_prompts(Lab *l, const LabStrList *prompts, LabErr *e);

/* The sha256 (hex) a study records for a prompt set: over "LENGTH:TEXT\n" for each prompt in order,
 * so a changed, added, removed or reordered prompt changes it and comments do not. */
void lab_prompts_sha256(const LabStrList *prompts, char out[65]);

/* Checks a whole prompt set against both loaded models before anything is asked: each prompt is
 * valid UTF-8, not empty or only spaces, and its tokens plus max_tokens fit each model's context.
 * Returns the number of prompts that fail (0 = all can be asked), with one line per failure added
 * to *problems ("prompts.txt:4: 714 tokens + 64 to write do not fit model A's context of 512");
 * `path` names the file in them (NULL: "prompt N"). -1 on an error of its own (a slot empty, out of
 * memory). *problems is initialized here; free it with lab_strlist_free. */
int  lab_prompts_check(Lab *l, const LabStrList *prompts, const char *path, int max_tokens, LabStrList *problems,
                       LabErr *e);

/* ---------- studies: a protocol recorded once, followed by every participant ---------------- */
typedef struct {
    const char *name;           /* unique in the record */
    const char *prompt_set;     /* the set's name (its file's base name) */
    const LabStrList *prompts;  /* the set (its sha256 is recorded) */
    LabSampling sampling;       /* both models; seed -1 = a fresh seed per response, recorded with it */
    bool blind;
    LabPacing pacing;
    const char *source;         /* where the protocol came from, in words ("flags and config") */
} LabStudySpec;

typedef struct {
    int64_t id;
    char name[LAB_NAME_MAX], prompt_set[LAB_NAME_MAX], source[LAB_NAME_MAX];
    char prompts_sha256[65];
    int n_prompts;
    LabSampling sampling;
    bool blind;
    LabPacing pacing;
    int64_t created_ms;
    bool created;               /* made by this call (false: found in the record) */
} LabStudy;

/* Finds the study spec->name, or creates it from spec. A study found keeps its recorded protocol
 * (*out is what it is): LAB_EINVAL when spec->prompts differ from its set (by sha256), and, when
 * `strict` (the caller's settings were asked for explicitly), when a setting, blind or the pacing
 * differs ("study 'pilot' was created with temperature 0.8, not 0.2; ..."). */
int  lab_study_open(Lab *l, const LabStudySpec *spec, bool strict, LabStudy *out, LabErr *e);
/* The study recorded under `name`: 1 with *out filled, 0 if there is none. */
int  lab_study_find(Lab *l, const char *name, LabStudy *out, LabErr *e);
/* The protocol of the current session's study: 1 with *out filled, 0 if the session has none. */
int  lab_study_current(Lab *l, LabStudy *out, LabErr *e);

/* The current session's prompt ids in position order (*ids malloc'd, caller frees). */
int  lab_session_prompt_ids(Lab *l, int64_t **ids, size_t *n, LabErr *e);
/* A session by name, or by number ("12" = id 12): *id, or LAB_ENOTFOUND. */
int  lab_session_find(Lab *l, const char *name_or_id, int64_t *id, LabErr *e);

typedef struct {
    int64_t prompt_id;
    int position;            /* in the prompt set */
    int k, n;                /* 1-based progress: this is item k of n in this session's order */
    int rep;                 /* repetition index (0 for studies) */
    int64_t pair_id;         /* 0 if not answered yet; else the pair to show and rate */
    bool answered;           /* both responses already recorded (resume: show them, then rate) */
    char *text;              /* prompt text, owned by the lab, valid until the next lab_study_next */
    int n_failed;            /* prompts passed over because an error kept them from being answered
                                (also filled when lab_study_next returns 0) */
} LabStudyItem;

/* The next prompt of the current session that this participant has not rated and that did not fail
 * (a pair whose answer failed is recorded as failed and passed over: a study never asks one prompt
 * forever), in the session's balanced order (a seeded shuffle per participant). Returns 1 with *out filled, 0 when every
 * prompt is rated (the thank-you screen), -1 on error. */
int  lab_study_next(Lab *l, LabStudyItem *out, LabErr *e);

/* ---------- asking: both engines at once ----------------------------------------------------- */
/* What the UI shows of a response's metrics (a copy: no engine types). */
typedef struct {
    int n_prompt, n_gen;
    double ttft_ms, prefill_ms, decode_tok_s, total_ms, p50_ms, p95_ms;
    size_t bytes_weights, bytes_kv, bytes_scratch;
    size_t bytes_engine;     /* weights + kv + scratch */
    size_t peak_rss;         /* whole process, bytes */
    int n_threads;
    uint64_t seed;           /* the seed actually used */
    char stop[12];           /* "" while running; then "eos", "length", "stop", "cancel", "context", "error" */
    bool remote;             /* a remote arm: times are the client's (ttft to the first text received,
                                tok/s over the stream), n_prompt/n_gen the server's usage when it gave
                                one (n_gen: else the stream's pieces); bytes and threads unknown (0) */
} LabMetrics;

typedef struct {
    /* A piece of text (complete UTF-8, may contain any bytes a model writes: sanitize before
     * drawing) for the pane on `side`, with the live metrics so far. */
    void (*on_piece)(int side, const char *text, size_t len, const LabMetrics *live, void *ud);
    /* One side ended: m is final; response_id the recorded row (0 if not recorded: error, or a
     * cancelled answer when record_cancelled is false); err NULL unless it failed. */
    void (*on_done)(int side, const LabMetrics *m, int64_t response_id, const LabErr *err, void *ud);
    /* Both sides ended and are recorded: `ratable` is true when both responses exist, i.e. the
     * pair can be rated now. Called once per lab_ask, last of all its callbacks. */
    void (*on_pair_done)(int64_t pair_id, bool ratable, void *ud);
    void *ud;
} LabEvents;

typedef struct {
    int64_t prompt_id;       /* answer a stored prompt of the current session (text may be NULL),
                                0 = store `text` as a new ad-hoc prompt */
    int rep;                 /* repetition index: (session, prompt, rep) names one pair */
    const LabSampling *sampling[2]; /* per slot overrides for this ask; NULL = lab_settings */
    bool record_cancelled;   /* keep answers stopped by lab_stop (UI: true; batch run: false, so a
                                resumed run generates them again) */
    bool shown;              /* the answers are shown while written (the UI): the pair records its
                                pacing (the study's, else LabConfig.pacing when blind, else natural) */
    bool follow_up;          /* the next user turn of the current conversation: each arm is given its
                                own history (its earlier answers) before this text; false starts a new
                                conversation. A stored prompt that is a conversation ({"messages":..})
                                is always one of its own. */
} LabAskOpts;

/* In a session of a study, both slots always use the study's sampling settings (o->sampling and
 * lab_settings are not used); a generation that fails records its error on the pair.
 * Starts both engines on the prompt and returns at once; *pair_id is the pair (created before the
 * first token; no write transaction is held while tokens stream). Re-asking an existing
 * (session, prompt, rep) only generates the slots that have no recorded response (resume); when
 * both exist it starts nothing, calls on_pair_done(pair, true) and returns 0. Needs both slots
 * loaded; LAB_EBUSY while a previous ask is still running. `o` may be NULL. The prompt text is
 * added to the prompt history. Callbacks run on worker threads (see the top of this file). */
int  lab_ask(Lab *l, const char *text, const LabAskOpts *o, const LabEvents *ev, int64_t *pair_id, LabErr *e);
/* lab_ask for n stored prompts at once (o[i].prompt_id, rep and sampling as lab_ask takes them;
 * pair_ids[i] gets each pair, may be NULL): every pair is created or found as lab_ask does it
 * (resume: a side already recorded is not generated again), then one worker per model decodes its
 * answers to all of them together (the engine's batched decode: the weights read once a step for
 * all), recording each response as lab_ask's worker does once it is complete. The answers are those
 * lab_ask gives one at a time with the same seeds. n_todo[i] (may be NULL) gets how many sides of
 * pair i are generated now (0: both were recorded already). Callbacks as lab_ask's (on_pair_done
 * once per pair); lab_wait waits for all of them. Local models only: a remote arm is refused. */
int  lab_ask_many(Lab *l, const LabAskOpts *o, int n, const LabEvents *ev, int64_t *pair_ids, int *n_todo,
                  LabErr *e);
/* Cancels both generations; the answers so far are kept (see record_cancelled). Returns at once;
 * on_done/on_pair_done still follow. Safe from any thread and from a signal-flag loop. */
void lab_stop(Lab *l);
/* True while a lab_ask's workers run or lab_model_swap is loading. Safe from any thread. */
bool lab_busy(Lab *l);
/* Blocks until the running ask (if any) has delivered on_pair_done. */
void lab_wait(Lab *l);

/* ---------- rating ---------------------------------------------------------------------------- */
typedef enum { LAB_CHOICE_A = 0, LAB_CHOICE_B, LAB_CHOICE_TIE, LAB_CHOICE_BOTH_BAD } LabChoice;
const char *lab_choice_name(LabChoice c);              /* "a", "b", "tie", "both-bad" */
int  lab_choice_parse(const char *s, LabChoice *out);  /* the names above; -1 otherwise */

typedef struct {
    bool by_slot;            /* false (UI): choice A/B and score[] refer to sides as shown;
                                true (scripts): they refer to models A/B (slots) */
    int score[2];            /* optional 1..5, 0 = none */
    const char *tags;        /* comma-separated, NULL = none */
    const char *comment;     /* NULL = none */
    double decide_ms;        /* time to decide (from the end of the answers), < 0 = unknown */
    const char *participant; /* NULL = the current session's participant */
} LabRateOpts;

typedef struct {
    int64_t rating_id;
    int64_t pair_id;
    char model_name[2][LAB_NAME_MAX]; /* by side as shown: what blind mode reveals after the vote */
    int left_slot;                    /* slot that was shown on the left */
    LabChoice model_choice;           /* the choice resolved to models (A = slot A better) */
} LabRateResult;

/* Commits a rating in its own transaction before returning. On a database failure (disk full,
 * locked past the busy timeout, I/O error) the rating is kept in memory: lab_rate_pending says
 * so and lab_rate_retry commits it later (the user is offered a retry). LAB_ENOTFOUND for an
 * unknown pair, LAB_EINVAL for an incomplete pair or a score out of range. */
int  lab_rate(Lab *l, int64_t pair_id, LabChoice c, const LabRateOpts *o, LabRateResult *out, LabErr *e);
bool lab_rate_pending(const Lab *l);
int  lab_rate_retry(Lab *l, LabRateResult *out, LabErr *e);
void lab_rate_discard(Lab *l);
/* Every lab_rate is one change of a participant's rating of a pair (the vote, a score, the tags,
 * the comment: pass the whole state, what is not changed included); the record keeps them all.
 * lab_undo_rating steps back the most recent change made through this Lab — repeatable, one change
 * at a time, down to no rating — and *pair_id (may be NULL) gets its pair: read what stands now
 * with lab_rating_current. LAB_ENOTFOUND when there is nothing left to step back. */
int  lab_undo_rating(Lab *l, int64_t *pair_id, LabErr *e);

/* A participant's current rating of a pair, by side as shown (what the vote area displays). */
typedef struct {
    int64_t rating_id;
    LabChoice choice;        /* as shown: A = the left answer */
    LabChoice model_choice;  /* resolved to models (A = slot A) */
    int score[2];            /* by side, 0 = none */
    char tags[256], comment[1024];  /* "" if none (longer text is cut at a UTF-8 boundary) */
    double decide_ms;        /* < 0 = unknown */
} LabRating;
/* participant NULL = the current session's participant for its own pairs, else anonymous.
 * 1 with *out filled, 0 if that participant has not rated the pair, -1 on error (LAB_ENOTFOUND
 * for an unknown pair). */
int  lab_rating_current(Lab *l, int64_t pair_id, const char *participant, LabRating *out, LabErr *e);

/* ---------- history (browse, search, open, re-rate) ------------------------------------------ */
typedef struct {
    int64_t pair_id, session_id, prompt_id;
    int rep;
    int64_t created_ms;
    const char *session_name;
    const char *prompt;              /* valid during the callback only */
    const char *output[2];           /* by slot; NULL if that response is missing */
    const char *model_name[2];       /* by slot */
    int left_slot;
    bool blind;
    int n_ratings;
    const char *last_choice;         /* resolved to models: "a", "b", "tie", "both-bad"; NULL if unrated */
} LabPairRow;

/* Calls each() for pairs, newest first. search: NULL/"" = all, else a full-text query over
 * prompts and outputs (SQLite FTS5 syntax; text that is not valid FTS5, e.g. "don't", is searched
 * as plain words). session_id 0 = all sessions. each() returns 0 to continue, nonzero to stop; it
 * runs with the record locked, so it must not call the lab. */
int  lab_history(Lab *l, const char *search, int64_t session_id, int limit, int offset,
                 int (*each)(const LabPairRow *row, void *ud), void *ud, LabErr *e);

typedef struct {
    int64_t id, response_id[2];      /* by slot */
    char *prompt, *output[2];        /* owned; lab_pair_free */
    char model_name[2][LAB_NAME_MAX];
    int left_slot;
    bool blind;
    char pacing[12];                 /* how the answers appeared while written: "together", "natural",
                                        "" = not shown then (`ablab run`) */
    bool failed;                     /* an error kept the pair from being answered */
    LabMetrics metrics[2];           /* by slot */
    LabSampling sampling[2];         /* by slot, as recorded */
} LabPair;
int  lab_pair_get(Lab *l, int64_t pair_id, LabPair *out, LabErr *e);
void lab_pair_free(LabPair *p);

/* Prompt history for the line editor, oldest first, at most `limit` distinct entries. */
int  lab_prompt_history(Lab *l, int limit, LabStrList *out, LabErr *e);

/* ---------- statistics ------------------------------------------------------------------------ */

/* Which part of the record statistics and exports pool. Every filter set must hold (AND). */
typedef struct {
    int64_t session_id;      /* 0 = any session */
    const char *study;       /* NULL = any; else the sessions of the recorded study of this name,
                                or the study sessions of this prompt set (e.g. "story-openings.txt") */
    const char *participant; /* NULL = any; ratings by this participant, and the responses of
                                the sessions they took part in */
    const char *source;      /* NULL = any; "lab", "study" or "run" sessions only */
} LabScope;
/* Checks the scope's names ("source 'x' is not lab, study or run"). */
int  lab_scope_check(const LabScope *s, LabErr *e);

typedef struct {
    int64_t session_id;      /* 0 = all sessions (kept: the same as scope.session_id) */
    int bootstrap_rounds;    /* 0 = 1000 */
    uint64_t seed;           /* bootstrap seed (0 = 1) */
    LabScope scope;
} LabStatsQuery;

typedef struct {
    int64_t model_id[2];
    char name[2][LAB_NAME_MAX];
    int votes;               /* ratings counted (latest per pair and participant) */
    int wins[2], ties, both_bad;
    int decisive;            /* wins[0] + wins[1] */
    double win_rate;         /* model [0]'s share of decisive votes (NaN if none) */
    LabInterval win_ci;      /* Wilson 95% */
    double sign_p;           /* exact two-sided sign test on decisive votes (1 if none) */
    int left_wins;           /* decisive votes won by the side shown on the left */
    double left_rate;        /* position bias: left_wins / decisive (NaN if none) */
    LabInterval left_ci;     /* Wilson 95% */
    int more_votes;          /* further votes at the current rate until the 95% interval excludes
                                0.5; 0 when it already does, -1 if never (rate exactly 0.5 or none) */
    int n_score[2];          /* 1..5 scores given per model */
    double mean_score[2];
    int score_hist[2][5];
} LabPairStats;

typedef struct {
    int64_t id;
    char name[LAB_NAME_MAX], arch[32], dtype[16];
    int64_t n_params;
    int n_responses;
    double elo;              /* Bradley–Terry on the Elo scale (400), mean of rated models = 1000 */
    LabInterval elo_ci;      /* seeded bootstrap 95% (percentile) */
    bool rated;              /* took part in at least one decisive or tied vote */
    double ttft_med, ttft_p90, tok_s_med, tok_s_p90, total_med, total_p90;   /* ms, tok/s, ms */
    double rss_med, rss_p90, engine_med, engine_p90;                          /* bytes */
    double *ttft, *tok_s;    /* every response's value (n_responses), for distributions */
} LabModelStats;

/* What was pooled and the facts the methods paragraph states, all from the record. */
typedef struct {
    int n_sessions_kind[3];  /* sessions that contributed a response or a rating: lab, study, run */
    int n_responses;         /* responses in scope */
    int n_prompt_entries;    /* prompts (one per session and position) with a response */
    int n_rated_pairs;       /* response pairs with at least one counted rating */
    int n_anonymous_votes;   /* counted ratings with no participant (the lab's own): votes, never raters */
    int n_blind_pairs, n_open_pairs; /* rated pairs, by how they were shown */
    int n_blind_together, n_blind_natural; /* blind rated pairs by recorded pacing (others: none recorded) */
    int n_seeds;             /* distinct seeds among the responses */
    int64_t seed_common;     /* the most used seed ... */
    int n_seed_common;       /* ... and how many responses used it */
    bool same_sampling;      /* every response had the same sampling settings and max tokens */
    double temp, top_p, min_p, repeat_penalty;  /* those settings, when same_sampling */
    int top_k, max_tokens;
    int threads_min, threads_max;
    char cpu[128], version[32];       /* of the first response */
    bool same_cpu;                    /* every response names that CPU */
    int n_machines;                   /* machines (record sources) whose responses or votes are pooled */
    int64_t first_ms, last_ms;        /* first and last response (unix ms) */
    char raters[256];                 /* named raters, comma-separated (cut with "..." if long) */
} LabFacts;

/* One machine's share of what was pooled (a record's own machine, or one merged into it with
 * `ablab merge`; schema 11). */
typedef struct {
    int64_t id;
    char uuid[40], host[LAB_NAME_MAX], file[LAB_NAME_MAX]; /* file: the record it was merged from, "" */
    bool own;                /* the record's own machine */
    int n_sessions, n_responses, n_votes;
    int *pair_votes;         /* [n_pairs][4]: wins of pairs[k].name[0], of name[1], ties, both bad */
} LabMachineStats;

typedef struct {
    LabPairStats *pairs; size_t n_pairs;
    LabMachineStats *machines; size_t n_machines; /* those with responses or votes in scope, record order */
    LabModelStats *models; size_t n_models;
    int n_sessions;          /* sessions that contributed (sum of facts.n_sessions_kind) */
    int n_prompts;           /* distinct prompt texts among the response pairs in scope */
    int n_pairs_complete;    /* response pairs with both responses */
    int n_votes;             /* counted ratings (latest per pair and participant), anonymous included */
    int n_participants;      /* named raters (anonymous ratings are not a rater) */
    bool any_blind, any_open;
    LabFacts facts;
    char scope[256];         /* the filters as words: "all sessions" or "study 'x', participant 'ann'" */
    const char *kappa_kind;  /* "cohen" (2 raters), "fleiss" (more), "none" */
    double kappa;            /* NaN when kappa_kind is "none" */
    int kappa_items;         /* pairs rated by at least two participants */
    int bootstrap_rounds;
    uint64_t seed;
} LabStats;

int  lab_stats(Lab *l, const LabStatsQuery *q, LabStats *out, LabErr *e);
/* What `ablab stats` prints first: what was pooled and the counts (two lines, no trailing newline;
 * malloc'd, caller frees; NULL when out of memory). */
char *lab_stats_header(const LabStats *s);
void lab_stats_free(LabStats *s);

/* The formulas, exposed so they are tested on hand-computed values. */
LabInterval lab_wilson(int successes, int n, double z);                    /* z = 1.96 for 95% */
double lab_sign_test(int wins, int losses);                                /* two-sided exact p */
/* Bradley–Terry by minorization–maximization over n_models; win[i*n+j] = times i beat j (a tie
 * counts half to each). Ratings on the Elo scale, mean 1000. -1 if it does not converge. */
int  lab_bradley_terry(const double *win, size_t n_models, double *elo_out);
/* Cohen's kappa: a[i], b[i] are two raters' categories (0..k-1) for item i. NaN if undefined. */
double lab_cohen_kappa(const int *a, const int *b, size_t n, int k);
/* Fleiss' kappa: counts[i*k+j] = raters putting item i in category j (raters per item may vary,
 * each item needs at least 2). NaN if undefined. */
double lab_fleiss_kappa(const int *counts, size_t n_items, int k);
/* Decisive votes needed (in total) at win rate p until the Wilson 95% interval excludes 0.5; -1 if never. */
int  lab_votes_to_separate(double p);

/* ---------- export ---------------------------------------------------------------------------- */
typedef enum { LAB_EXPORT_RESPONSES, LAB_EXPORT_RATINGS, LAB_EXPORT_SESSIONS, LAB_EXPORT_SUMMARY,
               LAB_EXPORT_ALL } LabExportWhat;
typedef enum { LAB_FMT_CSV, LAB_FMT_JSONL, LAB_FMT_MD, LAB_FMT_TEX, LAB_FMT_SQL, LAB_FMT_SVG,
               LAB_FMT_JSON /* one JSON document: the quantization report's, not an export format */ } LabExportFormat;
int  lab_export_what_parse(const char *s, LabExportWhat *out);    /* "responses", ... ; -1 if unknown */
int  lab_export_format_parse(const char *s, LabExportFormat *out); /* "csv", ... ; -1 if unknown */

typedef struct {
    LabExportWhat what;
    LabExportFormat format;
    int64_t session_id;      /* 0 = all */
    LabScope scope;          /* further filters (scope.session_id is ORed in from session_id) */
    const char *out_path;    /* file, "-" or NULL = stdout. Several files (csv/jsonl/svg with
                                what = all) need a folder: created if missing. */
    uint64_t seed;           /* bootstrap seed for summary statistics (0 = 1) */
} LabExportOpts;

/* Writes the export. Formats: csv (RFC 4180, one row per response / rating / session, columns
 * documented in README), jsonl (same fields), md and tex (summary tables; `all` adds the methods
 * paragraph and per-model tables), sql (a dump of the schema and rows that sqlite3 can replay),
 * svg (win rates with intervals, TTFT and tokens/s per model, score histograms). */
int  lab_export(Lab *l, const LabExportOpts *o, LabErr *e);

/* ---------- the quantization report: `ablab eval --quant-sweep` (export.c, svg.c) -------------- */
/* One quant type of one model measured against its reference over a text. */
typedef struct {
    char type[16];                /* as asked: "q4_k_m" */
    char dtype[16];               /* the loaded model's EngInfo.dtype ("q4_K", "f16", ...) */
    double bits_per_weight;       /* 8 x weights_bytes / the weights' elements */
    int64_t file_bytes;           /* the GGUF `ablab convert --quant TYPE` writes (its size on disk) */
    int64_t weights_bytes;        /* the weights as loaded (EngInfo.bytes_mapped + bytes_owned) */
    int64_t resident_bytes;       /* VmRSS after loading and measuring less VmRSS before loading */
    int n_gen, reps;              /* the decode bench: tgN, mean of reps runs after a warm-up */
    double decode_tok_s, decode_tok_s_sd;
    int64_t n_tokens;             /* tokens scored */
    double kl_mean, kl_median, kl_p99, kl_max; /* KL(reference || model) per token, nats */
    double same_top_pct;          /* positions where both models' top token is the same, % */
    double token_ppl, bits_per_byte;
} LabQuantRow;
typedef struct {
    const char *model, *reference, *reference_dtype, *text;
    int64_t n_params, text_bytes;
    double ref_bits_per_byte, ref_token_ppl;
    int ctx, threads;
    const char *conditions;       /* "machine ...; threads ...; ablab ..." */
    const LabQuantRow *rows;
    size_t n;
} LabQuantReport;
/* The report as a table: fmt LAB_FMT_CSV (one row per type, RFC 4180), LAB_FMT_JSON (one object:
 * the conditions and a "types" array), LAB_FMT_MD or LAB_FMT_TEX (a longtable fragment: needs
 * booktabs, longtable and array) — the export's row writer, so every format has the same columns.
 * -1 if writing f failed or fmt is none of these. */
int  lab_quant_table(FILE *f, LabExportFormat fmt, const LabQuantReport *r);
/* The report's plot (SVG): KL mean and bits per byte against file bytes, one labelled point per
 * type, and the conditions line. -1 if writing f failed. */
int  lab_quant_svg(FILE *f, const LabQuantReport *r);

#endif
