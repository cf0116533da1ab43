/* ablab merge: pool the records of several machines (a class's laptops) into one. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "lab.h"

static int run_merge(App *app, int argc, char **argv);

const Command cmd_merge = {
    "merge", "pool the records of several machines into one (a class's databases)",
    "usage: ablab merge OUT.db IN.db [IN.db ...]\n"
    "\n"
    "Adds every row of the IN records to OUT (created if missing), in one transaction: an error in\n"
    "any input leaves OUT as it was. Each row is recognised by its global id (a UUID every record\n"
    "since schema 11 gives its rows, also those of older files when they are upgraded), so merging\n"
    "the same file twice adds nothing and the order of the inputs does not matter. The same model\n"
    "on two machines (same weights, tokenizer, dtype and adapters) is one model; the same study\n"
    "(name, prompt set's sha256, sampling, blind, pacing) is one study. Every row keeps the machine\n"
    "it was recorded on (its source: a UUID per record and the host name); a session's name gets\n"
    "@HOST. `ablab stats` and `ablab export` on OUT report each machine beside the pooled figures.\n"
    "\n"
    "The inputs are opened read-only and never written (an older record is upgraded in a private\n"
    "temporary copy). A conflict -- the same id with other content (a rating changed after the\n"
    "last merge), or a row whose place another row takes -- is listed with its table and UUID and\n"
    "leaves OUT's row as it was; conflicts do not make the command fail. Prints, for each input\n"
    "and table, the rows added, already present and in conflict.\n"
    "\n"
    "Exit status: 0 merged (conflicts listed, if any), 1 an error (nothing merged), 2 usage.\n"
    "Example:\n"
    "\n"
    "  ablab merge class.db alice.db bob.db carol.db && ablab stats --db class.db\n",
    run_merge,
    0,
};

static int run_merge(App *app, int argc, char **argv) {
    int first = cli_parse(app, &cmd_merge, argc, argv, NULL, NULL, NULL, NULL);
    if (first == -3) return EXIT_OK;
    if (first == -1) return cli_usage_error(&cmd_merge, "%s", app->err.msg);
    if (first < 0) return EXIT_USAGE;
    if (argc - first < 2) return cli_usage_error(&cmd_merge, "name the output record and at least one record to merge");
    const char *out = argv[first];
    const char *const *in = (const char *const *)argv + first + 1;
    int n = argc - first - 1;
    LabMergeResult res;
    if (lab_merge(out, in, n, &res, &app->err)) return EXIT_FAIL;
    LabMergeCount total[LAB_MERGE_TABLES] = {0};
    int64_t n_conflicts = 0;
    for (int i = 0; i < res.n; i++) {
        const LabMergeInput *m = &res.inputs[i];
        printf("%s\n  %-18s %8s %8s %9s\n", m->path, "table", "added", "present", "conflicts");
        for (int t = 0; t < LAB_MERGE_TABLES; t++) {
            const LabMergeCount *c = &m->count[t];
            printf("  %-18s %8lld %8lld %9lld\n", c->table, (long long)c->added, (long long)c->present,
                   (long long)c->conflicts);
            total[t].table = c->table;
            total[t].added += c->added;
            total[t].present += c->present;
            total[t].conflicts += c->conflicts;
            n_conflicts += c->conflicts;
        }
        for (size_t k = 0; k < m->n_notes; k++)
            printf("  %s: %s %s: %s\n", m->notes[k].conflict ? "conflict" : "note", m->notes[k].table,
                   m->notes[k].uuid, m->notes[k].what);
    }
    if (res.n > 1) {
        printf("all %d inputs\n  %-18s %8s %8s %9s\n", res.n, "table", "added", "present", "conflicts");
        for (int t = 0; t < LAB_MERGE_TABLES; t++)
            printf("  %-18s %8lld %8lld %9lld\n", total[t].table, (long long)total[t].added,
                   (long long)total[t].present, (long long)total[t].conflicts);
    }
    printf("merged %d record%s into %s: %lld conflict%s\n", res.n, res.n == 1 ? "" : "s", out, (long long)n_conflicts,
           n_conflicts == 1 ? "" : "s");
    lab_merge_result_free(&res);
    return EXIT_OK;
}
