/* The settings overlay: sampling (shared or per side) and threads. Every change is applied through
 * lab_settings_set at once (validated there, stored with each response and kept for next time). */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

/* Rows: the mode, then one per row of the settings table (lab_sampling_*, in its order), then
 * the thread budget. Names, values, steps and checks all come from the table. */
enum { ROW_MODE, ROW_SAMPLING, ROW_THREADS = ROW_SAMPLING + LAB_SAMPLING_N, ROW_CHAT, ROW_SYSTEM, ROW_TURNS, N_ROWS };
/* ROW_CHAT is per side whatever the mode: how each model's prompts are sent (lab_chat_set);
 * ROW_SYSTEM the system prompt of the conversations that start next; ROW_TURNS whether a new
 * prompt continues the conversation. These three are the lab's, not stored with each response
 * (the record keeps each turn's mode, messages and exact prompt instead). */
static bool is_chat_row(int row) { return row >= ROW_CHAT; }

static bool is_sampling(int row) { return row >= ROW_SAMPLING && row < ROW_THREADS; }

static const char *row_name(int row) {
    LabSettingInfo in;
    if (is_sampling(row) && lab_sampling_info(row - ROW_SAMPLING, &in) == 0) return in.label;
    switch (row) {
    case ROW_MODE: return "settings for";
    case ROW_THREADS: return "threads (total)";
    case ROW_CHAT: return "prompts sent as";
    case ROW_SYSTEM: return "system prompt";
    case ROW_TURNS: return "conversation";
    }
    return "";
}

static void settings_open(Ui *ui) {
    lab_settings_get(ui->lab, &ui->set);
    if (ui->set_row < 0 || ui->set_row >= N_ROWS) ui->set_row = 0;
}

