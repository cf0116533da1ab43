/* The load sequence: which loader reads the file (formats/), the checks every format shares, the
 * conversion a --quant asks for, the run state, the tokenizer, and the family's forward pass
 * (models/). The loaders never call back into this file. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "formats.h"
#include "gguf.h"
#include "lcmath.h"
#include "lora.h"
#include "gemm.h"
#include "matmul.h"
#include "model.h"
#include "models.h"
#include "ops.h"
#include "quant.h"

int eng_model_load_tokenizer(EngModel *m, const char *path, const EngLoadOpts *o, LabErr *e); /* tokens.c */

/* ---------- checks common to every loader ---------------------------------------------------------- */
static int check_config(const EngModel *m, LabErr *e) {
    const EngConfig *c = &m->cfg;
    if (c->dim <= 0 || c->hidden <= 0 || c->n_layer <= 0 || c->n_head <= 0 || c->n_kv_head <= 0 || c->head_dim <= 0 ||
        c->vocab <= 0 || c->ctx_max <= 0)
        return lab_err(e, LAB_EFORMAT, "%s: a model dimension is zero or negative", m->name);
    if (c->n_head % c->n_kv_head)
        return lab_err(e, LAB_EFORMAT, "%s: %d heads do not split into %d key/value heads", m->name, c->n_head,
                       c->n_kv_head);
    if (c->arch != ENG_ARCH_GPT2 && (c->rope_dim <= 0 || c->rope_dim % 2 || c->rope_dim > c->head_dim))
        return lab_err(e, LAB_EFORMAT, "%s: RoPE over %d of head_dim %d dimensions (needs an even number, at most head_dim)",
                       m->name, c->rope_dim, c->head_dim);
    if ((c->arch == ENG_ARCH_GPT2 || c->arch == ENG_ARCH_GPTNEOX) && c->n_head * c->head_dim != c->dim)
        return lab_err(e, LAB_EFORMAT, "%s: %s needs n_head x head_dim == dim", m->name, eng_family(c->arch)->hf_type);
    return 0;
}

/* Parameters of the configuration, as transformers counts them (a tied head once). */
static int64_t count_params(const EngConfig *c) {
    int64_t dim = c->dim, hid = c->hidden, V = c->vocab, L = c->n_layer, hd = c->head_dim;
    int64_t qd = (int64_t)c->n_head * c->head_dim, kvd = (int64_t)c->n_kv_head * c->head_dim;
    int64_t head = c->tied ? 0 : V * dim;
    int64_t attn = qd * dim + 2 * kvd * dim + dim * qd + (c->attn_bias ? qd + 2 * kvd : 0) + (c->o_bias ? dim : 0);
    switch (c->arch) {
    case ENG_ARCH_GPT2: {
        int64_t layer = 4 * dim + 3 * dim * dim + 3 * dim + dim * dim + dim + hid * dim + hid + dim * hid + dim;
        return V * dim + (int64_t)c->ctx_max * dim + L * layer + 2 * dim;
    }
    case ENG_ARCH_GPTNEOX: /* LayerNorms with biases, fused qkv, dense MLP, all with biases */
        return V * dim + L * (4 * dim + attn + hid * dim + hid + dim * hid + dim) + 2 * dim + head;
    case ENG_ARCH_PHI:     /* one LayerNorm per layer; the head has a bias */
        return V * dim + L * (2 * dim + attn + hid * dim + hid + dim * hid + dim) + 2 * dim + head + (c->tied ? 0 : V);
    case ENG_ARCH_GEMMA3:  /* four norms per layer, q/k norms */
        return V * dim + L * (4 * dim + 2 * hd + attn + 3 * hid * dim) + dim + head;
    default: {             /* llama, qwen2, qwen3 */
        int64_t layer = 2 * dim + attn + 3 * hid * dim + (c->qk_norm ? 2 * hd : 0);
        if (c->mlp_bias) layer += 2 * hid + dim;
        return V * dim + L * layer + dim + head;
    }
    }
}

