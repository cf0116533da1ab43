/* The settings overlay: sampling (shared or per side) and threads. Every change is applied through
 * lab_settings_set at once (validated there, stored with each response and kept for next time). */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

enum { ROW_MODE, ROW_TEMP, ROW_TOPK, ROW_TOPP, ROW_MINP, ROW_REPEAT, ROW_MAX, ROW_SEED, ROW_THREADS, N_ROWS };
static const char *const row_name[N_ROWS] = {"settings for", "temperature", "top-k", "top-p", "min-p",
                                             "repeat penalty", "max tokens", "seed (-1 random)", "threads (total)"};

void settings_open(Ui *ui) {
    lab_settings_get(ui->lab, &ui->set);
    ui->overlay = OV_SETTINGS;
    if (ui->set_row < 0 || ui->set_row >= N_ROWS) ui->set_row = 0;
}

static void value_text(const Ui *ui, int row, int col, char *out, size_t n) {
    const LabSampling *s = &ui->set.s[col];
    switch (row) {
    case ROW_MODE: snprintf(out, n, "%s", ui->set.shared ? "both (shared)" : col ? "B" : "A"); break;
    case ROW_TEMP: snprintf(out, n, "%.2f", s->temp); break;
    case ROW_TOPK: snprintf(out, n, "%d", s->top_k); break;
    case ROW_TOPP: snprintf(out, n, "%.2f", s->top_p); break;
    case ROW_MINP: snprintf(out, n, "%.2f", s->min_p); break;
    case ROW_REPEAT: snprintf(out, n, "%.2f", s->repeat_penalty); break;
    case ROW_MAX: snprintf(out, n, "%d", s->max_tokens); break;
    case ROW_SEED: snprintf(out, n, "%lld", (long long)s->seed); break;
    case ROW_THREADS: snprintf(out, n, "%d", ui->set.threads); break;
    default: out[0] = 0;
    }
}

static void apply(Ui *ui) {
    if (ui->set.shared) ui->set.s[1] = ui->set.s[0];
    LabErr e = {0};
    if (lab_settings_set(ui->lab, &ui->set, &e)) {
        ui_flash(ui, true, "%s", e.msg);
        lab_settings_get(ui->lab, &ui->set);   /* show what is really in force */
    } else {
        ui_flash(ui, false, "settings saved: they apply to the next prompt");
    }
}

/* Sets field `row` of side col (and both sides when shared) from text. */
static int set_field(Ui *ui, int row, int col, const char *text) {
    char *end;
    double v = strtod(text, &end);
    while (*end == ' ') end++;
    if (end == text || *end) {
        ui_flash(ui, true, "'%s' is not a number (%s)", text, row_name[row]);
        return -1;
    }
    for (int c = 0; c < 2; c++) {
        if (!ui->set.shared && c != col) continue;
        LabSampling *s = &ui->set.s[c];
        switch (row) {
        case ROW_TEMP: s->temp = v; break;
        case ROW_TOPK: s->top_k = (int)v; break;
        case ROW_TOPP: s->top_p = v; break;
        case ROW_MINP: s->min_p = v; break;
        case ROW_REPEAT: s->repeat_penalty = v; break;
        case ROW_MAX: s->max_tokens = (int)v; break;
        case ROW_SEED: s->seed = (int64_t)v; break;
        case ROW_THREADS: ui->set.threads = (int)v; break;
        default: break;
        }
    }
    apply(ui);
    return 0;
}

static void on_value(Ui *ui, const char *text) {
    ui->overlay = OV_SETTINGS;
    if (text) set_field(ui, ui->set_row, ui->set_col, text);
}

