/* The application layer on the record: statistics against hand-computed values, rating with side
 * resolution, retry and undo, studies, history, settings, and exports that parse back equal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "db_internal.h"
#include "lab_internal.h"

#include "../tmpdir.h"

#define NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))

/* ---------- formulas against hand-computed values ---------- */

static void test_wilson_and_sign_test(void **state) {
    (void)state;
    LabInterval w = lab_wilson(8, 10, 1.96);
    NEAR(w.lo, 0.4901568, 1e-6);
    NEAR(w.hi, 0.9433191, 1e-6);
    w = lab_wilson(0, 0, 1.96);
    NEAR(w.lo, 0, 0);
    NEAR(w.hi, 1, 0);
    /* 8 wins, 2 losses: 2 * (C(10,0) + C(10,1) + C(10,2)) / 2^10 = 112/1024 */
    NEAR(lab_sign_test(8, 2), 112.0 / 1024, 1e-12);
    NEAR(lab_sign_test(2, 8), 112.0 / 1024, 1e-12);
    NEAR(lab_sign_test(5, 5), 1.0, 1e-12);
    NEAR(lab_sign_test(0, 0), 1.0, 0);
    /* 0 of 20: 2 / 2^20 */
    NEAR(lab_sign_test(0, 20), 2.0 / 1048576, 1e-15);
    /* votes until the Wilson interval at the rate leaves 0.5 (computed by hand with z = 1.96) */
    assert_int_equal(lab_votes_to_separate(0.7), 25);
    assert_int_equal(lab_votes_to_separate(0.6), 97);
    assert_int_equal(lab_votes_to_separate(0.25), 16);
    assert_int_equal(lab_votes_to_separate(0.5), -1);
}

static void test_bradley_terry(void **state) {
    (void)state;
    /* two models, 3 wins to 1: odds 3, so 400 log10 3 apart around 1000 */
    double w2[] = {0, 3, 1, 0}, elo[3];
    assert_int_equal(lab_bradley_terry(w2, 2, elo), 0);
    NEAR(elo[0], 1000 + 200 * log10(3), 1e-6);
    NEAR(elo[1], 1000 - 200 * log10(3), 1e-6);
    /* three models with counts that strengths 4:2:1 fit exactly: a-b 2:1, b-c 2:1, a-c 4:1 */
    double w3[] = {0, 2, 4, 1, 0, 2, 1, 1, 0};
    assert_int_equal(lab_bradley_terry(w3, 3, elo), 0);
    NEAR(elo[0], 1000 + 400 * log10(2), 1e-6);
    NEAR(elo[1], 1000, 1e-6);
    NEAR(elo[2], 1000 - 400 * log10(2), 1e-6);
    /* a model that never scores has no finite rating */
    double w0[] = {0, 3, 0, 0};
    assert_int_equal(lab_bradley_terry(w0, 2, elo), -1);
}

static void test_kappas(void **state) {
    (void)state;
    /* 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15: po = .7, pe = .5, kappa = .4 */
    int a[50], b[50], k = 0;
    for (int i = 0; i < 20; i++, k++) a[k] = 0, b[k] = 0;
    for (int i = 0; i < 5; i++, k++) a[k] = 0, b[k] = 1;
    for (int i = 0; i < 10; i++, k++) a[k] = 1, b[k] = 0;
    for (int i = 0; i < 15; i++, k++) a[k] = 1, b[k] = 1;
    NEAR(lab_cohen_kappa(a, b, 50, 2), 0.4, 1e-12);
    /* Fleiss (1971)'s worked example as on Wikipedia: 10 items, 14 raters, 5 categories, kappa 0.210 */
    int f[] = {0, 0, 0, 0, 14, 0, 2, 6, 4, 2, 0, 0, 3, 5, 6, 0, 3, 9, 2, 0, 2, 2, 8, 1, 1,
               7, 7, 0, 0, 0, 3, 2, 6, 3, 0, 2, 5, 3, 2, 2, 6, 5, 2, 1, 0, 0, 2, 2, 3, 7};
    NEAR(lab_fleiss_kappa(f, 10, 5), 0.20993, 1e-5);
    int one[] = {1, 0};
    assert_true(isnan(lab_fleiss_kappa(one, 1, 2))); /* one rater: undefined */
}

/* The lab's split of its thread budget, which `ablab bench --pair` uses too: A gets the larger half,
 * each slot at least one thread. */
static void test_thread_share(void **state) {
    (void)state;
    static const int want[][3] = {{0, 1, 1}, {1, 1, 1}, {2, 1, 1}, {3, 2, 1}, {4, 2, 2}, {7, 4, 3}, {256, 128, 128}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        assert_int_equal(lab_thread_share(want[i][0], LAB_SLOT_A), want[i][1]);
        assert_int_equal(lab_thread_share(want[i][0], LAB_SLOT_B), want[i][2]);
    }
}

static void test_blind_sides_are_balanced(void **state) {
    (void)state;
    for (int64_t seed = 1; seed < 40; seed++) {
        int left_a = 0;
        for (int pos = 0; pos < 100; pos++) left_a += lab_left_slot(seed, pos, 0) == 0;
        assert_int_equal(left_a, 50);
    }
    /* not the same pattern for every seed */
    int differ = 0;
    for (int pos = 0; pos < 20; pos++) differ += lab_left_slot(1, pos, 0) != lab_left_slot(2, pos, 0);
    assert_true(differ > 0);
}

/* ---------- a record with fixed votes ---------- */

typedef struct { Lab *l; int64_t model[3], session, pairs[16]; } Rec;

static int64_t add_model(Db *db, const char *name, int64_t params) {
    char sha[65];
    sha256_hex(name, strlen(name), sha);
    DbModel m = {.path = name, .name = name, .arch = "llama", .format = "hf", .dtype = "f32", .file_dtype = "f32",
                 .tokenizer_kind = "bpe", .weights_sha256 = sha, .tokenizer_sha256 = sha, .n_params = params};
    int64_t id;
    LabErr e = {0};
    assert_int_equal(db_model_upsert(db, &m, &id, &e), 0);
    return id;
}

/* A complete pair for prompt `text` answered by models a, b, shown with `left_slot` on the left. */
static int64_t add_pair(Db *db, int64_t session, int position, const char *text, int64_t a, int64_t b, int left_slot,
                        double ttft_a, double ttft_b) {
    LabErr e = {0};
    int64_t prompt, pair, rid;
    assert_int_equal(db_prompt_add(db, session, "set", position, text, &prompt, &e), 0);
    DbPair p = {.session_id = session, .prompt_id = prompt, .model_id = {a, b}, .left_slot = left_slot, .blind = true};
    assert_int_equal(db_pair_add(db, &p, &pair, &e), 0);
    for (int s = 0; s < 2; s++) {
        int ids[] = {5, 6, 7};
        DbResponse r = {.pair_id = pair, .model_id = s ? b : a, .slot = s, .side = s == left_slot ? 0 : 1,
                        .temp = 0.8, .top_k = 40, .top_p = 0.95, .min_p = 0.05, .repeat_penalty = 1,
                        .repeat_last_n = 64, .max_tokens = 32, .seed = 100 + position,
                        .output = s ? "B says, \"hello\",\nthen stops" : "A answers", .token_ids = ids,
                        .n_token_ids = 3, .n_prompt = 4, .n_gen = 3, .stop_reason = "eos",
                        .ttft_ms = s ? ttft_b : ttft_a, .prefill_ms = 1, .decode_tok_s = s ? 200 : 100,
                        .p50_ms = 1, .p95_ms = 2, .total_ms = 30, .bytes_kv = 1 << 20, .peak_rss = 50 << 20,
                        .threads = 1, .build_version = "0.1.0", .cpu_model = "Test CPU"};
        assert_int_equal(db_response_add(db, &r, &rid, &e), 0);
    }
    return pair;
}

static void rate_raw(Db *db, int64_t pair, const char *who, const char *choice, int64_t winner, int side, int sa,
                     int sb) {
    LabErr e = {0};
    DbRating r = {.pair_id = pair, .participant = who, .choice = choice, .winner_model_id = winner,
                  .chosen_side = side, .score = {sa, sb}, .decide_ms = 1200};
    int64_t id;
    assert_int_equal(db_rating_add(db, &r, &id, &e), 0);
}

