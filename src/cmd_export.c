/* ablab export: the record as CSV, JSON lines, Markdown/LaTeX tables, an SQL dump or SVG charts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lab.h"

static int run_export(App *app, int argc, char **argv);

const Command cmd_export = {
    "export", "export responses, ratings, sessions or a summary for a report",
    "usage: ablab export --what responses|ratings|sessions|summary|all\n"
    "                    --format csv|jsonl|md|tex|sql|svg [--session NAME|ID] [--out PATH]\n"
    "                    [--study SET] [--participant NAME] [--source lab|study|run]\n"
    "                    [--bootstrap-seed S] [--db FILE]\n"
    "\n"
    "  csv    RFC 4180, one row per response / rating / session (columns in README)\n"
    "  jsonl  the same fields, one JSON object a line\n"
    "  md     Markdown tables; --what all adds a methods paragraph for a report\n"
    "  tex    the same as LaTeX tabular (booktabs)\n"
    "  sql    a dump of the whole record that sqlite3 replays (--what is ignored)\n"
    "  svg    charts: summary = win rates with intervals, responses = TTFT and tokens/s per model,\n"
    "         ratings = score histograms\n"
    "\n"
    "--session, --study, --participant and --source select what is exported, as for `ablab stats`\n"
    "(without them, everything; the methods paragraph says what was pooled).\n"
    "--out - (the default) writes to stdout. --what all with csv, jsonl or svg writes one file per\n"
    "table or chart into the folder --out names. Examples:\n"
    "\n"
    "  ablab export --what all --format md > results.md\n"
    "  ablab export --what all --format csv --out results/\n"
    "  ablab export --what summary --format svg --out win_rates.svg\n",
    run_export,
    0, /* loads no model through the model options */
};

typedef struct {
    const char *what, *format, *session, *out, *study, *participant, *source;
    uint64_t seed;
} ExportArgs;

enum { OPT_WHAT = 0x100, OPT_FORMAT, OPT_SESSION, OPT_OUT, OPT_BSEED, OPT_STUDY, OPT_PARTICIPANT, OPT_SOURCE };

static int export_opt(App *app, int opt, const char *arg, void *ud) {
    ExportArgs *a = ud;
    char *end;
    switch (opt) {
    case OPT_WHAT: a->what = arg; return 0;
    case OPT_FORMAT: a->format = arg; return 0;
    case OPT_SESSION: a->session = arg; return 0;
    case OPT_OUT: a->out = arg; return 0;
    case OPT_STUDY: a->study = arg; return 0;
    case OPT_PARTICIPANT: a->participant = arg; return 0;
    case OPT_SOURCE: a->source = arg; return 0;
    case OPT_BSEED:
        a->seed = strtoull(arg, &end, 10);
        if (end == arg || *end || !a->seed) return lab_err(&app->err, LAB_EINVAL, "--bootstrap-seed: '%s' is not a positive integer", arg);
        return 0;
    }
    return 1;
}

static int run_export(App *app, int argc, char **argv) {
    static const struct option opts[] = {
        {"what", required_argument, NULL, OPT_WHAT},       {"format", required_argument, NULL, OPT_FORMAT},
        {"session", required_argument, NULL, OPT_SESSION}, {"out", required_argument, NULL, OPT_OUT},
        {"bootstrap-seed", required_argument, NULL, OPT_BSEED}, {"study", required_argument, NULL, OPT_STUDY},
        {"participant", required_argument, NULL, OPT_PARTICIPANT}, {"source", required_argument, NULL, OPT_SOURCE},
        {NULL, 0, NULL, 0},
    };
    ExportArgs a = {.seed = 1};
    int first = cli_parse(app, &cmd_export, argc, argv, opts, NULL, export_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first == -1) return cli_usage_error(&cmd_export, "%s", app->err.msg);
    if (first < 0) return EXIT_USAGE;
    if (first < argc) return cli_usage_error(&cmd_export, "unexpected argument '%s'", argv[first]);
    LabExportOpts o = {.out_path = a.out, .seed = a.seed,
                       .scope = {.study = a.study, .participant = a.participant, .source = a.source}};
    if (!a.what) return cli_usage_error(&cmd_export, "--what is required");
    if (!a.format) return cli_usage_error(&cmd_export, "--format is required");
    if (lab_export_what_parse(a.what, &o.what))
        return cli_usage_error(&cmd_export, "--what '%s' is not responses, ratings, sessions, summary or all", a.what);
    if (lab_export_format_parse(a.format, &o.format))
        return cli_usage_error(&cmd_export, "--format '%s' is not csv, jsonl, md, tex, sql or svg", a.format);
    if (a.source && strcmp(a.source, "lab") && strcmp(a.source, "study") && strcmp(a.source, "run"))
        return cli_usage_error(&cmd_export, "--source '%s' is not lab, study or run", a.source);
    if (file_exists(app->cfg.db) != 1)
        return lab_err(&app->err, LAB_ENOTFOUND, "%s: no record yet (run `ablab run` or the lab first)", app->cfg.db),
               EXIT_FAIL;
    Lab *l;
    if (lab_open_record(&l, app->cfg.db, &app->err)) return EXIT_FAIL;
    if (lab_read_only(l)) fprintf(stderr, "ablab: %s is read-only: opened for reading, nothing will be written\n", app->cfg.db);
    int rc = a.session ? lab_session_find(l, a.session, &o.scope.session_id, &app->err) : 0;
    if (!rc) rc = lab_export(l, &o, &app->err);
    lab_close(l);
    return rc ? EXIT_FAIL : EXIT_OK;
}
