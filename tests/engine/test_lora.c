/* LoRA adapters (--lora) against transformers + PEFT (tests/fixtures/ref/peft: LoRA and rsLoRA on
 * the golden llama, fan_in_fan_out LoRA on the golden GPT-2): adapted logits within 1e-3 and the
 * same greedy ids with the adapter merged into the F32 base; the unmerged path (a --quant base
 * keeps B(A x) beside its weights) close to that at the quantization's tolerance, decode and batch
 * agreeing; the same adapter as a llama.cpp GGUF adapter, and on llama.cpp's GGUF base (q/k rows in
 * the other RoPE layout); refusals naming the file and the key. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "gguf.h"
#include "lora.h"
#include "safetensors.h"
#include "test_engine_util.h"
#include "../tmpdir.h"
#define ST_WRITE_IMPL
#include "st_write.h"

typedef struct {
    IntVec prompt, greedy;
    float *logits;
    size_t T, V;
    double scaling;
} Ref;

static void ref_read(const char *name, Ref *g) {
    memset(g, 0, sizeof *g);
    char path[4200];
    snprintf(path, sizeof path, "%s/ref/peft/%s/golden.json", getenv("TEST_DATA_DIR"), name);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (!r) fail_msg("%s: %s", path, je.text);
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(r, "input_ids"), i, v) ivec_push(&g->prompt, (int)json_integer_value(v));
    json_array_foreach(json_object_get(r, "greedy_new_ids"), i, v) ivec_push(&g->greedy, (int)json_integer_value(v));
    json_t *shape = json_object_get(r, "logits_shape");
    g->T = (size_t)json_integer_value(json_array_get(shape, 0));
    g->V = (size_t)json_integer_value(json_array_get(shape, 1));
    g->scaling = json_number_value(json_array_get(json_object_get(r, "lora_scaling"), 0));
    json_decref(r);
    snprintf(path, sizeof path, "%s/ref/peft/%s/logits.f32", getenv("TEST_DATA_DIR"), name);
    char *data;
    size_t len;
    LabErr e = {0};
    assert_int_equal(file_read_all(path, 0, &data, &len, &e), 0);
    assert_int_equal(len, g->T * g->V * 4);
    g->logits = (float *)data;
}

static void ref_free(Ref *g) {
    ivec_free(&g->prompt);
    ivec_free(&g->greedy);
    free(g->logits);
}

static const char *adapter_dir(const char *name) {
    static char p[4][4200];
    static int k;
    char *r = p[k++ % 4];
    snprintf(r, 4200, "%s/ref/peft/%s", getenv("TEST_DATA_DIR"), name);
    return r;
}

static EngModel *load(const char *base, const char *quant, const char *lora, LabErr *e) {
    EngModel *m = NULL;
    const char *l[1] = {lora};
    EngLoadOpts o = {.n_threads = 2, .quant = quant, .lora = l, .n_lora = lora ? 1 : 0};
    if (eng_load(&m, base, &o, e)) return NULL;
    return m;
}

static EngModel *load_ok(const char *base, const char *quant, const char *lora) {
    LabErr e = {0};
    EngModel *m = load(base, quant, lora, &e);
    if (!m) fail_msg("%s", e.msg);
    return m;
}

static float *logits_of(EngModel *m, const Ref *g) {
    float *out = malloc(g->T * g->V * sizeof *out);
    assert_non_null(out);
    LabErr e = {0};
    if (eng_logits(m, g->prompt.v, (int)g->T, out, &e)) fail_msg("%s", e.msg);
    return out;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* Greedy ids decoded one token at a time (mm_vec), n of them. */