/* RoPE tables [ctx][rope_dim/2] for base theta, with the config's scaling when `scaled`. */
static void rope_fill(const EngModel *m, float *cos_t, float *sin_t, int ctx, float theta, bool scaled, float *inv) {
    const EngConfig *c = &m->cfg;
    int half = c->rope_dim / 2;
    if (m->llama_order && (!scaled || c->rope_scaling.type == ENG_ROPE_DEFAULT)) { /* llama.cpp's angles (lcmath.h) */
        lc_rope_tables(cos_t, sin_t, ctx, half, c->rope_dim, theta);
        return;
    }
    op_rope_inv_freq(inv, c->rope_dim, theta);
    const EngRopeScaling *r = &c->rope_scaling;
    if (scaled && r->type == ENG_ROPE_LINEAR)
        for (int j = 0; j < half; j++) inv[j] /= r->factor;
    else if (scaled && r->type == ENG_ROPE_LLAMA3)
        op_rope_llama3(inv, half, r->factor, r->low_freq_factor, r->high_freq_factor, r->orig_ctx);
    else if (scaled && r->type == ENG_ROPE_FACTORS)
        for (int j = 0; j < half; j++) inv[j] /= r->freq_factors[j];
    op_rope_tables(cos_t, sin_t, ctx, half, inv);
}

/* ---------- run state ---------------------------------------------------------------------------- */
static int alloc_state(EngModel *m, int ctx, LabErr *e) {
    const EngConfig *c = &m->cfg;
    EngRunState *s = &m->s;
    s->ctx = ctx;
    s->batch = ctx < 512 ? ctx : 512; /* the batch kernel converts each weight once per batch: long batches amortize it */
    size_t B = (size_t)s->batch, dim = (size_t)c->dim, hid = (size_t)c->hidden;
    size_t qd = (size_t)c->n_head * c->head_dim, kvd = (size_t)c->n_kv_head * c->head_dim;
    size_t qw = c->arch == ENG_ARCH_GPT2 ? 3 * dim : qd; /* gpt2's attention reads q from the fused rows */
    size_t kv_elems;
    if (!size_mul_ok((size_t)c->n_layer * (size_t)ctx, kvd, &kv_elems) || !size_mul_ok(kv_elems, 4, &kv_elems))
        return lab_err(e, LAB_ERANGE, "%s: KV cache of %d positions is too large", m->name, ctx);
#define ALLOC(field, count)                                                                  \
    do {                                                                                     \
        size_t n_;                                                                           \
        if (!size_mul_ok((count), sizeof(float), &n_))                                      \
            return lab_err(e, LAB_ERANGE, "%s: scratch buffer too large", m->name);          \
        if (!(s->field = eng_model_state(m, n_, e))) return -1;                                \
        m->info.bytes_scratch += n_;                                                         \
    } while (0)
    if (!(s->key_cache = eng_model_state(m, kv_elems, e)) || !(s->value_cache = eng_model_state(m, kv_elems, e)))
        return -1;
    m->info.bytes_kv = 2 * kv_elems;
    ALLOC(x, B * dim);
    ALLOC(xb, B * (dim > qd ? dim : qd));
    if (c->arch == ENG_ARCH_GPTNEOX || c->arch == ENG_ARCH_PHI) ALLOC(xb2, B * dim);
    if (c->arch == ENG_ARCH_GPTNEOX) ALLOC(qkv, B * 3 * dim);
    ALLOC(q, B * qw);
    ALLOC(att_out, B * qd);
    ALLOC(hb, B * hid);
    ALLOC(hb2, B * hid);
    ALLOC(logits, (size_t)c->vocab);
    ALLOC(row, dim > hid ? dim : hid);
    if (c->arch != ENG_ARCH_GPT2) {
        size_t half = (size_t)c->rope_dim / 2;
        float *inv = eng_model_state(m, half * sizeof *inv, e);
        if (!inv) return -1;
        ALLOC(rope_cos, (size_t)ctx * half);
        ALLOC(rope_sin, (size_t)ctx * half);
        rope_fill(m, s->rope_cos, s->rope_sin, ctx, c->rope_theta, true, inv);
        if (c->arch == ENG_ARCH_GEMMA3) { /* the sliding layers' base, unscaled (as transformers) */
            ALLOC(rope_cos_l, (size_t)ctx * half);
            ALLOC(rope_sin_l, (size_t)ctx * half);
            rope_fill(m, s->rope_cos_l, s->rope_sin_l, ctx, c->rope_theta_local, false, inv);
        }
    }
#undef ALLOC
    return 0;
}

