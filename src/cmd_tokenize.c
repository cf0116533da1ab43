/* ablab tokenize / ablab detokenize: a model's tokenizer on the command line (loads no weights). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tokenizer.h"

static int run_tokenize(App *app, int argc, char **argv);
static int run_detokenize(App *app, int argc, char **argv);

const Command cmd_tokenize = {
    "tokenize", "print the token ids of a text under a model's tokenizer",
    "usage: ablab tokenize (--model PATH | --tokenizer FILE) [--special] [--json] TEXT\n"
    "\n"
    "Prints the ids on one line, separated by spaces. TEXT '-' reads standard input (all of it,\n"
    "bytes as they are). Special tokens written in the text (e.g. <|endoftext|>) are recognised.\n"
    "  --model PATH      a model folder (tokenizer.json, or vocab.json + merges.txt) or a llama2.c\n"
    "                    .bin (tokenizer.bin or tok*.bin beside it); weights are not loaded\n"
    "  --tokenizer FILE  a tokenizer.json, vocab.json (merges.txt beside it), llama2.c tokenizer.bin\n"
    "                    or SentencePiece .model (Unigram or BPE, ids as the sentencepiece library's)\n"
    "  --special         add BOS/EOS as the tokenizer's post-processor does (llama2.c: BOS)\n"
    "  --json            print {\"ids\": [...], \"tokens\": [...]}\n"
    "Example: ablab tokenize --model ../shared/golden/gpt2-tokenizer 'Hello world'   →   15496 995\n",
    run_tokenize,
    0, /* loads no model through the model options */
};

const Command cmd_detokenize = {
    "detokenize", "print the text of token ids under a model's tokenizer",
    "usage: ablab detokenize (--model PATH | --tokenizer FILE) IDS...\n"
    "\n"
    "IDS are token ids, as separate arguments or comma-separated. Prints the decoded text (as Hugging\n"
    "Face's decode with skip_special_tokens=False) followed by a newline.\n"
    "Example: ablab detokenize --model ../shared/golden/gpt2-tokenizer 15496 995   →   Hello world\n",
    run_detokenize,
    0, /* loads no model through the model options */
};

typedef struct {
    const char *model, *tokenizer;
    bool special, json;
} TokOpts;

enum { OPT_MODEL = 0x1000, OPT_TOKENIZER, OPT_SPECIAL, OPT_JSON };

static const struct option tok_options[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"special", no_argument, NULL, OPT_SPECIAL},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

static int tok_opt(App *app, int opt, const char *arg, void *ud) {
    TokOpts *o = ud;
    switch (opt) {
    case OPT_MODEL: o->model = arg; return 0;
    case OPT_TOKENIZER: o->tokenizer = arg; return 0;
    case OPT_SPECIAL: o->special = true; return 0;
    case OPT_JSON: o->json = true; return 0;
    }
    return 1;
}

/* Parses the options; returns the first operand index, or -(exit status + 1). */
static int parse(App *app, const Command *cmd, int argc, char **argv, TokOpts *o, bool allow_flags) {
    int first = cli_parse(app, cmd, argc, argv, tok_options, NULL, tok_opt, o);
    if (first == -3) return -(EXIT_OK + 1);
    if (first < 0) return -((first == -2 ? EXIT_USAGE : EXIT_FAIL) + 1);
    if (!o->model == !o->tokenizer) return -(cli_usage_error(cmd, "give exactly one of --model PATH and --tokenizer FILE") + 1);
    if (!allow_flags && (o->special || o->json)) return -(cli_usage_error(cmd, "--special and --json belong to tokenize") + 1);
    return first;
}

static int load(App *app, const TokOpts *o, Tokenizer **t) {
    if (o->model ? tok_load_for_model(t, o->model, 0, &app->err) : tok_load_file(t, o->tokenizer, 0, &app->err)) return -1;
    return 0;
}

static int read_stdin(Buf *b, LabErr *e) {
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (buf_append(b, chunk, n)) return lab_err(e, LAB_ENOMEM, "out of memory");
    if (ferror(stdin)) return lab_err(e, LAB_EIO, "standard input: read error");
    return buf_append(b, "", 0) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
}

/* A JSON string; bytes that are not UTF-8 (possible in llama2.c vocabularies) become U+FFFD. */
static void put_json_str(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        int k = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            fputs("\xEF\xBF\xBD", stdout);
            i++;
            continue;
        }
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c < 0x20) printf("\\u%04x", c);
        else fwrite(s + i, 1, (size_t)k, stdout);
        i += (size_t)k;
    }
    putchar('"');
}

static int run_tokenize(App *app, int argc, char **argv) {
    TokOpts o = {0};
    int first = parse(app, &cmd_tokenize, argc, argv, &o, true);
    if (first < 0) return -first - 1;
    if (first >= argc) return cli_usage_error(&cmd_tokenize, "missing TEXT (use - to read standard input)");
    Buf text = {0};
    if (first == argc - 1 && !strcmp(argv[first], "-")) {
        if (read_stdin(&text, &app->err)) return EXIT_FAIL;
    } else {
        for (int i = first; i < argc; i++)
            if ((i > first && buf_putc(&text, ' ')) || buf_puts(&text, argv[i])) {
                buf_free(&text);
                return lab_err(&app->err, LAB_ENOMEM, "out of memory"), EXIT_FAIL;
            }
    }
    Tokenizer *t = NULL;
    IntVec ids = {0};
    int rc = EXIT_FAIL;
    if (load(app, &o, &t) || tok_encode(t, text.data ? text.data : "", text.len, o.special, &ids, &app->err)) goto done;
    if (o.json) {
        fputs("{\"ids\": [", stdout);
        for (size_t i = 0; i < ids.n; i++) printf("%s%d", i ? ", " : "", ids.v[i]);
        fputs("], \"tokens\": [", stdout);
        for (size_t i = 0; i < ids.n; i++) {
            const char *s = tok_token_str(t, ids.v[i]);
            if (i) fputs(", ", stdout);
            put_json_str(s, strlen(s));
        }
        fputs("]}\n", stdout);
    } else {
        for (size_t i = 0; i < ids.n; i++) printf("%s%d", i ? " " : "", ids.v[i]);
        putchar('\n');
    }
    rc = EXIT_OK;
done:
    ivec_free(&ids);
    buf_free(&text);
    tok_free(t);
    return rc;
}

static int run_detokenize(App *app, int argc, char **argv) {
    TokOpts o = {0};
    int first = parse(app, &cmd_detokenize, argc, argv, &o, false);
    if (first < 0) return -first - 1;
    if (first >= argc) return cli_usage_error(&cmd_detokenize, "missing IDS");
    IntVec ids = {0};
    for (int i = first; i < argc; i++)
        if (cli_parse_ids(app, argv[i], &ids)) {
            ivec_free(&ids);
            return cli_usage_error(&cmd_detokenize, "%s", app->err.msg);
        }
    Tokenizer *t = NULL;
    Buf out = {0};
    int rc = EXIT_FAIL;
    if (load(app, &o, &t) || tok_decode(t, ids.v, ids.n, &out, &app->err)) goto done;
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    putchar('\n');
    rc = EXIT_OK;
done:
    ivec_free(&ids);
    buf_free(&out);
    tok_free(t);
    return rc;
}
