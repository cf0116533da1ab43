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
/* The screens, and the overlays drawn over them. ui_goto is the one way to change either. */
typedef enum {
    SCR_NONE,            /* no overlay */
    SCR_COMPARE, SCR_HISTORY, SCR_STATS, SCR_SCALE, SCR_MODELS, SCR_STUDY_START, SCR_STUDY_DONE,
    SCR_SETTINGS, SCR_HELP, SCR_INPUT,   /* overlays */
    SCR_N
} UiScreen;
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
    Buf held;                 /* pacing together: what the model wrote, not shown until both are done */
    double shown_ms;          /* when the whole answer was on screen (0: not yet) */
} UiPane;

typedef struct Ui Ui;
/* A one-line text input in an overlay (pseudonym, tags, comment, a model path, a setting). */
typedef void (*UiInputDone)(Ui *ui, const char *text);   /* NULL text: cancelled */

struct Ui {
    const UiOptions *opt;
    Lab *lab;
    EvQueue q;
    UiScreen screen;          /* the screen shown (never an overlay) */
    UiScreen overlay;         /* the overlay over it, or SCR_NONE */
    int help_scroll;
    bool quit, dirty;
    bool study;               /* running a study (ui_run_study) */

    /* compare */
    UiPhase phase;
    UiPane pane[2];
    LineEdit ed;
    char *prompt;             /* the prompt being answered / shown */
    int64_t pair_id;
    bool ratable, blind_pair; /* names, sizes, speed, token counts, stop reasons hidden until the vote */
    bool hold;                /* this pair's pacing is together: both panes stay empty until both end */
    LabPacing pacing;         /* of the pair being asked */
    bool shown_logged;        /* compare_shown has logged this pair's reveal */
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

    /* chat: each new prompt is the next user turn of the conversation (each arm keeps its own
     * history) instead of a prompt of its own; set in the settings, Ctrl-N starts over */
    bool multi_turn;

    /* history */
    char search[256];
    struct UiHistRow *hist;
    size_t n_hist;
    int hist_sel, hist_top;

    /* stats */
    LabStats stats;
    bool have_stats;
    int stats_scroll;

    /* scale (from stats: s) */
    LabScaleRows scale_rows;  /* the newest measurement of each model */
    bool have_scale;
    int scale_scroll;
    bool scale_measuring;     /* "measure now" runs on scale_thread */
    pthread_t scale_thread;
    int scale_cancel;         /* set by Esc (atomically); the lab stops at its next window or run */
    char scale_stage[160];    /* the progress line: model · stage */
    double scale_frac;
    char scale_corpus[1024];  /* the corpus last measured on (the prompt's initial text) */

    /* models */
    LabModelInfo minfo[2];    /* cached: the lab is not asked while a swap runs on a worker */
    bool loading;             /* a swap runs on a worker thread */
    int load_slot;
    double load_frac;
    pthread_t load_thread;
    char *load_path;
    LabPulledList pulled;     /* models `ablab pull` finished (opt->models_dir), rescanned on opening */
    int pulled_sel;

