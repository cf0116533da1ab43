/* The Jinja2 subset of chat templates: lexer, parser and evaluator (see chat.h for the contract).
 *
 * Shape: the lexer turns the source into a flat list of tokens (data text and the tokens inside
 * {{ }} and {% %}), applying Jinja's whitespace rules as its lexer does (trim_blocks: one newline
 * after %} and #}; lstrip_blocks: spaces before {% and {# on their own line; "-" strips all
 * whitespace on that side, "+" keeps it). The parser builds statements and expressions with Jinja's
 * precedence (condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary < postfix and
 * filters/tests) and refuses at load what the evaluator does not implement. The evaluator walks the
 * tree with Python's semantics for the values JSON gives (str, int, float, bool, None, list, dict)
 * plus Jinja's Undefined, namespaces, macros and the loop object.
 *
 * Memory: the tree lives in the template's arena; a render's values in a render arena that is
 * dropped whole at the end, with a byte limit. Errors inside the parser and the evaluator unwind
 * with longjmp to the one entry point that set it (nothing to release but the arenas). */
#include "chat.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <utf8proc.h>

/* ---------- bounds (a template is untrusted input) ---------- */
#define JJ_MAX_SOURCE     (1u << 20)        /* template bytes */
#define JJ_MAX_NEST       100               /* parser nesting: statements and expressions */
#define JJ_MAX_OUTPUT     (16u << 20)       /* rendered bytes */
#define JJ_MAX_ITERS      1000000L          /* loop iterations and filter steps per render */
#define JJ_MAX_CALLS      64                /* macro call depth */
#define JJ_MAX_ARENA      ((size_t)256 << 20) /* render memory */

/* ---------- arena ---------- */
typedef struct Chunk { struct Chunk *next; size_t used, cap; max_align_t data[]; } Chunk;
typedef struct { Chunk *head; size_t total, limit; bool over; } Arena;

static void *ar_alloc(Arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (a->limit && a->total + cap > a->limit) { a->over = true; return NULL; }
        Chunk *c = malloc(sizeof *c + cap);
        if (!c) { a->over = true; return NULL; }
        c->next = a->head; c->used = 0; c->cap = cap;
        a->head = c; a->total += cap;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void ar_free(Arena *a) {
    Chunk *c = a->head;
    while (c) { Chunk *n = c->next; free(c); c = n; }
    a->head = NULL; a->total = 0;
}

/* ---------- values ---------- */
typedef enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_NS, V_MACRO, V_METHOD, V_LOOP, V_FUNC } VType;
typedef struct Str { size_t n; char p[]; } Str;           /* UTF-8, NUL-terminated */
struct List; struct Dict; struct Method; struct Loop; struct Node;
typedef struct Val {
    VType t;
    union { bool b; int64_t i; double f; const Str *s; struct List *l; struct Dict *d; const struct Node *macro;
            struct Method *m; struct Loop *loop; int fn; } u;
} Val;
typedef struct List { size_t n, cap; Val *v; bool tuple; } List;  /* tuple: prints (a, b), != a list */
typedef struct Dict { size_t n, cap; Val *k, *v; } Dict;  /* insertion order, as Python 3.7+ */
typedef struct Method { Val self; const char *name; } Method;
typedef struct Loop { size_t i, n; const List *items; } Loop;

static const Val UNDEF = {.t = V_UNDEF};
static const Val NONE = {.t = V_NONE};

/* ---------- tokens ---------- */
typedef enum { T_DATA, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END, T_NAME, T_STRING, T_INT, T_FLOAT, T_OP, T_EOF } TType;
typedef struct { TType t; int line; const Str *s; int64_t i; double f; } Tok;

/* ---------- tree ---------- */
typedef enum {
    E_LIT, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_NEG, E_POS, E_NOT, E_AND, E_OR,
    E_BIN, E_CONCAT, E_CMP, E_COND, E_LIST, E_TUPLE, E_DICT,
} EKind;
typedef struct Expr Expr;
typedef struct { Expr **v; int n; const Str **kw; Expr **kv; int nkw; } Args;
struct Expr {
    EKind k; int line;
    Val lit;                      /* E_LIT */
    const Str *name;              /* E_NAME, E_ATTR, E_FILTER, E_TEST */
    Expr *a, *b, *c, *d;          /* operands; E_SLICE: a[b:c:d]; E_COND: b if a else c */
    char op[4];                   /* E_BIN: + - * / // % ** */
    bool negate;                  /* E_TEST: is not */
    Args args;                    /* E_CALL, E_FILTER, E_TEST; E_LIST/E_TUPLE items; E_DICT keys in v, values in kv */
    const char **ops;             /* E_CMP: ops[i] between operand i and i+1 (operands in args.v) */
};

typedef enum { S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_MACRO, S_BREAK, S_CONTINUE, S_BODY } SKind;
typedef struct Node Node;
typedef struct { Node **v; int n; } Body;
struct Node {
    SKind k; int line;
    const Str *text;              /* S_TEXT */
    Expr *e;                      /* S_OUT; S_IF condition; S_FOR iterable; S_SET value */
    Expr *filter;                 /* S_FOR's `if` */
    Body body, orelse;            /* S_IF: then / else (elif is an S_IF inside else) */
    const Str **targets; int n_targets; /* S_FOR, S_SET names; S_SET ns.attr: targets[0] ns, attr below */
    const Str *attr;              /* S_SET ns.attr */
    const Str *name;              /* S_MACRO */
    const Str **params; Expr **defaults; int n_params;
};

struct ChatTemplate {
    Arena ar;
    char *source;
    char *name;
    Body body;
};

/* ---------- shared helpers ---------- */
static const Str *str_make(Arena *a, const char *p, size_t n) {
    Str *s = ar_alloc(a, sizeof *s + n + 1);
    if (!s) return NULL;
    s->n = n;
    if (n) memcpy(s->p, p, n);
    s->p[n] = 0;
    return s;
}

static bool streq(const Str *s, const char *c) { return s && strlen(c) == s->n && memcmp(s->p, c, s->n) == 0; }

static bool in_list(const char *const *l, const Str *s) {
    for (; *l; l++) if (streq(s, *l)) return true;
    return false;
}

/* Python's str.isspace() set. */
static bool cp_space(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* ---------- parser state ---------- */
typedef struct {
    Arena *ar;
    const char *name;
    LabErr *e;
    jmp_buf jb;
    Tok *toks; size_t n, cap, pos;
    int depth;
    const Str **macros; int n_macros, cap_macros;    /* names defined anywhere */
    const Str **called; int *called_line; int n_called, cap_called; /* plain-name calls to check at the end */
} Parser;

static void __attribute__((noreturn, format(printf, 4, 5))) perr(Parser *P, LabErrCode code, int line, const char *fmt, ...) {
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lab_err(P->e, code, "%s line %d: %s", P->name, line, msg);
    longjmp(P->jb, 1);
}

static void *pa(Parser *P, size_t n) {
    void *p = ar_alloc(P->ar, n);
    if (!p) perr(P, LAB_ENOMEM, 0, "out of memory");
    memset(p, 0, n);
    return p;
}

static const Str *pstr(Parser *P, const char *p, size_t n) {
    const Str *s = str_make(P->ar, p, n);
    if (!s) perr(P, LAB_ENOMEM, 0, "out of memory");
    return s;
}

static void push_tok(Parser *P, Tok t) {
    if (P->n == P->cap) {
        size_t cap = P->cap ? P->cap * 2 : 256;
        Tok *nt = realloc(P->toks, cap * sizeof *nt);
        if (!nt) perr(P, LAB_ENOMEM, t.line, "out of memory");
        P->toks = nt; P->cap = cap;
    }
    P->toks[P->n++] = t;
}

/* ---------- lexer ---------- */
static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Number of bytes of Unicode whitespace at s[i] (0 if none). */
static int ws_at(const char *s, size_t n, size_t i) {
    uint32_t cp;
    int k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
    return cp_space(cp) ? k : 0;
}

/* Length of s without its trailing (Unicode) whitespace, as Python's rstrip(). */
static size_t rstrip_len(const char *s, size_t n) {
    while (n > 0) {
        size_t j = n - 1;
        while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
        if (ws_at(s, n, j) == (int)(n - j)) n = j;
        else break;
    }
    return n;
}

static int count_lines(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

/* Python's unicode-escape decoding of a string literal's body (Jinja's lexer does this). */
static const Str *unescape(Parser *P, const char *s, size_t n, int line) {
    Buf b = {0};
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 >= n) { if (buf_putc(&b, c)) goto oom; continue; }
        char d = s[++i];
        uint32_t cp = 0; int digits = 0, base = 16;
        switch (d) {
        case '\n': continue;
        case '\\': c = '\\'; break; case '\'': c = '\''; break; case '"': c = '"'; break;
        case 'a': c = 7; break; case 'b': c = 8; break; case 'f': c = 12; break; case 'n': c = '\n'; break;
        case 'r': c = '\r'; break; case 't': c = '\t'; break; case 'v': c = 11; break;
        case 'x': digits = 2; break; case 'u': digits = 4; break; case 'U': digits = 8; break;
        case 'N': buf_free(&b); perr(P, LAB_EUNSUPPORTED, line, "unsupported: \\N{...} escape in a string literal");
        default:
            if (d >= '0' && d <= '7') { digits = 3; base = 8; i--; break; }
            if (buf_putc(&b, '\\') || buf_putc(&b, d)) goto oom;  /* unknown escapes stay as written */
            continue;
        }
        if (!digits) { if (buf_putc(&b, c)) goto oom; continue; }
        int got = 0;
        while (got < digits && i + 1 < n) {
            char h = s[i + 1];
            int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99;
            if (v >= base) break;
            cp = cp * (uint32_t)base + (uint32_t)v; got++; i++;
        }
        if (base == 16 && got != digits) { buf_free(&b); perr(P, LAB_EFORMAT, line, "truncated \\%c escape in a string literal", d); }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { buf_free(&b); perr(P, LAB_EUNSUPPORTED, line, "escape \\%c gives U+%X, not a character UTF-8 can hold", d, cp); }
        char u[4];
        if (buf_append(&b, u, (size_t)utf8_encode(cp, u))) goto oom;
    }
    {
        const Str *r = pstr(P, b.data ? b.data : "", b.len);
        buf_free(&b);
        return r;
    }
oom:
    buf_free(&b);
    perr(P, LAB_ENOMEM, line, "out of memory");
}

static const char *const OPS[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                                  "{", "}", ">", "<", "=", ".", ":", "|", ",", ";", NULL};

/* Tokens of one tag, from s[*i] to its end marker (}} or %}). Returns after the marker, having
 * applied the marker's whitespace rule; *line advanced. */
