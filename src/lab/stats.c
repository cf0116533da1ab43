/* lab_stats: from the record to the numbers of `ablab stats`, the stats screen and the exports.
 * What counts: the latest rating of each participant for each pair. Both-bad votes are counted
 * but carry no preference (they are left out of win rates and Bradley–Terry); ties count half
 * to each side in Bradley–Terry and are left out of the win rate and the sign test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab_internal.h"

/* ---------- the scope: which sessions, which ratings ---------- */

static const char *const KINDS[3] = {"lab", "study", "run"};
static int kind_index(const char *k) {
    for (int i = 0; i < 3; i++)
        if (k && !strcmp(k, KINDS[i])) return i;
    return -1;
}

int lab_scope_check(const LabScope *sc, LabErr *e) {
    if (sc->source && kind_index(sc->source) < 0)
        return lab_err(e, LAB_EINVAL, "source '%s' is not lab, study or run", sc->source);
    return 0;
}

typedef struct {
    int64_t id, study_id;
    int kind;
    bool in_scope;       /* passes the session, study and source filters */
    bool contributed;    /* a response or a counted rating of it is in the statistics */
    char *participant;
    int64_t source_id;   /* the machine it was recorded on */
} Sess;

typedef struct {
    Sess *v;
    size_t n, cap;
    const LabScope *scope;
    bool oom;
} Sessions;

static int add_session(const DbSession *x, void *ud) {
    Sessions *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        Sess *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->oom = true;
            return 1;
        }
        c->v = v;
        c->cap = cap;
    }
    const LabScope *sc = c->scope;
    Sess *o = &c->v[c->n];
    *o = (Sess){.id = x->id, .study_id = x->study_id, .kind = kind_index(x->kind),
                .participant = strdup(x->participant ? x->participant : ""), .source_id = x->source_id};
    if (!o->participant) {
        c->oom = true;
        return 1;
    }
    /* a study by its prompt set here; by its recorded name in resolve_studies */
    o->in_scope = (!sc->study || (o->kind == 1 && x->prompt_set && !strcmp(x->prompt_set, sc->study))) &&
                  (!sc->source || (o->kind >= 0 && !strcmp(KINDS[o->kind], sc->source)));
    c->n++;
    return 0;
}

typedef struct { const char *name; bool match; } StudyName;
static int study_name(const DbStudy *st, void *ud) {
    StudyName *c = ud;
    c->match = !strcmp(st->name, c->name);
    return 1;
}

/* --study NAME also selects the sessions of the recorded study called NAME (studies table). */
static int resolve_studies(Db *db, Sessions *c, LabErr *e) {
    const LabScope *sc = c->scope;
    if (!sc->study) return 0;
    for (size_t i = 0; i < c->n; i++) {
        Sess *x = &c->v[i];
        if (x->in_scope || !x->study_id) continue;
        StudyName q = {sc->study, false};
        if (db_study_by_id(db, x->study_id, study_name, &q, e) < 0) return -1;
        x->in_scope = q.match && (!sc->source || (x->kind >= 0 && !strcmp(KINDS[x->kind], sc->source)));
    }
    return 0;
}

/* The session row of an id (sessions come in id order), NULL if unknown. */
static Sess *session_of(Sessions *c, int64_t id) {
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->v[mid].id == id) return &c->v[mid];
        if (c->v[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static void free_sessions(Sessions *c) {
    for (size_t i = 0; i < c->n; i++) free(c->v[i].participant);
    free(c->v);
}

typedef struct {
    int64_t pair_id, prompt_id, session_id, model[2];
    int choice;        /* 0 = model[0] better, 1 = model[1], 2 tie, 3 both bad */
    int chosen_side;   /* -1 or side of the winner */
    int score[2];
    char *participant, *prompt;
    bool blind;
    char pacing;       /* the pair's recorded pacing: 't' together, 'n' natural, 0 none */
    int64_t source_id; /* the machine the rating was given on */
} Vote;

typedef struct {
    Vote *v;
    size_t n, cap;
    LabStats *s;
    Sessions *sessions;
    bool oom;
} Collect;

static LabModelStats *model_slot(LabStats *s, int64_t id) {
    for (size_t i = 0; i < s->n_models; i++)
        if (s->models[i].id == id) return &s->models[i];
    return NULL;
}

static int add_model(const DbModel *m, void *ud) {
    LabStats *s = ud;
    LabModelStats *n = realloc(s->models, (s->n_models + 1) * sizeof *n);
    if (!n) return 1;
    s->models = n;
    LabModelStats *o = &n[s->n_models++];
    memset(o, 0, sizeof *o);
    o->id = m->id;
    lab_copy_name(o->name, sizeof o->name, m->name);
    lab_copy_name(o->arch, sizeof o->arch, m->arch);
    lab_copy_name(o->dtype, sizeof o->dtype, m->dtype);
    o->n_params = strcmp(m->arch, "remote") ? m->n_params : -1; /* a server's model: unknown */
    o->elo = NAN;
    o->elo_ci = (LabInterval){NAN, NAN};
    return 0;
}

static int add_vote(const DbRating *r, void *ud) {
    Collect *c = ud;
    Sess *ss = session_of(c->sessions, r->session_id);
    if (!ss || !ss->in_scope) return 0;
    const char *who = c->sessions->scope->participant;
    if (who && strcmp(who, r->participant)) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        Vote *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->oom = true;
            return 1;
        }
        c->v = v;
        c->cap = cap;
    }
    int ch = strcmp(r->choice, "a") == 0 ? 0 : strcmp(r->choice, "b") == 0 ? 1 : strcmp(r->choice, "tie") == 0 ? 2 : 3;
    Vote *v = &c->v[c->n];
    *v = (Vote){.pair_id = r->pair_id, .prompt_id = r->prompt_id, .session_id = r->session_id,
                .model = {r->model_id[0], r->model_id[1]}, .choice = ch, .chosen_side = r->chosen_side,
                .score = {r->score[0], r->score[1]}, .participant = strdup(r->participant),
                .prompt = strdup(r->prompt ? r->prompt : ""), .blind = r->blind,
                .pacing = !r->pacing ? 0 : !strcmp(r->pacing, "together") ? 't' : !strcmp(r->pacing, "natural") ? 'n' : 0,
                .source_id = r->source_id};
    if (!v->participant || !v->prompt) {
        free(v->participant);
        free(v->prompt);
        c->oom = true;
        return 1;
    }
    c->n++;
    return 0;
}

