/* ablab bench: llama-bench's table for ablab's engines. pp = a prompt of n tokens processed as one
 * batch, tg = n tokens generated one at a time; tokens/s as mean ± sd over repetitions after one
 * warm-up run. Token ids are given, so tokenization is not timed (as llama-bench). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ablab_config.h"
#include "cli.h"
#include "engine.h"
#include "lab.h"

static int run_bench(App *app, int argc, char **argv);

const Command cmd_bench = {
    "bench", "prompt-processing and generation speed of a model, as llama-bench measures it",
    "usage: ablab bench --model PATH [--model PATH2] [-p 128,512] [-n 64,128] [-t 1,2] [-r 5]\n"
    "                   [--quant f32|f16|bf16|q8_0] [--bound] [--cpu-time] [--format md|csv|json]\n"
    "\n"
    "  -p LIST     prompt lengths: ppN processes N tokens as one batch from an empty cache (default 512)\n"
    "  -n LIST     generation lengths: tgN decodes N tokens one at a time (default 128)\n"
    "  -t LIST     thread counts (default: the configured threads)\n"
    "  -r N        repetitions per test, after one warm-up run (default 5)\n"
    "  --quant Q   convert the weights at load (f32, f16, bf16, q8_0)\n"
    "  --cpu-time  also report tokens per second of CPU time per thread (the process's CPU time divided\n"
    "              by the threads): on a machine shared with other work, what an idle one would give\n"
    "  --bound     measure the memory read bandwidth and add the decode bound (bandwidth / bytes of\n"
    "              weights read per token) and tg as a percentage of it\n"
    "  --no-record do not add the results to the record (the database of --db)\n"
    "Tokens/s are mean ± sd over the repetitions. Each run starts from an empty KV cache; ids are a\n"
    "fixed walk over the vocabulary (no tokenizer, no sampling). Random-weight models of the real shapes\n"
    "come from build/tests/make_random_gguf (see tests/bench/README.md).\n"
    "Example: ablab bench --model gpt2-124m.gguf -p 512 -n 128 -t 1,2 --quant q8_0 --bound\n",
    run_bench,
};

#define MAX_LIST 16
typedef struct { int v[MAX_LIST]; int n; } IntList;

typedef struct {
    const char *models[4];
    int n_models;
    IntList p, n, t;
    int reps;
    const char *quant, *format;
    bool bound, cpu_time, no_record;
} BenchOpts;

enum { OPT_MODEL = 0x1000, OPT_QUANT, OPT_FORMAT, OPT_BOUND, OPT_CPU, OPT_NO_RECORD };

static const struct option bench_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"quant", required_argument, NULL, OPT_QUANT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"bound", no_argument, NULL, OPT_BOUND},
    {"cpu-time", no_argument, NULL, OPT_CPU},
    {"no-record", no_argument, NULL, OPT_NO_RECORD},
    {NULL, 0, NULL, 0},
};

static int parse_list(App *app, char opt, const char *arg, IntList *l, int lo, int hi) {
    l->n = 0;
    const char *s = arg;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || l->n == MAX_LIST || (*end && *end != ','))
            return lab_err(&app->err, LAB_EINVAL, "-%c %s: expected up to %d comma-separated numbers %d..%d", opt, arg,
                           MAX_LIST, lo, hi);
        l->v[l->n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return l->n ? 0 : lab_err(&app->err, LAB_EINVAL, "-%c: empty list", opt);
}

static int bench_opt(App *app, int opt, const char *arg, void *ud) {
    BenchOpts *o = ud;
    switch (opt) {
    case OPT_MODEL:
        if (o->n_models == 4) return lab_err(&app->err, LAB_EINVAL, "--model: at most four models");
        o->models[o->n_models++] = arg;
        return 0;
    case OPT_QUANT: o->quant = arg; return 0;
    case OPT_FORMAT: o->format = arg; return 0;
    case OPT_BOUND: o->bound = true; return 0;
    case OPT_CPU: o->cpu_time = true; return 0;
    case OPT_NO_RECORD: o->no_record = true; return 0;
    case 'p': return parse_list(app, 'p', arg, &o->p, 0, 1 << 16);
    case 'n': return parse_list(app, 'n', arg, &o->n, 0, 1 << 16);
    case 't': return parse_list(app, 't', arg, &o->t, 1, 256);
    case 'r': {
        IntList l;
        if (parse_list(app, 'r', arg, &l, 1, 1000) || l.n != 1)
            return lab_err(&app->err, LAB_EINVAL, "-r %s: expected one number 1..1000", arg);
        o->reps = l.v[0];
        return 0;
    }
    }
    return 1;
}

typedef struct {
    const EngInfo *in;
    size_t size, decode_bytes;
    int threads;
    bool pp;
    int n;
    double mean, sd;
    double cpu_mean, cpu_sd; /* tokens per second of CPU time per thread (--cpu-time) */
    double bound; /* tokens/s the read bandwidth allows (tg, with --bound), else 0 */
} Row;

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0;
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void print_header(const BenchOpts *o) {
    if (!strcmp(o->format, "md")) {
        printf("CPU: %s; OpenBLAS core: %s; kernels: %s; build: ablab %s (%s)\n\n", cpu_model_name(), eng_blas_core(),
               eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE);
        printf("| model | size | params | dtype | threads | test | t/s |%s%s\n", o->cpu_time ? " t/s (CPU time) |" : "",
               o->bound ? " decode bound | % of bound |" : "");
        printf("|---|---:|---:|---|---:|---|---:|%s%s\n", o->cpu_time ? "---:|" : "", o->bound ? "---:|---:|" : "");
    } else if (!strcmp(o->format, "csv")) {
        printf("model,arch,size_bytes,params,dtype,threads,test,n_tokens,tokens_per_s_mean,tokens_per_s_sd,"
               "tokens_per_cpu_s_mean,tokens_per_cpu_s_sd,decode_bytes,decode_bound_tok_s,cpu,openblas_core,kernels,build\n");
    } else {
        printf("[");
    }
}

