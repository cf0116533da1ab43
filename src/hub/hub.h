/* src/hub/: fetching a checkpoint from the Hugging Face hub (or a mirror that speaks its API).
 * base + libcurl + jansson only: no engine, database, lab or curses (tools/walls/hub).
 *
 * The hub's layout, as this room relies on it:
 *   GET  ENDPOINT/api/models/REPO/revision/REV   {"id", "sha": the commit REV names now, ...}
 *   GET  ENDPOINT/api/models/REPO/tree/REV   a JSON array of {"type": "file"|"directory", "path",
 *        "size", "oid" (git blob sha1), "lfs": {"oid": SHA256, "size", "pointerSize"}} (lfs only for
 *        files stored in LFS/Xet); paged with a `Link: <URL>; rel="next"` header.
 *   GET  ENDPOINT/REPO/resolve/REV/FILE      the file; for an LFS file a redirect to its storage, the
 *        redirect carrying X-Linked-Etag (the sha256, quoted) and X-Linked-Size.
 * Errors come with an X-Error-Code header (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo).
 * A download goes to FILE.part, resumes with `Range: bytes=N-`, is checked against the size and, for
 * an LFS file, the sha256 the hub gives, and only then is renamed to FILE: a file under its own name
 * is always complete. */
#ifndef ABLAB_HUB_H
#define ABLAB_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "base.h"

/* Where and as whom to ask. Strings are borrowed for the life of the calls that take the struct. */
typedef struct {
    const char *endpoint; /* "https://huggingface.co" or $HF_ENDPOINT; no trailing slash needed */
    const char *token;    /* $HF_TOKEN, sent as `Authorization: Bearer`; NULL for none */
    const char *repo;     /* "owner/name" */
    const char *revision; /* branch, tag or commit; "main" by default */
} HubRepo;

typedef struct {
    char *path;        /* path in the repository, e.g. "model.safetensors" */
    int64_t size;      /* bytes */
    bool lfs;          /* stored in LFS: sha256 below is the hub's */
    char sha256[65];   /* lowercase hex; "" when the hub gives none (small git files) */
    char oid[65];      /* what names this content: sha256 for an LFS file, else the git blob id */
} HubFile;

typedef struct {
    HubFile *v;
    size_t n;
} HubList;

/* The commit REV names now (40 lowercase hex into sha[41]), so that the listing and every download
 * read one snapshot even if a branch moves during the pull. Same errors as hub_list. */
int hub_commit(const HubRepo *r, char sha[41], LabErr *e);

/* Fills `out` with the files (not folders) at the top of REPO@REV. Returns 0, or -1 with e filled:
 * LAB_ENOTFOUND (repository or revision unknown, the message says which), LAB_EINVAL (401/403:
 * gated or private; the message names HF_TOKEN), LAB_EIO (offline, DNS, connection, TLS, HTTP
 * errors), LAB_EFORMAT (a listing that is not the hub's JSON). `out` is the caller's: hub_list_free. */
int hub_list(const HubRepo *r, HubList *out, LabErr *e);
void hub_list_free(HubList *l); /* NULL-safe; leaves l zeroed */

/* Which files of `all` ablab needs: config.json, generation_config.json, the tokenizer files
 * (tokenizer.json, tokenizer_config.json, vocab.json, merges.txt, tokenizer.model,
 * special_tokens_map.json) and the weights: with `include` globs (fnmatch) every file matching one;
 * otherwise every *.safetensors with its index, or, when the repository has no safetensors, one
 * GGUF (the Q4_K_M one where there is one, else Q8_0, else the only one). `sel` gets indexes into
 * all->v, `note` (the caller's, may be NULL) a line saying which GGUF was chosen and how to pick
 * another. Returns 0, or -1 with e filled (LAB_ENOTFOUND: nothing ablab loads, listing what there is;
 * LAB_EINVAL: a glob that matched nothing). */
int hub_select(const HubList *all, const char *const *include, int n_include, IntVec *sel, Buf *note, LabErr *e);

/* Progress of one file: called from hub_download about ten times a second, once with done == -1
 * while the sha256 is checked, and once at the end (done == total). `resumed` is how many bytes
 * were already there from an earlier attempt. */
typedef void (*HubProgressFn)(void *ud, const HubFile *f, int64_t done, int64_t total, int64_t resumed);

typedef enum {
    HUB_GOT = 0,     /* downloaded (or resumed) and verified */
    HUB_HAD,         /* already there under its name: the same content (see hub_download) */
} HubOutcome;

/* Downloads f into dir/f->path (dir must exist) through dir/f->path.part, resuming a .part left by
 * an earlier attempt. A file already under its name with the listed size is kept (HUB_HAD) when
 * `had_oid` (the oid an earlier pull recorded for it, NULL if none) is f->oid, or, for an LFS
 * file, when its sha256 is the hub's; otherwise it is downloaded again (another revision's file
 * of the same size). Returns 0 with *outcome set, or -1 with e filled and nothing under the final
 * name: LAB_EFORMAT for a sha256 or size mismatch (the .part is deleted: a retry starts over),
 * LAB_EFULL for a full disk (the .part is kept for a resume), LAB_EINVAL for 401/403,
 * LAB_ENOTFOUND for 404, LAB_EIO for the network (the .part is kept). */
int hub_download(const HubRepo *r, const HubFile *f, const char *dir, const char *had_oid, HubProgressFn progress,
                 void *ud, HubOutcome *outcome, LabErr *e);

/* Frees what libcurl holds; call once at exit (optional). */
void hub_cleanup(void);

#endif
