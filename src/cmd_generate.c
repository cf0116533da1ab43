/* ablab generate --model PATH (--prompt TEXT | --ids 1,2,3) [...]: one model, streamed to stdout. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"
#include "cmd_engine.h"
#include "lab.h"

static int run_generate(App *app, int argc, char **argv);

const Command cmd_generate = {
    "generate", "generate text from one model (streamed, or one JSON object)",
    "usage: ablab generate --model PATH (--prompt TEXT | --ids 1,2,3) [sampling flags] [--greedy]\n"
    "                      [--stop STR]... [--tokenizer FILE] [--threads N] [--ctx N] [--json]\n"
    "\n"
    "PATH is a Hugging Face folder, a llama2.c .bin (its tokenizer given with --tokenizer FILE, or\n"
    "tokenizer.bin / tok*.bin in the same folder) or a .gguf file. The prompt is tokenized with the\n"
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
