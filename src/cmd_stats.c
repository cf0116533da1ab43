/* ablab stats: the statistics of the record, per model pair and per model. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lab.h"

static int run_stats(App *app, int argc, char **argv);

const Command cmd_stats = {
    "stats", "win rates, intervals, tests, Bradley-Terry ratings, speed and agreement",
    "usage: ablab stats [--session NAME|ID] [--study SET] [--participant NAME] [--source lab|study|run]\n"
    "                   [--format text|md|json] [--rounds N] [--db FILE]\n"
    "\n"
    "Without filters every session is pooled (lab, study and run alike); the first lines say what\n"
    "was pooled and count distinct prompts, response pairs, ratings and raters apart. --study SET\n"
    "keeps the study sessions of one prompt set, --participant one rater (and the sessions they\n"
    "rated in), --source one kind of session; filters combine. Ratings given in the lab without a\n"
    "participant name count as votes but never as a rater in agreement.\n"
    "\n"
    "Per model pair: votes, wins/ties/losses, the win rate with a Wilson 95% interval, an exact\n"
    "two-sided sign test, position bias (how often the answer on the left won) and how many more\n"
    "votes at the current rate would separate the pair. Per model: a Bradley-Terry rating on the\n"
    "Elo scale (mean 1000) with a seeded bootstrap 95% interval (--rounds, default 1000), and the\n"
    "median and 90th percentile of time to first token, tokens/s, total time and memory. Where\n"
    "several participants rated the same prompts: Cohen's kappa (two raters) or Fleiss' kappa.\n"
    "The latest rating of each participant on each pair counts. On a record pooled with `ablab\n"
    "merge`, each machine's sessions, responses and votes (per model pair) follow the pooled figures.\n"
    "Example:\n"
    "\n"
    "  ablab stats --session run:prompts.txt:stories260K:llama-tiny-gqa --format md\n",
    run_stats,
    0, /* loads no model through the model options */
};

typedef struct {
    const char *session, *format, *study, *participant, *source;
    int rounds;
} StatsArgs;

enum { OPT_SESSION = 0x100, OPT_FORMAT, OPT_ROUNDS, OPT_STUDY, OPT_PARTICIPANT, OPT_SOURCE };

static int stats_opt(App *app, int opt, const char *arg, void *ud) {
    StatsArgs *a = ud;
    char *end;
    switch (opt) {
    case OPT_SESSION: a->session = arg; return 0;
    case OPT_FORMAT: a->format = arg; return 0;
    case OPT_STUDY: a->study = arg; return 0;
    case OPT_PARTICIPANT: a->participant = arg; return 0;
    case OPT_SOURCE: a->source = arg; return 0;
    case OPT_ROUNDS:
        a->rounds = (int)strtol(arg, &end, 10);
        if (end == arg || *end || a->rounds < 100 || a->rounds > 1000000)
            return lab_err(&app->err, LAB_EINVAL, "--rounds: '%s' is not 100..1000000", arg);
        return 0;
    }
    return 1;
}

static void mib(char *t, size_t n, double bytes) { snprintf(t, n, "%.1f", bytes / 1048576.0); }

