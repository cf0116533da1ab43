/* GGUF v3 files (private to engine/): a reader that checks every number in the header against the
 * file as ggml's gguf reader does, and a writer.
 *
 * Reader: the file is memory-mapped; keys and tensor names are copied (NUL-terminated), string
 * values, array contents and tensor data point into the mapping and stay valid until gguf_close.
 * GGUF strings are not NUL-terminated: use the length that comes with them. */
#ifndef ABLAB_GGUF_H
#define ABLAB_GGUF_H

#include "engine.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64            /* ggml's GGML_MAX_NAME: names are shorter than this */

typedef enum {
    GGUF_TYPE_UINT8 = 0, GGUF_TYPE_INT8 = 1, GGUF_TYPE_UINT16 = 2, GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4, GGUF_TYPE_INT32 = 5, GGUF_TYPE_FLOAT32 = 6, GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9, GGUF_TYPE_UINT64 = 10, GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12, GGUF_TYPE_COUNT
} GgufType;

/* ggml tensor types (the numbers are the file format's). */
typedef enum {
    GGML_TYPE_F32 = 0, GGML_TYPE_F16 = 1, GGML_TYPE_Q4_0 = 2, GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6, GGML_TYPE_Q5_1 = 7, GGML_TYPE_Q8_0 = 8, GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10, GGML_TYPE_Q3_K = 11, GGML_TYPE_Q4_K = 12, GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14, GGML_TYPE_Q8_K = 15, GGML_TYPE_BF16 = 30, GGML_TYPE_COUNT = 40
} GgmlType;

/* Name ("f32", "q8_0", ...) of a ggml type; NULL if the number is no known type. */
const char *ggml_type_name(int type);
/* Block size (weights per block) and bytes per block; 0 if unknown. */
size_t ggml_blck_size(int type);
size_t ggml_type_size(int type);
/* Bytes of a row of n weights: -1 if n is not a multiple of the block size or overflows. */
int ggml_row_size(int type, uint64_t n, size_t *out);

typedef struct { const char *s; size_t len; } GgufStr;  /* points into the mapping */

typedef struct {
    char *key;                 /* NUL-terminated copy */
    GgufType type;
    GgufType arr_type;         /* for arrays */
    uint64_t n;                /* array length (1 for scalars) */
    const uint8_t *data;       /* scalar value, or first array element (not for strings) */
    GgufStr str;               /* string value */
    GgufStr *strs;             /* string arrays: n entries (owned) */
} GgufKV;

typedef struct {
    char *name;                /* NUL-terminated copy */
    int type;                  /* GgmlType */
    int n_dims;
    uint64_t ne[GGUF_MAX_DIMS];/* ne[0] is the fastest-varying (row length); unused dims are 1 */
    uint64_t n_elems;
    uint64_t offset;           /* from the start of the data section */
    size_t nbytes;
    const void *data;          /* into the mapping */
} GgufTensor;

typedef struct {
    MappedFile mf;             /* empty when parsed from memory */
    const char *name;          /* for messages (the file's path) */
    uint32_t version;
    size_t alignment;
    size_t n_kv, n_tensors;
    GgufKV *kv;
    GgufTensor *tensors;
    size_t data_offset;        /* start of the tensor data section in the file */
} GgufFile;

/* Opens and checks a GGUF file. On error *out is NULL and e names the file and the field. */
int  gguf_open(GgufFile **out, const char *path, LabErr *e);
/* Checks a GGUF image in memory (data must outlive the GgufFile); name is used in messages. */
int  gguf_parse(GgufFile **out, const void *data, size_t size, const char *name, LabErr *e);
void gguf_close(GgufFile *g);                                     /* NULL-safe */

const GgufKV *gguf_find_kv(const GgufFile *g, const char *key);   /* NULL if absent */
const GgufTensor *gguf_find_tensor(const GgufFile *g, const char *name);
/* Typed getters: 0 found and converted, 1 absent (v untouched), -1 wrong type or value (e filled). */
int gguf_get_u64(const GgufFile *g, const char *key, uint64_t *v, LabErr *e); /* any unsigned/non-negative int */
int gguf_get_i64(const GgufFile *g, const char *key, int64_t *v, LabErr *e);  /* any integer type */
int gguf_get_f32(const GgufFile *g, const char *key, float *v, LabErr *e);    /* float32/64 */
int gguf_get_bool(const GgufFile *g, const char *key, bool *v, LabErr *e);
int gguf_get_str(const GgufFile *g, const char *key, GgufStr *v, LabErr *e);
/* Arrays: the KV if its element type is t, 1 if absent, -1 if another type. */
int gguf_get_arr(const GgufFile *g, const char *key, GgufType t, const GgufKV **kv, LabErr *e);

/* ---------- writer ---------- */
typedef struct GgufWriter GgufWriter;
/* alignment 0 = 32; written as general.alignment (llama.cpp reads it). NULL on ENOMEM. */
GgufWriter *gguf_writer_new(size_t alignment);
void gguf_writer_free(GgufWriter *w);                             /* NULL-safe */
/* Each returns 0 or -1 (e filled: ENOMEM, or a duplicate key/name). */
int gguf_w_u32(GgufWriter *w, const char *key, uint32_t v, LabErr *e);
int gguf_w_i32(GgufWriter *w, const char *key, int32_t v, LabErr *e);
int gguf_w_f32(GgufWriter *w, const char *key, float v, LabErr *e);
int gguf_w_bool(GgufWriter *w, const char *key, bool v, LabErr *e);
int gguf_w_str(GgufWriter *w, const char *key, const char *s, size_t len, LabErr *e);
/* Arrays of fixed-size elements (elem type t, n elements at p, little-endian). */
int gguf_w_arr(GgufWriter *w, const char *key, GgufType t, const void *p, size_t n, LabErr *e);
int gguf_w_arr_str(GgufWriter *w, const char *key, const char *const *s, const size_t *lens, size_t n,
                   LabErr *e);
/* Copies a key-value pair read from another file. */
int gguf_w_kv(GgufWriter *w, const GgufKV *kv, LabErr *e);
/* Adds a tensor; ne[0] is the row length. data must stay valid until gguf_w_write (not copied). */
int gguf_w_tensor(GgufWriter *w, const char *name, int type, int n_dims, const uint64_t *ne,
                  const void *data, LabErr *e);
/* Writes the file (to path.tmp, then renamed). */
int gguf_w_write(GgufWriter *w, const char *path, LabErr *e);
/* The size in bytes of the file gguf_w_write would write now (header, padding, tensor data); reads
 * no tensor data, so tensors added with data NULL count. -1 with e filled when out of memory. */
int gguf_w_size(const GgufWriter *w, size_t *out, LabErr *e);
/* Puts the tensors added so far in the order llama.cpp's model loader keeps them (and
 * llama-quantize writes them): by layer ("blk.N."; others first), then by name. */
void gguf_w_sort_tensors(GgufWriter *w);

#endif