static void greedy(EngModel *m, const IntVec *prompt, int n, IntVec *out) {
    EngSampling s = eng_sampling_default();
    s.temp = 0;
    s.max_tokens = n;
    EngGen *gen = NULL;
    LabErr e = {0};
    if (eng_gen_start(&gen, m, prompt->v, (int)prompt->n, &s, &e)) fail_msg("%s", e.msg);
    EngPiece p;
    int rc;
    while ((rc = eng_gen_step(gen, &p, &e)) == 1) {}
    assert_int_equal(rc, 0);
    const IntVec *ids = eng_gen_ids(gen);
    for (size_t i = 0; i < ids->n; i++) ivec_push(out, ids->v[i]);
    eng_gen_free(gen);
}

/* The same by full recomputation of the batch each step (mm_batch), as the reference is made. */
static void greedy_batch(EngModel *m, const IntVec *prompt, int n, int V, IntVec *out) {
    IntVec seq = {0};
    for (size_t i = 0; i < prompt->n; i++) ivec_push(&seq, prompt->v[i]);
    for (int k = 0; k < n; k++) {
        float *lg = malloc(seq.n * (size_t)V * sizeof *lg);
        LabErr e = {0};
        if (eng_logits(m, seq.v, (int)seq.n, lg, &e)) fail_msg("%s", e.msg);
        const float *last = lg + (seq.n - 1) * (size_t)V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (last[j] > last[best]) best = j;
        free(lg);
        ivec_push(&seq, best);
        ivec_push(out, best);
    }
    ivec_free(&seq);
}

/* Merged into the F32 base: transformers' logits within 1e-3, its greedy ids, the record of it. */
static void check_merged(const char *base, const char *name, int n_pairs) {
    Ref g;
    ref_read(name, &g);
    EngModel *m = load_ok(base, NULL, adapter_dir(name));
    const EngInfo *in = eng_info(m);
    assert_int_equal(in->n_adapters, 1);
    const EngAdapterInfo *a = &in->adapters[0];
    assert_string_equal(a->name, name);
    assert_string_equal(a->format, "peft");
    assert_int_equal(a->n_merged, n_pairs);
    assert_int_equal(a->n_unmerged, 0);
    assert_true(fabs(a->eff_scale - g.scaling) < 1e-6);
    assert_true(a->scale == 1.0f);
    char sha[65], st[4300];
    LabErr e = {0};
    snprintf(st, sizeof st, "%s/adapter_model.safetensors", adapter_dir(name));
    assert_int_equal(file_sha256(st, sha, &e), 0);
    assert_string_equal(a->sha256, sha);
    float *out = logits_of(m, &g);
    double d = max_diff(out, g.logits, g.T * g.V);
    printf("# %s merged (f32): max |logit diff| = %.3g\n", name, d);
    if (!(d <= 1e-3)) fail_msg("%s: adapted logits differ from transformers by %g (tolerance 1e-3)", name, d);
    IntVec ids = {0};
    greedy(m, &g.prompt, (int)g.greedy.n, &ids);
    assert_int_equal(ids.n, g.greedy.n);
    for (size_t i = 0; i < ids.n; i++)
        if (ids.v[i] != g.greedy.v[i]) fail_msg("%s: greedy token %zu is %d, reference %d", name, i, ids.v[i], g.greedy.v[i]);
    ivec_free(&ids);
    /* merged into the weights, the adapter is shared with them (eng_share) */
    assert_true(eng_can_share(m));
    EngModel *sh;
    if (eng_share(&sh, m, NULL, &e)) fail_msg("%s: %s", name, e.msg);
    assert_int_equal(eng_info(sh)->n_adapters, 1);
    float *out2 = logits_of(sh, &g);
    assert_memory_equal(out, out2, (size_t)g.T * g.V * sizeof *out);
    free(out2);
    eng_free(sh);
    free(out);
    eng_free(m);
    ref_free(&g);
}

/* Unmerged beside Q8_0 (and F16) weights: close to the merged result at the quantization's error,
 * much closer than the quantized base without the adapter; decode and batch paths agree. */
