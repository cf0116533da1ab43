/* Hugging Face folders: config.json + model.safetensors (or shards), every family's names.
 * Tensor names are accepted with or without the `model.` / `transformer.` prefix; a missing
 * lm_head.weight means a tied head. Every tensor's dtype and shape is checked against config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

typedef struct {
    EngModel *m;
    StSet set;
    const char *prefix;   /* "model." / "transformer." or "" — found from the embedding's name */
} HfCtx;

static const StTensor *hf_find(HfCtx *h, const char *name, bool prefixed) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefixed ? h->prefix : "", name);
    return st_find(&h->set, full);
}

static const char *shape_str(const StTensor *t, char *buf, size_t n) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, n - at, "[");
    for (int d = 0; d < t->n_dims && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (at < n) snprintf(buf + at, n - at, "]");
    return buf;
}

/* A tensor that must exist with shape [d0] (d1 < 0) or [d0, d1]. */
static const StTensor *hf_get(HfCtx *h, const char *name, bool prefixed, int64_t d0, int64_t d1, LabErr *e) {
    const StTensor *t = hf_find(h, name, prefixed);
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefixed ? h->prefix : "", name);
    if (!t) {
        lab_err(e, LAB_EFORMAT, "%s: tensor '%s' is missing", h->m->name, full);
        return NULL;
    }
    if (st_engine_dtype(t) < 0) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: tensor '%s' has dtype %s (ablab reads F32, F16 and BF16)", t->file, full,
                t->dtype);
        return NULL;
    }
    bool ok = d1 < 0 ? t->n_dims == 1 && t->shape[0] == d0 : t->n_dims == 2 && t->shape[0] == d0 && t->shape[1] == d1;
    if (!ok) {
        char got[128];
        if (d1 < 0)
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s' has shape %s but config.json implies [%lld]", t->file, full,
                    shape_str(t, got, sizeof got), (long long)d0);
        else
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s' has shape %s but config.json implies [%lld, %lld]", t->file, full,
                    shape_str(t, got, sizeof got), (long long)d0, (long long)d1);
        return NULL;
    }
    return t;
}

/* A matrix W[rows][cols]; stored_in_out: the file holds [cols][rows] (GPT-2 Conv1D). */
static int hf_mat(HfCtx *h, EngTensor *out, const char *name, bool prefixed, int64_t rows, int64_t cols,
                  bool stored_in_out, LabErr *e) {
    const StTensor *t = stored_in_out ? hf_get(h, name, prefixed, cols, rows, e) : hf_get(h, name, prefixed, rows, cols, e);
    if (!t) return -1;
    return eng_model_weight(h->m, out, (EngDType)st_engine_dtype(t), t->data, rows, cols, stored_in_out, t->name, e);
}

static int hf_vec(HfCtx *h, const float **out, const char *name, int64_t n, LabErr *e) {
    const StTensor *t = hf_get(h, name, true, n, -1, e);
    if (!t) return -1;
    return eng_model_vec(h->m, out, (EngDType)st_engine_dtype(t), t->data, n, t->name, e);
}

/* A Gemma norm: transformers multiplies by (1 + w); kept as 1 + w (llama.cpp's converter does the
 * same) so that the forward pass is a plain RMSNorm. */
static int hf_vec_plus1(HfCtx *h, const float **out, const char *name, int64_t n, LabErr *e) {
    const float *w;
    if (hf_vec(h, &w, name, n, e)) return -1;
    float *p = eng_model_alloc(h->m, (size_t)n * sizeof *p, false, e);
    if (!p) return -1;
    for (int64_t i = 0; i < n; i++) p[i] = 1.0f + w[i];
    *out = p;
    return 0;
}