/* 10 votes by "ann" on model A vs B: A wins 6 (4 of them shown left), B wins 2 (shown right),
 * 1 tie, 1 both bad. "bob" rates prompts 0..3 too: agrees on 0..2, differs on 3. */
static void build_record(Rec *r, const char *file) {
    LabErr e = {0};
    assert_int_equal(lab_open_record(&r->l, tpath(file), &e), 0);
    Db *db = r->l->db;
    r->model[0] = add_model(db, "alpha", 260000);
    r->model[1] = add_model(db, "beta", 15000000);
    DbSession s = {.name = "study", .kind = "study", .participant = "ann", .blind = true, .seed = 3};
    assert_int_equal(db_session_add(db, &s, &r->session, &e), 0);
    const char *choice[] = {"a", "a", "a", "a", "a", "a", "b", "b", "tie", "both-bad"};
    for (int i = 0; i < 10; i++) {
        char text[32];
        snprintf(text, sizeof text, "prompt %d", i);
        int left = i < 4 ? 0 : 1; /* A shown left for the first four */
        r->pairs[i] = add_pair(db, r->session, i, text, r->model[0], r->model[1], left, 10 + i, 20 + 2 * i);
        const char *c = choice[i];
        int64_t winner = !strcmp(c, "a") ? r->model[0] : !strcmp(c, "b") ? r->model[1] : 0;
        /* the side the winner was shown on: A is on the left for prompts 0..3 */
        int side = !strcmp(c, "a") ? (left == 0 ? 0 : 1) : !strcmp(c, "b") ? (left == 1 ? 0 : 1) : -1;
        rate_raw(db, r->pairs[i], "ann", c, winner, side, i < 5 ? 4 : 0, i < 5 ? 2 : 0);
    }
    /* bob: the same first four prompts; 0..2 like ann (a), 3 says b */
    for (int i = 0; i < 4; i++)
        rate_raw(db, r->pairs[i], "bob", i < 3 ? "a" : "b", i < 3 ? r->model[0] : r->model[1], i < 3 ? 0 : 1, 0, 0);
}

static void test_stats_on_fixed_votes(void **state) {
    (void)state;
    Rec r;
    build_record(&r, "stats.db");
    LabErr e = {0};
    LabStats s;
    /* only ann's votes: a session filter and a single participant are the same here, so check both views */
    assert_int_equal(lab_stats(r.l, &(LabStatsQuery){.seed = 42}, &s, &e), 0);
    assert_int_equal(s.n_pairs, 1);
    LabPairStats *p = &s.pairs[0];
    /* ann 10 votes + bob 4 */
    assert_int_equal(p->votes, 14);
    assert_int_equal(p->wins[0], 6 + 3);
    assert_int_equal(p->wins[1], 2 + 1);
    assert_int_equal(p->ties, 1);
    assert_int_equal(p->both_bad, 1);
    assert_int_equal(p->decisive, 12);
    NEAR(p->win_rate, 9.0 / 12, 1e-12);
    LabInterval w = lab_wilson(9, 12, 1.96);
    NEAR(p->win_ci.lo, w.lo, 1e-12);
    /* sign test 9 vs 3: 2 * (1 + 12 + 66 + 220) / 4096 */
    NEAR(p->sign_p, 2.0 * 299 / 4096, 1e-12);
    /* position bias: ann's A wins on prompts 0..3 (A left) and B wins on 6, 7 (B left): 6;
     * bob's three A wins on prompts 0..2 (A left): 3; bob's B win on prompt 3 was on the right */
    assert_int_equal(p->left_wins, 6 + 3);
    NEAR(p->left_rate, 9.0 / 12, 1e-12);
    /* 9/12 gives [0.468, 0.911]: at 75% the interval clears 0.5 after 16 decisive votes, 4 more */
    NEAR(w.lo, 0.4676897, 1e-6);
    assert_int_equal(p->more_votes, 4);
    /* scores: ann gave A 4 and B 2 on five pairs */
    assert_int_equal(p->n_score[0], 5);
    NEAR(p->mean_score[0], 4, 1e-12);
    assert_int_equal(p->score_hist[1][1], 5);
    /* Bradley–Terry with one virtual tie: A 9 + 0.5 + 0.5 = 10, B 3 + 0.5 + 0.5 = 4 */
    assert_int_equal(s.n_models, 2);
    NEAR(s.models[0].elo, 1000 + 200 * log10(10.0 / 4), 1e-6);
    NEAR(s.models[1].elo, 1000 - 200 * log10(10.0 / 4), 1e-6);
    assert_true(s.models[0].elo_ci.lo < s.models[0].elo && s.models[0].elo < s.models[0].elo_ci.hi);
    assert_int_equal(s.bootstrap_rounds, 1000);
    /* latency: TTFT of A is 10..19 -> median 14.5, p90 18.1 */
    NEAR(s.models[0].ttft_med, 14.5, 1e-9);
    NEAR(s.models[0].ttft_p90, 18.1, 1e-9);
    NEAR(s.models[1].tok_s_med, 200, 1e-9);
    /* agreement: two raters on four prompts, categories a,a,a,a vs a,a,a,b:
     * po = 3/4, pe = (4/4)(3/4) = 3/4 -> kappa 0 */
    assert_string_equal(s.kappa_kind, "cohen");
    assert_int_equal(s.kappa_items, 4);
    NEAR(s.kappa, 0.0, 1e-12);
    assert_int_equal(s.n_participants, 2);
    assert_int_equal(s.n_votes, 14);
    assert_int_equal(s.n_pairs_complete, 10);
    assert_true(s.any_blind);
    /* the same seed gives the same interval */
    LabStats s2;
    assert_int_equal(lab_stats(r.l, &(LabStatsQuery){.seed = 42}, &s2, &e), 0);
    NEAR(s2.models[0].elo_ci.lo, s.models[0].elo_ci.lo, 0);
    lab_stats_free(&s2);
    lab_stats_free(&s);
    lab_close(r.l);
}

/* ---------- scoped statistics and a methods paragraph of recorded facts ---------- */

static char *slurp(const char *path);

static int64_t add_session_kind(Db *db, const char *name, const char *kind, const char *who, const char *set,
                                bool blind) {
    LabErr e = {0};
    DbSession s = {.name = name, .kind = kind, .participant = who, .prompt_set = set, .blind = blind, .seed = 9,
                   .started_ms = 1764806400000LL};
    int64_t id;
    assert_int_equal(db_session_add(db, &s, &id, &e), 0);
    return id;
}

/* A complete pair with the given seeds and pacing (NULL: none recorded), recorded at `ms`. */
static int64_t add_pair_paced(Db *db, int64_t session, int position, const char *text, const int64_t model[2],
                              bool blind, int64_t seed_a, int64_t seed_b, int64_t ms, const char *pacing) {
    LabErr e = {0};
    int64_t prompt, pair, rid;
    assert_int_equal(db_prompt_add(db, session, "set.txt", position, text, &prompt, &e), 0);
    DbPair p = {.session_id = session, .prompt_id = prompt, .model_id = {model[0], model[1]}, .left_slot = 0,
                .blind = blind, .created_ms = ms};
    snprintf(p.pacing, sizeof p.pacing, "%s", pacing ? pacing : "");
    assert_int_equal(db_pair_add(db, &p, &pair, &e), 0);
    for (int s = 0; s < 2; s++) {
        int ids[] = {5, 6};
        DbResponse r = {.pair_id = pair, .model_id = model[s], .slot = s, .side = s, .temp = 0.7, .top_k = 40,
                        .top_p = 0.9, .min_p = 0.05, .repeat_penalty = 1.1, .repeat_last_n = 64, .max_tokens = 30,
                        .seed = s ? seed_b : seed_a, .output = "an answer", .token_ids = ids, .n_token_ids = 2,
                        .n_prompt = 4, .n_gen = 2, .stop_reason = "eos", .ttft_ms = 10, .prefill_ms = 1,
                        .decode_tok_s = 100, .p50_ms = 1, .p95_ms = 2, .total_ms = 30, .bytes_kv = 1 << 20,
                        .peak_rss = 50 << 20, .threads = 2, .build_version = "0.1.0", .cpu_model = "Test CPU",
                        .created_ms = ms};
        assert_int_equal(db_response_add(db, &r, &rid, &e), 0);
    }
    return pair;
}

