/* The OpenAI-compatible API's JSON, both ways: request bodies from the lab's settings, and what
 * the server's stream chunks, model lists and error bodies say. Pure functions of their text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "remote.h"

static int set_new(json_t *o, const char *k, json_t *v) { return v ? json_object_set_new(o, k, v) : -1; }

char *oai_request_json(const char *model, const RemoteRequest *rq, LabErr *e) {
    json_t *o = json_object();
    int bad = !o;
    const RemoteSampling *s = &rq->s;
    if (!model || !utf8_valid(model, strlen(model))) {
        json_decref(o);
        return lab_err(e, LAB_EINVAL, "the model id is not valid UTF-8"), NULL;
    }
    bad = bad || set_new(o, "model", json_string(model));
    if (rq->chat) {
        json_t *arr = json_array();
        bad = bad || set_new(o, "messages", arr);
        for (int i = 0; !bad && i < rq->n_msgs; i++) {
            const RemoteMsg *m = &rq->msgs[i];
            if (!utf8_valid(m->content, strlen(m->content)) || !utf8_valid(m->role, strlen(m->role))) {
                json_decref(o);
                return lab_err(e, LAB_EINVAL, "message %d is not valid UTF-8", i + 1), NULL;
            }
            json_t *mo = json_pack("{s:s, s:s}", "role", m->role, "content", m->content);
            bad = !mo || json_array_append_new(arr, mo);
        }
    } else {
        const char *p = rq->prompt ? rq->prompt : "";
        if (!utf8_valid(p, strlen(p))) {
            json_decref(o);
            return lab_err(e, LAB_EINVAL, "the prompt is not valid UTF-8"), NULL;
        }
        bad = bad || set_new(o, "prompt", json_string(p));
    }
    bad = bad || set_new(o, "stream", json_true());
    json_t *so = json_pack("{s:b}", "include_usage", 1);
    bad = bad || set_new(o, "stream_options", so);
    bad = bad || set_new(o, "max_tokens", json_integer(s->max_tokens));
    bad = bad || set_new(o, "temperature", json_real(s->temp));
    if (s->top_p < 1) bad = bad || set_new(o, "top_p", json_real(s->top_p));
    if (s->top_k > 0) bad = bad || set_new(o, "top_k", json_integer(s->top_k));
    if (s->min_p > 0) bad = bad || set_new(o, "min_p", json_real(s->min_p));
    if (s->repeat_penalty != 1) { /* vLLM's name, then llama.cpp's */
        bad = bad || set_new(o, "repetition_penalty", json_real(s->repeat_penalty));
        bad = bad || set_new(o, "repeat_penalty", json_real(s->repeat_penalty));
    }
    if (s->seed >= 0) bad = bad || set_new(o, "seed", json_integer(s->seed));
    if (s->n_stop > 0) {
        json_t *st = json_array();
        bad = bad || set_new(o, "stop", st);
        for (int i = 0; !bad && i < s->n_stop; i++) bad = json_array_append_new(st, json_string(s->stop[i])) != 0;
    }
    char *out = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!out) lab_err(e, LAB_ENOMEM, "out of memory building the request");
    return out;
}

void oai_chunk_clear(OaiChunk *c) {
    if (!c) return;
    json_decref((json_t *)c->json_);
    memset(c, 0, sizeof *c);
    c->usage_prompt = c->usage_completion = -1;
}

static void copy_str(char *dst, size_t n, const char *src) {
    size_t k = strlen(src);
    if (k >= n) k = n - 1;
    memcpy(dst, src, k);
    k -= utf8_incomplete_tail((const unsigned char *)dst, k); /* a cut never splits a character */
    dst[k] = 0;
}

/* The message of an error member: an object's "message", or the string itself. */
static void error_member(json_t *err, char *out, size_t n) {
    if (json_is_string(err)) copy_str(out, n, json_string_value(err));
    else if (json_is_object(err)) {
        json_t *m = json_object_get(err, "message");
        if (json_is_string(m) && *json_string_value(m)) copy_str(out, n, json_string_value(m));
        else copy_str(out, n, "the server reported an error without a message");
    } else copy_str(out, n, "the server reported an error without a message");
}

/* A cut excerpt of untrusted text for a message: at most 48 bytes, never half a character, control
 * bytes as '?', "..." when cut. */
