/* Hugging Face config.json → EngConfig, for every family of models/families.c (and
 * generation_config.json's bos/eos).
 * Defaults are the transformers classes' defaults; every number is range-checked. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "models.h"

#define HF_MAX_DIM (1 << 20)      /* generous ceilings that keep every product in range */
#define HF_MAX_VOCAB (1 << 24)
#define HF_MAX_LAYERS 4096
#define HF_MAX_CTX (1 << 22)

/* An integer field: absent → def (def < 0 means required). */
static int cfg_int(const char *file, json_t *root, const char *key, long long def, long long lo, long long hi,
                   int *out, LabErr *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (def < 0) return lab_err(e, LAB_EFORMAT, "%s: \"%s\" is missing", file, key);
        *out = (int)def;
        return 0;
    }
    if (!json_is_integer(v)) return lab_err(e, LAB_EFORMAT, "%s: \"%s\" is not an integer", file, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return lab_err(e, LAB_ERANGE, "%s: \"%s\" = %lld is out of range [%lld, %lld]", file, key, x, lo, hi);
    *out = (int)x;
    return 0;
}

static int cfg_float(const char *file, json_t *root, const char *key, double def, float *out, LabErr *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = (float)def;
        return 0;
    }
    if (!json_is_number(v)) return lab_err(e, LAB_EFORMAT, "%s: \"%s\" is not a number", file, key);
    double x = json_number_value(v);
    if (!isfinite(x) || x <= 0) return lab_err(e, LAB_ERANGE, "%s: \"%s\" = %g must be positive", file, key, x);
    *out = (float)x;
    return 0;
}

static int cfg_bool(const char *file, json_t *root, const char *key, bool def, bool *out, LabErr *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) return lab_err(e, LAB_EFORMAT, "%s: \"%s\" is not true/false", file, key);
    *out = json_is_true(v);
    return 0;
}

/* bos_token_id: an integer (a list's first entry); -1 when absent or out of range. */
static int cfg_token(json_t *root, const char *key) {
    json_t *v = json_object_get(root, key);
    if (json_is_array(v)) v = json_array_get(v, 0);
    if (!json_is_integer(v)) return -1;
    long long x = json_integer_value(v);
    return x >= 0 && x < HF_MAX_VOCAB ? (int)x : -1;
}

/* eos_token_id: an integer or a list of them, every one ending a generation. Absent: c untouched. */
static int cfg_eos(const char *f, json_t *root, EngConfig *c, LabErr *e) {
    json_t *v = json_object_get(root, "eos_token_id");
    if (!v || json_is_null(v)) return 0;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (n > ENG_MAX_EOS)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: \"eos_token_id\" lists %zu ids (ablab stops on at most %d)", f, n,
                       ENG_MAX_EOS);
    int ids[ENG_MAX_EOS];
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_integer(it) || json_integer_value(it) < 0 || json_integer_value(it) >= HF_MAX_VOCAB)
            return lab_err(e, LAB_EFORMAT, "%s: \"eos_token_id\" is not a token id or a list of them", f);
        ids[i] = (int)json_integer_value(it);
    }
    c->n_eos = (int)n;
    memcpy(c->eos_ids, ids, n * sizeof *ids);
    c->eos_id = n ? ids[0] : -1;
    return 0;
}

/* A string field's value, or def when absent; NULL (e filled) when not a string. */
static const char *cfg_str(const char *f, json_t *r, const char *key, const char *def, LabErr *e) {
    json_t *v = json_object_get(r, key);
    if (!v || json_is_null(v)) return def;
    if (!json_is_string(v)) {
        lab_err(e, LAB_EFORMAT, "%s: \"%s\" is not a string", f, key);
        return NULL;
    }
    return json_string_value(v);
}