static void lex_tag(Parser *P, const char *s, size_t n, size_t *ip, int *line, bool block, bool *line_starting) {
    size_t i = *ip;
    char bal[JJ_MAX_NEST]; int nbal = 0;
    const char end0 = block ? '%' : '}';
    for (;;) {
        while (i < n && is_ws(s[i])) { if (s[i] == '\n') (*line)++; i++; }
        if (i >= n) perr(P, LAB_EFORMAT, *line, "unclosed %s tag at the end of the template", block ? "{% %}" : "{{ }}");
        /* the end marker, only with brackets balanced (as Jinja) */
        if (nbal == 0) {
            size_t j = i; char mod = 0;
            if ((s[j] == '-' || (block && s[j] == '+')) && j + 2 < n && s[j + 1] == end0 && s[j + 2] == '}') { mod = s[j]; j++; }
            if (j + 1 < n && s[j] == end0 && s[j + 1] == '}') {
                j += 2;
                push_tok(P, (Tok){.t = block ? T_BLOCK_END : T_VAR_END, .line = *line});
                if (mod == '-') {
                    while (j < n && is_ws(s[j])) { if (s[j] == '\n') (*line)++; j++; }
                    /* Python's \s also covers other whitespace: strip it too */
                    int k;
                    while (j < n && (k = ws_at(s, n, j)) > 0) { if (s[j] == '\n') (*line)++; j += (size_t)k; }
                } else if (block && mod != '+' && j < n && s[j] == '\n') {
                    j++; (*line)++;
                }
                *line_starting = j > 0 && s[j - 1] == '\n';
                *ip = j;
                return;
            }
        }
        char c = s[i];
        int tl = *line;
        if (c == '\'' || c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != c) { if (s[j] == '\\' && j + 1 < n) j++; j++; }
            if (j >= n) perr(P, LAB_EFORMAT, tl, "unterminated string literal");
            *line += count_lines(s + i, j - i);
            push_tok(P, (Tok){.t = T_STRING, .line = tl, .s = unescape(P, s + i + 1, j - i - 1, tl)});
            i = j + 1;
        } else if (c >= '0' && c <= '9') {
            size_t j = i; bool isf = false;
            Buf num = {0};
            while (j < n && ((s[j] >= '0' && s[j] <= '9') || (s[j] == '_' && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9'))) {
                if (s[j] != '_' && buf_putc(&num, s[j])) perr(P, LAB_ENOMEM, tl, "out of memory");
                j++;
            }
            if (j + 1 < n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
                isf = true;
                if (buf_putc(&num, '.')) perr(P, LAB_ENOMEM, tl, "out of memory");
                j++;
                while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_')) { if (s[j] != '_' && buf_putc(&num, s[j])) perr(P, LAB_ENOMEM, tl, "out of memory"); j++; }
            }
            if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                size_t k = j + 1;
                if (k < n && (s[k] == '+' || s[k] == '-')) k++;
                if (k < n && s[k] >= '0' && s[k] <= '9') {
                    isf = true;
                    while (j < k) { if (buf_putc(&num, s[j])) perr(P, LAB_ENOMEM, tl, "out of memory"); j++; }
                    while (j < n && s[j] >= '0' && s[j] <= '9') { if (buf_putc(&num, s[j])) perr(P, LAB_ENOMEM, tl, "out of memory"); j++; }
                }
            }
            Tok t = {.t = isf ? T_FLOAT : T_INT, .line = tl};
            errno = 0;
            if (isf) t.f = strtod(num.data, NULL);
            else {
                long long v = strtoll(num.data, NULL, 10);
                if (errno == ERANGE) { buf_free(&num); perr(P, LAB_EUNSUPPORTED, tl, "integer literal too large (64-bit integers only)"); }
                t.i = v;
            }
            buf_free(&num);
            push_tok(P, t);
            i = j;
        } else if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            size_t j = i;
            while (j < n && (s[j] == '_' || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9'))) j++;
            push_tok(P, (Tok){.t = T_NAME, .line = tl, .s = pstr(P, s + i, j - i)});
            i = j;
        } else {
            const char *const *o = OPS;
            for (; *o; o++) if (strncmp(s + i, *o, strlen(*o)) == 0) break;
            if (!*o) {
                uint32_t cp; utf8_decode((const unsigned char *)s + i, n - i, &cp);
                perr(P, LAB_EFORMAT, tl, "unexpected character U+%04X inside a tag", cp);
            }
            size_t ol = strlen(*o);
            if (**o == '(' || **o == '[' || **o == '{') {
                if (nbal >= JJ_MAX_NEST) perr(P, LAB_ERANGE, tl, "brackets nested deeper than %d", JJ_MAX_NEST);
                bal[nbal++] = **o == '(' ? ')' : **o == '[' ? ']' : '}';
            } else if (**o == ')' || **o == ']' || **o == '}') {
                if (!nbal) perr(P, LAB_EFORMAT, tl, "unexpected '%c'", **o);
                if (bal[--nbal] != **o) perr(P, LAB_EFORMAT, tl, "unexpected '%c', expected '%c'", **o, bal[nbal]);
            }
            push_tok(P, (Tok){.t = T_OP, .line = tl, .s = pstr(P, *o, ol)});
            i += ol;
        }
    }
}

static void lex(Parser *P, const char *s, size_t n) {
    size_t i = 0;
    int line = 1;
    bool line_starting = true;
    while (i < n) {
        /* the next tag opener */
        size_t j = i;
        while (j + 1 < n && !(s[j] == '{' && (s[j + 1] == '{' || s[j + 1] == '%' || s[j + 1] == '#'))) j++;
        if (j + 1 >= n) j = n;
        size_t tlen = j - i;
        int tag_line = line + count_lines(s + i, tlen);
        if (j < n) {
            char kind = s[j + 1];
            char mod = j + 2 < n && (s[j + 2] == '-' || s[j + 2] == '+') ? s[j + 2] : 0;
            if (mod == '-') tlen = rstrip_len(s + i, tlen);
            else if (mod != '+' && kind != '{') {
                /* lstrip_blocks: whitespace alone on the tag's line goes */
                size_t l = tlen;
                while (l > 0 && s[i + l - 1] != '\n') l--;
                if (l > 0 || line_starting) {
                    bool only_ws = l < tlen;
                    for (size_t k = l; k < tlen && only_ws;) { int w = ws_at(s + i, tlen, k); if (!w) only_ws = false; else k += (size_t)w; }
                    if (only_ws) tlen = l;
                }
            }
            if (tlen) push_tok(P, (Tok){.t = T_DATA, .line = line, .s = pstr(P, s + i, tlen)});
            line = tag_line;
            size_t k = j + 2 + (mod ? 1 : 0);
            if (kind == '#') {
                size_t e = k;
                while (e + 1 < n && !(s[e] == '#' && s[e + 1] == '}')) e++;
                if (e + 1 >= n) perr(P, LAB_EFORMAT, line, "comment {# is never closed");
                line += count_lines(s + k, e - k);
                char emod = e > k && (s[e - 1] == '-' || s[e - 1] == '+') ? s[e - 1] : 0;
                e += 2;
                if (emod == '-') { int w; while (e < n && (w = ws_at(s, n, e)) > 0) { if (s[e] == '\n') line++; e += (size_t)w; } }
                else if (emod != '+' && e < n && s[e] == '\n') { e++; line++; }
                line_starting = s[e - 1] == '\n';
                i = e;
                continue;
            }
            if (kind == '%') {
                /* {% raw %}: everything to {% endraw %} is text */
                size_t r = k;
                while (r < n && is_ws(s[r])) r++;
                if (n - r >= 3 && memcmp(s + r, "raw", 3) == 0) {
                    size_t q = r + 3;
                    while (q < n && is_ws(s[q])) q++;
                    char rmod = 0;
                    if (q < n && s[q] == '-') { rmod = '-'; q++; }
                    if (q + 1 < n && s[q] == '%' && s[q + 1] == '}') {
                        q += 2;
                        if (rmod == '-') while (q < n && is_ws(s[q])) q++;
                        /* find {%[-+]? endraw [-+]?%} */
                        for (size_t f = q; f + 1 < n; f++) {
                            if (!(s[f] == '{' && s[f + 1] == '%')) continue;
                            size_t g = f + 2; char bmod = 0;
                            if (g < n && (s[g] == '-' || s[g] == '+')) bmod = s[g++];
                            while (g < n && is_ws(s[g])) g++;
                            if (n - g < 6 || memcmp(s + g, "endraw", 6) != 0) continue;
                            g += 6;
                            while (g < n && is_ws(s[g])) g++;
                            char emod = 0;
                            if (g < n && (s[g] == '-' || s[g] == '+')) emod = s[g++];
                            if (!(g + 1 < n && s[g] == '%' && s[g + 1] == '}')) continue;
                            size_t tl2 = f - q;
                            if (bmod == '-') tl2 = rstrip_len(s + q, tl2);
                            else if (bmod != '+') {
                                size_t l = tl2;
                                while (l > 0 && s[q + l - 1] != '\n') l--;
                                bool only = l < tl2;
                                for (size_t m = l; m < tl2; m++) if (!is_ws(s[q + m])) only = false;
                                if (only) tl2 = l;
                            }
                            if (tl2) push_tok(P, (Tok){.t = T_DATA, .line = line, .s = pstr(P, s + q, tl2)});
                            line += count_lines(s + q, g - q);
                            g += 2;
                            if (emod == '-') while (g < n && is_ws(s[g])) { if (s[g] == '\n') line++; g++; }
                            else if (emod != '+' && g < n && s[g] == '\n') { g++; line++; }
                            line_starting = s[g - 1] == '\n';
                            i = g;
                            goto next;
                        }
                        perr(P, LAB_EFORMAT, line, "{%% raw %%} is never closed by {%% endraw %%}");
                    }
                }
            }
            push_tok(P, (Tok){.t = kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, .line = line});
            i = k;
            lex_tag(P, s, n, &i, &line, kind == '%', &line_starting);
        } else {
            if (tlen) push_tok(P, (Tok){.t = T_DATA, .line = line, .s = pstr(P, s + i, tlen)});
            i = n;
        }
    next:;
    }
    push_tok(P, (Tok){.t = T_EOF, .line = line});
}

/* ---------- parser ---------- */
static Tok *cur(Parser *P) { return &P->toks[P->pos]; }
static Tok *adv(Parser *P) { Tok *t = &P->toks[P->pos]; if (t->t != T_EOF) P->pos++; return t; }
static bool is_op(Parser *P, const char *op) { return cur(P)->t == T_OP && streq(cur(P)->s, op); }
static bool is_name(Parser *P, const char *nm) { return cur(P)->t == T_NAME && streq(cur(P)->s, nm); }

static const char *tok_desc(Tok *t, char *buf, size_t n) {
    switch (t->t) {
    case T_NAME: case T_OP: snprintf(buf, n, "'%.40s'", t->s->p); break;
    case T_STRING: snprintf(buf, n, "a string"); break;
    case T_INT: case T_FLOAT: snprintf(buf, n, "a number"); break;
    case T_VAR_END: snprintf(buf, n, "'}}'"); break;
    case T_BLOCK_END: snprintf(buf, n, "'%%}'"); break;
    case T_EOF: snprintf(buf, n, "the end of the template"); break;
    default: snprintf(buf, n, "template text"); break;
    }
    return buf;
}

static void expect_op(Parser *P, const char *op) {
    if (!is_op(P, op)) { char b[64]; perr(P, LAB_EFORMAT, cur(P)->line, "expected '%s', found %s", op, tok_desc(cur(P), b, sizeof b)); }
    adv(P);
}

static const Str *expect_name(Parser *P, const char *what) {
    if (cur(P)->t != T_NAME) { char b[64]; perr(P, LAB_EFORMAT, cur(P)->line, "expected %s, found %s", what, tok_desc(cur(P), b, sizeof b)); }
    return adv(P)->s;
}

static Expr *mk(Parser *P, EKind k, int line) { Expr *x = pa(P, sizeof *x); x->k = k; x->line = line; return x; }

static void args_push(Parser *P, Args *a, Expr *x) {
    Expr **v = pa(P, (size_t)(a->n + 1) * sizeof *v);
    if (a->n) memcpy(v, a->v, (size_t)a->n * sizeof *v);
    v[a->n++] = x; a->v = v;
}

static void kw_push(Parser *P, Args *a, const Str *k, Expr *x) {
    const Str **kw = pa(P, (size_t)(a->nkw + 1) * sizeof *kw);
    Expr **kv = pa(P, (size_t)(a->nkw + 1) * sizeof *kv);
    if (a->nkw) { memcpy(kw, a->kw, (size_t)a->nkw * sizeof *kw); memcpy(kv, a->kv, (size_t)a->nkw * sizeof *kv); }
    kw[a->nkw] = k; kv[a->nkw] = x; a->nkw++; a->kw = kw; a->kv = kv;
}

static Expr *p_expr(Parser *P, bool with_cond);
static Expr *p_unary(Parser *P, bool with_filter);
static Expr *p_primary(Parser *P);
static Expr *p_postfix(Parser *P, Expr *x);

static void enter(Parser *P) { if (++P->depth > JJ_MAX_NEST) perr(P, LAB_ERANGE, cur(P)->line, "expressions or statements nested deeper than %d", JJ_MAX_NEST); }
static void leave(Parser *P) { P->depth--; }

/* Expressions with commas: a tuple (in set's value, for's iterable, parentheses). */
static Expr *p_tuple(Parser *P, bool with_cond, bool explicit_parens) {
    int line = cur(P)->line;
    Args items = {0};
    bool comma = false;
    for (;;) {
        if (items.n && (cur(P)->t == T_VAR_END || cur(P)->t == T_BLOCK_END || is_op(P, ")") || is_name(P, "if") || is_op(P, "=")))
            break;
        if (!items.n && explicit_parens && is_op(P, ")")) break;
        args_push(P, &items, p_expr(P, with_cond));
        if (!is_op(P, ",")) break;
        comma = true;
        adv(P);
    }
    if (!comma && items.n == 1) return items.v[0];
    Expr *x = mk(P, E_TUPLE, line);
    x->args = items;
    return x;
}

static void p_call_args(Parser *P, Args *a) {
    expect_op(P, "(");
    while (!is_op(P, ")")) {
        if (a->n || a->nkw) expect_op(P, ",");
        if (is_op(P, ")")) break;  /* trailing comma */
        if (is_op(P, "*") || is_op(P, "**")) perr(P, LAB_EUNSUPPORTED, cur(P)->line, "unsupported: *args / **kwargs in a call");
        if (cur(P)->t == T_NAME && P->toks[P->pos + 1].t == T_OP && streq(P->toks[P->pos + 1].s, "=")) {
            const Str *k = adv(P)->s;
            adv(P);
            kw_push(P, a, k, p_expr(P, true));
        } else {
            if (a->nkw) perr(P, LAB_EFORMAT, cur(P)->line, "a positional argument after a keyword argument");
            args_push(P, a, p_expr(P, true));
        }
    }
    adv(P);
}

static const char *const FILTERS[] = {"trim", "length", "count", "tojson", "upper", "lower", "capitalize", "title", "replace",
    "default", "d", "join", "first", "last", "items", "selectattr", "rejectattr", "select", "reject", "map", "list", "string",
    "int", "float", "abs", "reverse", "safe", "escape", "e", "unique", "dictsort", "sort", "min", "max", "sum", NULL};
static const char *const TESTS[] = {"defined", "undefined", "none", "string", "number", "integer", "float", "mapping",
    "iterable", "sequence", "boolean", "true", "false", "equalto", "eq", "==", "ne", "!=", "odd", "even", "divisibleby",
    "in", "lower", "upper", "sameas", "gt", "lt", "ge", "le", ">", "<", ">=", "<=", "callable", NULL};
static const char *const METHODS[] = {"strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper", "lower",
    "title", "capitalize", "replace", "find", "count", "join", "items", "keys", "values", "get", NULL};
static const char *const FUNCS[] = {"raise_exception", "strftime_now", "namespace", "range", "dict", NULL};
enum { F_RAISE, F_STRFTIME, F_NAMESPACE, F_RANGE, F_DICT };

static Expr *p_filter_test(Parser *P, Expr *x) {
    for (;;) {
        if (is_op(P, "|")) {
            int line = adv(P)->line;
            const Str *nm = expect_name(P, "a filter name");
            if (!in_list(FILTERS, nm)) perr(P, LAB_EUNSUPPORTED, line, "unsupported filter '%s'", nm->p);
            Expr *f = mk(P, E_FILTER, line);
            f->name = nm; f->a = x;
            if (is_op(P, "(")) p_call_args(P, &f->args);
            x = f;
        } else if (is_name(P, "is")) {
            int line = adv(P)->line;
            bool neg = false;
            if (is_name(P, "not")) { adv(P); neg = true; }
            const Str *nm;
            if (cur(P)->t == T_OP && (streq(cur(P)->s, "==") || streq(cur(P)->s, "!=") || streq(cur(P)->s, ">") ||
                                     streq(cur(P)->s, "<") || streq(cur(P)->s, ">=") || streq(cur(P)->s, "<=")))
                nm = adv(P)->s;
            else nm = expect_name(P, "a test name");
            if (!in_list(TESTS, nm)) perr(P, LAB_EUNSUPPORTED, line, "unsupported test 'is %s'", nm->p);
            Expr *t = mk(P, E_TEST, line);
            t->name = nm; t->a = x; t->negate = neg;
            if (is_op(P, "(")) p_call_args(P, &t->args);
            else {
                Tok *c = cur(P);
                /* a single argument without parentheses, as Jinja: `is divisibleby 3`, `is sameas none` */
                bool starts = c->t == T_STRING || c->t == T_INT || c->t == T_FLOAT || (c->t == T_OP && (streq(c->s, "(") || streq(c->s, "[") || streq(c->s, "{"))) ||
                              (c->t == T_NAME && !streq(c->s, "else") && !streq(c->s, "or") && !streq(c->s, "and") && !streq(c->s, "if") && !streq(c->s, "is") && !streq(c->s, "in") && !streq(c->s, "not"));
                if (starts) {
                    Expr *arg = p_postfix(P, p_primary(P));
                    args_push(P, &t->args, arg);
                }
            }
            x = t;
        } else if (is_op(P, "(")) {
            x = p_postfix(P, x);
        } else {
            return x;
        }
    }
}

static Expr *p_postfix(Parser *P, Expr *x) {
    for (;;) {
        int line = cur(P)->line;
        if (is_op(P, ".")) {
            adv(P);
            Expr *y;
            if (cur(P)->t == T_INT) {
                y = mk(P, E_ITEM, line); y->a = x;
                y->b = mk(P, E_LIT, line); y->b->lit = (Val){.t = V_INT, .u.i = adv(P)->i};
            } else {
                y = mk(P, E_ATTR, line); y->a = x; y->name = expect_name(P, "an attribute name");
            }
            x = y;
        } else if (is_op(P, "[")) {
            adv(P);
            Expr *parts[3] = {0};
            int np = 0; bool slice = false;
            for (;;) {
                if (is_op(P, ":")) {
                    if (np >= 2) perr(P, LAB_EFORMAT, line, "a slice takes at most three parts");
                    adv(P); slice = true; np++;
                    continue;
                }
                if (is_op(P, "]")) break;
                if (parts[np]) perr(P, LAB_EFORMAT, line, "expected ':' or ']' in a subscript");
                parts[np] = p_expr(P, true);
                if (!slice && is_op(P, ",")) perr(P, LAB_EUNSUPPORTED, line, "unsupported: a tuple as a subscript");
            }
            adv(P);
            Expr *y;
            if (slice) { y = mk(P, E_SLICE, line); y->a = x; y->b = parts[0]; y->c = parts[1]; y->d = parts[2]; }
            else {
                if (!parts[0]) perr(P, LAB_EFORMAT, line, "empty subscript []");
                y = mk(P, E_ITEM, line); y->a = x; y->b = parts[0];
            }
            x = y;
        } else if (is_op(P, "(")) {
            Expr *c = mk(P, E_CALL, line);
            c->a = x;
            if (x->k == E_ATTR) {
                if (!in_list(METHODS, x->name)) perr(P, LAB_EUNSUPPORTED, line, "unsupported method '.%s()'", x->name->p);
            } else if (x->k == E_NAME) {
                if (!in_list(FUNCS, x->name)) {
                    /* a macro defined somewhere in the template, checked once all is parsed */
                    if (P->n_called == P->cap_called) {
                        int cap = P->cap_called ? P->cap_called * 2 : 16;
                        const Str **nc = pa(P, (size_t)cap * sizeof *nc);
                        int *nl = pa(P, (size_t)cap * sizeof *nl);
                        if (P->n_called) { memcpy(nc, P->called, (size_t)P->n_called * sizeof *nc); memcpy(nl, P->called_line, (size_t)P->n_called * sizeof *nl); }
                        P->called = nc; P->called_line = nl; P->cap_called = cap;
                    }
                    P->called[P->n_called] = x->name; P->called_line[P->n_called++] = line;
                }
            } else {
                perr(P, LAB_EUNSUPPORTED, line, "unsupported: calling the result of an expression");
            }
            p_call_args(P, &c->args);
            x = c;
        } else {
            return x;
        }
    }
}

static Expr *p_primary(Parser *P) {
    Tok *t = cur(P);
    int line = t->line;
    Expr *x;
    enter(P);
    if (t->t == T_NAME) {
        adv(P);
        x = mk(P, E_LIT, line);
        if (streq(t->s, "true") || streq(t->s, "True")) x->lit = (Val){.t = V_BOOL, .u.b = true};
        else if (streq(t->s, "false") || streq(t->s, "False")) x->lit = (Val){.t = V_BOOL, .u.b = false};
        else if (streq(t->s, "none") || streq(t->s, "None")) x->lit = NONE;
        else { x->k = E_NAME; x->name = t->s; }
    } else if (t->t == T_STRING) {
        adv(P);
        const Str *s = t->s;
        while (cur(P)->t == T_STRING) {  /* adjacent literals join, as in Python */
            const Str *u = adv(P)->s;
            Str *j = pa(P, sizeof *j + s->n + u->n + 1);
            j->n = s->n + u->n; memcpy(j->p, s->p, s->n); memcpy(j->p + s->n, u->p, u->n); j->p[j->n] = 0;
            s = j;
        }
        x = mk(P, E_LIT, line); x->lit = (Val){.t = V_STR, .u.s = s};
    } else if (t->t == T_INT) {
        adv(P); x = mk(P, E_LIT, line); x->lit = (Val){.t = V_INT, .u.i = t->i};
    } else if (t->t == T_FLOAT) {
        adv(P); x = mk(P, E_LIT, line); x->lit = (Val){.t = V_FLOAT, .u.f = t->f};
    } else if (is_op(P, "(")) {
        adv(P);
        x = p_tuple(P, true, true);
        expect_op(P, ")");
    } else if (is_op(P, "[")) {
        adv(P);
        x = mk(P, E_LIST, line);
        while (!is_op(P, "]")) {
            if (x->args.n) expect_op(P, ",");
            if (is_op(P, "]")) break;
            args_push(P, &x->args, p_expr(P, true));
        }
        adv(P);
    } else if (is_op(P, "{")) {
        adv(P);
        x = mk(P, E_DICT, line);
        while (!is_op(P, "}")) {
            if (x->args.n) expect_op(P, ",");
            if (is_op(P, "}")) break;
            Expr *k = p_expr(P, true);
            expect_op(P, ":");
            Expr *v = p_expr(P, true);
            args_push(P, &x->args, k);
            kw_push(P, &x->args, NULL, v);
        }
        adv(P);
    } else {
        char b[64];
        perr(P, LAB_EFORMAT, line, "expected an expression, found %s", tok_desc(t, b, sizeof b));
    }
    leave(P);
    return x;
}

static Expr *p_unary(Parser *P, bool with_filter) {
    int line = cur(P)->line;
    Expr *x;
    enter(P);
    if (is_op(P, "-") || is_op(P, "+")) {
        bool neg = is_op(P, "-");
        adv(P);
        x = mk(P, neg ? E_NEG : E_POS, line);
        x->a = p_unary(P, false);
    } else {
        x = p_primary(P);
    }
    x = p_postfix(P, x);
    if (with_filter) x = p_filter_test(P, x);
    leave(P);
    return x;
}

static Expr *bin(Parser *P, const char *op, Expr *a, Expr *b, int line) {
    Expr *x = mk(P, E_BIN, line);
    snprintf(x->op, sizeof x->op, "%s", op);
    x->a = a; x->b = b;
    return x;
}

static Expr *p_pow(Parser *P) {
    Expr *x = p_unary(P, true);
    while (is_op(P, "**")) { int line = adv(P)->line; x = bin(P, "**", x, p_unary(P, true), line); }
    return x;
}

static Expr *p_math2(Parser *P) {
    Expr *x = p_pow(P);
    while (is_op(P, "*") || is_op(P, "/") || is_op(P, "//") || is_op(P, "%")) {
        Tok *t = adv(P);
        x = bin(P, t->s->p, x, p_pow(P), t->line);
    }
    return x;
}

static Expr *p_concat(Parser *P) {
    Expr *x = p_math2(P);
    if (!is_op(P, "~")) return x;
    Expr *c = mk(P, E_CONCAT, x->line);
    args_push(P, &c->args, x);
    while (is_op(P, "~")) { adv(P); args_push(P, &c->args, p_math2(P)); }
    return c;
}

static Expr *p_math1(Parser *P) {
    Expr *x = p_concat(P);
    while (is_op(P, "+") || is_op(P, "-")) {
        Tok *t = adv(P);
        x = bin(P, t->s->p, x, p_concat(P), t->line);
    }
    return x;
}

static Expr *p_compare(Parser *P) {
    Expr *x = p_math1(P);
    Expr *c = NULL;
    for (;;) {
        const char *op = NULL;
        Tok *t = cur(P);
        if (t->t == T_OP && (streq(t->s, "==") || streq(t->s, "!=") || streq(t->s, "<") || streq(t->s, ">") || streq(t->s, "<=") || streq(t->s, ">="))) { op = t->s->p; adv(P); }
        else if (is_name(P, "in")) { op = "in"; adv(P); }
        else if (is_name(P, "not") && P->toks[P->pos + 1].t == T_NAME && streq(P->toks[P->pos + 1].s, "in")) { op = "notin"; adv(P); adv(P); }
        else break;
        if (!c) { c = mk(P, E_CMP, x->line); args_push(P, &c->args, x); }
        const char **ops = pa(P, (size_t)c->args.n * sizeof *ops);
        if (c->args.n > 1) memcpy(ops, c->ops, (size_t)(c->args.n - 1) * sizeof *ops);
        ops[c->args.n - 1] = op;
        c->ops = ops;
        args_push(P, &c->args, p_math1(P));
    }
    return c ? c : x;
}

static Expr *p_not(Parser *P) {
    if (is_name(P, "not")) {
        int line = adv(P)->line;
        enter(P);
        Expr *x = mk(P, E_NOT, line);
        x->a = p_not(P);
        leave(P);
        return x;
    }
    return p_compare(P);
}

static Expr *p_and(Parser *P) {
    Expr *x = p_not(P);
    while (is_name(P, "and")) { int line = adv(P)->line; Expr *y = mk(P, E_AND, line); y->a = x; y->b = p_not(P); x = y; }
    return x;
}

static Expr *p_or(Parser *P) {
    Expr *x = p_and(P);
    while (is_name(P, "or")) { int line = adv(P)->line; Expr *y = mk(P, E_OR, line); y->a = x; y->b = p_and(P); x = y; }
    return x;
}

static Expr *p_expr(Parser *P, bool with_cond) {
    enter(P);
    Expr *x = p_or(P);
    while (with_cond && is_name(P, "if")) {
        int line = adv(P)->line;
        Expr *c = mk(P, E_COND, line);
        c->a = p_or(P);
        c->b = x;
        if (is_name(P, "else")) { adv(P); c->c = p_expr(P, true); }
        x = c;
    }
    leave(P);
    return x;
}

/* ---------- statements ---------- */
static Body p_body(Parser *P, const char *const *ends, const Str **found);

static void expect_block_end(Parser *P) {
    if (cur(P)->t != T_BLOCK_END) { char b[64]; perr(P, LAB_EFORMAT, cur(P)->line, "expected '%%}', found %s", tok_desc(cur(P), b, sizeof b)); }
    adv(P);
}

static Node *mknode(Parser *P, SKind k, int line) { Node *n = pa(P, sizeof *n); n->k = k; n->line = line; return n; }

static void p_targets(Parser *P, Node *n) {
    const Str *names[16]; int k = 0;
    for (;;) {
        if (k == 16) perr(P, LAB_EUNSUPPORTED, cur(P)->line, "more than 16 names to unpack");
        names[k++] = expect_name(P, "a variable name");
        if (!is_op(P, ",")) break;
        adv(P);
    }
    n->targets = pa(P, (size_t)k * sizeof *n->targets);
    memcpy(n->targets, names, (size_t)k * sizeof *names);
    n->n_targets = k;
}

static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_ENDIF[] = {"endif", NULL};
static const char *const END_FOR[] = {"else", "endfor", NULL};
static const char *const END_ENDFOR[] = {"endfor", NULL};
static const char *const END_SET[] = {"endset", NULL};
static const char *const END_MACRO[] = {"endmacro", NULL};
static const char *const END_GEN[] = {"endgeneration", NULL};

static Node *p_if(Parser *P, int line) {
    Node *n = mknode(P, S_IF, line);
    n->e = p_expr(P, true);
    expect_block_end(P);
    const Str *end;
    n->body = p_body(P, END_IF, &end);
    if (streq(end, "elif")) {
        Node *sub = p_if(P, P->toks[P->pos - 1].line);
        n->orelse.v = pa(P, sizeof *n->orelse.v);
        n->orelse.v[0] = sub; n->orelse.n = 1;
        return n;  /* the nested if consumed the endif */
    }
    if (streq(end, "else")) {
        expect_block_end(P);
        n->orelse = p_body(P, END_ENDIF, &end);
    }
    expect_block_end(P);
    return n;
}

static Node *p_statement(Parser *P) {
    Tok *t = cur(P);
    int line = t->line;
    if (t->t != T_NAME) { char b[64]; perr(P, LAB_EFORMAT, line, "expected a statement name after '{%%', found %s", tok_desc(t, b, sizeof b)); }
    const Str *kw = adv(P)->s;
    enter(P);
    Node *n;
    if (streq(kw, "if")) {
        n = p_if(P, line);
    } else if (streq(kw, "for")) {
        n = mknode(P, S_FOR, line);
        p_targets(P, n);
        if (!is_name(P, "in")) perr(P, LAB_EFORMAT, cur(P)->line, "expected 'in' in a for statement");
        adv(P);
        n->e = p_tuple(P, false, false);
        if (is_name(P, "if")) { adv(P); n->filter = p_expr(P, true); }
        if (is_name(P, "recursive")) perr(P, LAB_EUNSUPPORTED, line, "unsupported: recursive for loops");
        expect_block_end(P);
        const Str *end;
        n->body = p_body(P, END_FOR, &end);
        if (streq(end, "else")) { expect_block_end(P); n->orelse = p_body(P, END_ENDFOR, &end); }
        expect_block_end(P);
    } else if (streq(kw, "set")) {
        const Str *first = expect_name(P, "a variable name");
        if (is_op(P, ".")) {
            adv(P);
            n = mknode(P, S_SET, line);
            n->targets = pa(P, sizeof *n->targets);
            n->targets[0] = first; n->n_targets = 1;
            n->attr = expect_name(P, "an attribute name");
        } else {
            P->pos--;
            n = mknode(P, S_SET, line);
            p_targets(P, n);
        }
        if (is_op(P, "=")) {
            adv(P);
            n->e = p_tuple(P, true, false);
            expect_block_end(P);
        } else {
            if (n->attr || n->n_targets != 1) perr(P, LAB_EUNSUPPORTED, line, "unsupported: a block set of several names or an attribute");
            if (is_op(P, "|")) perr(P, LAB_EUNSUPPORTED, line, "unsupported: a filtered block set");
            expect_block_end(P);
            n->k = S_SETBLOCK;
            const Str *end;
            n->body = p_body(P, END_SET, &end);
            expect_block_end(P);
        }
    } else if (streq(kw, "macro")) {
        n = mknode(P, S_MACRO, line);
        n->name = expect_name(P, "a macro name");
        expect_op(P, "(");
        const Str *ps[32]; Expr *ds[32]; int k = 0;
        while (!is_op(P, ")")) {
            if (k) expect_op(P, ",");
            if (is_op(P, ")")) break;
            if (k == 32) perr(P, LAB_EUNSUPPORTED, line, "a macro with more than 32 parameters");
            ps[k] = expect_name(P, "a parameter name");
            ds[k] = NULL;
            if (is_op(P, "=")) { adv(P); ds[k] = p_expr(P, true); }
            k++;
        }
        adv(P);
        expect_block_end(P);
        n->params = pa(P, (size_t)(k ? k : 1) * sizeof *n->params);
        n->defaults = pa(P, (size_t)(k ? k : 1) * sizeof *n->defaults);
        memcpy(n->params, ps, (size_t)k * sizeof *ps);
        memcpy(n->defaults, ds, (size_t)k * sizeof *ds);
        n->n_params = k;
        const Str *end;
        n->body = p_body(P, END_MACRO, &end);
        if (cur(P)->t == T_NAME) adv(P);  /* {% endmacro name %} */
        expect_block_end(P);
        if (P->n_macros == P->cap_macros) {
            int cap = P->cap_macros ? P->cap_macros * 2 : 8;
            const Str **nm = pa(P, (size_t)cap * sizeof *nm);
            if (P->n_macros) memcpy(nm, P->macros, (size_t)P->n_macros * sizeof *nm);
            P->macros = nm; P->cap_macros = cap;
        }
        P->macros[P->n_macros++] = n->name;
    } else if (streq(kw, "break") || streq(kw, "continue")) {
        n = mknode(P, streq(kw, "break") ? S_BREAK : S_CONTINUE, line);
        expect_block_end(P);
    } else if (streq(kw, "generation")) {
        /* transformers' {% generation %}: marks assistant text for masks; renders its body as is */
        expect_block_end(P);
        n = mknode(P, S_BODY, line);
        const Str *end;
        n->body = p_body(P, END_GEN, &end);
        expect_block_end(P);
    } else {
        perr(P, LAB_EUNSUPPORTED, line, "unsupported statement '{%% %s %%}'", kw->p);
    }
    leave(P);
    return n;
}

/* Statements up to one of ends (NULL: the end of the template). *found is the end keyword met
 * (its tag's '%}' not yet consumed). */
static Body p_body(Parser *P, const char *const *ends, const Str **found) {
    Node **v = NULL; int n = 0, cap = 0;
    int start_line = P->pos ? P->toks[P->pos - 1].line : 1;  /* the opening tag's */
    for (;;) {
        Tok *t = cur(P);
        Node *node = NULL;
        if (t->t == T_EOF) {
            if (ends) {
                const char *last = ends[0];
                for (int i = 0; ends[i]; i++) last = ends[i];
                perr(P, LAB_EFORMAT, start_line, "this block is never closed: expected {%% %s %%} before the end of the template", last);
            }
            break;
        } else if (t->t == T_DATA) {
            adv(P);
            node = mknode(P, S_TEXT, t->line); node->text = t->s;
        } else if (t->t == T_VAR_BEGIN) {
            adv(P);
            node = mknode(P, S_OUT, t->line);
            node->e = p_tuple(P, true, false);
            if (cur(P)->t != T_VAR_END) { char b[64]; perr(P, LAB_EFORMAT, cur(P)->line, "expected '}}', found %s", tok_desc(cur(P), b, sizeof b)); }
            adv(P);
        } else if (t->t == T_BLOCK_BEGIN) {
            Tok *kw = &P->toks[P->pos + 1];
            if (kw->t == T_NAME && ends && in_list(ends, kw->s)) { P->pos += 2; *found = kw->s; break; }
            if (kw->t == T_NAME && (streq(kw->s, "endif") || streq(kw->s, "endfor") || streq(kw->s, "else") || streq(kw->s, "elif") ||
                                    streq(kw->s, "endmacro") || streq(kw->s, "endset") || streq(kw->s, "endgeneration")))
                perr(P, LAB_EFORMAT, kw->line, "unexpected '{%% %s %%}'%s", kw->s->p, ends ? "" : " outside any block");
            adv(P);
            node = p_statement(P);
        } else {
            char b[64];
            perr(P, LAB_EFORMAT, t->line, "unexpected %s", tok_desc(t, b, sizeof b));
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            Node **nv = pa(P, (size_t)cap * sizeof *nv);
            if (n) memcpy(nv, v, (size_t)n * sizeof *nv);
            v = nv;
        }
        v[n++] = node;
    }
    return (Body){v, n};
}

int chat_template_load(ChatTemplate **out, const char *src, size_t len, const char *name, LabErr *e) {
    *out = NULL;
    if (!name) name = "chat_template";
    if (len > JJ_MAX_SOURCE) return lab_err(e, LAB_ERANGE, "%s: template of %zu bytes, more than the %u allowed", name, len, JJ_MAX_SOURCE);
    if (!utf8_valid(src, len)) return lab_err(e, LAB_EFORMAT, "%s: the template is not valid UTF-8", name);
    ChatTemplate *t = calloc(1, sizeof *t);
    if (!t) return lab_err(e, LAB_ENOMEM, "out of memory");
    t->source = malloc(len + 1);
    t->name = strdup(name);
    /* Jinja's lexer: newlines normalized to \n, and one trailing newline dropped */
    char *norm = malloc(len + 1);
    if (!t->source || !t->name || !norm) { free(norm); chat_template_free(t); return lab_err(e, LAB_ENOMEM, "out of memory"); }
    memcpy(t->source, src, len);
    t->source[len] = 0;
    size_t m = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') { norm[m++] = '\n'; if (i + 1 < len && src[i + 1] == '\n') i++; }
        else norm[m++] = src[i];
    }
    if (m && norm[m - 1] == '\n') m--;
    norm[m] = 0;
    Parser *P = calloc(1, sizeof *P);
    if (!P) { free(norm); chat_template_free(t); return lab_err(e, LAB_ENOMEM, "out of memory"); }
    P->ar = &t->ar; P->name = t->name; P->e = e;
    if (setjmp(P->jb)) {
        free(P->toks); free(P); free(norm);
        chat_template_free(t);
        return -1;
    }
    lex(P, norm, m);
    const Str *end = NULL;
    t->body = p_body(P, NULL, &end);
    for (int i = 0; i < P->n_called; i++) {
        bool ok = false;
        for (int j = 0; j < P->n_macros && !ok; j++) ok = P->macros[j]->n == P->called[i]->n && memcmp(P->macros[j]->p, P->called[i]->p, P->called[i]->n) == 0;
        if (!ok) perr(P, LAB_EUNSUPPORTED, P->called_line[i], "unsupported function '%s()'", P->called[i]->p);
    }
    free(P->toks); free(P); free(norm);
    *out = t;
    return 0;
}

