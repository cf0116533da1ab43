/* LoRA adapters (--lora PATH[:SCALE]): Hugging Face PEFT folders (adapter_config.json +
 * adapter_model.safetensors) and llama.cpp's GGUF adapters (general.type = adapter), applied to a
 * loaded model after any --quant.
 *
 * The math is PEFT's LoraLayer: y = W x + s B (A x), A [r][in], B [out][r], s = SCALE * alpha / r
 * (alpha / sqrt(r) with use_rslora; llama.cpp: SCALE * alpha / r, or SCALE when alpha is 0). PEFT
 * stores A and B in nn.Linear's layout even for GPT-2's Conv1D (fan_in_fan_out only changes how
 * PEFT merges into the [in][out] Conv1D weight), so the forward needs nothing else from it; our
 * merge writes into the transposed storage of such a matrix directly.
 *
 * An F32 matrix gets W += s B A at load (its mapped file pages are copied first). Any other dtype
 * (F16, BF16, Q8_0, what --quant makes) keeps A and B beside it in F32 (EngTensor.lora) and
 * mm_vec / mm_batch add s B (A x) to the product: QLoRA-style inference, the quantized weights
 * untouched.
 *
 * Row layouts: a Hugging Face adapter's rows follow transformers' layout. Where the base keeps
 * llama.cpp's (llama's q/k rows permuted for interleaved RoPE, gpt_neox's fused rows as [q|k|v]
 * instead of per head), B's rows are moved the same way; a GGUF adapter's rows follow llama.cpp's
 * converter, and are moved back for a base in transformers' layout. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "formats.h"
#include "gguf.h"
#include "lora.h"
#include "models.h"
#include "safetensors.h"

/* ---------- which matrix a module name means ----------------------------------------------------- */
typedef struct {
    const char *hf;    /* PEFT module path after "layers.N." / "h.N." */
    const char *gguf;  /* llama.cpp's name after "blk.N." (without ".weight") */
    size_t off;        /* offsetof(EngLayer, the EngTensor) */
} LoraTarget;

#define T(hf, gg, field) {hf, gg, offsetof(EngLayer, field)}
static const LoraTarget LLAMA_T[] = {
    T("self_attn.q_proj", "attn_q", wq), T("self_attn.k_proj", "attn_k", wk), T("self_attn.v_proj", "attn_v", wv),
    T("self_attn.o_proj", "attn_output", wo), T("mlp.gate_proj", "ffn_gate", w_gate),
    T("mlp.up_proj", "ffn_up", w_up), T("mlp.down_proj", "ffn_down", w_down), {NULL, NULL, 0}};
static const LoraTarget GPT2_T[] = {
    T("attn.c_attn", "attn_qkv", c_attn), T("attn.c_proj", "attn_output", c_proj), T("mlp.c_fc", "ffn_up", c_fc),
    T("mlp.c_proj", "ffn_down", c_fc_proj), {NULL, NULL, 0}};
static const LoraTarget NEOX_T[] = {
    T("attention.query_key_value", "attn_qkv", c_attn), T("attention.dense", "attn_output", c_proj),
    T("mlp.dense_h_to_4h", "ffn_up", c_fc), T("mlp.dense_4h_to_h", "ffn_down", c_fc_proj), {NULL, NULL, 0}};
static const LoraTarget PHI_T[] = {
    T("self_attn.q_proj", "attn_q", wq), T("self_attn.k_proj", "attn_k", wk), T("self_attn.v_proj", "attn_v", wv),
    T("self_attn.dense", "attn_output", wo), T("mlp.fc1", "ffn_up", c_fc), T("mlp.fc2", "ffn_down", c_fc_proj),
    {NULL, NULL, 0}};
#undef T

static const LoraTarget *targets_of(EngArch a) {
    switch (a) {
    case ENG_ARCH_GPT2: return GPT2_T;
    case ENG_ARCH_GPTNEOX: return NEOX_T;
    case ENG_ARCH_PHI: return PHI_T;
    default: return LLAMA_T; /* llama, qwen2, qwen3, gemma3 */
    }
}

/* The modules of a family as a list for messages: "q_proj, k_proj, ...". */
static void target_list(EngArch a, bool gguf, char *out, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (const LoraTarget *t = targets_of(a); t->hf && k < n; t++) {
        const char *s = gguf ? t->gguf : strrchr(t->hf, '.') + 1;
        int w = snprintf(out + k, n - k, "%s%s", k ? ", " : "", gguf ? s : t->hf);
        (void)s;
        if (w < 0) break;
        k += (size_t)w;
    }
}

