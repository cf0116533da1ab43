/* Private to engine/: safetensors files and sharded folders, read by the reference rules
 * (huggingface/safetensors): 8-byte little-endian header length N, N <= 100 MB and inside the
 * file, a JSON object starting with '{', each tensor {dtype, shape, data_offsets [begin, end]}
 * with end - begin = product(shape) * dtype size, offsets inside the data, tensors covering the
 * data exactly (no gaps, no overlaps). Data stays memory-mapped. */
#ifndef ABLAB_SAFETENSORS_H
#define ABLAB_SAFETENSORS_H

#include "formats.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER ((size_t)100 * 1000 * 1000)

typedef struct {
    char *name;
    char dtype[8];          /* as in the file: "F32", "BF16", ... */
    int n_dims;
    int64_t shape[ST_MAX_DIMS];
    size_t n_elems;
    const void *data;       /* inside the mapping */
    size_t nbytes;
    const char *file;       /* base name of the file holding it (for messages) */
} StTensor;

typedef struct {
    StTensor *t;            /* sorted by name */
    size_t n;
} StSet;

/* Reads one safetensors file mapped by the model (the mapping lives as long as m) and appends its
 * tensors to set. -1 with e naming the file and the tensor. */
int  st_read_file(EngModel *m, const char *path, StSet *set, LabErr *e);
/* Reads model.safetensors or the shards listed in model.safetensors.index.json in dir. */
int  st_read_dir(EngModel *m, const char *dir, StSet *set, LabErr *e);
/* Sorts by name and refuses duplicates. */
int  st_finish(StSet *set, LabErr *e);
const StTensor *st_find(const StSet *set, const char *name);
void st_free(StSet *set);                               /* NULL-safe */
/* The engine dtype of a tensor, or -1 for dtypes the engine cannot use (I64, F64, ...). */
int  st_engine_dtype(const StTensor *t);

#endif
