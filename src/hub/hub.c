/* The hub client: the listing (tree API), the choice of files, and resumable verified downloads.
 * See hub.h for the hub's layout this relies on. One curl easy handle per request: requests are few
 * (a listing, then one per file) and each is long, so reusing connections would buy nothing. */
#include "hub.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

enum {
    HUB_LIST_MAX = 64 << 20,   /* a listing's JSON; the hub's pages are far smaller */
    HUB_ERRBODY_MAX = 4096,    /* what we keep of an error response's body */
    HUB_CONNECT_S = 20,
    HUB_STALL_S = 60,          /* no byte for this long: the transfer is given up (and resumable) */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

void hub_cleanup(void) { curl_global_cleanup(); }

/* ---------- one request ------------------------------------------------------------------------ */

typedef struct {
    long status;              /* of the latest response's status line (redirects included) */
    char error_code[64];      /* X-Error-Code of the latest response */
    char linked_etag[65];     /* X-Linked-Etag when it is a sha256 (a redirect to LFS storage sends it) */
    int64_t linked_size;      /* X-Linked-Size, -1 if none */
    int64_t range_start;      /* the start of Content-Range on a 206, -1 if none */
    Buf next;                 /* Link: <URL>; rel="next" (listing pages) */
    /* body: an API response into `body`, a download into `fd` (a 2xx body only) */
    Buf body;
    bool body_too_big;
    int fd;
    bool fd_truncate;         /* a 200 answered a Range request: start the file over */
    int write_errno;
    int64_t written;          /* bytes of the 2xx body written to fd */
    /* progress */
    HubProgressFn progress;
    void *ud;
    const HubFile *file;
    int64_t have;             /* bytes of the .part before this request */
    double last_ms;
} Req;

static void req_free(Req *q) {
    buf_free(&q->next);
    buf_free(&q->body);
}

static bool is_hex64(const char *s, size_t n) {
    if (n != 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* Header names are case-insensitive; HTTP/2 sends them in lowercase. Returns the value (spaces
 * trimmed, length in *vn) when `line` is header `name`, else NULL. */
static const char *header_value(const char *line, size_t n, const char *name, size_t *vn) {
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return NULL;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    *vn = (size_t)(end - v);
    return v;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud) {
    Req *q = ud;
    size_t n = size * nitems, vn;
    const char *v;
    if (n > 5 && strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', n);
        q->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        q->error_code[0] = 0;
        q->range_start = -1;
        buf_clear(&q->next);
    } else if ((v = header_value(line, n, "x-error-code", &vn))) {
        snprintf(q->error_code, sizeof q->error_code, "%.*s", (int)vn, v);
    } else if ((v = header_value(line, n, "x-linked-etag", &vn))) {
        /* quoted, sometimes weak (W/"..."): keep the hex inside */
        if (vn >= 2 && v[0] == 'W' && v[1] == '/') v += 2, vn -= 2;
        if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') v++, vn -= 2;
        if (is_hex64(v, vn)) {
            for (size_t i = 0; i < 64; i++) q->linked_etag[i] = (char)tolower((unsigned char)v[i]);
            q->linked_etag[64] = 0;
        }
    } else if ((v = header_value(line, n, "x-linked-size", &vn))) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(vn < 31 ? vn : 31), v);
        char *end;
        long long s = strtoll(tmp, &end, 10);
        if (end != tmp && s >= 0) q->linked_size = s;
    } else if ((v = header_value(line, n, "content-range", &vn))) {
        /* "bytes START-END/TOTAL" */
        if (vn > 6 && strncmp(v, "bytes ", 6) == 0) q->range_start = strtoll(v + 6, NULL, 10);
    } else if ((v = header_value(line, n, "link", &vn))) {
        /* <URL>; rel="next", possibly among other links */
        const char *end = v + vn;
        for (const char *p = v; p < end;) {
            const char *lt = memchr(p, '<', (size_t)(end - p));
            if (!lt) break;
            const char *gt = memchr(lt, '>', (size_t)(end - lt));
            if (!gt) break;
            const char *comma = memchr(gt, ',', (size_t)(end - gt));
            const char *stop = comma ? comma : end;
            size_t pn = (size_t)(stop - gt);
            bool next = false;
            for (size_t i = 0; i + 10 <= pn; i++)
                if (strncmp(gt + i, "rel=\"next\"", 10) == 0) next = true;
            if (next) {
                buf_clear(&q->next);
                buf_append(&q->next, lt + 1, (size_t)(gt - lt - 1));
            }
            p = stop + (comma ? 1 : 0);
        }
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    Req *q = ud;
    size_t n = size * nmemb;
    bool ok2xx = q->status == 200 || q->status == 206;
    if (q->fd < 0 || !ok2xx) {
        size_t limit = q->fd < 0 && ok2xx ? (size_t)HUB_LIST_MAX : (size_t)HUB_ERRBODY_MAX;
        if (q->body.len + n > limit) {
            if (q->fd < 0 && ok2xx) {
                q->body_too_big = true;
                return 0; /* stops the transfer */
            }
            return n;     /* an error body: keep its start, drop the rest */
        }
        if (buf_append(&q->body, data, n)) return 0;
        return n;
    }
    if (q->status == 200 && q->have > 0 && !q->fd_truncate) {
        /* the server ignored our Range: what we had is replaced from byte 0 */
        q->fd_truncate = true;
        if (ftruncate(q->fd, 0) || lseek(q->fd, 0, SEEK_SET) < 0) {
            q->write_errno = errno;
            return 0;
        }
        q->have = 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(q->fd, data + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            q->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    q->written += (int64_t)n;
    return n;
}

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    Req *q = ud;
    if (!q->progress || !q->file) return 0;
    double t = now_ms();
    if (t - q->last_ms < 100) return 0;
    q->last_ms = t;
    q->progress(q->ud, q->file, q->have + q->written, q->file->size, q->have);
    return 0;
}

/* Percent-encodes s for one URL path segment (so "refs/pr/1" becomes one segment, as the hub wants
 * for a revision), or, keep_slash, each segment of a path. Returns 0 or -1 (ENOMEM). */
static int url_escape(Buf *out, const char *s, bool keep_slash) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/'))
            rc = buf_putc(out, (char)*p);
        else
            rc = buf_printf(out, "%%%02X", *p);
        if (rc) return -1;
    }
    return 0;
}

static const char *endpoint_of(const HubRepo *r) { return r->endpoint && *r->endpoint ? r->endpoint : "https://huggingface.co"; }
static const char *revision_of(const HubRepo *r) { return r->revision && *r->revision ? r->revision : "main"; }

/* ENDPOINT (no trailing slash) then the parts */
static int url_base(Buf *u, const HubRepo *r) {
    const char *ep = endpoint_of(r);
    size_t n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/') n--;
    return buf_append(u, ep, n);
}

/* The host of a URL, for messages ("huggingface.co"). Into out[cap]. */
static void url_host(const char *url, char *out, size_t cap) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    snprintf(out, cap, "%.*s", (int)n, p);
}

