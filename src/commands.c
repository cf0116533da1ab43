/* The command table: one line per subcommand, in the order `ablab --help` lists them.
 * Each command lives in src/cmd_NAME.c and defines `const Command cmd_NAME`. */
#include "cli.h"

extern const Command cmd_config;
extern const Command cmd_rate;
extern const Command cmd_stats;
extern const Command cmd_export;

const Command *const ablab_commands[] = {
    &cmd_config,
    &cmd_rate,
    &cmd_stats,
    &cmd_export,
    NULL,
};
