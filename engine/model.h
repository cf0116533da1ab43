/* Private to engine/: what a loaded model is made of. Config, weights and run state are separate
 * structs (llama2.c's Config / TransformerWeights / RunState); every tensor field carries its shape.
 *
 * model.c is the service layer the loaders (formats/) build a model with: an EngModel made by
 * eng_model_new(), memory a loader maps or allocates handed to the model (eng_model_map,
 * eng_model_alloc) so that one eng_free releases everything, whatever the format. load.c owns the
 * load sequence: it picks the loader, checks the shapes, allocates the run state, fills EngInfo and
 * picks the family's forward pass (models/). Tensors and the pool are the kernels' (kernels/). */
#ifndef ABLAB_MODEL_H
#define ABLAB_MODEL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"
#include "pool.h"
#include "tensor.h"
typedef struct Tokenizer Tokenizer; /* tokenizer/tokenizer.h */

/* ---------- config ------------------------------------------------------------------------------ */
typedef enum {
    ENG_ARCH_LLAMA = 0, /* also SmolLM, Llama 3.x */
    ENG_ARCH_GPT2,
    ENG_ARCH_QWEN2,     /* llama with q/k/v biases */
    ENG_ARCH_QWEN3,     /* llama with per-head RMSNorm on q and k */
    ENG_ARCH_GPTNEOX,   /* Pythia */
    ENG_ARCH_PHI,       /* Phi-1, 1.5, 2 */
    ENG_ARCH_GEMMA3,    /* Gemma 3 text */
} EngArch;

/* RoPE frequency scaling (transformers' rope_type). */
typedef enum { ENG_ROPE_DEFAULT = 0, ENG_ROPE_LINEAR, ENG_ROPE_LLAMA3, ENG_ROPE_FACTORS } EngRopeType;
typedef struct {
    EngRopeType type;
    float factor;                       /* linear, llama3 */
    float low_freq_factor, high_freq_factor; /* llama3 */
    int orig_ctx;                       /* llama3: original_max_position_embeddings */
    const float *freq_factors;          /* factors: [rope_dim/2] divisors of each frequency (GGUF rope_freqs) */
} EngRopeScaling;

/* The MLP's activation: SiLU (SwiGLU), tanh GELU (gelu_new / gelu_pytorch_tanh), exact erf GELU. */
typedef enum { ENG_ACT_SILU = 0, ENG_ACT_GELU_TANH, ENG_ACT_GELU_ERF } EngAct;

#define ENG_MAX_EOS 8

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
    float rope_theta;   /* RoPE base (gemma3: of the global layers) */
    float rope_theta_local; /* gemma3: RoPE base of the sliding-window layers */
    int rope_dim;       /* dimensions rotated per head: head_dim, or fewer (partial rotary: phi, gpt_neox) */
    EngRopeScaling rope_scaling; /* of rope_theta's layers */
    bool rope_interleaved; /* true: rotate pairs (2i, 2i+1) (llama2.c, Meta); false: rotate halves (HF) */
    bool tied;          /* lm_head shares tok_emb */
    bool attn_bias;     /* q/k/v biases present (llama, qwen2, phi, gpt_neox) */
    bool o_bias;        /* attention output bias present */
    bool mlp_bias;      /* llama: gate/up/down biases present */
    bool qk_norm;       /* qwen3, gemma3: RMSNorm over each head of q and k before RoPE */
    bool parallel_residual; /* gpt_neox: x + attn(ln1 x) + mlp(ln2 x) */
    bool qkv_per_head;  /* gpt_neox from HF: fused rows per head [q|k|v]; false: [all q | all k | all v] */
    EngAct act;
    float attn_scale;   /* attention score scale; 0: 1/sqrt(head_dim) */
    float embed_scale;  /* gemma3: embeddings times sqrt(dim); 0: none */
    float final_softcap;/* gemma3: logits = cap tanh(logits / cap); 0: none */
    int sliding_window; /* gemma3: keys a sliding layer sees (EngLayer.sliding) */
    bool bos_stops;     /* llama2.c: generating BOS ends the text, as run.c does */
    int bos_id, eos_id; /* -1 if none; eos_id is eos_ids[0] */
    int eos_ids[ENG_MAX_EOS], n_eos; /* every id that ends a generation (eos_token_id may be a list) */
} EngConfig;

/* ---------- weights ----------------------------------------------------------------------------- */
/* Norm weights and biases are always F32 (converted at load when the file has another dtype:
 * they are small). Optional biases are NULL when absent. */