static int hf_llama(HfCtx *h, LabErr *e) {
    EngModel *m = h->m;
    const EngConfig *c = &m->cfg;
    int64_t qd = (int64_t)c->n_head * c->head_dim, kvd = (int64_t)c->n_kv_head * c->head_dim;
    h->prefix = st_find(&h->set, "model.embed_tokens.weight") ? "model." : "";
    if (hf_mat(h, &m->w.tok_emb, "embed_tokens.weight", true, c->vocab, c->dim, false, e)) return -1;
    char n[192];
    for (int l = 0; l < c->n_layer; l++) {
        EngLayer *L = &m->w.layers[l];
#define NM(s) (snprintf(n, sizeof n, "layers.%d.%s", l, s), n)
        if (hf_vec(h, &L->attn_norm, NM("input_layernorm.weight"), c->dim, e) ||
            hf_vec(h, &L->ffn_norm, NM("post_attention_layernorm.weight"), c->dim, e) ||
            hf_mat(h, &L->wq, NM("self_attn.q_proj.weight"), true, qd, c->dim, false, e) ||
            hf_mat(h, &L->wk, NM("self_attn.k_proj.weight"), true, kvd, c->dim, false, e) ||
            hf_mat(h, &L->wv, NM("self_attn.v_proj.weight"), true, kvd, c->dim, false, e) ||
            hf_mat(h, &L->wo, NM("self_attn.o_proj.weight"), true, c->dim, qd, false, e) ||
            hf_mat(h, &L->w_gate, NM("mlp.gate_proj.weight"), true, c->hidden, c->dim, false, e) ||
            hf_mat(h, &L->w_up, NM("mlp.up_proj.weight"), true, c->hidden, c->dim, false, e) ||
            hf_mat(h, &L->w_down, NM("mlp.down_proj.weight"), true, c->dim, c->hidden, false, e))
            return -1;
        if (c->attn_bias &&
            (hf_vec(h, &L->bq, NM("self_attn.q_proj.bias"), qd, e) || hf_vec(h, &L->bk, NM("self_attn.k_proj.bias"), kvd, e) ||
             hf_vec(h, &L->bv, NM("self_attn.v_proj.bias"), kvd, e)))
            return -1;
        if (c->o_bias && hf_vec(h, &L->bo, NM("self_attn.o_proj.bias"), c->dim, e)) return -1;
        if (c->qk_norm && (hf_vec(h, &L->q_norm, NM("self_attn.q_norm.weight"), c->head_dim, e) ||
                           hf_vec(h, &L->k_norm, NM("self_attn.k_norm.weight"), c->head_dim, e)))
            return -1;
        if (c->mlp_bias &&
            (hf_vec(h, &L->b_gate, NM("mlp.gate_proj.bias"), c->hidden, e) ||
             hf_vec(h, &L->b_up, NM("mlp.up_proj.bias"), c->hidden, e) ||
             hf_vec(h, &L->b_down, NM("mlp.down_proj.bias"), c->dim, e)))
            return -1;
#undef NM
    }
    if (hf_vec(h, &m->w.out_norm, "norm.weight", c->dim, e)) return -1;
    return 0;
}

static int hf_gpt2(HfCtx *h, LabErr *e) {
    EngModel *m = h->m;
    const EngConfig *c = &m->cfg;
    h->prefix = st_find(&h->set, "transformer.wte.weight") ? "transformer." : "";
    if (hf_mat(h, &m->w.tok_emb, "wte.weight", true, c->vocab, c->dim, false, e) ||
        hf_mat(h, &m->w.pos_emb, "wpe.weight", true, c->ctx_max, c->dim, false, e))
        return -1;
    char n[192];
    for (int l = 0; l < c->n_layer; l++) {
        EngLayer *L = &m->w.layers[l];
#define NM(s) (snprintf(n, sizeof n, "h.%d.%s", l, s), n)
        if (hf_vec(h, &L->ln1_w, NM("ln_1.weight"), c->dim, e) || hf_vec(h, &L->ln1_b, NM("ln_1.bias"), c->dim, e) ||
            hf_vec(h, &L->ln2_w, NM("ln_2.weight"), c->dim, e) || hf_vec(h, &L->ln2_b, NM("ln_2.bias"), c->dim, e) ||
            hf_mat(h, &L->c_attn, NM("attn.c_attn.weight"), true, 3LL * c->dim, c->dim, true, e) ||
            hf_vec(h, &L->c_attn_b, NM("attn.c_attn.bias"), 3LL * c->dim, e) ||
            hf_mat(h, &L->c_proj, NM("attn.c_proj.weight"), true, c->dim, c->dim, true, e) ||
            hf_vec(h, &L->c_proj_b, NM("attn.c_proj.bias"), c->dim, e) ||
            hf_mat(h, &L->c_fc, NM("mlp.c_fc.weight"), true, c->hidden, c->dim, true, e) ||
            hf_vec(h, &L->c_fc_b, NM("mlp.c_fc.bias"), c->hidden, e) ||
            hf_mat(h, &L->c_fc_proj, NM("mlp.c_proj.weight"), true, c->dim, c->hidden, true, e) ||
            hf_vec(h, &L->c_fc_proj_b, NM("mlp.c_proj.bias"), c->dim, e))
            return -1;
#undef NM
    }
    if (hf_vec(h, &m->w.out_norm, "ln_f.weight", c->dim, e) || hf_vec(h, &m->w.out_norm_b, "ln_f.bias", c->dim, e))
        return -1;
    return 0;
}