/* Runs one GET. The caller has set q's sinks. Returns the curl code; q->status is the final one. */
static CURLcode req_run(const HubRepo *r, const char *url, Req *q, int64_t range_from, char *errbuf) {
    CURL *c = curl_easy_init();
    if (!c) return CURLE_OUT_OF_MEMORY;
    struct curl_slist *hdrs = NULL;
    Buf auth = {0};
    if (r->token && *r->token) {
        if (buf_printf(&auth, "Authorization: Bearer %s", r->token) == 0) hdrs = curl_slist_append(hdrs, auth.data);
    }
    char range[48];
    q->linked_size = -1;
    q->range_start = -1;
    errbuf[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ablab/" "0.1 (libcurl)");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* the token goes to the hub only, never to the storage host a redirect points at (libcurl
     * drops a custom Authorization header on a change of host unless told otherwise; say it) */
    curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)HUB_CONNECT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)HUB_STALL_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (q->progress) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, q);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    if (range_from > 0) {
        snprintf(range, sizeof range, "%lld-", (long long)range_from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code) q->status = code;
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    buf_free(&auth);
    return rc;
}

/* A network-level failure as a sentence the user can act on. */
static int net_error(const HubRepo *r, const char *url, CURLcode rc, const char *errbuf, LabErr *e) {
    char host[256];
    url_host(url, host, sizeof host);
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return lab_err(e, LAB_EIO, "cannot resolve %s: are you offline? (%s%s)", host, detail,
                       getenv("HF_ENDPOINT") ? "; HF_ENDPOINT points there" : "");
    case CURLE_COULDNT_RESOLVE_PROXY:
        return lab_err(e, LAB_EIO, "cannot resolve the proxy: are you offline? (%s)", detail);
    case CURLE_COULDNT_CONNECT:
        return lab_err(e, LAB_EIO, "cannot connect to %s: offline, or the server is down (%s)", host, detail);
    case CURLE_OPERATION_TIMEDOUT:
        return lab_err(e, LAB_EIO, "%s stopped answering (nothing for %d s): %s", host, HUB_STALL_S, detail);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return lab_err(e, LAB_EIO, "TLS failed with %s: %s", host, detail);
    default:
        return lab_err(e, LAB_EIO, "%s: %s", host, detail);
    }
}

