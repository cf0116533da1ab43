/* lab_export: the record as files a report can use. One row writer serves CSV (RFC 4180), JSON
 * lines, Markdown and LaTeX tables, so every format carries the same columns (README "Statistics
 * and export" documents them); summaries come from lab_stats; SVG charts from svg.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ablab_config.h"
#include "engine.h"
#include "lab_internal.h"

/* ---------- output ---------- */

static void out_puts(LabOut *o, const char *s) {
    if (fputs(s, o->f) == EOF) o->failed = true;
}

static void out_printf(LabOut *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(LabOut *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(o->f, fmt, ap) < 0) o->failed = true;
    va_end(ap);
}

/* ---------- the row writer ---------- */

typedef struct {
    LabOut *o;
    LabExportFormat fmt;
    int row;            /* rows written so far */
    int col;            /* columns in the current row */
    Buf header, line;   /* the header is written before the first row */
    int n_cols;
    /* LaTeX: the whole table is kept (names, then every cell as text, row by row) so that the
     * column widths can be fitted to the text width before anything is written */
    char **cell;
    size_t n_cell, cap_cell;
    bool oom;
} Rows;

static void esc_csv(Buf *b, const char *s) {
    bool quote = strpbrk(s, ",\"\r\n") != NULL || (*s == ' ' || (*s && s[strlen(s) - 1] == ' '));
    if (!quote) {
        buf_puts(b, s);
        return;
    }
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') buf_putc(b, '"');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void esc_json(Buf *b, const char *s) {
    buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) buf_printf(b, "\\u%04x", *p);
            else buf_putc(b, (char)*p);
        }
    }
    buf_putc(b, '"');
}

static void esc_md(Buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|') buf_puts(b, "\\|");
        else if (*s == '\n') buf_puts(b, "<br>");
        else if (*s == '\r') continue;
        else buf_putc(b, *s);
    }
}

static void esc_tex(Buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_puts(b, "\\textbackslash{}"); break;
        case '&': case '%': case '$': case '#': case '_': case '{': case '}':
            buf_putc(b, '\\');
            buf_putc(b, *s);
            break;
        case '~': buf_puts(b, "\\textasciitilde{}"); break;
        case '^': buf_puts(b, "\\textasciicircum{}"); break;
        case '\n': buf_putc(b, ' '); break;
        default: buf_putc(b, *s);
        }
    }
}

/* ---------- LaTeX tables: longtable + booktabs, columns fitted to \linewidth ---------- */

/* Characters pdflatex (T1 + utf8 inputenc) sets: ASCII, Latin-1 and a few punctuation marks. */
static bool tex_settable(uint32_t cp) {
    return (cp >= 0x20 && cp < 0x7f) || (cp >= 0xa0 && cp <= 0xff) || cp == 0x2013 || cp == 0x2014 ||
           cp == 0x2018 || cp == 0x2019 || cp == 0x201c || cp == 0x201d || cp == 0x2026;
}

/* Table text: escaped, with a break allowed after punctuation and inside any run of more than
 * RUN_MAX characters (so no word is wider than its column); characters pdflatex cannot set are
 * written as '?'. Returns the longest unbreakable run in characters. */
#define RUN_MAX 6
static int esc_tex_text(Buf *b, const char *s, int run_max) {
    int run = 0, longest = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        char one[8];
        if (cp == '\n' || cp == '\r' || cp == '\t' || cp == ' ') {
            buf_putc(b, ' ');
            run = 0;
            i += (size_t)k;
            continue;
        }
        if (run_max && run >= run_max) {
            buf_puts(b, "\\allowbreak{}");
            run = 0;
        }
        if (!tex_settable(cp)) {
            buf_putc(b, '?');
        } else if (cp < 0x80) {
            one[0] = (char)cp;
            one[1] = 0;
            esc_tex(b, one);
        } else {
            buf_append(b, s + i, (size_t)k);
        }
        run++;
        if (run > longest) longest = run;
        if (strchr("/._-,:;=)]", (int)cp) && cp < 0x80) {
            buf_puts(b, "\\allowbreak{}");
            run = 0;
        }
        i += (size_t)k;
    }
    return longest;
}
static int esc_tex_cell(Buf *b, const char *s) { return esc_tex_text(b, s, RUN_MAX); }

/* The width of a text in characters (code points). */
static size_t text_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void rows_keep(Rows *r, const char *v) {
    if (r->oom) return;
    if (r->n_cell == r->cap_cell) {
        size_t cap = r->cap_cell ? r->cap_cell * 2 : 64;
        char **c = realloc(r->cell, cap * sizeof *c);
        if (!c) {
            r->oom = true;
            return;
        }
        r->cell = c;
        r->cap_cell = cap;
    }
    if (!(r->cell[r->n_cell] = strdup(v))) r->oom = true;
    else r->n_cell++;
}

/* Writes the kept table: \scriptsize, 2pt column gaps, each column a ragged-right p{} whose width
 * is its longest unbreakable run (at ~4.3pt a character) plus a share of the rest by how much
 * text it holds, so the columns add up to exactly \linewidth (taken as 345pt, article's at 10pt,
 * for the estimate; the widths themselves are fractions of \linewidth). The header repeats on
 * every page. */
static void tex_table(Rows *r) {
    LabOut *o = r->o;
    size_t nc = (size_t)r->n_cols;
    if (!nc || r->n_cell % nc) return;
    size_t nrows = r->n_cell / nc;
    double *need = calloc(nc, sizeof *need), *want = calloc(nc, sizeof *want);
    Buf *esc = calloc(r->n_cell, sizeof *esc);
    if (!need || !want || !esc) {
        o->failed = true;
        goto done;
    }
    for (size_t i = 0; i < r->n_cell; i++) {
        size_t c = i % nc;
        int unit = esc_tex_cell(&esc[i], r->cell[i]);
        if (!esc[i].data) buf_puts(&esc[i], "");
        double chars = (double)text_chars(r->cell[i]);
        if (unit > need[c]) need[c] = unit;
        if (chars > 60) chars = 60;
        if (chars > want[c]) want[c] = chars;
    }
    const double L = 345.0, per_char = 4.3, gap = 4.0; /* pt */
    double sum_need = 0, sum_more = 0;
    for (size_t c = 0; c < nc; c++) {
        need[c] = need[c] * per_char + gap;
        want[c] = want[c] * per_char + gap;
        if (want[c] < need[c]) want[c] = need[c];
        sum_need += need[c];
        sum_more += want[c] - need[c];
    }
    double spare = L - sum_need;
    out_puts(o, "\\begingroup\\scriptsize\\setlength{\\tabcolsep}{2pt}\n\\begin{longtable}{@{}");
    double left = 1.0;
    for (size_t c = 0; c < nc; c++) {
        double w;
        if (spare <= 0) w = need[c] / sum_need;                    /* too many columns: shrink all */
        else w = (need[c] + (sum_more > 0 ? spare * (want[c] - need[c]) / sum_more : spare / (double)nc)) / L;
        if (c + 1 == nc) w = left;
        w = floor(w * 10000) / 10000;
        left -= w;
        /* with @{} at both ends there are nc-1 gaps of 2\tabcolsep: each column gives up its share */
        out_printf(o, ">{\\raggedright\\arraybackslash\\hspace{0pt}}p{\\dimexpr %.4f\\linewidth-%.3fpt\\relax}", w,
                   4.0 * (double)(nc - 1) / (double)nc);
    }
    out_puts(o, "@{}}\n\\toprule\n");
    for (size_t c = 0; c < nc; c++) {
        out_puts(o, c ? " & " : "");
        out_puts(o, esc[c].data);
    }
    out_puts(o, " \\\\\n\\midrule\n\\endhead\n\\bottomrule\n\\endfoot\n");
    for (size_t row = 1; row < nrows; row++) {
        for (size_t c = 0; c < nc; c++) {
            out_puts(o, c ? " & " : "");
            out_puts(o, esc[row * nc + c].data);
        }
        out_puts(o, " \\\\\n");
    }
    out_puts(o, "\\end{longtable}\n\\endgroup\n");
done:
    if (esc)
        for (size_t i = 0; i < r->n_cell; i++) buf_free(&esc[i]);
    free(esc);
    free(need);
    free(want);
}

