/* The models `ablab pull` left under the models directory, for the models screen. A pull writes
 * ablab-pull.json last (through a rename) and removes it when it starts, so a folder holding it has
 * every file it lists; folders without it are pulls under way or interrupted, and are not offered. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "lab.h"

enum { PULL_RECORD_MAX = 1 << 20 };

void lab_pulled_free(LabPulledList *l) {
    if (!l) return;
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Reads dir/ablab-pull.json into *p; false when it is absent or not a record of a pull. */
static bool read_record(const char *dir, const char *name, LabPulled *p) {
    char *rec = path_join(dir, "ablab-pull.json");
    char *text = NULL;
    size_t len = 0;
    LabErr e = {0};
    bool ok = false;
    if (!rec || file_exists(rec) != 1 || file_read_all(rec, PULL_RECORD_MAX, &text, &len, &e)) goto out;
    json_t *o = json_loadb(text, len, 0, NULL);
    json_t *files = json_object_get(o, "files");
    const char *rev = json_string_value(json_object_get(o, "revision"));
    if (json_is_object(o) && json_is_array(files) && rev && strlen(dir) < sizeof p->path) {
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", name);
        snprintf(p->path, sizeof p->path, "%s", dir);
        snprintf(p->revision, sizeof p->revision, "%s", rev);
        p->pulled_at_ms = json_integer_value(json_object_get(o, "pulled_at_ms"));
        size_t i;
        json_t *f;
        json_array_foreach(files, i, f) p->bytes += json_integer_value(json_object_get(f, "size"));
        ok = true;
    }
    json_decref(o);
out:
    free(text);
    free(rec);
    return ok;
}

static int push(LabPulledList *l, size_t *cap, const LabPulled *p, LabErr *e) {
    if (l->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        LabPulled *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return lab_err(e, LAB_ENOMEM, "out of memory listing pulled models");
        l->v = nv;
        *cap = nc;
    }
    l->v[l->n++] = *p;
    return 0;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const LabPulled *)a)->name, ((const LabPulled *)b)->name);
}

int lab_pulled_list(const char *models_dir, LabPulledList *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    DIR *top = opendir(models_dir);
    if (!top) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        return lab_err(e, LAB_EIO, "%s: %s", models_dir, strerror(errno));
    }
    int rc = 0;
    struct dirent *d;
    while (rc == 0 && (d = readdir(top))) {
        if (d->d_name[0] == '.') continue;
        char *owner = path_join(models_dir, d->d_name);
        if (!owner) { rc = lab_err(e, LAB_ENOMEM, "out of memory"); break; }
        LabPulled p;
        if (!is_dir(owner)) {
            /* a stray file: not a model */
        } else if (read_record(owner, d->d_name, &p)) {        /* a legacy repository without an owner */
            rc = push(out, &cap, &p, e);
        } else {
            DIR *sub = opendir(owner);
            struct dirent *s;
            while (rc == 0 && sub && (s = readdir(sub))) {
                if (s->d_name[0] == '.') continue;
                char *dir = path_join(owner, s->d_name);
                char name[LAB_NAME_MAX];
                snprintf(name, sizeof name, "%.60s/%.60s", d->d_name, s->d_name);
                if (!dir) rc = lab_err(e, LAB_ENOMEM, "out of memory");
                else if (is_dir(dir) && read_record(dir, name, &p)) rc = push(out, &cap, &p, e);
                free(dir);
            }
            if (sub) closedir(sub);
        }
        free(owner);
    }
    closedir(top);
    if (rc) {
        lab_pulled_free(out);
        return rc;
    }
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}
