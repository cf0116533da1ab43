/* ablab serve's HTTP side: libmicrohttpd with a thread per connection, so a request may block while
 * it waits for a model copy and while it generates. Each model copy ("slot") writes one answer at a
 * time; requests beyond them wait in a first-come first-served queue of o->max_queue places, and a
 * request that finds the queue full gets 429 with Retry-After. A stream is written by MHD's content
 * reader: each call steps the engine until it has text, so the client's reading paces generation and
 * a client that goes away (the socket reads EOF, or a write fails) cancels the answer at its next
 * token. Nothing here records anything: the record is the client's. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve_internal.h"

typedef struct Slot {
    EngModel *m;
    EngGen *g;              /* the answer being written (under Server.mu, for shutdown's cancel) */
    bool busy;
} Slot;

typedef struct Waiter { struct Waiter *next; } Waiter;

typedef struct {
    const ServeOpts *o;
    Slot *slots;
    int n_slots;
    pthread_mutex_t mu;     /* guards everything below, and Slot.g / Slot.busy */
    pthread_cond_t cv;      /* a slot was freed, the queue's head changed, or stopping began */
    Waiter *head, *tail;    /* requests waiting for a slot, oldest first */
    int n_waiting, n_busy;
    atomic_bool stopping;   /* first signal seen: new requests get 503 (read without the lock) */
    atomic_bool cancelling; /* running answers were cancelled (second signal or grace over) */
    long long created;      /* /v1/models "created": when the server started */
    uint64_t id_base;
    atomic_ullong n_req;
    pthread_mutex_t log_mu;
    FILE *log;
} Server;

/* One request (MHD's con_cls). A streamed answer holds a second reference, released by the
 * response's free callback, since MHD runs that and the completion callback in either order. */
typedef struct {
    Server *srv;
    struct MHD_Connection *conn;
    atomic_int refs;
    char method[16], path[200];
    Buf body;
    bool too_big;
    int status;
    double t0;
    char note[240];         /* for the access line: "stream", "client gone", an error message */
    char addr[INET6_ADDRSTRLEN]; /* the client, for the access line */
    bool early;             /* MHD ended the request before the response was sent */
    /* the answer */
    OaiReq req;
    bool have_req;
    Slot *slot;
    EngGen *g;
    IntVec ids, stop_ids;
    int n_prompt, n_gen;
    char id[48];
    long long created;
    Buf out;                /* SSE bytes not yet handed to MHD */
    size_t out_off;
    bool sent_role, finished;
} Req;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------- slots and the queue ---------- */

static Slot *free_slot(Server *s) {
    for (int i = 0; i < s->n_slots; i++)
        if (!s->slots[i].busy) return &s->slots[i];
    return NULL;
}

