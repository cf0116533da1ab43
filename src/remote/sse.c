/* An incremental parser of server-sent events (the WHATWG "event stream" format), a pure function
 * of the bytes fed: no I/O, no clock, so a fuzzer can check that every split of a stream gives the
 * same events as the whole (tests/fuzz/fuzz_sse.c). */
#include <stdlib.h>
#include <string.h>

#include "remote.h"

void sse_init(SseParser *p, size_t max_event) {
    memset(p, 0, sizeof *p);
    p->max_event = max_event ? max_event : (size_t)8 << 20;
}

void sse_free(SseParser *p) {
    if (!p) return;
    buf_free(&p->line);
    buf_free(&p->data);
    memset(p, 0, sizeof *p);
}

bool sse_pending(const SseParser *p) { return p->line.len > 0 || p->data.len > 0; }

/* One complete line (without its end). Returns the callback's value, 0, or -1. */
static int take_line(SseParser *p, SseEventFn fn, void *ud, LabErr *e) {
    const char *s = p->line.data ? p->line.data : "";
    size_t n = p->line.len;
    if (n == 0) { /* a blank line dispatches */
        int rc = 0;
        if (p->data.len > 0) {
            p->data.data[--p->data.len] = 0; /* the last data line's LF */
            p->n_events++;
            rc = fn(p->event[0] ? p->event : "message", p->data.data, p->data.len, ud);
        }
        buf_clear(&p->data);
        p->event[0] = 0;
        return rc;
    }
    if (s[0] == ':') return 0; /* a comment (servers send them as keep-alives) */
    const char *colon = memchr(s, ':', n);
    size_t fl = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vl = (size_t)(s + n - v);
    if (vl && v[0] == ' ') {
        v++;
        vl--;
    }
    if (fl == 4 && !memcmp(s, "data", 4)) {
        if (p->data.len + vl + 1 > p->max_event)
            return lab_err(e, LAB_EFORMAT, "an event is longer than %zu bytes", p->max_event);
        if (buf_append(&p->data, v, vl) || buf_putc(&p->data, '\n')) return lab_err(e, LAB_ENOMEM, "out of memory");
    } else if (fl == 5 && !memcmp(s, "event", 5)) {
        size_t k = vl < sizeof p->event - 1 ? vl : sizeof p->event - 1;
        memcpy(p->event, v, k);
        p->event[k] = 0; /* a NUL inside ends the name the callback sees */
    }
    /* id, retry and unknown fields: ignored */
    return 0;
}

int sse_feed(SseParser *p, const char *bytes, size_t n, SseEventFn fn, void *ud, LabErr *e) {
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    size_t i = 0;
    /* a BOM is skipped only as the stream's first three bytes, however they are split */
    while (!p->started && i < n) {
        if ((unsigned char)bytes[i] == bom[p->bom]) {
            i++;
            if (++p->bom == 3) p->started = true;
            continue;
        }
        p->started = true;
        if (p->bom) { /* a partial BOM was text after all */
            if (buf_append(&p->line, bom, p->bom)) return lab_err(e, LAB_ENOMEM, "out of memory");
        }
    }
    while (i < n) {
        char c = bytes[i++];
        if (c == '\n' && p->cr) { /* the LF of a CRLF whose CR ended the line already */
            p->cr = false;
            continue;
        }
        p->cr = c == '\r';
        if (c == '\n' || c == '\r') {
            int rc = take_line(p, fn, ud, e);
            buf_clear(&p->line);
            if (rc) return rc;
            continue;
        }
        /* the rest of the line up to its end in one copy */
        size_t j = i;
        while (j < n && bytes[j] != '\n' && bytes[j] != '\r') j++;
        size_t k = j - (i - 1);
        if (p->line.len + k > p->max_event)
            return lab_err(e, LAB_EFORMAT, "a line is longer than %zu bytes", p->max_event);
        if (buf_append(&p->line, bytes + i - 1, k)) return lab_err(e, LAB_ENOMEM, "out of memory");
        i = j;
    }
    return 0;
}