static void rows_begin(Rows *r) {
    r->col = 0;
    buf_clear(&r->line);
    if (r->fmt == LAB_FMT_JSONL) buf_putc(&r->line, '{');
    if (r->fmt == LAB_FMT_JSON) buf_puts(&r->line, r->row ? ",\n  {" : "  {"); /* an array's elements */
    if (r->fmt == LAB_FMT_MD) buf_puts(&r->line, "|");
}

/* One field. text is the value as text (NULL = empty / JSON null); is_num marks numbers (JSON
 * writes them bare); brief fields are the ones Markdown and LaTeX tables show. */
static void rows_field(Rows *r, const char *name, const char *text, bool is_num, bool brief) {
    bool table = r->fmt == LAB_FMT_MD || r->fmt == LAB_FMT_TEX;
    if (table && !brief) return;
    const char *v = text ? text : "";
    if (r->row == 0) {
        Buf *h = &r->header;
        if (r->fmt == LAB_FMT_CSV) {
            if (r->col) buf_putc(h, ',');
            esc_csv(h, name);
        } else if (r->fmt == LAB_FMT_MD) {
            buf_putc(h, ' ');
            esc_md(h, name);
            buf_puts(h, " |");
        } else if (r->fmt == LAB_FMT_TEX) {
            /* the names go first: the header line of the kept table */
            rows_keep(r, name);
            if (r->col && !r->oom) { /* move it before the first row's values kept so far */
                char *nm = r->cell[r->n_cell - 1];
                memmove(&r->cell[r->col + 1], &r->cell[r->col], (size_t)(2 * r->col - r->col) * sizeof *r->cell);
                r->cell[r->col] = nm;
            }
        }
        r->n_cols = r->col + 1;
    }
    Buf *b = &r->line;
    switch (r->fmt) {
    case LAB_FMT_CSV:
        if (r->col) buf_putc(b, ',');
        esc_csv(b, v);
        break;
    case LAB_FMT_JSONL:
    case LAB_FMT_JSON:
        if (r->col) buf_putc(b, ',');
        esc_json(b, name);
        buf_putc(b, ':');
        if (!text) buf_puts(b, "null");
        else if (is_num) buf_puts(b, text);
        else esc_json(b, text);
        break;
    case LAB_FMT_MD:
        buf_putc(b, ' ');
        esc_md(b, v);
        buf_puts(b, " |");
        break;
    case LAB_FMT_TEX: rows_keep(r, v); break;
    default: break;
    }
    r->col++;
}

static void f_str(Rows *r, const char *name, const char *v, bool brief) { rows_field(r, name, v, false, brief); }
static void f_int(Rows *r, const char *name, long long v, bool brief) {
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    rows_field(r, name, t, true, brief);
}
/* The shortest decimal that reads back as exactly v (0.8 as "0.8", not 0.80000000000000004). */
static void shortest(double v, char out[32]) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

/* An integer column whose value may be unknown (empty in CSV, null in JSON lines). */
static void f_int_known(Rows *r, const char *name, long long v, bool known) {
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    rows_field(r, name, known ? t : NULL, true, false);
}

static void f_num(Rows *r, const char *name, double v, const char *fmt, bool brief) {
    char t[64];
    if (!isfinite(v)) {
        rows_field(r, name, NULL, true, brief);
        return;
    }
    if (fmt) snprintf(t, sizeof t, fmt, v);
    else shortest(v, t);
    rows_field(r, name, t, true, brief);
}
/* A column only the Markdown and LaTeX tables have. */
static void f_table(Rows *r, const char *name, const char *v) {
    if (r->fmt == LAB_FMT_MD || r->fmt == LAB_FMT_TEX) rows_field(r, name, v, false, true);
}
/* The first `max` characters of s with "..." when cut (a shortened prompt for tables). */
static void shorten(char *out, size_t n, const char *s, size_t max) {
    size_t i = 0, chars = 0, len = strlen(s);
    while (i < len && chars < max) {
        int k = utf8_seq_len((const unsigned char *)s + i, len - i);
        i += k > 0 ? (size_t)k : 1;
        chars++;
    }
    if (i + 4 > n) i = n - 4;
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80) i--;
    memcpy(out, s, i);
    snprintf(out + i, n - i, "%s", i < len ? "..." : "");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}
static void f_bool(Rows *r, const char *name, bool v, bool brief) {
    const char *t = r->fmt == LAB_FMT_JSONL || r->fmt == LAB_FMT_JSON ? (v ? "true" : "false")
                    : r->fmt == LAB_FMT_CSV ? (v ? "1" : "0")
                                            : (v ? "yes" : "no");
    rows_field(r, name, t, true, brief);
}

static void iso_time(int64_t ms, char out[64]) {
    if (ms <= 0) {
        out[0] = 0;
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) { /* past what a calendar holds: a foreign file's value, shown as is */
        snprintf(out, 64, "%lld ms", (long long)ms);
        return;
    }
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}
static void f_time(Rows *r, const char *name, int64_t ms, bool brief) {
    char t[64];
    iso_time(ms, t);
    rows_field(r, name, ms > 0 ? t : NULL, false, brief);
}

static void rows_end(Rows *r) {
    LabOut *o = r->o;
    if (r->row == 0) {
        switch (r->fmt) {
        case LAB_FMT_CSV:
            out_puts(o, r->header.data ? r->header.data : "");
            out_puts(o, "\r\n");
            break;
        case LAB_FMT_MD:
            out_puts(o, "|");
            out_puts(o, r->header.data ? r->header.data : "");
            out_puts(o, "\n|");
            for (int i = 0; i < r->n_cols; i++) out_puts(o, "---|");
            out_puts(o, "\n");
            break;
        default: break;
        }
    }
    if (r->fmt == LAB_FMT_TEX) { /* kept, written by rows_finish */
        r->row++;
        return;
    }
    switch (r->fmt) {
    case LAB_FMT_CSV: buf_puts(&r->line, "\r\n"); break; /* RFC 4180 line ends */
    case LAB_FMT_JSONL: buf_puts(&r->line, "}\n"); break;
    case LAB_FMT_JSON: buf_putc(&r->line, '}'); break;
    case LAB_FMT_MD: buf_puts(&r->line, "\n"); break;
    default: break;
    }
    if (!r->line.data) o->failed = true;
    else out_puts(o, r->line.data);
    r->row++;
}

static void rows_finish(Rows *r, const char *empty_note) {
    if (r->row == 0 && (r->fmt == LAB_FMT_MD || r->fmt == LAB_FMT_TEX)) {
        out_printf(r->o, r->fmt == LAB_FMT_MD ? "_%s_\n" : "\\emph{%s}\n", empty_note);
    } else if (r->row > 0 && r->fmt == LAB_FMT_TEX) {
        if (r->oom) r->o->failed = true;
        else tex_table(r);
    }
    for (size_t i = 0; i < r->n_cell; i++) free(r->cell[i]);
    free(r->cell);
    buf_free(&r->header);
    buf_free(&r->line);
    memset(r, 0, sizeof *r);
}

/* ---------- responses, ratings, sessions ---------- */