/* The dtypes that hold most of the weights (as read by the kernels, and in the file). */
static void main_dtypes(EngModel *m) {
    size_t mem[QT_COUNT] = {0}, file[QT_COUNT] = {0};
    for (size_t i = 0; i < m->n_tinfo; i++) {
        const EngTensorInfo *t = &m->tinfo[i];
        size_t n = (size_t)t->rows * (size_t)t->cols;
        QType d;
        if (!qtype_parse(t->dtype, &d)) mem[d] += n;
        if (!qtype_parse(t->file_dtype, &d)) file[d] += n;
    }
    int bm = 0, bf = 0;
    for (int d = 1; d < QT_COUNT; d++) {
        if (mem[d] > mem[bm]) bm = d;
        if (file[d] > file[bf]) bf = d;
    }
    snprintf(m->dtype, sizeof m->dtype, "%s", qtype_name((QType)bm));
    snprintf(m->file_dtype, sizeof m->file_dtype, "%s", qtype_name((QType)bf));
}

/* ---------- --quant: conversion after loading ------------------------------------------------ */
/* Converts W rows into dst (rows of dt). */
static void tensor_convert(const EngTensor *W, EngDType dt, void *dst, float *row) {
    size_t rb;
    qtype_row_bytes((QType)dt, (size_t)W->cols, &rb);
    for (int64_t r = 0; r < W->rows; r++) {
        eng_tensor_row(W, r, row);
        quant_from_f32((QType)dt, row, (uint8_t *)dst + (size_t)r * rb, (size_t)W->cols);
    }
}

static int requant_tensor(EngModel *m, EngTensor *W, EngDType dt, float *row, LabErr *e) {
    if (!W->data) return 0;
    if (W->dt == dt && (!W->transposed || dt == ENG_DT_F32)) /* BLAS reads transposed F32 */
        return eng_model_own(m, W, e);
    if (W->dt == ENG_DT_Q8R && dt == ENG_DT_Q8_0) return 0;
    if (dt == ENG_DT_Q8_0 && eng_q8r_wanted()) dt = ENG_DT_Q8R;
    size_t old, nb;
    if (!eng_dtype_bytes(W->dt, W->rows, W->cols, &old) || !eng_dtype_bytes(dt, W->rows, W->cols, &nb))
        return lab_err(e, LAB_ERANGE, "%s: a tensor is too large to convert", m->name);
    void *dst = eng_model_weight_mem(m, nb, e);
    if (!dst) return -1;
    tensor_convert(W, dt, dst, row);
    const void *prev = W->data;
    if (eng_model_in_maps(m, prev)) {
        m->info.bytes_mapped -= old;
    } else {
        m->info.bytes_owned -= old;
        for (size_t i = 0; i < m->n_owned; i++) /* the old copy is no longer needed */
            if (m->owned[i] == prev) {
                free(m->owned[i]);
                m->owned[i] = NULL;
            }
    }
    W->data = dst;
    W->dt = dt;
    W->transposed = false;
    return 0;
}

/* Each matrix to the type llama-quantize's preset gives it (quant_preset.c), by its role. */
static int eng_model_requant(EngModel *m, const char *quant, LabErr *e) {
    const EngQuantPreset *p = eng_quant_preset(quant);
    if (!p) return lab_err(e, LAB_EINVAL, "--quant %s: expected %s", quant, eng_quant_preset_list());
    const EngConfig *c = &m->cfg;
    bool tied = m->w.lm_head.data == m->w.tok_emb.data, has_output = !tied || c->arch == ENG_ARCH_GPT2;
#define PICK(W, role, layer) eng_quant_pick(p, role, layer, c, has_output, (W)->cols)
    int64_t maxc = c->dim > c->hidden ? c->dim : c->hidden;
    if ((int64_t)c->n_head * c->head_dim > maxc) maxc = (int64_t)c->n_head * c->head_dim;
    float *row = malloc((size_t)maxc * sizeof *row);
    if (!row) return lab_err(e, LAB_ENOMEM, "out of memory");
    /* a tied head is one matrix, typed as llama-quantize types a tied embedding (as the output) */
    int rc = requant_tensor(m, &m->w.tok_emb, PICK(&m->w.tok_emb, EQR_TOKEN_EMBD, -1), row, e);
    if (!rc && tied) m->w.lm_head = m->w.tok_emb;
    else if (!rc) rc = requant_tensor(m, &m->w.lm_head, PICK(&m->w.lm_head, EQR_OUTPUT, -1), row, e);
    for (int i = 0; i < c->n_layer && !rc; i++) {
        EngLayer *y = &m->w.layers[i];
        struct { EngTensor *W; EngQuantRole role; } mats[] = {
            {&y->wq, EQR_ATTN_Q},         {&y->wk, EQR_ATTN_K},        {&y->wv, EQR_ATTN_V},
            {&y->wo, EQR_ATTN_OUT},       {&y->w_gate, EQR_FFN_GATE},  {&y->w_up, EQR_FFN_UP},
            {&y->w_down, EQR_FFN_DOWN},   {&y->c_attn, EQR_ATTN_QKV},  {&y->c_proj, EQR_ATTN_OUT},
            {&y->c_fc, EQR_FFN_UP},       {&y->c_fc_proj, EQR_FFN_DOWN},
        };
        for (size_t k = 0; k < sizeof mats / sizeof *mats && !rc; k++)
            if (mats[k].W->data) rc = requant_tensor(m, mats[k].W, PICK(mats[k].W, mats[k].role, i), row, e);
    }
#undef PICK
    free(row);
    if (rc) return -1;
    snprintf(m->dtype, sizeof m->dtype, "%s", eng_dtype_name(eng_fit_dtype(p->base, c->dim)));
    return 0;
}

