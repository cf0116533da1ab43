/* ablab run: both models on every prompt of a file, headless, everything recorded; re-running the
 * same session resumes where it stopped. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lab.h"

static int run_run(App *app, int argc, char **argv);

const Command cmd_run = {
    "run", "answer a file of prompts with both models, headless, and record everything",
    "usage: ablab run --a PATH --b PATH --prompts FILE [--blind] [--seed S] [--repeat N]\n"
    "                 [--session NAME] [--max-tokens N] [sampling flags] [--parallel N] [--json]\n"
    "                 [--db FILE]\n"
    "\n"
    "Runs models A and B concurrently (the --threads budget split between them) on every prompt\n"
    "of FILE: one prompt a line, or JSON lines {\"prompt\": \"...\"}. Each response is recorded with\n"
    "its sampling settings, seed, token ids and metrics once it is complete, so a run that is killed\n"
    "leaves no half row; running the same command again resumes the session where it stopped and\n"
    "ends with exactly one response per prompt, model and repetition. The session is named\n"
    "run:FILE:A:B unless --session says otherwise (a side given --quant or --lora is named\n"
    "MODEL@TYPE+ADAPTER). --seed S gives repetition r the seed S + r\n"
    "(default: a fresh random seed per response, recorded). --blind records a seeded, balanced\n"
    "left/right assignment per prompt for later blind rating. --parallel N (1..64, default 1) answers\n"
    "N prompts at once, each model decoding its N answers together (one pass over the weights per\n"
    "token for all of them): the same answers as one at a time with the same seeds, in less time\n"
    "(local models only). Progress goes to stderr; --json prints one JSON line per response on\n"
    "stdout. Example:\n"
    "\n"
    "  ablab run --a stories260K.bin --b llama-tiny-gqa --prompts prompts.txt --max-tokens 64\n"
    "  ablab export --what all --format md\n",
    run_run,
    2, /* model arms: --a-tokenizer, --b-quant, ... */
};

typedef struct {
    const char *prompts, *session;
    int repeat;
    int parallel;
    bool json;
} RunArgs;

enum { OPT_PROMPTS = 0x100, OPT_REPEAT, OPT_SESSION, OPT_JSON, OPT_PARALLEL };

#define RUN_PARALLEL_MAX 64

static int run_opt(App *app, int opt, const char *arg, void *ud) {
    RunArgs *a = ud;
    char *end;
    switch (opt) {
    case OPT_PROMPTS: a->prompts = arg; return 0;
    case OPT_SESSION: a->session = arg; return 0;
    case OPT_JSON: a->json = true; return 0;
    case OPT_REPEAT:
        a->repeat = (int)strtol(arg, &end, 10);
        if (end == arg || *end || a->repeat < 1 || a->repeat > 10000)
            return lab_err(&app->err, LAB_EINVAL, "--repeat: '%s' is not 1..10000", arg);
        return 0;
    case OPT_PARALLEL:
        a->parallel = (int)strtol(arg, &end, 10);
        if (end == arg || *end || a->parallel < 1 || a->parallel > RUN_PARALLEL_MAX)
            return lab_err(&app->err, LAB_EINVAL, "--parallel: '%s' is not 1..%d", arg, RUN_PARALLEL_MAX);
        return 0;
    }
    return 1;
}

/* ---------- progress on stderr ---------- */

typedef struct {
    pthread_mutex_t mu;
    bool tty;
    int k, n;               /* item k of n (1-based) */
    int n_gen[2];           /* tokens so far per side */
    double tok_s[2];
    int sides_done;
    int failures;
    LabErr err;             /* the last failure */
    double t0, last_draw;
    int generated;          /* pairs generated in this run */
    double gen_ms;          /* time spent generating them */
} Progress;

