/* ablab serve --model PATH: the model behind the OpenAI-compatible HTTP API (src/serve/). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_engine.h"
#include "lab.h"
#include "serve.h"

static int run_serve(App *app, int argc, char **argv);

const Command cmd_serve = {
    "serve", "serve one model through the OpenAI-compatible HTTP API",
    "usage: ablab serve --model PATH [--host ADDR] [--port N] [--api-key KEY] [--max-concurrent N]\n"
    "                   [--queue N] [--max-body BYTES] [--name ID] [--grace SECONDS] [sampling flags]\n"
    "\n"
    "Serves the model at http://ADDR:N/v1 as OpenAI's API does: GET /v1/models, POST /v1/completions\n"
    "(raw text, or token ids) and POST /v1/chat/completions (through the model's chat template; a model\n"
    "without one answers 400), each streamed as server-sent events (\"stream\": true) or whole, with\n"
    "usage. Request fields: model (the id /v1/models lists), temperature, top_p, max_tokens (or\n"
    "max_completion_tokens), seed, stop, stream_options.include_usage, and llama.cpp's top_k, min_p,\n"
    "repeat_penalty (or repetition_penalty), repeat_last_n; a field left out takes the sampling flags'\n"
    "value (so --temp 0 makes greedy the default). n must be 1. GET /health answers {\"status\":\"ok\"}.\n"
    "\n"
    "  --host ADDR         address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 or ::\n"
    "                      for every interface, then give an API key)\n"
    "  --port N            port (default 8080; 0 = any free port). The address is printed on stdout:\n"
    "                      \"ablab serve: serving ID at http://127.0.0.1:8080/v1\"\n"
    "  --api-key KEY       requests need 'Authorization: Bearer KEY' (401 otherwise). Default: the\n"
    "                      environment variable ABLAB_SERVE_API_KEY; none = no check. Never logged.\n"
    "  --max-concurrent N  copies of the model loaded, each writing one answer at a time (default 1)\n"
    "  --queue N           requests that may wait for a free copy, first come first served (default 16);\n"
    "                      beyond them 429 with Retry-After\n"
    "  --max-body BYTES    larger request bodies get 413 (default 8388608)\n"
    "  --name ID           the model id (default: the model's name, with @QUANT and +ADAPTER as run names it)\n"
    "  --grace SECONDS     on SIGINT/SIGTERM, running answers may finish this long (default 30); a second\n"
    "                      signal cancels them at once. Exit status 0.\n"
    "\n"
    "A client that disconnects cancels its answer at the next token. Each request writes one line on\n"
    "stderr: client, method, path, status, prompt and completion tokens, seconds. Example:\n"
    "  ablab serve --model assets/models/gpt2-mini --port 8080 &\n"
    "  curl -s localhost:8080/v1/completions -H 'Content-Type: application/json' \\\n"
    "       -d '{\"model\": \"gpt2-mini\", \"prompt\": \"Once upon\", \"max_tokens\": 8}'\n",
    run_serve,
    1, /* one model: --tokenizer, --quant, --lora */
};

typedef struct {
    const char *model, *host, *api_key, *name;
    long port, copies, queue, max_body;
    double grace;
} ServeArgs;

static int num_opt(App *app, const char *flag, const char *arg, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi)
        return lab_err(&app->err, LAB_EINVAL, "%s must be an integer in [%ld, %ld], not '%s'", flag, lo, hi, arg);
    *out = v;
    return 0;
}