/* The activation named by `key`, which must be one of `allowed` (a NULL-terminated list). */
static int cfg_act(const char *f, json_t *r, const char *key, const char *def, const char *const *allowed, EngAct *out,
                   LabErr *e) {
    const char *a = cfg_str(f, r, key, def, e);
    if (!a) return -1;
    for (size_t i = 0; allowed[i]; i++)
        if (!strcmp(a, allowed[i])) {
            *out = !strcmp(a, "silu") ? ENG_ACT_SILU : !strcmp(a, "gelu") ? ENG_ACT_GELU_ERF : ENG_ACT_GELU_TANH;
            return 0;
        }
    char list[128] = "";
    for (size_t i = 0, at = 0; allowed[i] && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", allowed[i]);
    return lab_err(e, LAB_EUNSUPPORTED, "%s: \"%s\" is '%s', which ablab does not apply for this model_type (%s)", f, key,
                   a, list);
}

/* A field that must be absent, null, false or 0 because ablab does not apply what it asks for. */
static int cfg_refuse(const char *f, json_t *r, const char *key, const char *why, LabErr *e) {
    json_t *v = json_object_get(r, key);
    if (!v || json_is_null(v) || json_is_false(v) || (json_is_number(v) && json_number_value(v) == 0)) return 0;
    return lab_err(e, LAB_EUNSUPPORTED, "%s: \"%s\" is set: %s, which ablab does not apply", f, key, why);
}

/* The sizes every llama-shaped config names the same way. */
static int cfg_dims(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    if (cfg_int(f, r, "hidden_size", -1, 1, HF_MAX_DIM, &c->dim, e) ||
        cfg_int(f, r, "intermediate_size", -1, 1, HF_MAX_DIM, &c->hidden, e) ||
        cfg_int(f, r, "num_hidden_layers", -1, 1, HF_MAX_LAYERS, &c->n_layer, e) ||
        cfg_int(f, r, "num_attention_heads", -1, 1, HF_MAX_DIM, &c->n_head, e) ||
        cfg_int(f, r, "num_key_value_heads", c->n_head, 1, c->n_head, &c->n_kv_head, e) ||
        cfg_int(f, r, "vocab_size", -1, 1, HF_MAX_VOCAB, &c->vocab, e) ||
        cfg_int(f, r, "max_position_embeddings", 2048, 1, HF_MAX_CTX, &c->ctx_max, e))
        return -1;
    if (c->n_head % c->n_kv_head)
        return lab_err(e, LAB_EFORMAT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", f,
                       c->n_head, c->n_kv_head);
    if (!json_object_get(r, "head_dim") && c->dim % c->n_head)
        return lab_err(e, LAB_EFORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", f, c->dim,
                       c->n_head);
    if (cfg_int(f, r, "head_dim", c->dim / c->n_head, 2, HF_MAX_DIM, &c->head_dim, e)) return -1;
    c->rope_dim = c->head_dim;
    return 0;
}

/* One float of a rope object that its type requires. */
static int rope_req(const char *f, json_t *o, const char *type, const char *key, float *out, LabErr *e) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
        return lab_err(e, LAB_EFORMAT, "%s: rope type '%s' needs a positive number \"%s\"", f, type, key);
    *out = (float)json_number_value(v);
    return 0;
}

/* RoPE: the base and the scaling. transformers 5 writes "rope_parameters" (for gemma3 one object per
 * layer type, `sub`); older files "rope_theta" (or theta_key) and "rope_scaling". */
