#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lineedit.h"

void le_init(LineEdit *le) {
    memset(le, 0, sizeof *le);
    le->max_hist = 1000;
    if (buf_reserve(&le->text, 64) == 0) le->text.data[0] = 0;
}

void le_free(LineEdit *le) {
    if (!le) return;
    buf_free(&le->text);
    buf_free(&le->kill);
    for (size_t i = 0; i < le->n_hist; i++) free(le->hist[i]);
    free(le->hist);
    free(le->draft);
    memset(le, 0, sizeof *le);
}

static bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

static size_t prev_char(const LineEdit *le, size_t i) {
    if (i == 0) return 0;
    i--;
    while (i > 0 && is_cont((unsigned char)le->text.data[i])) i--;
    return i;
}

static size_t next_char(const LineEdit *le, size_t i) {
    if (i >= le->text.len) return le->text.len;
    i++;
    while (i < le->text.len && is_cont((unsigned char)le->text.data[i])) i++;
    return i;
}

static size_t line_start(const LineEdit *le, size_t i) {
    while (i > 0 && le->text.data[i - 1] != '\n') i--;
    return i;
}

static size_t line_end(const LineEdit *le, size_t i) {
    while (i < le->text.len && le->text.data[i] != '\n') i++;
    return i;
}

static int remove_range(LineEdit *le, size_t a, size_t b, bool to_kill) {
    if (b <= a) return 0;
    if (to_kill) {
        buf_clear(&le->kill);
        if (buf_append(&le->kill, le->text.data + a, b - a)) return -1;
    }
    memmove(le->text.data + a, le->text.data + b, le->text.len - b + 1);
    le->text.len -= b - a;
    if (le->cur > b) le->cur -= b - a;
    else if (le->cur > a) le->cur = a;
    return 0;
}

static int insert_raw(LineEdit *le, const char *s, size_t n) {
    bool fresh = !le->text.data;
    if (buf_reserve(&le->text, n)) return -1;
    if (fresh) le->text.data[0] = 0;
    char *d = le->text.data;
    memmove(d + le->cur + n, d + le->cur, le->text.len - le->cur + 1);
    memcpy(d + le->cur, s, n);
    le->text.len += n;
    le->cur += n;
    return 0;
}

int le_insert(LineEdit *le, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq_len(p + i, n - i);
        if (k == 0) { i++; continue; }                 /* invalid byte: dropped */
        unsigned c = p[i];
        if (k == 1 && c == '\t') { if (insert_raw(le, "    ", 4)) return -1; }
        else if (k == 1 && c == '\r') { if (i + 1 < n && p[i + 1] == '\n') { i++; continue; } if (insert_raw(le, "\n", 1)) return -1; }
        else if (k == 1 && (c < 0x20 || c == 0x7F) && c != '\n') { /* control: dropped */ }
        else if (k == 2 && c == 0xC2 && p[i + 1] < 0xA0) { /* C1 control: dropped */ }
        else if (insert_raw(le, s + i, (size_t)k)) return -1;
        i += (size_t)k;
    }
    return 0;
}

void le_set(LineEdit *le, const char *s) {
    buf_clear(&le->text);
    le->cur = 0;
    if (buf_reserve(&le->text, 1)) return;
    le->text.data[0] = 0;
    if (s) le_insert(le, s, strlen(s));
}

void le_clear(LineEdit *le) {
    buf_clear(&le->text);
    le->cur = 0;
    le->hist_pos = le->n_hist;
}

int le_history_add(LineEdit *le, const char *s) {
    if (!s || !*s) return 0;
    if (le->n_hist && !strcmp(le->hist[le->n_hist - 1], s)) return 0;
    if (le->n_hist >= le->max_hist && le->n_hist) {
        free(le->hist[0]);
        memmove(le->hist, le->hist + 1, (le->n_hist - 1) * sizeof *le->hist);
        le->n_hist--;
    }
    if (le->n_hist == le->cap_hist) {
        size_t cap = le->cap_hist ? le->cap_hist * 2 : 32;
        char **h = realloc(le->hist, cap * sizeof *h);
        if (!h) return -1;
        le->hist = h;
        le->cap_hist = cap;
    }
    char *dup = strdup(s);
    if (!dup) return -1;
    le->hist[le->n_hist++] = dup;
    le->hist_pos = le->n_hist;
    return 0;
}

char *le_take(LineEdit *le) {
    char *s = strdup(le->text.data ? le->text.data : "");
    if (!s) return NULL;
    le_history_add(le, s);
    free(le->draft);
    le->draft = NULL;
    le_clear(le);
    return s;
}

static void history_go(LineEdit *le, int dir) {
    if (dir < 0 && le->hist_pos == 0) return;
    if (dir > 0 && le->hist_pos >= le->n_hist) return;
    if (le->hist_pos == le->n_hist) {              /* leaving the draft: keep it */
        free(le->draft);
        le->draft = strdup(le->text.data ? le->text.data : "");
    }
    le->hist_pos = dir < 0 ? le->hist_pos - 1 : le->hist_pos + 1;
    const char *s = le->hist_pos == le->n_hist ? (le->draft ? le->draft : "") : le->hist[le->hist_pos];
    size_t keep = le->hist_pos;
    le_set(le, s);
    le->hist_pos = keep;
}

/* Moves the cursor one line up or down keeping its column (in characters) where possible.
 * Returns false at the first/last line. */