static int64_t add_pair_at(Db *db, int64_t session, int position, const char *text, const int64_t model[2], bool blind,
                           int64_t seed_a, int64_t seed_b, int64_t ms) {
    return add_pair_paced(db, session, position, text, model, blind, seed_a, seed_b, ms, NULL);
}

/* Known counts: a lab session (open, anonymous ratings, the prompt "p0" asked twice), two study
 * sessions of one prompt set (blind, ann and bob rate the same four prompts), and a run session
 * (no ratings) that repeats p0 and adds p4. Seed 42 everywhere except one of bob's pairs. */
typedef struct { Lab *l; int64_t lab, s1, s2, run; } Known;

static void build_known(Known *k, const char *file) {
    LabErr e = {0};
    assert_int_equal(lab_open_record(&k->l, tpath(file), &e), 0);
    Db *db = k->l->db;
    int64_t m[2] = {add_model(db, "alpha", 260000), add_model(db, "beta", 15000000)};
    const int64_t day1 = 1764806400000LL, day3 = day1 + 2 * 86400000LL; /* 2025-12-04, 2025-12-06 UTC */
    k->lab = add_session_kind(db, "lab-1", "lab", NULL, NULL, false);
    const char *lab_texts[] = {"p0", "p1", "p0"};
    const char *lab_votes[] = {"a", "a", "b"};
    for (int i = 0; i < 3; i++) {
        int64_t pair = add_pair_at(db, k->lab, i, lab_texts[i], m, false, 42, 42, day1);
        rate_raw(db, pair, "", lab_votes[i], lab_votes[i][0] == 'a' ? m[0] : m[1], lab_votes[i][0] == 'a' ? 0 : 1, 0, 0);
    }
    k->s1 = add_session_kind(db, "study-set.txt-ann", "study", "ann", "set.txt", true);
    k->s2 = add_session_kind(db, "study-set.txt-bob", "study", "bob", "set.txt", true);
    const char *texts[] = {"p0", "p1", "p2", "p3"};
    const char *ann[] = {"a", "a", "b", "tie"}, *bob[] = {"a", "b", "b", "tie"};
    for (int i = 0; i < 4; i++) {
        int64_t pa = add_pair_paced(db, k->s1, i, texts[i], m, true, 42, 42, day1 + 3600000, "together");
        rate_raw(db, pa, "ann", ann[i], ann[i][0] == 'a' ? m[0] : ann[i][0] == 'b' ? m[1] : 0,
                 ann[i][0] == 'a' ? 0 : ann[i][0] == 'b' ? 1 : -1, 0, 0);
        int64_t pb = add_pair_paced(db, k->s2, i, texts[i], m, true, i == 2 ? 777 : 42, i == 2 ? 778 : 42, day3,
                                    i == 3 ? "natural" : "together");
        rate_raw(db, pb, "bob", bob[i], bob[i][0] == 'a' ? m[0] : bob[i][0] == 'b' ? m[1] : 0,
                 bob[i][0] == 'a' ? 0 : bob[i][0] == 'b' ? 1 : -1, 0, 0);
    }
    k->run = add_session_kind(db, "run:set.txt:alpha:beta", "run", NULL, "set.txt", false);
    add_pair_at(db, k->run, 0, "p0", m, false, 42, 42, day3);
    add_pair_at(db, k->run, 1, "p4", m, false, 42, 42, day3);
}

static void test_scoped_counts_and_methods_state_recorded_facts(void **state) {
    (void)state;
    Known k;
    build_known(&k, "known.db");
    LabErr e = {0};
    LabStats s;
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.seed = 1}, &s, &e), 0);
    /* everything pooled: 4 sessions, 13 pairs (26 responses), 5 distinct texts in 13 prompt entries,
     * 11 ratings (3 anonymous) of 11 pairs by 2 raters */
    assert_string_equal(s.scope, "all sessions");
    assert_int_equal(s.n_sessions, 4);
    assert_int_equal(s.facts.n_sessions_kind[0], 1);
    assert_int_equal(s.facts.n_sessions_kind[1], 2);
    assert_int_equal(s.facts.n_sessions_kind[2], 1);
    assert_int_equal(s.facts.n_responses, 26);
    assert_int_equal(s.n_pairs_complete, 13);
    assert_int_equal(s.n_prompts, 5);
    assert_int_equal(s.facts.n_prompt_entries, 13);
    assert_int_equal(s.n_votes, 11);
    assert_int_equal(s.facts.n_anonymous_votes, 3);
    assert_int_equal(s.facts.n_rated_pairs, 11);
    assert_int_equal(s.n_participants, 2);
    assert_string_equal(s.facts.raters, "ann, bob");
    assert_int_equal(s.facts.n_blind_pairs, 8);
    assert_int_equal(s.facts.n_open_pairs, 3);
    assert_int_equal(s.facts.n_blind_together, 7);
    assert_int_equal(s.facts.n_blind_natural, 1);
    assert_int_equal(s.facts.n_seeds, 3);
    assert_int_equal(s.facts.seed_common, 42);
    assert_int_equal(s.facts.n_seed_common, 24);
    /* agreement: ann and bob on p0..p3 (Cohen over 4 items); the anonymous lab votes on p0 and p1
     * are no third rater (that would make it Fleiss) */
    assert_string_equal(s.kappa_kind, "cohen");
    assert_int_equal(s.kappa_items, 4);
    char *head = lab_stats_header(&s);
    assert_string_equal(head, "pooled: all sessions — 4 sessions (1 lab, 2 study, 1 run)\n"
                              "counts: 5 distinct prompts, 13 complete response pairs (26 responses), 11 ratings of 11 "
                              "pairs by 2 raters (ann, bob) and 3 anonymous lab ratings (votes, not raters); blind and open");
    free(head);
    lab_stats_free(&s);

    /* the methods paragraph: every number above, the seeds as used, the dates, no claim of fresh seeds */
    const char *md = tpath("known.md");
    assert_int_equal(lab_export(k.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_MD, .out_path = md}, &e), 0);
    char *t = slurp(md);
    const char *claims[] = {
        "We compared 2 language models: alpha (llama, 260K parameters, f32 weights) and beta (llama, 15.0M "
        "parameters, f32 weights).",
        "The statistics pool all sessions: 4 sessions (1 lab, 2 study, 1 run), recorded between 2025-12-04 and "
        "2025-12-06 (UTC), holding 26 responses in 13 complete response pairs for 5 distinct prompts (13 prompt "
        "entries across sessions).",
        "Every response was generated with temperature 0.7, top-k 40, top-p 0.9, min-p 0.05, repetition penalty 1.1 "
        "and at most 30 new tokens.",
        "24 of 26 responses used seed 42; the other 2 used 2 other seeds.",
        "2 raters (ann, bob) gave 8 ratings, and 3 ratings were given in the lab without a participant name (counted "
        "as votes, not as a rater), on 11 response pairs; the latest rating of each rater on each pair counts.",
        "8 of the 11 rated pairs were shown blind (model names hidden until the vote) and 3 open.",
        "Of the 8 blind pairs, 7 showed both answers at once when both were complete and 1 showed each answer as its "
        "model wrote it.",
        "Agreement between raters is Cohen's κ over 4 prompts rated by two or more raters.",
        "Both models ran concurrently on the CPU (Test CPU), 2 threads each, with ablab 0.1.0.",
    };
    for (size_t i = 0; i < sizeof claims / sizeof *claims; i++)
        if (!strstr(t, claims[i])) fail_msg("methods paragraph lacks: %s\n---\n%s", claims[i], t);
    assert_null(strstr(t, "fresh"));
    free(t);

    /* scoped: the study alone (both participants), one participant, one session, one source */
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.scope = {.study = "set.txt"}}, &s, &e), 0);
    assert_string_equal(s.scope, "study 'set.txt'");
    assert_int_equal(s.n_sessions, 2);
    assert_int_equal(s.facts.n_sessions_kind[1], 2);
    assert_int_equal(s.n_votes, 8);
    assert_int_equal(s.facts.n_anonymous_votes, 0);
    assert_int_equal(s.n_prompts, 4);
    assert_int_equal(s.facts.n_responses, 16);
    assert_int_equal(s.facts.n_seed_common, 14);
    lab_stats_free(&s);
    /* a recorded study is found by its name too */
    int64_t study;
    DbStudy st = {.name = "fables", .prompt_set = "set.txt",
                  .prompts_sha256 = "4444444444444444444444444444444444444444444444444444444444444444", .n_prompts = 4,
                  .sampling = "temperature=0.7;", .blind = true, .pacing = "together", .source = "test"};
    assert_int_equal(db_study_add(k.l->db, &st, &study, &e), 0);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE sessions SET study_id = %lld WHERE kind = 'study'", (long long)study);
    assert_int_equal(sqlite3_exec(k.l->db->h, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.scope = {.study = "fables"}}, &s, &e), 0);
    assert_int_equal(s.n_sessions, 2);
    assert_int_equal(s.n_votes, 8);
    lab_stats_free(&s);
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.scope = {.study = "fables", .source = "lab"}}, &s, &e), 0);
    assert_int_equal(s.n_sessions, 0);
    lab_stats_free(&s);
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.scope = {.participant = "ann"}}, &s, &e), 0);
    assert_int_equal(s.n_sessions, 1);
    assert_int_equal(s.n_votes, 4);
    assert_int_equal(s.n_participants, 1);
    assert_int_equal(s.facts.n_responses, 8);
    assert_string_equal(s.kappa_kind, "none");
    lab_stats_free(&s);
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.scope = {.session_id = k.lab}}, &s, &e), 0);
    assert_int_equal(s.n_votes, 3);
    assert_int_equal(s.n_participants, 0);
    assert_int_equal(s.facts.n_anonymous_votes, 3);
    assert_int_equal(s.n_prompts, 2);
    assert_int_equal(s.facts.n_prompt_entries, 3);
    lab_stats_free(&s);
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.scope = {.source = "run"}}, &s, &e), 0);
    assert_int_equal(s.n_sessions, 1);
    assert_int_equal(s.n_votes, 0);
    assert_int_equal(s.n_pairs_complete, 2);
    lab_stats_free(&s);
    assert_int_equal(lab_stats(k.l, &(LabStatsQuery){.scope = {.source = "batch"}}, &s, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);
    /* exports select the same way */
    const char *csv = tpath("ann.csv");
    assert_int_equal(lab_export(k.l, &(LabExportOpts){.what = LAB_EXPORT_RATINGS, .format = LAB_FMT_CSV, .out_path = csv,
                                                      .scope = {.participant = "ann"}}, &e), 0);
    t = slurp(csv);
    int lines = 0;
    for (char *c = t; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 1 + 4);
    assert_null(strstr(t, "bob"));
    free(t);
    const char *runcsv = tpath("run.csv");
    assert_int_equal(lab_export(k.l, &(LabExportOpts){.what = LAB_EXPORT_RESPONSES, .format = LAB_FMT_CSV,
                                                      .out_path = runcsv, .scope = {.source = "run"}}, &e), 0);
    t = slurp(runcsv);
    lines = 0;
    for (char *c = t; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 1 + 4);
    free(t);
    lab_close(k.l);
}

