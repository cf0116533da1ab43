/* Suite 'slow': random-weight models of the real shapes load and generate — GPT-2 124M (the hub's
 * names, no `transformer.` prefix, its attn.bias mask buffers, F32 mapped; `ablab inspect` must report 124,439,808 parameters)
 * and the coursework's from-scratch Llama (12 x 1024, 16 heads, 4 key/value heads, ff 2816, vocab
 * 32000; BF16, converted at load). The files are written into a temporary folder and removed. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "../tmpdir.h"

#define ST_WRITE_IMPL
#include "engine.h"
#include "st_write.h"


static StwTensor T(const char *dtype, const char *name, int64_t a, int64_t b) {
    StwTensor t = {.dtype = dtype, .n_dims = b ? 2 : 1, .shape = {a, b}};
    snprintf(t.name, sizeof t.name, "%s", name);
    t.nbytes = (size_t)a * (size_t)(b ? b : 1) * stw_elem_size(dtype);
    return t;
}

static void generate_some(const char *dir, int vocab) {
    EngModel *m = NULL;
    LabErr e = {0};
    if (eng_load(&m, dir, &(EngLoadOpts){.n_threads = 2, .ctx = 64}, &e)) fail_msg("%s", e.msg);
    EngSampling s = eng_sampling_default();
    s.max_tokens = 8;
    s.seed = 1;
    int prompt[5] = {1, 2, 3, 4, 5};
    EngGen *g = NULL;
    assert_int_equal(eng_gen_start(&g, m, prompt, 5, &s, &e), 0);
    EngPiece p;
    while (eng_gen_step(g, &p, &e) == 1) {}
    assert_int_equal(p.stop, ENG_STOP_LENGTH);
    const IntVec *ids = eng_gen_ids(g);
    assert_int_equal(ids->n, 8);
    for (size_t i = 0; i < ids->n; i++) assert_true(ids->v[i] >= 0 && ids->v[i] < vocab);
    const EngMetrics *mt = eng_gen_metrics(g);
    printf("# %s: load %.0f ms, prefill %.1f ms, %.1f tok/s, weights %zu mapped + %zu owned, KV %zu\n", dir,
           mt->load_ms, mt->prefill_ms, mt->decode_tok_s, mt->bytes_weights_mapped, mt->bytes_weights_owned, mt->bytes_kv);
    eng_gen_free(g);
    eng_free(m);
}

static void test_gpt2_124m(void **st) {
    (void)st;
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/gpt2-124m", tmpdir);
    mkdir(dir, 0700);
    const int V = 50257, D = 768, L = 12, P = 1024, H = 4 * 768;
    StwTensor *t = calloc(4 + 13 * L, sizeof *t);
    size_t n = 0;
    t[n++] = T("F32", "wte.weight", V, D);
    t[n++] = T("F32", "wpe.weight", P, D);
    char nm[128];
#define ADD(suffix, a, b) (snprintf(nm, sizeof nm, "h.%d.%s", l, suffix), t[n++] = T("F32", nm, a, b))
    for (int l = 0; l < L; l++) {
        ADD("ln_1.weight", D, 0); ADD("ln_1.bias", D, 0);
        ADD("attn.c_attn.weight", D, 3 * D); ADD("attn.c_attn.bias", 3 * D, 0);
        ADD("attn.c_proj.weight", D, D); ADD("attn.c_proj.bias", D, 0);
        ADD("ln_2.weight", D, 0); ADD("ln_2.bias", D, 0);
        ADD("mlp.c_fc.weight", D, H); ADD("mlp.c_fc.bias", H, 0);
        ADD("mlp.c_proj.weight", H, D); ADD("mlp.c_proj.bias", D, 0);
        /* the hub's file also carries each layer's causal-mask buffer: not a parameter, ignored */
        ADD("attn.bias", 1, 1);
        t[n - 1].n_dims = 4;
        t[n - 1].shape[2] = t[n - 1].shape[3] = P;
        t[n - 1].nbytes = (size_t)P * P * 4;
    }
