/* Where the tests find the data files named by their place in the project's shared folder
 * (../shared beside the clone, $SHARED_DIR), so that a plain clone runs the suite whole:
 *   1. tests/fixtures/shared/REL   a byte-identical copy of the small ones (tests/fixtures/README.md)
 *   2. $SHARED_DIR/REL             the shared folder itself, for the large ones
 *   3. tests/fixtures/standin/REL  the same content in the shipped default model's files, used
 *                                  only where the shared original is absent
 * A test that cannot find a file says which one, in the form tools/test-summary.py groups:
 *   "# skipped: needs shared/REL ..."       the test is skipped
 *   "# part not run: needs shared/REL ..."  the test ran without that part */
#ifndef ABLAB_TESTS_FIXTURE_H
#define ABLAB_TESTS_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The path of rel (a file or a folder) in out, or false when none of the three places has it. */
__attribute__((unused)) static bool fixture_find(char *out, size_t n, const char *rel) {
    const char *data = getenv("TEST_DATA_DIR"), *sd = getenv("SHARED_DIR");
    const char *fmt[3] = {"%s/shared/%s", "%s/%s", "%s/standin/%s"};
    const char *base[3] = {data, sd, data};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (!base[i] || !*base[i]) continue;
        int k = snprintf(out, n, fmt[i], base[i], rel);
        if (k > 0 && (size_t)k < n && stat(out, &st) == 0) return true;
    }
    if (n) out[0] = 0;
    return false;
}

/* Prints why rel was not found: "# <what>: needs shared/<rel> ...". */
__attribute__((unused)) static void fixture_say_missing(const char *what, const char *rel) {
    const char *sd = getenv("SHARED_DIR");
    printf("# %s: needs shared/%s, which is too large to ship in tests/fixtures and absent from SHARED_DIR (%s)\n",
           what, rel, sd && *sd ? sd : "unset");
}

/* fixture_find, or false after saying which file a skipped test needs (the caller then skips). */
__attribute__((unused)) static bool fixture_need(char *out, size_t n, const char *rel) {
    if (fixture_find(out, n, rel)) return true;
    fixture_say_missing("skipped", rel);
    return false;
}

/* fixture_find, or false after saying which part of the test does not run without rel. */
__attribute__((unused)) static bool fixture_want(char *out, size_t n, const char *rel) {
    if (fixture_find(out, n, rel)) return true;
    fixture_say_missing("part not run", rel);
    return false;
}

#endif