static void draw(Progress *p, bool force) {
    double now = now_ms();
    if (!force && now - p->last_draw < 100) return;
    p->last_draw = now;
    double pair_ms = p->generated ? p->gen_ms / p->generated : 0;
    int left = p->n - p->k + (p->tty ? 1 : 0);
    char eta[32] = "--:--";
    if (pair_ms > 0) {
        int s = (int)(pair_ms * left / 1000);
        snprintf(eta, sizeof eta, "%d:%02d", s / 60, s % 60);
    }
    int done = p->tty ? p->k - 1 : p->k;
    int width = 24, fill = p->n ? (int)((double)done / p->n * width) : 0;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "%s[%s] prompt %d/%d  A %d tok %.0f tok/s | B %d tok %.0f tok/s  ETA %s%s",
            p->tty ? "\r" : "", bar, p->k, p->n, p->n_gen[0], p->tok_s[0], p->n_gen[1], p->tok_s[1], eta,
            p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

static void on_piece(int side, const char *text, size_t len, const LabMetrics *live, void *ud) {
    (void)text;
    (void)len;
    Progress *p = ud;
    pthread_mutex_lock(&p->mu);
    p->n_gen[side] = live->n_gen;
    p->tok_s[side] = live->decode_tok_s;
    if (p->tty) draw(p, false);
    pthread_mutex_unlock(&p->mu);
}

static void on_done(int side, const LabMetrics *m, int64_t response_id, const LabErr *err, void *ud) {
    Progress *p = ud;
    pthread_mutex_lock(&p->mu);
    p->sides_done++;
    p->n_gen[side] = m->n_gen;
    p->tok_s[side] = m->decode_tok_s;
    if (err) {
        p->failures++;
        p->err = *err;
    }
    (void)response_id;
    pthread_mutex_unlock(&p->mu);
}

/* ---------- JSON lines ---------- */

static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c == '\n') fputs("\\n", stdout);
        else if (*c == '\t') fputs("\\t", stdout);
        else if (*c == '\r') fputs("\\r", stdout);
        else if (*c < 0x20 || *c == 0x7f) printf("\\u%04x", *c);
        else putchar(*c);
    }
    putchar('"');
}

static void print_json(const LabPair *p, int slot, const char *session, int position, int rep) {
    const LabMetrics *m = &p->metrics[slot];
    const LabSampling *s = &p->sampling[slot];
    printf("{\"response_id\":%lld,\"pair_id\":%lld,\"session\":", (long long)p->response_id[slot], (long long)p->id);
    json_str(session);
    printf(",\"prompt_index\":%d,\"rep\":%d,\"slot\":\"%c\",\"model\":", position, rep, 'A' + slot);
    json_str(p->model_name[slot]);
    printf(",\"side_shown\":\"%s\",\"prompt\":", (slot == p->left_slot) ? "left" : "right");
    json_str(p->prompt);
    fputs(",\"output\":", stdout);
    json_str(p->output[slot] ? p->output[slot] : "");
    printf(",\"stop\":\"%s\",\"seed\":%llu,\"temperature\":%.17g,\"top_k\":%d,\"top_p\":%.17g,\"min_p\":%.17g,"
           "\"repeat_penalty\":%.17g,\"max_tokens\":%d,\"n_prompt_tokens\":%d,\"n_gen_tokens\":%d,"
           "\"ttft_ms\":%.17g,\"prefill_ms\":%.17g,\"decode_tok_s\":%.17g,\"p50_token_ms\":%.17g,"
           "\"p95_token_ms\":%.17g,\"total_ms\":%.17g,",
           m->stop, (unsigned long long)m->seed, s->temp, s->top_k, s->top_p, s->min_p, s->repeat_penalty,
           s->max_tokens, m->n_prompt, m->n_gen, m->ttft_ms, m->prefill_ms, m->decode_tok_s, m->p50_ms, m->p95_ms,
           m->total_ms);
    /* a remote arm's memory and threads are the server's, unknown here: null, not 0 */
    if (m->remote) fputs("\"engine_bytes\":null,\"peak_rss_bytes\":null,\"threads\":null,\"remote\":true}\n", stdout);
    else printf("\"engine_bytes\":%zu,\"peak_rss_bytes\":%zu,\"threads\":%d}\n", m->bytes_engine, m->peak_rss, m->n_threads);
    fflush(stdout);
}

/* ---------- --parallel: N prompts at a time ---------- */

/* Every (rep, prompt) item in the order --parallel 1 takes them, N at a time through lab_ask_many:
 * the same pairs, seeds and records, each model decoding its N answers together. */
