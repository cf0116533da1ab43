/* Private to ui/: the state every screen reads and the functions they share.
 * Key handlers change state and return; draw functions only read it; the loop in app.c waits for
 * a key with a short timeout, drains the event queue, handles KEY_RESIZE in one place, dispatches
 * the key and redraws. */
#ifndef UI_INT_H
#define UI_INT_H

#include <stdbool.h>

#include "evq.h"
#include "keys.h"
#include "lab.h"
#include "layout.h"
#include "lineedit.h"
#include "text.h"
#include "ui.h"

/* ---------- screen.c: terminal setup, signals, input, colours ---------- */
typedef enum {
    AT_NORMAL, AT_TITLE, AT_STATUS, AT_KEY, AT_HEAD_A, AT_HEAD_B, AT_DIM, AT_ERR, AT_OK, AT_SEL,
    AT_BAR_A, AT_BAR_B, AT_BAR_CI, AT_NATTR
} UiAttr;

int  scr_check_terminal(LabErr *e);          /* stdout/stdin a TTY, TERM usable */
/* setlocale(LC_ALL, ""); when its codeset is not UTF-8, LC_CTYPE switches to an installed UTF-8
 * locale (C.UTF-8 first): curses then reads typed text as UTF-8 and draws lines. -1 with a one-line
 * message naming the locale to set when there is none (typed bytes would be lost). */
int  scr_locale(LabErr *e);
void scr_install_signals(void);              /* before initscr: SIGINT/TERM/HUP set a flag */
int  scr_signal(void);                       /* the signal that asked us to quit, or 0 */
int  scr_open(LabErr *e);                    /* curses on, colours unless NO_COLOR */
void scr_close(void);                        /* restores the terminal; idempotent */
bool scr_is_open(void);
/* Waits up to timeout_ms for a key. Returns false on timeout (or an interrupting signal). */
bool scr_read_key(UiKey *k, int timeout_ms);
int  scr_attr(UiAttr a);
void scr_osc52(const char *text, size_t n);  /* puts text on the terminal's clipboard */

/* ---------- draw.c: helpers that clip to a rectangle ---------- */
void d_fill(UiRect r, UiAttr a);
/* Draws s (sanitized UTF-8) on row `row` of r from column `col`, clipped at r's right edge;
 * returns the columns used. */
