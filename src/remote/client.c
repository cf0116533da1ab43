/* The HTTP side of a remote arm: libcurl's multi interface polled in 50 ms steps, so a cancel
 * (Esc in the lab) ends a request at once whether it is connecting, waiting for the first byte,
 * streaming or sleeping out a Retry-After. Every fault becomes one line naming the URL. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "remote.h"

struct RemoteArm {
    RemoteInfo info;
    char *base;             /* the URL as given, without "#MODEL" and trailing '/': sent to curl */
    char *auth;             /* "Authorization: Bearer KEY" or NULL */
    RemoteOpts o;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

bool remote_is_url(const char *path) {
    return path && (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8));
}

static void copy_str(char *dst, size_t n, const char *src) {
    size_t k = strlen(src);
    if (k >= n) k = n - 1;
    memcpy(dst, src, k);
    dst[k] = 0;
}

/* scheme://[user[:pass]@]host[:port]/path[?query][#model] -> its pieces (all but user and pass). */
typedef struct { char scheme[8], host[256], port[8], path[512], model[256]; bool ok; } UrlParts;

static UrlParts url_parts(const char *spec) {
    UrlParts u = {0};
    const char *p = spec;
    if (!strncmp(p, "http://", 7)) {
        strcpy(u.scheme, "http");
        p += 7;
    } else if (!strncmp(p, "https://", 8)) {
        strcpy(u.scheme, "https");
        p += 8;
    } else return u;
    const char *hash = strchr(p, '#');
    const char *end = hash ? hash : p + strlen(p);
    const char *q = memchr(p, '?', (size_t)(end - p));
    const char *pend = q ? q : end;
    const char *slash = memchr(p, '/', (size_t)(pend - p));
    const char *auth_end = slash ? slash : pend;
    /* the last '@' before the path ends the credentials */
    const char *at = NULL;
    for (const char *c = p; c < auth_end; c++)
        if (*c == '@') at = c;
    const char *h = at ? at + 1 : p;
    const char *colon = NULL;
    if (*h == '[') { /* [IPv6]:port */
        const char *rb = memchr(h, ']', (size_t)(auth_end - h));
        if (!rb) return u;
        colon = rb + 1 < auth_end && rb[1] == ':' ? rb + 1 : NULL;
    } else colon = memchr(h, ':', (size_t)(auth_end - h));
    const char *hend = colon ? colon : auth_end;
    if (hend == h || (size_t)(hend - h) >= sizeof u.host) return u;
    memcpy(u.host, h, (size_t)(hend - h));
    if (colon) {
        size_t pl = (size_t)(auth_end - colon - 1);
        if (pl == 0 || pl >= sizeof u.port) return u;
        memcpy(u.port, colon + 1, pl);
        for (size_t i = 0; i < pl; i++)
            if (u.port[i] < '0' || u.port[i] > '9') return u;
    }
    size_t pl = (size_t)(pend - auth_end);
    if (pl >= sizeof u.path) return u;
    memcpy(u.path, auth_end, pl);
    while (pl > 0 && u.path[pl - 1] == '/') u.path[--pl] = 0;
    if (hash) copy_str(u.model, sizeof u.model, hash + 1);
    u.ok = true;
    return u;
}

void remote_display_url(const char *spec, char *out, size_t n) {
    UrlParts u = url_parts(spec ? spec : "");
    if (!u.ok) {
        copy_str(out, n, "");
        return;
    }
    snprintf(out, n, "%s://%s%s%s%s%s%s", u.scheme, u.host, u.port[0] ? ":" : "", u.port, u.path,
             u.model[0] ? "#" : "", u.model);
}

/* ---------- one HTTP exchange ---------- */

typedef struct Xfer Xfer;
/* Called with the body's bytes once the status is 200 and the body is an event stream. */
typedef int (*StreamFn)(Xfer *x, const char *p, size_t n);

