/* The OpenAI API's request and response shapes for ablab serve: a request body checked field by
 * field into an OaiReq (sampling fields through the engine's setting table, so a bad value reads
 * the same as on the command line), and the response bodies and stream chunks in the shape OpenAI's
 * clients parse (/v1/completions: "text_completion"; /v1/chat/completions: "chat.completion" and
 * "chat.completion.chunk"). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "serve_internal.h"

int serve_err(ServeErr *e, int status, const char *type, const char *param, const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->code = NULL;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* text as a JSON string; bytes that are not UTF-8 become U+FFFD (a model's byte tokens may end an
 * answer in the middle of a character, and jansson refuses such strings) */
static json_t *jstr(const char *s, size_t n) {
    if (!s) return json_string("");
    if (utf8_valid(s, n)) return json_stringn(s, n);
    Buf b = {0};
    for (size_t i = 0; i < n;) {
        int k = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k > 0) {
            buf_append(&b, s + i, (size_t)k);
            i += (size_t)k;
        } else {
            buf_puts(&b, "\xEF\xBF\xBD");
            i++;
        }
    }
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    buf_free(&b);
    return j;
}

char *serve_err_json(const ServeErr *e) {
    json_t *err = json_object();
    json_object_set_new(err, "message", json_string(e->msg));
    json_object_set_new(err, "type", json_string(e->type ? e->type : "invalid_request_error"));
    json_object_set_new(err, "param", e->param[0] ? json_string(e->param) : json_null());
    json_object_set_new(err, "code", e->code ? json_string(e->code) : json_null());
    json_t *o = json_object();
    json_object_set_new(o, "error", err);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static const char *jtype(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The request fields that map onto the setting table's rows; aliases are the llama.cpp / vLLM and
 * newer OpenAI spellings of the same setting. Later rows win over earlier ones for the same row. */
static const struct { const char *field; EngSettingId id; } SAMPLING_FIELDS[] = {
    {"temperature", ENG_SET_TEMP},
    {"top_p", ENG_SET_TOP_P},
    {"top_k", ENG_SET_TOP_K},
    {"min_p", ENG_SET_MIN_P},
    {"repetition_penalty", ENG_SET_REPEAT_PENALTY},
    {"repeat_penalty", ENG_SET_REPEAT_PENALTY},
    {"repeat_last_n", ENG_SET_REPEAT_LAST_N},
    {"max_tokens", ENG_SET_MAX_TOKENS},
    {"max_completion_tokens", ENG_SET_MAX_TOKENS},
    {"seed", ENG_SET_SEED},
};

static int sampling_field(const json_t *root, const char *field, EngSettingId id, EngSampling *s, bool *seed_given,
                          bool *seed_fresh, ServeErr *e) {
    const json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) return 0;
    const EngSetting *row = eng_setting(id);
    if (!json_is_number(v))
        return serve_err(e, 400, "invalid_request_error", field, "%s must be a number, not %s", field, jtype(v));
    double d = json_number_value(v);
    LabErr le = {0};
    if (eng_setting_check(row, d, &le)) {
        if (strcmp(field, row->name) == 0)
            return serve_err(e, 400, "invalid_request_error", field, "%s", le.msg);
        return serve_err(e, 400, "invalid_request_error", field, "%s (ablab's %s): %s", field, row->name, le.msg);
    }
    switch (id) {
    case ENG_SET_TEMP: s->temp = (float)d; break;
    case ENG_SET_TOP_P: s->top_p = (float)d; break;
    case ENG_SET_TOP_K: s->top_k = (int)d; break;
    case ENG_SET_MIN_P: s->min_p = (float)d; break;
    case ENG_SET_REPEAT_PENALTY: s->repeat_penalty = (float)d; break;
    case ENG_SET_REPEAT_LAST_N: s->repeat_last_n = (int)d; break;
    case ENG_SET_MAX_TOKENS: s->max_tokens = (int)d; break;
    case ENG_SET_SEED:
        /* -1 is the table's "a fresh seed"; the exact integer, as seeds pass double's 53 bits */
        if (d >= 0) s->seed = json_is_integer(v) ? (uint64_t)json_integer_value(v) : (uint64_t)d;
        *seed_given = d >= 0;
        *seed_fresh = d < 0;
        break;
    default: break;
    }
    return 0;
}

/* A field ablab does not do is accepted only at the value that means "off". */
static int unsupported(const json_t *root, const char *field, bool (*off)(const json_t *), const char *why,
                       ServeErr *e) {
    const json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v) || off(v)) return 0;
    return serve_err(e, 400, "invalid_request_error", field, "%s is not supported by ablab serve: %s", field, why);
}
static bool off_one(const json_t *v) { return json_is_number(v) && json_number_value(v) == 1; }
static bool off_zero(const json_t *v) { return json_is_number(v) && json_number_value(v) == 0; }
static bool off_false(const json_t *v) { return json_is_false(v) || off_zero(v); }
static bool off_empty(const json_t *v) {
    return (json_is_string(v) && json_string_length(v) == 0) || (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0);
}
static bool off_text_format(const json_t *v) {
    const json_t *t = json_object_get(v, "type");
    return json_is_object(v) && json_is_string(t) && strcmp(json_string_value(t), "text") == 0;
}

