/* Models in GGUF: loading llama.cpp's files of every family in models/families.c into
 * EngConfig/EngWeights, converting a loaded model's weights at load (--quant), and writing a loaded
 * model as GGUF (ablab convert) with the names and metadata llama.cpp reads.
 *
 * Layouts llama.cpp's converter uses, and we follow both ways:
 *   - ggml's ne[0] is the row length: a GGUF matrix [ne0 = in, ne1 = out] is our W[out][in].
 *   - llama's q/k rows are permuted for interleaved-pair RoPE (Meta's layout): we keep them and
 *     rope interleaved; when writing a rotate-half (Hugging Face) model we permute as the converter.
 *     qwen2, qwen3, gptneox, phi2 and gemma3 rotate halves and are not permuted.
 *   - gpt2's attention is one fused attn_qkv [dim, 3*dim] (Conv1D transposed to [out][in]), and
 *     output.weight is written even though it duplicates token_embd. gptneox's attn_qkv holds
 *     [all q | all k | all v] (Hugging Face interleaves them per head; the converter reorders).
 *   - Llama 3's RoPE scaling is a rope_freqs.weight tensor of per-frequency divisors; linear
 *     scaling is rope.scaling.type/factor. Gemma's norms are stored as 1 + w. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gguf.h"
#include "formats.h"
#include "quant.h"
#include "tokenizer.h"
#include "matmul.h"
#include "models.h"
#include <math.h>

_Static_assert((int)ENG_DT_F32 == (int)QT_F32 && (int)ENG_DT_F16 == (int)QT_F16 &&
                   (int)ENG_DT_BF16 == (int)QT_BF16 && (int)ENG_DT_Q8_0 == (int)QT_Q8_0,
               "EngDType and QType share their numbering");

/* ================================ loading ================================ */
typedef struct {
    EngModel *m;
    GgufFile *g;
    const char *arch;   /* "llama" or "gpt2" */
    LabErr *e;
} Ld;

/* ARCH.suffix as an int in [lo, INT_MAX]; dflt when absent (-1 = required). */
static int ld_int(Ld *L, const char *suffix, int64_t dflt, int64_t lo, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    int64_t v;
    int rc = gguf_get_i64(L->g, key, &v, L->e);
    if (rc < 0) return -1;
    if (rc == 1) {
        if (dflt < 0) return lab_err(L->e, LAB_EFORMAT, "%s: metadata key %s is missing", L->g->name, key);
        v = dflt;
    }
    if (v < lo || v > INT_MAX) return lab_err(L->e, LAB_ERANGE, "%s: %s = %lld is out of range", L->g->name, key, (long long)v);
    *out = (int)v;
    return 0;
}

static int ld_float(Ld *L, const char *suffix, float dflt, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    int rc = gguf_get_f32(L->g, key, out, L->e);
    if (rc < 0) return -1;
    if (rc == 1) *out = dflt;
    if (!(*out > 0.0f) || *out > 1e30f) return lab_err(L->e, LAB_ERANGE, "%s: %s = %g is out of range", L->g->name, key, (double)*out);
    return 0;
}

static int ggml_to_eng_dtype(int type, EngDType *dt) {
    QType q;
    if (qtype_from_ggml(type, &q)) return -1;
    *dt = (EngDType)q;
    return 0;
}

/* The tensor `name`, checked to be [rows][cols] (ne = {cols, rows}; rows 1 for vectors). NULL and
 * no error when absent and optional. */