/* ---------- public ---------------------------------------------------------------------------------- */
static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static int pickle_refusal(const char *path, LabErr *e) {
    return lab_err(e, LAB_EUNSUPPORTED,
                   "%s: PyTorch pickle files are refused (loading one runs arbitrary code). Convert the state dict once "
                   "in your own Python: `python3 tools/pt_to_safetensors.py CKPT.pt model.safetensors` (nanoGPT's ckpt.pt "
                   "included), then `ablab import` it (docs/own-model.md); or, for a transformers model, "
                   "`AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(OUT, safe_serialization=True)`",
                   path);
}

/* A zip (torch.save since 1.6) or a raw pickle (protocol 2+ starts with 0x80). */
static bool looks_like_pickle(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char b[4] = {0};
    size_t n = fread(b, 1, 4, f);
    fclose(f);
    return n >= 2 && ((b[0] == 'P' && b[1] == 'K') || (b[0] == 0x80 && b[1] >= 2 && b[1] <= 5));
}

/* A token id key's text from the file's own vocabulary; NULL when absent or out of range. */
static const char *gguf_token_text(const GgufFile *g, const GgufKV *toks, const char *key, char *buf, size_t n) {
    int64_t id;
    LabErr ignore = {0};
    if (!toks || gguf_get_i64(g, key, &id, &ignore) != 0 || id < 0 || (uint64_t)id >= toks->n) return NULL;
    const GgufStr *t = &toks->strs[id];
    if (t->len >= n) return NULL;
    memcpy(buf, t->s, t->len);
    buf[t->len] = 0;
    return buf;
}

int eng_gguf_chat_setup(const char *path, ChatSetup *s, LabErr *e) {
    memset(s, 0, sizeof *s);
    GgufFile *g;
    if (gguf_open(&g, path, e)) return -1;
    GgufStr t;
    int rc = gguf_get_str(g, "tokenizer.chat_template", &t, e);
    if (rc) {
        gguf_close(g);
        return rc < 0 ? -1 : 0; /* none: not an error */
    }
    const GgufKV *toks = NULL;
    LabErr ignore = {0};
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, &ignore)) toks = NULL;
    static const char *const keys[] = {"bos_token", "eos_token"};
    static const char *const ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"};
    char bufs[2][512];
    const char *names[2], *values[2];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        const char *v = gguf_token_text(g, toks, ids[i], bufs[i], sizeof bufs[i]);
        if (v) names[n] = keys[i], values[n++] = v;
    }
    char source[1100];
    snprintf(source, sizeof source, "%s: tokenizer.chat_template", path);
    rc = chat_setup_load_text(s, t.s, t.len, source, names, values, n, e);
    gguf_close(g);
    return rc;
}

/* The run state of a loaded model: KV cache and buffers for o's context (clamped to the model's),
 * the pool of o's threads and their scratch; EngInfo's ctx, bytes_kv, bytes_scratch, n_threads. */
