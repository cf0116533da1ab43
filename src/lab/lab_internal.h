/* Private to src/lab/ (and its white-box tests): the Lab itself and helpers shared by lab.c
 * (record side), run.c (engines and workers), stats.c, export.c and svg.c. */
#ifndef ABLAB_LAB_INTERNAL_H
#define ABLAB_LAB_INTERNAL_H

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stddef.h>

#include "db.h"
#include "lab.h"

typedef struct EngModel EngModel; /* engine.h's, kept opaque here so lab.c needs no engine */

typedef struct RemoteArm RemoteArm; /* remote.h's */

typedef struct {
    EngModel *m;
    RemoteArm *r;               /* or a model served elsewhere (run.c); at most one of m and r */
    int64_t db_id;
    bool tok_given;             /* m was loaded with a tokenizer named by the caller */
    LabModelInfo info;          /* filled at load, threads/memory refreshed on request */
} LabSlot;

typedef struct {
    DbRating r;                 /* strings below are owned copies */
    char *participant, *choice, *tags, *comment;
    LabRateResult result;
} LabPendingRating;

struct Lab {
    Db *db;
    char *db_path;
    int ctx;
    bool mmap;
    char *quant[2];             /* per slot (LabConfig.quant), used by every load into the slot */
    char **lora[2];             /* per slot (LabConfig.lora), likewise */
    int n_lora[2];
    /* guards db (the workers record responses while the UI thread reads), gens, running */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    LabSlot slot[2];
    LabSettings settings;
    bool blind_default;
    LabPacing pacing_default;   /* LabConfig.pacing: blind ad-hoc pairs */
    /* current session */
    int64_t session_id;
    bool session_blind;
    int64_t session_seed;
    char *session_participant;
    bool session_run;           /* a `run` session: nothing is shown while written */
    bool has_study;             /* the session runs on a study's protocol: */
    LabStudy study;             /* its sampling and pacing for every ask */
    /* the ask in flight */
    pthread_t th[2];
    bool th_live[2];            /* started and not yet joined */
    struct EngGen *gen[2];      /* under mu; lab_stop cancels these */
    atomic_bool stop;
    int running;                /* workers not finished (under mu) */
    bool ask_open;              /* an ask whose on_pair_done has not been delivered (under mu) */
    bool loading;               /* lab_model_swap is loading a model (under mu) */
    /* ratings */
    bool has_pending;
    LabPendingRating pending;
    int64_t *undo;              /* rating ids given through this Lab, oldest first */
    size_t n_undo, cap_undo;
    /* study */
    char *study_text;
    /* chat (run.c): each slot's mode, the system prompt, and the conversation under way: each
     * slot's own messages (its answers, as it gave them), the conversation's id (its first pair)
     * and the next turn's index; all under mu */
    LabChatMode chat_mode[2];
    char *system_prompt;
    LabChatMsgs conv[2];
    int conv_cap[2];
    int64_t conv_id;
    int conv_turn;
    /* the engine side (run.c) hooks itself in when it loads a model, so that a record-only lab
     * links and runs without the engine; NULL until then */
    const struct LabEngineOps *ops;
};

typedef struct LabEngineOps {
    void (*release_models)(Lab *l);   /* frees both engines */
    void (*apply_threads)(Lab *l);    /* gives each engine its share of settings.threads */
    void (*cancel)(Lab *l);           /* cancels running generations (any thread); needs mu */
} LabEngineOps;

/* Applies the settings the last lab_settings_set saved, if any. -1 when a saved value fails the
 * table's check (e names the database, the key and the range); the settings are then unchanged. */
int  lab_settings_restore(Lab *l, LabErr *e);
/* Row i of s as a number (settings.c; seeds above 2^53 round: use s->seed for those). */
double lab_sampling_value(const LabSampling *s, int i);
/* Copies a recorded response's metrics and sampling settings into the UI's plain types. */
void lab_metrics_from_response(const DbResponse *r, LabMetrics *m, LabSampling *s);
/* Opens the record part of a Lab (no models). */
int  lab_record_open(Lab **out, const char *db_path, LabErr *e);
/* The row of a loaded model in the record (run.c; used by swap_in and record.c). */
int  lab_model_row(Lab *l, const char *path, const EngModel *m, int64_t *id, LabErr *e);
/* The current session, creating the default "lab" session first if there is none. Needs mu. */
int  lab_session_ensure(Lab *l, LabErr *e);
/* A model row's display name (by id) into out; "" if unknown. Needs mu. */
void lab_model_name(Lab *l, int64_t id, char out[LAB_NAME_MAX]);
/* Which slot is shown on the left for prompt `position`, repetition `rep` of a blind session:
 * a seeded coin per block of two consecutive positions, opposite within the block, so sides are
 * balanced to within one over any prefix of even length. */
int  lab_left_slot(int64_t seed, int position, int rep);
/* splitmix64: the lab's seeded generator (bootstrap, shuffles, sides) */
uint64_t lab_rng_next(uint64_t *state);
/* A fresh random 63-bit seed (getrandom, else time and pid). */
int64_t lab_fresh_seed(void);
void lab_copy_name(char *dst, size_t n, const char *src);

/* The sessions a scope selects (study, source, participant: see LabScope), in id order (*ids
 * malloc'd, caller frees). Needs mu. */
int  lab_scope_sessions(Lab *l, const LabScope *sc, int64_t **ids, size_t *n, LabErr *e);
bool lab_scope_has(const int64_t *ids, size_t n, int64_t id);
/* The current session's pacing name for a pair about to be asked ("" when not shown). Needs mu. */
const char *lab_pair_pacing(const Lab *l, bool shown);
/* Study protocol sampling as text ("temperature=0.8;...;seed=-1;", the table's names) and back. */
int  lab_sampling_to_text(const LabSampling *s, Buf *out);
int  lab_sampling_from_text(const char *text, LabSampling *s, LabErr *e);

/* q-quantile with linear interpolation between order statistics (sorts v in place); NaN if n == 0. */
double lab_quantile(double *v, size_t n, double q);
int lab_cmp_double(const void *a, const void *b);

/* Export pieces (export.c, svg.c). Output goes through a LabOut. */
typedef struct {
    FILE *f;
    bool failed;
} LabOut;
int lab_svg_win_rates(LabOut *o, const LabStats *s);
int lab_svg_latency(LabOut *o, const LabStats *s);
int lab_svg_scores(LabOut *o, const LabStats *s);

#endif
