/* Text for the terminal: a streaming sanitizer that keeps model output from ever sending control
 * or escape sequences to the terminal, and word wrap of UTF-8 by display width (wcwidth: CJK and
 * emoji take two columns, combining marks none). Pure; needs only an UTF-8 LC_CTYPE. */
#ifndef UI_TEXT_H
#define UI_TEXT_H

#include <stddef.h>

#include "base.h"

/* Sanitizer state carried between pieces, since an escape sequence may be split across tokens. */
typedef struct {
    int state;              /* 0 text, 1 after ESC, 2 in CSI, 3 in OSC/DCS/APC/PM string, 4 ESC inside string */
    unsigned char hold[4];  /* an UTF-8 sequence cut at the end of the last piece */
    size_t n_hold;
} TextSanitizer;

/* Appends a printable version of s[0..n) to out: escape sequences (CSI, OSC, DCS, ...) are dropped
 * whole; other C0/C1 controls and DEL are dropped, except '\n' (kept) and '\t' (four spaces);
 * invalid UTF-8 and non-printable code points become U+FFFD. Returns 0, or -1 on ENOMEM. */
int text_sanitize(TextSanitizer *ts, const char *s, size_t n, Buf *out);
/* Flushes a held incomplete sequence as U+FFFD (at the end of a stream). */
int text_sanitize_end(TextSanitizer *ts, Buf *out);

/* Display width of one code point as the terminal draws it (0 for combining marks, 2 for wide). */
int text_cp_width(uint32_t cp);
/* Display width of s[0..n). */
int text_width(const char *s, size_t n);
/* The longest prefix of s[0..n) that fits in `cols` columns (whole characters, with their combining
 * marks); returns its byte length and stores its width in *used if non-NULL. */
size_t text_fit(const char *s, size_t n, int cols, int *used);

/* One display line: s[start .. start+len) takes `cols` columns. */
typedef struct { size_t start, len; int cols; } TextLine;
typedef struct { TextLine *v; size_t n, cap; } TextLines;

/* Wraps sanitized text s[0..n) to `width` columns: breaks after spaces and around wide characters
 * when it can, inside a word only when the word is longer than a line; '\n' ends a line. Spaces at
 * a break are kept on the line they end (so byte offsets stay contiguous). An empty text gives one
 * empty line. Returns 0 or -1 (ENOMEM). */
int  text_wrap(const char *s, size_t n, int width, TextLines *out);
void text_lines_free(TextLines *tl);

#endif
