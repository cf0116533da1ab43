/* ablab scale: does a bigger model pay for itself? Per model (a folder, a file, or the same model
 * at several quant types): parameters, bytes on disk and resident, load time, prefill and decode
 * tokens/s (bench's engine calls: a warm-up, then the mean of -r repetitions), bits per byte and
 * perplexity on a corpus (eval's engine call and record), Bradley–Terry strength and win rate from
 * the ratings in the record (stats'), cost per million tokens at a price, memory per token; the
 * power-law fit of bits per byte against non-embedding parameters, and three SVG plots. Every
 * measurement is stored (scale_results, with the eval and bench rows it made), so a second run
 * resumes and --from-db re-renders without loading a model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ablab_config.h"
#include "cli.h"
#include "cmd_engine.h"
#include "engine.h"
#include "lab.h"

static int run_scale(App *app, int argc, char **argv);

const Command cmd_scale = {
    "scale", "quality against size, speed, memory and cost over several models, with a power-law fit",
    "usage: ablab scale --models M1 [M2 ...] --corpus FILE [--quant T1,T2] [--prompts FILE] [-p N] [-n N]\n"
    "                   [-r N] [--price USD_PER_HOUR] [--threads N] [--session NAME|ID] [--out DIR]\n"
    "                   [--format md|csv|json|tex|svg]\n"
    "       ablab scale --from-db [--models M1 ...] [--corpus FILE] [--price P] [--out DIR] [--format F]\n"
    "\n"
    "Measures each model (a Hugging Face folder, a .gguf or llama2.c .bin; with --quant each model at\n"
    "each listed type, any `ablab convert --quant` takes: f32, f16, bf16, q8_0, q4_0 .. q6_k, q4_k_m ...):\n"
    "  params          total, and non-embedding (without the token and position embeddings)\n"
    "  disk, resident  bytes of the weight files; bytes the loaded model holds (weights, KV cache of\n"
    "                  the loaded context, work buffers)\n"
    "  load            milliseconds to load\n"
    "  pp, tg tok/s    as `ablab bench`: ppN processes N tokens as one batch (-p, default 64), tgN\n"
    "                  decodes N tokens one at a time (-n, default 32), after one warm-up run, the\n"
    "                  mean of -r repetitions (default 3). --prompts FILE: N is the mean token count\n"
    "                  of the file's lines under each model's tokenizer\n"
    "  bpb, ppl        bits per byte and token perplexity over the corpus, as `ablab eval --text`\n"
    "                  (window: --ctx, else the model's context)\n"
    "  Elo, win rate   Bradley–Terry strength (bootstrap 95%% interval) and share of decisive votes\n"
    "                  won, from the ratings in the record (--session NAME or ID: that session\n"
    "                  only), as `ablab stats`; empty for a model nobody rated\n"
    "  USD/Mtok        --price / (decode tok/s x 3600) x 1e6: left out without --price\n"
    "  GB*s/1ktok      resident GB x seconds to decode 1000 tokens\n"
    "Then bits per byte against non-embedding parameters fitted as L(N) = E + A N^-alpha (least\n"
    "squares, bootstrap 95%% interval of alpha); with fewer than four sizes, the log-log slope.\n"
    "Every measurement goes into the record (--db) with the eval and bench rows it made; a model\n"
    "already measured there on the same corpus with the same settings is not measured again.\n"
    "--from-db renders the newest stored measurement of each model (of --models, else all; of\n"
    "--corpus, else any) without loading one.\n"
    "--out DIR writes scale.md, scale.csv, scale.json, scale.tex and the plots scale-params.svg,\n"
    "scale-cost.svg, scale-speed.svg (created if missing); --format svg needs --out.\n"
    "Example: ablab scale --models assets/models/scratch-shakespeare assets/models/gpt2-mini \\\n"
    "           --corpus ../shared/corpus/tinystories_sample.txt --price 1.2 --out scale/\n",
    run_scale,
    0,
};

#define MAX_MODELS 32
#define MAX_QUANTS 17 /* every type eng_quant_known accepts, once */

typedef struct {
    const char *models[MAX_MODELS];
    int n_models;
    const char *quants[MAX_QUANTS];
    int n_quants;
    char quant_buf[256];
    const char *corpus, *prompts, *out, *format;
    int pp, tg, reps;
    double price;
    const char *session; /* a name or an id, as `ablab stats --session` */
    bool from_db;
} ScaleOpts;

