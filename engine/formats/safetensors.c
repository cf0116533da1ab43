/* safetensors reader: every number in the header is checked before use (see safetensors.h). */
#include "safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
    {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
};

static size_t st_dtype_size(const char *s) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(st_dtypes[i].name, s)) return st_dtypes[i].size;
    return 0;
}

int st_engine_dtype(const StTensor *t) {
    if (!strcmp(t->dtype, "F32")) return ENG_DT_F32;
    if (!strcmp(t->dtype, "F16")) return ENG_DT_F16;
    if (!strcmp(t->dtype, "BF16")) return ENG_DT_BF16;
    return -1;
}

static int st_push(StSet *set, StTensor *t, LabErr *e) {
    StTensor *nt = realloc(set->t, (set->n + 1) * sizeof *nt);
    if (!nt) return lab_err(e, LAB_ENOMEM, "out of memory");
    set->t = nt;
    set->t[set->n++] = *t;
    return 0;
}

typedef struct { size_t begin, end; const char *name; } Span;

static int span_cmp(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Reads a non-negative JSON integer. */
static bool json_size(const json_t *v, size_t *out) {
    if (!json_is_integer(v)) return false;
    json_int_t x = json_integer_value(v);
    if (x < 0) return false;
    *out = (size_t)x;
    return true;
}

int st_read_file(EngModel *m, const char *path, StSet *set, LabErr *e) {
    const MappedFile *mf = eng_model_map(m, path, e);
    if (!mf) return -1;
    const char *fname = path_basename(mf->path);
    const unsigned char *p = mf->data;
    if (mf->size < 8)
        return lab_err(e, LAB_EFORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", fname,
                       mf->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > ST_MAX_HEADER)
        return lab_err(e, LAB_EFORMAT, "%s: header length %llu exceeds the 100 MB limit", fname,
                       (unsigned long long)hlen);
    if (hlen > mf->size - 8)
        return lab_err(e, LAB_EFORMAT, "%s: header length %llu goes past the end of the file (%zu bytes after the length)",
                       fname, (unsigned long long)hlen, mf->size - 8);
    if (hlen < 2 || p[8] != '{')
        return lab_err(e, LAB_EFORMAT, "%s: header does not start with '{' (not a safetensors file?)", fname);
    const unsigned char *data = p + 8 + hlen;
    size_t data_len = mf->size - 8 - (size_t)hlen;

    /* the reference reads the header as UTF-8 JSON; jansson alone stops at a NUL as if the text
     * ended there, and would take `[621312\0,621568]` */
    const unsigned char *nul = memchr(p + 8, 0, (size_t)hlen);
    if (nul)
        return lab_err(e, LAB_EFORMAT, "%s: header has a NUL byte at offset %zu", fname, (size_t)(nul - p));
    if (!utf8_valid((const char *)p + 8, (size_t)hlen))
        return lab_err(e, LAB_EFORMAT, "%s: header is not valid UTF-8", fname);
    json_error_t je;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) return lab_err(e, LAB_EFORMAT, "%s: header is not valid JSON: %s (column %d)", fname, je.text, je.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return lab_err(e, LAB_EFORMAT, "%s: header is not a JSON object", fname);
    }
    size_t n_obj = json_object_size(root);
    Span *spans = calloc(n_obj ? n_obj : 1, sizeof *spans);
    size_t n_spans = 0;
    size_t first_new = set->n;
    int rc = -1;
    if (!spans) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) continue;
        if (!json_is_object(val)) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s': entry is not an object", fname, key);
            goto done;
        }
        json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"),
               *jo = json_object_get(val, "data_offsets");
        if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s': needs \"dtype\", \"shape\" and two \"data_offsets\"", fname, key);
            goto done;
        }
        StTensor t = {0};
        const char *ds = json_string_value(jd);
        size_t esize = st_dtype_size(ds);
        if (!esize) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s': unknown dtype '%s'", fname, key, ds);
            goto done;
        }
        snprintf(t.dtype, sizeof t.dtype, "%s", ds);
        if (json_array_size(js) > ST_MAX_DIMS) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s': %zu dimensions (at most %d)", fname, key, json_array_size(js),
                    ST_MAX_DIMS);
            goto done;
        }
        t.n_dims = (int)json_array_size(js);
        size_t n_elems = 1;
        for (int d = 0; d < t.n_dims; d++) {
            size_t dim;
            if (!json_size(json_array_get(js, (size_t)d), &dim) || dim > INT64_MAX) {
                lab_err(e, LAB_EFORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", fname, key, d);
                goto done;
            }
            t.shape[d] = (int64_t)dim;
            if (!size_mul_ok(n_elems, dim, &n_elems)) {
                lab_err(e, LAB_ERANGE, "%s: tensor '%s': the product of its shape overflows", fname, key);
                goto done;
            }
        }
        size_t nbytes, begin, end;
        if (!size_mul_ok(n_elems, esize, &nbytes)) {
            lab_err(e, LAB_ERANGE, "%s: tensor '%s': %zu elements of %zu bytes overflow", fname, key, n_elems, esize);
            goto done;
        }
        if (!json_size(json_array_get(jo, 0), &begin) || !json_size(json_array_get(jo, 1), &end)) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s': data_offsets are not non-negative integers", fname, key);
            goto done;
        }
        if (end < begin) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s': data_offsets end %zu is before begin %zu", fname, key, end, begin);
            goto done;
        }
        if (end > data_len) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s' ends past the end of the file (offset %zu > data size %zu)", fname,
                    key, end, data_len);
            goto done;
        }
        if (end - begin != nbytes) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s': %zu bytes in the file but shape x %s needs %zu", fname, key,
                    end - begin, ds, nbytes);
            goto done;
        }
        t.n_elems = n_elems;
        t.nbytes = nbytes;
        t.data = data + begin;
        t.file = fname;
        t.name = strdup(key);
        if (!t.name || st_push(set, &t, e)) {
            free(t.name);
            lab_err(e, LAB_ENOMEM, "out of memory");
            goto done;
        }
        spans[n_spans++] = (Span){begin, end, set->t[set->n - 1].name};
    }
    qsort(spans, n_spans, sizeof *spans, span_cmp);
    size_t at = 0;
    for (size_t i = 0; i < n_spans; i++) {
        if (spans[i].begin < at) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s' overlaps tensor '%s' (begins at %zu, previous ends at %zu)", fname,
                    spans[i].name, spans[i - 1].name, spans[i].begin, at);
            goto done;
        }
        if (spans[i].begin > at) {
            lab_err(e, LAB_EFORMAT, "%s: %zu unused bytes before tensor '%s' (offset %zu)", fname, spans[i].begin - at,
                    spans[i].name, at);
            goto done;
        }
        at = spans[i].end;
    }
    if (at != data_len) {
        lab_err(e, LAB_EFORMAT, "%s: %zu bytes after the last tensor (data ends at %zu, file data is %zu bytes)", fname,
                data_len - at, at, data_len);
        goto done;
    }
    rc = 0;
