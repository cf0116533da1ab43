/* GGUF v3 reader and writer. Every number read from the file is checked against what remains of
 * it before it is used, as ggml's gguf.cpp does: counts against the bytes left, string and array
 * lengths, alignment, tensor dimensions, types, offsets and overlaps. */
#include "gguf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- ggml types ---------- */
typedef struct { const char *name; uint8_t blck; uint16_t size; } TypeInfo;
static const TypeInfo k_types[GGML_TYPE_COUNT] = {
    [0] = {"f32", 1, 4},        [1] = {"f16", 1, 2},        [2] = {"q4_0", 32, 18},
    [3] = {"q4_1", 32, 20},     [6] = {"q5_0", 32, 22},     [7] = {"q5_1", 32, 24},
    [8] = {"q8_0", 32, 34},     [9] = {"q8_1", 32, 36},     [10] = {"q2_K", 0, 84},
    [11] = {"q3_K", 0, 110},    [12] = {"q4_K", 0, 144},    [13] = {"q5_K", 0, 176},
    [14] = {"q6_K", 0, 210},    [15] = {"q8_K", 0, 292},    [16] = {"iq2_xxs", 0, 66},
    [17] = {"iq2_xs", 0, 74},   [18] = {"iq3_xxs", 0, 98},  [19] = {"iq1_s", 0, 50},
    [20] = {"iq4_nl", 32, 18},  [21] = {"iq3_s", 0, 110},   [22] = {"iq2_s", 0, 82},
    [23] = {"iq4_xs", 0, 136},  [24] = {"i8", 1, 1},        [25] = {"i16", 1, 2},
    [26] = {"i32", 1, 4},       [27] = {"i64", 1, 8},       [28] = {"f64", 1, 8},
    [29] = {"iq1_m", 0, 56},    [30] = {"bf16", 1, 2},      [34] = {"tq1_0", 0, 54},
    [35] = {"tq2_0", 0, 66},
};
/* k-quants and i-quants have blocks of 256 (uint8_t cannot hold it: 0 stands for 256). */

const char *ggml_type_name(int type) {
    return type >= 0 && type < GGML_TYPE_COUNT ? k_types[type].name : NULL;
}
size_t ggml_blck_size(int type) {
    if (!ggml_type_name(type)) return 0;
    return k_types[type].blck ? k_types[type].blck : 256;
}
size_t ggml_type_size(int type) { return ggml_type_name(type) ? k_types[type].size : 0; }

int ggml_row_size(int type, uint64_t n, size_t *out) {
    size_t bs = ggml_blck_size(type);
    if (!bs || n % bs || n / bs > SIZE_MAX) return -1;
    return size_mul_ok((size_t)(n / bs), ggml_type_size(type), out) ? 0 : -1;
}

static const char *gguf_type_name(GgufType t) {
    static const char *const names[GGUF_TYPE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                                       "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < GGUF_TYPE_COUNT ? names[t] : "?";
}
static size_t gguf_type_size(GgufType t) {
    static const uint8_t sizes[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < GGUF_TYPE_COUNT ? sizes[t] : 0;
}

/* ---------- reader ---------- */
typedef struct {
    const uint8_t *p;
    size_t size, pos;
    const char *name;
    LabErr *e;
} Cur;

static size_t cur_left(const Cur *c) { return c->size - c->pos; }

static int cur_read(Cur *c, void *dst, size_t n, const char *what) {
    if (n > cur_left(c))
        return lab_err(c->e, LAB_EFORMAT, "%s: truncated file: %s needs %zu bytes at offset %zu, %zu left", c->name,
                       what, n, c->pos, cur_left(c));
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return 0;
}
static int cur_u32(Cur *c, uint32_t *v, const char *what) { return cur_read(c, v, 4, what); }
static int cur_u64(Cur *c, uint64_t *v, const char *what) { return cur_read(c, v, 8, what); }

/* A string: u64 length then bytes. */
static int cur_str(Cur *c, GgufStr *s, const char *what) {
    uint64_t n = 0;
    if (cur_u64(c, &n, what)) return -1;
    if (n > cur_left(c))
        return lab_err(c->e, LAB_EFORMAT, "%s: %s: string length %llu exceeds the %zu bytes left at offset %zu",
                       c->name, what, (unsigned long long)n, cur_left(c), c->pos);
    s->s = (const char *)c->p + c->pos;
    s->len = (size_t)n;
    c->pos += (size_t)n;
    return 0;
}

static char *str_dup(const GgufStr *s) {
    char *d = malloc(s->len + 1);
    if (d) {
        memcpy(d, s->s, s->len);
        d[s->len] = 0;
    }
    return d;
}

void gguf_close(GgufFile *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].strs);
    }
    for (size_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    mapped_close(&g->mf);
    free(g);
}

