/* Command-line plumbing shared by every subcommand: the command table, common flags (every
 * configuration key is also a flag), usage errors. Only main.c exits. */
#ifndef ABLAB_CLI_H
#define ABLAB_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "config.h"

/* Exit statuses */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define CLI_MAX_LORA 8

/* What a command that loads a model takes about how to load it (the model options, one table in
 * cli.c for every such command). NULL = not given. */
typedef struct {
    const char *tokenizer;  /* --tokenizer FILE: instead of the tokenizer found beside the weights */
    const char *quant;      /* --quant TYPE: convert the weights at load (f32, f16, bf16, q8_0) */
    const char *lora[CLI_MAX_LORA]; /* --lora PATH[:SCALE], repeatable: adapters applied in order */
    int n_lora;
    int chat;               /* --chat / --raw (CLI_CHAT_*): how prompts are sent; 0 = not given (auto) */
    const char *system;     /* --system TEXT: the system prompt (shared by both arms) */
} CliModelOpts;
enum { CLI_CHAT_AUTO = 0, CLI_CHAT_ON = 1, CLI_CHAT_RAW = 2 }; /* the values of lab.h's LabChatMode */

typedef struct App {
    AppConfig cfg;
    CliModelOpts model_all;     /* --tokenizer / --quant: every model the command loads */
    CliModelOpts model_arm[2];  /* --a-tokenizer / --a-quant, --b-...: the first / second model */
    CliModelOpts model_eff[2];  /* cli_model_opts_at's results (their lora[] outlive the call) */
    LabErr err;            /* filled by a command that returns EXIT_FAIL; main prints it */
    const char *argv0;
} App;

typedef struct Command {
    const char *name;
    const char *summary;   /* one line for `ablab --help`; NULL: not listed there */
    const char *usage;     /* full text for `ablab help NAME` (starts with "usage: ablab NAME ...") */
    int (*run)(App *app, int argc, char **argv); /* argv[0] is the command name; returns an exit status */
    int model_arms;        /* 0: loads no model; 1: one model (--tokenizer, --quant); 2: two arms, which
                              also take --a-tokenizer, --b-tokenizer, --a-quant, --b-quant */
} Command;

/* The model options for the i-th model a command loads (0 = A / the first --model, 1 = B / the
 * second): the arm's own flag where given, else the shared one; adapters are the shared --lora ones
 * then the arm's own --a-lora / --b-lora. Strings point into argv. */
CliModelOpts cli_model_opts(const App *app, int i);
/* The same kept in app (valid as long as app): for options handed on past the caller's frame. */
const CliModelOpts *cli_model_opts_at(App *app, int i);

/* Per-command option callback: return 0 if handled, -1 on error (app->err filled),
 * 1 if `opt` is not one of this command's. */
typedef int (*CliOptFn)(App *app, int opt, const char *arg, void *ud);

/* Parses argv with getopt_long: the command's own options (extra, NULL-terminated like getopt's
 * table) plus every configuration flag (--a, --b, --db, --threads, --temp, ...) plus the model
 * options of cmd->model_arms (into app->model_all / app->model_arm; a bad --quant is a usage error).
 * Returns the index of the first operand, -1 on a runtime error (app->err set), or -2 on a usage
 * error (message already printed to stderr with the command's usage), or -3 when --help was printed
 * (the command then returns EXIT_OK). */
int cli_parse(App *app, const Command *cmd, int argc, char **argv, const struct option *extra,
              const char *shortopts, CliOptFn fn, void *ud);

/* The command's usage text, then its model options (from cli.c's table) when it loads a model,
 * then (for the commands in ablab_sampling_help) every sampling flag from the settings table with
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