typedef struct {
    Rows *r;
    Lab *l;
    const int64_t *sessions;  /* in scope (id order) */
    size_t n_sessions;
    const char *participant;  /* NULL = any */
} RowsCtx;
static bool in_scope(const RowsCtx *c, int64_t session_id) { return lab_scope_has(c->sessions, c->n_sessions, session_id); }

static int response_row(const DbResponse *x, void *ud) {
    if (!in_scope(ud, x->session_id)) return 0;
    Rows *r = ((RowsCtx *)ud)->r;
    rows_begin(r);
    f_int(r, "response_id", x->id, true);
    f_int(r, "session_id", x->session_id, false);
    f_str(r, "session", x->session_name, false);
    f_int(r, "pair_id", x->pair_id, true);
    f_int(r, "prompt_id", x->prompt_id, false);
    f_int(r, "prompt_position", x->prompt_position, false);
    f_int(r, "rep", x->rep, false);
    f_str(r, "prompt", x->prompt, false);
    f_str(r, "slot", x->slot ? "B" : "A", true);
    f_int(r, "model_id", x->model_id, false);
    f_str(r, "model", x->model_name, true);
    f_str(r, "side_shown", x->side ? "right" : "left", false);
    f_bool(r, "blind", x->blind, false);
    /* the settings stored with the response: one column per row of the settings table */
    LabMetrics m;
    LabSampling s;
    lab_metrics_from_response(x, &m, &s);
    for (int i = 0; i < LAB_SAMPLING_N; i++) {
        const EngSetting *t = eng_setting((EngSettingId)i);
        if (t->type == ENG_SETTING_SEED) f_int(r, t->name, s.seed, false);
        else if (t->type == ENG_SETTING_INT) f_int(r, t->name, (long long)lab_sampling_value(&s, i), false);
        else f_num(r, t->name, lab_sampling_value(&s, i), NULL, false);
    }
    f_str(r, "output", x->output, false);
    /* the turn: how the prompt was sent, the conversation it belongs to and the exact text the
     * model was given (empty for responses recorded before schema 9) */
    f_str(r, "mode", x->chat_mode, false);
    if (x->chat_mode && *x->chat_mode) f_int(r, "conversation_id", x->conversation_id, false);
    else f_str(r, "conversation_id", "", false);
    if (x->chat_mode && *x->chat_mode) f_int(r, "turn", x->turn, false);
    else f_str(r, "turn", "", false);
    f_str(r, "messages", x->messages_json, false);
    f_str(r, "prompt_text", x->prompt_text, false);
    Buf ids = {0};
    for (size_t i = 0; i < x->n_token_ids; i++) buf_printf(&ids, i ? " %d" : "%d", x->token_ids[i]);
    f_str(r, "token_ids", ids.data ? ids.data : "", false);
    buf_free(&ids);
    f_int(r, "n_prompt_tokens", x->n_prompt, true);
    f_int(r, "n_gen_tokens", x->n_gen, true);
    f_str(r, "stop_reason", x->stop_reason, true);
    f_num(r, "ttft_ms", x->ttft_ms, r->fmt == LAB_FMT_MD || r->fmt == LAB_FMT_TEX ? "%.1f" : NULL, true);
    /* a remote arm's memory, threads and per-token times are the server's: unknown (empty, null) */
    bool rem = m.remote;
    f_num(r, "prefill_ms", rem ? NAN : x->prefill_ms, NULL, false);
    f_num(r, "decode_tok_s", x->decode_tok_s, r->fmt == LAB_FMT_MD || r->fmt == LAB_FMT_TEX ? "%.1f" : NULL, true);
    f_num(r, "p50_token_ms", rem ? NAN : x->p50_ms, NULL, false);
    f_num(r, "p95_token_ms", rem ? NAN : x->p95_ms, NULL, false);
    f_num(r, "total_ms", x->total_ms, r->fmt == LAB_FMT_MD || r->fmt == LAB_FMT_TEX ? "%.1f" : NULL, true);
    f_int_known(r, "bytes_weights_mapped", x->bytes_weights_mapped, !rem);
    f_int_known(r, "bytes_weights_owned", x->bytes_weights_owned, !rem);
    f_int_known(r, "bytes_kv", x->bytes_kv, !rem);
    f_int_known(r, "bytes_scratch", x->bytes_scratch, !rem);
    f_int_known(r, "peak_rss_bytes", x->peak_rss, !rem);
    f_int_known(r, "threads", x->threads, !rem);
    f_str(r, "build_version", x->build_version, false);
    f_str(r, "cpu_model", x->cpu_model, false);
    f_time(r, "created_utc", x->created_ms, false);
    rows_end(r);
    return r->o->failed;
}

static int rating_row(const DbRating *x, void *ud) {
    const RowsCtx *c = ud;
    if (!in_scope(c, x->session_id) || (c->participant && strcmp(c->participant, x->participant))) return 0;
    Rows *r = c->r;
    rows_begin(r);
    /* tables: who rated which prompt how, with the scores, tags and comment (the prompt shortened) */
    char prompt[256];
    shorten(prompt, sizeof prompt, x->prompt ? x->prompt : "", 60);
    f_int(r, "rating_id", x->id, false);
    f_int(r, "session_id", x->session_id, false);
    f_str(r, "session", x->session_name, false);
    f_int(r, "pair_id", x->pair_id, true);
    f_int(r, "prompt_id", x->prompt_id, false);
    f_int(r, "rep", x->rep, false);
    f_str(r, "prompt", x->prompt, false);
    f_table(r, "prompt", prompt);
    f_str(r, "participant", x->participant, true);
    f_str(r, "model_a", x->model_name[0], true);
    f_str(r, "model_b", x->model_name[1], true);
    f_str(r, "choice", x->choice, false);
    const char *winner = !strcmp(x->choice, "a") ? x->model_name[0] : !strcmp(x->choice, "b") ? x->model_name[1] : "";
    f_str(r, "winner", winner, false);
    f_table(r, "vote", *winner ? winner : !strcmp(x->choice, "tie") ? "tie" : "both bad");
    f_str(r, "shown_left", x->model_name[x->left_slot ? 1 : 0], false);
    f_str(r, "chosen_side", x->chosen_side < 0 ? "" : x->chosen_side ? "right" : "left", false);
    if (x->score[0]) f_int(r, "score_a", x->score[0], true);
    else f_str(r, "score_a", NULL, true);
    if (x->score[1]) f_int(r, "score_b", x->score[1], true);
    else f_str(r, "score_b", NULL, true);
    f_str(r, "tags", x->tags, true);
    f_str(r, "comment", x->comment, true);
    f_num(r, "decide_ms", x->decide_ms >= 0 ? x->decide_ms : NAN, NULL, false);
    f_bool(r, "blind", x->blind, true);
    f_time(r, "created_utc", x->created_ms, false);
    rows_end(r);
    return r->o->failed;
}

static int session_row(const DbSession *x, void *ud) {
    RowsCtx *c = ud;
    if (!in_scope(c, x->id)) return 0;
    Rows *r = c->r;
    int np = 0, nc = 0, nr = 0;
    LabErr e = {0};
    db_session_counts(c->l->db, x->id, NULL, &np, &nc, &nr, &e);
    rows_begin(r);
    f_int(r, "session_id", x->id, true);
    f_str(r, "name", x->name, true);
    f_str(r, "kind", x->kind, true);
    f_str(r, "participant", x->participant, true);
    f_str(r, "prompt_set", x->prompt_set, false);
    f_bool(r, "blind", x->blind, true);
    f_bool(r, "consent", x->consent, false);
    f_int(r, "seed", x->seed, false);
    f_time(r, "started_utc", x->started_ms, true);
    f_time(r, "ended_utc", x->ended_ms, false);
    f_int(r, "prompts", np, true);
    f_int(r, "complete_pairs", nc, true);
    f_int(r, "rated_pairs", nr, true);
    f_str(r, "notes", x->notes, false);
    f_str(r, "build_version", x->build_version, false);
    f_str(r, "cpu_model", x->cpu_model, false);
    rows_end(r);
    return r->o->failed;
}

