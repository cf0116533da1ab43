/* Private to engine/: the loaders of each file format (formats/). Each fills m->cfg and m->w (and
 * m->tok when the format carries a vocabulary) through model.h's services; load.c dispatches. */
#ifndef ABLAB_FORMATS_H
#define ABLAB_FORMATS_H

#include "model.h"

int hf_config_read(const char *path, EngConfig *c, LabErr *e);   /* config.json */
struct json_t;
/* The same from a parsed config object (path names it in messages); r stays the caller's. */
int hf_config_parse(struct json_t *r, const char *path, EngConfig *c, LabErr *e);
/* gemma3: which layers slide (layer_types, or sliding_window_pattern), into layers[n_layer]. */
int hf_layer_types_read(const char *path, EngConfig *c, EngLayer *layers, LabErr *e);
/* generation_config.json (absent: nothing): its bos_token_id and eos_token_id (int or list)
 * replace config.json's, as transformers' generate() takes them. */
int hf_generation_read(const char *path, EngConfig *c, LabErr *e);
/* Reads a JSON file of at most `limit` bytes; NULL with "PATH: not valid JSON: why (line N)" on error.
 * The caller owns the result (json_decref). */
struct json_t;
struct json_t *eng_json_read(const char *path, size_t limit, LabErr *e);
int hf_load(EngModel *m, const char *dir, const EngLoadOpts *o, LabErr *e);
int llama2c_load(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e);
int gguf_load_model(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e);

/* ---------- llama-quantize's presets (quant_preset.c) ---------- */
typedef struct {
    const char *name;   /* "q4_k_m" */
    uint32_t ftype;     /* llama.cpp's general.file_type (LLAMA_FTYPE_*) */
    EngDType base;      /* the type most matrices get */
} EngQuantPreset;
/* The preset named (case-insensitive; "q4_k" is "q4_k_m" as for llama-quantize), or NULL. The
 * pointer is static. */
const EngQuantPreset *eng_quant_preset(const char *name);
const char *eng_quant_preset_list(void);   /* "f32, f16, ... or q6_k", for messages */
/* What a matrix is, for the per-tensor rules: from its GGUF name ("blk.3.ffn_down.weight": the
 * role, and its layer in *layer, -1 outside a block). */
typedef enum {
    EQR_OTHER, EQR_TOKEN_EMBD, EQR_OUTPUT, EQR_ATTN_Q, EQR_ATTN_K, EQR_ATTN_V, EQR_ATTN_QKV, EQR_ATTN_OUT,
    EQR_FFN_GATE, EQR_FFN_UP, EQR_FFN_DOWN
} EngQuantRole;
EngQuantRole eng_quant_role(const char *gguf_name, int *layer);
/* The type llama-quantize gives a matrix of `cols` columns in `role` at `layer` under preset p,
 * for a model of config c; has_output: the model has its own output matrix (a tied embedding
 * otherwise takes the output's type). */
EngDType eng_quant_pick(const EngQuantPreset *p, EngQuantRole role, int layer, const EngConfig *c, bool has_output,
                        int64_t cols);

#endif
