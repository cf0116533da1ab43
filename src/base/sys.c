#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int64_t wall_time_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0, klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            kb = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

size_t proc_peak_rss_bytes(void) { return status_kb("VmHWM"); }
size_t proc_rss_bytes(void) { return status_kb("VmRSS"); }

static char cpu_name[256] = "";
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_read(void) {
    snprintf(cpu_name, sizeof cpu_name, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(cpu_name, sizeof cpu_name, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

const char *cpu_model_name(void) {
    pthread_once(&cpu_once, cpu_read);
    return cpu_name;
}

/* ---------- logging ---------- */
static FILE *log_file;
static LogLevel log_min = LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

int log_open(const char *path, LogLevel min, LabErr *e) {
    char *dir = path_dirname(path);
    if (!dir) return lab_err(e, LAB_ENOMEM, "out of memory");
    int rc = mkdir_p(dir, e);
    free(dir);
    if (rc) return -1;
    FILE *f = fopen(path, "a");
    if (!f) return lab_err(e, LAB_EIO, "%s: cannot open log file: %s", path, strerror(errno));
    setvbuf(f, NULL, _IOLBF, 0);
    pthread_mutex_lock(&log_mu);
    if (log_file) fclose(log_file);
    log_file = f;
    log_min = min;
    pthread_mutex_unlock(&log_mu);
    return 0;
}

void log_close(void) {
    pthread_mutex_lock(&log_mu);
    if (log_file) fclose(log_file);
    log_file = NULL;
    pthread_mutex_unlock(&log_mu);
}

void log_msg(LogLevel lv, const char *fmt, ...) {
    if (lv < log_min) return;
    pthread_mutex_lock(&log_mu);
    if (log_file) {
        static const char *names[] = {"debug", "info", "warn", "error"};
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(log_file, "%s %s ", ts, names[lv]);
        va_list ap;
        va_start(ap, fmt);
        vfprintf(log_file, fmt, ap);
        va_end(ap);
        fputc('\n', log_file);
    }
    pthread_mutex_unlock(&log_mu);
}