struct Xfer {
    RemoteArm *a;
    CURL *h;
    long status;
    bool head_seen;         /* status and type known (first body byte) */
    bool stream;            /* 200 and text/event-stream: bytes go to on_stream */
    Buf body;               /* otherwise the body (bounded) */
    size_t body_max;
    StreamFn on_stream;
    void *ud;
    const atomic_bool *cancel;
    double t_start, t_last;
    bool aborted;           /* our callback stopped the transfer: ...*/
    LabErr why;             /* ... and this says why (code LAB_OK: finished early on purpose) */
    char errbuf[CURL_ERROR_SIZE];
};

static bool cancelled(const atomic_bool *c) { return c && atomic_load(c); }

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    Xfer *x = ud;
    x->t_last = now_ms();
    (void)p;
    return size * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    Xfer *x = ud;
    size_t len = size * n;
    x->t_last = now_ms();
    if (!x->head_seen) {
        x->head_seen = true;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
        char *ct = NULL;
        curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
        x->stream = x->status == 200 && x->on_stream && ct && !strncmp(ct, "text/event-stream", 17);
    }
    if (x->stream) {
        if (x->on_stream(x, p, len)) {
            x->aborted = true;
            return 0;
        }
        return len;
    }
    if (x->body.len + len > x->body_max) {
        x->aborted = true;
        lab_err(&x->why, LAB_EFORMAT, "the server's reply is longer than %zu bytes", x->body_max);
        return 0;
    }
    if (buf_append(&x->body, p, len)) {
        x->aborted = true;
        lab_err(&x->why, LAB_ENOMEM, "out of memory");
        return 0;
    }
    return len;
}

/* The curl failure in words, after the URL. */
static int curl_fail(Xfer *x, CURLcode rc, LabErr *e) {
    const char *u = x->a->info.url;
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return lab_err(e, LAB_EIO, "%s: cannot resolve host '%s' (%s)", u, x->a->info.host, detail);
    case CURLE_COULDNT_CONNECT:
        return lab_err(e, LAB_EIO, "%s: cannot connect (%s)", u, detail);
    case CURLE_OPERATION_TIMEDOUT:
        return lab_err(e, LAB_EIO, "%s: timed out (%s)", u, detail);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return lab_err(e, LAB_EIO, "%s: TLS error (%s)", u, detail);
    case CURLE_GOT_NOTHING:
        return lab_err(e, LAB_EIO, "%s: the server closed the connection without answering", u);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return lab_err(e, LAB_EIO, "%s: the connection broke (%s)", u, detail);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return lab_err(e, LAB_EFORMAT, "%s: the reply is not HTTP (%s)", u, detail);
    default:
        return lab_err(e, LAB_EIO, "%s: %s", u, detail);
    }
}

/* Runs one request (GET when post is NULL). 0 when it completed (x->status says how) or stopped on
 * purpose (x->aborted with x->why.code LAB_OK); 1 when cancelled; -1 with e filled. */
static int perform(RemoteArm *a, const char *url, const char *post, Xfer *x, LabErr *e) {
    CURL *h = curl_easy_init();
    CURLM *m = curl_multi_init();
    x->a = a;
    struct curl_slist *hdr = NULL;
    int rc = -1;
    if (!h || !m) {
        lab_err(e, LAB_ENOMEM, "out of memory starting a request");
        goto done;
    }
    x->h = h;
    x->t_start = x->t_last = now_ms();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(a->o.connect_timeout_s * 1000));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ablab");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
    hdr = curl_slist_append(hdr, post ? "Accept: text/event-stream, application/json" : "Accept: application/json");
    if (a->auth) hdr = curl_slist_append(hdr, a->auth);
    if (post) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip for long prompts */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    }
    if (!hdr) {
        lab_err(e, LAB_ENOMEM, "out of memory starting a request");
        goto done;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    if (curl_multi_add_handle(m, h) != CURLM_OK) {
        lab_err(e, LAB_ENOMEM, "%s: cannot start the request", a->info.url);
        goto done;
    }
    CURLcode res = CURLE_OK;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            lab_err(e, LAB_EIO, "%s: the HTTP client failed", a->info.url);
            goto done;
        }
        if (!running) {
            int left;
            CURLMsg *msg = curl_multi_info_read(m, &left);
            res = msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_OK;
            break;
        }
        if (cancelled(x->cancel)) {
            rc = 1;
            goto done;
        }
        double idle = now_ms() - x->t_last;
        if (idle > a->o.stall_timeout_s * 1000) {
            lab_err(e, LAB_EIO, "%s: the server sent nothing for %.0f s (stalled; ABLAB_REMOTE_TIMEOUT sets the limit)",
                    a->info.url, idle / 1000);
            goto done;
        }
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    if (!x->head_seen) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->aborted) {
        if (x->why.code != LAB_OK) {
            *e = x->why;
            goto done;
        }
        rc = 0;
        goto done;
    }
    if (res != CURLE_OK) {
        curl_fail(x, res, e);
        goto done;
    }
    rc = 0;
