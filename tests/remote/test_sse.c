/* The remote arm's pure parts: the server-sent-events parser (every way of splitting a stream gives
 * the same events) and the OpenAI mapping (request bodies, stream chunks, model lists, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "remote.h"

typedef struct { Buf log; int n; int stop_at; } Ev;

static int collect(const char *event, const char *data, size_t len, void *ud) {
    Ev *ev = ud;
    buf_printf(&ev->log, "[%s|", event);
    buf_append(&ev->log, data, len);
    buf_puts(&ev->log, "]");
    return ++ev->n == ev->stop_at ? 7 : 0;
}

/* All events of s fed in pieces of `step` bytes (0 = whole), as one string. */
static char *events(const char *s, size_t step, bool *pending) {
    SseParser p;
    sse_init(&p, 0);
    Ev ev = {0};
    LabErr e = {0};
    size_t n = strlen(s);
    for (size_t off = 0; off < n;) {
        size_t k = step && step < n - off ? step : n - off;
        assert_int_equal(sse_feed(&p, s + off, k, collect, &ev, &e), 0);
        off += k;
    }
    if (pending) *pending = sse_pending(&p);
    sse_free(&p);
    return ev.log.data ? buf_steal(&ev.log) : strdup("");
}

static void check_all_splits(const char *s, const char *want) {
    for (size_t step = 0; step <= strlen(s); step++) {
        char *got = events(s, step, NULL);
        if (strcmp(got, want)) fail_msg("step %zu: got '%s', want '%s'", step, got, want);
        free(got);
    }
}

static void sse_line_ends(void **st) {
    (void)st;
    const char *want = "[message|a][message|b]";
    check_all_splits("data: a\n\ndata: b\n\n", want);
    check_all_splits("data: a\r\n\r\ndata: b\r\n\r\n", want);
    check_all_splits("data: a\r\rdata: b\r\r", want);
    check_all_splits("data:a\n\ndata:b\r\n\n", want);   /* no space after the colon; mixed ends */
}

static void sse_fields(void **st) {
    (void)st;
    /* comments (keep-alives), multi-line data, names, ignored fields, a leading BOM */
    check_all_splits("\xEF\xBB\xBF: ping\n\nevent: error\nid: 3\nretry: 10\ndata: x\ndata:  y\n\n",
                     "[error|x\n y]");
    /* a blank line with no data dispatches nothing; a name does not survive to the next event */
    check_all_splits("event: a\n\ndata: z\n\n", "[message|z]");
    /* a field with no colon is the whole line as name: "data" alone adds an empty line */
    check_all_splits("data\ndata\n\n", "[message|\n]");
    /* a BOM later in the stream is text */
    check_all_splits("data: \xEF\xBB\xBFq\n\n", "[message|\xEF\xBB\xBFq]");
}

static void sse_truncated(void **st) {
    (void)st;
    bool pending;
    char *got = events("data: {\"choices\":[{\"text\":\"Hel", 3, &pending);
    assert_string_equal(got, ""); /* the open event is never dispatched */
    assert_true(pending);
    free(got);
    got = events("data: a\n", 0, &pending);
    assert_string_equal(got, "");
    assert_true(pending);
    free(got);
    got = events("data: a\n\n", 0, &pending);
    assert_false(pending);
    free(got);
}

static void sse_limits_and_stop(void **st) {
    (void)st;
    SseParser p;
    sse_init(&p, 16);
    Ev ev = {0};
    LabErr e = {0};
    assert_int_equal(sse_feed(&p, "data: 0123456789", 16, collect, &ev, &e), 0);
    assert_int_equal(sse_feed(&p, "abcdef", 6, collect, &ev, &e), -1);
    assert_non_null(strstr(e.msg, "longer than 16 bytes"));
    sse_free(&p);
    /* data lines adding up past the limit */
    sse_init(&p, 16);
    e = (LabErr){0};
    assert_int_equal(sse_feed(&p, "data: 01234567\ndata: 01234567\n", 30, collect, &ev, &e), -1);
    assert_non_null(strstr(e.msg, "an event is longer"));
    sse_free(&p);
    /* the callback's nonzero stops the feed there */
    sse_init(&p, 0);
    Ev ev2 = {.stop_at = 1};
    assert_int_equal(sse_feed(&p, "data: a\n\ndata: b\n\n", 18, collect, &ev2, &e), 7);
    assert_int_equal(ev2.n, 1);
    sse_free(&p);
    buf_free(&ev.log);
    buf_free(&ev2.log);
}