enum { MAX_STOPS = 16 };

static int parse_stop(const json_t *root, OaiReq *r, ServeErr *e) {
    const json_t *v = json_object_get(root, "stop");
    if (!v || json_is_null(v)) return 0;
    size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_string(v) && !json_is_array(v))
        return serve_err(e, 400, "invalid_request_error", "stop", "stop must be a string or an array of strings, not %s",
                         jtype(v));
    if (n > MAX_STOPS)
        return serve_err(e, 400, "invalid_request_error", "stop", "stop has %zu strings; ablab serve takes at most %d", n,
                         MAX_STOPS);
    if (n == 0) return 0;
    if (!(r->stops = calloc(n, sizeof *r->stops)))
        return serve_err(e, 500, "server_error", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_is_string(v) ? v : json_array_get(v, i);
        char param[32];
        snprintf(param, sizeof param, json_is_string(v) ? "stop" : "stop[%zu]", i);
        if (!json_is_string(s))
            return serve_err(e, 400, "invalid_request_error", param, "%s must be a string, not %s", param, jtype(s));
        if (strlen(json_string_value(s)) != json_string_length(s))
            return serve_err(e, 400, "invalid_request_error", param, "%s holds a NUL character", param);
        LabErr le = {0};
        if (eng_setting_parse(eng_setting(ENG_SET_STOP), json_string_value(s), NULL, NULL, &le))
            return serve_err(e, 400, "invalid_request_error", param, "%s: %s", param, le.msg);
        if (!(r->stops[r->n_stop++] = strdup(json_string_value(s))))
            return serve_err(e, 500, "server_error", NULL, "out of memory");
    }
    r->s.stop = (const char *const *)r->stops;
    r->s.n_stop = r->n_stop;
    return 0;
}

static int parse_ids(const json_t *arr, const char *param, IntVec *ids, ServeErr *e) {
    size_t i;
    const json_t *x;
    json_array_foreach(arr, i, x) {
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > INT32_MAX)
            return serve_err(e, 400, "invalid_request_error", param, "%s[%zu] must be a token id (an integer >= 0)",
                             param, i);
        if (ivec_push(ids, (int)json_integer_value(x))) return serve_err(e, 500, "server_error", NULL, "out of memory");
    }
    return 0;
}

static int parse_prompt(const json_t *root, OaiReq *r, ServeErr *e) {
    const json_t *p = json_object_get(root, "prompt");
    if (!p || json_is_null(p))
        return serve_err(e, 400, "invalid_request_error", "prompt", "prompt is required (a string or token ids)");
    if (json_is_array(p) && json_array_size(p) == 1 && !json_is_integer(json_array_get(p, 0)))
        p = json_array_get(p, 0); /* ["text"] or [[ids]]: one prompt */
    if (json_is_string(p)) {
        if (strlen(json_string_value(p)) != json_string_length(p))
            return serve_err(e, 400, "invalid_request_error", "prompt", "prompt holds a NUL character");
        if (!(r->prompt = strdup(json_string_value(p)))) return serve_err(e, 500, "server_error", NULL, "out of memory");
        return 0;
    }
    if (json_is_array(p) && json_array_size(p) > 0 && json_is_integer(json_array_get(p, 0)))
        return parse_ids(p, "prompt", &r->prompt_ids, e);
    if (json_is_array(p) && json_array_size(p) > 1)
        return serve_err(e, 400, "invalid_request_error", "prompt",
                         "prompt holds %zu prompts; ablab serve answers one prompt per request", json_array_size(p));
    return serve_err(e, 400, "invalid_request_error", "prompt",
                     "prompt must be a string, an array of one string or an array of token ids, not %s%s",
                     json_is_array(p) ? "an empty array" : jtype(p), "");
}

