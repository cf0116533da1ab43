/* ablab bench: llama-bench's table for ablab's engines. pp = a prompt of n tokens processed as one
 * batch, tg = n tokens generated one at a time; tokens/s as mean ± sd over repetitions after one
 * warm-up run. Token ids are given, so tokenization is not timed (as llama-bench).
 * --pair: the lab's case of two models generating at the same time on a split thread budget,
 * against each alone on its share. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ablab_config.h"
#include "cli.h"
#include "cmd_engine.h"
#include "engine.h"
#include "lab.h"

static int run_bench(App *app, int argc, char **argv);

const Command cmd_bench = {
    "bench", "prompt-processing and generation speed of a model, as llama-bench measures it",
    "usage: ablab bench --model PATH [--model PATH2] [-p 128,512] [-n 64,128] [-t 1,2] [-r 5]\n"
    "                   [--quant TYPE] [--bound] [--cpu-time] [--format md|csv|json]\n"
    "       ablab bench --model A --model B --pair [-n 128] [-p 512] [-t 2] [-r 5] [--quant Q]\n"
    "                   [--format md|csv|json]\n"
    "\n"
    "  -p LIST     prompt lengths: ppN processes N tokens as one batch from an empty cache (default 512)\n"
    "  -n LIST     generation lengths: tgN decodes N tokens one at a time (default 128)\n"
    "  -t LIST     thread counts; with --pair, totals for both (default: the configured threads)\n"
    "  -r N        repetitions per test, after one warm-up run (default 5)\n"
    "  --cpu-time  also report tokens per second of CPU time per thread (the process's CPU time divided\n"
    "              by the threads): on a machine shared with other work, what an idle one would give\n"
    "  --bound     measure the memory read bandwidth and add the decode bound (bandwidth / bytes of\n"
    "              weights read per token) and tg as a percentage of it\n"
    "  --no-record do not add the results to the record (the database of --db)\n"
    "  --pair      two models at once, as the lab runs them (exactly two --model). Each -t value is a\n"
    "              total split between them as the lab splits --threads (A gets the larger half, each\n"
    "              at least 1: -t 2 gives 1 + 1). Each repetition times every model alone on its share\n"
    "              (solo), then both at the same time, started together (together: each timed while\n"
    "              the other keeps generating). Rows A, B and A+B (the sums: combined solo and\n"
    "              combined together), loss = 1 - together / solo of the means (its sd over the\n"
    "              repetitions in csv and json). Test names \"tg128 pair\", \"pp512 pair\"; pp runs\n"
    "              only when -p is given. Recorded as each model's solo row (\"tg128\") and its\n"
    "              together row (\"tg128 pair\", the partner and the combined figures as details).\n"
    "              With --bound: the weights each model streams (GB/s, solo -> together), and the two\n"
    "              together as a share of the read bandwidth measured on the whole thread budget:\n"
    "              near 100 %, the loss is the memory's, not the engines'.\n"
    "Each model's load time and the process's resident memory (VmRSS) after its runs, split into\n"
    "weights, KV cache, scratch and the rest, follow its rows (csv/json: load_ms, rss_bytes, ...).\n"
    "Tokens/s are mean ± sd over the repetitions. Each run starts from an empty KV cache; ids are a\n"
    "fixed walk over the vocabulary (no tokenizer, no sampling). Random-weight models of the real shapes\n"
    "come from build/tests/make_random_gguf (see tests/bench/README.md).\n"
    "Example: ablab bench --model gpt2-124m.gguf -p 512 -n 128 -t 1,2 --quant q8_0 --bound\n"
    "         ablab bench --model gpt2-124m.gguf --model scratch.gguf --pair -n 128 -t 2 -r 3 --quant q8_0\n",
    run_bench,
    2, /* model arms: --a-tokenizer, --b-quant, ... */
};

#define MAX_LIST 16
typedef struct { int v[MAX_LIST]; int n; } IntList;

typedef struct {
    const char *models[4];
    int n_models;
    IntList p, n, t;
    int reps;
    const char *format;
    bool bound, cpu_time, no_record, pair, p_given;
} BenchOpts;

enum { OPT_MODEL = 0x1000, OPT_FORMAT, OPT_BOUND, OPT_CPU, OPT_NO_RECORD, OPT_PAIR };

