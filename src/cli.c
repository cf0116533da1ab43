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

void cli_print_usage(FILE *f, const Command *cmd) {
    fputs(cmd->usage, f);
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

int cli_parse(App *app, const Command *cmd, int argc, char **argv, const struct option *extra,
              const char *shortopts, CliOptFn fn, void *ud) {
    size_t n_extra = 0;
    while (extra && extra[n_extra].name) n_extra++;
    struct option *opts = calloc(n_extra + CFG_NKEYS + 2, sizeof *opts);
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
