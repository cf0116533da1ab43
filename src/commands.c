/* The command table: one line per subcommand, in the order `ablab --help` lists them.
 * Each command lives in src/cmd_NAME.c and defines `const Command cmd_NAME`. */
#include "cli.h"

extern const Command cmd_config;
extern const Command cmd_lab;
extern const Command cmd_study;

const Command *const ablab_commands[] = {
    &cmd_lab,
    &cmd_study,
    &cmd_config,
    NULL,
};
