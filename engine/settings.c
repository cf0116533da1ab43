/* The sampling settings' one table: names, defaults, ranges and help for every layer (engine.h).
 *
 * Defaults are llama.cpp's sampler defaults (so figures compare with what its users know), except
 * max_tokens: 128 is what every command and the lab have generated since the config file existed;
 * short answers keep two CPU models side by side responsive. Ranges are the widest that the two
 * checks this table replaced (config.c's and the lab's) both had reason to allow: top_p and min_p
 * take both ends ([0, 1]: 0 keeps only the likeliest token, 1 is off), the repetition penalty
 * anything above 0 (it divides logits) up to 100. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define SEED_MAX 9223372036854775807.0 /* INT64_MAX as a double rounds up to 2^63 */

static const EngSetting TABLE[ENG_SET_COUNT] = {
    [ENG_SET_TEMP] = {ENG_SET_TEMP, "temperature", "temp", "T", "temperature", ENG_SETTING_REAL, 0.8, 0, 100,
                      false, false, 0.1, false, "temperature (0 = greedy)"},
    [ENG_SET_TOP_K] = {ENG_SET_TOP_K, "top_k", "top-k", "K", "top-k", ENG_SETTING_INT, 40, 0, 1 << 30, false,
                       false, 5, false, "keep the K likeliest tokens (0 = off)"},
    [ENG_SET_TOP_P] = {ENG_SET_TOP_P, "top_p", "top-p", "P", "top-p", ENG_SETTING_REAL, 0.95, 0, 1, false, false,
                       0.05, false, "keep the likeliest tokens whose probabilities sum to P (1 = off)"},
    [ENG_SET_MIN_P] = {ENG_SET_MIN_P, "min_p", "min-p", "P", "min-p", ENG_SETTING_REAL, 0.05, 0, 1, false, false,
                       0.01, false, "drop tokens less likely than P times the likeliest (0 = off)"},
    [ENG_SET_REPEAT_PENALTY] = {ENG_SET_REPEAT_PENALTY, "repeat_penalty", "repeat-penalty", "R", "repeat penalty",
                                ENG_SETTING_REAL, 1.0, 0, 100, true, false, 0.05, false,
                                "repetition penalty on recent tokens (1 = off)"},
    [ENG_SET_REPEAT_LAST_N] = {ENG_SET_REPEAT_LAST_N, "repeat_last_n", "repeat-last-n", "N", "repeat last n",
                               ENG_SETTING_INT, 64, -1, 1 << 20, false, false, 16, false,
                               "tokens the penalty looks back over (-1 = the whole context)"},
    [ENG_SET_MAX_TOKENS] = {ENG_SET_MAX_TOKENS, "max_tokens", "max-tokens", "N", "max tokens", ENG_SETTING_INT, 128,
                            1, 1 << 20, false, false, 16, false, "tokens to generate per answer"},
    [ENG_SET_SEED] = {ENG_SET_SEED, "seed", "seed", "S", "seed", ENG_SETTING_SEED, -1, -1, SEED_MAX, false, false, 1,
                      false, "random seed ('random' or -1: a fresh one for each answer)"},
    [ENG_SET_STOP] = {ENG_SET_STOP, "stop", "stop", "STR", "stop", ENG_SETTING_TEXT, 0, 1, 4096, false, false, 0,
                      true, "stop when the text appears (not printed); repeat for several"},
};

const EngSetting *eng_settings_table(void) { return TABLE; }

const EngSetting *eng_setting(EngSettingId id) { return (unsigned)id < ENG_SET_COUNT ? &TABLE[id] : NULL; }

const EngSetting *eng_setting_find(const char *name) {
    for (int i = 0; name && i < ENG_SET_COUNT; i++)
        if (strcmp(TABLE[i].name, name) == 0) return &TABLE[i];
    return NULL;
}

EngSampling eng_sampling_default(void) {
    return (EngSampling){.temp = (float)TABLE[ENG_SET_TEMP].def,
                         .top_k = (int)TABLE[ENG_SET_TOP_K].def,
                         .top_p = (float)TABLE[ENG_SET_TOP_P].def,
                         .min_p = (float)TABLE[ENG_SET_MIN_P].def,
                         .repeat_penalty = (float)TABLE[ENG_SET_REPEAT_PENALTY].def,
                         .repeat_last_n = (int)TABLE[ENG_SET_REPEAT_LAST_N].def,
                         .max_tokens = (int)TABLE[ENG_SET_MAX_TOKENS].def,
                         .seed = 0, .stop = NULL, .n_stop = 0};
}

static void fmt_num(const EngSetting *s, double v, char *out, size_t n) {
    if (s->type == ENG_SETTING_REAL) snprintf(out, n, "%g", v);
    else if (v >= SEED_MAX) snprintf(out, n, "%" PRId64, INT64_MAX);
    else snprintf(out, n, "%.0f", v);
}