    /* study */
    LabStudy protocol;        /* the study's recorded protocol */
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

/* ---------- keys.c: one table per screen ---------- */
/* Modes a key can depend on, in three groups: the compare screen's phase, lab or study, and a
 * rating waiting to be retried. A key applies when, in each group where its `when` names a
 * mode, the current mode is one of them (a group it leaves at 0 does not matter). */
enum {
    UI_IN_EDIT = 1u << 0, UI_IN_RUN = 1u << 1, UI_IN_RATE = 1u << 2, UI_IN_RATED = 1u << 3,
    UI_IN_PHASES = 0xfu,
    UI_IN_LAB = 1u << 4, UI_IN_STUDY = 1u << 5,
    UI_IN_WHO = 0x30u,
    UI_IN_PENDING = 1u << 6,
};
enum { UI_KEY_MAX = 8 };

/* One key of a screen: what it is written as, its word on the status line, its line in the help
 * screen and the keys reference, where it applies, and the keys it stands for. The handler finds
 * keys through the table (ui_key_find) so each key is written here and nowhere else.
 * A row with key NULL is a heading in the help screen. */
typedef struct {
    const char *key;          /* as people read it: "a/←", "Ctrl-J, Alt-Enter" */
    const char *label;        /* its word on the status line; NULL: not shown there */
    const char *help;         /* the help screen's text for it */
    unsigned when;            /* UI_IN_* where it works; 0: always */
    unsigned show;            /* UI_IN_* where the label is shown; 0: wherever it works */
    bool title;               /* everywhere-keys only: shown in the title bar, not the status line */
    UiKey keys[UI_KEY_MAX];   /* the keys it stands for (code 0 ends); for a class, examples */
} UiKeyDef;

/* A screen (htop's panels): its name, what it does on ui_goto, how it draws, its key handler,
 * and its key table, from which the status line and the help screen are generated. */
typedef struct {
    const char *name;         /* the title bar: "ablab · NAME" */
    const char *title;        /* heading in the help screen and the keys reference */
    bool overlay;             /* drawn over the screen beneath; takes every key */
    unsigned who;             /* UI_IN_LAB / UI_IN_STUDY: where it can be reached; 0: both */
    void (*open)(Ui *ui);     /* on ui_goto: load what it shows (NULL: nothing) */
    /* before drawing: clamps scroll positions to what fits in L (NULL: nothing to clamp) */
    void (*fit)(Ui *ui, const UiLayout *L);
    void (*draw)(const Ui *ui, const UiLayout *L);   /* reads state only */
    bool (*key)(Ui *ui, const UiKey *k);             /* true when the key was used */
    /* the status line's source: which of its keys apply now (UI_IN_PHASES, UI_IN_PENDING);
     * NULL: only lab or study matters */
    unsigned (*mode)(const Ui *ui);
    const UiKeyDef *keys;
    int n_keys;
} UiScreenDef;

#define UI_KEYS(tab) (tab), (int)(sizeof(tab) / sizeof *(tab))
#define K_CH(c) {UK_CHAR, (c), false}
#define K_CTRL(c) {UK_CTRL, (c), false}
#define K_(code) {(code), 0, false}

const UiScreenDef *ui_screen_def(UiScreen s);       /* NULL for SCR_NONE or out of range */
extern const UiScreenDef ui_everywhere;             /* keys every screen shares (app.c) */
/* The mode of screen s (lab or study, plus what s's mode() says). */
unsigned ui_mode(const Ui *ui, UiScreen s);
bool ui_key_applies(const UiKeyDef *d, unsigned mode);
bool ui_key_is(const UiKeyDef *d, const UiKey *k);
/* The index in d->keys of the first entry that applies in mode and stands for k, or -1. */
int  ui_key_find(const UiScreenDef *d, unsigned mode, const UiKey *k);
/* The status line for what is shown now: the keys of the overlay, or of the screen followed by
 * the everywhere-keys that are not in the title bar. Fills up to max entries; returns how many. */
int  ui_status_keys(const Ui *ui, const UiKeyDef **out, int max);
/* "KEY label" of d's keys ids[0..n), joined by sep, into buf (for hints drawn on a screen). */
void ui_keys_hint(const UiScreenDef *d, const int *ids, int n, const char *sep, char *buf, size_t cap);
/* The title bar's keys (F1 help  F2 settings …) into buf. */
void ui_title_keys(const Ui *ui, char *buf, size_t n);
enum { UI_HELP_WIDTH = 96 };   /* the help screen's text (the inside of its box at its widest) */
/* The help screen's text, lines wrapped at width: the current screen's keys first, then the
 * everywhere-keys, then the other screens that can be reached (lab or study). A line not
 * starting with a space is a heading. Returns 0, or -1 out of memory. */
int  ui_help_text(const Ui *ui, int width, Buf *out);

/* ---------- app.c ---------- */
/* Changes the screen, or opens an overlay over it: the only way either changes. Runs the
 * screen's open (history and stats load from the lab there). */
void ui_goto(Ui *ui, UiScreen s);
void ui_overlay_close(Ui *ui);
/* One key through the overlay, the everywhere-keys and the screen. Returns true when used. */
bool ui_dispatch(Ui *ui, const UiKey *k);
void ui_flash(Ui *ui, bool err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ui_input_open(Ui *ui, const char *title, const char *initial, UiInputDone done);
const char *ui_side_name(const Ui *ui, int side, char *buf, size_t n);  /* pane title */

/* The screens (view_*.c, app.c for the input overlay) */
extern const UiScreenDef screen_compare, screen_history, screen_stats, screen_scale, screen_models, screen_study_start,
    screen_study_done, screen_settings, screen_help, screen_input;
void compare_event(Ui *ui, const Ev *ev);
int  compare_ask(Ui *ui, const char *text, int64_t prompt_id);
void compare_show_pair(Ui *ui, int64_t pair_id);       /* load a stored pair into the panes */
void compare_reset(Ui *ui);
/* After a frame is on screen: stamps when each pane's whole answer was shown, and logs how far
 * apart the two were (the pacing's check). */
void compare_shown(Ui *ui);
void history_free(Ui *ui);
void scale_free(Ui *ui);
void scale_event(Ui *ui, const Ev *ev);
void scale_stop(Ui *ui);                               /* cancels and joins a measurement (at exit) */
void models_event(Ui *ui, const Ev *ev);
void models_refresh(Ui *ui);
int  study_begin(Ui *ui, LabErr *e);
void study_next(Ui *ui);                                /* after a vote: the next prompt */

#endif
