/* The models screen: what each slot holds (architecture, parameters, dtype, size on disk and in
 * memory, load time); load another model into A or B on a worker thread with a progress bar, or
 * swap the sides; the models `ablab pull` finished, to load one into A or B. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

void models_refresh(Ui *ui) {
    for (int s = 0; s < 2; s++)
        if (lab_model_info(ui->lab, s, &ui->minfo[s])) memset(&ui->minfo[s], 0, sizeof ui->minfo[s]);
}

static void load_progress(double frac, void *ud) {
    Ui *ui = ud;
    Ev *ev = calloc(1, sizeof *ev);
    if (!ev) return;
    ev->kind = EV_LOAD_PROGRESS;
    ev->side = ui->load_slot;
    ev->frac = frac;
    evq_push(&ui->q, ev);
}

static void *load_main(void *arg) {
    Ui *ui = arg;
    LabErr e = {0};
    int rc = lab_model_swap(ui->lab, ui->load_slot, ui->load_path, load_progress, ui, &e);
    Ev *ev = calloc(1, sizeof *ev);
    if (ev) {
        ev->kind = EV_LOAD_DONE;
        ev->side = ui->load_slot;
        ev->ok = rc == 0;
        if (rc) snprintf(ev->err, sizeof ev->err, "%s", e.msg);
        evq_push(&ui->q, ev);
    }
    return NULL;
}

void models_event(Ui *ui, const Ev *ev) {
    if (ev->kind == EV_LOAD_PROGRESS) {
        ui->load_frac = ev->frac;
        return;
    }
    pthread_join(ui->load_thread, NULL);
    ui->loading = false;
    models_refresh(ui);
    if (ev->ok) ui_flash(ui, false, "model %c: %s loaded", ev->side ? 'B' : 'A', ui->minfo[ev->side].name);
    else ui_flash(ui, true, "model %c kept: %s", ev->side ? 'B' : 'A', ev->err);
}

/* Rescans the pulled models (on opening the screen and after a pull elsewhere: `r`). */
static void pulled_scan(Ui *ui) {
    lab_pulled_free(&ui->pulled);
    if (ui->opt->models_dir) {
        LabErr e = {0};
        if (lab_pulled_list(ui->opt->models_dir, &ui->pulled, &e)) ui_flash(ui, true, "pulled models: %s", e.msg);
    }
    if (ui->pulled_sel >= (int)ui->pulled.n) ui->pulled_sel = ui->pulled.n ? (int)ui->pulled.n - 1 : 0;
}

static void models_open(Ui *ui) {
    models_refresh(ui);
    pulled_scan(ui);
}

static void on_path(Ui *ui, const char *text) {
    if (!text || !*text) return;
    if (lab_busy(ui->lab)) { ui_flash(ui, true, "wait for the answers to end (or Esc on the compare screen)"); return; }
    free(ui->load_path);
    ui->load_path = strdup(text);
    if (!ui->load_path) return;
    ui->loading = true;
    ui->load_frac = 0;
    if (pthread_create(&ui->load_thread, NULL, load_main, ui)) {
        ui->loading = false;
        ui_flash(ui, true, "could not start the loader thread");
    }
}

enum { MK_A, MK_B, MK_MOVE, MK_PA, MK_PB, MK_RESCAN, MK_SWAP, MK_BACK };
static const UiKeyDef models_keys[] = {
    [MK_A] = {"a", "load into A", "load another model into A (a path: HF folder, .bin, .gguf); the old one stays if it fails",
              0, 0, false, {K_CH('a')}},
    [MK_B] = {"b", "load into B", "load another model into B", 0, 0, false, {K_CH('b')}},
    [MK_MOVE] = {"↑↓", "pulled model", "select one of the models `ablab pull` downloaded (listed below the sides)", 0, 0, false,
                 {K_(UK_UP), K_(UK_DOWN)}},
    [MK_PA] = {"A", "to A", "load the selected pulled model into A", 0, 0, false, {K_CH('A')}},
    [MK_PB] = {"B", "to B", "load the selected pulled model into B", 0, 0, false, {K_CH('B')}},
    [MK_RESCAN] = {"r", NULL, "look again for pulled models (after an `ablab pull` in another terminal)", 0, 0, false, {K_CH('r')}},
    [MK_SWAP] = {"s", "swap sides", "swap the sides", 0, 0, false, {K_CH('s')}},
    [MK_BACK] = {"Esc q", "back", "back to the compare screen", 0, 0, false, {K_(UK_ESC), K_CH('q')}},
};