const GgufKV *gguf_find_kv(const GgufFile *g, const char *key) {
    for (size_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const GgufTensor *gguf_find_tensor(const GgufFile *g, const char *name) {
    for (size_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name && !strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static int parse_kv(Cur *c, GgufFile *g, GgufKV *kv, size_t idx) {
    GgufStr key;
    char what[64];
    snprintf(what, sizeof what, "key of key-value pair %zu", idx);
    if (cur_str(c, &key, what)) return -1;
    if (key.len == 0) return lab_err(c->e, LAB_EFORMAT, "%s: key-value pair %zu has an empty key", c->name, idx);
    if (memchr(key.s, 0, key.len))
        return lab_err(c->e, LAB_EFORMAT, "%s: key-value pair %zu: key contains a NUL byte", c->name, idx);
    if (!(kv->key = str_dup(&key))) return lab_err(c->e, LAB_ENOMEM, "%s: out of memory", c->name);
    for (size_t i = 0; i < idx; i++)
        if (!strcmp(g->kv[i].key, kv->key))
            return lab_err(c->e, LAB_EFORMAT, "%s: duplicate key '%s'", c->name, kv->key);
    uint32_t t = 0;
    if (cur_u32(c, &t, "value type")) return -1;
    if (t >= GGUF_TYPE_COUNT)
        return lab_err(c->e, LAB_EFORMAT, "%s: key '%s' has unknown value type %u", c->name, kv->key, t);
    kv->type = (GgufType)t;
    kv->n = 1;
    if (kv->type == GGUF_TYPE_STRING) return cur_str(c, &kv->str, kv->key);
    if (kv->type != GGUF_TYPE_ARRAY) {
        kv->data = c->p + c->pos;
        return cur_read(c, &(uint64_t){0}, gguf_type_size(kv->type), kv->key);
    }
    uint32_t at = 0;
    uint64_t n = 0;
    if (cur_u32(c, &at, kv->key) || cur_u64(c, &n, kv->key)) return -1;
    if (at >= GGUF_TYPE_COUNT || at == GGUF_TYPE_ARRAY)
        return lab_err(c->e, LAB_EFORMAT, "%s: key '%s': array of %s type %u", c->name, kv->key,
                       at == GGUF_TYPE_ARRAY ? "nested array" : "unknown", at);
    kv->arr_type = (GgufType)at;
    kv->n = n;
    kv->data = c->p + c->pos;
    if (kv->arr_type != GGUF_TYPE_STRING) {
        size_t es = gguf_type_size(kv->arr_type);
        if (n > cur_left(c) / es)
            return lab_err(c->e, LAB_EFORMAT, "%s: key '%s': array of %llu %s exceeds the %zu bytes left", c->name,
                           kv->key, (unsigned long long)n, gguf_type_name(kv->arr_type), cur_left(c));
        c->pos += (size_t)n * es;
        return 0;
    }
    /* every string takes at least its 8-byte length: bounds the allocation by the file */
    if (n > cur_left(c) / 8)
        return lab_err(c->e, LAB_EFORMAT, "%s: key '%s': array of %llu strings exceeds the %zu bytes left", c->name,
                       kv->key, (unsigned long long)n, cur_left(c));
    if (n && !(kv->strs = malloc((size_t)n * sizeof *kv->strs)))
        return lab_err(c->e, LAB_ENOMEM, "%s: out of memory", c->name);
    for (size_t i = 0; i < n; i++)
        if (cur_str(c, &kv->strs[i], kv->key)) return -1;
    return 0;
}

static int parse_tensor_info(Cur *c, GgufFile *g, GgufTensor *t, size_t idx) {
    GgufStr name;
    char what[64];
    snprintf(what, sizeof what, "name of tensor %zu", idx);
    if (cur_str(c, &name, what)) return -1;
    if (name.len == 0) return lab_err(c->e, LAB_EFORMAT, "%s: tensor %zu has an empty name", c->name, idx);
    if (name.len >= GGUF_MAX_NAME)
        return lab_err(c->e, LAB_EFORMAT, "%s: tensor %zu: name of %zu bytes is too long (limit %d)", c->name, idx,
                       name.len, GGUF_MAX_NAME - 1);
    if (memchr(name.s, 0, name.len))
        return lab_err(c->e, LAB_EFORMAT, "%s: tensor %zu: name contains a NUL byte", c->name, idx);
    if (!(t->name = str_dup(&name))) return lab_err(c->e, LAB_ENOMEM, "%s: out of memory", c->name);
    for (size_t i = 0; i < idx; i++)
        if (!strcmp(g->tensors[i].name, t->name))
            return lab_err(c->e, LAB_EFORMAT, "%s: duplicate tensor name '%s'", c->name, t->name);
    uint32_t nd;
    if (cur_u32(c, &nd, t->name)) return -1;
    if (nd == 0 || nd > GGUF_MAX_DIMS)
        return lab_err(c->e, LAB_EFORMAT, "%s: tensor '%s' has %u dimensions (1 to %d allowed)", c->name, t->name, nd,
                       GGUF_MAX_DIMS);
    t->n_dims = (int)nd;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    uint64_t prod = 1;
    for (uint32_t d = 0; d < nd; d++) {
        if (cur_u64(c, &t->ne[d], t->name)) return -1;
        /* ggml keeps ne in int64_t: every dimension and their product must fit */
        if (t->ne[d] == 0 || t->ne[d] > INT64_MAX)
            return lab_err(c->e, LAB_EFORMAT, "%s: tensor '%s': dimension %u is %llu", c->name, t->name, d,
                           (unsigned long long)t->ne[d]);
        if (__builtin_mul_overflow(prod, t->ne[d], &prod) || prod > INT64_MAX)
            return lab_err(c->e, LAB_EFORMAT, "%s: tensor '%s': the product of its dimensions overflows", c->name,
                           t->name);
    }
    t->n_elems = prod;
    uint32_t type;
    if (cur_u32(c, &type, t->name) || cur_u64(c, &t->offset, t->name)) return -1;
    if (!ggml_type_name((int)type))
        return lab_err(c->e, LAB_EFORMAT, "%s: tensor '%s' has unknown type %u", c->name, t->name, type);
    t->type = (int)type;
    if (t->ne[0] % ggml_blck_size(t->type))
        return lab_err(c->e, LAB_EFORMAT, "%s: tensor '%s': row of %llu is not a multiple of %s's block size %zu",
                       c->name, t->name, (unsigned long long)t->ne[0], ggml_type_name(t->type),
                       ggml_blck_size(t->type));
    if (ggml_row_size(t->type, prod, &t->nbytes))
        return lab_err(c->e, LAB_EFORMAT, "%s: tensor '%s': its size in bytes overflows", c->name, t->name);
    if (t->offset % g->alignment)
        return lab_err(c->e, LAB_EFORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %zu",
                       c->name, t->name, (unsigned long long)t->offset, g->alignment);
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const GgufTensor *x = *(const GgufTensor *const *)a, *y = *(const GgufTensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Tensors must lie inside the data section and must not overlap. */
static int check_tensor_layout(GgufFile *g, const uint8_t *base, size_t size, LabErr *e) {
    size_t data_size = size - g->data_offset;
    for (size_t i = 0; i < g->n_tensors; i++) {
        GgufTensor *t = &g->tensors[i];
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return lab_err(e, LAB_EFORMAT,
                           "%s: tensor '%s' (offset %llu, %zu bytes) ends past the end of the data (%zu bytes)",
                           g->name, t->name, (unsigned long long)t->offset, t->nbytes, data_size);
        t->data = base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return 0;
    GgufTensor **order = malloc(g->n_tensors * sizeof *order);
    if (!order) return lab_err(e, LAB_ENOMEM, "%s: out of memory", g->name);
    for (size_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, cmp_by_offset);
    int rc = 0;
    for (size_t i = 1; i < g->n_tensors && !rc; i++)
        if (order[i]->offset < order[i - 1]->offset + order[i - 1]->nbytes)
            rc = lab_err(e, LAB_EFORMAT, "%s: tensors '%s' and '%s' overlap (offsets %llu+%zu and %llu)", g->name,
                         order[i - 1]->name, order[i]->name, (unsigned long long)order[i - 1]->offset,
                         order[i - 1]->nbytes, (unsigned long long)order[i]->offset);
    free(order);
    return rc;
}

int gguf_parse(GgufFile **out, const void *data, size_t size, const char *name, LabErr *e) {
    *out = NULL;
    GgufFile *g = calloc(1, sizeof *g);
    if (!g) return lab_err(e, LAB_ENOMEM, "%s: out of memory", name);
    g->name = name;
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    Cur c = {data, size, 0, name, e};
    char magic[4];
    uint64_t n_tensors, n_kv;
    if (cur_read(&c, magic, 4, "magic")) goto fail;
    if (memcmp(magic, GGUF_MAGIC, 4)) {
        lab_err(e, LAB_EFORMAT, "%s: not a GGUF file (magic %02x %02x %02x %02x, expected \"GGUF\")", name,
                (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
        goto fail;
    }
    if (cur_u32(&c, &g->version, "version")) goto fail;
    if (g->version == 0 || g->version > GGUF_VERSION || (g->version & 0xffff) == 0) {
        lab_err(e, LAB_EFORMAT, "%s: GGUF version %u is not valid (this reader knows 2 and 3)", name, g->version);
        goto fail;
    }
    if (g->version == 1) {
        lab_err(e, LAB_EUNSUPPORTED, "%s: GGUF version 1 (32-bit counts) is no longer supported", name);
        goto fail;
    }
    if (cur_u64(&c, &n_tensors, "tensor count") || cur_u64(&c, &n_kv, "key-value count")) goto fail;
    /* a key-value pair takes at least 8 (key length) + 1 (key) + 4 (type) + 1 bytes; a tensor info
     * at least 8 + 1 + 4 + 8 + 4 + 8: counts past what the rest of the file can hold are lies */
    if (n_kv > cur_left(&c) / 14) {
        lab_err(e, LAB_EFORMAT, "%s: key-value count %llu cannot fit in the %zu bytes left", name,
                (unsigned long long)n_kv, cur_left(&c));
        goto fail;
    }
    if (n_tensors > cur_left(&c) / 33) {
        lab_err(e, LAB_EFORMAT, "%s: tensor count %llu cannot fit in the %zu bytes left", name,
                (unsigned long long)n_tensors, cur_left(&c));
        goto fail;
    }
    if (n_kv && !(g->kv = calloc((size_t)n_kv, sizeof *g->kv))) goto nomem;
    for (size_t i = 0; i < n_kv; i++) {
        g->n_kv = i + 1;
        if (parse_kv(&c, g, &g->kv[i], i)) goto fail;
    }
    const GgufKV *al = gguf_find_kv(g, "general.alignment");
    if (al) {
        uint32_t a;
        if (al->type != GGUF_TYPE_UINT32) {
            lab_err(e, LAB_EFORMAT, "%s: general.alignment has type %s, expected u32", name, gguf_type_name(al->type));
            goto fail;
        }
        memcpy(&a, al->data, 4);
        if (a == 0 || (a & (a - 1))) {
            lab_err(e, LAB_EFORMAT, "%s: general.alignment %u is not a power of two", name, a);
            goto fail;
        }
        g->alignment = a;
    }
    if (n_tensors > cur_left(&c) / 33) {
        lab_err(e, LAB_EFORMAT, "%s: tensor count %llu cannot fit in the %zu bytes left", name,
                (unsigned long long)n_tensors, cur_left(&c));
        goto fail;
    }
    if (n_tensors && !(g->tensors = calloc((size_t)n_tensors, sizeof *g->tensors))) goto nomem;
    for (size_t i = 0; i < n_tensors; i++) {
        g->n_tensors = i + 1;
        if (parse_tensor_info(&c, g, &g->tensors[i], i)) goto fail;
    }
    /* the data section starts at the next multiple of the alignment */
    size_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    if (n_tensors && pad > cur_left(&c)) {
        lab_err(e, LAB_EFORMAT, "%s: truncated file: the data section (after %zu bytes of padding) is missing",
                name, pad);
        goto fail;
    }
    g->data_offset = n_tensors ? c.pos + pad : c.pos;
    if (check_tensor_layout(g, data, size, e)) goto fail;
    *out = g;
    return 0;
nomem:
    lab_err(e, LAB_ENOMEM, "%s: out of memory", name);
fail:
    gguf_close(g);
    return -1;
}

int gguf_open(GgufFile **out, const char *path, LabErr *e) {
    *out = NULL;
    MappedFile mf = {0};
    if (mapped_open(&mf, path, e)) return -1;
    GgufFile *g;
    if (gguf_parse(&g, mf.data, mf.size, mf.path ? mf.path : path, e)) {
        mapped_close(&mf);
        return -1;
    }
    g->mf = mf;
    g->name = g->mf.path ? g->mf.path : path;
    *out = g;
    return 0;
}

/* ---------- typed getters ---------- */
static int kv_int(const GgufKV *kv, int64_t *s, uint64_t *u, bool *is_signed) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; uint64_t u64; int64_t i64; } v;
    if (kv->type == GGUF_TYPE_STRING || kv->type == GGUF_TYPE_ARRAY) return -1;
    memcpy(&v, kv->data, gguf_type_size(kv->type));
    *is_signed = true;
    switch (kv->type) {
    case GGUF_TYPE_UINT8: *s = v.u8; break;
    case GGUF_TYPE_INT8: *s = v.i8; break;
    case GGUF_TYPE_UINT16: *s = v.u16; break;
    case GGUF_TYPE_INT16: *s = v.i16; break;
    case GGUF_TYPE_UINT32: *s = v.u32; break;
    case GGUF_TYPE_INT32: *s = v.i32; break;
    case GGUF_TYPE_INT64: *s = v.i64; break;
    case GGUF_TYPE_UINT64: *u = v.u64; *is_signed = false; break;
    default: return -1;
    }
    return 0;
}

int gguf_get_i64(const GgufFile *g, const char *key, int64_t *v, LabErr *e) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    int64_t s; uint64_t u; bool sg;
    if (kv_int(kv, &s, &u, &sg))
        return lab_err(e, LAB_EFORMAT, "%s: %s has type %s, expected an integer", g->name, key, gguf_type_name(kv->type));
    if (!sg && u > INT64_MAX) return lab_err(e, LAB_ERANGE, "%s: %s = %llu is out of range", g->name, key, (unsigned long long)u);
    *v = sg ? s : (int64_t)u;
    return 0;
}

int gguf_get_u64(const GgufFile *g, const char *key, uint64_t *v, LabErr *e) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    int64_t s; uint64_t u; bool sg;
    if (kv_int(kv, &s, &u, &sg))
        return lab_err(e, LAB_EFORMAT, "%s: %s has type %s, expected an integer", g->name, key, gguf_type_name(kv->type));
    if (sg && s < 0) return lab_err(e, LAB_ERANGE, "%s: %s = %lld is negative", g->name, key, (long long)s);
    *v = sg ? (uint64_t)s : u;
    return 0;
}

int gguf_get_f32(const GgufFile *g, const char *key, float *v, LabErr *e) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    if (kv->type == GGUF_TYPE_FLOAT32) {
        memcpy(v, kv->data, 4);
    } else if (kv->type == GGUF_TYPE_FLOAT64) {
        double d;
        memcpy(&d, kv->data, 8);
        *v = (float)d;
    } else {
        return lab_err(e, LAB_EFORMAT, "%s: %s has type %s, expected a float", g->name, key, gguf_type_name(kv->type));
    }
    return 0;
}

int gguf_get_bool(const GgufFile *g, const char *key, bool *v, LabErr *e) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    if (kv->type != GGUF_TYPE_BOOL)
        return lab_err(e, LAB_EFORMAT, "%s: %s has type %s, expected bool", g->name, key, gguf_type_name(kv->type));
    *v = kv->data[0] != 0;
    return 0;
}

int gguf_get_str(const GgufFile *g, const char *key, GgufStr *v, LabErr *e) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    if (kv->type != GGUF_TYPE_STRING)
        return lab_err(e, LAB_EFORMAT, "%s: %s has type %s, expected string", g->name, key, gguf_type_name(kv->type));
    *v = kv->str;
    return 0;
}

int gguf_get_arr(const GgufFile *g, const char *key, GgufType t, const GgufKV **out, LabErr *e) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) return 1;
    if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != t)
        return lab_err(e, LAB_EFORMAT, "%s: %s has type %s%s%s, expected array of %s", g->name, key,
                       gguf_type_name(kv->type), kv->type == GGUF_TYPE_ARRAY ? " of " : "",
                       kv->type == GGUF_TYPE_ARRAY ? gguf_type_name(kv->arr_type) : "", gguf_type_name(t));
    *out = kv;
    return 0;
}