static int parse_messages(const json_t *root, OaiReq *r, ServeErr *e) {
    const json_t *ms = json_object_get(root, "messages");
    if (!json_is_array(ms) || json_array_size(ms) == 0)
        return serve_err(e, 400, "invalid_request_error", "messages", "messages must be a non-empty array of messages%s",
                         ms ? "" : " (it is missing)");
    size_t n = json_array_size(ms);
    if (!(r->msgs = calloc(n, sizeof *r->msgs))) return serve_err(e, 500, "server_error", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(ms, i), *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        char param[48];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m)) return serve_err(e, 400, "invalid_request_error", param, "%s must be an object", param);
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!json_is_string(role))
            return serve_err(e, 400, "invalid_request_error", param, "%s must be a string", param);
        const char *rs = json_string_value(role);
        if (strcmp(rs, "developer") == 0) rs = "system"; /* OpenAI's newer name for the system turn */
        if (strcmp(rs, "system") && strcmp(rs, "user") && strcmp(rs, "assistant"))
            return serve_err(e, 400, "invalid_request_error", param,
                             "%s is '%.40s'; ablab serve takes system, developer, user and assistant turns (no tools)",
                             param, json_string_value(role));
        snprintf(param, sizeof param, "messages[%zu].content", i);
        Buf text = {0};
        if (json_is_string(content)) {
            buf_append(&text, json_string_value(content), json_string_length(content));
        } else if (json_is_array(content)) {
            size_t k;
            const json_t *part;
            json_array_foreach(content, k, part) {
                const json_t *t = json_object_get(part, "type"), *tx = json_object_get(part, "text");
                if (!json_is_string(t) || strcmp(json_string_value(t), "text") || !json_is_string(tx)) {
                    buf_free(&text);
                    return serve_err(e, 400, "invalid_request_error", param,
                                     "%s[%zu]: ablab serve takes text parts only ({\"type\": \"text\", \"text\": ...})",
                                     param, k);
                }
                buf_append(&text, json_string_value(tx), json_string_length(tx));
            }
        } else if (!(json_is_null(content) && strcmp(rs, "assistant") == 0)) {
            return serve_err(e, 400, "invalid_request_error", param, "%s must be a string or an array of text parts, not %s",
                             param, content ? jtype(content) : "missing");
        }
        if (!text.data && buf_puts(&text, "")) return serve_err(e, 500, "server_error", NULL, "out of memory");
        if (strlen(text.data) != text.len) {
            buf_free(&text);
            return serve_err(e, 400, "invalid_request_error", param, "%s holds a NUL character", param);
        }
        r->msgs[i].content = buf_steal(&text);
        r->msgs[i].role = strdup(rs);
        r->n_msgs = (int)i + 1;
        if (!r->msgs[i].role) return serve_err(e, 500, "server_error", NULL, "out of memory");
    }
    return 0;
}