done:
    if (rc) { /* drop what this file added */
        for (size_t i = first_new; i < set->n; i++) free(set->t[i].name);
        set->n = first_new;
    }
    free(spans);
    json_decref(root);
    return rc;
}

static int st_name_cmp(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

int st_finish(StSet *set, LabErr *e) {
    if (set->n) qsort(set->t, set->n, sizeof *set->t, st_name_cmp);
    for (size_t i = 1; i < set->n; i++)
        if (!strcmp(set->t[i].name, set->t[i - 1].name))
            return lab_err(e, LAB_EFORMAT, "tensor '%s' is in both %s and %s", set->t[i].name, set->t[i - 1].file,
                           set->t[i].file);
    return 0;
}

const StTensor *st_find(const StSet *set, const char *name) {
    StTensor key = {.name = (char *)name};
    if (!set->n) return NULL;
    return bsearch(&key, set->t, set->n, sizeof *set->t, st_name_cmp);
}

void st_free(StSet *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) free(set->t[i].name);
    free(set->t);
    memset(set, 0, sizeof *set);
}

/* Shards: model.safetensors.index.json's weight_map names each tensor's file; every file is read
 * once and every tensor the index names must be in the file it names. */
static int st_read_index(EngModel *m, const char *dir, const char *index_path, StSet *set, LabErr *e) {
    json_t *root = eng_json_read(index_path, 64u << 20, e);
    if (!root) return -1;
    int rc = -1;
    const char **files = NULL;
    size_t n_files = 0;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        lab_err(e, LAB_EFORMAT, "%s: no \"weight_map\" object", index_path);
        goto done;
    }
    files = calloc(json_object_size(wm), sizeof *files);
    if (!files) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        const char *f = json_string_value(val);
        if (!f || !*f || strchr(f, '/') || !strcmp(f, "..")) {
            lab_err(e, LAB_EFORMAT, "%s: weight_map['%s'] is not a file name in the folder", index_path, key);
            goto done;
        }
        bool seen = false;
        for (size_t i = 0; i < n_files && !seen; i++) seen = !strcmp(files[i], f);
        if (!seen) files[n_files++] = f;
    }
    for (size_t i = 0; i < n_files; i++) {
        char *p = path_join(dir, files[i]);
        if (!p) {
            lab_err(e, LAB_ENOMEM, "out of memory");
            goto done;
        }
        int r = st_read_file(m, p, set, e);
        free(p);
        if (r) goto done;
    }
    if (st_finish(set, e)) goto done;
    json_object_foreach(wm, key, val) {
        const StTensor *t = st_find(set, key);
        if (!t) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s' is listed for %s but is not in it", index_path, key,
                    json_string_value(val));
            goto done;
        }
        if (strcmp(t->file, json_string_value(val))) {
            lab_err(e, LAB_EFORMAT, "%s: tensor '%s' is listed for %s but is in %s", index_path, key,
                    json_string_value(val), t->file);
            goto done;
        }
    }
    rc = 0;
done:
    free(files);
    json_decref(root);
    return rc;
}

int st_read_dir(EngModel *m, const char *dir, StSet *set, LabErr *e) {
    char *index = path_join(dir, "model.safetensors.index.json");
    char *single = path_join(dir, "model.safetensors");
    int rc = -1;
    if (!index || !single) {
        lab_err(e, LAB_ENOMEM, "out of memory");
    } else if (file_exists(single) == 1) {
        rc = st_read_file(m, single, set, e);
        if (!rc) rc = st_finish(set, e);
    } else if (file_exists(index) == 1) {
        rc = st_read_index(m, dir, index, set, e);
    } else {
        char *pt = path_join(dir, "pytorch_model.bin");
        bool has_pt = pt && file_exists(pt) == 1;
        free(pt);
        if (has_pt)
            lab_err(e, LAB_EUNSUPPORTED,
                    "%s: only pytorch_model.bin (a pickle) is here; ablab never runs pickles. Convert it once with "
                    "Python: `from transformers import AutoModelForCausalLM; "
                    "AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)`",
                    dir);
        else
            lab_err(e, LAB_ENOTFOUND, "%s: no model.safetensors or model.safetensors.index.json", dir);
    }
    free(index);
    free(single);
    return rc;
}
