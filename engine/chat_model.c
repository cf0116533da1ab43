/* A loaded model's chat template (engine/chat/ renders it; see engine.h). */
#include <string.h>

#include "chat.h"
#include "model.h"
#include "tokenizer.h"

bool eng_chat_available(const EngModel *m) { return m->chat && m->chat->tmpl; }

const char *eng_chat_error(const EngModel *m) { return m->chat_error; }

const char *eng_model_chat_source(const EngModel *m) {
    return eng_chat_available(m) ? chat_template_source(m->chat->tmpl) : NULL;
}

int eng_chat_render(const EngModel *m, const ChatMsg *msgs, int n, bool add_generation_prompt, Buf *out, LabErr *e) {
    if (!eng_chat_available(m)) {
        if (m->chat_error) return lab_err(e, LAB_EUNSUPPORTED, "%s", m->chat_error);
        return lab_err(e, LAB_EINVAL, "%s: the model has no chat template (chat_template.jinja or tokenizer_config.json)", m->name);
    }
    return chat_setup_render(m->chat, msgs, n, add_generation_prompt, NULL, NULL, 0, out, e);
}

/* End-of-turn markers of the published templates. */
static const char *const END_OF_TURN[] = {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<|eom_id|>", "</s>", "<|endoftext|>"};

static int push_unique(IntVec *out, int id) {
    for (size_t i = 0; i < out->n; i++) if (out->v[i] == id) return 0;
    return ivec_push(out, id);
}

int eng_chat_stop_ids(const EngModel *m, IntVec *out) {
    if (!eng_chat_available(m) || !m->tok) return 0;
    const char *eos = chat_setup_special(m->chat, "eos_token");
    if (eos) {
        int id = tok_token_id(m->tok, eos, strlen(eos));
        if (id >= 0 && push_unique(out, id)) return -1;
    }
    const char *src = chat_template_source(m->chat->tmpl);
    for (size_t i = 0; i < sizeof END_OF_TURN / sizeof END_OF_TURN[0]; i++) {
        if (!strstr(src, END_OF_TURN[i]) && !(eos && strcmp(eos, END_OF_TURN[i]) == 0)) continue;
        int id = tok_token_id(m->tok, END_OF_TURN[i], strlen(END_OF_TURN[i]));
        if (id >= 0 && push_unique(out, id)) return -1;
    }
    return 0;
}
