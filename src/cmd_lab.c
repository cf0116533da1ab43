/* `ablab` with no command: the interactive lab. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_lab.h"

static int run_lab(App *app, int argc, char **argv);

const Command cmd_lab = {
    "lab", "open the interactive lab (the default when no command is given)",
    "usage: ablab [lab] [--a PATH] [--b PATH] [--blind] [--db FILE] [any configuration flag]\n"
    "\n"
    "Opens the lab in the terminal: type a prompt, both models answer side by side, rate the\n"
    "answers (a / b / t tie / x both bad). F1 or ? lists every key. PATH is anything the engine\n"
    "loads: a Hugging Face folder, a llama2.c .bin (tokenizer.bin beside it) or a .gguf file.\n"
    "Needs a terminal; for batch runs use `ablab run --a PATH --b PATH --prompts FILE`.\n"
    "Honours NO_COLOR. The prompt history is kept in $XDG_STATE_HOME/ablab/history.\n",
    run_lab,
    2, /* model arms: --a-tokenizer, --b-quant, ... */
};

int lab_ui_options(App *app, UiOptions *o, char *owned[3]) {
    const AppConfig *c = &app->cfg;
    memset(o, 0, sizeof *o);
    o->model_path[0] = c->model_a;
    o->model_path[1] = c->model_b;
    o->db_path = c->db;
    o->threads = c->threads;
    o->ctx = c->ctx;
    o->sampling = c->sampling;
    o->blind = c->blind;
    o->pacing = c->pacing;
    o->mmap = c->mmap;
    for (int k = 0; k < 2; k++) {
        const CliModelOpts *mo = cli_model_opts_at(app, k);
        o->tokenizer[k] = mo->tokenizer;
        o->quant[k] = mo->quant;
        o->lora[k] = mo->lora;
        o->n_lora[k] = mo->n_lora;
        o->chat[k] = (LabChatMode)mo->chat;
    }
    o->system_prompt = app->model_all.system;
    /* the settings saved from the overlay come back next time, unless this run names its own */
    o->restore_settings = true;
    for (int k = CFG_THREADS; k < CFG_SAMPLING_END; k++)
        if (c->src[k] == CFG_FLAG || c->src[k] == CFG_ENV) o->restore_settings = false;
    o->assets_dir = c->assets_dir;
    owned[0] = c->state_dir ? path_join(c->state_dir, "history") : NULL;
    owned[1] = c->data_dir ? path_join(c->data_dir, "copies") : NULL;
    owned[2] = c->data_dir ? path_join(c->data_dir, "models") : NULL; /* ablab pull's default */
    if ((c->state_dir && !owned[0]) || (c->data_dir && (!owned[1] || !owned[2]))) return lab_err(&app->err, LAB_ENOMEM, "out of memory");
    if (c->state_dir) {
        LabErr e = {0};
        if (mkdir_p(c->state_dir, &e)) LOG_W("history not kept: %s", e.msg);
    }
    o->history_path = owned[0];
    o->copy_dir = owned[1];
    o->models_dir = owned[2];
    return 0;
}

int lab_ui_status(App *app, int rc) {
    if (rc < 0) return EXIT_FAIL;
    if (rc > 0) {
        LOG_I("lab: quit on signal %d, terminal restored", rc);
        return 128 + rc;
    }
    (void)app;
    return EXIT_OK;
}

static int run_lab(App *app, int argc, char **argv) {
    int first = cli_parse(app, &cmd_lab, argc, argv, NULL, NULL, NULL, NULL);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_lab, "unexpected argument '%s'", argv[first]);
    UiOptions o;
    char *owned[3] = {0};
    int rc = lab_ui_options(app, &o, owned) ? -1 : ui_run_lab(&o, &app->err);
    for (int i = 0; i < 3; i++) free(owned[i]);
    return lab_ui_status(app, rc);
}
