/* The lab's record side: opening, sessions and studies, settings, ratings (with retry and undo),
 * history and prompt history. Nothing here touches an engine (that is run.c), so the record-only
 * commands (stats, export, rate) start at once. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "ablab_config.h"
#include "lab_internal.h"

/* ---------- small helpers ---------- */

void lab_config_init(LabConfig *c) {
    memset(c, 0, sizeof *c);
    c->db_path = "ablab.db";
    c->threads = 2;
    c->sampling = lab_sampling_default();
}

static const char *const CHOICE_NAMES[] = {"a", "b", "tie", "both-bad"};

const char *lab_choice_name(LabChoice c) { return (unsigned)c < 4 ? CHOICE_NAMES[c] : "?"; }

int lab_choice_parse(const char *s, LabChoice *out) {
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, CHOICE_NAMES[i]) == 0) {
            *out = (LabChoice)i;
            return 0;
        }
    return -1;
}

void lab_strlist_free(LabStrList *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    free(s->line);
    s->v = NULL;
    s->line = NULL;
    s->n = 0;
}

static int strlist_push(LabStrList *s, const char *text, size_t len) {
    char **v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v) return -1;
    s->v = v;
    if (!(v[s->n] = strndup(text, len))) return -1;
    s->n++;
    return 0;
}

/* Pushes text from line `line` of a file. */
static int strlist_push_line(LabStrList *s, const char *text, size_t len, int line) {
    int *ln = realloc(s->line, (s->n + 1) * sizeof *ln);
    if (!ln) return -1;
    s->line = ln;
    if (strlist_push(s, text, len)) return -1;
    s->line[s->n - 1] = line;
    return 0;
}

static const char *const PACING_NAMES[] = {"together", "natural"};
const char *lab_pacing_name(LabPacing p) { return (unsigned)p < 2 ? PACING_NAMES[p] : "?"; }
int lab_pacing_parse(const char *s, LabPacing *out) {
    for (int i = 0; i < 2; i++)
        if (s && !strcmp(s, PACING_NAMES[i])) {
            *out = (LabPacing)i;
            return 0;
        }
    return -1;
}

void lab_copy_name(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
}

uint64_t lab_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int64_t lab_fresh_seed(void) {
    uint64_t v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        uint64_t s = (uint64_t)wall_time_ms() ^ ((uint64_t)getpid() << 32);
        v = lab_rng_next(&s);
    }
    return (int64_t)(v >> 1); /* SQLite integers are signed: keep seeds non-negative */
}

static uint64_t hash_str(uint64_t h, const char *s) {
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

int lab_left_slot(int64_t seed, int position, int rep) {
    uint64_t s = (uint64_t)seed ^ ((uint64_t)(position / 2) * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)rep << 48);
    int coin = (int)(lab_rng_next(&s) & 1);
    return coin ^ (position & 1);
}

/* ---------- opening and closing ---------- */

