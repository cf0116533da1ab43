/* Private to engine/: the model families, one file each, and the table that names them. */
#ifndef ABLAB_MODELS_H
#define ABLAB_MODELS_H

#include "model.h"

/* ---------- forward (one file per family) -------------------------------------------------------- */
/* Runs n tokens at positions s.pos .. s.pos+n-1 (n <= s.batch, s.pos + n <= s.ctx), appends them to
 * the KV cache and writes logits of every position to all_logits [n][vocab] when non-NULL, and of
 * the last one to s.logits. */
void llama_forward(EngModel *m, const int *ids, int n, float *all_logits);
void gpt2_forward(EngModel *m, const int *ids, int n, float *all_logits);
void gptneox_forward(EngModel *m, const int *ids, int n, float *all_logits);
void phi_forward(EngModel *m, const int *ids, int n, float *all_logits);
void gemma3_forward(EngModel *m, const int *ids, int n, float *all_logits);
/* The head after the last layer (head.c): the final norm (LayerNorm when w.out_norm_b is set,
 * else RMSNorm) of every position (all_logits non-NULL) or the last, lm_head and its bias, the
 * soft-cap; logits into all_logits [n][vocab] and the last row into s.logits. */
void model_head(EngModel *m, int n, float *all_logits);
/* The families ablab runs: one row per architecture, the names the formats use for it, and its
 * forward pass. Loaders map a file's name to an EngArch through this table; load.c puts the
 * row's forward pass in the model. */
typedef void (*EngForwardFn)(EngModel *m, const int *ids, int n, float *all_logits);
typedef struct {
    EngArch arch;
    const char *hf_type;    /* config.json model_type */
    const char *gguf_arch;  /* general.architecture */
    EngForwardFn forward;
} EngFamily;
/* The row of arch, or NULL. */
const EngFamily *eng_family(EngArch arch);
/* The row whose hf_type (or gguf_arch) is name, or NULL. */
const EngFamily *eng_family_by_hf(const char *name);
const EngFamily *eng_family_by_gguf(const char *name);
/* "llama, gpt2": every family's hf_type (or gguf_arch), for messages, written into buf[n]
 * (truncated to fit); returns buf. */
const char *eng_family_list(bool gguf, char *buf, size_t n);

#endif
