/* The lab session: first cut of the contract in lab.h. Functions that are not finished yet
 * return LAB_EUNSUPPORTED with a message saying so; they are filled in on branch db. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

struct Lab {
    LabConfig cfg;
    LabSettings settings;
};

#define UNFINISHED(e) lab_err((e), LAB_EUNSUPPORTED, "%s: not available in this build yet", __func__)

LabSampling lab_sampling_default(void) {
    return (LabSampling){.temp = 0.8, .top_k = 40, .top_p = 0.95, .min_p = 0.05, .repeat_penalty = 1.0,
                         .repeat_last_n = 64, .max_tokens = 256, .seed = -1};
}

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
    s->v = NULL;
    s->n = 0;
}

int lab_open(Lab **out, const LabConfig *c, LabErr *e) {
    *out = NULL;
    (void)c;
    return UNFINISHED(e);
}

void lab_close(Lab *l) { free(l); }

int lab_model_info(const Lab *l, int slot, LabModelInfo *out) {
    memset(out, 0, sizeof *out);
    return l && (slot == 0 || slot == 1) ? 0 : -1;
}
int lab_model_swap(Lab *l, int slot, const char *path, void (*progress)(double, void *), void *ud, LabErr *e) {
    return UNFINISHED(e);
}
int lab_model_swap_slots(Lab *l, LabErr *e) { return UNFINISHED(e); }
void lab_settings_get(const Lab *l, LabSettings *out) { *out = l->settings; }
int lab_settings_set(Lab *l, const LabSettings *s, LabErr *e) { return UNFINISHED(e); }
int lab_session_start(Lab *l, const LabSessionSpec *spec, LabSessionInfo *out, LabErr *e) { return UNFINISHED(e); }
int lab_session_info(Lab *l, LabSessionInfo *out, LabErr *e) { return UNFINISHED(e); }
int lab_session_end(Lab *l, const char *notes, LabErr *e) { return UNFINISHED(e); }
int lab_prompts_read(const char *path, LabStrList *out, LabErr *e) { return UNFINISHED(e); }
int lab_session_set_prompts(Lab *l, const LabStrList *prompts, LabErr *e) { return UNFINISHED(e); }
int lab_study_next(Lab *l, LabStudyItem *out, LabErr *e) { return UNFINISHED(e); }
int lab_ask(Lab *l, const char *text, const LabAskOpts *o, const LabEvents *ev, int64_t *pair_id, LabErr *e) {
    return UNFINISHED(e);
}
void lab_stop(Lab *l) {}
bool lab_busy(Lab *l) { return false; }
void lab_wait(Lab *l) {}
int lab_rate(Lab *l, int64_t pair_id, LabChoice c, const LabRateOpts *o, LabRateResult *out, LabErr *e) {
    return UNFINISHED(e);
}
bool lab_rate_pending(const Lab *l) { return false; }
int lab_rate_retry(Lab *l, LabRateResult *out, LabErr *e) { return UNFINISHED(e); }
void lab_rate_discard(Lab *l) {}
int lab_undo_rating(Lab *l, int64_t *pair_id, LabErr *e) { return UNFINISHED(e); }
int lab_history(Lab *l, const char *search, int64_t session_id, int limit, int offset,
                int (*each)(const LabPairRow *, void *), void *ud, LabErr *e) {
    return UNFINISHED(e);
}
int lab_pair_get(Lab *l, int64_t pair_id, LabPair *out, LabErr *e) { return UNFINISHED(e); }
void lab_pair_free(LabPair *p) {
    if (!p) return;
    free(p->prompt);
    free(p->output[0]);
    free(p->output[1]);
    memset(p, 0, sizeof *p);
}
int lab_prompt_history(Lab *l, int limit, LabStrList *out, LabErr *e) { return UNFINISHED(e); }
int lab_stats(Lab *l, const LabStatsQuery *q, LabStats *out, LabErr *e) { return UNFINISHED(e); }
void lab_stats_free(LabStats *s) {}
int lab_export_what_parse(const char *s, LabExportWhat *out) { return -1; }
int lab_export_format_parse(const char *s, LabExportFormat *out) { return -1; }
int lab_export(Lab *l, const LabExportOpts *o, LabErr *e) { return UNFINISHED(e); }
