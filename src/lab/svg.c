/* A small SVG writer and the three charts of the export: win rates with their intervals, TTFT and
 * tokens/s per model, and score histograms. Plain SVG 1.1 that any browser shows and that drops
 * into a report (LaTeX via inkscape/rsvg, Word, Google Docs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_internal.h"

static const char *const COLOR[] = {"#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"};
#define N_COLOR 7

static void p(LabOut *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void p(LabOut *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(o->f, fmt, ap) < 0) o->failed = true;
    va_end(ap);
}

static void svg_begin(LabOut *o, double w, double h, const char *title) {
    p(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
         "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
         "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      w, h, w, h);
    p(o, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\" text-anchor=\"middle\">", w / 2);
    for (const char *s = title; *s; s++) {
        switch (*s) {
        case '<': p(o, "&lt;"); break;
        case '>': p(o, "&gt;"); break;
        case '&': p(o, "&amp;"); break;
        default: p(o, "%c", *s);
        }
    }
    p(o, "</text>\n");
}

static void svg_text(LabOut *o, double x, double y, const char *anchor, const char *fill, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void svg_text(LabOut *o, double x, double y, const char *anchor, const char *fill, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    p(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">", x, y, anchor, fill ? fill : "black");
    for (const char *s = buf; *s; s++) {
        switch (*s) {
        case '<': p(o, "&lt;"); break;
        case '>': p(o, "&gt;"); break;
        case '&': p(o, "&amp;"); break;
        case '"': p(o, "&quot;"); break;
        default: p(o, "%c", *s);
        }
    }
    p(o, "</text>\n");
}

static void svg_line(LabOut *o, double x1, double y1, double x2, double y2, const char *stroke, double width,
                     bool dashed) {
    p(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%.1f\"%s/>\n", x1, y1, x2,
      y2, stroke, width, dashed ? " stroke-dasharray=\"4 3\"" : "");
}

static void svg_rect(LabOut *o, double x, double y, double w, double h, const char *fill, double opacity) {
    p(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"%.2f\"/>\n", x, y,
      w < 0 ? 0 : w, h < 0 ? 0 : h, fill, opacity);
}

static int svg_end(LabOut *o) {
    p(o, "</svg>\n");
    return 0;
}

static void empty_note(LabOut *o, double w, double y, const char *what) {
    svg_text(o, w / 2, y, "middle", "#666666", "%s", what);
}

/* ---------- win rates: one bar per model pair, its Wilson interval, and the 50% line ---------- */

/* Room for a label of `chars` characters at 12 px (an average glyph is ~7 px wide). */
static double label_room(size_t chars) { return 20 + 7.0 * (double)chars; }

int lab_svg_win_rates(LabOut *o, const LabStats *s) {
    double left = 260, width = 380, row = 34, top = 60;
    size_t n = s->n_pairs;
    for (size_t i = 0; i < n; i++) {
        size_t chars = strlen(s->pairs[i].name[0]) + strlen(s->pairs[i].name[1]) + 20;
        if (label_room(chars) > left) left = label_room(chars);
    }
    double h = top + (n ? 2 * n + 1 : 1) * row + 50;
    svg_begin(o, left + width + 60, h, "Win rate of model A (ties excluded) with Wilson 95% intervals");
    if (!n) {
        empty_note(o, left + width + 60, top + 20, "no votes yet");
        return svg_end(o);
    }
    double x0 = left, x1 = left + width;
    double y_end = top + 2 * n * row + row / 2;
    for (int t = 0; t <= 4; t++) {
        double x = x0 + width * t / 4.0;
        svg_line(o, x, top - 10, x, y_end, "#dddddd", 1, false);
        svg_text(o, x, y_end + 16, "middle", "#444444", "%d%%", t * 25);
    }
    svg_line(o, (x0 + x1) / 2, top - 10, (x0 + x1) / 2, y_end, "#333333", 1.2, true);
    for (size_t i = 0; i < n; i++) {
        const LabPairStats *ps = &s->pairs[i];
        for (int k = 0; k < 2; k++) {
            double y = top + (2 * i + k) * row;
            double rate = k == 0 ? ps->win_rate : ps->left_rate;
            LabInterval ci = k == 0 ? ps->win_ci : ps->left_ci;
            if (k == 0) svg_text(o, left - 10, y + 15, "end", NULL, "%s vs %s (%d decisive)", ps->name[0], ps->name[1], ps->decisive);
            else svg_text(o, left - 10, y + 15, "end", "#555555", "left-side answer (position bias)");
            if (!isfinite(rate)) {
                svg_text(o, x0 + 6, y + 15, "start", "#666666", "no decisive votes");
                continue;
            }
            svg_rect(o, x0, y + 4, width * rate, row - 12, k == 0 ? COLOR[i % N_COLOR] : "#999999", k == 0 ? 0.85 : 0.6);
            double cy = y + 4 + (row - 12) / 2;
            svg_line(o, x0 + width * ci.lo, cy, x0 + width * ci.hi, cy, "black", 1.5, false);
            svg_line(o, x0 + width * ci.lo, cy - 6, x0 + width * ci.lo, cy + 6, "black", 1.5, false);
            svg_line(o, x0 + width * ci.hi, cy - 6, x0 + width * ci.hi, cy + 6, "black", 1.5, false);
            svg_text(o, x1 + 8, y + 15, "start", NULL, "%.0f%%", 100 * rate);
        }
    }
    return svg_end(o);
}

