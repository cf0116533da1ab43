/* Prints the settings table as JSON lines for tests/settings/test_settings.py and the tmux test:
 * each row as engine.h holds it, with the texts every surface should show (range, default) and
 * the defaults the engine (eng_sampling_default) and the lab (lab_sampling_default) actually use,
 * so the Python side checks the surfaces against the table instead of a copy of it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "lab.h"

static const char *type_name(EngSettingType t) {
    switch (t) {
    case ENG_SETTING_REAL: return "real";
    case ENG_SETTING_INT: return "int";
    case ENG_SETTING_SEED: return "seed";
    case ENG_SETTING_TEXT: return "text";
    }
    return "?";
}

int main(void) {
    const EngSetting *t = eng_settings_table();
    EngSampling es = eng_sampling_default();
    double eng[ENG_SET_N_STORED] = {es.temp, es.top_k, es.top_p, es.min_p, es.repeat_penalty, es.repeat_last_n,
                                    es.max_tokens, (double)es.seed};
    LabSampling ls = lab_sampling_default();
    for (int i = 0; i < ENG_SET_COUNT; i++) {
        char range[96], def[32], engdef[32] = "", labdef[32] = "";
        eng_setting_range(&t[i], range, sizeof range);
        eng_setting_format(&t[i], t[i].def, def, sizeof def);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:b, s:b, s:f, s:b, s:s, s:s, s:s}",
                              "name", t[i].name, "flag", t[i].flag, "arg", t[i].arg, "label", t[i].label, "type",
                              type_name(t[i].type), "default", t[i].def, "min", t[i].min, "max", t[i].max,
                              "min_open", t[i].min_open, "max_open", t[i].max_open, "step", t[i].step,
                              "per_command", t[i].per_command, "help", t[i].help, "range", range, "default_text", def);
        if (i < ENG_SET_N_STORED) {
            eng_setting_format(&t[i], eng[i], engdef, sizeof engdef);
            lab_sampling_format(&ls, i, labdef, sizeof labdef);
            json_object_set_new(o, "engine_default_text", json_string(engdef));
            json_object_set_new(o, "lab_default_text", json_string(labdef));
            LabSettingInfo in;
            lab_sampling_info(i, &in);
            json_object_set_new(o, "lab_name", json_string(in.name));
            json_object_set_new(o, "lab_range", json_string(in.range));
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(o);
    }
    return 0;
}
