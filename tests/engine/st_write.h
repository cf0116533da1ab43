/* Test helper: writes safetensors files (header padded with spaces to 8 bytes, tensors in the
 * order given) and folders with config.json, for the converted / sharded / random-weight / broken
 * models the engine tests build on the fly. */
#ifndef ST_WRITE_H
#define ST_WRITE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

typedef struct {
    char name[160];
    const char *dtype;      /* "F32", "F16", "BF16", ... */
    int n_dims;
    int64_t shape[4];
    const void *data;       /* NULL: filled by the writer's generator (random) */
    size_t nbytes;
} StwTensor;

static inline size_t stw_elem_size(const char *dt) {
    return !strcmp(dt, "F32") || !strcmp(dt, "I32") ? 4 : !strcmp(dt, "F16") || !strcmp(dt, "BF16") ? 2 : !strcmp(dt, "I64") ? 8 : 1;
}

/* Header JSON for tensors t[0..n) laid out back to back. */
static inline void stw_header(Buf *h, const StwTensor *t, size_t n) {
    size_t off = 0;
    buf_puts(h, "{");
    for (size_t i = 0; i < n; i++) {
        buf_printf(h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].n_dims; d++) buf_printf(h, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        buf_printf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + t[i].nbytes);
        off += t[i].nbytes;
    }
    buf_puts(h, "}");
    while (h->len % 8) buf_putc(h, ' ');
}

/* Deterministic pseudo-random floats in [-scale, scale). */
static inline float stw_rand(uint64_t *s, float scale) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((float)(*s >> 40) / 16777216.0f * 2.0f - 1.0f) * scale;
}

/* Writes the file; tensors with data == NULL get random values of their dtype (F32/F16/BF16) made
 * in chunks, so multi-GB models need no big buffer. Returns 0 or -1. */
int stw_write(const char *path, const StwTensor *t, size_t n, uint64_t seed);

#ifdef ST_WRITE_IMPL
#include "quant.h"
int stw_write(const char *path, const StwTensor *t, size_t n, uint64_t seed) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    Buf h = {0};
    stw_header(&h, t, n);
    uint64_t len = h.len;
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(len >> (8 * i));
    int rc = fwrite(lb, 1, 8, f) == 8 && fwrite(h.data, 1, h.len, f) == h.len ? 0 : -1;
    buf_free(&h);
    enum { CH = 65536 };
    float *fb = malloc(CH * sizeof *fb);
    uint16_t *hb = malloc(CH * sizeof *hb);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (t[i].data) {
            if (fwrite(t[i].data, 1, t[i].nbytes, f) != t[i].nbytes) rc = -1;
            continue;
        }
        size_t es = stw_elem_size(t[i].dtype), total = t[i].nbytes / es;
        float scale = t[i].n_dims == 1 ? 0.1f : 0.05f;
        for (size_t done = 0; rc == 0 && done < total; done += CH) {
            size_t k = total - done < CH ? total - done : CH;
            for (size_t j = 0; j < k; j++) fb[j] = stw_rand(&seed, scale) + (t[i].n_dims == 1 && strstr(t[i].name, "bias") == NULL ? 1.0f : 0.0f);
            if (es == 4) rc = fwrite(fb, 4, k, f) == k ? 0 : -1;
            else {
                for (size_t j = 0; j < k; j++) hb[j] = !strcmp(t[i].dtype, "F16") ? fp32_to_fp16(fb[j]) : fp32_to_bf16(fb[j]);
                rc = fwrite(hb, 2, k, f) == k ? 0 : -1;
            }
        }
    }
    free(fb);
    free(hb);
    if (fclose(f) != 0) rc = -1;
    return rc;
}
#endif

static inline int stw_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

#endif