/* Needs l->mu (the callbacks read the record). */
static int export_table(Lab *l, LabOut *o, LabExportFormat fmt, LabExportWhat what, const LabScope *sc, LabErr *e) {
    Rows r = {.o = o, .fmt = fmt};
    int64_t *ids;
    size_t n_ids;
    if (lab_scope_sessions(l, sc, &ids, &n_ids, e)) return -1;
    RowsCtx c = {&r, l, ids, n_ids, sc->participant};
    int64_t session = sc->session_id;
    int rc;
    const char *empty = "no rows";
    if (what == LAB_EXPORT_RESPONSES) {
        rc = db_responses_each(l->db, session, 0, response_row, &c, e);
        empty = "no responses recorded";
    } else if (what == LAB_EXPORT_RATINGS) {
        rc = db_ratings_each(l->db, session, false, rating_row, &c, e);
        empty = "no ratings recorded";
    } else {
        rc = db_sessions_each(l->db, session, session_row, &c, e);
        empty = "no sessions recorded";
    }
    rows_finish(&r, empty);
    free(ids);
    return rc;
}

/* ---------- summary ---------- */

static void fmt_ci(char *t, size_t n, double v, LabInterval ci, bool pct) {
    if (!isfinite(v)) snprintf(t, n, "–");
    else if (pct) snprintf(t, n, "%.1f%% [%.1f, %.1f]", 100 * v, 100 * ci.lo, 100 * ci.hi);
    else if (isfinite(ci.lo)) snprintf(t, n, "%.0f [%.0f, %.0f]", v, ci.lo, ci.hi);
    else snprintf(t, n, "%.0f", v);
}

static void fmt_params(char *t, size_t n, int64_t p) {
    if (p >= 1000000000) snprintf(t, n, "%.2fB", p / 1e9);
    else if (p >= 1000000) snprintf(t, n, "%.1fM", p / 1e6);
    else if (p >= 1000) snprintf(t, n, "%.0fK", p / 1e3);
    else if (p >= 0) snprintf(t, n, "%lld", (long long)p);
    else snprintf(t, n, "unknown");
}

static void fmt_p(char *t, size_t n, double p) {
    if (!isfinite(p)) snprintf(t, n, "–");
    else if (p < 0.001) snprintf(t, n, "< 0.001");
    else snprintf(t, n, "%.3f", p);
}

static void heading(LabOut *o, LabExportFormat fmt, const char *title) {
    if (fmt == LAB_FMT_MD) out_printf(o, "\n### %s\n\n", title);
    else if (fmt == LAB_FMT_TEX) out_printf(o, "\n\\subsection*{%s}\n", title);
}

/* The per-model summary columns of csv and jsonl (after the model's name). */
static void model_fields(Rows *r, const LabModelStats *m) {
    f_int(r, "model_id", m->id, true);
    f_str(r, "arch", m->arch, true);
    f_str(r, "dtype", m->dtype, true);
    f_int_known(r, "n_params", m->n_params, m->n_params >= 0);
    f_num(r, "elo", m->rated ? m->elo : NAN, NULL, true);
    f_num(r, "elo_ci_low", m->rated ? m->elo_ci.lo : NAN, NULL, true);
    f_num(r, "elo_ci_high", m->rated ? m->elo_ci.hi : NAN, NULL, true);
    f_int(r, "responses", m->n_responses, true);
    f_num(r, "ttft_ms_median", m->ttft_med, NULL, true);
    f_num(r, "ttft_ms_p90", m->ttft_p90, NULL, true);
    f_num(r, "decode_tok_s_median", m->tok_s_med, NULL, true);
    f_num(r, "decode_tok_s_p90", m->tok_s_p90, NULL, true);
    f_num(r, "total_ms_median", m->total_med, NULL, true);
    f_num(r, "total_ms_p90", m->total_p90, NULL, true);
    f_num(r, "peak_rss_bytes_median", m->rss_med, NULL, true);
    f_num(r, "peak_rss_bytes_p90", m->rss_p90, NULL, true);
    f_num(r, "engine_bytes_median", m->engine_med, NULL, true);
    f_num(r, "engine_bytes_p90", m->engine_p90, NULL, true);
}

/* A pooled record (`ablab merge`) shows each machine's share; a record of one machine does not. */
static bool show_machines(const LabStats *s) { return s->n_machines > 1 || (s->n_machines == 1 && !s->machines[0].own); }

/* One row per machine and model pair (one per machine when nothing was rated): its sessions,
 * responses and votes beside the pooled figures. */
static void machine_rows(LabOut *o, LabExportFormat fmt, const LabStats *s) {
    bool table = fmt == LAB_FMT_MD || fmt == LAB_FMT_TEX;
    Rows r = {.o = o, .fmt = fmt};
    for (size_t i = 0; i < s->n_machines; i++) {
        const LabMachineStats *m = &s->machines[i];
        for (size_t k = 0; k < (s->n_pairs ? s->n_pairs : 1); k++) {
            const LabPairStats *p = s->n_pairs ? &s->pairs[k] : NULL;
            const int *v = p ? &m->pair_votes[k * 4] : NULL;
            rows_begin(&r);
            if (fmt == LAB_FMT_JSONL) f_str(&r, "kind", "machine", false);
            f_str(&r, "machine", m->host, true);
            char id8[9];
            snprintf(id8, sizeof id8, "%.8s", m->uuid); /* as in the session names, NAME@HOST:ID8 */
            f_str(&r, table ? "id" : "machine_uuid", table ? id8 : m->uuid, true);
            f_str(&r, table ? "merged from" : "merged_from", m->own ? (table ? "(this record)" : "") : m->file, true);
            f_int(&r, "sessions", m->n_sessions, true);
            f_int(&r, "responses", m->n_responses, true);
            f_int(&r, "votes", m->n_votes, true);
            f_str(&r, table ? "model A" : "model_a", p ? p->name[0] : "", true);
            f_str(&r, table ? "model B" : "model_b", p ? p->name[1] : "", true);
            f_int(&r, table ? "A wins" : "wins_a", v ? v[0] : 0, true);
            f_int(&r, table ? "B wins" : "wins_b", v ? v[1] : 0, true);
            f_int(&r, "ties", v ? v[2] : 0, true);
            f_int(&r, table ? "both bad" : "both_bad", v ? v[3] : 0, true);
            rows_end(&r);
        }
    }
    rows_finish(&r, "no machine contributed");
}