/* True when the client closed its side (EOF or an error on the socket). */
static bool client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    if (p.revents & POLLIN) {
        char ch;
        ssize_t n = recv(ci->connect_fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return false;
}

enum { ACQ_OK, ACQ_FULL, ACQ_STOPPING, ACQ_GONE };

/* Takes a free slot in queue order: waits while the queue has room, checking the client every
 * quarter second so one that leaves gives its place up. */
static int slot_acquire(Server *s, Req *r) {
    pthread_mutex_lock(&s->mu);
    int rc = ACQ_OK;
    if (s->stopping) rc = ACQ_STOPPING;
    else if (!s->head && (r->slot = free_slot(s))) rc = ACQ_OK;
    else if (s->n_waiting >= s->o->max_queue) rc = ACQ_FULL;
    else {
        Waiter w = {0};
        if (s->tail) s->tail->next = &w;
        else s->head = &w;
        s->tail = &w;
        s->n_waiting++;
        for (;;) {
            if (s->stopping) {
                rc = ACQ_STOPPING;
                break;
            }
            if (s->head == &w && (r->slot = free_slot(s))) break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 250 * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &until);
            if (client_gone(r->conn)) {
                rc = ACQ_GONE;
                break;
            }
        }
        /* unlink w (it may be anywhere when it leaves early) */
        Waiter **pp = &s->head, *prev = NULL;
        while (*pp != &w) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = w.next;
        if (s->tail == &w) s->tail = prev;
        s->n_waiting--;
        pthread_cond_broadcast(&s->cv);
    }
    if (rc == ACQ_OK) {
        r->slot->busy = true;
        s->n_busy++;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Frees the request's answer and gives its slot back (idempotent). */
static void slot_release(Req *r) {
    Server *s = r->srv;
    if (!r->slot) return;
    pthread_mutex_lock(&s->mu);
    r->slot->g = NULL;
    pthread_mutex_unlock(&s->mu);
    if (r->g) {
        r->n_gen = eng_gen_metrics(r->g)->n_gen;
        eng_gen_free(r->g);
        r->g = NULL;
    }
    pthread_mutex_lock(&s->mu);
    r->slot->busy = false;
    s->n_busy--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    r->slot = NULL;
}

static void access_line(Req *r);

static void req_unref(Req *r) {
    if (atomic_fetch_sub(&r->refs, 1) != 1) return;
    slot_release(r);
    access_line(r);
    if (r->have_req) oai_req_free(&r->req);
    ivec_free(&r->ids);
    ivec_free(&r->stop_ids);
    buf_free(&r->body);
    buf_free(&r->out);
    free(r);
}

/* ---------- replies ---------- */

static enum MHD_Result reply(Req *r, int status, char *body, const char *ctype) {
    r->status = status;
    if (!body) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,"
                                  "\"code\":null}}";
        body = strdup(oom);
        status = r->status = 500;
        if (!body) return MHD_NO;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : "application/json");
    if (status == 429 || status == 503) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, strncmp(r->path, "/v1/models", 10) == 0 ? "GET" : "POST");
    if (r->srv->stopping || status == 413) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* The access line's note: text cut to the field at a character boundary. */
static void note(Req *r, const char *text) {
    size_t n = strnlen(text, sizeof r->note - 1);
    if (text[n])
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
    memcpy(r->note, text, n);
    r->note[n] = 0;
}

static enum MHD_Result reply_err(Req *r, const ServeErr *e) {
    note(r, e->msg);
    return reply(r, e->status, serve_err_json(e), NULL);
}

static enum MHD_Result reply_errf(Req *r, int status, const char *type, const char *param, const char *code,
                                  const char *msg) {
    ServeErr e;
    serve_err(&e, status, type, param, "%s", msg);
    e.code = code;
    note(r, msg);
    return reply(r, e.status, serve_err_json(&e), NULL);
}

/* ---------- streaming ---------- */

static int sse(Req *r, char *json) {
    if (!json) return -1;
    int rc = buf_puts(&r->out, "data: ") || buf_puts(&r->out, json) || buf_puts(&r->out, "\n\n") ? -1 : 0;
    free(json);
    return rc;
}

/* Steps the answer until there is something to send; -1 ends the stream with an error (the client
 * left, or out of memory). */
static int stream_fill(Req *r) {
    Server *s = r->srv;
    const char *model = s->o->model_id;
    bool chat = r->req.chat, usage_null = r->req.include_usage;
    if (chat && !r->sent_role) {
        r->sent_role = true;
        return sse(r, oai_chunk_json(true, r->id, r->created, model, "", 0, true, NULL, usage_null));
    }
    for (;;) {
        if (client_gone(r->conn)) {
            note(r, "stream: client gone, answer cancelled");
            eng_gen_cancel(r->g);
            slot_release(r);
            return -1;
        }
        EngPiece p;
        LabErr le = {0};
        int rc = eng_gen_step(r->g, &p, &le);
        if (rc == 1 && p.len == 0) continue;
        if (p.len && sse(r, oai_chunk_json(chat, r->id, r->created, model, p.text, p.len, false, NULL, usage_null)))
            return -1;
        if (rc == 1) return 0;
        r->n_gen = eng_gen_metrics(r->g)->n_gen;
        r->finished = true;
        if (rc < 0 || (p.stop == ENG_STOP_CANCEL && s->cancelling)) {
            ServeErr e;
            if (rc < 0) serve_err(&e, 500, "server_error", NULL, "generation failed: %s", le.msg);
            else serve_err(&e, 503, "server_error", NULL, "the server is shutting down; the answer was cancelled");
            note(r, rc < 0 ? "stream: generation failed" : "stream: cancelled at shutdown");
            slot_release(r);
            return sse(r, serve_err_json(&e));
        }
        slot_release(r); /* the next request may start while this client reads the tail */
        if (sse(r, oai_chunk_json(chat, r->id, r->created, model, NULL, 0, false, oai_finish_reason(p.stop), usage_null)))
            return -1;
        if (r->req.include_usage && sse(r, oai_usage_chunk_json(chat, r->id, r->created, model, r->n_prompt, r->n_gen)))
            return -1;
        return buf_puts(&r->out, "data: [DONE]\n\n");
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    Req *r = cls;
    (void)pos;
    while (r->out_off >= r->out.len) {
        buf_clear(&r->out);
        r->out_off = 0;
        if (r->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        if (stream_fill(r)) {
            if (strcmp(r->note, "stream") == 0) note(r, "stream: out of memory");
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = r->out.len - r->out_off < max ? r->out.len - r->out_off : max;
    memcpy(buf, r->out.data + r->out_off, n);
    r->out_off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    Req *r = cls;
    if (r->g && !r->finished) {
        eng_gen_cancel(r->g);
        note(r, "stream: client gone, answer cancelled");
    }
    r->n_gen = r->g ? eng_gen_metrics(r->g)->n_gen : r->n_gen;
    slot_release(r);
    req_unref(r);
}

/* ---------- the two generating endpoints ---------- */

static enum MHD_Result generate(Req *r, bool chat) {
    Server *s = r->srv;
    ServeErr e;
    json_error_t je;
    json_t *root = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        serve_err(&e, 400, "invalid_request_error", NULL,
                  "We could not parse the JSON body of your request: %s (line %d, column %d)", je.text, je.line,
                  je.column);
        return reply_err(r, &e);
    }
    int prc = oai_parse(root, chat, s->o, &r->req, &e);
    r->have_req = true;
    json_decref(root);
    if (prc) return reply_err(r, &e);
    switch (slot_acquire(s, r)) {
    case ACQ_FULL:
        return reply_errf(r, 429, "rate_limit_exceeded", NULL, "rate_limit_exceeded",
                          "every copy of the model is busy and the queue is full; retry after a second");
    case ACQ_STOPPING:
        return reply_errf(r, 503, "server_error", NULL, NULL, "the server is shutting down");
    case ACQ_GONE:
        note(r, "client gone while queued");
        return MHD_NO;
    default: break;
    }
    if (oai_prompt(r->slot->m, &r->req, &r->ids, &r->stop_ids, &e)) {
        slot_release(r);
        return reply_err(r, &e);
    }
    r->n_prompt = (int)r->ids.n;
    LabErr le = {0};
    if (eng_gen_start(&r->g, r->slot->m, r->ids.v, (int)r->ids.n, &r->req.s, &le)) {
        slot_release(r);
        bool theirs = le.code == LAB_EINVAL || le.code == LAB_ERANGE;
        serve_err(&e, theirs ? 400 : 500, theirs ? "invalid_request_error" : "server_error", NULL, "%s", le.msg);
        return reply_err(r, &e);
    }
    pthread_mutex_lock(&s->mu);
    r->slot->g = r->g;
    if (s->cancelling) eng_gen_cancel(r->g);
    pthread_mutex_unlock(&s->mu);
    snprintf(r->id, sizeof r->id, "%s-%016llx", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)(s->id_base + atomic_fetch_add(&s->n_req, 1)));
    r->created = (long long)time(NULL);

    if (r->req.stream) {
        note(r, "stream");
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, r, stream_free);
        if (!resp) {
            slot_release(r);
            return MHD_NO;
        }
        atomic_fetch_add(&r->refs, 1);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        r->status = 200;
        enum MHD_Result ok = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ok;
    }

    Buf text = {0};
    EngPiece p = {0};
    int rc;
    do {
        rc = eng_gen_step(r->g, &p, &le);
        if (p.len && buf_append(&text, p.text, p.len)) {
            rc = -1;
            lab_err(&le, LAB_ENOMEM, "out of memory");
            break;
        }
        if (rc == 1 && client_gone(r->conn)) {
            buf_free(&text);
            eng_gen_cancel(r->g);
            slot_release(r);
            note(r, "client gone, answer cancelled");
            return MHD_NO;
        }
    } while (rc == 1);
    bool cancelled = rc == 0 && p.stop == ENG_STOP_CANCEL && s->cancelling;
    slot_release(r);
    if (rc < 0 || cancelled) {
        buf_free(&text);
        if (cancelled)
            return reply_errf(r, 503, "server_error", NULL, NULL, "the server is shutting down; the answer was cancelled");
        serve_err(&e, 500, "server_error", NULL, "generation failed: %s", le.msg);
        return reply_err(r, &e);
    }
    char *body = oai_full_json(chat, r->id, r->created, s->o->model_id, text.data, text.len, oai_finish_reason(p.stop),
                               r->n_prompt, r->n_gen);
    buf_free(&text);
    return reply(r, 200, body, NULL);
}

/* ---------- routing ---------- */

static bool key_ok(const Server *s, struct MHD_Connection *c) {
    const char *key = s->o->api_key;
    if (!key || !*key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ') h++;
    /* compare in time that depends on the key's length only */
    size_t n = strlen(key), m = strlen(h);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)key[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0;
}

static enum MHD_Result route(Req *r) {
    Server *s = r->srv;
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (strcmp(r->path, "/health") == 0 && get)
        return reply(r, s->stopping ? 503 : 200, strdup(s->stopping ? "{\"status\":\"stopping\"}" : "{\"status\":\"ok\"}"),
                     NULL);
    if (s->stopping) return reply_errf(r, 503, "server_error", NULL, NULL, "the server is shutting down");
    if (strcmp(r->path, "/v1/models") == 0) {
        if (!get) return reply_errf(r, 405, "invalid_request_error", NULL, NULL, "/v1/models takes GET");
        return reply(r, 200, oai_models_json(s->o->model_id, s->created, false), NULL);
    }
    if (strncmp(r->path, "/v1/models/", 11) == 0) {
        if (!get) return reply_errf(r, 405, "invalid_request_error", NULL, NULL, "/v1/models takes GET");
        if (strcmp(r->path + 11, s->o->model_id) == 0)
            return reply(r, 200, oai_models_json(s->o->model_id, s->created, true), NULL);
        ServeErr e;
        serve_err(&e, 404, "invalid_request_error", "model", "The model '%.150s' does not exist; this server serves '%s'",
                  r->path + 11, s->o->model_id);
        e.code = "model_not_found";
        return reply_err(r, &e);
    }
    bool cmpl = strcmp(r->path, "/v1/completions") == 0, chat = strcmp(r->path, "/v1/chat/completions") == 0;
    if (cmpl || chat) {
        if (!post)
            return reply_errf(r, 405, "invalid_request_error", NULL, NULL,
                              chat ? "/v1/chat/completions takes POST" : "/v1/completions takes POST");
        return generate(r, chat);
    }
    ServeErr e;
    serve_err(&e, 404, "invalid_request_error", NULL,
              "Unknown request URL: %.6s %.150s (ablab serve answers GET /v1/models, POST /v1/completions and "
              "POST /v1/chat/completions)",
              r->method, r->path);
    e.code = "unknown_url";
    return reply_err(r, &e);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    Server *s = cls;
    Req *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->srv = s;
        r->conn = c;
        atomic_init(&r->refs, 1);
        r->t0 = now_s();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        *con_cls = r;
        /* answered before the body is read: a bad key, or a body announced too big */
        if (strncmp(url, "/v1/", 4) == 0 && !key_ok(s, c))
            return reply_errf(r, 401, "invalid_request_error", NULL, "invalid_api_key",
                              "Incorrect or missing API key: send the header 'Authorization: Bearer KEY'");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->o->max_body) r->too_big = true;
        if (r->too_big) goto too_big;
        return MHD_YES;
    }
    if (r->status) return MHD_YES; /* answered already (the body is being discarded) */
    if (*upload_size) {
        if (!r->too_big && r->body.len + *upload_size > s->o->max_body) {
            r->too_big = true;
            buf_free(&r->body);
        }
        if (!r->too_big && buf_append(&r->body, upload, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big) goto too_big;
    return route(r);
too_big:;
    ServeErr e;
    serve_err(&e, 413, "invalid_request_error", NULL, "the request body is larger than %zu bytes (--max-body)",
              s->o->max_body);
    return reply_err(r, &e);
}

/* The request is over for MHD; the access line waits for the last reference (a stream's answer may
 * still be cancelled and freed after this). */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    Req *r = *con_cls;
    (void)cls;
    if (!r) return;
    *con_cls = NULL;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->addr, sizeof r->addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->addr, sizeof r->addr);
    }
    r->early = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    req_unref(r);
}

