/* ablab base layer: errors, buffers, mapped files, UTF-8 helpers, logging.
 * libc only; every other layer may use it. */
#ifndef ABLAB_BASE_H
#define ABLAB_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------- errors ---------------------------------------------------------------------------
 * Library code never prints or exits: it returns -1 (or NULL) and fills a LabErr the caller owns.
 * Messages name the file and the field: "model.safetensors: tensor 'x' ends past the end ...". */
typedef enum {
    LAB_OK = 0,
    LAB_EINVAL,       /* bad argument or option */
    LAB_EIO,          /* open/read/write failed (errno text in the message) */
    LAB_EFORMAT,      /* a file is malformed */
    LAB_EUNSUPPORTED, /* well-formed but not something we handle */
    LAB_ENOMEM,
    LAB_ERANGE,       /* a number out of range / overflow */
    LAB_ECANCEL,
    LAB_EDB,          /* database error */
    LAB_EBUSY,        /* database locked past busy_timeout */
    LAB_EFULL,        /* disk or database full */
    LAB_ENOTFOUND,
} LabErrCode;

typedef struct {
    LabErrCode code;
    char msg[1024];
} LabErr;

/* Sets e (if non-NULL) and returns -1, so callers can write `return lab_err(e, ...)`. */
int lab_err(LabErr *e, LabErrCode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "prefix: " (e.g. a file name added by an outer layer). */
int lab_err_prefix(LabErr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lab_err_clear(LabErr *e);
const char *lab_err_code_name(LabErrCode c);

/* ---------- checked arithmetic on sizes ------------------------------------------------------ */
/* Return false on overflow; *out untouched then. */
static inline bool size_mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool size_add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

/* ---------- growable buffers ----------------------------------------------------------------- */
typedef struct { char *data; size_t len, cap; } Buf;        /* always NUL-terminated when data != NULL */
int  buf_reserve(Buf *b, size_t extra);                      /* 0 or -1 (ENOMEM) */
int  buf_append(Buf *b, const void *p, size_t n);
int  buf_puts(Buf *b, const char *s);
int  buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  buf_putc(Buf *b, char c);
void buf_clear(Buf *b);                                      /* len = 0, keeps memory */
void buf_free(Buf *b);                                       /* NULL-safe; leaves b zeroed */
char *buf_steal(Buf *b);                                     /* caller frees; b zeroed */

typedef struct { int *v; size_t n, cap; } IntVec;
int  ivec_push(IntVec *iv, int x);
int  ivec_reserve(IntVec *iv, size_t n);
void ivec_free(IntVec *iv);

/* ---------- files ------------------------------------------------------------------------------ */
/* A read-only mapping of a whole file. Empty files map to data == NULL, size 0. */
typedef struct { void *data; size_t size; char *path; } MappedFile;
int  mapped_open(MappedFile *mf, const char *path, LabErr *e);
void mapped_close(MappedFile *mf);                           /* NULL-safe */
/* Reads a whole file into a NUL-terminated heap buffer (caller frees). limit 0 = no limit. */
int  file_read_all(const char *path, size_t limit, char **out, size_t *len, LabErr *e);
int  file_exists(const char *path);                          /* 1 regular file, 2 dir, 0 none */
int  mkdir_p(const char *dir, LabErr *e);                    /* like mkdir -p, mode 0700 */
char *path_join(const char *a, const char *b);               /* malloc'd "a/b"; NULL on ENOMEM */
char *path_dirname(const char *p);                           /* malloc'd */
const char *path_basename(const char *p);                    /* pointer into p */
/* sha256 of a file as 64 hex chars + NUL in out[65]. */
int  file_sha256(const char *path, char out[65], LabErr *e);
void sha256_hex(const void *data, size_t len, char out[65]);

/* ---------- UTF-8 ------------------------------------------------------------------------------ */
/* Length of the valid UTF-8 sequence starting at s (1..4), 0 if s[0..n) starts with an invalid
 * or truncated sequence. */
int  utf8_seq_len(const unsigned char *s, size_t n);
/* Number of bytes at the end of s[0..n) that form an incomplete (but so far valid) sequence. */
size_t utf8_incomplete_tail(const unsigned char *s, size_t n);
bool utf8_valid(const char *s, size_t n);
int  utf8_encode(uint32_t cp, char out[4]);                  /* returns bytes written */
/* Decodes one code point; returns bytes consumed (>=1); invalid bytes give U+FFFD and 1. */
int  utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* ---------- time ------------------------------------------------------------------------------- */
double now_ms(void);                                         /* monotonic milliseconds */
int64_t wall_time_ms(void);                                  /* unix epoch ms */
size_t proc_peak_rss_bytes(void);                            /* VmHWM, 0 if unknown */
size_t proc_rss_bytes(void);                                 /* VmRSS, 0 if unknown */
const char *cpu_model_name(void);                            /* static string, "unknown" if not found */

/* ---------- logging ---------------------------------------------------------------------------- */
/* Logging goes to a file only (never the terminal: the UI may own it). Before log_open, or if the
 * file cannot be opened, messages are dropped. Thread-safe. */
typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } LogLevel;
int  log_open(const char *path, LogLevel min, LabErr *e);
void log_close(void);
void log_msg(LogLevel lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOG_D(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define LOG_I(...) log_msg(LOG_INFO, __VA_ARGS__)
#define LOG_W(...) log_msg(LOG_WARN, __VA_ARGS__)
#define LOG_E(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
