/* Shared by the engine commands (inspect, logits, generate): loading one model from the command
 * line's path with the configuration's threads and context and the model options (cli.h). */
#ifndef ABLAB_CMD_ENGINE_H
#define ABLAB_CMD_ENGINE_H

#include "cli.h"
#include "engine.h"

#include <string.h>

/* -1 with app->err filled when path names a server: what the engine commands measure (logits, bits
 * per byte, speed against size, the weights themselves) a server that sends text does not give. */
static inline int cmd_refuse_remote(App *app, const char *path) {
    if (!path || (strncmp(path, "http://", 7) && strncmp(path, "https://", 8))) return 0;
    return lab_err(&app->err, LAB_EUNSUPPORTED,
                   "%s is a remote model: a server sends text, not logits, tokens or weights, so this command "
                   "cannot measure it (remote models work in the lab, study, run and generate)", path);
}

/* Loads path as the command's model number `index` (0 = the first; its --tokenizer / --quant from
 * cli_model_opts) with cfg.threads / cfg.ctx (ctx_override > 0 wins) / cfg.mmap.
 * Returns NULL with app->err filled. */
static inline EngModel *cmd_load_model(App *app, const char *path, int index, int ctx_override) {
    if (cmd_refuse_remote(app, path)) return NULL;
    CliModelOpts mo = cli_model_opts(app, index);
    EngLoadOpts o = {.n_threads = app->cfg.threads, .ctx = ctx_override > 0 ? ctx_override : app->cfg.ctx,
                     .tokenizer_path = mo.tokenizer, .quant = mo.quant, .mmap = app->cfg.mmap,
                     .lora = mo.lora, .n_lora = mo.n_lora};
    EngModel *m = NULL;
    if (eng_load(&m, path, &o, &app->err)) return NULL;
    return m;
}

#endif