/* An HTTP error status as a sentence; `file` is NULL for the listing. */
static int http_error(const HubRepo *r, const Req *q, const char *file, LabErr *e) {
    const char *ep = endpoint_of(r), *rev = revision_of(r), *code = q->error_code;
    bool token = r->token && *r->token;
    long st = q->status;
    if (strcmp(code, "GatedRepo") == 0 || (st == 403 && !*code))
        return lab_err(e, LAB_EINVAL,
                       token ? "%s is gated and HF_TOKEN's account has no access yet (HTTP %ld): accept its conditions at %s/%s, then run again"
                             : "%s is gated (HTTP %ld): accept its conditions at %s/%s while logged in, then set HF_TOKEN to an access token "
                               "(https://huggingface.co/settings/tokens) and run again",
                       r->repo, st, ep, r->repo);
    if (st == 401 || st == 403) {
        if (token)
            return lab_err(e, LAB_EINVAL, "%s: HF_TOKEN was refused (HTTP %ld%s%s): check that the token is valid and can read this repository",
                           r->repo, st, *code ? ", " : "", code);
        return lab_err(e, LAB_EINVAL, "%s: not found on %s, or private (HTTP %ld%s%s): check the name; for a private or gated "
                       "repository set HF_TOKEN to an access token", r->repo, ep, st, *code ? ", " : "", code);
    }
    if (st == 404) {
        if (strcmp(code, "RevisionNotFound") == 0)
            return lab_err(e, LAB_ENOTFOUND, "%s has no revision '%s' (HTTP 404): give a branch, tag or commit as %s@REVISION",
                           r->repo, rev, r->repo);
        if (file && (strcmp(code, "EntryNotFound") == 0 || !*code))
            return lab_err(e, LAB_ENOTFOUND, "%s@%s has no file '%s' (HTTP 404)", r->repo, rev, file);
        return lab_err(e, LAB_ENOTFOUND, "repository %s not found on %s (HTTP 404%s%s)", r->repo, ep, *code ? ", " : "", code);
    }
    if (st == 416)
        return lab_err(e, LAB_EIO, "%s: the server refused to resume (HTTP 416)", file ? file : r->repo);
    return lab_err(e, LAB_EIO, "%s answered HTTP %ld for %s%s%s", ep, st, file ? file : "the file list of ", file ? "" : r->repo,
                   st == 429 ? " (too many requests: wait a minute and run again)" : st >= 500 ? " (a server error: run again later)" : "");
}

/* The first fault of a JSON request to the hub (the commit of a revision, a page of the file
 * list): an answer over HUB_LIST_MAX (`what` names it), a network error, a status other than 200.
 * 0 when its body can be read. */
static int json_req_fault(const HubRepo *r, const Req *q, CURLcode cr, const char *errbuf, const char *url,
                          const char *what, LabErr *e) {
    if (q->body_too_big) return lab_err(e, LAB_EFORMAT, "%s: %s is larger than %d MiB", url, what, HUB_LIST_MAX >> 20);
    if (cr != CURLE_OK) return net_error(r, url, cr, errbuf, e);
    if (q->status != 200) return http_error(r, q, NULL, e);
    return 0;
}

/* ---------- the listing ------------------------------------------------------------------------ */