void chat_template_free(ChatTemplate *t) {
    if (!t) return;
    ar_free(&t->ar);
    free(t->source);
    free(t->name);
    free(t);
}

const char *chat_template_source(const ChatTemplate *t) { return t->source; }

/* ---------- evaluator ---------- */
typedef struct Frame { struct Frame *parent; Dict vars; } Frame;

typedef struct TBuf { Buf b; struct TBuf *up; } TBuf;

typedef struct {
    Arena ar;
    const ChatTemplate *t;
    LabErr *e;
    jmp_buf jb;
    Buf *out;
    TBuf *temps;  /* open temporary buffers, innermost first: freed on an error */
    json_t *mj, *vj; /* the render's parsed JSON: here, not in locals, which a longjmp may not keep */
    long iters;
    int calls;
    Frame *root;
    int brk;   /* 1 break, 2 continue: set by the statements, cleared by their loop */
} Ctx;

static void __attribute__((noreturn, format(printf, 4, 5))) rerr(Ctx *C, LabErrCode code, int line, const char *fmt, ...) {
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) lab_err(C->e, code, "%s line %d: %s", C->t->name, line, msg);
    else lab_err(C->e, code, "%s: %s", C->t->name, msg);
    longjmp(C->jb, 1);
}

static void *ca(Ctx *C, size_t n) {
    void *p = ar_alloc(&C->ar, n);
    if (!p) rerr(C, C->ar.over ? LAB_ERANGE : LAB_ENOMEM, 0, "rendering needs more than %zu MiB", JJ_MAX_ARENA >> 20);
    memset(p, 0, n);
    return p;
}

