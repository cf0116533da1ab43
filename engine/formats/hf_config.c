/* Hugging Face config.json → EngConfig, for LlamaForCausalLM and GPT2LMHeadModel.
 * Defaults are the transformers classes' defaults; every number is range-checked. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

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

/* bos/eos may be an integer or a list of integers (the first counts). */
static int cfg_token(json_t *root, const char *key) {
    json_t *v = json_object_get(root, key);
    if (json_is_array(v)) v = json_array_get(v, 0);
    if (!json_is_integer(v)) return -1;
    long long x = json_integer_value(v);
    return x >= 0 && x < HF_MAX_VOCAB ? (int)x : -1;
}

static int cfg_llama(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    c->arch = ENG_ARCH_LLAMA;
    if (cfg_int(f, r, "hidden_size", -1, 1, HF_MAX_DIM, &c->dim, e) ||
        cfg_int(f, r, "intermediate_size", -1, 1, HF_MAX_DIM, &c->hidden, e) ||
        cfg_int(f, r, "num_hidden_layers", -1, 1, HF_MAX_LAYERS, &c->n_layer, e) ||
        cfg_int(f, r, "num_attention_heads", -1, 1, HF_MAX_DIM, &c->n_head, e) ||
        cfg_int(f, r, "num_key_value_heads", c->n_head, 1, c->n_head, &c->n_kv_head, e) ||
        cfg_int(f, r, "vocab_size", -1, 1, HF_MAX_VOCAB, &c->vocab, e) ||
        cfg_int(f, r, "max_position_embeddings", 2048, 1, HF_MAX_CTX, &c->ctx_max, e) ||
        cfg_float(f, r, "rms_norm_eps", 1e-6, &c->norm_eps, e) ||
        cfg_bool(f, r, "tie_word_embeddings", false, &c->tied, e) ||
        cfg_bool(f, r, "attention_bias", false, &c->attn_bias, e) ||
        cfg_bool(f, r, "mlp_bias", false, &c->mlp_bias, e))
        return -1;
    if (c->n_head % c->n_kv_head)
        return lab_err(e, LAB_EFORMAT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", f,
                       c->n_head, c->n_kv_head);
    if (cfg_int(f, r, "head_dim", c->dim / c->n_head, 2, HF_MAX_DIM, &c->head_dim, e)) return -1;
    if (c->head_dim % 2) return lab_err(e, LAB_EFORMAT, "%s: head_dim %d is odd (RoPE needs pairs)", f, c->head_dim);
    if (!json_object_get(r, "head_dim") && c->dim % c->n_head)
        return lab_err(e, LAB_EFORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", f, c->dim,
                       c->n_head);
    json_t *act = json_object_get(r, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu")))
        return lab_err(e, LAB_EUNSUPPORTED, "%s: hidden_act '%s' (only silu is supported for llama)", f,
                       json_is_string(act) ? json_string_value(act) : "?");
    /* rope: transformers 5 nests it in rope_parameters; older files have rope_theta/rope_scaling */
    json_t *rp = json_object_get(r, "rope_parameters");
    json_t *rs = json_object_get(r, "rope_scaling");
    json_t *src = json_is_object(rp) ? rp : r;
    if (cfg_float(f, src, "rope_theta", 10000.0, &c->rope_theta, e)) return -1;
    json_t *rt = json_is_object(rp) ? json_object_get(rp, "rope_type") : json_is_object(rs) ? json_object_get(rs, "rope_type") : NULL;
    if (!rt && json_is_object(rs)) rt = json_object_get(rs, "type");
    if (rt && (!json_is_string(rt) || strcmp(json_string_value(rt), "default")))
        return lab_err(e, LAB_EUNSUPPORTED, "%s: rope_type '%s' (only the default RoPE is supported)", f,
                       json_is_string(rt) ? json_string_value(rt) : "?");
    c->rope_interleaved = false;
    return 0;
}

static int cfg_gpt2(const char *f, json_t *r, EngConfig *c, LabErr *e) {
    c->arch = ENG_ARCH_GPT2;
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
    json_t *act = json_object_get(r, "activation_function");
    const char *a = json_is_string(act) ? json_string_value(act) : "gelu_new";
    if (strcmp(a, "gelu_new") && strcmp(a, "gelu_pytorch_tanh"))
        return lab_err(e, LAB_EUNSUPPORTED, "%s: activation_function '%s' (only gelu_new is supported)", f, a);
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
    int rc = -1;
    if (!json_is_object(r)) {
        lab_err(e, LAB_EFORMAT, "%s: not a JSON object", path);
        goto done;
    }
    json_t *mt = json_object_get(r, "model_type");
    const char *type = json_is_string(mt) ? json_string_value(mt) : "";
    memset(c, 0, sizeof *c);
    if (!strcmp(type, "llama")) rc = cfg_llama(path, r, c, e);
    else if (!strcmp(type, "gpt2")) rc = cfg_gpt2(path, r, c, e);
    else lab_err(e, LAB_EUNSUPPORTED, "%s: model_type '%s' is not supported (llama, gpt2)", path, type);
    c->bos_id = cfg_token(r, "bos_token_id");
    c->eos_id = cfg_token(r, "eos_token_id");
done:
    json_decref(r);
    return rc;
}
