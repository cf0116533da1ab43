/* ablab template: a chat template rendered on the command line, exactly as the engine renders it
 * for a chat arm (loads no weights). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat.h"
#include "engine.h"
#include "cli.h"

static int run_template(App *app, int argc, char **argv);

const Command cmd_template = {
    "template", "print the prompt a model's chat template makes of a conversation",
    "usage: ablab template (--model PATH | --tokenizer-config FILE) --messages FILE.json\n"
    "                      [--generation-prompt] [--var NAME=JSON ...]\n"
    "\n"
    "Prints exactly the rendered text to standard output, nothing else (no newline added), as\n"
    "transformers' apply_chat_template(messages, tokenize=False, add_generation_prompt=...) does.\n"
    "  --model PATH              a model folder: chat_template.jinja, else tokenizer_config.json's\n"
    "                            chat_template; special tokens (bos_token, eos_token, ...) from\n"
    "                            tokenizer_config.json\n"
    "  --tokenizer-config FILE   one tokenizer_config.json holding a chat_template\n"
    "  --messages FILE.json      a JSON array of messages ({\"role\": ..., \"content\": ...}; other\n"
    "                            fields are passed on), or an object with a \"messages\" array; '-'\n"
    "                            reads standard input\n"
    "  --generation-prompt       add the assistant's turn header (add_generation_prompt=True)\n"
    "  --var NAME=JSON           one more template variable, e.g. --var enable_thinking=false\n"
    "A template using something ablab does not implement is refused with the construct and its line.\n"
    "Example: ablab template --tokenizer-config ../shared/tokenizers/qwen3/tokenizer_config.json \\\n"
    "           --messages chat.json --generation-prompt --var enable_thinking=false\n",
    run_template,
    0, /* loads no model through the model options */
};

#define MAX_VARS 32

typedef struct {
    const char *model, *config, *messages;
    bool gen;
    int n_vars;
    char *var_names[MAX_VARS];
    const char *var_json[MAX_VARS];
} TemplateOpts;

enum { OPT_MODEL = 0x1000, OPT_CONFIG, OPT_MESSAGES, OPT_GEN, OPT_VAR };

static const struct option template_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"tokenizer-config", required_argument, NULL, OPT_CONFIG},
    {"messages", required_argument, NULL, OPT_MESSAGES},
    {"generation-prompt", no_argument, NULL, OPT_GEN},
    {"var", required_argument, NULL, OPT_VAR},
    {NULL, 0, NULL, 0},
};

static int template_opt(App *app, int opt, const char *arg, void *ud) {
    TemplateOpts *o = ud;
    switch (opt) {
    case OPT_MODEL: o->model = arg; return 0;
    case OPT_CONFIG: o->config = arg; return 0;
    case OPT_MESSAGES: o->messages = arg; return 0;
    case OPT_GEN: o->gen = true; return 0;
    case OPT_VAR: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg) return lab_err(&app->err, LAB_EINVAL, "--var %s: expected NAME=JSON", arg);
        if (o->n_vars == MAX_VARS) return lab_err(&app->err, LAB_EINVAL, "--var: at most %d variables", MAX_VARS);
        o->var_names[o->n_vars] = strndup(arg, (size_t)(eq - arg));
        if (!o->var_names[o->n_vars]) return lab_err(&app->err, LAB_ENOMEM, "out of memory");
        o->var_json[o->n_vars++] = eq + 1;
        return 0;
    }
    }
    return 1;
}

static int read_input(const char *path, char **out, LabErr *e) {
    size_t len;
    if (strcmp(path, "-") != 0) return file_read_all(path, 64u << 20, out, &len, e);
    Buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (buf_append(&b, chunk, n)) { buf_free(&b); return lab_err(e, LAB_ENOMEM, "out of memory"); }
    if (!b.data && buf_reserve(&b, 1)) return lab_err(e, LAB_ENOMEM, "out of memory");
    *out = buf_steal(&b);
    return 0;
}

static int run_template(App *app, int argc, char **argv) {
    TemplateOpts o = {0};
    ChatSetup s = {0};
    char *text = NULL, *msgs = NULL;
    Buf out = {0};
    int rc = EXIT_FAIL;
    int first = cli_parse(app, &cmd_template, argc, argv, template_options, NULL, template_opt, &o);
    if (first == -3) { rc = EXIT_OK; goto done; }
    if (first < 0) { rc = first == -2 ? EXIT_USAGE : EXIT_FAIL; goto done; }
    if (first < argc) { rc = cli_usage_error(&cmd_template, "unexpected argument '%s'", argv[first]); goto done; }
    if (!o.model == !o.config) { rc = cli_usage_error(&cmd_template, "give exactly one of --model PATH and --tokenizer-config FILE"); goto done; }
    if (!o.messages) { rc = cli_usage_error(&cmd_template, "--messages FILE.json is required"); goto done; }
    size_t mlen = o.model ? strlen(o.model) : 0;
    if (mlen > 5 && !strcmp(o.model + mlen - 5, ".gguf")) {
        if (eng_gguf_chat_setup(o.model, &s, &app->err)) goto done;
        if (!s.tmpl) { lab_err(&app->err, LAB_ENOTFOUND, "%s: no chat template (no tokenizer.chat_template in the file)", o.model); goto done; }
    } else if (o.model) {
        if (chat_setup_load_dir(&s, o.model, &app->err)) goto done;
        if (!s.tmpl) { lab_err(&app->err, LAB_ENOTFOUND, "%s: no chat template (neither chat_template.jinja nor a chat_template in tokenizer_config.json)", o.model); goto done; }
    } else if (chat_setup_load_config(&s, o.config, &app->err)) {
        goto done;
    }
    if (read_input(o.messages, &text, &app->err)) goto done;
    /* an object {"messages": [...]} (a prompt set's line) or the array itself */
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p == '{') {
        json_error_t je;
        json_t *j = json_loads(text, 0, &je);
        if (!j) { lab_err(&app->err, LAB_EFORMAT, "%s: not JSON (line %d column %d: %s)", o.messages, je.line, je.column, je.text); goto done; }
        json_t *m = json_object_get(j, "messages");
        if (!json_is_array(m)) { json_decref(j); lab_err(&app->err, LAB_EFORMAT, "%s: the object has no \"messages\" array", o.messages); goto done; }
        msgs = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (!msgs) { lab_err(&app->err, LAB_ENOMEM, "out of memory"); goto done; }
    }
    ChatRenderArgs a = {
        .messages_json = msgs ? msgs : text, .add_generation_prompt = o.gen,
        .special_names = (const char *const *)s.special_names, .special_values = (const char *const *)s.special_values,
        .n_special = s.n_special, .var_names = (const char *const *)o.var_names, .var_json = o.var_json, .n_vars = o.n_vars,
    };
    if (chat_template_render(s.tmpl, &a, &out, &app->err)) {
        if (strncmp(app->err.msg, "messages:", 9) == 0) lab_err_prefix(&app->err, "%s", o.messages);
        goto done;
    }
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) { lab_err(&app->err, LAB_EIO, "writing standard output failed"); goto done; }
    if (fflush(stdout)) { lab_err(&app->err, LAB_EIO, "writing standard output failed"); goto done; }
    rc = EXIT_OK;
done:
    for (int i = 0; i < o.n_vars; i++) free(o.var_names[i]);
    buf_free(&out);
    free(text);
    free(msgs);
    chat_setup_free(&s);
    return rc;
}