static const struct option bench_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"bound", no_argument, NULL, OPT_BOUND},
    {"cpu-time", no_argument, NULL, OPT_CPU},
    {"no-record", no_argument, NULL, OPT_NO_RECORD},
    {"pair", no_argument, NULL, OPT_PAIR},
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
    case OPT_FORMAT: o->format = arg; return 0;
    case OPT_BOUND: o->bound = true; return 0;
    case OPT_CPU: o->cpu_time = true; return 0;
    case OPT_NO_RECORD: o->no_record = true; return 0;
    case OPT_PAIR: o->pair = true; return 0;
    case 'p': o->p_given = true; return parse_list(app, 'p', arg, &o->p, 0, 1 << 16);
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
    size_t rss;   /* the process's resident memory after this row's runs (/proc/self/status VmRSS) */
} Row;

/* A /proc/self/status field in bytes ("VmRSS", "VmHWM"); 0 where unreadable. */
static size_t proc_status_bytes(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t n = strlen(field), kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            kb = (size_t)strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb * 1024;
}

/* Where one model's memory went, after its last row (markdown: a line under the table). */
static void print_memory(const BenchOpts *o, const Row *r, size_t rss_before) {
    if (strcmp(o->format, "md") != 0) return;
    const EngInfo *in = r->in;
    size_t known = in->bytes_owned + in->bytes_mapped + in->bytes_kv + in->bytes_scratch;
    double mib = 1048576.0;
    printf("\n%s: loaded in %.0f ms; resident %.1f MiB after its runs (%.1f MiB before loading) = weights %.1f MiB "
           "(%.1f owned, %.1f mapped) + KV cache %.1f MiB (ctx %d) + scratch %.1f MiB + other %.1f MiB\n",
           in->name, in->load_ms, (double)r->rss / mib, (double)rss_before / mib,
           (double)(in->bytes_owned + in->bytes_mapped) / mib, (double)in->bytes_owned / mib, (double)in->bytes_mapped / mib,
           (double)in->bytes_kv / mib, in->ctx, (double)in->bytes_scratch / mib,
           ((double)r->rss - (double)known) / mib);
}

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
               "tokens_per_cpu_s_mean,tokens_per_cpu_s_sd,decode_bytes,decode_bound_tok_s,cpu,openblas_core,kernels,build,"
               "load_ms,rss_bytes,weights_bytes,kv_bytes,scratch_bytes\n");
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
        printf("%s,%s,%zu,%lld,%s,%d,%s,%d,%.3f,%.3f,%.3f,%.3f,%zu,%.2f,\"%s\",%s,%s,%s %s,%.1f,%zu,%zu,%zu,%zu\n", r->in->name,
               r->in->arch, r->size, (long long)r->in->n_params, r->in->dtype, r->threads, test, r->n, r->mean, r->sd,
               r->cpu_mean, r->cpu_sd, r->decode_bytes,
               r->bound, cpu_model_name(), eng_blas_core(), eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE,
               r->in->load_ms, r->rss, r->in->bytes_owned + r->in->bytes_mapped, r->in->bytes_kv, r->in->bytes_scratch);
    } else {
        printf("%s\n  {\"model\": \"%s\", \"arch\": \"%s\", \"size_bytes\": %zu, \"params\": %lld, \"dtype\": \"%s\", "
               "\"threads\": %d, \"test\": \"%s\", \"n_tokens\": %d, \"tokens_per_s\": %.3f, \"tokens_per_s_sd\": %.3f, "
               "\"tokens_per_cpu_s\": %.3f, \"tokens_per_cpu_s_sd\": %.3f, \"decode_bytes\": %zu, \"decode_bound_tok_s\": %.2f, \"cpu\": \"%s\", \"openblas_core\": \"%s\", "
               "\"kernels\": \"%s\", \"build\": \"%s %s\", \"load_ms\": %.1f, \"rss_bytes\": %zu, \"weights_bytes\": %zu, "
               "\"kv_bytes\": %zu, \"scratch_bytes\": %zu}",
               first ? "" : ",", r->in->name, r->in->arch, r->size, (long long)r->in->n_params, r->in->dtype, r->threads,
               test, r->n, r->mean, r->sd, r->cpu_mean, r->cpu_sd, r->decode_bytes, r->bound, cpu_model_name(), eng_blas_core(),
               eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE, r->in->load_ms, r->rss,
               r->in->bytes_owned + r->in->bytes_mapped, r->in->bytes_kv, r->in->bytes_scratch);
    }
    fflush(stdout);
}