static void print_text(const LabStats *s, const char *db) {
    char *head = lab_stats_header(s);
    printf("%s\n%s\n\n", db, head ? head : "(out of memory)");
    free(head);
    for (size_t i = 0; i < s->n_pairs; i++) {
        const LabPairStats *p = &s->pairs[i];
        printf("%s vs %s: %d votes: %s %d, %s %d, ties %d, both bad %d\n", p->name[0], p->name[1], p->votes,
               p->name[0], p->wins[0], p->name[1], p->wins[1], p->ties, p->both_bad);
        if (p->decisive) {
            printf("  %s win rate %.1f%% [%.1f%%, %.1f%%] (Wilson 95%%), sign test p = %.4g\n", p->name[0],
                   100 * p->win_rate, 100 * p->win_ci.lo, 100 * p->win_ci.hi, p->sign_p);
            printf("  left-side answer won %.1f%% [%.1f%%, %.1f%%] of decisive votes (position bias)\n",
                   100 * p->left_rate, 100 * p->left_ci.lo, 100 * p->left_ci.hi);
            if (p->more_votes == 0) printf("  the interval excludes 50%%: the pair is separated\n");
            else if (p->more_votes > 0)
                printf("  about %d more decisive vote%s at this rate would separate the pair\n", p->more_votes,
                       p->more_votes == 1 ? "" : "s");
            else printf("  at exactly 50%% no number of votes separates the pair\n");
        } else {
            printf("  no decisive votes yet\n");
        }
        for (int k = 0; k < 2; k++)
            if (p->n_score[k]) printf("  mean score of %s: %.2f (%d scores)\n", p->name[k], p->mean_score[k], p->n_score[k]);
        printf("\n");
    }
    if (s->n_models) {
        printf("%-24s %9s %22s %9s %17s %17s %15s\n", "model", "params", "Elo [95% CI]", "responses",
               "TTFT ms med/p90", "tok/s med/p90", "MiB eng/RSS");
        for (size_t i = 0; i < s->n_models; i++) {
            const LabModelStats *m = &s->models[i];
            char elo[64] = "-", ttft[64] = "-", toks[64] = "-", mem[64] = "-", a[32], b[32];
            if (m->rated) snprintf(elo, sizeof elo, "%.0f [%.0f, %.0f]", m->elo, m->elo_ci.lo, m->elo_ci.hi);
            if (m->n_responses) {
                snprintf(ttft, sizeof ttft, "%.1f/%.1f", m->ttft_med, m->ttft_p90);
                snprintf(toks, sizeof toks, "%.1f/%.1f", m->tok_s_med, m->tok_s_p90);
                mib(a, sizeof a, m->engine_med);
                mib(b, sizeof b, m->rss_med);
                if (isnan(m->engine_med)) snprintf(mem, sizeof mem, "unknown"); /* a remote model */
                else snprintf(mem, sizeof mem, "%s/%s", a, b);
            }
            char np[32] = "unknown";
            if (m->n_params >= 0) snprintf(np, sizeof np, "%lld", (long long)m->n_params);
            printf("%-24.24s %9s %22s %9d %17s %17s %15s\n", m->name, np, elo, m->n_responses, ttft, toks, mem);
        }
        printf("\nBradley-Terry: Elo scale, mean 1000, %d bootstrap rounds (seed %llu)\n", s->bootstrap_rounds,
               (unsigned long long)s->seed);
    }
    if (s->n_machines > 1 || (s->n_machines == 1 && !s->machines[0].own)) {
        printf("\nby machine (pooled with ablab merge):\n%-24s %-8s %8s %9s %6s", "machine", "id", "sessions",
               "responses", "votes");
        for (size_t k = 0; k < s->n_pairs; k++) printf("  %s vs %s (wins/wins/ties/bad)", s->pairs[k].name[0],
                                                       s->pairs[k].name[1]);
        printf("\n");
        for (size_t i = 0; i < s->n_machines; i++) {
            const LabMachineStats *m = &s->machines[i];
            printf("%-24.24s %-8.8s %8d %9d %6d", m->host, m->uuid, m->n_sessions, m->n_responses, m->n_votes);
            for (size_t k = 0; k < s->n_pairs; k++) {
                const int *v = &m->pair_votes[k * 4];
                char t[64];
                snprintf(t, sizeof t, "%d/%d/%d/%d", v[0], v[1], v[2], v[3]);
                printf("  %*s", (int)(strlen(s->pairs[k].name[0]) + strlen(s->pairs[k].name[1]) + 27), t);
            }
            printf("%s%s\n", m->own ? "" : "  from ", m->own ? "" : m->file);
        }
        printf("\n");
    }
    if (!strcmp(s->kappa_kind, "none")) printf("Agreement: no prompt was rated by several participants\n");
    else if (isfinite(s->kappa))
        printf("Agreement: %s's kappa = %.3f over %d prompts\n", !strcmp(s->kappa_kind, "cohen") ? "Cohen" : "Fleiss",
               s->kappa, s->kappa_items);
    else
        printf("Agreement: %s's kappa is undefined over %d prompts (every rating in one category)\n",
               !strcmp(s->kappa_kind, "cohen") ? "Cohen" : "Fleiss", s->kappa_items);
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *ci(LabInterval c) { return json_pack("[o,o]", num(c.lo), num(c.hi)); }

static int print_json(const LabStats *s) {
    json_t *root = json_object(), *pairs = json_array(), *models = json_array();
    for (size_t i = 0; i < s->n_pairs; i++) {
        const LabPairStats *p = &s->pairs[i];
        json_array_append_new(
            pairs, json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:o,s:o,s:o,s:i,s:o,s:o,s:i,s:o,s:o}", "model_a", p->name[0],
                             "model_b", p->name[1], "votes", p->votes, "wins_a", p->wins[0], "wins_b", p->wins[1], "ties",
                             p->ties, "both_bad", p->both_bad, "win_rate_a", num(p->win_rate), "win_rate_a_ci", ci(p->win_ci),
                             "sign_test_p", num(p->sign_p), "left_wins", p->left_wins, "left_win_rate", num(p->left_rate),
                             "left_win_rate_ci", ci(p->left_ci), "more_votes_to_separate", p->more_votes,
                             "mean_score_a", num(p->mean_score[0]), "mean_score_b", num(p->mean_score[1])));
    }
    for (size_t i = 0; i < s->n_models; i++) {
        const LabModelStats *m = &s->models[i];
        json_array_append_new(
            models, json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                              (json_int_t)m->id, "name", m->name, "arch", m->arch, "dtype", m->dtype, "n_params",
                              m->n_params >= 0 ? json_integer(m->n_params) : json_null(), "elo", num(m->rated ? m->elo : NAN), "elo_ci",
                              ci(m->rated ? m->elo_ci : (LabInterval){NAN, NAN}), "responses", m->n_responses,
                              "ttft_ms_median", num(m->ttft_med), "ttft_ms_p90", num(m->ttft_p90),
                              "decode_tok_s_median", num(m->tok_s_med), "decode_tok_s_p90", num(m->tok_s_p90),
                              "total_ms_median", num(m->total_med), "total_ms_p90", num(m->total_p90),
                              "peak_rss_bytes_median", num(m->rss_med), "peak_rss_bytes_p90", num(m->rss_p90),
                              "engine_bytes_median", num(m->engine_med), "engine_bytes_p90", num(m->engine_p90)));
    }
    const LabFacts *f = &s->facts;
    json_object_set_new(root, "pooled", json_pack("{s:s,s:i,s:i,s:i,s:i}", "scope", s->scope, "sessions", s->n_sessions,
                                                  "lab_sessions", f->n_sessions_kind[0], "study_sessions",
                                                  f->n_sessions_kind[1], "run_sessions", f->n_sessions_kind[2]));
    json_object_set_new(root, "votes", json_integer(s->n_votes));
    json_object_set_new(root, "anonymous_votes", json_integer(f->n_anonymous_votes));
    json_object_set_new(root, "participants", json_integer(s->n_participants));
    json_object_set_new(root, "prompts", json_integer(s->n_prompts));
    json_object_set_new(root, "prompt_entries", json_integer(f->n_prompt_entries));
    json_object_set_new(root, "responses", json_integer(f->n_responses));
    json_object_set_new(root, "complete_pairs", json_integer(s->n_pairs_complete));
    json_object_set_new(root, "rated_pairs", json_integer(f->n_rated_pairs));
    json_t *machines = json_array();
    for (size_t i = 0; i < s->n_machines; i++) {
        const LabMachineStats *m = &s->machines[i];
        json_t *pv = json_array();
        for (size_t k = 0; k < s->n_pairs; k++) {
            const int *v = &m->pair_votes[k * 4];
            json_array_append_new(pv, json_pack("{s:s,s:s,s:i,s:i,s:i,s:i}", "model_a", s->pairs[k].name[0], "model_b",
                                                s->pairs[k].name[1], "wins_a", v[0], "wins_b", v[1], "ties", v[2],
                                                "both_bad", v[3]));
        }
        json_array_append_new(machines, json_pack("{s:s,s:s,s:s,s:b,s:i,s:i,s:i,s:o}", "uuid", m->uuid, "host", m->host,
                                                  "merged_from", m->file, "own", m->own, "sessions", m->n_sessions,
                                                  "responses", m->n_responses, "votes", m->n_votes, "pairs", pv));
    }
    json_object_set_new(root, "machines", machines);
    json_object_set_new(root, "pairs", pairs);
    json_object_set_new(root, "models", models);
    json_object_set_new(root, "agreement", json_pack("{s:s,s:o,s:i}", "method", s->kappa_kind, "kappa", num(s->kappa),
                                                     "items", s->kappa_items));
    json_object_set_new(root, "bootstrap", json_pack("{s:i,s:I}", "rounds", s->bootstrap_rounds, "seed",
                                                     (json_int_t)s->seed));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) return -1;
    puts(text);
    free(text);
    return 0;
}