typedef struct {
    int64_t id;
    double *ttft, *tok_s, *total, *rss, *eng;
    size_t n, cap;
} Series;

typedef struct {
    Series *s;
    size_t n;
    int64_t *pairs;          /* pair ids with a response, and their response count */
    int *pair_n;
    size_t n_pairs, cap_pairs;
    bool any_blind, any_open, oom;
    Sessions *sessions;
    /* facts: every response's seed, prompt id, machine; each pair's prompt text */
    int64_t *seeds, *prompt_ids, *sources;
    char **texts;
    size_t n_resp, cap_resp, n_texts;
    LabFacts *f;
    bool first;
} Resp;

static int add_fact(Resp *c, const DbResponse *r) {
    if (c->n_resp == c->cap_resp) {
        size_t cap = c->cap_resp ? c->cap_resp * 2 : 256;
        int64_t *a = realloc(c->seeds, cap * sizeof *a);
        if (a) c->seeds = a;
        int64_t *b = realloc(c->prompt_ids, cap * sizeof *b);
        if (b) c->prompt_ids = b;
        char **t = realloc(c->texts, cap * sizeof *t);
        if (t) c->texts = t;
        int64_t *m = realloc(c->sources, cap * sizeof *m);
        if (m) c->sources = m;
        if (!a || !b || !t || !m) return -1;
        c->cap_resp = cap;
    }
    c->seeds[c->n_resp] = r->seed;
    c->prompt_ids[c->n_resp] = r->prompt_id;
    c->sources[c->n_resp] = r->source_id;
    c->n_resp++;
    LabFacts *f = c->f;
    if (!c->first) {
        c->first = true;
        f->same_sampling = true;
        f->temp = r->temp;
        f->top_k = r->top_k;
        f->top_p = r->top_p;
        f->min_p = r->min_p;
        f->repeat_penalty = r->repeat_penalty;
        f->max_tokens = r->max_tokens;
        f->threads_min = f->threads_max = r->threads;
        lab_copy_name(f->cpu, sizeof f->cpu, r->cpu_model);
        lab_copy_name(f->version, sizeof f->version, r->build_version);
        f->first_ms = f->last_ms = r->created_ms;
        f->same_cpu = true;
    }
    char cpu[sizeof f->cpu];
    lab_copy_name(cpu, sizeof cpu, r->cpu_model);
    if (strcmp(cpu, f->cpu)) f->same_cpu = false;
    if (r->temp != f->temp || r->top_k != f->top_k || r->top_p != f->top_p || r->min_p != f->min_p ||
        r->repeat_penalty != f->repeat_penalty || r->max_tokens != f->max_tokens)
        f->same_sampling = false;
    if (r->threads < f->threads_min) f->threads_min = r->threads;
    if (r->threads > f->threads_max) f->threads_max = r->threads;
    if (r->created_ms < f->first_ms) f->first_ms = r->created_ms;
    if (r->created_ms > f->last_ms) f->last_ms = r->created_ms;
    return 0;
}

