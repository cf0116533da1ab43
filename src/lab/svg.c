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