/* Summary rows: machine formats get exact numbers, tables get what a reader wants to see. */
static void summary_tables(LabOut *o, LabExportFormat fmt, const LabStats *s) {
    bool table = fmt == LAB_FMT_MD || fmt == LAB_FMT_TEX;
    char t[96];
    heading(o, fmt, "Preference between the models");
    Rows r = {.o = o, .fmt = fmt};
    for (size_t i = 0; i < s->n_pairs; i++) {
        const LabPairStats *p = &s->pairs[i];
        rows_begin(&r);
        if (fmt == LAB_FMT_JSONL) f_str(&r, "kind", "pair", false);
        f_str(&r, table ? "model A" : "model_a", p->name[0], true);
        f_str(&r, table ? "model B" : "model_b", p->name[1], true);
        f_int(&r, "votes", p->votes, true);
        f_int(&r, table ? "A wins" : "wins_a", p->wins[0], true);
        f_int(&r, table ? "B wins" : "wins_b", p->wins[1], true);
        f_int(&r, "ties", p->ties, true);
        f_int(&r, table ? "both bad" : "both_bad", p->both_bad, true);
        if (table) {
            fmt_ci(t, sizeof t, p->win_rate, p->win_ci, true);
            f_str(&r, "A win rate [95% CI]", t, true);
            fmt_p(t, sizeof t, p->sign_p);
            f_str(&r, "sign test p", t, true);
            fmt_ci(t, sizeof t, p->left_rate, p->left_ci, true);
            f_str(&r, "left-side win rate [95% CI]", t, true);
            if (p->more_votes < 0) snprintf(t, sizeof t, "–");
            else snprintf(t, sizeof t, "%d", p->more_votes);
            f_str(&r, "more votes to separate", t, true);
        } else {
            f_num(&r, "win_rate_a", p->win_rate, NULL, true);
            f_num(&r, "win_rate_a_ci_low", p->win_ci.lo, NULL, true);
            f_num(&r, "win_rate_a_ci_high", p->win_ci.hi, NULL, true);
            f_num(&r, "sign_test_p", p->sign_p, NULL, true);
            f_int(&r, "left_wins", p->left_wins, true);
            f_num(&r, "left_win_rate", p->left_rate, NULL, true);
            f_num(&r, "left_win_rate_ci_low", p->left_ci.lo, NULL, true);
            f_num(&r, "left_win_rate_ci_high", p->left_ci.hi, NULL, true);
            f_int(&r, "more_votes_to_separate", p->more_votes, true);
            f_num(&r, "mean_score_a", p->mean_score[0], NULL, true);
            f_num(&r, "mean_score_b", p->mean_score[1], NULL, true);
        }
        rows_end(&r);
    }
    rows_finish(&r, "no votes yet");
    if (fmt == LAB_FMT_CSV) return; /* one table per CSV file: per-model rows go to models.csv */
    heading(o, fmt, "Models: Bradley–Terry rating, speed and memory");
    memset(&r, 0, sizeof r);
    r.o = o;
    r.fmt = fmt;
    for (size_t i = 0; i < s->n_models; i++) {
        const LabModelStats *m = &s->models[i];
        rows_begin(&r);
        if (fmt == LAB_FMT_JSONL) f_str(&r, "kind", "model", false);
        f_str(&r, "model", m->name, true);
        if (table) {
            fmt_params(t, sizeof t, m->n_params);
            f_str(&r, "params", t, true);
            f_str(&r, "dtype", m->dtype, true);
            fmt_ci(t, sizeof t, m->elo, m->elo_ci, false);
            f_str(&r, "Elo [95% CI]", m->rated ? t : "–", true);
            f_int(&r, "responses", m->n_responses, true);
            snprintf(t, sizeof t, "%.1f / %.1f", m->ttft_med, m->ttft_p90);
            f_str(&r, "TTFT ms (median / p90)", m->n_responses ? t : "–", true);
            snprintf(t, sizeof t, "%.1f / %.1f", m->tok_s_med, m->tok_s_p90);
            f_str(&r, "tokens/s (median / p90)", m->n_responses ? t : "–", true);
            if (isnan(m->engine_med)) snprintf(t, sizeof t, "unknown (remote)");
            else snprintf(t, sizeof t, "%.1f / %.1f", m->engine_med / 1048576.0, m->rss_med / 1048576.0);
            f_str(&r, "MiB engine / peak RSS (median)", m->n_responses ? t : "–", true);
        } else {
            model_fields(&r, m);
        }
        rows_end(&r);
    }
    rows_finish(&r, "no models in the record");
    if (show_machines(s)) {
        heading(o, fmt, "Per machine (pooled with ablab merge)");
        machine_rows(o, fmt, s);
    }
    if (fmt == LAB_FMT_JSONL) {
        out_printf(o, "{\"kind\":\"agreement\",\"method\":\"%s\",\"items\":%d,\"kappa\":", s->kappa_kind,
                   s->kappa_items);
        char k[32];
        shortest(s->kappa, k);
        if (isfinite(s->kappa)) out_printf(o, "%s}\n", k);
        else out_puts(o, "null}\n");
        return;
    }
    heading(o, fmt, "Agreement between raters");
    if (!strcmp(s->kappa_kind, "none"))
        out_printf(o, "%s\n", s->n_participants > 1 ? "No prompt was rated by more than one participant, so agreement "
                                                      "cannot be measured."
                                                    : "One participant: agreement between raters does not apply.");
    else {
        const char *who = !strcmp(s->kappa_kind, "cohen") ? "Cohen" : "Fleiss";
        const char *k = fmt == LAB_FMT_TEX ? "$\\kappa$" : "κ";
        if (isfinite(s->kappa))
            out_printf(o, "%s's %s = %.3f over %d prompt%s rated by several participants.\n", who, k, s->kappa,
                       s->kappa_items, s->kappa_items == 1 ? "" : "s");
        else
            out_printf(o, "%s's %s is undefined over these %d prompt%s: every rating fell in the same category, "
                          "so chance agreement is already complete.\n",
                       who, k, s->kappa_items, s->kappa_items == 1 ? "" : "s");
    }
}

/* ---------- the methods paragraph ---------- */

