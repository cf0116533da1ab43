/* The lab with real engines (stories260K and the tiny GQA golden model, tests/fixtures/shared): both
 * answer at once, pieces stream to the callbacks, each response is recorded once complete, a
 * stopped answer is kept or dropped as asked, a re-ask fills only what is missing, blind pairs
 * reveal names after the vote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "db_internal.h"
#include "lab_internal.h"

#include "../fixture.h"
#include "../tmpdir.h"

static char model_a[1024], model_b[1024];
static bool have_models;

static int setup(void **state) {
    if (setup_dir(state)) return -1;
    /* tests/fixtures/shared has both (tests/fixture.h); a missing one is named by NEED_MODELS */
    have_models = fixture_find(model_a, sizeof model_a, "models/stories260K/stories260K.bin") &&
                  fixture_find(model_b, sizeof model_b, "golden/llama-tiny-gqa");
    return 0;
}

#define NEED_MODELS()                                                                                  \
    do {                                                                                               \
        if (!have_models) {                                                                            \
            fixture_say_missing("skipped", model_a[0] ? "golden/llama-tiny-gqa" : "models/stories260K/stories260K.bin"); \
            skip();                                                                                    \
        }                                                                                              \
    } while (0)

typedef struct {
    pthread_mutex_t mu;
    Buf text[2];
    int pieces[2], done[2], pair_done;
    int64_t response[2], pair;
    bool ratable, err[2];
    LabMetrics m[2];
    bool stop_after_first;
    Lab *l;
} Events;

static void ev_piece(int side, const char *text, size_t len, const LabMetrics *live, void *ud) {
    Events *ev = ud;
    pthread_mutex_lock(&ev->mu);
    buf_append(&ev->text[side], text, len);
    ev->pieces[side]++;
    if (live->n_gen < 1) ev->err[side] = true; /* checked on the test thread (no asserts off it) */
    pthread_mutex_unlock(&ev->mu);
    if (ev->stop_after_first) lab_stop(ev->l); /* safe from a worker thread */
}
static void ev_done(int side, const LabMetrics *m, int64_t response_id, const LabErr *err, void *ud) {
    Events *ev = ud;
    pthread_mutex_lock(&ev->mu);
    ev->done[side]++;
    ev->response[side] = response_id;
    ev->err[side] |= err != NULL;
    ev->m[side] = *m;
    pthread_mutex_unlock(&ev->mu);
}
static void ev_pair(int64_t pair_id, bool ratable, void *ud) {
    Events *ev = ud;
    pthread_mutex_lock(&ev->mu);
    ev->pair_done++;
    ev->pair = pair_id;
    ev->ratable = ratable;
    pthread_mutex_unlock(&ev->mu);
}

static void events_init(Events *ev, Lab *l) {
    memset(ev, 0, sizeof *ev);
    pthread_mutex_init(&ev->mu, NULL);
    ev->l = l;
}
static void events_free(Events *ev) {
    buf_free(&ev->text[0]);
    buf_free(&ev->text[1]);
    pthread_mutex_destroy(&ev->mu);
}

static Lab *open_lab(const char *db, bool blind) {
    LabConfig c;
    lab_config_init(&c);
    c.db_path = tpath(db);
    c.model_path[0] = model_a;
    c.model_path[1] = model_b;
    c.sampling.max_tokens = 24;
    c.sampling.seed = 7;
    c.blind = blind;
    Lab *l;
    LabErr e = {0};
    if (lab_open(&l, &c, &e)) fail_msg("%s", e.msg);
    return l;
}