static const GgufTensor *ld_find(Ld *L, const char *name, int64_t rows, int64_t cols, bool required, int *rc) {
    *rc = 0;
    const GgufTensor *t = gguf_find_tensor(L->g, name);
    if (!t) {
        if (required) *rc = lab_err(L->e, LAB_EFORMAT, "%s: tensor '%s' is missing", L->g->name, name);
        return NULL;
    }
    if (t->ne[0] != (uint64_t)cols || t->ne[1] != (uint64_t)rows || t->ne[2] != 1 || t->ne[3] != 1) {
        *rc = lab_err(L->e, LAB_EFORMAT, "%s: tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
                      L->g->name, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                      (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (long long)cols, (long long)rows);
        return NULL;
    }
    EngDType dt;
    if (ggml_to_eng_dtype(t->type, &dt)) {
        *rc = lab_err(L->e, LAB_EUNSUPPORTED, "%s: tensor '%s' has type %s; ablab reads f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
                      "q5_1, q2_K, q3_K, q4_K, q5_K and q6_K",
                      L->g->name, name, ggml_type_name(t->type));
        return NULL;
    }
    return t;
}

static int ld_mat(Ld *L, EngTensor *out, const char *name, int64_t rows, int64_t cols, bool required) {
    int rc;
    const GgufTensor *t = ld_find(L, name, rows, cols, required, &rc);
    if (!t) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    EngDType dt = ENG_DT_F32;
    ggml_to_eng_dtype(t->type, &dt);
    return eng_model_weight(L->m, out, dt, t->data, rows, cols, false, name, L->e);
}

static int ld_vec(Ld *L, const float **out, const char *name, int64_t n, bool required) {
    int rc;
    *out = NULL;
    const GgufTensor *t = ld_find(L, name, 1, n, required, &rc);
    if (!t) return rc;
    EngDType dt = ENG_DT_F32;
    ggml_to_eng_dtype(t->type, &dt);
    if (qtype_is_block((QType)dt))
        return lab_err(L->e, LAB_EUNSUPPORTED, "%s: vector '%s' is %s", L->g->name, name, eng_dtype_name(dt));
    return eng_model_vec(L->m, out, dt, t->data, n, name, L->e);
}

#define BLK(buf, i, suffix) (snprintf(buf, sizeof buf, "blk.%d.%s", i, suffix), buf)

/* llama, qwen2, qwen3: llama.cpp's names, with the biases and q/k norms each may carry. */
static int ld_llama(Ld *L) {
    EngModel *m = L->m;
    EngConfig *c = &m->cfg;
    const int64_t dim = c->dim, hid = c->hidden, qd = (int64_t)c->n_head * c->head_dim,
                  kvd = (int64_t)c->n_kv_head * c->head_dim;
    char nm[96];
    for (int i = 0; i < c->n_layer; i++) {
        EngLayer *y = &m->w.layers[i];
        if (ld_vec(L, &y->attn_norm, BLK(nm, i, "attn_norm.weight"), dim, true) ||
            ld_vec(L, &y->ffn_norm, BLK(nm, i, "ffn_norm.weight"), dim, true) ||
            ld_mat(L, &y->wq, BLK(nm, i, "attn_q.weight"), qd, dim, true) ||
            ld_mat(L, &y->wk, BLK(nm, i, "attn_k.weight"), kvd, dim, true) ||
            ld_mat(L, &y->wv, BLK(nm, i, "attn_v.weight"), kvd, dim, true) ||
            ld_mat(L, &y->wo, BLK(nm, i, "attn_output.weight"), dim, qd, true) ||
            ld_mat(L, &y->w_gate, BLK(nm, i, "ffn_gate.weight"), hid, dim, true) ||
            ld_mat(L, &y->w_up, BLK(nm, i, "ffn_up.weight"), hid, dim, true) ||
            ld_mat(L, &y->w_down, BLK(nm, i, "ffn_down.weight"), dim, hid, true) ||
            ld_vec(L, &y->bq, BLK(nm, i, "attn_q.bias"), qd, false) ||
            ld_vec(L, &y->bk, BLK(nm, i, "attn_k.bias"), kvd, false) ||
            ld_vec(L, &y->bv, BLK(nm, i, "attn_v.bias"), kvd, false) ||
            ld_vec(L, &y->bo, BLK(nm, i, "attn_output.bias"), dim, false) ||
            ld_vec(L, &y->q_norm, BLK(nm, i, "attn_q_norm.weight"), c->head_dim, c->arch == ENG_ARCH_QWEN3) ||
            ld_vec(L, &y->k_norm, BLK(nm, i, "attn_k_norm.weight"), c->head_dim, c->arch == ENG_ARCH_QWEN3))
            return -1;
        if ((y->bq != NULL) != (y->bk != NULL) || (y->bq != NULL) != (y->bv != NULL))
            return lab_err(L->e, LAB_EFORMAT, "%s: layer %d has some of the q/k/v biases but not all", L->g->name, i);
        if ((y->q_norm != NULL) != (y->k_norm != NULL))
            return lab_err(L->e, LAB_EFORMAT, "%s: layer %d has one of attn_q_norm/attn_k_norm but not both", L->g->name, i);
        if (c->arch == ENG_ARCH_QWEN2 && !y->bq)
            return lab_err(L->e, LAB_EFORMAT, "%s: tensor '%s' is missing (qwen2 has q/k/v biases)", L->g->name,
                           BLK(nm, i, "attn_q.bias"));
        if (y->bq) c->attn_bias = true;
        if (y->bo) c->o_bias = true;
        if (y->q_norm) c->qk_norm = true;
    }
    return ld_vec(L, &m->w.out_norm, "output_norm.weight", dim, true);
}

static int ld_gemma3(Ld *L) {
    EngModel *m = L->m;
    EngConfig *c = &m->cfg;
    const int64_t dim = c->dim, hid = c->hidden, hd = c->head_dim, qd = (int64_t)c->n_head * hd,
                  kvd = (int64_t)c->n_kv_head * hd;
    char nm[96];
    for (int i = 0; i < c->n_layer; i++) {
        EngLayer *y = &m->w.layers[i];
        /* the converter stored every norm as 1 + w, which is what the forward pass reads */
        if (ld_vec(L, &y->attn_norm, BLK(nm, i, "attn_norm.weight"), dim, true) ||
            ld_vec(L, &y->post_attn_norm, BLK(nm, i, "post_attention_norm.weight"), dim, true) ||
            ld_vec(L, &y->ffn_norm, BLK(nm, i, "ffn_norm.weight"), dim, true) ||
            ld_vec(L, &y->post_ffn_norm, BLK(nm, i, "post_ffw_norm.weight"), dim, true) ||
            ld_vec(L, &y->q_norm, BLK(nm, i, "attn_q_norm.weight"), hd, true) ||
            ld_vec(L, &y->k_norm, BLK(nm, i, "attn_k_norm.weight"), hd, true) ||
            ld_mat(L, &y->wq, BLK(nm, i, "attn_q.weight"), qd, dim, true) ||
            ld_mat(L, &y->wk, BLK(nm, i, "attn_k.weight"), kvd, dim, true) ||
            ld_mat(L, &y->wv, BLK(nm, i, "attn_v.weight"), kvd, dim, true) ||
            ld_mat(L, &y->wo, BLK(nm, i, "attn_output.weight"), dim, qd, true) ||
            ld_mat(L, &y->w_gate, BLK(nm, i, "ffn_gate.weight"), hid, dim, true) ||
            ld_mat(L, &y->w_up, BLK(nm, i, "ffn_up.weight"), hid, dim, true) ||
            ld_mat(L, &y->w_down, BLK(nm, i, "ffn_down.weight"), dim, hid, true))
            return -1;
    }
    return ld_vec(L, &m->w.out_norm, "output_norm.weight", dim, true);
}

static int ld_gptneox(Ld *L) {
    EngModel *m = L->m;
    EngConfig *c = &m->cfg;
    const int64_t dim = c->dim, hid = c->hidden;
    char nm[96];
    for (int i = 0; i < c->n_layer; i++) {
        EngLayer *y = &m->w.layers[i];
        if (ld_vec(L, &y->ln1_w, BLK(nm, i, "attn_norm.weight"), dim, true) ||
            ld_vec(L, &y->ln1_b, BLK(nm, i, "attn_norm.bias"), dim, true) ||
            ld_vec(L, &y->ln2_w, BLK(nm, i, "ffn_norm.weight"), dim, true) ||
            ld_vec(L, &y->ln2_b, BLK(nm, i, "ffn_norm.bias"), dim, true) ||
            ld_mat(L, &y->c_attn, BLK(nm, i, "attn_qkv.weight"), 3 * dim, dim, true) ||
            ld_vec(L, &y->c_attn_b, BLK(nm, i, "attn_qkv.bias"), 3 * dim, false) ||
            ld_mat(L, &y->c_proj, BLK(nm, i, "attn_output.weight"), dim, dim, true) ||
            ld_vec(L, &y->c_proj_b, BLK(nm, i, "attn_output.bias"), dim, false) ||
            ld_mat(L, &y->c_fc, BLK(nm, i, "ffn_up.weight"), hid, dim, true) ||
            ld_vec(L, &y->c_fc_b, BLK(nm, i, "ffn_up.bias"), hid, true) ||
            ld_mat(L, &y->c_fc_proj, BLK(nm, i, "ffn_down.weight"), dim, hid, true) ||
            ld_vec(L, &y->c_fc_proj_b, BLK(nm, i, "ffn_down.bias"), dim, true))
            return -1;
        if (y->c_attn_b) c->attn_bias = c->o_bias = true;
    }
    return ld_vec(L, &m->w.out_norm, "output_norm.weight", dim, true) ||
           ld_vec(L, &m->w.out_norm_b, "output_norm.bias", dim, true);
}

/* Rows [r0, r0 + rows) of a fused matrix, as a matrix of its own (the rows are contiguous). */
static int ld_rows(Ld *L, EngTensor *out, const GgufTensor *t, int64_t r0, int64_t rows, int64_t cols) {
    EngDType dt = ENG_DT_F32;
    ggml_to_eng_dtype(t->type, &dt);
    size_t rb;
    if (ggml_row_size(t->type, (uint64_t)cols, &rb)) return lab_err(L->e, LAB_EFORMAT, "%s: %s: bad row size", L->g->name, t->name);
    return eng_model_weight(L->m, out, dt, (const uint8_t *)t->data + (size_t)r0 * rb, rows, cols, false, t->name, L->e);
}

/* phi2: q/k/v as three tensors (newer converters) or one attn_qkv [q | k | v]. */
static int ld_phi2(Ld *L) {
    EngModel *m = L->m;
    EngConfig *c = &m->cfg;
    const int64_t dim = c->dim, hid = c->hidden, qd = (int64_t)c->n_head * c->head_dim,
                  kvd = (int64_t)c->n_kv_head * c->head_dim;
    char nm[96];
    for (int i = 0; i < c->n_layer; i++) {
        EngLayer *y = &m->w.layers[i];
        int rc;
        const GgufTensor *qkv = ld_find(L, BLK(nm, i, "attn_qkv.weight"), qd + 2 * kvd, dim, false, &rc);
        if (rc) return -1;
        if (qkv) {
            const GgufTensor *b = ld_find(L, BLK(nm, i, "attn_qkv.bias"), 1, qd + 2 * kvd, true, &rc);
            if (!b) return -1;
            if (b->type != GGML_TYPE_F32)
                return lab_err(L->e, LAB_EUNSUPPORTED, "%s: %s is %s (f32 expected)", L->g->name, b->name, ggml_type_name(b->type));
            const float *bd = b->data;
            if (ld_rows(L, &y->wq, qkv, 0, qd, dim) || ld_rows(L, &y->wk, qkv, qd, kvd, dim) ||
                ld_rows(L, &y->wv, qkv, qd + kvd, kvd, dim) ||
                eng_model_vec(m, &y->bq, ENG_DT_F32, bd, qd, b->name, L->e) ||
                eng_model_vec(m, &y->bk, ENG_DT_F32, bd + qd, kvd, b->name, L->e) ||
                eng_model_vec(m, &y->bv, ENG_DT_F32, bd + qd + kvd, kvd, b->name, L->e))
                return -1;
        } else if (ld_mat(L, &y->wq, BLK(nm, i, "attn_q.weight"), qd, dim, true) ||
                   ld_vec(L, &y->bq, BLK(nm, i, "attn_q.bias"), qd, true) ||
                   ld_mat(L, &y->wk, BLK(nm, i, "attn_k.weight"), kvd, dim, true) ||
                   ld_vec(L, &y->bk, BLK(nm, i, "attn_k.bias"), kvd, true) ||
                   ld_mat(L, &y->wv, BLK(nm, i, "attn_v.weight"), kvd, dim, true) ||
                   ld_vec(L, &y->bv, BLK(nm, i, "attn_v.bias"), kvd, true)) {
            return -1;
        }
        if (ld_vec(L, &y->ln1_w, BLK(nm, i, "attn_norm.weight"), dim, true) ||
            ld_vec(L, &y->ln1_b, BLK(nm, i, "attn_norm.bias"), dim, true) ||
            ld_mat(L, &y->wo, BLK(nm, i, "attn_output.weight"), dim, qd, true) ||
            ld_vec(L, &y->bo, BLK(nm, i, "attn_output.bias"), dim, true) ||
            ld_mat(L, &y->c_fc, BLK(nm, i, "ffn_up.weight"), hid, dim, true) ||
            ld_vec(L, &y->c_fc_b, BLK(nm, i, "ffn_up.bias"), hid, true) ||
            ld_mat(L, &y->c_fc_proj, BLK(nm, i, "ffn_down.weight"), dim, hid, true) ||
            ld_vec(L, &y->c_fc_proj_b, BLK(nm, i, "ffn_down.bias"), dim, true))
            return -1;
    }
    return ld_vec(L, &m->w.out_norm, "output_norm.weight", dim, true) ||
           ld_vec(L, &m->w.out_norm_b, "output_norm.bias", dim, true) ||
           ld_vec(L, &m->w.lm_head_b, "output.bias", c->vocab, false);
}

static int ld_gpt2(Ld *L) {
    EngModel *m = L->m;
    EngConfig *c = &m->cfg;
    const int64_t dim = c->dim, hid = c->hidden;
    char nm[96];
    if (ld_mat(L, &m->w.pos_emb, "position_embd.weight", c->ctx_max, dim, true)) return -1;
    for (int i = 0; i < c->n_layer; i++) {
        EngLayer *y = &m->w.layers[i];
        if (ld_vec(L, &y->ln1_w, BLK(nm, i, "attn_norm.weight"), dim, true) ||
            ld_vec(L, &y->ln1_b, BLK(nm, i, "attn_norm.bias"), dim, true) ||
            ld_vec(L, &y->ln2_w, BLK(nm, i, "ffn_norm.weight"), dim, true) ||
            ld_vec(L, &y->ln2_b, BLK(nm, i, "ffn_norm.bias"), dim, true) ||
            ld_mat(L, &y->c_attn, BLK(nm, i, "attn_qkv.weight"), 3 * dim, dim, true) ||
            ld_vec(L, &y->c_attn_b, BLK(nm, i, "attn_qkv.bias"), 3 * dim, true) ||
            ld_mat(L, &y->c_proj, BLK(nm, i, "attn_output.weight"), dim, dim, true) ||
            ld_vec(L, &y->c_proj_b, BLK(nm, i, "attn_output.bias"), dim, true) ||
            ld_mat(L, &y->c_fc, BLK(nm, i, "ffn_up.weight"), hid, dim, true) ||
            ld_vec(L, &y->c_fc_b, BLK(nm, i, "ffn_up.bias"), hid, true) ||
            ld_mat(L, &y->c_fc_proj, BLK(nm, i, "ffn_down.weight"), dim, hid, true) ||
            ld_vec(L, &y->c_fc_proj_b, BLK(nm, i, "ffn_down.bias"), dim, true))
            return -1;
    }
    return ld_vec(L, &m->w.out_norm, "output_norm.weight", dim, true) ||
           ld_vec(L, &m->w.out_norm_b, "output_norm.bias", dim, true);
}

/* An id key of tokenizer.ggml.*: -1 when absent; checked against the vocabulary. */
static int ld_tok_id(Ld *L, const char *key, int vocab, int *out) {
    int64_t v;
    int rc = gguf_get_i64(L->g, key, &v, L->e);
    *out = -1;
    if (rc < 0) return -1;
    if (rc == 1) return 0;
    if (v < 0 || v >= vocab)
        return lab_err(L->e, LAB_ERANGE, "%s: %s = %lld is outside the vocabulary of %d", L->g->name, key, (long long)v, vocab);
    *out = (int)v;
    return 0;
}


#ifdef ABLAB_HAVE_TOKENIZER
static int ld_bool(Ld *L, const char *key, bool dflt, bool *out) {
    int rc = gguf_get_bool(L->g, key, out, L->e);
    if (rc == 1) *out = dflt;
    return rc < 0 ? -1 : 0;
}

/* tokenizer.ggml.* -> tok_from_gguf */
static int ld_tokenizer(Ld *L) {
    GgufFile *g = L->g;
    EngModel *m = L->m;
    GgufStr model, pre = {0};
    int rc = gguf_get_str(g, "tokenizer.ggml.model", &model, L->e);
    if (rc < 0) return -1;
    if (rc == 1) return 0; /* no vocabulary in the file: ids-only, or --tokenizer */
    const GgufKV *toks, *scores = NULL, *types = NULL, *merges = NULL;
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, L->e)) {
        if (!gguf_find_kv(g, "tokenizer.ggml.tokens"))
            lab_err(L->e, LAB_EFORMAT, "%s: tokenizer.ggml.tokens is missing", g->name);
        return -1;
    }
    if (gguf_get_str(g, "tokenizer.ggml.pre", &pre, L->e) < 0 ||
        gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, &scores, L->e) < 0 ||
        gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &types, L->e) < 0 ||
        gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, L->e) < 0)
        return -1;
    size_t n = toks->n;
    if (n == 0 || n > (size_t)m->cfg.vocab)
        return lab_err(L->e, LAB_EFORMAT, "%s: tokenizer.ggml.tokens has %zu entries for a vocabulary of %d", g->name, n,
                       m->cfg.vocab);
    if ((scores && scores->n != n) || (types && types->n != n))
        return lab_err(L->e, LAB_EFORMAT, "%s: tokenizer.ggml.scores/token_type lengths differ from the %zu tokens",
                       g->name, n);
    char mname[32] = {0}, pname[64] = {0};
    snprintf(mname, sizeof mname, "%.*s", (int)(model.len < 31 ? model.len : 31), model.s);
    if (pre.s) snprintf(pname, sizeof pname, "%.*s", (int)(pre.len < 63 ? pre.len : 63), pre.s);
    TokGgufVocab v = {.model = mname, .pre = pre.s ? pname : NULL, .n_tokens = n, .source = g->name};
    int vocab = (int)n;
    bool is_spm = !strcmp(mname, "llama");
    if (ld_tok_id(L, "tokenizer.ggml.bos_token_id", vocab, &v.bos_id) ||
        ld_tok_id(L, "tokenizer.ggml.eos_token_id", vocab, &v.eos_id) ||
        ld_tok_id(L, "tokenizer.ggml.unknown_token_id", vocab, &v.unk_id) ||
        ld_tok_id(L, "tokenizer.ggml.padding_token_id", vocab, &v.pad_id) ||
        ld_bool(L, "tokenizer.ggml.add_bos_token", is_spm, &v.add_bos) ||
        ld_bool(L, "tokenizer.ggml.add_eos_token", false, &v.add_eos) ||
        ld_bool(L, "tokenizer.ggml.add_space_prefix", is_spm, &v.add_space_prefix))
        return -1;
    size_t nm = merges ? (size_t)merges->n : 0;
    const char **ptrs = malloc((n + nm + 1) * sizeof *ptrs);
    size_t *lens = malloc((n + nm + 1) * sizeof *lens);
    if (!ptrs || !lens) {
        free(ptrs);
        free(lens);
        return lab_err(L->e, LAB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) ptrs[i] = toks->strs[i].s, lens[i] = toks->strs[i].len;
    for (size_t i = 0; i < nm; i++) ptrs[n + i] = merges->strs[i].s, lens[n + i] = merges->strs[i].len;
    v.tokens = ptrs;
    v.token_lens = lens;
    v.merges = nm ? ptrs + n : NULL;
    v.merge_lens = nm ? lens + n : NULL;
    v.n_merges = nm;
    /* scores and token types are 4-byte values in the mapping, which may sit at any offset */
    float *sc = NULL;
    int32_t *tt = NULL;
    if (scores && (sc = malloc(n * sizeof *sc))) memcpy(sc, scores->data, n * sizeof *sc);
    if (types && (tt = malloc(n * sizeof *tt))) memcpy(tt, types->data, n * sizeof *tt);
    v.scores = sc;
    v.token_type = tt;
    if ((scores && !sc) || (types && !tt)) rc = lab_err(L->e, LAB_ENOMEM, "out of memory");
    else rc = tok_from_gguf(&m->tok, &v, L->e);
    free(sc);
    free(tt);
    free(ptrs);
    free(lens);
    if (rc) return -1;
    if (v.bos_id >= 0) m->cfg.bos_id = v.bos_id;
    if (v.eos_id >= 0) m->cfg.eos_id = v.eos_id;
    return 0;
}
#else
/* This tree has no tokenizer yet (engine/meson.build): GGUF models run from ids. */
static int ld_tokenizer(Ld *L) {
    (void)L;
    return 0;
}
#endif