static int add_response(const DbResponse *r, void *ud) {
    Resp *c = ud;
    Sess *ss = session_of(c->sessions, r->session_id);
    if (!ss || !ss->in_scope) return 0;
    ss->contributed = true;
    if (add_fact(c, r)) goto oom;
    Series *s = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (c->s[i].id == r->model_id) s = &c->s[i];
    if (!s) {
        Series *ns = realloc(c->s, (c->n + 1) * sizeof *ns);
        if (!ns) goto oom;
        c->s = ns;
        s = &ns[c->n++];
        memset(s, 0, sizeof *s);
        s->id = r->model_id;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        double **arr[] = {&s->ttft, &s->tok_s, &s->total, &s->rss, &s->eng};
        for (int k = 0; k < 5; k++) {
            double *a = realloc(*arr[k], cap * sizeof *a);
            if (!a) goto oom;
            *arr[k] = a;
        }
        s->cap = cap;
    }
    s->ttft[s->n] = r->ttft_ms;
    s->tok_s[s->n] = r->decode_tok_s;
    s->total[s->n] = r->total_ms;
    s->rss[s->n] = (double)r->peak_rss;
    /* summed as doubles: a foreign file may hold any int64 in these columns */
    s->eng[s->n] = (double)r->bytes_weights_mapped + (double)r->bytes_weights_owned + (double)r->bytes_kv +
                   (double)r->bytes_scratch;
    s->n++;
    if (r->blind) c->any_blind = true;
    else c->any_open = true;
    /* pairs seen, newest last: a pair's responses are adjacent enough; search from the end */
    for (size_t i = c->n_pairs; i-- > 0;)
        if (c->pairs[i] == r->pair_id) {
            c->pair_n[i]++;
            return 0;
        }
    if (c->n_pairs == c->cap_pairs) {
        size_t cap = c->cap_pairs ? c->cap_pairs * 2 : 256;
        int64_t *p = realloc(c->pairs, cap * sizeof *p);
        if (p) c->pairs = p;
        int *pn = realloc(c->pair_n, cap * sizeof *pn);
        if (pn) c->pair_n = pn;
        if (!p || !pn) goto oom;
        c->cap_pairs = cap;
    }
    c->pairs[c->n_pairs] = r->pair_id;
    c->pair_n[c->n_pairs++] = 1;
    if (!(c->texts[c->n_texts] = strdup(r->prompt ? r->prompt : ""))) goto oom;
    c->n_texts++;
    return 0;
oom:
    c->oom = true;
    return 1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static size_t count_distinct_i64(int64_t *v, size_t n) {
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_i64);
    size_t d = 1;
    for (size_t i = 1; i < n; i++) d += v[i] != v[i - 1];
    return d;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Bradley–Terry over the rated models from a list of votes (indices into rated[]); a virtual tie
 * between every two models that met keeps ratings finite when one side never won. */
static int bt_fit(const Vote *v, const size_t *pick, size_t n_pick, const int64_t *rated, size_t n_rated,
                  double *win, double *elo) {
    memset(win, 0, n_rated * n_rated * sizeof *win);
    for (size_t t = 0; t < n_pick; t++) {
        const Vote *x = &v[pick[t]];
        if (x->choice == 3) continue;
        size_t a = 0, b = 0;
        while (a < n_rated && rated[a] != x->model[0]) a++;
        while (b < n_rated && rated[b] != x->model[1]) b++;
        if (a == n_rated || b == n_rated || a == b) continue;
        if (x->choice == 0) win[a * n_rated + b] += 1;
        else if (x->choice == 1) win[b * n_rated + a] += 1;
        else {
            win[a * n_rated + b] += 0.5;
            win[b * n_rated + a] += 0.5;
        }
    }
    for (size_t a = 0; a < n_rated; a++)
        for (size_t b = a + 1; b < n_rated; b++)
            if (win[a * n_rated + b] + win[b * n_rated + a] > 0) {
                win[a * n_rated + b] += 0.5;
                win[b * n_rated + a] += 0.5;
            }
    return lab_bradley_terry(win, n_rated, elo);
}

static void free_votes(Collect *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].participant);
        free(c->v[i].prompt);
    }
    free(c->v);
}

static void free_resp(Resp *r) {
    for (size_t i = 0; i < r->n; i++) {
        free(r->s[i].total);
        free(r->s[i].rss);
        free(r->s[i].eng);
        /* ttft and tok_s move into LabModelStats (or are freed below if no model took them) */
        free(r->s[i].ttft);
        free(r->s[i].tok_s);
    }
    free(r->s);
    free(r->pairs);
    free(r->pair_n);
    for (size_t i = 0; i < r->n_texts; i++) free(r->texts[i]);
    free(r->texts);
    free(r->seeds);
    free(r->prompt_ids);
    free(r->sources);
}

static int cmp_vote_item(const void *pa, const void *pb, void *ctx) {
    const Vote *v = ctx, *a = &v[*(const size_t *)pa], *b = &v[*(const size_t *)pb];
    int64_t alo = a->model[0] < a->model[1] ? a->model[0] : a->model[1], ahi = a->model[0] ^ a->model[1] ^ alo;
    int64_t blo = b->model[0] < b->model[1] ? b->model[0] : b->model[1], bhi = b->model[0] ^ b->model[1] ^ blo;
    int c = strcmp(a->prompt, b->prompt);
    if (!c) c = (alo > blo) - (alo < blo);
    if (!c) c = (ahi > bhi) - (ahi < bhi);
    if (!c) c = strcmp(a->participant, b->participant);
    return c;
}

/* Inter-rater agreement: items are (prompt text, the two models); categories are oriented to the
 * lower model id so the same judgement reads the same whichever side was A. */