static void check_unmerged(const char *base, const char *name, int n_pairs, const char *quant, double tol) {
    Ref g;
    ref_read(name, &g);
    EngModel *m = load_ok(base, quant, adapter_dir(name));
    const EngAdapterInfo *a = &eng_info(m)->adapters[0];
    assert_int_equal(a->n_merged, 0);
    assert_int_equal(a->n_unmerged, n_pairs);
    /* an unmerged adapter's products write a scratch of their own: such a model is not shared */
    EngModel *sh = NULL;
    LabErr se = {0};
    assert_false(eng_can_share(m));
    assert_int_equal(eng_share(&sh, m, NULL, &se), -1);
    assert_null(sh);
    assert_non_null(strstr(se.msg, "unmerged"));
    EngModel *plain = load_ok(base, quant, NULL);
    EngModel *merged = load_ok(base, NULL, adapter_dir(name));
    float *q = logits_of(m, &g), *p = logits_of(plain, &g), *f = logits_of(merged, &g);
    double d = max_diff(q, f, g.T * g.V), base_err = max_diff(p, f, g.T * g.V);
    printf("# %s unmerged beside %s: max |diff| vs merged f32 = %.3g (the %s base without it: %.3g)\n", name, quant, d,
           quant, base_err);
    if (!(d <= tol)) fail_msg("%s + %s: %g from the merged result (tolerance %g)", name, quant, d, tol);
    if (!(d < base_err / 10)) fail_msg("%s + %s: the adapter does not show (%g vs %g without it)", name, quant, d, base_err);
    IntVec a1 = {0}, a2 = {0};
    greedy(m, &g.prompt, 8, &a1);
    greedy_batch(m, &g.prompt, 8, (int)g.V, &a2);
    assert_int_equal(a1.n, 8);
    for (size_t i = 0; i < 8; i++) assert_int_equal(a1.v[i], a2.v[i]);
    ivec_free(&a1);
    ivec_free(&a2);
    free(q);
    free(p);
    free(f);
    eng_free(m);
    eng_free(plain);
    eng_free(merged);
    ref_free(&g);
}

static void test_llama(void **st) {
    (void)st;
    char base[4096];
    if (!shared_path(base, sizeof base, "golden/llama-tiny-gqa")) return;
    check_merged(base, "llama-lora", 8);
    check_merged(base, "llama-rslora", 8);
    check_unmerged(base, "llama-lora", 8, "q8_0", 0.08);
    check_unmerged(base, "llama-rslora", 8, "q8_0", 0.08);
    check_unmerged(base, "llama-lora", 8, "f16", 5e-3);
}

static void test_gpt2(void **st) {
    (void)st;
    char base[4096];
    if (!shared_path(base, sizeof base, "golden/gpt2-tiny-random")) return;
    check_merged(base, "gpt2-lora", 6);
    check_unmerged(base, "gpt2-lora", 6, "q8_0", 0.08);
}

/* A SCALE after the path multiplies alpha/r; 0 gives the base back; a path with ':' in it stays a path. */
static void test_scale(void **st) {
    (void)st;
    char base[4096];
    if (!shared_path(base, sizeof base, "golden/llama-tiny-gqa")) return;
    Ref g;
    ref_read("llama-lora", &g);
    char spec[4300];
    snprintf(spec, sizeof spec, "%s:0", adapter_dir("llama-lora"));
    EngModel *z = load_ok(base, NULL, spec), *b = load_ok(base, NULL, NULL);
    assert_true(eng_info(z)->adapters[0].scale == 0.0f);
    float *lz = logits_of(z, &g), *lb = logits_of(b, &g);
    assert_true(max_diff(lz, lb, g.T * g.V) == 0.0);
    snprintf(spec, sizeof spec, "%s:0.5", adapter_dir("llama-lora"));
    EngModel *h = load_ok(base, "q8_0", spec);
    assert_true(fabs(eng_info(h)->adapters[0].eff_scale - 1.0) < 1e-6);
    char *path;
    float sc;
    LabErr e = {0};
    assert_int_equal(eng_lora_spec("dir:with:colon", &path, &sc, &e), 0);
    assert_string_equal(path, "dir:with:colon");
    assert_true(sc == 1.0f);
    free(path);
    assert_int_equal(eng_lora_spec("a.gguf:-2", &path, &sc, &e), 0);
    assert_string_equal(path, "a.gguf");
    assert_true(sc == -2.0f);
    free(path);
    assert_int_equal(eng_lora_spec("a.gguf:inf", &path, &sc, &e), -1);
    assert_non_null(strstr(e.msg, "finite"));
    free(lz);
    free(lb);
    eng_free(z);
    eng_free(b);
    eng_free(h);
    ref_free(&g);
}