typedef struct {
    bool sliding;               /* gemma3: a sliding-window layer (layer_types) */
    /* llama, qwen2, qwen3, gemma3, phi (q/k/v/o) */
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
    const float *q_norm, *k_norm;  /* [head_dim] qwen3/gemma3, or NULL */
    const float *post_attn_norm;   /* [dim] gemma3: after attention, before the residual */
    const float *post_ffn_norm;    /* [dim] gemma3: after the MLP, before the residual */

    /* gpt2; gpt_neox (c_attn = query_key_value, c_proj = dense, c_fc = dense_h_to_4h, c_fc_proj =
     * dense_4h_to_h); phi (ln1 = input_layernorm, c_fc = fc1, c_fc_proj = fc2) */
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
    const float *lm_head_b;     /* [vocab] phi, else NULL */
} EngWeights;

/* ---------- one sequence of a batched decode step ----------------------------------------------- */
/* A generation with a KV cache of its own (generate.c): [n_layer][ctx][n_kv_head*head_dim] each. */
typedef struct {
    float *key_cache, *value_cache;
    int ctx;                    /* positions the cache holds */
    int pos;                    /* positions filled */
} EngSeq;

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
    float *xb2;                 /* [batch][dim] a second branch (gpt_neox, phi) */
    float *qkv;                 /* gpt_neox: [batch][3*dim] fused projections */
    float *q;                   /* [batch][n_head*head_dim] (gpt2: [batch][3*dim] fused qkv) */
    float *k, *v;               /* [batch][n_kv_head*head_dim] */
    float *att_out;             /* [batch][n_head*head_dim] */
    float *hb, *hb2;            /* [batch][hidden] */
    float *att;                 /* [n_threads][ATT_ROWS * ctx] attention scores */
    float *pack;                /* [n_threads][GEMM_PACK_FLOATS] gemm.c's packed weights */
    float *logits;              /* [vocab] last position */
    float *rope_cos, *rope_sin; /* [ctx][rope_dim/2] (NULL for gpt2) */
    float *rope_cos_l, *rope_sin_l; /* gemma3's sliding layers: [ctx][rope_dim/2] */
    float *row;                 /* [max(dim, hidden)] one dequantized row */
    /* NULL: a pass runs positions pos .. of the one sequence in key_cache/value_cache. Otherwise
     * (eng_forward_seqs) row t of the pass is the next token of the sequence seq[t], at its own
     * position in its own cache, computed exactly as a decode step of that sequence alone; k and v
     * ([batch][kvd], allocated at the first such pass) then hold the rows before they are stored. */
    const EngSeq *seq;
    /* With seq: the rows are prompts (eng_forward_prompts). seq[t] is row t's own entry, its cache
     * and position; the rows of one cache are consecutive and in order, one sequence's prompt. Each
     * prompt is computed exactly as eng_forward runs it alone: its matrices through mm_batch (one
     * call for all rows where mm_batch_rowwise), its attention as a prompt of its own, and the head
     * over its last row only. */
    bool prompt;
    /* The pass is a decode step of the one sequence (eng_forward_step): the fast kernels, where a
     * prompt pass of a llama.cpp-arithmetic model takes llama.cpp's order (model_mm). */
    bool step;
} EngRunState;