void eng_setting_range(const EngSetting *s, char *out, size_t n) {
    char lo[32], hi[32];
    fmt_num(s, s->min, lo, sizeof lo);
    fmt_num(s, s->max, hi, sizeof hi);
    switch (s->type) {
    case ENG_SETTING_SEED: snprintf(out, n, "'random' (or -1) or an integer in [0, %s]", hi); break;
    case ENG_SETTING_TEXT: snprintf(out, n, "a text of %s to %s bytes", lo, hi); break;
    default:
        snprintf(out, n, "%s in %c%s, %s%c", s->type == ENG_SETTING_INT ? "an integer" : "a number",
                 s->min_open ? '(' : '[', lo, hi, s->max_open ? ')' : ']');
    }
}

void eng_setting_format(const EngSetting *s, double v, char *out, size_t n) {
    if (s->type == ENG_SETTING_TEXT) snprintf(out, n, "none");
    else if (s->type == ENG_SETTING_SEED && v < 0) snprintf(out, n, "random");
    else fmt_num(s, v, out, n);
}

static int bad(const EngSetting *s, const char *got, LabErr *e) {
    char range[96];
    eng_setting_range(s, range, sizeof range);
    return lab_err(e, LAB_EINVAL, "%s must be %s, not %s", s->name, range, got);
}

int eng_setting_check(const EngSetting *s, double v, LabErr *e) {
    char got[48];
    snprintf(got, sizeof got, "%.17g", v);
    /* the shortest text that reads back as v: the message shows 1.5, not 1.5000000000000000 */
    for (int p = 1; p <= 17; p++) {
        char t[48];
        snprintf(t, sizeof t, "%.*g", p, v);
        if (strtod(t, NULL) == v || isnan(v)) {
            snprintf(got, sizeof got, "%s", t);
            break;
        }
    }
    if (s->type == ENG_SETTING_TEXT) return bad(s, got, e);
    bool ok = isfinite(v) && (s->min_open ? v > s->min : v >= s->min) && (s->max_open ? v < s->max : v <= s->max);
    if (ok && s->type != ENG_SETTING_REAL) ok = v == floor(v);
    if (s->type == ENG_SETTING_SEED) ok = ok && (v == -1 || v >= 0);
    return ok ? 0 : bad(s, got, e);
}

int eng_setting_parse(const EngSetting *s, const char *text, double *num, int64_t *whole, LabErr *e) {
    char quoted[80];
    snprintf(quoted, sizeof quoted, "'%.60s%s'", text, strlen(text) > 60 ? "..." : "");
    if (s->type == ENG_SETTING_TEXT) {
        size_t len = strlen(text);
        if ((double)len < s->min || (double)len > s->max) return bad(s, quoted, e);
        if (num) *num = (double)len;
        return 0;
    }
    if (s->type == ENG_SETTING_SEED && strcmp(text, "random") == 0) text = "-1";
    char *end;
    errno = 0;
    if (s->type == ENG_SETTING_REAL) {
        double v = strtod(text, &end);
        if (end == text || *end || errno == ERANGE || !isfinite(v)) return bad(s, quoted, e);
        if (eng_setting_check(s, v, e)) return -1;
        if (num) *num = v;
        if (whole) *whole = 0;
        return 0;
    }
    /* INT and SEED: strtoll keeps seeds above 2^53 exact; "1.5" stops at the '.' and is refused */
    long long v = strtoll(text, &end, 10);
    if (end == text || *end) {
        double d = strtod(text, &end); /* a number, but not a whole one: name it as a number */
        if (end != text && !*end && isfinite(d)) return eng_setting_check(s, d, e) ? -1 : bad(s, quoted, e);
        return bad(s, quoted, e);
    }
    if (errno == ERANGE) return bad(s, quoted, e);
    if (eng_setting_check(s, (double)v, e)) return -1;
    if (num) *num = (double)v;
    if (whole) *whole = (int64_t)v;
    return 0;
}

int eng_sampling_check(const EngSampling *s, LabErr *e) {
    double v[ENG_SET_N_STORED] = {
        [ENG_SET_TEMP] = s->temp, [ENG_SET_TOP_K] = s->top_k, [ENG_SET_TOP_P] = s->top_p,
        [ENG_SET_MIN_P] = s->min_p, [ENG_SET_REPEAT_PENALTY] = s->repeat_penalty,
        [ENG_SET_REPEAT_LAST_N] = s->repeat_last_n, [ENG_SET_MAX_TOKENS] = s->max_tokens,
    };
    for (int i = 0; i < ENG_SET_N_STORED; i++)
        if (i != ENG_SET_SEED && eng_setting_check(&TABLE[i], v[i], e)) return -1;
    for (int i = 0; i < s->n_stop; i++) {
        if (!s->stop || !s->stop[i]) return lab_err(e, LAB_EINVAL, "stop string %d is NULL", i);
        if (eng_setting_parse(&TABLE[ENG_SET_STOP], s->stop[i], NULL, NULL, e)) return -1;
    }
    return 0;
}