/* ---------- TTFT and tokens/s: every response as a dot, the median as a bar ---------- */

static void strip_panel(LabOut *o, const LabStats *s, double y0, double left, double width, bool ttft) {
    double maxv = 0;
    for (size_t i = 0; i < s->n_models; i++)
        for (int k = 0; k < s->models[i].n_responses; k++) {
            double v = ttft ? s->models[i].ttft[k] : s->models[i].tok_s[k];
            if (isfinite(v) && v > maxv) maxv = v;
        }
    if (maxv <= 0) maxv = 1;
    /* a round upper end for the axis */
    double mag = pow(10, floor(log10(maxv))), top = ceil(maxv / mag) * mag;
    double row = 30;
    double y_end = y0 + s->n_models * row;
    svg_text(o, left + width / 2, y0 - 12, "middle", NULL, "%s", ttft ? "time to first token (ms)" : "decode speed (tokens/s)");
    for (int t = 0; t <= 4; t++) {
        double x = left + width * t / 4.0;
        svg_line(o, x, y0, x, y_end, "#dddddd", 1, false);
        svg_text(o, x, y_end + 15, "middle", "#444444", "%g", top * t / 4.0);
    }
    for (size_t i = 0; i < s->n_models; i++) {
        const LabModelStats *m = &s->models[i];
        double y = y0 + i * row + row / 2;
        svg_text(o, left - 10, y + 4, "end", NULL, "%s", m->name);
        uint64_t st = 0x5eed + i;
        for (int k = 0; k < m->n_responses; k++) {
            double v = ttft ? m->ttft[k] : m->tok_s[k];
            if (!isfinite(v)) continue;
            double jitter = ((double)(lab_rng_next(&st) % 1000) / 1000.0 - 0.5) * (row - 14);
            p(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" fill-opacity=\"0.55\"/>\n", left + width * v / top,
              y + jitter, COLOR[i % N_COLOR]);
        }
        double med = ttft ? m->ttft_med : m->tok_s_med;
        if (m->n_responses && isfinite(med)) {
            double x = left + width * med / top;
            svg_line(o, x, y - row / 2 + 3, x, y + row / 2 - 3, "black", 2.5, false);
        }
    }
}

int lab_svg_latency(LabOut *o, const LabStats *s) {
    double left = 170, width = 420, row = 30;
    for (size_t i = 0; i < s->n_models; i++)
        if (label_room(strlen(s->models[i].name)) > left) left = label_room(strlen(s->models[i].name));
    double panel = s->n_models * row + 60;
    double h = 50 + 2 * panel + 30;
    svg_begin(o, left + width + 50, h, "Speed per model: each dot a response, the bar its median");
    if (!s->n_models) {
        empty_note(o, left + width + 50, 70, "no responses recorded");
        return svg_end(o);
    }
    strip_panel(o, s, 70, left, width, true);
    strip_panel(o, s, 70 + panel, left, width, false);
    return svg_end(o);
}

/* ---------- score histograms: per model, how often each score 1..5 was given ---------- */

