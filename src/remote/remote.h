/* ablab remote arms: a model served elsewhere through the OpenAI-compatible HTTP API (vLLM,
 * llama.cpp's llama-server, ollama's /v1, `ablab serve`, a hosted API) used as one side of the lab.
 *
 * A remote "path" is `http://HOST:PORT/v1` or `https://.../v1`, optionally followed by `#MODEL`
 * (default: the first id the server lists at GET /v1/models). Answers stream as server-sent events
 * from POST /v1/completions (raw prompts) or /v1/chat/completions (chat arms).
 *
 * The room has three parts, each usable alone:
 *   - an incremental server-sent-events parser: a pure function of the bytes fed (sse_*), fuzzed;
 *   - the OpenAI mapping: request bodies from the lab's settings, stream chunks to text, finish
 *     reason, usage and errors (oai_*), pure functions of JSON text;
 *   - the HTTP client (remote_*): libcurl, cancellable within 50 ms, bounded retries on 429/503
 *     with Retry-After, a stall timeout, one-line messages for every fault.
 *
 * The API key comes from ABLAB_API_KEY (else OPENAI_API_KEY) at remote_open and is sent only as
 * the Authorization header: it is never part of a message, a log line or remote_info's URL. User
 * and password written into the URL are sent (as curl does) and dropped from the URL shown.
 *
 * Layer: base, jansson and libcurl only (tools/walls/remote). */
#ifndef ABLAB_REMOTE_H
#define ABLAB_REMOTE_H

#include <stdatomic.h>

#include "base.h"

/* ---------- server-sent events (sse.c) --------------------------------------------------------
 * The WHATWG event-stream format: lines end in LF, CRLF or CR (a CR at the end of one feed and an
 * LF at the start of the next are one line end); "data:" lines accumulate (joined by LF), a blank
 * line dispatches the event, ':' starts a comment, "event:" names it, a leading BOM is skipped,
 * other fields are ignored. Whatever way the bytes are split into feeds, the same events come out.
 * An event still open when the stream ends is not dispatched (sse_finish says so). */
typedef struct {
    Buf line;               /* the line being read (no line end) */
    Buf data;               /* the event's data so far, each data line followed by LF */
    char event[64];         /* the event's name ("" = "message"), truncated */
    bool cr;                /* the last byte fed was a CR (an LF next is part of that line end) */
    bool started;           /* past the first bytes (the BOM check) */
    size_t bom;             /* BOM bytes matched so far at the very start */
    size_t max_event;       /* a line or event's data longer than this is an error */
    size_t n_events;        /* dispatched so far */
} SseParser;

/* Called once per dispatched event: name ("message" when none was given), the data without its
 * final LF (NUL-terminated, len bytes, may hold NUL bytes), ud. Nonzero stops the feed (that value
 * is returned by sse_feed). The data pointer is valid during the call only. */
typedef int (*SseEventFn)(const char *event, const char *data, size_t len, void *ud);

/* max_event: 0 = 8 MiB. */
void sse_init(SseParser *p, size_t max_event);
void sse_free(SseParser *p);                  /* NULL-safe; leaves p zeroed */
/* Feeds n bytes. Returns 0 when all were taken, the callback's nonzero value when it stopped the
 * feed (the rest of this feed is not read), or -1 with e filled for a line or an event over
 * max_event ("an event is longer than 8388608 bytes") or out of memory. After -1 the parser must
 * only be freed. */
int  sse_feed(SseParser *p, const char *bytes, size_t n, SseEventFn fn, void *ud, LabErr *e);
/* True when the stream, if it ended now, would end inside an event (a partial line or data lines
 * with no blank line after them): the event is lost. */
bool sse_pending(const SseParser *p);

/* ---------- the OpenAI mapping (openai.c) ------------------------------------------------------ */
typedef struct {
    double temp;            /* 0 = greedy */
    double top_p;           /* 1 = off (not sent) */
    int top_k;              /* 0 = off (not sent) */
    double min_p;           /* 0 = off (not sent) */
    double repeat_penalty;  /* 1 = off (not sent) */
    int max_tokens;
    int64_t seed;           /* < 0: not sent */
    const char *const *stop;
    int n_stop;
} RemoteSampling;

typedef struct { const char *role, *content; } RemoteMsg;

typedef struct {
    bool chat;              /* /v1/chat/completions with msgs; else /v1/completions with prompt */
    const char *prompt;     /* raw: the exact text */
    const RemoteMsg *msgs;  /* chat: the conversation (system, user, assistant turns) */
    int n_msgs;
    RemoteSampling s;
    const atomic_bool *cancel; /* NULL or a flag checked every 50 ms (remote_generate) */
} RemoteRequest;

/* The JSON body for model and rq, streaming with usage asked for (stream_options.include_usage).
 * temperature, max_tokens and seed are OpenAI's; top_p likewise; top_k, min_p and repeat_penalty
 * are the llama.cpp/vLLM extensions, sent only when they are on. Caller frees. NULL with e filled
 * when a string is not valid UTF-8 or memory runs out. */
char *oai_request_json(const char *model, const RemoteRequest *rq, LabErr *e);