static int cfg_rope(const char *f, json_t *r, const char *sub, const char *theta_key, double theta_def, float *theta,
                    EngRopeScaling *sc, LabErr *e) {
    json_t *rp = json_object_get(r, "rope_parameters");
    if (rp && !json_is_null(rp) && !json_is_object(rp))
        return lab_err(e, LAB_EFORMAT, "%s: \"rope_parameters\" is not an object", f);
    if (sub && json_is_object(json_object_get(rp, sub))) rp = json_object_get(rp, sub);
    json_t *rs = json_object_get(r, "rope_scaling");
    if (rs && !json_is_null(rs) && !json_is_object(rs))
        return lab_err(e, LAB_EFORMAT, "%s: \"rope_scaling\" is not an object", f);
    json_t *src = json_is_object(rp) && json_object_get(rp, "rope_theta") ? rp : r;
    if (json_object_get(src, "rope_theta")) theta_key = "rope_theta";
    if (cfg_float(f, src, theta_key, theta_def, theta, e)) return -1;
    json_t *obj = json_is_object(rp) && json_object_get(rp, "rope_type") ? rp : json_is_object(rs) ? rs : NULL;
    memset(sc, 0, sizeof *sc);
    if (!obj) return 0;
    json_t *rt = json_object_get(obj, "rope_type");
    if (!rt) rt = json_object_get(obj, "type");
    const char *where = obj == rs ? "rope_scaling" : "rope_parameters";
    if (rt && !json_is_string(rt)) return lab_err(e, LAB_EFORMAT, "%s: \"%s\".rope_type is not a string", f, where);
    const char *t = rt ? json_string_value(rt) : "default";
    if (!strcmp(t, "default")) return 0;
    if (!strcmp(t, "linear")) {
        sc->type = ENG_ROPE_LINEAR;
        return rope_req(f, obj, t, "factor", &sc->factor, e);
    }
    if (!strcmp(t, "llama3")) {
        float orig;
        sc->type = ENG_ROPE_LLAMA3;
        if (rope_req(f, obj, t, "factor", &sc->factor, e) || rope_req(f, obj, t, "low_freq_factor", &sc->low_freq_factor, e) ||
            rope_req(f, obj, t, "high_freq_factor", &sc->high_freq_factor, e) ||
            rope_req(f, obj, t, "original_max_position_embeddings", &orig, e))
            return -1;
        if (!(sc->high_freq_factor > sc->low_freq_factor) || orig > HF_MAX_CTX)
            return lab_err(e, LAB_EFORMAT, "%s: rope type 'llama3' needs high_freq_factor > low_freq_factor", f);
        sc->orig_ctx = (int)orig;
        return 0;
    }
    return lab_err(e, LAB_EUNSUPPORTED, "%s: \"%s\" has rope_type '%s' (ablab applies default, linear and llama3)", f,
                   where, t);
}

/* partial_rotary_factor (rope_parameters or top level) or alt_key (rotary_pct): the share of each
 * head that RoPE rotates. */
static int cfg_rotary_share(const char *f, json_t *r, const char *alt_key, double def, EngConfig *c, LabErr *e) {
    json_t *rp = json_object_get(r, "rope_parameters");
    float share;
    json_t *src = json_is_object(rp) && json_object_get(rp, "partial_rotary_factor") ? rp : r;
    const char *key = json_object_get(src, "partial_rotary_factor") || !alt_key ? "partial_rotary_factor" : alt_key;
    if (cfg_float(f, src, key, def, &share, e)) return -1;
    if (share > 1.0f) return lab_err(e, LAB_ERANGE, "%s: \"%s\" = %g is above 1", f, key, (double)share);
    c->rope_dim = (int)((float)c->head_dim * share); /* transformers truncates, as int() does */
    if (c->rope_dim < 2 || c->rope_dim % 2)
        return lab_err(e, LAB_EFORMAT, "%s: \"%s\" = %g rotates %d of %d dimensions per head (needs an even number)", f,
                       key, (double)share, c->rope_dim, c->head_dim);
    return 0;
}

static const char *const k_silu[] = {"silu", NULL};

/* llama, qwen2, qwen3: the same block; qwen2 has q/k/v biases, qwen3 q/k norms. */
static int cfg_llama(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    if (cfg_dims(f, r, c, e) || cfg_float(f, r, "rms_norm_eps", 1e-6, &c->norm_eps, e) ||
        cfg_bool(f, r, "tie_word_embeddings", false, &c->tied, e) ||
        cfg_act(f, r, "hidden_act", "silu", k_silu, &c->act, e) ||
        cfg_rope(f, r, NULL, "rope_theta", 10000.0, &c->rope_theta, &c->rope_scaling, e))
        return -1;
    if (c->head_dim % 2) return lab_err(e, LAB_EFORMAT, "%s: head_dim %d is odd (RoPE needs pairs)", f, c->head_dim);
    if (c->arch == ENG_ARCH_QWEN2) { /* Qwen2Attention: q/k/v with biases, o without */
        c->attn_bias = true;
    } else {
        if (cfg_bool(f, r, "attention_bias", false, &c->attn_bias, e)) return -1;
        c->o_bias = c->attn_bias;
    }
    if (c->arch == ENG_ARCH_LLAMA && cfg_bool(f, r, "mlp_bias", false, &c->mlp_bias, e)) return -1;
    c->qk_norm = c->arch == ENG_ARCH_QWEN3;
    if (c->arch != ENG_ARCH_LLAMA &&
        cfg_refuse(f, r, "use_sliding_window", "sliding-window attention on the upper layers", e))
        return -1;
    c->rope_interleaved = false;
    return 0;
}