int lab_svg_scores(LabOut *o, const LabStats *s) {
    /* scores are kept per model pair; add them up per model */
    size_t n = s->n_models;
    int (*hist)[5] = calloc(n ? n : 1, sizeof *hist);
    if (!hist) return -1;
    int maxc = 0;
    for (size_t k = 0; k < s->n_pairs; k++)
        for (int side = 0; side < 2; side++)
            for (size_t i = 0; i < n; i++)
                if (s->models[i].id == s->pairs[k].model_id[side])
                    for (int b = 0; b < 5; b++) {
                        hist[i][b] += s->pairs[k].score_hist[side][b];
                        if (hist[i][b] > maxc) maxc = hist[i][b];
                    }
    double left = 60, group = 5 * 26 + 30, height = 220, top = 60;
    double w = left + (n ? n : 1) * group + 40;
    svg_begin(o, w < 360 ? 360 : w, top + height + 70, "Scores given (1–5) per model");
    if (!maxc) {
        empty_note(o, (w < 360 ? 360 : w) / 2 + 0, top + 40, "no scores given yet");
        free(hist);
        return svg_end(o);
    }
    double base = top + height;
    /* whole-number ticks: counts are integers */
    int step = (maxc + 3) / 4, top_count = step * ((maxc + step - 1) / step);
    svg_line(o, left - 5, base, left + n * group, base, "#333333", 1, false);
    for (int v = 0; v <= top_count; v += step) {
        double y = base - height * v / (double)top_count;
        svg_line(o, left - 5, y, left + n * group, y, "#eeeeee", 1, false);
        svg_text(o, left - 10, y + 4, "end", "#444444", "%d", v);
    }
    maxc = top_count;
    for (size_t i = 0; i < n; i++) {
        double gx = left + i * group + 10;
        for (int b = 0; b < 5; b++) {
            double bh = height * hist[i][b] / (double)maxc;
            svg_rect(o, gx + b * 26, base - bh, 22, bh, COLOR[i % N_COLOR], 0.85);
            svg_text(o, gx + b * 26 + 11, base + 15, "middle", "#444444", "%d", b + 1);
        }
        svg_text(o, gx + 5 * 26 / 2.0, base + 34, "middle", NULL, "%s", s->models[i].name);
    }
    free(hist);
    return svg_end(o);
}

/* ---------- scaling: scatter panels with a log or linear x axis ---------- */

typedef struct {
    const char *title, *xlabel, *ylabel;
    const double *x, *y;
    const char *const *labels;    /* one per point */
    size_t n;
    bool xlog;
    const LabPowerFit *fit;       /* drawn over x when set */
    const bool *frontier;         /* points joined as the Pareto frontier when set */
    bool y_nonneg;                /* the quantity cannot be negative: the y axis starts at 0 at the lowest */
} Scatter;

static void nice_range(double lo, double hi, bool log_axis, double *a, double *b) {
    if (log_axis) {
        *a = floor(log10(lo));
        *b = ceil(log10(hi));
        if (*b <= *a) *b = *a + 1;
        return;
    }
    double pad = (hi - lo) * 0.08;
    if (pad <= 0) pad = fabs(hi) * 0.1 + 1e-9;
    *a = lo - pad;
    *b = hi + pad;
}

static void scatter_panel(LabOut *o, const Scatter *s, double px, double py, double pw, double ph) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    size_t shown = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i]) || (s->xlog && s->x[i] <= 0)) continue;
        shown++;
        if (s->x[i] < xmin) xmin = s->x[i];
        if (s->x[i] > xmax) xmax = s->x[i];
        if (s->y[i] < ymin) ymin = s->y[i];
        if (s->y[i] > ymax) ymax = s->y[i];
    }
    svg_text(o, px + pw / 2, py - 8, "middle", NULL, "%s", s->title);
    svg_line(o, px, py + ph, px + pw, py + ph, "black", 1, false);
    svg_line(o, px, py, px, py + ph, "black", 1, false);
    svg_text(o, px + pw / 2, py + ph + 38, "middle", NULL, "%s", s->xlabel);
    p(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">", px - 52,
      py + ph / 2, px - 52, py + ph / 2);
    for (const char *c = s->ylabel; *c; c++) p(o, *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : "%c", *c);
    p(o, "</text>\n");
    if (!shown) {
        empty_note(o, 2 * px + pw, py + ph / 2, "no measurements to plot");
        return;
    }
    double xa, xb, ya, yb;
    nice_range(xmin, xmax, s->xlog, &xa, &xb);
    nice_range(ymin, ymax, false, &ya, &yb);
    if (s->y_nonneg && ya < 0) ya = 0;