/* ---------- rating through the lab ---------- */

static void test_rate_resolves_sides_retries_and_undoes(void **state) {
    (void)state;
    Rec r;
    build_record(&r, "rate.db");
    LabErr e = {0};
    LabSessionInfo si;
    assert_int_equal(lab_session_start(r.l, &(LabSessionSpec){.name = "study", .kind = "study", .blind = true, .seed = -1},
                                       &si, &e),
                     0);
    assert_true(si.resumed);
    assert_string_equal(si.participant, "ann");
    /* prompt 5 shows B on the left: "A" as shown (left) is model B */
    LabRateResult res;
    LabRateOpts o = {.score = {5, 1}, .comment = "left was better", .decide_ms = 900};
    assert_int_equal(lab_rate(r.l, r.pairs[5], LAB_CHOICE_A, &o, &res, &e), 0);
    assert_int_equal(res.model_choice, LAB_CHOICE_B);
    assert_int_equal(res.left_slot, 1);
    assert_string_equal(res.model_name[0], "beta"); /* revealed after the vote */
    assert_string_equal(res.model_name[1], "alpha");
    /* by slot (scripts): choice b is model B whatever the sides */
    assert_int_equal(lab_rate(r.l, r.pairs[0], LAB_CHOICE_B, &(LabRateOpts){.by_slot = true, .decide_ms = -1}, &res, &e), 0);
    assert_int_equal(res.model_choice, LAB_CHOICE_B);
    /* undo walks back: the by-slot rating first, then the other */
    int64_t undone;
    assert_int_equal(lab_undo_rating(r.l, &undone, &e), 0);
    assert_int_equal(undone, r.pairs[0]);
    assert_int_equal(lab_undo_rating(r.l, &undone, &e), 0);
    assert_int_equal(undone, r.pairs[5]);
    assert_int_equal(lab_undo_rating(r.l, &undone, &e), -1);
    assert_int_equal(e.code, LAB_ENOTFOUND);
    /* one change at a time: a vote, then a score, then tags; u steps back through them */
    assert_int_equal(lab_rate(r.l, r.pairs[6], LAB_CHOICE_B, &(LabRateOpts){.decide_ms = 700}, &res, &e), 0);
    assert_int_equal(lab_rate(r.l, r.pairs[6], LAB_CHOICE_B, &(LabRateOpts){.score = {2, 5}, .decide_ms = 700}, &res, &e), 0);
    assert_int_equal(lab_rate(r.l, r.pairs[6], LAB_CHOICE_B,
                              &(LabRateOpts){.score = {2, 5}, .tags = "vivid", .comment = "ok", .decide_ms = 700}, &res, &e),
                     0);
    LabRating cur;
    assert_int_equal(lab_rating_current(r.l, r.pairs[6], NULL, &cur, &e), 1);
    assert_int_equal(cur.choice, LAB_CHOICE_B); /* as shown */
    assert_int_equal(cur.score[0], 2);
    assert_int_equal(cur.score[1], 5);
    assert_string_equal(cur.tags, "vivid");
    assert_int_equal(lab_undo_rating(r.l, &undone, &e), 0);
    assert_int_equal(undone, r.pairs[6]);
    assert_int_equal(lab_rating_current(r.l, r.pairs[6], NULL, &cur, &e), 1);
    assert_string_equal(cur.tags, "");
    assert_int_equal(cur.score[1], 5); /* the score stays */
    assert_int_equal(lab_undo_rating(r.l, &undone, &e), 0);
    assert_int_equal(lab_rating_current(r.l, r.pairs[6], NULL, &cur, &e), 1);
    assert_int_equal(cur.score[1], 0);
    assert_int_equal(cur.choice, LAB_CHOICE_B); /* the vote stays */
    /* prompt 6 had ann's earlier "b" from the fixture: stepping back the lab's vote restores it */
    assert_int_equal(lab_undo_rating(r.l, &undone, &e), 0);
    assert_int_equal(lab_rating_current(r.l, r.pairs[6], NULL, &cur, &e), 1);
    assert_int_equal(cur.model_choice, LAB_CHOICE_B);
    assert_int_equal(cur.decide_ms, 1200);
    assert_int_equal(lab_rating_current(r.l, r.pairs[6], "nobody", &cur, &e), 0);
    /* unknown pair, bad score */
    assert_int_equal(lab_rate(r.l, 9999, LAB_CHOICE_A, NULL, NULL, &e), -1);
    assert_int_equal(e.code, LAB_ENOTFOUND);
    assert_int_equal(lab_rate(r.l, r.pairs[1], LAB_CHOICE_A, &(LabRateOpts){.score = {6, 0}}, NULL, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);
    assert_false(lab_rate_pending(r.l));

    /* a full database: the rating is kept, nothing else is lost, retry commits it */
    sqlite3 *h = r.l->db->h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%lld", (long long)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    char *big = malloc(100000);
    memset(big, 'z', 99999);
    big[99999] = 0;
    o.comment = big;
    assert_int_equal(lab_rate(r.l, r.pairs[2], LAB_CHOICE_B, &o, &res, &e), -1);
    assert_int_equal(e.code, LAB_EFULL);
    assert_true(lab_rate_pending(r.l));
    free(big); /* the lab kept its own copy */
    assert_int_equal(lab_rate(r.l, r.pairs[3], LAB_CHOICE_B, &o, &res, &e), -1); /* one pending at a time */
    assert_int_equal(e.code, LAB_EBUSY);
    LabStats s;
    assert_int_equal(lab_stats(r.l, NULL, &s, &e), 0);
    assert_int_equal(s.n_votes, 14); /* nothing lost */
    lab_stats_free(&s);
    assert_int_equal(lab_rate_retry(r.l, &res, &e), -1); /* still full */
    assert_true(lab_rate_pending(r.l));
    assert_int_equal(sqlite3_exec(h, "PRAGMA max_page_count=1000000", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(lab_rate_retry(r.l, &res, &e), 0);
    assert_false(lab_rate_pending(r.l));
    assert_int_equal(res.pair_id, r.pairs[2]);
    assert_int_equal(lab_undo_rating(r.l, &undone, &e), 0); /* the retried one is undoable too */
    assert_int_equal(undone, r.pairs[2]);
    lab_close(r.l);
}

/* ---------- studies, history, settings, prompt files ---------- */

static int count_rows(const LabPairRow *row, void *ud) {
    (void)row;
    (*(int *)ud)++;
    return 0;
}

static void test_study_order_resume_and_history(void **state) {
    (void)state;
    LabErr e = {0};
    Lab *l;
    assert_int_equal(lab_open_record(&l, tpath("study/nested/lab.db"), &e), 0);
    LabSessionInfo si;
    LabSessionSpec spec = {.name = "s-ann", .kind = "study", .participant = "ann", .prompt_set = "five", .blind = true,
                           .consent = true, .seed = 11};
    assert_int_equal(lab_session_start(l, &spec, &si, &e), 0);
    assert_false(si.resumed);
    char *texts[] = {"one", "two", "three", "four", "five"};
    LabStrList pl = {texts, 5, NULL};
    assert_int_equal(lab_session_set_prompts(l, &pl, &e), 0);
    assert_int_equal(lab_session_set_prompts(l, &pl, &e), 0); /* idempotent */
    char *changed[] = {"one", "TWO"};
    LabStrList bad = {changed, 2, NULL};
    assert_int_equal(lab_session_set_prompts(l, &bad, &e), -1);
    LabStudyItem it;
    assert_int_equal(lab_study_next(l, &it, &e), 1);
    assert_int_equal(it.k, 1);
    assert_int_equal(it.n, 5);
    assert_false(it.answered);
    int64_t first = it.prompt_id;
    /* answer and rate it (the responses go in through the record, as lab_ask would) */
    int64_t ma = add_model(l->db, "alpha", 1), mb = add_model(l->db, "beta", 2);
    LabErr de = {0};
    int64_t pair, rid;
    DbPair p = {.session_id = si.id, .prompt_id = first, .model_id = {ma, mb}, .left_slot = 1, .blind = true};
    assert_int_equal(db_pair_add(l->db, &p, &pair, &de), 0);
    for (int s = 0; s < 2; s++) {
        DbResponse r = {.pair_id = pair, .model_id = s ? mb : ma, .slot = s, .side = 1 - s, .output = "zebra stripes",
                        .stop_reason = "eos", .max_tokens = 8, .top_p = 1, .repeat_penalty = 1};
        assert_int_equal(db_response_add(l->db, &r, &rid, &de), 0);
    }
    assert_int_equal(lab_study_next(l, &it, &e), 1);
    assert_int_equal(it.prompt_id, first); /* answered but not rated: still next */
    assert_true(it.answered);
    assert_int_equal(it.pair_id, pair);
    assert_int_equal(lab_rate(l, pair, LAB_CHOICE_TIE, NULL, NULL, &e), 0);
    assert_int_equal(lab_study_next(l, &it, &e), 1);
    assert_int_equal(it.k, 2);
    assert_true(it.prompt_id != first);
    int64_t second = it.prompt_id;
    lab_close(l);

    /* resume in a new process-like open: same order, same progress */
    assert_int_equal(lab_open_record(&l, tpath("study/nested/lab.db"), &e), 0);
    spec.seed = -1;
    assert_int_equal(lab_session_start(l, &spec, &si, &e), 0);
    assert_true(si.resumed);
    assert_int_equal(si.n_prompts, 5);
    assert_int_equal(si.n_rated, 1);
    assert_int_equal(lab_study_next(l, &it, &e), 1);
    assert_int_equal(it.prompt_id, second);
    spec.blind = false; /* resuming a blind session as open is refused */
    assert_int_equal(lab_session_start(l, &spec, &si, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);

    /* history and search */
    int n = 0;
    assert_int_equal(lab_history(l, NULL, 0, 10, 0, count_rows, &n, &e), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(lab_history(l, "zebra", 0, 10, 0, count_rows, &n, &e), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(lab_history(l, "giraffe", 0, 10, 0, count_rows, &n, &e), 0);
    assert_int_equal(n, 0);
    n = 0; /* not FTS5 syntax: searched as words */
    assert_int_equal(lab_history(l, "zebra's \"stripes", 0, 10, 0, count_rows, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(lab_history(l, "stripes\"", 0, 10, 0, count_rows, &n, &e), 0);
    assert_int_equal(n, 1);
    LabPair lp;
    assert_int_equal(lab_pair_get(l, pair, &lp, &e), 0);
    assert_string_equal(lp.prompt, texts[0] == NULL ? "" : lp.prompt);
    assert_string_equal(lp.output[1], "zebra stripes");
    assert_string_equal(lp.model_name[1], "beta");
    assert_int_equal(lp.left_slot, 1);
    assert_string_equal(lp.metrics[0].stop, "eos");
    lab_pair_free(&lp);

    /* settings round trip through the record */
    LabSettings st;
    lab_settings_get(l, &st);
    st.shared = false;
    st.s[1].temp = 0.1;
    st.s[1].seed = 77;
    st.threads = 4;
    assert_int_equal(lab_settings_set(l, &st, &e), 0);
    st.s[0].top_p = 1.5;
    assert_int_equal(lab_settings_set(l, &st, &e), -1);
    assert_string_equal(e.msg, "settings for model A: top_p must be a number in [0, 1], not 1.5");
    lab_close(l);
    assert_int_equal(lab_open_record(&l, tpath("study/nested/lab.db"), &e), 0);
    assert_int_equal(lab_settings_restore(l, &e), 0);
    lab_settings_get(l, &st);
    assert_false(st.shared);
    NEAR(st.s[1].temp, 0.1, 1e-12);
    assert_int_equal(st.s[1].seed, 77);
    assert_int_equal(st.threads, 4);

    /* a saved value out of range (a hand-edited record) is refused with the table's message and
     * nothing changes; lab_open refuses to start on it rather than run with other settings */
    assert_int_equal(db_setting_set(l->db, "lab.settings", "shared=0;threads=4;a.top_k=40;b.top_p=1.5;", &e), 0);
    assert_int_equal(lab_settings_restore(l, &e), -1);
    assert_non_null(strstr(e.msg, "lab.db: the settings saved from the settings screen"));
    assert_non_null(strstr(e.msg, "model B: top_p must be a number in [0, 1], not 1.5"));
    LabSettings after;
    lab_settings_get(l, &after);
    NEAR(after.s[1].top_p, st.s[1].top_p, 1e-12);
    lab_close(l);
    LabConfig c;
    lab_config_init(&c);
    c.db_path = tpath("study/nested/lab.db");
    c.restore_settings = true;
    assert_int_equal(lab_open(&l, &c, &e), -1);
    assert_null(l);
    assert_non_null(strstr(e.msg, "model B: top_p must be a number in [0, 1], not 1.5"));
    /* and what the config hands lab_open passes the same check */
    c.restore_settings = false;
    c.sampling.repeat_penalty = 0;
    assert_int_equal(lab_open(&l, &c, &e), -1);
    assert_string_equal(e.msg, "lab settings: repeat_penalty must be a number in (0, 100], not 0");
    c.sampling = lab_sampling_default();
    c.sampling.top_k = -3;
    assert_int_equal(lab_open(&l, &c, &e), -1);
    assert_string_equal(e.msg, "lab settings: top_k must be an integer in [0, 1073741824], not -3");
}

static void test_prompt_files(void **state) {
    (void)state;
    const char *p = tpath("prompts.txt");
    FILE *f = fopen(p, "w");
    fputs("# a header saying what the set is for\nOnce upon a time\r\n\n  {\"prompt\": \"Say \\\"hi\\\"\\nthen \\u00e9\\ud83d\\ude00\"}\nThe end\n", f);
    fclose(f);
    LabStrList l;
    LabErr e = {0};
    assert_int_equal(lab_prompts_read(p, &l, &e), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "Once upon a time");
    assert_string_equal(l.v[1], "Say \"hi\"\nthen \xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(l.v[2], "The end");
    lab_strlist_free(&l);
    f = fopen(p, "w");
    fputs("fine\n{\"text\": \"no prompt field\"}\n", f);
    fclose(f);
    assert_int_equal(lab_prompts_read(p, &l, &e), -1);
    assert_non_null(strstr(e.msg, ":2:"));
    f = fopen(p, "w");
    fputs("ok\n{\"prompt\": 42}\n", f);
    fclose(f);
    assert_int_equal(lab_prompts_read(p, &l, &e), -1);
    assert_non_null(strstr(e.msg, "must be a string"));
    f = fopen(p, "w");
    fputs("{\"prompt\": \"unterminated}\n", f);
    fclose(f);
    assert_int_equal(lab_prompts_read(p, &l, &e), -1);
    assert_non_null(strstr(e.msg, "prompts.txt:1: not valid JSON"));
    /* a NUL would cut a prompt short without a word (issue 21's hostile prompt files) */
    char bad[1024];
    snprintf(bad, sizeof bad, "%s/prompts/nul_in_line.txt", getenv("TEST_BAD_DIR"));
    assert_int_equal(lab_prompts_read(bad, &l, &e), -1);
    assert_non_null(strstr(e.msg, "nul_in_line.txt:2: a NUL byte"));
    /* every shipped prompt set reads without its header lines */
    const char *sets[] = {"art-and-ai-literacy.txt", "story-openings.txt", "shakespeare-cues.txt"};
    for (size_t i = 0; i < 3; i++) {
        char sp[1024];
        snprintf(sp, sizeof sp, "%s/prompts/%s", getenv("ABLAB_ASSETS"), sets[i]);
        if (lab_prompts_read(sp, &l, &e)) fail_msg("%s", e.msg);
        assert_true(l.n >= 20 && l.n <= 40);
        for (size_t k = 0; k < l.n; k++) assert_true(l.v[k][0] != '#');
        lab_strlist_free(&l);
    }
}

/* ---------- exports parse back equal ---------- */

/* RFC 4180 reader: fields separated by commas, records by CRLF, quoted fields with "" escapes. */
typedef struct { char **f; size_t n; } Rec1;
static size_t csv_parse(const char *s, Rec1 **out) {
    size_t nrec = 0;
    Rec1 *recs = NULL;
    Buf field = {0};
    Rec1 cur = {0};
    const char *p = s;
    bool any = false;
    while (*p) {
        buf_clear(&field);
        buf_append(&field, "", 0); /* allocated and terminated, even for an empty field */
        if (*p == '"') {
            p++;
            for (;;) {
                assert_true(*p != 0);
                if (*p == '"' && p[1] == '"') {
                    buf_putc(&field, '"');
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else buf_putc(&field, *p++);
            }
        } else {
            while (*p && *p != ',' && *p != '\r' && *p != '\n') buf_putc(&field, *p++);
        }
        cur.f = realloc(cur.f, (cur.n + 1) * sizeof *cur.f);
        cur.f[cur.n++] = strdup(field.data ? field.data : "");
        any = true;
        if (*p == ',') {
            p++;
            continue;
        }
        assert_true(p[0] == '\r' && p[1] == '\n'); /* CRLF record ends */
        p += 2;
        recs = realloc(recs, (nrec + 1) * sizeof *recs);
        recs[nrec++] = cur;
        memset(&cur, 0, sizeof cur);
        any = false;
    }
    assert_false(any);
    buf_free(&field);
    *out = recs;
    return nrec;
}

typedef struct { Rec1 *rows; size_t n, i; Rec1 header; json_t **json; } Cmp;

static const char *col(const Cmp *c, size_t row, const char *name) {
    for (size_t k = 0; k < c->header.n; k++)
        if (!strcmp(c->header.f[k], name)) return c->rows[row].f[k];
    fail_msg("no column %s", name);
    return NULL;
}

static int cmp_response(const DbResponse *r, void *ud) {
    Cmp *c = ud;
    size_t i = c->i++;
    assert_true(i < c->n);
    char num[64];
    snprintf(num, sizeof num, "%lld", (long long)r->id);
    assert_string_equal(col(c, i, "response_id"), num);
    assert_string_equal(col(c, i, "output"), r->output);
    assert_string_equal(col(c, i, "prompt"), r->prompt);
    assert_string_equal(col(c, i, "model"), r->model_name);
    assert_string_equal(col(c, i, "stop_reason"), r->stop_reason);
    NEAR(strtod(col(c, i, "ttft_ms"), NULL), r->ttft_ms, 0);
    NEAR(strtod(col(c, i, "temperature"), NULL), r->temp, 0);
    snprintf(num, sizeof num, "%lld", (long long)r->seed);
    assert_string_equal(col(c, i, "seed"), num);
    assert_string_equal(col(c, i, "token_ids"), "5 6 7");
    /* the JSON line carries the same values, with types */
    json_t *j = c->json[i];
    assert_int_equal(json_integer_value(json_object_get(j, "response_id")), r->id);
    assert_string_equal(json_string_value(json_object_get(j, "output")), r->output);
    NEAR(json_number_value(json_object_get(j, "ttft_ms")), r->ttft_ms, 0);
    NEAR(json_number_value(json_object_get(j, "decode_tok_s")), r->decode_tok_s, 0);
    assert_true(json_is_boolean(json_object_get(j, "blind")));
    assert_int_equal(json_integer_value(json_object_get(j, "n_gen_tokens")), r->n_gen);
    return 0;
}

__attribute__((noinline)) static char *slurp(const char *path) {
    char *t;
    size_t n;
    LabErr e = {0};
    assert_int_equal(file_read_all(path, 0, &t, &n, &e), 0);
    return t;
}

static void test_csv_and_jsonl_parse_back_equal(void **state) {
    (void)state;
    Rec r;
    build_record(&r, "export.db");
    LabErr e = {0};
    const char *dir = tpath("out/all-csv");
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_CSV, .out_path = dir}, &e), 0);
    const char *jdir = tpath("out/all-jsonl");
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_JSONL, .out_path = jdir}, &e), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/responses.csv", dir);
    char *csv = slurp(path);
    Rec1 *rows;
    size_t n = csv_parse(csv, &rows);
    assert_int_equal(n, 21); /* header + 20 responses */
    snprintf(path, sizeof path, "%s/responses.jsonl", jdir);
    char *jl = slurp(path);
    json_t *js[20];
    size_t nj = 0;
    for (char *line = strtok(jl, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        assert_true(nj < 20);
        js[nj] = json_loads(line, 0, &je);
        if (!js[nj]) fail_msg("JSON line %zu: %s", nj + 1, je.text);
        nj++;
    }
    assert_int_equal(nj, 20);
    Cmp c = {.rows = rows + 1, .n = n - 1, .header = rows[0], .json = js};
    assert_int_equal(db_responses_each(r.l->db, 0, 0, cmp_response, &c, &e), 0);
    assert_int_equal(c.i, 20);
    for (size_t i = 0; i < nj; i++) json_decref(js[i]);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < rows[i].n; k++) free(rows[i].f[k]);
        free(rows[i].f);
    }
    free(rows);
    free(csv);
    free(jl);
    /* ratings: 14 rows, and the column list is what README documents */
    snprintf(path, sizeof path, "%s/ratings.csv", dir);
    csv = slurp(path);
    n = csv_parse(csv, &rows);
    assert_int_equal(n, 15);
    const char *want[] = {"rating_id", "session_id", "session", "pair_id", "prompt_id", "rep", "prompt",
                          "participant", "model_a", "model_b", "choice", "winner", "shown_left", "chosen_side",
                          "score_a", "score_b", "tags", "comment", "decide_ms", "blind", "created_utc"};
    assert_int_equal(rows[0].n, sizeof want / sizeof *want);
    for (size_t k = 0; k < rows[0].n; k++) assert_string_equal(rows[0].f[k], want[k]);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < rows[i].n; k++) free(rows[i].f[k]);
        free(rows[i].f);
    }
    free(rows);
    free(csv);
    lab_close(r.l);
}

static void test_report_formats(void **state) {
    (void)state;
    Rec r;
    build_record(&r, "report.db");
    LabErr e = {0};
    const char *md = tpath("report.md");
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_MD, .out_path = md, .seed = 1}, &e), 0);
    char *t = slurp(md);
    assert_non_null(strstr(t, "### Methods"));
    assert_non_null(strstr(t, "We compared 2 language models: alpha (llama, 260K parameters, f32 weights) and beta"));
    assert_non_null(strstr(t, "2 raters (ann, bob) gave 14 ratings, on 10 response pairs"));
    assert_non_null(strstr(t, "Wilson 95% score intervals"));
    assert_non_null(strstr(t, "1000 bootstrap resamples"));
    assert_non_null(strstr(t, "Test CPU"));
    assert_non_null(strstr(t, "| alpha | beta | 14 | 9 | 3 | 1 | 1 | 75.0% ["));
    assert_non_null(strstr(t, "Cohen's"));
    free(t);
    const char *tex = tpath("report.tex");
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_SUMMARY, .format = LAB_FMT_TEX, .out_path = tex}, &e), 0);
    t = slurp(tex);
    assert_non_null(strstr(t, "\\begin{longtable}"));
    assert_non_null(strstr(t, "0\\% ["));
    assert_non_null(strstr(t, "\\end{longtable}"));
    free(t);
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_TEX, .out_path = tex}, &e), 0);
    t = slurp(tex);
    assert_non_null(strstr(t, "Wilson 95\\% score intervals")); /* a bare % would comment out the rest */
    assert_null(strstr(t, " 95% "));
    free(t);
    const char *svgdir = tpath("charts");
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_SVG, .out_path = svgdir}, &e), 0);
    const char *charts[] = {"win_rates.svg", "speed.svg", "scores.svg"};
    for (int i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", svgdir, charts[i]);
        t = slurp(p);
        assert_true(strncmp(t, "<?xml", 5) == 0);
        assert_non_null(strstr(t, "</svg>\n"));
        assert_non_null(strstr(t, i == 0 ? "alpha vs beta (12 decisive)" : "alpha"));
        free(t);
    }
    /* SQL dump as an export */
    const char *sql = tpath("dump.sql");
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_SQL, .out_path = sql}, &e), 0);
    t = slurp(sql);
    assert_non_null(strstr(t, "CREATE TABLE \"ratings\"("));
    assert_non_null(strstr(t, ") STRICT;"));
    free(t);
    /* floats in the shortest form that reads back exactly: 0.8, not 0.80000000000000004 */
    const char *csv = tpath("responses.csv"), *jsonl = tpath("responses.jsonl");
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_RESPONSES, .format = LAB_FMT_CSV, .out_path = csv}, &e), 0);
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_RESPONSES, .format = LAB_FMT_JSONL, .out_path = jsonl}, &e), 0);
    t = slurp(csv);
    assert_non_null(strstr(t, ",0.8,40,0.95,0.05,1,64,32,"));
    assert_null(strstr(t, "0000000"));
    free(t);
    t = slurp(jsonl);
    assert_non_null(strstr(t, "\"temperature\":0.8,"));
    assert_non_null(strstr(t, "\"top_p\":0.95,"));
    assert_null(strstr(t, "0000000"));
    free(t);
    /* several files need a folder */
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_CSV, .out_path = "-"}, &e), -1);
    assert_int_equal(e.code, LAB_EINVAL);
    lab_close(r.l);
}

