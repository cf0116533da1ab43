/* `ablab study`: a user-testing session in the lab. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_lab.h"

static int run_study(App *app, int argc, char **argv);

const Command cmd_study = {
    "study", "run a user-testing session: consent, a prompt set in balanced order, votes",
    "usage: ablab study (--prompts FILE | --study-file FILE) [--study NAME] [--blind]\n"
    "                   [--pacing together|natural]\n"
    "                   [--participant ID] [--a PATH] [--b PATH] [--db FILE] [sampling flags]\n"
    "\n"
    "A study is a recorded protocol: the first run of --study NAME (default: FILE's name) stores its\n"
    "sampling settings (the sampling flags and config keys; --seed S gives every response seed S,\n"
    "the default a fresh seed per response, recorded), max tokens, the prompt set and its sha256,\n"
    "blind mode and pacing; every participant after that runs exactly that protocol, whatever the\n"
    "lab's settings screen or their config say (a sampling flag that contradicts it is refused).\n"
    "A study file (--study-file) holds the protocol instead: [study] name, prompts (relative to the\n"
    "file), blind, pacing; [sampling] temperature, top_k, ..., max_tokens, seed (as in the config).\n"
    "The start screen shows it. Before the first prompt the whole set is checked against both\n"
    "models (UTF-8, not empty, fits each context with max tokens): every line that cannot be asked\n"
    "is listed and nothing starts. A prompt that still fails is recorded as failed and skipped.\n"
    "In --blind mode nothing but the answers' text tells the models apart until the vote: no\n"
    "names, sizes, speed, token counts or stop reasons; with --pacing together (the default) both\n"
    "answers appear at once when both are done, natural shows each as its model writes it.\n"
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

typedef struct { const char *prompts, *participant, *study, *file; } StudyArgs;

static int study_opt(App *app, int opt, const char *arg, void *ud) {
    StudyArgs *a = ud;
    (void)app;
    if (opt == 'p') { a->prompts = arg; return 0; }
    if (opt == 'P') { a->participant = arg; return 0; }
    if (opt == 'S') { a->study = arg; return 0; }
    if (opt == 'F') { a->file = arg; return 0; }
    return 1;
}

/* The protocol's keys: the sampling rows, blind and pacing. */
static bool protocol_key(int k) { return (k >= CFG_SAMPLING && k < CFG_SAMPLING_END) || k == CFG_BLIND || k == CFG_PACING; }

static int run_study(App *app, int argc, char **argv) {
    static const struct option extra[] = {
        {"prompts", required_argument, NULL, 'p'},
        {"participant", required_argument, NULL, 'P'},
        {"study", required_argument, NULL, 'S'},
        {"study-file", required_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    StudyArgs a = {0};
    int first = cli_parse(app, &cmd_study, argc, argv, extra, NULL, study_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_study, "unexpected argument '%s'", argv[first]);
    char *file_name = NULL, *file_prompts = NULL;
    if (a.file) {
        if (cfg_load_study_file(&app->cfg, a.file, &file_name, &file_prompts, &app->err)) return EXIT_FAIL;
        if (a.prompts && strcmp(a.prompts, file_prompts)) {
            free(file_name);
            free(file_prompts);
            return cli_usage_error(&cmd_study, "--prompts %s: the study file %s names its own prompts", a.prompts, a.file);
        }
        a.prompts = file_prompts;
        if (!a.study) a.study = file_name;
    }
    if (!a.prompts) return cli_usage_error(&cmd_study, "--prompts FILE (or --study-file FILE) is required");
    UiOptions o;
    char *owned[3] = {0};
    if (lab_ui_options(app, &o, owned)) {
        free(file_name);
        free(file_prompts);
        for (int i = 0; i < 3; i++) free(owned[i]);
        return EXIT_FAIL;
    }
    o.prompts_path = a.prompts;
    o.participant = a.participant;
    o.study_name = a.study;
    /* a new study records where its protocol came from; flags that name it are checked against a
     * study already recorded (the config file and environment are this machine's, not the study's) */
    bool from[CFG_FLAG + 1] = {0};
    for (int k = 0; k < CFG_NKEYS; k++)
        if (protocol_key(k)) from[app->cfg.src[k]] = true;
    o.study_strict = from[CFG_FLAG] || a.file;
    static const char *const words[] = {"defaults", "config file", "environment", "command line"};
    char source[96] = "";
    for (int s = CFG_DEFAULT; s <= CFG_FLAG; s++)
        if (from[s]) snprintf(source + strlen(source), sizeof source - strlen(source), "%s%s", source[0] ? ", " : "", words[s]);
    char file_source[512];
    if (a.file) {
        snprintf(file_source, sizeof file_source, "study file %s", path_basename(a.file));
        o.study_source = file_source;
    } else {
        o.study_source = source;
    }
    LabStrList problems = {0};
    o.problems = &problems;
    int rc = ui_run_study(&o, &app->err);
    for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s\n", problems.v[i]);
    lab_strlist_free(&problems);
    free(file_name);
    free(file_prompts);
    for (int i = 0; i < 3; i++) free(owned[i]);
    return lab_ui_status(app, rc);
}