#define SX(v) (px + ((s->xlog ? log10(v) : (v)) - xa) / (xb - xa) * pw)
#define SY(v) (py + ph - ((v) - ya) / (yb - ya) * ph)
    for (int t = 0; t <= 4; t++) { /* y ticks */
        double v = ya + (yb - ya) * t / 4;
        svg_line(o, px - 4, SY(v), px, SY(v), "black", 1, false);
        svg_line(o, px, SY(v), px + pw, SY(v), "#eeeeee", 1, false);
        svg_text(o, px - 6, SY(v) + 4, "end", NULL, "%.3g", v);
    }
    if (s->xlog) {
        for (double d = xa; d <= xb + 1e-9; d += 1) {
            double xx = px + (d - xa) / (xb - xa) * pw;
            svg_line(o, xx, py + ph, xx, py + ph + 4, "black", 1, false);
            svg_text(o, xx, py + ph + 18, "middle", NULL, "1e%.0f", d);
        }
    } else {
        for (int t = 0; t <= 4; t++) {
            double v = xa + (xb - xa) * t / 4, xx = px + pw * t / 4;
            svg_line(o, xx, py + ph, xx, py + ph + 4, "black", 1, false);
            svg_text(o, xx, py + ph + 18, "middle", NULL, "%.3g", v);
        }
    }
    if (s->fit && isfinite(s->fit->alpha)) { /* the fitted curve as a polyline over the axis */
        p(o, "<polyline fill=\"none\" stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\" points=\"");
        for (int k = 0; k <= 60; k++) {
            double lx = xa + (xb - xa) * k / 60, v = lab_power_eval(s->fit, pow(10, lx));
            if (!isfinite(v)) continue;
            double yy = SY(v);
            if (yy < py - 20) yy = py - 20;
            if (yy > py + ph + 20) yy = py + ph + 20;
            p(o, "%.1f,%.1f ", px + (lx - xa) / (xb - xa) * pw, yy);
        }
        p(o, "\"/>\n");
        svg_text(o, px + 8, py + ph - 8, "start", "#555555", "%s: alpha = %.3f", s->fit->loglog ? "log-log slope" : "fit E + A N^-alpha",
                 s->fit->alpha);
    }
    if (s->frontier) { /* the frontier: its points joined in order of x */
        size_t *ord = malloc(s->n * sizeof *ord), k = 0;
        if (ord) {
            for (size_t i = 0; i < s->n; i++)
                if (s->frontier[i]) ord[k++] = i;
            for (size_t i = 1; i < k; i++)
                for (size_t j = i; j > 0 && s->x[ord[j]] < s->x[ord[j - 1]]; j--) {
                    size_t t = ord[j];
                    ord[j] = ord[j - 1];
                    ord[j - 1] = t;
                }
            p(o, "<polyline class=\"pareto-frontier\" fill=\"none\" stroke=\"#228833\" stroke-width=\"2\" points=\"");
            for (size_t i = 0; i < k; i++) p(o, "%.1f,%.1f ", SX(s->x[ord[i]]), SY(s->y[ord[i]]));
            p(o, "\"/>\n");
            svg_text(o, px + pw - 4, py + ph - 8, "end", "#228833", "Pareto frontier (green line)");
            free(ord);
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i]) || (s->xlog && s->x[i] <= 0)) continue;
        bool on = s->frontier && s->frontier[i];
        const char *col = on ? "#228833" : COLOR[i % N_COLOR];
        /* the palette's own green would read as a frontier point: off the frontier it is grey */
        if (s->frontier && !on && !strcmp(col, "#228833")) col = "#555555";
        p(o, "<circle class=\"point\"%s cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n",
          on ? " data-pareto=\"1\"" : "", SX(s->x[i]), SY(s->y[i]), col);
        svg_text(o, SX(s->x[i]) + 8, SY(s->y[i]) - 6, "start", NULL, "%s", s->labels[i]);
    }
#undef SX
#undef SY
}