/* ---------- LaTeX that compiles and fits ---------- */

/* 100 pairs (200 responses) with long names, TeX specials, accents, an emoji and a long unbroken
 * word in prompts, answers, tags and comments; every pair rated. */
static void build_big_record(Rec *r, const char *file) {
    LabErr e = {0};
    assert_int_equal(lab_open_record(&r->l, tpath(file), &e), 0);
    Db *db = r->l->db;
    r->model[0] = add_model(db, "stories260K-with-a-rather-long-file-name.bin", 260000);
    r->model[1] = add_model(db, "llama_tiny_gqa_q8_0_supercalifragilistic.gguf", 15000000);
    DbSession s = {.name = "study: 100 prompts & a 50% \"mix\"", .kind = "study", .participant = "ann_o'neil",
                   .blind = true, .seed = 3};
    assert_int_equal(db_session_add(db, &s, &r->session, &e), 0);
    for (int i = 0; i < 100; i++) {
        char text[400];
        snprintf(text, sizeof text,
                 "Prompt %d: write $5 of #hashtags & 100%% {braces} ~tilde^ \\back_slash café naïve 🙂 "
                 "pneumonoultramicroscopicsilicovolcanoconiosis %s",
                 i, i % 3 ? "short" : "and then a much longer tail that goes on and on for a report table");
        int64_t pair = add_pair(db, r->session, i, text, r->model[0], r->model[1], i % 2, 10 + i, 12 + i);
        const char *c = i % 4 == 0 ? "a" : i % 4 == 1 ? "b" : i % 4 == 2 ? "tie" : "both-bad";
        int64_t winner = i % 4 == 0 ? r->model[0] : i % 4 == 1 ? r->model[1] : 0;
        LabErr re = {0};
        DbRating g = {.pair_id = pair, .participant = "ann_o'neil", .choice = c, .winner_model_id = winner,
                      .chosen_side = winner ? 0 : -1, .score = {1 + i % 5, 5 - i % 5},
                      .tags = "fluent,on-topic,repetitive_loop", .comment = i % 2 ? "fine" :
                      "the left answer rambles: see https://example.org/a/very/long/path?with=query&and=more "
                      "— and 0.80000000000000004 is not a number anyone wants",
                      .decide_ms = 1500};
        int64_t id;
        assert_int_equal(db_rating_add(db, &g, &id, &re), 0);
    }
}

