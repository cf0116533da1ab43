/* Used only while this tree has no tokenizer (engine/tokenizer.c): models load and run from ids;
 * text in or out is refused with a clear message. engine/meson.build picks tokens.c instead as
 * soon as the tokenizer is there. */
#include "model.h"

int eng_model_load_tokenizer(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e) {
    (void)path; (void)o; (void)e;
    m->info.tokenizer_kind = "none";
    return 0;
}

int eng_tokenize(const EngModel *m, const char *text, bool add_special, IntVec *ids, LabErr *e) {
    (void)text; (void)add_special; (void)ids;
    return lab_err(e, LAB_EUNSUPPORTED, "%s: this ablab was built without a tokenizer: use token ids", m->name);
}

int eng_detokenize(const EngModel *m, const int *ids, size_t n, Buf *out, LabErr *e) {
    (void)ids; (void)n; (void)out;
    return lab_err(e, LAB_EUNSUPPORTED, "%s: this ablab was built without a tokenizer: use token ids", m->name);
}

const char *eng_token_str(const EngModel *m, int id) { (void)m; (void)id; return NULL; }

void tok_free(Tokenizer *t) { (void)t; }
TokStream *tok_stream_new(const Tokenizer *t) { (void)t; return NULL; }
int tok_stream_push(TokStream *s, int id, Buf *out, LabErr *e) { (void)s; (void)id; (void)out; (void)e; return 0; }
int tok_stream_flush(TokStream *s, Buf *out, LabErr *e) { (void)s; (void)out; (void)e; return 0; }
void tok_stream_free(TokStream *s) { (void)s; }
