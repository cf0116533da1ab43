/* Shared by the engine commands (inspect, logits, generate): loading one model from the command
 * line's path with the configuration's threads and context. */
#ifndef ABLAB_CMD_ENGINE_H
#define ABLAB_CMD_ENGINE_H

#include "cli.h"
#include "engine.h"

/* Loads path with cfg.threads / cfg.ctx (ctx_override > 0 wins) / cfg.mmap and tokenizer (may be NULL).
 * Returns NULL with app->err filled. */
static inline EngModel *cmd_load_model(App *app, const char *path, const char *tokenizer, int ctx_override) {
    EngLoadOpts o = {.n_threads = app->cfg.threads, .ctx = ctx_override > 0 ? ctx_override : app->cfg.ctx,
                     .tokenizer_path = tokenizer, .mmap = app->cfg.mmap};
    EngModel *m = NULL;
    if (eng_load(&m, path, &o, &app->err)) return NULL;
    return m;
}

#endif