static void print_row(const BenchOpts *o, const Row *r, bool first) {
    char test[32];
    snprintf(test, sizeof test, "%s%d", r->pp ? "pp" : "tg", r->n);
    if (!strcmp(o->format, "md")) {
        printf("| %s | %.2f MiB | %.2f M | %s | %d | %s | %.2f ± %.2f |", r->in->name, (double)r->size / 1048576.0,
               (double)r->in->n_params / 1e6, r->in->dtype, r->threads, test, r->mean, r->sd);
        if (o->cpu_time) printf(" %.2f ± %.2f |", r->cpu_mean, r->cpu_sd);
        if (o->bound && r->bound > 0)
            printf(" %.1f | %.0f %% |", r->bound, 100.0 * (o->cpu_time ? r->cpu_mean : r->mean) / r->bound);
        else if (o->bound) printf(" | |");
        printf("\n");
    } else if (!strcmp(o->format, "csv")) {
        printf("%s,%s,%zu,%lld,%s,%d,%s,%d,%.3f,%.3f,%.3f,%.3f,%zu,%.2f,\"%s\",%s,%s,%s %s\n", r->in->name, r->in->arch,
               r->size, (long long)r->in->n_params, r->in->dtype, r->threads, test, r->n, r->mean, r->sd, r->cpu_mean,
               r->cpu_sd, r->decode_bytes,
               r->bound, cpu_model_name(), eng_blas_core(), eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE);
    } else {
        printf("%s\n  {\"model\": \"%s\", \"arch\": \"%s\", \"size_bytes\": %zu, \"params\": %lld, \"dtype\": \"%s\", "
               "\"threads\": %d, \"test\": \"%s\", \"n_tokens\": %d, \"tokens_per_s\": %.3f, \"tokens_per_s_sd\": %.3f, "
               "\"tokens_per_cpu_s\": %.3f, \"tokens_per_cpu_s_sd\": %.3f, \"decode_bytes\": %zu, \"decode_bound_tok_s\": %.2f, \"cpu\": \"%s\", \"openblas_core\": \"%s\", "
               "\"kernels\": \"%s\", \"build\": \"%s %s\"}",
               first ? "" : ",", r->in->name, r->in->arch, r->size, (long long)r->in->n_params, r->in->dtype, r->threads,
               test, r->n, r->mean, r->sd, r->cpu_mean, r->cpu_sd, r->decode_bytes, r->bound, cpu_model_name(), eng_blas_core(),
               eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE);
    }
    fflush(stdout);
}