/* One line per request on the log: client, method, path, status (499: none sent), tokens, seconds,
 * and the note. Never a header: the API key stays out of it. */
static void access_line(Req *r) {
    Server *s = r->srv;
    if (r->early && (!r->note[0] || strcmp(r->note, "stream") == 0)) {
        char t[sizeof r->note + 32];
        snprintf(t, sizeof t, "%s%sconnection closed early", r->note, r->note[0] ? ": " : "");
        note(r, t);
    }
    pthread_mutex_lock(&s->log_mu);
    fprintf(s->log, "ablab serve: %s %s %s %d", r->addr[0] ? r->addr : "?", r->method, r->path, r->status ? r->status : 499);
    if (r->n_prompt) fprintf(s->log, " prompt=%d completion=%d", r->n_prompt, r->n_gen);
    fprintf(s->log, " %.3fs%s%s\n", now_s() - r->t0, r->note[0] ? " " : "", r->note);
    fflush(s->log);
    pthread_mutex_unlock(&s->log_mu);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    Server *s = cls;
    if (!fmt) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    /* returning MHD_NO for a client that left makes MHD report an "internal error": the access line
     * already says what happened */
    if (strstr(msg, "Application reported internal error")) return;
    pthread_mutex_lock(&s->log_mu);
    fprintf(s->log, "ablab serve: http: %s\n", msg);
    fflush(s->log);
    pthread_mutex_unlock(&s->log_mu);
}