static int hf_gptneox(HfCtx *h, LabErr *e) {
    EngModel *m = h->m;
    const EngConfig *c = &m->cfg;
    int64_t dim = c->dim;
    h->prefix = "gpt_neox.";
    if (hf_mat(h, &m->w.tok_emb, "embed_in.weight", true, c->vocab, dim, false, e)) return -1;
    char n[192];
    for (int l = 0; l < c->n_layer; l++) {
        EngLayer *L = &m->w.layers[l];
#define NM(s) (snprintf(n, sizeof n, "layers.%d.%s", l, s), n)
        if (hf_vec(h, &L->ln1_w, NM("input_layernorm.weight"), dim, e) || hf_vec(h, &L->ln1_b, NM("input_layernorm.bias"), dim, e) ||
            hf_vec(h, &L->ln2_w, NM("post_attention_layernorm.weight"), dim, e) ||
            hf_vec(h, &L->ln2_b, NM("post_attention_layernorm.bias"), dim, e) ||
            hf_mat(h, &L->c_attn, NM("attention.query_key_value.weight"), true, 3 * dim, dim, false, e) ||
            hf_mat(h, &L->c_proj, NM("attention.dense.weight"), true, dim, dim, false, e) ||
            hf_mat(h, &L->c_fc, NM("mlp.dense_h_to_4h.weight"), true, c->hidden, dim, false, e) ||
            hf_vec(h, &L->c_fc_b, NM("mlp.dense_h_to_4h.bias"), c->hidden, e) ||
            hf_mat(h, &L->c_fc_proj, NM("mlp.dense_4h_to_h.weight"), true, dim, c->hidden, false, e) ||
            hf_vec(h, &L->c_fc_proj_b, NM("mlp.dense_4h_to_h.bias"), dim, e))
            return -1;
        if (c->attn_bias && (hf_vec(h, &L->c_attn_b, NM("attention.query_key_value.bias"), 3 * dim, e) ||
                             hf_vec(h, &L->c_proj_b, NM("attention.dense.bias"), dim, e)))
            return -1;
#undef NM
    }
    if (hf_vec(h, &m->w.out_norm, "final_layer_norm.weight", dim, e) ||
        hf_vec(h, &m->w.out_norm_b, "final_layer_norm.bias", dim, e))
        return -1;
    return c->tied ? 0 : hf_mat(h, &m->w.lm_head, "embed_out.weight", false, c->vocab, dim, false, e);
}