/* ---------- the adapter being applied ----------------------------------------------------------- */
typedef struct {
    EngModel *m;
    EngAdapterInfo *info;
    const char *file;      /* for messages: the file the tensors come from */
    bool gguf;             /* rows in llama.cpp's converter layout */
} Apply;

/* Row map for B so that its rows match the base's: dst row i takes src row map(i). Returns false
 * when no move is needed. */
static bool rope_perm_needed(const EngModel *m, bool adapter_interleaved, size_t off) {
    if (off != offsetof(EngLayer, wq) && off != offsetof(EngLayer, wk)) return false;
    return m->cfg.rope_interleaved != adapter_interleaved;
}

/* Moves B's rows [rows][r] between rotate-half (HF) and interleaved-pair (Meta/llama.cpp) layouts,
 * per head of hd rows: to_interleaved: new[2i] = old[i], new[2i+1] = old[hd/2 + i]. */
static void perm_rope(float *B, int64_t rows, int r, int hd, bool to_interleaved, float *tmp) {
    int half = hd / 2;
    for (int64_t h0 = 0; h0 + hd <= rows; h0 += hd) {
        memcpy(tmp, B + h0 * r, (size_t)hd * (size_t)r * sizeof *tmp);
        for (int i = 0; i < half; i++) {
            int a = to_interleaved ? 2 * i : i, b = to_interleaved ? 2 * i + 1 : half + i;
            int sa = to_interleaved ? i : 2 * i, sb = to_interleaved ? half + i : 2 * i + 1;
            memcpy(B + (h0 + a) * r, tmp + (size_t)sa * r, (size_t)r * sizeof *tmp);
            memcpy(B + (h0 + b) * r, tmp + (size_t)sb * r, (size_t)r * sizeof *tmp);
        }
    }
}

/* gpt_neox's fused rows: per head [h][q|k|v][hd] (HF) <-> [q|k|v][h][hd] (llama.cpp). */
static void perm_neox(float *B, int n_head, int hd, int r, bool to_split, float *tmp) {
    size_t rows = (size_t)3 * n_head * hd;
    memcpy(tmp, B, rows * (size_t)r * sizeof *tmp);
    for (int h = 0; h < n_head; h++)
        for (int j = 0; j < 3; j++) {
            size_t per_head = ((size_t)h * 3 + j) * hd, split = ((size_t)j * n_head + h) * hd;
            size_t dst = to_split ? split : per_head, src = to_split ? per_head : split;
            memcpy(B + dst * r, tmp + src * r, (size_t)hd * (size_t)r * sizeof *tmp);
        }
}

/* Adds s B A to the matrix (merge) or hangs A and B beside it. A [r][cols], B [rows][r], both F32
 * copies owned by the call (moved into the model's memory here). */
