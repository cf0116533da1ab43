/* `ablab keys`: every key of the lab, printed from the screens' key tables (ui/), so the docs can
 * include the same text the help screen shows. Not listed in `ablab --help`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ui.h"

static int run_keys(App *app, int argc, char **argv);

const Command cmd_keys = {
    "keys", NULL,
    "usage: ablab keys [--markdown]\n"
    "\n"
    "Prints every key of the lab, screen by screen: the text of the help screen (F1), or with\n"
    "--markdown one Markdown table per screen, for the docs. Needs no terminal and no models.\n",
    run_keys,
    0,   /* loads no model */
};

enum { OPT_MARKDOWN = 0x1000 };

static const struct option keys_options[] = {
    {"markdown", no_argument, NULL, OPT_MARKDOWN},
    {NULL, 0, NULL, 0},
};

static int keys_opt(App *app, int opt, const char *arg, void *ud) {
    (void)app;
    (void)arg;
    if (opt != OPT_MARKDOWN) return 1;
    *(bool *)ud = true;
    return 0;
}

static int run_keys(App *app, int argc, char **argv) {
    bool markdown = false;
    int first = cli_parse(app, &cmd_keys, argc, argv, keys_options, NULL, keys_opt, &markdown);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first < argc) return cli_usage_error(&cmd_keys, "unexpected argument '%s'", argv[first]);
    Buf b = {0};
    int rc = EXIT_OK;
    if (ui_keys_reference(markdown, &b)) {
        lab_err(&app->err, LAB_ENOMEM, "out of memory");
        rc = EXIT_FAIL;
    } else if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout)) {
        lab_err(&app->err, LAB_EIO, "standard output: write failed");
        rc = EXIT_FAIL;
    }
    buf_free(&b);
    return rc;
}