static int run_pdflatex(const char *dir, const char *name) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && pdflatex -interaction=nonstopmode -halt-on-error '%s' > '%s.out' 2>&1", dir, name, name);
    return system(cmd);
}

/* The `export --format tex` outputs compile with pdflatex into pages with no overfull box, on a
 * record of 200 responses (issue 14: a 443pt-too-wide tabular, a 188-row float). */
static void test_latex_compiles_and_fits(void **state) {
    (void)state;
    if (system("command -v pdflatex > /dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: pdflatex is not installed (tools/setup.sh installs texlive-latex-recommended)\n");
        skip();
    }
    Rec r;
    build_big_record(&r, "latex.db");
    LabErr e = {0};
    const char *dir = tpath("latex");
    assert_int_equal(mkdir_p(dir, &e), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/all.tex", dir);
    assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = LAB_FMT_TEX, .out_path = path}, &e), 0);
    const char *parts[] = {"responses", "ratings", "sessions", "summary"};
    LabExportWhat what[] = {LAB_EXPORT_RESPONSES, LAB_EXPORT_RATINGS, LAB_EXPORT_SESSIONS, LAB_EXPORT_SUMMARY};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s.tex", dir, parts[i]);
        assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = what[i], .format = LAB_FMT_TEX, .out_path = path}, &e), 0);
    }
    snprintf(path, sizeof path, "%s/parts.tex", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
          "\\usepackage{booktabs,longtable,array}\n\\begin{document}\n"
          "\\input{responses}\n\\input{ratings}\n\\input{sessions}\n\\input{summary}\n\\end{document}\n", f);
    fclose(f);
    const char *docs[] = {"all", "parts"};
    for (int i = 0; i < 2; i++) {
        int rc = run_pdflatex(dir, docs[i]);
        snprintf(path, sizeof path, "%s/%s.log", dir, docs[i]);
        char *log = slurp(path);
        if (rc != 0) fail_msg("pdflatex %s.tex failed; its log ends:\n%s", docs[i], log + (strlen(log) > 3000 ? strlen(log) - 3000 : 0));
        char *over = strstr(log, "Overfull \\hbox");
        if (over) fail_msg("%s.tex: %.300s", docs[i], over);
        free(log);
        snprintf(path, sizeof path, "%s/%s.pdf", dir, docs[i]);
        assert_int_equal(file_exists(path), 1);
    }
    /* 200 responses break across pages: the responses table alone is several pages long */
    snprintf(path, sizeof path, "%s/parts.log", dir);
    char *plog = slurp(path);
    const char *written = "Output written on parts.pdf (";
    const char *at = strstr(plog, written);
    int n_pages = at ? atoi(at + strlen(written)) : 0;
    free(plog);
    assert_true(n_pages >= 4);
    /* the ratings table carries the prompt (shortened), scores, tags and comment */
    snprintf(path, sizeof path, "%s/ratings.tex", dir);
    char *t = slurp(path);
    assert_non_null(strstr(t, "\\begin{longtable}"));
    assert_non_null(strstr(t, "\\endhead"));
    assert_non_null(strstr(t, "\\toprule\npair\\_\\allowbreak{}id & prompt & partic\\allowbreak{}ipant & "));
    assert_non_null(strstr(t, "\\endfoot\n1 & Prompt 0:\\allowbreak{} write \\$5 of"));
    assert_non_null(strstr(t, "Prompt 7:\\allowbreak{} write \\$5 of"));
    assert_non_null(strstr(t, "on-\\allowbreak{}topic"));
    assert_null(strstr(t, "\\begin{tabular}"));
    free(t);
    lab_close(r.l);
}