static int start_run(EngModel *m, const EngLoadOpts *o, LabErr *e) {
    int ctx = o->ctx > 0 ? o->ctx : 2048;
    if (ctx > m->cfg.ctx_max) ctx = m->cfg.ctx_max;
    m->info.bytes_kv = m->info.bytes_scratch = 0;
    if (alloc_state(m, ctx, e)) return -1;
    m->n_threads = o->n_threads > 0 ? o->n_threads : 1;
    m->pool = eng_pool_new(m->n_threads);
    if (!m->pool) return lab_err(e, LAB_ENOMEM, "%s: cannot start %d threads", m->path, m->n_threads);
    if (eng_model_alloc_att(m, e)) return -1;
    m->info.ctx = ctx;
    m->info.bytes_scratch += m->att_bytes;
    m->info.n_threads = eng_pool_size(m->pool);
    return 0;
}

int eng_load(EngModel **out, const char *path, const EngLoadOpts *o, LabErr *e) {
    *out = NULL;
    EngLoadOpts defaults = {0};
    if (!o) o = &defaults;
    double t0 = now_ms();
    int kind = file_exists(path);
    if (!kind) return lab_err(e, LAB_ENOTFOUND, "%s: no such file or folder", path);
    if (ends_with(path, ".pt") || ends_with(path, ".pth") || ends_with(path, ".ckpt") || ends_with(path, ".pkl") ||
        (kind == 1 && looks_like_pickle(path)))
        return pickle_refusal(path, e);
    EngModel *m = eng_model_new();
    if (!m) return lab_err(e, LAB_ENOMEM, "out of memory");
    m->path = strdup(path);
    m->name = strdup(path_basename(path));
    if (!m->path || !m->name) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto fail;
    }
    m->convert_halves = true;
    m->keep_mapped = o->mmap;
    if (o->quant && *o->quant) {
        if (!strcmp(o->quant, "f32")) m->convert_halves = true;
        else if (eng_quant_preset(o->quant)) {
            m->convert_halves = false; /* eng_model_requant converts from the file's dtype */
            m->requant_pending = true;
        } else {
            lab_err(e, LAB_EINVAL, "%s: --quant %s: expected %s", path, o->quant, eng_quant_preset_list());
            goto fail;
        }
    }
    /* Load progress in coarse stages (weights are mapped, so reading them is quick; conversion,
     * state and tokenizer follow), enough for the lab's load bar to move. */
#define LOAD_PROGRESS(f) do { if (o->progress) o->progress((f), o->progress_ud); } while (0)
    LOAD_PROGRESS(0.05);
    int rc;
    if (kind == 2) {
        m->info.format = "hf";
        rc = hf_load(m, path, o, e);
    } else if (ends_with(path, ".gguf")) {
        m->info.format = "gguf";
        rc = gguf_load_model(m, path, o, e);
    } else if (ends_with(path, ".bin")) {
        m->info.format = "llama2c";
        rc = llama2c_load(m, path, o, e);
    } else {
        rc = lab_err(e, LAB_EUNSUPPORTED,
                     "%s: not a model ablab reads (a Hugging Face folder, a llama2.c .bin or a .gguf file)", path);
    }
    if (!rc && !m->cfg.rope_dim) m->cfg.rope_dim = m->cfg.head_dim; /* loaders of full-rotary families leave it */
    if (rc || check_config(m, e)) goto fail;
    const EngFamily *fam = eng_family(m->cfg.arch);
    if (!fam) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: no forward pass for this architecture", path);
        goto fail;
    }
    m->forward = fam->forward;
    if (!m->info.bytes_on_disk) /* the files the loader mapped (GGUF: the one file) */
        for (size_t i = 0; i < m->n_maps; i++) m->info.bytes_on_disk += m->maps[i].size;
    LOAD_PROGRESS(0.5);
    main_dtypes(m);
    if (o->quant && *o->quant && eng_model_requant(m, o->quant, e)) goto fail;
    m->requant_pending = false;
    QType main_dt;
    /* a model held in llama.cpp's block types computes attention as llama.cpp does (attn.c) */
    m->attn_f16 = !qtype_parse(m->dtype, &main_dt) && qtype_is_block(main_dt);
    for (int i = 0; i < o->n_lora; i++)
        if (eng_lora_apply(m, o->lora[i], e)) goto fail;
    /* and where its matrices' products can follow llama.cpp's order, the rest of a prompt too */
    m->llama_order = m->attn_f16 && m->cfg.n_layer > 0 && !m->w.layers[0].wo.transposed &&
                     quant_has_lc((QType)m->w.layers[0].wo.dt);
    LOAD_PROGRESS(0.7);
    const EngConfig *c = &m->cfg;
    if (start_run(m, o, e)) goto fail;
    LOAD_PROGRESS(0.8);
    if (eng_model_load_tokenizer(m, path, o, e)) goto fail;
    if (kind == 2 || (m->tok && !strcmp(m->info.format, "gguf"))) {
        /* a template that is refused leaves the model usable raw: the reason is kept for whoever
         * asks for chat (eng_chat_error) */
        LabErr ce = {0};
        m->chat = calloc(1, sizeof *m->chat);
        if (!m->chat) {
            lab_err(e, LAB_ENOMEM, "out of memory");
            goto fail;
        }
        if (kind == 2 ? chat_setup_load_dir(m->chat, path, &ce) : eng_gguf_chat_setup(path, m->chat, &ce)) {
            m->chat_error = strdup(ce.msg);
            if (!m->chat_error) {
                lab_err(e, LAB_ENOMEM, "out of memory");
                goto fail;
            }
        }
    }
    LOAD_PROGRESS(1.0);
