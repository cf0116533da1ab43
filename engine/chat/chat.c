/* A model's chat setup: its template and special tokens from chat_template.jinja or
 * tokenizer_config.json (see chat.h). */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define CHAT_MAX_CONFIG (64u << 20)   /* tokenizer_config.json can carry big added-token tables */

static const char *const SPECIAL_KEYS[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
#define N_SPECIAL_KEYS (sizeof SPECIAL_KEYS / sizeof SPECIAL_KEYS[0])

void chat_setup_free(ChatSetup *s) {
    if (!s) return;
    chat_template_free(s->tmpl);
    free(s->source);
    for (int i = 0; i < s->n_special; i++) { free(s->special_names[i]); free(s->special_values[i]); }
    free(s->special_names);
    free(s->special_values);
    memset(s, 0, sizeof *s);
}

const char *chat_setup_special(const ChatSetup *s, const char *name) {
    for (int i = 0; i < s->n_special; i++) if (strcmp(s->special_names[i], name) == 0) return s->special_values[i];
    return NULL;
}

/* Special tokens: a string, or an AddedToken object {"content": ...}. */
static int read_specials(ChatSetup *s, json_t *cfg, const char *path, LabErr *e) {
    s->special_names = calloc(N_SPECIAL_KEYS, sizeof *s->special_names);
    s->special_values = calloc(N_SPECIAL_KEYS, sizeof *s->special_values);
    if (!s->special_names || !s->special_values) return lab_err(e, LAB_ENOMEM, "out of memory");
    for (size_t i = 0; i < N_SPECIAL_KEYS; i++) {
        json_t *v = json_object_get(cfg, SPECIAL_KEYS[i]);
        if (!v || json_is_null(v)) continue;
        if (json_is_object(v)) v = json_object_get(v, "content");
        if (!json_is_string(v)) return lab_err(e, LAB_EFORMAT, "%s: %s is neither a string nor an object with a \"content\" string", path, SPECIAL_KEYS[i]);
        s->special_names[s->n_special] = strdup(SPECIAL_KEYS[i]);
        s->special_values[s->n_special] = strdup(json_string_value(v));
        s->n_special++;
        if (!s->special_names[s->n_special - 1] || !s->special_values[s->n_special - 1]) return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    return 0;
}

static int load_template(ChatSetup *s, const char *src, size_t len, const char *path, LabErr *e) {
    s->source = strdup(path);
    if (!s->source) return lab_err(e, LAB_ENOMEM, "out of memory");
    char name[1200];
    snprintf(name, sizeof name, "%s: chat_template", path);
    return chat_template_load(&s->tmpl, src, len, name, e);
}

/* The template text in a parsed tokenizer_config.json: a string, or a list of {name, template}
 * where "default" is the one apply_chat_template uses. NULL when there is none. */
static json_t *config_template(json_t *cfg, const char *path, LabErr *e, int *err) {
    *err = 0;
    json_t *t = json_object_get(cfg, "chat_template");
    if (!t || json_is_null(t)) return NULL;
    if (json_is_string(t)) return t;
    if (json_is_array(t)) {
        size_t i; json_t *x;
        json_array_foreach(t, i, x) {
            json_t *nm = json_object_get(x, "name"), *tt = json_object_get(x, "template");
            if (json_is_string(nm) && strcmp(json_string_value(nm), "default") == 0 && json_is_string(tt)) return tt;
        }
        *err = lab_err(e, LAB_EUNSUPPORTED, "%s: chat_template is a list without a \"default\" entry", path);
        return NULL;
    }
    *err = lab_err(e, LAB_EFORMAT, "%s: chat_template is neither a string nor a list of named templates", path);
    return NULL;
}

static int load_config(ChatSetup *s, const char *path, bool need_template, const char *jinja_path, LabErr *e) {
    char *text = NULL; size_t len = 0;
    json_t *cfg = NULL;
    int rc = -1;
    if (file_read_all(path, CHAT_MAX_CONFIG, &text, &len, e)) goto done;
    json_error_t je;
    cfg = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &je);  /* model_max_length is often 1e30 */
    if (!cfg) { lab_err(e, LAB_EFORMAT, "%s: not JSON (line %d column %d: %s)", path, je.line, je.column, je.text); goto done; }
    if (!json_is_object(cfg)) { lab_err(e, LAB_EFORMAT, "%s: expected a JSON object", path); goto done; }
    if (read_specials(s, cfg, path, e)) goto done;
    if (jinja_path) { rc = 0; goto done; }  /* the template comes from chat_template.jinja */
    int terr;
    json_t *t = config_template(cfg, path, e, &terr);
    if (terr) goto done;
    if (!t) {
        if (need_template) { lab_err(e, LAB_ENOTFOUND, "%s: no chat_template in it", path); goto done; }
        rc = 0;
        goto done;
    }
    rc = load_template(s, json_string_value(t), json_string_length(t), path, e);
done:
    json_decref(cfg);
    free(text);
    if (rc) chat_setup_free(s);
    return rc;
}

int chat_setup_load_text(ChatSetup *s, const char *src, size_t len, const char *source,
                         const char *const *names, const char *const *values, int n, LabErr *e) {
    memset(s, 0, sizeof *s);
    if (n > 0) {
        s->special_names = calloc((size_t)n, sizeof *s->special_names);
        s->special_values = calloc((size_t)n, sizeof *s->special_values);
        if (!s->special_names || !s->special_values) goto nomem;
        for (int i = 0; i < n; i++) {
            s->special_names[s->n_special] = strdup(names[i]);
            s->special_values[s->n_special] = strdup(values[i]);
            s->n_special++;
            if (!s->special_names[i] || !s->special_values[i]) goto nomem;
        }
    }
    if (load_template(s, src, len, source, e)) {
        chat_setup_free(s);
        return -1;
    }
    return 0;
nomem:
    chat_setup_free(s);
    return lab_err(e, LAB_ENOMEM, "out of memory");
}

int chat_setup_load_config(ChatSetup *s, const char *path, LabErr *e) {
    memset(s, 0, sizeof *s);
    return load_config(s, path, true, NULL, e);
}

int chat_setup_load_dir(ChatSetup *s, const char *dir, LabErr *e) {
    memset(s, 0, sizeof *s);
    char *cfg = path_join(dir, "tokenizer_config.json"), *jin = path_join(dir, "chat_template.jinja");
    int rc = -1;
    if (!cfg || !jin) { lab_err(e, LAB_ENOMEM, "out of memory"); goto done; }
    bool has_jinja = file_exists(jin) == 1;
    if (file_exists(cfg) == 1) {
        if (load_config(s, cfg, false, has_jinja ? jin : NULL, e)) goto done;
    }
    if (has_jinja) {
        char *text = NULL; size_t len = 0;
        if (file_read_all(jin, 1u << 20, &text, &len, e)) { chat_setup_free(s); goto done; }
        rc = load_template(s, text, len, jin, e);
        free(text);
        if (rc) { chat_setup_free(s); goto done; }
    }
    rc = 0;
done:
    free(cfg);
    free(jin);
    return rc;
}

int chat_setup_render(const ChatSetup *s, const ChatMsg *msgs, int n, bool add_generation_prompt,
                      const char *const *var_names, const char *const *var_json, int n_vars, Buf *out, LabErr *e) {
    if (!s->tmpl) return lab_err(e, LAB_EINVAL, "this model has no chat template");
    ChatRenderArgs a = {
        .msgs = msgs, .n_msgs = n, .add_generation_prompt = add_generation_prompt,
        .special_names = (const char *const *)s->special_names, .special_values = (const char *const *)s->special_values,
        .n_special = s->n_special, .var_names = var_names, .var_json = var_json, .n_vars = n_vars,
    };
    return chat_template_render(s->tmpl, &a, out, e);
}