static bool models_key(Ui *ui, const UiKey *k) {
    switch (ui_key_find(&screen_models, ui_mode(ui, SCR_MODELS), k)) {
    case MK_A: case MK_B: {
        ui->load_slot = k->ch == 'b';
        char title[64];
        snprintf(title, sizeof title, "load into %c: model path (HF folder, .bin, .gguf)", ui->load_slot ? 'B' : 'A');
        ui_input_open(ui, title, ui->minfo[ui->load_slot].loaded ? ui->minfo[ui->load_slot].path : "", on_path);
        return true;
    }
    case MK_MOVE:
        if (k->code == UK_UP) { if (ui->pulled_sel > 0) ui->pulled_sel--; }
        else if (ui->pulled_sel + 1 < (int)ui->pulled.n) ui->pulled_sel++;
        return true;
    case MK_PA: case MK_PB:
        if (!ui->pulled.n) {
            ui_flash(ui, true, "no pulled models: `ablab pull OWNER/NAME` downloads one");
            return true;
        }
        ui->load_slot = k->ch == 'B';
        on_path(ui, ui->pulled.v[ui->pulled_sel].path);
        return true;
    case MK_RESCAN: pulled_scan(ui); return true;
    case MK_SWAP: {
        LabErr e = {0};
        if (lab_model_swap_slots(ui->lab, &e)) ui_flash(ui, true, "swap: %s", e.msg);
        else ui_flash(ui, false, "sides swapped: A = %s", (models_refresh(ui), ui->minfo[0].name));
        return true;
    }
    case MK_BACK: ui_goto(ui, SCR_COMPARE); return true;
    default: return false;
    }
}

static void model_box(const Ui *ui, UiRect r, int slot) {
    const LabModelInfo *m = &ui->minfo[slot];
    char title[LAB_NAME_MAX + 16];
    snprintf(title, sizeof title, "%c: %s", slot ? 'B' : 'A', m->loaded ? m->name : "(empty)");
    UiRect in = d_box(r, title);
    if (ui->loading && ui->load_slot == slot) {
        d_printf(in, 0, 0, AT_NORMAL, "loading %s  %3.0f%%", ui->load_path, ui->load_frac * 100);
        d_bar(in.y + 1, in.x, in.w, ui->load_frac, NAN, NAN, slot ? AT_BAR_B : AT_BAR_A);
        return;
    }
    if (!m->loaded) {
        d_printf(in, 0, 0, AT_DIM, "no model: press %s or %s to load one", models_keys[MK_A].key, models_keys[MK_B].key);
        return;
    }
    if (m->remote) { /* served elsewhere: what the server does not say is unknown, not 0 */
        int y = 0;
        d_printf(in, y++, 0, AT_NORMAL, "server        %s", m->path);
        d_printf(in, y++, 0, AT_NORMAL, "model         %s (as the server names it)", m->served_model);
        d_printf(in, y++, 0, AT_NORMAL, "parameters    unknown (remote)");
        d_printf(in, y++, 0, AT_NORMAL, "memory        unknown (on the server)");
        d_printf(in, y++, 0, AT_NORMAL, "prompts       %s", m->chat ? "chat: /v1/chat/completions (the server's template)"
                                                                    : "raw: /v1/completions");
        d_printf(in, y++, 0, AT_NORMAL, "reached in    %.0f ms (its model list)", m->load_ms);
        return;
    }
    char disk[32], mem[32], mapped[32], owned[32], kv[32], scratch[32];
    fmt_bytes(disk, sizeof disk, (double)m->bytes_on_disk);
    fmt_bytes(mem, sizeof mem, (double)m->bytes_memory);
    fmt_bytes(mapped, sizeof mapped, (double)m->bytes_mapped);
    fmt_bytes(owned, sizeof owned, (double)m->bytes_owned);
    fmt_bytes(kv, sizeof kv, (double)m->bytes_kv);
    fmt_bytes(scratch, sizeof scratch, (double)m->bytes_scratch);
    int y = 0;
    d_printf(in, y++, 0, AT_NORMAL, "path          %s", m->path);
    d_printf(in, y++, 0, AT_NORMAL, "architecture  %s (%s file)", m->arch, m->format);
    d_printf(in, y++, 0, AT_NORMAL, "parameters    %.2f M", (double)m->n_params / 1e6);
    d_printf(in, y++, 0, AT_NORMAL, "shape         %d layers, %d heads (%d kv), dim %d, vocab %d", m->n_layer, m->n_head,
             m->n_kv_head, m->dim, m->vocab);
    d_printf(in, y++, 0, AT_NORMAL, "context       %d (model max %d)", m->ctx, m->ctx_max);
    d_printf(in, y++, 0, AT_NORMAL, "dtype         %s (file: %s), tokenizer %s", m->dtype, m->file_dtype, m->tokenizer_kind);
    d_printf(in, y++, 0, AT_NORMAL, "on disk       %s", disk);
    if (m->shared) { /* the other slot's copy of the weights, read in place */
        d_printf(in, y++, 0, AT_NORMAL, "in memory     %s (KV %s, scratch %s; weights: the other slot's copy)", mem, kv,
                 scratch);
        d_printf(in, y++, 0, AT_NORMAL, "load time     %.0f ms (the same file as the other slot: weights shared) · %d thread%s",
                 m->load_ms, m->n_threads, m->n_threads == 1 ? "" : "s");
        return;
    }
    d_printf(in, y++, 0, AT_NORMAL, "in memory     %s (mapped %s, owned %s, KV %s, scratch %s)", mem, mapped, owned, kv, scratch);
    d_printf(in, y++, 0, AT_NORMAL, "load time     %.0f ms · %d thread%s", m->load_ms, m->n_threads, m->n_threads == 1 ? "" : "s");
}

