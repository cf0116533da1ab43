/* ablab import: a checkpoint in the layout a training script wrote (Meta's reference Llama,
 * nanoGPT, or anything described by a map of rules) rewritten as a Hugging Face folder that every
 * command loads: config.json, model.safetensors, the tokenizer, generation_config.json and a model
 * card (README.md) that records where it came from.
 *
 * Meta and nanoGPT are two built-in maps over the same machinery a user's MAP.json drives:
 *   rule = a regex that must match a whole source name → one target name (with $1..$9 from the
 *          match), or several when the rule splits a fused tensor by rows; optionally transposed
 *          first, optionally permuted from interleaved rotary pairs (Meta, llama2.c) to the halves
 *          transformers rotates (the permute of convert_llama_weights_to_hf: rows (h, i, j) of
 *          [n_head][head_dim/2][2] become (h, j, i)); or dropped (buffers such as causal masks).
 * Every source tensor must be used by exactly one rule and every tensor the config calls for must
 * be filled, with the shape the config gives it: all of that is checked, and every problem listed,
 * before anything is written. The folder is written beside OUT, loaded back, and only then renamed
 * to OUT, so a failed import leaves nothing half-made. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <jansson.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine.h"
#include "formats.h"
#include "safetensors.h"
#include "tokenizer.h"

#define MAX_LISTED 12 /* names listed in one error before "and N more" */
#define IMPORT_MAX_DIM (1 << 20) /* a width in params.json past this is refused before it is multiplied (hf_config.c's ceiling) */

typedef enum { ROT_NONE = 0, ROT_Q, ROT_K } Rot;

typedef struct {
    char *from;
    pcre2_code *re;
    char **to; size_t n_to;      /* one per part */
    int64_t *split;              /* rows of each part, NULL: one part */
    Rot *rot;                    /* per part */
    bool transpose, drop;
    bool optional;               /* built-in: may match nothing (the targets are checked anyway) */
    size_t used;
} Rule;

/* One tensor of the output: where its bytes come from. */
typedef struct {
    char *name;
    const StTensor *src;         /* NULL: zeros (a bias nanoGPT trained without) */
    char dtype[8];
    size_t esize;
    int n_dims;
    int64_t shape[2];            /* after transpose and split */
    bool transpose;
    int64_t row0;                /* first row of the (transposed) source */
    int rot_heads;               /* 0: none */
} OutT;

typedef struct {
    Rule *r; size_t n;
    OutT *o; size_t n_o, cap_o;
    Buf problems; size_t n_problems;
    const char *layout;          /* "meta", "nanogpt", "map" */
} Plan;

static void problem(Plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(Plan *p, const char *fmt, ...) {
    p->n_problems++;
    if (p->n_problems > 40) return;
    va_list ap;
    va_start(ap, fmt);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    buf_printf(&p->problems, "\n  - %s", line);
}

static void rules_free(Rule *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) {
        free(r[i].from);
        if (r[i].re) pcre2_code_free(r[i].re);
        for (size_t k = 0; r[i].to && k < r[i].n_to; k++) free(r[i].to[k]); /* a rule refused mid-read has n_to, no to */
        free(r[i].to);
        free(r[i].split);
        free(r[i].rot);
    }
    free(r);
}

static size_t dtype_size(const char *d) {
    return !strcmp(d, "F32") ? 4 : !strcmp(d, "F16") || !strcmp(d, "BF16") ? 2 : 0;
}

/* ---------- rules ---------- */
static int rule_compile(Rule *r, const char *what, LabErr *e) {
    int err;
    PCRE2_SIZE off;
    r->re = pcre2_compile((PCRE2_SPTR)r->from, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
    if (!r->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return lab_err(e, LAB_EFORMAT, "%s: \"from\" '%s' is not a valid regex: %s at offset %zu", what, r->from, (char *)msg, (size_t)off);
    }
    return 0;
}

static int parse_rot(json_t *v, const char *what, Rot *out, LabErr *e) {
    if (!v || json_is_null(v)) { *out = ROT_NONE; return 0; }
    const char *s = json_string_value(v);
    if (s && !strcmp(s, "q")) *out = ROT_Q;
    else if (s && !strcmp(s, "k")) *out = ROT_K;
    else return lab_err(e, LAB_EFORMAT, "%s: \"rotary\" must be \"q\", \"k\" or null", what);
    return 0;
}

/* A user's MAP.json: {"rules": [{"from", "to", "transpose"?, "rotary"?, "split"?, "drop"?}, ...]} */
static int rules_from_json(const char *path, Rule **out, size_t *n_out, LabErr *e) {
    json_t *root = eng_json_read(path, 16u << 20, e);
    if (!root) return -1;
    json_t *arr = json_object_get(root, "rules");
    int rc = -1;
    Rule *r = NULL;
    size_t n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        lab_err(e, LAB_EFORMAT, "%s: needs \"rules\": a non-empty list of {\"from\": REGEX, \"to\": NAME, ...}", path);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) if (strcmp(key, "rules") && key[0] != '_') {
        lab_err(e, LAB_EFORMAT, "%s: unknown key \"%s\" (a map has \"rules\"; keys starting with _ are comments)", path, key);
        goto done;
    }
    if (!(r = calloc(json_array_size(arr), sizeof *r))) goto oom;
    size_t n_alloc = json_array_size(arr); /* all zeroed: freeing the whole list frees a half-read rule too */
    for (size_t i = 0; i < json_array_size(arr); i++, n++) {
        json_t *o = json_array_get(arr, i);
        Rule *R = &r[i];
        char what[600];
        snprintf(what, sizeof what, "%s: rules[%zu]", path, i);
        if (!json_is_object(o)) {
            lab_err(e, LAB_EFORMAT, "%s is not an object", what);
            goto done;
        }
        json_object_foreach(o, key, v) {
            static const char *known[] = {"from", "to", "transpose", "rotary", "split", "drop", NULL};
            bool ok = key[0] == '_';
            for (int k = 0; known[k] && !ok; k++) ok = !strcmp(key, known[k]);
            if (!ok) {
                lab_err(e, LAB_EFORMAT, "%s: unknown key \"%s\" (from, to, transpose, rotary, split, drop)", what, key);
                goto done;
            }
        }
        const char *from = json_string_value(json_object_get(o, "from"));
        if (!from || !*from) {
            lab_err(e, LAB_EFORMAT, "%s: \"from\" (a regex over the source tensor names) is missing", what);
            goto done;
        }
        if (!(R->from = strdup(from))) goto oom;
        if (rule_compile(R, what, e)) goto done;
        json_t *tv = json_object_get(o, "transpose");
        if (tv && !json_is_boolean(tv)) {
            lab_err(e, LAB_EFORMAT, "%s: \"transpose\" must be true or false", what);
            goto done;
        }
        R->transpose = json_is_true(tv);
        R->drop = json_is_true(json_object_get(o, "drop"));
        json_t *to = json_object_get(o, "to"), *sp = json_object_get(o, "split"), *rot = json_object_get(o, "rotary");
        if (R->drop) {
            if (to || sp || rot) {
                lab_err(e, LAB_EFORMAT, "%s: a \"drop\" rule has no \"to\", \"split\" or \"rotary\"", what);
                goto done;
            }
            continue;
        }
        if (sp) {
            if (!json_is_array(sp) || json_array_size(sp) < 2 || !json_is_array(to) || json_array_size(to) != json_array_size(sp)) {
                lab_err(e, LAB_EFORMAT, "%s: \"split\" is a list of at least 2 row counts, with \"to\" a list of as many names", what);
                goto done;
            }
            R->n_to = json_array_size(sp);
            if (!(R->split = calloc(R->n_to, sizeof *R->split))) goto oom;
            for (size_t k = 0; k < R->n_to; k++) {
                json_t *x = json_array_get(sp, k);
                if (!json_is_integer(x) || json_integer_value(x) <= 0) {
                    lab_err(e, LAB_EFORMAT, "%s: split[%zu] is not a positive row count", what, k);
                    goto done;
                }
                R->split[k] = json_integer_value(x);
            }
        } else {
            if (!json_is_string(to)) {
                lab_err(e, LAB_EFORMAT, "%s: \"to\" (the target tensor name) is missing or not a string", what);
                goto done;
            }
            R->n_to = 1;
        }
        if (!(R->to = calloc(R->n_to, sizeof *R->to)) || !(R->rot = calloc(R->n_to, sizeof *R->rot))) goto oom;
        for (size_t k = 0; k < R->n_to; k++) {
            json_t *x = sp ? json_array_get(to, k) : to;
            if (!json_is_string(x) || !json_string_length(x)) {
                lab_err(e, LAB_EFORMAT, "%s: to[%zu] is not a name", what, k);
                goto done;
            }
            if (!(R->to[k] = strdup(json_string_value(x)))) goto oom;
        }
        if (json_is_array(rot)) {
            if (json_array_size(rot) != R->n_to) {
                lab_err(e, LAB_EFORMAT, "%s: \"rotary\" lists %zu entries for %zu targets", what, json_array_size(rot), R->n_to);
                goto done;
            }
            for (size_t k = 0; k < R->n_to; k++)
                if (parse_rot(json_array_get(rot, k), what, &R->rot[k], e)) goto done;
        } else if (parse_rot(rot, what, &R->rot[0], e)) {
            goto done;
        } else if (R->n_to > 1 && R->rot[0] != ROT_NONE) {
            lab_err(e, LAB_EFORMAT, "%s: with \"split\", \"rotary\" is a list with one entry per target", what);
            goto done;
        }
    }
    *out = r;
    *n_out = n;
    r = NULL;
    rc = 0;
    goto done;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
done:
    rules_free(r, r ? n_alloc : 0);
    json_decref(root);
    return rc;
}