static int hf_phi(HfCtx *h, LabErr *e) {
    EngModel *m = h->m;
    const EngConfig *c = &m->cfg;
    int64_t dim = c->dim, qd = (int64_t)c->n_head * c->head_dim, kvd = (int64_t)c->n_kv_head * c->head_dim;
    h->prefix = st_find(&h->set, "model.embed_tokens.weight") ? "model." : "";
    if (hf_mat(h, &m->w.tok_emb, "embed_tokens.weight", true, c->vocab, dim, false, e)) return -1;
    char n[192];
    for (int l = 0; l < c->n_layer; l++) {
        EngLayer *L = &m->w.layers[l];
#define NM(s) (snprintf(n, sizeof n, "layers.%d.%s", l, s), n)
        if (hf_vec(h, &L->ln1_w, NM("input_layernorm.weight"), dim, e) || hf_vec(h, &L->ln1_b, NM("input_layernorm.bias"), dim, e) ||
            hf_mat(h, &L->wq, NM("self_attn.q_proj.weight"), true, qd, dim, false, e) ||
            hf_vec(h, &L->bq, NM("self_attn.q_proj.bias"), qd, e) ||
            hf_mat(h, &L->wk, NM("self_attn.k_proj.weight"), true, kvd, dim, false, e) ||
            hf_vec(h, &L->bk, NM("self_attn.k_proj.bias"), kvd, e) ||
            hf_mat(h, &L->wv, NM("self_attn.v_proj.weight"), true, kvd, dim, false, e) ||
            hf_vec(h, &L->bv, NM("self_attn.v_proj.bias"), kvd, e) ||
            hf_mat(h, &L->wo, NM("self_attn.dense.weight"), true, dim, qd, false, e) ||
            hf_vec(h, &L->bo, NM("self_attn.dense.bias"), dim, e) ||
            hf_mat(h, &L->c_fc, NM("mlp.fc1.weight"), true, c->hidden, dim, false, e) ||
            hf_vec(h, &L->c_fc_b, NM("mlp.fc1.bias"), c->hidden, e) ||
            hf_mat(h, &L->c_fc_proj, NM("mlp.fc2.weight"), true, dim, c->hidden, false, e) ||
            hf_vec(h, &L->c_fc_proj_b, NM("mlp.fc2.bias"), dim, e))
            return -1;
#undef NM
    }
    if (hf_vec(h, &m->w.out_norm, "final_layernorm.weight", dim, e) ||
        hf_vec(h, &m->w.out_norm_b, "final_layernorm.bias", dim, e))
        return -1;
    if (c->tied) return 0;
    const char *saved = h->prefix;
    h->prefix = "";
    int rc = hf_mat(h, &m->w.lm_head, "lm_head.weight", false, c->vocab, dim, false, e) ||
             hf_vec(h, &m->w.lm_head_b, "lm_head.bias", c->vocab, e);
    h->prefix = saved;
    return rc ? -1 : 0;
}

static int hf_gemma3(HfCtx *h, LabErr *e) {
    EngModel *m = h->m;
    const EngConfig *c = &m->cfg;
    int64_t dim = c->dim, hd = c->head_dim, qd = (int64_t)c->n_head * hd, kvd = (int64_t)c->n_kv_head * hd;
    h->prefix = st_find(&h->set, "model.embed_tokens.weight") ? "model." : "";
    if (hf_mat(h, &m->w.tok_emb, "embed_tokens.weight", true, c->vocab, dim, false, e)) return -1;
    char n[192];
    for (int l = 0; l < c->n_layer; l++) {
        EngLayer *L = &m->w.layers[l];
#define NM(s) (snprintf(n, sizeof n, "layers.%d.%s", l, s), n)
        if (hf_vec_plus1(h, &L->attn_norm, NM("input_layernorm.weight"), dim, e) ||
            hf_vec_plus1(h, &L->post_attn_norm, NM("post_attention_layernorm.weight"), dim, e) ||
            hf_vec_plus1(h, &L->ffn_norm, NM("pre_feedforward_layernorm.weight"), dim, e) ||
            hf_vec_plus1(h, &L->post_ffn_norm, NM("post_feedforward_layernorm.weight"), dim, e) ||
            hf_vec_plus1(h, &L->q_norm, NM("self_attn.q_norm.weight"), hd, e) ||
            hf_vec_plus1(h, &L->k_norm, NM("self_attn.k_norm.weight"), hd, e) ||
            hf_mat(h, &L->wq, NM("self_attn.q_proj.weight"), true, qd, dim, false, e) ||
            hf_mat(h, &L->wk, NM("self_attn.k_proj.weight"), true, kvd, dim, false, e) ||
            hf_mat(h, &L->wv, NM("self_attn.v_proj.weight"), true, kvd, dim, false, e) ||
            hf_mat(h, &L->wo, NM("self_attn.o_proj.weight"), true, dim, qd, false, e) ||
            hf_mat(h, &L->w_gate, NM("mlp.gate_proj.weight"), true, c->hidden, dim, false, e) ||
            hf_mat(h, &L->w_up, NM("mlp.up_proj.weight"), true, c->hidden, dim, false, e) ||
            hf_mat(h, &L->w_down, NM("mlp.down_proj.weight"), true, dim, c->hidden, false, e))
            return -1;
        if (c->attn_bias)
            return lab_err(e, LAB_EUNSUPPORTED, "%s: config.json sets attention_bias for gemma3_text, which ablab does not apply",
                           m->name);
#undef NM
    }
    return hf_vec_plus1(h, &m->w.out_norm, "norm.weight", dim, e);
}

