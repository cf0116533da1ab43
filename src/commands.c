/* The command table: one line per subcommand, in the order `ablab --help` lists them.
 * Each command lives in src/cmd_NAME.c and defines `const Command cmd_NAME`. */
#include "cli.h"

extern const Command cmd_config;
extern const Command cmd_run;
extern const Command cmd_rate;
extern const Command cmd_stats;
extern const Command cmd_export;
extern const Command cmd_merge;
extern const Command cmd_lab;
extern const Command cmd_study;
extern const Command cmd_inspect;
extern const Command cmd_logits;
extern const Command cmd_generate;
extern const Command cmd_tokenize;
extern const Command cmd_detokenize;
extern const Command cmd_template;
extern const Command cmd_convert;
extern const Command cmd_import;
extern const Command cmd_eval;
extern const Command cmd_bench;
extern const Command cmd_scale;
extern const Command cmd_serve;
extern const Command cmd_keys;
extern const Command cmd_pull;

const Command *const ablab_commands[] = {
    &cmd_lab,
    &cmd_study,
    &cmd_config,
    &cmd_run,
    &cmd_rate,
    &cmd_stats,
    &cmd_export,
    &cmd_merge,
    &cmd_inspect,
    &cmd_logits,
    &cmd_generate,
    &cmd_tokenize,
    &cmd_detokenize,
    &cmd_template,
    &cmd_convert,
    &cmd_import,
    &cmd_eval,
    &cmd_bench,
    &cmd_scale,
    &cmd_serve,
    &cmd_pull,
    &cmd_keys,   /* hidden: prints the lab's keys for the docs */
    NULL,
};

const CommandSampling ablab_sampling_help[] = {
    {&cmd_lab, NULL}, {&cmd_study, NULL}, {&cmd_config, NULL}, {&cmd_run, NULL}, {&cmd_generate, "stop"}, {&cmd_serve, NULL},
    {NULL, NULL},
};
