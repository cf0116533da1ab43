#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ablab_config.h"

static CfgKeyInfo KEYS[CFG_NKEYS] = {
    [CFG_MODEL_A] = {"a", "models", "a", "ABLAB_MODEL_A", "model A: HF folder, llama2.c .bin or .gguf"},
    [CFG_MODEL_B] = {"b", "models", "b", "ABLAB_MODEL_B", "model B: HF folder, llama2.c .bin or .gguf"},
    [CFG_DB] = {"db", "lab", "db", "ABLAB_DB", "SQLite database file"},
    [CFG_THREADS] = {"threads", "lab", "threads", "ABLAB_THREADS", "CPU threads for the lab, split between A and B"},
    [CFG_CTX] = {"ctx", "lab", "ctx", NULL, "context length (KV cache) per model"},
    /* CFG_SAMPLING.. are filled from the settings table by keys_init */
    [CFG_BLIND] = {"blind", "lab", "blind", NULL, "hide model names until a vote (true/false)"},
    [CFG_MMAP] = {"mmap", "models", "mmap", "ABLAB_MMAP",
                  "read weights in place from the model files (true/false): less memory, slower decode"},
    [CFG_PACING] = {"pacing", "lab", "pacing", "ABLAB_PACING",
                    "blind mode: together (both answers appear when both are done) or natural (as each is written)"},
};
static char sampling_env[LAB_SAMPLING_N][48];

static void keys_init(void) {
    if (KEYS[CFG_SAMPLING].name) return;
    for (int i = 0; i < LAB_SAMPLING_N; i++) {
        LabSettingInfo in;
        lab_sampling_info(i, &in);
        char *env = sampling_env[i];
        int n = snprintf(env, sizeof sampling_env[i], "ABLAB_%s", in.name);
        for (int j = 6; j < n; j++) env[j] = (char)toupper((unsigned char)env[j]);
        KEYS[CFG_SAMPLING + i] = (CfgKeyInfo){in.name, "sampling", in.flag, env, in.help};
    }
}

bool cfg_key_is_switch(CfgKey k) { return k == CFG_BLIND || k == CFG_MMAP; }

static int parse_bool(const char *v, bool *out) {
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) *out = false;
    else return -1;
    return 0;
}

const CfgKeyInfo *cfg_key_info(CfgKey k) {
    keys_init();
    return (unsigned)k < CFG_NKEYS ? &KEYS[k] : NULL;
}

const char *cfg_source_name(CfgSource s) {
    switch (s) {
    case CFG_DEFAULT: return "default";
    case CFG_FILE: return "config file";
    case CFG_ENV: return "environment";
    case CFG_FLAG: return "command line";
    }
    return "?";
}

int cfg_key_by_flag(const char *flag) {
    keys_init();
    for (int k = 0; k < CFG_NKEYS; k++)
        if (strcmp(KEYS[k].flag, flag) == 0) return k;
    return -1;
}