/* ---------- --pair: two models generating at the same time ---------- */

static int bench_once(EngModel *m, bool pp, int n, double *ms, LabErr *e) {
    return pp ? eng_bench_pp(m, n, ms, e) : eng_bench_tg(m, n, ms, e);
}

/* One model's side of a together run. Its first run is the timed one; after it the side keeps
 * running untimed until the partner's timed run has ended too, so each timed run has the partner
 * working beside it from start to end. Without that, the faster model would finish first and
 * leave the slower one the machine to itself for its last stretch, which flatters the slower one. */
typedef struct {
    EngModel *m;
    bool pp;
    int n;
    pthread_barrier_t *start;
    atomic_bool *mine, *partner; /* the timed run has ended (or failed) */
    double ms;
    int rc;
    LabErr err;
} PairSide;

static void *pair_side(void *ud) {
    PairSide *s = ud;
    pthread_barrier_wait(s->start);
    s->rc = bench_once(s->m, s->pp, s->n, &s->ms, &s->err);
    atomic_store(s->mine, true);
    double untimed;
    while (!s->rc && !atomic_load(s->partner)) s->rc = bench_once(s->m, s->pp, s->n, &untimed, &s->err);
    return NULL;
}

/* Both models at once: model A on a thread of its own, model B on this one, released together by
 * a barrier. ms[k] is model k's timed run. -1 with e filled if either run fails. */
static int pair_together(EngModel *const m[2], bool pp, int n, double ms[2], LabErr *e) {
    pthread_barrier_t start;
    if (pthread_barrier_init(&start, NULL, 2)) return lab_err(e, LAB_ENOMEM, "--pair: cannot create a barrier");
    atomic_bool done[2];
    PairSide side[2];
    for (int k = 0; k < 2; k++) {
        atomic_init(&done[k], false);
        side[k] = (PairSide){.m = m[k], .pp = pp, .n = n, .start = &start, .mine = &done[k], .partner = &done[1 - k]};
    }
    pthread_t t;
    if (pthread_create(&t, NULL, pair_side, &side[0])) {
        pthread_barrier_destroy(&start);
        return lab_err(e, LAB_ENOMEM, "--pair: cannot start a thread for model A");
    }
    pair_side(&side[1]);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&start);
    for (int k = 0; k < 2; k++)
        if (side[k].rc) {
            *e = side[k].err;
            return -1;
        }
    ms[0] = side[0].ms;
    ms[1] = side[1].ms;
    return 0;
}

/* Measures the read bandwidth (GB/s) of each thread count of t into bw[threads]. */
static int measure_bw(const IntList *t, double *bw, LabErr *e) {
    for (int i = 0; i < t->n; i++)
        if (!(bw[t->v[i]] = eng_read_bandwidth(t->v[i], (size_t)512 << 20)))
            return lab_err(e, LAB_ENOMEM, "cannot allocate 512 MiB to measure the read bandwidth");
    return 0;
}

/* The measured read bandwidth per thread count, as a markdown comment above the table. */
static void print_bw_comment(const IntList *t, const double *bw) {
    printf("<!-- read bandwidth:");
    for (int i = 0; i < t->n; i++) printf(" %d thread%s %.1f GB/s;", t->v[i], t->v[i] > 1 ? "s" : "", bw[t->v[i]]);
    printf(" -->\n");
}

typedef struct {
    double solo, solo_sd, tog, tog_sd; /* tokens/s, mean ± sd over the repetitions */
    double loss, loss_sd;              /* %: 1 - tog / solo of the means; sd of the per-repetition losses */
} PairFig;

static PairFig pair_fig(const double *solo, const double *tog, int reps, double *scratch) {
    PairFig f;
    stats(solo, reps, &f.solo, &f.solo_sd);
    stats(tog, reps, &f.tog, &f.tog_sd);
    for (int i = 0; i < reps; i++) scratch[i] = 100.0 * (1.0 - tog[i] / solo[i]);
    double mean_of_losses;
    stats(scratch, reps, &mean_of_losses, &f.loss_sd);
    f.loss = 100.0 * (1.0 - f.tog / f.solo);
    return f;
}