/* Families whose head_dim may differ from embedding_length / head_count. */
static bool fam_has_head_dim(EngArch a) {
    return a == ENG_ARCH_LLAMA || a == ENG_ARCH_QWEN2 || a == ENG_ARCH_QWEN3 || a == ENG_ARCH_GEMMA3;
}

static int ld_arch_bool(Ld *L, const char *suffix, bool dflt, bool *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    int rc = gguf_get_bool(L->g, key, out, L->e);
    if (rc == 1) *out = dflt;
    return rc < 0 ? -1 : 0;
}

/* A float key that changes the math and that ablab does not apply: refused when set and non-zero. */
static int ld_refuse(Ld *L, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    float v = 0;
    int rc = gguf_get_f32(L->g, key, &v, L->e);
    if (rc < 0) return -1;
    if (rc == 0 && v != 0.0f)
        return lab_err(L->e, LAB_EUNSUPPORTED, "%s: %s = %g is set, which ablab does not apply to %s", L->g->name, key,
                       (double)v, L->arch);
    return 0;
}

/* RoPE scaling: rope.scaling.type none/linear (+ rope.scaling.factor), or the per-frequency
 * divisors of a rope_freqs.weight tensor (how llama.cpp's converter stores Llama 3's scaling). */
static int ld_rope_scaling(Ld *L) {
    EngConfig *c = &L->m->cfg;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->arch);
    GgufStr st;
    int rc = gguf_get_str(L->g, key, &st, L->e);
    if (rc < 0) return -1;
    if (rc == 0 && st.len == 6 && !memcmp(st.s, "linear", 6)) {
        c->rope_scaling.type = ENG_ROPE_LINEAR;
        if (ld_float(L, "rope.scaling.factor", 1.0f, &c->rope_scaling.factor)) return -1;
    } else if (rc == 0 && !(st.len == 4 && !memcmp(st.s, "none", 4))) {
        return lab_err(L->e, LAB_EUNSUPPORTED, "%s: %s is '%.*s' (ablab applies none and linear, and rope_freqs)",
                       L->g->name, key, (int)(st.len < 32 ? st.len : 32), st.s);
    }
    int half = c->rope_dim / 2;
    const GgufTensor *t = ld_find(L, "rope_freqs.weight", 1, half, false, &rc);
    if (rc) return -1;
    if (t) {
        if (c->rope_scaling.type != ENG_ROPE_DEFAULT)
            return lab_err(L->e, LAB_EUNSUPPORTED, "%s: both %s and rope_freqs.weight scale RoPE", L->g->name, key);
        if (t->type != GGML_TYPE_F32)
            return lab_err(L->e, LAB_EUNSUPPORTED, "%s: rope_freqs.weight is %s (f32 expected)", L->g->name, ggml_type_name(t->type));
        if (eng_model_vec(L->m, &c->rope_scaling.freq_factors, ENG_DT_F32, t->data, half, "rope_freqs.weight", L->e)) return -1;
        for (int j = 0; j < half; j++)
            if (!(c->rope_scaling.freq_factors[j] > 0.0f))
                return lab_err(L->e, LAB_ERANGE, "%s: rope_freqs.weight[%d] = %g is not positive", L->g->name, j,
                               (double)c->rope_scaling.freq_factors[j]);
        c->rope_scaling.type = ENG_ROPE_FACTORS;
    }
    return 0;
}

