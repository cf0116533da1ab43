/* A chat template as the input (engine/chat): loaded, and when it loads, rendered over a fixed
 * conversation with and without the generation prompt, or over the messages after the marker
 * "\n\0MSG\0\n" (JSON). Whatever the template does, a render ends with text or an error, within its
 * bounds (output, iterations, macro depth, memory). */
#include "chat.h"
#include "fuzz.h"

static const char *const NAMES[] = {"bos_token", "eos_token", "unk_token"};
static const char *const VALUES[] = {"<s>", "</s>", "<unk>"};
static const char *const VAR_NAMES[] = {"enable_thinking"};
static const char *const VAR_JSON[] = {"false"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *src, *msgs;
    size_t ns, nm;
    FUZZ_SPLIT(data, size, "\n\0MSG\0\n", &src, &ns, &msgs, &nm);
    ChatTemplate *t = NULL;
    LabErr e = {0};
    if (chat_template_load(&t, (const char *)src, ns, "fuzz.jinja", &e)) {
        if (!e.msg[0]) abort(); /* a refusal always says why */
        return 0;
    }
    char *mj = NULL;
    if (nm) {
        mj = malloc(nm + 1);
        if (!mj) abort();
        memcpy(mj, msgs, nm);
        mj[nm] = 0;
    }
    static const ChatMsg conv[] = {{"system", "Be brief."}, {"user", "Hi {{ x }} \xc3\xa9"}, {"assistant", "<think>a</think>b"},
                                   {"user", "  and?  "}};
    for (int gen = 0; gen < 2; gen++) {
        ChatRenderArgs a = {.add_generation_prompt = gen, .special_names = NAMES, .special_values = VALUES, .n_special = 3,
                            .var_names = VAR_NAMES, .var_json = VAR_JSON, .n_vars = gen};
        if (mj) a.messages_json = mj;
        else {
            a.msgs = conv;
            a.n_msgs = 4;
        }
        Buf out = {0};
        LabErr re = {0};
        int rc = chat_template_render(t, &a, &out, &re);
        if (rc && !re.msg[0]) abort();
        if (out.len > (32u << 20)) abort(); /* the output bound held */
        buf_free(&out);
    }
    free(mj);
    chat_template_free(t);
    return 0;
}
