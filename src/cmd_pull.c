/* ablab pull: a checkpoint from the Hugging Face hub into a folder every command loads
 * (src/hub/ does the work; this file is the command line, the folder and the progress bar). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cli.h"
#include "hub.h"

static int run_pull(App *app, int argc, char **argv);

const Command cmd_pull = {
    "pull", "download a checkpoint from the Hugging Face hub (only the files ablab loads)",
    "usage: ablab pull REPO[@REVISION] [--include GLOB]... [--dir DIR]\n"
    "\n"
    "Downloads what ablab loads from REPO (e.g. openai-community/gpt2-xl) at REVISION (a branch, tag\n"
    "or commit; default main): config.json, generation_config.json, the tokenizer files and the\n"
    "weights: every *.safetensors with its index, or, in a repository of GGUF files only, one GGUF\n"
    "(the Q4_K_M one if there is one, else Q8_0).\n"
    "  --include GLOB  take the files matching GLOB (repeatable) as the weights instead, e.g.\n"
    "                  --include '*Q8_0.gguf'; the config and tokenizer files still come.\n"
    "  --dir DIR       where to put them; default $XDG_DATA_HOME/ablab/models/REPO\n"
    "                  (~/.local/share/ablab/models/REPO), where the lab's models screen looks.\n"
    "Each file is written as FILE.part and renamed once its size and (for LFS files) the hub's sha256\n"
    "match: an interrupted pull resumes where it stopped when run again; a corrupt file is deleted.\n"
    "Environment: HF_ENDPOINT (a mirror, default https://huggingface.co); HF_TOKEN (an access token,\n"
    "for gated or private repositories).\n"
    "Example: ablab pull openai-community/gpt2-xl && ablab lab --b ~/.local/share/ablab/models/openai-community/gpt2-xl\n",
    run_pull,
    0,
};

enum { OPT_INCLUDE = 0x1000, OPT_DIR };
enum { PULL_MAX_INCLUDE = 32 };

static const struct option pull_options[] = {
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"dir", required_argument, NULL, OPT_DIR},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *include[PULL_MAX_INCLUDE];
    int n_include;
    const char *dir;
    bool too_many;
} PullArgs;

static int pull_opt(App *app, int opt, const char *arg, void *ud) {
    PullArgs *a = ud;
    switch (opt) {
    case OPT_INCLUDE:
        if (a->n_include == PULL_MAX_INCLUDE) a->too_many = true;
        else a->include[a->n_include++] = arg;
        return 0;
    case OPT_DIR: a->dir = arg; return 0;
    }
    return 1;
}

/* "owner/name" or a legacy "name": letters, digits, '-', '_', '.'; no "." or ".." segments (the
 * name becomes a folder under the models directory). */
static bool repo_name_ok(const char *s, size_t n) {
    int slashes = 0;
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (seg == 0 || (seg == 1 && s[i - 1] == '.') || (seg == 2 && s[i - 1] == '.' && s[i - 2] == '.')) return false;
            if (i < n) slashes++;
            seg = 0;
            continue;
        }
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
        seg++;
    }
    return slashes <= 1 && n <= 200;
}

static void human(int64_t b, char *out, size_t cap) {
    if (b < 1000) snprintf(out, cap, "%lld B", (long long)b);
    else if (b < 1000 * 1000) snprintf(out, cap, "%.1f kB", b / 1e3);
    else if (b < 1000LL * 1000 * 1000) snprintf(out, cap, "%.1f MB", b / 1e6);
    else snprintf(out, cap, "%.2f GB", b / 1e9);
}

typedef struct {
    bool tty;
    double t0;
    int64_t resumed; /* the latest report's: bytes kept from an earlier attempt */
} Progress;

/* On a terminal a bar redrawn in place; otherwise nothing until the file is done (cmd prints a line). */
static void on_progress(void *ud, const HubFile *f, int64_t done, int64_t total, int64_t resumed) {
    Progress *p = ud;
    if (done >= 0) p->resumed = resumed;
    if (!p->tty) return;
    char a[32], b[32];
    if (done < 0) {
        human(total, b, sizeof b);
        fprintf(stderr, "\r\033[K  %-40.40s %s  checking sha256...", f->path, b);
        fflush(stderr);
        return;
    }
    double dt = (now_ms() - p->t0) / 1000.0;
    double rate = dt > 0.2 ? (double)(done - resumed) / dt : 0;
    int pct = total > 0 ? (int)(done * 100 / total) : 100, w = 24, fill = pct * w / 100;
    char bar[32];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '-';
    bar[w] = 0;
    human(done, a, sizeof a);
    human(total, b, sizeof b);
    char r[32];
    human((int64_t)rate, r, sizeof r);
    fprintf(stderr, "\r\033[K  %-40.40s [%s] %3d%%  %s / %s  %s/s", f->path, bar, pct, a, b, r);
    fflush(stderr);
}