static int attach(Apply *ap, EngTensor *W, size_t off, float *A, float *B, int r, float s, const char *what,
                  LabErr *e) {
    EngModel *m = ap->m;
    const EngConfig *c = &m->cfg;
    bool want_interleaved = ap->gguf && c->arch == ENG_ARCH_LLAMA; /* the converter's layout */
    if (rope_perm_needed(m, want_interleaved, off)) {
        if (c->rope_dim != c->head_dim || c->head_dim % 2)
            return lab_err(e, LAB_EUNSUPPORTED, "%s: %s: the base's q/k rows are in another RoPE layout and its "
                           "rotary part is not the whole head", ap->file, what);
        float *tmp = malloc((size_t)c->head_dim * (size_t)r * sizeof *tmp);
        if (!tmp) return lab_err(e, LAB_ENOMEM, "out of memory");
        perm_rope(B, W->rows, r, c->head_dim, c->rope_interleaved, tmp);
        free(tmp);
    }
    if (c->arch == ENG_ARCH_GPTNEOX && off == offsetof(EngLayer, c_attn) && c->qkv_per_head == ap->gguf) {
        float *tmp = malloc((size_t)W->rows * (size_t)r * sizeof *tmp);
        if (!tmp) return lab_err(e, LAB_ENOMEM, "out of memory");
        perm_neox(B, c->n_head, c->head_dim, r, !c->qkv_per_head, tmp);
        free(tmp);
    }
    if (W->dt == ENG_DT_F32) { /* merge: W += s B A */
        if (eng_model_in_maps(m, W->data)) { /* the file's pages are read-only: a copy of our own */
            size_t bytes;
            if (!eng_dtype_bytes(W->dt, W->rows, W->cols, &bytes))
                return lab_err(e, LAB_ERANGE, "%s: %s is too large", ap->file, what);
            float *cp = eng_model_weight_mem(m, bytes, e);
            if (!cp) return -1;
            memcpy(cp, W->data, bytes);
            W->data = cp;
            m->info.bytes_mapped -= bytes;
        }
        float *Wd = (float *)W->data;
        if (W->transposed) /* stored [cols][rows]: W^T += s A^T B^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, (int)W->cols, (int)W->rows, r, s, A, (int)W->cols, B,
                        r, 1.0f, Wd, (int)W->rows);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)W->rows, (int)W->cols, r, s, B, r, A,
                        (int)W->cols, 1.0f, Wd, (int)W->cols);
        ap->info->n_merged++;
        return 0;
    }
    /* unmerged: A and B stay beside the weights, with a scratch for A x of LORA_ROWS rows */
    size_t na = (size_t)r * (size_t)W->cols, nb = (size_t)W->rows * (size_t)r;
    EngLowRank *lr = eng_model_alloc(m, sizeof *lr, false, e);
    float *mem = lr ? eng_model_alloc(m, (na + nb + (size_t)LORA_ROWS * r) * sizeof(float), true, e) : NULL;
    if (!mem) return -1;
    memcpy(mem, A, na * sizeof *mem);
    memcpy(mem + na, B, nb * sizeof *mem);
    *lr = (EngLowRank){.A = mem, .B = mem + na, .tmp = mem + na + nb, .r = r, .scale = s, .next = W->lora};
    W->lora = lr;
    ap->info->n_unmerged++;
    return 0;
}

/* The matrix of layer l named by a target row, after checking A and B's shapes against it. */
static int target_tensor(Apply *ap, int l, const LoraTarget *t, int64_t a_rows, int64_t a_cols, int64_t b_rows,
                         int64_t b_cols, const char *what, EngTensor **out, LabErr *e) {
    EngModel *m = ap->m;
    if (l < 0 || l >= m->cfg.n_layer)
        return lab_err(e, LAB_EFORMAT, "%s: %s: layer %d, but the model has %d layers (an adapter for another model?)",
                       ap->file, what, l, m->cfg.n_layer);
    EngTensor *W = (EngTensor *)((char *)&m->w.layers[l] + t->off);
    if (!W->data)
        return lab_err(e, LAB_EUNSUPPORTED, "%s: %s: this %s model has no such matrix (fused in its file?)", ap->file,
                       what, eng_family(m->cfg.arch)->hf_type);
    if (a_rows <= 0 || a_rows != b_cols)
        return lab_err(e, LAB_EFORMAT, "%s: %s: lora_A has %lld rows and lora_B %lld columns (both must be the rank)",
                       ap->file, what, (long long)a_rows, (long long)b_cols);
    if (a_rows > 65536)
        return lab_err(e, LAB_EFORMAT, "%s: %s: rank %lld is not a low rank", ap->file, what, (long long)a_rows);
    if (a_cols != W->cols || b_rows != W->rows)
        return lab_err(e, LAB_EFORMAT, "%s: %s: B A is %lld x %lld but the model's matrix is %lld x %lld (an adapter "
                       "for another model?)", ap->file, what, (long long)b_rows, (long long)a_cols,
                       (long long)W->rows, (long long)W->cols);
    *out = W;
    return 0;
}

/* ---------- Hugging Face PEFT ------------------------------------------------------------------- */
/* adapter_config.json keys that would change the math if set; each refused when "on". */
static bool json_on(json_t *v) {
    if (!v || json_is_null(v) || json_is_false(v)) return false;
    if (json_is_object(v)) return json_object_size(v) > 0;
    if (json_is_array(v)) return json_array_size(v) > 0;
    if (json_is_string(v)) return json_string_length(v) > 0;
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    return true;
}

static int peft_config(const char *path, float *alpha, int *rank, bool *rslora, LabErr *e) {
    json_t *root = eng_json_read(path, 4u << 20, e);
    if (!root) return -1;
    int rc = -1;
    if (!json_is_object(root)) {
        lab_err(e, LAB_EFORMAT, "%s: not a JSON object", path);
        goto out;
    }
    json_t *pt = json_object_get(root, "peft_type");
    if (pt && (!json_is_string(pt) || strcmp(json_string_value(pt), "LORA"))) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: peft_type is %s; ablab applies LORA adapters only", path,
                json_is_string(pt) ? json_string_value(pt) : "not a string");
        goto out;
    }
    static const struct { const char *key, *why; } REFUSED[] = {
        {"use_dora", "DoRA rescales each weight column by a learned magnitude"},
        {"modules_to_save", "it replaces whole modules with trained copies"},
        {"lora_bias", "it adds a trained bias to lora_B"},
        {"rank_pattern", "it gives modules their own rank"},
        {"alpha_pattern", "it gives modules their own alpha"},
        {"layer_replication", "it repeats layers of the base"},
        {"use_qalora", "QALoRA pools the input before A"},
        {"use_bdlora", "it makes A or B block-diagonal"},
        {"alora_invocation_tokens", "activated LoRA switches on at given tokens"},
        {"trainable_token_indices", "it trains rows of the embedding"},
        {"target_parameters", "it targets parameters instead of modules"},
        {"arrow_config", "Arrow routes between several adapters"},
        {"monteclora_config", "MonteCLoRA samples its weights"},
        {"velora_config", "VeLoRA changes the layers"},
    };
    for (size_t i = 0; i < sizeof REFUSED / sizeof *REFUSED; i++)
        if (json_on(json_object_get(root, REFUSED[i].key))) {
            lab_err(e, LAB_EUNSUPPORTED, "%s: \"%s\" is set: ablab does not apply it (%s)", path, REFUSED[i].key,
                    REFUSED[i].why);
            goto out;
        }
    json_t *bias = json_object_get(root, "bias");
    if (bias && !json_is_null(bias) && (!json_is_string(bias) || strcmp(json_string_value(bias), "none"))) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: \"bias\" is %s: ablab applies adapters without trained biases (\"none\")",
                path, json_is_string(bias) ? json_string_value(bias) : "not a string");
        goto out;
    }
    json_t *r = json_object_get(root, "r"), *a = json_object_get(root, "lora_alpha");
    if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 65536) {
        lab_err(e, LAB_EFORMAT, "%s: \"r\" must be an integer in [1, 65536]", path);
        goto out;
    }
    if (!json_is_number(a) || !isfinite(json_number_value(a))) {
        lab_err(e, LAB_EFORMAT, "%s: \"lora_alpha\" must be a finite number", path);
        goto out;
    }
    json_t *rs = json_object_get(root, "use_rslora");
    if (rs && !json_is_boolean(rs) && !json_is_null(rs)) {
        lab_err(e, LAB_EFORMAT, "%s: \"use_rslora\" must be true or false", path);
        goto out;
    }
    json_t *ff = json_object_get(root, "fan_in_fan_out");
    if (ff && !json_is_boolean(ff) && !json_is_null(ff)) {
        lab_err(e, LAB_EFORMAT, "%s: \"fan_in_fan_out\" must be true or false", path);
        goto out;
    }
    *rank = (int)json_integer_value(r);
    *alpha = (float)json_number_value(a);
    *rslora = json_is_true(rs);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* Splits "base_model.model.<...>.layers.N.<module>.lora_A.weight" into N, the module and A/B. */