static void agreement(const Vote *v, size_t n_all, LabStats *s) {
    s->kappa_kind = "none";
    s->kappa = NAN;
    s->kappa_items = 0;
    if (n_all < 2) return;
    size_t *idx = malloc(n_all * sizeof *idx);
    if (!idx) return;
    /* raters are named participants: the lab's anonymous ratings are votes, but no one's */
    size_t n = 0;
    for (size_t i = 0; i < n_all; i++)
        if (v[i].participant[0]) idx[n++] = i;
    if (n < 2) {
        free(idx);
        return;
    }
    /* sort by item, then participant */
    qsort_r(idx, n, sizeof *idx, cmp_vote_item, (void *)v);
    /* walk items */
    int *counts = calloc(n * 4, sizeof *counts);
    char **raters = calloc(n, sizeof *raters);
    int *ca = malloc(n * sizeof *ca), *cb = malloc(n * sizeof *cb);
    char *first = NULL, *second = NULL;
    size_t n_items = 0, n_raters = 0, n_pairs2 = 0;
    bool two_only = true;
    if (!counts || !raters || !ca || !cb) goto done;
    for (size_t i = 0; i < n;) {
        const Vote *h = &v[idx[i]];
        int64_t lo = h->model[0] < h->model[1] ? h->model[0] : h->model[1];
        int64_t hi = h->model[0] ^ h->model[1] ^ lo;
        size_t j = i;
        int cnt[4] = {0};
        size_t k_r = 0;
        const char *last_p = NULL;
        int cat_first = -1, cat_second = -1;
        const char *p_first = NULL, *p_second = NULL;
        while (j < n) {
            const Vote *x = &v[idx[j]];
            int64_t xlo = x->model[0] < x->model[1] ? x->model[0] : x->model[1];
            int64_t xhi = x->model[0] ^ x->model[1] ^ xlo;
            if (strcmp(x->prompt, h->prompt) || xlo != lo || xhi != hi) break;
            if (!last_p || strcmp(last_p, x->participant)) { /* one vote per participant per item */
                int cat = x->choice;
                if (cat < 2 && x->model[0] != lo) cat = 1 - cat;
                cnt[cat]++;
                if (k_r == 0) {
                    cat_first = cat;
                    p_first = x->participant;
                } else if (k_r == 1) {
                    cat_second = cat;
                    p_second = x->participant;
                }
                k_r++;
                last_p = x->participant;
                bool known = false;
                for (size_t r = 0; r < n_raters; r++) known |= strcmp(raters[r], x->participant) == 0;
                if (!known) raters[n_raters++] = x->participant;
            }
            j++;
        }
        if (k_r >= 2) {
            memcpy(&counts[n_items * 4], cnt, sizeof cnt);
            n_items++;
            if (k_r == 2) {
                /* orient Cohen's pairs by a fixed rater order */
                if (!first) {
                    first = (char *)p_first;
                    second = (char *)p_second;
                }
                if (!strcmp(p_first, first) && !strcmp(p_second, second)) {
                    ca[n_pairs2] = cat_first;
                    cb[n_pairs2++] = cat_second;
                } else if (!strcmp(p_first, second) && !strcmp(p_second, first)) {
                    ca[n_pairs2] = cat_second;
                    cb[n_pairs2++] = cat_first;
                } else two_only = false;
            } else two_only = false;
        }
        i = j;
    }
    s->kappa_items = (int)n_items;
    if (n_items == 0) goto done;
    if (two_only && n_pairs2 == n_items) {
        s->kappa_kind = "cohen";
        s->kappa = lab_cohen_kappa(ca, cb, n_pairs2, 4);
    } else {
        s->kappa_kind = "fleiss";
        s->kappa = lab_fleiss_kappa(counts, n_items, 4);
    }
done:
    free(idx);
    free(counts);
    free(raters);
    free(ca);
    free(cb);
}

typedef struct { const char *who; int64_t *ids; size_t n, cap; bool oom; } RatedIn;
static int rated_in(const DbRating *r, void *ud) {
    RatedIn *c = ud;
    if (strcmp(r->participant, c->who)) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        int64_t *v = realloc(c->ids, cap * sizeof *v);
        if (!v) {
            c->oom = true;
            return 1;
        }
        c->ids = v;
        c->cap = cap;
    }
    c->ids[c->n++] = r->session_id;
    return 0;
}

int lab_scope_sessions(Lab *l, const LabScope *sc, int64_t **ids, size_t *n, LabErr *e) {
    *ids = NULL;
    *n = 0;
    if (lab_scope_check(sc, e)) return -1;
    Sessions ss = {.scope = sc};
    RatedIn ri = {.who = sc->participant};
    int rc = db_sessions_each(l->db, sc->session_id, add_session, &ss, e);
    if (!rc && !ss.oom) rc = resolve_studies(l->db, &ss, e);
    if (!rc && sc->participant) rc = db_ratings_each(l->db, sc->session_id, true, rated_in, &ri, e);
    if (!rc && (ss.oom || ri.oom)) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    int64_t *out = rc ? NULL : malloc((ss.n + 1) * sizeof *out);
    if (!rc && !out) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < ss.n; i++) {
        bool keep = ss.v[i].in_scope;
        if (keep && sc->participant) {
            bool theirs = !strcmp(ss.v[i].participant, sc->participant);
            for (size_t k = 0; k < ri.n && !theirs; k++) theirs = ri.ids[k] == ss.v[i].id;
            keep = theirs;
        }
        if (keep) out[(*n)++] = ss.v[i].id; /* id order: bsearch-able */
    }
    free(ri.ids);
    free_sessions(&ss);
    if (rc) {
        free(out);
        *n = 0;
        return -1;
    }
    *ids = out;
    return 0;
}