static void utc_date(int64_t ms, char out[48]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm)) snprintf(out, 48, "?");
    else snprintf(out, 48, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static const char *pl(int n) { return n == 1 ? "" : "s"; }

/* Every sentence states what the record holds for the scope (LabStats.facts): counts, the seeds
 * and settings actually used, how pairs were shown, who rated, when, on what machine. Nothing is
 * said about what was not recorded. */
static void methods(LabOut *o, LabExportFormat fmt, const LabStats *s) {
    const LabFacts *f = &s->facts;
    bool tex = fmt == LAB_FMT_TEX;
    if (tex) out_puts(o, "\\subsection*{Methods}\n");
    else out_puts(o, "\n### Methods\n\n");
    /* the paragraph is written as plain text and escaped once at the end (LaTeX: %, _, &, ...) */
    Buf para = {0};
    Buf *pb = &para;
    buf_printf(pb, "We compared %zu language model%s", s->n_models, s->n_models == 1 ? "" : "s");
    for (size_t i = 0; i < s->n_models; i++) {
        char p[32];
        fmt_params(p, sizeof p, s->models[i].n_params);
        buf_printf(pb, "%s%s (%s, %s parameters, %s weights)", i == 0 ? ": " : i + 1 == s->n_models ? " and " : ", ",
                   s->models[i].name, s->models[i].arch, p, s->models[i].dtype);
    }
    buf_printf(pb, ". The statistics pool %s: %d session%s (%d lab, %d study, %d run)", s->scope, s->n_sessions,
               pl(s->n_sessions), f->n_sessions_kind[0], f->n_sessions_kind[1], f->n_sessions_kind[2]);
    if (f->n_responses) {
        char d0[48], d1[48];
        utc_date(f->first_ms, d0);
        utc_date(f->last_ms, d1);
        if (!strcmp(d0, d1)) buf_printf(pb, ", recorded on %s (UTC)", d0);
        else buf_printf(pb, ", recorded between %s and %s (UTC)", d0, d1);
    }
    buf_printf(pb, ", holding %d response%s in %d complete response pair%s for %d distinct prompt%s (%d prompt "
                   "entr%s across sessions). ",
               f->n_responses, pl(f->n_responses), s->n_pairs_complete, pl(s->n_pairs_complete), s->n_prompts,
               pl(s->n_prompts), f->n_prompt_entries, f->n_prompt_entries == 1 ? "y" : "ies");
    /* where it was recorded: the machines the record itself names (schema 11's sources) */
    if (s->n_machines > 1) {
        buf_printf(pb, "They were recorded on %zu machines and pooled into one record with ablab merge (each "
                       "machine's share is tabled per machine): ", s->n_machines);
        for (size_t i = 0; i < s->n_machines; i++) {
            const LabMachineStats *m = &s->machines[i];
            if (i == 8) {
                buf_printf(pb, " and %zu more", s->n_machines - 8);
                break;
            }
            buf_printf(pb, "%s%s", i == 0 ? "" : i + 1 == s->n_machines ? " and " : ", ", m->host);
            if (m->file[0] && strcmp(m->file, m->host)) buf_printf(pb, " (from %s)", m->file);
            buf_printf(pb, " with %d response%s and %d vote%s", m->n_responses, pl(m->n_responses), m->n_votes,
                       pl(m->n_votes));
        }
        buf_puts(pb, ". ");
    } else if (s->n_machines == 1 && !s->machines[0].own) {
        buf_printf(pb, "All of it was recorded on one machine (%s) and merged into this record from %s. ",
                   s->machines[0].host, s->machines[0].file[0] ? s->machines[0].file : "another record");
    }
    if (f->n_responses) {
        if (f->same_sampling)
            buf_printf(pb, "Every response was generated with temperature %g, top-k %d, top-p %g, min-p %g, repetition "
                           "penalty %g and at most %d new tokens. ",
                       f->temp, f->top_k, f->top_p, f->min_p, f->repeat_penalty, f->max_tokens);
        else buf_puts(pb, "Sampling settings differed between responses (each response's settings are recorded with it). ");
        int others = f->n_responses - f->n_seed_common;
        if (f->n_seeds == 1)
            buf_printf(pb, "Every response used seed %lld. ", (long long)f->seed_common);
        else if (f->n_seed_common > 1)
            buf_printf(pb, "%d of %d responses used seed %lld; the other %d used %d other seed%s. ", f->n_seed_common,
                       f->n_responses, (long long)f->seed_common, others, f->n_seeds - 1, pl(f->n_seeds - 1));
        else
            buf_printf(pb, "Each of the %d responses used its own seed, recorded with it. ", f->n_responses);
    }
    int named = s->n_votes - f->n_anonymous_votes;
    if (s->n_votes == 0) buf_puts(pb, "No response pair was rated. ");
    else {
        if (s->n_participants)
            buf_printf(pb, "%d rater%s (%s) gave %d rating%s", s->n_participants, pl(s->n_participants), f->raters, named,
                       pl(named));
        if (f->n_anonymous_votes)
            buf_printf(pb, "%s%d rating%s %s given in the lab without a participant name (counted as votes, not as "
                           "a rater)",
                       s->n_participants ? ", and " : "", f->n_anonymous_votes, pl(f->n_anonymous_votes),
                       f->n_anonymous_votes == 1 ? "was" : "were");
        buf_printf(pb, ", on %d response pair%s; the latest rating of each rater on each pair counts. ", f->n_rated_pairs,
                   pl(f->n_rated_pairs));
        if (f->n_blind_pairs && !f->n_open_pairs)
            buf_printf(pb, "All %d rated pair%s were shown blind: model names hidden until the vote, sides assigned per "
                           "prompt by a seeded, balanced order. ",
                       f->n_rated_pairs, pl(f->n_rated_pairs));
        else if (f->n_blind_pairs)
            buf_printf(pb, "%d of the %d rated pairs were shown blind (model names hidden until the vote) and %d open. ",
                       f->n_blind_pairs, f->n_rated_pairs, f->n_open_pairs);
        else buf_printf(pb, "All rated pairs were shown open, with the model names. ");
        /* pacing: how the blind answers appeared while they were written, as recorded per pair */
        int nb = f->n_blind_pairs, nt = f->n_blind_together, nn = f->n_blind_natural;
        if (nb && nt == nb)
            buf_printf(pb, "In every blind pair neither answer was shown until both were complete, then both appeared "
                           "at once, so writing speed did not tell the models apart. ");
        else if (nb && nn == nb)
            buf_printf(pb, "In every blind pair each answer was shown as its model wrote it, so the two could differ "
                           "in writing speed. ");
        else if (nb && (nt || nn))
            buf_printf(pb, "Of the %d blind pairs, %d showed both answers at once when both were complete and %d "
                           "showed each answer as its model wrote it%s. ",
                       nb, nt, nn, nb - nt - nn ? "; the others have no pacing recorded" : "");
        else if (nb)
            buf_printf(pb, "How the blind answers were paced while written is not recorded for these pairs. ");
    }
    buf_printf(pb, "Win rates exclude ties and both-bad votes and are reported with Wilson 95%% score intervals; "
                  "each is tested against 50%% with an exact two-sided sign test. Bradley–Terry ratings are on the "
                  "Elo scale (400 points per tenfold odds, mean 1000, one virtual tie per compared pair) with "
                  "95%% percentile intervals from %d bootstrap resamples of the votes (seed %llu). Position bias "
                  "is the share of decisive votes won by the answer shown on the left. ",
               s->bootstrap_rounds, (unsigned long long)s->seed);
    if (!strcmp(s->kappa_kind, "none"))
        buf_printf(pb, "Agreement between raters was not measured (no prompt was rated by two or more raters). ");
    else
        buf_printf(pb, "Agreement between raters is %s's %s over %d prompt%s rated by two or more raters. ",
                   !strcmp(s->kappa_kind, "cohen") ? "Cohen" : "Fleiss", tex ? "kappa" : "κ", s->kappa_items,
                   pl(s->kappa_items));
    if (f->n_responses && !f->same_cpu) {
        char th[32];
        if (f->threads_min == f->threads_max) snprintf(th, sizeof th, "%d", f->threads_min);
        else snprintf(th, sizeof th, "%d–%d", f->threads_min, f->threads_max);
        buf_printf(pb, "Both models ran concurrently on each machine's CPU (the CPUs differ; each response records "
                       "its own), %s thread%s each, with ablab %s.", th, pl(f->threads_max), f->version);
    } else if (f->n_responses) {
        if (f->threads_min == f->threads_max)
            buf_printf(pb, "Both models ran concurrently on the CPU (%s), %d thread%s each, with ablab %s.", f->cpu,
                       f->threads_min, pl(f->threads_min), f->version);
        else
            buf_printf(pb, "Both models ran concurrently on the CPU (%s), %d–%d threads each, with ablab %s.", f->cpu,
                       f->threads_min, f->threads_max, f->version);
    }
    buf_puts(pb, "\n");
    if (tex) {
        Buf t = {0};
        esc_tex_text(&t, para.data ? para.data : "", 0); /* breaks after punctuation in long names */
        /* \sloppy: a long file name may leave a loose line, never one past the margin */
        out_puts(o, "{\\sloppy ");
        out_puts(o, t.data ? t.data : "");
        out_puts(o, "\\par}\n");
        buf_free(&t);
    } else {
        out_puts(o, para.data ? para.data : "");
    }
    if (!para.data) o->failed = true;
    buf_free(&para);
}

#define TEX_PREAMBLE                                                                               \
    "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"              \
    "\\usepackage{booktabs,longtable,array}\n"
#define TEX_FRAGMENT_NOTE "% ablab export: needs \\usepackage[T1]{fontenc} and \\usepackage{booktabs,longtable,array}\n"

/* ---------- the quantization report (`ablab eval --quant-sweep`) ---------- */

static void json_field_str(LabOut *o, const char *name, const char *v) {
    Buf b = {0};
    esc_json(&b, name);
    buf_putc(&b, ':');
    buf_putc(&b, ' ');
    esc_json(&b, v ? v : "");
    buf_puts(&b, ", ");
    if (!b.data) o->failed = true;
    else out_puts(o, b.data);
    buf_free(&b);
}

static void json_field_num(LabOut *o, const char *name, double v) {
    char t[32];
    if (isfinite(v)) shortest(v, t);
    else snprintf(t, sizeof t, "null");
    out_printf(o, "\"%s\": %s, ", name, t);
}

/* A number only the Markdown and LaTeX tables have (rounded for reading). */
static void f_tnum(Rows *r, const char *name, const char *fmt, double v) {
    char t[64];
    if (isfinite(v)) snprintf(t, sizeof t, fmt, v);
    else snprintf(t, sizeof t, "--");
    f_table(r, name, t);
}

int lab_quant_table(FILE *f, LabExportFormat fmt, const LabQuantReport *q) {
    if (fmt != LAB_FMT_CSV && fmt != LAB_FMT_JSON && fmt != LAB_FMT_MD && fmt != LAB_FMT_TEX) return -1;
    LabOut o = {.f = f};
    if (fmt == LAB_FMT_JSON) {
        out_puts(&o, "{");
        json_field_str(&o, "model", q->model);
        json_field_str(&o, "reference", q->reference);
        json_field_str(&o, "reference_dtype", q->reference_dtype);
        json_field_str(&o, "text", q->text);
        out_printf(&o, "\"text_bytes\": %lld, \"params\": %lld, \"ctx\": %d, \"threads\": %d, ", (long long)q->text_bytes,
                   (long long)q->n_params, q->ctx, q->threads);
        json_field_num(&o, "reference_bits_per_byte", q->ref_bits_per_byte);
        json_field_num(&o, "reference_token_ppl", q->ref_token_ppl);
        json_field_str(&o, "conditions", q->conditions);
        out_puts(&o, "\"types\": [\n");
    } else if (fmt == LAB_FMT_MD) {
        out_printf(&o, "quantization report: %s against %s (%s) over %s (%lld bytes)\n", q->model, q->reference,
                   q->reference_dtype, q->text, (long long)q->text_bytes);
        out_printf(&o, "reference: %.4f bits per byte, token perplexity %.4f; %lld parameters\n", q->ref_bits_per_byte,
                   q->ref_token_ppl, (long long)q->n_params);
        out_printf(&o, "conditions: %s\n\n", q->conditions);
    } else if (fmt == LAB_FMT_TEX) {
        out_puts(&o, TEX_FRAGMENT_NOTE);
        Buf b = {0};
        buf_printf(&b, "%% quantization report: %s against %s (%s) over %s; %s\n", q->model, q->reference,
                   q->reference_dtype, q->text, q->conditions);
        for (char *c = b.data ? b.data + 1 : NULL; c && *c && c[1]; c++)
            if (*c == '\n') *c = ' '; /* one comment line, whatever the names hold */
        if (!b.data) o.failed = true;
        else out_puts(&o, b.data);
        buf_free(&b);
    }
    Rows r = {.o = &o, .fmt = fmt};
    for (size_t i = 0; i < q->n; i++) {
        const LabQuantRow *x = &q->rows[i];
        rows_begin(&r);
        f_str(&r, "type", x->type, true);
        f_str(&r, "dtype", x->dtype, false);
        f_num(&r, "bits_per_weight", x->bits_per_weight, "%.4f", false);
        f_tnum(&r, "bits/weight", "%.2f", x->bits_per_weight);
        f_int(&r, "file_bytes", x->file_bytes, false);
        f_tnum(&r, "file MB", "%.2f", (double)x->file_bytes / 1e6);
        f_int(&r, "weights_bytes", x->weights_bytes, false);
        f_int(&r, "resident_bytes", x->resident_bytes, false);
        f_tnum(&r, "resident MB", "%.1f", (double)x->resident_bytes / 1e6);
        f_int(&r, "decode_n", x->n_gen, false);
        f_int(&r, "decode_reps", x->reps, false);
        f_num(&r, "decode_tok_s", x->decode_tok_s, "%.3f", false);
        f_tnum(&r, "decode tok/s", "%.1f", x->decode_tok_s);
        f_num(&r, "decode_tok_s_sd", x->decode_tok_s_sd, "%.3f", false);
        f_int(&r, "tokens", x->n_tokens, false);
        f_num(&r, "kl_mean", x->kl_mean, "%.6g", false);
        f_tnum(&r, "KL mean", "%.4g", x->kl_mean);
        f_num(&r, "kl_median", x->kl_median, "%.6g", false);
        f_num(&r, "kl_p99", x->kl_p99, "%.6g", false);
        f_tnum(&r, "KL p99", "%.4g", x->kl_p99);
        f_num(&r, "kl_max", x->kl_max, "%.6g", false);
        f_num(&r, "same_top_pct", x->same_top_pct, "%.3f", false);
        f_tnum(&r, "same top %", "%.2f", x->same_top_pct);
        f_num(&r, "token_ppl", x->token_ppl, "%.6f", false);
        f_num(&r, "bits_per_byte", x->bits_per_byte, "%.6f", false);
        f_tnum(&r, "bits/byte", "%.4f", x->bits_per_byte);
        rows_end(&r);
    }
    rows_finish(&r, "no quant types measured");
    if (fmt == LAB_FMT_JSON) out_puts(&o, "\n]}\n");
    if (fmt == LAB_FMT_MD)
        out_puts(&o, "\nKL: KL(reference || model) per token in nats (mean and 99th percentile); same top %: "
                     "positions where both pick the same most likely token; file MB: the GGUF ablab convert writes "
                     "at the type.\n");
    return o.failed || ferror(f) ? -1 : 0;
}

/* ---------- files ---------- */


static int open_out(LabOut *o, const char *path, LabErr *e) {
    o->failed = false;
    if (!path || !strcmp(path, "-")) {
        o->f = stdout;
        return 0;
    }
    if (!(o->f = fopen(path, "w"))) return lab_err(e, LAB_EIO, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

static int close_out(LabOut *o, const char *path, LabErr *e) {
    bool bad = o->failed || ferror(o->f);
    int rc = o->f == stdout ? fflush(o->f) : fclose(o->f);
    o->f = NULL;
    if (bad || rc) return lab_err(e, LAB_EIO, "%s: writing failed: %s", path ? path : "stdout", strerror(errno));
    return 0;
}

static int sql_write(const char *s, size_t n, void *ud) {
    LabOut *o = ud;
    if (fwrite(s, 1, n, o->f) != n) o->failed = true;
    return o->failed ? -1 : 0;
}

int lab_export_what_parse(const char *s, LabExportWhat *out) {
    static const char *const names[] = {"responses", "ratings", "sessions", "summary", "all"};
    for (int i = 0; i < 5; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (LabExportWhat)i;
            return 0;
        }
    return -1;
}

int lab_export_format_parse(const char *s, LabExportFormat *out) {
    static const char *const names[] = {"csv", "jsonl", "md", "tex", "sql", "svg"};
    for (int i = 0; i < 6; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (LabExportFormat)i;
            return 0;
        }
    return -1;
}

static const char *EXT[] = {"csv", "jsonl", "md", "tex", "sql", "svg"};

/* One file of a multi-file export: DIR/NAME.EXT */
static int export_one(Lab *l, const LabExportOpts *o, LabExportWhat what, const char *dir, const char *name,
                      const LabStats *s, LabErr *e);

static int write_summary(Lab *l, LabOut *out, const LabExportOpts *o, const LabStats *s, bool with_methods, LabErr *e) {
    LabExportFormat fmt = o->format;
    if (fmt == LAB_FMT_MD && with_methods) out_puts(out, "## Results\n");
    if (fmt == LAB_FMT_TEX && with_methods) out_puts(out, "\\section*{Results}\n");
    if (with_methods) methods(out, fmt, s);
    summary_tables(out, fmt, s);
    return 0;
}

static int export_one(Lab *l, const LabExportOpts *o, LabExportWhat what, const char *dir, const char *name,
                      const LabStats *s, LabErr *e) {
    char *path = NULL;
    if (dir) {
        size_t n = strlen(dir) + strlen(name) + 16;
        if (!(path = malloc(n))) return lab_err(e, LAB_ENOMEM, "out of memory");
        snprintf(path, n, "%s/%s.%s", dir, name, EXT[o->format]);
    }
    const char *target = dir ? path : o->out_path;
    LabOut out = {0};
    if (open_out(&out, target, e)) {
        free(path);
        return -1;
    }
    int rc = 0;
    if (o->format == LAB_FMT_TEX) out_puts(&out, TEX_FRAGMENT_NOTE);
    if (o->format == LAB_FMT_SVG) {
        if (what == LAB_EXPORT_SUMMARY) rc = lab_svg_win_rates(&out, s);
        else if (what == LAB_EXPORT_RESPONSES) rc = lab_svg_latency(&out, s);
        else rc = lab_svg_scores(&out, s);
    } else if (what == LAB_EXPORT_SUMMARY) {
        rc = write_summary(l, &out, o, s, false, e);
    } else if (!strcmp(name, "machines")) {
        machine_rows(&out, o->format, s);
    } else if (!strcmp(name, "models")) {
        /* CSV keeps one table per file: the per-model summary gets its own */
        Rows r = {.o = &out, .fmt = o->format};
        for (size_t i = 0; i < s->n_models; i++) {
            rows_begin(&r);
            f_str(&r, "model", s->models[i].name, true);
            model_fields(&r, &s->models[i]);
            rows_end(&r);
        }
        rows_finish(&r, "no models");
    } else {
        pthread_mutex_lock(&l->mu);
        rc = export_table(l, &out, o->format, what, &o->scope, e);
        pthread_mutex_unlock(&l->mu);
    }
    int crc = close_out(&out, target, e);
    free(path);
    return rc ? rc : crc;
}

int lab_export(Lab *l, const LabExportOpts *o, LabErr *e) {
    if ((unsigned)o->what > LAB_EXPORT_ALL || (unsigned)o->format > LAB_FMT_SVG)
        return lab_err(e, LAB_EINVAL, "unknown export kind or format");
    LabExportOpts op = *o;
    if (!op.scope.session_id) op.scope.session_id = op.session_id;
    op.session_id = op.scope.session_id;
    if (lab_scope_check(&op.scope, e)) return -1;
    if (op.format == LAB_FMT_SQL) {
        /* the whole record, whatever --what says: an SQL dump is for rebuilding it */
        LabOut out = {0};
        if (open_out(&out, op.out_path, e)) return -1;
        pthread_mutex_lock(&l->mu);
        int rc = db_dump_sql(l->db, sql_write, &out, e);
        pthread_mutex_unlock(&l->mu);
        int crc = close_out(&out, op.out_path, e);
        return rc ? rc : crc;
    }
    LabStats s = {0};
    bool need_stats = op.what == LAB_EXPORT_SUMMARY || op.what == LAB_EXPORT_ALL || op.format == LAB_FMT_SVG;
    if (need_stats && lab_stats(l, &(LabStatsQuery){.seed = op.seed, .scope = op.scope}, &s, e)) return -1;
    int rc = 0;
    bool multi = op.what == LAB_EXPORT_ALL && op.format != LAB_FMT_MD && op.format != LAB_FMT_TEX;
    if (multi) {
        /* csv, jsonl and svg: one file per table or chart, in a folder */
        if (!op.out_path || !strcmp(op.out_path, "-")) {
            lab_stats_free(&s);
            return lab_err(e, LAB_EINVAL, "--what all --format %s writes several files: give --out FOLDER", EXT[op.format]);
        }
        if (file_exists(op.out_path) == 1) {
            lab_stats_free(&s);
            return lab_err(e, LAB_EINVAL, "%s: is a file; --what all --format %s needs a folder", op.out_path, EXT[op.format]);
        }
        if (mkdir_p(op.out_path, e)) {
            lab_stats_free(&s);
            return -1;
        }
        if (op.format == LAB_FMT_SVG) {
            rc = export_one(l, &op, LAB_EXPORT_SUMMARY, op.out_path, "win_rates", &s, e);
            if (!rc) rc = export_one(l, &op, LAB_EXPORT_RESPONSES, op.out_path, "speed", &s, e);
            if (!rc) rc = export_one(l, &op, LAB_EXPORT_RATINGS, op.out_path, "scores", &s, e);
        } else {
            rc = export_one(l, &op, LAB_EXPORT_RESPONSES, op.out_path, "responses", &s, e);
            if (!rc) rc = export_one(l, &op, LAB_EXPORT_RATINGS, op.out_path, "ratings", &s, e);
            if (!rc) rc = export_one(l, &op, LAB_EXPORT_SESSIONS, op.out_path, "sessions", &s, e);
            if (!rc) rc = export_one(l, &op, LAB_EXPORT_SUMMARY, op.out_path, "summary", &s, e);
            if (!rc && op.format == LAB_FMT_CSV) rc = export_one(l, &op, LAB_EXPORT_ALL, op.out_path, "models", &s, e);
            if (!rc && op.format == LAB_FMT_CSV && show_machines(&s))
                rc = export_one(l, &op, LAB_EXPORT_ALL, op.out_path, "machines", &s, e);
        }
    } else if (op.what == LAB_EXPORT_ALL) {
        /* md / tex: one document — methods, summary tables, sessions */
        LabOut out = {0};
        if (open_out(&out, op.out_path, e)) {
            lab_stats_free(&s);
            return -1;
        }
        /* LaTeX: a whole document pdflatex compiles as it is (tables that fit the text width and
         * break across pages); the single-table exports are fragments to \input */
        if (op.format == LAB_FMT_TEX) out_puts(&out, TEX_PREAMBLE "\\begin{document}\n");
        pthread_mutex_lock(&l->mu);
        rc = write_summary(l, &out, &op, &s, true, e);
        heading(&out, op.format, "Sessions");
        if (!rc) rc = export_table(l, &out, op.format, LAB_EXPORT_SESSIONS, &op.scope, e);
        heading(&out, op.format, "Ratings");
        if (!rc) rc = export_table(l, &out, op.format, LAB_EXPORT_RATINGS, &op.scope, e);
        pthread_mutex_unlock(&l->mu);
        if (op.format == LAB_FMT_TEX) out_puts(&out, "\\end{document}\n");
        int crc = close_out(&out, op.out_path, e);
        if (!rc) rc = crc;
    } else {
        if (op.what == LAB_EXPORT_SUMMARY && (op.format == LAB_FMT_MD || op.format == LAB_FMT_TEX)) {
            LabOut out = {0};
            if (open_out(&out, op.out_path, e)) {
                lab_stats_free(&s);
                return -1;
            }
            if (op.format == LAB_FMT_TEX) out_puts(&out, TEX_FRAGMENT_NOTE);
            summary_tables(&out, op.format, &s);
            rc = close_out(&out, op.out_path, e);
        } else if (op.what == LAB_EXPORT_SESSIONS && op.format == LAB_FMT_SVG) {
            rc = lab_err(e, LAB_EINVAL, "there is no chart of sessions: export summary, responses or ratings as svg");
        } else {
            rc = export_one(l, &op, op.what, NULL, "", &s, e);
        }
    }
    lab_stats_free(&s);
    return rc;
}