static void test_both_answer_and_are_recorded(void **state) {
    (void)state;
    NEED_MODELS();
    Lab *l = open_lab("ask.db", false);
    LabModelInfo mi;
    assert_int_equal(lab_model_info(l, 0, &mi), 0);
    assert_true(mi.loaded);
    assert_string_equal(mi.arch, "llama");
    assert_true(mi.n_params > 200000);
    assert_int_equal(mi.n_threads, 1); /* 2 threads split between two engines */
    assert_true(mi.db_id > 0);
    Events ev;
    events_init(&ev, l);
    LabEvents cb = {ev_piece, ev_done, ev_pair, &ev};
    LabErr e = {0};
    int64_t pair;
    assert_int_equal(lab_ask(l, "Once upon a time", NULL, &cb, &pair, &e), 0);
    lab_wait(l);
    assert_false(lab_busy(l));
    assert_int_equal(ev.pair_done, 1);
    assert_int_equal(ev.pair, pair);
    assert_true(ev.ratable);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(ev.done[s], 1);
        assert_false(ev.err[s]);
        assert_true(ev.response[s] > 0);
        assert_true(ev.pieces[s] >= 1);
        assert_int_equal(ev.m[s].n_gen, 24);
        assert_string_equal(ev.m[s].stop, "length");
        assert_int_equal((int)ev.m[s].seed, 7);
        assert_true(ev.m[s].ttft_ms > 0 && ev.m[s].bytes_engine > 0 && ev.m[s].peak_rss > 0);
    }
    /* what streamed is what was recorded */
    LabPair p;
    assert_int_equal(lab_pair_get(l, pair, &p, &e), 0);
    assert_string_equal(p.prompt, "Once upon a time");
    assert_int_equal(p.left_slot, 0);
    assert_string_equal(p.output[0], ev.text[0].data);
    assert_string_equal(p.output[1], ev.text[1].data);
    assert_int_equal(p.metrics[0].n_gen, 24);
    assert_int_equal((int)p.sampling[1].seed, 7);
    /* the same seed reproduces model A's answer */
    Events ev2;
    events_init(&ev2, l);
    LabEvents cb2 = {ev_piece, ev_done, ev_pair, &ev2};
    int64_t pair2;
    assert_int_equal(lab_ask(l, "Once upon a time", NULL, &cb2, &pair2, &e), 0);
    lab_wait(l);
    assert_true(pair2 != pair);
    assert_string_equal(ev2.text[0].data, p.output[0]);
    lab_pair_free(&p);
    /* a rating resolves to models and the prompt history has the prompt once */
    LabRateResult rr;
    assert_int_equal(lab_rate(l, pair, LAB_CHOICE_B, NULL, &rr, &e), 0);
    assert_string_equal(rr.model_name[1], "llama-tiny-gqa");
    LabStrList h;
    assert_int_equal(lab_prompt_history(l, 10, &h, &e), 0);
    assert_int_equal(h.n, 1);
    lab_strlist_free(&h);
    events_free(&ev);
    events_free(&ev2);
    lab_close(l);
}

/* One file in both slots is one copy of its weights: B shares A's (its memory is its cache and
 * scratch, one model row for both), both answer alike at temperature 0, and B keeps answering the
 * same after A is swapped for another model. A slot with its own --quant loads its own copy. */
static void ask_texts(Lab *l, Buf out[2]) {
    Events ev;
    events_init(&ev, l);
    LabEvents cb = {ev_piece, ev_done, ev_pair, &ev};
    LabErr e = {0};
    int64_t pair;
    if (lab_ask(l, "Once upon a time", NULL, &cb, &pair, &e)) fail_msg("%s", e.msg);
    lab_wait(l);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(ev.done[s], 1);
        assert_false(ev.err[s]);
        buf_clear(&out[s]);
        buf_append(&out[s], ev.text[s].data ? ev.text[s].data : "", ev.text[s].len);
    }
    events_free(&ev);
}

static void test_one_file_in_both_slots_is_loaded_once(void **state) {
    (void)state;
    NEED_MODELS();
    LabConfig c;
    lab_config_init(&c);
    c.db_path = tpath("shared.db");
    c.model_path[0] = c.model_path[1] = model_a;
    c.sampling.max_tokens = 16;
    c.sampling.temp = 0;
    Lab *l;
    LabErr e = {0};
    if (lab_open(&l, &c, &e)) fail_msg("%s", e.msg);
    LabModelInfo a, b;
    assert_int_equal(lab_model_info(l, 0, &a), 0);
    assert_int_equal(lab_model_info(l, 1, &b), 0);
    assert_false(a.shared);
    assert_true(b.shared);
    assert_int_equal(a.db_id, b.db_id);
    assert_int_equal(b.bytes_memory, b.bytes_kv + b.bytes_scratch);
    assert_true(a.bytes_memory > b.bytes_memory + a.bytes_owned / 2);
    Buf t1[2] = {{0}}, t2[2] = {{0}};
    ask_texts(l, t1);
    assert_true(t1[0].len > 0);
    assert_string_equal(t1[0].data, t1[1].data);
    /* A goes; B still reads the weights it shared */
    assert_int_equal(lab_model_swap(l, 0, model_b, NULL, NULL, &e), 0);
    assert_int_equal(lab_model_info(l, 1, &b), 0);
    assert_true(b.shared);
    ask_texts(l, t2);
    assert_string_equal(t2[1].data, t1[1].data);
    /* and back: A loads the file again, sharing B's copy */
    assert_int_equal(lab_model_swap(l, 0, model_a, NULL, NULL, &e), 0);
    assert_int_equal(lab_model_info(l, 0, &a), 0);
    assert_true(a.shared);
    lab_close(l);
    /* another --quant for B: its own copy */
    c.quant[1] = "q8_0";
    c.db_path = tpath("shared-q.db");
    if (lab_open(&l, &c, &e)) fail_msg("%s", e.msg);
    assert_int_equal(lab_model_info(l, 1, &b), 0);
    assert_false(b.shared);
    assert_string_equal(b.dtype, "q8_0");
    lab_close(l);
    for (int s = 0; s < 2; s++) {
        buf_free(&t1[s]);
        buf_free(&t2[s]);
    }
}