static int run_bench(App *app, int argc, char **argv) {
    BenchOpts o = {.reps = 5, .format = "md"};
    o.p = (IntList){{512}, 1};
    o.n = (IntList){{128}, 1};
    int first = cli_parse(app, &cmd_bench, argc, argv, bench_options, "p:n:t:r:", bench_opt, &o);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_bench, "unexpected argument '%s'", argv[first]);
    if (!o.n_models) return cli_usage_error(&cmd_bench, "--model PATH is required");
    if (strcmp(o.format, "md") && strcmp(o.format, "csv") && strcmp(o.format, "json"))
        return cli_usage_error(&cmd_bench, "--format %s: expected md, csv or json", o.format);
    if (!o.t.n) o.t = (IntList){{app->cfg.threads > 0 ? app->cfg.threads : 1}, 1};
    int max_t = 1, max_len = 1;
    for (int i = 0; i < o.t.n; i++) max_t = o.t.v[i] > max_t ? o.t.v[i] : max_t;
    for (int i = 0; i < o.p.n; i++) max_len = o.p.v[i] > max_len ? o.p.v[i] : max_len;
    for (int i = 0; i < o.n.n; i++) max_len = o.n.v[i] > max_len ? o.n.v[i] : max_len;
    double bw[257] = {0};
    if (o.bound)
        for (int i = 0; i < o.t.n; i++)
            if (!(bw[o.t.v[i]] = eng_read_bandwidth(o.t.v[i], (size_t)512 << 20))) {
                lab_err(&app->err, LAB_ENOMEM, "cannot allocate 512 MiB to measure the read bandwidth");
                return EXIT_FAIL;
            }
    print_header(&o);
    if (o.bound && !strcmp(o.format, "md")) {
        printf("<!-- read bandwidth:");
        for (int i = 0; i < o.t.n; i++) printf(" %d thread%s %.1f GB/s;", o.t.v[i], o.t.v[i] > 1 ? "s" : "", bw[o.t.v[i]]);
        printf(" -->\n");
    }
    double *samples = malloc(2 * (size_t)o.reps * sizeof *samples), *cpu = samples + o.reps;
    if (!samples) return lab_err(&app->err, LAB_ENOMEM, "out of memory"), EXIT_FAIL;
    bool first_row = true;
    int rc = EXIT_OK;
    Lab *lab = NULL;
    if (!o.no_record && lab_open_record(&lab, app->cfg.db, &app->err)) {
        free(samples);
        return EXIT_FAIL;
    }
    for (int mi = 0; mi < o.n_models && rc == EXIT_OK; mi++) {
        EngLoadOpts lo = {.n_threads = max_t, .ctx = max_len, .quant = o.quant};
        EngModel *m = NULL;
        if (eng_load(&m, o.models[mi], &lo, &app->err)) {
            rc = EXIT_FAIL;
            break;
        }
        const EngInfo *in = eng_info(m);
        Row r = {.in = in, .size = in->bytes_mapped + in->bytes_owned, .decode_bytes = eng_bench_decode_bytes(m)};
        for (int ti = 0; ti < o.t.n && rc == EXIT_OK; ti++) {
            eng_set_threads(m, o.t.v[ti]);
            r.threads = in->n_threads;
            for (int kind = 0; kind < 2 && rc == EXIT_OK; kind++) {
                const IntList *l = kind == 0 ? &o.p : &o.n;
                for (int li = 0; li < l->n && rc == EXIT_OK; li++) {
                    int n = l->v[li];
                    if (n == 0) continue;
                    double ms;
                    for (int rep = -1; rep < o.reps; rep++) { /* rep -1: warm-up */
                        double c0 = cpu_seconds();
                        if ((kind == 0 ? eng_bench_pp(m, n, &ms, &app->err) : eng_bench_tg(m, n, &ms, &app->err))) {
                            rc = EXIT_FAIL;
                            break;
                        }
                        double c = cpu_seconds() - c0;
                        if (rep >= 0) {
                            samples[rep] = n / (ms / 1000.0);
                            cpu[rep] = c > 0 ? n / (c / r.threads) : 0;
                        }
                    }
                    if (rc) break;
                    r.pp = kind == 0;
                    r.n = n;
                    stats(samples, o.reps, &r.mean, &r.sd);
                    stats(cpu, o.reps, &r.cpu_mean, &r.cpu_sd);
                    r.bound = !r.pp && o.bound ? bw[o.t.v[ti]] * 1e9 / (double)r.decode_bytes : 0;
                    print_row(&o, &r, first_row);
                    first_row = false;
                    if (lab) {
                        char name[32], details[512];
                        snprintf(name, sizeof name, "%s%d", r.pp ? "pp" : "tg", n);
                        snprintf(details, sizeof details,
                                 "{\"tokens_per_s_sd\": %.3f, \"tokens_per_cpu_s\": %.3f, \"tokens_per_cpu_s_sd\": %.3f, "
                                 "\"reps\": %d, \"dtype\": \"%s\", \"decode_bytes\": %zu, \"openblas_core\": \"%s\", "
                                 "\"kernels\": \"%s\"}",
                                 r.sd, r.cpu_mean, r.cpu_sd, o.reps, in->dtype, r.decode_bytes, eng_blas_core(),
                                 eng_kernel_path());
                        LabBenchRecord rec = {name, r.threads, r.pp ? n : 0, r.pp ? 0 : n, r.pp ? r.mean : 0,
                                              r.pp ? 0 : r.mean, details};
                        if (lab_record_bench(lab, o.models[mi], m, &rec, &app->err)) {
                            rc = EXIT_FAIL;
                            break;
                        }
                    }
                }
            }
        }
        eng_free(m);
    }
    if (!strcmp(o.format, "json")) printf("\n]\n");
    lab_close(lab);
    free(samples);
    return rc;
}