static void step(Ui *ui, int dir) {
    const LabSampling *s = &ui->set.s[ui->set_col];
    char buf[64];
    switch (ui->set_row) {
    case ROW_TEMP: snprintf(buf, sizeof buf, "%.2f", s->temp + 0.1 * dir < 0 ? 0 : s->temp + 0.1 * dir); break;
    case ROW_TOPK: snprintf(buf, sizeof buf, "%d", s->top_k + 5 * dir < 0 ? 0 : s->top_k + 5 * dir); break;
    case ROW_TOPP: snprintf(buf, sizeof buf, "%.2f", s->top_p + 0.05 * dir); break;
    case ROW_MINP: snprintf(buf, sizeof buf, "%.2f", s->min_p + 0.01 * dir < 0 ? 0 : s->min_p + 0.01 * dir); break;
    case ROW_REPEAT: snprintf(buf, sizeof buf, "%.2f", s->repeat_penalty + 0.05 * dir); break;
    case ROW_MAX: snprintf(buf, sizeof buf, "%d", s->max_tokens + 16 * dir < 1 ? 1 : s->max_tokens + 16 * dir); break;
    case ROW_SEED: snprintf(buf, sizeof buf, "%lld", (long long)(s->seed + dir)); break;
    case ROW_THREADS: snprintf(buf, sizeof buf, "%d", ui->set.threads + dir < 1 ? 1 : ui->set.threads + dir); break;
    default: return;
    }
    set_field(ui, ui->set_row, ui->set_col, buf);
}

bool settings_key(Ui *ui, const UiKey *k) {
    uint32_t c = k->code == UK_CHAR && !k->alt ? k->ch : 0;
    switch (k->code) {
    case UK_ESC: ui->overlay = OV_NONE; return true;
    case UK_UP: ui->set_row = (ui->set_row + N_ROWS - 1) % N_ROWS; return true;
    case UK_DOWN: case UK_TAB: ui->set_row = (ui->set_row + 1) % N_ROWS; return true;
    case UK_LEFT: ui->set_col = 0; return true;
    case UK_RIGHT: if (!ui->set.shared) ui->set_col = 1; return true;
    case UK_ENTER:
        if (ui->set_row == ROW_MODE) {
            ui->set.shared = !ui->set.shared;
            if (ui->set.shared) ui->set_col = 0;
            apply(ui);
        } else {
            char cur[64], title[128];
            value_text(ui, ui->set_row, ui->set_col, cur, sizeof cur);
            snprintf(title, sizeof title, "%s%s", row_name[ui->set_row],
                     ui->set.shared || ui->set_row == ROW_THREADS ? "" : ui->set_col ? " (B)" : " (A)");
            ui_input_open(ui, title, cur, on_value);
        }
        return true;
    default: break;
    }
    if (c == ' ' && ui->set_row == ROW_MODE) {
        ui->set.shared = !ui->set.shared;
        if (ui->set.shared) ui->set_col = 0;
        apply(ui);
        return true;
    }
    if (c == '+' || c == '=') { step(ui, 1); return true; }
    if (c == '-') { step(ui, -1); return true; }
    if (c == 'q') { ui->overlay = OV_NONE; return true; }
    if (c == '?') { ui->overlay = OV_HELP; return true; }
    return true;   /* the overlay keeps every other key from the screen beneath */
}

void settings_draw(Ui *ui, const UiLayout *L) {
    UiRect box = layout_center(L->full, N_ROWS + 7, 60);
    UiRect in = d_box(box, "settings (stored with each response)");
    d_printf(in, 0, 22, AT_HEAD_A, "%-14s", ui->set.shared ? "A and B" : "A");
    if (!ui->set.shared) d_printf(in, 0, 38, AT_HEAD_B, "%s", "B");
    for (int r = 0; r < N_ROWS; r++) {
        int y = r + 1 + (r > ROW_MODE) + (r == ROW_THREADS);
        d_text(in, y, 0, row_name[r], r == ui->set_row ? AT_KEY : AT_NORMAL);
        int cols = ui->set.shared || r == ROW_THREADS || r == ROW_MODE ? 1 : 2;
        if (r == ROW_MODE) {
            char v[64];
            snprintf(v, sizeof v, "%s", ui->set.shared ? "both models (shared)" : "each model (per side)");
            d_text(in, y, 22, v, r == ui->set_row ? AT_SEL : AT_NORMAL);
            continue;
        }
        for (int c = 0; c < cols; c++) {
            char v[64];
            value_text(ui, r, c, v, sizeof v);
            bool sel = r == ui->set_row && (c == ui->set_col || cols == 1);
            d_printf(in, y, 22 + 16 * c, sel ? AT_SEL : AT_NORMAL, " %-10s", v);
        }
    }
    d_text(in, in.h - 1, 0, "Enter edit · -/+ step · ←/→ side · Esc close", AT_DIM);
}