static int peft_key(const char *key, int *layer, char *module, size_t msz, bool *is_b) {
    const char *sfx_a = ".lora_A.weight", *sfx_b = ".lora_B.weight";
    size_t n = strlen(key), la = strlen(sfx_a);
    if (n <= la) return -1;
    if (!strcmp(key + n - la, sfx_a)) *is_b = false;
    else if (!strcmp(key + n - la, sfx_b)) *is_b = true;
    else return -1;
    size_t end = n - la;
    /* the last ".layers.N." or ".h.N." before the module */
    const char *best = NULL;
    for (const char *p = key; (p = strchr(p, '.')); p++) {
        const char *q = p + 1;
        if (!strncmp(q, "layers.", 7)) q += 7;
        else if (!strncmp(q, "h.", 2)) q += 2;
        else continue;
        if (*q < '0' || *q > '9') continue;
        const char *d = q;
        while (*d >= '0' && *d <= '9') d++;
        if (*d == '.' && (size_t)(d - key) < end) best = p;
    }
    if (!best) return -1;
    const char *q = best + 1;
    q += q[0] == 'l' ? 7 : 2;
    errno = 0;
    char *d;
    long l = strtol(q, &d, 10);
    if (errno || l > 1000000 || d - q > 7) return -1;
    *layer = (int)l;
    size_t ml = end - (size_t)(d + 1 - key);
    if (ml == 0 || ml >= msz) return -1;
    memcpy(module, d + 1, ml);
    module[ml] = 0;
    return 0;
}