/* Built-in maps, in the same form. */
typedef struct { const char *from, *to; bool transpose; Rot rot; bool drop; } BuiltinRule;

static const BuiltinRule META_RULES[] = {
    {"tok_embeddings\\.weight", "model.embed_tokens.weight", false, ROT_NONE, false},
    {"norm\\.weight", "model.norm.weight", false, ROT_NONE, false},
    {"output\\.weight", "lm_head.weight", false, ROT_NONE, false},
    {"layers\\.(\\d+)\\.attention\\.wq\\.weight", "model.layers.$1.self_attn.q_proj.weight", false, ROT_Q, false},
    {"layers\\.(\\d+)\\.attention\\.wk\\.weight", "model.layers.$1.self_attn.k_proj.weight", false, ROT_K, false},
    {"layers\\.(\\d+)\\.attention\\.wv\\.weight", "model.layers.$1.self_attn.v_proj.weight", false, ROT_NONE, false},
    {"layers\\.(\\d+)\\.attention\\.wo\\.weight", "model.layers.$1.self_attn.o_proj.weight", false, ROT_NONE, false},
    {"layers\\.(\\d+)\\.feed_forward\\.w1\\.weight", "model.layers.$1.mlp.gate_proj.weight", false, ROT_NONE, false},
    {"layers\\.(\\d+)\\.feed_forward\\.w2\\.weight", "model.layers.$1.mlp.down_proj.weight", false, ROT_NONE, false},
    {"layers\\.(\\d+)\\.feed_forward\\.w3\\.weight", "model.layers.$1.mlp.up_proj.weight", false, ROT_NONE, false},
    {"layers\\.(\\d+)\\.attention_norm\\.weight", "model.layers.$1.input_layernorm.weight", false, ROT_NONE, false},
    {"layers\\.(\\d+)\\.ffn_norm\\.weight", "model.layers.$1.post_attention_layernorm.weight", false, ROT_NONE, false},
    {"rope\\.freqs", NULL, false, ROT_NONE, true}, /* a buffer: the frequencies follow from rope_theta */
    {NULL, NULL, false, ROT_NONE, false},
};

/* nanoGPT's nn.Linear stores [out, in]; GPT-2's Conv1D [in, out]: the four matrices are transposed. */
static const BuiltinRule NANOGPT_RULES[] = {
    {"transformer\\.wte\\.weight", "transformer.wte.weight", false, ROT_NONE, false},
    {"transformer\\.wpe\\.weight", "transformer.wpe.weight", false, ROT_NONE, false},
    {"transformer\\.h\\.(\\d+)\\.(ln_1|ln_2)\\.(weight|bias)", "transformer.h.$1.$2.$3", false, ROT_NONE, false},
    {"transformer\\.h\\.(\\d+)\\.(attn\\.c_attn|attn\\.c_proj|mlp\\.c_fc|mlp\\.c_proj)\\.weight", "transformer.h.$1.$2.weight", true, ROT_NONE, false},
    {"transformer\\.h\\.(\\d+)\\.(attn\\.c_attn|attn\\.c_proj|mlp\\.c_fc|mlp\\.c_proj)\\.bias", "transformer.h.$1.$2.bias", false, ROT_NONE, false},
    {"transformer\\.ln_f\\.(weight|bias)", "transformer.ln_f.$1", false, ROT_NONE, false},
    {"lm_head\\.weight", "lm_head.weight", false, ROT_NONE, false},
    {"transformer\\.h\\.(\\d+)\\.attn\\.bias", NULL, false, ROT_NONE, true}, /* the causal mask buffer */
    {NULL, NULL, false, ROT_NONE, false},
};

static int rules_builtin(const BuiltinRule *b, Rule **out, size_t *n_out, LabErr *e) {
    size_t n = 0;
    while (b[n].from) n++;
    Rule *r = calloc(n, sizeof *r);
    if (!r) return lab_err(e, LAB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        r[i].transpose = b[i].transpose;
        r[i].optional = true;
        r[i].drop = b[i].drop;
        if (!(r[i].from = strdup(b[i].from))) goto oom;
        if (rule_compile(&r[i], "built-in map", e)) {
            rules_free(r, n);
            return -1;
        }
        if (b[i].drop) continue;
        r[i].n_to = 1;
        if (!(r[i].to = calloc(1, sizeof *r[i].to)) || !(r[i].to[0] = strdup(b[i].to)) || !(r[i].rot = calloc(1, sizeof *r[i].rot)))
            goto oom;
        r[i].rot[0] = b[i].rot;
    }
    *out = r;
    *n_out = n;
    return 0;
oom:
    rules_free(r, n);
    return lab_err(e, LAB_ENOMEM, "out of memory");
}

/* The target name: $0..$9 from the match, $$ a dollar. NULL on ENOMEM; *bad set for a $N the regex
 * did not capture. */