/* ---------- writer ---------- */
typedef struct {
    char *name;
    int type, n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    size_t nbytes, offset;
    const void *data;
} WTensor;

struct GgufWriter {
    size_t alignment;
    Buf kv;              /* serialized key-value pairs */
    size_t n_kv;
    char **keys;
    WTensor *t;
    size_t n_t, cap_t, data_size;
};

GgufWriter *gguf_writer_new(size_t alignment) {
    GgufWriter *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->alignment = alignment ? alignment : GGUF_DEFAULT_ALIGNMENT;
    if (gguf_w_u32(w, "general.alignment", (uint32_t)w->alignment, NULL)) {
        gguf_writer_free(w);
        return NULL;
    }
    return w;
}

void gguf_writer_free(GgufWriter *w) {
    if (!w) return;
    buf_free(&w->kv);
    for (size_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->t);
    free(w);
}

static int w_u32(Buf *b, uint32_t v) { return buf_append(b, &v, 4); }
static int w_u64(Buf *b, uint64_t v) { return buf_append(b, &v, 8); }
static int w_bytes_str(Buf *b, const char *s, size_t n) { return w_u64(b, n) || buf_append(b, s, n); }

static int w_key(GgufWriter *w, const char *key, GgufType t, LabErr *e) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return lab_err(e, LAB_EINVAL, "gguf writer: duplicate key '%s'", key);
    char **k = realloc(w->keys, (w->n_kv + 1) * sizeof *k);
    if (!k) return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    w->keys = k;
    if (!(k[w->n_kv] = strdup(key))) return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    w->n_kv++;
    if (w_bytes_str(&w->kv, key, strlen(key)) || w_u32(&w->kv, t))
        return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    return 0;
}