/* gemma3: the local RoPE base, the window, which layers slide, the score scale, the soft-cap. */
static int ld_gemma3_config(Ld *L) {
    EngModel *m = L->m;
    EngConfig *c = &m->cfg;
    if (ld_float(L, "rope.freq_base_swa", 10000.0f, &c->rope_theta_local) ||
        ld_int(L, "attention.sliding_window", 4096, 1, &c->sliding_window))
        return -1;
    float scale = 0, cap = 0;
    char key[128];
    snprintf(key, sizeof key, "%s.attention.scale", L->arch);
    int rc = gguf_get_f32(L->g, key, &scale, L->e);
    if (rc < 0) return -1;
    c->attn_scale = rc == 0 ? scale : 1.0f / sqrtf((float)c->head_dim); /* llama.cpp: query_pre_attn_scalar = head_dim */
    snprintf(key, sizeof key, "%s.final_logit_softcapping", L->arch);
    if ((rc = gguf_get_f32(L->g, key, &cap, L->e)) < 0) return -1;
    c->final_softcap = rc == 0 ? cap : 0.0f;
    c->embed_scale = sqrtf((float)c->dim);
    c->qk_norm = true;
    const GgufKV *pat;
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", L->arch);
    rc = gguf_get_arr(L->g, key, GGUF_TYPE_BOOL, &pat, L->e);
    if (rc < 0) return -1;
    if (rc == 0 && pat->n != (uint64_t)c->n_layer)
        return lab_err(L->e, LAB_EFORMAT, "%s: %s has %llu entries for %d layers", L->g->name, key,
                       (unsigned long long)pat->n, c->n_layer);
    for (int i = 0; i < c->n_layer; i++) /* llama.cpp's default for gemma3: five sliding, one global */
        m->w.layers[i].sliding = rc == 0 ? pat->data[i] != 0 : (i + 1) % 6 != 0;
    return 0;
}

static int ld_family(Ld *L) {
    switch (L->m->cfg.arch) {
    case ENG_ARCH_GPT2: return ld_gpt2(L);
    case ENG_ARCH_GPTNEOX: return ld_gptneox(L);
    case ENG_ARCH_PHI: return ld_phi2(L);
    case ENG_ARCH_GEMMA3: return ld_gemma3(L);
    default: return ld_llama(L);
    }
}