static void tick(Ctx *C, int line) {
    if (++C->iters > JJ_MAX_ITERS) rerr(C, LAB_ERANGE, line, "more than %ld loop iterations", JJ_MAX_ITERS);
}

static Val vstr(Ctx *C, const char *p, size_t n) {
    const Str *s = str_make(&C->ar, p, n);
    if (!s) rerr(C, LAB_ERANGE, 0, "rendering needs more than %zu MiB", JJ_MAX_ARENA >> 20);
    return (Val){.t = V_STR, .u.s = s};
}
static Val vcstr(Ctx *C, const char *p) { return vstr(C, p, strlen(p)); }

/* A temporary text buffer (malloc'd growth, tracked so an error unwinding past it frees it). */
static Buf *tb_open(Ctx *C) {
    TBuf *t = ca(C, sizeof *t);
    t->up = C->temps;
    C->temps = t;
    return &t->b;
}
/* Closes the innermost temporary (b must be it) into a string value. */
static Val tb_close(Ctx *C, Buf *b) {
    Val v = vstr(C, b->data ? b->data : "", b->len);
    buf_free(b);
    C->temps = C->temps->up;
    return v;
}
static Val vbool(bool b) { return (Val){.t = V_BOOL, .u.b = b}; }
static Val vint(int64_t i) { return (Val){.t = V_INT, .u.i = i}; }
static Val vflt(double f) { return (Val){.t = V_FLOAT, .u.f = f}; }

static List *list_new(Ctx *C, size_t cap) {
    List *l = ca(C, sizeof *l);
    l->cap = cap ? cap : 4;
    l->v = ca(C, l->cap * sizeof *l->v);
    return l;
}
static void list_push(Ctx *C, List *l, Val v) {
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        Val *nv = ca(C, cap * sizeof *nv);
        memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv; l->cap = cap;
    }
    l->v[l->n++] = v;
}
static Val vlist(List *l) { return (Val){.t = V_LIST, .u.l = l}; }

static bool val_eq(const Val *a, const Val *b);

static Dict *dict_new(Ctx *C) { Dict *d = ca(C, sizeof *d); return d; }
static Val *dict_get(const Dict *d, const Val *k) {
    for (size_t i = 0; i < d->n; i++) if (val_eq(&d->k[i], k)) return &d->v[i];
    return NULL;
}
static Val *dict_gets(const Dict *d, const char *k, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == V_STR && d->k[i].u.s->n == n && memcmp(d->k[i].u.s->p, k, n) == 0) return &d->v[i];
    return NULL;
}
static void dict_set(Ctx *C, Dict *d, Val k, Val v) {
    Val *have = dict_get(d, &k);
    if (have) { *have = v; return; }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        Val *nk = ca(C, cap * sizeof *nk), *nv = ca(C, cap * sizeof *nv);
        if (d->n) { memcpy(nk, d->k, d->n * sizeof *nk); memcpy(nv, d->v, d->n * sizeof *nv); }
        d->k = nk; d->v = nv; d->cap = cap;
    }
    d->k[d->n] = k; d->v[d->n++] = v;
}

static const char *type_name(const Val *v) {
    switch (v->t) {
    case V_UNDEF: return "undefined"; case V_NONE: return "NoneType"; case V_BOOL: return "bool";
    case V_INT: return "int"; case V_FLOAT: return "float"; case V_STR: return "str"; case V_LIST: return "list";
    case V_DICT: return "dict"; case V_NS: return "Namespace"; case V_MACRO: return "Macro"; case V_METHOD: return "method";
    case V_LOOP: return "LoopContext"; case V_FUNC: return "function";
    }
    return "?";
}

static bool truthy(const Val *v) {
    switch (v->t) {
    case V_UNDEF: case V_NONE: return false;
    case V_BOOL: return v->u.b;
    case V_INT: return v->u.i != 0;
    case V_FLOAT: return v->u.f != 0;
    case V_STR: return v->u.s->n > 0;
    case V_LIST: return v->u.l->n > 0;
    case V_DICT: return v->u.d->n > 0;
    default: return true;
    }
}

static bool is_num(const Val *v) { return v->t == V_INT || v->t == V_FLOAT || v->t == V_BOOL; }
static double num_f(const Val *v) { return v->t == V_FLOAT ? v->u.f : v->t == V_INT ? (double)v->u.i : v->u.b; }
static int64_t num_i(const Val *v) { return v->t == V_INT ? v->u.i : v->u.b; }

static bool val_eq(const Val *a, const Val *b) {
    if (is_num(a) && is_num(b)) {
        if (a->t == V_FLOAT || b->t == V_FLOAT) return num_f(a) == num_f(b);
        return num_i(a) == num_i(b);
    }
    if (a->t != b->t) return (a->t == V_DICT || a->t == V_NS) && (b->t == V_DICT || b->t == V_NS) ? false : false;
    switch (a->t) {
    case V_UNDEF: case V_NONE: return true;
    case V_STR: return a->u.s->n == b->u.s->n && memcmp(a->u.s->p, b->u.s->p, a->u.s->n) == 0;
    case V_LIST:
        if (a->u.l->n != b->u.l->n || a->u.l->tuple != b->u.l->tuple) return false;
        for (size_t i = 0; i < a->u.l->n; i++) if (!val_eq(&a->u.l->v[i], &b->u.l->v[i])) return false;
        return true;
    case V_DICT:
        if (a->u.d->n != b->u.d->n) return false;
        for (size_t i = 0; i < a->u.d->n; i++) {
            Val *o = dict_get(b->u.d, &a->u.d->k[i]);
            if (!o || !val_eq(&a->u.d->v[i], o)) return false;
        }
        return true;
    case V_NS: return a->u.d == b->u.d;
    case V_MACRO: return a->u.macro == b->u.macro;
    case V_LOOP: return a->u.loop == b->u.loop;
    case V_FUNC: return a->u.fn == b->u.fn;
    case V_METHOD: return a->u.m == b->u.m;
    default: return false;
    }
}

/* ----- text conversions: str(), repr(), json ----- */
static void out_fail(Ctx *C) { rerr(C, LAB_ENOMEM, 0, "out of memory"); }
static void bput(Ctx *C, Buf *b, const char *p, size_t n) {
    if (b == C->out && b->len + n > JJ_MAX_OUTPUT) rerr(C, LAB_ERANGE, 0, "the output would exceed %u MiB", JJ_MAX_OUTPUT >> 20);
    if (b != C->out && b->len + n > JJ_MAX_ARENA) rerr(C, LAB_ERANGE, 0, "a string would exceed %zu MiB", JJ_MAX_ARENA >> 20);
    if (buf_append(b, p, n)) out_fail(C);
}
static void bputs(Ctx *C, Buf *b, const char *s) { bput(C, b, s, strlen(s)); }

/* Python's repr(float): the shortest digits that read back the same, fixed notation for exponents
 * in [-4, 16), else d.ddde+XX. */
static void fmt_float(double f, char *out, size_t n) {
    if (isnan(f)) { snprintf(out, n, "nan"); return; }
    if (isinf(f)) { snprintf(out, n, f < 0 ? "-inf" : "inf"); return; }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp: [-]d[.ddd]e[+-]xx */
    char digits[32]; int nd = 0; const char *p = tmp; bool neg = false;
    if (*p == '-') { neg = true; p++; }
    for (; *p && *p != 'e'; p++) if (*p != '.') digits[nd++] = *p;
    int ex = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    char *o = out; size_t left = n;
#define PUT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); if (w_ < 0 || (size_t)w_ >= left) return; o += w_; left -= (size_t)w_; } while (0)
    if (neg) PUT("-");
    if (ex >= -4 && ex < 16) {
        if (ex >= 0) {
            for (int i = 0; i <= ex; i++) PUT("%c", i < nd ? digits[i] : '0');
            PUT(".");
            if (nd > ex + 1) PUT("%s", digits + ex + 1);
            else PUT("0");
        } else {
            PUT("0.");
            for (int i = 0; i < -ex - 1; i++) PUT("0");
            PUT("%s", digits);
        }
    } else {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%s", digits + 1);
        PUT("e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
    }
#undef PUT
}

static void to_str_buf(Ctx *C, Buf *b, const Val *v, bool repr);

static void repr_str(Ctx *C, Buf *b, const Str *s) {
    bool sq = memchr(s->p, '\'', s->n) && !memchr(s->p, '"', s->n);
    char q = sq ? '"' : '\'';
    bput(C, b, &q, 1);
    for (size_t i = 0; i < s->n;) {
        unsigned char c = (unsigned char)s->p[i];
        uint32_t cp; int k = utf8_decode((const unsigned char *)s->p + i, s->n - i, &cp);
        char e[16];
        if (c == '\\') bputs(C, b, "\\\\");
        else if (c == (unsigned char)q) { e[0] = '\\'; e[1] = (char)q; bput(C, b, e, 2); }
        else if (c == '\n') bputs(C, b, "\\n");
        else if (c == '\r') bputs(C, b, "\\r");
        else if (c == '\t') bputs(C, b, "\\t");
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) { snprintf(e, sizeof e, "\\x%02x", cp); bputs(C, b, e); }
        else bput(C, b, s->p + i, (size_t)k);
        i += (size_t)k;
    }
    bput(C, b, &q, 1);
}

static void to_str_buf(Ctx *C, Buf *b, const Val *v, bool repr) {
    char tmp[64];
    switch (v->t) {
    case V_UNDEF: if (repr) bputs(C, b, "Undefined"); return;
    case V_NONE: bputs(C, b, "None"); return;
    case V_BOOL: bputs(C, b, v->u.b ? "True" : "False"); return;
    case V_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v->u.i); bputs(C, b, tmp); return;
    case V_FLOAT: fmt_float(v->u.f, tmp, sizeof tmp); bputs(C, b, tmp); return;
    case V_STR: if (repr) repr_str(C, b, v->u.s); else bput(C, b, v->u.s->p, v->u.s->n); return;
    case V_LIST:
        bputs(C, b, v->u.l->tuple ? "(" : "[");
        for (size_t i = 0; i < v->u.l->n; i++) { if (i) bputs(C, b, ", "); tick(C, 0); to_str_buf(C, b, &v->u.l->v[i], true); }
        bputs(C, b, v->u.l->tuple ? (v->u.l->n == 1 ? ",)" : ")") : "]");
        return;
    case V_DICT:
        bputs(C, b, "{");
        for (size_t i = 0; i < v->u.d->n; i++) {
            if (i) bputs(C, b, ", ");
            tick(C, 0);
            to_str_buf(C, b, &v->u.d->k[i], true); bputs(C, b, ": "); to_str_buf(C, b, &v->u.d->v[i], true);
        }
        bputs(C, b, "}");
        return;
    default:
        /* Python would print an object address here: nothing a template can rely on */
        rerr(C, LAB_EUNSUPPORTED, 0, "unsupported: printing a %s", type_name(v));
    }
}

static Val to_str(Ctx *C, const Val *v) {
    if (v->t == V_STR) return *v;
    Buf *b = tb_open(C);
    to_str_buf(C, b, v, false);
    return tb_close(C, b);
}

/* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=indent, separators=None, sort_keys=...) */
static void json_dump(Ctx *C, Buf *b, const Val *v, int indent, int level, bool sort_keys, int line) {
    char tmp[64];
    tick(C, line);
    if (level > 200) rerr(C, LAB_ERANGE, line, "tojson: nesting deeper than 200");
    switch (v->t) {
    case V_NONE: bputs(C, b, "null"); return;
    case V_BOOL: bputs(C, b, v->u.b ? "true" : "false"); return;
    case V_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v->u.i); bputs(C, b, tmp); return;
    case V_FLOAT:
        if (isnan(v->u.f)) bputs(C, b, "NaN");
        else if (isinf(v->u.f)) bputs(C, b, v->u.f < 0 ? "-Infinity" : "Infinity");
        else { fmt_float(v->u.f, tmp, sizeof tmp); bputs(C, b, tmp); }
        return;
    case V_STR: {
        bputs(C, b, "\"");
        const Str *s = v->u.s;
        for (size_t i = 0; i < s->n; i++) {
            unsigned char c = (unsigned char)s->p[i];
            switch (c) {
            case '"': bputs(C, b, "\\\""); break;
            case '\\': bputs(C, b, "\\\\"); break;
            case '\n': bputs(C, b, "\\n"); break;
            case '\r': bputs(C, b, "\\r"); break;
            case '\t': bputs(C, b, "\\t"); break;
            case '\b': bputs(C, b, "\\b"); break;
            case '\f': bputs(C, b, "\\f"); break;
            default:
                if (c < 0x20) { snprintf(tmp, sizeof tmp, "\\u%04x", c); bputs(C, b, tmp); }
                else bput(C, b, (const char *)&c, 1);
            }
        }
        bputs(C, b, "\"");
        return;
    }
    case V_LIST: case V_DICT: {
        bool isl = v->t == V_LIST;
        size_t n = isl ? v->u.l->n : v->u.d->n;
        bputs(C, b, isl ? "[" : "{");
        if (!n) { bputs(C, b, isl ? "]" : "}"); return; }
        size_t *order = ca(C, n * sizeof *order);
        for (size_t i = 0; i < n; i++) order[i] = i;
        if (!isl && sort_keys) {
            for (size_t i = 0; i < n; i++) {
                if (v->u.d->k[i].t != V_STR) rerr(C, LAB_EUNSUPPORTED, line, "tojson: sort_keys with a key that is not a string");
            }
            for (size_t i = 1; i < n; i++) {  /* insertion sort: dicts here are small */
                size_t x = order[i], j = i;
                while (j > 0) {
                    const Str *a = v->u.d->k[order[j - 1]].u.s, *c = v->u.d->k[x].u.s;
                    size_t m = a->n < c->n ? a->n : c->n;
                    int r = memcmp(a->p, c->p, m);
                    if (r < 0 || (r == 0 && a->n <= c->n)) break;
                    order[j] = order[j - 1]; j--;
                }
                order[j] = x;
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (i) bputs(C, b, indent >= 0 ? "," : ", ");
            if (indent >= 0) { bputs(C, b, "\n"); for (int k = 0; k < indent * (level + 1); k++) bputs(C, b, " "); }
            if (isl) json_dump(C, b, &v->u.l->v[order[i]], indent, level + 1, sort_keys, line);
            else {
                const Val *k = &v->u.d->k[order[i]];
                if (k->t == V_STR) json_dump(C, b, k, indent, level + 1, sort_keys, line);
                else if (k->t == V_NONE || k->t == V_BOOL || k->t == V_INT || k->t == V_FLOAT) {
                    /* Python turns these keys into strings */
                    Val ks = k->t == V_NONE ? vcstr(C, "null") : k->t == V_BOOL ? vcstr(C, k->u.b ? "true" : "false") : to_str(C, k);
                    json_dump(C, b, &ks, indent, level + 1, sort_keys, line);
                } else rerr(C, LAB_EFORMAT, line, "tojson: keys must be str, int, float, bool or None, not %s", type_name(k));
                bputs(C, b, ": ");
                json_dump(C, b, &v->u.d->v[order[i]], indent, level + 1, sort_keys, line);
            }
        }
        if (indent >= 0) { bputs(C, b, "\n"); for (int k = 0; k < indent * level; k++) bputs(C, b, " "); }
        bputs(C, b, isl ? "]" : "}");
        return;
    }
    default:
        rerr(C, LAB_EFORMAT, line, "tojson: Object of type %s is not JSON serializable", v->t == V_UNDEF ? "Undefined" : type_name(v));
    }
}

