/* The queue between the lab's worker threads and the UI thread: callbacks push copies of what
 * happened, the UI loop drains it. Curses is only ever touched by the UI thread. */
#ifndef UI_EVQ_H
#define UI_EVQ_H

#include <pthread.h>

#include "lab.h"

typedef enum { EV_PIECE, EV_DONE, EV_PAIR_DONE, EV_LOAD_PROGRESS, EV_LOAD_DONE, EV_SCALE_PROGRESS, EV_SCALE_DONE } EvKind;

typedef struct Ev {
    struct Ev *next;
    EvKind kind;
    int side;                 /* EV_PIECE/EV_DONE: side; EV_LOAD_*: slot */
    char *text;               /* EV_PIECE: owned copy; EV_SCALE_PROGRESS: "model · stage" */
    size_t len;
    LabMetrics m;             /* EV_PIECE: live; EV_DONE: final */
    int64_t id;               /* EV_DONE: response id; EV_PAIR_DONE: pair id */
    bool ok;                  /* EV_PAIR_DONE: ratable; EV_LOAD_DONE: loaded; EV_SCALE_DONE: measured */
    double frac;              /* EV_LOAD_PROGRESS, EV_SCALE_PROGRESS */
    char err[1024];           /* EV_DONE / EV_LOAD_DONE: error message, "" if none */
    unsigned gen;             /* the ask this belongs to (stale events are dropped) */
} Ev;

typedef struct {
    pthread_mutex_t mu;
    Ev *head, *tail;
    unsigned gen;             /* current ask generation, set by the UI thread before lab_ask */
} EvQueue;

void evq_init(EvQueue *q);
void evq_free(EvQueue *q);
void evq_push(EvQueue *q, Ev *ev);       /* takes ownership; thread-safe */
Ev  *evq_pop_all(EvQueue *q);            /* detaches the list, oldest first */
void ev_free(Ev *ev);

/* LabEvents that push into q (ud must be the EvQueue). */
LabEvents evq_lab_events(EvQueue *q);

#endif