done:
    if (m && h) curl_multi_remove_handle(m, h);
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
    if (h && !x->h) curl_easy_cleanup(h); /* else kept for the Retry-After look-up: xfer_free */
    return rc;
}

static void xfer_free(Xfer *x) {
    if (x->h) curl_easy_cleanup(x->h);
    x->h = NULL;
    buf_free(&x->body);
}

static const char *status_words(long s) {
    switch (s) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return s >= 500 ? "server error" : "error";
    }
}

/* The one line for an HTTP status other than 200. */
static int status_fail(RemoteArm *a, Xfer *x, const char *what, LabErr *e) {
    char msg[400];
    oai_error_text(x->body.data, x->body.len, msg, sizeof msg);
    const char *hint = "";
    if (x->status == 401 || x->status == 403)
        hint = a->auth ? " (the key from ABLAB_API_KEY or OPENAI_API_KEY was refused)"
                       : " (no API key was sent: set ABLAB_API_KEY or OPENAI_API_KEY)";
    else if (x->status == 404 && what)
        hint = what;
    return lab_err(e, x->status == 401 || x->status == 403 ? LAB_EINVAL : x->status == 404 ? LAB_ENOTFOUND : LAB_EIO,
                   "%s: %ld %s%s%s%s", a->info.url, x->status, status_words(x->status), msg[0] ? ": " : "", msg, hint);
}