static void value_text(const Ui *ui, int row, int col, char *out, size_t n) {
    LabModelInfo mi;
    if (row == ROW_CHAT) {
        LabChatMode m = lab_chat_get(ui->lab, col);
        bool have = lab_model_info(ui->lab, col, &mi) == 0 && mi.loaded;
        if (m == LAB_CHAT_AUTO) snprintf(out, n, "auto: %s", have && mi.chat ? "chat" : "raw");
        else snprintf(out, n, "%s", lab_chat_mode_name(m));
        return;
    }
    if (row == ROW_SYSTEM) { snprintf(out, n, "%s", *lab_system_get(ui->lab) ? lab_system_get(ui->lab) : "(none)"); return; }
    if (row == ROW_TURNS) { snprintf(out, n, "%s", ui->multi_turn ? "multi-turn" : "one prompt each"); return; }
    if (row == ROW_MODE) snprintf(out, n, "%s", ui->set.shared ? "both (shared)" : col ? "B" : "A");
    else if (row == ROW_THREADS) snprintf(out, n, "%d", ui->set.threads);
    else lab_sampling_format(&ui->set.s[col], row - ROW_SAMPLING, out, n);
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

/* Sets field `row` of side col (and both sides when shared) from text, through the table's parse
 * and check (the same message as a bad config value, prefixed with the side). */
static int set_field(Ui *ui, int row, int col, const char *text) {
    if (row == ROW_THREADS) {
        char *end;
        long v = strtol(text, &end, 10);
        if (end == text || *end || v < 1 || v > 256) {
            ui_flash(ui, true, "threads must be an integer in [1, 256], not '%s'", text);
            return -1;
        }
        ui->set.threads = (int)v;
    } else {
        for (int c = 0; c < 2; c++) {
            if (!ui->set.shared && c != col) continue;
            LabErr e = {0};
            if (lab_sampling_parse(&ui->set.s[c], row - ROW_SAMPLING, text, &e)) {
                ui_flash(ui, true, "settings for %s: %s", ui->set.shared ? "both models" : c ? "model B" : "model A",
                         e.msg);
                lab_settings_get(ui->lab, &ui->set); /* show what is really in force */
                return -1;
            }
        }
    }
    apply(ui);
    return 0;
}

static void on_value(Ui *ui, const char *text) {
    ui_goto(ui, SCR_SETTINGS);
    if (text && ui->set_row == ROW_SYSTEM) {
        LabErr e = {0};
        if (lab_system_set(ui->lab, text, &e)) ui_flash(ui, true, "%s", e.msg);
        else ui_flash(ui, false, *text ? "system prompt set: it starts the next conversation" : "no system prompt");
        return;
    }
    if (text) set_field(ui, ui->set_row, ui->set_col, text);
}

/* The chat rows: the side's mode cycles auto -> chat -> raw (dir -1 backwards); the conversation
 * row toggles. */
static void chat_step(Ui *ui, int dir) {
    if (ui->set_row == ROW_TURNS) {
        ui->multi_turn = !ui->multi_turn;
        lab_conversation_reset(ui->lab);
        ui_flash(ui, false, ui->multi_turn ? "multi-turn: each prompt is the next turn (Ctrl-N: a new conversation)"
                                           : "each prompt stands alone");
        return;
    }
    if (ui->set_row != ROW_CHAT) return;
    LabChatMode m = (LabChatMode)(((int)lab_chat_get(ui->lab, ui->set_col) + (dir < 0 ? 2 : 1)) % 3);
    LabErr e = {0};
    if (lab_chat_set(ui->lab, ui->set_col, m, &e)) {
        /* chat on a model without a template: say why, and offer the next mode */
        ui_flash(ui, true, "%s", e.msg);
        return;
    }
    ui_flash(ui, false, "model %c: prompts sent as %s from the next prompt", 'A' + ui->set_col, lab_chat_mode_name(m));
}

static void step(Ui *ui, int dir) {
    char buf[64];
    if (is_chat_row(ui->set_row)) {
        if (ui->set_row != ROW_SYSTEM) chat_step(ui, dir);
        return;
    }
    if (ui->set_row == ROW_THREADS)
        snprintf(buf, sizeof buf, "%d", ui->set.threads + dir < 1 ? 1 : ui->set.threads + dir);
    else if (is_sampling(ui->set_row))
        lab_sampling_step(&ui->set.s[ui->set_col], ui->set_row - ROW_SAMPLING, dir, buf, sizeof buf);
    else return;
    set_field(ui, ui->set_row, ui->set_col, buf);
}

enum { TK_FIELD, TK_SIDE, TK_EDIT, TK_STEP, TK_SHARED, TK_CLOSE, TK_HELP };
static const UiKeyDef settings_keys[] = {
    [TK_FIELD] = {"↑↓", "field", "the previous / next field (Tab: next)", 0, 0, false, {K_(UK_UP), K_(UK_DOWN), K_(UK_TAB)}},
    [TK_SIDE] = {"←→", "side", "side A or B, when the settings are per side", 0, 0, false, {K_(UK_LEFT), K_(UK_RIGHT)}},
    [TK_EDIT] = {"Enter", "edit", "edit the value; on the first row: both models (shared) or each model (per side)", 0, 0,
                 false, {K_(UK_ENTER)}},
    [TK_STEP] = {"-/+", "change", "step the value; every change is checked and applies to the next prompt", 0, 0, false,
                 {K_CH('-'), K_CH('+'), K_CH('=')}},
    [TK_SHARED] = {"Space", "shared/per side", "on the first row: shared or per side", 0, 0, false, {K_CH(' ')}},
    [TK_CLOSE] = {"Esc", "close", "close the settings (q too)", 0, 0, false, {K_(UK_ESC), K_CH('q')}},
    [TK_HELP] = {"?", "help", "help", 0, 0, false, {K_CH('?')}},
};

static void toggle_shared(Ui *ui) {
    ui->set.shared = !ui->set.shared;
    if (ui->set.shared) ui->set_col = 0;
    apply(ui);
}

static bool settings_key(Ui *ui, const UiKey *k) {
    switch (ui_key_find(&screen_settings, ui_mode(ui, SCR_SETTINGS), k)) {
    case TK_CLOSE: ui_overlay_close(ui); break;
    case TK_FIELD:
        if (k->code == UK_UP) ui->set_row = (ui->set_row + N_ROWS - 1) % N_ROWS;
        else ui->set_row = (ui->set_row + 1) % N_ROWS;
        break;
    case TK_SIDE:
        if (k->code == UK_LEFT) ui->set_col = 0;
        else if (!ui->set.shared || ui->set_row == ROW_CHAT) ui->set_col = 1;
        break;
    case TK_EDIT:
        if (ui->set_row == ROW_MODE) {
            toggle_shared(ui);
        } else if (ui->set_row == ROW_CHAT || ui->set_row == ROW_TURNS) {
            chat_step(ui, 1);
        } else if (ui->set_row == ROW_SYSTEM) {
            ui_input_open(ui, "system prompt (empty: none)", lab_system_get(ui->lab), on_value);
        } else {
            char cur[64], title[128];
            value_text(ui, ui->set_row, ui->set_col, cur, sizeof cur);
            snprintf(title, sizeof title, "%s%s", row_name(ui->set_row),
                     ui->set.shared || ui->set_row == ROW_THREADS ? "" : ui->set_col ? " (B)" : " (A)");
            ui_input_open(ui, title, cur, on_value);
        }
        break;
    case TK_SHARED:
        if (ui->set_row == ROW_MODE) toggle_shared(ui);
        break;
    case TK_STEP: step(ui, k->ch == '-' ? -1 : 1); break;
    case TK_HELP: ui_goto(ui, SCR_HELP); break;
    default: break;
    }
    return true;   /* the overlay keeps every other key from the screen beneath */
}

static void settings_draw(const Ui *ui, const UiLayout *L) {
    UiRect box = layout_center(L->full, N_ROWS + 8, 60);
    UiRect in = d_box(box, "settings (stored with each response)");
    d_printf(in, 0, 22, AT_HEAD_A, "%-14s", ui->set.shared ? "A and B" : "A");
    if (!ui->set.shared) d_printf(in, 0, 38, AT_HEAD_B, "%s", "B");
    for (int r = 0; r < N_ROWS; r++) {
        int y = r + 1 + (r > ROW_MODE) + (r >= ROW_THREADS) + (r >= ROW_CHAT);
        d_text(in, y, 0, row_name(r), r == ui->set_row ? AT_KEY : AT_NORMAL);
        int cols = r == ROW_CHAT ? 2 : ui->set.shared || r == ROW_THREADS || r == ROW_MODE || is_chat_row(r) ? 1 : 2;
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
            if (r == ROW_CHAT) d_printf(in, y, 22 + 16 * c, sel ? AT_SEL : AT_NORMAL, " %c %-11s", 'A' + c, v);
            else if (r == ROW_SYSTEM) d_printf(in, y, 22, sel ? AT_SEL : AT_NORMAL, " %.34s", v);
            else d_printf(in, y, 22 + 16 * c, sel ? AT_SEL : AT_NORMAL, " %-10s", v);
        }
    }
    static const int ids[] = {TK_EDIT, TK_STEP, TK_SIDE, TK_CLOSE};
    char hint[128];
    ui_keys_hint(&screen_settings, ids, 4, " · ", hint, sizeof hint);
    d_text(in, in.h - 1, 0, hint, AT_DIM);
}

const UiScreenDef screen_settings = {
    .name = "settings", .title = "Settings (stored with each response)", .overlay = true, .who = UI_IN_LAB,
    .open = settings_open, .draw = settings_draw, .key = settings_key, .keys = UI_KEYS(settings_keys),
};