static char *xdg_dir(const char *var, const char *fallback) {
    const char *v = getenv(var);
    if (v && v[0] == '/') return path_join(v, "ablab");
    const char *home = getenv("HOME");
    if (!home || !*home) home = "/tmp";
    char *base = path_join(home, fallback);
    char *r = base ? path_join(base, "ablab") : NULL;
    free(base);
    return r;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int set_str(char **dst, const char *v) {
    char *p = strdup(v);
    if (!p) return -1;
    free(*dst);
    *dst = p;
    return 0;
}

int cfg_set(AppConfig *c, CfgKey k, const char *v, CfgSource src, const char *detail, LabErr *e) {
    long iv = 0;
    keys_init();
    const char *name = KEYS[k].name;
    if (k >= CFG_SAMPLING && k < CFG_SAMPLING_END) {
        /* the settings table's parse and check, as the settings screen and the lab use them */
        if (lab_sampling_parse(&c->sampling, k - CFG_SAMPLING, v, e)) return detail ? lab_err_prefix(e, "%s", detail) : -1;
        goto done;
    }
#define BAD(range) lab_err(e, LAB_EINVAL, "%s%s%s: '%s' is not a valid value (%s)", detail ? detail : "", detail ? ": " : "", name, v, range)
    switch (k) {
    case CFG_MODEL_A: if (set_str(&c->model_a, v)) goto nomem; break;
    case CFG_MODEL_B: if (set_str(&c->model_b, v)) goto nomem; break;
    case CFG_DB: if (set_str(&c->db, v)) goto nomem; break;
    case CFG_THREADS: if (parse_int(v, 1, 256, &iv)) return BAD("an integer 1..256"); c->threads = (int)iv; break;
    case CFG_CTX: if (parse_int(v, 16, 1 << 20, &iv)) return BAD("an integer 16..1048576"); c->ctx = (int)iv; break;
    case CFG_BLIND: if (parse_bool(v, &c->blind)) return BAD("true or false"); break;
    case CFG_MMAP: if (parse_bool(v, &c->mmap)) return BAD("true or false"); break;
    case CFG_PACING: if (lab_pacing_parse(v, &c->pacing)) return BAD("together or natural"); break;
    default: return lab_err(e, LAB_EINVAL, "unknown configuration key %d", (int)k);
    }
#undef BAD
done:
    c->src[k] = src;
    free(c->src_detail[k]);
    c->src_detail[k] = detail ? strdup(detail) : NULL;
    return 0;
nomem:
    return lab_err(e, LAB_ENOMEM, "out of memory");
}

typedef struct { AppConfig *c; LabErr *e; int failed; } IniCtx;

/* inih as Debian builds it passes no line number to the handler: find the key's line ourselves so
 * errors can say "config.ini:3". */
static int key_line(const char *path, const char *section, const char *name) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024], cur[256] = "";
    int n = 0, found = 0;
    size_t nl = strlen(name);
    while (!found && fgets(line, sizeof line, f)) {
        n++;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end) snprintf(cur, sizeof cur, "%.*s", (int)(end - s - 1), s + 1);
        } else if (strcmp(cur, section) == 0 && strncmp(s, name, nl) == 0) {
            char *t = s + nl;
            while (*t == ' ' || *t == '\t') t++;
            if (*t == '=' || *t == ':') found = n;
        }
    }
    fclose(f);
    return found;
}

static int ini_cb(void *ud, const char *section, const char *name, const char *value) {
    IniCtx *x = ud;
    if (x->failed) return 0;
    int lineno = key_line(x->c->config_path, section, name);
    char detail[1200];
    snprintf(detail, sizeof detail, "%s:%d", x->c->config_path, lineno);
    for (int k = 0; k < CFG_NKEYS; k++) {
        if (strcmp(KEYS[k].section, section) == 0 && strcmp(KEYS[k].name, name) == 0) {
            /* model paths in the file are relative to the file's folder, like most tools do */
            if ((k == CFG_MODEL_A || k == CFG_MODEL_B || k == CFG_DB) && value[0] && value[0] != '/' && value[0] != '~') {
                char *dir = path_dirname(x->c->config_path), *p = dir ? path_join(dir, value) : NULL;
                int rc = p ? cfg_set(x->c, (CfgKey)k, p, CFG_FILE, detail, x->e) : lab_err(x->e, LAB_ENOMEM, "out of memory");
                free(dir);
                free(p);
                if (rc) x->failed = 1;
                return !rc;
            }
            if (cfg_set(x->c, (CfgKey)k, value, CFG_FILE, detail, x->e)) {
                x->failed = 1;
                return 0;
            }
            return 1;
        }
    }
    x->failed = 1;
    lab_err(x->e, LAB_EINVAL, "%s: unknown key '%s' in section [%s] (see `ablab config` for the keys)", detail, name, section);
    return 0;
}