#undef ADD
    t[n++] = T("F32", "ln_f.weight", D, 0);
    t[n++] = T("F32", "ln_f.bias", D, 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(stw_write(path, t, n, 124), 0);
    free(t);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    printf("# %s: %lld bytes (the hub's openai-community/gpt2 file: 548105171)\n", path, (long long)sb.st_size);
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(stw_text(path, "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_embd\": 768,"
                                    " \"n_layer\": 12, \"n_head\": 12, \"n_positions\": 1024, \"vocab_size\": 50257,"
                                    " \"activation_function\": \"gelu_new\", \"layer_norm_epsilon\": 1e-05}"), 0);
    char cmd[1400];
    /* every weight is copied into the engine's memory, or with --mmap read in place from the file */
    for (int mm = 0; mm < 2; mm++) {
        snprintf(cmd, sizeof cmd, "'%s' inspect '%s' --json%s", getenv("ABLAB_BIN"), dir, mm ? " --mmap" : "");
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        json_t *o = json_loadf(f, 0, NULL);
        assert_int_equal(pclose(f), 0);
        assert_non_null(o);
        assert_int_equal(json_integer_value(json_object_get(o, "n_params")), 124439808);
        assert_int_equal(json_integer_value(json_object_get(o, mm ? "bytes_mapped" : "bytes_owned")), 124439808 * 4);
        assert_int_equal(json_integer_value(json_object_get(o, mm ? "bytes_owned" : "bytes_mapped")), 0);
        json_decref(o);
    }
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s' | grep -q '^params     124,439,808$'", getenv("ABLAB_BIN"), dir);
    assert_int_equal(system(cmd), 0);
    generate_some(dir, V);
}

static void test_llama_scratch_shape(void **st) {
    (void)st;
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/llama-scratch", tmpdir);
    mkdir(dir, 0700);
    const int V = 32000, D = 1024, L = 12, KV = 256, F = 2816;
    StwTensor *t = calloc(3 + 9 * L, sizeof *t);
    size_t n = 0;
    t[n++] = T("BF16", "model.embed_tokens.weight", V, D);
    char nm[128];
#define ADD(suffix, a, b) (snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix), t[n++] = T("BF16", nm, a, b))
    for (int l = 0; l < L; l++) {
        ADD("input_layernorm.weight", D, 0); ADD("post_attention_layernorm.weight", D, 0);
        ADD("self_attn.q_proj.weight", D, D); ADD("self_attn.k_proj.weight", KV, D);
        ADD("self_attn.v_proj.weight", KV, D); ADD("self_attn.o_proj.weight", D, D);
        ADD("mlp.gate_proj.weight", F, D); ADD("mlp.up_proj.weight", F, D); ADD("mlp.down_proj.weight", D, F);
    }
#undef ADD
    t[n++] = T("BF16", "model.norm.weight", D, 0);
    t[n++] = T("BF16", "lm_head.weight", V, D);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(stw_write(path, t, n, 285), 0);
    free(t);
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(stw_text(path, "{\"model_type\": \"llama\", \"hidden_size\": 1024, \"intermediate_size\": 2816,"
                                    " \"num_hidden_layers\": 12, \"num_attention_heads\": 16, \"num_key_value_heads\": 4,"
                                    " \"vocab_size\": 32000, \"max_position_embeddings\": 2048, \"rms_norm_eps\": 1e-5,"
                                    " \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"hidden_act\": \"silu\"}"), 0);
    EngModel *m = NULL;
    LabErr e = {0};
    if (eng_load(&m, dir, &(EngLoadOpts){.ctx = 64}, &e)) fail_msg("%s", e.msg);
    const EngInfo *in = eng_info(m);
    int64_t want = 2LL * V * D + L * (2LL * D + 2LL * D * D + 2LL * KV * D + 3LL * F * D) + D;
    assert_int_equal(in->n_params, want);
    assert_string_equal(in->file_dtype, "bf16");
    assert_int_equal(in->bytes_owned, (size_t)want * 4); /* BF16 converted to F32, counted */
    assert_int_equal(in->n_kv_head, 4);
    eng_free(m);
    generate_some(dir, V);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_124m),
        cmocka_unit_test(test_llama_scratch_shape),
    };
    return cmocka_run_group_tests_name("shapes", tests, setup_dir, teardown_dir);
}
