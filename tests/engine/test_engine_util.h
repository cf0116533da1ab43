/* Helpers shared by the engine tests. */
#ifndef TEST_ENGINE_UTIL_H
#define TEST_ENGINE_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"
#include "../fixture.h"

/* The data file <fmt...> named by its place in ../shared (tests/fixture.h says where it is looked
 * for) into out; false after cmocka's skip(), naming the file, when it is nowhere. */
__attribute__((format(printf, 3, 4))) static inline bool shared_path(char *out, size_t n, const char *fmt, ...) {
    char rel[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    if (fixture_need(out, n, rel)) return true;
    skip();
    return false;
}

/* The GPT-2 models a test runs on: the shipped default model (assets/models/gpt2-mini, always
 * there) and the golden one of ../shared when present (its absence printed as a part not run).
 * Returns how many were put in out[]. */
static inline int gpt2_models(char out[2][4096]) {
    int n = 0;
    const char *assets = getenv("ABLAB_ASSETS");
    if (assets && *assets) {
        snprintf(out[n], 4096, "%s/models/gpt2-mini", assets);
        if (file_exists(out[n]) == 2) n++;
    }
    if (n == 0) fail_msg("the shipped model %s/models/gpt2-mini is missing", assets ? assets : "(ABLAB_ASSETS unset)");
    if (fixture_want(out[n], 4096, "golden/gpt2-tiny-random")) n++;
    return n;
}

#endif