/* ---------- the model --------------------------------------------------------------------------- */
struct EngModel {
    EngConfig cfg;
    EngWeights w;
    EngRunState s;
    EngInfo info;
    Tokenizer *tok;             /* may be NULL (ids-only use) */
    struct ChatSetup *chat;     /* NULL: no chat template (or refused: chat_error) */
    char *chat_error;           /* why a template beside the weights was refused; NULL if none */
    EngPool *pool;
    void (*forward)(EngModel *m, const int *ids, int n, float *all_logits); /* the family's (models/) */
    int n_threads;
    bool busy;                  /* a generation holds the KV cache */
    bool convert_halves;        /* F16/BF16 weights become F32 at load (default) */
    bool keep_mapped;           /* EngLoadOpts.mmap: the kernels read weights from the file mapping */
    bool requant_pending;       /* --quant converts the matrices after loading: copy none before */
    bool attn_f16;              /* attention rounds q, k, v and probabilities to fp16 as llama.cpp's
                                 * f16 cache does (ops.h): set when most weights are a block type */
    bool llama_order;           /* and a prompt pass computes in llama.cpp's order (lcmath.h): set
                                 * when the matrices' type has its products in that order too
                                 * (quant_has_lc), so that the whole pass can give llama.cpp's bits */
    size_t att_bytes;           /* s.att, sized by the pool */
    float *logits_rows;         /* eng_gen_step_many's logits [rows][vocab], grown as needed */
    size_t logits_rows_n;
    /* KV caches of finished eng_gen_start_own generations, kept for the next ones: a fresh cache of
     * GPT-2 124M for 80 positions is 6 MB of pages the kernel would zero again for every answer */
    struct EngKvSpare { float *p; size_t bytes; } kv_spare[8];
    int n_kv_spare;
    /* run-state memory (eng_model_state), this model's own even when it shares its weights */
    struct EngStateMem { void *p; size_t bytes; bool mapped; } *state; size_t n_state;
    /* eng_share: the model whose weights, tokenizer, chat setup and names this one reads (NULL: its
     * own). refs counts the models reading a model's own resources (itself included, once loaded):
     * they are released with the last of them. */
    EngModel *base;
    atomic_int refs;
    /* resources released by eng_free */
    EngTensorInfo *tinfo; size_t n_tinfo; /* names owned */
    MappedFile *maps; size_t n_maps;
    void **owned; size_t n_owned;
    struct EngArena { uint8_t *base; size_t size, used; } *arena; size_t n_arena; /* weight memory */
    char *path, *name, *tok_path;
    EngAdapterInfo *adapters; int n_adapters; /* --lora, in order (lora.c); paths owned */
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
/* Zeroed run-state memory (KV cache, activations), 64-byte aligned, freed by eng_free. Big buffers
 * are fresh anonymous mappings, resident only as far as they are written. NULL with e filled. */
void *eng_model_state(EngModel *m, size_t bytes, LabErr *e);
/* Whether p points into one of the model's file mappings. */
bool eng_model_in_maps(const EngModel *m, const void *p);
/* Once every weight is copied out (nothing read in place), lets go of all the file pages loading
 * left mapped. Each copy let its own pages go, but the kernel maps up to 64 KiB around each page
 * it faults in, so neighbours' pages came back: 29 MiB of GPT-2 XL Q4_K_M's file stayed resident,
 * past weights + KV cache + 64 MiB. The mappings are read-only: what is read again later (the
 * tokenizer's strings) maps again from the page cache. */
void eng_model_release_maps(EngModel *m);
/* The text of the model's chat template as loaded (NULL: none), for writers (chat_model.c). */
const char *eng_model_chat_source(const EngModel *m);
/* Memory for weights that stay until eng_free (counted in bytes_owned): 64-byte aligned pieces of
 * big anonymous chunks backed by huge pages where the kernel gives them. Never freed one by one.
 * NULL with e filled on ENOMEM. */
void *eng_model_weight_mem(EngModel *m, size_t bytes, LabErr *e);
/* (Re)allocates the per-thread scratch of m's pool (attention scores, gemm.c's packing): -1 with e
 * filled (e may be NULL) on ENOMEM, the old scratch kept. */
int eng_model_alloc_att(EngModel *m, LabErr *e);
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

/* Runs n tokens through m's family forward pass (models/): checks the ids and the context, then
 * appends them to the KV cache, writing logits of every position to all_logits [n][vocab] when
 * non-NULL and of the last one to s.logits. -1 with e filled. */
int eng_forward(EngModel *m, const int *ids, int n, float *all_logits, LabErr *e);
/* One token for each of n sequences in one pass: ids[t] at seq[t]'s position, appended to its cache
 * (seq[t].pos advanced); logits [n][vocab]. Each row's logits are the bits a decode step of that
 * sequence alone (eng_forward of one token with its cache in s) gives. -1 with e filled. */
int eng_forward_seqs(EngModel *m, const int *ids, EngSeq *seq, int n, float *logits, LabErr *e);
/* eng_forward of the one token a decode step runs (logits in s.logits): its matrices through the
 * decode kernels, which eng_forward_seqs matches bit for bit. */
int eng_forward_step(EngModel *m, int id, LabErr *e);
/* The prompts of k sequences in one pass: ids[i][0 .. n[i]) from seq[i]'s position on, appended to
 * its cache (seq[i].pos advanced), and the logits of each prompt's last token in logits [k][vocab]:
 * the bits eng_forward of that prompt alone gives. Every prompt must fit its cache and the pass must
 * hold them all (sum of n[i] <= s.batch). -1 with e filled. */
int eng_forward_prompts(EngModel *m, const int *const *ids, const int *n, EngSeq *seq, int k, float *logits, LabErr *e);

#endif