/* ---------- a study file ---------- */

typedef struct { AppConfig *c; const char *path; LabErr *e; int failed; char *name, *prompts; } StudyIni;

static int study_cb(void *ud, const char *section, const char *name, const char *value) {
    StudyIni *x = ud;
    if (x->failed) return 0;
    char detail[1200];
    snprintf(detail, sizeof detail, "%s:%d", x->path, key_line(x->path, section, name));
    if (!strcmp(section, "study") && (!strcmp(name, "name") || !strcmp(name, "prompts"))) {
        char **dst = name[0] == 'n' ? &x->name : &x->prompts;
        char *v = NULL;
        if (name[0] == 'p' && value[0] != '/') { /* relative to the study file, as the config's paths are */
            char *dir = path_dirname(x->path);
            v = dir ? path_join(dir, value) : NULL;
            free(dir);
        } else {
            v = strdup(value);
        }
        if (!v) return x->failed = 1, lab_err(x->e, LAB_ENOMEM, "out of memory"), 0;
        free(*dst);
        *dst = v;
        return 1;
    }
    int key = -1;
    if (!strcmp(section, "study") && !strcmp(name, "blind")) key = CFG_BLIND;
    else if (!strcmp(section, "study") && !strcmp(name, "pacing")) key = CFG_PACING;
    else if (!strcmp(section, "sampling"))
        for (int k = CFG_SAMPLING; k < CFG_SAMPLING_END; k++)
            if (!strcmp(KEYS[k].name, name)) key = k;
    if (key < 0) {
        x->failed = 1;
        lab_err(x->e, LAB_EINVAL, "%s: unknown key '%s' in section [%s] of a study file ([study] name, prompts, blind, "
                                  "pacing; [sampling] the keys of `ablab config`)", detail, name, section);
        return 0;
    }
    char before[128], after[128];
    bool flag = x->c->src[key] == CFG_FLAG;
    char flag_detail[128];
    snprintf(flag_detail, sizeof flag_detail, "%s", x->c->src_detail[key] ? x->c->src_detail[key] : "a flag");
    cfg_format(x->c, (CfgKey)key, before, sizeof before);
    if (cfg_set(x->c, (CfgKey)key, value, CFG_FILE, detail, x->e)) {
        x->failed = 1;
        return 0;
    }
    cfg_format(x->c, (CfgKey)key, after, sizeof after);
    if (flag && strcmp(before, after)) {
        x->failed = 1;
        lab_err(x->e, LAB_EINVAL, "%s: the study file sets %s %s, but %s on the command line says %s; leave the flag out",
                detail, KEYS[key].name, after, flag_detail, before);
        return 0;
    }
    return 1;
}

