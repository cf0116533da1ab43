/* ablab serve: one loaded model behind the OpenAI-compatible HTTP API (GET /v1/models,
 * POST /v1/completions, POST /v1/chat/completions; streamed as server-sent events or whole), so a
 * model ablab loads can be an arm in another machine's lab or in any OpenAI client.
 *
 * The room's one public header. It sees the engine (engine.h) and libmicrohttpd, never the
 * database, the lab record or the terminal UI: serving records nothing. */
#ifndef ABLAB_SERVE_H
#define ABLAB_SERVE_H

#include <signal.h>
#include <stdio.h>

#include "engine.h"

typedef struct {
    const char *host;        /* address to bind ("127.0.0.1", "::1", "0.0.0.0"); NULL = 127.0.0.1 */
    int port;                /* 0 = one the OS picks (printed by on_listen) */
    const char *api_key;     /* NULL or "": no check; else every /v1 request needs Authorization: Bearer KEY */
    const char *model_id;    /* the id /v1/models lists and requests must name */
    int max_queue;           /* requests that may wait for a free model copy; more get 429 */
    size_t max_body;         /* request bodies above this many bytes get 413 */
    double grace_s;          /* after the first SIGINT/SIGTERM, how long running answers may finish
                                before they are cancelled (a second signal cancels at once) */
    EngSampling defaults;    /* settings for fields a request leaves out (stop strings are ignored) */
    bool seed_random;        /* a request without "seed" draws a fresh one (else defaults.seed) */
    /* Called once the socket listens, with the bound address as a base URL ("http://127.0.0.1:8080/v1"). */
    void (*on_listen)(const char *base_url, void *ud);
    void *ud;
    FILE *log;               /* one access line per request (never the API key); NULL = stderr */
} ServeOpts;

/* Serves the n copies of one model in models[] (each generates one sequence at a time, so n is
 * the number of answers written at once) until *stop becomes non-zero (set it from a signal
 * handler; each further signal should increment it). Then new requests get 503, queued ones 503,
 * and running ones finish within o->grace_s, or are cancelled when *stop reaches 2; returns 0 once
 * every connection is closed. -1 with e filled when the server cannot start (address in use, bad
 * host). The models stay the caller's and must outlive the call. */
int serve_run(EngModel *const *models, int n, const ServeOpts *o, volatile sig_atomic_t *stop, LabErr *e);

#endif