static int run_stats(App *app, int argc, char **argv) {
    static const struct option opts[] = {
        {"session", required_argument, NULL, OPT_SESSION},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"rounds", required_argument, NULL, OPT_ROUNDS},
        {"study", required_argument, NULL, OPT_STUDY},
        {"participant", required_argument, NULL, OPT_PARTICIPANT},
        {"source", required_argument, NULL, OPT_SOURCE},
        {NULL, 0, NULL, 0},
    };
    StatsArgs a = {.format = "text"};
    int first = cli_parse(app, &cmd_stats, argc, argv, opts, NULL, stats_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first == -1) return cli_usage_error(&cmd_stats, "%s", app->err.msg);
    if (first < 0) return EXIT_USAGE;
    if (first < argc) return cli_usage_error(&cmd_stats, "unexpected argument '%s'", argv[first]);
    if (strcmp(a.format, "text") && strcmp(a.format, "md") && strcmp(a.format, "json"))
        return cli_usage_error(&cmd_stats, "--format '%s' is not text, md or json", a.format);
    if (a.source && strcmp(a.source, "lab") && strcmp(a.source, "study") && strcmp(a.source, "run"))
        return cli_usage_error(&cmd_stats, "--source '%s' is not lab, study or run", a.source);
    if (file_exists(app->cfg.db) != 1)
        return lab_err(&app->err, LAB_ENOTFOUND, "%s: no record yet (run `ablab run` or the lab first)", app->cfg.db),
               EXIT_FAIL;
    Lab *l;
    if (lab_open_record(&l, app->cfg.db, &app->err)) return EXIT_FAIL;
    if (lab_read_only(l)) fprintf(stderr, "ablab: %s is read-only: opened for reading, nothing will be written\n", app->cfg.db);
    LabScope scope = {.study = a.study, .participant = a.participant, .source = a.source};
    int rc = a.session ? lab_session_find(l, a.session, &scope.session_id, &app->err) : 0;
    if (!rc) rc = lab_scope_check(&scope, &app->err);
    if (!rc && !strcmp(a.format, "md")) {
        rc = lab_export(l, &(LabExportOpts){.what = LAB_EXPORT_SUMMARY, .format = LAB_FMT_MD, .scope = scope}, &app->err);
    } else if (!rc) {
        LabStats s;
        rc = lab_stats(l, &(LabStatsQuery){.bootstrap_rounds = a.rounds, .scope = scope}, &s, &app->err);
        if (!rc) {
            if (!strcmp(a.format, "json")) rc = print_json(&s) ? lab_err(&app->err, LAB_ENOMEM, "out of memory") : 0;
            else print_text(&s, app->cfg.db);
            lab_stats_free(&s);
        }
    }
    lab_close(l);
    return rc ? EXIT_FAIL : EXIT_OK;
}