int oai_parse(const json_t *root, bool chat, const ServeOpts *o, OaiReq *r, ServeErr *e) {
    memset(r, 0, sizeof *r);
    r->chat = chat;
    r->s = o->defaults;
    r->s.stop = NULL;
    r->s.n_stop = 0;
    r->s.stop_ids = NULL;
    r->s.n_stop_ids = 0;
    if (!json_is_object(root))
        return serve_err(e, 400, "invalid_request_error", NULL, "the request body must be a JSON object, not %s",
                         jtype(root));
    const json_t *model = json_object_get(root, "model");
    if (!json_is_string(model))
        return serve_err(e, 400, "invalid_request_error", "model", "model must be a string naming the model (%s)",
                         o->model_id);
    if (strcmp(json_string_value(model), o->model_id) != 0) {
        serve_err(e, 404, "invalid_request_error", "model", "The model '%.200s' does not exist; this server serves '%s'",
                  json_string_value(model), o->model_id);
        e->code = "model_not_found";
        return -1;
    }
    const json_t *stream = json_object_get(root, "stream");
    if (stream && !json_is_null(stream) && !json_is_boolean(stream))
        return serve_err(e, 400, "invalid_request_error", "stream", "stream must be a boolean, not %s", jtype(stream));
    r->stream = json_is_true(stream);
    const json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        if (!r->stream)
            return serve_err(e, 400, "invalid_request_error", "stream_options",
                             "stream_options is only allowed when stream is true");
        const json_t *iu = json_object_get(so, "include_usage");
        if (!json_is_object(so) || (iu && !json_is_boolean(iu) && !json_is_null(iu)))
            return serve_err(e, 400, "invalid_request_error", "stream_options",
                             "stream_options must be an object like {\"include_usage\": true}");
        r->include_usage = json_is_true(iu);
    }
    bool seed_given = false, seed_fresh = false;
    for (size_t i = 0; i < sizeof SAMPLING_FIELDS / sizeof *SAMPLING_FIELDS; i++)
        if (sampling_field(root, SAMPLING_FIELDS[i].field, SAMPLING_FIELDS[i].id, &r->s, &seed_given, &seed_fresh, e))
            return -1;
    /* no seed: the server's --seed, else a fresh one; "seed": -1 asks for a fresh one */
    if (seed_fresh || (o->seed_random && !seed_given)) {
        uint64_t s = 0;
        if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
        r->s.seed = s & (((uint64_t)1 << 63) - 1);
    }
    if (unsupported(root, "n", off_one, "it writes one choice per request (n must be 1)", e) ||
        unsupported(root, "best_of", off_one, "it writes one choice per request (best_of must be 1)", e) ||
        unsupported(root, "echo", off_false, "the prompt is not repeated in the answer", e) ||
        unsupported(root, "suffix", off_empty, "there is no insertion mode", e) ||
        unsupported(root, "logprobs", off_false, "log-probabilities are not returned", e) ||
        unsupported(root, "top_logprobs", off_zero, "log-probabilities are not returned", e) ||
        unsupported(root, "presence_penalty", off_zero, "use repetition_penalty (llama.cpp's repeat penalty)", e) ||
        unsupported(root, "frequency_penalty", off_zero, "use repetition_penalty (llama.cpp's repeat penalty)", e) ||
        unsupported(root, "logit_bias", off_empty, "logits are not biased", e) ||
        unsupported(root, "tools", off_empty, "there are no tool calls", e) ||
        unsupported(root, "functions", off_empty, "there are no function calls", e) ||
        unsupported(root, "response_format", off_text_format, "only {\"type\": \"text\"} answers", e))
        return -1;
    if (parse_stop(root, r, e)) return -1;
    return chat ? parse_messages(root, r, e) : parse_prompt(root, r, e);
}

int oai_prompt(EngModel *m, OaiReq *r, IntVec *ids, IntVec *stop_ids, ServeErr *e) {
    const EngInfo *info = eng_info(m);
    LabErr le = {0};
    if (r->chat) {
        if (!eng_chat_available(m)) {
            const char *why = eng_chat_error(m);
            return serve_err(e, 400, "invalid_request_error", "messages",
                             "model '%s' has no chat template%s%s; send raw text to /v1/completions instead",
                             info->name, why ? " (" : "", why ? why : "");
        }
        Buf text = {0};
        if (eng_chat_render(m, r->msgs, r->n_msgs, true, &text, &le)) {
            buf_free(&text);
            return serve_err(e, 400, "invalid_request_error", "messages", "the chat template refused the messages: %s",
                             le.msg);
        }
        int rc = eng_tokenize_prompt(m, text.data ? text.data : "", false, ids, &le);
        buf_free(&text);
        if (rc) goto too_long;
        if (eng_chat_stop_ids(m, stop_ids)) return serve_err(e, 500, "server_error", NULL, "out of memory");
    } else if (r->prompt) {
        if (eng_tokenize_prompt(m, r->prompt, true, ids, &le)) goto too_long;
    } else {
        for (size_t i = 0; i < r->prompt_ids.n; i++)
            if (r->prompt_ids.v[i] >= info->vocab)
                return serve_err(e, 400, "invalid_request_error", "prompt",
                                 "prompt[%zu] is token %d but the vocabulary has %d tokens", i, r->prompt_ids.v[i],
                                 info->vocab);
        if (r->prompt_ids.n >= (size_t)info->ctx) {
            snprintf(le.msg, sizeof le.msg, "the prompt has %zu tokens but the context holds %d", r->prompt_ids.n,
                     info->ctx);
            goto too_long;
        }
        for (size_t i = 0; i < r->prompt_ids.n; i++)
            if (ivec_push(ids, r->prompt_ids.v[i])) return serve_err(e, 500, "server_error", NULL, "out of memory");
    }
    r->s.stop_ids = stop_ids->v;
    r->s.n_stop_ids = (int)stop_ids->n;
    return 0;
too_long:
    serve_err(e, 400, "invalid_request_error", r->chat ? "messages" : "prompt", "%s", le.msg);
    if (le.code != LAB_ENOMEM) e->code = "context_length_exceeded";
    return -1;
}