/* Seconds a 429/503 asks to wait (Retry-After as seconds or an HTTP date); -1 if it says none. */
static double retry_after(Xfer *x) {
    struct curl_header *hd = NULL;
    if (!x->h || curl_easy_header(x->h, "Retry-After", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK || !hd) return -1;
    const char *v = hd->value;
    char *end;
    double s = strtod(v, &end);
    if (end != v && s >= 0) return s;
    time_t t = curl_getdate(v, NULL);
    if (t < 0) return -1;
    double d = difftime(t, time(NULL));
    return d > 0 ? d : 0;
}

/* Sleeps s seconds in 50 ms steps; 1 if cancelled meanwhile. */
static int wait_s(const atomic_bool *cancel, double s) {
    double until = now_ms() + s * 1000;
    while (now_ms() < until) {
        if (cancelled(cancel)) return 1;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* perform with the bounded 429/503 retries. Same returns as perform; on 0, x->status may be any. */
static int perform_retrying(RemoteArm *a, const char *url, const char *post, Xfer *x, int *retries, LabErr *e) {
    for (int attempt = 0;; attempt++) {
        int rc = perform(a, url, post, x, e);
        if (rc || (x->status != 429 && x->status != 503)) return rc;
        double s = retry_after(x);
        if (x->status == 503 && s < 0) return 0; /* unavailable with no hint: not retried */
        if (s < 0) s = 1.0 * (1 << attempt);     /* 429 without Retry-After: 1, 2, 4 s */
        if (attempt >= a->o.max_retries || s > a->o.max_retry_wait_s) {
            char msg[300];
            oai_error_text(x->body.data, x->body.len, msg, sizeof msg);
            if (attempt >= a->o.max_retries)
                return lab_err(e, LAB_EBUSY, "%s: %ld %s%s%s (still after %d retries)", a->info.url, x->status,
                               status_words(x->status), msg[0] ? ": " : "", msg, attempt);
            return lab_err(e, LAB_EBUSY, "%s: %ld %s%s%s (the server asks to retry after %.0f s; ablab waits at most %.0f s)",
                           a->info.url, x->status, status_words(x->status), msg[0] ? ": " : "", msg, s,
                           a->o.max_retry_wait_s);
        }
        LOG_W("%s: %ld, retrying in %.1f s (attempt %d of %d)", a->info.url, x->status, s, attempt + 1, a->o.max_retries);
        if (retries) (*retries)++;
        Xfer keep = {.on_stream = x->on_stream, .ud = x->ud, .body_max = x->body_max, .cancel = x->cancel};
        xfer_free(x);
        *x = keep;
        if (wait_s(x->cancel, s)) return 1;
    }
}

/* ---------- open ---------- */

int remote_open(RemoteArm **out, const char *spec, const RemoteOpts *o, LabErr *e) {
    *out = NULL;
    UrlParts u = url_parts(spec ? spec : "");
    if (!u.ok) return lab_err(e, LAB_EINVAL, "'%s' is not a server URL (http://HOST:PORT/v1[#MODEL])", spec ? spec : "");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return lab_err(e, LAB_EIO, "the HTTP client (libcurl) failed to start");
    RemoteArm *a = calloc(1, sizeof *a);
    if (!a) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (o) a->o = *o;
    if (a->o.connect_timeout_s <= 0) a->o.connect_timeout_s = 10;
    if (a->o.stall_timeout_s <= 0) a->o.stall_timeout_s = 120;
    const char *env_to = getenv("ABLAB_REMOTE_TIMEOUT");
    if (env_to && *env_to) {
        char *end;
        double v = strtod(env_to, &end);
        if (*end || !(v > 0) || v > 86400) {
            free(a);
            return lab_err(e, LAB_EINVAL, "ABLAB_REMOTE_TIMEOUT must be a number of seconds in (0, 86400], not '%s'", env_to);
        }
        a->o.stall_timeout_s = v;
    }
    if (a->o.max_retries == 0) a->o.max_retries = 3;
    if (a->o.max_retries < 0) a->o.max_retries = 0;
    if (a->o.max_retry_wait_s <= 0) a->o.max_retry_wait_s = 30;
    RemoteInfo *inf = &a->info;
    snprintf(inf->url, sizeof inf->url, "%s://%s%s%s%s", u.scheme, u.host, u.port[0] ? ":" : "", u.port, u.path);
    copy_str(inf->host, sizeof inf->host, u.host);
    inf->tls = !strcmp(u.scheme, "https");
    /* what curl is given keeps the credentials and query, drops the fragment and trailing '/' */
    const char *hash = strchr(spec, '#');
    size_t bl = hash ? (size_t)(hash - spec) : strlen(spec);
    while (bl > 0 && spec[bl - 1] == '/') bl--;
    a->base = strndup(spec, bl);
    const char *key = getenv("ABLAB_API_KEY");
    if (!key || !*key) key = getenv("OPENAI_API_KEY");
    if (key && *key) {
        if (strpbrk(key, "\r\n")) {
            remote_free(a);
            return lab_err(e, LAB_EINVAL, "the API key (ABLAB_API_KEY or OPENAI_API_KEY) holds a line break");
        }
        size_t n = strlen(key) + 32;
        if ((a->auth = malloc(n))) snprintf(a->auth, n, "Authorization: Bearer %s", key);
        inf->has_key = true;
    }
    if (!a->base || (inf->has_key && !a->auth)) {
        remote_free(a);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    /* the models list: reachability, the key, and which model */
    char *url = NULL;
    if (asprintf(&url, "%s/models", a->base) < 0) url = NULL;
    Xfer x = {.body_max = 4 << 20, .cancel = a->o.cancel};
    int rc = url ? perform_retrying(a, url, NULL, &x, NULL, e) : lab_err(e, LAB_ENOMEM, "out of memory");
    free(url);
    if (rc == 1) rc = lab_err(e, LAB_ECANCEL, "%s: cancelled", inf->url);
    else if (rc == 0 && x.status == 200) {
        char got[256];
        int pick = oai_models_pick(x.body.data ? x.body.data : "", x.body.len, u.model[0] ? u.model : NULL, got,
                                   sizeof got, e);
        if (pick < 0) rc = lab_err_prefix(e, "%s/models", inf->url);
        else if (pick == 0)
            rc = lab_err(e, LAB_ENOTFOUND, "%s: model '%s' is not served here (it serves: %s)", inf->url, u.model, got);
        else copy_str(inf->model, sizeof inf->model, got);
    } else if (rc == 0 && (x.status == 404 || x.status == 405) && u.model[0]) {
        /* a server without a model list: take #MODEL at its word */
        copy_str(inf->model, sizeof inf->model, u.model);
        LOG_W("%s: no model list (%ld); using '%s' as given", inf->url, x.status, u.model);
    } else if (rc == 0) {
        rc = status_fail(a, &x, x.status == 404 ? " (is the URL the API's base, ending in /v1?)" : NULL, e);
    }
    xfer_free(&x);
    if (rc) {
        remote_free(a);
        return -1;
    }
    snprintf(inf->name, sizeof inf->name, "%s @ %s%s%s", inf->model, u.host, u.port[0] ? ":" : "", u.port);
    LOG_I("remote arm %s: model '%s'%s", inf->url, inf->model, inf->has_key ? " (with an API key)" : "");
    *out = a;
    return 0;
}

void remote_free(RemoteArm *a) {
    if (!a) return;
    free(a->base);
    if (a->auth) {
        memset(a->auth, 0, strlen(a->auth)); /* the key leaves no copy behind in freed memory */
        free(a->auth);
    }
    free(a);
}

const RemoteInfo *remote_info(const RemoteArm *a) { return &a->info; }

/* ---------- generate ---------- */

typedef struct {
    SseParser sse;
    RemoteTextFn fn;
    void *ud;
    RemoteResult *res;
    double t_first, t_last_text;
    size_t text_bytes;
    bool done, user_stop;
    LabErr err;             /* why the stream was stopped, if it failed */
    const char *url;
} Gen;

static int gen_text(Gen *g, const char *t, size_t n) {
    if (!n) return 0;
    double now = now_ms();
    RemoteResult *r = g->res;
    if (g->text_bytes + n > ((size_t)64 << 20))
        return lab_err(&g->err, LAB_EFORMAT, "%s: the answer passed 64 MiB", g->url);
    g->text_bytes += n;
    if (r->n_chunks++ == 0) g->t_first = now;
    g->t_last_text = now;
    if (g->fn && g->fn(t, n, r, g->ud)) {
        g->user_stop = true;
        return 1;
    }
    return 0;
}

static int on_event(const char *event, const char *data, size_t len, void *ud) {
    Gen *g = ud;
    if (!strcmp(event, "error")) { /* some servers name their error events */
        char msg[400];
        oai_error_text(data, len, msg, sizeof msg);
        return lab_err(&g->err, LAB_EIO, "%s: the server stopped with an error: %s", g->url, msg), 1;
    }
    OaiChunk c;
    if (oai_chunk_parse(data, len, &c, &g->err)) {
        lab_err_prefix(&g->err, "%s", g->url);
        return 1;
    }
    int rc = 0;
    if (c.done) g->done = true;
    else if (c.error[0]) rc = (lab_err(&g->err, LAB_EIO, "%s: the server stopped with an error: %s", g->url, c.error), 1);
    else {
        if (c.model[0] && !g->res->served_model[0]) copy_str(g->res->served_model, sizeof g->res->served_model, c.model);
        if (c.finish[0]) copy_str(g->res->finish, sizeof g->res->finish, c.finish);
        if (c.usage_prompt >= 0) g->res->usage_prompt = c.usage_prompt;
        if (c.usage_completion >= 0) g->res->usage_completion = c.usage_completion;
        if (c.text) rc = gen_text(g, c.text, c.text_len);
    }
    oai_chunk_clear(&c);
    return rc ? 1 : g->done ? 2 : 0; /* 2: [DONE], stop reading */
}

static int gen_stream(Xfer *x, const char *p, size_t n) {
    Gen *g = x->ud;
    int rc = sse_feed(&g->sse, p, n, on_event, g, &g->err);
    if (rc == -1) lab_err_prefix(&g->err, "%s: the event stream is malformed", g->url);
    if (rc == 2) return 1; /* finished: x->why stays LAB_OK */
    if (rc) {
        x->why = g->err;
        if (g->user_stop) x->why.code = LAB_OK;
        return 1;
    }
    return 0;
}

int remote_generate(RemoteArm *a, const RemoteRequest *rq, RemoteTextFn fn, void *ud, RemoteResult *res, LabErr *e) {
    memset(res, 0, sizeof *res);
    res->usage_prompt = res->usage_completion = -1;
    char *body = oai_request_json(a->info.model, rq, e);
    if (!body) return -1;
    char *url = NULL;
    if (asprintf(&url, "%s/%s", a->base, rq->chat ? "chat/completions" : "completions") < 0) url = NULL;
    if (!url) {
        free(body);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    Gen g = {.fn = fn, .ud = ud, .res = res, .url = a->info.url};
    sse_init(&g.sse, 0);
    Xfer x = {.on_stream = gen_stream, .ud = &g, .body_max = 64 << 20, .cancel = rq->cancel};
    double t0 = now_ms();
    int rc = perform_retrying(a, url, body, &x, &res->retries, e);
    res->http_status = (int)x.status;
    res->total_ms = now_ms() - t0;
    if (res->n_chunks) {
        res->ttft_ms = g.t_first - t0;
    }
    if (rc == 1 || (rc == 0 && g.user_stop)) { /* cancelled: what came is kept */
        copy_str(res->finish, sizeof res->finish, "cancel");
        rc = 0;
    } else if (rc == 0 && x.status != 200) {
        char hint[400];
        snprintf(hint, sizeof hint, " (model '%s' or the endpoint /%s is not there)", a->info.model,
                 rq->chat ? "chat/completions" : "completions");
        rc = status_fail(a, &x, hint, e);
    } else if (rc == 0 && !x.stream) {
        /* a whole JSON answer instead of a stream (a server that does not stream) */
        OaiChunk c;
        if (oai_chunk_parse(x.body.data ? x.body.data : "", x.body.len, &c, e)) rc = lab_err_prefix(e, "%s", a->info.url);
        else if (c.error[0]) rc = lab_err(e, LAB_EIO, "%s: the server stopped with an error: %s", a->info.url, c.error);
        else if (!c.text && !c.finish[0])
            rc = lab_err(e, LAB_EFORMAT, "%s: the reply is neither an event stream nor a completion", a->info.url);
        else {
            if (c.model[0]) copy_str(res->served_model, sizeof res->served_model, c.model);
            copy_str(res->finish, sizeof res->finish, c.finish);
            res->usage_prompt = c.usage_prompt;
            res->usage_completion = c.usage_completion;
            if (c.text && c.text_len) {
                res->n_chunks = 1;
                res->ttft_ms = res->total_ms;
                if (fn) fn(c.text, c.text_len, res, ud);
            }
        }
        oai_chunk_clear(&c);
    } else if (rc == 0 && !g.done) {
        if (sse_pending(&g.sse))
            rc = lab_err(e, LAB_EIO, "%s: the stream ended inside an event, after %d pieces of the answer", a->info.url,
                         res->n_chunks);
        else if (!res->finish[0])
            rc = lab_err(e, LAB_EIO, "%s: the stream ended before the answer was complete (no [DONE] after %d pieces)",
                         a->info.url, res->n_chunks);
    }
    if (rc == -1 && res->n_chunks && strstr(e->msg, "the connection broke")) {
        char more[64];
        snprintf(more, sizeof more, " after %d pieces of the answer", res->n_chunks);
        size_t k = strlen(e->msg);
        if (k + strlen(more) < sizeof e->msg) memcpy(e->msg + k, more, strlen(more) + 1);
    }
    res->n_gen = res->usage_completion >= 0 ? (int)res->usage_completion : res->n_chunks;
    double span = g.t_last_text - g.t_first;
    res->decode_tok_s = res->n_gen > 1 && span > 0 ? (res->n_gen - 1) * 1000.0 / span : 0;
    xfer_free(&x);
    sse_free(&g.sse);
    free(body);
    free(url);
    return rc;
}