static int run_parallel(App *app, Lab *l, const RunArgs *a, const LabSampling *base, const int64_t *ids,
                        size_t n_ids, const char *name, Progress *p, const LabEvents *ev, int *skipped) {
    int total = (int)n_ids * a->repeat, N = a->parallel;
    LabAskOpts *o = calloc((size_t)N, sizeof *o);
    LabSampling *s = calloc((size_t)N, sizeof *s);
    int64_t *pairs = calloc((size_t)N, sizeof *pairs);
    int *todo = calloc((size_t)N, sizeof *todo);
    int rc = EXIT_OK;
    if (!o || !s || !pairs || !todo) {
        lab_err(&app->err, LAB_ENOMEM, "out of memory");
        rc = EXIT_FAIL;
    }
    for (int t0 = 0; t0 < total && rc == EXIT_OK; t0 += N) {
        int n = total - t0 < N ? total - t0 : N;
        for (int x = 0; x < n; x++) {
            int rep = (t0 + x) / (int)n_ids;
            s[x] = *base;
            if (s[x].seed >= 0) s[x].seed += rep;
            o[x] = (LabAskOpts){.prompt_id = ids[(t0 + x) % (int)n_ids], .rep = rep, .sampling = {&s[x], &s[x]}};
        }
        pthread_mutex_lock(&p->mu);
        p->k = t0 + n;
        p->n_gen[0] = p->n_gen[1] = 0;
        p->tok_s[0] = p->tok_s[1] = 0;
        int failures_before = p->failures;
        if (p->tty) draw(p, true);
        pthread_mutex_unlock(&p->mu);
        double t = now_ms();
        if (lab_ask_many(l, o, n, ev, pairs, todo, &app->err)) {
            rc = EXIT_FAIL;
            break;
        }
        lab_wait(l);
        int generated = 0;
        for (int x = 0; x < n; x++) generated += todo[x] > 0;
        pthread_mutex_lock(&p->mu);
        bool failed = p->failures > failures_before;
        *skipped += n - generated;
        if (generated) {
            p->generated += generated;
            p->gen_ms += now_ms() - t;
        }
        if (!p->tty && generated) draw(p, true); /* a log: one line per batch */
        pthread_mutex_unlock(&p->mu);
        if (failed && p->tty) fputs("\n", stderr);
        for (int x = 0; x < n && rc == EXIT_OK; x++) {
            if (!todo[x]) continue;
            LabPair pr;
            if (lab_pair_get(l, pairs[x], &pr, &app->err)) {
                rc = EXIT_FAIL;
                break;
            }
            int i = (t0 + x) % (int)n_ids, rep = (t0 + x) / (int)n_ids;
            if (pr.failed) /* the error itself was logged as it happened; the last one is p->err */
                fprintf(stderr, "ablab run: prompt %d (repetition %d) failed\n", i + 1, rep);
            for (int slot = 0; slot < 2 && a->json && !pr.failed; slot++)
                if (pr.response_id[slot]) print_json(&pr, slot, name, i, rep);
            lab_pair_free(&pr);
        }
    }
    free(o);
    free(s);
    free(pairs);
    free(todo);
    return rc;
}

/* ---------- the command ---------- */

static void load_progress(int slot, double frac, void *ud) {
    bool *tty = ud;
    if (*tty) fprintf(stderr, "\rloading model %c: %3.0f%%\033[K", 'A' + slot, 100 * frac);
}