static void chunk_kinds(void **st) {
    (void)st;
    OaiChunk c;
    LabErr e = {0};
    const char *s = "{\"model\":\"m1\",\"choices\":[{\"text\":\"Hi\\u00e9\",\"finish_reason\":null}]}";
    assert_int_equal(oai_chunk_parse(s, strlen(s), &c, &e), 0);
    assert_int_equal(c.text_len, 4);
    assert_memory_equal(c.text, "Hi\xC3\xA9", 4);
    assert_string_equal(c.model, "m1");
    assert_string_equal(c.finish, "");
    oai_chunk_clear(&c);
    s = "{\"choices\":[{\"delta\":{\"content\":\" there\"},\"finish_reason\":\"length\"}],"
        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9}}";
    assert_int_equal(oai_chunk_parse(s, strlen(s), &c, &e), 0);
    assert_string_equal(c.text, " there");
    assert_string_equal(c.finish, "length");
    assert_int_equal(c.usage_prompt, 5);
    assert_int_equal(c.usage_completion, 9);
    oai_chunk_clear(&c);
    s = "{\"choices\":[],\"usage\":null}"; /* vLLM's usage-only chunk shape, and none */
    assert_int_equal(oai_chunk_parse(s, strlen(s), &c, &e), 0);
    assert_null(c.text);
    assert_int_equal(c.usage_completion, -1);
    oai_chunk_clear(&c);
    assert_int_equal(oai_chunk_parse("[DONE]", 6, &c, &e), 0);
    assert_true(c.done);
    oai_chunk_clear(&c);
    s = "{\"error\":{\"message\":\"CUDA out of memory\",\"type\":\"server_error\"}}";
    assert_int_equal(oai_chunk_parse(s, strlen(s), &c, &e), 0);
    assert_string_equal(c.error, "CUDA out of memory");
    oai_chunk_clear(&c);
    s = "{\"choices\":[{\"text\":\"x\"}";
    assert_int_equal(oai_chunk_parse(s, strlen(s), &c, &e), -1);
    assert_non_null(strstr(e.msg, "not JSON"));
    assert_non_null(strstr(e.msg, "{\"choices\""));
    assert_int_equal(oai_chunk_parse("[1,2]", 5, &c, &e), -1);
    assert_non_null(strstr(e.msg, "not a JSON object"));
}

static void request_body(void **st) {
    (void)st;
    LabErr e = {0};
    const char *stop[] = {"\n\n"};
    RemoteRequest rq = {.prompt = "Once upon", .s = {.temp = 0.7, .top_p = 1, .top_k = 0, .min_p = 0,
                        .repeat_penalty = 1, .max_tokens = 32, .seed = -1, .stop = stop, .n_stop = 1}};
    char *b = oai_request_json("gpt2", &rq, &e);
    assert_non_null(b);
    json_t *j = json_loads(b, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "gpt2");
    assert_string_equal(json_string_value(json_object_get(j, "prompt")), "Once upon");
    assert_true(json_is_true(json_object_get(j, "stream")));
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 32);
    assert_float_equal(json_real_value(json_object_get(j, "temperature")), 0.7, 1e-12);
    /* settings that are off are not sent: a server that lacks the extension never sees it */
    assert_null(json_object_get(j, "top_p"));
    assert_null(json_object_get(j, "top_k"));
    assert_null(json_object_get(j, "min_p"));
    assert_null(json_object_get(j, "repeat_penalty"));
    assert_null(json_object_get(j, "seed"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "stop"), 0)), "\n\n");
    json_decref(j);
    free(b);
    RemoteMsg msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
    rq = (RemoteRequest){.chat = true, .msgs = msgs, .n_msgs = 2,
                         .s = {.temp = 0, .top_p = 0.95, .top_k = 40, .min_p = 0.05, .repeat_penalty = 1.1,
                               .max_tokens = 8, .seed = 42}};
    b = oai_request_json("llama", &rq, &e);
    j = json_loads(b, 0, NULL);
    assert_null(json_object_get(j, "prompt"));
    json_t *m = json_object_get(j, "messages");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "content")), "Hi");
    assert_int_equal(json_integer_value(json_object_get(j, "top_k")), 40);
    assert_float_equal(json_real_value(json_object_get(j, "min_p")), 0.05, 1e-12);
    assert_float_equal(json_real_value(json_object_get(j, "repetition_penalty")), 1.1, 1e-12);
    assert_float_equal(json_real_value(json_object_get(j, "repeat_penalty")), 1.1, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(j, "seed")), 42);
    json_decref(j);
    free(b);
    rq = (RemoteRequest){.prompt = "\xff bad"};
    assert_null(oai_request_json("m", &rq, &e));
    assert_non_null(strstr(e.msg, "UTF-8"));
}