/* A tensor of the adapter as F32 [rows][cols] (malloc'd), from any dtype the engine reads. */
static float *to_f32(const void *data, EngDType dt, int64_t rows, int64_t cols, LabErr *e) {
    size_t n;
    if (!size_mul_ok((size_t)rows, (size_t)cols, &n) || n > ((size_t)1 << 32)) {
        lab_err(e, LAB_ERANGE, "tensor too large");
        return NULL;
    }
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        return NULL;
    }
    if (dt == ENG_DT_F32) memcpy(f, data, n * sizeof *f);
    else quant_to_f32((QType)dt, data, f, n);
    return f;
}

static int apply_peft(EngModel *m, const char *dir, float user_scale, EngAdapterInfo *info, LabErr *e) {
    char cfgp[4096], stp[4096];
    snprintf(cfgp, sizeof cfgp, "%s/adapter_config.json", dir);
    snprintf(stp, sizeof stp, "%s/adapter_model.safetensors", dir);
    if (!file_exists(cfgp)) return lab_err(e, LAB_ENOTFOUND, "%s: no adapter_config.json (not a PEFT adapter folder)", dir);
    if (!file_exists(stp)) {
        char binp[4096];
        snprintf(binp, sizeof binp, "%s/adapter_model.bin", dir);
        if (file_exists(binp))
            return lab_err(e, LAB_EUNSUPPORTED, "%s: adapter_model.bin is a PyTorch pickle (loading one runs arbitrary "
                           "code): save the adapter with safe_serialization=True", dir);
        return lab_err(e, LAB_ENOTFOUND, "%s: no adapter_model.safetensors", dir);
    }
    float alpha;
    int rank;
    bool rslora;
    if (peft_config(cfgp, &alpha, &rank, &rslora, e)) return -1;
    float s = user_scale * (rslora ? alpha / sqrtf((float)rank) : alpha / (float)rank);
    info->alpha = alpha;
    info->rank = rank;
    info->rslora = rslora;
    info->eff_scale = s;
    info->format = "peft";
    if (file_sha256(stp, info->sha256, e)) return -1;
    StSet set = {0};
    if (st_read_file(m, stp, &set, e) || st_finish(&set, e)) {
        st_free(&set);
        return -1;
    }
    Apply ap = {m, info, "adapter_model.safetensors", false};
    const LoraTarget *tt = targets_of(m->cfg.arch);
    int rc = 0, pairs = 0;
    for (size_t i = 0; i < set.n && !rc; i++) {
        const StTensor *ta = &set.t[i];
        int l;
        char mod[128];
        bool is_b;
        if (peft_key(ta->name, &l, mod, sizeof mod, &is_b)) {
            rc = lab_err(e, LAB_EUNSUPPORTED, "%s/adapter_model.safetensors: tensor '%s' is no lora_A/lora_B weight of a "
                         "layer's module; ablab does not apply it (embeddings, DoRA magnitudes, saved modules)",
                         dir, ta->name);
            break;
        }
        if (is_b) continue; /* found from its A */
        const LoraTarget *t = tt;
        while (t->hf && strcmp(t->hf, mod)) t++;
        if (!t->hf) {
            char list[256];
            target_list(m->cfg.arch, false, list, sizeof list);
            rc = lab_err(e, LAB_EUNSUPPORTED, "%s/adapter_model.safetensors: '%s' targets module '%s', which ablab "
                         "does not map for %s (it maps %s)", dir, ta->name, mod,
                         eng_family(m->cfg.arch)->hf_type, list);
            break;
        }
        char bname[512];
        size_t nl = strlen(ta->name);
        if (nl >= sizeof bname) {
            rc = lab_err(e, LAB_EFORMAT, "%s: tensor name too long", dir);
            break;
        }
        memcpy(bname, ta->name, nl + 1);
        bname[nl - strlen("A.weight")] = 'B';
        const StTensor *tb = st_find(&set, bname);
        if (!tb) {
            rc = lab_err(e, LAB_EFORMAT, "%s/adapter_model.safetensors: '%s' has no '%s'", dir, ta->name, bname);
            break;
        }
        int da = st_engine_dtype(ta), db = st_engine_dtype(tb);
        if (ta->n_dims != 2 || tb->n_dims != 2 || da < 0 || db < 0) {
            rc = lab_err(e, LAB_EFORMAT, "%s/adapter_model.safetensors: '%s' and its lora_B must be 2-D F32, F16 or "
                         "BF16 matrices", dir, ta->name);
            break;
        }
        if (ta->shape[0] != rank) {
            rc = lab_err(e, LAB_EFORMAT, "%s/adapter_model.safetensors: '%s' has rank %lld but adapter_config.json "
                         "says r = %d", dir, ta->name, (long long)ta->shape[0], rank);
            break;
        }
        EngTensor *W;
        char what[200];
        snprintf(what, sizeof what, "layer %d %s", l, mod);
        if (target_tensor(&ap, l, t, ta->shape[0], ta->shape[1], tb->shape[0], tb->shape[1], what, &W, e)) {
            rc = -1;
            break;
        }
        float *A = to_f32(ta->data, (EngDType)da, ta->shape[0], ta->shape[1], e);
        float *B = A ? to_f32(tb->data, (EngDType)db, tb->shape[0], tb->shape[1], e) : NULL;
        rc = B ? attach(&ap, W, t->off, A, B, rank, s, what, e) : -1;
        free(A);
        free(B);
        pairs++;
    }
    /* every lora_B must have had its lora_A */
    for (size_t i = 0; i < set.n && !rc; i++) {
        int l;
        char mod[128];
        bool is_b;
        if (peft_key(set.t[i].name, &l, mod, sizeof mod, &is_b) || !is_b) continue;
        char aname[512];
        snprintf(aname, sizeof aname, "%s", set.t[i].name);
        aname[strlen(aname) - strlen("B.weight")] = 'A';
        if (!st_find(&set, aname))
            rc = lab_err(e, LAB_EFORMAT, "%s/adapter_model.safetensors: '%s' has no '%s'", dir, set.t[i].name, aname);
    }
    st_free(&set);
    if (!rc && !pairs)
        rc = lab_err(e, LAB_EFORMAT, "%s/adapter_model.safetensors: no lora_A/lora_B pairs", dir);
    return rc;
}