typedef struct {
    const char *slot;                  /* "A", "B" or "A+B" (the sums) */
    const char *model, *arch, *dtype;
    const char *partner;               /* the other model's name; "" for A+B */
    size_t size;
    int64_t params;
    int threads, threads_total;        /* this row's threads; the -t budget they were split from */
    char test[40];                     /* "tg128 pair" */
    bool pp;
    int n;
    PairFig f;
    double gbs_solo, gbs_tog;          /* --bound, tg: weights streamed, GB/s (solo / together) */
    double read_bw;                    /* --bound, A+B tg row: the read bandwidth of threads_total, GB/s */
} PairRow;

static void csv_str(const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void json_str(Buf *b, const char *s) {
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') buf_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) buf_printf(b, "\\u%04x", (unsigned)*s);
        else buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void print_pair_header(const BenchOpts *o, const EngInfo *const in[2]) {
    if (!strcmp(o->format, "md")) {
        printf("CPU: %s; OpenBLAS core: %s; kernels: %s; build: ablab %s (%s)\n\n", cpu_model_name(), eng_blas_core(),
               eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE);
        printf("Two models at once: A = %s, B = %s. Solo: each alone on its share of the threads; together: both "
               "at the same time, each timed while the other keeps running; A+B: the sums; loss = 1 − together / "
               "solo.\n\n",
               in[0]->name, in[1]->name);
        printf("| model | slot | size | params | dtype | threads | test | solo t/s | together t/s | loss |%s\n",
               o->bound ? " weights GB/s solo → together | together, % of read bandwidth |" : "");
        printf("|---|---|---:|---:|---|---:|---|---:|---:|---:|%s\n", o->bound ? "---:|---:|" : "");
    } else if (!strcmp(o->format, "csv")) {
        printf("model,slot,arch,size_bytes,params,dtype,threads,threads_total,partner,test,n_tokens,"
               "solo_tokens_per_s_mean,solo_tokens_per_s_sd,together_tokens_per_s_mean,together_tokens_per_s_sd,"
               "loss_pct,loss_pct_sd,solo_gb_s,together_gb_s,read_bw_gb_s,cpu,openblas_core,kernels,build\n");
    } else {
        printf("[");
    }
}

static void print_pair_row(const BenchOpts *o, const PairRow *r, bool first) {
    const PairFig *f = &r->f;
    if (!strcmp(o->format, "md")) {
        printf("| %s | %s | %.2f MiB | %.2f M | %s | %d | %s | %.2f ± %.2f | %.2f ± %.2f | %.1f %% |", r->model,
               r->slot, (double)r->size / 1048576.0, (double)r->params / 1e6, r->dtype, r->threads, r->test, f->solo,
               f->solo_sd, f->tog, f->tog_sd, f->loss);
        if (o->bound && r->gbs_solo > 0) printf(" %.1f → %.1f |", r->gbs_solo, r->gbs_tog);
        else if (o->bound) printf(" |");
        if (o->bound && r->read_bw > 0) printf(" %.0f %% of %.1f |", 100.0 * r->gbs_tog / r->read_bw, r->read_bw);
        else if (o->bound) printf(" |");
        putchar('\n');
    } else if (!strcmp(o->format, "csv")) {
        csv_str(r->model);
        printf(",%s,%s,%zu,%lld,%s,%d,%d,", r->slot, r->arch, r->size, (long long)r->params, r->dtype, r->threads,
               r->threads_total);
        csv_str(r->partner);
        printf(",%s,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,\"%s\",%s,%s,%s %s\n", r->test, r->n, f->solo,
               f->solo_sd, f->tog, f->tog_sd, f->loss, f->loss_sd, r->gbs_solo, r->gbs_tog, r->read_bw, cpu_model_name(),
               eng_blas_core(), eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE);
    } else {
        Buf b = {0};
        buf_puts(&b, first ? "\n  {\"model\": " : ",\n  {\"model\": ");
        json_str(&b, r->model);
        buf_printf(&b, ", \"slot\": \"%s\", \"arch\": \"%s\", \"size_bytes\": %zu, \"params\": %lld, \"dtype\": \"%s\", "
                       "\"threads\": %d, \"threads_total\": %d, \"partner\": ",
                   r->slot, r->arch, r->size, (long long)r->params, r->dtype, r->threads, r->threads_total);
        json_str(&b, r->partner);
        buf_printf(&b, ", \"test\": \"%s\", \"n_tokens\": %d, \"solo_tokens_per_s\": %.3f, \"solo_tokens_per_s_sd\": %.3f, "
                       "\"together_tokens_per_s\": %.3f, \"together_tokens_per_s_sd\": %.3f, \"loss_pct\": %.3f, "
                       "\"loss_pct_sd\": %.3f, \"solo_gb_s\": %.3f, \"together_gb_s\": %.3f, \"read_bw_gb_s\": %.3f, "
                       "\"cpu\": ",
                   r->test, r->n, f->solo, f->solo_sd, f->tog, f->tog_sd, f->loss, f->loss_sd, r->gbs_solo, r->gbs_tog,
                   r->read_bw);
        json_str(&b, cpu_model_name());
        buf_printf(&b, ", \"openblas_core\": \"%s\", \"kernels\": \"%s\", \"build\": \"%s %s\"}", eng_blas_core(),
                   eng_kernel_path(), ABLAB_VERSION, ABLAB_BUILD_TYPE);
        if (b.data) fputs(b.data, stdout);
        buf_free(&b);
    }
    fflush(stdout);
}

/* Records model k's solo row ("tg128", its share of the threads) and its together row ("tg128 pair",
 * with the partner, the solo figures and the combined ones as details). */
static int record_pair(Lab *lab, const BenchOpts *o, EngModel *const m[2], int k, const PairRow *row,
                       const PairRow *partner, const PairRow *sum, LabErr *e) {
    const EngInfo *in = eng_info(m[k]);
    const PairFig *f = &row->f;
    bool pp = row->pp;
    char solo_name[32];
    snprintf(solo_name, sizeof solo_name, "%s%d", pp ? "pp" : "tg", row->n);
    Buf d = {0};
    buf_printf(&d, "{\"tokens_per_s_sd\": %.3f, \"reps\": %d, \"dtype\": \"%s\", \"openblas_core\": \"%s\", "
                   "\"kernels\": \"%s\", \"pair_partner\": ",
               f->solo_sd, o->reps, in->dtype, eng_blas_core(), eng_kernel_path());
    json_str(&d, partner->model);
    buf_puts(&d, "}");
    LabBenchRecord solo = {solo_name, row->threads, pp ? row->n : 0, pp ? 0 : row->n, pp ? f->solo : 0,
                           pp ? 0 : f->solo, d.data, NULL};
    int rc = d.data ? lab_record_bench(lab, o->models[k], m[k], &solo, e) : lab_err(e, LAB_ENOMEM, "out of memory");
    buf_clear(&d);
    if (!rc) {
        const PairFig *c = &sum->f;
        buf_printf(&d, "{\"tokens_per_s_sd\": %.3f, \"reps\": %d, \"dtype\": \"%s\", \"openblas_core\": \"%s\", "
                       "\"kernels\": \"%s\", \"slot\": \"%s\", \"partner\": ",
                   f->tog_sd, o->reps, in->dtype, eng_blas_core(), eng_kernel_path(), row->slot);
        json_str(&d, partner->model);
        buf_puts(&d, ", \"partner_path\": ");
        json_str(&d, o->models[1 - k]);
        buf_printf(&d, ", \"partner_dtype\": \"%s\", \"partner_threads\": %d, \"threads_total\": %d, "
                       "\"solo_tok_s\": %.3f, \"solo_tok_s_sd\": %.3f, \"loss_pct\": %.3f, \"loss_pct_sd\": %.3f, "
                       "\"combined_solo_tok_s\": %.3f, \"combined_solo_tok_s_sd\": %.3f, "
                       "\"combined_together_tok_s\": %.3f, \"combined_together_tok_s_sd\": %.3f, "
                       "\"combined_loss_pct\": %.3f, \"combined_loss_pct_sd\": %.3f}",
                   partner->dtype, partner->threads, row->threads_total, f->solo, f->solo_sd, f->loss, f->loss_sd,
                   c->solo, c->solo_sd, c->tog, c->tog_sd, c->loss, c->loss_sd);
        LabBenchRecord tog = {row->test, row->threads, pp ? row->n : 0, pp ? 0 : row->n, pp ? f->tog : 0,
                              pp ? 0 : f->tog, d.data, NULL};
        rc = d.data ? lab_record_bench(lab, o->models[k], m[k], &tog, e) : lab_err(e, LAB_ENOMEM, "out of memory");
    }
    buf_free(&d);
    return rc;
}

static int run_pair(App *app, const BenchOpts *o) {
    int max_len = 1;
    for (int i = 0; o->p_given && i < o->p.n; i++) max_len = o->p.v[i] > max_len ? o->p.v[i] : max_len;
    for (int i = 0; i < o->n.n; i++) max_len = o->n.v[i] > max_len ? o->n.v[i] : max_len;
    size_t reps = (size_t)o->reps;
    /* per repetition: solo A, solo B, together A, together B, their two sums, and room for losses */
    double *buf = malloc(7 * reps * sizeof *buf);
    if (!buf) return lab_err(&app->err, LAB_ENOMEM, "out of memory"), EXIT_FAIL;
    double *solo[2] = {buf, buf + reps}, *tog[2] = {buf + 2 * reps, buf + 3 * reps};
    double *csolo = buf + 4 * reps, *ctog = buf + 5 * reps, *scratch = buf + 6 * reps;
    EngModel *m[2] = {NULL, NULL};
    const EngInfo *in[2] = {NULL, NULL};
    Lab *lab = NULL;
    int rc = EXIT_FAIL;
    bool header = false, first_row = true;
    char sum_name[2 * LAB_NAME_MAX + 4], sum_arch[64], sum_dtype[64];
    if (!o->no_record && lab_open_record(&lab, app->cfg.db, &app->err)) goto done;
    for (int k = 0; k < 2; k++) {
        CliModelOpts mo = cli_model_opts(app, k);
        EngLoadOpts lo = {.n_threads = lab_thread_share(o->t.v[0], k), .ctx = max_len, .quant = mo.quant,
                          .tokenizer_path = mo.tokenizer, .mmap = app->cfg.mmap, .lora = mo.lora, .n_lora = mo.n_lora};
        if (cmd_refuse_remote(app, o->models[k]) || eng_load(&m[k], o->models[k], &lo, &app->err)) goto done;
        in[k] = eng_info(m[k]);
    }
    snprintf(sum_name, sizeof sum_name, "%s + %s", in[0]->name, in[1]->name);
    if (!strcmp(in[0]->arch, in[1]->arch)) snprintf(sum_arch, sizeof sum_arch, "%s", in[0]->arch);
    else snprintf(sum_arch, sizeof sum_arch, "%s + %s", in[0]->arch, in[1]->arch);
    if (!strcmp(in[0]->dtype, in[1]->dtype)) snprintf(sum_dtype, sizeof sum_dtype, "%s", in[0]->dtype);
    else snprintf(sum_dtype, sizeof sum_dtype, "%s + %s", in[0]->dtype, in[1]->dtype);
    double bw[257] = {0};
    if (o->bound && measure_bw(&o->t, bw, &app->err)) goto done;
    if (o->bound && !strcmp(o->format, "md")) print_bw_comment(&o->t, bw);
    print_pair_header(o, in);
    header = true;
    for (int ti = 0; ti < o->t.n; ti++) {
        for (int k = 0; k < 2; k++) eng_set_threads(m[k], lab_thread_share(o->t.v[ti], k));
        for (int kind = 0; kind < 2; kind++) {
            bool pp = kind == 0;
            if (pp && !o->p_given) continue;
            const IntList *l = pp ? &o->p : &o->n;
            for (int li = 0; li < l->n; li++) {
                int n = l->v[li];
                if (n == 0) continue;
                for (int rep = -1; rep < o->reps; rep++) { /* rep -1: warm-up */
                    double ms[2];
                    for (int k = 0; k < 2; k++) {
                        if (bench_once(m[k], pp, n, &ms[k], &app->err)) goto done;
                        if (rep >= 0) solo[k][rep] = n / (ms[k] / 1000.0);
                    }
                    if (pair_together(m, pp, n, ms, &app->err)) goto done;
                    if (rep >= 0) {
                        for (int k = 0; k < 2; k++) tog[k][rep] = n / (ms[k] / 1000.0);
                        csolo[rep] = solo[0][rep] + solo[1][rep];
                        ctog[rep] = tog[0][rep] + tog[1][rep];
                    }
                }
                PairRow rows[3];
                for (int k = 0; k < 2; k++)
                    rows[k] = (PairRow){.slot = k ? "B" : "A", .model = in[k]->name, .arch = in[k]->arch,
                                        .dtype = in[k]->dtype, .partner = in[1 - k]->name,
                                        .size = in[k]->bytes_mapped + in[k]->bytes_owned, .params = in[k]->n_params,
                                        .threads = in[k]->n_threads, .threads_total = o->t.v[ti], .pp = pp, .n = n,
                                        .f = pair_fig(solo[k], tog[k], o->reps, scratch)};
                rows[2] = (PairRow){.slot = "A+B", .model = sum_name, .arch = sum_arch, .dtype = sum_dtype,
                                    .partner = "", .size = rows[0].size + rows[1].size,
                                    .params = rows[0].params + rows[1].params,
                                    .threads = rows[0].threads + rows[1].threads, .threads_total = o->t.v[ti],
                                    .pp = pp, .n = n, .f = pair_fig(csolo, ctog, o->reps, scratch)};
                if (o->bound && !pp) { /* the weights each streams per second, alone and together */
                    for (int k = 0; k < 2; k++) {
                        double gb = (double)eng_bench_decode_bytes(m[k]) / 1e9;
                        rows[k].gbs_solo = rows[k].f.solo * gb;
                        rows[k].gbs_tog = rows[k].f.tog * gb;
                    }
                    rows[2].gbs_solo = rows[0].gbs_solo + rows[1].gbs_solo;
                    rows[2].gbs_tog = rows[0].gbs_tog + rows[1].gbs_tog;
                    rows[2].read_bw = bw[o->t.v[ti]];
                }
                for (int k = 0; k < 3; k++) {
                    snprintf(rows[k].test, sizeof rows[k].test, "%s%d pair", pp ? "pp" : "tg", n);
                    print_pair_row(o, &rows[k], first_row);
                    first_row = false;
                }
                for (int k = 0; lab && k < 2; k++)
                    if (record_pair(lab, o, m, k, &rows[k], &rows[1 - k], &rows[2], &app->err)) goto done;
            }
        }
    }
    rc = EXIT_OK;
done:
    if (header && !strcmp(o->format, "json")) printf("\n]\n");
    for (int k = 0; k < 2; k++) eng_free(m[k]);
    lab_close(lab);
    free(buf);
    return rc;
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
    if (o.pair && o.n_models != 2)
        return cli_usage_error(&cmd_bench, "--pair measures two models at once: give exactly two --model (got %d)",
                               o.n_models);
    if (o.pair && o.cpu_time)
        return cli_usage_error(&cmd_bench, "--pair reports wall-clock tokens/s only: leave out --cpu-time");
    if (!o.t.n) o.t = (IntList){{app->cfg.threads > 0 ? app->cfg.threads : 1}, 1};
    if (o.pair) return run_pair(app, &o);
    int max_t = 1, max_len = 1;
    for (int i = 0; i < o.t.n; i++) max_t = o.t.v[i] > max_t ? o.t.v[i] : max_t;
    for (int i = 0; i < o.p.n; i++) max_len = o.p.v[i] > max_len ? o.p.v[i] : max_len;
    for (int i = 0; i < o.n.n; i++) max_len = o.n.v[i] > max_len ? o.n.v[i] : max_len;
    double bw[257] = {0};
    if (o.bound && measure_bw(&o.t, bw, &app->err)) return EXIT_FAIL;
    if (o.bound && !strcmp(o.format, "md")) print_bw_comment(&o.t, bw);
    print_header(&o);
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
        CliModelOpts mo = cli_model_opts(app, mi);
        EngLoadOpts lo = {.n_threads = max_t, .ctx = max_len, .quant = mo.quant, .tokenizer_path = mo.tokenizer,
                          .mmap = app->cfg.mmap, .lora = mo.lora, .n_lora = mo.n_lora};
        EngModel *m = NULL;
        size_t rss_before = proc_status_bytes("VmRSS");
        if (cmd_refuse_remote(app, o.models[mi]) || eng_load(&m, o.models[mi], &lo, &app->err)) {
            rc = EXIT_FAIL;
            break;
        }
        const EngInfo *in = eng_info(m);
        Row r = {.in = in, .size = in->bytes_mapped + in->bytes_owned, .decode_bytes = eng_bench_decode_bytes(m)};
        bool any_row = false;
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
                    r.rss = proc_status_bytes("VmRSS");
                    print_row(&o, &r, first_row);
                    any_row = true;
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
                                              r.pp ? 0 : r.mean, details, NULL};
                        if (lab_record_bench(lab, o.models[mi], m, &rec, &app->err)) {
                            rc = EXIT_FAIL;
                            break;
                        }
                    }
                }
            }
        }
        if (rc == EXIT_OK && any_row) print_memory(&o, &r, rss_before);
        eng_free(m);
    }
    if (!strcmp(o.format, "json")) printf("\n]\n");
    lab_close(lab);
    free(samples);
    return rc;
}
