/* ablab's interactive lab: an ncurses UI on the application layer (lab.h). Two answers stream
 * side by side, get rated, and the study, history, stats, models and settings screens sit around
 * them. Only main.c exits; these functions return. */
#ifndef ABLAB_UI_H
#define ABLAB_UI_H

#include "base.h"
#include "lab.h"

typedef struct {
    const char *model_path[2];  /* A and B (--a, --b) */
    const char *db_path;
    int threads, ctx;
    LabSampling sampling;
    bool blind;                 /* ad-hoc prompts in blind mode */
    LabPacing pacing;           /* how blind answers appear (a study's own pacing wins) */
    bool mmap;                  /* engines read weights in place from the files */
    const char *tokenizer[2];   /* per slot: a tokenizer file instead of the one beside the weights */
    const char *quant[2];       /* per slot: convert the weights at load (NULL = as stored) */
    LabChatMode chat[2];        /* per slot: raw, chat or auto (lab.h) */
    const char *system_prompt;  /* NULL = none */
    const char *const *lora[2]; /* per slot: LoRA adapters "PATH[:SCALE]" (n_lora[k] of them) */
    int n_lora[2];
    bool restore_settings;      /* start from the settings last saved in the overlay (F2) */
    const char *history_path;   /* prompt editor history file (NULL = not kept between runs) */
    const char *assets_dir;     /* study/instructions.txt, study/consent.txt */
    const char *copy_dir;       /* where "copy" writes pairs as Markdown files */
    const char *models_dir;     /* where `ablab pull` puts models: listed on the models screen (NULL: none) */
    /* study mode (ui_run_study) */
    const char *prompts_path;   /* the prompt set */
    const char *participant;    /* pseudonym; NULL = asked on the start screen */
    const char *study_name;     /* the study (NULL = the prompt set's file name); created from
                                   sampling, blind and pacing above if it is not in the record yet */
    bool study_strict;          /* sampling, blind or pacing were given as flags: a recorded study
                                   with other values is refused instead of followed */
    const char *study_source;   /* where a new study's protocol comes from, in words */
    LabStrList *problems;       /* filled with every prompt that cannot be asked when the set is
                                   refused before the study starts (NULL: not wanted) */
} UiOptions;

/* Runs the lab until the user quits. Returns 0 after a normal quit, the signal number after
 * SIGINT/SIGTERM/SIGHUP (the terminal is restored and every rating given is already committed),
 * or -1 with e filled: no terminal (stdout/stdin not a TTY: the message points to `ablab run`),
 * TERM=dumb, a model or the database that would not open. */
int ui_run_lab(const UiOptions *o, LabErr *e);
/* Runs a user-testing session on o->prompts_path under its study's recorded protocol: the whole
 * set is checked against both models first (refused with o->problems filled), then the start
 * screen (instructions, consent, the protocol, pseudonym), the prompts in a balanced order with
 * balanced sides, progress, thank-you; resumes where the same participant stopped. Same returns
 * as ui_run_lab. */
int ui_run_study(const UiOptions *o, LabErr *e);
/* Every key of the lab, screen by screen, generated from the screens' key tables (the same text
 * the help screen shows): a Markdown table per screen, or plain text. Replaces out's contents;
 * returns 0, or -1 out of memory. Needs no terminal. */
int ui_keys_reference(bool markdown, Buf *out);

#endif