/* ---------- llama.cpp GGUF adapters ------------------------------------------------------------- */
static const char *gguf_arch_of(EngArch a) {
    switch (a) {
    case ENG_ARCH_LLAMA: return "llama";
    case ENG_ARCH_GPT2: return "gpt2";
    case ENG_ARCH_QWEN2: return "qwen2";
    case ENG_ARCH_QWEN3: return "qwen3";
    case ENG_ARCH_GPTNEOX: return "gptneox";
    case ENG_ARCH_PHI: return "phi2";
    case ENG_ARCH_GEMMA3: return "gemma3";
    }
    return "?";
}

static int gguf_dtype(int t) {
    switch (t) {
    case GGML_TYPE_F32: return ENG_DT_F32;
    case GGML_TYPE_F16: return ENG_DT_F16;
    case GGML_TYPE_BF16: return ENG_DT_BF16;
    case GGML_TYPE_Q8_0: return ENG_DT_Q8_0;
    default: return -1;
    }
}

static bool str_is(GgufStr s, const char *lit) { return s.len == strlen(lit) && !memcmp(s.s, lit, s.len); }

static int apply_gguf(EngModel *m, const char *path, float user_scale, EngAdapterInfo *info, LabErr *e) {
    GgufFile *g;
    if (gguf_open(&g, path, e)) return -1;
    int rc = -1;
    const char *fname = path_basename(path);
    GgufStr s;
    int k = gguf_get_str(g, "general.type", &s, e);
    if (k < 0) goto out;
    if (k == 1 || !str_is(s, "adapter")) {
        lab_err(e, LAB_EFORMAT, "%s: general.type is %s%.*s%s, not \"adapter\" (a model, not a LoRA adapter?)", fname,
                k ? "absent" : "\"", k ? 0 : (int)(s.len > 40 ? 40 : s.len), k ? "" : s.s, k ? "" : "\"");
        goto out;
    }
    if ((k = gguf_get_str(g, "adapter.type", &s, e)) < 0) goto out;
    if (k == 1 || !str_is(s, "lora")) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: adapter.type is not \"lora\" (ablab applies LoRA adapters only)", fname);
        goto out;
    }
    if ((k = gguf_get_str(g, "general.architecture", &s, e)) < 0) goto out;
    const char *want = gguf_arch_of(m->cfg.arch);
    if (k == 1 || !str_is(s, want)) {
        lab_err(e, LAB_EINVAL, "%s: general.architecture is %s%.*s%s but the model is %s", fname, k ? "absent" : "\"",
                k ? 0 : (int)(s.len > 40 ? 40 : s.len), k ? "" : s.s, k ? "" : "\"", want);
        goto out;
    }
    float alpha = 0;
    if (gguf_get_f32(g, "adapter.lora.alpha", &alpha, e) < 0) goto out;
    if (!isfinite(alpha)) {
        lab_err(e, LAB_EFORMAT, "%s: adapter.lora.alpha is not a finite number", fname);
        goto out;
    }
    /* other adapter keys would be another kind of adapter (aLoRA's invocation tokens, ...) */
    for (size_t i = 0; i < g->n_kv; i++)
        if (!strncmp(g->kv[i].key, "adapter.", 8) && strcmp(g->kv[i].key, "adapter.type") &&
            strcmp(g->kv[i].key, "adapter.lora.alpha")) {
            lab_err(e, LAB_EUNSUPPORTED, "%s: key %s: ablab applies plain LoRA adapters only", fname, g->kv[i].key);
            goto out;
        }
    info->alpha = alpha;
    info->format = "gguf";
    if (file_sha256(path, info->sha256, e)) goto out;
    Apply ap = {m, info, fname, true};
    const LoraTarget *tt = targets_of(m->cfg.arch);
    int pairs = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        const GgufTensor *ta = &g->tensors[i];
        size_t nl = strlen(ta->name);
        bool is_a = nl > 7 && !strcmp(ta->name + nl - 7, ".lora_a");
        bool is_b = nl > 7 && !strcmp(ta->name + nl - 7, ".lora_b");
        if (!is_a && !is_b) {
            lab_err(e, LAB_EUNSUPPORTED, "%s: tensor '%s' is no .lora_a/.lora_b tensor; ablab does not apply it", fname,
                    ta->name);
            goto out;
        }
        char base[GGUF_MAX_NAME + 8];
        snprintf(base, sizeof base, "%.*s", (int)(nl - 7), ta->name);
        char other[GGUF_MAX_NAME + 16];
        snprintf(other, sizeof other, "%s.lora_%c", base, is_a ? 'b' : 'a');
        const GgufTensor *to = gguf_find_tensor(g, other);
        if (!to) {
            lab_err(e, LAB_EFORMAT, "%s: '%s' has no '%s'", fname, ta->name, other);
            goto out;
        }
        if (is_b) continue;
        const GgufTensor *tb = to;
        int l = -1, used = 0;
        char mod[GGUF_MAX_NAME];
        if (sscanf(base, "blk.%d.%63[^.].weight%n", &l, mod, &used) != 2 || (size_t)used != strlen(base)) {
            lab_err(e, LAB_EUNSUPPORTED, "%s: '%s' adapts '%s', which is no matrix of a layer ablab adapts "
                    "(embeddings and the output head are not)", fname, ta->name, base);
            goto out;
        }
        const LoraTarget *t = tt;
        while (t->hf && strcmp(t->gguf, mod)) t++;
        if (!t->hf) {
            char list[256];
            target_list(m->cfg.arch, true, list, sizeof list);
            lab_err(e, LAB_EUNSUPPORTED, "%s: '%s' adapts '%s', which ablab does not map for %s (it maps %s)", fname,
                    ta->name, mod, want, list);
            goto out;
        }
        int da = gguf_dtype(ta->type), db = gguf_dtype(tb->type);
        if (ta->n_dims != 2 || tb->n_dims != 2 || da < 0 || db < 0) {
            lab_err(e, LAB_EFORMAT, "%s: '%s' and its lora_b must be 2-D f32, f16, bf16 or q8_0 tensors", fname,
                    ta->name);
            goto out;
        }
        /* ggml: a = [ne0 = in][ne1 = r] is A [r][in]; b = [ne0 = r][ne1 = out] is B [out][r] */
        if (ta->ne[0] > INT32_MAX || ta->ne[1] > INT32_MAX || tb->ne[0] > INT32_MAX || tb->ne[1] > INT32_MAX) {
            lab_err(e, LAB_EFORMAT, "%s: '%s' is too large", fname, ta->name);
            goto out;
        }
        int64_t r = (int64_t)tb->ne[0];
        EngTensor *W;
        char what[200];
        snprintf(what, sizeof what, "'%s'", base);
        if (target_tensor(&ap, l, t, (int64_t)ta->ne[1], (int64_t)ta->ne[0], (int64_t)tb->ne[1], r, what, &W, e))
            goto out;
        float sc = alpha != 0 ? user_scale * alpha / (float)r : user_scale; /* llama.cpp's rule */
        if (!pairs) {
            info->rank = (int)r;
            info->eff_scale = sc;
        }
        float *A = to_f32(ta->data, (EngDType)da, (int64_t)ta->ne[1], (int64_t)ta->ne[0], e);
        float *B = A ? to_f32(tb->data, (EngDType)db, (int64_t)tb->ne[1], r, e) : NULL;
        int arc = B ? attach(&ap, W, t->off, A, B, (int)r, sc, what, e) : -1;
        free(A);
        free(B);
        if (arc) goto out;
        pairs++;
    }
    if (!pairs) {
        lab_err(e, LAB_EFORMAT, "%s: no .lora_a/.lora_b pairs", fname);
        goto out;
    }
    rc = 0;
