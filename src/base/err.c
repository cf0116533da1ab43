#include "base.h"

#include <stdio.h>
#include <string.h>

int lab_err(LabErr *e, LabErrCode code, const char *fmt, ...) {
    if (!e) return -1;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int lab_err_prefix(LabErr *e, const char *fmt, ...) {
    if (!e) return -1;
    char prefix[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t pl = strlen(prefix);
    if (pl > sizeof e->msg - 3) pl = sizeof e->msg - 3;
    memcpy(e->msg, prefix, pl);
    memcpy(e->msg + pl, ": ", 2);
    size_t rest = sizeof e->msg - pl - 3;
    size_t ol = strlen(old);
    if (ol > rest) ol = rest;
    memcpy(e->msg + pl + 2, old, ol);
    e->msg[pl + 2 + ol] = 0;
    return -1;
}

void lab_err_clear(LabErr *e) {
    if (!e) return;
    e->code = LAB_OK;
    e->msg[0] = 0;
}

const char *lab_err_code_name(LabErrCode c) {
    static const char *names[] = {"ok", "invalid argument", "i/o error", "bad format", "unsupported",
                                  "out of memory", "out of range", "cancelled", "database error",
                                  "database busy", "disk full", "not found"};
    return (unsigned)c < sizeof names / sizeof *names ? names[c] : "error";
}
