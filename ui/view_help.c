/* Help (F1 or ?): every key of every screen, the current screen's first. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "ui_int.h"

static const char *const help_compare[] = {
    "Compare screen",
    "  Enter          send the prompt to both models at once",
    "  Ctrl-J, Alt-Enter  new line in the prompt (pasted text keeps its lines)",
    "  ↑ / ↓          previous / next prompt from the history (or move between lines)",
    "  ← → Home End   move; Ctrl-A / Ctrl-E start / end of line",
    "  Ctrl-K Ctrl-U  delete to the end / start of the line;  Ctrl-W delete the word before",
    "  Ctrl-Y         put back what was deleted",
    "  Esc            stop both answers (what was written is kept and recorded)",
    "  PgUp / PgDn    scroll both answers",
    "Voting (once both answers have ended)",
    "  a or ←         A is better          b or →   B is better",
    "  t              tie                  x        both bad",
    "  1-5            score A, then B (optional)",
    "  g / c          tags / comment (optional)",
    "  u              undo the last rating;  r retries a rating the database refused",
    "  Enter          done: next prompt    Esc      skip the vote",
    "  Every vote is saved the moment you give it. In blind mode the names are shown after it.",
    "",
};
static const char *const help_screens[] = {
    "Everywhere",
    "  F1 or ?        this help            Ctrl-Q, Ctrl-C  quit (ratings are already saved)",
    "  F2             settings             F3  history      F4  stats",
    "  F5             models               F6  back to compare;  Esc or q leaves a screen",
    "Settings (F2)",
    "  ↑ ↓ field,  ← → side (A/B) when per side,  Enter edit or toggle shared/per side,  - + step",
    "History (F3)",
    "  ↑ ↓ j k select,  Enter open and re-rate,  / search (full text),  y copy as Markdown to a",
    "  file (path shown) and to the clipboard through OSC 52,  r reload,  Esc clear the search",
    "Stats (F4)",
    "  ↑ ↓ scroll,  r refresh.  Same numbers as `ablab stats`.",
    "Models (F5)",
    "  a / b load another model into A / B (path: HF folder, .bin, .gguf),  s swap sides",
    "Study",
    "  start screen: type the pseudonym, y to agree to the consent text, n to leave;",
    "  each prompt: vote as above, Enter for the next. Quit any time: it resumes where you were.",
};

static const char *line_at(int i, int *n_total) {
    int a = (int)(sizeof help_compare / sizeof *help_compare), b = (int)(sizeof help_screens / sizeof *help_screens);
    if (n_total) *n_total = a + b;
    if (i < a) return help_compare[i];
    if (i < a + b) return help_screens[i - a];
    return NULL;
}

bool help_key(Ui *ui, const UiKey *k) {
    uint32_t c = k->code == UK_CHAR && !k->alt ? k->ch : 0;
    if (k->code == UK_ESC || c == '?' || c == 'q' || k->code == UK_F1 || k->code == UK_ENTER) { ui->overlay = OV_NONE; return true; }
    if (k->code == UK_DOWN || c == 'j') ui->help_scroll++;
    if (k->code == UK_UP || c == 'k') ui->help_scroll--;
    if (k->code == UK_PGDN || c == ' ') ui->help_scroll += 10;
    if (k->code == UK_PGUP) ui->help_scroll -= 10;
    if (ui->help_scroll < 0) ui->help_scroll = 0;
    return true;
}

void help_draw(Ui *ui, const UiLayout *L) {
    int total;
    line_at(0, &total);
    UiRect box = layout_center(L->full, total + 2, 100);
    UiRect in = d_box(box, "help: keys");
    if (ui->help_scroll > total - in.h) ui->help_scroll = total - in.h > 0 ? total - in.h : 0;
    for (int i = 0; i < in.h; i++) {
        const char *s = line_at(ui->help_scroll + i, NULL);
        if (!s) break;
        d_text(in, i, 0, s, s[0] != ' ' && s[0] ? AT_HEAD_A : AT_NORMAL);
    }
}
