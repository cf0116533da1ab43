/* ablab eval: perplexity of one or two models over a text (lm-evaluation-harness's rolling
 * log-likelihood), or the KL divergence of a model against a reference. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ablab_config.h"
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
    "       ablab eval --model PATH --kl-ref PATH --quant-sweep T1,T2,... --text FILE [-n N] [-r N]\n"
    "                  [--out DIR] [--format md|csv|json|tex]\n"
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
    "--kl-ref PATH is --kl --reference PATH.\n"
    "--quant-sweep T1,T2,...: the quantization report. The --model is loaded at each type (any --quant\n"
    "type: f16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0, q3_k_m, q2_k, ...) and measured against the reference:\n"
    "  bits/weight   8 x bytes of the weights as loaded / their elements\n"
    "  file bytes    the size of the GGUF `ablab convert --quant T` writes (its header and tensor\n"
    "                types laid out as convert lays them, nothing written)\n"
    "  resident      the process's resident memory (VmRSS) after loading and measuring the model less\n"
    "                before loading it (weights, KV cache of the loaded context, work buffers)\n"
    "  decode tok/s  as `ablab bench` tgN: N tokens decoded one at a time (-n, default 32), after a\n"
    "                warm-up, the mean of -r runs (default 3)\n"
    "  KL mean, p99  KL(reference || model) per token in nats, its mean and 99th percentile\n"
    "  same top      positions where both models' most likely token is the same, %%\n"
    "  bits/byte     of the quantized model over the text, as `ablab eval --text`\n"
    "The table goes to stdout (--format, default md); --out DIR also writes quant.md, quant.csv,\n"
    "quant.json, quant.tex and the plot quant.svg (KL and bits per byte against file size). The\n"
    "sweep is not recorded (as --kl).\n"
    "Example: ablab eval --model ../shared/models/stories260K/stories260K.bin \\\n"
    "           --text ../shared/corpus/tinystories_sample.txt --ctx 512\n"
    "         ablab eval --model assets/models/scratch-shakespeare --kl-ref assets/models/scratch-shakespeare \\\n"
    "           --quant-sweep f16,q8_0,q6_k,q5_k_m,q4_k_m,q4_0,q3_k_m,q2_k --text held-out.txt --out quant/\n",
    run_eval,
    2, /* model arms: --a-tokenizer, --b-quant, ... */
};

#define MAX_SWEEP 32

typedef struct {
    const char *models[2];
    int n_models;
    const char *text, *reference, *format, *out;
    int stride;
    bool kl, no_record;
    const char *sweep[MAX_SWEEP]; /* --quant-sweep: the types, pointing into sweep_buf */
    int n_sweep;
    char sweep_buf[512];
    int tg, reps;                 /* the sweep's decode bench: -n, -r */
} EvalOpts;

enum { OPT_MODEL = 0x1000, OPT_TEXT, OPT_STRIDE, OPT_FORMAT, OPT_KL, OPT_REFERENCE, OPT_NO_RECORD, OPT_KL_REF,
       OPT_QUANT_SWEEP, OPT_OUT };

static const struct option eval_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"text", required_argument, NULL, OPT_TEXT},
    {"stride", required_argument, NULL, OPT_STRIDE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"kl", no_argument, NULL, OPT_KL},
    {"reference", required_argument, NULL, OPT_REFERENCE},
    {"no-record", no_argument, NULL, OPT_NO_RECORD},
    {"kl-ref", required_argument, NULL, OPT_KL_REF},
    {"quant-sweep", required_argument, NULL, OPT_QUANT_SWEEP},
    {"out", required_argument, NULL, OPT_OUT},
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
    case OPT_KL_REF:
        o->kl = true;
        o->reference = arg;
        return 0;
    case OPT_QUANT_SWEEP: {
        if (strlen(arg) >= sizeof o->sweep_buf) return lab_err(&app->err, LAB_EINVAL, "--quant-sweep: the list is too long");
        snprintf(o->sweep_buf, sizeof o->sweep_buf, "%s", arg);
        o->n_sweep = 0;
        for (char *p = o->sweep_buf, *tok; (tok = strsep(&p, ","));) {
            if (!eng_quant_known(tok))
                return lab_err(&app->err, LAB_EINVAL, "--quant-sweep %s: '%s' is not a type (expected %s)", arg, tok,
                               eng_quant_names());
            for (int i = 0; i < o->n_sweep; i++)
                if (!strcmp(o->sweep[i], tok))
                    return lab_err(&app->err, LAB_EINVAL, "--quant-sweep %s: '%s' is listed twice", arg, tok);
            if (o->n_sweep == MAX_SWEEP)
                return lab_err(&app->err, LAB_EINVAL, "--quant-sweep %s: at most %d types", arg, MAX_SWEEP);
            o->sweep[o->n_sweep++] = tok;
        }
        return 0;
    }
    case OPT_OUT: o->out = arg; return 0;
    case 'n':
    case 'r': {
        char *end;
        long v = strtol(arg, &end, 10);
        if (end == arg || *end || v < 1 || v > (opt == 'n' ? 1 << 16 : 1000))
            return lab_err(&app->err, LAB_EINVAL, "-%c %s: expected a number 1..%d", opt, arg, opt == 'n' ? 1 << 16 : 1000);
        *(opt == 'n' ? &o->tg : &o->reps) = (int)v;
        return 0;
    }
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

