/* ablab import: a checkpoint in a training script's layout (Meta, nanoGPT, or a map of rules)
 * written as a Hugging Face folder every command loads (engine/formats/import.c does the work). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engine.h"

static int run_import(App *app, int argc, char **argv);

const Command cmd_import = {
    "import", "write a checkpoint in Meta's, nanoGPT's or your own layout as a Hugging Face folder",
    "usage: ablab import (--meta DIR | --nanogpt DIR | --map MAP.json --weights FILE --config CONFIG.json)\n"
    "                    [--tokenizer FILE] --out DIR\n"
    "\n"
    "Writes DIR (a new or empty folder) with config.json, model.safetensors, the tokenizer,\n"
    "generation_config.json and a model card (README.md) naming the sources and their sha256.\n"
    "  --meta DIR      Meta's reference Llama: params.json + consolidated.00.safetensors (tok_embeddings,\n"
    "                  layers.N.attention.wq/wk/wv/wo, feed_forward.w1/w2/w3, attention_norm, ffn_norm,\n"
    "                  norm, output); wq/wk are permuted from interleaved rotary pairs to rotate-half.\n"
    "  --nanogpt DIR   nanoGPT: model_args.json + model.safetensors (transformer.wte/wpe/h.N.*/ln_f);\n"
    "                  nn.Linear matrices transposed to GPT-2's Conv1D, exact (erf) GELU, tied head,\n"
    "                  zero biases for a model trained with bias=False.\n"
    "  --map MAP.json  anything else: {\"rules\": [{\"from\": REGEX, \"to\": NAME, \"transpose\": true,\n"
    "                  \"rotary\": \"q\"|\"k\", \"split\": [ROWS...], \"drop\": true}, ...]} over the tensors of\n"
    "                  --weights FILE (safetensors), with --config CONFIG.json (a llama or gpt2 config.json).\n"
    "  --tokenizer F   the tokenizer you trained with (tokenizer.model, tokenizer.json or vocab.json);\n"
    "                  default: the one in the checkpoint's folder.\n"
    "Every source tensor must be used exactly once and every tensor of the config filled with its\n"
    "shape: otherwise every problem is listed and nothing is written. PyTorch pickles (.pt, ckpt.pt)\n"
    "are not opened: tools/pt_to_safetensors.py converts them in your own Python.\n"
    "See docs/own-model.md.\n"
    "Example: ablab import --nanogpt out-shakespeare --tokenizer vocab.json --out models/mine\n",
    run_import,
    0,
};

enum { OPT_META = 0x1000, OPT_NANOGPT, OPT_MAP, OPT_WEIGHTS, OPT_CONFIG, OPT_TOKENIZER, OPT_OUT };

static const struct option import_options[] = {
    {"meta", required_argument, NULL, OPT_META},
    {"nanogpt", required_argument, NULL, OPT_NANOGPT},
    {"map", required_argument, NULL, OPT_MAP},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"out", required_argument, NULL, OPT_OUT},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *meta, *nanogpt;
    EngImportOpts o;
} ImportArgs;

static int import_opt(App *app, int opt, const char *arg, void *ud) {
    ImportArgs *a = ud;
    switch (opt) {
    case OPT_META: a->meta = arg; return 0;
    case OPT_NANOGPT: a->nanogpt = arg; return 0;
    case OPT_MAP: a->o.map = arg; return 0;
    case OPT_WEIGHTS: a->o.weights = arg; return 0;
    case OPT_CONFIG: a->o.config = arg; return 0;
    case OPT_TOKENIZER: a->o.tokenizer = arg; return 0;
    case OPT_OUT: a->o.out = arg; return 0;
    }
    return 1;
}

static int run_import(App *app, int argc, char **argv) {
    ImportArgs a = {0};
    int first = cli_parse(app, &cmd_import, argc, argv, import_options, NULL, import_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_import, "unexpected argument '%s'", argv[first]);
    int n = (a.meta != NULL) + (a.nanogpt != NULL) + (a.o.map != NULL);
    if (n != 1) return cli_usage_error(&cmd_import, "give exactly one of --meta DIR, --nanogpt DIR and --map MAP.json");
    if (!a.o.out) return cli_usage_error(&cmd_import, "--out DIR is required");
    if (a.o.map && (!a.o.weights || !a.o.config))
        return cli_usage_error(&cmd_import, "--map MAP.json needs --weights FILE and --config CONFIG.json");
    if (!a.o.map && (a.o.weights || a.o.config))
        return cli_usage_error(&cmd_import, "--weights and --config go with --map (--meta and --nanogpt read them from DIR)");
    a.o.kind = a.meta ? ENG_IMPORT_META : a.nanogpt ? ENG_IMPORT_NANOGPT : ENG_IMPORT_MAP;
    a.o.src = a.meta ? a.meta : a.nanogpt;
    Buf report = {0};
    int rc = eng_import(&a.o, &report, &app->err);
    if (!rc) fputs(report.data ? report.data : "", stdout);
    buf_free(&report);
    return rc ? EXIT_FAIL : EXIT_OK;
}
