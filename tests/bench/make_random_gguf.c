/* Writes a random-weight GGUF model of a real shape for `ablab bench` (no tokenizer: benchmarks
 * feed token ids). Weights are uniform in [-0.05, 0.05) from a fixed seed, norms 1, biases 0.
 *
 *   make_random_gguf gpt2-124m OUT.gguf      GPT-2 small: 12 x 768, 12 heads, ff 3072, vocab 50257, ctx 1024
 *   make_random_gguf scratch OUT.gguf        the coursework's Llama: 12 x 1024, 16 heads, 4 kv heads,
 *                                            SwiGLU 2816, vocab 32000, ctx 2048, untied head
 *   make_random_gguf stories110m OUT.gguf    llama2.c stories110M: 12 x 768, 12 heads, ff 2048, vocab 32000, tied
 *   make_random_gguf gpt2-xl OUT.gguf        GPT-2 XL: 48 x 1600, 25 heads, ff 6400, vocab 50257, ctx 1024 (1.56B,
 *                                            a 6.2 GB file)
 * Weights are f32: `ablab bench --quant f16|q8_0` converts at load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

typedef struct {
    const char *name, *arch;
    int dim, n_layer, n_head, n_kv, ff, vocab, ctx;
    bool tied;
} Shape;

static const Shape k_shapes[] = {
    {"gpt2-124m", "gpt2", 768, 12, 12, 12, 3072, 50257, 1024, false},
    {"scratch", "llama", 1024, 12, 16, 4, 2816, 32000, 2048, false},
    {"stories110m", "llama", 768, 12, 12, 12, 2048, 32000, 1024, true},
    {"gpt2-xl", "gpt2", 1600, 48, 25, 25, 6400, 50257, 1024, false},
};

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static float rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) * 0x1p-24) * 0.1f - 0.05f;
}

static float *fill(size_t n, float v, bool random) {
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = random ? rnd() : v;
    return p;
}

static float *g_bufs[512];
static int g_n;
static void add(GgufWriter *w, const char *name, int rows, int cols, bool random, float v) {
    LabErr e = {0};
    float *p = fill((size_t)rows * (size_t)cols, v, random);
    g_bufs[g_n++] = p;
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    if (gguf_w_tensor(w, name, GGML_TYPE_F32, rows == 1 ? 1 : 2, ne, p, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
}

int main(int argc, char **argv) {
    const Shape *s = NULL;
    for (size_t i = 0; argc == 3 && i < sizeof k_shapes / sizeof *k_shapes; i++)
        if (!strcmp(argv[1], k_shapes[i].name)) s = &k_shapes[i];
    if (!s) {
        fprintf(stderr, "usage: make_random_gguf gpt2-124m|scratch|stories110m|gpt2-xl OUT.gguf\n");
        return 2;
    }
    LabErr e = {0};
    GgufWriter *w = gguf_writer_new(32);
    char k[128], n[96];
#define KEY(x) (snprintf(k, sizeof k, "%s.%s", s->arch, x), k)
    int hd = s->dim / s->n_head, kvd = s->n_kv * hd;
    int bad = gguf_w_str(w, "general.architecture", s->arch, strlen(s->arch), &e) ||
              gguf_w_str(w, "general.name", s->name, strlen(s->name), &e) ||
              gguf_w_u32(w, KEY("block_count"), (uint32_t)s->n_layer, &e) ||
              gguf_w_u32(w, KEY("context_length"), (uint32_t)s->ctx, &e) ||
              gguf_w_u32(w, KEY("embedding_length"), (uint32_t)s->dim, &e) ||
              gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)s->ff, &e) ||
              gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head, &e) ||
              (!strcmp(s->arch, "llama") && gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_kv, &e));
    if (bad) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    add(w, "token_embd.weight", s->vocab, s->dim, true, 0);
    if (!strcmp(s->arch, "gpt2")) add(w, "position_embd.weight", s->ctx, s->dim, true, 0);
    for (int i = 0; i < s->n_layer; i++) {
#define T(x) (snprintf(n, sizeof n, "blk.%d.%s", i, x), n)
        if (!strcmp(s->arch, "gpt2")) {
            add(w, T("attn_norm.weight"), 1, s->dim, false, 1);
            add(w, T("attn_norm.bias"), 1, s->dim, false, 0);
            add(w, T("attn_qkv.weight"), 3 * s->dim, s->dim, true, 0);
            add(w, T("attn_qkv.bias"), 1, 3 * s->dim, false, 0);
            add(w, T("attn_output.weight"), s->dim, s->dim, true, 0);
            add(w, T("attn_output.bias"), 1, s->dim, false, 0);
            add(w, T("ffn_norm.weight"), 1, s->dim, false, 1);
            add(w, T("ffn_norm.bias"), 1, s->dim, false, 0);
            add(w, T("ffn_up.weight"), s->ff, s->dim, true, 0);
            add(w, T("ffn_up.bias"), 1, s->ff, false, 0);
            add(w, T("ffn_down.weight"), s->dim, s->ff, true, 0);
            add(w, T("ffn_down.bias"), 1, s->dim, false, 0);
        } else {
            add(w, T("attn_norm.weight"), 1, s->dim, false, 1);
            add(w, T("attn_q.weight"), s->dim, s->dim, true, 0);
            add(w, T("attn_k.weight"), kvd, s->dim, true, 0);
            add(w, T("attn_v.weight"), kvd, s->dim, true, 0);
            add(w, T("attn_output.weight"), s->dim, s->dim, true, 0);
            add(w, T("ffn_norm.weight"), 1, s->dim, false, 1);
            add(w, T("ffn_gate.weight"), s->ff, s->dim, true, 0);
            add(w, T("ffn_up.weight"), s->ff, s->dim, true, 0);
            add(w, T("ffn_down.weight"), s->dim, s->ff, true, 0);
        }
#undef T
    }
    add(w, "output_norm.weight", 1, s->dim, false, 1);
    if (!strcmp(s->arch, "gpt2")) add(w, "output_norm.bias", 1, s->dim, false, 0);
    if (!s->tied) add(w, "output.weight", s->vocab, s->dim, true, 0);
    int rc = gguf_w_write(w, argv[2], &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    gguf_writer_free(w);
    for (int i = 0; i < g_n; i++) free(g_bufs[i]);
    return rc ? 1 : 0;
}