static void excerpt(const char *s, size_t len, char *out, size_t n) {
    size_t take = len < 48 ? len : 48;
    if (take + 4 > n) take = n > 4 ? n - 4 : 0;
    take -= utf8_incomplete_tail((const unsigned char *)s, take);
    size_t k = 0;
    for (size_t i = 0; i < take; i++) out[k++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (take < len && k + 3 < n) out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = 0;
}

int oai_chunk_parse(const char *data, size_t len, OaiChunk *c, LabErr *e) {
    memset(c, 0, sizeof *c);
    c->usage_prompt = c->usage_completion = -1;
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        c->done = true;
        return 0;
    }
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        char ex[64];
        excerpt(data, len, ex, sizeof ex);
        json_decref(root);
        if (!root)
            return lab_err(e, LAB_EFORMAT, "the server sent a stream chunk that is not JSON: '%s' (%s)", ex, je.text);
        return lab_err(e, LAB_EFORMAT, "the server sent a stream chunk that is not a JSON object: '%s'", ex);
    }
    c->json_ = root;
    json_t *err = json_object_get(root, "error");
    if (err && !json_is_null(err)) error_member(err, c->error, sizeof c->error);
    json_t *model = json_object_get(root, "model");
    if (json_is_string(model)) copy_str(c->model, sizeof c->model, json_string_value(model));
    json_t *choices = json_object_get(root, "choices");
    json_t *ch = json_is_array(choices) ? json_array_get(choices, 0) : NULL;
    if (json_is_object(ch)) {
        json_t *t = json_object_get(ch, "text");
        if (!json_is_string(t)) { /* a chat chunk's delta, or a whole (not streamed) chat answer */
            json_t *d = json_object_get(ch, "delta");
            if (!json_is_object(d)) d = json_object_get(ch, "message");
            t = json_is_object(d) ? json_object_get(d, "content") : NULL;
        }
        if (json_is_string(t)) {
            c->text = json_string_value(t);
            c->text_len = json_string_length(t);
        }
        json_t *f = json_object_get(ch, "finish_reason");
        if (json_is_string(f)) copy_str(c->finish, sizeof c->finish, json_string_value(f));
    }
    json_t *u = json_object_get(root, "usage");
    if (json_is_object(u)) {
        json_t *pt = json_object_get(u, "prompt_tokens"), *ct = json_object_get(u, "completion_tokens");
        if (json_is_integer(pt) && json_integer_value(pt) >= 0) c->usage_prompt = json_integer_value(pt);
        if (json_is_integer(ct) && json_integer_value(ct) >= 0) c->usage_completion = json_integer_value(ct);
    }
    return 0;
}

int oai_models_pick(const char *body, size_t len, const char *want, char *out, size_t n, LabErr *e) {
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
    if (!json_is_array(data)) {
        char ex[64];
        excerpt(body, len, ex, sizeof ex);
        json_decref(root);
        return lab_err(e, LAB_EFORMAT, "the model list is not {\"data\": [...]}: '%s'", ex);
    }
    Buf ids = {0};
    int rc = -2;
    for (size_t i = 0; i < json_array_size(data) && rc == -2; i++) {
        json_t *id = json_object_get(json_array_get(data, i), "id");
        if (!json_is_string(id) || !*json_string_value(id)) continue;
        const char *s = json_string_value(id);
        if (!want || !strcmp(want, s)) {
            copy_str(out, n, s);
            rc = 1;
        } else if (ids.len < 400 && (buf_puts(&ids, ids.len ? ", " : "") || buf_puts(&ids, s))) {
            rc = lab_err(e, LAB_ENOMEM, "out of memory");
        }
    }
    if (rc == -2) {
        if (!want) rc = lab_err(e, LAB_ENOTFOUND, "the server lists no model");
        else {
            copy_str(out, n, ids.data ? ids.data : "none");
            rc = 0;
        }
    }
    buf_free(&ids);
    json_decref(root);
    return rc;
}

void oai_error_text(const char *body, size_t len, char *out, size_t n) {
    out[0] = 0;
    if (n == 0) return;
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(root)) {
        json_t *m = json_object_get(root, "error");
        if (!m || json_is_null(m)) m = json_object_get(root, "message");
        if (!m || json_is_null(m)) m = json_object_get(root, "detail");
        if (m && !json_is_null(m)) {
            error_member(m, out, n);
            json_decref(root);
            return;
        }
    }
    json_decref(root);
    /* plain text: the first non-blank line */
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) i++;
    size_t j = i;
    while (j < len && body[j] != '\n' && body[j] != '\r') j++;
    excerpt(body + i, j - i, out, n);
}