typedef struct { int n, bad; LabSampling want; bool fixed_seed; int64_t seeds[8]; } StudyRows;
static int study_row(const DbResponse *r, void *ud) {
    StudyRows *c = ud;
    const LabSampling *w = &c->want;
    bool same = r->temp == w->temp && r->top_k == w->top_k && r->top_p == w->top_p && r->min_p == w->min_p &&
                r->repeat_penalty == w->repeat_penalty && r->repeat_last_n == w->repeat_last_n &&
                r->max_tokens == w->max_tokens && r->n_gen <= w->max_tokens &&
                (c->fixed_seed ? r->seed == w->seed : r->seed >= 0);
    if (!same) c->bad++;
    if (c->n < 8) c->seeds[c->n] = r->seed;
    c->n++;
    return 0;
}

/* Issue 14.2: a study is a recorded protocol. The lab's own settings (temperature 0, 30 tokens,
 * seed 42, saved from the settings screen) never reach a study's responses; a second participant
 * runs the recorded protocol; a study with another prompt set, or explicitly other settings, is
 * refused; a failing prompt is recorded on its pair and passed over. */
static void test_study_runs_its_recorded_protocol(void **state) {
    (void)state;
    NEED_MODELS();
    Lab *l = open_lab("study.db", false);
    LabErr e = {0};
    LabSettings ls;
    lab_settings_get(l, &ls);
    ls.shared = true;
    ls.s[0].temp = 0;
    ls.s[0].max_tokens = 30;
    ls.s[0].seed = 42;
    assert_int_equal(lab_settings_set(l, &ls, &e), 0);

    char *texts[] = {"Once upon a time", "The little dog", "Lily and Ben"};
    LabStrList pl = {texts, 3, NULL};
    LabStudySpec spec = {.name = "pilot", .prompt_set = "set.txt", .prompts = &pl, .sampling = lab_sampling_default(),
                         .blind = true, .pacing = LAB_PACING_TOGETHER, .source = "defaults"};
    spec.sampling.max_tokens = 12; /* short answers; everything else the defaults, seed random */
    LabStudy st;
    assert_int_equal(lab_study_open(l, &spec, true, &st, &e), 0);
    assert_true(st.created);
    assert_int_equal(st.n_prompts, 3);
    assert_int_equal(st.sampling.seed, -1);
    assert_int_equal(st.pacing, LAB_PACING_TOGETHER);

    for (int who = 0; who < 2; who++) {
        char name[32], part[8];
        snprintf(name, sizeof name, "study-pilot-p%d", who);
        snprintf(part, sizeof part, "p%d", who);
        /* the second participant's own flags differ, but not explicitly: the recorded protocol wins */
        LabStudySpec again = spec;
        again.sampling.temp = 0.1;
        assert_int_equal(lab_study_open(l, &again, false, &st, &e), 0);
        assert_false(st.created);
        assert_true(st.sampling.temp == lab_sampling_default().temp);
        LabSessionInfo si;
        LabSessionSpec ss = {.name = name, .kind = "study", .participant = part, .blind = true, .consent = true,
                             .seed = -1, .study_id = st.id};
        assert_int_equal(lab_session_start(l, &ss, &si, &e), 0);
        assert_int_equal(si.study_id, st.id);
        assert_int_equal(lab_session_set_prompts(l, &pl, &e), 0);
        LabStudyItem it;
        int asked = 0;
        while (lab_study_next(l, &it, &e) == 1 && asked < 5) {
            Events ev;
            events_init(&ev, l);
            LabEvents cb = {ev_piece, ev_done, ev_pair, &ev};
            LabAskOpts o = {.prompt_id = it.prompt_id, .record_cancelled = true, .shown = true};
            int64_t pair;
            assert_int_equal(lab_ask(l, NULL, &o, &cb, &pair, &e), 0);
            lab_wait(l);
            assert_true(ev.ratable);
            LabPair p;
            assert_int_equal(lab_pair_get(l, pair, &p, &e), 0);
            assert_string_equal(p.pacing, "together");
            lab_pair_free(&p);
            assert_int_equal(lab_rate(l, pair, LAB_CHOICE_TIE, NULL, NULL, &e), 0);
            events_free(&ev);
            asked++;
        }
        assert_int_equal(asked, 3);
    }
    StudyRows rows = {.want = spec.sampling};
    Db *db = l->db;
    assert_int_equal(db_responses_each(db, 0, 0, study_row, &rows, &e), 0);
    assert_int_equal(rows.n, 12);
    assert_int_equal(rows.bad, 0); /* none took temperature 0, 30 tokens or seed 42 from the lab */
    assert_true(rows.seeds[0] != rows.seeds[1] || rows.seeds[1] != rows.seeds[2]); /* a fresh seed each */

    /* another prompt set under the same name, or explicitly other settings: refused */
    char *other[] = {"Once upon a time", "The little cat", "Lily and Ben"};
    LabStrList ol = {other, 3, NULL};
    LabStudySpec bad = spec;
    bad.prompts = &ol;
    assert_int_equal(lab_study_open(l, &bad, false, &st, &e), -1);
    assert_non_null(strstr(e.msg, "another prompt set"));
    bad = spec;
    bad.sampling.temp = 0.2;
    assert_int_equal(lab_study_open(l, &bad, true, &st, &e), -1);
    assert_non_null(strstr(e.msg, "temperature 0.8, not 0.2"));
    bad = spec;
    bad.pacing = LAB_PACING_NATURAL;
    assert_int_equal(lab_study_open(l, &bad, true, &st, &e), -1);
    assert_non_null(strstr(e.msg, "pacing together, not natural"));

    lab_close(l);

    /* a prompt that still fails while asked (longer than a 32-token cache: what lab_prompts_check
     * catches before a study starts) is recorded as failed on its pair and passed over */
    LabConfig c;
    lab_config_init(&c);
    c.db_path = tpath("study.db");
    c.model_path[0] = model_a;
    c.model_path[1] = model_b;
    c.ctx = 32;
    assert_int_equal(lab_open(&l, &c, &e), 0);
    char *one[] = {"Once upon a time there was a little dog who liked to run and play in the park with his "
                   "friends every day of the week, and one day he found a big red ball under a tree"};
    LabStrList fl = {one, 1, NULL};
    LabStrList problems;
    assert_int_equal(lab_prompts_check(l, &fl, "set.txt", 12, &problems, &e), 1);
    assert_int_equal(problems.n, 1);
    assert_non_null(strstr(problems.v[0], "prompt 1: "));
    assert_non_null(strstr(problems.v[0], "do not fit model A's context of 32"));
    lab_strlist_free(&problems);
    LabStudySpec fs = spec;
    fs.name = "fails";
    fs.prompts = &fl;
    assert_int_equal(lab_study_open(l, &fs, true, &st, &e), 0);
    LabSessionInfo si;
    LabSessionSpec ss = {.name = "study-fails-p9", .kind = "study", .participant = "p9", .blind = true, .seed = -1,
                         .study_id = st.id};
    assert_int_equal(lab_session_start(l, &ss, &si, &e), 0);
    assert_int_equal(lab_session_set_prompts(l, &fl, &e), 0);
    LabStudyItem it;
    assert_int_equal(lab_study_next(l, &it, &e), 1);
    Events ev;
    events_init(&ev, l);
    ev.stop_after_first = false;
    LabEvents cb = {ev_piece, ev_done, ev_pair, &ev};
    int64_t pair;
    LabAskOpts o = {.prompt_id = it.prompt_id, .shown = true};
    assert_int_equal(lab_ask(l, NULL, &o, &cb, &pair, &e), 0);
    lab_wait(l);
    assert_false(ev.ratable);
    assert_true(ev.err[0] && ev.err[1]);
    LabPair fp;
    assert_int_equal(lab_pair_get(l, pair, &fp, &e), 0);
    assert_true(fp.failed);
    lab_pair_free(&fp);
    events_free(&ev);
    assert_int_equal(lab_study_next(l, &it, &e), 0); /* moved on: the study is over */
    assert_int_equal(it.n_failed, 1);
    lab_close(l);
}

