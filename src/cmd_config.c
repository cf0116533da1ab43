#include <stdio.h>
#include <string.h>

#include "cli.h"

static int run_config(App *app, int argc, char **argv);

const Command cmd_config = {
    "config", "print the effective configuration and where each value came from",
    "usage: ablab config [--a PATH] [--b PATH] [--db FILE] [any configuration flag]\n"
    "\n"
    "Prints every configuration key, its value and its source: default, config file (with line),\n"
    "environment variable or command line. The config file is $XDG_CONFIG_HOME/ablab/config.ini\n"
    "(~/.config/ablab/config.ini), or the file named by ABLAB_CONFIG. Example:\n"
    "\n"
    "  [models]\n  a = /path/to/my-llama\n  b = /path/to/gpt2\n"
    "  [lab]\n  threads = 2\n  ctx = 1024\n"
    "  [sampling]\n  temperature = 0.7\n  top_k = 40\n  max_tokens = 200\n  seed = 42\n",
    run_config,
    0, /* loads no model through the model options */
};

static int run_config(App *app, int argc, char **argv) {
    int first = cli_parse(app, &cmd_config, argc, argv, NULL, NULL, NULL, NULL);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_config, "unexpected argument '%s'", argv[first]);
    const AppConfig *c = &app->cfg;
    printf("config file   %s%s\n", c->config_path, c->config_file_found ? "" : " (not present: defaults apply)");
    printf("database      %s\n", c->db);
    printf("log file      %s\n", c->log_path);
    printf("assets        %s\n\n", c->assets_dir);
    printf("%-22s %-40s %s\n", "key", "value", "source");
    for (int k = 0; k < CFG_NKEYS; k++) {
        const CfgKeyInfo *ki = cfg_key_info((CfgKey)k);
        char key[64], val[4096];
        snprintf(key, sizeof key, "%s.%s", ki->section, ki->name);
        cfg_format(c, (CfgKey)k, val, sizeof val);
        printf("%-22s %-40s %s%s%s%s\n", key, val, cfg_source_name(c->src[k]), c->src_detail[k] ? " (" : "",
               c->src_detail[k] ? c->src_detail[k] : "", c->src_detail[k] ? ")" : "");
    }
    return EXIT_OK;
}