enum { OPT_MODELS = 0x1000, OPT_QUANT, OPT_CORPUS, OPT_PROMPTS, OPT_PRICE, OPT_SESSION, OPT_OUT, OPT_FORMAT,
       OPT_FROM_DB };

static const struct option scale_options[] = {
    {"models", required_argument, NULL, OPT_MODELS},   {"quant", required_argument, NULL, OPT_QUANT},
    {"corpus", required_argument, NULL, OPT_CORPUS},   {"prompts", required_argument, NULL, OPT_PROMPTS},
    {"price", required_argument, NULL, OPT_PRICE},     {"session", required_argument, NULL, OPT_SESSION},
    {"out", required_argument, NULL, OPT_OUT},         {"format", required_argument, NULL, OPT_FORMAT},
    {"from-db", no_argument, NULL, OPT_FROM_DB},       {NULL, 0, NULL, 0},
};

static int add_model(App *app, ScaleOpts *o, const char *m) {
    if (o->n_models == MAX_MODELS) return lab_err(&app->err, LAB_EINVAL, "--models: at most %d models", MAX_MODELS);
    o->models[o->n_models++] = m;
    return 0;
}

static int parse_int(App *app, const char *flag, const char *arg, int lo, int hi, int *out) {
    char *end;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || v < lo || v > hi)
        return lab_err(&app->err, LAB_EINVAL, "%s %s: expected a number %d..%d", flag, arg, lo, hi);
    *out = (int)v;
    return 0;
}

static int scale_opt(App *app, int opt, const char *arg, void *ud) {
    ScaleOpts *o = ud;
    switch (opt) {
    case OPT_MODELS: return add_model(app, o, arg);
    case OPT_QUANT: {
        if (strlen(arg) >= sizeof o->quant_buf)
            return lab_err(&app->err, LAB_EINVAL, "--quant: the list is longer than %zu characters", sizeof o->quant_buf - 1);
        snprintf(o->quant_buf, sizeof o->quant_buf, "%s", arg);
        o->n_quants = 0;
        /* the types convert and every --quant at load take: one list, engine/formats/quant_preset.c */
        for (char *s = o->quant_buf, *tok; (tok = strsep(&s, ","));) {
            if (!eng_quant_known(tok))
                return lab_err(&app->err, LAB_EINVAL, "--quant %s: '%s' is not a type ablab converts to (expected %s)",
                               arg, tok, eng_quant_names());
            if (o->n_quants == MAX_QUANTS) return lab_err(&app->err, LAB_EINVAL, "--quant %s: at most %d types", arg, MAX_QUANTS);
            o->quants[o->n_quants++] = tok;
        }
        return 0;
    }
    case OPT_CORPUS: o->corpus = arg; return 0;
    case OPT_PROMPTS: o->prompts = arg; return 0;
    case OPT_PRICE: {
        char *end;
        o->price = strtod(arg, &end);
        if (end == arg || *end || !(o->price > 0) || !isfinite(o->price) || o->price > 1e6)
            return lab_err(&app->err, LAB_EINVAL, "--price %s: expected US dollars per hour, more than 0", arg);
        return 0;
    }
    case OPT_SESSION:
        if (!*arg) return lab_err(&app->err, LAB_EINVAL, "--session: give a session's name or id");
        o->session = arg;
        return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_FORMAT: o->format = arg; return 0;
    case OPT_FROM_DB: o->from_db = true; return 0;
    case 'p': return parse_int(app, "-p", arg, 1, 1 << 16, &o->pp);
    case 'n': return parse_int(app, "-n", arg, 1, 1 << 16, &o->tg);
    case 'r': return parse_int(app, "-r", arg, 1, 1000, &o->reps);
    }
    return 1;
}

/* ---------- measuring one model: lab_scale_measure (src/lab/scale.c) ---------- */

typedef struct {
    const char *text, *prompts_text;
    char corpus_sha[65];
    int threads, ctx;
} Job;