#undef LOAD_PROGRESS
    eng_model_release_maps(m); /* every weight copied out: the file pages loading left mapped go too */
    /* OpenBLAS's thread count is process-wide: keep it at one and split work per model instead */
    openblas_set_num_threads(1);

    EngInfo *in = &m->info;
    in->arch = fam->hf_type;
    in->name = m->name;
    in->path = m->path;
    in->dtype = m->dtype[0] ? m->dtype : "f32";
    in->file_dtype = m->file_dtype[0] ? m->file_dtype : "f32";
    in->n_params = count_params(c);
    in->n_layer = c->n_layer;
    in->n_head = c->n_head;
    in->n_kv_head = c->n_kv_head;
    in->dim = c->dim;
    in->hidden = c->hidden;
    in->head_dim = c->head_dim;
    in->vocab = c->vocab;
    in->ctx_max = c->ctx_max;
    in->bos_id = c->bos_id;
    in->eos_id = c->eos_id;
    in->adapters = m->adapters;
    in->n_adapters = m->n_adapters;
    in->load_ms = now_ms() - t0;
    *out = m;
    return 0;
fail:
    lab_err_prefix(e, "cannot load %s", path);
    eng_free(m);
    return -1;
}

bool eng_can_share(const EngModel *m) {
    const EngModel *own = m->base ? m->base : m;
    for (int i = 0; i < own->n_adapters; i++)
        if (own->adapters[i].n_unmerged > 0) return false;
    return true;
}

int eng_share(EngModel **out, EngModel *src, const EngLoadOpts *o, LabErr *e) {
    *out = NULL;
    if (!eng_can_share(src))
        return lab_err(e, LAB_EUNSUPPORTED, "%s: its LoRA adapters stay unmerged beside the weights, with a scratch "
                       "of their own: load it again instead of sharing it", src->path);
    EngLoadOpts defaults = {0};
    if (!o) o = &defaults;
    double t0 = now_ms();
    EngModel *own = src->base ? src->base : src;
    EngModel *m = eng_model_new();
    if (!m) return lab_err(e, LAB_ENOMEM, "out of memory");
    /* everything read from the files is own's, read in place; the run state below is m's */
    m->cfg = own->cfg;
    m->w = own->w;
    m->info = own->info;
    m->tok = own->tok;
    m->chat = own->chat;
    m->chat_error = own->chat_error;
    m->forward = own->forward;
    m->convert_halves = own->convert_halves;
    m->keep_mapped = own->keep_mapped;
    m->attn_f16 = own->attn_f16;
    m->llama_order = own->llama_order;
    m->tinfo = own->tinfo;
    m->n_tinfo = own->n_tinfo;
    m->path = own->path;
    m->name = own->name;
    m->tok_path = own->tok_path;
    m->adapters = own->adapters;
    m->n_adapters = own->n_adapters;
    memcpy(m->file_dtype, own->file_dtype, sizeof m->file_dtype);
    memcpy(m->dtype, own->dtype, sizeof m->dtype);
    m->info.dtype = m->dtype[0] ? m->dtype : "f32";
    m->info.file_dtype = m->file_dtype[0] ? m->file_dtype : "f32";
    m->base = own;
    atomic_fetch_add(&own->refs, 1);
    if (start_run(m, o, e)) {
        lab_err_prefix(e, "cannot share the weights of %s", own->path);
        eng_free(m);
        return -1;
    }
    m->info.shared = true;
    m->info.load_ms = now_ms() - t0;
    *out = m;
    return 0;
}

