/* Shared by the engine commands (inspect, logits, generate): loading one model from the command
 * line's path with the configuration's threads and context and the model options (cli.h). */
#ifndef ABLAB_CMD_ENGINE_H
#define ABLAB_CMD_ENGINE_H

#include "cli.h"
#include "engine.h"

/* Loads path as the command's model number `index` (0 = the first; its --tokenizer / --quant from
 * cli_model_opts) with cfg.threads / cfg.ctx (ctx_override > 0 wins) / cfg.mmap.
 * Returns NULL with app->err filled. */
static inline EngModel *cmd_load_model(App *app, const char *path, int index, int ctx_override) {
    CliModelOpts mo = cli_model_opts(app, index);
    EngLoadOpts o = {.n_threads = app->cfg.threads, .ctx = ctx_override > 0 ? ctx_override : app->cfg.ctx,
                     .tokenizer_path = mo.tokenizer, .quant = mo.quant, .mmap = app->cfg.mmap,
                     .lora = mo.lora, .n_lora = mo.n_lora};
    EngModel *m = NULL;
    if (eng_load(&m, path, &o, &app->err)) return NULL;
    return m;
}

#endif
