#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "evq.h"

void evq_init(EvQueue *q) {
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
}

void ev_free(Ev *ev) {
    while (ev) {
        Ev *n = ev->next;
        free(ev->text);
        free(ev);
        ev = n;
    }
}

void evq_free(EvQueue *q) {
    ev_free(evq_pop_all(q));
    pthread_mutex_destroy(&q->mu);
}

void evq_push(EvQueue *q, Ev *ev) {
    ev->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (!ev->gen) ev->gen = q->gen;
    if (q->tail) q->tail->next = ev;
    else q->head = ev;
    q->tail = ev;
    pthread_mutex_unlock(&q->mu);
}

Ev *evq_pop_all(EvQueue *q) {
    pthread_mutex_lock(&q->mu);
    Ev *h = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    return h;
}

/* Allocation failure in a callback drops the event: the response is still recorded by the lab,
 * and the pane shows it complete when the pair is reopened. */
static void on_piece(int side, const char *text, size_t len, const LabMetrics *live, void *ud) {
    Ev *ev = calloc(1, sizeof *ev);
    if (!ev) return;
    ev->kind = EV_PIECE;
    ev->side = side;
    ev->text = malloc(len + 1);
    if (!ev->text) { free(ev); return; }
    memcpy(ev->text, text, len);
    ev->text[len] = 0;
    ev->len = len;
    if (live) ev->m = *live;
    evq_push(ud, ev);
}

static void on_done(int side, const LabMetrics *m, int64_t response_id, const LabErr *err, void *ud) {
    Ev *ev = calloc(1, sizeof *ev);
    if (!ev) return;
    ev->kind = EV_DONE;
    ev->side = side;
    if (m) ev->m = *m;
    ev->id = response_id;
    if (err && err->code) snprintf(ev->err, sizeof ev->err, "%s", err->msg);
    evq_push(ud, ev);
}

static void on_pair_done(int64_t pair_id, bool ratable, void *ud) {
    Ev *ev = calloc(1, sizeof *ev);
    if (!ev) return;
    ev->kind = EV_PAIR_DONE;
    ev->id = pair_id;
    ev->ok = ratable;
    evq_push(ud, ev);
}

LabEvents evq_lab_events(EvQueue *q) {
    LabEvents ev = {on_piece, on_done, on_pair_done, q};
    return ev;
}