static char *subst(const char *tmpl, const char *name, pcre2_match_data *md, int n_groups, bool *bad) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    Buf b = {0};
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '$' && p[1] == '$') {
            buf_putc(&b, '$');
            p++;
        } else if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
            int g = p[1] - '0';
            if (g >= n_groups || ov[2 * g] == PCRE2_UNSET) *bad = true;
            else buf_append(&b, name + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
            p++;
        } else buf_putc(&b, *p);
    }
    if (buf_append(&b, "", 0)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* ---------- the targets a config calls for ---------- */
typedef struct { char *name; int n_dims; int64_t shape[2]; bool zero_ok; } Want;
typedef struct { Want *v; size_t n, cap; } Wants;

static int want(Wants *w, bool zero_ok, int64_t a, int64_t b, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int want(Wants *w, bool zero_ok, int64_t a, int64_t b, const char *fmt, ...) {
    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 64;
        Want *nv = realloc(w->v, nc * sizeof *nv);
        if (!nv) return -1;
        w->v = nv;
        w->cap = nc;
    }
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    Want *x = &w->v[w->n];
    if (!(x->name = strdup(name))) return -1;
    x->n_dims = b ? 2 : 1;
    x->shape[0] = a;
    x->shape[1] = b;
    x->zero_ok = zero_ok;
    w->n++;
    return 0;
}

static void wants_free(Wants *w) {
    for (size_t i = 0; i < w->n; i++) free(w->v[i].name);
    free(w->v);
}

/* zero_biases: nanoGPT's bias=False — GPT-2 biases absent from the source are written as zeros */
static int wants_for(const EngConfig *c, bool zero_biases, Wants *w, LabErr *e) {
    int64_t D = c->dim, V = c->vocab, I = c->hidden, hd = c->head_dim, qd = (int64_t)c->n_head * hd, kvd = (int64_t)c->n_kv_head * hd;
    int rc = 0;
    if (c->arch == ENG_ARCH_LLAMA) {
        rc |= want(w, false, V, D, "model.embed_tokens.weight");
        for (int l = 0; l < c->n_layer && !rc; l++) {
            rc |= want(w, false, D, 0, "model.layers.%d.input_layernorm.weight", l);
            rc |= want(w, false, qd, D, "model.layers.%d.self_attn.q_proj.weight", l);
            rc |= want(w, false, kvd, D, "model.layers.%d.self_attn.k_proj.weight", l);
            rc |= want(w, false, kvd, D, "model.layers.%d.self_attn.v_proj.weight", l);
            rc |= want(w, false, D, qd, "model.layers.%d.self_attn.o_proj.weight", l);
            if (c->attn_bias) {
                rc |= want(w, false, qd, 0, "model.layers.%d.self_attn.q_proj.bias", l);
                rc |= want(w, false, kvd, 0, "model.layers.%d.self_attn.k_proj.bias", l);
                rc |= want(w, false, kvd, 0, "model.layers.%d.self_attn.v_proj.bias", l);
            }
            if (c->o_bias) rc |= want(w, false, D, 0, "model.layers.%d.self_attn.o_proj.bias", l);
            rc |= want(w, false, D, 0, "model.layers.%d.post_attention_layernorm.weight", l);
            rc |= want(w, false, I, D, "model.layers.%d.mlp.gate_proj.weight", l);
            rc |= want(w, false, I, D, "model.layers.%d.mlp.up_proj.weight", l);
            rc |= want(w, false, D, I, "model.layers.%d.mlp.down_proj.weight", l);
            if (c->mlp_bias) {
                rc |= want(w, false, I, 0, "model.layers.%d.mlp.gate_proj.bias", l);
                rc |= want(w, false, I, 0, "model.layers.%d.mlp.up_proj.bias", l);
                rc |= want(w, false, D, 0, "model.layers.%d.mlp.down_proj.bias", l);
            }
        }
        rc |= want(w, false, D, 0, "model.norm.weight");
    } else if (c->arch == ENG_ARCH_GPT2) {
        bool z = zero_biases;
        rc |= want(w, false, V, D, "transformer.wte.weight");
        rc |= want(w, false, c->ctx_max, D, "transformer.wpe.weight");
        for (int l = 0; l < c->n_layer && !rc; l++) {
            rc |= want(w, false, D, 0, "transformer.h.%d.ln_1.weight", l);
            rc |= want(w, z, D, 0, "transformer.h.%d.ln_1.bias", l);
            rc |= want(w, false, D, 3 * D, "transformer.h.%d.attn.c_attn.weight", l);
            rc |= want(w, z, 3 * D, 0, "transformer.h.%d.attn.c_attn.bias", l);
            rc |= want(w, false, D, D, "transformer.h.%d.attn.c_proj.weight", l);
            rc |= want(w, z, D, 0, "transformer.h.%d.attn.c_proj.bias", l);
            rc |= want(w, false, D, 0, "transformer.h.%d.ln_2.weight", l);
            rc |= want(w, z, D, 0, "transformer.h.%d.ln_2.bias", l);
            rc |= want(w, false, D, I, "transformer.h.%d.mlp.c_fc.weight", l);
            rc |= want(w, z, I, 0, "transformer.h.%d.mlp.c_fc.bias", l);
            rc |= want(w, false, I, D, "transformer.h.%d.mlp.c_proj.weight", l);
            rc |= want(w, z, D, 0, "transformer.h.%d.mlp.c_proj.bias", l);
        }
        rc |= want(w, false, D, 0, "transformer.ln_f.weight");
        rc |= want(w, z, D, 0, "transformer.ln_f.bias");
    } else {
        return lab_err(e, LAB_EUNSUPPORTED, "import writes model_type llama or gpt2 folders (this config is another family)");
    }
    if (!c->tied) rc |= want(w, false, V, D, "lm_head.weight");
    return rc ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}

/* ---------- planning ---------- */
static OutT *out_add(Plan *p) {
    if (p->n_o == p->cap_o) {
        size_t nc = p->cap_o ? 2 * p->cap_o : 64;
        OutT *nv = realloc(p->o, nc * sizeof *nv);
        if (!nv) return NULL;
        p->o = nv;
        p->cap_o = nc;
    }
    OutT *o = &p->o[p->n_o++];
    memset(o, 0, sizeof *o);
    return o;
}

static void shape_str(char *b, size_t n, int nd, const int64_t *s) {
    if (nd == 1) snprintf(b, n, "[%lld]", (long long)s[0]);
    else if (nd == 2) snprintf(b, n, "[%lld, %lld]", (long long)s[0], (long long)s[1]);
    else snprintf(b, n, "(%d dims)", nd);
}

/* Applies the rules to every source tensor, then compares the result with what the config wants. */
static int plan_build(Plan *p, const StSet *src, const EngConfig *c, bool zero_biases, LabErr *e) {
    Wants w = {0};
    if (wants_for(c, zero_biases, &w, e)) return -1;
    pcre2_match_data *md = pcre2_match_data_create(16, NULL);
    Buf left = {0};
    size_t n_left = 0;
    int rc = -1;
    if (!md) goto oom;
    for (size_t i = 0; i < src->n; i++) {
        const StTensor *t = &src->t[i];
        Rule *R = NULL;
        int ng = 0;
        for (size_t k = 0; k < p->n && !R; k++) {
            ng = pcre2_match(p->r[k].re, (PCRE2_SPTR)t->name, strlen(t->name), 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, NULL);
            if (ng > 0) R = &p->r[k];
        }
        if (!R) {
            if (n_left++ < MAX_LISTED) buf_printf(&left, "%s%s", n_left > 1 ? ", " : "", t->name);
            continue;
        }
        R->used++;
        if (R->drop) continue;
        char sh[64];
        shape_str(sh, sizeof sh, t->n_dims, t->shape);
        size_t es = dtype_size(t->dtype);
        if (!es) {
            problem(p, "%s: dtype %s (import keeps F32, F16 and BF16 as they are)", t->name, t->dtype);
            continue;
        }
        if (t->n_dims < 1 || t->n_dims > 2) {
            problem(p, "%s: %d dimensions (1 or 2 expected)", t->name, t->n_dims);
            continue;
        }
        if (R->transpose && t->n_dims != 2) {
            problem(p, "%s %s: \"transpose\" needs a matrix (rule '%s')", t->name, sh, R->from);
            continue;
        }
        int64_t rows = R->transpose ? t->shape[1] : t->shape[0], cols = R->transpose ? t->shape[0] : t->n_dims == 2 ? t->shape[1] : 0;
        /* sum <= rows throughout, so a split of any size is compared without overflowing */
        int64_t sum = 0;
        bool over = false;
        for (size_t k = 0; R->split && k < R->n_to && !over; k++) {
            if (R->split[k] > rows - sum) over = true;
            else sum += R->split[k];
        }
        if (R->split && (over || sum != rows)) {
            if (over)
                problem(p, "%s %s: the split sizes add up to more than the %lld rows the tensor has%s (rule '%s')", t->name, sh,
                        (long long)rows, R->transpose ? " after transposing" : "", R->from);
            else
                problem(p, "%s %s: the split sizes add up to %lld rows, the tensor has %lld%s (rule '%s')", t->name, sh,
                        (long long)sum, (long long)rows, R->transpose ? " after transposing" : "", R->from);
            continue;
        }
        int64_t row0 = 0;
        for (size_t k = 0; k < R->n_to; k++) {
            bool bad = false;
            char *name = subst(R->to[k], t->name, md, ng, &bad);
            if (!name) goto oom;
            if (bad) {
                problem(p, "%s: target '%s' uses a $N group the regex '%s' does not capture", t->name, R->to[k], R->from);
                free(name);
                continue;
            }
            OutT *o = out_add(p);
            if (!o) {
                free(name);
                goto oom;
            }
            o->name = name;
            o->src = t;
            memcpy(o->dtype, t->dtype, sizeof o->dtype);
            o->esize = es;
            o->transpose = R->transpose;
            o->n_dims = t->n_dims;
            o->shape[0] = R->split ? R->split[k] : rows;
            o->shape[1] = cols;
            o->row0 = row0;
            row0 += o->shape[0];
            if (R->rot[k] != ROT_NONE) {
                int h = R->rot[k] == ROT_Q ? c->n_head : c->n_kv_head;
                if (o->shape[0] % h || (o->shape[0] / h) % 2) {
                    problem(p, "%s → %s: %lld rows do not split into %d heads of an even size (rotary %s)", t->name, name,
                            (long long)o->shape[0], h, R->rot[k] == ROT_Q ? "q" : "k");
                    continue;
                }
                o->rot_heads = h;
            }
        }
    }
    if (n_left)
        problem(p, "%zu source tensor%s no rule uses: %s%s", n_left, n_left > 1 ? "s" : "", left.data,
                n_left > MAX_LISTED ? ", ..." : "");
    for (size_t k = 0; k < p->n; k++)
        if (!p->r[k].used && !p->r[k].optional) problem(p, "rule %zu ('%s') matches no source tensor", k, p->r[k].from);
    /* targets: each wanted once, with its shape */
    Buf missing = {0};
    size_t n_missing = 0;
    for (size_t i = 0; i < p->n_o; i++)
        for (size_t j = i + 1; j < p->n_o; j++)
            if (!strcmp(p->o[i].name, p->o[j].name))
                problem(p, "target %s is filled twice: from %s and from %s", p->o[i].name, p->o[i].src->name, p->o[j].src->name);
    for (size_t i = 0; i < p->n_o; i++) {
        const OutT *o = &p->o[i];
        const Want *x = NULL;
        for (size_t k = 0; k < w.n && !x; k++)
            if (!strcmp(w.v[k].name, o->name)) x = &w.v[k];
        if (!x) {
            problem(p, "target %s (from %s) is not a tensor of this config", o->name, o->src->name);
            continue;
        }
        if (x->n_dims != o->n_dims || x->shape[0] != o->shape[0] || (x->n_dims == 2 && x->shape[1] != o->shape[1])) {
            char a[64], b[64];
            shape_str(a, sizeof a, o->n_dims, o->shape);
            shape_str(b, sizeof b, x->n_dims, x->shape);
            problem(p, "target %s (from %s) would be %s; the config says %s", o->name, o->src->name, a, b);
        }
    }
    for (size_t k = 0; k < w.n; k++) {
        bool found = false;
        for (size_t i = 0; i < p->n_o && !found; i++) found = !strcmp(p->o[i].name, w.v[k].name);
        if (found) continue;
        if (w.v[k].zero_ok) {
            OutT *o = out_add(p);
            if (!o || !(o->name = strdup(w.v[k].name))) goto oom;
            memcpy(o->dtype, "F32", 4);
            o->esize = 4;
            o->n_dims = w.v[k].n_dims;
            o->shape[0] = w.v[k].shape[0];
            o->shape[1] = w.v[k].shape[1];
            continue;
        }
        if (n_missing++ < MAX_LISTED) buf_printf(&missing, "%s%s", n_missing > 1 ? ", " : "", w.v[k].name);
    }
    if (n_missing)
        problem(p, "%zu target tensor%s no rule fills: %s%s", n_missing, n_missing > 1 ? "s" : "", missing.data,
                n_missing > MAX_LISTED ? ", ..." : "");
    buf_free(&missing);
    rc = 0;
    goto done;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
done:
    if (md) pcre2_match_data_free(md);
    buf_free(&left);
    wants_free(&w);
    return rc;
}

/* ---------- writing ---------- */
/* The bytes of one output tensor, in buf (o's size). */
static void out_bytes(const OutT *o, unsigned char *buf) {
    size_t rows = (size_t)o->shape[0], cols = o->n_dims == 2 ? (size_t)o->shape[1] : 1, es = o->esize;
    if (!o->src) {
        memset(buf, 0, rows * cols * es);
        return;
    }
    const unsigned char *s = o->src->data;
    size_t src_cols = o->src->n_dims == 2 ? (size_t)o->src->shape[1] : 1;
    size_t hd = o->rot_heads ? rows / (size_t)o->rot_heads : 0;
    for (size_t r = 0; r < rows; r++) {
        size_t pr = r; /* the row of the part this output row takes */
        if (hd) {      /* out (h, j, i) ← in (h, i, j): [heads][2][hd/2] from [heads][hd/2][2] */
            size_t h = r / hd, within = r % hd, j = within / (hd / 2), i = within % (hd / 2);
            pr = h * hd + 2 * i + j;
        }
        size_t sr = (size_t)o->row0 + pr; /* row of the (transposed) source */
        if (!o->transpose) {
            memcpy(buf + r * cols * es, s + sr * src_cols * es, cols * es);
        } else {
            for (size_t c = 0; c < cols; c++) memcpy(buf + (r * cols + c) * es, s + (c * src_cols + sr) * es, es);
        }
    }
}

static int out_cmp(const void *a, const void *b) { return strcmp(((const OutT *)a)->name, ((const OutT *)b)->name); }

static int write_all(FILE *f, const void *p, size_t n, const char *path, LabErr *e) {
    if (n && fwrite(p, 1, n, f) != n) return lab_err(e, LAB_EIO, "%s: write failed: %s", path, strerror(errno));
    return 0;
}

static int write_safetensors(Plan *p, const char *path, const char *layout, LabErr *e) {
    qsort(p->o, p->n_o, sizeof *p->o, out_cmp);
    json_t *h = json_object(), *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    char by[64];
    snprintf(by, sizeof by, "ablab import --%s", layout);
    json_object_set_new(meta, "converted_by", json_string(by));
    json_object_set_new(h, "__metadata__", meta);
    size_t off = 0, maxb = 0;
    for (size_t i = 0; i < p->n_o; i++) {
        OutT *o = &p->o[i];
        size_t nb = (size_t)o->shape[0] * (o->n_dims == 2 ? (size_t)o->shape[1] : 1) * o->esize;
        json_t *t = json_object(), *sh = json_array(), *of = json_array();
        json_object_set_new(t, "dtype", json_string(o->dtype));
        for (int d = 0; d < o->n_dims; d++) json_array_append_new(sh, json_integer(o->shape[d]));
        json_object_set_new(t, "shape", sh);
        json_array_append_new(of, json_integer((json_int_t)off));
        json_array_append_new(of, json_integer((json_int_t)(off + nb)));
        json_object_set_new(t, "data_offsets", of);
        json_object_set_new(h, o->name, t);
        off += nb;
        if (nb > maxb) maxb = nb;
    }
    char *hs = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    if (!hs) return lab_err(e, LAB_ENOMEM, "out of memory");
    size_t hl = strlen(hs), padded = (hl + 7) & ~(size_t)7;
    unsigned char *buf = malloc(maxb ? maxb : 1);
    FILE *f = fopen(path, "wb");
    int rc = -1;
    if (!buf) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    if (!f) {
        lab_err(e, LAB_EIO, "%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    if (write_all(f, len8, 8, path, e) || write_all(f, hs, hl, path, e) || write_all(f, "        ", padded - hl, path, e)) goto done;
    for (size_t i = 0; i < p->n_o; i++) { /* the same order as the offsets above */
        const OutT *o = &p->o[i];
        size_t nb = (size_t)o->shape[0] * (o->n_dims == 2 ? (size_t)o->shape[1] : 1) * o->esize;
        out_bytes(o, buf);
        if (write_all(f, buf, nb, path, e)) goto done;
    }
    if (fflush(f) || fsync(fileno(f))) {
        lab_err(e, LAB_EIO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (f && fclose(f) && !rc) rc = lab_err(e, LAB_EIO, "%s: close failed: %s", path, strerror(errno));
    free(buf);
    free(hs);
    return rc;
}

static int write_json(const char *dir, const char *name, json_t *j, LabErr *e) {
    char *p = path_join(dir, name);
    if (!p) return lab_err(e, LAB_ENOMEM, "out of memory");
    int rc = json_dump_file(j, p, JSON_INDENT(2) | JSON_SORT_KEYS) ? lab_err(e, LAB_EIO, "%s: cannot write", p) : 0;
    free(p);
    return rc;
}

static int copy_file(const char *from, const char *dir, const char *name, LabErr *e) {
    char *data = NULL;
    size_t n = 0;
    if (file_read_all(from, (size_t)1 << 31, &data, &n, e)) return -1;
    char *p = path_join(dir, name);
    FILE *f = p ? fopen(p, "wb") : NULL;
    int rc = 0;
    if (!p) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    else if (!f) rc = lab_err(e, LAB_EIO, "%s: cannot create: %s", p, strerror(errno));
    else if (write_all(f, data, n, p, e)) rc = -1;
    if (f && fclose(f) && !rc) rc = lab_err(e, LAB_EIO, "%s: close failed", p);
    free(p);
    free(data);
    return rc;
}

/* ---------- sources ---------- */
static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The one *.safetensors in dir whose name starts with prefix (NULL: any); malloc'd path. */
static char *find_weights(const char *dir, const char *prefix, LabErr *e) {
    DIR *d = opendir(dir);
    if (!d) {
        lab_err(e, LAB_ENOTFOUND, "%s: cannot open the folder: %s", dir, strerror(errno));
        return NULL;
    }
    char *found = NULL;
    size_t n = 0;
    bool pickles = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (ends_with(de->d_name, ".pt") || ends_with(de->d_name, ".pth") || ends_with(de->d_name, ".ckpt")) pickles = true;
        if (!ends_with(de->d_name, ".safetensors") || (prefix && strncmp(de->d_name, prefix, strlen(prefix)))) continue;
        if (n++ == 0) found = path_join(dir, de->d_name);
    }
    closedir(d);
    if (n == 1) return found;
    free(found);
    if (n > 1)
        lab_err(e, LAB_EUNSUPPORTED, "%s: %zu %s*.safetensors files: a checkpoint split across model-parallel shards is not "
                "supported (merge it into one file first)", dir, n, prefix ? prefix : "");
    else if (pickles)
        lab_err(e, LAB_EUNSUPPORTED, "%s: only PyTorch pickles (.pt/.pth/.ckpt), which ablab does not open (unpickling runs "
                "code); convert the state dict to safetensors in your own Python with tools/pt_to_safetensors.py", dir);
    else
        lab_err(e, LAB_ENOTFOUND, "%s: no %s*.safetensors file", dir, prefix ? prefix : "");
    return NULL;
}

static int jint(json_t *o, const char *k, const char *f, int64_t def, int64_t *out, LabErr *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (def == INT64_MIN) return lab_err(e, LAB_EFORMAT, "%s: \"%s\" is missing", f, k);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) return lab_err(e, LAB_EFORMAT, "%s: \"%s\" is not an integer", f, k);
    *out = json_integer_value(v);
    return 0;
}

static int jnum(json_t *o, const char *k, const char *f, double def, double *out, LabErr *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return lab_err(e, LAB_EFORMAT, "%s: \"%s\" is not a number", f, k);
    *out = json_number_value(v);
    return 0;
}

/* Meta's params.json → a transformers LlamaConfig. The FFN width is hidden_dim when given, else
 * Meta's rule: 2/3 of 4·dim, times ffn_dim_multiplier, rounded up to a multiple of multiple_of. */
static json_t *config_meta(const char *dir, const StSet *src, LabErr *e) {
    char *pp = path_join(dir, "params.json");
    json_t *r = pp ? eng_json_read(pp, 1u << 20, e) : NULL;
    json_t *c = NULL;
    if (!r) goto done;
    int64_t dim = 0, nl = 0, nh = 0, nkv = 0, V = 0, hidden = 0, mo = 0, ctx = 0;
    double eps = 0, theta = 0, mult = 0;
    if (jint(r, "dim", pp, INT64_MIN, &dim, e) || jint(r, "n_layers", pp, INT64_MIN, &nl, e) ||
        jint(r, "n_heads", pp, INT64_MIN, &nh, e) || jint(r, "n_kv_heads", pp, 0, &nkv, e) ||
        jint(r, "vocab_size", pp, -1, &V, e) || jint(r, "hidden_dim", pp, 0, &hidden, e) ||
        jint(r, "multiple_of", pp, 256, &mo, e) || jint(r, "max_seq_len", pp, 2048, &ctx, e) ||
        jnum(r, "norm_eps", pp, 1e-5, &eps, e) || jnum(r, "rope_theta", pp, 10000.0, &theta, e) ||
        jnum(r, "ffn_dim_multiplier", pp, 0, &mult, e))
        goto done;
    if (dim <= 0 || nl <= 0 || nh <= 0 || dim % nh || mo <= 0 || ctx <= 0) {
        lab_err(e, LAB_EFORMAT, "%s: dim %lld, n_layers %lld, n_heads %lld, multiple_of %lld, max_seq_len %lld: not a Llama",
                pp, (long long)dim, (long long)nl, (long long)nh, (long long)mo, (long long)ctx);
        goto done;
    }
    /* bounded before any arithmetic: Meta's FFN rule below multiplies dim and rounds up by multiple_of */
    if (dim > IMPORT_MAX_DIM || mo > IMPORT_MAX_DIM || hidden > IMPORT_MAX_DIM) {
        lab_err(e, LAB_EFORMAT, "%s: dim %lld, multiple_of %lld, hidden_dim %lld: each must be at most %d", pp, (long long)dim,
                (long long)mo, (long long)hidden, IMPORT_MAX_DIM);
        goto done;
    }
    if (nkv <= 0) nkv = nh;
    if (V <= 0) { /* Meta writes -1 and takes the size from the tokenizer: the embedding says it */
        const StTensor *t = st_find(src, "tok_embeddings.weight");
        if (!t || t->n_dims != 2) {
            lab_err(e, LAB_EFORMAT, "%s: vocab_size %lld and no tok_embeddings.weight to read it from", pp, (long long)V);
            goto done;
        }
        V = t->shape[0];
    }
    if (hidden <= 0) {
        hidden = 2 * (4 * dim) / 3;
        if (mult > 0) {
            double h = mult * (double)hidden;
            if (!(h <= IMPORT_MAX_DIM)) {
                lab_err(e, LAB_EFORMAT, "%s: ffn_dim_multiplier %g makes the FFN width %g (dim %lld): more than %d", pp, mult, h,
                        (long long)dim, IMPORT_MAX_DIM);
                goto done;
            }
            hidden = (int64_t)h;
        }
        hidden = mo * ((hidden + mo - 1) / mo);
    }
    c = json_object();
    json_object_set_new(c, "architectures", json_pack("[s]", "LlamaForCausalLM"));
    json_object_set_new(c, "model_type", json_string("llama"));
    json_object_set_new(c, "hidden_size", json_integer(dim));
    json_object_set_new(c, "intermediate_size", json_integer(hidden));
    json_object_set_new(c, "num_hidden_layers", json_integer(nl));
    json_object_set_new(c, "num_attention_heads", json_integer(nh));
    json_object_set_new(c, "num_key_value_heads", json_integer(nkv));
    json_object_set_new(c, "head_dim", json_integer(dim / nh));
    json_object_set_new(c, "vocab_size", json_integer(V));
    json_object_set_new(c, "max_position_embeddings", json_integer(ctx));
    json_object_set_new(c, "rms_norm_eps", json_real(eps));
    json_object_set_new(c, "rope_parameters", json_pack("{s:f, s:s}", "rope_theta", theta, "rope_type", "default"));
    json_object_set_new(c, "rope_theta", json_real(theta));
    json_object_set_new(c, "hidden_act", json_string("silu"));
    json_object_set_new(c, "attention_bias", json_false());
    json_object_set_new(c, "mlp_bias", json_false());
    json_object_set_new(c, "tie_word_embeddings", json_boolean(!st_find(src, "output.weight")));
    json_object_set_new(c, "torch_dtype", json_string("float32"));
done:
    json_decref(r);
    free(pp);
    return c;
}

/* nanoGPT's model_args.json (the GPTConfig it trained with) → a transformers GPT2Config with
 * nanoGPT's exact GELU; *zero_biases when it trained without biases (bias: false). */
static json_t *config_nanogpt(const char *dir, const StSet *src, bool *zero_biases, bool *tied, LabErr *e) {
    char *pp = path_join(dir, "model_args.json");
    json_t *r = pp ? eng_json_read(pp, 1u << 20, e) : NULL;
    json_t *c = NULL;
    if (!r) goto done;
    int64_t nl = 0, nh = 0, ne = 0, bs = 0, V = 0;
    if (jint(r, "n_layer", pp, INT64_MIN, &nl, e) || jint(r, "n_head", pp, INT64_MIN, &nh, e) ||
        jint(r, "n_embd", pp, INT64_MIN, &ne, e) || jint(r, "block_size", pp, INT64_MIN, &bs, e) ||
        jint(r, "vocab_size", pp, INT64_MIN, &V, e))
        goto done;
    json_t *b = json_object_get(r, "bias");
    if (b && !json_is_boolean(b)) {
        lab_err(e, LAB_EFORMAT, "%s: \"bias\" is not true or false", pp);
        goto done;
    }
    *zero_biases = b && json_is_false(b);
    /* nanoGPT ties lm_head to wte; a state dict holds both (the same values). */
    const StTensor *wte = st_find(src, "transformer.wte.weight"), *head = st_find(src, "lm_head.weight");
    *tied = !head || (wte && head->nbytes == wte->nbytes && !strcmp(head->dtype, wte->dtype) && !memcmp(head->data, wte->data, wte->nbytes));
    c = json_object();
    json_object_set_new(c, "architectures", json_pack("[s]", "GPT2LMHeadModel"));
    json_object_set_new(c, "model_type", json_string("gpt2"));
    json_object_set_new(c, "n_layer", json_integer(nl));
    json_object_set_new(c, "n_head", json_integer(nh));
    json_object_set_new(c, "n_embd", json_integer(ne));
    json_object_set_new(c, "n_positions", json_integer(bs));
    json_object_set_new(c, "vocab_size", json_integer(V));
    json_object_set_new(c, "activation_function", json_string("gelu"));
    json_object_set_new(c, "layer_norm_epsilon", json_real(1e-5));
    json_object_set_new(c, "tie_word_embeddings", json_boolean(*tied));
    json_object_set_new(c, "torch_dtype", json_string("float32"));
done:
    json_decref(r);
    free(pp);
    return c;
}

/* ---------- the tokenizer ---------- */
typedef struct { const char *path; const char *as; } TokFile;

/* What to copy: the tokenizer file named, or the first found in the source folder. */
static int find_tokenizer(const char *given, const char *srcdir, TokFile files[3], size_t *n, Tokenizer **tok, LabErr *e) {
    static const char *names[] = {"tokenizer.json", "tokenizer.model", "vocab.json", NULL};
    char *cand = NULL;
    *n = 0;
    if (given) {
        if (!(cand = strdup(given))) return lab_err(e, LAB_ENOMEM, "out of memory");
    } else if (srcdir) {
        for (int i = 0; names[i] && !cand; i++) {
            char *p = path_join(srcdir, names[i]);
            if (p && file_exists(p) == 1) cand = p;
            else free(p);
        }
    }
    if (!cand)
        return lab_err(e, LAB_ENOTFOUND, "no tokenizer: give --tokenizer FILE (the tokenizer.model, tokenizer.json or vocab.json "
                       "you trained with); the lab refuses a model without one");
    const char *b = path_basename(cand);
    if (ends_with(b, ".bin")) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: a llama2.c tokenizer.bin has no place in a Hugging Face folder; give the "
                "tokenizer.model it was exported from", cand);
        free(cand);
        return -1;
    }
    if (tok_load_file(tok, cand, 0, e)) {
        free(cand);
        return -1;
    }
    static char merges[4096];
    bool openai = !strcmp(b, "encoder.json");
    if (ends_with(b, ".model")) files[(*n)++] = (TokFile){cand, "tokenizer.model"};
    else if (!strcmp(b, "vocab.json") || openai) { /* GPT-2's pair (OpenAI's names: encoder.json + vocab.bpe) */
        char *dir = path_dirname(cand);
        snprintf(merges, sizeof merges, "%s/%s", dir ? dir : ".", openai ? "vocab.bpe" : "merges.txt");
        free(dir);
        files[(*n)++] = (TokFile){cand, "vocab.json"};
        files[(*n)++] = (TokFile){merges, "merges.txt"};
    } else {
        files[(*n)++] = (TokFile){cand, "tokenizer.json"};
        char *dir = path_dirname(cand);
        snprintf(merges, sizeof merges, "%s/tokenizer_config.json", dir ? dir : ".");
        free(dir);
        if (file_exists(merges) == 1) files[(*n)++] = (TokFile){merges, "tokenizer_config.json"};
    }
    return 0;
}

/* ---------- the model card ---------- */
static int write_card(const char *dir, const EngImportOpts *o, const char *const *srcs, size_t n_src, const TokFile *tf,
                      size_t n_tf, const Plan *p, const EngConfig *c, LabErr *e) {
    Buf b = {0};
    static const char *names[] = {"Meta's reference Llama layout (params.json + consolidated.*.safetensors)",
                                  "nanoGPT (model_args.json + model.safetensors)", "a user's map (MAP.json)"};
    char when[64];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tmv));
    buf_printf(&b, "---\nlibrary_name: transformers\ntags:\n- ablab-import\n---\n\n# Imported with `ablab import`\n\n");
    buf_printf(&b, "Source layout: %s.  \nImported: %s.  \nArchitecture: %s, %d layers, width %d, %d heads (%d key/value), "
               "vocabulary %d, context %d.\n\n", names[o->kind], when, c->arch == ENG_ARCH_GPT2 ? "gpt2" : "llama", c->n_layer,
               c->dim, c->n_head, c->n_kv_head, c->vocab, c->ctx_max);
    buf_printf(&b, "## Source files (sha256)\n\n| file | sha256 |\n|---|---|\n");
    for (size_t i = 0; i < n_src; i++) {
        char h[65];
        if (file_sha256(srcs[i], h, e)) {
            buf_free(&b);
            return -1;
        }
        buf_printf(&b, "| `%s` | `%s` |\n", srcs[i], h);
    }
    for (size_t i = 0; i < n_tf; i++) {
        char h[65];
        if (file_sha256(tf[i].path, h, e)) {
            buf_free(&b);
            return -1;
        }
        buf_printf(&b, "| `%s` (as %s) | `%s` |\n", tf[i].path, tf[i].as, h);
    }
    buf_printf(&b, "\n## What was done to the tensors\n\n");
    if (o->kind == ENG_IMPORT_META)
        buf_printf(&b, "Renamed to transformers' Llama names; `wq`/`wk` rows permuted from Meta's interleaved rotary pairs to "
                   "the rotate-half order (the permute of transformers' `convert_llama_weights_to_hf.py`).\n");
    else if (o->kind == ENG_IMPORT_NANOGPT)
        buf_printf(&b, "nanoGPT's `nn.Linear` matrices ([out, in]) transposed to GPT-2's `Conv1D` ([in, out]); activation "
                   "`gelu` (exact erf, as `nn.GELU()`); the head tied to `wte` when `lm_head.weight` equals it; causal-mask "
                   "buffers dropped; biases a bias-free model lacks written as zeros.\n");
    else
        buf_printf(&b, "The rules of `%s` applied to `%s`, with the config `%s`.\n", o->map, o->weights, o->config);
    size_t zeros = 0;
    for (size_t i = 0; i < p->n_o; i++) zeros += !p->o[i].src;
    buf_printf(&b, "\n%zu tensors written", p->n_o);
    if (zeros) buf_printf(&b, " (%zu of them zeros)", zeros);
    buf_printf(&b, ".\n");
    char *path = path_join(dir, "README.md");
    FILE *f = path ? fopen(path, "w") : NULL;
    int rc = f && fwrite(b.data, 1, b.len, f) == b.len ? 0 : lab_err(e, LAB_EIO, "%s: cannot write the model card", path ? path : dir);
    if (f && fclose(f) && !rc) rc = lab_err(e, LAB_EIO, "%s: close failed", path);
    free(path);
    buf_free(&b);
    return rc;
}

