/* Chat templates: the Jinja2 subset that real checkpoints' `chat_template`s use, rendered byte for
 * byte as transformers' apply_chat_template does (ImmutableSandboxedEnvironment with trim_blocks and
 * lstrip_blocks, one trailing newline of the source dropped, transformers' own tojson,
 * raise_exception and strftime_now, Jinja's default Undefined).
 *
 * A template is untrusted input. Loading parses all of it and refuses, with the construct and its
 * line, anything outside the subset (an unknown statement, filter, test, method or function), so a
 * template is never rendered half-understood. Rendering is bounded: output size, loop iterations,
 * macro recursion and memory; crossing a bound is an error naming it.
 *
 * Knows text only: no models, weights, kernels or file formats beyond tokenizer_config.json. */
#ifndef ABLAB_CHAT_H
#define ABLAB_CHAT_H

#include "base.h"

typedef struct ChatTemplate ChatTemplate;

/* Parses a template. name is used in messages ("tokenizer_config.json: chat_template line 3: ...").
 * Returns 0, or -1 with e filled (LAB_EUNSUPPORTED for a construct outside the subset, LAB_EFORMAT
 * for a syntax error). *out is freed by chat_template_free. src need not outlive the template. */
int  chat_template_load(ChatTemplate **out, const char *src, size_t len, const char *name, LabErr *e);
void chat_template_free(ChatTemplate *t);                     /* NULL-safe */
const char *chat_template_source(const ChatTemplate *t);       /* as given; lives as long as t */

/* One message of a conversation (role and content as text). */
typedef struct ChatMsg { const char *role, *content; } ChatMsg;

/* What a render takes. Messages come either as structs (msgs/n_msgs) or as a JSON array of objects
 * (messages_json: any fields, e.g. reasoning_content); exactly one of the two. Special tokens are
 * variables (bos_token, eos_token, ...; NULL = not passed). vars are extra variables, each a name
 * and a JSON value text (enable_thinking=false is {"enable_thinking", "false"}). As transformers,
 * `tools` and `documents` are passed as none unless a var gives them. */
typedef struct {
    const ChatMsg *msgs; int n_msgs;
    const char *messages_json;
    bool add_generation_prompt;
    const char *const *special_names, *const *special_values; int n_special;
    const char *const *var_names, *const *var_json; int n_vars;
} ChatRenderArgs;

/* Renders into out (appended). Returns 0; or -1 with e filled: LAB_EINVAL for bad arguments,
 * LAB_EFORMAT when the template raises (raise_exception: the message is the template's own, prefixed
 * "template raised: ") or fails at run time (with its line), LAB_ERANGE when a bound is crossed.
 * On error out holds whatever was appended (callers discard it). Thread-safe for one template. */
int  chat_template_render(const ChatTemplate *t, const ChatRenderArgs *a, Buf *out, LabErr *e);

/* A model's chat setup, read from a folder (chat_template.jinja, else tokenizer_config.json's
 * chat_template; a list of named templates picks "default") or from one tokenizer_config.json.
 * Special tokens are those tokenizer_config.json names (bos_token, eos_token, unk_token, pad_token,
 * ...: a string or an {"content": ...} object). */
typedef struct ChatSetup {
    ChatTemplate *tmpl;              /* NULL: the model has no chat template */
    char *source;                    /* the file the template came from */
    int n_special;
    char **special_names, **special_values;
} ChatSetup;

/* Reads dir's chat setup. A folder without any template is not an error: tmpl stays NULL. A
 * template that fails to load is an error naming the file. */
int  chat_setup_load_dir(ChatSetup *s, const char *dir, LabErr *e);
/* A template carried inside a weights file (GGUF's tokenizer.chat_template), with the special tokens
 * the file names (names[i] = values[i], e.g. "bos_token" = "<s>"). source names the file in messages. */
int  chat_setup_load_text(ChatSetup *s, const char *src, size_t len, const char *source,
                          const char *const *names, const char *const *values, int n, LabErr *e);
/* Reads one tokenizer_config.json; no chat_template in it is an error. */
int  chat_setup_load_config(ChatSetup *s, const char *path, LabErr *e);
void chat_setup_free(ChatSetup *s);                            /* NULL-safe; leaves s zeroed */
/* A special token's text, NULL if the config has none of that name. */
const char *chat_setup_special(const ChatSetup *s, const char *name);
/* Renders msgs with the setup's special tokens and vars (ChatRenderArgs' meaning). */
int  chat_setup_render(const ChatSetup *s, const ChatMsg *msgs, int n, bool add_generation_prompt,
                       const char *const *var_names, const char *const *var_json, int n_vars, Buf *out, LabErr *e);

#endif