static void progress(const char *name, const char *stage, double frac, void *ud) {
    (void)ud;
    if (!isatty(2)) return;
    int w = 30, k = (int)(frac * w + 0.5);
    if (frac >= 1.0) {
        fputs("\r\033[K", stderr);
        return;
    }
    fprintf(stderr, "\r%-24.24s %-5s [%.*s%*s] %3.0f%%", name, stage, k, "##############################", w - k, "",
            frac * 100.0);
}

static int measure(App *app, Lab *lab, const ScaleOpts *o, const Job *j, const char *path, const char *quant,
                   LabScaleRow *row, bool *stored) {
    if (cmd_refuse_remote(app, path)) return -1;
    LabScaleJob sj = {.path = path, .quant = quant, .corpus_name = path_basename(o->corpus), .text = j->text,
                      .corpus_sha256 = j->corpus_sha, .prompts_name = o->prompts, .prompts_text = j->prompts_text,
                      .load_ctx = app->cfg.ctx, .ctx = j->ctx, .threads = j->threads, .n_prompt = o->pp,
                      .n_gen = o->tg, .reps = o->reps, .mmap = app->cfg.mmap, .progress = progress};
    return lab_scale_measure(lab, &sj, row, stored, &app->err);
}

/* ---------- ratings: Bradley–Terry and win rates from `stats` ---------- */

typedef struct { double elo, lo, hi, win_rate; int decisive; bool rated; } Rated;

static int ratings(App *app, Lab *lab, const ScaleOpts *o, const LabScaleRow *rows, size_t n, Rated *out) {
    for (size_t i = 0; i < n; i++) out[i] = (Rated){NAN, NAN, NAN, NAN, 0, false};
    int64_t session = 0;
    if (o->session && lab_session_find(lab, o->session, &session, &app->err)) return -1;
    LabStatsQuery q = {.session_id = session, .scope = {.session_id = session}};
    LabStats s;
    if (lab_stats(lab, &q, &s, &app->err)) return -1;
    for (size_t i = 0; i < n; i++) {
        int wins = 0, decisive = 0;
        for (size_t k = 0; k < s.n_models; k++)
            if (s.models[k].id == rows[i].model_id && s.models[k].rated)
                out[i] = (Rated){s.models[k].elo, s.models[k].elo_ci.lo, s.models[k].elo_ci.hi, NAN, 0, true};
        for (size_t k = 0; k < s.n_pairs; k++)
            for (int side = 0; side < 2; side++)
                if (s.pairs[k].model_id[side] == rows[i].model_id) {
                    wins += s.pairs[k].wins[side];
                    decisive += s.pairs[k].decisive;
                }
        out[i].decisive = decisive;
        if (decisive) out[i].win_rate = (double)wins / decisive;
    }
    lab_stats_free(&s);
    return 0;
}

/* ---------- the table ---------- */

typedef struct {
    const LabScaleRow *rows;
    const Rated *rated;
    size_t n;
    double price;
    const LabPowerFit *fit;
    bool fitted;
    const char *conditions;
} Table;

static double cost_per_m(const Table *t, const LabScaleRow *r) {
    return t->price > 0 && r->decode_tok_s > 0 ? t->price / (r->decode_tok_s * 3600.0) * 1e6 : NAN;
}
static double gbs_per_1k(const LabScaleRow *r) {
    return r->decode_tok_s > 0 ? (double)r->bytes_resident / 1e9 * (1000.0 / r->decode_tok_s) : NAN;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("null", f);
}

static void tex_str(FILE *f, const char *s) {
    for (; *s; s++) {
        if (strchr("&%$#_{}", *s)) fprintf(f, "\\%c", *s);
        else if (*s == '\\') fputs("\\textbackslash{}", f);
        else if (*s == '~' || *s == '^') fprintf(f, "\\%c{}", *s);
        else fputc(*s, f);
    }
}