/* The folder's record of a finished pull: written last, through a rename, so a folder with it has
 * every file (the lab's models screen lists only such folders). Removed when a pull starts. */
static int write_record(const char *dir, const HubRepo *r, const char *commit, const HubList *all, const IntVec *sel, LabErr *e) {
    json_t *o = json_object(), *files = json_array();
    json_object_set_new(o, "repo", json_string(r->repo));
    json_object_set_new(o, "revision", json_string(r->revision));
    json_object_set_new(o, "commit", json_string(commit));
    json_object_set_new(o, "endpoint", json_string(r->endpoint));
    json_object_set_new(o, "pulled_at_ms", json_integer(wall_time_ms()));
    for (size_t i = 0; i < sel->n; i++) {
        const HubFile *f = &all->v[sel->v[i]];
        json_t *jf = json_object();
        json_object_set_new(jf, "path", json_string(f->path));
        json_object_set_new(jf, "size", json_integer(f->size));
        if (f->sha256[0]) json_object_set_new(jf, "sha256", json_string(f->sha256));
        if (f->oid[0]) json_object_set_new(jf, "oid", json_string(f->oid));
        json_array_append_new(files, jf);
    }
    json_object_set_new(o, "files", files);
    char *rec = path_join(dir, "ablab-pull.json");
    Buf tmp = {0};
    int rc = 0;
    if (!rec || buf_printf(&tmp, "%s.part", rec)) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    else if (json_dump_file(o, tmp.data, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp.data, rec) != 0)
        rc = lab_err(e, errno == ENOSPC ? LAB_EFULL : LAB_EIO, "%s: cannot write (%s)", rec, strerror(errno));
    json_decref(o);
    free(rec);
    buf_free(&tmp);
    return rc;
}

/* The oid an earlier pull's record lists for `path`, or NULL. Valid while `rec` lives. */
static const char *recorded_oid(json_t *rec, const char *path) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(rec, "files"), i, f) {
        const char *p = json_string_value(json_object_get(f, "path"));
        if (p && strcmp(p, path) == 0) return json_string_value(json_object_get(f, "oid"));
    }
    return NULL;
}

static int64_t file_size_or0(const char *dir, const char *name, const char *suffix) {
    Buf p = {0};
    struct stat st;
    int64_t s = 0;
    if (buf_printf(&p, "%s/%s%s", dir, name, suffix) == 0 && stat(p.data, &st) == 0 && S_ISREG(st.st_mode)) s = st.st_size;
    buf_free(&p);
    return s;
}

