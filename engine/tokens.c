/* The model's tokenizer: found beside the weights (or given), and the eng_* token functions. */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "tokenizer.h"

int eng_model_load_tokenizer(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e) {
    if (m->tok) { /* the format carried its vocabulary (GGUF) */
    } else if (o->tokenizer_path && *o->tokenizer_path) {
        if (tok_load_file(&m->tok, o->tokenizer_path, m->cfg.vocab, e)) return -1;
    } else if (m->info.format && !strcmp(m->info.format, "gguf")) {
        /* a GGUF without tokenizer.ggml.* (e.g. a random-weight benchmark model): ids only */
    } else {
        LabErr te = {0};
        if (tok_load_for_model(&m->tok, path, m->cfg.vocab, &te)) {
            if (te.code != LAB_ENOTFOUND) {
                if (e) *e = te;
                return -1;
            }
            m->tok = NULL; /* ids-only use: inspect and logits still work */
        }
    }
    if (!m->tok) {
        m->info.tokenizer_kind = "none";
        return 0;
    }
    if (tok_vocab_size(m->tok) > m->cfg.vocab)
        return lab_err(e, LAB_EFORMAT, "%s: tokenizer has %d tokens but the model's vocabulary is %d", tok_path(m->tok),
                       tok_vocab_size(m->tok), m->cfg.vocab);
    m->info.tokenizer_kind = tok_kind_name(m->tok);
    m->info.tokenizer_path = tok_path(m->tok);
    if (m->cfg.bos_id < 0) m->cfg.bos_id = tok_bos_id(m->tok);
    if (m->cfg.eos_id < 0) m->cfg.eos_id = tok_eos_id(m->tok);
    return 0;
}

static int need_tok(const EngModel *m, LabErr *e) {
    if (m->tok) return 0;
    return lab_err(e, LAB_ENOTFOUND, "%s: no tokenizer found beside the model (give one with --tokenizer FILE)",
                   m->name);
}

int eng_tokenize(const EngModel *m, const char *text, bool add_special, IntVec *ids, LabErr *e) {
    if (need_tok(m, e)) return -1;
    return tok_encode(m->tok, text, strlen(text), add_special, ids, e);
}

int eng_tokenize_prompt(const EngModel *m, const char *text, bool add_special, IntVec *ids, LabErr *e) {
    if (need_tok(m, e)) return -1;
    size_t ctx = (size_t)m->s.ctx, before = ids->n;
    if (tok_encode_max(m->tok, text, strlen(text), add_special, ctx, ids, e) == 0) return 0;
    if (e && e->code == LAB_ERANGE) {
        ids->n = before;
        return lab_err(e, LAB_ERANGE, "%s: the prompt has more than %zu tokens but the context holds %zu", m->name, ctx,
                       ctx);
    }
    return -1;
}

int eng_detokenize(const EngModel *m, const int *ids, size_t n, Buf *out, LabErr *e) {
    if (need_tok(m, e)) return -1;
    return tok_decode(m->tok, ids, n, out, e);
}

const char *eng_token_str(const EngModel *m, int id) { return m->tok ? tok_token_str(m->tok, id) : NULL; }