int lab_scale_svg(FILE *f, LabScalePlot which, const LabScalePlotData *d) {
    LabOut o = {.f = f};
    size_t n = d->n;
    double *buf = calloc(4 * (n ? n : 1), sizeof *buf);
    bool *front = calloc(n ? n : 1, sizeof *front);
    char (*label)[LAB_NAME_MAX + 24] = calloc(n ? n : 1, sizeof *label);
    const char **labels = calloc(n ? n : 1, sizeof *labels);
    if (!buf || !front || !label || !labels) {
        free(buf);
        free(front);
        free(label);
        free(labels);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(label[i], sizeof label[i], "%s (%s)", d->rows[i].name, d->rows[i].dtype);
        labels[i] = label[i];
    }
    double *x = buf, *y = buf + n, *y2 = buf + 2 * n;
    bool elo = false;
    for (size_t i = 0; i < n; i++) elo |= d->elo && isfinite(d->elo[i]);
    double W = 760, H = 500;
    if (which == LAB_SCALE_PLOT_PARAMS) {
        int panels = elo ? 2 : 1;
        W = panels == 2 ? 1180 : 760;
        svg_begin(&o, W, H, "Quality against parameters");
        for (size_t i = 0; i < n; i++) {
            x[i] = (double)d->rows[i].n_params_nonemb;
            y[i] = d->rows[i].bits_per_byte;
            y2[i] = d->elo ? d->elo[i] : NAN;
        }
        Scatter s = {"bits per byte (lower is better)", "non-embedding parameters (log scale)",
                     "bits per byte on the corpus", x, y, labels, n, true, d->fit, NULL, false};
        scatter_panel(&o, &s, 90, 70, 440, 330);
        if (elo) {
            Scatter s2 = {"Bradley-Terry strength (Elo scale, higher is better)", "non-embedding parameters (log scale)",
                          "Elo (mean of rated models = 1000)", x, y2, labels, n, true, NULL, NULL, false};
            scatter_panel(&o, &s2, 90 + 520, 70, 440, 330);
        }
    } else if (which == LAB_SCALE_PLOT_COST) {
        svg_begin(&o, W, H, "Quality against cost");
        for (size_t i = 0; i < n; i++) {
            double tps = d->rows[i].decode_tok_s;
            double hours = tps > 0 ? 1e6 / (tps * 3600.0) : NAN;
            x[i] = d->price > 0 ? hours * d->price : hours;
            y[i] = d->rows[i].bits_per_byte;
        }
        lab_pareto_min(x, y, n, front);
        Scatter s = {"bits per byte against cost (lower-left is better)",
                     d->price > 0 ? "cost per million generated tokens (USD, log scale)"
                                  : "machine-hours per million generated tokens (log scale; no --price)",
                     "bits per byte on the corpus", x, y, labels, n, true, NULL, front, false};
        scatter_panel(&o, &s, 100, 70, 600, 330);
    } else {
        svg_begin(&o, W, H, "Decode speed against memory");
        for (size_t i = 0; i < n; i++) {
            x[i] = (double)d->rows[i].bytes_resident;
            y[i] = d->rows[i].decode_tok_s;
        }
        Scatter s = {"decode tokens/s against resident memory", "resident bytes (weights, KV cache, buffers; log scale)",
                     "decode tokens/s", x, y, labels, n, true, NULL, NULL, false};
        scatter_panel(&o, &s, 100, 70, 600, 330);
    }
    svg_text(&o, 12, H - 14, "start", "#444444", "%s", d->conditions ? d->conditions : "");
    svg_end(&o);
    free(buf);
    free(front);
    free(label);
    free(labels);
    return o.failed ? -1 : 0;
}

/* ---------- the quantization report: quality against file size ---------- */

int lab_quant_svg(FILE *f, const LabQuantReport *r) {
    LabOut o = {.f = f};
    size_t n = r->n;
    double *buf = calloc(3 * (n ? n : 1), sizeof *buf);
    const char **labels = calloc(n ? n : 1, sizeof *labels);
    if (!buf || !labels) {
        free(buf);
        free(labels);
        return -1;
    }
    double *x = buf, *kl = buf + n, *bpb = buf + 2 * n;
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)r->rows[i].file_bytes / 1e6;
        kl[i] = r->rows[i].kl_mean;
        bpb[i] = r->rows[i].bits_per_byte;
        labels[i] = r->rows[i].type;
    }
    double W = 1180, H = 520;
    char title[LAB_NAME_MAX + 64];
    snprintf(title, sizeof title, "Quantization: quality against file size (%s)", path_basename(r->model));
    svg_begin(&o, W, H, title);
    Scatter s1 = {"KL divergence from the reference (lower is better)", "GGUF file size (MB)",
                  "mean KL(reference || quantized) per token (nats)", x, kl, labels, n, false, NULL, NULL, true};
    scatter_panel(&o, &s1, 90, 70, 440, 330);
    Scatter s2 = {"bits per byte on the text (lower is better)", "GGUF file size (MB)", "bits per byte", x, bpb,
                  labels, n, false, NULL, NULL, false};
    scatter_panel(&o, &s2, 90 + 520, 70, 440, 330);
    if (isfinite(r->ref_bits_per_byte)) { /* the reference's own bits per byte, for scale */
        svg_text(&o, 90 + 520 + 440, 70 + 330 + 58, "end", "#555555", "reference (%s): %.4f bits per byte",
                 r->reference_dtype, r->ref_bits_per_byte);
    }
    svg_text(&o, 12, H - 30, "start", "#444444", "text %s (%lld bytes); reference %s (%s)", r->text,
             (long long)r->text_bytes, path_basename(r->reference), r->reference_dtype);
    svg_text(&o, 12, H - 14, "start", "#444444", "%s", r->conditions ? r->conditions : "");
    svg_end(&o);
    free(buf);
    free(labels);
    return o.failed ? -1 : 0;
}