void hub_list_free(HubList *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->v[i].path);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* A path from the listing becomes a file name under the caller's folder: it must stay there. */
static bool safe_name(const char *p) {
    if (!*p || strchr(p, '/') || strchr(p, '\\') || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) return false;
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20) return false;
    return true;
}

static int parse_page(const char *json, size_t len, const char *url, HubList *out, LabErr *e) {
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root) return lab_err(e, LAB_EFORMAT, "%s: the file list is not JSON (line %d: %s)", url, je.line, je.text);
    int rc = 0;
    if (!json_is_array(root)) {
        rc = lab_err(e, LAB_EFORMAT, "%s: the file list is not a JSON array", url);
        goto done;
    }
    size_t i;
    json_t *it;
    json_array_foreach(root, i, it) {
        const char *type = json_string_value(json_object_get(it, "type"));
        const char *path = json_string_value(json_object_get(it, "path"));
        json_t *size = json_object_get(it, "size");
        if (!type || !path) {
            rc = lab_err(e, LAB_EFORMAT, "%s: entry %zu has no \"type\" or \"path\"", url, i);
            goto done;
        }
        if (strcmp(type, "file") != 0) continue;       /* folders: ablab loads what is at the top */
        if (strchr(path, '/')) continue;               /* a recursive listing's deeper files */
        if (!safe_name(path)) {
            rc = lab_err(e, LAB_EFORMAT, "%s: entry %zu has the unusable file name '%s'", url, i, path);
            goto done;
        }
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            rc = lab_err(e, LAB_EFORMAT, "%s: '%s' has no valid \"size\"", url, path);
            goto done;
        }
        HubFile f = {.size = json_integer_value(size)};
        const char *git = json_string_value(json_object_get(it, "oid"));
        if (git && strlen(git) < sizeof f.oid) snprintf(f.oid, sizeof f.oid, "%s", git);
        json_t *lfs = json_object_get(it, "lfs");
        if (json_is_object(lfs)) {
            const char *oid = json_string_value(json_object_get(lfs, "oid"));
            json_t *ls = json_object_get(lfs, "size");
            if (!oid || !is_hex64(oid, strlen(oid))) {
                rc = lab_err(e, LAB_EFORMAT, "%s: '%s' is in LFS but its \"lfs.oid\" is not a sha256", url, path);
                goto done;
            }
            if (json_is_integer(ls) && json_integer_value(ls) != f.size) {
                rc = lab_err(e, LAB_EFORMAT, "%s: '%s' has size %lld but lfs.size %lld", url, path, (long long)f.size,
                             (long long)json_integer_value(ls));
                goto done;
            }
            f.lfs = true;
            for (int k = 0; k < 64; k++) f.sha256[k] = (char)tolower((unsigned char)oid[k]);
            f.sha256[64] = 0;
            memcpy(f.oid, f.sha256, sizeof f.oid);
        }
        HubFile *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
        if (!nv || !(f.path = strdup(path))) {
            if (nv) out->v = nv;
            rc = lab_err(e, LAB_ENOMEM, "out of memory reading the file list");
            goto done;
        }
        out->v = nv;
        out->v[out->n++] = f;
    }
done:
    json_decref(root);
    return rc;
}

