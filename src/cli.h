/* Command-line plumbing shared by every subcommand: the command table, common flags (every
 * configuration key is also a flag), usage errors. Only main.c exits. */
#ifndef ABLAB_CLI_H
#define ABLAB_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "config.h"

/* Exit statuses */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct App {
    AppConfig cfg;
    LabErr err;            /* filled by a command that returns EXIT_FAIL; main prints it */
    const char *argv0;
} App;

typedef struct Command {
    const char *name;
    const char *summary;   /* one line for `ablab --help` */
    const char *usage;     /* full text for `ablab help NAME` (starts with "usage: ablab NAME ...") */
    int (*run)(App *app, int argc, char **argv); /* argv[0] is the command name; returns an exit status */
} Command;

/* Per-command option callback: return 0 if handled, -1 on error (app->err filled),
 * 1 if `opt` is not one of this command's. */
typedef int (*CliOptFn)(App *app, int opt, const char *arg, void *ud);

/* Parses argv with getopt_long: the command's own options (extra, NULL-terminated like getopt's
 * table) plus every configuration flag (--a, --b, --db, --threads, --temp, ...).
 * Returns the index of the first operand, -1 on a runtime error (app->err set), or -2 on a usage
 * error (message already printed to stderr with the command's usage), or -3 when --help was printed
 * (the command then returns EXIT_OK). */
int cli_parse(App *app, const Command *cmd, int argc, char **argv, const struct option *extra,
              const char *shortopts, CliOptFn fn, void *ud);

/* The command's usage text, then (for the commands in ablab_sampling_help) every sampling flag from the settings table with
 * its argument, help, valid values and default: what --help and `ablab help NAME` print. */
void cli_print_usage(FILE *f, const Command *cmd);

/* Prints a usage error for cmd on stderr and returns EXIT_USAGE. */
int cli_usage_error(const Command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses "1,2,3" into ids; -1 with app->err on junk. */
int cli_parse_ids(App *app, const char *s, IntVec *out);

/* The commands (each defined in src/cmd_*.c) */
extern const Command *const ablab_commands[];
/* The commands whose help lists the sampling flags; own: NULL or the per-command row of the
 * settings table the command takes as its own option ("stop"). Ends with {NULL, NULL}. */
typedef struct { const Command *cmd; const char *own; } CommandSampling;
extern const CommandSampling ablab_sampling_help[];
const Command *cli_find_command(const char *name);

#endif