/* What one stream chunk (an event's data) says. */
typedef struct {
    bool done;              /* the data was [DONE] */
    const char *text;       /* choices[0].text, .delta.content or .message.content; NULL if none; valid
                               until oai_chunk_clear */
    size_t text_len;
    char finish[32];        /* choices[0].finish_reason ("stop", "length", ...), "" if none */
    char model[128];        /* the chunk's "model", "" if none */
    int64_t usage_prompt, usage_completion; /* usage.prompt_tokens / completion_tokens, -1 if none */
    char error[512];        /* an "error" object's message (or the string), "" if none */
    void *json_;            /* private */
} OaiChunk;

/* Parses one event's data. 0 with *c filled; -1 with e filled when it is not JSON or not an object
 * ("the server sent a chunk that is not JSON: '{\"choi' (line 1, column 6: ...)"). A chunk with an
 * "error" member parses (c->error says it); the caller decides. */
int  oai_chunk_parse(const char *data, size_t len, OaiChunk *c, LabErr *e);
void oai_chunk_clear(OaiChunk *c);           /* NULL-safe */

/* The first model id in a GET /models body ({"data":[{"id":...},...]}), or, when want is not NULL,
 * whether want is one of them. Returns 1 with out filled (the id found), 0 when want is not listed
 * (out gets the ids listed, comma-separated and truncated), -1 with e filled when the body is not a
 * model list. */
int  oai_models_pick(const char *body, size_t len, const char *want, char *out, size_t n, LabErr *e);

/* The message of an error body ({"error":{"message":...}}, {"error":"..."}, {"message":...} or
 * {"detail":...}); else the start of the body as text, cut at a line end and to n bytes. */
void oai_error_text(const char *body, size_t len, char *out, size_t n);

/* ---------- the client (client.c) -------------------------------------------------------------- */
typedef struct RemoteArm RemoteArm;

typedef struct {
    char url[1024];         /* the base URL without user, password, query or fragment */
    char model[256];        /* the served model id the requests name */
    char name[320];         /* "MODEL @ HOST:PORT" for display */
    char host[256];
    bool has_key;           /* an API key is sent (its value is never kept here) */
    bool tls;
} RemoteInfo;

typedef struct {
    double connect_timeout_s; /* 0 = 10 */
    double stall_timeout_s;   /* no byte for this long during a request is an error; 0 = 120
                                 (ABLAB_REMOTE_TIMEOUT overrides) */
    int max_retries;          /* 429/503 retries honouring Retry-After; 0 = 3 (-1 = none) */
    double max_retry_wait_s;  /* a Retry-After longer than this is not waited for; 0 = 30 */
    const atomic_bool *cancel;/* remote_open's model-list request: checked every 50 ms */
} RemoteOpts;

/* True for a model "path" that names a server (http:// or https://). */
bool remote_is_url(const char *path);
/* Parses spec, reads the API key from the environment and asks GET {url}/models which model to
 * use (or checks that #MODEL is served; a server without /models is taken at its word for
 * #MODEL). One line in e for every fault: "http://127.0.0.1:9/v1: cannot connect (Connection
 * refused)", "...: 401 Unauthorized: invalid api key (set ABLAB_API_KEY)", "...: model 'x' is
 * not served here (it serves: a, b)". *out NULL on error. */
int  remote_open(RemoteArm **out, const char *spec, const RemoteOpts *o, LabErr *e);
void remote_free(RemoteArm *a);               /* NULL-safe */
const RemoteInfo *remote_info(const RemoteArm *a);
/* The record's path of spec: its URL without credentials or query, and "#MODEL" when given.
 * "" when spec is not a URL. */
void remote_display_url(const char *spec, char *out, size_t n);

/* What a request measured. Times are the client's: from sending the request. */
typedef struct {
    double ttft_ms;           /* to the first byte of text */
    double total_ms;
    double decode_tok_s;      /* (tokens - 1) / (last text - first text), 0 with < 2 tokens */
    int n_chunks;             /* stream events that carried text */
    int n_gen;                /* usage.completion_tokens when given, else n_chunks */
    int64_t usage_prompt, usage_completion; /* the server's usage, -1 if not given */
    char finish[32];          /* the server's finish_reason, "cancel", or "" */
    char served_model[256];   /* the model the chunks named ("" if none did) */
    int http_status;
    int retries;              /* 429/503 waits */
} RemoteResult;

/* Called with each piece of text as it arrives (in order, at least one byte). Nonzero cancels. */
typedef int (*RemoteTextFn)(const char *text, size_t len, const RemoteResult *so_far, void *ud);

/* Streams one answer. 0 when it finished (res->finish says how; "cancel" when rq->cancel was set
 * or fn returned nonzero: the text so far was delivered) or -1 with e filled in one line (the text
 * received so far was delivered through fn; res holds what was measured). The flag is checked
 * every 50 ms while connecting, waiting out a Retry-After and reading. */
int  remote_generate(RemoteArm *a, const RemoteRequest *rq, RemoteTextFn fn, void *ud, RemoteResult *res, LabErr *e);

#endif