int gguf_load_model(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e) {
    /* the model owns the mapping, so the weights may point into it until eng_free */
    const MappedFile *mf = eng_model_map(m, path, e);
    GgufFile *g;
    if (!mf || gguf_parse(&g, mf->data, mf->size, mf->path, e)) return -1;
    Ld L = {m, g, NULL, e};
    EngConfig *c = &m->cfg;
    GgufStr arch;
    int rc = gguf_get_str(g, "general.architecture", &arch, e);
    if (rc) {
        if (rc == 1) lab_err(e, LAB_EFORMAT, "%s: general.architecture is missing", g->name);
        goto fail;
    }
    char list[128];
    const EngFamily *fam = NULL;
    for (const char *const *n = (const char *const[]){"llama", "gpt2", "qwen2", "qwen3", "gptneox", "phi2", "gemma3", NULL};
         *n && !fam; n++)
        if (arch.len == strlen(*n) && !memcmp(arch.s, *n, arch.len)) fam = eng_family_by_gguf(*n);
    if (!fam) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: architecture '%.*s' is not one ablab runs (%s)", g->name,
                (int)(arch.len < 64 ? arch.len : 64), arch.s, eng_family_list(true, list, sizeof list));
        goto fail;
    }
    L.arch = fam->gguf_arch;
    c->arch = fam->arch;
    if (ld_int(&L, "embedding_length", -1, 1, &c->dim) || ld_int(&L, "block_count", -1, 1, &c->n_layer) ||
        ld_int(&L, "context_length", -1, 1, &c->ctx_max) || ld_int(&L, "attention.head_count", -1, 1, &c->n_head))
        goto fail;
    /* block_count is only a claim: bound it by the tensors the file holds before sizing anything by
     * it (each block has at least 9 tensors in llama, 10 in phi2, 12 in gpt2 and gptneox) */
    size_t per_block = c->arch == ENG_ARCH_GPT2 || c->arch == ENG_ARCH_GPTNEOX ? 12 : c->arch == ENG_ARCH_PHI ? 10 : 9;
    if ((size_t)c->n_layer > g->n_tensors / per_block) {
        lab_err(e, LAB_EFORMAT, "%s: %s.block_count = %d but the file holds %zu tensors (a block needs %zu)", g->name,
                L.arch, c->n_layer, g->n_tensors, per_block);
        goto fail;
    }
    if (!(m->w.layers = eng_model_alloc(m, (size_t)c->n_layer * sizeof *m->w.layers, false, e))) goto fail;
    if (c->arch == ENG_ARCH_PHI) {
        /* llama.cpp's converter writes 4 x embedding_length here whatever the model has: the
         * tensor says it */
        const GgufTensor *up = gguf_find_tensor(g, "blk.0.ffn_up.weight");
        if (!up || up->ne[1] == 0 || up->ne[1] > INT_MAX) {
            lab_err(e, LAB_EFORMAT, "%s: tensor 'blk.0.ffn_up.weight' is missing", g->name);
            goto fail;
        }
        c->hidden = (int)up->ne[1];
    } else if (ld_int(&L, "feed_forward_length", c->arch == ENG_ARCH_GPT2 ? 4 * (int64_t)c->dim : -1, 1, &c->hidden)) {
        goto fail;
    }
    bool rms = c->arch != ENG_ARCH_GPT2 && c->arch != ENG_ARCH_GPTNEOX && c->arch != ENG_ARCH_PHI;
    if (c->arch == ENG_ARCH_GPT2) {
        if (c->dim % c->n_head) {
            lab_err(e, LAB_EFORMAT, "%s: embedding_length %d is not a multiple of head_count %d", g->name, c->dim, c->n_head);
            goto fail;
        }
        c->n_kv_head = c->n_head;
        c->head_dim = c->dim / c->n_head;
        if (ld_float(&L, "attention.layer_norm_epsilon", 1e-5f, &c->norm_eps)) goto fail;
    } else {
        int vl;
        if (ld_int(&L, "attention.head_count_kv", c->n_head, 1, &c->n_kv_head) ||
            ld_int(&L, "attention.key_length", c->dim / c->n_head, 1, &c->head_dim) ||
            ld_int(&L, "attention.value_length", c->head_dim, 1, &vl) ||
            ld_int(&L, "rope.dimension_count", c->head_dim, 2, &c->rope_dim) ||
            ld_float(&L, rms ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon", rms ? 1e-5f : 1e-5f,
                     &c->norm_eps) ||
            ld_float(&L, "rope.freq_base", c->arch == ENG_ARCH_GEMMA3 ? 1000000.0f : 10000.0f, &c->rope_theta))
            goto fail;
        if (!fam_has_head_dim(c->arch) && c->head_dim * c->n_head != c->dim) {
            lab_err(e, LAB_EFORMAT, "%s: key_length %d x head_count %d is not embedding_length %d", g->name, c->head_dim,
                    c->n_head, c->dim);
            goto fail;
        }
        if (vl != c->head_dim) {
            lab_err(e, LAB_EUNSUPPORTED, "%s: value_length %d differs from key_length %d", g->name, vl, c->head_dim);
            goto fail;
        }
        if (c->rope_dim != c->head_dim && c->arch != ENG_ARCH_GPTNEOX && c->arch != ENG_ARCH_PHI) {
            lab_err(e, LAB_EUNSUPPORTED, "%s: %s.rope.dimension_count %d differs from key_length %d (partial rotary is read for gptneox and phi2)",
                    g->name, L.arch, c->rope_dim, c->head_dim);
            goto fail;
        }
        if (ld_rope_scaling(&L)) goto fail;
        /* llama.cpp's llama converter permutes q/k for pairwise rotation; the other families
         * rotate halves (NEOX order) */
        c->rope_interleaved = c->arch == ENG_ARCH_LLAMA;
    }
    if (ld_refuse(&L, "attn_logit_softcapping")) goto fail;
    if (c->arch != ENG_ARCH_GEMMA3 && ld_refuse(&L, "final_logit_softcapping")) goto fail;
    if (c->arch == ENG_ARCH_GPTNEOX) {
        if (ld_arch_bool(&L, "use_parallel_residual", true, &c->parallel_residual)) goto fail;
        c->qkv_per_head = false; /* the converter reorders the fused rows to [q | k | v] */
    }
    if (c->arch == ENG_ARCH_PHI) c->attn_bias = c->o_bias = true;
    if (c->arch == ENG_ARCH_GEMMA3 && ld_gemma3_config(&L)) goto fail;
    const GgufTensor *te = gguf_find_tensor(g, "token_embd.weight");
    if (!te) {
        lab_err(e, LAB_EFORMAT, "%s: tensor 'token_embd.weight' is missing", g->name);
        goto fail;
    }
    if (te->ne[1] == 0 || te->ne[1] > INT_MAX) {
        lab_err(e, LAB_EFORMAT, "%s: token_embd.weight has %llu rows", g->name, (unsigned long long)te->ne[1]);
        goto fail;
    }
    c->vocab = (int)te->ne[1];
    /* GGUF's half-precision and Q8_0 weights are read by the kernels as they are */
    bool saved = m->convert_halves;
    if (!(o && o->quant && !strcmp(o->quant, "f32"))) m->convert_halves = false;
    rc = ld_mat(&L, &m->w.tok_emb, "token_embd.weight", c->vocab, c->dim, true) ||
         ld_family(&L) ||
         ld_mat(&L, &m->w.lm_head, "output.weight", c->vocab, c->dim, false);
    m->convert_halves = saved;
    if (rc) goto fail;
    if (!m->w.lm_head.data) {
        c->tied = true;
        m->w.lm_head = m->w.tok_emb;
    }
    {
        int bos, eos;
        if (ld_tok_id(&L, "tokenizer.ggml.bos_token_id", c->vocab, &bos) ||
            ld_tok_id(&L, "tokenizer.ggml.eos_token_id", c->vocab, &eos))
            goto fail;
        c->bos_id = bos;
        c->eos_id = eos;
    }
    if (!(o && o->tokenizer_path && *o->tokenizer_path) && ld_tokenizer(&L)) goto fail;
    /* a "q8_0" file keeps f16 for rows that are no whole number of blocks: name it by its embedding */
    snprintf(m->file_dtype, sizeof m->file_dtype, "%s", ggml_type_name(te->type));
    snprintf(m->dtype, sizeof m->dtype, "%s", eng_dtype_name(m->w.tok_emb.dt));
    gguf_close(g);
    return 0;
fail:
    gguf_close(g);
    return -1;
}

/* ================================ writing ================================ */
typedef struct {
    GgufWriter *w;
    void **bufs;
    size_t n_bufs;
    float *row;
    const EngQuantPreset *preset; /* the per-tensor rules of --quant */
    const EngConfig *cfg;
    bool has_output;              /* an output.weight is written (else the embedding is the head) */
    bool size_only;               /* eng_gguf_size: the matrices' types and shapes, no data */
    LabErr *e;
} Sv;

static void *sv_alloc(Sv *S, size_t n) {
    void **nb = realloc(S->bufs, (S->n_bufs + 1) * sizeof *nb);
    if (!nb) return NULL;
    S->bufs = nb;
    void *p = malloc(n ? n : 1);
    if (p) S->bufs[S->n_bufs++] = p;
    return p;
}

/* The source row of row r of a written tensor of n rows. perm > 0 permutes the rows of each of
 * that many heads from rotate-half to interleaved order (llama.cpp's llama permute); perm < 0 takes
 * gpt_neox's fused rows from per head [q|k|v] to [all q | all k | all v] (-perm heads), as
 * llama.cpp's converter does. */
static int64_t sv_src_row(int64_t r, int64_t n, int perm) {
    if (perm > 0) { /* new row (h, i, j) takes old row (h, j, i): pairs (2i, 2i+1) from halves */
        int64_t hd = n / perm, h = r / hd, i = (r % hd) / 2, j = r % 2;
        return h * hd + j * (hd / 2) + i;
    }
    if (perm < 0) {
        int64_t dim = n / 3, hd = dim / -perm, part = r / dim, h = (r % dim) / hd, i = r % hd;
        return h * 3 * hd + part * hd + i;
    }
    return r;
}

/* A matrix, converted to the type the preset gives it (want == ENG_DT_F32: kept F32, as
 * llama-quantize keeps position embeddings), its rows reordered by perm (sv_src_row). */
static int sv_mat(Sv *S, const char *name, const EngTensor *W, EngDType want, int perm) {
    if (!W->data) return 0;
    int layer;
    EngQuantRole role = eng_quant_role(name, &layer);
    EngDType dt = want == ENG_DT_F32 ? ENG_DT_F32 : eng_quant_pick(S->preset, role, layer, S->cfg, S->has_output, W->cols);
    size_t nb, rb;
    if (!eng_dtype_bytes(dt, W->rows, W->cols, &nb) || qtype_row_bytes((QType)dt, (size_t)W->cols, &rb))
        return lab_err(S->e, LAB_ERANGE, "%s: too large", name);
    uint8_t *dst = NULL;
    if (S->size_only) /* the writer needs the type and shape only: no quantizing */
        return gguf_w_tensor(S->w, name, qtype_to_ggml((QType)dt), 2, (uint64_t[]){(uint64_t)W->cols, (uint64_t)W->rows},
                             NULL, S->e);
    if (!(dst = sv_alloc(S, nb))) return lab_err(S->e, LAB_ENOMEM, "out of memory");
    for (int64_t r = 0; r < W->rows; r++) {
        eng_tensor_row(W, sv_src_row(r, W->rows, perm), S->row);
        quant_from_f32((QType)dt, S->row, dst + (size_t)r * rb, (size_t)W->cols);
    }
    return gguf_w_tensor(S->w, name, qtype_to_ggml((QType)dt), 2, (uint64_t[]){(uint64_t)W->cols, (uint64_t)W->rows}, dst, S->e);
}

static int sv_vec(Sv *S, const char *name, const float *v, int64_t n, int perm) {
    if (!v) return 0;
    const void *data = v;
    if (perm) {
        float *p = sv_alloc(S, (size_t)n * sizeof *p);
        if (!p) return lab_err(S->e, LAB_ENOMEM, "out of memory");
        for (int64_t r = 0; r < n; r++) p[r] = v[sv_src_row(r, n, perm)];
        data = p;
    }
    return gguf_w_tensor(S->w, name, GGML_TYPE_F32, 1, (uint64_t[]){(uint64_t)n}, data, S->e);
}

