/* Pooling records of several machines: `ablab merge` over db_merge (db/merge.c says how). */
#include <stdlib.h>
#include <string.h>

#include "lab_internal.h"

_Static_assert(LAB_MERGE_TABLES == DB_MERGE_TABLES, "one merge report row per pooled table");

typedef struct {
    DbMergeReport *reps;
    LabMergeNote **notes;
    int n;
} Pool;

void lab_merge_result_free(LabMergeResult *res) {
    if (!res) return;
    Pool *p = res->priv;
    if (p) {
        for (int i = 0; i < p->n; i++) {
            db_merge_report_free(&p->reps[i]);
            free(p->notes[i]);
        }
        free(p->reps);
        free(p->notes);
        free(p);
    }
    free(res->inputs);
    memset(res, 0, sizeof *res);
}

int lab_merge(const char *out_path, const char *const *inputs, int n, LabMergeResult *res, LabErr *e) {
    memset(res, 0, sizeof *res);
    if (n < 1) return lab_err(e, LAB_EINVAL, "no record to merge");
    Pool *p = calloc(1, sizeof *p);
    if (!p || !(p->reps = calloc((size_t)n, sizeof *p->reps)) || !(p->notes = calloc((size_t)n, sizeof *p->notes)) ||
        !(res->inputs = calloc((size_t)n, sizeof *res->inputs))) {
        if (p) {
            free(p->reps);
            free(p->notes);
        }
        free(p);
        free(res->inputs);
        res->inputs = NULL;
        return lab_err(e, LAB_ENOMEM, "out of memory");
    }
    res->priv = p;
    Db *db;
    if (db_open(&db, out_path, e)) {
        lab_merge_result_free(res);
        return -1;
    }
    int rc = db_merge(db, inputs, n, p->reps, e);
    db_close(db);
    if (rc) {
        lab_merge_result_free(res);
        return -1;
    }
    p->n = n;
    res->n = n;
    for (int i = 0; i < n; i++) {
        LabMergeInput *in = &res->inputs[i];
        in->path = inputs[i];
        for (int t = 0; t < LAB_MERGE_TABLES; t++) {
            const DbMergeCount *c = &p->reps[i].count[t];
            in->count[t] = (LabMergeCount){c->table, c->added, c->present, c->conflicts};
        }
        if (p->reps[i].n_notes && !(p->notes[i] = calloc(p->reps[i].n_notes, sizeof *p->notes[i]))) {
            lab_merge_result_free(res);
            return lab_err(e, LAB_ENOMEM, "out of memory (the merge itself was committed)");
        }
        for (size_t k = 0; k < p->reps[i].n_notes; k++) {
            const DbMergeNote *d = &p->reps[i].notes[k];
            p->notes[i][k] = (LabMergeNote){d->conflict, d->table, d->uuid, d->what};
        }
        in->notes = p->notes[i];
        in->n_notes = p->reps[i].n_notes;
    }
    return 0;
}