/* Values a foreign tool can put in a current file despite the CHECKs (PRAGMA
 * ignore_check_constraints): the largest int64 in every byte count, the smallest in the RSS, a
 * REAL 1e308 time and a timestamp past any calendar. Statistics, every export and a pair's
 * metrics still come out (the sanitizer build checks that no sum overflows). */
static void test_foreign_values_do_not_break_aggregates(void **state) {
    (void)state;
    Rec r;
    build_record(&r, "foreign.db");
    LabErr e = {0};
    assert_int_equal(sqlite3_exec(r.l->db->h,
                                  "PRAGMA ignore_check_constraints=ON;"
                                  "UPDATE responses SET bytes_kv = 9223372036854775807, bytes_scratch = 9223372036854775807,"
                                  " bytes_weights_mapped = 9223372036854775807, bytes_weights_owned = 9223372036854775807,"
                                  " peak_rss = -9223372036854775807 - 1, created_ms = 9223372036854775807,"
                                  " ttft_ms = 1e308, total_ms = -1e308, n_gen = 2147483647;"
                                  "UPDATE ratings SET decide_ms = 1e308, created_ms = -9223372036854775807 - 1;"
                                  "PRAGMA ignore_check_constraints=OFF;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    LabStats s;
    assert_int_equal(lab_stats(r.l, &(LabStatsQuery){.seed = 1}, &s, &e), 0);
    assert_true(s.models[0].engine_med > 3.6e19);   /* four times 2^63, as a double */
    NEAR(s.models[0].ttft_med, 1e308, 1e292);
    assert_int_equal(s.pairs[0].votes, 14);
    lab_stats_free(&s);
    LabPair p;
    assert_int_equal(lab_pair_get(r.l, r.pairs[0], &p, &e), 0);
    assert_true(p.metrics[0].bytes_engine == SIZE_MAX);
    assert_true(p.metrics[0].peak_rss == 0);
    lab_pair_free(&p);
    LabExportFormat fmts[] = {LAB_FMT_MD, LAB_FMT_TEX};
    for (int i = 0; i < 2; i++)
        assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = fmts[i],
                                                          .out_path = tpath("foreign.out")}, &e), 0);
    LabExportFormat multi[] = {LAB_FMT_CSV, LAB_FMT_JSONL, LAB_FMT_SVG};
    const char *dirs[] = {"foreign-csv", "foreign-jsonl", "foreign-svg"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lab_export(r.l, &(LabExportOpts){.what = LAB_EXPORT_ALL, .format = multi[i],
                                                          .out_path = tpath(dirs[i])}, &e), 0);
    char *t = slurp(tpath("foreign-csv/responses.csv"));
    assert_non_null(strstr(t, "9223372036854775807"));
    free(t);
    lab_close(r.l);
}