#ifdef ABLAB_HAVE_TOKENIZER
/* Merges of the source tokenizer.json ("a b" strings or [a, b] pairs) or merges.txt. */
static int sv_merges_json(const char *tokjson, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_load_file(tokjson, 0, &je);
    if (!root) return -1;
    json_t *mg = json_object_get(json_object_get(root, "model"), "merges");
    size_t k = json_is_array(mg) ? json_array_size(mg) : 0;
    char **v = k ? calloc(k, sizeof *v) : NULL;
    for (size_t i = 0; i < k && v; i++) {
        json_t *it = json_array_get(mg, i);
        if (json_is_string(it)) {
            v[i] = strdup(json_string_value(it));
        } else if (json_is_array(it) && json_array_size(it) == 2 && json_is_string(json_array_get(it, 0)) &&
                   json_is_string(json_array_get(it, 1))) {
            const char *a = json_string_value(json_array_get(it, 0)), *b = json_string_value(json_array_get(it, 1));
            if ((v[i] = malloc(strlen(a) + strlen(b) + 2))) sprintf(v[i], "%s %s", a, b);
        }
        if (!v[i]) {
            for (size_t j = 0; j < i; j++) free(v[j]);
            free(v);
            v = NULL;
            k = 0;
        }
    }
    json_decref(root);
    *out = v;
    *n = k;
    return 0;
}

static int sv_merges_txt(const char *path, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0, k = 0, vcap = 0;
    char **v = NULL;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len || !strncmp(line, "#version", 8)) continue;
        if (k == vcap) {
            vcap = vcap ? 2 * vcap : 1024;
            char **nv = realloc(v, vcap * sizeof *nv);
            if (!nv) break;
            v = nv;
        }
        if (!(v[k] = strdup(line))) break;
        k++;
    }
    free(line);
    fclose(f);
    *out = v;
    *n = k;
    return 0;
}