static int w_scalar(GgufWriter *w, const char *key, GgufType t, const void *v, LabErr *e) {
    if (w_key(w, key, t, e)) return -1;
    return buf_append(&w->kv, v, gguf_type_size(t)) ? lab_err(e, LAB_ENOMEM, "gguf writer: out of memory") : 0;
}
int gguf_w_u32(GgufWriter *w, const char *key, uint32_t v, LabErr *e) { return w_scalar(w, key, GGUF_TYPE_UINT32, &v, e); }
int gguf_w_i32(GgufWriter *w, const char *key, int32_t v, LabErr *e) { return w_scalar(w, key, GGUF_TYPE_INT32, &v, e); }
int gguf_w_f32(GgufWriter *w, const char *key, float v, LabErr *e) { return w_scalar(w, key, GGUF_TYPE_FLOAT32, &v, e); }
int gguf_w_bool(GgufWriter *w, const char *key, bool v, LabErr *e) {
    uint8_t b = v;
    return w_scalar(w, key, GGUF_TYPE_BOOL, &b, e);
}

int gguf_w_str(GgufWriter *w, const char *key, const char *s, size_t len, LabErr *e) {
    if (w_key(w, key, GGUF_TYPE_STRING, e)) return -1;
    return w_bytes_str(&w->kv, s, len) ? lab_err(e, LAB_ENOMEM, "gguf writer: out of memory") : 0;
}

