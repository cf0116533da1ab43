/* ablab inspect PATH [--tensors] [--json]: what a model file is, without running it. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cmd_engine.h"

static int run_inspect(App *app, int argc, char **argv);

const Command cmd_inspect = {
    "inspect", "describe a model: architecture, sizes, parameters, dtype, memory, tokenizer",
    "usage: ablab inspect PATH [--tensors] [--json]\n"
    "\n"
    "PATH is a Hugging Face folder (config.json + *.safetensors), a llama2.c .bin or a .gguf file.\n"
    "Prints the architecture, hyper-parameters, parameter count, dtype, bytes on disk and in memory\n"
    "(weights in place in the file mapping with --mmap / copied or converted, KV cache, scratch) and the\n"
    "tokenizer found.\n"
    "Exits 1 with the error when the model is invalid.\n"
    "\n"
    "  --tensors   list every weight: name, file dtype, memory dtype, shape, bytes, mapped or copied\n"
    "  --json      one JSON object instead of text\n",
    run_inspect,
    1, /* one model: --tokenizer, --quant */
};

typedef struct { bool tensors, json; } InspectOpts;

static int inspect_opt(App *app, int opt, const char *arg, void *ud) {
    (void)app; (void)arg;
    InspectOpts *o = ud;
    if (opt == 't') o->tensors = true;
    else if (opt == 'j') o->json = true;
    else return 1;
    return 0;
}

/* 1234567 -> "1,234,567" */
static const char *commas(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t len = strlen(raw), at = 0;
    for (size_t i = 0; i < len && at + 2 < n; i++) {
        if (i && raw[i] != '-' && (len - i) % 3 == 0 && raw[i - 1] != '-') buf[at++] = ',';
        buf[at++] = raw[i];
    }
    buf[at] = '\0';
    return buf;
}

static int print_json(const EngModel *m, bool tensors) {
    const EngInfo *in = eng_info(m);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
                          "arch", in->arch, "format", in->format, "name", in->name, "path", in->path, "dtype", in->dtype,
                          "file_dtype", in->file_dtype, "n_params", (json_int_t)in->n_params, "n_layer", in->n_layer,
                          "n_head", in->n_head, "n_kv_head", in->n_kv_head, "dim", in->dim, "hidden", in->hidden,
                          "head_dim", in->head_dim, "vocab", in->vocab, "ctx_max", in->ctx_max, "ctx", in->ctx,
                          "bos_id", in->bos_id, "eos_id", in->eos_id);
    if (!o) return -1;
    json_object_set_new(o, "bytes_on_disk", json_integer((json_int_t)in->bytes_on_disk));
    json_object_set_new(o, "bytes_mapped", json_integer((json_int_t)in->bytes_mapped));
    json_object_set_new(o, "bytes_owned", json_integer((json_int_t)in->bytes_owned));
    json_object_set_new(o, "bytes_kv", json_integer((json_int_t)in->bytes_kv));
    json_object_set_new(o, "bytes_scratch", json_integer((json_int_t)in->bytes_scratch));
    json_object_set_new(o, "tokenizer", in->tokenizer_kind && strcmp(in->tokenizer_kind, "none")
                                            ? json_pack("{s:s, s:s?}", "kind", in->tokenizer_kind, "path", in->tokenizer_path)
                                            : json_null());
    json_object_set_new(o, "load_ms", json_real(in->load_ms));
    json_t *ads = json_array();
    for (int i = 0; i < in->n_adapters; i++) {
        const EngAdapterInfo *a = &in->adapters[i];
        json_array_append_new(ads, json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:b, s:f, s:i, s:i}", "name", a->name,
                                             "path", a->path, "format", a->format, "sha256", a->sha256, "scale",
                                             (double)a->scale, "alpha", (double)a->alpha, "rank", a->rank,
                                             "rslora", a->rslora,
                                             "effective_scale", (double)a->eff_scale, "merged", a->n_merged,
                                             "unmerged", a->n_unmerged));
    }
    json_object_set_new(o, "adapters", ads);
    if (tensors) {
        json_t *arr = json_array();
        const EngTensorInfo *t;
        size_t n = eng_tensors(m, &t);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:[I, I], s:I, s:b}", "name", t[i].name, "file_dtype",
                                                 t[i].file_dtype, "dtype", t[i].dtype, "shape", (json_int_t)t[i].rows,
                                                 (json_int_t)t[i].cols, "bytes", (json_int_t)t[i].bytes, "mapped",
                                                 t[i].mapped));
        json_object_set_new(o, "tensors", arr);
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return -1;
    puts(s);
    free(s);
    return 0;
}