/* llama2.c tokenizer.bin: int32 max_token_length, then per token float score, int32 len, bytes. */
static float *sv_llama2c_scores(const char *path, int n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *s = calloc((size_t)n, sizeof *s);
    int32_t maxlen, len;
    bool ok = s && fread(&maxlen, 4, 1, f) == 1;
    for (int i = 0; i < n && ok; i++)
        ok = fread(&s[i], 4, 1, f) == 1 && fread(&len, 4, 1, f) == 1 && len >= 0 && fseek(f, len, SEEK_CUR) == 0;
    fclose(f);
    if (!ok) {
        free(s);
        return NULL;
    }
    return s;
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int sv_tokenizer(Sv *S, const EngModel *m) {
    const Tokenizer *t = m->tok;
    LabErr *e = S->e;
    if (!t) return 0; /* an ids-only model: no vocabulary to write */
    const char *tpath = tok_path(t);
    if (tok_kind(t) == TOK_KIND_SENTENCEPIECE || tok_kind(t) == TOK_KIND_UNIGRAM)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: a %s tokenizer is not written to GGUF yet (llama.cpp's 'llama' vocabulary "
                       "merges by score and would encode differently); convert with a tokenizer.json BPE", tpath, tok_kind_name(t));
    /* from a GGUF: the source's tokenizer.ggml.* verbatim */
    if (tpath && ends_with(tpath, ".gguf")) {
        GgufFile *g;
        if (gguf_open(&g, tpath, e)) return -1;
        int rc = 0;
        for (size_t i = 0; i < g->n_kv && !rc; i++)
            if (!strncmp(g->kv[i].key, "tokenizer.ggml.", 15)) rc = gguf_w_kv(S->w, &g->kv[i], e);
        gguf_close(g);
        return rc;
    }
    int n = m->cfg.vocab, nt = tok_vocab_size(t);
    bool spm = tok_kind(t) != TOK_KIND_BPE_BYTELEVEL;
    const char **toks = calloc((size_t)n, sizeof *toks);
    char **pads = calloc((size_t)n, sizeof *pads);
    int32_t *types = calloc((size_t)n, sizeof *types);
    float *scores = NULL;
    char **merges = NULL;
    size_t n_merges = 0;
    int rc = -1;
    if (!toks || !pads || !types) goto nomem;
    for (int i = 0; i < n; i++) {
        const char *s = i < nt ? tok_token_str(t, i) : NULL;
        if (!s) { /* ids past the tokenizer's vocabulary: llama.cpp's converter names them [PADi] */
            if (!(pads[i] = malloc(24))) goto nomem;
            snprintf(pads[i], 24, "[PAD%d]", i);
            s = pads[i];
            types[i] = 5; /* UNUSED */
        } else if (tok_kind(t) == TOK_KIND_LLAMA2C && strchr(s, ' ')) {
            /* llama2.c's export turned SentencePiece's U+2581 into spaces: GGUF keeps U+2581 */
            size_t len = strlen(s), k = 0;
            if (!(pads[i] = malloc(3 * len + 1))) goto nomem;
            for (size_t j = 0; j < len; j++) {
                if (s[j] == ' ') {
                    memcpy(pads[i] + k, "\xe2\x96\x81", 3);
                    k += 3;
                } else {
                    pads[i][k++] = s[j];
                }
            }
            pads[i][k] = 0;
            s = pads[i];
            types[i] = tok_is_special(t, i) ? 3 : 1;
        } else {
            unsigned byte;
            char tail;
            types[i] = tok_is_special(t, i) ? 3 /* CONTROL */
                     : spm && strlen(s) == 6 && sscanf(s, "<0x%2X>%c", &byte, &tail) == 1 ? 6 /* BYTE */ : 1;
        }
        toks[i] = s;
    }
    if (tpath && ends_with(tpath, "tokenizer.json")) sv_merges_json(tpath, &merges, &n_merges);
    else if (tpath && ends_with(tpath, "vocab.json")) {
        char *dir = path_dirname(tpath), *mp = dir ? path_join(dir, "merges.txt") : NULL;
        if (mp) sv_merges_txt(mp, &merges, &n_merges);
        free(dir);
        free(mp);
    }
    if (spm) {
        /* llama.cpp's SentencePiece tokenizer merges by score: the llama2.c file carries scores; a
         * BPE vocabulary gets -rank of the merge that makes each token */
        if (tok_kind(t) == TOK_KIND_LLAMA2C && tpath) scores = sv_llama2c_scores(tpath, nt < n ? nt : n);
        if (!scores) {
            if (!(scores = calloc((size_t)n, sizeof *scores))) goto nomem;
            for (size_t i = 0; i < n_merges; i++) {
                const char *sp = strchr(merges[i], ' ');
                if (!sp) continue;
                char buf[512];
                size_t la = (size_t)(sp - merges[i]), lb = strlen(sp + 1);
                if (la + lb >= sizeof buf) continue;
                memcpy(buf, merges[i], la);
                memcpy(buf + la, sp + 1, lb);
                int id = tok_token_id(t, buf, la + lb);
                if (id >= 0 && id < n && scores[id] == 0) scores[id] = -(float)(i + 1);
            }
        } else if (nt < n) {
            float *grown = realloc(scores, (size_t)n * sizeof *grown);
            if (!grown) goto nomem;
            scores = grown;
            for (int i = nt; i < n; i++) scores[i] = 0;
        }
    }
    const char *model = spm ? "llama" : "gpt2";
    const char *pre = spm ? "default" : "gpt-2";
    if (gguf_w_str(S->w, "tokenizer.ggml.model", model, strlen(model), e) ||
        gguf_w_str(S->w, "tokenizer.ggml.pre", pre, strlen(pre), e) ||
        gguf_w_arr_str(S->w, "tokenizer.ggml.tokens", toks, NULL, (size_t)n, e) ||
        (scores && gguf_w_arr(S->w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (size_t)n, e)) ||
        gguf_w_arr(S->w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (size_t)n, e) ||
        (n_merges && gguf_w_arr_str(S->w, "tokenizer.ggml.merges", (const char *const *)merges, NULL, n_merges, e)))
        goto out;
    int bos = tok_bos_id(t) >= 0 ? tok_bos_id(t) : m->cfg.bos_id, eos = tok_eos_id(t) >= 0 ? tok_eos_id(t) : m->cfg.eos_id;
    if ((bos >= 0 && gguf_w_u32(S->w, "tokenizer.ggml.bos_token_id", (uint32_t)bos, e)) ||
        (eos >= 0 && gguf_w_u32(S->w, "tokenizer.ggml.eos_token_id", (uint32_t)eos, e)) ||
        gguf_w_bool(S->w, "tokenizer.ggml.add_bos_token", spm, e))
        goto out;
    if (spm) {
        int unk = tok_token_id(t, "<unk>", 5);
        if (unk >= 0 && gguf_w_u32(S->w, "tokenizer.ggml.unknown_token_id", (uint32_t)unk, e)) goto out;
    }
    rc = 0;
    goto out;
nomem:
    lab_err(e, LAB_ENOMEM, "out of memory");
out:
    for (int i = 0; pads && i < n; i++) free(pads[i]);
    for (size_t i = 0; i < n_merges; i++) free(merges[i]);
    free(merges);
    free(pads);
    free(toks);
    free(types);
    free(scores);
    return rc;
}
#else
/* Without a tokenizer in this tree a model has no vocabulary to write (m->tok is NULL). */
static int sv_tokenizer(Sv *S, const EngModel *m) {
    (void)S;
    (void)m;
    return 0;
}
#endif

/* Llama 3's scaling as llama.cpp stores it: per frequency, the divisor of the unscaled one. */
static float *sv_llama3_factors(Sv *S, const EngConfig *c) {
    const EngRopeScaling *r = &c->rope_scaling;
    int half = c->rope_dim / 2;
    float *f = sv_alloc(S, (size_t)half * sizeof *f);
    if (!f) return NULL;
    double low_wl = r->orig_ctx / r->low_freq_factor, high_wl = r->orig_ctx / r->high_freq_factor;
    for (int j = 0; j < half; j++) {
        double wl = 2.0 * M_PI * pow(c->rope_theta, 2.0 * j / c->rope_dim);
        if (wl < high_wl) f[j] = 1.0f;
        else if (wl > low_wl) f[j] = r->factor;
        else {
            double smooth = (r->orig_ctx / wl - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
            f[j] = (float)(1.0 / ((1.0 - smooth) / r->factor + smooth));
        }
    }
    return f;
}

/* The metadata of a non-gpt2 family (ARCH.* keys). */
static int sv_keys(Sv *S, const EngModel *m, const char *A) {
    const EngConfig *c = &m->cfg;
    LabErr *e = S->e;
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", A, s), k)
    bool rms = c->arch != ENG_ARCH_GPTNEOX && c->arch != ENG_ARCH_PHI;
    if (gguf_w_u32(S->w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_head, e) ||
        gguf_w_f32(S->w, KEY(rms ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon"), c->norm_eps, e) ||
        gguf_w_f32(S->w, KEY("rope.freq_base"), c->rope_theta, e) ||
        gguf_w_u32(S->w, KEY("attention.key_length"), (uint32_t)c->head_dim, e) ||
        gguf_w_u32(S->w, KEY("attention.value_length"), (uint32_t)c->head_dim, e) ||
        gguf_w_u32(S->w, KEY("rope.dimension_count"), (uint32_t)c->rope_dim, e) ||
        gguf_w_u32(S->w, KEY("vocab_size"), (uint32_t)c->vocab, e))
        return -1;
    if (c->rope_scaling.type == ENG_ROPE_LINEAR &&
        (gguf_w_str(S->w, KEY("rope.scaling.type"), "linear", 6, e) ||
         gguf_w_f32(S->w, KEY("rope.scaling.factor"), c->rope_scaling.factor, e)))
        return -1;
    if (c->arch == ENG_ARCH_GPTNEOX && gguf_w_bool(S->w, KEY("use_parallel_residual"), c->parallel_residual, e)) return -1;
    if (c->arch == ENG_ARCH_GEMMA3) {
        bool *pat = sv_alloc(S, (size_t)c->n_layer);
        if (!pat) return lab_err(e, LAB_ENOMEM, "out of memory");
        for (int i = 0; i < c->n_layer; i++) pat[i] = m->w.layers[i].sliding;
        if (gguf_w_f32(S->w, KEY("rope.freq_base_swa"), c->rope_theta_local, e) ||
            gguf_w_u32(S->w, KEY("attention.sliding_window"), (uint32_t)c->sliding_window, e) ||
            gguf_w_arr(S->w, KEY("attention.sliding_window_pattern"), GGUF_TYPE_BOOL, pat, (size_t)c->n_layer, e))
            return -1;
        /* llama.cpp assumes query_pre_attn_scalar = head_dim: say so when it is not */
        if (c->attn_scale != 1.0f / sqrtf((float)c->head_dim) && gguf_w_f32(S->w, KEY("attention.scale"), c->attn_scale, e))
            return -1;
        if (c->final_softcap > 0 && gguf_w_f32(S->w, KEY("final_logit_softcapping"), c->final_softcap, e)) return -1;
    }
#undef KEY
    return 0;
}

/* One layer's tensors under llama.cpp's names for the family. */
static int sv_layer(Sv *S, const EngModel *m, int i, EngDType want) {
    const EngConfig *c = &m->cfg;
    const EngLayer *y = &m->w.layers[i];
    int64_t dim = c->dim, hid = c->hidden, hd = c->head_dim, qd = (int64_t)c->n_head * hd, kvd = (int64_t)c->n_kv_head * hd;
    char nm[96];
    switch (c->arch) {
    case ENG_ARCH_GPT2:
        return sv_vec(S, BLK(nm, i, "attn_norm.weight"), y->ln1_w, dim, 0) ||
               sv_vec(S, BLK(nm, i, "attn_norm.bias"), y->ln1_b, dim, 0) ||
               sv_mat(S, BLK(nm, i, "attn_qkv.weight"), &y->c_attn, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_qkv.bias"), y->c_attn_b, 3 * dim, 0) ||
               sv_mat(S, BLK(nm, i, "attn_output.weight"), &y->c_proj, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_output.bias"), y->c_proj_b, dim, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_norm.weight"), y->ln2_w, dim, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_norm.bias"), y->ln2_b, dim, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_up.weight"), &y->c_fc, want, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_up.bias"), y->c_fc_b, hid, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_down.weight"), &y->c_fc_proj, want, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_down.bias"), y->c_fc_proj_b, dim, 0) ? -1 : 0;
    case ENG_ARCH_GPTNEOX: {
        int p = c->qkv_per_head ? -c->n_head : 0;
        return sv_vec(S, BLK(nm, i, "attn_norm.weight"), y->ln1_w, dim, 0) ||
               sv_vec(S, BLK(nm, i, "attn_norm.bias"), y->ln1_b, dim, 0) ||
               sv_mat(S, BLK(nm, i, "attn_qkv.weight"), &y->c_attn, want, p) ||
               sv_vec(S, BLK(nm, i, "attn_qkv.bias"), y->c_attn_b, 3 * dim, p) ||
               sv_mat(S, BLK(nm, i, "attn_output.weight"), &y->c_proj, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_output.bias"), y->c_proj_b, dim, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_norm.weight"), y->ln2_w, dim, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_norm.bias"), y->ln2_b, dim, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_up.weight"), &y->c_fc, want, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_up.bias"), y->c_fc_b, hid, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_down.weight"), &y->c_fc_proj, want, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_down.bias"), y->c_fc_proj_b, dim, 0) ? -1 : 0;
    }
    case ENG_ARCH_PHI:
        return sv_vec(S, BLK(nm, i, "attn_norm.weight"), y->ln1_w, dim, 0) ||
               sv_vec(S, BLK(nm, i, "attn_norm.bias"), y->ln1_b, dim, 0) ||
               sv_mat(S, BLK(nm, i, "attn_q.weight"), &y->wq, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_q.bias"), y->bq, qd, 0) ||
               sv_mat(S, BLK(nm, i, "attn_k.weight"), &y->wk, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_k.bias"), y->bk, kvd, 0) ||
               sv_mat(S, BLK(nm, i, "attn_v.weight"), &y->wv, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_v.bias"), y->bv, kvd, 0) ||
               sv_mat(S, BLK(nm, i, "attn_output.weight"), &y->wo, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_output.bias"), y->bo, dim, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_up.weight"), &y->c_fc, want, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_up.bias"), y->c_fc_b, hid, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_down.weight"), &y->c_fc_proj, want, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_down.bias"), y->c_fc_proj_b, dim, 0) ? -1 : 0;
    case ENG_ARCH_GEMMA3: /* norms are held as 1 + w, as llama.cpp stores them */
        return sv_vec(S, BLK(nm, i, "attn_norm.weight"), y->attn_norm, dim, 0) ||
               sv_mat(S, BLK(nm, i, "attn_q.weight"), &y->wq, want, 0) ||
               sv_mat(S, BLK(nm, i, "attn_k.weight"), &y->wk, want, 0) ||
               sv_mat(S, BLK(nm, i, "attn_v.weight"), &y->wv, want, 0) ||
               sv_mat(S, BLK(nm, i, "attn_output.weight"), &y->wo, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_q_norm.weight"), y->q_norm, hd, 0) ||
               sv_vec(S, BLK(nm, i, "attn_k_norm.weight"), y->k_norm, hd, 0) ||
               sv_vec(S, BLK(nm, i, "post_attention_norm.weight"), y->post_attn_norm, dim, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_norm.weight"), y->ffn_norm, dim, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_gate.weight"), &y->w_gate, want, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_up.weight"), &y->w_up, want, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_down.weight"), &y->w_down, want, 0) ||
               sv_vec(S, BLK(nm, i, "post_ffw_norm.weight"), y->post_ffn_norm, dim, 0) ? -1 : 0;
    default: { /* llama, qwen2, qwen3 */
        /* llama.cpp's llama rotates interleaved pairs: a rotate-half model's q/k rows are permuted */
        int pq = c->arch == ENG_ARCH_LLAMA && !c->rope_interleaved ? c->n_head : 0;
        int pk = pq ? c->n_kv_head : 0;
        if (y->b_gate || y->b_up || y->b_down)
            return lab_err(S->e, LAB_EUNSUPPORTED, "%s: MLP biases have no place in llama.cpp's llama GGUF", m->name);
        return sv_vec(S, BLK(nm, i, "attn_norm.weight"), y->attn_norm, dim, 0) ||
               sv_mat(S, BLK(nm, i, "attn_q.weight"), &y->wq, want, pq) ||
               sv_mat(S, BLK(nm, i, "attn_k.weight"), &y->wk, want, pk) ||
               sv_mat(S, BLK(nm, i, "attn_v.weight"), &y->wv, want, 0) ||
               sv_mat(S, BLK(nm, i, "attn_output.weight"), &y->wo, want, 0) ||
               sv_vec(S, BLK(nm, i, "attn_q.bias"), y->bq, qd, pq) ||
               sv_vec(S, BLK(nm, i, "attn_k.bias"), y->bk, kvd, pk) ||
               sv_vec(S, BLK(nm, i, "attn_v.bias"), y->bv, kvd, 0) ||
               sv_vec(S, BLK(nm, i, "attn_output.bias"), y->bo, dim, 0) ||
               sv_vec(S, BLK(nm, i, "attn_q_norm.weight"), y->q_norm, hd, 0) ||
               sv_vec(S, BLK(nm, i, "attn_k_norm.weight"), y->k_norm, hd, 0) ||
               sv_vec(S, BLK(nm, i, "ffn_norm.weight"), y->ffn_norm, dim, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_gate.weight"), &y->w_gate, want, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_up.weight"), &y->w_up, want, 0) ||
               sv_mat(S, BLK(nm, i, "ffn_down.weight"), &y->w_down, want, 0) ? -1 : 0;
    }
    }
}

/* eng_save_gguf (path) and eng_gguf_size (size): the same header and tensor list either way. */
static int sv_save(EngModel *m, const char *path, size_t *size, const char *quant, LabErr *e) {
    const EngConfig *c = &m->cfg;
    const EngQuantPreset *preset = eng_quant_preset(quant && *quant ? quant : "f32");
    if (!preset) return lab_err(e, LAB_EINVAL, "--quant %s: expected %s", quant, eng_quant_preset_list());
    if (c->arch == ENG_ARCH_GPT2 && c->act == ENG_ACT_GELU_ERF) /* llama.cpp's gpt2 graph has the tanh GELU only */
        return lab_err(e, LAB_EUNSUPPORTED, "%s: a GPT-2 with the exact (erf) GELU (activation_function \"gelu\") has no GGUF form "
                       "llama.cpp computes the same way", path);
    EngDType want = preset->base;
    const EngWeights *w = &m->w;
    bool gpt2 = c->arch == ENG_ARCH_GPT2;
    Sv S = {.w = gguf_writer_new(GGUF_DEFAULT_ALIGNMENT), .e = e, .preset = preset, .cfg = c,
            .has_output = gpt2 || w->lm_head.data != w->tok_emb.data, .size_only = !path};
    int64_t maxc = c->dim > c->hidden ? c->dim : c->hidden;
    if ((int64_t)c->n_head * c->head_dim > maxc) maxc = (int64_t)c->n_head * c->head_dim;
    S.row = malloc((size_t)maxc * sizeof *S.row);
    int rc = -1;
    if (!S.w || !S.row) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto out;
    }
    const EngFamily *fam = eng_family(c->arch);
    const char *A = fam->gguf_arch;
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", A, s), k)
    const char *name = m->name ? m->name : "model";
    if (gguf_w_str(S.w, "general.architecture", A, strlen(A), e) ||
        gguf_w_str(S.w, "general.type", "model", 5, e) ||
        gguf_w_str(S.w, "general.name", name, strlen(name), e) ||
        gguf_w_u32(S.w, KEY("block_count"), (uint32_t)c->n_layer, e) ||
        gguf_w_u32(S.w, KEY("context_length"), (uint32_t)c->ctx_max, e) ||
        gguf_w_u32(S.w, KEY("embedding_length"), (uint32_t)c->dim, e) ||
        gguf_w_u32(S.w, KEY("feed_forward_length"), (uint32_t)c->hidden, e) ||
        gguf_w_u32(S.w, KEY("attention.head_count"), (uint32_t)c->n_head, e))
        goto out;
    if (gpt2 ? gguf_w_f32(S.w, KEY("attention.layer_norm_epsilon"), c->norm_eps, e) : sv_keys(&S, m, A)) goto out;
#undef KEY
    if (sv_tokenizer(&S, m)) goto out;
    /* the chat template, where llama.cpp's converter writes it: after the vocabulary */
    const char *tmpl = m->tok ? eng_model_chat_source(m) : NULL;
    if (tmpl && gguf_w_str(S.w, "tokenizer.chat_template", tmpl, strlen(tmpl), e)) goto out;
    /* last, as llama-quantize sets them (it moves a key it sets to the end): a file quantized here
     * is then the same, byte for byte, as llama-quantize's from the f32 file ablab writes */
    if (gguf_w_u32(S.w, "general.quantization_version", 2, e) || gguf_w_u32(S.w, "general.file_type", preset->ftype, e))
        goto out;
    /* tensors, in llama.cpp's order and names */
    if (sv_mat(&S, "token_embd.weight", &w->tok_emb, want, 0)) goto out;
    if (gpt2 && sv_mat(&S, "position_embd.weight", &w->pos_emb, ENG_DT_F32, 0)) goto out;
    const float *factors = c->rope_scaling.type == ENG_ROPE_FACTORS ? c->rope_scaling.freq_factors
                         : c->rope_scaling.type == ENG_ROPE_LLAMA3 ? sv_llama3_factors(&S, c) : NULL;
    if (c->rope_scaling.type == ENG_ROPE_LLAMA3 && !factors) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto out;
    }
    if (factors && sv_vec(&S, "rope_freqs.weight", factors, c->rope_dim / 2, 0)) goto out;
    for (int i = 0; i < c->n_layer; i++)
        if (sv_layer(&S, m, i, want)) goto out;
    if (sv_vec(&S, "output_norm.weight", w->out_norm, c->dim, 0) ||
        sv_vec(&S, "output_norm.bias", w->out_norm_b, c->dim, 0))
        goto out;
    /* a tied head is written as no output.weight; gpt2 always carries it (as llama.cpp) */
    if ((gpt2 || w->lm_head.data != w->tok_emb.data) && sv_mat(&S, "output.weight", &w->lm_head, want, 0)) goto out;
    if (sv_vec(&S, "output.bias", w->lm_head_b, c->vocab, 0)) goto out;
    /* quantized files in llama-quantize's tensor order, so that they are its bytes */
    if (qtype_is_block((QType)preset->base)) gguf_w_sort_tensors(S.w);
    rc = path ? gguf_w_write(S.w, path, e) : gguf_w_size(S.w, size, e);
out:
    for (size_t i = 0; i < S.n_bufs; i++) free(S.bufs[i]);
    free(S.bufs);
    free(S.row);
    gguf_writer_free(S.w);
    return rc;
}

int eng_save_gguf(EngModel *m, const char *path, const char *quant, LabErr *e) {
    return sv_save(m, path, NULL, quant, e);
}

int eng_gguf_size(EngModel *m, const char *quant, size_t *bytes, LabErr *e) {
    return sv_save(m, NULL, bytes, quant, e);
}
