/* Evaluations and benchmarks in the record: the rows `ablab eval` and `ablab bench` add for a model
 * they loaded themselves. */
#include <string.h>

#include "ablab_config.h"
#include "engine.h"
#include "lab_internal.h"

int lab_record_eval(Lab *l, const char *path, const struct EngModel *m, const LabEvalRecord *r, LabErr *e) {
    int64_t model_id;
    if (lab_model_row(l, path, m, &model_id, e)) return -1;
    const struct { const char *metric; double value; } rows[] = {
        {"token_ppl", r->token_ppl}, {"byte_ppl", r->byte_ppl}, {"word_ppl", r->word_ppl},
        {"bits_per_byte", r->bits_per_byte},
    };
    int64_t now = wall_time_ms();
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
        DbEval v = {.model_id = model_id, .dataset = r->dataset, .metric = rows[k].metric, .value = rows[k].value,
                    .n_tokens = r->n_tokens, .details_json = r->details_json, .build_version = ABLAB_VERSION,
                    .created_ms = now};
        int64_t id;
        pthread_mutex_lock(&l->mu);
        int rc = db_eval_add(l->db, &v, &id, e);
        pthread_mutex_unlock(&l->mu);
        if (rc) return -1;
        if (r->id_out && !strcmp(rows[k].metric, "bits_per_byte")) *r->id_out = id;
    }
    return 0;
}

int lab_record_bench(Lab *l, const char *path, const struct EngModel *m, const LabBenchRecord *r, LabErr *e) {
    int64_t model_id, id;
    if (lab_model_row(l, path, m, &model_id, e)) return -1;
    DbBench b = {.model_id = model_id, .name = r->name, .threads = r->threads, .n_prompt = r->n_prompt,
                 .n_gen = r->n_gen, .prefill_tok_s = r->prefill_tok_s, .decode_tok_s = r->decode_tok_s,
                 .peak_rss = (int64_t)proc_peak_rss_bytes(), .cpu_model = cpu_model_name(),
                 .build_version = ABLAB_VERSION, .details_json = r->details_json, .created_ms = wall_time_ms()};
    pthread_mutex_lock(&l->mu);
    int rc = db_bench_add(l->db, &b, &id, e);
    pthread_mutex_unlock(&l->mu);
    if (!rc && r->id_out) *r->id_out = id;
    return rc;
}
