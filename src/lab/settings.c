/* LabSampling's fields as the rows of engine.h's settings table: the one place that maps a row to
 * a field, so the config, the settings screen, the record and the exports stay in step with the
 * table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "lab_internal.h"

_Static_assert((int)LAB_SAMPLING_N == (int)ENG_SET_N_STORED, "LabSampling holds every stored row of the table");

static double get(const LabSampling *s, int i) {
    switch ((EngSettingId)i) {
    case ENG_SET_TEMP: return s->temp;
    case ENG_SET_TOP_K: return s->top_k;
    case ENG_SET_TOP_P: return s->top_p;
    case ENG_SET_MIN_P: return s->min_p;
    case ENG_SET_REPEAT_PENALTY: return s->repeat_penalty;
    case ENG_SET_REPEAT_LAST_N: return s->repeat_last_n;
    case ENG_SET_MAX_TOKENS: return s->max_tokens;
    case ENG_SET_SEED: return (double)s->seed;
    default: return 0;
    }
}

/* whole: the exact value of integer rows (seeds exceed double's 53 bits) */
static void put(LabSampling *s, int i, double v, int64_t whole) {
    switch ((EngSettingId)i) {
    case ENG_SET_TEMP: s->temp = v; break;
    case ENG_SET_TOP_K: s->top_k = (int)whole; break;
    case ENG_SET_TOP_P: s->top_p = v; break;
    case ENG_SET_MIN_P: s->min_p = v; break;
    case ENG_SET_REPEAT_PENALTY: s->repeat_penalty = v; break;
    case ENG_SET_REPEAT_LAST_N: s->repeat_last_n = (int)whole; break;
    case ENG_SET_MAX_TOKENS: s->max_tokens = (int)whole; break;
    case ENG_SET_SEED: s->seed = whole; break;
    default: break;
    }
}

double lab_sampling_value(const LabSampling *s, int i) { return get(s, i); }

LabSampling lab_sampling_default(void) {
    LabSampling s = {0};
    for (int i = 0; i < LAB_SAMPLING_N; i++) {
        double d = eng_setting((EngSettingId)i)->def;
        put(&s, i, d, (int64_t)d);
    }
    return s;
}

int lab_sampling_info(int i, LabSettingInfo *out) {
    if (i < 0 || i >= LAB_SAMPLING_N) return -1;
    const EngSetting *t = eng_setting((EngSettingId)i);
    *out = (LabSettingInfo){.name = t->name, .flag = t->flag, .arg = t->arg, .label = t->label, .help = t->help};
    eng_setting_range(t, out->range, sizeof out->range);
    eng_setting_format(t, t->def, out->def, sizeof out->def);
    return 0;
}

void lab_sampling_format(const LabSampling *s, int i, char *out, size_t n) {
    if (i < 0 || i >= LAB_SAMPLING_N) {
        if (n) out[0] = 0;
        return;
    }
    if (i == ENG_SET_SEED && s->seed >= 0) snprintf(out, n, "%lld", (long long)s->seed);
    else eng_setting_format(eng_setting((EngSettingId)i), get(s, i), out, n);
}

int lab_sampling_parse(LabSampling *s, int i, const char *text, LabErr *e) {
    if (i < 0 || i >= LAB_SAMPLING_N) return lab_err(e, LAB_EINVAL, "no sampling setting number %d", i);
    double v;
    int64_t whole;
    if (eng_setting_parse(eng_setting((EngSettingId)i), text, &v, &whole, e)) return -1;
    put(s, i, v, whole);
    return 0;
}

void lab_sampling_step(const LabSampling *s, int i, int dir, char *out, size_t n) {
    if (i < 0 || i >= LAB_SAMPLING_N) {
        if (n) out[0] = 0;
        return;
    }
    const EngSetting *t = eng_setting((EngSettingId)i);
    if (t->type == ENG_SETTING_SEED) { /* exact: seeds exceed double's 53 bits */
        int64_t v = s->seed < 0 && dir < 0 ? -1 : s->seed + (s->seed == INT64_MAX && dir > 0 ? 0 : dir);
        if (v < 0) snprintf(out, n, "random");
        else snprintf(out, n, "%lld", (long long)v);
        return;
    }
    double v = get(s, i) + dir * t->step;
    if (t->type == ENG_SETTING_REAL) v = round(v * 1e6) / 1e6; /* 0.1 + 0.2 shows as 0.3 */
    /* an open bound is not reached by stepping: stay where the value was */
    if (v < t->min || (t->min_open && v <= t->min)) v = t->min_open ? get(s, i) : t->min;
    if (v > t->max || (t->max_open && v >= t->max)) v = t->max_open ? get(s, i) : t->max;
    eng_setting_format(t, v, out, n);
}

int lab_sampling_check(const LabSampling *s, LabErr *e) {
    for (int i = 0; i < LAB_SAMPLING_N; i++)
        if (eng_setting_check(eng_setting((EngSettingId)i), get(s, i), e)) return -1;
    return 0;
}

void lab_sampling_engine(const LabSampling *s, uint64_t seed, EngSampling *out) {
    *out = eng_sampling_default();
    out->temp = (float)s->temp;
    out->top_k = s->top_k;
    out->top_p = (float)s->top_p;
    out->min_p = (float)s->min_p;
    out->repeat_penalty = (float)s->repeat_penalty;
    out->repeat_last_n = s->repeat_last_n;
    out->max_tokens = s->max_tokens;
    out->seed = seed;
}