static int serve_opt(App *app, int opt, const char *arg, void *ud) {
    ServeArgs *a = ud;
    switch (opt) {
    case 'm': a->model = arg; return 0;
    case 'H': a->host = arg; return 0;
    case 'k': a->api_key = arg; return 0;
    case 'n': a->name = arg; return 0;
    case 'P': return num_opt(app, "--port", arg, 0, 65535, &a->port);
    case 'c': return num_opt(app, "--max-concurrent", arg, 1, 64, &a->copies);
    case 'q': return num_opt(app, "--queue", arg, 0, 4096, &a->queue);
    case 'b': return num_opt(app, "--max-body", arg, 1024, 1L << 30, &a->max_body);
    case 'g': {
        char *end;
        double v = strtod(arg, &end);
        if (end == arg || *end || !(v >= 0 && v <= 86400))
            return lab_err(&app->err, LAB_EINVAL, "--grace must be a number of seconds in [0, 86400], not '%s'", arg);
        a->grace = v;
        return 0;
    }
    default: return 1;
    }
}

static volatile sig_atomic_t stop_signals;
static void on_signal(int sig) {
    (void)sig;
    if (stop_signals < 100) stop_signals++;
}

static void on_listen(const char *url, void *ud) {
    printf("ablab serve: serving %s at %s\n", (const char *)ud, url);
    fflush(stdout);
}

static int run_serve(App *app, int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'P'},   {"api-key", required_argument, NULL, 'k'},
        {"max-concurrent", required_argument, NULL, 'c'}, {"queue", required_argument, NULL, 'q'},
        {"max-body", required_argument, NULL, 'b'}, {"name", required_argument, NULL, 'n'},
        {"grace", required_argument, NULL, 'g'},  {0}};
    ServeArgs a = {.host = "127.0.0.1", .port = 8080, .copies = 1, .queue = 16, .max_body = 8L << 20, .grace = 30};
    int first = cli_parse(app, &cmd_serve, argc, argv, opts, NULL, serve_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_serve, "unexpected argument '%s'", argv[first]);
    if (!a.model) return cli_usage_error(&cmd_serve, "give --model PATH");
    if (!a.api_key) a.api_key = getenv("ABLAB_SERVE_API_KEY");

    int rc = EXIT_FAIL;
    EngModel *models[64] = {0};
    for (long i = 0; i < a.copies; i++)
        if (!(models[i] = cmd_load_model(app, a.model, 0, 0))) goto done;

    /* the id: the model's name as `ablab run` names a side (MODEL@TYPE+ADAPTER) */
    char id[512];
    if (a.name) {
        snprintf(id, sizeof id, "%s", a.name);
    } else {
        const CliModelOpts *mo = cli_model_opts_at(app, 0);
        size_t n = (size_t)snprintf(id, sizeof id, "%s", eng_info(models[0])->name);
        if (mo->quant && *mo->quant && n < sizeof id) n += (size_t)snprintf(id + n, sizeof id - n, "@%s", mo->quant);
        for (int i = 0; i < mo->n_lora && n < sizeof id; i++)
            n += (size_t)snprintf(id + n, sizeof id - n, "+%s", path_basename(mo->lora[i]));
    }

    const LabSampling *c = &app->cfg.sampling;
    ServeOpts o = {.host = a.host, .port = (int)a.port, .api_key = a.api_key, .model_id = id,
                   .max_queue = (int)a.queue, .max_body = (size_t)a.max_body, .grace_s = a.grace,
                   .seed_random = c->seed < 0, .on_listen = on_listen, .ud = id, .log = stderr};
    lab_sampling_engine(c, c->seed >= 0 ? (uint64_t)c->seed : 0, &o.defaults);

    bool loopback = strcmp(a.host, "127.0.0.1") == 0 || strcmp(a.host, "::1") == 0 || strcmp(a.host, "localhost") == 0;
    if (!loopback && (!a.api_key || !*a.api_key))
        fprintf(stderr, "ablab serve: warning: listening on %s without an API key: anyone who reaches this port can use "
                        "the model (give --api-key or ABLAB_SERVE_API_KEY)\n", a.host);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the handlers stay until exit: a signal that comes while the models are freed must not kill
     * the process that is already shutting down cleanly */
    if (serve_run(models, (int)a.copies, &o, &stop_signals, &app->err) == 0) rc = EXIT_OK;
done:
    for (long i = 0; i < a.copies; i++) eng_free(models[i]);
    return rc;
}