static Val from_json(Ctx *C, const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_NULL: return NONE;
    case JSON_TRUE: return vbool(true);
    case JSON_FALSE: return vbool(false);
    case JSON_INTEGER: return vint((int64_t)json_integer_value(j));
    case JSON_REAL: return vflt(json_real_value(j));
    case JSON_STRING: return vstr(C, json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        List *l = list_new(C, json_array_size(j));
        size_t i; json_t *x;
        json_array_foreach(j, i, x) list_push(C, l, from_json(C, x));
        return vlist(l);
    }
    case JSON_OBJECT: {
        Dict *d = dict_new(C);
        const char *k; json_t *x;
        void *it = json_object_iter((json_t *)j);
        for (; it; it = json_object_iter_next((json_t *)j, it)) {
            k = json_object_iter_key(it);
            x = json_object_iter_value(it);
            dict_set(C, d, vstr(C, k, strlen(k)), from_json(C, x));
        }
        return (Val){.t = V_DICT, .u.d = d};
    }
    }
    return NONE;
}

/* ----- strings by code point ----- */
typedef struct { size_t n; size_t *off; } CpIndex;   /* off[i]: byte offset of code point i; off[n] = length */
static CpIndex cp_index(Ctx *C, const Str *s) {
    CpIndex x = {0, NULL};
    x.off = ca(C, (s->n + 1) * sizeof *x.off);
    size_t i = 0;
    while (i < s->n) {
        x.off[x.n++] = i;
        uint32_t cp;
        i += (size_t)utf8_decode((const unsigned char *)s->p + i, s->n - i, &cp);
    }
    x.off[x.n] = s->n;
    return x;
}
static size_t cp_count(const Str *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) n += ((unsigned char)s->p[i] & 0xC0) != 0x80;
    return n;
}

static Val str_case(Ctx *C, const Str *s, int mode /* 0 lower 1 upper 2 capitalize 3 title */) {
    Buf *b = tb_open(C);
    bool prev_cased = false;
    size_t i = 0; int idx = 0;
    while (i < s->n) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)s->p + i, s->n - i, &cp);
        utf8proc_int32_t r = (utf8proc_int32_t)cp;
        bool up = mode == 1 || (mode == 2 && idx == 0) || (mode == 3 && !prev_cased);
        /* Python upper-cases with the full mappings: the common ones that grow to two letters */
        const char *full = !up ? NULL : cp == 0xDF ? (mode == 1 ? "SS" : "Ss") : cp == 0xFB00 ? (mode == 1 ? "FF" : "Ff")
                           : cp == 0xFB01 ? (mode == 1 ? "FI" : "Fi") : cp == 0xFB02 ? (mode == 1 ? "FL" : "Fl") : NULL;
        if (full) {
            bputs(C, b, full);
            prev_cased = true;
            i += (size_t)k; idx++;
            continue;
        }
        r = up ? utf8proc_toupper(r) : utf8proc_tolower(r);
        if (mode == 3) {
            utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
            prev_cased = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
        }
        char u[4];
        bput(C, b, u, (size_t)utf8_encode((uint32_t)r, u));
        i += (size_t)k; idx++;
    }
    return tb_close(C, b);
}

/* Python's strip family: which 1 left, 2 right, 3 both; chars NULL = whitespace. */
static Val str_strip(Ctx *C, const Str *s, const Str *chars, int which) {
    size_t a = 0, z = s->n;
    CpIndex set = {0, NULL};
    if (chars) set = cp_index(C, chars);
    if (which & 1) {
        while (a < z) {
            uint32_t cp; int k = utf8_decode((const unsigned char *)s->p + a, z - a, &cp);
            bool in = false;
            if (chars) { for (size_t j = 0; j < set.n && !in; j++) { uint32_t c2; utf8_decode((const unsigned char *)chars->p + set.off[j], chars->n - set.off[j], &c2); in = c2 == cp; } }
            else in = cp_space(cp);
            if (!in) break;
            a += (size_t)k;
        }
    }
    if (which & 2) {
        while (z > a) {
            size_t j = z - 1;
            while (j > a && ((unsigned char)s->p[j] & 0xC0) == 0x80) j--;
            uint32_t cp; utf8_decode((const unsigned char *)s->p + j, z - j, &cp);
            bool in = false;
            if (chars) { for (size_t q = 0; q < set.n && !in; q++) { uint32_t c2; utf8_decode((const unsigned char *)chars->p + set.off[q], chars->n - set.off[q], &c2); in = c2 == cp; } }
            else in = cp_space(cp);
            if (!in) break;
            z = j;
        }
    }
    return vstr(C, s->p + a, z - a);
}

static const char *memfind(const char *h, size_t hn, const char *n, size_t nn) {
    if (nn == 0) return h;
    if (nn > hn) return NULL;
    for (size_t i = 0; i + nn <= hn; i++) if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) return h + i;
    return NULL;
}

static Val str_split(Ctx *C, const Str *s, const Str *sep, int64_t maxsplit, int line) {
    List *l = list_new(C, 4);
    if (sep) {
        if (!sep->n) rerr(C, LAB_EFORMAT, line, "split: empty separator");
        size_t i = 0;
        for (;;) {
            tick(C, line);
            const char *f = maxsplit == 0 ? NULL : memfind(s->p + i, s->n - i, sep->p, sep->n);
            if (!f) { list_push(C, l, vstr(C, s->p + i, s->n - i)); break; }
            list_push(C, l, vstr(C, s->p + i, (size_t)(f - (s->p + i))));
            i = (size_t)(f - s->p) + sep->n;
            if (maxsplit > 0) maxsplit--;
        }
    } else {
        size_t i = 0;
        for (;;) {
            int w;
            while (i < s->n && (w = ws_at(s->p, s->n, i)) > 0) i += (size_t)w;
            if (i >= s->n) break;
            tick(C, line);
            if (maxsplit == 0) {
                size_t z = rstrip_len(s->p + i, s->n - i);
                list_push(C, l, vstr(C, s->p + i, z));
                break;
            }
            size_t j = i;
            while (j < s->n && ws_at(s->p, s->n, j) == 0) { uint32_t cp; j += (size_t)utf8_decode((const unsigned char *)s->p + j, s->n - j, &cp); }
            list_push(C, l, vstr(C, s->p + i, j - i));
            i = j;
            if (maxsplit > 0) maxsplit--;
        }
    }
    return vlist(l);
}

static Val str_replace(Ctx *C, const Str *s, const Str *a, const Str *b, int64_t count, int line) {
    Buf *o = tb_open(C);
    if (!a->n) {
        /* Python inserts the replacement between code points and at both ends */
        CpIndex x = cp_index(C, s);
        for (size_t i = 0; i <= x.n; i++) {
            tick(C, line);
            if (count < 0 || (int64_t)i < count) bput(C, o, b->p, b->n);
            if (i < x.n) bput(C, o, s->p + x.off[i], x.off[i + 1] - x.off[i]);
        }
    } else {
        size_t i = 0;
        while (i <= s->n) {
            const char *f = count == 0 ? NULL : memfind(s->p + i, s->n - i, a->p, a->n);
            if (!f) { bput(C, o, s->p + i, s->n - i); break; }
            tick(C, line);
            bput(C, o, s->p + i, (size_t)(f - (s->p + i)));
            bput(C, o, b->p, b->n);
            i = (size_t)(f - s->p) + a->n;
            if (count > 0) count--;
        }
    }
    return tb_close(C, o);
}

/* ----- lookups ----- */
static Val eval(Ctx *C, const Expr *x, Frame *f);

static Val lookup(Ctx *C, Frame *f, const Str *name) {
    for (; f; f = f->parent) {
        Val *v = dict_gets(&f->vars, name->p, name->n);
        if (v) return *v;
    }
    for (int i = 0; FUNCS[i]; i++) if (streq(name, FUNCS[i])) return (Val){.t = V_FUNC, .u.fn = i};
    return UNDEF;
}

static void setvar(Ctx *C, Frame *f, const Str *name, Val v) {
    dict_set(C, &f->vars, (Val){.t = V_STR, .u.s = name}, v);
}

static const char *const DICT_METHODS[] = {"items", "keys", "values", "get", NULL};
static const char *const STR_METHODS[] = {"strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper", "lower",
    "title", "capitalize", "replace", "find", "count", "join", NULL};

static Val method(Ctx *C, Val self, const char *name) {
    Method *m = ca(C, sizeof *m);
    m->self = self; m->name = name;
    return (Val){.t = V_METHOD, .u.m = m};
}

static Val loop_attr(Ctx *C, const Loop *lp, const Str *name, int line) {
    if (streq(name, "index")) return vint((int64_t)lp->i + 1);
    if (streq(name, "index0")) return vint((int64_t)lp->i);
    if (streq(name, "revindex")) return vint((int64_t)(lp->n - lp->i));
    if (streq(name, "revindex0")) return vint((int64_t)(lp->n - lp->i - 1));
    if (streq(name, "first")) return vbool(lp->i == 0);
    if (streq(name, "last")) return vbool(lp->i + 1 == lp->n);
    if (streq(name, "length")) return vint((int64_t)lp->n);
    if (streq(name, "depth")) return vint(1);
    if (streq(name, "depth0")) return vint(0);
    if (streq(name, "previtem")) return lp->i ? lp->items->v[lp->i - 1] : UNDEF;
    if (streq(name, "nextitem")) return lp->i + 1 < lp->n ? lp->items->v[lp->i + 1] : UNDEF;
    rerr(C, LAB_EUNSUPPORTED, line, "unsupported: loop.%s", name->p);
}

/* obj.name (Jinja: attribute first, then item) */
static Val get_attr(Ctx *C, const Val *o, const Str *name, int line) {
    switch (o->t) {
    case V_UNDEF: rerr(C, LAB_EFORMAT, line, "'%s' of an undefined value: the value is undefined", name->p);
    case V_DICT: {
        for (int i = 0; DICT_METHODS[i]; i++) if (streq(name, DICT_METHODS[i])) return method(C, *o, DICT_METHODS[i]);
        Val *v = dict_gets(o->u.d, name->p, name->n);
        return v ? *v : UNDEF;
    }
    case V_NS: { Val *v = dict_gets(o->u.d, name->p, name->n); return v ? *v : UNDEF; }
    case V_STR:
        for (int i = 0; STR_METHODS[i]; i++) if (streq(name, STR_METHODS[i])) return method(C, *o, STR_METHODS[i]);
        return UNDEF;
    case V_LOOP: return loop_attr(C, o->u.loop, name, line);
    default: return UNDEF;
    }
}

static bool norm_index(int64_t i, size_t n, size_t *out) {
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return false;
    *out = (size_t)i;
    return true;
}

/* obj[key] (Jinja: item first, then attribute) */
static Val get_item(Ctx *C, const Val *o, const Val *k, int line) {
    size_t i;
    switch (o->t) {
    case V_UNDEF: rerr(C, LAB_EFORMAT, line, "subscript of an undefined value");
    case V_DICT: { Val *v = dict_get(o->u.d, k); if (v) return *v; break; }
    case V_LIST:
        if (k->t == V_INT || k->t == V_BOOL) return norm_index(num_i(k), o->u.l->n, &i) ? o->u.l->v[i] : UNDEF;
        break;
    case V_STR:
        if (k->t == V_INT || k->t == V_BOOL) {
            CpIndex x = cp_index(C, o->u.s);
            if (!norm_index(num_i(k), x.n, &i)) return UNDEF;
            return vstr(C, o->u.s->p + x.off[i], x.off[i + 1] - x.off[i]);
        }
        break;
    default: break;
    }
    if (k->t == V_STR) return o->t == V_DICT || o->t == V_STR || o->t == V_NS || o->t == V_LOOP ? get_attr(C, o, k->u.s, line) : UNDEF;
    return UNDEF;
}

static int64_t slice_bound(const Val *v, int64_t n, int64_t step, bool lower, Ctx *C, int line) {
    if (!v || v->t == V_NONE) return step > 0 ? (lower ? 0 : n) : (lower ? n - 1 : -1);
    if (v->t != V_INT && v->t != V_BOOL) rerr(C, LAB_EFORMAT, line, "slice indices must be integers or None, not %s", type_name(v));
    int64_t x = num_i(v);
    if (x < 0) { x += n; if (x < 0) x = step > 0 ? 0 : -1; }
    else if (x >= n) x = step > 0 ? n : n - 1;
    return x;
}

static Val do_slice(Ctx *C, const Val *o, const Val *a, const Val *b, const Val *s, int line) {
    int64_t step = 1;
    if (s && s->t != V_NONE) {
        if (s->t != V_INT) rerr(C, LAB_EFORMAT, line, "slice step must be an integer");
        step = s->u.i;
        if (step == 0) rerr(C, LAB_EFORMAT, line, "slice step cannot be zero");
    }
    bool isstr = o->t == V_STR;
    if (o->t == V_UNDEF) rerr(C, LAB_EFORMAT, line, "slice of an undefined value");
    if (!isstr && o->t != V_LIST) rerr(C, LAB_EFORMAT, line, "cannot slice a %s", type_name(o));
    CpIndex x = {0, NULL};
    int64_t n;
    if (isstr) { x = cp_index(C, o->u.s); n = (int64_t)x.n; }
    else n = (int64_t)o->u.l->n;
    int64_t lo = slice_bound(a, n, step, true, C, line), hi = slice_bound(b, n, step, false, C, line);
    if (isstr) {
        Buf *r = tb_open(C);
        for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) bput(C, r, o->u.s->p + x.off[i], x.off[i + 1] - x.off[i]);
        return tb_close(C, r);
    }
    List *l = list_new(C, 4);
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) list_push(C, l, o->u.l->v[i]);
    return vlist(l);
}

/* Iteration: a list to walk (dicts give their keys, strings their characters). */
static const List *iter_list(Ctx *C, const Val *v, int line) {
    switch (v->t) {
    case V_UNDEF: return list_new(C, 1);
    case V_LIST: return v->u.l;
    case V_DICT: { List *l = list_new(C, v->u.d->n); for (size_t i = 0; i < v->u.d->n; i++) list_push(C, l, v->u.d->k[i]); return l; }
    case V_STR: {
        CpIndex x = cp_index(C, v->u.s);
        List *l = list_new(C, x.n);
        for (size_t i = 0; i < x.n; i++) list_push(C, l, vstr(C, v->u.s->p + x.off[i], x.off[i + 1] - x.off[i]));
        return l;
    }
    default: rerr(C, LAB_EFORMAT, line, "'%s' object is not iterable", type_name(v));
    }
}

/* ----- tests ----- */
static int cmp_vals(Ctx *C, const Val *a, const Val *b, int line);