out:
    gguf_close(g);
    return rc;
}

/* ---------- public (to load.c) ------------------------------------------------------------------ */
int eng_lora_spec(const char *spec, char **path, float *scale, LabErr *e) {
    *path = NULL;
    *scale = 1.0f;
    if (!spec || !*spec) return lab_err(e, LAB_EINVAL, "--lora: give an adapter folder or .gguf file");
    size_t n = strlen(spec);
    const char *colon = strrchr(spec, ':');
    if (colon && colon[1]) {
        char *end;
        errno = 0;
        float v = strtof(colon + 1, &end);
        if (!*end && !errno) {
            if (!isfinite(v)) return lab_err(e, LAB_EINVAL, "--lora %s: the scale must be a finite number", spec);
            *scale = v;
            n = (size_t)(colon - spec);
        }
    }
    if (!n) return lab_err(e, LAB_EINVAL, "--lora %s: give an adapter folder or .gguf file before the scale", spec);
    if (!(*path = strndup(spec, n))) return lab_err(e, LAB_ENOMEM, "out of memory");
    return 0;
}

int eng_lora_apply(EngModel *m, const char *spec, LabErr *e) {
    char *path;
    float scale;
    if (eng_lora_spec(spec, &path, &scale, e)) return -1;
    /* the name, path and format live as long as the model: keep them with it */
    EngAdapterInfo *na = realloc(m->adapters, (m->n_adapters + 1) * sizeof *na);
    if (!na) {
        free(path);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    m->adapters = na;
    EngAdapterInfo *info = &m->adapters[m->n_adapters];
    *info = (EngAdapterInfo){.path = path, .scale = scale};
    m->n_adapters++; /* owned from here: eng_free releases the path */
    info->name = path_basename(path);
    int kind = file_exists(path);
    int rc;
    if (!kind) rc = lab_err(e, LAB_ENOTFOUND, "%s: no such adapter file or folder", path);
    else if (kind == 2) rc = apply_peft(m, path, scale, info, e);
    else {
        size_t n = strlen(path);
        if (n > 5 && !strcasecmp(path + n - 5, ".gguf")) rc = apply_gguf(m, path, scale, info, e);
        else if (n > 12 && !strcmp(path + n - 12, ".safetensors")) {
            char *dir = path_dirname(path);
            rc = dir ? apply_peft(m, dir, scale, info, e) : lab_err(e, LAB_ENOMEM, "out of memory");
            free(dir);
        } else
            rc = lab_err(e, LAB_EUNSUPPORTED, "%s: not an adapter ablab reads (a PEFT folder with adapter_config.json "
                         "and adapter_model.safetensors, or a llama.cpp .gguf adapter)", path);
    }
    if (rc) return lab_err_prefix(e, "--lora %s", spec);
    return 0;
}
