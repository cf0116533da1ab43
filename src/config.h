/* ablab configuration: defaults < config file < environment < command line.
 * Every key can be set on the command line; `ablab config` prints the effective values and where
 * each came from. */
#ifndef ABLAB_CONFIG_H
#define ABLAB_CONFIG_H

#include "base.h"
#include "lab.h"

typedef enum { CFG_DEFAULT, CFG_FILE, CFG_ENV, CFG_FLAG } CfgSource;

/* The [sampling] keys are the rows of the settings table (engine.h, through lab.h's
 * lab_sampling_*), in its order: CFG_SAMPLING + i is row i. */
typedef enum {
    CFG_MODEL_A, CFG_MODEL_B, CFG_DB, CFG_THREADS, CFG_CTX,
    CFG_SAMPLING,
    CFG_SAMPLING_END = CFG_SAMPLING + LAB_SAMPLING_N,
    CFG_BLIND = CFG_SAMPLING_END, CFG_MMAP, CFG_PACING,
    CFG_NKEYS
} CfgKey;

typedef struct {
    char *model_a, *model_b, *db;
    int threads;            /* total for the lab, split between the two engines */
    int ctx;
    LabSampling sampling;   /* seed -1 = a fresh random seed per response (stored with it) */
    bool blind;
    bool mmap;              /* read weights in place from the model files instead of copying them */
    LabPacing pacing;       /* blind mode: how the two answers appear while they are written */
    CfgSource src[CFG_NKEYS];
    char *src_detail[CFG_NKEYS]; /* "FILE:LINE", the variable's or the flag's name behind the value */
    /* where things live */
    char *config_path, *data_dir, *state_dir, *log_path, *assets_dir;
    bool config_file_found;
} AppConfig;

typedef struct {
    const char *name;       /* key in config.ini ([section] name) */
    const char *section;
    const char *flag;       /* long option on the command line */
    const char *env;        /* environment variable or NULL (sampling keys: ABLAB_ + the name in capitals) */
    const char *help;
} CfgKeyInfo;

/* Keys that are switches on the command line (--blind, --mmap: no value). */
bool cfg_key_is_switch(CfgKey k);

const CfgKeyInfo *cfg_key_info(CfgKey k);

/* Fills defaults, reads the config file (ABLAB_CONFIG or $XDG_CONFIG_HOME/ablab/config.ini, missing
 * is fine) and the environment. Errors name the file, line and key. */
int  cfg_load(AppConfig *c, LabErr *e);
/* Sets one key from text (a flag's argument); errors start with detail (where the text came from:
 * "config.ini:3", "--top-p", "ABLAB_TOP_P") and name the key, the valid range and the value. */
int  cfg_set(AppConfig *c, CfgKey k, const char *value, CfgSource src, const char *detail, LabErr *e);
/* The key whose long flag is `flag` (without dashes), or -1. */
int  cfg_key_by_flag(const char *flag);
/* Writes the value of k as text. */
void cfg_format(const AppConfig *c, CfgKey k, char *out, size_t n);
void cfg_free(AppConfig *c);
/* Reads a study file: [study] name, prompts (a path relative to the file), blind, pacing;
 * [sampling] the settings table's keys. Its protocol keys replace the configuration's; one that a
 * command-line flag set to another value is an error naming both. *name (NULL if absent) and
 * *prompts are malloc'd. Errors name the file and line. */
int  cfg_load_study_file(AppConfig *c, const char *path, char **name, char **prompts, LabErr *e);
const char *cfg_source_name(CfgSource s);

#endif