static int cfg_gptneox(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    static const char *const acts[] = {"gelu", "gelu_new", "gelu_pytorch_tanh", NULL};
    if (cfg_dims(f, r, c, e) || cfg_float(f, r, "layer_norm_eps", 1e-5, &c->norm_eps, e) ||
        cfg_bool(f, r, "tie_word_embeddings", false, &c->tied, e) ||
        cfg_bool(f, r, "use_parallel_residual", true, &c->parallel_residual, e) ||
        cfg_bool(f, r, "attention_bias", true, &c->attn_bias, e) ||
        cfg_act(f, r, "hidden_act", "gelu", acts, &c->act, e) ||
        cfg_rope(f, r, NULL, "rotary_emb_base", 10000.0, &c->rope_theta, &c->rope_scaling, e) ||
        cfg_rotary_share(f, r, "rotary_pct", 0.25, c, e))
        return -1;
    if (c->n_kv_head != c->n_head || c->head_dim * c->n_head != c->dim)
        return lab_err(e, LAB_EFORMAT, "%s: gpt_neox needs num_attention_heads x head size == hidden_size", f);
    c->o_bias = c->attn_bias;
    c->qkv_per_head = true;
    return 0;
}

static int cfg_phi(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    static const char *const acts[] = {"gelu_new", "gelu_pytorch_tanh", "gelu", NULL};
    if (cfg_dims(f, r, c, e) || cfg_float(f, r, "layer_norm_eps", 1e-5, &c->norm_eps, e) ||
        cfg_bool(f, r, "tie_word_embeddings", false, &c->tied, e) ||
        cfg_act(f, r, "hidden_act", "gelu_new", acts, &c->act, e) ||
        cfg_rope(f, r, NULL, "rope_theta", 10000.0, &c->rope_theta, &c->rope_scaling, e) ||
        cfg_rotary_share(f, r, NULL, 0.5, c, e) ||
        cfg_refuse(f, r, "qk_layernorm", "LayerNorms on q and k", e))
        return -1;
    c->attn_bias = c->o_bias = true;
    return 0;
}

static int cfg_gemma3(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    static const char *const acts[] = {"gelu_pytorch_tanh", "gelu_new", NULL};
    float qpas;
    if (cfg_dims(f, r, c, e) || cfg_float(f, r, "rms_norm_eps", 1e-6, &c->norm_eps, e) ||
        cfg_bool(f, r, "tie_word_embeddings", true, &c->tied, e) ||
        cfg_act(f, r, json_object_get(r, "hidden_activation") ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh",
                acts, &c->act, e) ||
        cfg_bool(f, r, "attention_bias", false, &c->attn_bias, e) ||
        cfg_float(f, r, "query_pre_attn_scalar", c->head_dim, &qpas, e) ||
        cfg_int(f, r, "sliding_window", 4096, 1, HF_MAX_CTX, &c->sliding_window, e) ||
        cfg_rope(f, r, "full_attention", "rope_theta", 1000000.0, &c->rope_theta, &c->rope_scaling, e) ||
        cfg_refuse(f, r, "attn_logit_softcapping", "soft-capping of the attention scores", e) ||
        cfg_refuse(f, r, "use_bidirectional_attention", "bidirectional attention", e))
        return -1;
    if (c->head_dim % 2) return lab_err(e, LAB_EFORMAT, "%s: head_dim %d is odd (RoPE needs pairs)", f, c->head_dim);
    EngRopeScaling local;
    json_t *rp = json_object_get(r, "rope_parameters");
    if (json_is_object(json_object_get(rp, "sliding_attention"))) {
        if (cfg_rope(f, r, "sliding_attention", "rope_theta", 10000.0, &c->rope_theta_local, &local, e)) return -1;
        if (local.type != ENG_ROPE_DEFAULT)
            return lab_err(e, LAB_EUNSUPPORTED,
                           "%s: \"rope_parameters\".sliding_attention is scaled (ablab scales only the global layers' RoPE)", f);
    } else if (cfg_float(f, r, "rope_local_base_freq", 10000.0, &c->rope_theta_local, e)) {
        return -1;
    }
    c->o_bias = c->attn_bias;
    c->qk_norm = true;
    c->attn_scale = 1.0f / sqrtf(qpas);
    c->embed_scale = sqrtf((float)c->dim);
    json_t *fs = json_object_get(r, "final_logit_softcapping");
    if (fs && !json_is_null(fs) && cfg_float(f, r, "final_logit_softcapping", 0, &c->final_softcap, e)) return -1;
    return 0;
}