int hub_commit(const HubRepo *r, char sha[41], LabErr *e) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return lab_err(e, LAB_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    Buf url = {0};
    if (url_base(&url, r) || buf_puts(&url, "/api/models/") || url_escape(&url, r->repo, true) || buf_puts(&url, "/revision/") ||
        url_escape(&url, revision_of(r), false)) {
        buf_free(&url);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    Req q = {.fd = -1};
    char errbuf[CURL_ERROR_SIZE];
    CURLcode cr = req_run(r, url.data, &q, 0, errbuf);
    int rc = json_req_fault(r, &q, cr, errbuf, url.data, "the answer", e);
    if (rc == 0) {
        json_error_t je;
        json_t *o = json_loadb(q.body.data ? q.body.data : "", q.body.len, 0, &je);
        const char *s = json_string_value(json_object_get(o, "sha"));
        bool ok = s && strlen(s) == 40;
        for (int i = 0; ok && i < 40; i++) ok = isxdigit((unsigned char)s[i]);
        if (!o)
            rc = lab_err(e, LAB_EFORMAT, "%s: the answer is not JSON (line %d: %s)", url.data, je.line, je.text);
        else if (!ok)
            rc = lab_err(e, LAB_EFORMAT, "%s: the answer has no commit (\"sha\": 40 hex digits)", url.data);
        else
            for (int i = 0; i <= 40; i++) sha[i] = (char)tolower((unsigned char)s[i]);
        json_decref(o);
    }
    req_free(&q);
    buf_free(&url);
    return rc;
}

int hub_list(const HubRepo *r, HubList *out, LabErr *e) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return lab_err(e, LAB_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    memset(out, 0, sizeof *out);
    Buf url = {0};
    if (url_base(&url, r) || buf_puts(&url, "/api/models/") || url_escape(&url, r->repo, true) || buf_puts(&url, "/tree/") ||
        url_escape(&url, revision_of(r), false))
        return lab_err(e, LAB_ENOMEM, "out of memory");
    int rc = 0;
    for (int page = 0; url.data && page < 1000; page++) {
        Req q = {.fd = -1, .linked_size = -1};
        char errbuf[CURL_ERROR_SIZE];
        CURLcode cr = req_run(r, url.data, &q, 0, errbuf);
        rc = json_req_fault(r, &q, cr, errbuf, url.data, "the file list", e);
        if (rc == 0) rc = parse_page(q.body.data ? q.body.data : "", q.body.len, url.data, out, e);
        buf_free(&url);
        if (rc == 0 && q.next.len) url = q.next, q.next = (Buf){0};
        req_free(&q);
        if (rc) break;
    }
    buf_free(&url);
    if (rc) hub_list_free(out);
    return rc;
}

/* ---------- choosing the files ------------------------------------------------------------------ */

static const char *const always_files[] = {
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
    "merges.txt", "tokenizer.model", "special_tokens_map.json", NULL,
};

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcasecmp(s + n - k, suf) == 0;
}

static bool is_always(const char *p) {
    for (int i = 0; always_files[i]; i++)
        if (strcmp(p, always_files[i]) == 0) return true;
    return false;
}