static void fit_line(FILE *f, const Table *t, const char *pre, const char *post) {
    if (!t->fitted) {
        fprintf(f, "%sscaling fit: needs at least two models of different sizes%s", pre, post);
        return;
    }
    const LabPowerFit *p = t->fit;
    char ci[96] = "no interval (two sizes)";
    if (isfinite(p->alpha_ci.lo))
        snprintf(ci, sizeof ci, "95%% bootstrap interval %.3f to %.3f (%d rounds)", p->alpha_ci.lo, p->alpha_ci.hi,
                 p->rounds);
    if (p->loglog)
        fprintf(f, "%sscaling: log-log slope of bits per byte against non-embedding parameters over %d models "
                   "(fewer than four sizes, so no irreducible term is fitted): alpha = %.4f, %s%s",
                pre, p->n_points, p->alpha, ci, post);
    else
        fprintf(f, "%sscaling fit over %d models: bits per byte = %.4f + %.4g N^-%.4f (least squares), alpha %s%s", pre,
                p->n_points, p->E, p->A, p->alpha, ci, post);
}

static void write_table(FILE *f, const char *fmt, const Table *t) {
    bool cost = t->price > 0;
    if (!strcmp(fmt, "md")) {
        fprintf(f, "conditions: %s\n\n", t->conditions);
        fprintf(f, "| model | dtype | params | non-emb params | disk MB | resident MB | load ms | pp tok/s | tg tok/s "
                   "| bits/byte | ppl | Elo [95%% CI] | win rate |%s GB*s/1k tok |\n",
                cost ? " USD/M tok |" : "");
        fprintf(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|%s---:|\n", cost ? "---:|" : "");
        for (size_t i = 0; i < t->n; i++) {
            const LabScaleRow *r = &t->rows[i];
            const Rated *q = &t->rated[i];
            fprintf(f, "| %s | %s | %lld | %lld | %.2f | %.2f | %.1f | %.2f | %.2f | %.4f | %.4f | ", r->name, r->dtype,
                    (long long)r->n_params, (long long)r->n_params_nonemb, (double)r->bytes_on_disk / 1e6,
                    (double)r->bytes_resident / 1e6, r->load_ms, r->prefill_tok_s, r->decode_tok_s, r->bits_per_byte,
                    r->token_ppl);
            if (q->rated) fprintf(f, "%.0f [%.0f, %.0f] | ", q->elo, q->lo, q->hi);
            else fprintf(f, "not rated | ");
            if (isfinite(q->win_rate)) fprintf(f, "%.1f %% of %d |", 100 * q->win_rate, q->decisive);
            else fprintf(f, " |");
            if (cost) fprintf(f, " %.4f |", cost_per_m(t, r));
            fprintf(f, " %.4g |\n", gbs_per_1k(r));
        }
        fputc('\n', f);
        if (!cost) fprintf(f, "cost per million tokens: left out (no --price given)\n");
        fit_line(f, t, "", "\n");
    } else if (!strcmp(fmt, "csv")) {
        fprintf(f, "model,path,dtype,weights_sha256,params,params_nonemb,bytes_on_disk,bytes_resident,load_ms,"
                   "prefill_n,prefill_tok_s,decode_n,decode_tok_s,threads,corpus,corpus_sha256,ctx,tokens,bits_per_byte,"
                   "token_ppl,elo,elo_lo,elo_hi,win_rate,decisive_votes,%sgb_s_per_1k_tokens,cpu,ablab,measured_ms,"
                   "scale_id,eval_id,prefill_bench_id,decode_bench_id\n",
                cost ? "usd_per_m_tokens," : "");
        for (size_t i = 0; i < t->n; i++) {
            const LabScaleRow *r = &t->rows[i];
            const Rated *q = &t->rated[i];
            fprintf(f, "\"%s\",\"%s\",%s,%s,%lld,%lld,%lld,%lld,%.3f,%d,%.3f,%d,%.3f,%d,\"%s\",%s,%d,%lld,%.6f,%.6f,",
                    r->name, r->path, r->dtype, r->weights_sha256, (long long)r->n_params, (long long)r->n_params_nonemb,
                    (long long)r->bytes_on_disk, (long long)r->bytes_resident, r->load_ms, r->n_prompt,
                    r->prefill_tok_s, r->n_gen, r->decode_tok_s, r->threads, r->corpus, r->corpus_sha256, r->ctx,
                    (long long)r->n_tokens, r->bits_per_byte, r->token_ppl);
            if (q->rated) fprintf(f, "%.2f,%.2f,%.2f,", q->elo, q->lo, q->hi);
            else fprintf(f, ",,,");
            if (isfinite(q->win_rate)) fprintf(f, "%.4f,", q->win_rate);
            else fprintf(f, ",");
            fprintf(f, "%d,", q->decisive);
            if (cost) fprintf(f, "%.6f,", cost_per_m(t, r));
            fprintf(f, "%.6g,\"%s\",%s,%lld,%lld,%lld,%lld,%lld\n", gbs_per_1k(r), r->cpu, r->version,
                    (long long)r->created_ms, (long long)r->id, (long long)r->eval_id, (long long)r->prefill_bench_id,
                    (long long)r->decode_bench_id);
        }
    } else if (!strcmp(fmt, "json")) {
        fprintf(f, "{\"conditions\": ");
        json_str(f, t->conditions);
        fprintf(f, ", \"price_usd_per_hour\": ");
        json_num(f, cost ? t->price : NAN, "%.6g");
        fprintf(f, ", \"models\": [");
        for (size_t i = 0; i < t->n; i++) {
            const LabScaleRow *r = &t->rows[i];
            const Rated *q = &t->rated[i];
            fprintf(f, "%s\n  {\"model\": ", i ? "," : "");
            json_str(f, r->name);
            fprintf(f, ", \"path\": ");
            json_str(f, r->path);
            fprintf(f, ", \"dtype\": \"%s\", \"weights_sha256\": \"%s\", \"params\": %lld, \"params_nonemb\": %lld, "
                       "\"bytes_on_disk\": %lld, \"bytes_resident\": %lld, \"load_ms\": %.3f, \"prefill_n\": %d, "
                       "\"prefill_tok_s\": %.3f, \"decode_n\": %d, \"decode_tok_s\": %.3f, \"threads\": %d, \"corpus\": ",
                    r->dtype, r->weights_sha256, (long long)r->n_params, (long long)r->n_params_nonemb,
                    (long long)r->bytes_on_disk, (long long)r->bytes_resident, r->load_ms, r->n_prompt,
                    r->prefill_tok_s, r->n_gen, r->decode_tok_s, r->threads);
            json_str(f, r->corpus);
            fprintf(f, ", \"corpus_sha256\": \"%s\", \"ctx\": %d, \"tokens\": %lld, \"bits_per_byte\": %.6f, "
                       "\"token_ppl\": %.6f, \"elo\": ",
                    r->corpus_sha256, r->ctx, (long long)r->n_tokens, r->bits_per_byte, r->token_ppl);
            json_num(f, q->rated ? q->elo : NAN, "%.2f");
            fprintf(f, ", \"elo_ci\": ");
            if (q->rated) fprintf(f, "[%.2f, %.2f]", q->lo, q->hi);
            else fputs("null", f);
            fprintf(f, ", \"win_rate\": ");
            json_num(f, q->win_rate, "%.4f");
            fprintf(f, ", \"decisive_votes\": %d, \"usd_per_m_tokens\": ", q->decisive);
            json_num(f, cost_per_m(t, r), "%.6f");
            fprintf(f, ", \"gb_s_per_1k_tokens\": ");
            json_num(f, gbs_per_1k(r), "%.6g");
            fprintf(f, ", \"cpu\": ");
            json_str(f, r->cpu);
            fprintf(f, ", \"ablab\": \"%s\", \"measured_ms\": %lld, \"scale_id\": %lld, \"eval_id\": %lld, "
                       "\"prefill_bench_id\": %lld, \"decode_bench_id\": %lld}",
                    r->version, (long long)r->created_ms, (long long)r->id, (long long)r->eval_id,
                    (long long)r->prefill_bench_id, (long long)r->decode_bench_id);
        }
        fprintf(f, "\n], \"fit\": ");
        if (t->fitted) {
            const LabPowerFit *p = t->fit;
            fprintf(f, "{\"kind\": \"%s\", \"E\": %.6g, \"A\": %.6g, \"alpha\": %.6f, \"alpha_ci\": ",
                    p->loglog ? "loglog-slope" : "power-law", p->E, p->A, p->alpha);
            if (isfinite(p->alpha_ci.lo)) fprintf(f, "[%.6f, %.6f]", p->alpha_ci.lo, p->alpha_ci.hi);
            else fputs("null", f);
            fprintf(f, ", \"points\": %d, \"bootstrap_rounds\": %d}", p->n_points, p->rounds);
        } else {
            fputs("null", f);
        }
        fprintf(f, "}\n");
    } else { /* tex */
        fprintf(f, "%% ablab scale: ");
        tex_str(f, t->conditions);
        fprintf(f, "\n\\begin{tabular}{llrrrrrrrrl%s}\n\\hline\n", cost ? "rr" : "r");
        fprintf(f, "model & dtype & params & non-emb & disk MB & resident MB & pp tok/s & tg tok/s & bits/byte & ppl "
                   "& Elo [95\\%% CI]%s & GB$\\cdot$s/1k tok \\\\\n\\hline\n",
                cost ? " & USD/M tok" : "");
        for (size_t i = 0; i < t->n; i++) {
            const LabScaleRow *r = &t->rows[i];
            const Rated *q = &t->rated[i];
            tex_str(f, r->name);
            fprintf(f, " & ");
            tex_str(f, r->dtype);
            fprintf(f, " & %lld & %lld & %.2f & %.2f & %.2f & %.2f & %.4f & %.4f & ", (long long)r->n_params,
                    (long long)r->n_params_nonemb, (double)r->bytes_on_disk / 1e6, (double)r->bytes_resident / 1e6,
                    r->prefill_tok_s, r->decode_tok_s, r->bits_per_byte, r->token_ppl);
            if (q->rated) fprintf(f, "%.0f [%.0f, %.0f]", q->elo, q->lo, q->hi);
            else fprintf(f, "--");
            if (cost) fprintf(f, " & %.4f", cost_per_m(t, r));
            fprintf(f, " & %.4g \\\\\n", gbs_per_1k(r));
        }
        fprintf(f, "\\hline\n\\end{tabular}\n");
        if (!cost) fprintf(f, "%% cost per million tokens left out: no --price given\n");
        fit_line(f, t, "% ", "\n");
    }
}

/* ---------- the run ---------- */

static int write_file(App *app, const char *dir, const char *name, const char *fmt, const Table *t,
                      const LabScalePlotData *pd, int plot) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return lab_err(&app->err, LAB_EIO, "%s: cannot write", path);
    int rc = 0;
    if (plot >= 0) rc = lab_scale_svg(f, (LabScalePlot)plot, pd);
    else write_table(f, fmt, t);
    if (ferror(f)) rc = -1;
    if (fclose(f) || rc) return lab_err(&app->err, LAB_EIO, "%s: writing failed (disk full?)", path);
    return 0;
}

