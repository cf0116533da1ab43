/* llama2.c legacy checkpoints (karpathy/llama2.c run.c's format): 7 little-endian int32
 * {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len}, then fp32 tensors
 * token_embedding [vocab][dim], rms_att [L][dim], wq [L][dim][dim], wk [L][kv_dim][dim],
 * wv [L][kv_dim][dim], wo [L][dim][dim], rms_ffn [L][dim], w1 [L][hidden][dim], w2 [L][dim][hidden],
 * w3 [L][hidden][dim], rms_final [dim], freq_cis_real [seq_len][head_size/2], freq_cis_imag (same),
 * and wcls [vocab][dim] only when vocab_size is negative (positive: the classifier is the embedding).
 * Everything is mapped; the file size must be exactly what the header implies. */
#include <stdio.h>
#include <string.h>

#include "formats.h"

#define L2C_HEADER 28

typedef struct {
    const float *at;
} L2cCursor;

/* Takes n floats from the cursor; the total was checked against the file size beforehand. */
static const float *l2c_take(L2cCursor *c, size_t n) {
    const float *p = c->at;
    c->at += n;
    return p;
}

int llama2c_load(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e) {
    const MappedFile *mf = eng_model_map(m, path, e);
    if (!mf) return -1;
    const char *fname = path_basename(path);
    m->info.bytes_on_disk = mf->size;
    if (mf->size < L2C_HEADER)
        return lab_err(e, LAB_EFORMAT, "%s: file is %zu bytes, too short for the 28-byte llama2.c header", fname,
                       mf->size);
    int32_t h[7];
    memcpy(h, mf->data, sizeof h);
    static const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    static const int32_t limit[7] = {1 << 20, 1 << 22, 4096, 1 << 16, 1 << 16, 1 << 24, 1 << 22};
    for (int i = 0; i < 7; i++) {
        int32_t v = i == 5 && h[i] < 0 && h[i] != INT32_MIN ? -h[i] : h[i];
        if (v <= 0 || v > limit[i])
            return lab_err(e, LAB_EFORMAT, "%s: header field %s = %d is out of range [1, %d] (not a llama2.c checkpoint?)",
                           fname, names[i], h[i], limit[i]);
    }
    EngConfig *c = &m->cfg;
    c->arch = ENG_ARCH_LLAMA;
    c->dim = h[0];
    c->hidden = h[1];
    c->n_layer = h[2];
    c->n_head = h[3];
    c->n_kv_head = h[4];
    c->tied = h[5] > 0;
    c->vocab = h[5] > 0 ? h[5] : -h[5];
    c->ctx_max = h[6];
    if (c->dim % c->n_head || (c->dim / c->n_head) % 2)
        return lab_err(e, LAB_EFORMAT, "%s: dim %d does not split into %d heads of even size", fname, c->dim, c->n_head);
    if (c->n_kv_head > c->n_head || c->n_head % c->n_kv_head)
        return lab_err(e, LAB_EFORMAT, "%s: n_heads %d is not a multiple of n_kv_heads %d", fname, c->n_head,
                       c->n_kv_head);
    c->head_dim = c->dim / c->n_head;
    c->norm_eps = 1e-5f;      /* run.c's rmsnorm */
    c->rope_theta = 10000.0f;
    c->rope_interleaved = true;
    c->bos_id = 1;
    c->eos_id = 2;
    c->bos_stops = true;      /* run.c stops when the model emits BOS: it delimits stories */

    /* expected size, in floats, with every product checked */
    size_t dim = (size_t)c->dim, hid = (size_t)c->hidden, L = (size_t)c->n_layer, V = (size_t)c->vocab;
    size_t kv = (size_t)c->n_kv_head * (size_t)c->head_dim, seq = (size_t)c->ctx_max, hs = (size_t)c->head_dim;
    size_t per_layer = 2 * dim + dim * dim * 2 + kv * dim * 2 + hid * dim * 3; /* bounded by the limits above */
    size_t n = 0, t;
    bool ok = size_mul_ok(V, dim, &t) && size_add_ok(n, t, &n) && size_mul_ok(L, per_layer, &t) &&
              size_add_ok(n, t, &n) && size_add_ok(n, dim, &n) && size_mul_ok(seq, hs, &t) && size_add_ok(n, t, &n);
    if (ok && !c->tied) ok = size_mul_ok(V, dim, &t) && size_add_ok(n, t, &n);
    size_t bytes;
    if (!ok || !size_mul_ok(n, 4, &bytes) || !size_add_ok(bytes, L2C_HEADER, &bytes))
        return lab_err(e, LAB_ERANGE, "%s: the header's dimensions overflow", fname);
    if (mf->size != bytes)
        return lab_err(e, LAB_EFORMAT, "%s: file is %zu bytes but its header (dim %d, layers %d, vocab %d%s) implies %zu",
                       fname, mf->size, c->dim, c->n_layer, c->vocab, c->tied ? "" : ", own classifier", bytes);

    L2cCursor cur = {(const float *)((const char *)mf->data + L2C_HEADER)};
    m->w.layers = eng_model_alloc(m, L * sizeof *m->w.layers, false, e);
    if (!m->w.layers) return -1;
    if (eng_model_weight(m, &m->w.tok_emb, ENG_DT_F32, l2c_take(&cur, V * dim), c->vocab, c->dim, false,
                         "token_embedding_table", e))
        return -1;
    /* each kind of tensor is stored for all layers in a row (names as in llama2.c's export.py) */
    char nm[64];
    for (int kind = 0; kind < 9; kind++) {
        static const char *kname[9] = {"rms_att_weight", "wq", "wk", "wv", "wo", "rms_ffn_weight", "w1", "w2", "w3"};
        for (size_t l = 0; l < L; l++) {
            EngLayer *Ly = &m->w.layers[l];
            snprintf(nm, sizeof nm, "%s[%zu]", kname[kind], l);
            int rc = 0;
            switch (kind) {
            case 0: rc = eng_model_vec(m, &Ly->attn_norm, ENG_DT_F32, l2c_take(&cur, dim), c->dim, nm, e); break;
            case 1: rc = eng_model_weight(m, &Ly->wq, ENG_DT_F32, l2c_take(&cur, dim * dim), c->dim, c->dim, false, nm, e); break;
            case 2: rc = eng_model_weight(m, &Ly->wk, ENG_DT_F32, l2c_take(&cur, kv * dim), (int64_t)kv, c->dim, false, nm, e); break;
            case 3: rc = eng_model_weight(m, &Ly->wv, ENG_DT_F32, l2c_take(&cur, kv * dim), (int64_t)kv, c->dim, false, nm, e); break;
            case 4: rc = eng_model_weight(m, &Ly->wo, ENG_DT_F32, l2c_take(&cur, dim * dim), c->dim, c->dim, false, nm, e); break;
            case 5: rc = eng_model_vec(m, &Ly->ffn_norm, ENG_DT_F32, l2c_take(&cur, dim), c->dim, nm, e); break;
            case 6: rc = eng_model_weight(m, &Ly->w_gate, ENG_DT_F32, l2c_take(&cur, hid * dim), c->hidden, c->dim, false, nm, e); break;
            case 7: rc = eng_model_weight(m, &Ly->w_down, ENG_DT_F32, l2c_take(&cur, dim * hid), c->dim, c->hidden, false, nm, e); break;
            case 8: rc = eng_model_weight(m, &Ly->w_up, ENG_DT_F32, l2c_take(&cur, hid * dim), c->hidden, c->dim, false, nm, e); break;
            }
            if (rc) return -1;
        }
    }
    if (eng_model_vec(m, &m->w.out_norm, ENG_DT_F32, l2c_take(&cur, dim), c->dim, "rms_final_weight", e)) return -1;
    l2c_take(&cur, seq * hs); /* freq_cis_real + freq_cis_imag: recomputed, as run.c does */
    if (c->tied) m->w.lm_head = m->w.tok_emb;
    else if (eng_model_weight(m, &m->w.lm_head, ENG_DT_F32, l2c_take(&cur, V * dim), c->vocab, c->dim, false, "wcls", e))
        return -1;
    (void)o;
    return 0;
}
