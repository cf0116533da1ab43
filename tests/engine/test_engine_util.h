/* Helpers shared by the engine tests. */
#ifndef TEST_ENGINE_UTIL_H
#define TEST_ENGINE_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"

/* $SHARED_DIR/<fmt...> into out; false after cmocka's skip() when SHARED_DIR or the path is absent. */
__attribute__((format(printf, 3, 4))) static inline bool shared_path(char *out, size_t n, const char *fmt, ...) {
    const char *sd = getenv("SHARED_DIR");
    char rel[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    if (!sd || !*sd) {
        printf("# SHARED_DIR is not set: skipping (needs %s)\n", rel);
        skip();
        return false;
    }
    snprintf(out, n, "%s/%s", sd, rel);
    if (!file_exists(out)) {
        printf("# %s is absent: skipping\n", out);
        skip();
        return false;
    }
    return true;
}

#endif
