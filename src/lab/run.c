/* The lab's engine side: loading models (with their hashes and a row in the record), the thread
 * split, and lab_ask's two worker threads that stream pieces and record each response once it is
 * complete. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sys/stat.h>

#include "ablab_config.h"
#include <jansson.h>

#include "chat.h"
#include "engine.h"
#include "lab_internal.h"
#include "remote.h"

/* ---------- hashing model files (remembered by path, size and mtime) ---------- */

static int hash_file(Lab *l, const char *path, char out[65], int64_t *size, LabErr *e) {
    struct stat st;
    if (stat(path, &st) != 0) return lab_err(e, LAB_EIO, "%s: cannot stat", path);
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    *size = (int64_t)st.st_size;
    pthread_mutex_lock(&l->mu);
    int found = db_file_hash_get(l->db, path, *size, mtime, out, e);
    pthread_mutex_unlock(&l->mu);
    if (found < 0) return -1;
    if (found) return 0;
    if (file_sha256(path, out, e)) return -1;
    pthread_mutex_lock(&l->mu);
    LabErr ignore = {0};
    if (db_file_hash_put(l->db, path, *size, mtime, out, &ignore)) LOG_W("%s", ignore.msg); /* only a cache */
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool weight_name(const char *n) {
    size_t k = strlen(n);
    const char *ext[] = {".safetensors", ".gguf", ".bin"};
    for (int i = 0; i < 3; i++) {
        size_t m = strlen(ext[i]);
        if (k > m && strcmp(n + k - m, ext[i]) == 0 && strcmp(n, "tokenizer.bin") != 0) return true;
    }
    return false;
}

/* The weights' sha256: the file's own, or for a folder the sha256 of "NAME HASH\n" lines of its
 * weight files in name order. */
static int hash_weights(Lab *l, const char *path, char out[65], int64_t *bytes, LabErr *e) {
    *bytes = 0;
    if (file_exists(path) != 2) return hash_file(l, path, out, bytes, e);
    DIR *d = opendir(path);
    if (!d) return lab_err(e, LAB_EIO, "%s: cannot list the folder", path);
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!weight_name(de->d_name)) continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = strdup(de->d_name))) {
            names = nn ? nn : names;
            rc = lab_err(e, LAB_ENOMEM, "out of memory");
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    Buf b = {0};
    if (!rc) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; !rc && i < n; i++) {
        char *p = path_join(path, names[i]), h[65];
        int64_t sz;
        if (!p) rc = lab_err(e, LAB_ENOMEM, "out of memory");
        else if (!(rc = hash_file(l, p, h, &sz, e))) {
            *bytes += sz;
            rc = buf_printf(&b, "%s %s\n", names[i], h) ? lab_err(e, LAB_ENOMEM, "out of memory") : 0;
        }
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (!rc) sha256_hex(b.data ? b.data : "", b.len, out);
    buf_free(&b);
    return rc;
}

/* ---------- models ---------- */

int lab_thread_share(int threads, int slot) {
    if (threads < 2) return 1;
    return slot == 0 ? (threads + 1) / 2 : threads / 2; /* A gets the odd one */
}

static void fill_info(LabSlot *s) {
    const EngInfo *i = eng_info(s->m);
    LabModelInfo *o = &s->info;
    int64_t keep_id = s->db_id;
    memset(o, 0, sizeof *o);
    o->loaded = true;
    o->db_id = keep_id;
    lab_copy_name(o->name, sizeof o->name, i->name);
    lab_copy_name(o->path, sizeof o->path, i->path);
    lab_copy_name(o->arch, sizeof o->arch, i->arch);
    lab_copy_name(o->format, sizeof o->format, i->format);
    lab_copy_name(o->dtype, sizeof o->dtype, i->dtype);
    lab_copy_name(o->file_dtype, sizeof o->file_dtype, i->file_dtype);
    lab_copy_name(o->tokenizer_kind, sizeof o->tokenizer_kind, i->tokenizer_kind);
    o->n_params = i->n_params;
    o->n_layer = i->n_layer;
    o->n_head = i->n_head;
    o->n_kv_head = i->n_kv_head;
    o->dim = i->dim;
    o->vocab = i->vocab;
    o->ctx = i->ctx;
    o->ctx_max = i->ctx_max;
    o->bytes_on_disk = i->bytes_on_disk;
    o->bytes_mapped = i->bytes_mapped;
    o->bytes_owned = i->bytes_owned;
    o->bytes_kv = i->bytes_kv;
    o->bytes_scratch = i->bytes_scratch;
    o->shared = i->shared;
    o->bytes_memory = (i->shared ? 0 : i->bytes_mapped + i->bytes_owned) + i->bytes_kv + i->bytes_scratch;
    o->load_ms = i->load_ms;
    o->n_threads = i->n_threads;
    o->has_template = eng_chat_available(s->m);
    lab_copy_name(o->chat_note, sizeof o->chat_note, eng_chat_error(s->m) ? eng_chat_error(s->m) : "");
}

/* ---------- chat ---------- */

const char *lab_chat_mode_name(LabChatMode m) {
    return m == LAB_CHAT_ON ? "chat" : m == LAB_CHAT_RAW ? "raw" : "auto";
}

/* Whether slot's prompts go through the template now. Needs mu. */
static bool slot_chat(const Lab *l, int slot) {
    /* a server renders its own template: chat when asked for, raw (its /v1/completions) otherwise */
    if (l->slot[slot].r) return l->chat_mode[slot] == LAB_CHAT_ON;
    const EngModel *m = l->slot[slot].m;
    if (!m || l->chat_mode[slot] == LAB_CHAT_RAW) return false;
    return l->chat_mode[slot] == LAB_CHAT_ON || eng_chat_available(m); /* ON without one fails the ask, saying why */
}

static bool slot_loaded(const Lab *l, int k) { return l->slot[k].m || l->slot[k].r; }

static void refresh_chat_info(Lab *l) {
    for (int k = 0; k < 2; k++)
        if (l->slot[k].m || l->slot[k].r) l->slot[k].info.chat = slot_chat(l, k);
}

/* CHAT needs a template that loaded. Needs mu. */
static int chat_usable(Lab *l, int slot, LabChatMode mode, LabErr *e) {
    const EngModel *m = l->slot[slot].m;
    if (mode != LAB_CHAT_ON || !m || eng_chat_available(m)) return 0;
    if (eng_chat_error(m)) return lab_err(e, LAB_EINVAL, "model %c: chat mode: %s", 'A' + slot, eng_chat_error(m));
    return lab_err(e, LAB_EINVAL, "model %c (%s) has no chat template (tokenizer_config.json or chat_template.jinja): use raw mode",
                   'A' + slot, eng_info(m)->name);
}