int hub_select(const HubList *all, const char *const *include, int n_include, IntVec *sel, Buf *note, LabErr *e) {
    sel->n = 0;
    int n_st = 0, n_st_main = 0;
    for (size_t i = 0; i < all->n; i++) {
        const char *p = all->v[i].path;
        if (ends_with(p, ".safetensors")) {
            n_st++;
            if (strncmp(p, "consolidated", 12) != 0) n_st_main++;
        }
    }
    for (size_t i = 0; i < all->n; i++)
        if (is_always(all->v[i].path) && ivec_push(sel, (int)i)) return lab_err(e, LAB_ENOMEM, "out of memory");
    size_t n_always = sel->n;

    if (n_include > 0) {
        for (int k = 0; k < n_include; k++) {
            bool any = false;
            for (size_t i = 0; i < all->n; i++) {
                if (fnmatch(include[k], all->v[i].path, 0) != 0) continue;
                any = true;
                bool dup = false;
                for (size_t j = 0; j < sel->n; j++) dup |= sel->v[j] == (int)i;
                if (!dup && ivec_push(sel, (int)i)) return lab_err(e, LAB_ENOMEM, "out of memory");
            }
            if (!any) {
                Buf l = {0};
                for (size_t i = 0; i < all->n && i < 40; i++) buf_printf(&l, "%s%s", i ? ", " : "", all->v[i].path);
                int rc = lab_err(e, LAB_EINVAL, "--include '%s' matches no file; the repository has: %s%s", include[k],
                                 l.data ? l.data : "(nothing)", all->n > 40 ? ", ..." : "");
                buf_free(&l);
                return rc;
            }
        }
        return 0;
    }

    if (n_st > 0) {
        /* Mistral's repositories ship the weights twice (consolidated.safetensors for their own
         * code, model-*.safetensors for transformers): take the transformers copy only. */
        for (size_t i = 0; i < all->n; i++) {
            const char *p = all->v[i].path;
            bool st = ends_with(p, ".safetensors") && (n_st_main == 0 || strncmp(p, "consolidated", 12) != 0);
            if ((st || ends_with(p, ".safetensors.index.json")) && ivec_push(sel, (int)i))
                return lab_err(e, LAB_ENOMEM, "out of memory");
        }
        return 0;
    }

    int n_gguf = 0, pick = -1, q8 = -1, first = -1;
    for (size_t i = 0; i < all->n; i++) {
        const char *p = all->v[i].path;
        if (!ends_with(p, ".gguf")) continue;
        n_gguf++;
        if (first < 0) first = (int)i;
        if (pick < 0 && strcasestr(p, "q4_k_m")) pick = (int)i;
        if (q8 < 0 && strcasestr(p, "q8_0")) q8 = (int)i;
    }
    if (n_gguf > 0) {
        if (pick < 0) pick = q8;
        if (pick < 0 && n_gguf == 1) pick = first;
        if (pick < 0) {
            Buf l = {0};
            for (size_t i = 0; i < all->n; i++)
                if (ends_with(all->v[i].path, ".gguf")) buf_printf(&l, "\n  %s", all->v[i].path);
            int rc = lab_err(e, LAB_EINVAL, "the repository has %d GGUF files and none is Q4_K_M or Q8_0: pick one with --include NAME%s",
                             n_gguf, l.data ? l.data : "");
            buf_free(&l);
            return rc;
        }
        if (ivec_push(sel, pick)) return lab_err(e, LAB_ENOMEM, "out of memory");
        if (note && n_gguf > 1)
            buf_printf(note, "the repository has %d GGUF files; taking %s (another with --include '*Q8_0.gguf' or its name)",
                       n_gguf, all->v[pick].path);
        return 0;
    }

    Buf l = {0};
    for (size_t i = 0; i < all->n && i < 40; i++) buf_printf(&l, "%s%s", i ? ", " : "", all->v[i].path);
    int rc = lab_err(e, LAB_ENOTFOUND, "no safetensors or GGUF weights in the repository (it has: %s%s)%s: ablab loads those; "
                     "--include GLOB takes other files", l.data ? l.data : "nothing", all->n > 40 ? ", ..." : "",
                     n_always ? "" : ", and no config.json");
    buf_free(&l);
    return rc;
}

/* ---------- downloading one file ----------------------------------------------------------------- */