static bool run_test(Ctx *C, const Str *name, const Val *v, const Val *args, int nargs, int line) {
    const Val *a0 = nargs > 0 ? &args[0] : NULL;
#define NEED1 do { if (!a0) rerr(C, LAB_EFORMAT, line, "test '%s' needs an argument", name->p); } while (0)
    if (streq(name, "defined")) return v->t != V_UNDEF;
    if (streq(name, "undefined")) return v->t == V_UNDEF;
    if (streq(name, "none")) return v->t == V_NONE;
    if (streq(name, "string")) return v->t == V_STR;
    if (streq(name, "number")) return v->t == V_INT || v->t == V_FLOAT || v->t == V_BOOL;
    if (streq(name, "integer")) return v->t == V_INT;
    if (streq(name, "float")) return v->t == V_FLOAT;
    if (streq(name, "mapping")) return v->t == V_DICT;
    if (streq(name, "iterable")) return v->t == V_UNDEF || v->t == V_STR || v->t == V_LIST || v->t == V_DICT;
    if (streq(name, "sequence")) return v->t == V_UNDEF || v->t == V_STR || v->t == V_LIST || v->t == V_DICT;
    if (streq(name, "boolean")) return v->t == V_BOOL;
    if (streq(name, "true")) return v->t == V_BOOL && v->u.b;
    if (streq(name, "false")) return v->t == V_BOOL && !v->u.b;
    if (streq(name, "callable")) return v->t == V_MACRO || v->t == V_METHOD || v->t == V_FUNC;
    if (streq(name, "lower") || streq(name, "upper")) {
        if (v->t != V_STR) return false;
        Val c = str_case(C, v->u.s, streq(name, "upper"));
        return val_eq(&c, v);
    }
    if (streq(name, "odd") || streq(name, "even")) {
        if (v->t != V_INT && v->t != V_BOOL) rerr(C, LAB_EFORMAT, line, "test '%s' needs an integer", name->p);
        int64_t i = num_i(v);
        return (i % 2 != 0) == streq(name, "odd");
    }
    if (streq(name, "divisibleby")) {
        NEED1;
        if (!(v->t == V_INT || v->t == V_BOOL) || !(a0->t == V_INT || a0->t == V_BOOL) || num_i(a0) == 0)
            rerr(C, LAB_EFORMAT, line, "divisibleby needs integers and a divisor other than 0");
        return num_i(v) % num_i(a0) == 0;
    }
    if (streq(name, "equalto") || streq(name, "eq") || streq(name, "==")) { NEED1; return val_eq(v, a0); }
    if (streq(name, "ne") || streq(name, "!=")) { NEED1; return !val_eq(v, a0); }
    if (streq(name, "sameas")) {
        NEED1;
        if (v->t != a0->t) return false;
        if (v->t == V_STR) return v->u.s == a0->u.s;
        if (v->t == V_LIST) return v->u.l == a0->u.l;
        if (v->t == V_DICT || v->t == V_NS) return v->u.d == a0->u.d;
        return val_eq(v, a0);
    }
    if (streq(name, "gt") || streq(name, ">")) { NEED1; return cmp_vals(C, v, a0, line) > 0; }
    if (streq(name, "lt") || streq(name, "<")) { NEED1; return cmp_vals(C, v, a0, line) < 0; }
    if (streq(name, "ge") || streq(name, ">=")) { NEED1; return cmp_vals(C, v, a0, line) >= 0; }
    if (streq(name, "le") || streq(name, "<=")) { NEED1; return cmp_vals(C, v, a0, line) <= 0; }
    if (streq(name, "in")) {
        NEED1;
        if (a0->t == V_STR) {
            if (v->t != V_STR) rerr(C, LAB_EFORMAT, line, "'in <string>' requires a string on the left, not %s", type_name(v));
            return memfind(a0->u.s->p, a0->u.s->n, v->u.s->p, v->u.s->n) != NULL;
        }
        const List *l = iter_list(C, a0, line);
        for (size_t i = 0; i < l->n; i++) if (val_eq(&l->v[i], v)) return true;
        return false;
    }
#undef NEED1
    rerr(C, LAB_EUNSUPPORTED, line, "unsupported test '%s'", name->p);
}

/* ----- arithmetic and comparison ----- */
static int cmp_vals(Ctx *C, const Val *a, const Val *b, int line) {
    if (is_num(a) && is_num(b)) {
        if (a->t == V_FLOAT || b->t == V_FLOAT) { double x = num_f(a), y = num_f(b); return x < y ? -1 : x > y ? 1 : 0; }
        int64_t x = num_i(a), y = num_i(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a->t == V_STR && b->t == V_STR) {
        size_t m = a->u.s->n < b->u.s->n ? a->u.s->n : b->u.s->n;
        int r = memcmp(a->u.s->p, b->u.s->p, m);  /* UTF-8 byte order is code point order */
        if (r) return r < 0 ? -1 : 1;
        return a->u.s->n < b->u.s->n ? -1 : a->u.s->n > b->u.s->n ? 1 : 0;
    }
    if (a->t == V_LIST && b->t == V_LIST) {
        for (size_t i = 0; i < a->u.l->n && i < b->u.l->n; i++) {
            if (val_eq(&a->u.l->v[i], &b->u.l->v[i])) continue;
            return cmp_vals(C, &a->u.l->v[i], &b->u.l->v[i], line);
        }
        return a->u.l->n < b->u.l->n ? -1 : a->u.l->n > b->u.l->n ? 1 : 0;
    }
    rerr(C, LAB_EFORMAT, line, "'<' not supported between %s and %s", type_name(a), type_name(b));
}

static bool contains(Ctx *C, const Val *needle, const Val *hay, int line) {
    switch (hay->t) {
    case V_STR:
        if (needle->t != V_STR) rerr(C, LAB_EFORMAT, line, "'in <string>' requires a string on the left, not %s", type_name(needle));
        return memfind(hay->u.s->p, hay->u.s->n, needle->u.s->p, needle->u.s->n) != NULL;
    case V_LIST: for (size_t i = 0; i < hay->u.l->n; i++) if (val_eq(&hay->u.l->v[i], needle)) return true; return false;
    case V_DICT: return dict_get(hay->u.d, needle) != NULL;
    case V_UNDEF: return false;
    default: rerr(C, LAB_EFORMAT, line, "argument of type '%s' is not iterable", type_name(hay));
    }
}

static void undef_op(Ctx *C, const Val *a, const Val *b, const char *op, int line) {
    if (a->t == V_UNDEF || b->t == V_UNDEF) rerr(C, LAB_EFORMAT, line, "'%s' on an undefined value", op);
}

static int64_t floordiv_i(int64_t a, int64_t b) { int64_t q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q--; return q; }

static Val arith(Ctx *C, const char *op, const Val *a, const Val *b, int line) {
    undef_op(C, a, b, op, line);
    if (strcmp(op, "+") == 0) {
        if (a->t == V_STR && b->t == V_STR) {
            size_t n;
            if (!size_add_ok(a->u.s->n, b->u.s->n, &n) || n > JJ_MAX_OUTPUT * 4) rerr(C, LAB_ERANGE, line, "a string would be too long");
            Str *s = ca(C, sizeof *s + n + 1);
            s->n = n; memcpy(s->p, a->u.s->p, a->u.s->n); memcpy(s->p + a->u.s->n, b->u.s->p, b->u.s->n); s->p[n] = 0;
            return (Val){.t = V_STR, .u.s = s};
        }
        if (a->t == V_LIST && b->t == V_LIST) {
            List *l = list_new(C, a->u.l->n + b->u.l->n);
            for (size_t i = 0; i < a->u.l->n; i++) list_push(C, l, a->u.l->v[i]);
            for (size_t i = 0; i < b->u.l->n; i++) list_push(C, l, b->u.l->v[i]);
            return vlist(l);
        }
    }
    if (strcmp(op, "*") == 0 && ((a->t == V_STR && (b->t == V_INT || b->t == V_BOOL)) || (b->t == V_STR && (a->t == V_INT || a->t == V_BOOL)))) {
        const Val *s = a->t == V_STR ? a : b; int64_t k = num_i(a->t == V_STR ? b : a);
        size_t total;
        if (k > 0 && (!size_mul_ok((size_t)k, s->u.s->n, &total) || total > JJ_MAX_OUTPUT)) rerr(C, LAB_ERANGE, line, "a string would be too long");
        Buf *r = tb_open(C);
        for (int64_t i = 0; i < k; i++) bput(C, r, s->u.s->p, s->u.s->n);
        return tb_close(C, r);
    }
    if (!is_num(a) || !is_num(b)) rerr(C, LAB_EFORMAT, line, "unsupported operand types for %s: '%s' and '%s'", op, type_name(a), type_name(b));
    bool fl = a->t == V_FLOAT || b->t == V_FLOAT;
    if (strcmp(op, "/") == 0) {
        if (num_f(b) == 0) rerr(C, LAB_EFORMAT, line, "division by zero");
        return vflt(num_f(a) / num_f(b));
    }
    if (fl) {
        double x = num_f(a), y = num_f(b);
        if (!strcmp(op, "+")) return vflt(x + y);
        if (!strcmp(op, "-")) return vflt(x - y);
        if (!strcmp(op, "*")) return vflt(x * y);
        if (!strcmp(op, "**")) return vflt(pow(x, y));
        if (y == 0) rerr(C, LAB_EFORMAT, line, "division by zero");
        if (!strcmp(op, "//")) return vflt(floor(x / y));
        double m = fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return vflt(m);
    }
    int64_t x = num_i(a), y = num_i(b), r;
    if (!strcmp(op, "+")) { if (__builtin_add_overflow(x, y, &r)) goto ovf; return vint(r); }
    if (!strcmp(op, "-")) { if (__builtin_sub_overflow(x, y, &r)) goto ovf; return vint(r); }
    if (!strcmp(op, "*")) { if (__builtin_mul_overflow(x, y, &r)) goto ovf; return vint(r); }
    if (!strcmp(op, "**")) {
        if (y < 0) return vflt(pow((double)x, (double)y));
        r = 1;
        for (int64_t i = 0; i < y; i++) { if (__builtin_mul_overflow(r, x, &r)) goto ovf; if (r == 0 || r == 1) break; }
        if (r == 1 && x == -1 && (y % 2)) r = -1;
        return vint(r);
    }
    if (y == 0) rerr(C, LAB_EFORMAT, line, "integer division or modulo by zero");
    if (x == INT64_MIN && y == -1) goto ovf;
    if (!strcmp(op, "//")) return vint(floordiv_i(x, y));
    r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return vint(r);
ovf:
    rerr(C, LAB_ERANGE, line, "integer overflow in %s (64-bit integers only)", op);
}

/* ----- calls ----- */
typedef struct { Val *v; int n; const Str **kw; Val *kv; int nkw; } CallArgs;

static CallArgs eval_args(Ctx *C, const Args *a, Frame *f) {
    CallArgs r = {0};
    r.n = a->n; r.nkw = a->nkw;
    r.v = ca(C, (size_t)(a->n + 1) * sizeof *r.v);
    r.kw = a->kw;
    r.kv = ca(C, (size_t)(a->nkw + 1) * sizeof *r.kv);
    for (int i = 0; i < a->n; i++) r.v[i] = eval(C, a->v[i], f);
    for (int i = 0; i < a->nkw; i++) r.kv[i] = eval(C, a->kv[i], f);
    return r;
}

/* The i-th positional argument or the keyword `name`; NULL when neither is given. */
static const Val *arg(const CallArgs *a, int i, const char *name) {
    if (i >= 0 && i < a->n) return &a->v[i];
    for (int k = 0; k < a->nkw; k++) if (name && streq(a->kw[k], name)) return &a->kv[k];
    return NULL;
}

static void check_args(Ctx *C, const CallArgs *a, int max_pos, const char *const *kws, const char *what, int line) {
    if (a->n > max_pos) rerr(C, LAB_EFORMAT, line, "%s takes at most %d positional arguments (%d given)", what, max_pos, a->n);
    for (int k = 0; k < a->nkw; k++) {
        bool ok = false;
        for (int i = 0; kws && kws[i]; i++) ok |= streq(a->kw[k], kws[i]);
        if (!ok) rerr(C, LAB_EUNSUPPORTED, line, "%s: unsupported keyword argument '%s'", what, a->kw[k]->p);
    }
}

static const Str *need_str(Ctx *C, const Val *v, const char *what, int line) {
    if (!v || v->t != V_STR) rerr(C, LAB_EFORMAT, line, "%s needs a string, not %s", what, v ? type_name(v) : "nothing");
    return v->u.s;
}

static void render_body(Ctx *C, const Body *b, Frame *f);

static Frame *frame_new(Ctx *C, Frame *parent) { Frame *f = ca(C, sizeof *f); f->parent = parent; return f; }

static Val call_macro(Ctx *C, const Node *m, const CallArgs *a, int line) {
    if (++C->calls > JJ_MAX_CALLS) rerr(C, LAB_ERANGE, line, "macro calls nested deeper than %d", JJ_MAX_CALLS);
    if (a->n > m->n_params) rerr(C, LAB_EFORMAT, line, "macro '%s' takes %d arguments (%d given)", m->name->p, m->n_params, a->n);
    Frame *f = frame_new(C, C->root);
    for (int i = 0; i < m->n_params; i++) {
        const Val *v = i < a->n ? &a->v[i] : NULL;
        for (int k = 0; k < a->nkw && !v; k++) if (a->kw[k]->n == m->params[i]->n && !memcmp(a->kw[k]->p, m->params[i]->p, m->params[i]->n)) v = &a->kv[k];
        Val x = v ? *v : m->defaults[i] ? eval(C, m->defaults[i], f) : UNDEF;
        setvar(C, f, m->params[i], x);
    }
    for (int k = 0; k < a->nkw; k++) {
        bool ok = false;
        for (int i = 0; i < m->n_params; i++) ok |= a->kw[k]->n == m->params[i]->n && !memcmp(a->kw[k]->p, m->params[i]->p, m->params[i]->n);
        if (!ok) rerr(C, LAB_EFORMAT, line, "macro '%s' takes no keyword argument '%s'", m->name->p, a->kw[k]->p);
    }
    Buf *save = C->out;
    Buf *mine = tb_open(C);
    C->out = mine;
    int brk = C->brk;
    render_body(C, &m->body, f);
    C->brk = brk;
    C->out = save;
    Val r = tb_close(C, mine);
    C->calls--;
    return r;
}

static Val call_func(Ctx *C, int fn, const CallArgs *a, int line) {
    switch (fn) {
    case F_RAISE: {
        const Val *m = arg(a, 0, NULL);
        Val s = m ? to_str(C, m) : vcstr(C, "");
        lab_err(C->e, LAB_EFORMAT, "template raised: %s", s.u.s->p);
        longjmp(C->jb, 1);
    }
    case F_STRFTIME: {
        check_args(C, a, 1, NULL, "strftime_now", line);
        const Str *fmt = need_str(C, arg(a, 0, NULL), "strftime_now", line);
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char out[512];
        size_t n = fmt->n ? strftime(out, sizeof out, fmt->p, &tm) : 0;
        if (fmt->n && n == 0) rerr(C, LAB_ERANGE, line, "strftime_now: the formatted date is empty or longer than 511 bytes");
        return vstr(C, out, n);
    }
    case F_NAMESPACE: case F_DICT: {
        Dict *d = dict_new(C);
        const Val *init = arg(a, 0, NULL);
        if (a->n > 1) rerr(C, LAB_EFORMAT, line, "%s takes at most one positional argument", fn == F_DICT ? "dict" : "namespace");
        if (init) {
            if (init->t != V_DICT) rerr(C, LAB_EFORMAT, line, "%s: the positional argument must be a mapping", fn == F_DICT ? "dict" : "namespace");
            for (size_t i = 0; i < init->u.d->n; i++) dict_set(C, d, init->u.d->k[i], init->u.d->v[i]);
        }
        for (int k = 0; k < a->nkw; k++) dict_set(C, d, (Val){.t = V_STR, .u.s = a->kw[k]}, a->kv[k]);
        return (Val){.t = fn == F_DICT ? V_DICT : V_NS, .u.d = d};
    }
    case F_RANGE: {
        check_args(C, a, 3, NULL, "range", line);
        int64_t st = 0, en, sp = 1;
        for (int i = 0; i < a->n; i++) if (a->v[i].t != V_INT && a->v[i].t != V_BOOL) rerr(C, LAB_EFORMAT, line, "range needs integers");
        if (a->n == 0) rerr(C, LAB_EFORMAT, line, "range needs at least one argument");
        if (a->n == 1) en = num_i(&a->v[0]);
        else { st = num_i(&a->v[0]); en = num_i(&a->v[1]); if (a->n == 3) sp = num_i(&a->v[2]); }
        if (sp == 0) rerr(C, LAB_EFORMAT, line, "range step cannot be zero");
        List *l = list_new(C, 8);
        for (int64_t i = st; sp > 0 ? i < en : i > en; i += sp) {
            tick(C, line);
            list_push(C, l, vint(i));
            if ((sp > 0 && i > INT64_MAX - sp) || (sp < 0 && i < INT64_MIN - sp)) break;
        }
        return vlist(l);
    }
    }
    rerr(C, LAB_EUNSUPPORTED, line, "unsupported function");
}

static Val call_method(Ctx *C, const Method *m, const CallArgs *a, int line) {
    const Val *self = &m->self;
    const char *nm = m->name;
    if (self->t == V_DICT) {
        const Dict *d = self->u.d;
        if (!strcmp(nm, "get")) {
            check_args(C, a, 2, NULL, "dict.get", line);
            const Val *k = arg(a, 0, NULL);
            if (!k) rerr(C, LAB_EFORMAT, line, "get expected at least 1 argument");
            Val *v = dict_get(d, k);
            return v ? *v : a->n > 1 ? a->v[1] : NONE;
        }
        check_args(C, a, 0, NULL, nm, line);
        List *l = list_new(C, d->n);
        for (size_t i = 0; i < d->n; i++) {
            if (!strcmp(nm, "keys")) list_push(C, l, d->k[i]);
            else if (!strcmp(nm, "values")) list_push(C, l, d->v[i]);
            else { List *p = list_new(C, 2); p->tuple = true; list_push(C, p, d->k[i]); list_push(C, p, d->v[i]); list_push(C, l, vlist(p)); }
        }
        return vlist(l);
    }
    /* string methods */
    const Str *s = self->u.s;
    if (!strcmp(nm, "strip") || !strcmp(nm, "lstrip") || !strcmp(nm, "rstrip")) {
        check_args(C, a, 1, NULL, nm, line);
        const Val *ch = arg(a, 0, NULL);
        const Str *chars = ch && ch->t != V_NONE ? need_str(C, ch, nm, line) : NULL;
        return str_strip(C, s, chars, nm[0] == 'l' ? 1 : nm[0] == 'r' ? 2 : 3);
    }
    if (!strcmp(nm, "split")) {
        static const char *const kws[] = {"sep", "maxsplit", NULL};
        check_args(C, a, 2, kws, "split", line);
        const Val *sep = arg(a, 0, "sep"), *mx = arg(a, 1, "maxsplit");
        const Str *sp = sep && sep->t != V_NONE ? need_str(C, sep, "split", line) : NULL;
        int64_t maxs = -1;
        if (mx) { if (mx->t != V_INT) rerr(C, LAB_EFORMAT, line, "split: maxsplit must be an integer"); maxs = mx->u.i; }
        return str_split(C, s, sp, maxs, line);
    }
    if (!strcmp(nm, "startswith") || !strcmp(nm, "endswith")) {
        check_args(C, a, 1, NULL, nm, line);
        const Val *p = arg(a, 0, NULL);
        if (!p) rerr(C, LAB_EFORMAT, line, "%s needs an argument", nm);
        const Val *cands = p; size_t nc = 1;
        if (p->t == V_LIST) { cands = p->u.l->v; nc = p->u.l->n; }
        for (size_t i = 0; i < nc; i++) {
            const Str *x = need_str(C, &cands[i], nm, line);
            if (x->n > s->n) continue;
            if (nm[0] == 's' ? !memcmp(s->p, x->p, x->n) : !memcmp(s->p + s->n - x->n, x->p, x->n)) return vbool(true);
        }
        return vbool(false);
    }
    if (!strcmp(nm, "upper") || !strcmp(nm, "lower") || !strcmp(nm, "title") || !strcmp(nm, "capitalize")) {
        check_args(C, a, 0, NULL, nm, line);
        return str_case(C, s, nm[0] == 'l' ? 0 : nm[0] == 'u' ? 1 : nm[0] == 'c' ? 2 : 3);
    }
    if (!strcmp(nm, "replace")) {
        check_args(C, a, 3, NULL, "replace", line);
        if (a->n < 2) rerr(C, LAB_EFORMAT, line, "replace needs two arguments");
        int64_t cnt = -1;
        if (a->n == 3) { if (a->v[2].t != V_INT) rerr(C, LAB_EFORMAT, line, "replace: count must be an integer"); cnt = a->v[2].u.i; }
        return str_replace(C, s, need_str(C, &a->v[0], "replace", line), need_str(C, &a->v[1], "replace", line), cnt, line);
    }
    if (!strcmp(nm, "find") || !strcmp(nm, "count")) {
        check_args(C, a, 1, NULL, nm, line);
        const Str *x = need_str(C, arg(a, 0, NULL), nm, line);
        if (!strcmp(nm, "find")) {
            const char *f = memfind(s->p, s->n, x->p, x->n);
            if (!f) return vint(-1);
            Str tmp = {0};
            (void)tmp;
            size_t cps = 0;
            for (const char *q = s->p; q < f; q++) cps += ((unsigned char)*q & 0xC0) != 0x80;
            return vint((int64_t)cps);
        }
        if (!x->n) return vint((int64_t)cp_count(s) + 1);
        int64_t k = 0; size_t i = 0;
        const char *f;
        while ((f = memfind(s->p + i, s->n - i, x->p, x->n))) { k++; i = (size_t)(f - s->p) + x->n; }
        return vint(k);
    }
    if (!strcmp(nm, "join")) {
        check_args(C, a, 1, NULL, "join", line);
        const Val *it = arg(a, 0, NULL);
        if (!it) rerr(C, LAB_EFORMAT, line, "join needs an argument");
        const List *l = iter_list(C, it, line);
        Buf *r = tb_open(C);
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i].t != V_STR) rerr(C, LAB_EFORMAT, line, "join: sequence item %zu: expected str, found %s", i, type_name(&l->v[i]));
            if (i) bput(C, r, s->p, s->n);
            bput(C, r, l->v[i].u.s->p, l->v[i].u.s->n);
        }
        return tb_close(C, r);
    }
    rerr(C, LAB_EUNSUPPORTED, line, "unsupported method '%s.%s()'", type_name(self), nm);
}

