/* Chat templates (engine/chat): every reference case of tests/fixtures/ref/chat (transformers
 * 5.17's apply_chat_template) byte for byte through the C API; templates using something outside
 * the subset refused at load with the construct and its line; the bounds of a render. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"

static const char *const REFS[] = {"llama3", "qwen3", "gemma3", "qwen2.5-instruct", "phi-3.5-mini-instruct", "phi-4",
                                   "smollm2-instruct", "mistral-7b-instruct-v0.2", "mistral-nemo-instruct-2407"};

static int render_case(const ChatTemplate *t, json_t *doc, json_t *c, Buf *out, LabErr *e) {
    const char *names[3] = {"bos_token", "eos_token", "unk_token"};
    const char *vals[3] = {json_string_value(json_object_get(doc, "bos_token")), json_string_value(json_object_get(doc, "eos_token")), "<unk>"};
    char *msgs = json_dumps(json_object_get(c, "messages"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *extra = json_object_get(c, "extra_vars");
    const char *vn[8]; const char *vj[8]; char *owned[8]; int nv = 0;
    const char *k; json_t *v;
    json_object_foreach(extra, k, v) {
        assert_true(nv < 8);
        vn[nv] = k;
        owned[nv] = json_dumps(v, JSON_ENCODE_ANY);
        vj[nv] = owned[nv];
        nv++;
    }
    ChatRenderArgs a = {.messages_json = msgs, .add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt")),
                        .special_names = names, .special_values = vals, .n_special = 3, .var_names = vn, .var_json = vj, .n_vars = nv};
    int rc = chat_template_render(t, &a, out, e);
    for (int i = 0; i < nv; i++) free(owned[i]);
    free(msgs);
    return rc;
}

static void test_references(void **state) {
    (void)state;
    const char *dir = getenv("TEST_DATA_DIR");
    assert_non_null(dir);
    int total = 0, raised = 0;
    for (size_t r = 0; r < sizeof REFS / sizeof REFS[0]; r++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/ref/chat/%s.json", dir, REFS[r]);
        json_error_t je;
        json_t *doc = json_load_file(path, 0, &je);
        if (!doc) fail_msg("%s: %s", path, je.text);
        const char *src = json_string_value(json_object_get(doc, "template"));
        ChatTemplate *t = NULL;
        LabErr e = {0};
        if (chat_template_load(&t, src, strlen(src), REFS[r], &e)) fail_msg("%s: %s", REFS[r], e.msg);
        size_t i; json_t *c;
        json_array_foreach(json_object_get(doc, "cases"), i, c) {
            Buf out = {0};
            int rc = render_case(t, doc, c, &out, &e);
            const char *id = json_string_value(json_object_get(c, "id"));
            if (json_is_true(json_object_get(c, "error"))) {
                if (rc == 0) fail_msg("%s %s: rendered where transformers raised", REFS[r], id);
                const char *want = json_string_value(json_object_get(c, "error_message"));
                if (!strstr(e.msg, want)) fail_msg("%s %s: error '%s' does not carry '%s'", REFS[r], id, e.msg, want);
                raised++;
            } else {
                if (rc) fail_msg("%s %s: %s", REFS[r], id, e.msg);
                const char *want = json_string_value(json_object_get(c, "rendered"));
                size_t wl = json_string_length(json_object_get(c, "rendered"));
                if (out.len != wl || memcmp(out.data ? out.data : "", want, wl) != 0)
                    fail_msg("%s %s: rendered\n%.*s\nwant\n%s", REFS[r], id, (int)out.len, out.data ? out.data : "", want);
            }
            buf_free(&out);
            total++;
        }
        chat_template_free(t);
        json_decref(doc);
    }
    printf("# %d reference cases equal (%d raise as transformers does)\n", total, raised);
    assert_true(total >= 280);
    assert_true(raised == 22);
}

/* Loads src; expects a refusal whose message holds every string of want (NULL-terminated). */
static void refused(const char *src, LabErrCode code, ...) {
    ChatTemplate *t = NULL;
    LabErr e = {0};
    int rc = chat_template_load(&t, src, strlen(src), "t.jinja", &e);
    if (rc == 0) { chat_template_free(t); fail_msg("loaded: %s", src); }
    assert_null(t);
    if (e.code != code) fail_msg("code %s, want %s: %s", lab_err_code_name(e.code), lab_err_code_name(code), e.msg);
    va_list ap;
    va_start(ap, code);
    const char *w;
    while ((w = va_arg(ap, const char *))) if (!strstr(e.msg, w)) fail_msg("'%s' not in '%s'", w, e.msg);
    va_end(ap);
}