int gguf_w_arr(GgufWriter *w, const char *key, GgufType t, const void *p, size_t n, LabErr *e) {
    size_t es = gguf_type_size(t), bytes;
    if (!es) return lab_err(e, LAB_EINVAL, "gguf writer: %s: arrays of %s need gguf_w_arr_str", key, gguf_type_name(t));
    if (!size_mul_ok(n, es, &bytes)) return lab_err(e, LAB_ERANGE, "gguf writer: %s: array too large", key);
    if (w_key(w, key, GGUF_TYPE_ARRAY, e)) return -1;
    if (w_u32(&w->kv, t) || w_u64(&w->kv, n) || buf_append(&w->kv, p, bytes))
        return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    return 0;
}

int gguf_w_arr_str(GgufWriter *w, const char *key, const char *const *s, const size_t *lens, size_t n, LabErr *e) {
    if (w_key(w, key, GGUF_TYPE_ARRAY, e)) return -1;
    if (w_u32(&w->kv, GGUF_TYPE_STRING) || w_u64(&w->kv, n)) return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    for (size_t i = 0; i < n; i++)
        if (w_bytes_str(&w->kv, s[i], lens ? lens[i] : strlen(s[i])))
            return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    return 0;
}

int gguf_w_kv(GgufWriter *w, const GgufKV *kv, LabErr *e) {
    switch (kv->type) {
    case GGUF_TYPE_STRING: return gguf_w_str(w, kv->key, kv->str.s, kv->str.len, e);
    case GGUF_TYPE_ARRAY:
        if (kv->arr_type != GGUF_TYPE_STRING) return gguf_w_arr(w, kv->key, kv->arr_type, kv->data, (size_t)kv->n, e);
        if (w_key(w, kv->key, GGUF_TYPE_ARRAY, e)) return -1;
        if (w_u32(&w->kv, GGUF_TYPE_STRING) || w_u64(&w->kv, kv->n)) return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
        for (size_t i = 0; i < kv->n; i++)
            if (w_bytes_str(&w->kv, kv->strs[i].s, kv->strs[i].len))
                return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
        return 0;
    default: return w_scalar(w, kv->key, kv->type, kv->data, e);
    }
}

