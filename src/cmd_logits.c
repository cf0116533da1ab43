/* ablab logits --model PATH --ids 1,2,3 --out FILE: float32 logits of every position. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_engine.h"

static int run_logits(App *app, int argc, char **argv);

const Command cmd_logits = {
    "logits", "write a model's logits for a list of token ids (float32, [T][V])",
    "usage: ablab logits --model PATH --ids 1,2,3 --out FILE [model options]\n"
    "\n"
    "Runs the ids as one sequence from position 0 and writes the logits of every position to FILE:\n"
    "row-major [T][V] little-endian float32 (T ids, V the vocabulary), as transformers'\n"
    "model(ids).logits[0] would give them.\n",
    run_logits,
    1, /* one model: --tokenizer, --quant */
};

typedef struct { const char *model, *ids, *out; } LogitsOpts;

static int logits_opt(App *app, int opt, const char *arg, void *ud) {
    (void)app;
    LogitsOpts *o = ud;
    switch (opt) {
    case 'm': o->model = arg; break;
    case 'i': o->ids = arg; break;
    case 'o': o->out = arg; break;
    default: return 1;
    }
    return 0;
}

static int run_logits(App *app, int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'}, {"ids", required_argument, NULL, 'i'},
                                         {"out", required_argument, NULL, 'o'},
                                         {0}};
    LogitsOpts lo = {0};
    int first = cli_parse(app, &cmd_logits, argc, argv, opts, NULL, logits_opt, &lo);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_logits, "unexpected argument '%s'", argv[first]);
    if (!lo.model || !lo.ids || !lo.out) return cli_usage_error(&cmd_logits, "--model, --ids and --out are required");
    IntVec ids = {0};
    if (cli_parse_ids(app, lo.ids, &ids)) return EXIT_FAIL;
    if (ids.n == 0) {
        ivec_free(&ids);
        return cli_usage_error(&cmd_logits, "--ids: give at least one token id");
    }
    EngModel *m = cmd_load_model(app, lo.model, 0, (int)ids.n);
    if (!m) {
        ivec_free(&ids);
        return EXIT_FAIL;
    }
    int rc = EXIT_FAIL;
    size_t V = (size_t)eng_info(m)->vocab, n;
    float *out = NULL;
    FILE *f = NULL;
    if (!size_mul_ok(V, ids.n, &n) || !(out = malloc(n * sizeof *out))) {
        lab_err(&app->err, LAB_ENOMEM, "out of memory for %zu x %zu logits", ids.n, V);
        goto done;
    }
    if (eng_logits(m, ids.v, (int)ids.n, out, &app->err)) goto done;
    f = fopen(lo.out, "wb");
    if (!f) {
        lab_err(&app->err, LAB_EIO, "%s: cannot create: %s", lo.out, strerror(errno));
        goto done;
    }
    /* the host is little-endian (x86-64, aarch64): the floats go out as they are */
    if (fwrite(out, sizeof *out, n, f) != n || fclose(f) != 0) {
        f = NULL;
        lab_err(&app->err, LAB_EIO, "%s: write failed: %s", lo.out, strerror(errno));
        goto done;
    }
    f = NULL;
    rc = EXIT_OK;
done:
    if (f) fclose(f);
    free(out);
    ivec_free(&ids);
    eng_free(m);
    return rc;
}