int  d_text(UiRect r, int row, int col, const char *s, UiAttr a);
int  d_textn(UiRect r, int row, int col, const char *s, size_t n, UiAttr a);
int  d_printf(UiRect r, int row, int col, UiAttr a, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A box with a title, returns the inside. */
UiRect d_box(UiRect r, const char *title);
/* Horizontal bar of `w` cells for value v in [0,1] and an interval [lo, hi] drawn as brackets. */
void d_bar(int y, int x, int w, double v, double lo, double hi, UiAttr a);
/* "1.2 MiB" */
void fmt_bytes(char *out, size_t n, double bytes);
/* Status line: pairs of "key", "what" drawn as [key] what. */
void d_status(UiRect r, const char *const *kv, int n);

/* ---------- state ---------- */
typedef enum { SCR_COMPARE, SCR_HISTORY, SCR_STATS, SCR_MODELS, SCR_STUDY_START, SCR_STUDY_DONE } UiScreen;
typedef enum { OV_NONE, OV_HELP, OV_SETTINGS, OV_INPUT } UiOverlay;
/* The compare screen's phase. */
typedef enum {
    PH_EDIT,       /* typing a prompt */
    PH_RUN,        /* both answers streaming */
    PH_RATE,       /* both ended: waiting for a vote */
    PH_RATED,      /* voted: optional scores, tags, comment, undo */
} UiPhase;

typedef struct {
    Buf text;                 /* sanitized output */
    TextSanitizer san;
    int scroll;               /* first wrapped line shown */
    bool follow;              /* keep the end in view while streaming */
    LabMetrics m;
    bool running, done, have_metrics;
    char err[1024];
} UiPane;

typedef struct Ui Ui;
/* A one-line text input in an overlay (pseudonym, tags, comment, a model path, a setting). */
typedef void (*UiInputDone)(Ui *ui, const char *text);   /* NULL text: cancelled */

struct Ui {
    const UiOptions *opt;
    Lab *lab;
    EvQueue q;
    UiScreen screen, back_screen;
    UiOverlay overlay;
    int help_scroll;
    bool quit, dirty;
    bool study;               /* running a study (ui_run_study) */

    /* compare */
    UiPhase phase;
    UiPane pane[2];
    LineEdit ed;
    char *prompt;             /* the prompt being answered / shown */
    int64_t pair_id;
    bool ratable, blind_pair; /* names hidden until the vote */
    bool stopped;             /* Esc pressed during this ask */
    double done_ms;           /* when both answers ended (time to decide) */
    LabChoice choice;
    LabRateOpts rate;         /* scores / tags / comment of the current vote */
    char tags[256], comment[1024];
    LabRateResult rated;      /* what the last vote revealed */
    int score_side;           /* next 1-5 key scores this side */
    char flash[512];          /* one-line message in the status area */
    float key_ms[2048];       /* key read -> screen refreshed, for the log at exit */
    int n_key_ms;
    bool flash_err;
    double flash_ms;

    /* input overlay */
    char input_title[128];
    LineEdit input;
    UiInputDone input_done;

    /* settings overlay */
    LabSettings set;
    int set_row, set_col;

    /* history */
    char search[256];
    struct UiHistRow *hist;
    size_t n_hist;
    int hist_sel, hist_top;

    /* stats */
    LabStats stats;
    bool have_stats;
    int stats_scroll;

    /* models */
    LabModelInfo minfo[2];    /* cached: the lab is not asked while a swap runs on a worker */
    bool loading;             /* a swap runs on a worker thread */
    int load_slot;
    double load_frac;
    pthread_t load_thread;
    char *load_path;

    /* study */
    LabSessionInfo sess;
    LabStudyItem item;
    bool have_item;
    char participant[LAB_NAME_MAX];
    bool consent;
    LabStrList prompts;
    char *study_text[2];      /* instructions, consent (from assets/study/) */
};

typedef struct UiHistRow {
    int64_t pair_id;
    char when[32], session[64], choice[16], names[2][64];
    char *prompt;
    bool blind;
    int n_ratings;
} UiHistRow;

/* app.c */
void ui_flash(Ui *ui, bool err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ui_input_open(Ui *ui, const char *title, const char *initial, UiInputDone done);
const char *ui_side_name(const Ui *ui, int side, char *buf, size_t n);  /* pane title */
/* Screens: key handlers return true when they used the key. */
void compare_draw(Ui *ui, const UiLayout *L);
bool compare_key(Ui *ui, const UiKey *k);
void compare_event(Ui *ui, const Ev *ev);
int  compare_ask(Ui *ui, const char *text, int64_t prompt_id);
void compare_show_pair(Ui *ui, int64_t pair_id);       /* load a stored pair into the panes */
void compare_reset(Ui *ui);
void compare_status(Ui *ui, UiRect r);
void settings_open(Ui *ui);
void settings_draw(Ui *ui, const UiLayout *L);
bool settings_key(Ui *ui, const UiKey *k);
void history_open(Ui *ui);
void history_draw(Ui *ui, const UiLayout *L);
bool history_key(Ui *ui, const UiKey *k);
void history_free(Ui *ui);
void stats_open(Ui *ui);
void stats_draw(Ui *ui, const UiLayout *L);
bool stats_key(Ui *ui, const UiKey *k);
void models_draw(Ui *ui, const UiLayout *L);
bool models_key(Ui *ui, const UiKey *k);
void models_event(Ui *ui, const Ev *ev);
void models_refresh(Ui *ui);
void help_draw(Ui *ui, const UiLayout *L);
bool help_key(Ui *ui, const UiKey *k);
int  study_begin(Ui *ui, LabErr *e);
void study_draw(Ui *ui, const UiLayout *L);
bool study_key(Ui *ui, const UiKey *k);
void study_next(Ui *ui);                                /* after a vote: the next prompt */

#endif