/* ---------- --quant-sweep: the quantization report ---------- */

/* bench's decode measurement: one warm-up run, then the mean and sd of reps runs (tokens/s). */
static int decode_speed(App *app, EngModel *m, int n, int reps, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int rep = -1; rep < reps; rep++) {
        double ms;
        if (eng_bench_tg(m, n, &ms, &app->err)) return -1;
        if (rep < 0) continue;
        double v = n / (ms / 1000.0);
        s += v;
        s2 += v * v;
    }
    *mean = s / reps;
    double var = reps > 1 ? (s2 - s * s / reps) / (reps - 1) : 0;
    *sd = var > 0 ? sqrt(var) : 0;
    return 0;
}

static int write_report(App *app, const char *dir, const char *name, LabExportFormat fmt, bool svg,
                        const LabQuantReport *q) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return lab_err(&app->err, LAB_EIO, "%s: cannot write", path);
    int rc = svg ? lab_quant_svg(f, q) : lab_quant_table(f, fmt, q);
    if (fclose(f) || rc) return lab_err(&app->err, LAB_EIO, "%s: writing failed (disk full?)", path);
    return 0;
}

static int run_sweep(App *app, const EvalOpts *o, const char *text, const EngEvalOpts *eo) {
    EngModel *ref = NULL, *base = NULL, *m = NULL;
    LabQuantRow rows[MAX_SWEEP];
    int rc = EXIT_FAIL, threads = app->cfg.threads > 0 ? app->cfg.threads : 1;
    size_t text_bytes = strlen(text);
    double ref_nll = NAN;
    int64_t n_tok = 0;
    /* the reference as --kl loads it: the second model's options */
    CliModelOpts ro = app->model_arm[1];
    ro.tokenizer = cli_model_opts(app, 1).tokenizer;
    if (load_model(app, o->reference, ro, &ref)) goto out;
    /* the model as `ablab convert` loads it, for the file sizes (eng_gguf_size) */
    CliModelOpts mo = cli_model_opts(app, 0);
    EngLoadOpts co = {.n_threads = 1, .ctx = 16, .tokenizer_path = mo.tokenizer, .mmap = true};
    if (eng_load(&base, o->models[0], &co, &app->err)) goto out;
    /* the weights' element count, for bits per weight (EngInfo.n_params leaves out an untied GPT-2
     * head; eng_tensors lists the tensors as the file holds them, so its bytes are not the
     * converted ones, but its shapes are) */
    double weight_count = 0;
    const EngTensorInfo *ti;
    size_t nti = eng_tensors(base, &ti);
    for (size_t i = 0; i < nti; i++) weight_count += (double)ti[i].rows * (double)ti[i].cols;
    for (int i = 0; i < o->n_sweep; i++) {
        const char *type = o->sweep[i];
        LabQuantRow *r = &rows[i];
        memset(r, 0, sizeof *r);
        snprintf(r->type, sizeof r->type, "%s", type);
        size_t fbytes;
        if (eng_gguf_size(base, type, &fbytes, &app->err)) goto out;
        r->file_bytes = (int64_t)fbytes;
        /* hand freed memory (the GGUF writer's, the previous type's model) back to the system, so
         * that this model's pages are counted rather than reused from the heap */
        malloc_trim(0);
        size_t rss0 = proc_rss_bytes();
        CliModelOpts qo = mo;
        qo.quant = type;
        if (load_model(app, o->models[0], qo, &m)) goto out;
        const EngInfo *in = eng_info(m);
        snprintf(r->dtype, sizeof r->dtype, "%s", in->dtype);
        r->weights_bytes = (int64_t)(in->bytes_mapped + in->bytes_owned);
        r->bits_per_weight = weight_count > 0 ? 8.0 * (double)r->weights_bytes / weight_count : NAN;
        char label[64];
        snprintf(label, sizeof label, "%s %s", in->name, type);
        Progress p = {label, isatty(2)};
        EngEvalOpts opts = *eo;
        opts.progress_ud = &p;
        EngKlResult k;
        if (eng_eval_kl(m, ref, text, &opts, &k, &app->err)) goto out;
        r->n_tokens = k.n_tokens;
        r->kl_mean = k.kl_mean;
        r->kl_median = k.kl_median;
        r->kl_p99 = k.kl_p99;
        r->kl_max = k.max_kl;
        r->same_top_pct = k.same_top_pct;
        r->token_ppl = k.token_ppl;
        r->bits_per_byte = text_bytes ? k.sum_nll / ((double)text_bytes * M_LN2) : NAN;
        ref_nll = k.ref_sum_nll;
        n_tok = k.n_tokens;
        r->n_gen = o->tg < in->ctx ? o->tg : in->ctx;
        r->reps = o->reps;
        if (decode_speed(app, m, r->n_gen, r->reps, &r->decode_tok_s, &r->decode_tok_s_sd)) goto out;
        size_t rss1 = proc_rss_bytes();
        r->resident_bytes = rss1 > rss0 ? (int64_t)(rss1 - rss0) : 0;
        eng_free(m);
        m = NULL;
    }
    const EngInfo *ri = eng_info(ref), *bi = eng_info(base);
    int win = eo->ctx ? eo->ctx : ri->ctx;
    char cond[512];
    snprintf(cond, sizeof cond, "machine %s; threads %d; window %d tokens; decode tg%d x %d reps; ablab %s",
             cpu_model_name(), threads, win, rows[0].n_gen, o->reps, ABLAB_VERSION);
    LabQuantReport q = {.model = o->models[0], .reference = o->reference, .reference_dtype = ri->dtype,
                        .text = path_basename(o->text), .n_params = bi->n_params, .text_bytes = (int64_t)text_bytes,
                        .ref_bits_per_byte = text_bytes ? ref_nll / ((double)text_bytes * M_LN2) : NAN,
                        .ref_token_ppl = n_tok ? exp(ref_nll / (double)n_tok) : NAN, .ctx = win, .threads = threads,
                        .conditions = cond, .rows = rows, .n = (size_t)o->n_sweep};
    static const char *const NAMES[] = {"md", "csv", "json", "tex"};
    static const LabExportFormat FMTS[] = {LAB_FMT_MD, LAB_FMT_CSV, LAB_FMT_JSON, LAB_FMT_TEX};
    for (int k = 0; k < 4; k++)
        if (!strcmp(o->format, NAMES[k]) && lab_quant_table(stdout, FMTS[k], &q)) {
            lab_err(&app->err, LAB_EIO, "stdout: writing failed");
            goto out;
        }
    fflush(stdout);
    if (o->out) {
        if (mkdir(o->out, 0777) && file_exists(o->out) != 2) {
            lab_err(&app->err, LAB_EIO, "%s: cannot create the folder", o->out);
            goto out;
        }
        for (int k = 0; k < 4; k++) {
            char name[32];
            snprintf(name, sizeof name, "quant.%s", NAMES[k]);
            if (write_report(app, o->out, name, FMTS[k], false, &q)) goto out;
        }
        if (write_report(app, o->out, "quant.svg", LAB_FMT_SVG, true, &q)) goto out;
        fprintf(stderr, "wrote %s/quant.{md,csv,json,tex} and %s/quant.svg\n", o->out, o->out);
    }
    rc = EXIT_OK;
out:
    eng_free(m);
    eng_free(base);
    eng_free(ref);
    return rc;
}