static void test_stop_keeps_or_drops_and_reask_fills_the_gap(void **state) {
    (void)state;
    NEED_MODELS();
    Lab *l = open_lab("stop.db", false);
    LabSessionInfo si;
    LabErr e = {0};
    assert_int_equal(lab_session_start(l, &(LabSessionSpec){.name = "batch", .kind = "run", .seed = 1}, &si, &e), 0);
    char *texts[] = {"The cat sat"};
    LabStrList pl = {texts, 1, NULL};
    assert_int_equal(lab_session_set_prompts(l, &pl, &e), 0);
    int64_t *ids;
    size_t n;
    assert_int_equal(lab_session_prompt_ids(l, &ids, &n, &e), 0);
    assert_int_equal(n, 1);
    LabSampling long_answer = lab_sampling_default();
    long_answer.max_tokens = 400;
    long_answer.seed = 3;
    /* stopped after the first piece, not recorded (a batch run regenerates it) */
    Events ev;
    events_init(&ev, l);
    ev.stop_after_first = true;
    LabEvents cb = {ev_piece, ev_done, ev_pair, &ev};
    LabAskOpts o = {.prompt_id = ids[0], .sampling = {&long_answer, &long_answer}};
    int64_t pair;
    assert_int_equal(lab_ask(l, NULL, &o, &cb, &pair, &e), 0);
    lab_wait(l);
    assert_int_equal(ev.pair_done, 1);
    assert_false(ev.ratable);
    for (int s = 0; s < 2; s++) {
        assert_string_equal(ev.m[s].stop, "cancel");
        assert_int_equal(ev.response[s], 0);
        assert_true(ev.m[s].n_gen < 400);
    }
    DbPair dp;
    assert_int_equal(db_pair_get(l->db, pair, &dp, &e), 1);
    assert_int_equal(dp.response_id[0], 0); /* no half row */
    assert_int_equal(dp.response_id[1], 0);
    events_free(&ev);
    /* the same (prompt, rep) again: both generated in full now, in the same pair */
    events_init(&ev, l);
    LabEvents cb2 = {ev_piece, ev_done, ev_pair, &ev};
    LabSampling short_answer = long_answer;
    short_answer.max_tokens = 16;
    o.sampling[0] = o.sampling[1] = &short_answer;
    int64_t again;
    assert_int_equal(lab_ask(l, NULL, &o, &cb2, &again, &e), 0);
    lab_wait(l);
    assert_int_equal(again, pair);
    assert_true(ev.ratable);
    events_free(&ev);
    /* and once more: nothing to do, on_pair_done at once */
    events_init(&ev, l);
    LabEvents cb3 = {ev_piece, ev_done, ev_pair, &ev};
    assert_int_equal(lab_ask(l, NULL, &o, &cb3, &again, &e), 0);
    lab_wait(l);
    assert_int_equal(ev.done[0] + ev.done[1], 0);
    assert_int_equal(ev.pair_done, 1);
    assert_true(ev.ratable);
    events_free(&ev);
    /* the UI keeps stopped answers: recorded with stop reason "cancel", ratable */
    events_init(&ev, l);
    ev.stop_after_first = true;
    LabEvents cb4 = {ev_piece, ev_done, ev_pair, &ev};
    LabAskOpts ui = {.record_cancelled = true, .sampling = {&long_answer, &long_answer}};
    assert_int_equal(lab_ask(l, "A new adventure", &ui, &cb4, &pair, &e), 0);
    lab_wait(l);
    assert_true(ev.ratable);
    LabPair p;
    assert_int_equal(lab_pair_get(l, pair, &p, &e), 0);
    assert_string_equal(p.metrics[0].stop, "cancel");
    lab_pair_free(&p);
    events_free(&ev);
    free(ids);
    /* settings cannot change mid-answer, models can swap sides between answers */
    assert_int_equal(lab_model_swap_slots(l, &e), 0);
    LabModelInfo mi;
    lab_model_info(l, 0, &mi);
    assert_string_equal(mi.name, "llama-tiny-gqa");
    lab_close(l);
}

