/* `ablab study`: a user-testing session in the lab. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_lab.h"

static int run_study(App *app, int argc, char **argv);

const Command cmd_study = {
    "study", "run a user-testing session: consent, a prompt set in balanced order, votes",
    "usage: ablab study --prompts FILE [--blind] [--participant ID] [--a PATH] [--b PATH] [--db FILE]\n"
    "\n"
    "Shows the instructions and consent text (assets/study/instructions.txt and consent.txt,\n"
    "replace them for your study), asks for a pseudonym unless --participant gives one, then\n"
    "walks the participant through every prompt of FILE (one a line, or JSON lines\n"
    "{\"prompt\": ...}) in a balanced order with balanced sides; both answers stream, the\n"
    "participant votes, the names are revealed after each vote in --blind mode. Progress shows\n"
    "as 7/20. Quitting and running the same command again resumes where the participant stopped.\n"
    "Example prompt sets: assets/prompts/*.txt.\n",
    run_study,
    2, /* model arms: --a-tokenizer, --b-quant, ... */
};

typedef struct { const char *prompts, *participant; } StudyArgs;

static int study_opt(App *app, int opt, const char *arg, void *ud) {
    StudyArgs *a = ud;
    (void)app;
    if (opt == 'p') { a->prompts = arg; return 0; }
    if (opt == 'P') { a->participant = arg; return 0; }
    return 1;
}

static int run_study(App *app, int argc, char **argv) {
    static const struct option extra[] = {
        {"prompts", required_argument, NULL, 'p'},
        {"participant", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    StudyArgs a = {0};
    int first = cli_parse(app, &cmd_study, argc, argv, extra, NULL, study_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_study, "unexpected argument '%s'", argv[first]);
    if (!a.prompts) return cli_usage_error(&cmd_study, "--prompts FILE is required");
    UiOptions o;
    char *owned[2] = {0};
    if (lab_ui_options(app, &o, owned)) return EXIT_FAIL;
    o.prompts_path = a.prompts;
    o.participant = a.participant;
    int rc = ui_run_study(&o, &app->err);
    free(owned[0]);
    free(owned[1]);
    return lab_ui_status(app, rc);
}
