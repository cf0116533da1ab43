/* Private to engine/: what a loaded model is made of. Config, weights and run state are separate
 * structs (llama2.c's Config / TransformerWeights / RunState); every tensor field carries its shape.
 *
 * Loaders (safetensors.c + hf_config.c, llama2c.c, gguf.c) fill EngConfig and EngWeights of an
 * EngModel made by eng_model_new(); model.c then checks the shapes, allocates the run state and
 * fills EngInfo. Memory a loader maps or allocates is handed to the model (eng_model_map,
 * eng_model_alloc) so that one eng_free releases everything, whatever the format.
 *
 * Matrix convention: an EngTensor is the logical matrix W[rows = out][cols = in] of y = W x
 * (nn.Linear's layout). GPT-2's Conv1D matrices are stored [in][out]: those carry
 * transposed = true (F32 only; kernels use BLAS's transpose flag, so the file stays mapped). */
#ifndef ABLAB_MODEL_H
#define ABLAB_MODEL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"
#include "quant.h"
#include "tokenizer.h"

/* ---------- tensors ----------------------------------------------------------------------------- */
/* The dtypes are quant.h's QType (same numbers): kernels for the half and quantized types live in
 * quant.c (the GGUF/quant part), F32 goes through OpenBLAS. */
typedef enum {
    ENG_DT_F32 = QT_F32,
    ENG_DT_F16 = QT_F16,   /* IEEE half */
    ENG_DT_BF16 = QT_BF16, /* bfloat16 */
    ENG_DT_Q8_0 = QT_Q8_0, /* GGUF's Q8_0: blocks of 32 weights = fp16 scale d + 32 int8 q (34 bytes) */
    ENG_DT_Q8R = QT_Q8R,   /* Q8_0 repacked in memory for VNNI (quant.h); shown as "q8_0" */
} EngDType;

typedef struct {
    EngDType dt;
    const void *data;    /* row-major; rows of cols elements (Q8_0: cols/32 blocks per row) */
    int64_t rows, cols;  /* logical shape [out][in] */
    bool transposed;     /* stored [cols][rows] (GPT-2 Conv1D); only with dt == ENG_DT_F32 */
} EngTensor;

static inline const char *eng_dtype_name(EngDType dt) { return qtype_name((QType)dt); }
/* Bytes of a rows x cols tensor of dt; false on overflow or when cols is not a multiple of
 * the block size. */
bool eng_dtype_bytes(EngDType dt, int64_t rows, int64_t cols, size_t *out);

/* ---------- config ------------------------------------------------------------------------------ */
typedef enum { ENG_ARCH_LLAMA = 0, ENG_ARCH_GPT2 } EngArch;

typedef struct {
    EngArch arch;
    int dim;            /* model width (hidden_size / n_embd) */
    int hidden;         /* feed-forward width (intermediate_size / n_inner, 4*dim for GPT-2) */
    int n_layer;
    int n_head;
    int n_kv_head;      /* == n_head without GQA */
    int head_dim;       /* usually dim / n_head */
    int vocab;
    int ctx_max;        /* max_position_embeddings / n_positions / seq_len */
    float norm_eps;     /* rms_norm_eps (llama), layer_norm_epsilon (gpt2) */
    float rope_theta;   /* llama */
    bool rope_interleaved; /* true: rotate pairs (2i, 2i+1) (llama2.c, Meta); false: rotate halves (HF) */
    bool tied;          /* lm_head shares tok_emb */
    bool attn_bias;     /* llama: q/k/v/o biases present */
    bool mlp_bias;      /* llama: gate/up/down biases present */
    bool bos_stops;     /* llama2.c: generating BOS ends the text, as run.c does */
    int bos_id, eos_id; /* -1 if none */
} EngConfig;

/* ---------- weights ----------------------------------------------------------------------------- */
/* Norm weights and biases are always F32 (converted at load when the file has another dtype:
 * they are small). Optional biases are NULL when absent. */
