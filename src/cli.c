#include "cli.h"

#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const Command *cmd, const char *fmt, ...) {
    fprintf(stderr, "ablab%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd) fprintf(stderr, "%s", cmd->usage);
    else fprintf(stderr, "Try 'ablab --help'.\n");
    return EXIT_USAGE;
}

static void print_model_opts(FILE *f, const Command *cmd);

void cli_print_usage(FILE *f, const Command *cmd) {
    fputs(cmd->usage, f);
    print_model_opts(f, cmd);
    const CommandSampling *cs = ablab_sampling_help;
    while (cs->cmd && cs->cmd != cmd) cs++;
    if (!cs->cmd) return;
    fputs("\nSampling flags (each also a [sampling] key of the config file and an ABLAB_ variable:\n"
          "--top-p is top_p and ABLAB_TOP_P):\n", f);
    const EngSetting *t = eng_settings_table();
    for (int i = 0; i < ENG_SET_COUNT; i++) {
        bool mine = !t[i].per_command;
        mine = mine || (cs->own && strcmp(cs->own, t[i].name) == 0);
        if (!mine) continue;
        char opt[48], range[96], def[32];
        snprintf(opt, sizeof opt, "--%s %s", t[i].flag, t[i].arg);
        eng_setting_range(&t[i], range, sizeof range);
        eng_setting_format(&t[i], t[i].def, def, sizeof def);
        fprintf(f, "  %-22s %s\n  %-22s %s; default %s\n", opt, t[i].help, "", range, def);
    }
}

#define CFG_OPT_BASE 0x10000
#define MODEL_OPT_BASE 0x18000

/* ---------- the model options: one table for every command that loads a model ---------- */
enum { MF_TOKENIZER, MF_QUANT, MF_LORA, MF_CHAT, MF_RAW, MF_SYSTEM };
typedef struct {
    const char *flag, *arg; /* arg NULL: a switch */
    int arm;               /* -1 = every model, else the arm (0 = A, 1 = B) */
    int field;             /* MF_* */
    const char *help;
} CliModelOpt;

static const CliModelOpt MODEL_OPTS[] = {
    {"tokenizer", "FILE", -1, MF_TOKENIZER, "use this tokenizer.json, vocab.json, tokenizer.bin or SentencePiece .model, not the one beside the weights"},
    {"quant", "TYPE", -1, MF_QUANT, "convert the weights at load: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_m, q4_k_m, q5_k_m, q6_k (llama-quantize's presets)"},
    {"lora", "PATH[:SCALE]", -1, MF_LORA, "apply a LoRA adapter (a PEFT folder or a llama.cpp .gguf adapter), its B A times SCALE x alpha/r (SCALE 1 when not given); repeatable. Merged into F32 weights, kept beside others"},
    {"a-tokenizer", "FILE", 0, MF_TOKENIZER, "--tokenizer for model A only"},
    {"b-tokenizer", "FILE", 1, MF_TOKENIZER, "--tokenizer for model B only"},
    {"a-quant", "TYPE", 0, MF_QUANT, "--quant for model A only"},
    {"b-quant", "TYPE", 1, MF_QUANT, "--quant for model B only"},
    {"a-lora", "PATH[:SCALE]", 0, MF_LORA, "--lora for model A only (after any --lora)"},
    {"b-lora", "PATH[:SCALE]", 1, MF_LORA, "--lora for model B only (after any --lora): A = base, B = base + adapter"},
    {"chat", NULL, -1, MF_CHAT, "send prompts through the model's chat template (default when it has one)"},
    {"raw", NULL, -1, MF_RAW, "send prompts as plain text, even to a model with a chat template"},
    {"system", "TEXT", -1, MF_SYSTEM, "a system prompt first in every conversation (chat: a system message; raw: text and a blank line)"},
    {"a-chat", NULL, 0, MF_CHAT, "--chat for model A only"},
    {"a-raw", NULL, 0, MF_RAW, "--raw for model A only"},
    {"b-chat", NULL, 1, MF_CHAT, "--chat for model B only"},
    {"b-raw", NULL, 1, MF_RAW, "--raw for model B only"},
};
#define N_MODEL_OPTS (sizeof MODEL_OPTS / sizeof MODEL_OPTS[0])