/* The stored rows --from-db renders: the newest of each model (and dtype) among --models (by
 * the path as given or as recorded, or the name), and of --corpus when given. */
static bool wanted(const ScaleOpts *o, const LabScaleRow *r, const char *corpus_sha) {
    if (corpus_sha && strcmp(r->corpus_sha256, corpus_sha)) return false;
    if (!o->n_models) return true;
    for (int i = 0; i < o->n_models; i++) {
        char *rp = realpath(o->models[i], NULL);
        bool hit = !strcmp(o->models[i], r->path) || (rp && !strcmp(rp, r->path)) || !strcmp(o->models[i], r->name) ||
                   !strcmp(path_basename(o->models[i]), r->name);
        free(rp);
        if (hit) return true;
    }
    return false;
}

static int run_scale(App *app, int argc, char **argv) {
    ScaleOpts o = {.format = "md", .pp = 64, .tg = 32, .reps = 3};
    int first = cli_parse(app, &cmd_scale, argc, argv, scale_options, "p:n:r:", scale_opt, &o);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    for (int i = first; i < argc; i++) /* --models M1 M2 M3: the rest follow as operands */
        if (add_model(app, &o, argv[i])) return EXIT_FAIL;
    if (strcmp(o.format, "md") && strcmp(o.format, "csv") && strcmp(o.format, "json") && strcmp(o.format, "tex") &&
        strcmp(o.format, "svg"))
        return cli_usage_error(&cmd_scale, "--format %s: expected md, csv, json, tex or svg", o.format);
    if (!strcmp(o.format, "svg") && !o.out)
        return cli_usage_error(&cmd_scale, "--format svg writes three plots: give --out DIR for them");
    if (!o.from_db && (!o.n_models || !o.corpus))
        return cli_usage_error(&cmd_scale, "--models M1 [M2 ...] and --corpus FILE are required (or --from-db)");
    if (o.from_db && (o.n_quants || o.prompts))
        return cli_usage_error(&cmd_scale, "--from-db measures nothing: leave out --quant and --prompts");
    Job j = {.threads = app->cfg.threads > 0 ? app->cfg.threads : 1,
             .ctx = app->cfg.src[CFG_CTX] == CFG_DEFAULT ? 0 : app->cfg.ctx};
    char *text = NULL, *ptext = NULL;
    size_t len;
    Lab *lab = NULL;
    LabScaleRows rows = {0};
    Rated *rated = NULL;
    int rc = EXIT_FAIL;
    if (o.corpus) {
        if (file_read_all(o.corpus, 0, &text, &len, &app->err)) goto done;
        if (strlen(text) != len) {
            lab_err(&app->err, LAB_EINVAL, "%s: the corpus contains a NUL byte", o.corpus);
            goto done;
        }
        if (!len) {
            lab_err(&app->err, LAB_EINVAL, "%s: the corpus is empty", o.corpus);
            goto done;
        }
        sha256_hex(text, len, j.corpus_sha);
        j.text = text;
    }
    if (o.prompts) {
        if (file_read_all(o.prompts, 0, &ptext, &len, &app->err)) goto done;
        if (strlen(ptext) != len) {
            lab_err(&app->err, LAB_EINVAL, "%s: the prompt file contains a NUL byte", o.prompts);
            goto done;
        }
        j.prompts_text = ptext;
    }
    if (lab_open_record(&lab, app->cfg.db, &app->err)) goto done;
    if (o.from_db) {
        LabScaleRows all = {0};
        if (lab_scale_rows(lab, &all, &app->err)) {
            lab_scale_rows_free(&all);
            goto done;
        }
        for (size_t i = all.n; i-- > 0;) { /* newest first, one per model row */
            if (!wanted(&o, &all.v[i], o.corpus ? j.corpus_sha : NULL)) continue;
            bool dup = false;
            for (size_t k = 0; k < rows.n && !dup; k++) dup = rows.v[k].model_id == all.v[i].model_id;
            if (dup) continue;
            if (rows.n == rows.cap) {
                size_t cap = rows.cap ? rows.cap * 2 : 8;
                LabScaleRow *v = realloc(rows.v, cap * sizeof *v);
                if (!v) {
                    lab_scale_rows_free(&all);
                    lab_err(&app->err, LAB_ENOMEM, "out of memory");
                    goto done;
                }
                rows.v = v;
                rows.cap = cap;
            }
            rows.v[rows.n++] = all.v[i];
        }
        lab_scale_rows_free(&all);
        if (!rows.n) {
            lab_err(&app->err, LAB_ENOTFOUND, "%s: no stored scale measurement%s%s", app->cfg.db,
                    o.n_models ? " of the models given" : "", o.corpus ? " on this corpus" : "");
            goto done;
        }
        /* oldest first, as measured */
        for (size_t a = 0, b = rows.n - 1; a < b; a++, b--) {
            LabScaleRow t = rows.v[a];
            rows.v[a] = rows.v[b];
            rows.v[b] = t;
        }
    } else {
        int nq = o.n_quants ? o.n_quants : 1;
        rows.cap = (size_t)(o.n_models * nq);
        if (!(rows.v = calloc(rows.cap, sizeof *rows.v))) {
            lab_err(&app->err, LAB_ENOMEM, "out of memory");
            goto done;
        }
        for (int mi = 0; mi < o.n_models; mi++)
            for (int qi = 0; qi < nq; qi++) {
                bool stored;
                if (measure(app, lab, &o, &j, o.models[mi], o.n_quants ? o.quants[qi] : NULL, &rows.v[rows.n],
                            &stored))
                    goto done;
                if (stored)
                    fprintf(stderr, "%s (%s): measured before (scale row %lld, %s): not measured again\n",
                            rows.v[rows.n].name, rows.v[rows.n].dtype, (long long)rows.v[rows.n].id,
                            rows.v[rows.n].corpus);
                rows.n++;
            }
    }
    if (!(rated = calloc(rows.n, sizeof *rated))) {
        lab_err(&app->err, LAB_ENOMEM, "out of memory");
        goto done;
    }
    if (ratings(app, lab, &o, rows.v, rows.n, rated)) goto done;
    /* the fit over distinct models: bits per byte against non-embedding parameters */
    double *fx = calloc(rows.n + 1, sizeof *fx), *fy = calloc(rows.n + 1, sizeof *fy), *elo = calloc(rows.n + 1, sizeof *elo);
    if (!fx || !fy || !elo) {
        free(fx), free(fy), free(elo);
        lab_err(&app->err, LAB_ENOMEM, "out of memory");
        goto done;
    }
    bool any_elo = false;
    for (size_t i = 0; i < rows.n; i++) {
        fx[i] = (double)rows.v[i].n_params_nonemb;
        fy[i] = rows.v[i].bits_per_byte;
        elo[i] = rated[i].rated ? rated[i].elo : NAN;
        any_elo |= rated[i].rated;
    }
    LabPowerFit fit;
    LabErr fe = {0};
    bool fitted = lab_power_fit(fx, fy, rows.n, 1000, 1, &fit, &fe) == 0;
    /* conditions: the machine, threads, dates and build the rows were measured with */
    char cond[1024], day0[16] = "", day1[16] = "";
    int tmin = rows.v[0].threads, tmax = rows.v[0].threads;
    int64_t t0 = rows.v[0].created_ms, t1 = t0;
    for (size_t i = 0; i < rows.n; i++) {
        if (rows.v[i].threads < tmin) tmin = rows.v[i].threads;
        if (rows.v[i].threads > tmax) tmax = rows.v[i].threads;
        if (rows.v[i].created_ms < t0) t0 = rows.v[i].created_ms;
        if (rows.v[i].created_ms > t1) t1 = rows.v[i].created_ms;
    }
    time_t s0 = (time_t)(t0 / 1000), s1 = (time_t)(t1 / 1000);
    struct tm tm0, tm1;
    strftime(day0, sizeof day0, "%Y-%m-%d", gmtime_r(&s0, &tm0));
    strftime(day1, sizeof day1, "%Y-%m-%d", gmtime_r(&s1, &tm1));
    char threads[32], days[40];
    snprintf(threads, sizeof threads, tmin == tmax ? "%d" : "%d-%d", tmin, tmax);
    snprintf(days, sizeof days, strcmp(day0, day1) ? "%s to %s" : "%s", day0, day1);
    snprintf(cond, sizeof cond, "machine %s; threads %s; measured %s (UTC); corpus %s; pp%d/tg%d x %d reps; ablab %s",
             rows.v[0].cpu, threads, days, rows.v[0].corpus, rows.v[0].n_prompt, rows.v[0].n_gen, rows.v[0].reps,
             rows.v[0].version);
    Table t = {rows.v, rated, rows.n, o.price, &fit, fitted, cond};
    LabScalePlotData pd = {rows.v, rows.n, any_elo ? elo : NULL, fitted ? &fit : NULL, o.price, cond};
    if (strcmp(o.format, "svg")) write_table(stdout, o.format, &t);
    fflush(stdout);
    if (o.out) {
        if (mkdir(o.out, 0777) && file_exists(o.out) != 2) {
            lab_err(&app->err, LAB_EIO, "%s: cannot create the folder", o.out);
        } else {
            static const char *const FMT[] = {"md", "csv", "json", "tex"};
            static const char *const PLOT[] = {"scale-params.svg", "scale-cost.svg", "scale-speed.svg"};
            bool ok = true;
            for (int k = 0; k < 4 && ok; k++) {
                char name[32];
                snprintf(name, sizeof name, "scale.%s", FMT[k]);
                ok = !write_file(app, o.out, name, FMT[k], &t, &pd, -1);
            }
            for (int k = 0; k < 3 && ok; k++) ok = !write_file(app, o.out, PLOT[k], NULL, &t, &pd, k);
            if (ok) {
                fprintf(stderr, "wrote %s/scale.{md,csv,json,tex} and %s/scale-{params,cost,speed}.svg\n", o.out, o.out);
                rc = EXIT_OK;
            }
        }
    } else {
        rc = EXIT_OK;
    }
    free(fx);
    free(fy);
    free(elo);
done:
    free(rated);
    lab_scale_rows_free(&rows);
    lab_close(lab);
    free(text);
    free(ptext);
    return rc;
}