/* The pulled models, the selected one highlighted, scrolled to keep it in view. */
static void pulled_box(const Ui *ui, UiRect r) {
    char title[64];
    snprintf(title, sizeof title, "pulled (ablab pull): %zu", ui->pulled.n);
    UiRect in = d_box(r, title);
    if (in.h <= 0) return;
    if (!ui->pulled.n) {
        d_printf(in, 0, 0, AT_DIM, "none yet: `ablab pull openai-community/gpt2-xl` puts a model in %s",
                 ui->opt->models_dir ? ui->opt->models_dir : "the models folder");
        return;
    }
    int top = ui->pulled_sel >= in.h ? ui->pulled_sel - in.h + 1 : 0;
    for (int y = 0; y < in.h && top + y < (int)ui->pulled.n; y++) {
        const LabPulled *p = &ui->pulled.v[top + y];
        char size[32];
        fmt_bytes(size, sizeof size, (double)p->bytes);
        bool sel = top + y == ui->pulled_sel;
        d_printf(in, y, 0, sel ? AT_SEL : AT_NORMAL, "%s %-40s %-12.12s %10s  %s", sel ? ">" : " ", p->name, p->revision, size,
                 p->path);
    }
}

static void models_draw(const Ui *ui, const UiLayout *L) {
    UiRect r = L->full;
    int h = r.h / 2 < 12 ? r.h / 2 : 12;
    /* the pulled list takes what the sides leave, at least a line of its own */
    if (r.h - 2 * h < 3) h = (r.h - 3) / 2 > 3 ? (r.h - 3) / 2 : h;
    UiRect a = {r.y, r.x, h, r.w}, b = {r.y + h, r.x, h, r.w};
    model_box(ui, a, 0);
    model_box(ui, b, 1);
    if (r.h - 2 * h >= 3) pulled_box(ui, (UiRect){r.y + 2 * h, r.x, r.h - 2 * h, r.w});
}

const UiScreenDef screen_models = {
    .name = "models", .title = "Models", .who = UI_IN_LAB,
    .open = models_open, .draw = models_draw, .key = models_key, .keys = UI_KEYS(models_keys),
};