static void test_refusals(void **state) {
    (void)state;
    refused("a\n{% if x %}\n{% include 'other.jinja' %}\n{% endif %}", LAB_EUNSUPPORTED, "t.jinja line 3", "'{% include %}'", NULL);
    refused("{{ messages\n | wordcount }}", LAB_EUNSUPPORTED, "line 2", "filter 'wordcount'", NULL);
    refused("\n\n\n{% if x is divisible %}{% endif %}", LAB_EUNSUPPORTED, "line 4", "test 'is divisible'", NULL);
    refused("{{ 'a {}'.format(1) }}", LAB_EUNSUPPORTED, "line 1", "method '.format()'", NULL);
    refused("{% for m in messages %}\n{{ loop.cycle('a', 'b') }}{% endfor %}", LAB_EUNSUPPORTED, "line 2", "'.cycle()'", NULL);
    refused("x\n{{ lipsum(2) }}", LAB_EUNSUPPORTED, "line 2", "function 'lipsum()'", NULL);
    refused("{% for m in messages recursive %}{% endfor %}", LAB_EUNSUPPORTED, "recursive", NULL);
    refused("{% extends 'base' %}", LAB_EUNSUPPORTED, "'{% extends %}'", NULL);
    refused("{% filter upper %}x{% endfilter %}", LAB_EUNSUPPORTED, "'{% filter %}'", NULL);
    refused("{{ f(*args) }}", LAB_EUNSUPPORTED, "*args", NULL);
    /* syntax errors name their line too */
    refused("ok\n{% if x %}\nnever closed", LAB_EFORMAT, "line 2", "endif", NULL);
    refused("{{ 'unterminated }}", LAB_EFORMAT, "unterminated string", NULL);
    refused("{{ x ]] }}", LAB_EFORMAT, "unexpected ']'", NULL);
    refused("a\nb\n{% endfor %}", LAB_EFORMAT, "line 3", "endfor", NULL);
    refused("{# never closed", LAB_EFORMAT, "comment", NULL);
    /* a macro called before it exists anywhere is an unknown function */
    refused("{{ helper(1) }}", LAB_EUNSUPPORTED, "function 'helper()'", NULL);
    /* nesting past the bound is refused at load, not a stack overflow */
    char deep[4096] = "{{ ";
    for (int i = 0; i < 600; i++) strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 600; i++) strcat(deep, ")");
    strcat(deep, " }}");
    refused(deep, LAB_ERANGE, "nested deeper", NULL);
    char nots[8192] = "{{ ";
    for (int i = 0; i < 1000; i++) strcat(nots, "not ");
    strcat(nots, "x }}");
    refused(nots, LAB_ERANGE, "nested deeper", NULL);
    refused("\xff\xfe{{ x }}", LAB_EFORMAT, "UTF-8", NULL);
}

static int render_src(const char *src, Buf *out, LabErr *e) {
    ChatTemplate *t = NULL;
    if (chat_template_load(&t, src, strlen(src), "t.jinja", e)) fail_msg("load: %s", e->msg);
    ChatMsg m[2] = {{"user", "Hi"}, {"assistant", "Hello"}};
    ChatRenderArgs a = {.msgs = m, .n_msgs = 2};
    int rc = chat_template_render(t, &a, out, e);
    chat_template_free(t);
    return rc;
}

static void test_bounds(void **state) {
    (void)state;
    struct { const char *src, *want; } cases[] = {
        {"{% for i in range(3000000) %}{% endfor %}", "loop iterations"},
        {"{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "output would exceed"},
        {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "macro calls nested deeper"},
        {"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}", "too long"},
        {"{{ 9223372036854775807 + 1 }}", "integer overflow"},
        {"line one\n{{ messages[0].content.nope.deeper }}", "line 2"},
        {"{{ 1 // 0 }}", "by zero"},
        {"{{ raise_exception('roles must alternate') }}", "template raised: roles must alternate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Buf out = {0};
        LabErr e = {0};
        int rc = render_src(cases[i].src, &out, &e);
        buf_free(&out);
        if (rc == 0) fail_msg("rendered: %s", cases[i].src);
        if (!strstr(e.msg, cases[i].want)) fail_msg("'%s' not in '%s' (%s)", cases[i].want, e.msg, cases[i].src);
    }
}

/* Messages as structs render as the same messages given as JSON; a model folder's setup gives its
 * special tokens (an AddedToken object's content) and prefers chat_template.jinja. */
static void test_setup(void **state) {
    (void)state;
    char dir[] = "/tmp/ablab-chat-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, \"eos_token\": \"</s>\", \"model_max_length\": 1000000000000000019884624838656,"
          " \"chat_template\": \"{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m['content'] }}]{% endfor %}{{ eos_token }}\"}", f);
    fclose(f);
    ChatSetup s;
    LabErr e = {0};
    if (chat_setup_load_dir(&s, dir, &e)) fail_msg("%s", e.msg);
    assert_non_null(s.tmpl);
    assert_string_equal(chat_setup_special(&s, "bos_token"), "<s>");
    ChatMsg m[2] = {{"system", "Be \"brief\"."}, {"user", "é"}};
    Buf out = {0};
    assert_int_equal(chat_setup_render(&s, m, 2, false, NULL, NULL, 0, &out, &e), 0);
    assert_string_equal(out.data, "<s>[system:Be \"brief\".][user:é]</s>");
    chat_setup_free(&s);
    buf_free(&out);
    snprintf(p, sizeof p, "%s/chat_template.jinja", dir);
    f = fopen(p, "w");
    fputs("{% for m in messages %}{{ m.content|upper }}{% endfor %}\n", f);
    fclose(f);
    if (chat_setup_load_dir(&s, dir, &e)) fail_msg("%s", e.msg);
    assert_int_equal(chat_setup_render(&s, m, 2, false, NULL, NULL, 0, &out, &e), 0);
    assert_string_equal(out.data, "BE \"BRIEF\".É");  /* the file's trailing newline dropped, as Jinja */
    chat_setup_free(&s);
    buf_free(&out);
    remove(p);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    remove(p);
    /* a folder without a template is not an error: the model is a base model */
    if (chat_setup_load_dir(&s, dir, &e)) fail_msg("%s", e.msg);
    assert_null(s.tmpl);
    chat_setup_free(&s);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
