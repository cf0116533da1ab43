/* Shared by the libFuzzer harnesses (tests/fuzz/README in docs/reliability.md): each harness is one
 * LLVMFuzzerTestOneInput over the real parsing code, linked from the project's static libraries.
 * Inputs that a parser reads from a path are written to files under a private folder in $TMPDIR
 * (made once per process, removed at exit). */
#ifndef ABLAB_FUZZ_H
#define ABLAB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_path[4096];

static inline void fuzz_dir_remove(void) {
    char cmd[4200];
    if (!fuzz_dir_path[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_path);
}

/* The process's own folder under $TMPDIR (or /tmp). */
static inline const char *fuzz_dir(void) {
    if (fuzz_dir_path[0]) return fuzz_dir_path;
    const char *t = getenv("TMPDIR");
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/ablab-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fuzz_dir_path)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_dir_remove);
    return fuzz_dir_path;
}

/* Writes data to NAME in the process's folder (NAME may hold one '/' for a subfolder made on
 * demand) and returns the path (static storage, overwritten by the next call). */
static inline const char *fuzz_write(const char *name, const void *data, size_t size) {
    static char path[2][4400];
    static int which;
    char *p = path[which ^= 1];
    snprintf(p, sizeof path[0], "%s/%s", fuzz_dir(), name);
    char *slash = strrchr(p, '/');
    if (slash > p + strlen(fuzz_dir())) {
        *slash = 0;
        LabErr e = {0};
        if (mkdir_p(p, &e)) {
            fprintf(stderr, "fuzz: %s\n", e.msg);
            abort();
        }
        *slash = '/';
    }
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(p);
        abort();
    }
    return p;
}

/* A fixture of the source tree (FUZZ_SRC is set by meson). */
static inline const char *fuzz_src(const char *rel) {
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", FUZZ_SRC, rel);
    return p;
}

/* Splits data at the first occurrence of the marker sep[0..ls) (markers hold NUL bytes, so the
 * length is given: FUZZ_SPLIT takes it from a string literal): the part before in *a, after in *b.
 * Without the marker all of data is *a and *b is empty. */
static inline void fuzz_split(const uint8_t *data, size_t size, const char *sep, size_t ls, const uint8_t **a,
                              size_t *na, const uint8_t **b, size_t *nb) {
    const uint8_t *hit = size >= ls ? memmem(data, size, sep, ls) : NULL;
    *a = data;
    *na = hit ? (size_t)(hit - data) : size;
    *b = hit ? hit + ls : data + size;
    *nb = hit ? size - *na - ls : 0;
}
#define FUZZ_SPLIT(data, size, lit, a, na, b, nb) fuzz_split(data, size, lit, sizeof(lit) - 1, a, na, b, nb)

#endif