bool lab_scope_has(const int64_t *ids, size_t n, int64_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] == id) return true;
        if (ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

static void describe_scope(const LabScope *sc, char *out, size_t n) {
    Buf b = {0};
    if (sc->session_id) buf_printf(&b, "session %lld", (long long)sc->session_id);
    if (sc->study) buf_printf(&b, "%sstudy '%s'", b.len ? ", " : "", sc->study);
    if (sc->source) buf_printf(&b, "%s%s sessions", b.len ? ", " : "", sc->source);
    if (sc->participant) buf_printf(&b, "%sparticipant '%s'", b.len ? ", " : "", sc->participant);
    snprintf(out, n, "%s", b.len && b.data ? b.data : "all sessions");
    buf_free(&b);
}

/* The counts and facts of LabFacts from what was collected. */
static int facts(Collect *c, Resp *rs, Sessions *ss, LabStats *out) {
    LabFacts *f = &out->facts;
    f->n_responses = (int)rs->n_resp;
    for (size_t i = 0; i < c->n; i++) {
        Sess *x = session_of(ss, c->v[i].session_id);
        if (x) x->contributed = true;
    }
    for (size_t i = 0; i < ss->n; i++)
        if (ss->v[i].contributed && ss->v[i].kind >= 0) f->n_sessions_kind[ss->v[i].kind]++;
    out->n_sessions = f->n_sessions_kind[0] + f->n_sessions_kind[1] + f->n_sessions_kind[2];
    /* distinct prompt texts (the same prompt in several sessions is one prompt) */
    if (rs->n_texts) qsort(rs->texts, rs->n_texts, sizeof *rs->texts, cmp_str); /* texts is NULL when empty */
    for (size_t i = 0; i < rs->n_texts; i++) out->n_prompts += i == 0 || strcmp(rs->texts[i], rs->texts[i - 1]);
    f->n_prompt_entries = (int)count_distinct_i64(rs->prompt_ids, rs->n_resp);
    /* seeds: how many distinct, and the most used one */
    if (rs->n_resp) qsort(rs->seeds, rs->n_resp, sizeof *rs->seeds, cmp_i64);
    for (size_t i = 0; i < rs->n_resp;) {
        size_t j = i;
        while (j < rs->n_resp && rs->seeds[j] == rs->seeds[i]) j++;
        f->n_seeds++;
        if ((int)(j - i) > f->n_seed_common) {
            f->n_seed_common = (int)(j - i);
            f->seed_common = rs->seeds[i];
        }
        i = j;
    }
    /* rated pairs, how they were shown; anonymous votes; named raters */
    size_t m = c->n + 1;
    int64_t *ids = malloc(m * sizeof *ids);
    char **who = malloc(m * sizeof *who);
    if (!ids || !who) {
        free(ids);
        free(who);
        return -1;
    }
    size_t n_ids = 0;
    for (size_t i = 0; i < c->n; i++) {
        bool seen = false;
        for (size_t k = 0; k < n_ids && !seen; k++) seen = ids[k] == c->v[i].pair_id;
        if (seen) continue;
        ids[n_ids++] = c->v[i].pair_id;
        if (c->v[i].blind) {
            f->n_blind_pairs++;
            f->n_blind_together += c->v[i].pacing == 't';
            f->n_blind_natural += c->v[i].pacing == 'n';
        } else {
            f->n_open_pairs++;
        }
    }
    f->n_rated_pairs = (int)n_ids;
    size_t n_who = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].participant[0]) who[n_who++] = c->v[i].participant;
        else f->n_anonymous_votes++;
        if (c->v[i].blind) out->any_blind = true;
        else out->any_open = true;
    }
    if (n_who) qsort(who, n_who, sizeof *who, cmp_str);
    Buf names = {0};
    for (size_t i = 0; i < n_who; i++) {
        if (i && !strcmp(who[i], who[i - 1])) continue;
        out->n_participants++;
        buf_printf(&names, "%s%s", names.len ? ", " : "", who[i]);
    }
    if (names.len >= sizeof f->raters) {
        size_t cut = sizeof f->raters - 4;
        cut -= utf8_incomplete_tail((const unsigned char *)names.data, cut);
        snprintf(f->raters, sizeof f->raters, "%.*s...", (int)cut, names.data);
    } else {
        snprintf(f->raters, sizeof f->raters, "%s", names.data ? names.data : "");
    }
    buf_free(&names);
    free(ids);
    free(who);
    return 0;
}