/* ---------- listening and shutting down ---------- */

static int listen_on(const char *host, int port, int *fd_out, char *url, size_t n_url, LabErr *e) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g) return lab_err(e, LAB_EINVAL, "--host %s: %s", host, gai_strerror(g));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return lab_err(e, LAB_EIO, "socket: %s", strerror(errno));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
        int err = errno;
        close(fd);
        freeaddrinfo(ai);
        return lab_err(e, LAB_EIO, "cannot listen on %s port %d: %s", host, port, strerror(err));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char a[INET6_ADDRSTRLEN] = "";
    int bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
            bound = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in->sin6_addr, a, sizeof a);
            bound = ntohs(in->sin6_port);
        }
    }
    snprintf(url, n_url, ss.ss_family == AF_INET6 ? "http://[%s]:%d/v1" : "http://%s:%d/v1", a, bound);
    *fd_out = fd;
    return 0;
}

static void cancel_all(Server *s) {
    pthread_mutex_lock(&s->mu);
    s->cancelling = true;
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].g) eng_gen_cancel(s->slots[i].g);
    pthread_mutex_unlock(&s->mu);
}

int serve_run(EngModel *const *models, int n, const ServeOpts *o, volatile sig_atomic_t *stop, LabErr *e) {
    if (n < 1 || !o->model_id || o->max_queue < 0 || o->max_body == 0)
        return lab_err(e, LAB_EINVAL, "serve: bad options (models %d, queue %d)", n, o->max_queue);
    Server s = {.o = o, .n_slots = n, .created = (long long)time(NULL), .log = o->log ? o->log : stderr};
    if (getrandom(&s.id_base, sizeof s.id_base, 0) != (ssize_t)sizeof s.id_base)
        s.id_base = (uint64_t)time(NULL) << 20;
    atomic_init(&s.n_req, 0);
    if (!(s.slots = calloc((size_t)n, sizeof *s.slots))) return lab_err(e, LAB_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) s.slots[i].m = models[i];
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    pthread_mutex_init(&s.log_mu, NULL);
    int rc = -1, fd = -1;
    char url[128];
    struct MHD_Daemon *d = NULL;
    if (listen_on(o->host ? o->host : "127.0.0.1", o->port, &fd, url, sizeof url, e)) goto done;
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                             MHD_USE_ERROR_LOG,
                         0, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s, MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)(64 + o->max_queue), MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    if (!d) {
        close(fd);
        lab_err(e, LAB_EIO, "cannot start the HTTP server on %s", url);
        goto done;
    }
    if (o->on_listen) o->on_listen(url, o->ud);
    while (!*stop) poll(NULL, 0, 100);

    pthread_mutex_lock(&s.mu);
    s.stopping = true;
    int running = s.n_busy, waiting = s.n_waiting;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_mutex_lock(&s.log_mu);
    fprintf(s.log, "ablab serve: shutting down: %d answer%s running (finishing for up to %gs; signal again to cancel), %d "
                   "queued request%s refused\n",
            running, running == 1 ? "" : "s", o->grace_s, waiting, waiting == 1 ? "" : "s");
    pthread_mutex_unlock(&s.log_mu);
    int lfd = MHD_quiesce_daemon(d); /* no new connections */
    if (lfd >= 0) close(lfd);
    double until = now_s() + o->grace_s;
    for (;;) {
        pthread_mutex_lock(&s.mu);
        int busy = s.n_busy + s.n_waiting;
        bool cancelling = s.cancelling;
        pthread_mutex_unlock(&s.mu);
        if (!busy) break;
        if (!cancelling && (*stop >= 2 || now_s() >= until)) cancel_all(&s);
        poll(NULL, 0, 20);
    }
    MHD_stop_daemon(d);
    rc = 0;
done:
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.log_mu);
    free(s.slots);
    return rc;
}
