/* The prompt editor: a multi-line UTF-8 buffer fed one key at a time (pure: no curses).
 * Enter submits; Ctrl-J / Alt-Enter and pasted newlines insert a line break. Emacs keys:
 * Ctrl-A/E start/end of line, Ctrl-K/U kill to end/start of line, Ctrl-W kill the word before the
 * cursor, Ctrl-Y yank the last kill, ↑/↓ move between lines or through the history, which is
 * kept in a file between runs. */
#ifndef UI_LINEEDIT_H
#define UI_LINEEDIT_H

#include "base.h"
#include "keys.h"

typedef struct {
    Buf text;               /* always valid UTF-8, NUL-terminated */
    size_t cur;             /* byte offset of the cursor */
    Buf kill;               /* last killed text (Ctrl-Y) */
    char **hist;            /* oldest first; owned */
    size_t n_hist, cap_hist;
    size_t hist_pos;        /* == n_hist when editing a new entry */
    char *draft;            /* what was typed before browsing the history */
    bool pasting;           /* inside a bracketed paste: Enter inserts a line break */
    size_t max_hist;        /* entries kept (oldest dropped) */
} LineEdit;

typedef enum { LE_IGNORED = 0, LE_CHANGED = 1, LE_SUBMIT = 2 } LeResult;

void le_init(LineEdit *le);
void le_free(LineEdit *le);
/* Feeds one key. LE_SUBMIT: the text is complete (the caller takes it with le_take). */
LeResult le_key(LineEdit *le, const UiKey *k);
/* Inserts text at the cursor (paste); control characters other than '\n' are dropped. */
int  le_insert(LineEdit *le, const char *s, size_t n);
/* Returns the text (caller frees), adds it to the history (unless empty or equal to the last
 * entry) and clears the buffer. NULL on ENOMEM. */
char *le_take(LineEdit *le);
void le_set(LineEdit *le, const char *s);    /* replaces the text, cursor at the end */
void le_clear(LineEdit *le);

/* History file: one entry a line, "\\n" and "\\\\" escaped. A missing file is an empty history. */
int  le_history_load(LineEdit *le, const char *path, LabErr *e);
int  le_history_save(const LineEdit *le, const char *path, LabErr *e);
int  le_history_add(LineEdit *le, const char *s);

#endif