int cfg_load_study_file(AppConfig *c, const char *path, char **name, char **prompts, LabErr *e) {
    keys_init();
    *name = *prompts = NULL;
    if (file_exists(path) != 1) return lab_err(e, LAB_ENOTFOUND, "%s: no such study file", path);
    StudyIni x = {c, path, e, 0, NULL, NULL};
    int rc = ini_parse(path, study_cb, &x);
    if (!x.failed && rc < 0) x.failed = 1, lab_err(e, LAB_EIO, "%s: cannot read the study file", path);
    if (!x.failed && rc > 0) x.failed = 1, lab_err(e, LAB_EFORMAT, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
    if (!x.failed && !x.prompts) x.failed = 1, lab_err(e, LAB_EINVAL, "%s: a study file needs [study] prompts = FILE", path);
    if (x.failed) {
        free(x.name);
        free(x.prompts);
        return -1;
    }
    *name = x.name;
    *prompts = x.prompts;
    return 0;
}

int cfg_load(AppConfig *c, LabErr *e) {
    keys_init();
    memset(c, 0, sizeof *c);
    c->config_path = getenv("ABLAB_CONFIG") ? strdup(getenv("ABLAB_CONFIG")) : NULL;
    if (!c->config_path) {
        char *d = xdg_dir("XDG_CONFIG_HOME", ".config");
        c->config_path = d ? path_join(d, "config.ini") : NULL;
        free(d);
    }
    c->data_dir = xdg_dir("XDG_DATA_HOME", ".local/share");
    c->state_dir = xdg_dir("XDG_STATE_HOME", ".local/state");
    c->log_path = c->state_dir ? path_join(c->state_dir, "ablab.log") : NULL;
    const char *assets = getenv("ABLAB_ASSETS");
    c->assets_dir = strdup(assets && *assets ? assets : ABLAB_ASSETS_DIR);
    if (!c->config_path || !c->data_dir || !c->state_dir || !c->log_path || !c->assets_dir) return lab_err(e, LAB_ENOMEM, "out of memory");

    char *a = path_join(c->assets_dir, "models/scratch-shakespeare");
    char *b = path_join(c->assets_dir, "models/gpt2-mini");
    char *db = path_join(c->data_dir, "ablab.db");
    c->model_a = a;
    c->model_b = b;
    c->db = db;
    if (!a || !b || !db) return lab_err(e, LAB_ENOMEM, "out of memory");
    c->threads = 2;
    c->ctx = 1024;
    c->sampling = lab_sampling_default(); /* the settings table's */
    c->blind = false;
    c->mmap = false;
    c->pacing = LAB_PACING_TOGETHER;

    if (file_exists(c->config_path) == 1) {
        c->config_file_found = true;
        IniCtx x = {c, e, 0};
        int rc = ini_parse(c->config_path, ini_cb, &x);
        if (x.failed) return -1;
        if (rc < 0) return lab_err(e, LAB_EIO, "%s: cannot read the config file", c->config_path);
        if (rc > 0) return lab_err(e, LAB_EFORMAT, "%s:%d: syntax error (expected [section] or key = value)", c->config_path, rc);
    } else if (getenv("ABLAB_CONFIG")) {
        return lab_err(e, LAB_EIO, "%s: config file named by ABLAB_CONFIG does not exist", c->config_path);
    }
    for (int k = 0; k < CFG_NKEYS; k++) {
        const char *v = KEYS[k].env ? getenv(KEYS[k].env) : NULL;
        if (v && *v && cfg_set(c, (CfgKey)k, v, CFG_ENV, KEYS[k].env, e)) return -1;
    }
    return 0;
}

void cfg_format(const AppConfig *c, CfgKey k, char *out, size_t n) {
    if (k >= CFG_SAMPLING && k < CFG_SAMPLING_END) {
        lab_sampling_format(&c->sampling, k - CFG_SAMPLING, out, n);
        return;
    }
    switch (k) {
    case CFG_MODEL_A: snprintf(out, n, "%s", c->model_a); break;
    case CFG_MODEL_B: snprintf(out, n, "%s", c->model_b); break;
    case CFG_DB: snprintf(out, n, "%s", c->db); break;
    case CFG_THREADS: snprintf(out, n, "%d", c->threads); break;
    case CFG_CTX: snprintf(out, n, "%d", c->ctx); break;
    case CFG_BLIND: snprintf(out, n, "%s", c->blind ? "true" : "false"); break;
    case CFG_MMAP: snprintf(out, n, "%s", c->mmap ? "true" : "false"); break;
    case CFG_PACING: snprintf(out, n, "%s", lab_pacing_name(c->pacing)); break;
    default: snprintf(out, n, "?");
    }
}

void cfg_free(AppConfig *c) {
    if (!c) return;
    free(c->model_a); free(c->model_b); free(c->db);
    free(c->config_path); free(c->data_dir); free(c->state_dir); free(c->log_path); free(c->assets_dir);
    for (int k = 0; k < CFG_NKEYS; k++) free(c->src_detail[k]);
    memset(c, 0, sizeof *c);
}