/* gemma3's layer_types (or the older sliding_window_pattern): which layers slide. */
static int cfg_layer_types(const char *f, json_t *r, EngConfig *c, EngLayer *layers, LabErr *e) {
    json_t *lt = json_object_get(r, "layer_types");
    if (lt && !json_is_null(lt)) {
        if (!json_is_array(lt) || json_array_size(lt) != (size_t)c->n_layer)
            return lab_err(e, LAB_EFORMAT, "%s: \"layer_types\" has %zu entries for %d layers (num_hidden_layers)", f,
                           json_is_array(lt) ? json_array_size(lt) : 0, c->n_layer);
        for (int i = 0; i < c->n_layer; i++) {
            const char *t = json_string_value(json_array_get(lt, (size_t)i));
            if (t && !strcmp(t, "sliding_attention")) layers[i].sliding = true;
            else if (t && !strcmp(t, "full_attention")) layers[i].sliding = false;
            else
                return lab_err(e, LAB_EFORMAT, "%s: \"layer_types\"[%d] is '%s' (full_attention or sliding_attention)", f,
                               i, t ? t : "not a string");
        }
        return 0;
    }
    int pattern;
    if (cfg_int(f, r, "sliding_window_pattern", 6, 1, HF_MAX_LAYERS, &pattern, e)) return -1;
    for (int i = 0; i < c->n_layer; i++) layers[i].sliding = (i + 1) % pattern != 0;
    return 0;
}

static int cfg_gpt2(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    if (cfg_int(f, r, "n_embd", 768, 1, HF_MAX_DIM, &c->dim, e) ||
        cfg_int(f, r, "n_layer", 12, 1, HF_MAX_LAYERS, &c->n_layer, e) ||
        cfg_int(f, r, "n_head", 12, 1, HF_MAX_DIM, &c->n_head, e) ||
        cfg_int(f, r, "vocab_size", 50257, 1, HF_MAX_VOCAB, &c->vocab, e) ||
        cfg_int(f, r, "n_positions", 1024, 1, HF_MAX_CTX, &c->ctx_max, e) ||
        cfg_float(f, r, "layer_norm_epsilon", 1e-5, &c->norm_eps, e) ||
        cfg_bool(f, r, "tie_word_embeddings", true, &c->tied, e))
        return -1;
    if (c->dim % c->n_head)
        return lab_err(e, LAB_EFORMAT, "%s: n_embd %d is not a multiple of n_head %d", f, c->dim, c->n_head);
    if (cfg_int(f, r, "n_inner", 4LL * c->dim, 1, 4LL * HF_MAX_DIM, &c->hidden, e)) return -1;
    c->n_kv_head = c->n_head;
    c->head_dim = c->dim / c->n_head;
    /* GPT-2's own gelu_new (tanh), or "gelu": torch's exact erf GELU, which nanoGPT's nn.GELU() is */
    static const char *const acts[] = {"gelu_new", "gelu_pytorch_tanh", "gelu", NULL};
    if (cfg_act(f, r, "activation_function", "gelu_new", acts, &c->act, e)) return -1;
    bool by_layer = false, scale = true;
    if (cfg_bool(f, r, "scale_attn_by_inverse_layer_idx", false, &by_layer, e) ||
        cfg_bool(f, r, "scale_attn_weights", true, &scale, e))
        return -1;
    if (by_layer || !scale)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: only the standard attention scale 1/sqrt(head_dim) is supported", f);
    return 0;
}

