/* ablab convert: a model (Hugging Face folder, llama2.c .bin or GGUF) written as a GGUF v3 file. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cmd_engine.h"
#include "engine.h"

static int run_convert(App *app, int argc, char **argv);

const Command cmd_convert = {
    "convert", "write a model as a GGUF file (f32, f16, bf16, q8_0, 4/5-bit or k-quants) that llama.cpp and ablab load",
    "usage: ablab convert --model PATH --out FILE.gguf [--quant TYPE] [--tokenizer FILE]\n"
    "\n"
    "Loads PATH (a Hugging Face folder, a llama2.c .bin or a .gguf file) and writes FILE.gguf with the\n"
    "metadata llama.cpp reads: general.architecture (llama, gpt2, qwen2, qwen3, gptneox, phi2 or gemma3),\n"
    "ARCH.context_length, embedding_length, block_count, feed_forward_length, head counts, norm\n"
    "epsilon, RoPE base, dimensions and scaling (rope_freqs.weight for Llama 3's), the sliding window\n"
    "and soft-cap of gemma3, tokenizer.ggml.* and general.alignment. Tensors are laid out as\n"
    "llama.cpp's converter does: llama q/k permuted for interleaved RoPE, GPT-2's attention as one\n"
    "fused attn_qkv, gptneox's fused rows as [q | k | v], Gemma's norms as 1 + w.\n"
    "  --quant Q   weight matrices as f32 (default), f16, bf16, q8_0, or one of llama-quantize's presets\n"
    "              q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m,\n"
    "              q6_k, with llama-quantize's type for each matrix (the output matrix q6_k, some value\n"
    "              and FFN-down matrices more bits; no importance matrix), the same bytes it writes from\n"
    "              the f32 file. Rows that are no whole number of blocks fall back as llama.cpp does\n"
    "              (q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0, else f16). Norms and biases stay f32.\n"
    "Example: ablab convert --model ../shared/golden/llama-tiny-gqa --out /tmp/tiny-q8_0.gguf --quant q8_0\n",
    run_convert,
    0, /* its own --quant names the output type, and --tokenizer the file to embed */
};

typedef struct {
    const char *model, *out, *quant, *tokenizer;
} ConvOpts;

enum { OPT_MODEL = 0x1000, OPT_OUT, OPT_QUANT, OPT_TOKENIZER };

static const struct option conv_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"out", required_argument, NULL, OPT_OUT},
    {"quant", required_argument, NULL, OPT_QUANT},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {NULL, 0, NULL, 0},
};

static int conv_opt(App *app, int opt, const char *arg, void *ud) {
    ConvOpts *o = ud;
    switch (opt) {
    case OPT_MODEL: o->model = arg; return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_QUANT: o->quant = arg; return 0;
    case OPT_TOKENIZER: o->tokenizer = arg; return 0;
    }
    return 1;
}

static int run_convert(App *app, int argc, char **argv) {
    ConvOpts o = {.quant = "f32"};
    int first = cli_parse(app, &cmd_convert, argc, argv, conv_options, NULL, conv_opt, &o);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_convert, "unexpected argument '%s'", argv[first]);
    if (!o.model || !o.out) return cli_usage_error(&cmd_convert, "--model PATH and --out FILE.gguf are required");
    if (!eng_quant_known(o.quant)) return cli_usage_error(&cmd_convert, "--quant %s: expected %s", o.quant, eng_quant_names());
    /* a short context: converting needs no KV cache */
    EngLoadOpts lo = {.n_threads = 1, .ctx = 16, .tokenizer_path = o.tokenizer, .mmap = true}; /* read once */
    EngModel *m = NULL;
    if (cmd_refuse_remote(app, o.model) || eng_load(&m, o.model, &lo, &app->err)) return EXIT_FAIL;
    double t0 = now_ms();
    int rc = eng_save_gguf(m, o.out, o.quant, &app->err);
    if (rc == 0) {
        const EngInfo *in = eng_info(m);
        struct stat st;
        double size = stat(o.out, &st) == 0 ? (double)st.st_size : 0;
        printf("wrote %s: %s, %lld parameters, weights %s, %.1f MB, tokenizer %s (%.0f ms)\n", o.out, in->arch,
               (long long)in->n_params, o.quant, size / 1e6, in->tokenizer_kind ? in->tokenizer_kind : "none",
               now_ms() - t0);
    }
    eng_free(m);
    return rc ? EXIT_FAIL : EXIT_OK;
}