/* Slow (busy_timeout is 5 s): another process holds the write lock past the timeout; the rating
 * fails with LAB_EBUSY, stays pending, and the retry commits it once the lock is gone. */
static void test_lock_past_timeout_keeps_rating(void **state) {
    (void)state;
    Rec r;
    build_record(&r, "busy.db");
    LabErr e = {0};
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        sqlite3 *h;
        if (sqlite3_open(tpath("busy.db"), &h) != SQLITE_OK) _exit(2);
        if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL)) _exit(3);
        char c = 'L';
        if (write(fd[1], &c, 1) != 1) _exit(4);
        sleep(7); /* longer than the 5 s busy timeout */
        sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(h);
        _exit(0);
    }
    close(fd[1]);
    char c;
    assert_int_equal(read(fd[0], &c, 1), 1);
    close(fd[0]);
    LabRateResult res;
    assert_int_equal(lab_rate(r.l, r.pairs[4], LAB_CHOICE_B, &(LabRateOpts){.comment = "kept", .decide_ms = -1}, &res, &e), -1);
    assert_int_equal(e.code, LAB_EBUSY);
    assert_true(lab_rate_pending(r.l));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(lab_rate_retry(r.l, &res, &e), 0);
    assert_int_equal(res.pair_id, r.pairs[4]);
    LabStats s;
    assert_int_equal(lab_stats(r.l, NULL, &s, &e), 0);
    assert_int_equal(s.n_votes, 15);
    lab_stats_free(&s);
    lab_close(r.l);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "slow") == 0) {
        const struct CMUnitTest slow[] = {cmocka_unit_test(test_lock_past_timeout_keeps_rating)};
        return cmocka_run_group_tests(slow, setup_dir, teardown_dir);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson_and_sign_test),
        cmocka_unit_test(test_bradley_terry),
        cmocka_unit_test(test_kappas),
        cmocka_unit_test(test_thread_share),
        cmocka_unit_test(test_blind_sides_are_balanced),
        cmocka_unit_test(test_stats_on_fixed_votes),
        cmocka_unit_test(test_scoped_counts_and_methods_state_recorded_facts),
        cmocka_unit_test(test_rate_resolves_sides_retries_and_undoes),
        cmocka_unit_test(test_study_order_resume_and_history),
        cmocka_unit_test(test_prompt_files),
        cmocka_unit_test(test_csv_and_jsonl_parse_back_equal),
        cmocka_unit_test(test_report_formats),
        cmocka_unit_test(test_latex_compiles_and_fits),
        cmocka_unit_test(test_foreign_values_do_not_break_aggregates),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