int hub_download(const HubRepo *r, const HubFile *f, const char *dir, const char *had_oid, HubProgressFn progress,
                 void *ud, HubOutcome *outcome, LabErr *e) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return lab_err(e, LAB_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    if (!safe_name(f->path)) return lab_err(e, LAB_EINVAL, "'%s' is not a file name ablab writes", f->path);
    char *final = path_join(dir, f->path);
    Buf part = {0}, url = {0};
    int rc = -1, fd = -1;
    Req q = {.fd = -1};
    if (!final || buf_printf(&part, "%s.part", final) ||
        url_base(&url, r) || buf_putc(&url, '/') || url_escape(&url, r->repo, true) || buf_puts(&url, "/resolve/") ||
        url_escape(&url, revision_of(r), false) || buf_putc(&url, '/') || url_escape(&url, f->path, false)) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto out;
    }
    struct stat st;
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == f->size) {
        /* only ever renamed into place after its check; but the same size may be another
         * revision's content: known by the earlier pull's record, or by hashing an LFS file */
        bool same = had_oid && f->oid[0] && strcmp(had_oid, f->oid) == 0;
        if (!same && f->lfs) {
            char got[65];
            if (progress) progress(ud, f, -1, f->size, 0);
            same = file_sha256(final, got, NULL) == 0 && strcmp(got, f->sha256) == 0;
        }
        if (same) {
            *outcome = HUB_HAD;
            if (progress) progress(ud, f, f->size, f->size, f->size);
            rc = 0;
            goto out;
        }
    }
    fd = open(part.data, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        lab_err(e, errno == ENOSPC ? LAB_EFULL : LAB_EIO, "%s: %s", part.data, strerror(errno));
        goto out;
    }
    off_t have = lseek(fd, 0, SEEK_END);
    if (have < 0) {
        lab_err(e, LAB_EIO, "%s: %s", part.data, strerror(errno));
        goto out;
    }
    if (have > f->size) { /* not this file's start (another revision's?): start over */
        if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) < 0) {
            lab_err(e, LAB_EIO, "%s: %s", part.data, strerror(errno));
            goto out;
        }
        have = 0;
    }
    q.fd = fd;
    q.have = have;
    q.progress = progress;
    q.ud = ud;
    q.file = f;
    if (have < f->size || f->size == 0) {
        char errbuf[CURL_ERROR_SIZE];
        CURLcode cr = req_run(r, url.data, &q, have, errbuf);
        if (q.write_errno) {
            int en = q.write_errno;
            if (en == ENOSPC || en == EDQUOT)
                lab_err(e, LAB_EFULL, "%s: the disk is full (%lld of %lld bytes there): free some space and run the same command "
                        "again, it resumes", part.data, (long long)(q.have + q.written), (long long)f->size);
            else
                lab_err(e, LAB_EIO, "%s: write failed: %s", part.data, strerror(en));
            goto out;
        }
        if (q.status >= 400 || (cr == CURLE_OK && q.status != 200 && q.status != 206)) {
            http_error(r, &q, f->path, e);
            goto out;
        }
        if (q.status == 206 && q.range_start != have) {
            lab_err(e, LAB_EIO, "%s: asked to resume at byte %lld, the server sent from byte %lld", f->path, (long long)have,
                    (long long)q.range_start);
            goto out;
        }
        if (cr != CURLE_OK) {
            net_error(r, url.data, cr, errbuf, e);
            lab_err_prefix(e, "%s: download stopped after %lld of %lld bytes (%s kept: run the same command again to resume)",
                           f->path, (long long)(q.have + q.written), (long long)f->size, path_basename(part.data));
            goto out;
        }
    }
    if (fsync(fd)) {
        lab_err(e, errno == ENOSPC ? LAB_EFULL : LAB_EIO, "%s: %s", part.data, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (stat(part.data, &st) != 0) {
        lab_err(e, LAB_EIO, "%s: %s", part.data, strerror(errno));
        goto out;
    }
    if (st.st_size != f->size) {
        unlink(part.data);
        lab_err(e, LAB_EFORMAT, "%s: got %lld bytes, the hub lists %lld (the partial file is deleted; run again to download it afresh)",
                f->path, (long long)st.st_size, (long long)f->size);
        goto out;
    }
    if (q.linked_size >= 0 && q.linked_size != f->size) {
        unlink(part.data);
        lab_err(e, LAB_EFORMAT, "%s: the hub's X-Linked-Size is %lld but its listing says %lld: the repository changed while "
                "pulling? (run again)", f->path, (long long)q.linked_size, (long long)f->size);
        goto out;
    }
    const char *want = f->lfs ? f->sha256 : q.linked_etag[0] ? q.linked_etag : NULL;
    if (f->lfs && q.linked_etag[0] && strcmp(q.linked_etag, f->sha256) != 0) {
        unlink(part.data);
        lab_err(e, LAB_EFORMAT, "%s: the hub's X-Linked-Etag (%s) differs from its listing's sha256 (%s): the repository changed "
                "while pulling? (run again)", f->path, q.linked_etag, f->sha256);
        goto out;
    }
    if (want) {
        if (progress) progress(ud, f, -1, f->size, 0); /* -1: checking */
        char got[65];
        if (file_sha256(part.data, got, e)) goto out;
        if (strcmp(got, want) != 0) {
            unlink(part.data);
            lab_err(e, LAB_EFORMAT, "%s: sha256 mismatch: the download has %s, the hub says %s; the file is corrupt (%s deleted: "
                    "run the same command again to download it afresh)", f->path, got, want, path_basename(part.data));
            goto out;
        }
    }
    if (rename(part.data, final) != 0) {
        lab_err(e, LAB_EIO, "renaming %s to %s: %s", part.data, final, strerror(errno));
        goto out;
    }
    *outcome = HUB_GOT;
    if (progress) progress(ud, f, f->size, f->size, q.have); /* q.have: 0 when the server ignored the range */
    rc = 0;
out:
    if (fd >= 0) close(fd);
    req_free(&q);
    buf_free(&part);
    buf_free(&url);
    free(final);
    return rc;
}