static int run_eval(App *app, int argc, char **argv) {
    EvalOpts o = {.format = "md", .tg = 32, .reps = 3};
    int first = cli_parse(app, &cmd_eval, argc, argv, eval_options, "n:r:", eval_opt, &o);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_eval, "unexpected argument '%s'", argv[first]);
    if (!o.n_models || !o.text) return cli_usage_error(&cmd_eval, "--model PATH and --text FILE are required");
    if (o.n_sweep) {
        if (!o.kl || !o.reference || o.n_models != 1)
            return cli_usage_error(&cmd_eval, "--quant-sweep needs one --model and a reference (--kl-ref PATH)");
        if (cli_model_opts(app, 0).quant)
            return cli_usage_error(&cmd_eval, "--quant-sweep loads the model at each of its types: leave out --quant");
        if (strcmp(o.format, "md") && strcmp(o.format, "csv") && strcmp(o.format, "json") && strcmp(o.format, "tex"))
            return cli_usage_error(&cmd_eval, "--format %s: expected md, csv, json or tex", o.format);
    } else {
        if (o.out) return cli_usage_error(&cmd_eval, "--out belongs to --quant-sweep");
        if (strcmp(o.format, "md") && strcmp(o.format, "json"))
            return cli_usage_error(&cmd_eval, "--format %s: expected md or json", o.format);
    }
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
        int rc = o.n_sweep ? run_sweep(app, &o, text, &eo) : run_kl(app, &o, text, &eo);
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