/* Rows a command takes: the shared two for any model-loading command, the per-arm four with two arms. */
/* The commands that send prompts to their models: they also take the chat rows. */
static const char *const CHAT_COMMANDS[] = {"lab", "study", "run", "generate"};

static bool model_opt_applies(const Command *cmd, const CliModelOpt *o) {
    if (cmd && (o->field == MF_CHAT || o->field == MF_RAW || o->field == MF_SYSTEM)) {
        bool sends = false;
        for (size_t i = 0; i < sizeof CHAT_COMMANDS / sizeof CHAT_COMMANDS[0]; i++) sends |= !strcmp(cmd->name, CHAT_COMMANDS[i]);
        if (!sends) return false;
    }
    return cmd && (o->arm < 0 ? cmd->model_arms >= 1 : cmd->model_arms >= 2);
}

static int model_opt_set(App *app, const CliModelOpt *o, const char *arg) {
    if (o->field == MF_QUANT) {
        if (!eng_quant_known(arg))
            return lab_err(&app->err, LAB_EINVAL, "--%s %s: expected %s", o->flag, arg, eng_quant_names());
    } else if (o->field == MF_TOKENIZER && !*arg) {
        return lab_err(&app->err, LAB_EINVAL, "--%s: give a file", o->flag);
    }
    CliModelOpts *m = o->arm < 0 ? &app->model_all : &app->model_arm[o->arm];
    if (o->field == MF_LORA) {
        if (m->n_lora >= CLI_MAX_LORA)
            return lab_err(&app->err, LAB_EINVAL, "--%s: at most %d adapters per model", o->flag, CLI_MAX_LORA);
        m->lora[m->n_lora++] = arg;
        return 0;
    }
    if (o->field == MF_CHAT || o->field == MF_RAW) {
        int want = o->field == MF_CHAT ? CLI_CHAT_ON : CLI_CHAT_RAW;
        if (m->chat && m->chat != want)
            return lab_err(&app->err, LAB_EINVAL, "--%s contradicts the --%s%s given before", o->flag,
                           o->arm < 0 ? "" : o->arm ? "b-" : "a-", want == CLI_CHAT_ON ? "raw" : "chat");
        m->chat = want;
        return 0;
    }
    if (o->field == MF_SYSTEM) m->system = arg;
    else if (o->field == MF_QUANT) m->quant = arg;
    else m->tokenizer = arg;
    return 0;
}

CliModelOpts cli_model_opts(const App *app, int i) {
    CliModelOpts r = app->model_all;
    if (i >= 0 && i < 2) {
        if (app->model_arm[i].tokenizer) r.tokenizer = app->model_arm[i].tokenizer;
        if (app->model_arm[i].quant) r.quant = app->model_arm[i].quant;
        for (int k = 0; k < app->model_arm[i].n_lora && r.n_lora < CLI_MAX_LORA; k++)
            r.lora[r.n_lora++] = app->model_arm[i].lora[k];
        if (app->model_arm[i].chat) r.chat = app->model_arm[i].chat;
    }
    return r;
}

const CliModelOpts *cli_model_opts_at(App *app, int i) {
    int k = i == 1 ? 1 : 0;
    app->model_eff[k] = cli_model_opts(app, i);
    return &app->model_eff[k];
}