int lab_record_open(Lab **out, const char *db_path, LabErr *e) {
    *out = NULL;
    if (!db_path || !*db_path) return lab_err(e, LAB_EINVAL, "no database file given (--db)");
    Lab *l = calloc(1, sizeof *l);
    if (!l || !(l->db_path = strdup(db_path))) {
        free(l);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    atomic_init(&l->stop, false);
    l->settings.shared = true;
    l->settings.s[0] = l->settings.s[1] = lab_sampling_default();
    l->settings.threads = 2;
    char *dir = path_dirname(db_path);
    if (!dir) {
        lab_close(l);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    int rc = strcmp(dir, ".") && file_exists(dir) != 2 ? mkdir_p(dir, e) : 0;
    free(dir);
    if (rc || db_open_mode(&l->db, db_path, DB_READ_IF_NEEDED, e)) {
        lab_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

int lab_open_record(Lab **out, const char *db_path, LabErr *e) { return lab_record_open(out, db_path, e); }

bool lab_read_only(const Lab *l) { return l && l->db && db_read_only(l->db); }

void lab_close(Lab *l) {
    if (!l) return;
    lab_stop(l);
    lab_wait(l);
    if (l->ops) l->ops->release_models(l);
    db_close(l->db);
    lab_rate_discard(l);
    free(l->undo);
    free(l->study_text);
    free(l->session_participant);
    free(l->db_path);
    free(l->quant[0]);
    free(l->quant[1]);
    free(l->system_prompt);
    lab_chat_msgs_free(&l->conv[0]);
    lab_chat_msgs_free(&l->conv[1]);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < l->n_lora[k]; i++) free(l->lora[k][i]);
        free(l->lora[k]);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

/* ---------- the ask in flight (the workers themselves are in run.c) ---------- */

void lab_stop(Lab *l) {
    atomic_store(&l->stop, true);
    pthread_mutex_lock(&l->mu);
    if (l->ops) l->ops->cancel(l);
    pthread_mutex_unlock(&l->mu);
}

bool lab_busy(Lab *l) {
    pthread_mutex_lock(&l->mu);
    bool busy = l->ask_open || l->loading;
    pthread_mutex_unlock(&l->mu);
    return busy;
}

void lab_wait(Lab *l) {
    pthread_t join[2];
    int n = 0;
    pthread_mutex_lock(&l->mu);
    while (l->ask_open) pthread_cond_wait(&l->cv, &l->mu);
    /* take the threads to join under the lock, so two callers never join one thread twice */
    for (int k = 0; k < 2; k++)
        if (l->th_live[k]) {
            join[n++] = l->th[k];
            l->th_live[k] = false;
        }
    pthread_mutex_unlock(&l->mu);
    for (int k = 0; k < n; k++) pthread_join(join[k], NULL);
}

/* ---------- settings ---------- */

void lab_settings_get(const Lab *l, LabSettings *out) { *out = l->settings; }

static int check_sampling(const LabSampling *s, const char *who, LabErr *e) {
    return lab_sampling_check(s, e) ? lab_err_prefix(e, "settings for %s", who) : 0;
}

/* "a.top_p=0.95;" for every row of the table: the names are the table's, the values exact */
static void sampling_text(Buf *b, const char *k, const LabSampling *s) {
    for (int i = 0; i < LAB_SAMPLING_N; i++) {
        LabSettingInfo in;
        lab_sampling_info(i, &in);
        if (strcmp(in.name, "seed") == 0) buf_printf(b, "%s.%s=%lld;", k, in.name, (long long)s->seed);
        else buf_printf(b, "%s.%s=%.17g;", k, in.name, lab_sampling_value(s, i));
    }
}

/* Applies "key=value;" text saved by settings_save, every value through the table's check; unknown
 * keys are ignored (newer builds). -1 names the key and the value. */
static int settings_parse(LabSettings *st, const char *text, LabErr *e) {
    const char *p = text;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        char item[128];
        if (n < sizeof item) {
            memcpy(item, p, n);
            item[n] = 0;
            char *eq = strchr(item, '=');
            if (eq) {
                *eq = 0;
                const char *v = eq + 1;
                char *end;
                if (!strcmp(item, "shared")) st->shared = atoi(v) != 0;
                else if (!strcmp(item, "threads")) {
                    long t = strtol(v, &end, 10);
                    if (end == v || *end || t < 1 || t > 256)
                        return lab_err(e, LAB_EINVAL, "threads must be an integer in [1, 256], not '%s'", v);
                    st->threads = (int)t;
                } else if ((item[0] == 'a' || item[0] == 'b') && item[1] == '.') {
                    const char *k = strcmp(item + 2, "temp") ? item + 2 : "temperature"; /* the name saved before the table */
                    for (int i = 0; i < LAB_SAMPLING_N; i++) {
                        LabSettingInfo in;
                        lab_sampling_info(i, &in);
                        if (strcmp(in.name, k)) continue;
                        if (lab_sampling_parse(&st->s[item[0] - 'a'], i, v, e))
                            return lab_err_prefix(e, "model %c", item[0] == 'a' ? 'A' : 'B');
                    }
                }
            }
        }
        p += n + (semi ? 1 : 0);
    }
    return 0;
}

int lab_settings_restore(Lab *l, LabErr *e) {
    char *v = NULL;
    pthread_mutex_lock(&l->mu);
    int found = db_setting_get(l->db, "lab.settings", &v, e);
    pthread_mutex_unlock(&l->mu);
    if (found < 0) return -1;
    if (found != 1) return 0;
    LabSettings s = l->settings;
    int rc = settings_parse(&s, v, e);
    free(v);
    if (rc)
        return lab_err_prefix(e, "%s: the settings saved from the settings screen (setting lab.settings); start with "
                                 "a sampling flag such as --temp to use the command line's instead", l->db_path);
    l->settings = s;
    return 0;
}

int lab_settings_set(Lab *l, const LabSettings *s, LabErr *e) {
    if (lab_busy(l)) return lab_err(e, LAB_EBUSY, "settings cannot change while the models are answering");
    LabSettings n = *s;
    if (n.shared) n.s[1] = n.s[0];
    if (check_sampling(&n.s[0], "model A", e) || check_sampling(&n.s[1], "model B", e)) return -1;
    if (n.threads < 1 || n.threads > 256) return lab_err(e, LAB_EINVAL, "settings: threads must be 1..256");
    Buf b = {0};
    buf_printf(&b, "shared=%d;threads=%d;", n.shared, n.threads);
    sampling_text(&b, "a", &n.s[0]);
    sampling_text(&b, "b", &n.s[1]);
    if (!b.data) return lab_err(e, LAB_ENOMEM, "out of memory");
    pthread_mutex_lock(&l->mu);
    int rc = db_setting_set(l->db, "lab.settings", b.data, e);
    pthread_mutex_unlock(&l->mu);
    buf_free(&b);
    if (rc) return -1;
    pthread_mutex_lock(&l->mu);
    l->settings = n;
    if (l->ops) l->ops->apply_threads(l);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* ---------- sessions ---------- */

typedef struct {
    LabSessionInfo *info;
    char *participant;
    bool oom;
} SessCopy;

static int copy_session(const DbSession *s, void *ud) {
    SessCopy *c = ud;
    LabSessionInfo *o = c->info;
    o->id = s->id;
    lab_copy_name(o->name, sizeof o->name, s->name);
    lab_copy_name(o->kind, sizeof o->kind, s->kind);
    lab_copy_name(o->participant, sizeof o->participant, s->participant);
    lab_copy_name(o->prompt_set, sizeof o->prompt_set, s->prompt_set);
    o->blind = s->blind;
    o->consent = s->consent;
    o->seed = s->seed;
    o->started_ms = s->started_ms;
    o->ended_ms = s->ended_ms;
    o->ended = s->ended_ms != 0;
    o->study_id = s->study_id;
    free(c->participant);
    c->participant = s->participant ? strdup(s->participant) : NULL;
    c->oom = s->participant && !c->participant;
    return 1;
}

static int session_load(Lab *l, int64_t id, LabSessionInfo *out, LabErr *e) {
    SessCopy c = {.info = out};
    memset(out, 0, sizeof *out);
    int found = db_session_by_id(l->db, id, copy_session, &c, e);
    if (found <= 0) {
        free(c.participant);
        return found < 0 ? -1 : lab_err(e, LAB_ENOTFOUND, "%s: no session %lld", l->db_path, (long long)id);
    }
    if (c.oom) return lab_err(e, LAB_ENOMEM, "out of memory");
    const char *who = c.participant;
    int rc = db_session_counts(l->db, id, who, &out->n_prompts, &out->n_pairs_complete, &out->n_rated, e);
    free(c.participant);
    return rc;
}

static int study_load(Lab *l, int64_t id, LabStudy *out, LabErr *e);

static int make_current(Lab *l, const LabSessionInfo *info, LabErr *e) {
    LabStudy st = {0};
    if (info->study_id && study_load(l, info->study_id, &st, e)) return -1;
    char *p = info->participant[0] ? strdup(info->participant) : NULL;
    if (info->participant[0] && !p) return lab_err(e, LAB_ENOMEM, "out of memory");
    l->has_study = info->study_id != 0;
    l->study = st;
    l->session_run = strcmp(info->kind, "run") == 0;
    free(l->session_participant);
    l->session_participant = p;
    l->session_id = info->id;
    l->session_blind = info->blind;
    l->session_seed = info->seed;
    return 0;
}

int lab_session_start(Lab *l, const LabSessionSpec *spec, LabSessionInfo *out, LabErr *e) {
    if (!spec->name || !*spec->name) return lab_err(e, LAB_EINVAL, "a session needs a name");
    const char *kind = spec->kind ? spec->kind : "lab";
    if (strcmp(kind, "lab") && strcmp(kind, "run") && strcmp(kind, "study"))
        return lab_err(e, LAB_EINVAL, "session kind '%s' is not lab, run or study", kind);
    if (lab_busy(l)) return lab_err(e, LAB_EBUSY, "a session cannot start while the models are answering");
    LabSessionInfo info;
    SessCopy c = {.info = &info};
    pthread_mutex_lock(&l->mu);
    int found = db_session_by_name(l->db, spec->name, copy_session, &c, e);
    free(c.participant);
    int rc = found < 0 ? -1 : 0;
    if (found == 1) {
        /* resuming: what the session was started with stands */
        if (info.blind != spec->blind)
            rc = lab_err(e, LAB_EINVAL, "session '%s' was started %s; resume it %s", spec->name,
                         info.blind ? "blind" : "open", info.blind ? "with --blind" : "without --blind");
        else if (spec->participant && *spec->participant && strcmp(info.participant, spec->participant))
            rc = lab_err(e, LAB_EINVAL, "session '%s' belongs to participant '%s', not '%s'", spec->name,
                         info.participant, spec->participant);
        else if (spec->seed >= 0 && spec->seed != info.seed)
            rc = lab_err(e, LAB_EINVAL, "session '%s' was started with seed %lld, not %lld", spec->name,
                         (long long)info.seed, (long long)spec->seed);
        else if (spec->study_id != info.study_id)
            rc = lab_err(e, LAB_EINVAL, "session '%s' belongs to %s; start another session for this one", spec->name,
                         info.study_id ? "another study" : "no study");
    } else if (found == 0) {
        DbSession s = {.name = spec->name, .kind = kind, .participant = spec->participant,
                       .prompt_set = spec->prompt_set, .blind = spec->blind, .consent = spec->consent,
                       .seed = spec->seed >= 0 ? spec->seed : lab_fresh_seed(), .notes = spec->notes,
                       .build_version = ABLAB_VERSION, .cpu_model = cpu_model_name(), .study_id = spec->study_id};
        int64_t id;
        rc = db_session_add(l->db, &s, &id, e);
        if (!rc) info.id = id;
    }
    if (!rc) rc = session_load(l, info.id, &info, e);
    if (!rc) rc = make_current(l, &info, e);
    pthread_mutex_unlock(&l->mu);
    if (rc) return -1;
    info.resumed = found == 1;
    if (out) *out = info;
    return 0;
}

int lab_session_ensure(Lab *l, LabErr *e) {
    if (l->session_id) return 0;
    /* the default session of an interactive lab: one per start */
    char name[64];
    int64_t now = wall_time_ms();
    snprintf(name, sizeof name, "lab-%lld-%d", (long long)now, (int)getpid());
    DbSession s = {.name = name, .kind = "lab", .blind = l->blind_default, .seed = lab_fresh_seed(),
                   .build_version = ABLAB_VERSION, .cpu_model = cpu_model_name(), .started_ms = now};
    int64_t id;
    if (db_session_add(l->db, &s, &id, e)) return -1;
    l->session_id = id;
    l->session_blind = s.blind;
    l->session_seed = s.seed;
    l->session_run = false;
    l->has_study = false;
    return 0;
}

int lab_session_info(Lab *l, LabSessionInfo *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    if (!l->session_id) return 0;
    pthread_mutex_lock(&l->mu);
    int rc = session_load(l, l->session_id, out, e);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int lab_session_end(Lab *l, const char *notes, LabErr *e) {
    if (!l->session_id) return lab_err(e, LAB_ENOTFOUND, "no session is open");
    pthread_mutex_lock(&l->mu);
    int rc = db_session_end(l->db, l->session_id, wall_time_ms(), notes, e);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* ---------- prompt files and sets ---------- */

/* The messages of a conversation {"messages": [...]}: each an object with a "role" (system, user or
 * assistant; a system message only first) and a "content" string, the last one a user turn. On
 * error e says what is wrong (callers add where). */
static int conversation_check(json_t *msgs, LabErr *e) {
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return lab_err(e, LAB_EFORMAT, "\"messages\" must be a non-empty array of {\"role\", \"content\"} objects");
    size_t i; json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *r = json_object_get(m, "role"), *c = json_object_get(m, "content");
        if (!json_is_object(m) || !json_is_string(r) || !json_is_string(c))
            return lab_err(e, LAB_EFORMAT, "message %zu needs a \"role\" and a \"content\" string", i + 1);
        const char *role = json_string_value(r);
        if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system"))
            return lab_err(e, LAB_EFORMAT, "message %zu: role '%s' is not system, user or assistant", i + 1, role);
        if (!strcmp(role, "system") && i > 0) return lab_err(e, LAB_EFORMAT, "message %zu: a system message comes first only", i + 1);
        if (!utf8_valid(json_string_value(c), json_string_length(c)) || memchr(json_string_value(c), 0, json_string_length(c)))
            return lab_err(e, LAB_EFORMAT, "message %zu: the content is not text", i + 1);
    }
    const char *last = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "role"));
    if (strcmp(last, "user")) return lab_err(e, LAB_EFORMAT, "the last message must be the user's turn to answer, not '%s'", last);
    return 0;
}

int lab_conversation_parse(const char *text, LabChatMsgs *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    if (!text || strncmp(text, "{\"messages\":", 12) != 0) return 0;
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root) return 0;
    json_t *msgs = json_object_get(root, "messages");
    int rc = 0;
    if (json_object_size(root) != 1 || conversation_check(msgs, e)) { json_decref(root); return 0; }
    out->n = (int)json_array_size(msgs);
    out->role = calloc((size_t)out->n, sizeof *out->role);
    out->content = calloc((size_t)out->n, sizeof *out->content);
    for (int i = 0; out->role && out->content && i < out->n; i++) {
        json_t *m = json_array_get(msgs, (size_t)i);
        out->role[i] = strdup(json_string_value(json_object_get(m, "role")));
        out->content[i] = strdup(json_string_value(json_object_get(m, "content")));
        if (!out->role[i] || !out->content[i]) { out->n = i + 1; break; }
    }
    bool ok = out->role && out->content;
    for (int i = 0; ok && i < out->n; i++) ok = out->role[i] && out->content[i];
    json_decref(root);
    if (!ok) { lab_chat_msgs_free(out); return lab_err(e, LAB_ENOMEM, "out of memory"); }
    rc = 1;
    return rc;
}

void lab_chat_msgs_free(LabChatMsgs *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        if (m->role) free(m->role[i]);
        if (m->content) free(m->content[i]);
    }
    free(m->role);
    free(m->content);
    memset(m, 0, sizeof *m);
}

/* One JSON line {"prompt": "..."} or {"messages": [...]} through jansson; errors name the file and
 * line. A conversation is kept as its canonical JSON text {"messages":[...]}, which the lab knows
 * again when it asks it (lab_conversation_parse). */
static int prompt_from_json(const char *path, int line, const char *p, size_t n, LabStrList *out, LabErr *e) {
    json_error_t je;
    json_t *root = json_loadb(p, n, 0, &je);
    if (!root) return lab_err(e, LAB_EFORMAT, "%s:%d: not valid JSON (%s, column %d)", path, line, je.text, je.column);
    json_t *msgs = json_is_object(root) ? json_object_get(root, "messages") : NULL;
    if (msgs) {
        int rc = 0;
        if (json_object_get(root, "prompt")) rc = lab_err(e, LAB_EFORMAT, "%s:%d: a line holds a \"prompt\" or \"messages\", not both", path, line);
        else if (conversation_check(msgs, e)) rc = lab_err_prefix(e, "%s:%d", path, line);
        else {
            json_t *canon = json_pack("{s:O}", "messages", msgs);
            char *t = canon ? json_dumps(canon, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (!t || strlist_push_line(out, t, strlen(t), line)) rc = lab_err(e, LAB_ENOMEM, "out of memory");
            free(t);
            json_decref(canon);
        }
        json_decref(root);
        return rc;
    }
    json_t *v = json_is_object(root) ? json_object_get(root, "prompt") : NULL;
    int rc = 0;
    if (!v) rc = lab_err(e, LAB_EFORMAT, "%s:%d: a JSON line needs a \"prompt\" (or \"messages\") field", path, line);
    else if (!json_is_string(v)) rc = lab_err(e, LAB_EFORMAT, "%s:%d: \"prompt\" must be a string", path, line);
    else if (json_string_length(v) == 0) rc = lab_err(e, LAB_EFORMAT, "%s:%d: empty prompt", path, line);
    else if (strlist_push_line(out, json_string_value(v), json_string_length(v), line)) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    json_decref(root);
    return rc;
}

int lab_prompts_read(const char *path, LabStrList *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    if (file_read_all(path, (size_t)256 << 20, &text, &len, e)) return -1;
    if (!utf8_valid(text, len)) {
        free(text);
        return lab_err(e, LAB_EFORMAT, "%s: not UTF-8 text", path);
    }
    /* a prompt is a C string from here on: a NUL would cut it short without a word */
    const char *nul = memchr(text, 0, len);
    if (nul) {
        int at = 1;
        for (const char *q = text; q < nul; q++) at += *q == '\n';
        free(text);
        return lab_err(e, LAB_EFORMAT, "%s:%d: a NUL byte (not text)", path, at);
    }
    int line = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r') n--;
        size_t lead = 0;
        while (lead < n && (p[lead] == ' ' || p[lead] == '\t')) lead++;
        /* blank lines and '#' comment lines (the prompt sets' headers) are not prompts */
        if (lead < n && p[lead] != '#') {
            int rc = 0;
            if (p[lead] == '{') rc = prompt_from_json(path, line, p + lead, n - lead, out, e);
            else if (strlist_push_line(out, p, n, line)) rc = lab_err(e, LAB_ENOMEM, "out of memory");
            if (rc) {
                free(text);
                lab_strlist_free(out);
                return -1;
            }
        }
        p = le + 1;
    }
    free(text);
    if (out->n == 0) return lab_err(e, LAB_EFORMAT, "%s: no prompts (one a line, or JSON lines {\"prompt\": ...} or {\"messages\": [...]})", path);
    return 0;
}

int lab_session_set_prompts(Lab *l, const LabStrList *prompts, LabErr *e) {
    if (!l->session_id) return lab_err(e, LAB_EINVAL, "start a session before giving it prompts");
    LabSessionInfo info;
    pthread_mutex_lock(&l->mu);
    int rc = session_load(l, l->session_id, &info, e);
    for (size_t i = 0; !rc && i < prompts->n; i++) {
        int64_t id;
        rc = db_prompt_add(l->db, l->session_id, info.prompt_set[0] ? info.prompt_set : NULL, (int)i, prompts->v[i],
                           &id, e);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

typedef struct { int64_t id; } FoundId;
static int found_id(const DbSession *s, void *ud) {
    ((FoundId *)ud)->id = s->id;
    return 1;
}

int lab_session_find(Lab *l, const char *name_or_id, int64_t *id, LabErr *e) {
    FoundId f = {0};
    pthread_mutex_lock(&l->mu);
    int found = db_session_by_name(l->db, name_or_id, found_id, &f, e);
    if (found == 0) {
        char *end;
        long long v = strtoll(name_or_id, &end, 10);
        if (end != name_or_id && !*end && v > 0) found = db_session_by_id(l->db, v, found_id, &f, e);
    }
    pthread_mutex_unlock(&l->mu);
    if (found < 0) return -1;
    if (!found) return lab_err(e, LAB_ENOTFOUND, "%s: no session named or numbered '%s'", l->db_path, name_or_id);
    *id = f.id;
    return 0;
}

/* ---------- studies ---------- */

typedef struct {
    int64_t *id;
    int *position;
    size_t n, cap;
    bool oom;
} PromptIds;

static int collect_prompt(const DbPrompt *p, void *ud) {
    PromptIds *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        int64_t *id = realloc(c->id, cap * sizeof *id);
        if (id) c->id = id;
        int *pos = realloc(c->position, cap * sizeof *pos);
        if (pos) c->position = pos;
        if (!id || !pos) {
            c->oom = true;
            return 1;
        }
        c->cap = cap;
    }
    c->id[c->n] = p->id;
    c->position[c->n] = p->position;
    c->n++;
    return 0;
}

static int take_text(const DbPrompt *p, void *ud) {
    char **t = ud;
    *t = strdup(p->text);
    return 1;
}

typedef struct { const char *who; int64_t pair; bool rated; } RatedBy;
static int find_rated(const DbRating *r, void *ud) {
    RatedBy *c = ud;
    if (r->pair_id == c->pair && strcmp(r->participant, c->who) == 0) {
        c->rated = true;
        return 1;
    }
    return 0;
}

int lab_session_prompt_ids(Lab *l, int64_t **ids, size_t *n, LabErr *e) {
    *ids = NULL;
    *n = 0;
    if (!l->session_id) return lab_err(e, LAB_EINVAL, "no session is open");
    PromptIds c = {0};
    pthread_mutex_lock(&l->mu);
    int rc = db_prompts_each(l->db, l->session_id, collect_prompt, &c, e);
    pthread_mutex_unlock(&l->mu);
    free(c.position);
    if (!rc && c.oom) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    if (rc) {
        free(c.id);
        return -1;
    }
    *ids = c.id;
    *n = c.n;
    return 0;
}

int lab_study_next(Lab *l, LabStudyItem *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    if (!l->session_id) return lab_err(e, LAB_EINVAL, "no session: start one with its prompts first");
    PromptIds ids = {0};
    int rc = -1, result = 0;
    pthread_mutex_lock(&l->mu);
    if (db_prompts_each(l->db, l->session_id, collect_prompt, &ids, e)) goto done;
    if (ids.oom) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    /* the participant's order: a Fisher–Yates shuffle seeded by the session seed and pseudonym,
     * so a resume (or a re-run) walks the same order */
    const char *who = l->session_participant ? l->session_participant : "";
    uint64_t st = hash_str((uint64_t)l->session_seed ^ 0xA5A5A5A5A5A5A5A5ull, who);
    size_t *order = malloc((ids.n ? ids.n : 1) * sizeof *order);
    if (!order) {
        lab_err(e, LAB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < ids.n; i++) order[i] = i;
    for (size_t i = ids.n; i > 1; i--) {
        size_t j = (size_t)(lab_rng_next(&st) % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    rc = 0;
    int n_failed = 0;
    for (size_t k = 0; k < ids.n; k++) {
        size_t i = order[k];
        DbPair p;
        int found = db_pair_find(l->db, l->session_id, ids.id[i], 0, &p, e);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (found && p.failed) {
            n_failed++; /* recorded as failed: passed over, never asked again */
            continue;
        }
        if (found) {
            RatedBy rb = {.who = who, .pair = p.id};
            if (db_ratings_each(l->db, l->session_id, false, find_rated, &rb, e)) {
                rc = -1;
                break;
            }
            if (rb.rated) continue;
        }
        char *text = NULL;
        if (db_prompt_get(l->db, ids.id[i], take_text, &text, e) < 0 || !text) {
            if (!text && e && e->code == LAB_OK) lab_err(e, LAB_ENOMEM, "out of memory");
            rc = -1;
            break;
        }
        free(l->study_text);
        l->study_text = text;
        *out = (LabStudyItem){.prompt_id = ids.id[i], .position = ids.position[i], .k = (int)k + 1, .n = (int)ids.n,
                              .pair_id = found ? p.id : 0,
                              .answered = found && p.response_id[0] && p.response_id[1], .text = text};
        result = 1;
        break;
    }
    out->n_failed = n_failed;
    free(order);
done:
    pthread_mutex_unlock(&l->mu);
    free(ids.id);
    free(ids.position);
    return rc ? -1 : result;
}

/* ---------- a study's protocol ---------- */

void lab_prompts_sha256(const LabStrList *prompts, char out[65]) {
    Buf b = {0};
    for (size_t i = 0; i < prompts->n; i++) buf_printf(&b, "%zu:%s\n", strlen(prompts->v[i]), prompts->v[i]);
    sha256_hex(b.data ? b.data : "", b.len, out);
    buf_free(&b);
}

int lab_sampling_to_text(const LabSampling *s, Buf *out) {
    for (int i = 0; i < LAB_SAMPLING_N; i++) {
        LabSettingInfo in;
        lab_sampling_info(i, &in);
        /* exact: %.17g reads back to the same double, and the seed is an integer of 63 bits */
        if (!strcmp(in.name, "seed")) buf_printf(out, "%s=%lld;", in.name, (long long)s->seed);
        else buf_printf(out, "%s=%.17g;", in.name, lab_sampling_value(s, i));
    }
    return out->data ? 0 : -1;
}

int lab_sampling_from_text(const char *text, LabSampling *s, LabErr *e) {
    LabSampling r = lab_sampling_default();
    bool seen[LAB_SAMPLING_N] = {0};
    const char *p = text;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        char item[160];
        if (n >= sizeof item) return lab_err(e, LAB_EFORMAT, "sampling '%.40s...' is too long", p);
        memcpy(item, p, n);
        item[n] = 0;
        char *eq = strchr(item, '=');
        if (!eq) return lab_err(e, LAB_EFORMAT, "sampling item '%s' has no '='", item);
        *eq = 0;
        int row = -1;
        for (int i = 0; i < LAB_SAMPLING_N && row < 0; i++) {
            LabSettingInfo in;
            lab_sampling_info(i, &in);
            if (!strcmp(in.name, item)) row = i;
        }
        if (row < 0) return lab_err(e, LAB_EFORMAT, "sampling setting '%s' is not one this build knows", item);
        if (lab_sampling_parse(&r, row, eq + 1, e)) return -1;
        seen[row] = true;
        p += n + (semi ? 1 : 0);
    }
    for (int i = 0; i < LAB_SAMPLING_N; i++)
        if (!seen[i]) {
            LabSettingInfo in;
            lab_sampling_info(i, &in);
            return lab_err(e, LAB_EFORMAT, "sampling lacks %s", in.name);
        }
    *s = r;
    return 0;
}

typedef struct { LabStudy *out; LabErr *e; int rc; } StudyCopy;
static int copy_study(const DbStudy *s, void *ud) {
    StudyCopy *c = ud;
    LabStudy *o = c->out;
    memset(o, 0, sizeof *o);
    o->id = s->id;
    lab_copy_name(o->name, sizeof o->name, s->name);
    lab_copy_name(o->prompt_set, sizeof o->prompt_set, s->prompt_set);
    lab_copy_name(o->source, sizeof o->source, s->source);
    lab_copy_name(o->prompts_sha256, sizeof o->prompts_sha256, s->prompts_sha256);
    o->n_prompts = s->n_prompts;
    o->blind = s->blind;
    o->created_ms = s->created_ms;
    if (lab_pacing_parse(s->pacing, &o->pacing))
        c->rc = lab_err(c->e, LAB_EFORMAT, "study '%s': pacing '%s' is not together or natural", s->name, s->pacing);
    else if (lab_sampling_from_text(s->sampling, &o->sampling, c->e))
        c->rc = lab_err_prefix(c->e, "study '%s'", s->name);
    return 1;
}

/* Needs mu. */
static int study_load(Lab *l, int64_t id, LabStudy *out, LabErr *e) {
    StudyCopy c = {out, e, 0};
    int found = db_study_by_id(l->db, id, copy_study, &c, e);
    if (found < 0 || c.rc) return -1;
    if (!found) return lab_err(e, LAB_ENOTFOUND, "%s: no study %lld", l->db_path, (long long)id);
    return 0;
}

/* The first setting of b that differs from a, in words ("temperature 0.8, not 0.2"); "" if none. */
static void protocol_diff(const LabStudy *a, const LabStudySpec *b, char *out, size_t n) {
    out[0] = 0;
    for (int i = 0; i < LAB_SAMPLING_N; i++) {
        char va[48], vb[48];
        lab_sampling_format(&a->sampling, i, va, sizeof va);
        lab_sampling_format(&b->sampling, i, vb, sizeof vb);
        if (lab_sampling_value(&a->sampling, i) != lab_sampling_value(&b->sampling, i)) {
            LabSettingInfo in;
            lab_sampling_info(i, &in);
            snprintf(out, n, "%s %s, not %s", in.name, va, vb);
            return;
        }
    }
    if (a->blind != b->blind) snprintf(out, n, "%s, not %s", a->blind ? "blind" : "open", b->blind ? "blind" : "open");
    else if (a->pacing != b->pacing)
        snprintf(out, n, "pacing %s, not %s", lab_pacing_name(a->pacing), lab_pacing_name(b->pacing));
}

int lab_study_open(Lab *l, const LabStudySpec *spec, bool strict, LabStudy *out, LabErr *e) {
    if (!spec->name || !*spec->name) return lab_err(e, LAB_EINVAL, "a study needs a name");
    if (!spec->prompts || !spec->prompts->n) return lab_err(e, LAB_EINVAL, "study '%s' has no prompts", spec->name);
    if (lab_sampling_check(&spec->sampling, e)) return lab_err_prefix(e, "study '%s'", spec->name);
    char sha[65];
    lab_prompts_sha256(spec->prompts, sha);
    StudyCopy c = {out, e, 0};
    pthread_mutex_lock(&l->mu);
    int found = db_study_by_name(l->db, spec->name, copy_study, &c, e);
    int rc = found < 0 || c.rc ? -1 : 0;
    if (!rc && found) {
        char diff[160];
        protocol_diff(out, spec, diff, sizeof diff);
        if (strcmp(out->prompts_sha256, sha))
            rc = lab_err(e, LAB_EINVAL,
                         "study '%s' was created with another prompt set (%d prompts of %s, sha256 %.12s…, not %.12s…); "
                         "name a new study with --study NAME",
                         spec->name, out->n_prompts, out->prompt_set, out->prompts_sha256, sha);
        else if (strict && diff[0])
            rc = lab_err(e, LAB_EINVAL,
                         "study '%s' was created with %s: every participant runs the recorded protocol; leave the "
                         "flag out, or name a new study with --study NAME",
                         spec->name, diff);
        out->created = false;
    } else if (!rc) {
        Buf sb = {0};
        if (lab_sampling_to_text(&spec->sampling, &sb)) {
            rc = lab_err(e, LAB_ENOMEM, "out of memory");
        } else {
            DbStudy s = {.name = spec->name, .prompt_set = spec->prompt_set ? spec->prompt_set : "",
                         .prompts_sha256 = sha, .n_prompts = (int)spec->prompts->n, .sampling = sb.data,
                         .blind = spec->blind, .pacing = lab_pacing_name(spec->pacing),
                         .source = spec->source ? spec->source : "", .created_ms = wall_time_ms()};
            int64_t id;
            rc = db_study_add(l->db, &s, &id, e);
            if (!rc) rc = study_load(l, id, out, e);
            out->created = true;
        }
        buf_free(&sb);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int lab_study_find(Lab *l, const char *name, LabStudy *out, LabErr *e) {
    StudyCopy c = {out, e, 0};
    pthread_mutex_lock(&l->mu);
    int found = db_study_by_name(l->db, name, copy_study, &c, e);
    pthread_mutex_unlock(&l->mu);
    return found < 0 || c.rc ? -1 : found;
}

int lab_study_current(Lab *l, LabStudy *out, LabErr *e) {
    (void)e;
    pthread_mutex_lock(&l->mu);
    bool has = l->has_study;
    if (has) *out = l->study;
    pthread_mutex_unlock(&l->mu);
    return has ? 1 : 0;
}

const char *lab_pair_pacing(const Lab *l, bool shown) {
    if (!shown || l->session_run) return "";
    if (l->has_study) return l->study.blind ? lab_pacing_name(l->study.pacing) : "natural";
    return l->session_blind ? lab_pacing_name(l->pacing_default) : "natural";
}

/* ---------- ratings ---------- */

typedef struct { int64_t id; char *out; } NameOf;
static int name_of(const DbModel *m, void *ud) {
    NameOf *c = ud;
    if (m->id != c->id) return 0;
    lab_copy_name(c->out, LAB_NAME_MAX, m->name);
    return 1;
}

void lab_model_name(Lab *l, int64_t id, char out[LAB_NAME_MAX]) {
    out[0] = 0;
    NameOf c = {id, out};
    LabErr e = {0};
    db_models_each(l->db, name_of, &c, &e);
}

static bool retryable(LabErrCode c) { return c == LAB_EFULL || c == LAB_EBUSY || c == LAB_EIO || c == LAB_ENOMEM; }

static int push_undo(Lab *l, int64_t id) {
    if (l->n_undo == l->cap_undo) {
        size_t cap = l->cap_undo ? l->cap_undo * 2 : 32;
        int64_t *u = realloc(l->undo, cap * sizeof *u);
        if (!u) return -1;
        l->undo = u;
        l->cap_undo = cap;
    }
    l->undo[l->n_undo++] = id;
    return 0;
}

static char *dup_or_null(const char *s, bool *oom) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

int lab_rate(Lab *l, int64_t pair_id, LabChoice c, const LabRateOpts *o, LabRateResult *out, LabErr *e) {
    LabRateOpts none = {.decide_ms = -1};
    if (!o) o = &none;
    if ((unsigned)c > LAB_CHOICE_BOTH_BAD) return lab_err(e, LAB_EINVAL, "unknown choice %d", (int)c);
    for (int s = 0; s < 2; s++)
        if (o->score[s] < 0 || o->score[s] > 5)
            return lab_err(e, LAB_EINVAL, "score %d is not 1..5 (0 = none)", o->score[s]);
    if (l->has_pending) return lab_err(e, LAB_EBUSY, "an earlier rating is waiting to be saved: retry or discard it first");
    DbPair p;
    pthread_mutex_lock(&l->mu);
    int found = db_pair_get(l->db, pair_id, &p, e);
    pthread_mutex_unlock(&l->mu);
    if (found < 0) return -1;
    if (!found) return lab_err(e, LAB_ENOTFOUND, "%s: no response pair %lld", l->db_path, (long long)pair_id);
    if (!p.response_id[0] || !p.response_id[1])
        return lab_err(e, LAB_EINVAL, "response pair %lld is not complete (both answers are needed to rate it)",
                       (long long)pair_id);
    /* sides as shown -> model slots */
    int slot_of_choice = -1; /* winning slot */
    int score[2] = {0, 0};
    if (o->by_slot) {
        if (c == LAB_CHOICE_A) slot_of_choice = 0;
        if (c == LAB_CHOICE_B) slot_of_choice = 1;
        score[0] = o->score[0];
        score[1] = o->score[1];
    } else {
        if (c == LAB_CHOICE_A) slot_of_choice = p.left_slot;
        if (c == LAB_CHOICE_B) slot_of_choice = 1 - p.left_slot;
        score[p.left_slot] = o->score[0];
        score[1 - p.left_slot] = o->score[1];
    }
    LabChoice mc = slot_of_choice == 0 ? LAB_CHOICE_A : slot_of_choice == 1 ? LAB_CHOICE_B : c;
    LabPendingRating *pr = &l->pending;
    memset(pr, 0, sizeof *pr);
    bool oom = false;
    const char *who = o->participant ? o->participant
                      : p.session_id == l->session_id && l->session_participant ? l->session_participant : "";
    pr->participant = dup_or_null(who, &oom);
    pr->choice = dup_or_null(lab_choice_name(mc), &oom);
    pr->tags = dup_or_null(o->tags, &oom);
    pr->comment = dup_or_null(o->comment, &oom);
    if (oom) {
        lab_rate_discard(l);
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    pr->r = (DbRating){.pair_id = pair_id, .participant = pr->participant, .choice = pr->choice,
                       .winner_model_id = slot_of_choice >= 0 ? p.model_id[slot_of_choice] : 0,
                       .chosen_side = slot_of_choice < 0 ? -1 : slot_of_choice == p.left_slot ? 0 : 1,
                       .score = {score[0], score[1]}, .tags = pr->tags, .comment = pr->comment,
                       .decide_ms = o->decide_ms, .created_ms = wall_time_ms()};
    pr->result = (LabRateResult){.pair_id = pair_id, .left_slot = p.left_slot, .model_choice = mc};
    pthread_mutex_lock(&l->mu);
    lab_model_name(l, p.model_id[p.left_slot], pr->result.model_name[0]);
    lab_model_name(l, p.model_id[1 - p.left_slot], pr->result.model_name[1]);
    pthread_mutex_unlock(&l->mu);
    l->has_pending = true;
    return lab_rate_retry(l, out, e);
}

bool lab_rate_pending(const Lab *l) { return l->has_pending; }

int lab_rate_retry(Lab *l, LabRateResult *out, LabErr *e) {
    if (!l->has_pending) return lab_err(e, LAB_ENOTFOUND, "no rating is waiting to be saved");
    int64_t id, rev;
    pthread_mutex_lock(&l->mu);
    int rc = db_rating_set(l->db, &l->pending.r, &id, &rev, e);
    pthread_mutex_unlock(&l->mu);
    if (rc) {
        /* kept for a retry only when waiting can help; a refused row is dropped */
        if (!e || !retryable(e->code)) lab_rate_discard(l);
        else lab_err_prefix(e, "the rating is kept: retry when the problem is fixed");
        return -1;
    }
    l->pending.result.rating_id = id;
    if (out) *out = l->pending.result;
    if (push_undo(l, rev)) LOG_W("undo list: out of memory (rating %lld saved)", (long long)id);
    lab_rate_discard(l);
    return 0;
}

void lab_rate_discard(Lab *l) {
    LabPendingRating *p = &l->pending;
    free(p->participant);
    free(p->choice);
    free(p->tags);
    free(p->comment);
    memset(p, 0, sizeof *p);
    l->has_pending = false;
}

int lab_undo_rating(Lab *l, int64_t *pair_id, LabErr *e) {
    if (l->n_undo == 0) return lab_err(e, LAB_ENOTFOUND, "no rating change to undo");
    int64_t pair = 0;
    pthread_mutex_lock(&l->mu);
    int rc = db_rating_undo(l->db, l->undo[l->n_undo - 1], &pair, e);
    pthread_mutex_unlock(&l->mu);
    if (rc < 0 && e && e->code == LAB_ENOTFOUND) l->n_undo--; /* undone elsewhere: nothing left to undo there */
    if (rc < 0) return -1;
    l->n_undo--;
    if (pair_id) *pair_id = pair;
    return 0;
}

/* Copies src into dst[n], cut at a character boundary when it does not fit. */
static void copy_text(char *dst, size_t n, const char *src) {
    size_t len = src ? strlen(src) : 0;
    if (len >= n) {
        len = n - 1;
        len -= utf8_incomplete_tail((const unsigned char *)src, len);
    }
    if (len) memcpy(dst, src, len);
    dst[len] = 0;
}

typedef struct { LabRating *out; int left_slot; bool oom; } CurrentCb;
static int current_row(const DbRating *r, void *ud) {
    CurrentCb *c = ud;
    LabRating *o = c->out;
    int left = c->left_slot;
    LabChoice mc = LAB_CHOICE_BOTH_BAD;
    if (lab_choice_parse(r->choice, &mc)) mc = LAB_CHOICE_BOTH_BAD;
    /* models -> sides as shown */
    o->choice = mc == LAB_CHOICE_A ? (left == 0 ? LAB_CHOICE_A : LAB_CHOICE_B)
                : mc == LAB_CHOICE_B ? (left == 1 ? LAB_CHOICE_A : LAB_CHOICE_B) : mc;
    o->model_choice = mc;
    o->score[0] = r->score[left];
    o->score[1] = r->score[1 - left];
    o->rating_id = r->id;
    o->decide_ms = r->decide_ms;
    copy_text(o->tags, sizeof o->tags, r->tags);
    copy_text(o->comment, sizeof o->comment, r->comment);
    return 1;
}

int lab_rating_current(Lab *l, int64_t pair_id, const char *participant, LabRating *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    DbPair p;
    pthread_mutex_lock(&l->mu);
    int found = db_pair_get(l->db, pair_id, &p, e);
    if (found == 1) {
        const char *who = participant ? participant
                          : p.session_id == l->session_id && l->session_participant ? l->session_participant : "";
        CurrentCb c = {out, p.left_slot, false};
        found = db_rating_of(l->db, pair_id, who, current_row, &c, e);
    } else if (found == 0) {
        lab_err(e, LAB_ENOTFOUND, "%s: no response pair %lld", l->db_path, (long long)pair_id);
        found = -1;
    }
    pthread_mutex_unlock(&l->mu);
    return found;
}

/* ---------- history ---------- */

typedef struct {
    int (*each)(const LabPairRow *, void *);
    void *ud;
} HistCb;

static int history_row(const DbPairRow *r, void *ud) {
    HistCb *c = ud;
    LabPairRow row = {.pair_id = r->pair_id, .session_id = r->session_id, .prompt_id = r->prompt_id, .rep = r->rep,
                      .created_ms = r->created_ms, .session_name = r->session_name, .prompt = r->prompt,
                      .output = {r->output[0], r->output[1]}, .model_name = {r->model_name[0], r->model_name[1]},
                      .left_slot = r->left_slot, .blind = r->blind, .n_ratings = r->n_ratings,
                      .last_choice = r->last_choice};
    return c->each(&row, c->ud);
}

int lab_history(Lab *l, const char *search, int64_t session_id, int limit, int offset,
                int (*each)(const LabPairRow *, void *), void *ud, LabErr *e) {
    HistCb c = {each, ud};
    pthread_mutex_lock(&l->mu);
    int rc = db_pairs_each(l->db, search, session_id, limit, offset, history_row, &c, e);
    if (rc && e && e->code == LAB_EINVAL && search) {
        /* not FTS5 syntax (an apostrophe, a hyphen...): search the words as plain words */
        Buf q = {0};
        const char *p = search;
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == '\n') p++;
            if (!*p) break;
            buf_puts(&q, q.len ? " \"" : "\"");
            for (; *p && *p != ' ' && *p != '\t' && *p != '\n'; p++) {
                if (*p == '"') buf_putc(&q, '"');
                buf_putc(&q, *p);
            }
            buf_putc(&q, '"');
        }
        if (q.data) {
            lab_err_clear(e);
            rc = db_pairs_each(l->db, q.data, session_id, limit, offset, history_row, &c, e);
        }
        buf_free(&q);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

typedef struct {
    LabPair *p;
    bool oom;
} PairFill;

static int pair_response(const DbResponse *r, void *ud) {
    PairFill *c = ud;
    int k = r->slot;
    if (k < 0 || k > 1) return 0;
    c->p->response_id[k] = r->id;
    free(c->p->output[k]);
    c->p->output[k] = strdup(r->output);
    if (!c->p->prompt) c->p->prompt = strdup(r->prompt);
    c->oom |= !c->p->output[k] || !c->p->prompt;
    lab_metrics_from_response(r, &c->p->metrics[k], &c->p->sampling[k]);
    return 0;
}

/* A byte count from the record as size_t: negative is 0, and sums saturate (a foreign file may
 * hold anything an int64 can). */
static size_t bytes_of(int64_t v) { return v > 0 ? (size_t)v : 0; }
static size_t bytes_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

void lab_metrics_from_response(const DbResponse *r, LabMetrics *m, LabSampling *s) {
    *m = (LabMetrics){.n_prompt = r->n_prompt, .n_gen = r->n_gen, .ttft_ms = r->ttft_ms, .prefill_ms = r->prefill_ms,
                      .decode_tok_s = r->decode_tok_s, .total_ms = r->total_ms, .p50_ms = r->p50_ms,
                      .p95_ms = r->p95_ms,
                      .bytes_weights = bytes_add(bytes_of(r->bytes_weights_mapped), bytes_of(r->bytes_weights_owned)),
                      .bytes_kv = bytes_of(r->bytes_kv), .bytes_scratch = bytes_of(r->bytes_scratch),
                      .peak_rss = bytes_of(r->peak_rss), .n_threads = r->threads, .seed = (uint64_t)r->seed};
    m->bytes_engine = bytes_add(bytes_add(m->bytes_weights, m->bytes_kv), m->bytes_scratch);
    /* a remote arm's response names no machine of ours (run.c's remote_answer) */
    m->remote = r->cpu_model && !strcmp(r->cpu_model, "remote") && r->threads == 0;
    lab_copy_name(m->stop, sizeof m->stop, r->stop_reason);
    *s = (LabSampling){.temp = r->temp, .top_k = r->top_k, .top_p = r->top_p, .min_p = r->min_p,
                       .repeat_penalty = r->repeat_penalty, .repeat_last_n = r->repeat_last_n,
                       .max_tokens = r->max_tokens, .seed = r->seed};
}

int lab_pair_get(Lab *l, int64_t pair_id, LabPair *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    DbPair p;
    pthread_mutex_lock(&l->mu);
    int found = db_pair_get(l->db, pair_id, &p, e), rc = found < 0 ? -1 : 0;
    if (found == 0) rc = lab_err(e, LAB_ENOTFOUND, "%s: no response pair %lld", l->db_path, (long long)pair_id);
    PairFill c = {.p = out};
    for (int k = 0; !rc && k < 2; k++)
        if (p.response_id[k]) rc = db_responses_each(l->db, 0, p.response_id[k], pair_response, &c, e);
    if (!rc && !out->prompt) {
        char *text = NULL;
        if (db_prompt_get(l->db, p.prompt_id, take_text, &text, e) < 0) rc = -1;
        out->prompt = text;
        c.oom |= !text && !rc;
    }
    if (!rc) {
        out->id = p.id;
        out->left_slot = p.left_slot;
        out->blind = p.blind;
        snprintf(out->pacing, sizeof out->pacing, "%s", p.pacing);
        out->failed = p.failed;
        lab_model_name(l, p.model_id[0], out->model_name[0]);
        lab_model_name(l, p.model_id[1], out->model_name[1]);
    }
    pthread_mutex_unlock(&l->mu);
    if (!rc && c.oom) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    if (rc) lab_pair_free(out);
    return rc;
}

void lab_pair_free(LabPair *p) {
    if (!p) return;
    free(p->prompt);
    free(p->output[0]);
    free(p->output[1]);
    memset(p, 0, sizeof *p);
}

static int push_history(const char *text, void *ud) { return strlist_push(ud, text, strlen(text)) ? 1 : 0; }

int lab_prompt_history(Lab *l, int limit, LabStrList *out, LabErr *e) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&l->mu);
    int rc = db_history_each(l->db, limit, push_history, out, e);
    pthread_mutex_unlock(&l->mu);
    if (rc) lab_strlist_free(out);
    return rc;
}
