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

#endif
