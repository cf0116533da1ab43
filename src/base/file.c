#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int mapped_open(MappedFile *mf, const char *path, LabErr *e) {
    memset(mf, 0, sizeof *mf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lab_err(e, LAB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return lab_err(e, LAB_EIO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lab_err(e, LAB_EIO, "%s: not a regular file", path);
    }
    mf->path = strdup(path);
    if (!mf->path) {
        close(fd);
        return lab_err(e, LAB_ENOMEM, "%s: out of memory", path);
    }
    mf->size = (size_t)st.st_size;
    if (mf->size > 0) {
        void *p = mmap(NULL, mf->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            close(fd);
            free(mf->path);
            mf->path = NULL;
            return lab_err(e, LAB_EIO, "%s: cannot map %zu bytes: %s", path, (size_t)st.st_size, strerror(err));
        }
        mf->data = p;
    }
    close(fd);
    return 0;
}

void mapped_close(MappedFile *mf) {
    if (!mf) return;
    if (mf->data) munmap(mf->data, mf->size);
    free(mf->path);
    memset(mf, 0, sizeof *mf);
}

int file_read_all(const char *path, size_t limit, char **out, size_t *len, LabErr *e) {
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lab_err(e, LAB_EIO, "%s: cannot open: %s", path, strerror(errno));
    Buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (limit && b.len + n > limit) {
            fclose(f);
            buf_free(&b);
            return lab_err(e, LAB_EFORMAT, "%s: larger than the %zu-byte limit", path, limit);
        }
        if (buf_append(&b, chunk, n)) {
            fclose(f);
            buf_free(&b);
            return lab_err(e, LAB_ENOMEM, "%s: out of memory", path);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        buf_free(&b);
        return lab_err(e, LAB_EIO, "%s: read error", path);
    }
    if (len) *len = b.len;
    *out = buf_steal(&b);
    return 0;
}

int file_exists(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) return 2;
    return S_ISREG(st.st_mode) ? 1 : 0;
}

int mkdir_p(const char *dir, LabErr *e) {
    char *p = strdup(dir);
    if (!p) return lab_err(e, LAB_ENOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            int err = errno;
            lab_err(e, LAB_EIO, "%s: cannot create folder: %s", p, strerror(err));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0700) != 0 && errno != EEXIST) rc = lab_err(e, LAB_EIO, "%s: cannot create folder: %s", p, strerror(errno));
    free(p);
    return rc;
}

char *path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

char *path_dirname(const char *p) {
    const char *s = strrchr(p, '/');
    if (!s) return strdup(".");
    if (s == p) return strdup("/");
    return strndup(p, (size_t)(s - p));
}

const char *path_basename(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}