static void print_text(const EngModel *m, bool tensors) {
    const EngInfo *in = eng_info(m);
    char a[32], b[32], c[32], d[32], f[32];
    printf("model      %s (%s)\n", in->path, in->format);
    printf("arch       %s: %d layers, dim %d, %d heads (%d key/value), head dim %d, ff %d, vocab %d, context %d\n",
           in->arch, in->n_layer, in->dim, in->n_head, in->n_kv_head, in->head_dim, in->hidden, in->vocab, in->ctx_max);
    printf("params     %s\n", commas(in->n_params, a, sizeof a));
    printf("dtype      %s (file %s)\n", in->dtype, in->file_dtype);
    printf("disk       %s bytes\n", commas((int64_t)in->bytes_on_disk, a, sizeof a));
    printf("memory     weights %s mapped + %s copied or converted, KV cache %s (%d positions), scratch %s bytes\n",
           commas((int64_t)in->bytes_mapped, b, sizeof b), commas((int64_t)in->bytes_owned, c, sizeof c),
           commas((int64_t)in->bytes_kv, d, sizeof d), in->ctx, commas((int64_t)in->bytes_scratch, f, sizeof f));
    printf("tokens     bos %d, eos %d\n", in->bos_id, in->eos_id);
    if (in->tokenizer_kind && strcmp(in->tokenizer_kind, "none"))
        printf("tokenizer  %s (%s)\n", in->tokenizer_kind, in->tokenizer_path ? in->tokenizer_path : "");
    else
        printf("tokenizer  none found (token ids only)\n");
    for (int i = 0; i < in->n_adapters; i++) {
        const EngAdapterInfo *ad = &in->adapters[i];
        printf("adapter    %s (%s, %s) sha256 %s\n", ad->name, ad->format, ad->path, ad->sha256);
        printf("           scale %g x alpha %g / %s%d%s = %g; %d matrices merged, %d kept beside the weights\n",
               (double)ad->scale, (double)ad->alpha, ad->rslora ? "sqrt(rank " : "rank ", ad->rank,
               ad->rslora ? ")" : "", (double)ad->eff_scale, ad->n_merged, ad->n_unmerged);
    }
    printf("load       %.1f ms\n", in->load_ms);
    if (tensors) {
        const EngTensorInfo *t;
        size_t n = eng_tensors(m, &t);
        printf("\n%-48s %-5s %-5s %-16s %14s %s\n", "tensor", "file", "mem", "shape", "bytes", "");
        for (size_t i = 0; i < n; i++) {
            char shape[48];
            snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)t[i].rows, (long long)t[i].cols);
            printf("%-48s %-5s %-5s %-16s %14s %s\n", t[i].name, t[i].file_dtype, t[i].dtype, shape,
                   commas((int64_t)t[i].bytes, a, sizeof a), t[i].mapped ? "mapped" : "copied");
        }
    }
}

static int run_inspect(App *app, int argc, char **argv) {
    static const struct option opts[] = {{"tensors", no_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'}, {0}};
    InspectOpts io = {0};
    int first = cli_parse(app, &cmd_inspect, argc, argv, opts, NULL, inspect_opt, &io);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first != argc - 1) return cli_usage_error(&cmd_inspect, "give exactly one model PATH");
    EngModel *m = cmd_load_model(app, argv[first], 0, 0);
    if (!m) return EXIT_FAIL;
    int rc = EXIT_OK;
    if (io.json) {
        if (print_json(m, io.tensors)) {
            lab_err(&app->err, LAB_ENOMEM, "out of memory");
            rc = EXIT_FAIL;
        }
    } else {
        print_text(m, io.tensors);
    }
    eng_free(m);
    return rc;
}