static Val eval_call(Ctx *C, const Expr *x, Frame *f) {
    Val callee;
    if (x->a->k == E_ATTR) {
        Val o = eval(C, x->a->a, f);
        callee = get_attr(C, &o, x->a->name, x->line);
        if (callee.t != V_METHOD)
            rerr(C, LAB_EFORMAT, x->line, "'%s' object has no method '%s'", type_name(&o), x->a->name->p);
    } else {
        callee = eval(C, x->a, f);
    }
    CallArgs a = eval_args(C, &x->args, f);
    switch (callee.t) {
    case V_MACRO: return call_macro(C, callee.u.macro, &a, x->line);
    case V_FUNC: return call_func(C, callee.u.fn, &a, x->line);
    case V_METHOD: return call_method(C, callee.u.m, &a, x->line);
    case V_UNDEF: rerr(C, LAB_EFORMAT, x->line, "'%s' is undefined", x->a->k == E_NAME ? x->a->name->p : "callee");
    default: rerr(C, LAB_EFORMAT, x->line, "'%s' object is not callable", type_name(&callee));
    }
}

/* ----- filters ----- */
static Val attr_of(Ctx *C, const Val *item, const Str *path, int line) {
    /* Jinja's attribute filters take dotted paths ("function.name"); each part looks up an item first */
    Val cur = *item;
    size_t i = 0;
    while (i <= path->n) {
        const char *dot = memchr(path->p + i, '.', path->n - i);
        size_t e = dot ? (size_t)(dot - path->p) : path->n;
        Val k = vstr(C, path->p + i, e - i);
        bool digits = e > i;
        for (size_t q = i; q < e; q++) digits &= path->p[q] >= '0' && path->p[q] <= '9';
        if (digits) k = vint(strtoll(path->p + i, NULL, 10));
        if (cur.t == V_UNDEF) return UNDEF;
        cur = get_item(C, &cur, &k, line);
        i = e + 1;
        if (!dot) break;
    }
    return cur;
}

static Val apply_filter(Ctx *C, const Str *name, Val v, const CallArgs *a, int line, Frame *f);

static Val filter_select(Ctx *C, const Str *name, const Val *v, const CallArgs *a, int line, Frame *fr) {
    bool byattr = strstr(name->p, "attr") != NULL;  /* selectattr / rejectattr */
    bool reject = name->p[0] == 'r';
    const List *l = iter_list(C, v, line);
    List *out = list_new(C, l->n);
    int first_test = byattr ? 1 : 0;
    const Str *attr = NULL;
    if (byattr) attr = need_str(C, arg(a, 0, NULL), name->p, line);
    const Str *test = a->n > first_test ? need_str(C, &a->v[first_test], name->p, line) : NULL;
    if (test && !in_list(TESTS, test)) rerr(C, LAB_EUNSUPPORTED, line, "%s: unsupported test '%s'", name->p, test->p);
    (void)fr;
    for (size_t i = 0; i < l->n; i++) {
        tick(C, line);
        Val x = byattr ? attr_of(C, &l->v[i], attr, line) : l->v[i];
        bool ok = test ? run_test(C, test, &x, a->v + first_test + 1, a->n - first_test - 1, line) : truthy(&x);
        if (ok != reject) list_push(C, out, l->v[i]);
    }
    return vlist(out);
}

static Val apply_filter(Ctx *C, const Str *name, Val v, const CallArgs *a, int line, Frame *f) {
    const char *n = name->p;
    if (!strcmp(n, "safe")) return v;
    if (!strcmp(n, "length") || !strcmp(n, "count")) {
        switch (v.t) {
        case V_UNDEF: return vint(0);
        case V_STR: return vint((int64_t)cp_count(v.u.s));
        case V_LIST: return vint((int64_t)v.u.l->n);
        case V_DICT: case V_NS: return vint((int64_t)v.u.d->n);
        default: rerr(C, LAB_EFORMAT, line, "object of type '%s' has no len()", type_name(&v));
        }
    }
    if (!strcmp(n, "default") || !strcmp(n, "d")) {
        static const char *const kws[] = {"default_value", "boolean", NULL};
        check_args(C, a, 2, kws, n, line);
        const Val *dv = arg(a, 0, "default_value"), *bo = arg(a, 1, "boolean");
        bool use = v.t == V_UNDEF || (bo && truthy(bo) && !truthy(&v));
        return use ? (dv ? *dv : vcstr(C, "")) : v;
    }
    if (!strcmp(n, "tojson")) {
        static const char *const kws[] = {"indent", "ensure_ascii", "separators", "sort_keys", NULL};
        check_args(C, a, 1, kws, "tojson", line);
        const Val *ind = arg(a, 0, "indent");
        const Val *ea = arg(a, -1, "ensure_ascii"), *sep = arg(a, -1, "separators"), *sk = arg(a, -1, "sort_keys");
        if (ea && truthy(ea)) rerr(C, LAB_EUNSUPPORTED, line, "tojson: ensure_ascii=true is not supported");
        if (sep && sep->t != V_NONE) rerr(C, LAB_EUNSUPPORTED, line, "tojson: separators are not supported");
        int indent = -1;
        if (ind && ind->t != V_NONE) {
            if (ind->t != V_INT || ind->u.i < 0 || ind->u.i > 64) rerr(C, LAB_EUNSUPPORTED, line, "tojson: indent must be an integer 0..64");
            indent = (int)ind->u.i;
        }
        Buf *b = tb_open(C);
        json_dump(C, b, &v, indent, 0, sk && truthy(sk), line);
        return tb_close(C, b);
    }
    if (!strcmp(n, "items")) {
        if (v.t == V_UNDEF) return vlist(list_new(C, 1));
        if (v.t != V_DICT) rerr(C, LAB_EFORMAT, line, "items: can only be used on a mapping, not %s", type_name(&v));
        Method m = {v, "items"};
        CallArgs none = {0};
        return call_method(C, &m, &none, line);
    }
    if (!strcmp(n, "selectattr") || !strcmp(n, "rejectattr") || !strcmp(n, "select") || !strcmp(n, "reject"))
        return filter_select(C, name, &v, a, line, f);
    if (!strcmp(n, "map")) {
        static const char *const kws[] = {"attribute", "default", NULL};
        const List *l = iter_list(C, &v, line);
        List *out = list_new(C, l->n);
        const Val *at = arg(a, -1, "attribute");
        if (at) {
            check_args(C, a, 0, kws, "map", line);
            const Str *path = need_str(C, at, "map", line);
            const Val *dflt = arg(a, -1, "default");
            for (size_t i = 0; i < l->n; i++) {
                tick(C, line);
                Val x = attr_of(C, &l->v[i], path, line);
                list_push(C, out, x.t == V_UNDEF && dflt ? *dflt : x);
            }
            return vlist(out);
        }
        const Str *fname = need_str(C, arg(a, 0, NULL), "map", line);
        if (!in_list(FILTERS, fname)) rerr(C, LAB_EUNSUPPORTED, line, "map: unsupported filter '%s'", fname->p);
        CallArgs rest = *a;
        rest.v++; rest.n--;
        for (size_t i = 0; i < l->n; i++) { tick(C, line); list_push(C, out, apply_filter(C, fname, l->v[i], &rest, line, f)); }
        return vlist(out);
    }
    if (!strcmp(n, "list")) {
        check_args(C, a, 0, NULL, "list", line);
        const List *l = iter_list(C, &v, line);
        List *out = list_new(C, l->n);
        for (size_t i = 0; i < l->n; i++) list_push(C, out, l->v[i]);
        return vlist(out);
    }
    if (!strcmp(n, "first") || !strcmp(n, "last")) {
        check_args(C, a, 0, NULL, n, line);
        const List *l = iter_list(C, &v, line);
        if (!l->n) return UNDEF;
        return l->v[n[0] == 'f' ? 0 : l->n - 1];
    }
    if (!strcmp(n, "join")) {
        static const char *const kws[] = {"d", "attribute", NULL};
        check_args(C, a, 2, kws, "join", line);
        const Val *sepv = arg(a, 0, "d"), *at = arg(a, 1, "attribute");
        Val sep = sepv ? to_str(C, sepv) : vcstr(C, "");
        const List *l = iter_list(C, &v, line);
        Buf *r = tb_open(C);
        for (size_t i = 0; i < l->n; i++) {
            tick(C, line);
            if (i) bput(C, r, sep.u.s->p, sep.u.s->n);
            Val x = at ? attr_of(C, &l->v[i], need_str(C, at, "join", line), line) : l->v[i];
            Val s = to_str(C, &x);
            bput(C, r, s.u.s->p, s.u.s->n);
        }
        return tb_close(C, r);
    }
    if (!strcmp(n, "reverse")) {
        check_args(C, a, 0, NULL, "reverse", line);
        if (v.t == V_STR) return do_slice(C, &v, NULL, NULL, &(Val){.t = V_INT, .u.i = -1}, line);
        const List *l = iter_list(C, &v, line);
        List *out = list_new(C, l->n);
        for (size_t i = l->n; i > 0; i--) list_push(C, out, l->v[i - 1]);
        return vlist(out);
    }
    if (!strcmp(n, "unique") || !strcmp(n, "sort") || !strcmp(n, "dictsort") || !strcmp(n, "min") || !strcmp(n, "max") || !strcmp(n, "sum")) {
        const List *l = iter_list(C, &v, line);
        if (!strcmp(n, "sum")) {
            check_args(C, a, 0, NULL, "sum", line);
            Val acc = vint(0);
            for (size_t i = 0; i < l->n; i++) { tick(C, line); acc = arith(C, "+", &acc, &l->v[i], line); }
            return acc;
        }
        if (a->n || a->nkw) rerr(C, LAB_EUNSUPPORTED, line, "%s: arguments are not supported", n);
        if (!strcmp(n, "unique")) {
            List *out = list_new(C, l->n);
            for (size_t i = 0; i < l->n; i++) {
                bool seen = false;
                for (size_t j = 0; j < out->n && !seen; j++) { tick(C, line); seen = val_eq(&out->v[j], &l->v[i]); }
                if (!seen) list_push(C, out, l->v[i]);
            }
            return vlist(out);
        }
        if (!strcmp(n, "min") || !strcmp(n, "max")) {
            if (!l->n) return UNDEF;
            Val best = l->v[0];
            for (size_t i = 1; i < l->n; i++) { int c = cmp_vals(C, &l->v[i], &best, line); if (n[1] == 'i' ? c < 0 : c > 0) best = l->v[i]; }
            return best;
        }
        if (!strcmp(n, "dictsort")) rerr(C, LAB_EUNSUPPORTED, line, "unsupported filter 'dictsort'");
        List *out = list_new(C, l->n);
        for (size_t i = 0; i < l->n; i++) {  /* stable insertion sort */
            tick(C, line);
            size_t j = out->n;
            list_push(C, out, l->v[i]);
            while (j > 0 && cmp_vals(C, &out->v[j - 1], &l->v[i], line) > 0) { out->v[j] = out->v[j - 1]; j--; }
            out->v[j] = l->v[i];
        }
        return vlist(out);
    }
    if (!strcmp(n, "string")) return to_str(C, &v);
    if (!strcmp(n, "int")) {
        if (v.t == V_INT) return v;
        if (v.t == V_BOOL) return vint(v.u.b);
        if (v.t == V_FLOAT) return isfinite(v.u.f) && fabs(v.u.f) < 9.2e18 ? vint((int64_t)v.u.f) : vint(0);
        if (v.t == V_STR) {
            char *end; errno = 0;
            long long x = strtoll(v.u.s->p, &end, 10);
            if (end != v.u.s->p && !errno) { while (*end && is_ws(*end)) end++; if (!*end) return vint(x); }
            double d = strtod(v.u.s->p, &end);
            if (end != v.u.s->p && isfinite(d) && fabs(d) < 9.2e18) { while (*end && is_ws(*end)) end++; if (!*end) return vint((int64_t)d); }
        }
        return a->n ? a->v[0] : vint(0);
    }
    if (!strcmp(n, "float")) {
        if (is_num(&v)) return vflt(num_f(&v));
        if (v.t == V_STR) { char *end; double d = strtod(v.u.s->p, &end); if (end != v.u.s->p) return vflt(d); }
        return a->n ? a->v[0] : vflt(0);
    }
    if (!strcmp(n, "abs")) {
        if (v.t == V_INT) { if (v.u.i == INT64_MIN) rerr(C, LAB_ERANGE, line, "abs: integer overflow"); return vint(v.u.i < 0 ? -v.u.i : v.u.i); }
        if (v.t == V_BOOL) return vint(v.u.b);
        if (v.t == V_FLOAT) return vflt(fabs(v.u.f));
        rerr(C, LAB_EFORMAT, line, "bad operand type for abs(): '%s'", type_name(&v));
    }
    /* string filters: Jinja turns the value into a string first (undefined gives "") */
    Val s = v.t == V_UNDEF ? vcstr(C, "") : to_str(C, &v);
    if (!strcmp(n, "trim")) {
        static const char *const kws[] = {"chars", NULL};
        check_args(C, a, 1, kws, "trim", line);
        const Val *ch = arg(a, 0, "chars");
        return str_strip(C, s.u.s, ch && ch->t != V_NONE ? need_str(C, ch, "trim", line) : NULL, 3);
    }
    if (!strcmp(n, "upper")) return str_case(C, s.u.s, 1);
    if (!strcmp(n, "lower")) return str_case(C, s.u.s, 0);
    if (!strcmp(n, "capitalize")) return str_case(C, s.u.s, 2);
    if (!strcmp(n, "title")) return str_case(C, s.u.s, 3);
    if (!strcmp(n, "replace")) {
        check_args(C, a, 3, NULL, "replace", line);
        if (a->n < 2) rerr(C, LAB_EFORMAT, line, "replace needs two arguments");
        Val o = to_str(C, &a->v[0]), w = to_str(C, &a->v[1]);
        int64_t cnt = -1;
        if (a->n == 3) { if (a->v[2].t != V_INT) rerr(C, LAB_EFORMAT, line, "replace: count must be an integer"); cnt = a->v[2].u.i; }
        return str_replace(C, s.u.s, o.u.s, w.u.s, cnt, line);
    }
    if (!strcmp(n, "escape") || !strcmp(n, "e")) {
        Buf *r = tb_open(C);
        for (size_t i = 0; i < s.u.s->n; i++) {
            char c = s.u.s->p[i];
            const char *rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&#34;" : c == '\'' ? "&#39;" : NULL;
            if (rep) bputs(C, r, rep); else bput(C, r, &c, 1);
        }
        return tb_close(C, r);
    }
    rerr(C, LAB_EUNSUPPORTED, line, "unsupported filter '%s'", n);
}