typedef struct {
    /* llama */
    const float *attn_norm;     /* [dim] RMSNorm before attention */
    const float *ffn_norm;      /* [dim] RMSNorm before the MLP */
    EngTensor wq;               /* [n_head*head_dim][dim] */
    EngTensor wk;               /* [n_kv_head*head_dim][dim] */
    EngTensor wv;               /* [n_kv_head*head_dim][dim] */
    EngTensor wo;               /* [dim][n_head*head_dim] */
    const float *bq, *bk, *bv;  /* [n_head*head_dim], [n_kv_head*head_dim] x2, or NULL */
    const float *bo;            /* [dim] or NULL */
    EngTensor w_gate;           /* [hidden][dim]  (w1) */
    EngTensor w_up;             /* [hidden][dim]  (w3) */
    EngTensor w_down;           /* [dim][hidden]  (w2) */
    const float *b_gate, *b_up; /* [hidden] or NULL */
    const float *b_down;        /* [dim] or NULL */

    /* gpt2 */
    const float *ln1_w, *ln1_b; /* [dim] LayerNorm before attention */
    const float *ln2_w, *ln2_b; /* [dim] LayerNorm before the MLP */
    EngTensor c_attn;           /* [3*dim][dim] fused q|k|v (Conv1D: stored [dim][3*dim]) */
    const float *c_attn_b;      /* [3*dim] */
    EngTensor c_proj;           /* [dim][dim] */
    const float *c_proj_b;      /* [dim] */
    EngTensor c_fc;             /* [hidden][dim] */
    const float *c_fc_b;        /* [hidden] */
    EngTensor c_fc_proj;        /* [dim][hidden] (mlp.c_proj) */
    const float *c_fc_proj_b;   /* [dim] */
} EngLayer;

typedef struct {
    EngTensor tok_emb;          /* [vocab][dim] (wte / embed_tokens) */
    EngTensor pos_emb;          /* gpt2: [ctx_max][dim] (wpe); llama: data NULL */
    EngLayer *layers;           /* [n_layer] */
    const float *out_norm;      /* [dim] final RMSNorm (llama) / ln_f weight (gpt2) */
    const float *out_norm_b;    /* [dim] ln_f bias (gpt2), NULL for llama */
    EngTensor lm_head;          /* [vocab][dim]; equals tok_emb when tied */
} EngWeights;

/* ---------- run state --------------------------------------------------------------------------- */
/* Sized once at load for `ctx` positions and prompt batches of up to `batch` rows; nothing is
 * allocated per token. */
typedef struct {
    int ctx;                    /* KV-cache length */
    int batch;                  /* rows of the batch buffers */
    int pos;                    /* positions held in the cache */
    float *key_cache;           /* [n_layer][ctx][n_kv_head*head_dim] */
    float *value_cache;         /* [n_layer][ctx][n_kv_head*head_dim] */
    float *x;                   /* [batch][dim] residual stream */
    float *xb;                  /* [batch][dim] normed input */
    float *q;                   /* [batch][n_head*head_dim] (gpt2: [batch][3*dim] fused qkv) */
    float *k, *v;               /* [batch][n_kv_head*head_dim] */
    float *att_out;             /* [batch][n_head*head_dim] */
    float *hb, *hb2;            /* [batch][hidden] */
    float *att;                 /* [n_threads][ATT_ROWS * ctx] attention scores */
    float *pack;                /* [n_threads][GEMM_PACK_FLOATS] gemm.c's packed weights */
    float *logits;              /* [vocab] last position */
    float *rope_cos, *rope_sin; /* llama: [ctx][head_dim/2] */
    float *row;                 /* [max(dim, hidden)] one dequantized row */
} EngRunState;

/* ---------- threads ----------------------------------------------------------------------------- */
/* A small per-model pool: decode matvecs split their output rows over n workers. OpenBLAS is kept
 * at one thread (its thread count is process-wide, and two models run side by side). */
typedef struct EngPool EngPool;
EngPool *eng_pool_new(int n_threads);               /* NULL on failure; n <= 1 runs inline */
void eng_pool_free(EngPool *p);                     /* NULL-safe */
int  eng_pool_size(const EngPool *p);               /* 1 for NULL */
/* Runs fn(ud, i, n) for i in [0, n) on the pool's threads and waits for all. */
void eng_pool_run(EngPool *p, void (*fn)(void *ud, int i, int n), void *ud);

/* ---------- the model --------------------------------------------------------------------------- */
struct EngModel {
    EngConfig cfg;
    EngWeights w;
    EngRunState s;
    EngInfo info;
    Tokenizer *tok;             /* may be NULL (ids-only use) */
    EngPool *pool;
    int n_threads;
    bool busy;                  /* a generation holds the KV cache */
    bool convert_halves;        /* F16/BF16 weights become F32 at load (default) */
    bool keep_mapped;           /* EngLoadOpts.mmap: the kernels read weights from the file mapping */
    bool requant_pending;       /* --quant converts the matrices after loading: copy none before */
    size_t att_bytes;           /* s.att, sized by the pool */
    /* resources released by eng_free */
    EngTensorInfo *tinfo; size_t n_tinfo; /* names owned */
    MappedFile *maps; size_t n_maps;
    void **owned; size_t n_owned;
    struct EngArena { uint8_t *base; size_t size, used; } *arena; size_t n_arena; /* weight memory */
    char *path, *name, *tok_path;
    char file_dtype[16];
    char dtype[16];
};

