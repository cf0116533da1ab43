/* ablab rate: give a rating from a script. Choice and scores refer to models A and B of the pair
 * (not to the sides a participant saw). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lab.h"

static int run_rate(App *app, int argc, char **argv);

const Command cmd_rate = {
    "rate", "rate a response pair from a script (a, b, tie or both-bad)",
    "usage: ablab rate --response-pair ID --choice a|b|tie|both-bad [--score-a N] [--score-b N]\n"
    "                  [--comment TEXT] [--tags T1,T2] [--participant NAME] [--db FILE]\n"
    "\n"
    "Records a rating of response pair ID (see `ablab export --what responses`, column pair_id) in\n"
    "its own transaction, committed before the command returns. --choice names the better model of\n"
    "the pair: a (model A), b (model B), tie, or both-bad. Scores are 1..5 per model. Statistics\n"
    "count the latest rating of each participant on each pair. Example:\n"
    "\n"
    "  ablab rate --response-pair 12 --choice a --score-a 4 --score-b 2 --comment 'more coherent'\n",
    run_rate,
    0, /* loads no model through the model options */
};

typedef struct {
    int64_t pair;
    const char *choice, *comment, *tags, *participant;
    int score[2];
} RateArgs;

enum { OPT_PAIR = 0x100, OPT_CHOICE, OPT_SCORE_A, OPT_SCORE_B, OPT_COMMENT, OPT_TAGS, OPT_PARTICIPANT };

static int parse_score(App *app, const char *flag, const char *v, int *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 1 || n > 5) return lab_err(&app->err, LAB_EINVAL, "%s: '%s' is not a score 1..5", flag, v);
    *out = (int)n;
    return 0;
}

static int rate_opt(App *app, int opt, const char *arg, void *ud) {
    RateArgs *a = ud;
    char *end;
    switch (opt) {
    case OPT_PAIR:
        a->pair = strtoll(arg, &end, 10);
        if (end == arg || *end || a->pair <= 0)
            return lab_err(&app->err, LAB_EINVAL, "--response-pair: '%s' is not a pair id", arg);
        return 0;
    case OPT_CHOICE: a->choice = arg; return 0;
    case OPT_SCORE_A: return parse_score(app, "--score-a", arg, &a->score[0]);
    case OPT_SCORE_B: return parse_score(app, "--score-b", arg, &a->score[1]);
    case OPT_COMMENT: a->comment = arg; return 0;
    case OPT_TAGS: a->tags = arg; return 0;
    case OPT_PARTICIPANT: a->participant = arg; return 0;
    }
    return 1;
}

static int run_rate(App *app, int argc, char **argv) {
    static const struct option opts[] = {
        {"response-pair", required_argument, NULL, OPT_PAIR}, {"choice", required_argument, NULL, OPT_CHOICE},
        {"score-a", required_argument, NULL, OPT_SCORE_A},    {"score-b", required_argument, NULL, OPT_SCORE_B},
        {"comment", required_argument, NULL, OPT_COMMENT},    {"tags", required_argument, NULL, OPT_TAGS},
        {"participant", required_argument, NULL, OPT_PARTICIPANT}, {NULL, 0, NULL, 0},
    };
    RateArgs a = {0};
    int first = cli_parse(app, &cmd_rate, argc, argv, opts, NULL, rate_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first == -1) return cli_usage_error(&cmd_rate, "%s", app->err.msg);
    if (first < 0) return EXIT_USAGE;
    if (first < argc) return cli_usage_error(&cmd_rate, "unexpected argument '%s'", argv[first]);
    if (!a.pair) return cli_usage_error(&cmd_rate, "--response-pair ID is required");
    LabChoice c;
    if (!a.choice) return cli_usage_error(&cmd_rate, "--choice is required");
    if (lab_choice_parse(a.choice, &c)) return cli_usage_error(&cmd_rate, "--choice '%s' is not a, b, tie or both-bad", a.choice);
    Lab *l;
    if (lab_open_record(&l, app->cfg.db, &app->err)) return EXIT_FAIL;
    LabRateOpts o = {.by_slot = true, .score = {a.score[0], a.score[1]}, .tags = a.tags, .comment = a.comment,
                     .decide_ms = -1, .participant = a.participant ? a.participant : ""};
    LabRateResult r;
    int rc = lab_rate(l, a.pair, c, &o, &r, &app->err);
    if (rc == 0) {
        const char *better = c == LAB_CHOICE_A   ? r.model_name[r.left_slot == 0 ? 0 : 1]
                             : c == LAB_CHOICE_B ? r.model_name[r.left_slot == 0 ? 1 : 0]
                                                 : NULL;
        printf("rating %lld: pair %lld, %s%s%s%s\n", (long long)r.rating_id, (long long)a.pair, lab_choice_name(c),
               better ? " (" : "", better ? better : "", better ? " better)" : "");
    }
    lab_close(l);
    return rc ? EXIT_FAIL : EXIT_OK;
}