static void print_model_opts(FILE *f, const Command *cmd) {
    if (cmd->model_arms < 1) return;
    fputs("\nModel options:\n", f);
    for (size_t i = 0; i < N_MODEL_OPTS; i++) {
        const CliModelOpt *o = &MODEL_OPTS[i];
        if (!model_opt_applies(cmd, o)) continue;
        char head[40];
        snprintf(head, sizeof head, "--%s%s%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
        if (strlen(head) > 20) { /* a long argument: the help on the next line */
            fprintf(f, "  %s\n  %-20s %s%s\n", head, "", o->help,
                    o->arm < 0 && cmd->model_arms >= 2 ? " (both models)" : "");
            continue;
        }
        const char *help = o->help;
        if (o->arm < 0 && cmd->model_arms >= 2) /* say what the shared one means with two arms */
            fprintf(f, "  %-20s %s (both models)\n", head, help);
        else
            fprintf(f, "  %-20s %s\n", head, help);
    }
}

int cli_parse(App *app, const Command *cmd, int argc, char **argv, const struct option *extra,
              const char *shortopts, CliOptFn fn, void *ud) {
    size_t n_extra = 0;
    while (extra && extra[n_extra].name) n_extra++;
    struct option *opts = calloc(n_extra + CFG_NKEYS + N_MODEL_OPTS + 2, sizeof *opts);
    if (!opts) return lab_err(&app->err, LAB_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n_extra; i++) opts[k++] = extra[i];
    for (int c = 0; c < CFG_NKEYS; c++) {
        const CfgKeyInfo *ki = cfg_key_info((CfgKey)c);
        /* a command's own option of the same name wins */
        bool dup = false;
        for (size_t i = 0; i < n_extra; i++) dup |= strcmp(extra[i].name, ki->flag) == 0;
        if (dup) continue;
        opts[k].name = ki->flag;
        opts[k].has_arg = cfg_key_is_switch((CfgKey)c) ? no_argument : required_argument;
        opts[k].flag = NULL;
        opts[k].val = CFG_OPT_BASE + c;
        k++;
    }
    for (size_t i = 0; i < N_MODEL_OPTS; i++)
        if (model_opt_applies(cmd, &MODEL_OPTS[i]))
            opts[k++] = (struct option){MODEL_OPTS[i].flag, MODEL_OPTS[i].arg ? required_argument : no_argument, NULL,
                                        MODEL_OPT_BASE + (int)i};
    opts[k++] = (struct option){"help", no_argument, NULL, 'h' | 0x20000};
    char sopts[128];
    snprintf(sopts, sizeof sopts, ":%s", shortopts ? shortopts : "");
    optind = 1;
    opterr = 0;
    int rc = 0;
    for (;;) {
        int li = -1;
        int o = getopt_long(argc, argv, sopts, opts, &li);
        if (o == -1) break;
        if (o == '?') {
            if (optopt) rc = cli_usage_error(cmd, "unknown option '-%c'", optopt);
            else rc = cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            rc = -2;
            break;
        }
        if (o == ':') {
            cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
            rc = -2;
            break;
        }
        if (o == ('h' | 0x20000)) {
            cli_print_usage(stdout, cmd);
            rc = -3;
            break;
        }
        if (o >= CFG_OPT_BASE && o < CFG_OPT_BASE + CFG_NKEYS) {
            CfgKey key = (CfgKey)(o - CFG_OPT_BASE);
            char detail[64];
            snprintf(detail, sizeof detail, "--%s", cfg_key_info(key)->flag);
            if (cfg_set(&app->cfg, key, cfg_key_is_switch(key) ? "true" : optarg, CFG_FLAG, detail, &app->err)) {
                cli_usage_error(cmd, "%s", app->err.msg);
                rc = -2;
                break;
            }
            continue;
        }
        if (o >= MODEL_OPT_BASE && o < MODEL_OPT_BASE + (int)N_MODEL_OPTS) {
            if (model_opt_set(app, &MODEL_OPTS[o - MODEL_OPT_BASE], optarg)) {
                cli_usage_error(cmd, "%s", app->err.msg);
                rc = -2;
                break;
            }
            continue;
        }
        int r = fn ? fn(app, o, optarg, ud) : 1;
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r > 0) {
            cli_usage_error(cmd, "unexpected option '%s'", argv[optind - 1]);
            rc = -2;
            break;
        }
    }
    free(opts);
    return rc < 0 ? rc : optind;
}

int cli_parse_ids(App *app, const char *s, IntVec *out) {
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 0x7fffffff)
            return lab_err(&app->err, LAB_EINVAL, "--ids: '%s' is not a list of token ids (e.g. 1,2,3)", s);
        if (ivec_push(out, (int)v)) return lab_err(&app->err, LAB_ENOMEM, "out of memory");
        p = end;
        if (*p && *p != ',' && *p != ' ') return lab_err(&app->err, LAB_EINVAL, "--ids: '%s' is not a list of token ids (e.g. 1,2,3)", s);
    }
    return 0;
}

const Command *cli_find_command(const char *name) {
    for (int i = 0; ablab_commands[i]; i++)
        if (strcmp(ablab_commands[i]->name, name) == 0) return ablab_commands[i];
    return NULL;
}