/* ---------- the same adapter as a llama.cpp GGUF adapter ----------------------------------------- */
/* Writes the PEFT tensors as llama.cpp's convert_lora_to_gguf lays them out: blk.N.<name>.weight.lora_a
 * [ne0 = in, ne1 = r], .lora_b [ne0 = r, ne1 = out], llama's q/k B rows permuted for interleaved RoPE. */
static void write_gguf_adapter(const char *peft, const char *out, const char *arch, int head_dim, float alpha) {
    LabErr e = {0};
    EngModel *holder = NULL; /* st_read_file maps through a model */
    char base[4096];
    if (!shared_path(base, sizeof base, "golden/llama-tiny-gqa")) return;
    EngLoadOpts o = {.n_threads = 1, .ctx = 8};
    if (eng_load(&holder, base, &o, &e)) fail_msg("%s", e.msg);
    char st[4300];
    snprintf(st, sizeof st, "%s/adapter_model.safetensors", peft);
    StSet set = {0};
    if (st_read_file(holder, st, &set, &e) || st_finish(&set, &e)) fail_msg("%s", e.msg);
    GgufWriter *w = gguf_writer_new(0);
    assert_int_equal(gguf_w_str(w, "general.type", "adapter", 7, &e), 0);
    assert_int_equal(gguf_w_str(w, "adapter.type", "lora", 4, &e), 0);
    assert_int_equal(gguf_w_str(w, "general.architecture", arch, strlen(arch), &e), 0);
    assert_int_equal(gguf_w_f32(w, "adapter.lora.alpha", alpha, &e), 0);
    float **keep = calloc(set.n, sizeof *keep);
    static const struct { const char *hf, *gg; } MAP[] = {
        {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"}, {"self_attn.v_proj", "attn_v"},
        {"self_attn.o_proj", "attn_output"}, {"mlp.down_proj", "ffn_down"}};
    for (size_t i = 0; i < set.n; i++) {
        const StTensor *t = &set.t[i];
        int l;
        char mod[64], ab;
        int at = 0;
        const char *lo = strstr(t->name, ".lora_");
        if (!lo || sscanf(t->name, "base_model.model.model.layers.%d.%n", &l, &at) != 1 || !at ||
            lo - (t->name + at) >= (int)sizeof mod)
            fail_msg("unexpected %s", t->name);
        snprintf(mod, sizeof mod, "%.*s", (int)(lo - (t->name + at)), t->name + at);
        ab = lo[6];
        const char *gg = NULL;
        for (size_t k = 0; k < sizeof MAP / sizeof *MAP; k++)
            if (!strcmp(MAP[k].hf, mod)) gg = MAP[k].gg;
        assert_non_null(gg);
        int64_t rows = t->shape[0], cols = t->shape[1];
        float *d = malloc((size_t)(rows * cols) * sizeof *d);
        memcpy(d, t->data, (size_t)(rows * cols) * sizeof *d);
        bool qk = !strcmp(gg, "attn_q") || !strcmp(gg, "attn_k");
        if (ab == 'B' && qk && !strcmp(arch, "llama")) { /* rotate-half -> interleaved pairs, per head */
            float *tmp = malloc((size_t)(rows * cols) * sizeof *tmp);
            memcpy(tmp, d, (size_t)(rows * cols) * sizeof *tmp);
            int half = head_dim / 2;
            for (int64_t h0 = 0; h0 < rows; h0 += head_dim)
                for (int j = 0; j < half; j++) {
                    memcpy(d + (h0 + 2 * j) * cols, tmp + (h0 + j) * cols, (size_t)cols * 4);
                    memcpy(d + (h0 + 2 * j + 1) * cols, tmp + (h0 + half + j) * cols, (size_t)cols * 4);
                }
            free(tmp);
        }
        keep[i] = d;
        char nm[128];
        snprintf(nm, sizeof nm, "blk.%d.%s.weight.lora_%c", l, gg, ab == 'A' ? 'a' : 'b');
        uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
        assert_int_equal(gguf_w_tensor(w, nm, GGML_TYPE_F32, 2, ne, d, &e), 0);
    }
    if (gguf_w_write(w, out, &e)) fail_msg("%s", e.msg);
    gguf_writer_free(w);
    for (size_t i = 0; i < set.n; i++) free(keep[i]);
    free(keep);
    st_free(&set);
    eng_free(holder);
}

static void test_gguf_adapter(void **st) {
    (void)st;
    char base[4096], gbase[4096];
    if (!shared_path(base, sizeof base, "golden/llama-tiny-gqa")) return;
    Ref g;
    ref_read("llama-lora", &g);
    EngModel *probe = load_ok(base, NULL, NULL);
    int hd = eng_info(probe)->head_dim;
    eng_free(probe);
    const char *ad = tpath("llama-lora.gguf");
    write_gguf_adapter(adapter_dir("llama-lora"), ad, "llama", hd, 8.0f);
    /* on the Hugging Face base (rotate-half q/k rows): B's q/k rows are moved back */
    EngModel *m = load_ok(base, NULL, ad);
    const EngAdapterInfo *a = &eng_info(m)->adapters[0];
    assert_string_equal(a->format, "gguf");
    assert_int_equal(a->n_merged, 8);
    assert_true(fabs(a->eff_scale - 2.0) < 1e-6);
    float *out = logits_of(m, &g);
    double d = max_diff(out, g.logits, g.T * g.V);
    printf("# llama-lora as a GGUF adapter on the HF base: max |logit diff| = %.3g\n", d);
    assert_true(d <= 1e-3);
    free(out);
    eng_free(m);
    /* llama.cpp's GGUF of the same base keeps q/k in the interleaved layout: the PEFT adapter's rows
     * are moved to it, and the GGUF adapter's fit as they are; the Q8_0 file keeps them unmerged */
    if (fixture_want(gbase, sizeof gbase, "golden/gguf/llama-tiny-gqa-f32.gguf")) {
        const char *ads[2] = {adapter_dir("llama-lora"), ad};
        for (int k = 0; k < 2; k++) {
            m = load_ok(gbase, NULL, ads[k]);
            out = logits_of(m, &g);
            d = max_diff(out, g.logits, g.T * g.V);
            printf("# llama-lora (%s) on llama.cpp's f32 GGUF base: max |logit diff| = %.3g\n", k ? "gguf" : "peft", d);
            assert_true(d <= 1e-3);
            free(out);
            eng_free(m);
        }
    }
    if (fixture_want(gbase, sizeof gbase, "golden/gguf/llama-tiny-gqa-q8_0.gguf")) {
        m = load_ok(gbase, NULL, ad);
        assert_int_equal(eng_info(m)->adapters[0].n_unmerged, 8);
        out = logits_of(m, &g);
        d = max_diff(out, g.logits, g.T * g.V);
        printf("# llama-lora (gguf) on llama.cpp's q8_0 GGUF base, unmerged: max |logit diff| = %.3g\n", d);
        assert_true(d <= 0.08);
        free(out);
        eng_free(m);
    }
    /* an adapter for another architecture */
    const char *ad2 = tpath("gpt2-named.gguf");
    write_gguf_adapter(adapter_dir("llama-lora"), ad2, "gpt2", hd, 8.0f);
    LabErr e = {0};
    assert_null(load(base, NULL, ad2, &e));
    assert_non_null(strstr(e.msg, "gpt2-named.gguf: general.architecture is \"gpt2\" but the model is llama"));
    ref_free(&g);
}

/* ---------- refusals ------------------------------------------------------------------------------ */
/* A copy of llama-lora's folder with the config's key set to the JSON value. */
static const char *variant(const char *name, const char *key, const char *value) {
    const char *dir = tpath(name);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s/adapter_model.safetensors' '%s/'", dir,
             adapter_dir("llama-lora"), dir);
    assert_int_equal(system(cmd), 0);
    char src[4300];
    snprintf(src, sizeof src, "%s/adapter_config.json", adapter_dir("llama-lora"));
    json_error_t je;
    json_t *r = json_load_file(src, 0, &je);
    assert_non_null(r);
    json_object_set_new(r, key, json_loads(value, JSON_DECODE_ANY, &je));
    char dst[600];
    snprintf(dst, sizeof dst, "%s/adapter_config.json", dir);
    assert_int_equal(json_dump_file(r, dst, 0), 0);
    json_decref(r);
    return dir;
}

