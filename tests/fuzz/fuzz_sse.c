/* The remote arm's server-sent-events parser and the OpenAI chunk reader over arbitrary bytes.
 * Beyond "no crash, no leak": the first byte picks how the rest is cut into feeds, and the events
 * (and any error) must be exactly those of feeding it whole — a server's TCP segments may split a
 * stream anywhere. Every event's data then goes through oai_chunk_parse, and the whole input
 * through the model-list and error-body readers; a prompt that is valid UTF-8 must come back out
 * of the request body unchanged. */
#include <jansson.h>

#include "fuzz.h"
#include "remote.h"

typedef struct { Buf log; } Events;

static int collect(const char *event, const char *data, size_t len, void *ud) {
    Events *ev = ud;
    if (strlen(event) >= 64) abort();           /* the name is bounded */
    if (data[len] != 0) abort();                /* NUL-terminated */
    if (buf_puts(&ev->log, event) || buf_putc(&ev->log, 0) || buf_printf(&ev->log, "%zu:", len) ||
        buf_append(&ev->log, data, len) || buf_putc(&ev->log, 0))
        abort();
    OaiChunk c;
    LabErr e = {0};
    if (oai_chunk_parse(data, len, &c, &e) == 0) {
        if (c.text && c.text_len && (c.text[c.text_len] != 0)) abort();
        if (strlen(c.finish) >= sizeof c.finish || strlen(c.error) >= sizeof c.error) abort();
        oai_chunk_clear(&c);
    } else if (!e.msg[0]) abort();                /* an error always says why */
    return 0;
}

/* Feeds data in pieces whose sizes come from seed (0 = whole); returns sse_feed's last code. */
static int run(const uint8_t *data, size_t size, unsigned seed, size_t max_event, Events *ev, bool *pending) {
    SseParser p;
    sse_init(&p, max_event);
    LabErr e = {0};
    int rc = 0;
    size_t off = 0;
    uint32_t s = seed * 2654435761u + 1;
    while (off < size && rc == 0) {
        size_t n = size - off;
        if (seed) {
            s = s * 1103515245u + 12345u;
            size_t cut = 1 + (s >> 16) % 7;   /* 1..7 bytes: every CR/LF split happens */
            if (cut < n) n = cut;
        }
        rc = sse_feed(&p, (const char *)data + off, n, collect, ev, &e);
        off += n;
    }
    if (rc == -1 && !e.msg[0]) abort();
    *pending = rc == 0 && sse_pending(&p);
    sse_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned seed = data[0];
    data++;
    size--;
    size_t max_event = seed & 1 ? 64 : 0;       /* odd seeds also exercise the size limit */
    Events whole = {0}, split = {0};
    bool pw, ps;
    int rw = run(data, size, 0, max_event, &whole, &pw);
    int rs = run(data, size, seed | 1, max_event, &split, &ps);
    if (rw != rs || pw != ps || whole.log.len != split.log.len ||
        (whole.log.len && memcmp(whole.log.data, split.log.data, whole.log.len)))
        abort();                                  /* the split changed what came out */
    buf_free(&whole.log);
    buf_free(&split.log);

    char out[256];
    LabErr e = {0};
    int pick = oai_models_pick((const char *)data, size, seed & 2 ? "m" : NULL, out, sizeof out, &e);
    if (pick >= 0 && strlen(out) >= sizeof out) abort();
    oai_error_text((const char *)data, size, out, sizeof out);
    if (strlen(out) >= sizeof out || (!utf8_valid(out, strlen(out)) && utf8_valid((const char *)data, size))) abort();

    /* the request body carries a valid prompt exactly */
    /* copied by length: the input has no terminating NUL (strndup reads past it under CI's
     * ASAN_OPTIONS=strict_string_checks=1) */
    char *prompt = malloc(size + 1);
    if (prompt) {
        memcpy(prompt, data, size);
        prompt[size] = 0;
    }
    if (prompt && strlen(prompt) == size && utf8_valid(prompt, size)) {
        RemoteRequest rq = {.prompt = prompt, .s = {.temp = 0.5, .top_p = 0.9, .max_tokens = 8, .seed = seed}};
        char *body = oai_request_json("model", &rq, &e);
        if (!body) abort();
        json_t *j = json_loads(body, 0, NULL);
        json_t *pj = json_object_get(j, "prompt");
        if (!json_is_string(pj) || strcmp(json_string_value(pj), prompt)) abort();
        json_decref(j);
        free(body);
    }
    free(prompt);
    return 0;
}