/* Makes an empty model (everything zero, ids -1). NULL on ENOMEM. */
EngModel *eng_model_new(void);
/* Maps path and keeps the mapping until eng_free; returns the mapping (owned by m) or NULL. */
const MappedFile *eng_model_map(EngModel *m, const char *path, LabErr *e);
/* Allocates 64-byte aligned memory freed by eng_free: weights (counted = true: counted in
 * bytes_owned, contents undefined until the loader fills them) or zeroed buffers (counted = false).
 * NULL with e filled on ENOMEM. */
void *eng_model_alloc(EngModel *m, size_t bytes, bool counted, LabErr *e);
/* Whether p points into one of the model's file mappings. */
bool eng_model_in_maps(const EngModel *m, const void *p);
/* Memory for weights that stay until eng_free (counted in bytes_owned): 64-byte aligned pieces of
 * big anonymous chunks backed by huge pages where the kernel gives them. Never freed one by one.
 * NULL with e filled on ENOMEM. */
void *eng_model_weight_mem(EngModel *m, size_t bytes, LabErr *e);
/* Whether Q8_0 weights become Q8R (repacked for VNNI) when they are copied or converted: the CPU
 * has AVX-512 VNNI and the kernel path is not forced lower. */
bool eng_q8r_wanted(void);
/* Copies a weight that points into a file mapping into weight memory, Q8_0 repacked as Q8R where
 * eng_q8r_wanted (no-op when it does not point into a mapping, or the model keeps its weights mapped). */
int eng_model_own(EngModel *m, EngTensor *W, LabErr *e);
/* A weight as the kernels will read it: F32/F16/BF16/Q8_0 data of rows x cols. When the file
 * dtype is F32 or the kernels read it directly, it is copied into weight memory (or, with
 * keep_mapped or a --quant still to come, read from the mapping: bytes_mapped); otherwise it is
 * converted into owned memory (bytes_owned). `what` names it for messages. */
int eng_model_weight(EngModel *m, EngTensor *out, EngDType dt, const void *data, int64_t rows, int64_t cols,
                     bool transposed, const char *what, LabErr *e);
/* A small F32 vector (norm weight, bias): mapped when F32 and 4-byte aligned, else converted. */
int eng_model_vec(EngModel *m, const float **out, EngDType dt, const void *data, int64_t n, const char *what,
                  LabErr *e);

/* Loaders: fill m->cfg and m->w (and m->tok when the format carries a vocabulary). */
int hf_config_read(const char *path, EngConfig *c, LabErr *e);   /* config.json */
/* Reads a JSON file of at most `limit` bytes; NULL with "PATH: not valid JSON: why (line N)" on error.
 * The caller owns the result (json_decref). */
struct json_t;
struct json_t *eng_json_read(const char *path, size_t limit, LabErr *e);
int hf_load(EngModel *m, const char *dir, const EngLoadOpts *o, LabErr *e);
int llama2c_load(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e);
int gguf_load_model(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e);

/* ---------- kernels (matmul.c) ------------------------------------------------------------------ */
/* y[rows] = W x[cols], rows split over the pool's threads. */
void mm_vec(const EngTensor *W, const float *x, float *y, EngPool *pool);
/* Y[n][rows] = X[n][cols] W^T (a prompt batch: gemm.c's kernel or sgemm; n == 1 goes to mm_vec),
 * over m's pool with m's packing scratch. */
void mm_batch(const EngTensor *W, const float *X, int n, float *Y, EngModel *m);
/* Row r of W as F32 into out[cols] (embedding lookup). W must not be transposed. */
void eng_tensor_row(const EngTensor *W, int64_t r, float *out);

/* ---------- forward (llama.c, gpt2.c) ----------------------------------------------------------- */
/* Runs n tokens at positions s.pos .. s.pos+n-1 (n <= s.batch, s.pos + n <= s.ctx), appends them to
 * the KV cache and writes logits of every position to all_logits [n][vocab] when non-NULL, and of
 * the last one to s.logits. */
void llama_forward(EngModel *m, const int *ids, int n, float *all_logits);
void gpt2_forward(EngModel *m, const int *ids, int n, float *all_logits);
/* Dispatches on m->cfg.arch; checks the ids and the context. -1 with e filled. */
int eng_forward(EngModel *m, const int *ids, int n, float *all_logits, LabErr *e);

#endif