static void refused(const char *base, const char *lora, const char *quant, const char *want) {
    LabErr e = {0};
    EngModel *m = load(base, quant, lora, &e);
    if (m) fail_msg("%s loaded; expected a refusal with '%s'", lora, want);
    if (!strstr(e.msg, want)) fail_msg("message '%s' lacks '%s'", e.msg, want);
}

static void test_refusals(void **st) {
    (void)st;
    char base[4096], g2[4096];
    if (!shared_path(base, sizeof base, "golden/llama-tiny-gqa")) return;
    refused(base, variant("dora", "use_dora", "true"), NULL, "adapter_config.json: \"use_dora\" is set");
    refused(base, variant("save", "modules_to_save", "[\"lm_head\"]"), NULL,
            "adapter_config.json: \"modules_to_save\" is set");
    refused(base, variant("bias", "bias", "\"all\""), NULL, "\"bias\" is all");
    refused(base, variant("rank", "r", "8"), NULL, "has rank 4 but adapter_config.json says r = 8");
    refused(base, variant("ia3", "peft_type", "\"IA3\""), "q8_0", "peft_type is IA3");
    refused(base, variant("pattern", "rank_pattern", "{\"q_proj\": 8}"), NULL, "\"rank_pattern\" is set");
    refused(base, tpath("nothing-here"), NULL, "no such adapter file or folder");
    /* an unmapped module and an embedding adapter, named with their tensor */
    const char *dir = tpath("embed");
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s/adapter_config.json' '%s/'", dir, adapter_dir("llama-lora"), dir);
    assert_int_equal(system(cmd), 0);
    float a[4 * 64] = {0}, b[600 * 4] = {0};
    const char *hdr = "{\"base_model.model.lm_head.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[4,64],"
                      "\"data_offsets\":[0,1024]},\"base_model.model.lm_head.lora_B.weight\":{\"dtype\":\"F32\","
                      "\"shape\":[600,4],\"data_offsets\":[1024,10624]}}";
    char p[700];
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", dir);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    uint64_t hl = strlen(hdr);
    fwrite(&hl, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    fwrite(a, 1, sizeof a, f);
    fwrite(b, 1, sizeof b, f);
    fclose(f);
    refused(base, dir, NULL, "adapter_model.safetensors: tensor 'base_model.model.lm_head.lora_A.weight' is no lora_A/lora_B");
    /* another model's adapter: GPT-2's modules on a llama */
    if (fixture_want(g2, sizeof g2, "golden/gpt2-tiny-random")) {
        refused(base, adapter_dir("gpt2-lora"), NULL, "targets module 'attn.c_attn', which ablab does not map for llama");
        refused(g2, adapter_dir("llama-lora"), NULL, "targets module 'mlp.down_proj', which ablab does not map for gpt2");
    }
    /* a model file given as the adapter */
    char gg[4096];
    if (fixture_want(gg, sizeof gg, "golden/gguf/llama-tiny-gqa-f32.gguf"))
        refused(base, gg, NULL, "not \"adapter\" (a model, not a LoRA adapter?)");
}

/* A Q4_K base (the shipped scratch-shakespeare, widths multiples of 256, --quant q4_k_m) with a
 * random rank-8 adapter on q/v/down in every layer: kept beside the k-quant weights, and its effect
 * there matches the merged F32 model's at the quantization's error. */
static void test_q4k(void **st) {
    (void)st;
    char base[4096];
    snprintf(base, sizeof base, "%s/models/scratch-shakespeare", getenv("ABLAB_ASSETS"));
    const char *dir = tpath("shakespeare-lora");
    LabErr e = {0};
    assert_int_equal(mkdir_p(dir, &e), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/adapter_config.json", dir);
    assert_int_equal(stw_text(p, "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 512, \"use_rslora\": false, "
                                 "\"target_modules\": [\"q_proj\", \"v_proj\", \"down_proj\"], \"bias\": \"none\"}"), 0);
    StwTensor t[6 * 6];
    size_t n = 0;
    for (int l = 0; l < 6; l++) {
        static const struct { const char *m; int out, in; } M[] = {
            {"self_attn.q_proj", 256, 256}, {"self_attn.v_proj", 64, 256}, {"mlp.down_proj", 256, 768}};
        for (int k = 0; k < 3; k++) {
            StwTensor a = {.dtype = "F32", .n_dims = 2, .shape = {8, M[k].in}, .nbytes = (size_t)8 * M[k].in * 4};
            StwTensor b = {.dtype = "F32", .n_dims = 2, .shape = {M[k].out, 8}, .nbytes = (size_t)8 * M[k].out * 4};
            snprintf(a.name, sizeof a.name, "base_model.model.model.layers.%d.%s.lora_A.weight", l, M[k].m);
            snprintf(b.name, sizeof b.name, "base_model.model.model.layers.%d.%s.lora_B.weight", l, M[k].m);
            t[n++] = a;
            t[n++] = b;
        }
    }
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", dir);
    assert_int_equal(stw_write(p, t, n, 42), 0);
    Ref g = {.T = 16};
    for (int i = 0; i < 16; i++) ivec_push(&g.prompt, 5 + 7 * i);
    EngModel *f = load_ok(base, NULL, dir), *q = load_ok(base, "q4_k_m", dir), *qb = load_ok(base, "q4_k_m", NULL);
    g.V = (size_t)eng_info(f)->vocab;
    const EngAdapterInfo *a = &eng_info(q)->adapters[0];
    assert_int_equal(a->n_unmerged, 18);
    assert_int_equal(eng_info(f)->adapters[0].n_merged, 18);
    float *lf = logits_of(f, &g), *lq = logits_of(q, &g), *lqb = logits_of(qb, &g);
    double d = max_diff(lq, lf, g.T * g.V), without = max_diff(lqb, lf, g.T * g.V);
    printf("# random adapter beside q4_k_m weights: max |diff| vs merged f32 = %.3g (the q4_k_m base without it: %.3g)\n",
           d, without);
    if (!(d < without / 3)) fail_msg("the adapter beside Q4_K weights: %g from the merged model, %g without it", d, without);
    IntVec a1 = {0}, a2 = {0};
    greedy(q, &g.prompt, 6, &a1);
    greedy_batch(q, &g.prompt, 6, (int)g.V, &a2);
    for (size_t i = 0; i < 6; i++) assert_int_equal(a1.v[i], a2.v[i]);
    ivec_free(&a1);
    ivec_free(&a2);
    free(lf);
    free(lq);
    free(lqb);
    eng_free(f);
    eng_free(q);
    eng_free(qb);
    ivec_free(&g.prompt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama),        cmocka_unit_test(test_gpt2),     cmocka_unit_test(test_scale),
        cmocka_unit_test(test_gguf_adapter), cmocka_unit_test(test_refusals), cmocka_unit_test(test_q4k),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