static int add_source(const DbSource *x, void *ud) {
    LabStats *s = ud;
    LabMachineStats *n = realloc(s->machines, (s->n_machines + 1) * sizeof *n);
    if (!n) return 1;
    s->machines = n;
    LabMachineStats *m = &n[s->n_machines++];
    memset(m, 0, sizeof *m);
    m->id = x->id;
    m->own = x->is_self;
    lab_copy_name(m->uuid, sizeof m->uuid, x->uuid);
    lab_copy_name(m->host, sizeof m->host, x->host);
    lab_copy_name(m->file, sizeof m->file, x->file);
    return 0;
}

static LabMachineStats *machine_of(LabStats *s, int64_t id) {
    for (size_t i = 0; i < s->n_machines; i++)
        if (s->machines[i].id == id) return &s->machines[i];
    return NULL;
}

/* The pair of out->pairs a vote counts for, and whether its models are the other way round. */
static size_t pair_of(const LabStats *s, const Vote *v, int *flip) {
    for (size_t k = 0; k < s->n_pairs; k++) {
        const LabPairStats *x = &s->pairs[k];
        *flip = x->model_id[0] == v->model[1] && x->model_id[1] == v->model[0];
        if (*flip || (x->model_id[0] == v->model[0] && x->model_id[1] == v->model[1])) return k;
    }
    return s->n_pairs;
}

/* Each machine's share: its sessions, responses and votes (per model pair); machines with none in
 * the scope are dropped. */
static int machines(const Collect *c, const Resp *rs, const Sessions *ss, LabStats *out) {
    for (size_t i = 0; i < out->n_machines; i++) {
        LabMachineStats *m = &out->machines[i];
        if (!(m->pair_votes = calloc(out->n_pairs * 4 + 1, sizeof *m->pair_votes))) return -1;
    }
    for (size_t i = 0; i < ss->n; i++) {
        LabMachineStats *m = ss->v[i].contributed ? machine_of(out, ss->v[i].source_id) : NULL;
        if (m) m->n_sessions++;
    }
    for (size_t i = 0; i < rs->n_resp; i++) {
        LabMachineStats *m = machine_of(out, rs->sources[i]);
        if (m) m->n_responses++;
    }
    for (size_t i = 0; i < c->n; i++) {
        LabMachineStats *m = machine_of(out, c->v[i].source_id);
        if (!m) continue;
        m->n_votes++;
        int flip;
        size_t k = pair_of(out, &c->v[i], &flip);
        if (k == out->n_pairs) continue;
        int ch = c->v[i].choice;
        m->pair_votes[k * 4 + (ch < 2 ? ch ^ flip : ch)]++;
    }
    size_t keep = 0;
    for (size_t i = 0; i < out->n_machines; i++) {
        if (out->machines[i].n_responses || out->machines[i].n_votes) out->machines[keep++] = out->machines[i];
        else free(out->machines[i].pair_votes);
    }
    out->n_machines = keep;
    out->facts.n_machines = (int)keep;
    return 0;
}

