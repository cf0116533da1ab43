/* Private to src/serve/: the OpenAI request and response shapes (oai.c) that the HTTP side (serve.c)
 * drives. */
#ifndef ABLAB_SERVE_INTERNAL_H
#define ABLAB_SERVE_INTERNAL_H

#include <jansson.h>

#include "chat.h"
#include "serve.h"

/* An error as OpenAI's API answers it: {"error": {"message", "type", "param", "code"}}. */
typedef struct {
    int status;              /* HTTP status: 400, 401, 404, 413, 429, 500, 503 */
    const char *type;        /* "invalid_request_error", "authentication_error", "server_error", ... */
    const char *code;        /* NULL or "model_not_found", "context_length_exceeded", ... */
    char param[64];          /* the request field at fault ("temperature", "messages[1].role"); "" = none */
    char msg[768];
} ServeErr;

/* Fills e and returns -1. */
int serve_err(ServeErr *e, int status, const char *type, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The error's JSON body (caller frees); NULL on ENOMEM. */
char *serve_err_json(const ServeErr *e);

/* One request of /v1/completions or /v1/chat/completions after its fields were checked. */
typedef struct {
    bool chat, stream, include_usage;
    EngSampling s;           /* s.stop points into stops; s.stop_ids is filled by oai_prompt */
    char **stops;
    int n_stop;
    char *prompt;            /* completions: the prompt text (NULL when given as token ids) */
    IntVec prompt_ids;       /* completions given as token ids */
    ChatMsg *msgs;           /* chat: the messages, strings owned here */
    int n_msgs;
} OaiReq;

/* Checks root (the parsed body) as a request of the kind `chat` names: every field's type, the
 * sampling fields against the engine's setting table (defaults from o), the model id, n == 1 and the
 * fields ablab does not do (logprobs, tools, penalties other than repetition, ...). -1 with e
 * naming the field. r is filled on success; free it with oai_req_free either way. */
int oai_parse(const json_t *root, bool chat, const ServeOpts *o, OaiReq *r, ServeErr *e);
/* The prompt's token ids for model m (chat: the model's template with the generation prompt, and
 * its end-of-turn ids into stop_ids); 400 when the prompt does not fit or the model has no chat
 * template. */
int oai_prompt(EngModel *m, OaiReq *r, IntVec *ids, IntVec *stop_ids, ServeErr *e);
void oai_req_free(OaiReq *r);

/* OpenAI's finish_reason for an engine stop: "stop" (EOS, a stop string, cancelled), "length". */
const char *oai_finish_reason(EngStop s);

/* Response bodies (caller frees the string; NULL on ENOMEM). id: "cmpl-…" / "chatcmpl-…". */
char *oai_models_json(const char *model_id, long long created, bool one);
char *oai_full_json(bool chat, const char *id, long long created, const char *model, const char *text, size_t len,
                    const char *finish, int n_prompt, int n_gen);
/* One streamed chunk: text (may be NULL for none), finish NULL while running; role_first adds the
 * chat's opening {"role": "assistant"}; usage_null adds "usage": null (stream_options.include_usage). */
char *oai_chunk_json(bool chat, const char *id, long long created, const char *model, const char *text, size_t len,
                     bool role_first, const char *finish, bool usage_null);
/* The closing usage chunk of stream_options.include_usage: "choices": [] and usage. */
char *oai_usage_chunk_json(bool chat, const char *id, long long created, const char *model, int n_prompt, int n_gen);

#endif