void oai_req_free(OaiReq *r) {
    for (int i = 0; i < r->n_stop; i++) free(r->stops[i]);
    free(r->stops);
    for (int i = 0; i < r->n_msgs; i++) {
        free((char *)r->msgs[i].role);
        free((char *)r->msgs[i].content);
    }
    free(r->msgs);
    free(r->prompt);
    ivec_free(&r->prompt_ids);
    memset(r, 0, sizeof *r);
}

const char *oai_finish_reason(EngStop s) {
    return s == ENG_STOP_LENGTH || s == ENG_STOP_CONTEXT ? "length" : "stop";
}

static char *dump(json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

static json_t *model_obj(const char *model_id, long long created) {
    json_t *m = json_object();
    json_object_set_new(m, "id", json_string(model_id));
    json_object_set_new(m, "object", json_string("model"));
    json_object_set_new(m, "created", json_integer(created));
    json_object_set_new(m, "owned_by", json_string("ablab"));
    return m;
}

char *oai_models_json(const char *model_id, long long created, bool one) {
    if (one) return dump(model_obj(model_id, created));
    json_t *data = json_array();
    json_array_append_new(data, model_obj(model_id, created));
    json_t *o = json_object();
    json_object_set_new(o, "object", json_string("list"));
    json_object_set_new(o, "data", data);
    return dump(o);
}

static json_t *usage_obj(int n_prompt, int n_gen) {
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(n_prompt));
    json_object_set_new(u, "completion_tokens", json_integer(n_gen));
    json_object_set_new(u, "total_tokens", json_integer((json_int_t)n_prompt + n_gen));
    return u;
}

static json_t *head(bool chat, bool chunk, const char *id, long long created, const char *model) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "object",
                        json_string(chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"));
    json_object_set_new(o, "created", json_integer(created));
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "system_fingerprint", json_null());
    return o;
}

char *oai_full_json(bool chat, const char *id, long long created, const char *model, const char *text, size_t len,
                    const char *finish, int n_prompt, int n_gen) {
    json_t *o = head(chat, false, id, created, model);
    json_t *c = json_object();
    json_object_set_new(c, "index", json_integer(0));
    if (chat) {
        json_t *msg = json_object();
        json_object_set_new(msg, "role", json_string("assistant"));
        json_object_set_new(msg, "content", jstr(text, len));
        json_object_set_new(msg, "refusal", json_null());
        json_object_set_new(c, "message", msg);
    } else {
        json_object_set_new(c, "text", jstr(text, len));
    }
    json_object_set_new(c, "logprobs", json_null());
    json_object_set_new(c, "finish_reason", json_string(finish));
    json_t *choices = json_array();
    json_array_append_new(choices, c);
    json_object_set_new(o, "choices", choices);
    json_object_set_new(o, "usage", usage_obj(n_prompt, n_gen));
    return dump(o);
}

char *oai_chunk_json(bool chat, const char *id, long long created, const char *model, const char *text, size_t len,
                     bool role_first, const char *finish, bool usage_null) {
    json_t *o = head(chat, true, id, created, model);
    json_t *c = json_object();
    json_object_set_new(c, "index", json_integer(0));
    if (chat) {
        json_t *d = json_object();
        if (role_first) json_object_set_new(d, "role", json_string("assistant"));
        if (text || role_first) json_object_set_new(d, "content", jstr(text, text ? len : 0));
        json_object_set_new(c, "delta", d);
    } else {
        json_object_set_new(c, "text", jstr(text, text ? len : 0));
    }
    json_object_set_new(c, "logprobs", json_null());
    json_object_set_new(c, "finish_reason", finish ? json_string(finish) : json_null());
    json_t *choices = json_array();
    json_array_append_new(choices, c);
    json_object_set_new(o, "choices", choices);
    if (usage_null) json_object_set_new(o, "usage", json_null());
    return dump(o);
}

char *oai_usage_chunk_json(bool chat, const char *id, long long created, const char *model, int n_prompt, int n_gen) {
    json_t *o = head(chat, true, id, created, model);
    json_object_set_new(o, "choices", json_array());
    json_object_set_new(o, "usage", usage_obj(n_prompt, n_gen));
    return dump(o);
}
