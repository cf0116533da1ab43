/* ablab generate --model PATH (--prompt TEXT | --ids 1,2,3) [...]: one model, streamed to stdout. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"
#include "cmd_engine.h"
#include "lab.h"
#include "remote.h"

static int run_generate(App *app, int argc, char **argv);

const Command cmd_generate = {
    "generate", "generate text from one model (streamed, or one JSON object)",
    "usage: ablab generate --model PATH (--prompt TEXT | --ids 1,2,3) [sampling flags] [--greedy]\n"
    "                      [--stop STR]... [--tokenizer FILE] [--threads N] [--ctx N] [--json]\n"
    "\n"
    "PATH is a Hugging Face folder, a llama2.c .bin (its tokenizer given with --tokenizer FILE, or\n"
    "tokenizer.bin / tok*.bin in the same folder), a .gguf file, or a server: http(s)://HOST:PORT/v1\n"
    "[#MODEL] (OpenAI-compatible; --chat uses /v1/chat/completions, else /v1/completions; the key\n"
    "from ABLAB_API_KEY or OPENAI_API_KEY; no --ids, and the JSON has no ids). The prompt is tokenized with the\n"
    "model's special tokens (BOS where the tokenizer adds one); an empty prompt starts from BOS.\n"
    "Sampling follows llama.cpp's order: repetition penalty, top-k, top-p, min-p, temperature.\n"
    "--greedy is --temp 0. Generation stops at EOS, a --stop string (not printed), --max-tokens or\n"
    "the context. Text streams to stdout, ending with a newline; with --json one object is printed:\n"
    "  {\"ids\": [...new ids...], \"text\": \"...\", \"stop\": \"eos|length|stop|cancel|context\", \"metrics\": {...}}\n",
    run_generate,
    1, /* one model: --tokenizer, --quant */
};

typedef struct {
    const char *model, *prompt, *ids;
    bool greedy, json;
    const char **stops;
    int n_stop;
} GenOpts;

static int gen_opt(App *app, int opt, const char *arg, void *ud) {
    GenOpts *o = ud;
    switch (opt) {
    case 'm': o->model = arg; break;
    case 'p': o->prompt = arg; break;
    case 'i': o->ids = arg; break;
    case 'g': o->greedy = true; break;
    case 'j': o->json = true; break;
    case 's': {
        if (eng_setting_parse(eng_setting(ENG_SET_STOP), arg, NULL, NULL, &app->err))
            return lab_err_prefix(&app->err, "--stop");
        const char **ns = realloc(o->stops, ((size_t)o->n_stop + 1) * sizeof *ns);
        if (!ns) return lab_err(&app->err, LAB_ENOMEM, "out of memory");
        o->stops = ns;
        o->stops[o->n_stop++] = arg;
        break;
    }
    default: return 1;
    }
    return 0;
}

static json_t *metrics_json(const EngMetrics *mt) {
    json_t *lat = json_array();
    for (int i = 0; i < mt->n_token_ms; i++) json_array_append_new(lat, json_real(mt->token_ms[i]));
    json_t *o = json_object();
    json_object_set_new(o, "load_ms", json_real(mt->load_ms));
    json_object_set_new(o, "n_prompt", json_integer(mt->n_prompt));
    json_object_set_new(o, "n_gen", json_integer(mt->n_gen));
    json_object_set_new(o, "prefill_ms", json_real(mt->prefill_ms));
    json_object_set_new(o, "ttft_ms", json_real(mt->ttft_ms));
    json_object_set_new(o, "decode_tok_s", json_real(mt->decode_tok_s));
    json_object_set_new(o, "total_ms", json_real(mt->total_ms));
    json_object_set_new(o, "p50_ms", json_real(mt->p50_ms));
    json_object_set_new(o, "p95_ms", json_real(mt->p95_ms));
    json_object_set_new(o, "token_ms", lat);
    json_object_set_new(o, "bytes_weights_mapped", json_integer((json_int_t)mt->bytes_weights_mapped));
    json_object_set_new(o, "bytes_weights_owned", json_integer((json_int_t)mt->bytes_weights_owned));
    json_object_set_new(o, "bytes_kv", json_integer((json_int_t)mt->bytes_kv));
    json_object_set_new(o, "bytes_scratch", json_integer((json_int_t)mt->bytes_scratch));
    json_object_set_new(o, "n_params", json_integer((json_int_t)mt->n_params));
    json_object_set_new(o, "n_threads", json_integer(mt->n_threads));
    return o;
}