json_t *eng_json_read(const char *path, size_t limit, LabErr *e) {
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, limit, &text, &len, e)) return NULL;
    json_error_t je;
    /* jansson takes a NUL for the end of the text: what follows one would go unread */
    const char *nul = memchr(text, 0, len);
    if (nul) {
        lab_err(e, LAB_EFORMAT, "%s: not valid JSON: a NUL byte at offset %zu", path, (size_t)(nul - text));
        free(text);
        return NULL;
    }
    json_t *r = json_loadb(text, len, 0, &je);
    free(text);
    if (!r) lab_err(e, LAB_EFORMAT, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
    return r;
}

int hf_config_read(const char *path, EngConfig *c, LabErr *e) {
    json_t *r = eng_json_read(path, 16u << 20, e);
    if (!r) return -1;
    int rc = hf_config_parse(r, path, c, e);
    json_decref(r);
    return rc;
}

int hf_config_parse(struct json_t *r, const char *path, EngConfig *c, LabErr *e) {
    int rc = -1;
    if (!json_is_object(r)) {
        lab_err(e, LAB_EFORMAT, "%s: not a JSON object", path);
        goto done;
    }
    json_t *mt = json_object_get(r, "model_type");
    const char *type = json_is_string(mt) ? json_string_value(mt) : "";
    memset(c, 0, sizeof *c);
    c->bos_id = c->eos_id = -1;
    const EngFamily *fam = eng_family_by_hf(type);
    if (!fam) {
        char list[256];
        lab_err(e, LAB_EUNSUPPORTED, "%s: model_type '%s' is not supported (%s)", path, type,
                eng_family_list(false, list, sizeof list));
        goto done;
    }
    c->arch = fam->arch;
    switch (c->arch) {
    case ENG_ARCH_GPT2: rc = cfg_gpt2(path, r, c, e); break;
    case ENG_ARCH_GPTNEOX: rc = cfg_gptneox(path, r, c, e); break;
    case ENG_ARCH_PHI: rc = cfg_phi(path, r, c, e); break;
    case ENG_ARCH_GEMMA3: rc = cfg_gemma3(path, r, c, e); break;
    default: rc = cfg_llama(path, r, c, e); break;
    }
    if (!rc && c->arch != ENG_ARCH_GEMMA3)
        rc = cfg_refuse(path, r, "final_logit_softcapping", "soft-capping of the logits", e);
    if (rc) goto done;
    c->bos_id = cfg_token(r, "bos_token_id");
    rc = cfg_eos(path, r, c, e);
done:
    return rc;
}

int hf_layer_types_read(const char *path, EngConfig *c, EngLayer *layers, LabErr *e) {
    if (c->arch != ENG_ARCH_GEMMA3) return 0;
    json_t *r = eng_json_read(path, 16u << 20, e);
    if (!r) return -1;
    int rc = cfg_layer_types(path, r, c, layers, e);
    json_decref(r);
    return rc;
}

int hf_generation_read(const char *path, EngConfig *c, LabErr *e) {
    if (file_exists(path) != 1) return 0;
    json_t *r = eng_json_read(path, 1u << 20, e);
    if (!r) return -1;
    int rc = 0;
    if (!json_is_object(r)) {
        rc = lab_err(e, LAB_EFORMAT, "%s: not a JSON object", path);
    } else {
        int bos = cfg_token(r, "bos_token_id");
        if (bos >= 0) c->bos_id = bos;
        rc = cfg_eos(path, r, c, e);
    }
    json_decref(r);
    return rc;
}