/* ----- expressions ----- */
static Val eval(Ctx *C, const Expr *x, Frame *f) {
    switch (x->k) {
    case E_LIT: return x->lit;
    case E_NAME: {
        Val v = lookup(C, f, x->name);
        return v;
    }
    case E_ATTR: { Val o = eval(C, x->a, f); return get_attr(C, &o, x->name, x->line); }
    case E_ITEM: { Val o = eval(C, x->a, f); Val k = eval(C, x->b, f); return get_item(C, &o, &k, x->line); }
    case E_SLICE: {
        Val o = eval(C, x->a, f);
        Val a = x->b ? eval(C, x->b, f) : NONE, b = x->c ? eval(C, x->c, f) : NONE, s = x->d ? eval(C, x->d, f) : NONE;
        return do_slice(C, &o, &a, &b, &s, x->line);
    }
    case E_CALL: return eval_call(C, x, f);
    case E_FILTER: {
        Val v = eval(C, x->a, f);
        CallArgs a = eval_args(C, &x->args, f);
        return apply_filter(C, x->name, v, &a, x->line, f);
    }
    case E_TEST: {
        Val v = eval(C, x->a, f);
        CallArgs a = eval_args(C, &x->args, f);
        bool r = run_test(C, x->name, &v, a.v, a.n, x->line);
        return vbool(r != x->negate);
    }
    case E_NEG: case E_POS: {
        Val v = eval(C, x->a, f);
        if (v.t == V_FLOAT) return vflt(x->k == E_NEG ? -v.u.f : v.u.f);
        if (v.t == V_INT || v.t == V_BOOL) {
            int64_t i = num_i(&v);
            if (x->k == E_NEG && i == INT64_MIN) rerr(C, LAB_ERANGE, x->line, "integer overflow in unary -");
            return vint(x->k == E_NEG ? -i : i);
        }
        rerr(C, LAB_EFORMAT, x->line, "bad operand type for unary %c: '%s'", x->k == E_NEG ? '-' : '+', type_name(&v));
    }
    case E_NOT: { Val v = eval(C, x->a, f); return vbool(!truthy(&v)); }
    case E_AND: { Val a = eval(C, x->a, f); return truthy(&a) ? eval(C, x->b, f) : a; }
    case E_OR: { Val a = eval(C, x->a, f); return truthy(&a) ? a : eval(C, x->b, f); }
    case E_BIN: { Val a = eval(C, x->a, f), b = eval(C, x->b, f); return arith(C, x->op, &a, &b, x->line); }
    case E_CONCAT: {
        /* evaluate all parts first: a temporary must be the innermost one when it closes */
        Val *parts = ca(C, (size_t)x->args.n * sizeof *parts);
        for (int i = 0; i < x->args.n; i++) {
            Val v = eval(C, x->args.v[i], f);
            parts[i] = v.t == V_UNDEF ? vcstr(C, "") : to_str(C, &v);
        }
        Buf *r = tb_open(C);
        for (int i = 0; i < x->args.n; i++) bput(C, r, parts[i].u.s->p, parts[i].u.s->n);
        return tb_close(C, r);
    }
    case E_CMP: {
        Val a = eval(C, x->args.v[0], f);
        for (int i = 1; i < x->args.n; i++) {
            Val b = eval(C, x->args.v[i], f);
            const char *op = x->ops[i - 1];
            bool r;
            if (!strcmp(op, "==")) r = val_eq(&a, &b);
            else if (!strcmp(op, "!=")) r = !val_eq(&a, &b);
            else if (!strcmp(op, "in")) r = contains(C, &a, &b, x->line);
            else if (!strcmp(op, "notin")) r = !contains(C, &a, &b, x->line);
            else {
                undef_op(C, &a, &b, op, x->line);
                int c = cmp_vals(C, &a, &b, x->line);
                r = !strcmp(op, "<") ? c < 0 : !strcmp(op, ">") ? c > 0 : !strcmp(op, "<=") ? c <= 0 : c >= 0;
            }
            if (!r) return vbool(false);
            a = b;
        }
        return vbool(true);
    }
    case E_COND: {
        Val c = eval(C, x->a, f);
        if (truthy(&c)) return eval(C, x->b, f);
        return x->c ? eval(C, x->c, f) : UNDEF;
    }
    case E_LIST: case E_TUPLE: {
        List *l = list_new(C, (size_t)x->args.n);
        l->tuple = x->k == E_TUPLE;
        for (int i = 0; i < x->args.n; i++) list_push(C, l, eval(C, x->args.v[i], f));
        return vlist(l);
    }
    case E_DICT: {
        Dict *d = dict_new(C);
        for (int i = 0; i < x->args.n; i++) dict_set(C, d, eval(C, x->args.v[i], f), eval(C, x->args.kv[i], f));
        return (Val){.t = V_DICT, .u.d = d};
    }
    }
    rerr(C, LAB_EUNSUPPORTED, x->line, "unsupported expression");
}

/* ----- statements ----- */
static void assign(Ctx *C, Frame *f, const Node *n, Val v) {
    if (n->n_targets == 1) { setvar(C, f, n->targets[0], v); return; }
    const List *l = iter_list(C, &v, n->line);
    if ((int)l->n != n->n_targets) rerr(C, LAB_EFORMAT, n->line, "cannot unpack %zu values into %d names", l->n, n->n_targets);
    for (int i = 0; i < n->n_targets; i++) setvar(C, f, n->targets[i], l->v[i]);
}

static void render_node(Ctx *C, const Node *n, Frame *f) {
    switch (n->k) {
    case S_TEXT: bput(C, C->out, n->text->p, n->text->n); return;
    case S_OUT: {
        Val v = eval(C, n->e, f);
        if (v.t == V_STR) bput(C, C->out, v.u.s->p, v.u.s->n);
        else if (v.t != V_UNDEF) { Val s = to_str(C, &v); bput(C, C->out, s.u.s->p, s.u.s->n); }
        return;
    }
    case S_IF: {
        Val c = eval(C, n->e, f);
        render_body(C, truthy(&c) ? &n->body : &n->orelse, f);
        return;
    }
    case S_FOR: {
        Val it = eval(C, n->e, f);
        const List *all = iter_list(C, &it, n->line);
        const List *items = all;
        if (n->filter) {
            List *kept = list_new(C, all->n);
            for (size_t i = 0; i < all->n; i++) {
                tick(C, n->line);
                Frame *ff = frame_new(C, f);
                assign(C, ff, n, all->v[i]);
                Val c = eval(C, n->filter, ff);
                if (truthy(&c)) list_push(C, kept, all->v[i]);
            }
            items = kept;
        }
        Loop *lp = ca(C, sizeof *lp);
        lp->n = items->n; lp->items = items;
        const Str *lname = str_make(&C->ar, "loop", 4);
        if (!lname) rerr(C, LAB_ERANGE, n->line, "out of render memory");
        for (size_t i = 0; i < items->n; i++) {
            tick(C, n->line);
            lp->i = i;
            Frame *body = frame_new(C, f);  /* a fresh scope per iteration, as Jinja */
            setvar(C, body, lname, (Val){.t = V_LOOP, .u.loop = lp});
            assign(C, body, n, items->v[i]);
            render_body(C, &n->body, body);
            if (C->brk == 1) { C->brk = 0; break; }
            if (C->brk == 2) C->brk = 0;
        }
        if (!items->n) render_body(C, &n->orelse, f);
        return;
    }
    case S_SET: {
        Val v = eval(C, n->e, f);
        if (n->attr) {
            Val ns = lookup(C, f, n->targets[0]);
            if (ns.t != V_NS) rerr(C, LAB_EFORMAT, n->line, "cannot assign attribute on a %s ('%s' is not a namespace)", type_name(&ns), n->targets[0]->p);
            dict_set(C, ns.u.d, (Val){.t = V_STR, .u.s = n->attr}, v);
            return;
        }
        assign(C, f, n, v);
        return;
    }
    case S_SETBLOCK: {
        Buf *save = C->out;
        Buf *mine = tb_open(C);
        C->out = mine;
        render_body(C, &n->body, f);
        C->out = save;
        Val v = tb_close(C, mine);
        setvar(C, f, n->targets[0], v);
        return;
    }
    case S_MACRO: setvar(C, f, n->name, (Val){.t = V_MACRO, .u.macro = n}); return;
    case S_BREAK: C->brk = 1; return;
    case S_CONTINUE: C->brk = 2; return;
    case S_BODY: render_body(C, &n->body, f); return;
    }
}

static void render_body(Ctx *C, const Body *b, Frame *f) {
    for (int i = 0; i < b->n && !C->brk; i++) render_node(C, b->v[i], f);
}

int chat_template_render(const ChatTemplate *t, const ChatRenderArgs *a, Buf *out, LabErr *e) {
    if (!t || !a || !out) return lab_err(e, LAB_EINVAL, "chat_template_render: missing argument");
    if (a->msgs && a->messages_json)
        return lab_err(e, LAB_EINVAL, "chat_template_render: give messages as structs or as JSON, not both");
    Ctx *C = calloc(1, sizeof *C);
    if (!C) return lab_err(e, LAB_ENOMEM, "out of memory");
    C->ar.limit = JJ_MAX_ARENA;
    C->t = t; C->e = e; C->out = out;
    int rc = -1;
    if (setjmp(C->jb)) goto done;
    C->root = frame_new(C, NULL);
    Frame *g = C->root;
    /* messages */
    Val msgs;
    if (a->messages_json) {
        json_error_t je;
        json_t *mj = C->mj = json_loads(a->messages_json, JSON_DECODE_ANY, &je);
        if (!mj) { lab_err(e, LAB_EFORMAT, "messages: not JSON (line %d column %d: %s)", je.line, je.column, je.text); goto done; }
        if (!json_is_array(mj)) { lab_err(e, LAB_EFORMAT, "messages: expected a JSON array of message objects"); goto done; }
        msgs = from_json(C, mj);
    } else {
        List *l = list_new(C, (size_t)(a->n_msgs > 0 ? a->n_msgs : 1));
        for (int i = 0; i < a->n_msgs; i++) {
            Dict *d = dict_new(C);
            dict_set(C, d, vcstr(C, "role"), a->msgs[i].role ? vcstr(C, a->msgs[i].role) : NONE);
            dict_set(C, d, vcstr(C, "content"), a->msgs[i].content ? vcstr(C, a->msgs[i].content) : NONE);
            list_push(C, l, (Val){.t = V_DICT, .u.d = d});
        }
        msgs = vlist(l);
    }
    /* transformers: special tokens first, then messages, tools, documents, add_generation_prompt,
     * then the caller's kwargs (which override) */
    for (int i = 0; i < a->n_special; i++)
        if (a->special_values[i]) setvar(C, g, vcstr(C, a->special_names[i]).u.s, vcstr(C, a->special_values[i]));
    setvar(C, g, vcstr(C, "messages").u.s, msgs);
    setvar(C, g, vcstr(C, "tools").u.s, NONE);
    setvar(C, g, vcstr(C, "documents").u.s, NONE);
    setvar(C, g, vcstr(C, "add_generation_prompt").u.s, vbool(a->add_generation_prompt));
    for (int i = 0; i < a->n_vars; i++) {
        json_error_t je;
        C->vj = json_loads(a->var_json[i], JSON_DECODE_ANY, &je);
        if (!C->vj) { lab_err(e, LAB_EFORMAT, "variable %s: not a JSON value (%s)", a->var_names[i], je.text); goto done; }
        setvar(C, g, vcstr(C, a->var_names[i]).u.s, from_json(C, C->vj));
        json_decref(C->vj);
        C->vj = NULL;
    }
    render_body(C, &t->body, g);
    rc = 0;
done:
    for (TBuf *tb = C->temps; tb; tb = tb->up) buf_free(&tb->b);
    json_decref(C->mj);
    json_decref(C->vj);
    ar_free(&C->ar);
    free(C);
    return rc;
}