static int remote_text(const char *text, size_t len, const RemoteResult *r, void *ud) {
    (void)r;
    Buf *b = ud;
    if (b) return buf_append(b, text, len);
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* generate from a server: the same prompt rules (chat when --chat, the system prompt first), the
 * client's measurements and the server's usage in the JSON. */
static int generate_remote(App *app, const GenOpts *go, const CliModelOpts *mo) {
    if (go->ids) return cli_usage_error(&cmd_generate, "a remote model takes --prompt text, not --ids (its tokens are the server's)");
    if (mo->tokenizer || mo->quant || mo->n_lora)
        return cli_usage_error(&cmd_generate, "a remote model takes no --tokenizer, --quant or --lora (the server chose them)");
    RemoteArm *a = NULL;
    double t0 = now_ms();
    if (remote_open(&a, go->model, NULL, &app->err)) return EXIT_FAIL;
    double load_ms = now_ms() - t0;
    bool chat = mo->chat == CLI_CHAT_ON;
    RemoteMsg msgs[2];
    int n = 0;
    Buf raw = {0}, text = {0};
    if (mo->system && *mo->system) msgs[n++] = (RemoteMsg){"system", mo->system};
    msgs[n++] = (RemoteMsg){"user", go->prompt};
    if (!chat && ((mo->system && *mo->system && (buf_puts(&raw, mo->system) || buf_puts(&raw, "\n\n"))) ||
                  buf_puts(&raw, go->prompt))) {
        remote_free(a);
        buf_free(&raw);
        return lab_err(&app->err, LAB_ENOMEM, "out of memory"), EXIT_FAIL;
    }
    const LabSampling *c = &app->cfg.sampling;
    RemoteRequest rq = {.chat = chat, .prompt = raw.data, .msgs = msgs, .n_msgs = n,
                        .s = {.temp = go->greedy ? 0 : c->temp, .top_p = c->top_p, .top_k = c->top_k, .min_p = c->min_p,
                              .repeat_penalty = c->repeat_penalty, .max_tokens = c->max_tokens, .seed = c->seed,
                              .stop = go->stops, .n_stop = go->n_stop}};
    RemoteResult res;
    int rc = remote_generate(a, &rq, remote_text, go->json ? &text : NULL, &res, &app->err);
    const char *stop = rc ? "error" : !res.finish[0] || !strcmp(res.finish, "stop") ? (go->n_stop ? "stop" : "eos")
                                                                                   : res.finish;
    if (go->json) {
        const RemoteInfo *ri = remote_info(a);
        json_t *m = json_pack("{s:f, s:I, s:I, s:f, s:f, s:f, s:i, s:i}", "load_ms", load_ms, "n_prompt",
                              (json_int_t)res.usage_prompt, "n_gen", (json_int_t)res.n_gen, "ttft_ms",
                              res.n_chunks ? res.ttft_ms : -1.0, "decode_tok_s", res.decode_tok_s, "total_ms",
                              res.total_ms, "n_chunks", res.n_chunks, "retries", res.retries);
        json_t *o = json_object();
        json_object_set_new(o, "text", json_stringn(text.data ? text.data : "", text.len));
        json_object_set_new(o, "stop", json_string(stop));
        if (rc) json_object_set_new(o, "error", json_string(app->err.msg));
        json_object_set_new(o, "mode", json_string(chat ? "chat" : "raw"));
        if (!chat) json_object_set_new(o, "prompt_text", json_string(raw.data ? raw.data : ""));
        json_object_set_new(o, "remote", json_pack("{s:s, s:s, s:s}", "url", ri->url, "model", ri->model,
                                                  "served_model", res.served_model));
        /* usage, memory and parameters the server did not say are unknown: null, not 0 */
        if (res.usage_prompt < 0) json_object_set_new(m, "n_prompt", json_null());
        json_object_set_new(m, "usage_completion",
                            res.usage_completion >= 0 ? json_integer(res.usage_completion) : json_null());
        json_object_set_new(m, "n_params", json_null());
        json_object_set_new(m, "bytes_weights", json_null());
        json_object_set_new(o, "metrics", m);
        char *out = json_dumps(o, JSON_PRESERVE_ORDER);
        json_decref(o);
        if (out) puts(out);
        free(out);
    } else if (res.n_chunks || !rc) {
        putchar('\n');
    }
    fflush(stdout);
    buf_free(&raw);
    buf_free(&text);
    remote_free(a);
    return rc ? EXIT_FAIL : EXIT_OK;
}

static int run_generate(App *app, int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"prompt", required_argument, NULL, 'p'},
        {"ids", required_argument, NULL, 'i'},    
        {"greedy", no_argument, NULL, 'g'},       {"json", no_argument, NULL, 'j'},
        {"stop", required_argument, NULL, 's'},   {0}};
    GenOpts go = {0};
    int first = cli_parse(app, &cmd_generate, argc, argv, opts, NULL, gen_opt, &go);
    int rc = EXIT_FAIL;
    EngModel *m = NULL;
    EngGen *g = NULL;
    IntVec prompt = {0}, stop_ids = {0};
    Buf text = {0}, rendered = {0};
    if (first == -3) {
        rc = EXIT_OK;
        goto done;
    }
    if (first < 0) {
        rc = first == -2 ? EXIT_USAGE : EXIT_FAIL;
        goto done;
    }
    if (first < argc) {
        rc = cli_usage_error(&cmd_generate, "unexpected argument '%s'", argv[first]);
        goto done;
    }
    if (!go.model || (!go.prompt == !go.ids)) {
        rc = cli_usage_error(&cmd_generate, "give --model and one of --prompt or --ids");
        goto done;
    }
    if (remote_is_url(go.model)) {
        rc = generate_remote(app, &go, cli_model_opts_at(app, 0));
        goto done;
    }
    if (go.ids && cli_parse_ids(app, go.ids, &prompt)) goto done;
    CliModelOpts mo = cli_model_opts(app, 0);
    if (go.ids && (mo.chat == CLI_CHAT_ON || mo.system)) {
        rc = cli_usage_error(&cmd_generate, "--chat and --system take a --prompt, not --ids");
        goto done;
    }
    if (!(m = cmd_load_model(app, go.model, 0, 0))) goto done;
    /* chat: the prompt (after the system prompt) as the user's turn through the model's template,
     * which writes its own special tokens; raw: the text as it is */
    bool chat = go.prompt && mo.chat != CLI_CHAT_RAW && (mo.chat == CLI_CHAT_ON || eng_chat_available(m));
    if (chat) {
        ChatMsg msgs[2];
        int n = 0;
        if (mo.system && *mo.system) msgs[n++] = (ChatMsg){"system", mo.system};
        msgs[n++] = (ChatMsg){"user", go.prompt};
        if (eng_chat_render(m, msgs, n, true, &rendered, &app->err) || eng_chat_stop_ids(m, &stop_ids)) goto done;
        if (eng_tokenize_prompt(m, rendered.data, false, &prompt, &app->err)) goto done;
    } else if (go.prompt) {
        if (mo.system && *mo.system && (buf_puts(&rendered, mo.system) || buf_puts(&rendered, "\n\n"))) goto oom;
        if (buf_puts(&rendered, go.prompt)) goto oom;
        if (eng_tokenize_prompt(m, rendered.data, true, &prompt, &app->err)) goto done;
    }

    const LabSampling *c = &app->cfg.sampling;
    EngSampling s;
    lab_sampling_engine(c, c->seed >= 0 ? (uint64_t)c->seed : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32), &s);
    if (go.greedy) s.temp = 0.0f;
    s.stop = go.stops;
    s.n_stop = go.n_stop;
    s.stop_ids = stop_ids.v;
    s.n_stop_ids = (int)stop_ids.n;
    if (eng_gen_start(&g, m, prompt.v, (int)prompt.n, &s, &app->err)) goto done;
    EngPiece p;
    int r;
    do {
        r = eng_gen_step(g, &p, &app->err);
        if (r < 0) goto done;
        if (go.json) buf_append(&text, p.text, p.len);
        else if (p.len) {
            fwrite(p.text, 1, p.len, stdout);
            fflush(stdout);
        }
    } while (r == 1);
    if (go.json) {
        json_t *ids = json_array();
        const IntVec *gi = eng_gen_ids(g);
        for (size_t i = 0; i < gi->n; i++) json_array_append_new(ids, json_integer(gi->v[i]));
        json_t *o = json_object();
        json_object_set_new(o, "ids", ids);
        json_object_set_new(o, "text", json_stringn(text.data ? text.data : "", text.len));
        json_object_set_new(o, "stop", json_string(eng_stop_name(p.stop)));
        json_object_set_new(o, "mode", json_string(go.ids ? "ids" : chat ? "chat" : "raw"));
        if (go.prompt) json_object_set_new(o, "prompt_text", json_stringn(rendered.data ? rendered.data : "", rendered.len));
        json_object_set_new(o, "metrics", metrics_json(eng_gen_metrics(g)));
        char *out = json_dumps(o, JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!out) {
            lab_err(&app->err, LAB_ENOMEM, "out of memory");
            goto done;
        }
        puts(out);
        free(out);
    } else {
        putchar('\n');
    }
    rc = EXIT_OK;
    goto done;
oom:
    lab_err(&app->err, LAB_ENOMEM, "out of memory");
done:
    eng_gen_free(g);
    buf_free(&rendered);
    ivec_free(&stop_ids);
    eng_free(m);
    ivec_free(&prompt);
    buf_free(&text);
    free(go.stops);
    return rc;
}