static void models_and_errors(void **st) {
    (void)st;
    char out[128];
    LabErr e = {0};
    const char *b = "{\"object\":\"list\",\"data\":[{\"id\":\"first\"},{\"id\":\"second\"}]}";
    assert_int_equal(oai_models_pick(b, strlen(b), NULL, out, sizeof out, &e), 1);
    assert_string_equal(out, "first");
    assert_int_equal(oai_models_pick(b, strlen(b), "second", out, sizeof out, &e), 1);
    assert_string_equal(out, "second");
    assert_int_equal(oai_models_pick(b, strlen(b), "third", out, sizeof out, &e), 0);
    assert_string_equal(out, "first, second");
    assert_int_equal(oai_models_pick("{\"data\":[]}", 11, NULL, out, sizeof out, &e), -1);
    assert_non_null(strstr(e.msg, "no model"));
    assert_int_equal(oai_models_pick("<html>", 6, NULL, out, sizeof out, &e), -1);
    assert_non_null(strstr(e.msg, "<html>"));
    oai_error_text("{\"error\":{\"message\":\"Invalid API key\"}}", 39, out, sizeof out);
    assert_string_equal(out, "Invalid API key");
    oai_error_text("{\"detail\":\"Not Found\"}", 22, out, sizeof out);
    assert_string_equal(out, "Not Found");
    oai_error_text("\n  Bad gateway\nmore", 19, out, sizeof out);
    assert_string_equal(out, "Bad gateway");
    /* a cut never leaves half a character */
    char small[6];
    const char *eb = "{\"error\":\"abcd\xC3\xA9\"}";
    oai_error_text(eb, strlen(eb), small, sizeof small);
    assert_true(utf8_valid(small, strlen(small)));
    assert_string_equal(small, "abcd");
}

static void display_url(void **st) {
    (void)st;
    char out[256];
    remote_display_url("https://user:secret@api.example.com:8443/v1/?key=abc#meta/llama-3", out, sizeof out);
    assert_string_equal(out, "https://api.example.com:8443/v1#meta/llama-3");
    remote_display_url("http://127.0.0.1:8080/v1", out, sizeof out);
    assert_string_equal(out, "http://127.0.0.1:8080/v1");
    remote_display_url("models/gpt2", out, sizeof out);
    assert_string_equal(out, "");
    assert_true(remote_is_url("http://x/v1"));
    assert_false(remote_is_url("assets/models/scratch"));
    RemoteArm *a;
    LabErr e = {0};
    assert_int_equal(remote_open(&a, "http://:80/v1", NULL, &e), -1);
    assert_non_null(strstr(e.msg, "is not a server URL"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sse_line_ends),    cmocka_unit_test(sse_fields),        cmocka_unit_test(sse_truncated),
        cmocka_unit_test(sse_limits_and_stop), cmocka_unit_test(chunk_kinds),    cmocka_unit_test(request_body),
        cmocka_unit_test(models_and_errors), cmocka_unit_test(display_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