static int run_pull(App *app, int argc, char **argv) {
    PullArgs a = {0};
    int first = cli_parse(app, &cmd_pull, argc, argv, pull_options, NULL, pull_opt, &a);
    if (first == -3) return EXIT_OK;
    if (first < 0) return first == -2 ? EXIT_USAGE : EXIT_FAIL;
    if (first >= argc) return cli_usage_error(&cmd_pull, "give the repository, e.g. ablab pull openai-community/gpt2-xl");
    if (first + 1 < argc) return cli_usage_error(&cmd_pull, "unexpected argument '%s'", argv[first + 1]);
    if (a.too_many) return cli_usage_error(&cmd_pull, "at most %d --include patterns", PULL_MAX_INCLUDE);

    const char *spec = argv[first], *at = strchr(spec, '@');
    size_t rn = at ? (size_t)(at - spec) : strlen(spec);
    if (!repo_name_ok(spec, rn))
        return cli_usage_error(&cmd_pull, "'%.*s' is not a repository name (owner/name: letters, digits, '-', '_', '.')", (int)rn, spec);
    if (at && !at[1]) return cli_usage_error(&cmd_pull, "'%s': give a revision after '@' (a branch, tag or commit)", spec);

    char *repo = strndup(spec, rn), *dir = NULL;
    const char *env_ep = getenv("HF_ENDPOINT"), *env_tok = getenv("HF_TOKEN");
    HubRepo r = {.endpoint = env_ep && *env_ep ? env_ep : "https://huggingface.co",
                 .token = env_tok && *env_tok ? env_tok : NULL, .repo = repo, .revision = at ? at + 1 : "main"};
    HubList all = {0};
    IntVec sel = {0};
    Buf note = {0};
    json_t *old_rec = NULL;
    int rc = EXIT_FAIL;
    if (!repo) {
        lab_err(&app->err, LAB_ENOMEM, "out of memory");
        goto out;
    }
    if (a.dir) dir = strdup(a.dir);
    else {
        char *models = path_join(app->cfg.data_dir, "models");
        dir = models ? path_join(models, repo) : NULL;
        free(models);
    }
    if (!dir) {
        lab_err(&app->err, LAB_ENOMEM, "out of memory");
        goto out;
    }

    fprintf(stderr, "%s@%s: asking %s for the file list\n", repo, r.revision, r.endpoint);
    /* one snapshot: the listing and every file from the commit the revision names now */
    char commit[41];
    if (hub_commit(&r, commit, &app->err)) goto out;
    HubRepo snap = r;
    snap.revision = commit;
    if (hub_list(&snap, &all, &app->err)) goto out;
    if (hub_select(&all, a.include, a.n_include, &sel, &note, &app->err)) {
        lab_err_prefix(&app->err, "%s@%s", repo, r.revision);
        goto out;
    }
    if (note.len) fprintf(stderr, "%s\n", note.data);

    if (mkdir_p(dir, &app->err)) goto out;
    /* what is still to come, against the free space (a clear stop now beats ENOSPC at 90 %) */
    int64_t total = 0, need = 0;
    for (size_t i = 0; i < sel.n; i++) {
        const HubFile *f = &all.v[sel.v[i]];
        total += f->size;
        if (file_size_or0(dir, f->path, "") == f->size) continue;
        int64_t part = file_size_or0(dir, f->path, ".part");
        need += f->size - (part <= f->size ? part : 0);
    }
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0) {
        int64_t avail = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
        if (need > avail) {
            char n1[32], n2[32];
            human(need, n1, sizeof n1);
            human(avail, n2, sizeof n2);
            lab_err(&app->err, LAB_EFULL, "%s: not enough disk space: the pull needs %s more, %s is free", dir, n1, n2);
            goto out;
        }
    }
    char tot[32];
    human(total, tot, sizeof tot);
    fprintf(stderr, "pulling %zu of the repository's %zu files (%s, commit %.12s) into %s\n", sel.n, all.n, tot, commit, dir);

    char *rec = path_join(dir, "ablab-pull.json");
    if (rec) {
        old_rec = json_load_file(rec, 0, NULL); /* what an earlier pull put here, to keep what is the same */
        unlink(rec); /* the folder is incomplete until this pull ends */
    }
    free(rec);

    Progress pr = {.tty = isatty(STDERR_FILENO)};
    for (size_t i = 0; i < sel.n; i++) {
        const HubFile *f = &all.v[sel.v[i]];
        HubOutcome oc;
        pr.t0 = now_ms();
        pr.resumed = 0;
        int drc = hub_download(&snap, f, dir, recorded_oid(old_rec, f->path), on_progress, &pr, &oc, &app->err);
        if (pr.tty) fprintf(stderr, "\r\033[K");
        if (drc) goto out;
        char sz[32], ra[48];
        human(f->size, sz, sizeof sz);
        double dt = (now_ms() - pr.t0) / 1000.0;
        int64_t had = pr.resumed, got = f->size - had;
        ra[0] = 0;
        if (got >= 1000000 && dt > 0.01) { /* a rate over a few kB says nothing */
            char h[32];
            human((int64_t)((double)got / dt), h, sizeof h);
            snprintf(ra, sizeof ra, ", %s/s", h);
        }
        if (oc == HUB_HAD)
            fprintf(stderr, "  %-40s %10s  already here\n", f->path, sz);
        else if (had > 0 && had < f->size) {
            char h[32];
            human(had, h, sizeof h);
            fprintf(stderr, "  %-40s %10s  resumed after %s%s%s\n", f->path, sz, h, ra, f->lfs ? ", sha256 ok" : "");
        } else
            fprintf(stderr, "  %-40s %10s  done%s%s\n", f->path, sz, ra, f->lfs ? ", sha256 ok" : "");
    }
    if (write_record(dir, &r, commit, &all, &sel, &app->err)) goto out;
    printf("%s\n", dir);
    fprintf(stderr, "pulled %s@%s into %s; try it: ablab generate --model %s --prompt \"Hello\"\n", repo, r.revision, dir, dir);
    rc = EXIT_OK;
out:
    json_decref(old_rec);
    hub_list_free(&all);
    ivec_free(&sel);
    buf_free(&note);
    free(repo);
    free(dir);
    hub_cleanup();
    return rc;
}
