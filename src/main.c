/* ablab: compare two language models side by side.
 * main.c wires the layers together and is the only place that exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ablab_config.h"
#include "cli.h"

static void print_help(FILE *f) {
    fprintf(f,
            "ablab %s: compare two language models side by side\n"
            "\n"
            "usage: ablab [--a PATH] [--b PATH] [--blind] [--db FILE]   open the lab (interactive)\n"
            "       ablab COMMAND [options]\n"
            "       ablab help COMMAND\n"
            "\n"
            "commands:\n",
            ABLAB_VERSION);
    for (int i = 0; ablab_commands[i]; i++)
        if (ablab_commands[i]->summary) fprintf(f, "  %-12s %s\n", ablab_commands[i]->name, ablab_commands[i]->summary);
    fprintf(f,
            "\n"
            "Every command takes the configuration flags: --a PATH, --b PATH, --db FILE, --threads N,\n"
            "--ctx N, --temp T, --top-k K, --top-p P, --min-p P, --repeat-penalty R, --repeat-last-n N,\n"
            "--max-tokens N, --seed S, --blind. `ablab config` shows the effective values.\n");
}

int main(int argc, char **argv) {
    App app = {0};
    app.argv0 = argv[0];
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("ablab %s (%s build)\n", ABLAB_VERSION, ABLAB_BUILD_TYPE);
        return EXIT_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "help")) {
        if (argc == 2) {
            print_help(stdout);
            return EXIT_OK;
        }
        const Command *c = cli_find_command(argv[2]);
        if (!c) return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        cli_print_usage(stdout, c);
        return EXIT_OK;
    }
    const Command *cmd = NULL;
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (argc >= 2 && argv[1][0] != '-') {
        cmd = cli_find_command(argv[1]);
        if (!cmd) {
            fprintf(stderr, "ablab: unknown command '%s'\n\n", argv[1]);
            print_help(stderr);
            return EXIT_USAGE;
        }
    } else {
        /* no command: the interactive lab */
        cmd = cli_find_command("lab");
        if (!cmd) {
            print_help(stderr);
            return EXIT_USAGE;
        }
        sub_argc = argc;
        sub_argv = argv;
    }
    if (cfg_load(&app.cfg, &app.err)) {
        fprintf(stderr, "ablab: %s\n", app.err.msg);
        cfg_free(&app.cfg);
        return EXIT_FAIL;
    }
    LabErr lerr = {0};
    if (log_open(app.cfg.log_path, LOG_INFO, &lerr) == 0) LOG_I("ablab %s: %s", ABLAB_VERSION, cmd->name);
    int rc = cmd->run(&app, sub_argc, sub_argv);
    if (rc == EXIT_FAIL) {
        fprintf(stderr, "ablab %s: %s\n", cmd->name, app.err.msg[0] ? app.err.msg : "failed");
        LOG_E("%s: %s", cmd->name, app.err.msg);
    }
    log_close();
    cfg_free(&app.cfg);
    exit(rc);
}