static void test_blind_session_hides_then_reveals(void **state) {
    (void)state;
    NEED_MODELS();
    Lab *l = open_lab("blind.db", true);
    LabErr e = {0};
    LabSessionInfo si;
    LabSessionSpec spec = {.name = "blind-ann", .kind = "study", .participant = "ann", .blind = true, .consent = true,
                           .seed = 5};
    assert_int_equal(lab_session_start(l, &spec, &si, &e), 0);
    char *texts[] = {"One", "Two", "Three", "Four"};
    LabStrList pl = {texts, 4, NULL};
    assert_int_equal(lab_session_set_prompts(l, &pl, &e), 0);
    int left_a = 0;
    LabStudyItem it;
    int k = 0;
    while (lab_study_next(l, &it, &e) == 1) {
        k++;
        assert_int_equal(it.k, k);
        Events ev;
        events_init(&ev, l);
        LabEvents cb = {ev_piece, ev_done, ev_pair, &ev};
        int64_t pair;
        assert_int_equal(lab_ask(l, NULL, &(LabAskOpts){.prompt_id = it.prompt_id}, &cb, &pair, &e), 0);
        lab_wait(l);
        LabPair p;
        assert_int_equal(lab_pair_get(l, pair, &p, &e), 0);
        assert_true(p.blind);
        left_a += p.left_slot == 0;
        /* what streamed on the left pane is the left slot's answer */
        assert_string_equal(ev.text[0].data, p.output[p.left_slot]);
        LabRateResult rr;
        assert_int_equal(lab_rate(l, pair, LAB_CHOICE_A, NULL, &rr, &e), 0);
        assert_string_equal(rr.model_name[0], p.model_name[p.left_slot]);
        assert_int_equal(rr.model_choice, p.left_slot == 0 ? LAB_CHOICE_A : LAB_CHOICE_B);
        lab_pair_free(&p);
        events_free(&ev);
    }
    assert_int_equal(k, 4);
    assert_int_equal(left_a, 2); /* balanced */
    assert_int_equal(lab_session_info(l, &si, &e), 0);
    assert_int_equal(si.n_rated, 4);
    assert_int_equal(lab_session_end(l, "thanks", &e), 0);
    lab_close(l);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, release;
    double last;
    Lab *l;
    const char *path;
    int rc;
    LabErr e;
} Swap;