int hf_load(EngModel *m, const char *dir, const EngLoadOpts *o, LabErr *e) {
    char *cfg_path = path_join(dir, "config.json");
    if (!cfg_path) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (file_exists(cfg_path) != 1) {
        free(cfg_path);
        return lab_err(e, LAB_ENOTFOUND, "%s: no config.json (a Hugging Face model folder needs one)", dir);
    }
    int rc = hf_config_read(cfg_path, &m->cfg, e);
    char *gen_path = rc ? NULL : path_join(dir, "generation_config.json");
    if (!rc && !gen_path) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    if (!rc) rc = hf_generation_read(gen_path, &m->cfg, e);
    free(gen_path);
    HfCtx h = {.m = m, .prefix = ""};
    if (rc || st_read_dir(m, dir, &h.set, e)) goto fail;
    for (size_t i = 0; i < m->n_maps; i++) m->info.bytes_on_disk += m->maps[i].size;
    /* the layer count is config.json's claim: bound it by the tensors present before sizing by it
     * (a llama or phi layer has at least 9 tensors, gpt2 and gpt_neox 12) */
    EngArch arch = m->cfg.arch;
    size_t per_layer = arch == ENG_ARCH_GPT2 || arch == ENG_ARCH_GPTNEOX ? 12 : 9;
    if ((size_t)m->cfg.n_layer > h.set.n / per_layer) {
        lab_err(e, LAB_EFORMAT, "%s: config.json has %d layers but the weights hold %zu tensors (a layer needs %zu)",
                m->name, m->cfg.n_layer, h.set.n, per_layer);
        goto fail;
    }
    m->w.layers = eng_model_alloc(m, (size_t)m->cfg.n_layer * sizeof *m->w.layers, false, e);
    if (!m->w.layers || hf_layer_types_read(cfg_path, &m->cfg, m->w.layers, e)) goto fail;
    switch (arch) {
    case ENG_ARCH_GPT2: rc = hf_gpt2(&h, e); break;
    case ENG_ARCH_GPTNEOX: rc = hf_gptneox(&h, e); break;
    case ENG_ARCH_PHI: rc = hf_phi(&h, e); break;
    case ENG_ARCH_GEMMA3: rc = hf_gemma3(&h, e); break;
    default: rc = hf_llama(&h, e); break;
    }
    if (rc) goto fail;
    /* the head: lm_head.weight unless config.json ties it to the embedding (as transformers does,
     * a tied model ignores a stored lm_head.weight); gpt_neox and phi read their own */
    if (m->cfg.tied) m->w.lm_head = m->w.tok_emb;
    else if (m->cfg.arch != ENG_ARCH_GPTNEOX && m->cfg.arch != ENG_ARCH_PHI &&
             hf_mat(&h, &m->w.lm_head, "lm_head.weight", false, m->cfg.vocab, m->cfg.dim, false, e))
        goto fail;
    free(cfg_path);
    st_free(&h.set);
    return 0;
fail:
    free(cfg_path);
    st_free(&h.set);
    return -1;
}
