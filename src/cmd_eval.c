/* ablab eval: perplexity of one or two models over a text (lm-evaluation-harness's rolling
 * log-likelihood), or the KL divergence of a model against a reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_engine.h"
#include "engine.h"
#include "lab.h"

static int run_eval(App *app, int argc, char **argv);

const Command cmd_eval = {
    "eval", "perplexity, bits per byte and KL divergence of models over a text",
    "usage: ablab eval --model PATH [--model PATH2] --text FILE [--ctx N] [--stride S] [--quant Q]\n"
    "                  [--format md|json]\n"
    "       ablab eval --kl --model PATH --reference PATH --text FILE [--ctx N] [--stride S]\n"
    "\n"
    "Scores every token of FILE once, after a BOS (or GPT-2's <|endoftext|>) prefix, in windows of\n"
    "--ctx tokens (default: the model's context, at most 2048) whose ends move by --stride tokens\n"
    "(default: the window; the overlap is context only). Reports, as lm-evaluation-harness defines them:\n"
    "  token perplexity  exp(-sum ll / tokens)\n"
    "  byte perplexity   exp(-sum ll / UTF-8 bytes)\n"
    "  word perplexity   exp(-sum ll / words), words = len(re.split(r'\\s+', text))\n"
    "  bits per byte     -sum ll / (UTF-8 bytes * ln 2)\n"
    "so models with different tokenizers compare by bytes and words. Two --model give two rows.\n"
    "Each result is recorded (the database of --db, one row per metric and model) unless --no-record.\n"
    "--kl: KL(reference || model) per token (mean, sd, max) and how often both pick the same top token,\n"
    "as llama-perplexity's KL mode: a quantized model against its F32 original (same tokenizer).\n"
    "--quant Q converts the --model weights at load; a --reference loads as the file holds it.\n"
    "Example: ablab eval --model ../shared/models/stories260K/stories260K.bin \\\n"
    "           --text ../shared/corpus/tinystories_sample.txt --ctx 512\n",
    run_eval,
    2, /* model arms: --a-tokenizer, --b-quant, ... */
};

typedef struct {
    const char *models[2];
    int n_models;
    const char *text, *reference, *format;
    int stride;
    bool kl, no_record;
} EvalOpts;

enum { OPT_MODEL = 0x1000, OPT_TEXT, OPT_STRIDE, OPT_FORMAT, OPT_KL, OPT_REFERENCE, OPT_NO_RECORD };

static const struct option eval_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"text", required_argument, NULL, OPT_TEXT},
    {"stride", required_argument, NULL, OPT_STRIDE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"kl", no_argument, NULL, OPT_KL},
    {"reference", required_argument, NULL, OPT_REFERENCE},
    {"no-record", no_argument, NULL, OPT_NO_RECORD},
    {NULL, 0, NULL, 0},
};

static int eval_opt(App *app, int opt, const char *arg, void *ud) {
    EvalOpts *o = ud;
    switch (opt) {
    case OPT_MODEL:
        if (o->n_models == 2) return lab_err(&app->err, LAB_EINVAL, "--model: at most two models");
        o->models[o->n_models++] = arg;
        return 0;
    case OPT_TEXT: o->text = arg; return 0;
    case OPT_STRIDE: {
        char *end;
        long v = strtol(arg, &end, 10);
        if (*end || v < 1 || v > 1 << 20) return lab_err(&app->err, LAB_EINVAL, "--stride %s: expected 1..1048576", arg);
        o->stride = (int)v;
        return 0;
    }
    case OPT_FORMAT: o->format = arg; return 0;
    case OPT_KL: o->kl = true; return 0;
    case OPT_REFERENCE: o->reference = arg; return 0;
    case OPT_NO_RECORD: o->no_record = true; return 0;
    }
    return 1;
}