static bool move_vertical(LineEdit *le, int dir) {
    size_t ls = line_start(le, le->cur);
    size_t col = 0;
    for (size_t i = ls; i < le->cur; i = next_char(le, i)) col++;
    size_t target;
    if (dir < 0) {
        if (ls == 0) return false;
        target = line_start(le, ls - 1);
    } else {
        size_t le_ = line_end(le, le->cur);
        if (le_ >= le->text.len) return false;
        target = le_ + 1;
    }
    size_t end = line_end(le, target), i = target;
    for (size_t c = 0; c < col && i < end; c++) i = next_char(le, i);
    le->cur = i;
    return true;
}

static bool is_word_byte(unsigned char c) { return c != ' ' && c != '\n'; }

LeResult le_key(LineEdit *le, const UiKey *k) {
    if (!le->text.data) {
        if (buf_reserve(&le->text, 64)) return LE_IGNORED;
        le->text.data[0] = 0;
    }
    switch (k->code) {
    case UK_PASTE_BEGIN: le->pasting = true; return LE_IGNORED;
    case UK_PASTE_END: le->pasting = false; return LE_IGNORED;
    case UK_CHAR: {
        if (k->alt) return LE_IGNORED;
        char tmp[4];
        int n = utf8_encode(k->ch, tmp);
        return le_insert(le, tmp, (size_t)n) ? LE_IGNORED : LE_CHANGED;
    }
    case UK_TAB:
        return insert_raw(le, "    ", 4) ? LE_IGNORED : LE_CHANGED;
    case UK_ENTER:
        if (le->pasting) return insert_raw(le, "\n", 1) ? LE_IGNORED : LE_CHANGED;
        return LE_SUBMIT;
    case UK_NEWLINE:
        return insert_raw(le, "\n", 1) ? LE_IGNORED : LE_CHANGED;
    case UK_BACKSPACE:
        if (le->cur == 0) return LE_IGNORED;
        remove_range(le, prev_char(le, le->cur), le->cur, false);
        return LE_CHANGED;
    case UK_DELETE:
        if (le->cur >= le->text.len) return LE_IGNORED;
        remove_range(le, le->cur, next_char(le, le->cur), false);
        return LE_CHANGED;
    case UK_LEFT: le->cur = prev_char(le, le->cur); return LE_CHANGED;
    case UK_RIGHT: le->cur = next_char(le, le->cur); return LE_CHANGED;
    case UK_HOME: le->cur = line_start(le, le->cur); return LE_CHANGED;
    case UK_END: le->cur = line_end(le, le->cur); return LE_CHANGED;
    case UK_UP:
        if (!move_vertical(le, -1)) history_go(le, -1);
        return LE_CHANGED;
    case UK_DOWN:
        if (!move_vertical(le, +1)) history_go(le, +1);
        return LE_CHANGED;
    case UK_CTRL:
        switch (k->ch) {
        case 'a': le->cur = line_start(le, le->cur); return LE_CHANGED;
        case 'e': le->cur = line_end(le, le->cur); return LE_CHANGED;
        case 'b': le->cur = prev_char(le, le->cur); return LE_CHANGED;
        case 'f': le->cur = next_char(le, le->cur); return LE_CHANGED;
        case 'd':
            if (le->cur >= le->text.len) return LE_IGNORED;
            remove_range(le, le->cur, next_char(le, le->cur), false);
            return LE_CHANGED;
        case 'k': {
            size_t e = line_end(le, le->cur);
            if (e == le->cur && e < le->text.len) e++;   /* at the end of a line: join the next */
            remove_range(le, le->cur, e, true);
            return LE_CHANGED;
        }
        case 'u': {
            size_t s = line_start(le, le->cur);
            if (s == le->cur && s > 0) s--;               /* at the start of a line: join the previous */
            remove_range(le, s, le->cur, true);
            return LE_CHANGED;
        }
        case 'w': {
            size_t i = le->cur;
            const unsigned char *d = (const unsigned char *)le->text.data;
            while (i > 0 && !is_word_byte(d[i - 1])) i--;
            while (i > 0 && is_word_byte(d[i - 1])) i--;
            remove_range(le, i, le->cur, true);
            return LE_CHANGED;
        }
        case 'y':
            if (!le->kill.len) return LE_IGNORED;
            return insert_raw(le, le->kill.data, le->kill.len) ? LE_IGNORED : LE_CHANGED;
        default:
            return LE_IGNORED;
        }
    default:
        return LE_IGNORED;
    }
}

int le_history_load(LineEdit *le, const char *path, LabErr *e) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        return lab_err(e, LAB_EIO, "%s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    Buf b = {0};
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        buf_clear(&b);
        for (ssize_t i = 0; i < n; i++) {
            char c = line[i];
            if (c == '\n') break;
            if (c == '\\' && i + 1 < n) {
                char d = line[++i];
                c = d == 'n' ? '\n' : d;
            }
            buf_putc(&b, c);
        }
        if (b.len && utf8_valid(b.data, b.len) && le_history_add(le, b.data)) {
            rc = lab_err(e, LAB_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    free(line);
    buf_free(&b);
    fclose(f);
    return rc;
}

int le_history_save(const LineEdit *le, const char *path, LabErr *e) {
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0) return lab_err(e, LAB_ENOMEM, "%s: out of memory", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        lab_err(e, LAB_EIO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < le->n_hist; i++) {
        for (const char *p = le->hist[i]; *p; p++) {
            if (*p == '\n') fputs("\\n", f);
            else if (*p == '\\') fputs("\\\\", f);
            else fputc(*p, f);
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        lab_err(e, LAB_EIO, "%s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