static size_t pad_to(size_t x, size_t a) { return (x + a - 1) / a * a; }

int gguf_w_tensor(GgufWriter *w, const char *name, int type, int n_dims, const uint64_t *ne, const void *data,
                  LabErr *e) {
    if (strlen(name) >= GGUF_MAX_NAME) return lab_err(e, LAB_EINVAL, "gguf writer: tensor name '%s' is too long", name);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) return lab_err(e, LAB_EINVAL, "gguf writer: %s: %d dimensions", name, n_dims);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return lab_err(e, LAB_EINVAL, "gguf writer: duplicate tensor '%s'", name);
    WTensor t = {.type = type, .n_dims = n_dims, .data = data};
    uint64_t n = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (!t.ne[d] || __builtin_mul_overflow(n, t.ne[d], &n))
            return lab_err(e, LAB_ERANGE, "gguf writer: %s: bad dimensions", name);
    }
    if (!ggml_type_name(type) || ne[0] % ggml_blck_size(type) || ggml_row_size(type, n, &t.nbytes))
        return lab_err(e, LAB_EINVAL, "gguf writer: %s: shape does not fit type %d", name, type);
    t.offset = pad_to(w->data_size, w->alignment);
    if (!size_add_ok(t.offset, t.nbytes, &w->data_size)) return lab_err(e, LAB_ERANGE, "gguf writer: too much data");
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        WTensor *nt = realloc(w->t, cap * sizeof *nt);
        if (!nt) return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
        w->t = nt;
        w->cap_t = cap;
    }
    if (!(t.name = strdup(name))) return lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    w->t[w->n_t++] = t;
    return 0;
}