static int run_run(App *app, int argc, char **argv) {
    static const struct option opts[] = {
        {"prompts", required_argument, NULL, OPT_PROMPTS}, {"repeat", required_argument, NULL, OPT_REPEAT},
        {"session", required_argument, NULL, OPT_SESSION}, {"json", no_argument, NULL, OPT_JSON},
        {"parallel", required_argument, NULL, OPT_PARALLEL}, {NULL, 0, NULL, 0},
    };
    RunArgs a = {.repeat = 1, .parallel = 1};
    int first = cli_parse(app, &cmd_run, argc, argv, opts, NULL, run_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first == -1) return cli_usage_error(&cmd_run, "%s", app->err.msg);
    if (first < 0) return EXIT_USAGE;
    if (first < argc) return cli_usage_error(&cmd_run, "unexpected argument '%s'", argv[first]);
    const AppConfig *c = &app->cfg;
    if (!a.prompts) return cli_usage_error(&cmd_run, "--prompts FILE is required");
    if (!c->model_a || !*c->model_a || !c->model_b || !*c->model_b)
        return cli_usage_error(&cmd_run, "both models are needed: --a PATH and --b PATH (or [models] in the config file)");

    LabStrList prompts;
    if (lab_prompts_read(a.prompts, &prompts, &app->err)) return EXIT_FAIL;
    bool tty = isatty(2);
    LabConfig lc;
    lab_config_init(&lc);
    lc.model_path[0] = c->model_a;
    lc.model_path[1] = c->model_b;
    lc.db_path = c->db;
    lc.threads = c->threads;
    lc.ctx = c->ctx;
    lc.sampling = c->sampling;
    lc.blind = c->blind;
    lc.mmap = c->mmap;
    for (int k = 0; k < 2; k++) {
        const CliModelOpts *mo = cli_model_opts_at(app, k);
        lc.tokenizer_path[k] = mo->tokenizer;
        lc.quant[k] = mo->quant;
        lc.lora[k] = mo->lora;
        lc.n_lora[k] = mo->n_lora;
        lc.chat[k] = (LabChatMode)mo->chat;
    }
    lc.system_prompt = app->model_all.system;
    lc.progress = load_progress;
    lc.progress_ud = &tty;
    Lab *l = NULL;
    int rc = EXIT_FAIL;
    int64_t *ids = NULL;
    size_t n_ids = 0;
    if (lab_open(&l, &lc, &app->err)) goto done;
    if (tty) fputs("\r\033[K", stderr);
    /* the whole set against both models before the first prompt: every bad line at once */
    LabStrList bad;
    int n_bad = lab_prompts_check(l, &prompts, a.prompts, lc.sampling.max_tokens, &bad, &app->err);
    if (n_bad < 0) goto done;
    if (n_bad > 0) {
        for (size_t i = 0; i < bad.n; i++) fprintf(stderr, "%s\n", bad.v[i]);
        lab_strlist_free(&bad);
        lab_err(&app->err, LAB_EINVAL, "%s: %d of %zu prompts cannot be asked (listed above); nothing was run",
                a.prompts, n_bad, prompts.n);
        goto done;
    }

    LabModelInfo mi[2];
    lab_model_info(l, 0, &mi[0]);
    lab_model_info(l, 1, &mi[1]);
    /* each side as it answers: the model, then what changes its weights (--quant, each adapter), so a
     * run with another adapter or type starts its own session instead of resuming this one */
    char side[2][400];
    for (int k = 0; k < 2; k++) {
        const CliModelOpts *mo = cli_model_opts_at(app, k);
        size_t n = (size_t)snprintf(side[k], sizeof side[k], "%s", mi[k].name);
        if (mo->quant && *mo->quant && n < sizeof side[k])
            n += (size_t)snprintf(side[k] + n, sizeof side[k] - n, "@%s", mo->quant);
        for (int i = 0; i < mo->n_lora && n < sizeof side[k]; i++)
            n += (size_t)snprintf(side[k] + n, sizeof side[k] - n, "+%s", path_basename(mo->lora[i]));
    }
    char name[1024];
    if (a.session) snprintf(name, sizeof name, "%s", a.session);
    else snprintf(name, sizeof name, "run:%s:%s:%s", path_basename(a.prompts), side[0], side[1]);
    LabSessionSpec spec = {.name = name, .kind = "run", .prompt_set = path_basename(a.prompts), .blind = c->blind,
                           .seed = c->sampling.seed};
    LabSessionInfo si;
    if (lab_session_start(l, &spec, &si, &app->err) || lab_session_set_prompts(l, &prompts, &app->err) ||
        lab_session_prompt_ids(l, &ids, &n_ids, &app->err))
        goto done;
    if (n_ids != prompts.n) {
        lab_err(&app->err, LAB_EINVAL, "session '%s' holds %zu prompts but %s has %zu; use another --session", name,
                n_ids, a.prompts, prompts.n);
        goto done;
    }
    for (int k = 0; k < 2 && a.parallel > 1; k++)
        if (mi[k].remote) {
            lab_err(&app->err, LAB_EINVAL,
                    "--parallel decodes a model's answers together here; model %c is served remotely (%s): "
                    "use --parallel 1",
                    'A' + k, mi[k].path);
            goto done;
        }
    char params[2][1100];
    for (int k = 0; k < 2; k++) {
        if (mi[k].remote) snprintf(params[k], sizeof params[k], "%s, parameters unknown", mi[k].path);
        else snprintf(params[k], sizeof params[k], "%s, %lld params", mi[k].arch, (long long)mi[k].n_params);
    }
    fprintf(stderr, "%s session '%s' (#%lld): %zu prompts x %d, A = %s (%s), B = %s (%s), %d threads\n",
            si.resumed ? "resuming" : "starting", name, (long long)si.id, prompts.n, a.repeat, mi[0].name, params[0],
            mi[1].name, params[1], c->threads);

    Progress p = {.tty = tty, .n = (int)prompts.n * a.repeat, .t0 = now_ms()};
    pthread_mutex_init(&p.mu, NULL);
    LabEvents ev = {.on_piece = on_piece, .on_done = on_done, .ud = &p};
    int skipped = 0, stored = 0;
    rc = EXIT_OK;
    if (a.parallel > 1) {
        rc = run_parallel(app, l, &a, &lc.sampling, ids, n_ids, name, &p, &ev, &skipped);
    }
    for (int rep = 0; rep < a.repeat && rc == EXIT_OK && a.parallel == 1; rep++) {
        for (size_t i = 0; i < n_ids; i++) {
            LabSampling s = lc.sampling;
            if (s.seed >= 0) s.seed += rep;
            LabAskOpts o = {.prompt_id = ids[i], .rep = rep, .sampling = {&s, &s}, .record_cancelled = false};
            pthread_mutex_lock(&p.mu);
            p.k = rep * (int)n_ids + (int)i + 1;
            p.n_gen[0] = p.n_gen[1] = 0;
            p.tok_s[0] = p.tok_s[1] = 0;
            p.sides_done = 0;
            int failures_before = p.failures;
            if (tty) draw(&p, true);
            pthread_mutex_unlock(&p.mu);
            double t = now_ms();
            int64_t pair_id;
            if (lab_ask(l, NULL, &o, &ev, &pair_id, &app->err)) {
                rc = EXIT_FAIL;
                break;
            }
            lab_wait(l);
            pthread_mutex_lock(&p.mu);
            int done_sides = p.sides_done;
            bool failed = p.failures > failures_before;
            if (done_sides) {
                p.generated++;
                p.gen_ms += now_ms() - t;
            } else {
                skipped++;
            }
            if (!tty && done_sides) draw(&p, true); /* a log: one line per generated pair */
            pthread_mutex_unlock(&p.mu);
            if (failed) {
                if (tty) fputs("\n", stderr);
                fprintf(stderr, "ablab run: prompt %zu: %s\n", i + 1, p.err.msg);
                continue;
            }
            if (!done_sides) continue;
            LabPair pr;
            if (lab_pair_get(l, pair_id, &pr, &app->err)) {
                rc = EXIT_FAIL;
                break;
            }
            for (int slot = 0; slot < 2; slot++) {
                if (!pr.response_id[slot]) continue;
                stored++;
                if (a.json) print_json(&pr, slot, name, (int)i, rep);
            }
            lab_pair_free(&pr);
        }
    }
    if (tty) {
        pthread_mutex_lock(&p.mu);
        p.k = p.n + 1;
        draw(&p, true);
        pthread_mutex_unlock(&p.mu);
        fputs("\n", stderr);
    }
    LabSessionInfo end;
    if (lab_session_info(l, &end, &app->err) == 0)
        fprintf(stderr, "session '%s': %d of %d pairs complete (%d already there, %d generated now, %d failed) in %s\n",
                name, end.n_pairs_complete, (int)prompts.n * a.repeat, skipped, p.generated, p.failures, c->db);
    if (p.failures && rc == EXIT_OK) {
        lab_err(&app->err, LAB_EIO, "%d response%s failed (last: %s); run the same command again to retry them",
                p.failures, p.failures == 1 ? "" : "s", p.err.msg);
        rc = EXIT_FAIL;
    }
    (void)stored;
    pthread_mutex_destroy(&p.mu);
done:
    free(ids);
    lab_close(l);
    lab_strlist_free(&prompts);
    return rc;
}