static void swap_progress(double frac, void *ud) {
    Swap *s = ud;
    pthread_mutex_lock(&s->mu);
    s->last = frac;
    s->entered = true;
    pthread_cond_broadcast(&s->cv);
    while (!s->release) pthread_cond_wait(&s->cv, &s->mu); /* hold the load until the test looked */
    pthread_mutex_unlock(&s->mu);
}

static void *swap_thread(void *arg) {
    Swap *s = arg;
    s->rc = lab_model_swap(s->l, 1, s->path, swap_progress, s, &s->e);
    return NULL;
}

static void test_swap_on_a_thread_blocks_asks(void **state) {
    (void)state;
    NEED_MODELS();
    Lab *l = open_lab("swap.db", false);
    Swap s = {.l = l, .path = model_a};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, swap_thread, &s), 0);
    pthread_mutex_lock(&s.mu);
    while (!s.entered) pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    /* mid-load: busy, asks refused, the old model still described */
    assert_true(lab_busy(l));
    LabErr e = {0};
    assert_int_equal(lab_ask(l, "Hello", NULL, NULL, NULL, &e), -1);
    assert_int_equal(e.code, LAB_EBUSY);
    LabModelInfo mi;
    lab_model_info(l, 1, &mi);
    assert_string_equal(mi.name, "llama-tiny-gqa");
    pthread_mutex_lock(&s.mu);
    s.release = true;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(th, NULL);
    assert_int_equal(s.rc, 0);
    assert_true(s.last == 1.0);
    assert_false(lab_busy(l));
    lab_model_info(l, 1, &mi);
    assert_string_equal(mi.name, "stories260K.bin");
    /* a failed swap keeps the model */
    assert_int_equal(lab_model_swap(l, 1, "/nonexistent/model.bin", NULL, NULL, &e), -1);
    lab_model_info(l, 1, &mi);
    assert_string_equal(mi.name, "stories260K.bin");
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    lab_close(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_answer_and_are_recorded),
        cmocka_unit_test(test_one_file_in_both_slots_is_loaded_once),
        cmocka_unit_test(test_stop_keeps_or_drops_and_reask_fills_the_gap),
        cmocka_unit_test(test_blind_session_hides_then_reveals),
        cmocka_unit_test(test_study_runs_its_recorded_protocol),
        cmocka_unit_test(test_swap_on_a_thread_blocks_asks),
    };
    return cmocka_run_group_tests(tests, setup, teardown_dir);
}