static int w_layer(const char *name) {
    int l = -1;
    if (sscanf(name, "blk.%d.", &l) != 1) l = -1;
    return l;
}

static int w_tensor_cmp(const void *a, const void *b) {
    const WTensor *x = a, *y = b;
    int lx = w_layer(x->name), ly = w_layer(y->name);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->name, y->name);
}

void gguf_w_sort_tensors(GgufWriter *w) {
    if (!w || !w->n_t) return;
    qsort(w->t, w->n_t, sizeof *w->t, w_tensor_cmp);
    size_t off = 0; /* the same total as when added: only the order of the padded pieces moves */
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = pad_to(off, w->alignment);
        off = w->t[i].offset + w->t[i].nbytes;
    }
    w->data_size = off;
}

static const char zeros[256];

/* The header: magic, counts, key/values, tensor infos, padded to the alignment. -1 when out of memory. */
static int w_header(const GgufWriter *w, Buf *h) {
    if (buf_append(h, GGUF_MAGIC, 4) || w_u32(h, GGUF_VERSION) || w_u64(h, w->n_t) || w_u64(h, w->n_kv) ||
        buf_append(h, w->kv.data ? w->kv.data : "", w->kv.len))
        return -1;
    for (size_t i = 0; i < w->n_t; i++) {
        const WTensor *t = &w->t[i];
        if (w_bytes_str(h, t->name, strlen(t->name)) || w_u32(h, (uint32_t)t->n_dims)) return -1;
        for (int d = 0; d < t->n_dims; d++)
            if (w_u64(h, t->ne[d])) return -1;
        if (w_u32(h, (uint32_t)t->type) || w_u64(h, t->offset)) return -1;
    }
    size_t pad = pad_to(h->len, w->alignment) - h->len;
    while (pad) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        if (buf_append(h, zeros, k)) return -1;
        pad -= k;
    }
    return 0;
}