int lab_chat_set(Lab *l, int slot, LabChatMode mode, LabErr *e) {
    if (slot < 0 || slot > 1 || mode < LAB_CHAT_AUTO || mode > LAB_CHAT_RAW) return lab_err(e, LAB_EINVAL, "bad chat mode or slot");
    if (lab_busy(l)) return lab_err(e, LAB_EBUSY, "the mode cannot change while the models are answering");
    pthread_mutex_lock(&l->mu);
    int rc = chat_usable(l, slot, mode, e);
    if (!rc) l->chat_mode[slot] = mode;
    refresh_chat_info(l);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

LabChatMode lab_chat_get(const Lab *l, int slot) { return slot == 0 || slot == 1 ? l->chat_mode[slot] : LAB_CHAT_AUTO; }

int lab_system_set(Lab *l, const char *text, LabErr *e) {
    if (text && !utf8_valid(text, strlen(text))) return lab_err(e, LAB_EINVAL, "the system prompt is not valid UTF-8");
    char *t = text && *text ? strdup(text) : NULL;
    if (text && *text && !t) return lab_err(e, LAB_ENOMEM, "out of memory");
    pthread_mutex_lock(&l->mu);
    free(l->system_prompt);
    l->system_prompt = t;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

const char *lab_system_get(const Lab *l) { return l->system_prompt ? l->system_prompt : ""; }

/* Needs mu. */
static void conv_reset(Lab *l) {
    for (int k = 0; k < 2; k++) {
        lab_chat_msgs_free(&l->conv[k]);
        l->conv_cap[k] = 0;
    }
    l->conv_id = 0;
    l->conv_turn = 0;
}

void lab_conversation_reset(Lab *l) {
    pthread_mutex_lock(&l->mu);
    conv_reset(l);
    pthread_mutex_unlock(&l->mu);
}

int lab_conversation_turns(Lab *l) {
    pthread_mutex_lock(&l->mu);
    int n = l->conv_turn;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* Appends a message to msgs (capacity *cap). -1 out of memory. */
static int msgs_push(LabChatMsgs *msgs, int *cap, const char *role, const char *content) {
    if (msgs->n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        char **r = realloc(msgs->role, (size_t)nc * sizeof *r);
        if (!r) return -1;
        msgs->role = r;
        char **c = realloc(msgs->content, (size_t)nc * sizeof *c);
        if (!c) return -1;
        msgs->content = c;
        *cap = nc;
    }
    char *rr = strdup(role), *cc = strdup(content);
    if (!rr || !cc) {
        free(rr);
        free(cc);
        return -1;
    }
    msgs->role[msgs->n] = rr;
    msgs->content[msgs->n++] = cc;
    return 0;
}

/* The text a raw arm is given for a conversation: the system prompt and a blank line, then the
 * turns as one text the model continues: each user turn after a blank line (the first one alone),
 * each answer right after its turn, as the model wrote it. One user turn alone is exactly its text. */
static int raw_text(const LabChatMsgs *m, Buf *out) {
    bool after_user_or_answer = false;
    for (int i = 0; i < m->n; i++) {
        const char *r = m->role[i], *c = m->content[i];
        int rc = 0;
        if (!strcmp(r, "system")) rc = buf_puts(out, c) || buf_puts(out, "\n\n");
        else if (!strcmp(r, "user")) {
            if (after_user_or_answer) rc = buf_puts(out, "\n\n");
            rc = rc || buf_puts(out, c);
            after_user_or_answer = true;
        } else rc = buf_puts(out, c);
        if (rc) return -1;
    }
    if (!out->data && buf_reserve(out, 1)) return -1;
    return 0;
}

/* The messages as the JSON array the record keeps ([{"role":..,"content":..},...]). */
static char *msgs_json(const LabChatMsgs *m) {
    json_t *a = json_array();
    for (int i = 0; a && i < m->n; i++) {
        json_t *o = json_pack("{s:s, s:s}", "role", m->role[i], "content", m->content[i]);
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    char *t = a ? json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(a);
    return t;
}

static void release_models(Lab *l) {
    for (int k = 0; k < 2; k++) {
        eng_free(l->slot[k].m);
        remote_free(l->slot[k].r);
        memset(&l->slot[k], 0, sizeof l->slot[k]);
    }
}

static void apply_threads(Lab *l) {
    for (int k = 0; k < 2; k++)
        if (l->slot[k].m) {
            eng_set_threads(l->slot[k].m, lab_thread_share(l->settings.threads, k));
            fill_info(&l->slot[k]);
        }
}

static void cancel_gens(Lab *l) {
    for (int k = 0; k < 2; k++)
        if (l->gen[k]) eng_gen_cancel(l->gen[k]);
}

static const LabEngineOps ENGINE_OPS = {release_models, apply_threads, cancel_gens};

int lab_model_info(const Lab *l, int slot, LabModelInfo *out) {
    if (!l || slot < 0 || slot > 1) return -1;
    Lab *ml = (Lab *)l; /* the lock is not part of the lab's value */
    pthread_mutex_lock(&ml->mu);
    *out = l->slot[slot].info;
    pthread_mutex_unlock(&ml->mu);
    return 0;
}

static int swap_in(Lab *l, int slot, const char *path, const char *tokenizer, void (*progress)(double, void *),
                   void *ud, LabErr *e);

static int model_swap(Lab *l, int slot, const char *path, const char *tokenizer, void (*progress)(double, void *),
                      void *ud, LabErr *e);

int lab_model_swap(Lab *l, int slot, const char *path, void (*progress)(double, void *), void *ud, LabErr *e) {
    return model_swap(l, slot, path, NULL, progress, ud, e);
}

static int model_swap(Lab *l, int slot, const char *path, const char *tokenizer, void (*progress)(double, void *),
                      void *ud, LabErr *e) {
    if (slot < 0 || slot > 1) return lab_err(e, LAB_EINVAL, "no model slot %d (0 = A, 1 = B)", slot);
    if (!path || !*path) return lab_err(e, LAB_EINVAL, "no model path given for slot %c", 'A' + slot);
    pthread_mutex_lock(&l->mu);
    bool busy = l->ask_open || l->loading;
    if (!busy) l->loading = true; /* lab_ask and other swaps wait: LAB_EBUSY until it is done */
    pthread_mutex_unlock(&l->mu);
    if (busy) return lab_err(e, LAB_EBUSY, "a model cannot be swapped while the models are answering or loading");
    lab_wait(l); /* joins the last ask's threads */
    int rc = swap_in(l, slot, path, tokenizer, progress, ud, e);
    pthread_mutex_lock(&l->mu);
    l->loading = false;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* The model's row in the record (found by path, hashes and dtype, or added): its weights and
 * tokenizer hashed (remembered by path, size and mtime) and its EngInfo. known: the weights' hash
 * already taken (and known_bytes their size), or NULL to take it here. */
static int model_row(Lab *l, const char *path, const EngModel *m, const char *known, int64_t known_bytes, int64_t *id,
                     LabErr *e) {
    if (db_read_only(l->db)) { /* a read-only record: the model runs, nothing is recorded */
        *id = 0;
        return 0;
    }
    const EngInfo *i = eng_info(m);
    char wsha[65], tsha[65] = "";
    int64_t bytes = known_bytes, tbytes;
    if (known) snprintf(wsha, sizeof wsha, "%s", known);
    if ((!known && hash_weights(l, path, wsha, &bytes, e)) ||
        (i->tokenizer_path && *i->tokenizer_path && file_exists(i->tokenizer_path) == 1 &&
         hash_file(l, i->tokenizer_path, tsha, &tbytes, e)))
        return -1;
    DbModel dm = {.path = i->path ? i->path : path, .name = i->name, .arch = i->arch, .format = i->format,
                  .dtype = i->dtype, .file_dtype = i->file_dtype, .tokenizer_kind = i->tokenizer_kind,
                  .weights_sha256 = wsha, .tokenizer_sha256 = tsha, .n_params = i->n_params, .n_layer = i->n_layer,
                  .n_head = i->n_head, .n_kv_head = i->n_kv_head, .dim = i->dim, .vocab = i->vocab,
                  .ctx_max = i->ctx_max, .bytes_on_disk = (int64_t)(i->bytes_on_disk ? i->bytes_on_disk : (size_t)bytes),
                  .bytes_mapped = (int64_t)i->bytes_mapped, .bytes_owned = (int64_t)i->bytes_owned,
                  .load_ms = i->load_ms};
    /* the adapters are part of the model: name, hash and scale, so every response records them */
    char *ads = NULL;
    if (i->n_adapters > 0) {
        json_t *arr = json_array();
        for (int k = 0; arr && k < i->n_adapters; k++) {
            const EngAdapterInfo *a = &i->adapters[k];
            json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:f}", "name", a->name, "format", a->format, "sha256",
                                  a->sha256, "scale", (double)a->scale, "effective_scale", (double)a->eff_scale);
            if (!o || json_array_append_new(arr, o)) { /* a name that is no UTF-8 */
                json_decref(arr);
                return lab_err(e, LAB_EINVAL, "%s: the adapter's name is not valid UTF-8", a->path);
            }
        }
        ads = arr ? json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9)) : NULL;
        json_decref(arr);
        if (!ads) return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    dm.adapters = ads;
    pthread_mutex_lock(&l->mu);
    int rc = db_model_upsert(l->db, &dm, id, e);
    pthread_mutex_unlock(&l->mu);
    free(ads);
    return rc;
}

int lab_model_row(Lab *l, const char *path, const EngModel *m, int64_t *id, LabErr *e) {
    return model_row(l, path, m, NULL, 0, id, e);
}

/* The weights' hash on a thread of its own while the model loads (a second core reads the file
 * the loader reads: the 0.1 s of a 180 MB GGUF's sha256 no longer adds to the load). */
typedef struct {
    Lab *l;
    const char *path;
    char sha[65];
    int64_t bytes;
    int rc;
    LabErr e;
} HashJob;

static void *hash_job(void *ud) {
    HashJob *h = ud;
    h->rc = hash_weights(h->l, h->path, h->sha, &h->bytes, &h->e);
    return NULL;
}

/* Load progress: the engine's share is the first 80%, hashing the files (first load only) the rest. */
typedef struct { void (*fn)(double, void *); void *ud; } Scaled;
static void scaled_progress(double frac, void *ud) {
    Scaled *s = ud;
    s->fn(0.8 * frac, s->ud);
}

/* Loads path, records it, and puts it in slot (under the lock, so lab_model_info never sees half). */
/* A model served elsewhere: its model list asked (reachability, key, model id), a row in the
 * record whose path is the URL without credentials then "#" and the served model id, and whose
 * name is "MODEL @ HOST:PORT". */
static int swap_in_remote(Lab *l, int slot, const char *path, void (*progress)(double, void *), void *ud, LabErr *e) {
    if (l->quant[slot] || l->n_lora[slot])
        return lab_err(e, LAB_EINVAL, "%s: a remote model cannot take --quant or LoRA adapters (the server chose its weights)",
                       path);
    if (progress) progress(0.0, ud);
    double t0 = now_ms();
    RemoteArm *r;
    if (remote_open(&r, path, NULL, e)) return -1;
    double load_ms = now_ms() - t0;
    const RemoteInfo *ri = remote_info(r);
    char shown[1400], hash[65];
    snprintf(shown, sizeof shown, "%s#%s", ri->url, ri->model);
    /* no weights to hash: the row's identity is the URL and the model id, so one server's model is
     * one row however often it is loaded, and two servers' models are two */
    char ident[1500];
    snprintf(ident, sizeof ident, "remote %s", shown);
    sha256_hex(ident, strlen(ident), hash);
    int64_t id = 0;
    if (!db_read_only(l->db)) {
        /* the name says where it ran, so a local gpt2 and a served one are told apart when revealed */
        DbModel dm = {.path = shown, .name = ri->name, .arch = "remote", .format = "remote", .dtype = "unknown",
                      .file_dtype = "", .tokenizer_kind = "server", .weights_sha256 = hash, .tokenizer_sha256 = "",
                      .load_ms = load_ms};
        pthread_mutex_lock(&l->mu);
        int rc = db_model_upsert(l->db, &dm, &id, e);
        pthread_mutex_unlock(&l->mu);
        if (rc) {
            remote_free(r);
            return -1;
        }
    }
    if (progress) progress(1.0, ud);
    pthread_mutex_lock(&l->mu);
    EngModel *old = l->slot[slot].m;
    RemoteArm *old_r = l->slot[slot].r;
    LabSlot *sl = &l->slot[slot];
    memset(sl, 0, sizeof *sl);
    sl->r = r;
    sl->db_id = id;
    LabModelInfo *o = &sl->info;
    o->loaded = true;
    o->remote = true;
    o->db_id = id;
    lab_copy_name(o->name, sizeof o->name, ri->name);
    lab_copy_name(o->path, sizeof o->path, shown);
    lab_copy_name(o->arch, sizeof o->arch, "remote");
    lab_copy_name(o->format, sizeof o->format, ri->tls ? "https" : "http");
    lab_copy_name(o->dtype, sizeof o->dtype, "unknown");
    lab_copy_name(o->file_dtype, sizeof o->file_dtype, "unknown");
    lab_copy_name(o->tokenizer_kind, sizeof o->tokenizer_kind, "server");
    lab_copy_name(o->served_model, sizeof o->served_model, ri->model);
    o->load_ms = load_ms;
    o->has_template = true; /* the server's: chat mode sends /v1/chat/completions */
    refresh_chat_info(l);
    conv_reset(l);
    l->ops = &ENGINE_OPS;
    pthread_mutex_unlock(&l->mu);
    eng_free(old);
    remote_free(old_r);
    LOG_I("model %c: %s (remote, model '%s') in %.0f ms", 'A' + slot, shown, ri->model, load_ms);
    return 0;
}

static bool same_text(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* The other slot's model when loading path into slot would load the very same weights again: the
 * same file (however named), no tokenizer of the caller's on either side, and the same --quant and
 * adapters (merged ones: eng_can_share). Then the slot shares its weights (eng_share) instead: one
 * copy in memory, and a load in milliseconds, as when A and B are one model under two settings.
 * NULL otherwise. */
static EngModel *shareable(const Lab *l, int slot, const char *path, const char *tokenizer) {
    const LabSlot *o = &l->slot[1 - slot];
    if (!o->m || tokenizer || o->tok_given || !eng_can_share(o->m) || !same_text(l->quant[slot], l->quant[1 - slot]) ||
        l->n_lora[slot] != l->n_lora[1 - slot])
        return NULL;
    for (int i = 0; i < l->n_lora[slot]; i++)
        if (strcmp(l->lora[slot][i], l->lora[1 - slot][i])) return NULL;
    char *a = realpath(path, NULL), *b = realpath(eng_info(o->m)->path, NULL);
    bool same = a && b && !strcmp(a, b);
    free(a);
    free(b);
    return same ? o->m : NULL;
}

static int swap_in(Lab *l, int slot, const char *path, const char *tokenizer, void (*progress)(double, void *),
                   void *ud, LabErr *e) {
    if (remote_is_url(path)) {
        if (tokenizer) return lab_err(e, LAB_EINVAL, "%s: a remote model takes no tokenizer (the server has its own)", path);
        return swap_in_remote(l, slot, path, progress, ud, e);
    }
    Scaled sc = {progress, ud};
    EngLoadOpts o = {.n_threads = lab_thread_share(l->settings.threads, slot), .ctx = l->ctx, .mmap = l->mmap,
                     .tokenizer_path = tokenizer, .quant = l->quant[slot],
                     .lora = (const char *const *)l->lora[slot], .n_lora = l->n_lora[slot],
                     .progress = progress ? scaled_progress : NULL, .progress_ud = &sc};
    EngModel *m;
    if (progress) progress(0.0, ud);
    EngModel *same = shareable(l, slot, path, tokenizer);
    HashJob hj = {.l = l, .path = path, .rc = -1};
    pthread_t ht;
    bool hashing = !same && !db_read_only(l->db) && !pthread_create(&ht, NULL, hash_job, &hj);
    int lrc = same ? eng_share(&m, same, &o, e) : eng_load(&m, path, &o, e);
    if (hashing) pthread_join(ht, NULL);
    if (lrc) return -1;
    if (progress) progress(0.8, ud);
    const EngInfo *i = eng_info(m);
    if (!i->tokenizer_kind || !strcmp(i->tokenizer_kind, "none")) {
        /* the lab answers text prompts: a model that cannot read them is a failed load, not 25 failed prompts */
        lab_err(e, LAB_ENOTFOUND, "%s: no tokenizer found beside the model (give one with --%c-tokenizer FILE)", path,
                'a' + slot);
        eng_free(m);
        return -1;
    }
    int64_t id = same ? l->slot[1 - slot].db_id : 0; /* a share is the other arm's model, row and all */
    if (!same && model_row(l, path, m, hashing && !hj.rc ? hj.sha : NULL, hj.bytes, &id, e)) {
        eng_free(m);
        return -1;
    }
    if (progress) progress(1.0, ud);
    pthread_mutex_lock(&l->mu);
    EngModel *old = l->slot[slot].m;
    RemoteArm *old_r = l->slot[slot].r;
    l->slot[slot].r = NULL;
    l->slot[slot].m = m;
    l->slot[slot].db_id = id;
    l->slot[slot].tok_given = tokenizer != NULL;
    fill_info(&l->slot[slot]);
    refresh_chat_info(l);
    conv_reset(l); /* a new model has no history of its own */
    l->ops = &ENGINE_OPS;
    pthread_mutex_unlock(&l->mu);
    eng_free(old);
    remote_free(old_r);
    LOG_I("model %c: %s (%s, %lld params, %s) loaded in %.0f ms", 'A' + slot, path, i->arch,
          (long long)i->n_params, i->dtype, i->load_ms);
    return 0;
}

int lab_model_swap_slots(Lab *l, LabErr *e) {
    if (lab_busy(l)) return lab_err(e, LAB_EBUSY, "the models cannot be swapped while they are answering");
    lab_wait(l);
    pthread_mutex_lock(&l->mu);
    LabSlot t = l->slot[0];
    l->slot[0] = l->slot[1];
    l->slot[1] = t;
    LabSampling s = l->settings.s[0];
    l->settings.s[0] = l->settings.s[1];
    l->settings.s[1] = s;
    LabChatMode cm = l->chat_mode[0]; /* the mode belongs to the model too */
    l->chat_mode[0] = l->chat_mode[1];
    l->chat_mode[1] = cm;
    conv_reset(l); /* each history belonged to its model */
    char *q = l->quant[0]; /* the conversion belongs to the model, wherever it goes */
    l->quant[0] = l->quant[1];
    l->quant[1] = q;
    char **lo = l->lora[0]; /* so do the adapters */
    l->lora[0] = l->lora[1];
    l->lora[1] = lo;
    int nl = l->n_lora[0];
    l->n_lora[0] = l->n_lora[1];
    l->n_lora[1] = nl;
    if (l->ops) apply_threads(l);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

typedef struct { int slot; void (*fn)(int, double, void *); void *ud; } SlotProgress;
static void slot_progress(double frac, void *ud) {
    SlotProgress *p = ud;
    p->fn(p->slot, frac, p->ud);
}

int lab_open(Lab **out, const LabConfig *c, LabErr *e) {
    *out = NULL;
    /* what the config (or any caller) hands in passes the same check as every other path */
    if (lab_sampling_check(&c->sampling, e)) return lab_err_prefix(e, "lab settings");
    if (c->threads < 0 || c->threads > 256)
        return lab_err(e, LAB_EINVAL, "lab settings: threads must be an integer in [1, 256], not %d", c->threads);
    Lab *l;
    if (lab_record_open(&l, c->db_path, e)) return -1;
    l->ctx = c->ctx;
    l->mmap = c->mmap;
    for (int k = 0; k < 2; k++)
        if (c->quant[k] && *c->quant[k] && !(l->quant[k] = strdup(c->quant[k]))) {
            lab_close(l);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
    for (int k = 0; k < 2; k++) {
        if (c->n_lora[k] <= 0) continue;
        if (!(l->lora[k] = calloc((size_t)c->n_lora[k], sizeof *l->lora[k]))) {
            lab_close(l);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
        for (int i = 0; i < c->n_lora[k]; i++) {
            if (!(l->lora[k][i] = strdup(c->lora[k][i]))) {
                lab_close(l);
                return lab_err(e, LAB_ENOMEM, "out of memory");
            }
            l->n_lora[k] = i + 1;
        }
    }
    l->blind_default = c->blind;
    l->pacing_default = c->pacing;
    l->chat_mode[0] = c->chat[0];
    l->chat_mode[1] = c->chat[1];
    if (c->system_prompt && lab_system_set(l, c->system_prompt, e)) {
        lab_close(l);
        return -1;
    }
    l->settings.shared = true;
    l->settings.s[0] = l->settings.s[1] = c->sampling;
    l->settings.threads = c->threads > 0 ? c->threads : 2;
    if (c->restore_settings && lab_settings_restore(l, e)) {
        lab_close(l);
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        const char *p = c->model_path[k];
        if (!p || !*p) continue;
        SlotProgress sp = {k, c->progress, c->progress_ud};
        if (model_swap(l, k, p, c->tokenizer_path[k], c->progress ? slot_progress : NULL, &sp, e)) {
            lab_err_prefix(e, "model %c", 'A' + k);
            lab_close(l);
            return -1;
        }
        pthread_mutex_lock(&l->mu);
        int rc = chat_usable(l, k, l->chat_mode[k], e);
        pthread_mutex_unlock(&l->mu);
        if (rc) {
            lab_close(l);
            return -1;
        }
    }
    *out = l;
    return 0;
}

/* ---------- checking a prompt set before anything is asked ---------- */

static int problem(LabStrList *out, const char *path, const LabStrList *p, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int problem(LabStrList *out, const char *path, const LabStrList *p, size_t i, const char *fmt, ...) {
    char where[512], why[512];
    if (path && p->line) snprintf(where, sizeof where, "%s:%d", path, p->line[i]);
    else snprintf(where, sizeof where, "prompt %zu", i + 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    char **v = realloc(out->v, (out->n + 1) * sizeof *v);
    if (!v) return -1;
    out->v = v;
    size_t n = strlen(where) + strlen(why) + 3;
    if (!(v[out->n] = malloc(n))) return -1;
    snprintf(v[out->n], n, "%s: %s", where, why);
    out->n++;
    return 0;
}

int lab_prompts_check(Lab *l, const LabStrList *prompts, const char *path, int max_tokens, LabStrList *problems,
                      LabErr *e) {
    memset(problems, 0, sizeof *problems);
    if (!slot_loaded(l, 0) || !slot_loaded(l, 1))
        return lab_err(e, LAB_EINVAL, "both models must be loaded to check prompts (model %s is missing)",
                       slot_loaded(l, 0) ? "B" : "A");
    int bad = 0;
    IntVec ids = {0};
    for (size_t i = 0; i < prompts->n; i++) {
        const char *t = prompts->v[i];
        size_t len = strlen(t), sp = 0;
        while (sp < len && (t[sp] == ' ' || t[sp] == '\t' || t[sp] == '\n' || t[sp] == '\r')) sp++;
        int rc = 0;
        if (!utf8_valid(t, len)) rc = problem(problems, path, prompts, i, "not valid UTF-8");
        else if (sp == len) rc = problem(problems, path, prompts, i, "empty");
        else {
            for (int k = 0; k < 2 && !rc; k++) {
                if (l->slot[k].r) continue; /* a server's tokens and context are its own: it says when one does not fit */
                LabErr te = {0};
                ids.n = 0;
                const LabModelInfo *mi = &l->slot[k].info;
                if (eng_tokenize(l->slot[k].m, t, true, &ids, &te)) {
                    rc = problem(problems, path, prompts, i, "model %c cannot read it: %s", 'A' + k, te.msg);
                    break;
                }
                /* the prompt and every token the protocol may write must fit the cache */
                if ((int64_t)ids.n + max_tokens > mi->ctx) {
                    rc = problem(problems, path, prompts, i, "%zu tokens + %d to write do not fit model %c's context of %d",
                                 ids.n, max_tokens, 'A' + k, mi->ctx);
                    break;
                }
            }
        }
        if (rc < 0) {
            ivec_free(&ids);
            lab_strlist_free(problems);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
        if (problems->n > (size_t)bad) bad++; /* one line per failing prompt */
    }
    ivec_free(&ids);
    return bad;
}

/* ---------- asking ---------- */

typedef struct {
    Lab *l;
    int slot, side;
    int64_t pair_id, prompt_id;
    char *text;
    LabSampling s;
    LabEvents ev;
    bool record_cancelled;
    LabChatMsgs msgs;       /* what this arm is given: its history (and the system prompt), the new turn */
    bool chat;              /* through the template, else raw text */
    bool conv_live;         /* the lab's conversation: the answer joins this slot's history */
    int64_t conv_id;
    int turn;
    int *pair_left;         /* this pair's sides still answering (under l->mu); the last frees it */
} Job;

static void metrics_from_engine(const EngMetrics *em, LabMetrics *m, uint64_t seed) {
    *m = (LabMetrics){.n_prompt = em->n_prompt, .n_gen = em->n_gen, .ttft_ms = em->ttft_ms,
                      .prefill_ms = em->prefill_ms, .decode_tok_s = em->decode_tok_s, .total_ms = em->total_ms,
                      .p50_ms = em->p50_ms, .p95_ms = em->p95_ms,
                      .bytes_weights = em->bytes_weights_mapped + em->bytes_weights_owned, .bytes_kv = em->bytes_kv,
                      .bytes_scratch = em->bytes_scratch, .peak_rss = proc_peak_rss_bytes(),
                      .n_threads = em->n_threads, .seed = seed};
    m->bytes_engine = m->bytes_weights + m->bytes_kv + m->bytes_scratch;
}

/* ---------- a remote arm's answer ---------- */

typedef struct {
    Job *j;
    Buf *out;
    LabMetrics *m;
    double t0, t_first;
    bool oom;
} RemotePieces;

static int remote_piece(const char *text, size_t len, const RemoteResult *r, void *ud) {
    RemotePieces *c = ud;
    if (buf_append(c->out, text, len)) {
        c->oom = true;
        return 1;
    }
    double now = now_ms();
    if (r->n_chunks == 1) c->t_first = now;
    LabMetrics *m = c->m;
    m->n_gen = r->n_chunks;
    m->ttft_ms = c->t_first - c->t0;
    m->total_ms = now - c->t0;
    m->decode_tok_s = r->n_chunks > 1 && now > c->t_first ? (r->n_chunks - 1) * 1000.0 / (now - c->t_first) : 0;
    if (c->j->ev.on_piece) c->j->ev.on_piece(c->j->side, text, len, m, c->j->ev.ud);
    return 0;
}

/* The server's finish_reason in the lab's words: "stop" is the model ending its answer (the lab
 * sends no stop strings), "length" is max_tokens. */
static const char *remote_stop_name(const char *finish) {
    if (!finish[0] || !strcmp(finish, "stop") || !strcmp(finish, "eos")) return "eos";
    return finish;
}

/* Streams slot j->slot's answer from its server and records it. A fault mid-answer records what
 * came, with stop reason "error" (the caller marks the pair failed); one before any text records
 * nothing, like a local engine's error, so a resumed run asks it again. Returns true on failure
 * (err filled). */
static bool remote_answer(Job *j, uint64_t seed, const char *mjson, Buf *out, Buf *ptext, LabMetrics *m,
                          int64_t *response_id, LabErr *err) {
    Lab *l = j->l;
    LabSlot *sl = &l->slot[j->slot];
    *m = (LabMetrics){.remote = true, .seed = seed, .ttft_ms = -1};
    if (!mjson) return lab_err(err, LAB_ENOMEM, "out of memory"), true;
    RemoteMsg *msgs = NULL;
    if (j->chat) {
        if (!(msgs = calloc((size_t)j->msgs.n + 1, sizeof *msgs))) return lab_err(err, LAB_ENOMEM, "out of memory"), true;
        for (int i = 0; i < j->msgs.n; i++) msgs[i] = (RemoteMsg){j->msgs.role[i], j->msgs.content[i]};
    } else if (raw_text(&j->msgs, ptext)) {
        return lab_err(err, LAB_ENOMEM, "out of memory"), true;
    }
    RemoteRequest rq = {.chat = j->chat, .prompt = ptext->data ? ptext->data : "", .msgs = msgs, .n_msgs = j->msgs.n,
                        .s = {.temp = j->s.temp, .top_p = j->s.top_p, .top_k = j->s.top_k, .min_p = j->s.min_p,
                              .repeat_penalty = j->s.repeat_penalty, .max_tokens = j->s.max_tokens,
                              .seed = (int64_t)(seed & INT64_MAX)},
                        .cancel = &l->stop};
    RemotePieces pc = {.j = j, .out = out, .m = m, .t0 = now_ms()};
    RemoteResult res;
    int rc = remote_generate(sl->r, &rq, remote_piece, &pc, &res, err);
    free(msgs);
    if (pc.oom) rc = lab_err(err, LAB_ENOMEM, "out of memory keeping the answer");
    bool failed = rc != 0;
    const char *stop = failed ? "error" : pc.oom ? "error" : remote_stop_name(res.finish);
    *m = (LabMetrics){.remote = true, .seed = seed, .n_prompt = res.usage_prompt > 0 ? (int)res.usage_prompt : 0,
                      .n_gen = res.n_gen, .ttft_ms = res.n_chunks ? res.ttft_ms : -1, .prefill_ms = -1,
                      .decode_tok_s = res.decode_tok_s, .total_ms = res.total_ms, .p50_ms = -1, .p95_ms = -1};
    lab_copy_name(m->stop, sizeof m->stop, stop);
    if (res.served_model[0] && strcmp(res.served_model, remote_info(sl->r)->model))
        LOG_W("model %c: the server answered as '%s' (asked for '%s')", 'A' + j->slot, res.served_model,
              remote_info(sl->r)->model);
    bool cancelled = !strcmp(stop, "cancel");
    bool keep = failed ? out->len > 0 : !cancelled || j->record_cancelled;
    if (!keep) return failed;
    DbResponse r = {.pair_id = j->pair_id, .model_id = sl->db_id, .slot = j->slot, .side = j->side,
                    .temp = j->s.temp, .top_p = j->s.top_p, .min_p = j->s.min_p,
                    .repeat_penalty = j->s.repeat_penalty, .top_k = j->s.top_k,
                    .repeat_last_n = j->s.repeat_last_n, .max_tokens = j->s.max_tokens, .seed = (int64_t)seed,
                    .output = out->data ? out->data : "", .token_ids = NULL, .n_token_ids = 0,
                    .n_prompt = m->n_prompt, .n_gen = m->n_gen, .stop_reason = m->stop, .ttft_ms = m->ttft_ms,
                    .prefill_ms = -1, .decode_tok_s = m->decode_tok_s, .p50_ms = -1, .p95_ms = -1,
                    .total_ms = m->total_ms, .threads = 0, .build_version = ABLAB_VERSION, .cpu_model = "remote",
                    .chat_mode = j->chat ? "chat" : "raw", .messages_json = mjson,
                    /* a chat arm's prompt text is the server's rendering, which it does not send back */
                    .prompt_text = j->chat ? "" : ptext->data ? ptext->data : "",
                    .conversation_id = j->conv_id ? j->conv_id : j->pair_id, .turn = j->turn};
    LabErr de = {0};
    pthread_mutex_lock(&l->mu);
    int drc = db_response_add(l->db, &r, response_id, &de);
    pthread_mutex_unlock(&l->mu);
    if (drc) {
        if (!failed) *err = de;
        else LOG_E("model %c: %s", 'A' + j->slot, de.msg);
        return true;
    }
    return failed;
}

/* ---------- one answer: what both workers do around the generation ---------- */

typedef struct {
    Job *j;
    LabErr err;
    LabMetrics m;
    Buf out;
    IntVec prompt;          /* the ids the model is given */
    EngGen *g;
    int64_t response_id;
    bool failed;
    uint64_t seed;
    Buf ptext;              /* the exact text the model is given */
    IntVec stop_ids;
    char *mjson;
    EngSampling es;
    EngStop stop;
    double t_start, t_first;
} Answer;

static void answer_init(Answer *a, Job *j) {
    *a = (Answer){.j = j, .stop = ENG_STOP_ERROR};
    a->seed = j->s.seed >= 0 ? (uint64_t)j->s.seed : (uint64_t)lab_fresh_seed();
    a->mjson = msgs_json(&j->msgs);
}

/* The prompt as ids (a->prompt) and the engine's settings (a->es): the template's rendering (which
 * writes its own special tokens, so none are added) or the conversation as plain text. -1 with
 * a->err filled and a->failed set. */
static int answer_prompt(Answer *a) {
    Job *j = a->j;
    LabSlot *sl = &j->l->slot[j->slot];
    lab_sampling_engine(&j->s, a->seed, &a->es);
    a->t_start = now_ms();
    int prc;
    if (!a->mjson) prc = lab_err(&a->err, LAB_ENOMEM, "out of memory");
    else if (j->chat) {
        ChatMsg *cm = calloc((size_t)j->msgs.n + 1, sizeof *cm);
        if (!cm) prc = lab_err(&a->err, LAB_ENOMEM, "out of memory");
        else {
            for (int i = 0; i < j->msgs.n; i++) cm[i] = (ChatMsg){j->msgs.role[i], j->msgs.content[i]};
            prc = eng_chat_render(sl->m, cm, j->msgs.n, true, &a->ptext, &a->err);
            free(cm);
        }
        if (!prc && eng_chat_stop_ids(sl->m, &a->stop_ids)) prc = lab_err(&a->err, LAB_ENOMEM, "out of memory");
        a->es.stop_ids = a->stop_ids.v;
        a->es.n_stop_ids = (int)a->stop_ids.n;
    } else {
        prc = raw_text(&j->msgs, &a->ptext) ? lab_err(&a->err, LAB_ENOMEM, "out of memory") : 0;
    }
    if (prc || eng_tokenize_prompt(sl->m, a->ptext.data, !j->chat, &a->prompt, &a->err)) {
        a->failed = true;
        return -1;
    }
    return 0;
}

/* One step's result (eng_gen_step's rc and piece): the text kept, the live metrics handed on.
 * 1 while the answer goes on, 0 when it ended (a->stop), -1 on failure (a->err). */
static int answer_piece(Answer *a, int rc, const EngPiece *piece) {
    Job *j = a->j;
    if (rc < 0) {
        a->failed = true;
        return -1;
    }
    if (piece->len && buf_append(&a->out, piece->text, piece->len)) {
        lab_err(&a->err, LAB_ENOMEM, "out of memory");
        a->failed = true;
        return -1;
    }
    if ((piece->len || rc == 1) && j->ev.on_piece) {
        /* the engine fills its counters when it finishes: the live ones are ours */
        double now = now_ms();
        int n = (int)eng_gen_ids(a->g)->n;
        if (n >= 1 && a->t_first == 0) a->t_first = now;
        metrics_from_engine(eng_gen_metrics(a->g), &a->m, a->seed);
        a->m.n_gen = n;
        a->m.total_ms = now - a->t_start;
        a->m.decode_tok_s = n > 1 && now > a->t_first ? (n - 1) * 1000.0 / (now - a->t_first) : 0;
        j->ev.on_piece(j->side, piece->text ? piece->text : "", piece->len, &a->m, j->ev.ud);
    }
    if (rc == 0) {
        a->stop = piece->stop;
        return 0;
    }
    return 1;
}

/* A local answer that ended: its metrics, and its row (one short write transaction, after the last
 * token) unless it failed or was cancelled and cancelled answers are not kept. */
static void answer_record(Answer *a) {
    Job *j = a->j;
    Lab *l = j->l;
    LabSlot *sl = &l->slot[j->slot];
    if (a->g) metrics_from_engine(eng_gen_metrics(a->g), &a->m, a->seed);
    else a->m.seed = a->seed;
    lab_copy_name(a->m.stop, sizeof a->m.stop, a->failed ? "error" : eng_stop_name(a->stop));
    bool keep = !a->failed && (a->stop != ENG_STOP_CANCEL || j->record_cancelled);
    if (!keep) return;
    const EngMetrics *em = eng_gen_metrics(a->g);
    const IntVec *ids = eng_gen_ids(a->g);
    DbResponse r = {.pair_id = j->pair_id, .model_id = sl->db_id, .slot = j->slot, .side = j->side,
                    .temp = j->s.temp, .top_p = j->s.top_p, .min_p = j->s.min_p,
                    .repeat_penalty = j->s.repeat_penalty, .top_k = j->s.top_k,
                    .repeat_last_n = j->s.repeat_last_n, .max_tokens = j->s.max_tokens, .seed = (int64_t)a->seed,
                    .output = a->out.data ? a->out.data : "", .token_ids = ids->v, .n_token_ids = ids->n,
                    .n_prompt = em->n_prompt, .n_gen = em->n_gen, .stop_reason = a->m.stop, .ttft_ms = em->ttft_ms,
                    .prefill_ms = em->prefill_ms, .decode_tok_s = em->decode_tok_s, .p50_ms = em->p50_ms,
                    .p95_ms = em->p95_ms, .total_ms = em->total_ms,
                    .bytes_weights_mapped = (int64_t)em->bytes_weights_mapped,
                    .bytes_weights_owned = (int64_t)em->bytes_weights_owned, .bytes_kv = (int64_t)em->bytes_kv,
                    .bytes_scratch = (int64_t)em->bytes_scratch, .peak_rss = (int64_t)a->m.peak_rss,
                    .threads = em->n_threads, .build_version = ABLAB_VERSION, .cpu_model = cpu_model_name(),
                    .chat_mode = j->chat ? "chat" : "raw", .messages_json = a->mjson, .prompt_text = a->ptext.data,
                    .conversation_id = j->conv_id ? j->conv_id : j->pair_id, .turn = j->turn};
    pthread_mutex_lock(&l->mu);
    if (db_response_add(l->db, &r, &a->response_id, &a->err)) a->failed = true;
    pthread_mutex_unlock(&l->mu);
}

/* After an answer, recorded or not: the conversation, the pair's error, on_done, and the last side
 * of a pair out reports the pair (the last job of the ask closes it). Frees the answer and its job. */
static void answer_finish(Answer *a) {
    Job *j = a->j;
    Lab *l = j->l;
    /* the answer joins this arm's own history, if the conversation is still the one asked: what was
     * written even when it failed or was stopped, so the turns keep alternating */
    pthread_mutex_lock(&l->mu);
    if (j->conv_live && l->conv_id == j->conv_id &&
        msgs_push(&l->conv[j->slot], &l->conv_cap[j->slot], "assistant", a->out.data ? a->out.data : ""))
        LOG_E("model %c: out of memory keeping the conversation", 'A' + j->slot);
    pthread_mutex_unlock(&l->mu);
    if (a->failed) {
        LOG_E("model %c: %s", 'A' + j->slot, a->err.msg);
        /* recorded on the pair, so a study passes over it instead of asking it again */
        char why[sizeof a->err.msg + 16];
        snprintf(why, sizeof why, "model %c: %s", 'A' + j->slot, a->err.msg);
        LabErr fe = {0};
        pthread_mutex_lock(&l->mu);
        if (db_pair_fail(l->db, j->pair_id, why, &fe)) LOG_E("%s", fe.msg);
        pthread_mutex_unlock(&l->mu);
    }
    if (j->ev.on_done) j->ev.on_done(j->side, &a->m, a->response_id, a->failed ? &a->err : NULL, j->ev.ud);
    eng_gen_free(a->g);
    ivec_free(&a->prompt);
    ivec_free(&a->stop_ids);
    buf_free(&a->ptext);
    free(a->mjson);
    buf_free(&a->out);

    pthread_mutex_lock(&l->mu);
    bool pair_done = --*j->pair_left == 0;
    bool ratable = false;
    if (pair_done) {
        DbPair p;
        LabErr pe = {0};
        /* a pair with a failed side (a remote answer cut off is kept, marked as an error) is not rated */
        ratable = db_pair_get(l->db, j->pair_id, &p, &pe) == 1 && p.response_id[0] && p.response_id[1] && !p.failed;
        free(j->pair_left);
    }
    if (--l->running == 0) { /* lab_wait also joins this thread: it returns after the callbacks below */
        l->ask_open = false;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    if (pair_done && j->ev.on_pair_done) j->ev.on_pair_done(j->pair_id, ratable, j->ev.ud);
    lab_chat_msgs_free(&j->msgs);
    free(j->text);
    free(j);
}

/* lab_ask's worker: one slot's answer to one pair. */
static void *worker(void *arg) {
    Job *j = arg;
    Lab *l = j->l;
    LabSlot *sl = &l->slot[j->slot];
    Answer a;
    answer_init(&a, j);
    if (sl->r) {
        a.failed = remote_answer(j, a.seed, a.mjson, &a.out, &a.ptext, &a.m, &a.response_id, &a.err);
        answer_finish(&a);
        return NULL;
    }
    if (!answer_prompt(&a)) {
        if (eng_gen_start(&a.g, sl->m, a.prompt.v, (int)a.prompt.n, &a.es, &a.err)) {
            a.failed = true;
        } else {
            pthread_mutex_lock(&l->mu);
            l->gen[j->slot] = a.g;
            if (atomic_load(&l->stop)) eng_gen_cancel(a.g); /* lab_stop came before the generation existed */
            pthread_mutex_unlock(&l->mu);
            for (;;) {
                EngPiece piece = {0};
                int rc = eng_gen_step(a.g, &piece, &a.err);
                if (answer_piece(&a, rc, &piece) <= 0) break;
            }
            pthread_mutex_lock(&l->mu);
            l->gen[j->slot] = NULL;
            pthread_mutex_unlock(&l->mu);
        }
    }
    answer_record(&a);
    answer_finish(&a);
    return NULL;
}

/* lab_ask_many's worker: one slot's answers to many pairs, decoded together (eng_gen_step_many:
 * one pass over the weights a step for all of them); each recorded as soon as it ends, exactly as
 * worker() records it. */
typedef struct {
    Lab *l;
    int slot;
    Job **jobs;
    int n;
} ManyJob;

static void *worker_many(void *arg) {
    ManyJob *mj = arg;
    Lab *l = mj->l;
    int n = mj->n;
    EngModel *m = l->slot[mj->slot].m;
    Answer *a = calloc((size_t)n, sizeof *a);
    EngGen **gens = calloc((size_t)n, sizeof *gens);
    Answer **live = calloc((size_t)n, sizeof *live);
    EngPiece *pieces = calloc((size_t)n, sizeof *pieces);
    int *rcs = calloc((size_t)n, sizeof *rcs);
    LabErr *errs = calloc((size_t)n, sizeof *errs);
    const int **ids = calloc((size_t)n, sizeof *ids); /* the prompts, for eng_gen_start_own_many */
    int *ns = calloc((size_t)n, sizeof *ns);
    const EngSampling **ss = calloc((size_t)n, sizeof *ss);
    bool oom = !a || !gens || !live || !pieces || !rcs || !errs || !ids || !ns || !ss;
    int n_live = 0;
    for (int i = 0; i < n; i++) {
        if (oom) { /* no memory to decode them together: each answer fails alone, recorded as failed */
            Answer one;
            answer_init(&one, mj->jobs[i]);
            lab_err(&one.err, LAB_ENOMEM, "out of memory");
            one.failed = true;
            answer_record(&one);
            answer_finish(&one);
            continue;
        }
        answer_init(&a[i], mj->jobs[i]);
        if (answer_prompt(&a[i])) {
            a[i].failed = true;
            answer_record(&a[i]);
            answer_finish(&a[i]);
            continue;
        }
        live[n_live++] = &a[i];
    }
    if (n_live > 0) { /* the prompts together: the weights read once for many of them */
        for (int i = 0; i < n_live; i++) {
            ids[i] = live[i]->prompt.v;
            ns[i] = (int)live[i]->prompt.n;
            ss[i] = &live[i]->es;
        }
        eng_gen_start_own_many(gens, m, ids, ns, ss, n_live, errs);
        int kept = 0;
        for (int i = 0; i < n_live; i++) {
            Answer *x = live[i];
            if (!(x->g = gens[i])) {
                x->err = errs[i];
                x->failed = true;
                answer_record(x);
                answer_finish(x);
                continue;
            }
            live[kept++] = x;
        }
        n_live = kept;
    }
    while (n_live > 0) {
        if (atomic_load(&l->stop)) /* lab_stop: every answer ends as cancelled at its next step */
            for (int i = 0; i < n_live; i++) eng_gen_cancel(live[i]->g);
        for (int i = 0; i < n_live; i++) gens[i] = live[i]->g;
        eng_gen_step_many(gens, n_live, pieces, rcs, errs);
        int kept = 0;
        for (int i = 0; i < n_live; i++) {
            Answer *x = live[i];
            if (rcs[i] < 0) x->err = errs[i];
            if (answer_piece(x, rcs[i], &pieces[i]) > 0) {
                live[kept++] = x;
                continue;
            }
            answer_record(x);
            answer_finish(x);
        }
        n_live = kept;
    }
    free(a);
    free(gens);
    free(live);
    free(pieces);
    free(rcs);
    free(errs);
    free(ids);
    free(ns);
    free(ss);
    free(mj->jobs);
    free(mj);
    return NULL;
}

typedef struct { char *text; int64_t session; int position; } PromptRow;
static int prompt_row(const DbPrompt *p, void *ud) {
    PromptRow *c = ud;
    c->session = p->session_id;
    c->position = p->position;
    c->text = strdup(p->text);
    return 1;
}

/* What an ask needs before its workers start: its pair (created or found), the text, the settings
 * and what each arm is given. */
typedef struct {
    DbPair p;
    int64_t prompt_id;
    char *ptext;
    LabSampling use[2];
    LabChatMsgs arm[2];
    bool chat[2], conv_live;
    int64_t conv_id;
    int turn;
} AskPrep;

static void ask_prep_free(AskPrep *ap) {
    lab_chat_msgs_free(&ap->arm[0]);
    lab_chat_msgs_free(&ap->arm[1]);
    free(ap->ptext);
    ap->ptext = NULL;
}

/* The checks of an ask's options (before anything is written). */
static int ask_check(Lab *l, const char *text, const LabAskOpts *o, LabErr *e) {
    if (o->rep < 0) return lab_err(e, LAB_EINVAL, "repetition index %d is negative", o->rep);
    for (int k = 0; k < 2; k++)
        if (o->sampling[k] && lab_sampling_check(o->sampling[k], e))
            return lab_err_prefix(e, "settings for model %c", 'A' + k);
    if (!o->prompt_id) {
        if (!text || !*text) return lab_err(e, LAB_EINVAL, "the prompt is empty");
        if (!utf8_valid(text, strlen(text))) return lab_err(e, LAB_EINVAL, "the prompt is not valid UTF-8");
    }
    (void)l;
    return 0;
}

/* The pair of (session, prompt, rep), created before the first token (its row names the sides
 * shown, so a resume or a crash keeps the same assignment; no transaction stays open while tokens
 * stream), and what each arm is given. 1 when both sides are already recorded (nothing to do),
 * 0 when ap is filled (free with ask_prep_free), -1 on error. */
static int ask_prepare(Lab *l, const char *text, const LabAskOpts *o, AskPrep *ap, LabErr *e) {
    *ap = (AskPrep){0};
    PromptRow pr = {0};
    DbPair p;
    int64_t prompt_id = o->prompt_id;
    pthread_mutex_lock(&l->mu);
    int rc = lab_session_ensure(l, e);
    if (!rc && !prompt_id) rc = db_prompt_add(l->db, l->session_id, NULL, -1, text, &prompt_id, e);
    if (!rc) {
        int found = db_prompt_get(l->db, prompt_id, prompt_row, &pr, e);
        if (found < 0) rc = -1;
        else if (!found || pr.session != l->session_id)
            rc = lab_err(e, LAB_ENOTFOUND, "prompt %lld is not in the current session", (long long)prompt_id);
        else if (!pr.text) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    }
    if (!rc) {
        LabErr he = {0};
        if (db_history_add(l->db, pr.text, &he)) LOG_W("prompt history: %s", he.msg);
    }
    int found = rc ? -1 : db_pair_find(l->db, l->session_id, prompt_id, o->rep, &p, e);
    if (found < 0) rc = -1;
    else if (found == 1 && (p.model_id[0] != l->slot[0].db_id || p.model_id[1] != l->slot[1].db_id))
        rc = lab_err(e, LAB_EINVAL,
                     "this session answered prompt %lld with other models; start another session for these",
                     (long long)prompt_id);
    else if (found == 0) {
        DbPair np = {.session_id = l->session_id, .prompt_id = prompt_id, .rep = o->rep,
                     .model_id = {l->slot[0].db_id, l->slot[1].db_id}, .blind = l->session_blind};
        snprintf(np.pacing, sizeof np.pacing, "%s", lab_pair_pacing(l, o->shown));
        np.left_slot = l->session_blind ? lab_left_slot(l->session_seed, pr.position, o->rep) : 0;
        int64_t id;
        rc = db_pair_add(l->db, &np, &id, e);
        if (!rc) rc = db_pair_get(l->db, id, &p, e) == 1 ? 0 : -1;
    } else if (p.failed && (p.response_id[0] == 0 || p.response_id[1] == 0))
        rc = db_pair_fail(l->db, p.id, NULL, e); /* asked again (a resumed run): the old error no longer stands */
    /* a study's protocol, not the lab's settings, decides how its prompts are answered */
    for (int k = 0; k < 2; k++) {
        ap->use[k] = l->settings.s[k];
        if (l->has_study) ap->use[k] = l->study.sampling;
        else if (o->sampling[k]) ap->use[k] = *o->sampling[k];
    }
    char *ptext = pr.text;
    pthread_mutex_unlock(&l->mu);
    if (rc) {
        free(ptext);
        return -1;
    }
    ap->p = p;
    ap->prompt_id = prompt_id;
    if (p.response_id[0] && p.response_id[1]) {
        free(ptext);
        return 1;
    }
    ap->ptext = ptext;
    /* what each arm is given: a stored conversation as it stands, or the lab's conversation (each
     * arm's own history) with this text as the next user turn; the system prompt first */
    LabChatMsgs given = {0};
    int cap[2] = {0, 0};
    int given_rc = o->prompt_id ? lab_conversation_parse(ptext, &given, e) : 0;
    if (given_rc < 0) {
        ask_prep_free(ap);
        return -1;
    }
    bool oom = false;
    ap->conv_live = given_rc == 0;
    pthread_mutex_lock(&l->mu);
    for (int k = 0; k < 2; k++) {
        ap->chat[k] = slot_chat(l, k);
        if (l->system_prompt && !(given_rc == 1 && given.n && !strcmp(given.role[0], "system")))
            oom |= msgs_push(&ap->arm[k], &cap[k], "system", l->system_prompt) != 0;
    }
    if (given_rc == 1) {
        ap->conv_id = p.id;
        for (int i = 0; i < given.n; i++) ap->turn += !strcmp(given.role[i], "user");
        ap->turn--;
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < given.n; i++) oom |= msgs_push(&ap->arm[k], &cap[k], given.role[i], given.content[i]) != 0;
    } else {
        if (!o->follow_up || !l->conv_id) conv_reset(l);
        if (!l->conv_id) l->conv_id = p.id;
        ap->conv_id = l->conv_id;
        ap->turn = l->conv_turn++;
        for (int k = 0; k < 2; k++) {
            oom |= msgs_push(&l->conv[k], &l->conv_cap[k], "user", ptext) != 0;
            for (int i = 0; i < l->conv[k].n; i++)
                oom |= msgs_push(&ap->arm[k], &cap[k], l->conv[k].role[i], l->conv[k].content[i]) != 0;
        }
    }
    if (oom) conv_reset(l);
    pthread_mutex_unlock(&l->mu);
    lab_chat_msgs_free(&given);
    if (oom) {
        ask_prep_free(ap);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    return 0;
}

/* Slot k's job of a prepared ask (the arm's messages move into it), or NULL on ENOMEM. */
static Job *job_new(Lab *l, AskPrep *ap, int k, const LabAskOpts *o, const LabEvents *ev, int *pair_left) {
    Job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    *j = (Job){.l = l, .slot = k, .side = k == ap->p.left_slot ? 0 : 1, .pair_id = ap->p.id,
               .prompt_id = ap->prompt_id, .text = strdup(ap->ptext), .s = ap->use[k], .ev = *ev,
               .record_cancelled = o->record_cancelled, .msgs = ap->arm[k], .chat = ap->chat[k],
               .conv_live = ap->conv_live, .conv_id = ap->conv_id, .turn = ap->turn, .pair_left = pair_left};
    if (!j->text) {
        free(j);
        return NULL;
    }
    ap->arm[k] = (LabChatMsgs){0}; /* the job owns them now */
    return j;
}

/* A job that never ran (its thread could not start): it leaves the counts as if it had ended. */
static void job_drop(Job *j) {
    Lab *l = j->l;
    pthread_mutex_lock(&l->mu);
    if (--*j->pair_left == 0) free(j->pair_left);
    if (--l->running == 0) l->ask_open = false;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    lab_chat_msgs_free(&j->msgs);
    free(j->text);
    free(j);
}

int lab_ask(Lab *l, const char *text, const LabAskOpts *o, const LabEvents *ev, int64_t *pair_id, LabErr *e) {
    LabAskOpts none = {0};
    LabEvents noev = {0};
    if (!o) o = &none;
    if (!ev) ev = &noev;
    if (!slot_loaded(l, 0) || !slot_loaded(l, 1))
        return lab_err(e, LAB_EINVAL, "both models must be loaded to ask (model %s is missing)", slot_loaded(l, 0) ? "B" : "A");
    if (ask_check(l, text, o, e)) return -1;
    if (lab_busy(l)) return lab_err(e, LAB_EBUSY, "the models are still answering the last prompt");
    lab_wait(l); /* join the finished workers */
    AskPrep ap;
    int prc = ask_prepare(l, text, o, &ap, e);
    if (prc < 0) return -1;
    if (pair_id) *pair_id = ap.p.id;
    if (prc == 1) {
        if (ev->on_pair_done) ev->on_pair_done(ap.p.id, true, ev->ud);
        return 0;
    }
    int todo = (ap.p.response_id[0] == 0) + (ap.p.response_id[1] == 0);
    int *left = malloc(sizeof *left);
    if (!left) {
        ask_prep_free(&ap);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    *left = todo;
    atomic_store(&l->stop, false);
    pthread_mutex_lock(&l->mu);
    l->running = todo;
    l->ask_open = true;
    pthread_mutex_unlock(&l->mu);
    Job *jobs[2] = {NULL, NULL};
    bool oom = false;
    for (int k = 0; k < 2; k++)
        if (!ap.p.response_id[k] && !(jobs[k] = job_new(l, &ap, k, o, ev, left))) oom = true;
    ask_prep_free(&ap); /* a side already answered (a resumed pair) started no job: its messages are still ours */
    for (int k = 0; k < 2; k++) {
        if (ap.p.response_id[k]) continue;
        if (!oom && pthread_create(&l->th[k], NULL, worker, jobs[k]) == 0) {
            l->th_live[k] = true;
            continue;
        }
        /* the ones that did start finish normally; account for the ones that did not */
        for (int i = k; i < 2; i++)
            if (!ap.p.response_id[i]) {
                if (jobs[i]) job_drop(jobs[i]);
                else { /* never made: its share of the counts */
                    pthread_mutex_lock(&l->mu);
                    if (--*left == 0) free(left);
                    if (--l->running == 0) l->ask_open = false;
                    pthread_cond_broadcast(&l->cv);
                    pthread_mutex_unlock(&l->mu);
                }
            }
        lab_stop(l);
        return lab_err(e, LAB_ENOMEM, "cannot start a worker thread for model %c", 'A' + k);
    }
    return 0;
}

int lab_ask_many(Lab *l, const LabAskOpts *o, int n, const LabEvents *ev, int64_t *pair_ids, int *n_todo, LabErr *e) {
    LabEvents noev = {0};
    if (!ev) ev = &noev;
    if (n < 1) return lab_err(e, LAB_EINVAL, "no prompts to ask");
    for (int k = 0; k < 2; k++) {
        if (!slot_loaded(l, k)) return lab_err(e, LAB_EINVAL, "both models must be loaded to ask (model %c is missing)", 'A' + k);
        if (l->slot[k].r)
            return lab_err(e, LAB_EINVAL, "model %c is served remotely: its answers cannot be decoded together here",
                           'A' + k);
    }
    for (int i = 0; i < n; i++) {
        if (!o[i].prompt_id) return lab_err(e, LAB_EINVAL, "lab_ask_many answers stored prompts only");
        if (ask_check(l, NULL, &o[i], e)) return -1;
    }
    if (lab_busy(l)) return lab_err(e, LAB_EBUSY, "the models are still answering the last prompt");
    lab_wait(l);
    ManyJob *mj[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (!(mj[k] = calloc(1, sizeof *mj[k])) || !(mj[k]->jobs = calloc((size_t)n, sizeof *mj[k]->jobs))) {
            for (int i = 0; i <= k; i++)
                if (mj[i]) free(mj[i]->jobs), free(mj[i]);
            return lab_err(e, LAB_ENOMEM, "out of memory");
        }
        *mj[k] = (ManyJob){.l = l, .slot = k, .jobs = mj[k]->jobs, .n = 0};
    }
    atomic_store(&l->stop, false);
    pthread_mutex_lock(&l->mu);
    l->running = 0;
    pthread_mutex_unlock(&l->mu);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        AskPrep ap;
        int prc = ask_prepare(l, NULL, &o[i], &ap, e);
        if (prc < 0) {
            rc = -1;
            break;
        }
        if (pair_ids) pair_ids[i] = ap.p.id;
        if (n_todo) n_todo[i] = prc == 1 ? 0 : (ap.p.response_id[0] == 0) + (ap.p.response_id[1] == 0);
        if (prc == 1) {
            if (ev->on_pair_done) ev->on_pair_done(ap.p.id, true, ev->ud);
            continue;
        }
        int *left = malloc(sizeof *left);
        if (left) *left = 0;
        for (int k = 0; k < 2 && left; k++) {
            if (ap.p.response_id[k]) continue;
            Job *j = job_new(l, &ap, k, &o[i], ev, left);
            if (!j) break;
            mj[k]->jobs[mj[k]->n++] = j;
            ++*left;
            pthread_mutex_lock(&l->mu);
            l->running++;
            l->ask_open = true;
            pthread_mutex_unlock(&l->mu);
        }
        bool short_of = !left || *left < (ap.p.response_id[0] == 0) + (ap.p.response_id[1] == 0);
        if (left && !*left) free(left);
        ask_prep_free(&ap);
        if (short_of) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    }
    for (int k = 0; k < 2; k++) {
        if (!rc && mj[k]->n > 0 && pthread_create(&l->th[k], NULL, worker_many, mj[k]) == 0) {
            l->th_live[k] = true;
            continue;
        }
        if (!rc && mj[k]->n > 0) rc = lab_err(e, LAB_ENOMEM, "cannot start a worker thread for model %c", 'A' + k);
        for (int i = 0; i < mj[k]->n; i++) job_drop(mj[k]->jobs[i]);
        free(mj[k]->jobs);
        free(mj[k]);
    }
    if (rc) lab_stop(l);
    return rc;
}