/* A progress bar on stderr when it is a terminal. */
typedef struct { const char *name; bool tty; } Progress;
static void progress(double frac, void *ud) {
    const Progress *p = ud;
    if (!p->tty) return;
    int w = 30, k = (int)(frac * w + 0.5);
    fprintf(stderr, "\r%-24.24s [%.*s%*s] %3.0f%%", p->name, k, "##############################", w - k, "",
            frac * 100.0);
    if (frac >= 1.0) fputs("\r\033[K", stderr);
    fflush(stderr);
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

/* mo: the model options (cli.h) this model loads with */
static int load_model(App *app, const char *path, CliModelOpts mo, EngModel **m) {
    if (cmd_refuse_remote(app, path)) return -1;
    int threads = app->cfg.threads > 0 ? app->cfg.threads : 1;
    EngLoadOpts lo = {.n_threads = threads, .ctx = app->cfg.ctx, .quant = mo.quant, .tokenizer_path = mo.tokenizer,
                      .mmap = app->cfg.mmap, .lora = mo.lora, .n_lora = mo.n_lora};
    return eng_load(m, path, &lo, &app->err);
}

static int run_kl(App *app, const EvalOpts *o, const char *text, const EngEvalOpts *eo) {
    EngModel *m = NULL, *ref = NULL;
    int rc = EXIT_FAIL;
    /* the reference is the second model: --b-tokenizer / --b-quant / --b-lora (the shared --quant and
     * --lora change the --model being measured, never the reference it is measured against) */
    CliModelOpts ro = app->model_arm[1];
    ro.tokenizer = cli_model_opts(app, 1).tokenizer;
    if (load_model(app, o->models[0], cli_model_opts(app, 0), &m) || load_model(app, o->reference, ro, &ref)) goto out;
    Progress p = {eng_info(m)->name, isatty(2)};
    EngEvalOpts opts = *eo;
    opts.progress_ud = &p;
    EngKlResult k;
    if (eng_eval_kl(m, ref, text, &opts, &k, &app->err)) goto out;
    const EngInfo *mi = eng_info(m), *ri = eng_info(ref);
    if (o->format && !strcmp(o->format, "json")) {
        printf("{\"model\": ");
        json_str(mi->path);
        printf(", \"dtype\": \"%s\", \"reference\": ", mi->dtype);
        json_str(ri->path);
        printf(", \"reference_dtype\": \"%s\", \"tokens\": %lld, \"kl_mean\": %.6g, \"kl_sd\": %.6g, \"kl_max\": %.6g, "
               "\"same_top_pct\": %.3f, \"ppl\": %.6f, \"reference_ppl\": %.6f, \"seconds\": %.2f}\n",
               ri->dtype, (long long)k.n_tokens, k.kl_mean, k.kl_sd, k.max_kl, k.same_top_pct, k.token_ppl,
               k.ref_token_ppl, k.ms / 1000.0);
    } else {
        printf("| model | dtype | reference | tokens | KL mean (nats) | KL sd | KL max | same top token | ppl | reference ppl |\n");
        printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        printf("| %s | %s | %s (%s) | %lld | %.3g | %.3g | %.3g | %.2f %% | %.4f | %.4f |\n", mi->name, mi->dtype,
               ri->name, ri->dtype, (long long)k.n_tokens, k.kl_mean, k.kl_sd, k.max_kl, k.same_top_pct, k.token_ppl,
               k.ref_token_ppl);
    }
    rc = EXIT_OK;
out:
    eng_free(m);
    eng_free(ref);
    return rc;
}

static int run_eval(App *app, int argc, char **argv) {
    EvalOpts o = {.format = "md"};
    int first = cli_parse(app, &cmd_eval, argc, argv, eval_options, NULL, eval_opt, &o);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_eval, "unexpected argument '%s'", argv[first]);
    if (!o.n_models || !o.text) return cli_usage_error(&cmd_eval, "--model PATH and --text FILE are required");
    if (strcmp(o.format, "md") && strcmp(o.format, "json"))
        return cli_usage_error(&cmd_eval, "--format %s: expected md or json", o.format);
    if (o.kl && (!o.reference || o.n_models != 1))
        return cli_usage_error(&cmd_eval, "--kl needs one --model and a --reference");
    if (!o.kl && o.reference) return cli_usage_error(&cmd_eval, "--reference belongs to --kl");
    char *text;
    size_t len;
    if (file_read_all(o.text, 0, &text, &len, &app->err)) return EXIT_FAIL;
    if (strlen(text) != len) {
        free(text);
        lab_err(&app->err, LAB_EINVAL, "%s: the text contains a NUL byte", o.text);
        return EXIT_FAIL;
    }
    /* the window: --ctx when given, else the context the model is loaded with */
    EngEvalOpts eo = {.ctx = app->cfg.src[CFG_CTX] == CFG_DEFAULT ? 0 : app->cfg.ctx, .stride = o.stride,
                      .progress = progress};
    if (o.kl) {
        int rc = run_kl(app, &o, text, &eo);
        free(text);
        return rc;
    }
    EngEvalResult res[2];
    EngModel *m[2] = {NULL, NULL};
    int rc = EXIT_FAIL;
    for (int i = 0; i < o.n_models; i++) {
        if (load_model(app, o.models[i], cli_model_opts(app, i), &m[i])) goto out;
        Progress p = {eng_info(m[i])->name, isatty(2)};
        eo.progress_ud = &p;
        if (eng_eval_text(m[i], text, &eo, &res[i], &app->err)) goto out;
    }
    bool json = !strcmp(o.format, "json");
    if (json) {
        printf("{\"text\": ");
        json_str(o.text);
        printf(", \"bytes\": %lld, \"words\": %lld, \"results\": [", (long long)res[0].n_bytes, (long long)res[0].n_words);
    } else {
        printf("text: %s (%lld bytes, %lld words)\n\n", o.text, (long long)res[0].n_bytes, (long long)res[0].n_words);
        printf("| model | dtype | tokens | token ppl | byte ppl | word ppl | bits/byte | window/stride | windows | seconds |\n");
        printf("|---|---|---:|---:|---:|---:|---:|---|---:|---:|\n");
    }
    for (int i = 0; i < o.n_models; i++) {
        const EngInfo *in = eng_info(m[i]);
        const EngEvalResult *r = &res[i];
        int win = eo.ctx ? eo.ctx : in->ctx, st = o.stride ? o.stride : win;
        if (json) {
            printf("%s{\"model\": ", i ? ", " : "");
            json_str(in->path);
            printf(", \"arch\": \"%s\", \"dtype\": \"%s\", \"tokens\": %lld, \"token_ppl\": %.6f, \"byte_ppl\": %.6f, "
                   "\"word_ppl\": %.6f, \"bits_per_byte\": %.6f, \"sum_nll\": %.6f, \"ctx\": %d, \"stride\": %d, "
                   "\"windows\": %lld, \"seconds\": %.2f}",
                   in->arch, in->dtype, (long long)r->n_tokens, r->token_ppl, r->byte_ppl, r->word_ppl,
                   r->bits_per_byte, r->sum_nll, win, st, (long long)r->n_windows, r->ms / 1000.0);
        } else {
            printf("| %s | %s | %lld | %.4f | %.4f | %.4f | %.4f | %d/%d | %lld | %.1f |\n", in->name, in->dtype,
                   (long long)r->n_tokens, r->token_ppl, r->byte_ppl, r->word_ppl, r->bits_per_byte, win, st,
                   (long long)r->n_windows, r->ms / 1000.0);
        }
    }
    if (json) printf("]}\n");
    fflush(stdout);
    if (!o.no_record) {
        Lab *lab = NULL;
        if (lab_open_record(&lab, app->cfg.db, &app->err)) goto out;
        for (int i = 0; i < o.n_models; i++) {
            const EngInfo *in = eng_info(m[i]);
            const EngEvalResult *r = &res[i];
            char details[512];
            snprintf(details, sizeof details,
                     "{\"ctx\": %d, \"stride\": %d, \"bytes\": %lld, \"words\": %lld, \"windows\": %lld, "
                     "\"sum_nll\": %.6f, \"dtype\": \"%s\"}",
                     eo.ctx ? eo.ctx : in->ctx, o.stride ? o.stride : (eo.ctx ? eo.ctx : in->ctx), (long long)r->n_bytes,
                     (long long)r->n_words, (long long)r->n_windows, r->sum_nll, in->dtype);
            LabEvalRecord rec = {path_basename(o.text), r->n_tokens, r->token_ppl, r->byte_ppl, r->word_ppl,
                                 r->bits_per_byte, details, NULL};
            if (lab_record_eval(lab, o.models[i], m[i], &rec, &app->err)) {
                lab_close(lab);
                goto out;
            }
        }
        lab_close(lab);
    }
    rc = EXIT_OK;
out:
    for (int i = 0; i < 2; i++) eng_free(m[i]);
    free(text);
    return rc;
}