char *lab_stats_header(const LabStats *s) {
    const LabFacts *f = &s->facts;
    Buf b = {0};
    buf_printf(&b, "pooled: %s — %d session%s (%d lab, %d study, %d run)", s->scope, s->n_sessions,
               s->n_sessions == 1 ? "" : "s", f->n_sessions_kind[0], f->n_sessions_kind[1], f->n_sessions_kind[2]);
    buf_printf(&b, "\ncounts: %d distinct prompt%s, %d complete response pair%s (%d response%s), %d rating%s of %d pair%s "
               "by %d rater%s",
               s->n_prompts, s->n_prompts == 1 ? "" : "s", s->n_pairs_complete, s->n_pairs_complete == 1 ? "" : "s",
               f->n_responses, f->n_responses == 1 ? "" : "s", s->n_votes, s->n_votes == 1 ? "" : "s",
               f->n_rated_pairs, f->n_rated_pairs == 1 ? "" : "s", s->n_participants, s->n_participants == 1 ? "" : "s");
    if (s->n_participants) buf_printf(&b, " (%s)", f->raters);
    if (f->n_anonymous_votes)
        buf_printf(&b, " and %d anonymous lab rating%s (votes, not raters)", f->n_anonymous_votes,
                   f->n_anonymous_votes == 1 ? "" : "s");
    if (f->n_rated_pairs)
        buf_printf(&b, "; %s", f->n_blind_pairs && f->n_open_pairs ? "blind and open" : f->n_blind_pairs ? "blind" : "open");
    if (buf_putc(&b, 0)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

int lab_stats(Lab *l, const LabStatsQuery *q, LabStats *out, LabErr *e) {
    LabStatsQuery dq = {0};
    if (!q) q = &dq;
    memset(out, 0, sizeof *out);
    out->bootstrap_rounds = q->bootstrap_rounds > 0 ? q->bootstrap_rounds : 1000;
    out->seed = q->seed ? q->seed : 1;
    out->kappa_kind = "none";
    out->kappa = NAN;
    LabScope sc = q->scope;
    if (!sc.session_id) sc.session_id = q->session_id;
    if (lab_scope_check(&sc, e)) return -1;
    describe_scope(&sc, out->scope, sizeof out->scope);
    Sessions ss = {.scope = &sc};
    Collect c = {.s = out, .sessions = &ss};
    Resp rs = {.sessions = &ss, .f = &out->facts};
    pthread_mutex_lock(&l->mu);
    int rc = db_models_each(l->db, add_model, out, e);
    if (!rc) rc = db_sources_each(l->db, add_source, out, e);
    if (!rc) rc = db_sessions_each(l->db, sc.session_id, add_session, &ss, e);
    if (!rc && !ss.oom) rc = resolve_studies(l->db, &ss, e);
    if (!rc && !ss.oom) rc = db_ratings_each(l->db, sc.session_id, true, add_vote, &c, e);
    if (!rc && !c.oom && sc.participant) {
        /* a participant's responses: those of the sessions they rated in or that are theirs */
        for (size_t i = 0; i < ss.n; i++) {
            bool theirs = !strcmp(ss.v[i].participant, sc.participant);
            for (size_t k = 0; k < c.n && !theirs; k++) theirs = c.v[k].session_id == ss.v[i].id;
            ss.v[i].in_scope &= theirs;
        }
    }
    if (!rc && !c.oom && !ss.oom) rc = db_responses_each(l->db, sc.session_id, 0, add_response, &rs, e);
    pthread_mutex_unlock(&l->mu);
    if (!rc && (c.oom || rs.oom || ss.oom)) rc = lab_err(e, LAB_ENOMEM, "out of memory");
    if (rc) goto fail;

    /* ---- the record at a glance: what was pooled, counted as what it is ---- */
    out->n_votes = (int)c.n;
    out->any_blind = rs.any_blind;
    out->any_open = rs.any_open;
    for (size_t i = 0; i < rs.n_pairs; i++) out->n_pairs_complete += rs.pair_n[i] == 2;
    if (facts(&c, &rs, &ss, out)) {
        rc = lab_err(e, LAB_ENOMEM, "out of memory");
        goto fail;
    }

    /* ---- per model pair ---- */
    for (size_t i = 0; i < c.n; i++) {
        Vote *v = &c.v[i];
        LabPairStats *ps = NULL;
        int flip = 0;
        for (size_t k = 0; k < out->n_pairs && !ps; k++) {
            LabPairStats *x = &out->pairs[k];
            if (x->model_id[0] == v->model[0] && x->model_id[1] == v->model[1]) ps = x;
            else if (x->model_id[0] == v->model[1] && x->model_id[1] == v->model[0]) {
                ps = x;
                flip = 1;
            }
        }
        if (!ps) {
            LabPairStats *np = realloc(out->pairs, (out->n_pairs + 1) * sizeof *np);
            if (!np) {
                rc = lab_err(e, LAB_ENOMEM, "out of memory");
                goto fail;
            }
            out->pairs = np;
            ps = &np[out->n_pairs++];
            memset(ps, 0, sizeof *ps);
            for (int k = 0; k < 2; k++) {
                ps->model_id[k] = v->model[k];
                LabModelStats *ms = model_slot(out, v->model[k]);
                lab_copy_name(ps->name[k], sizeof ps->name[k], ms ? ms->name : "?");
            }
        }
        ps->votes++;
        if (v->choice < 2) {
            int w = v->choice ^ flip;
            ps->wins[w]++;
            ps->decisive++;
            if (v->chosen_side == 0) ps->left_wins++;
        } else if (v->choice == 2) ps->ties++;
        else ps->both_bad++;
        for (int k = 0; k < 2; k++) {
            int score = v->score[k];
            if (score < 1 || score > 5) continue;
            int m = k ^ flip;
            ps->score_hist[m][score - 1]++;
            ps->mean_score[m] += score;
            ps->n_score[m]++;
        }
    }
    for (size_t k = 0; k < out->n_pairs; k++) {
        LabPairStats *ps = &out->pairs[k];
        for (int m = 0; m < 2; m++) ps->mean_score[m] = ps->n_score[m] ? ps->mean_score[m] / ps->n_score[m] : NAN;
        ps->win_rate = ps->decisive ? (double)ps->wins[0] / ps->decisive : NAN;
        ps->win_ci = lab_wilson(ps->wins[0], ps->decisive, 1.96);
        ps->sign_p = lab_sign_test(ps->wins[0], ps->wins[1]);
        ps->left_rate = ps->decisive ? (double)ps->left_wins / ps->decisive : NAN;
        ps->left_ci = lab_wilson(ps->left_wins, ps->decisive, 1.96);
        if (!ps->decisive) ps->more_votes = -1;
        else {
            int need = lab_votes_to_separate(ps->win_rate);
            ps->more_votes = need < 0 ? -1 : need > ps->decisive ? need - ps->decisive : 0;
            /* the interval of the actual counts may already exclude 0.5 */
            if (ps->win_ci.lo > 0.5 || ps->win_ci.hi < 0.5) ps->more_votes = 0;
        }
    }

    /* ---- Bradley–Terry with a seeded bootstrap ---- */
    {
        size_t nr = 0;
        int64_t *rated = malloc((2 * c.n + 1) * sizeof *rated);
        size_t *pick = malloc((c.n + 1) * sizeof *pick);
        if (!rated || !pick) {
            free(rated);
            free(pick);
            rc = lab_err(e, LAB_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < c.n; i++) {
            if (c.v[i].choice == 3) continue;
            for (int k = 0; k < 2; k++) {
                bool seen = false;
                for (size_t r = 0; r < nr; r++) seen |= rated[r] == c.v[i].model[k];
                if (!seen) rated[nr++] = c.v[i].model[k];
            }
        }
        double *win = malloc((nr * nr + 1) * sizeof *win), *elo = malloc((nr + 1) * sizeof *elo);
        double *boot = malloc(((size_t)out->bootstrap_rounds * nr + 1) * sizeof *boot);
        if (!win || !elo || !boot) rc = lab_err(e, LAB_ENOMEM, "out of memory");
        if (!rc && nr >= 2) {
            for (size_t i = 0; i < c.n; i++) pick[i] = i;
            if (bt_fit(c.v, pick, c.n, rated, nr, win, elo) == 0) {
                for (size_t r = 0; r < nr; r++) {
                    LabModelStats *ms = model_slot(out, rated[r]);
                    if (ms) {
                        ms->elo = elo[r];
                        ms->rated = true;
                    }
                }
                uint64_t st = out->seed;
                int ok_rounds = 0;
                for (int b = 0; b < out->bootstrap_rounds; b++) {
                    for (size_t i = 0; i < c.n; i++) pick[i] = (size_t)(lab_rng_next(&st) % c.n);
                    if (bt_fit(c.v, pick, c.n, rated, nr, win, elo) != 0) continue;
                    for (size_t r = 0; r < nr; r++) boot[(size_t)r * out->bootstrap_rounds + ok_rounds] = elo[r];
                    ok_rounds++;
                }
                for (size_t r = 0; r < nr && ok_rounds > 0; r++) {
                    LabModelStats *ms = model_slot(out, rated[r]);
                    double *col = &boot[(size_t)r * out->bootstrap_rounds];
                    if (ms) {
                        ms->elo_ci.lo = lab_quantile(col, (size_t)ok_rounds, 0.025);
                        ms->elo_ci.hi = lab_quantile(col, (size_t)ok_rounds, 0.975);
                    }
                }
            }
        }
        free(rated);
        free(pick);
        free(win);
        free(elo);
        free(boot);
        if (rc) goto fail;
    }

    /* ---- latency and memory per model ---- */
    for (size_t i = 0; i < rs.n; i++) {
        Series *s = &rs.s[i];
        LabModelStats *ms = model_slot(out, s->id);
        if (!ms) continue;
        ms->n_responses = (int)s->n;
        ms->ttft_med = lab_quantile(s->ttft, s->n, 0.5);
        ms->ttft_p90 = lab_quantile(s->ttft, s->n, 0.9);
        ms->tok_s_med = lab_quantile(s->tok_s, s->n, 0.5);
        ms->tok_s_p90 = lab_quantile(s->tok_s, s->n, 0.9);
        ms->total_med = lab_quantile(s->total, s->n, 0.5);
        ms->total_p90 = lab_quantile(s->total, s->n, 0.9);
        ms->rss_med = lab_quantile(s->rss, s->n, 0.5);
        ms->rss_p90 = lab_quantile(s->rss, s->n, 0.9);
        ms->engine_med = lab_quantile(s->eng, s->n, 0.5);
        ms->engine_p90 = lab_quantile(s->eng, s->n, 0.9);
        if (!strcmp(ms->arch, "remote")) /* served elsewhere: its memory is the server's, unknown here */
            ms->rss_med = ms->rss_p90 = ms->engine_med = ms->engine_p90 = NAN;
        ms->ttft = s->ttft;
        ms->tok_s = s->tok_s;
        s->ttft = s->tok_s = NULL;
    }
    /* models that took no part in this selection are dropped from it */
    size_t keep = 0;
    for (size_t i = 0; i < out->n_models; i++) {
        LabModelStats *ms = &out->models[i];
        bool in_pair = false;
        for (size_t k = 0; k < out->n_pairs; k++) in_pair |= out->pairs[k].model_id[0] == ms->id || out->pairs[k].model_id[1] == ms->id;
        if (ms->n_responses || in_pair) out->models[keep++] = *ms;
    }
    out->n_models = keep;

    if (machines(&c, &rs, &ss, out)) {
        rc = lab_err(e, LAB_ENOMEM, "out of memory");
        goto fail;
    }
    agreement(c.v, c.n, out);
    free_votes(&c);
    free_resp(&rs);
    free_sessions(&ss);
    return 0;
fail:
    free_votes(&c);
    free_resp(&rs);
    free_sessions(&ss);
    lab_stats_free(out);
    return -1;
}

void lab_stats_free(LabStats *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_models; i++) {
        free(s->models[i].ttft);
        free(s->models[i].tok_s);
    }
    free(s->models);
    free(s->pairs);
    for (size_t i = 0; i < s->n_machines; i++) free(s->machines[i].pair_votes);
    free(s->machines);
    memset(s, 0, sizeof *s);
}