int gguf_w_size(const GgufWriter *w, size_t *out, LabErr *e) {
    Buf h = {0};
    int rc = w_header(w, &h);
    if (rc) lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
    else if (!size_add_ok(h.len, w->data_size, out)) rc = lab_err(e, LAB_ERANGE, "gguf writer: too much data");
    buf_free(&h);
    return rc;
}

int gguf_w_write(GgufWriter *w, const char *path, LabErr *e) {
    Buf h = {0};
    int rc = -1;
    char *tmp = NULL;
    FILE *f = NULL;
    if (w_header(w, &h)) goto nomem;
    if (!(tmp = malloc(strlen(path) + 5))) goto nomem;
    sprintf(tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "wb"))) {
        lab_err(e, LAB_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    size_t pos = 0;
    bool ok = fwrite(h.data, 1, h.len, f) == h.len;
    for (size_t i = 0; i < w->n_t && ok; i++) {
        const WTensor *t = &w->t[i];
        for (size_t p = t->offset - pos; p && ok;) {
            size_t k = p < sizeof zeros ? p : sizeof zeros;
            ok = fwrite(zeros, 1, k, f) == k;
            p -= k;
        }
        ok = ok && fwrite(t->data, 1, t->nbytes, f) == t->nbytes;
        pos = t->offset + t->nbytes;
    }
    if (fclose(f) || !ok) {
        f = NULL;
        lab_err(e, LAB_EIO, "%s: write failed: %s", tmp, strerror(errno));
        remove(tmp);
        goto out;
    }
    f = NULL;
    if (rename(tmp, path)) {
        lab_err(e, LAB_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    lab_err(e, LAB_ENOMEM, "gguf writer: out of memory");
out:
    if (f) fclose(f);
    free(tmp);
    buf_free(&h);
    return rc;
}
