/* ablab import (engine/formats/import.c): one input is
 *     LAYOUT "\n" SETTINGS ["\n\0MAP\0\n" MAP] "\n\0ST\0\n" SAFETENSORS
 * with LAYOUT meta (SETTINGS is params.json beside consolidated.00.safetensors), nanogpt
 * (model_args.json beside model.safetensors) or map (SETTINGS is the config.json, MAP the MAP.json
 * of rules). The whole import runs: the settings turned into a config, the rules compiled and
 * matched, every shape checked against the config, then the folder written (safetensors with the
 * rows transposed, split and permuted, config, the tokenizer, the card), loaded back and renamed;
 * the harness removes it again. The tokenizer is a fixed 5-token tokenizer.json, so any
 * vocabulary of 5 or more gets past that check. */
#include <dirent.h>
#include <sys/stat.h>

#include "engine.h"
#include "fuzz.h"

/* The folder an import made (files only) and the folder itself. */
static void rm_out(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = path_join(dir, de->d_name);
        if (p && unlink(p)) {
            perror(p);
            abort();
        }
        free(p);
    }
    closedir(d);
    if (rmdir(dir)) {
        perror(dir);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char tok[4400], out[4400];
    if (!tok[0]) {
        /* an import fsyncs its safetensors: keep that off the disk when nobody chose a TMPDIR */
        struct stat sb;
        if (!getenv("TMPDIR") && !stat("/dev/shm", &sb) && S_ISDIR(sb.st_mode) && !access("/dev/shm", W_OK))
            setenv("TMPDIR", "/dev/shm", 0);
        char *t = NULL;
        size_t nt = 0;
        LabErr e = {0};
        if (file_read_all(fuzz_src("tests/fuzz/corpus/tokenizer_json/tiny"), 0, &t, &nt, &e)) {
            fprintf(stderr, "fuzz_import: %s\n", e.msg);
            abort();
        }
        snprintf(tok, sizeof tok, "%s", fuzz_write("tok/tokenizer.json", t, nt));
        free(t);
        snprintf(out, sizeof out, "%s/out", fuzz_dir());
    }
    const uint8_t *head, *st, *settings, *map;
    size_t nh, nst, ns, nm;
    FUZZ_SPLIT(data, size, "\n\x00ST\x00\n", &head, &nh, &st, &nst);
    FUZZ_SPLIT(head, nh, "\n\x00MAP\x00\n", &settings, &ns, &map, &nm);
    const uint8_t *nl = memchr(settings, '\n', ns);
    if (!nl) return 0;
    size_t nlay = (size_t)(nl - settings);
    EngImportOpts o = {.tokenizer = tok, .out = out};
    char *src = NULL;
    if (nlay == 4 && !memcmp(settings, "meta", 4)) {
        o.kind = ENG_IMPORT_META;
        fuzz_write("meta/params.json", nl + 1, ns - nlay - 1);
        src = path_dirname(fuzz_write("meta/consolidated.00.safetensors", st, nst));
    } else if (nlay == 7 && !memcmp(settings, "nanogpt", 7)) {
        o.kind = ENG_IMPORT_NANOGPT;
        fuzz_write("nanogpt/model_args.json", nl + 1, ns - nlay - 1);
        src = path_dirname(fuzz_write("nanogpt/model.safetensors", st, nst));
    } else if (nlay == 3 && !memcmp(settings, "map", 3)) {
        o.kind = ENG_IMPORT_MAP;
        static char cfg[4400], mp[4400], w[4400]; /* fuzz_write keeps only its last two paths */
        snprintf(cfg, sizeof cfg, "%s", fuzz_write("map/config.json", nl + 1, ns - nlay - 1));
        snprintf(mp, sizeof mp, "%s", fuzz_write("map/map.json", map, nm));
        snprintf(w, sizeof w, "%s", fuzz_write("map/weights.safetensors", st, nst));
        o.config = cfg;
        o.map = mp;
        o.weights = w;
    } else {
        return 0;
    }
    if (o.kind != ENG_IMPORT_MAP && !src) abort();
    o.src = src;
    LabErr e = {0};
    Buf report = {0};
    int rc = eng_import(&o, &report, &e);
    if (rc && getenv("FUZZ_DEBUG")) fprintf(stderr, "fuzz_import: %s\n", e.msg);
    /* imported or not, OUT is gone or the whole new folder: nothing half-made */
    struct stat sb;
    if (rc == 0) rm_out(out);
    else if (!stat(out, &sb)) {
        fprintf(stderr, "fuzz_import: a refused import left %s behind (%s)\n", out, e.msg);
        abort();
    }
    char partial[4500];
    snprintf(partial, sizeof partial, "%s.import-%ld", out, (long)getpid());
    if (!stat(partial, &sb)) {
        fprintf(stderr, "fuzz_import: %s was left behind (%s)\n", partial, rc ? e.msg : "imported");
        abort();
    }
    buf_free(&report);
    free(src);
    return 0;
}
