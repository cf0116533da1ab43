/* Shared by the db, lab and engine tests: each test binary works in its own temporary folder
 * ($TMPDIR/ablab-test-XXXXXX), removed when the group ends. */
#ifndef ABLAB_TESTS_TMPDIR_H
#define ABLAB_TESTS_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static char tmpdir[256];

/* TMPDIR/name; the returned text stays valid for the next 7 calls */
__attribute__((unused)) static const char *tpath(const char *name) {
    static char p[8][512];
    static int k;
    char *r = p[k++ % 8];
    snprintf(r, 512, "%s/%s", tmpdir, name);
    return r;
}

static int setup_dir(void **state) {
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/ablab-test-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