static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = path_join(dir, de->d_name);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---------- the command ---------- */
int eng_import(const EngImportOpts *o, Buf *report, LabErr *e) {
    EngModel *holder = eng_model_new(); /* owns the source mappings */
    StSet src = {0};
    Plan p = {0};
    json_t *cfg = NULL;
    Tokenizer *tok = NULL;
    TokFile tf[3];
    size_t n_tf = 0;
    char *weights = NULL, *partial = NULL, *cfg_src = NULL;
    const char *srcs[2];
    size_t n_src = 0;
    bool zero_biases = false, tied = true;
    EngConfig c;
    int rc = -1;
    static const char *layouts[] = {"meta", "nanogpt", "map"};
    p.layout = layouts[o->kind];
    if (!holder) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (!o->out || !*o->out) {
        lab_err(e, LAB_EINVAL, "--out DIR is required");
        goto done;
    }
    int ex = file_exists(o->out);
    if (ex == 1) {
        lab_err(e, LAB_EINVAL, "%s: exists and is a file; --out names a folder to create", o->out);
        goto done;
    }
    if (ex == 2) {
        DIR *d = opendir(o->out);
        bool empty = true;
        struct dirent *de;
        while (d && (de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) empty = false;
        if (d) closedir(d);
        if (!empty) {
            lab_err(e, LAB_EINVAL, "%s: the folder exists and is not empty; import writes a new folder and never "
                    "overwrites one", o->out);
            goto done;
        }
    }
    /* sources and config */
    switch (o->kind) {
    case ENG_IMPORT_META:
        if (!(weights = find_weights(o->src, "consolidated", e))) goto done;
        break;
    case ENG_IMPORT_NANOGPT:
        if (!(weights = find_weights(o->src, NULL, e))) goto done;
        break;
    case ENG_IMPORT_MAP:
        if (!o->map || !o->weights || !o->config) {
            lab_err(e, LAB_EINVAL, "--map MAP.json needs --weights FILE and --config CONFIG.json");
            goto done;
        }
        if (ends_with(o->weights, ".pt") || ends_with(o->weights, ".pth") || ends_with(o->weights, ".ckpt") ||
            ends_with(o->weights, ".bin")) {
            lab_err(e, LAB_EUNSUPPORTED, "%s: a PyTorch pickle, which ablab does not open (unpickling runs code); convert "
                    "the state dict to safetensors in your own Python with tools/pt_to_safetensors.py", o->weights);
            goto done;
        }
        if (!(weights = strdup(o->weights))) goto oom;
        break;
    }
    srcs[n_src++] = weights;
    if (st_read_file(holder, weights, &src, e) || st_finish(&src, e)) goto done;
    if (o->kind == ENG_IMPORT_META) {
        if (!(cfg = config_meta(o->src, &src, e))) goto done;
        if (!(cfg_src = path_join(o->src, "params.json"))) goto oom;
    } else if (o->kind == ENG_IMPORT_NANOGPT) {
        if (!(cfg = config_nanogpt(o->src, &src, &zero_biases, &tied, e))) goto done;
        if (!(cfg_src = path_join(o->src, "model_args.json"))) goto oom;
    } else {
        if (!(cfg = eng_json_read(o->config, 16u << 20, e))) goto done;
        if (!(cfg_src = strdup(o->config))) goto oom;
    }
    srcs[n_src++] = cfg_src;
    /* a made config is checked under its source's name, so an error points at the file to fix */
    char cfg_label[4200];
    snprintf(cfg_label, sizeof cfg_label, o->kind == ENG_IMPORT_MAP ? "%s" : "%s (as the config.json made from it)", cfg_src);
    if (hf_config_parse(cfg, cfg_label, &c, e)) goto done;
    if (o->kind == ENG_IMPORT_MAP ? rules_from_json(o->map, &p.r, &p.n, e)
                                  : rules_builtin(o->kind == ENG_IMPORT_META ? META_RULES : NANOGPT_RULES, &p.r, &p.n, e))
        goto done;
    if (o->kind == ENG_IMPORT_NANOGPT && tied) /* the head is the embedding: its copy is not a tensor of its own */
        for (size_t k = 0; k < p.n; k++)
            if (!strcmp(p.r[k].from, "lm_head\\.weight")) {
                p.r[k].drop = true;
                p.r[k].used = 1; /* a tied model may well not store it */
            }
    if (plan_build(&p, &src, &c, zero_biases, e)) goto done;
    /* the tokenizer */
    if (find_tokenizer(o->tokenizer, o->kind == ENG_IMPORT_MAP ? NULL : o->src, tf, &n_tf, &tok, e)) goto done;
    if (tok_vocab_size(tok) > c.vocab)
        problem(&p, "the tokenizer %s has %d tokens, more than the model's vocabulary of %d", tf[0].path, tok_vocab_size(tok), c.vocab);
    if (p.n_problems) {
        /* as many whole lines as the message holds, then how many more there are */
        size_t room = sizeof e->msg - strlen(weights) - 120, shown = 0, cut = 0;
        for (size_t i = 0; i < p.problems.len && shown < p.n_problems; shown++) {
            const char *nl = memchr(p.problems.data + i + 1, '\n', p.problems.len - i - 1);
            size_t end = nl ? (size_t)(nl - p.problems.data) : p.problems.len;
            if (end > room) break;
            cut = i = end;
        }
        char more[64] = "";
        if (shown < p.n_problems) snprintf(more, sizeof more, "\n  (and %zu more)", p.n_problems - shown);
        lab_err(e, LAB_EFORMAT, "%s: %zu problem%s, nothing written:%.*s%s", weights, p.n_problems, p.n_problems > 1 ? "s" : "",
                (int)cut, p.problems.data, more);
        goto done;
    }
    /* generation settings: the tokenizer's ids */
    int bos = tok_bos_id(tok), eos = tok_eos_id(tok);
    json_object_set_new(cfg, "bos_token_id", bos >= 0 ? json_integer(bos) : json_null());
    json_object_set_new(cfg, "eos_token_id", eos >= 0 ? json_integer(eos) : json_null());
    /* write beside OUT, load back, then rename */
    size_t ol = strlen(o->out);
    while (ol > 1 && o->out[ol - 1] == '/') ol--;
    if (!(partial = malloc(ol + 32))) goto oom;
    snprintf(partial, ol + 32, "%.*s.import-%ld", (int)ol, o->out, (long)getpid());
    if (mkdir(partial, 0755)) {
        lab_err(e, LAB_EIO, "%s: cannot create: %s", partial, strerror(errno));
        free(partial);
        partial = NULL;
        goto done;
    }
    char *stp = path_join(partial, "model.safetensors");
    json_t *gen = json_object();
    json_object_set_new(gen, "bos_token_id", bos >= 0 ? json_integer(bos) : json_null());
    json_object_set_new(gen, "eos_token_id", eos >= 0 ? json_integer(eos) : json_null());
    json_object_set_new(gen, "do_sample", json_false());
    int wr = !stp ? lab_err(e, LAB_ENOMEM, "out of memory")
                  : write_safetensors(&p, stp, p.layout, e) || write_json(partial, "config.json", cfg, e) ||
                    write_json(partial, "generation_config.json", gen, e);
    json_decref(gen);
    free(stp);
    for (size_t i = 0; i < n_tf && !wr; i++) wr = copy_file(tf[i].path, partial, tf[i].as, e);
    if (!wr) wr = write_card(partial, o, srcs, n_src, tf, n_tf, &p, &c, e);
    if (wr) goto done;
    EngModel *check = NULL;
    EngLoadOpts lo = {0};
    if (eng_load(&check, partial, &lo, e)) {
        lab_err_prefix(e, "the imported folder does not load back");
        goto done;
    }
    eng_free(check);
    if (ex == 2 && rmdir(o->out)) {
        lab_err(e, LAB_EIO, "%s: cannot replace the empty folder: %s", o->out, strerror(errno));
        goto done;
    }
    if (rename(partial, o->out)) {
        lab_err(e, LAB_EIO, "%s: cannot rename %s to it: %s", o->out, partial, strerror(errno));
        goto done;
    }
    free(partial);
    partial = NULL;
    if (report) {
        size_t zeros = 0;
        for (size_t i = 0; i < p.n_o; i++) zeros += !p.o[i].src;
        buf_printf(report, "%s: %s with %d layers, width %d, vocabulary %d: %zu tensors from %zu in %s", o->out,
                   c.arch == ENG_ARCH_GPT2 ? "gpt2" : "llama", c.n_layer, c.dim, c.vocab, p.n_o, src.n, weights);
        if (zeros) buf_printf(report, " (%zu zero biases added)", zeros);
        buf_printf(report, "; tokenizer %s (%s)\n", tf[0].path, tok_kind_name(tok));
    }
    rc = 0;
    goto done;
oom:
    lab_err(e, LAB_ENOMEM, "out of memory");
done:
    if (partial) rm_tree(partial);
    free(partial);
    tok_free(tok);
    for (size_t i = 0; i < n_tf; i++)
        if (i == 0) free((char *)tf[i].path);
    json_decref(cfg);
    for (size_t i = 0; i < p.n_o; i++) free(p.o[i].name);
    free(p.o);
    buf_free(&p.problems);
    rules_free(p.r, p.n);
    st_free(&src);
    free(weights);
    free(cfg_src);
    eng_free(holder);
    return rc;
}
