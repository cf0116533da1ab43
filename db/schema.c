/* The record's schema, one migration step per version, and the SQL of every statement.
 * A step never rewrites what an earlier one created except by adding to it, so data survives
 * every upgrade (tests/db/test_db.c builds a file at each earlier version and upgrades it). */
#include "schema.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Ranges for version 5. Counts and sizes fit the C types that read them; byte counts stay below
 * 2^50 so that sums of them cannot overflow an int64; times are finite and not negative beyond
 * "unknown" (-1). */
#define I32(c) "CHECK(" c " BETWEEN 0 AND 2147483647)"
#define BYTES(c) "CHECK(" c " BETWEEN 0 AND 1125899906842624)"
#define MS(c) "CHECK(" c " BETWEEN -1 AND 1e15)"
#define BOOL(c) "CHECK(" c " IN (0,1))"
#define T_MODELS_COLS                                                                              \
    "(id INTEGER PRIMARY KEY,"                                                                     \
    "  path TEXT NOT NULL, name TEXT NOT NULL, arch TEXT NOT NULL, format TEXT NOT NULL,"           \
    "  dtype TEXT NOT NULL, file_dtype TEXT NOT NULL, tokenizer_kind TEXT NOT NULL,"                \
    "  weights_sha256 TEXT NOT NULL, tokenizer_sha256 TEXT NOT NULL,"                               \
    "  n_params INTEGER NOT NULL CHECK(n_params BETWEEN 0 AND 1000000000000000),"                  \
    "  n_layer INTEGER NOT NULL " I32("n_layer") ", n_head INTEGER NOT NULL " I32("n_head") ","     \
    "  n_kv_head INTEGER NOT NULL " I32("n_kv_head") ", dim INTEGER NOT NULL " I32("dim") ","       \
    "  vocab INTEGER NOT NULL " I32("vocab") ", ctx_max INTEGER NOT NULL " I32("ctx_max") ","       \
    "  bytes_on_disk INTEGER NOT NULL " BYTES("bytes_on_disk") ","                                 \
    "  bytes_mapped INTEGER NOT NULL " BYTES("bytes_mapped") ","                                   \
    "  bytes_owned INTEGER NOT NULL " BYTES("bytes_owned") ","                                     \
    "  load_ms REAL NOT NULL " MS("load_ms") ", created_ms INTEGER NOT NULL,"                      \
    "  last_loaded_ms INTEGER NOT NULL,"
#define T_MODELS T_MODELS_COLS "  UNIQUE(path, weights_sha256, tokenizer_sha256, dtype)) STRICT"
/* 10: the adapters applied at load are part of a model's identity (base vs base + LoRA) */
#define T_MODELS_V10                                                                                \
    T_MODELS_COLS "  adapters TEXT NOT NULL DEFAULT '' CHECK(length(adapters) <= 65536),"          \
    "  UNIQUE(path, weights_sha256, tokenizer_sha256, dtype, adapters)) STRICT"
#define T_SESSIONS                                                                                 \
    "(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"                                          \
    "  kind TEXT NOT NULL CHECK(kind IN ('lab','run','study')),"                                   \
    "  participant TEXT, prompt_set TEXT, blind INTEGER NOT NULL " BOOL("blind") ","               \
    "  consent INTEGER NOT NULL DEFAULT 0 " BOOL("consent") ", seed INTEGER NOT NULL,"              \
    "  started_ms INTEGER NOT NULL, ended_ms INTEGER, notes TEXT, build_version TEXT,"              \
    "  cpu_model TEXT) STRICT"
#define T_PROMPTS                                                                                  \
    "(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"               \
    "  prompt_set TEXT, position INTEGER NOT NULL " I32("position") ", text TEXT NOT NULL,"         \
    "  created_ms INTEGER NOT NULL, UNIQUE(session_id, position)) STRICT"
#define T_PAIRS                                                                                    \
    "(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"               \
    "  prompt_id INTEGER NOT NULL REFERENCES prompts(id), rep INTEGER NOT NULL DEFAULT 0 " I32("rep") "," \
    "  model_a_id INTEGER NOT NULL REFERENCES models(id), model_b_id INTEGER NOT NULL REFERENCES models(id)," \
    "  left_slot INTEGER NOT NULL " BOOL("left_slot") ", blind INTEGER NOT NULL " BOOL("blind") "," \
    "  created_ms INTEGER NOT NULL, UNIQUE(session_id, prompt_id, rep)) STRICT"
#define T_RESPONSES                                                                                \
    "(id INTEGER PRIMARY KEY, pair_id INTEGER NOT NULL REFERENCES pairs(id),"                     \
    "  slot INTEGER NOT NULL " BOOL("slot") ", model_id INTEGER NOT NULL REFERENCES models(id),"    \
    "  side INTEGER NOT NULL " BOOL("side") ","                                                    \
    "  temp REAL NOT NULL CHECK(temp BETWEEN 0 AND 1000), top_k INTEGER NOT NULL " I32("top_k") "," \
    "  top_p REAL NOT NULL CHECK(top_p BETWEEN 0 AND 1), min_p REAL NOT NULL CHECK(min_p BETWEEN 0 AND 1)," \
    "  repeat_penalty REAL NOT NULL CHECK(repeat_penalty BETWEEN 0 AND 1000),"                     \
    "  repeat_last_n INTEGER NOT NULL CHECK(repeat_last_n BETWEEN -1 AND 2147483647),"            \
    "  max_tokens INTEGER NOT NULL " I32("max_tokens") ","                                          \
    "  seed INTEGER NOT NULL, output TEXT NOT NULL, token_ids TEXT NOT NULL,"                      \
    "  n_prompt INTEGER NOT NULL " I32("n_prompt") ", n_gen INTEGER NOT NULL " I32("n_gen") ","     \
    "  stop_reason TEXT NOT NULL,"                                                                 \
    "  ttft_ms REAL NOT NULL " MS("ttft_ms") ", prefill_ms REAL NOT NULL " MS("prefill_ms") ","     \
    "  decode_tok_s REAL NOT NULL CHECK(decode_tok_s BETWEEN 0 AND 1e15),"                         \
    "  p50_ms REAL NOT NULL " MS("p50_ms") ", p95_ms REAL NOT NULL " MS("p95_ms") ","               \
    "  total_ms REAL NOT NULL " MS("total_ms") ","                                                 \
    "  bytes_weights_mapped INTEGER NOT NULL " BYTES("bytes_weights_mapped") ","                   \
    "  bytes_weights_owned INTEGER NOT NULL " BYTES("bytes_weights_owned") ","                     \
    "  bytes_kv INTEGER NOT NULL " BYTES("bytes_kv") ", bytes_scratch INTEGER NOT NULL " BYTES("bytes_scratch") "," \
    "  peak_rss INTEGER NOT NULL " BYTES("peak_rss") ", threads INTEGER NOT NULL " I32("threads") "," \
    "  build_version TEXT NOT NULL, cpu_model TEXT NOT NULL,"                                      \
    "  created_ms INTEGER NOT NULL, UNIQUE(pair_id, slot)) STRICT"
#define T_RATINGS                                                                                  \
    "(id INTEGER PRIMARY KEY, pair_id INTEGER NOT NULL REFERENCES pairs(id),"                     \
    "  participant TEXT NOT NULL DEFAULT '',"                                                      \
    "  choice TEXT NOT NULL CHECK(choice IN ('a','b','tie','both-bad')),"                          \
    "  winner_model_id INTEGER REFERENCES models(id),"                                             \
    "  chosen_side INTEGER CHECK(chosen_side IS NULL OR chosen_side IN (0,1)),"                   \
    "  score_a INTEGER CHECK(score_a IS NULL OR score_a BETWEEN 1 AND 5),"                         \
    "  score_b INTEGER CHECK(score_b IS NULL OR score_b BETWEEN 1 AND 5),"                         \
    "  tags TEXT, comment TEXT, decide_ms REAL CHECK(decide_ms IS NULL OR decide_ms BETWEEN 0 AND 1e15)," \
    "  created_ms INTEGER NOT NULL) STRICT"
#define T_EVALUATIONS                                                                              \
    "(id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),"                   \
    "  dataset TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,"                          \
    "  n_tokens INTEGER NOT NULL CHECK(n_tokens BETWEEN 0 AND 1000000000000000),"                  \
    "  details_json TEXT, build_version TEXT, created_ms INTEGER NOT NULL) STRICT"
#define T_BENCHMARKS                                                                               \
    "(id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),"                   \
    "  name TEXT NOT NULL, threads INTEGER NOT NULL " I32("threads") ","                            \
    "  n_prompt INTEGER NOT NULL " I32("n_prompt") ", n_gen INTEGER NOT NULL " I32("n_gen") ","     \
    "  prefill_tok_s REAL NOT NULL CHECK(prefill_tok_s BETWEEN 0 AND 1e15),"                       \
    "  decode_tok_s REAL NOT NULL CHECK(decode_tok_s BETWEEN 0 AND 1e15), ttft_ms REAL NOT NULL " MS("ttft_ms") "," \
    "  peak_rss INTEGER NOT NULL " BYTES("peak_rss") ", cpu_model TEXT, build_version TEXT,"        \
    "  details_json TEXT, created_ms INTEGER NOT NULL) STRICT"
#define T_SETTINGS "(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT"
#define T_PROMPT_HISTORY "(id INTEGER PRIMARY KEY, text TEXT NOT NULL, used_ms INTEGER NOT NULL) STRICT"
#define T_FILE_HASHES                                                                              \
    "(path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL) STRICT"

#define FTS_TRIGGERS                                                                               \
    "CREATE TRIGGER prompts_fts_ai AFTER INSERT ON prompts BEGIN"                                  \
    "  INSERT INTO prompts_fts(rowid, text) VALUES (new.id, new.text); END;"                       \
    "CREATE TRIGGER prompts_fts_ad AFTER DELETE ON prompts BEGIN"                                  \
    "  INSERT INTO prompts_fts(prompts_fts, rowid, text) VALUES ('delete', old.id, old.text); END;" \
    "CREATE TRIGGER prompts_fts_au AFTER UPDATE OF text ON prompts BEGIN"                          \
    "  INSERT INTO prompts_fts(prompts_fts, rowid, text) VALUES ('delete', old.id, old.text);"     \
    "  INSERT INTO prompts_fts(rowid, text) VALUES (new.id, new.text); END;"                       \
    "CREATE TRIGGER responses_fts_ai AFTER INSERT ON responses BEGIN"                              \
    "  INSERT INTO responses_fts(rowid, output) VALUES (new.id, new.output); END;"                 \
    "CREATE TRIGGER responses_fts_ad AFTER DELETE ON responses BEGIN"                              \
    "  INSERT INTO responses_fts(responses_fts, rowid, output) VALUES ('delete', old.id, old.output); END;" \
    "CREATE TRIGGER responses_fts_au AFTER UPDATE OF output ON responses BEGIN"                    \
    "  INSERT INTO responses_fts(responses_fts, rowid, output) VALUES ('delete', old.id, old.output);" \
    "  INSERT INTO responses_fts(rowid, output) VALUES (new.id, new.output); END;"

/* copy, drop (children first), rename; then the indexes and the full-text triggers the drops took */
#define STRICT_REBUILD                                                                             \
    "CREATE TABLE models_v5" T_MODELS ";INSERT INTO models_v5 SELECT * FROM models;"                \
    "CREATE TABLE sessions_v5" T_SESSIONS ";INSERT INTO sessions_v5 SELECT * FROM sessions;"        \
    "CREATE TABLE prompts_v5" T_PROMPTS ";INSERT INTO prompts_v5 SELECT * FROM prompts;"            \
    "CREATE TABLE pairs_v5" T_PAIRS ";INSERT INTO pairs_v5 SELECT * FROM pairs;"                    \
    "CREATE TABLE responses_v5" T_RESPONSES ";INSERT INTO responses_v5 SELECT * FROM responses;"    \
    "CREATE TABLE ratings_v5" T_RATINGS ";INSERT INTO ratings_v5 SELECT * FROM ratings;"            \
    "CREATE TABLE evaluations_v5" T_EVALUATIONS ";INSERT INTO evaluations_v5 SELECT * FROM evaluations;" \
    "CREATE TABLE benchmarks_v5" T_BENCHMARKS ";INSERT INTO benchmarks_v5 SELECT * FROM benchmarks;" \
    "CREATE TABLE settings_v5" T_SETTINGS ";INSERT INTO settings_v5 SELECT * FROM settings;"        \
    "CREATE TABLE prompt_history_v5" T_PROMPT_HISTORY ";INSERT INTO prompt_history_v5 SELECT * FROM prompt_history;" \
    "CREATE TABLE file_hashes_v5" T_FILE_HASHES ";INSERT INTO file_hashes_v5 SELECT * FROM file_hashes;" \
    "DROP TABLE ratings; DROP TABLE responses; DROP TABLE pairs; DROP TABLE prompts;"              \
    "DROP TABLE evaluations; DROP TABLE benchmarks; DROP TABLE sessions; DROP TABLE models;"       \
    "DROP TABLE settings; DROP TABLE prompt_history; DROP TABLE file_hashes;"                      \
    "ALTER TABLE models_v5 RENAME TO models; ALTER TABLE sessions_v5 RENAME TO sessions;"          \
    "ALTER TABLE prompts_v5 RENAME TO prompts; ALTER TABLE pairs_v5 RENAME TO pairs;"              \
    "ALTER TABLE responses_v5 RENAME TO responses; ALTER TABLE ratings_v5 RENAME TO ratings;"       \
    "ALTER TABLE evaluations_v5 RENAME TO evaluations; ALTER TABLE benchmarks_v5 RENAME TO benchmarks;" \
    "ALTER TABLE settings_v5 RENAME TO settings; ALTER TABLE prompt_history_v5 RENAME TO prompt_history;" \
    "ALTER TABLE file_hashes_v5 RENAME TO file_hashes;"                                            \
    "CREATE INDEX pairs_session ON pairs(session_id);"                                             \
    "CREATE INDEX ratings_pair ON ratings(pair_id, participant);"                                  \
    "CREATE INDEX responses_model ON responses(model_id);" FTS_TRIGGERS                             \
    "INSERT INTO prompts_fts(prompts_fts) VALUES ('rebuild');"                                     \
    "INSERT INTO responses_fts(responses_fts) VALUES ('rebuild');"

/* Version 11: a random version-4 UUID in SQL (randomblob; the variant's first hex digit 8..b). */
#define SQL_UUID4                                                                                  \
    "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||"                    \
    " substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) ||"     \
    " substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))"
/* the two columns every pooled table gets, and its unique index */
#define UUID_COLS(t)                                                                               \
    "ALTER TABLE " t " ADD COLUMN uuid TEXT CHECK(uuid IS NULL OR length(uuid) = 36);"             \
    "ALTER TABLE " t " ADD COLUMN source_id INTEGER REFERENCES sources(id);"
/* existing rows come from this file's own machine; new rows get a UUID and it from a trigger */
#define UUID_FILL(t)                                                                               \
    "UPDATE " t " SET source_id = (SELECT id FROM sources WHERE is_self = 1);"                     \
    "CREATE UNIQUE INDEX " t "_uuid ON " t "(uuid);"                                               \
    "CREATE INDEX " t "_source ON " t "(source_id);"                                               \
    "CREATE TRIGGER " t "_uuid_ai AFTER INSERT ON " t " WHEN new.uuid IS NULL BEGIN"               \
    "  UPDATE " t " SET uuid = " SQL_UUID4 ", source_id = coalesce(new.source_id,"                  \
    "  (SELECT id FROM sources WHERE is_self = 1)) WHERE rowid = new.rowid; END;"

const char *const DB_MIGRATIONS[DB_SCHEMA_VERSION] = {
    /* 1: the lab record */
    "PRAGMA application_id=" STR(DB_APPLICATION_ID) ";"
    "CREATE TABLE models("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL, name TEXT NOT NULL, arch TEXT NOT NULL, format TEXT NOT NULL,"
    "  dtype TEXT NOT NULL, file_dtype TEXT NOT NULL, tokenizer_kind TEXT NOT NULL,"
    "  weights_sha256 TEXT NOT NULL, tokenizer_sha256 TEXT NOT NULL,"
    "  n_params INTEGER NOT NULL CHECK(n_params >= 0), n_layer INTEGER NOT NULL, n_head INTEGER NOT NULL,"
    "  n_kv_head INTEGER NOT NULL, dim INTEGER NOT NULL, vocab INTEGER NOT NULL, ctx_max INTEGER NOT NULL,"
    "  bytes_on_disk INTEGER NOT NULL, bytes_mapped INTEGER NOT NULL, bytes_owned INTEGER NOT NULL,"
    "  load_ms REAL NOT NULL, created_ms INTEGER NOT NULL, last_loaded_ms INTEGER NOT NULL,"
    "  UNIQUE(path, weights_sha256, tokenizer_sha256, dtype));"
    "CREATE TABLE sessions("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL CHECK(kind IN ('lab','run','study')),"
    "  participant TEXT, prompt_set TEXT, blind INTEGER NOT NULL CHECK(blind IN (0,1)),"
    "  consent INTEGER NOT NULL DEFAULT 0 CHECK(consent IN (0,1)), seed INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL, ended_ms INTEGER, notes TEXT, build_version TEXT, cpu_model TEXT);"
    "CREATE TABLE prompts("
    "  id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"
    "  prompt_set TEXT, position INTEGER NOT NULL CHECK(position >= 0), text TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, UNIQUE(session_id, position));"
    "CREATE TABLE pairs("
    "  id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"
    "  prompt_id INTEGER NOT NULL REFERENCES prompts(id), rep INTEGER NOT NULL DEFAULT 0 CHECK(rep >= 0),"
    "  model_a_id INTEGER NOT NULL REFERENCES models(id), model_b_id INTEGER NOT NULL REFERENCES models(id),"
    "  left_slot INTEGER NOT NULL CHECK(left_slot IN (0,1)), blind INTEGER NOT NULL CHECK(blind IN (0,1)),"
    "  created_ms INTEGER NOT NULL, UNIQUE(session_id, prompt_id, rep));"
    "CREATE TABLE responses("
    "  id INTEGER PRIMARY KEY, pair_id INTEGER NOT NULL REFERENCES pairs(id),"
    "  slot INTEGER NOT NULL CHECK(slot IN (0,1)), model_id INTEGER NOT NULL REFERENCES models(id),"
    "  side INTEGER NOT NULL CHECK(side IN (0,1)),"
    "  temp REAL NOT NULL, top_k INTEGER NOT NULL, top_p REAL NOT NULL, min_p REAL NOT NULL,"
    "  repeat_penalty REAL NOT NULL, repeat_last_n INTEGER NOT NULL, max_tokens INTEGER NOT NULL,"
    "  seed INTEGER NOT NULL, output TEXT NOT NULL, token_ids TEXT NOT NULL,"
    "  n_prompt INTEGER NOT NULL, n_gen INTEGER NOT NULL, stop_reason TEXT NOT NULL,"
    "  ttft_ms REAL NOT NULL, prefill_ms REAL NOT NULL, decode_tok_s REAL NOT NULL,"
    "  p50_ms REAL NOT NULL, p95_ms REAL NOT NULL, total_ms REAL NOT NULL,"
    "  bytes_weights_mapped INTEGER NOT NULL, bytes_weights_owned INTEGER NOT NULL,"
    "  bytes_kv INTEGER NOT NULL, bytes_scratch INTEGER NOT NULL, peak_rss INTEGER NOT NULL,"
    "  threads INTEGER NOT NULL, build_version TEXT NOT NULL, cpu_model TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, UNIQUE(pair_id, slot));"
    "CREATE TABLE ratings("
    "  id INTEGER PRIMARY KEY, pair_id INTEGER NOT NULL REFERENCES pairs(id),"
    "  participant TEXT NOT NULL DEFAULT '',"
    "  choice TEXT NOT NULL CHECK(choice IN ('a','b','tie','both-bad')),"
    "  winner_model_id INTEGER REFERENCES models(id),"
    "  chosen_side INTEGER CHECK(chosen_side IS NULL OR chosen_side IN (0,1)),"
    "  score_a INTEGER CHECK(score_a IS NULL OR score_a BETWEEN 1 AND 5),"
    "  score_b INTEGER CHECK(score_b IS NULL OR score_b BETWEEN 1 AND 5),"
    "  tags TEXT, comment TEXT, decide_ms REAL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX pairs_session ON pairs(session_id);"
    "CREATE INDEX ratings_pair ON ratings(pair_id, participant);",

    /* 2: full-text search over prompts and outputs (external-content FTS5, kept by triggers) */
    "CREATE VIRTUAL TABLE prompts_fts USING fts5(text, content='prompts', content_rowid='id');"
    "CREATE TRIGGER prompts_fts_ai AFTER INSERT ON prompts BEGIN"
    "  INSERT INTO prompts_fts(rowid, text) VALUES (new.id, new.text); END;"
    "CREATE TRIGGER prompts_fts_ad AFTER DELETE ON prompts BEGIN"
    "  INSERT INTO prompts_fts(prompts_fts, rowid, text) VALUES ('delete', old.id, old.text); END;"
    "CREATE TRIGGER prompts_fts_au AFTER UPDATE OF text ON prompts BEGIN"
    "  INSERT INTO prompts_fts(prompts_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    "  INSERT INTO prompts_fts(rowid, text) VALUES (new.id, new.text); END;"
    "CREATE VIRTUAL TABLE responses_fts USING fts5(output, content='responses', content_rowid='id');"
    "CREATE TRIGGER responses_fts_ai AFTER INSERT ON responses BEGIN"
    "  INSERT INTO responses_fts(rowid, output) VALUES (new.id, new.output); END;"
    "CREATE TRIGGER responses_fts_ad AFTER DELETE ON responses BEGIN"
    "  INSERT INTO responses_fts(responses_fts, rowid, output) VALUES ('delete', old.id, old.output); END;"
    "CREATE TRIGGER responses_fts_au AFTER UPDATE OF output ON responses BEGIN"
    "  INSERT INTO responses_fts(responses_fts, rowid, output) VALUES ('delete', old.id, old.output);"
    "  INSERT INTO responses_fts(rowid, output) VALUES (new.id, new.output); END;"
    "INSERT INTO prompts_fts(prompts_fts) VALUES ('rebuild');"
    "INSERT INTO responses_fts(responses_fts) VALUES ('rebuild');",

    /* 3: evaluations (perplexity and friends) and benchmarks, per model */
    "CREATE TABLE evaluations("
    "  id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),"
    "  dataset TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, n_tokens INTEGER NOT NULL,"
    "  details_json TEXT, build_version TEXT, created_ms INTEGER NOT NULL);"
    "CREATE TABLE benchmarks("
    "  id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),"
    "  name TEXT NOT NULL, threads INTEGER NOT NULL, n_prompt INTEGER NOT NULL, n_gen INTEGER NOT NULL,"
    "  prefill_tok_s REAL NOT NULL, decode_tok_s REAL NOT NULL, ttft_ms REAL NOT NULL,"
    "  peak_rss INTEGER NOT NULL, cpu_model TEXT, build_version TEXT, details_json TEXT,"
    "  created_ms INTEGER NOT NULL);",

    /* 4: the lab's remembered settings, the line editor's history, hashes of model files */
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE prompt_history(id INTEGER PRIMARY KEY, text TEXT NOT NULL, used_ms INTEGER NOT NULL);"
    "CREATE TABLE file_hashes(path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL);"
    "CREATE INDEX responses_model ON responses(model_id);",

    /* 5: every table STRICT, with CHECKs on ranges, so that no value a foreign tool wrote can reach
     * the C side as something its type cannot hold (a REAL 1e308 in an INTEGER column, a text in a
     * count). Rebuilt with SQLite's copy-drop-rename procedure; db.c runs this step with foreign
     * keys off and checks them before committing, and checks the copy in TEMP tables first. */
    STRICT_REBUILD,

    /* 6: every change to a rating is kept. `ratings` holds one current rating per (pair,
     * participant); `rating_revisions` every state it went through, oldest first, with the time a
     * step back (`u`) undid it. Older files kept each change as another row of `ratings`: those
     * rows become the revisions of the newest one. */
    "CREATE TABLE rating_revisions(id INTEGER PRIMARY KEY, rating_id INTEGER NOT NULL,"
    "  pair_id INTEGER NOT NULL REFERENCES pairs(id), participant TEXT NOT NULL,"
    "  choice TEXT NOT NULL CHECK(choice IN ('a','b','tie','both-bad')),"
    "  winner_model_id INTEGER REFERENCES models(id),"
    "  chosen_side INTEGER CHECK(chosen_side IS NULL OR chosen_side IN (0,1)),"
    "  score_a INTEGER CHECK(score_a IS NULL OR score_a BETWEEN 1 AND 5),"
    "  score_b INTEGER CHECK(score_b IS NULL OR score_b BETWEEN 1 AND 5),"
    "  tags TEXT, comment TEXT, decide_ms REAL CHECK(decide_ms IS NULL OR decide_ms BETWEEN 0 AND 1e15),"
    "  created_ms INTEGER NOT NULL, undone_ms INTEGER) STRICT;"
    "INSERT INTO rating_revisions(rating_id, pair_id, participant, choice, winner_model_id, chosen_side, score_a,"
    "  score_b, tags, comment, decide_ms, created_ms)"
    "  SELECT (SELECT max(g2.id) FROM ratings g2 WHERE g2.pair_id = g.pair_id AND g2.participant = g.participant),"
    "  g.pair_id, g.participant, g.choice, g.winner_model_id, g.chosen_side, g.score_a, g.score_b, g.tags,"
    "  g.comment, g.decide_ms, g.created_ms FROM ratings g ORDER BY g.id;"
    "DELETE FROM ratings WHERE id <> (SELECT max(g2.id) FROM ratings g2 WHERE g2.pair_id = ratings.pair_id"
    "  AND g2.participant = ratings.participant);"
    "DROP INDEX ratings_pair;"
    "CREATE UNIQUE INDEX ratings_pair ON ratings(pair_id, participant);"
    "CREATE INDEX rating_revisions_rating ON rating_revisions(rating_id, id);",

    /* 7: a study is a recorded protocol that every participant's session runs on: its sampling
     * settings (the settings table's rows as "name=value;", seed -1 = a fresh seed per response,
     * recorded with each), its prompt set and that set's sha256, blind mode and pacing. A pair
     * records how its two answers were revealed while they were written (NULL: not shown then, as
     * in `ablab run`; earlier lab and study pairs were shown as each model wrote) and the error that
     * kept it from being answered, so a study moves past it. */
    "CREATE TABLE studies(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, prompt_set TEXT NOT NULL,"
    "  prompts_sha256 TEXT NOT NULL CHECK(length(prompts_sha256) = 64),"
    "  n_prompts INTEGER NOT NULL CHECK(n_prompts >= 1), sampling TEXT NOT NULL,"
    "  blind INTEGER NOT NULL CHECK(blind IN (0,1)), pacing TEXT NOT NULL CHECK(pacing IN ('natural','together')),"
    "  source TEXT NOT NULL, created_ms INTEGER NOT NULL) STRICT;"
    "ALTER TABLE sessions ADD COLUMN study_id INTEGER REFERENCES studies(id);"
    "ALTER TABLE pairs ADD COLUMN pacing TEXT CHECK(pacing IS NULL OR pacing IN ('natural','together'));"
    "ALTER TABLE pairs ADD COLUMN error TEXT;"
    "UPDATE pairs SET pacing = 'natural' WHERE session_id IN (SELECT id FROM sessions WHERE kind IN ('lab','study'));",

    /* 8: `ablab scale`'s measurements, one row per model, corpus and settings: what the table and
     * the fits are drawn from, so a run resumes past what is stored and --from-db re-renders
     * without loading a model. The eval and bench rows it recorded beside it are linked by id, so
     * the table cites the same numbers `eval` and `bench` keep. */
    "CREATE TABLE scale_results(id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),"
    "  corpus TEXT NOT NULL, corpus_sha256 TEXT NOT NULL CHECK(length(corpus_sha256) = 64),"
    "  ctx INTEGER NOT NULL CHECK(ctx BETWEEN 0 AND 2147483647),"
    "  threads INTEGER NOT NULL CHECK(threads BETWEEN 1 AND 2147483647),"
    "  n_prompt INTEGER NOT NULL CHECK(n_prompt BETWEEN 1 AND 2147483647),"
    "  n_gen INTEGER NOT NULL CHECK(n_gen BETWEEN 1 AND 2147483647),"
    "  reps INTEGER NOT NULL CHECK(reps BETWEEN 1 AND 2147483647),"
    "  n_params INTEGER NOT NULL CHECK(n_params BETWEEN 0 AND 1000000000000000),"
    "  n_params_nonemb INTEGER NOT NULL CHECK(n_params_nonemb BETWEEN 0 AND n_params),"
    "  bytes_on_disk INTEGER NOT NULL CHECK(bytes_on_disk BETWEEN 0 AND 1125899906842624),"
    "  bytes_resident INTEGER NOT NULL CHECK(bytes_resident BETWEEN 0 AND 1125899906842624),"
    "  load_ms REAL NOT NULL CHECK(load_ms BETWEEN 0 AND 1e15),"
    "  prefill_tok_s REAL NOT NULL CHECK(prefill_tok_s BETWEEN 0 AND 1e15),"
    "  decode_tok_s REAL NOT NULL CHECK(decode_tok_s BETWEEN 0 AND 1e15),"
    "  bits_per_byte REAL NOT NULL CHECK(bits_per_byte BETWEEN 0 AND 1e6),"
    "  token_ppl REAL NOT NULL CHECK(token_ppl >= 1),"
    "  n_tokens INTEGER NOT NULL CHECK(n_tokens BETWEEN 0 AND 1000000000000000),"
    "  eval_id INTEGER REFERENCES evaluations(id), prefill_bench_id INTEGER REFERENCES benchmarks(id),"
    "  decode_bench_id INTEGER REFERENCES benchmarks(id),"
    "  cpu_model TEXT NOT NULL, build_version TEXT NOT NULL, created_ms INTEGER NOT NULL) STRICT;"
    "CREATE INDEX scale_results_model ON scale_results(model_id, corpus_sha256);",

    /* 9: chat mode (issue 16). Every response's turn: whether its prompt was sent as raw text or
     * through the model's chat template, the messages the arm was given (JSON: its own history and
     * the new user turn), the exact text the model saw, and the conversation the turn belongs to
     * (the id of its first pair) with the turn's index, so export and replay show conversations.
     * Responses of older files have no row here. */
    "CREATE TABLE turns(response_id INTEGER PRIMARY KEY REFERENCES responses(id),"
    "  mode TEXT NOT NULL CHECK(mode IN ('raw','chat')), messages_json TEXT NOT NULL,"
    "  prompt_text TEXT NOT NULL, conversation_id INTEGER NOT NULL REFERENCES pairs(id),"
    "  turn INTEGER NOT NULL CHECK(turn BETWEEN 0 AND 1000000)) STRICT;"
    "CREATE INDEX turns_conversation ON turns(conversation_id, turn);",

    /* 10: a model is its weights, tokenizer and dtype and the LoRA adapters applied at load
     * (`adapters`: "" for none, else a JSON list of {name, format, sha256, scale, effective_scale}
     * in the order applied), so that A = base and B = base + adapter are two models and every
     * response records the adapter's name, hash and scale through its model_id. The UNIQUE key
     * changes: the table is rebuilt (copy, drop, rename) with foreign keys off, as step 5. */
    "CREATE TABLE models_v10" T_MODELS_V10 ";INSERT INTO models_v10 SELECT *, '' FROM models;"
    "DROP TABLE models; ALTER TABLE models_v10 RENAME TO models;",

    /* 11: pooling records from several machines (`ablab merge`). Every row that a merge carries
     * gets a global id (`uuid`) and the machine it was recorded on (`source_id` -> `sources`).
     * A file's own machine is its one `is_self` source: a random UUID and the host name. Rows
     * added later get a random (version 4) UUID and the self source from triggers that use only
     * SQLite's built-in functions, so any SQLite client may keep adding rows. Rows that exist at
     * migration get a UUID hashed from their table, id and unchanging columns (and their parent's
     * UUID), and an old file's own source a UUID hashed from its first rows: migrating the same
     * old file twice (in place, or a private copy when `merge` reads it read-only) gives the same
     * ids, so merging it again adds nothing. */
    "CREATE TABLE sources(id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE CHECK(length(uuid) = 36),"
    "  host TEXT NOT NULL, origin TEXT NOT NULL, is_self INTEGER NOT NULL CHECK(is_self IN (0,1)),"
    "  file TEXT, schema_version INTEGER, merged_ms INTEGER) STRICT;"
    "CREATE UNIQUE INDEX sources_self ON sources(is_self) WHERE is_self = 1;"
    UUID_COLS("models") UUID_COLS("studies") UUID_COLS("sessions") UUID_COLS("prompts") UUID_COLS("pairs")
    UUID_COLS("responses") UUID_COLS("ratings") UUID_COLS("rating_revisions") UUID_COLS("evaluations")
    UUID_COLS("benchmarks") UUID_COLS("scale_results")
    "UPDATE models SET uuid = ablab_uuid_of('models', id, path, weights_sha256, tokenizer_sha256, dtype, adapters,"
    "  created_ms);"
    "UPDATE studies SET uuid = ablab_uuid_of('studies', id, name, prompts_sha256, created_ms);"
    "UPDATE sessions SET uuid = ablab_uuid_of('sessions', id, name, kind, seed, started_ms);"
    "UPDATE prompts SET uuid = ablab_uuid_of('prompts', id, (SELECT uuid FROM sessions s WHERE s.id = session_id),"
    "  position, text, created_ms);"
    "UPDATE pairs SET uuid = ablab_uuid_of('pairs', id, (SELECT uuid FROM prompts p WHERE p.id = prompt_id), rep,"
    "  created_ms);"
    "UPDATE responses SET uuid = ablab_uuid_of('responses', id, (SELECT uuid FROM pairs p WHERE p.id = pair_id), slot,"
    "  seed, created_ms);"
    "UPDATE ratings SET uuid = ablab_uuid_of('ratings', id, (SELECT uuid FROM pairs p WHERE p.id = pair_id),"
    "  participant, created_ms);"
    "UPDATE rating_revisions SET uuid = ablab_uuid_of('rating_revisions', id, rating_id,"
    "  (SELECT uuid FROM pairs p WHERE p.id = pair_id), participant, created_ms);"
    "UPDATE evaluations SET uuid = ablab_uuid_of('evaluations', id, (SELECT uuid FROM models m WHERE m.id = model_id),"
    "  dataset, metric, created_ms);"
    "UPDATE benchmarks SET uuid = ablab_uuid_of('benchmarks', id, (SELECT uuid FROM models m WHERE m.id = model_id),"
    "  name, created_ms);"
    "UPDATE scale_results SET uuid = ablab_uuid_of('scale_results', id,"
    "  (SELECT uuid FROM models m WHERE m.id = model_id), corpus_sha256, created_ms);"
    "INSERT INTO sources(uuid, host, origin, is_self, schema_version) SELECT"
    "  CASE WHEN f IS NULL THEN " SQL_UUID4 " ELSE ablab_uuid_of('source', f) END, ablab_hostname(),"
    "  CASE WHEN f IS NULL THEN 'created' ELSE 'migrated' END, 1, 11 FROM (SELECT coalesce("
    "  (SELECT uuid FROM sessions ORDER BY id LIMIT 1), (SELECT uuid FROM models ORDER BY id LIMIT 1),"
    "  (SELECT uuid FROM evaluations ORDER BY id LIMIT 1), (SELECT uuid FROM benchmarks ORDER BY id LIMIT 1),"
    "  (SELECT uuid FROM studies ORDER BY id LIMIT 1)) AS f);"
    UUID_FILL("models") UUID_FILL("studies") UUID_FILL("sessions") UUID_FILL("prompts") UUID_FILL("pairs")
    UUID_FILL("responses") UUID_FILL("ratings") UUID_FILL("rating_revisions") UUID_FILL("evaluations")
    UUID_FILL("benchmarks") UUID_FILL("scale_results"),
};

/* The v5 table bodies, shared by the migration and the read-only pre-check in db.c. */
const DbStrictTable DB_STRICT_TABLES[] = {
    {"models", T_MODELS}, {"sessions", T_SESSIONS}, {"prompts", T_PROMPTS}, {"pairs", T_PAIRS},
    {"responses", T_RESPONSES}, {"ratings", T_RATINGS}, {"evaluations", T_EVALUATIONS},
    {"benchmarks", T_BENCHMARKS}, {"settings", T_SETTINGS}, {"prompt_history", T_PROMPT_HISTORY},
    {"file_hashes", T_FILE_HASHES}, {NULL, NULL},
};

/* The tables a file at each version must hold (checked before anything is written). */
const DbTableSince DB_TABLES[] = {
    {"models", 1}, {"sessions", 1}, {"prompts", 1}, {"pairs", 1}, {"responses", 1}, {"ratings", 1},
    {"prompts_fts", 2}, {"responses_fts", 2}, {"evaluations", 3}, {"benchmarks", 3},
    {"settings", 4}, {"prompt_history", 4}, {"file_hashes", 4}, {"rating_revisions", 6}, {"studies", 7}, {"scale_results", 8}, {"turns", 9}, {"sources", 11}, {NULL, 0},
};

#define RESPONSE_COLS                                                                              \
    "r.id, r.pair_id, r.model_id, r.slot, r.side, r.temp, r.top_p, r.min_p, r.repeat_penalty, "    \
    "r.top_k, r.repeat_last_n, r.max_tokens, r.seed, r.output, r.token_ids, r.n_prompt, r.n_gen, " \
    "r.stop_reason, r.ttft_ms, r.prefill_ms, r.decode_tok_s, r.p50_ms, r.p95_ms, r.total_ms, "     \
    "r.bytes_weights_mapped, r.bytes_weights_owned, r.bytes_kv, r.bytes_scratch, r.peak_rss, "     \
    "r.threads, r.build_version, r.cpu_model, r.created_ms, "                                      \
    "p.session_id, p.prompt_id, p.rep, pr.position, s.name, pr.text, m.name, p.blind, "            \
    "t.mode, t.messages_json, t.prompt_text, t.conversation_id, t.turn, coalesce(r.source_id, 0)"

#define RATING_SELECT                                                                              \
    "SELECT g.id, g.pair_id, g.participant, g.choice, g.winner_model_id, g.chosen_side, "          \
    "g.score_a, g.score_b, g.tags, g.comment, g.decide_ms, g.created_ms, p.session_id, "           \
    "p.prompt_id, p.model_a_id, p.model_b_id, p.rep, p.left_slot, p.blind, s.name, ma.name, mb.name, " \
    "pr.text, coalesce(p.pacing, ''), coalesce(g.source_id, 0) FROM ratings g JOIN pairs p ON p.id = g.pair_id JOIN sessions s ON s.id = p.session_id " \
    "JOIN prompts pr ON pr.id = p.prompt_id "                                                      \
    "JOIN models ma ON ma.id = p.model_a_id JOIN models mb ON mb.id = p.model_b_id "               \
    "WHERE (?1 = 0 OR p.session_id = ?1) "

#define PAIR_SELECT                                                                                \
    "SELECT p.id, p.session_id, p.prompt_id, p.rep, p.model_a_id, p.model_b_id, p.left_slot, "     \
    "p.blind, p.created_ms, "                                                                      \
    "coalesce((SELECT id FROM responses WHERE pair_id = p.id AND slot = 0), 0), "                  \
    "coalesce((SELECT id FROM responses WHERE pair_id = p.id AND slot = 1), 0), "                  \
    "coalesce(p.pacing, ''), p.error FROM pairs p "

#define PAIRROW_SELECT                                                                             \
    "SELECT p.id, p.session_id, p.prompt_id, p.rep, p.left_slot, p.blind, p.created_ms, s.name, "  \
    "pr.text, ra.output, rb.output, ma.name, mb.name, "                                            \
    "(SELECT count(*) FROM ratings g WHERE g.pair_id = p.id), "                                    \
    "(SELECT g.choice FROM ratings g WHERE g.pair_id = p.id ORDER BY g.id DESC LIMIT 1) "          \
    "FROM pairs p JOIN sessions s ON s.id = p.session_id JOIN prompts pr ON pr.id = p.prompt_id "  \
    "JOIN models ma ON ma.id = p.model_a_id JOIN models mb ON mb.id = p.model_b_id "               \
    "LEFT JOIN responses ra ON ra.pair_id = p.id AND ra.slot = 0 "                                 \
    "LEFT JOIN responses rb ON rb.pair_id = p.id AND rb.slot = 1 "                                 \
    "WHERE (?1 = 0 OR p.session_id = ?1) "

#define SESSION_SELECT                                                                             \
    "SELECT id, name, kind, participant, prompt_set, notes, build_version, cpu_model, blind, "     \
    "consent, seed, started_ms, coalesce(ended_ms, 0), coalesce(study_id, 0), coalesce(source_id, 0) FROM sessions "

#define STUDY_SELECT                                                                               \
    "SELECT id, name, prompt_set, prompts_sha256, n_prompts, sampling, blind, pacing, source, created_ms " \
    "FROM studies "

#define MODEL_SELECT                                                                               \
    "SELECT id, path, name, arch, format, dtype, file_dtype, tokenizer_kind, weights_sha256, "     \
    "tokenizer_sha256, n_params, n_layer, n_head, n_kv_head, dim, vocab, ctx_max, bytes_on_disk, " \
    "bytes_mapped, bytes_owned, load_ms, adapters FROM models "

const char *const DB_SQL[ST_COUNT] = {
    [ST_MODEL_FIND] = "SELECT id FROM models WHERE path = ?1 AND weights_sha256 = ?2 AND tokenizer_sha256 = ?3 AND dtype = ?4 "
                      "AND adapters = ?5",
    [ST_MODEL_INSERT] =
        "INSERT INTO models(path, name, arch, format, dtype, file_dtype, tokenizer_kind, weights_sha256, "
        "tokenizer_sha256, n_params, n_layer, n_head, n_kv_head, dim, vocab, ctx_max, bytes_on_disk, "
        "bytes_mapped, bytes_owned, load_ms, created_ms, last_loaded_ms, adapters) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?21, ?22)",
    [ST_MODEL_UPDATE] = "UPDATE models SET load_ms = ?2, bytes_mapped = ?3, bytes_owned = ?4, bytes_on_disk = ?5, "
                        "last_loaded_ms = ?6 WHERE id = ?1",
    [ST_MODELS_ALL] = MODEL_SELECT "ORDER BY id",
    [ST_HASH_GET] = "SELECT sha256 FROM file_hashes WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3",
    [ST_HASH_PUT] = "INSERT OR REPLACE INTO file_hashes(path, size, mtime_ns, sha256) VALUES (?1, ?2, ?3, ?4)",
    [ST_SESSION_INSERT] = "INSERT INTO sessions(name, kind, participant, prompt_set, blind, consent, seed, "
                          "started_ms, notes, build_version, cpu_model, study_id) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, nullif(?12, 0))",
    [ST_STUDY_INSERT] = "INSERT INTO studies(name, prompt_set, prompts_sha256, n_prompts, sampling, blind, pacing, "
                        "source, created_ms) VALUES (:name, :prompt_set, :sha, :n, :sampling, :blind, :pacing, "
                        ":source, :created)",
    [ST_STUDY_BY_NAME] = STUDY_SELECT "WHERE name = ?1",
    [ST_STUDY_BY_ID] = STUDY_SELECT "WHERE id = ?1",
    [ST_PAIR_FAIL] = "UPDATE pairs SET error = :error WHERE id = :id",
    [ST_SESSION_BY_NAME] = SESSION_SELECT "WHERE name = ?1",
    [ST_SESSION_BY_ID] = SESSION_SELECT "WHERE id = ?1",
    [ST_SESSION_END] = "UPDATE sessions SET ended_ms = ?2, notes = coalesce(?3, notes) WHERE id = ?1",
    [ST_SESSIONS_ALL] = SESSION_SELECT "WHERE (?1 = 0 OR id = ?1) ORDER BY id",
    [ST_COUNT_PROMPTS] = "SELECT count(*) FROM prompts WHERE session_id = ?1",
    [ST_COUNT_COMPLETE] = "SELECT count(*) FROM pairs p WHERE p.session_id = ?1 AND "
                          "(SELECT count(*) FROM responses r WHERE r.pair_id = p.id) = 2",
    [ST_COUNT_RATED] = "SELECT count(DISTINCT p.id) FROM pairs p JOIN ratings g ON g.pair_id = p.id "
                       "WHERE p.session_id = ?1 AND g.participant = ?2",
    [ST_COUNT_RATED_ANY] = "SELECT count(DISTINCT p.id) FROM pairs p JOIN ratings g ON g.pair_id = p.id "
                           "WHERE p.session_id = ?1",
    [ST_PROMPT_AT] = "SELECT id, text FROM prompts WHERE session_id = ?1 AND position = ?2",
    [ST_PROMPT_LAST] = "SELECT coalesce(max(position), -1) FROM prompts WHERE session_id = ?1",
    [ST_PROMPT_INSERT] = "INSERT INTO prompts(session_id, prompt_set, position, text, created_ms) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_PROMPTS_OF] = "SELECT id, session_id, position, prompt_set, text, created_ms FROM prompts "
                      "WHERE session_id = ?1 ORDER BY position",
    [ST_PROMPT_GET] = "SELECT id, session_id, position, prompt_set, text, created_ms FROM prompts WHERE id = ?1",
    [ST_PAIR_INSERT] = "INSERT INTO pairs(session_id, prompt_id, rep, model_a_id, model_b_id, left_slot, blind, "
                       "created_ms, pacing) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, nullif(?9, ''))",
    [ST_PAIR_FIND] = PAIR_SELECT "WHERE p.session_id = ?1 AND p.prompt_id = ?2 AND p.rep = ?3",
    [ST_PAIR_GET] = PAIR_SELECT "WHERE p.id = ?1",
    [ST_RESPONSE_INSERT] =
        "INSERT INTO responses(pair_id, slot, model_id, side, temp, top_k, top_p, min_p, repeat_penalty, "
        "repeat_last_n, max_tokens, seed, output, token_ids, n_prompt, n_gen, stop_reason, ttft_ms, "
        "prefill_ms, decode_tok_s, p50_ms, p95_ms, total_ms, bytes_weights_mapped, bytes_weights_owned, "
        "bytes_kv, bytes_scratch, peak_rss, threads, build_version, cpu_model, created_ms) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
        "?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)",
    [ST_RESPONSES] = "SELECT " RESPONSE_COLS " FROM responses r JOIN pairs p ON p.id = r.pair_id "
                     "JOIN prompts pr ON pr.id = p.prompt_id JOIN sessions s ON s.id = p.session_id "
                     "JOIN models m ON m.id = r.model_id LEFT JOIN turns t ON t.response_id = r.id "
                     "WHERE (?1 = 0 OR p.session_id = ?1) AND (?2 = 0 OR r.id = ?2) ORDER BY r.id",
    [ST_TURN_INSERT] = "INSERT INTO turns(response_id, mode, messages_json, prompt_text, conversation_id, turn) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_RATING_INSERT] = "INSERT INTO ratings(pair_id, participant, choice, winner_model_id, chosen_side, score_a, "
                         "score_b, tags, comment, decide_ms, created_ms) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_RATING_DELETE] = "DELETE FROM ratings WHERE id = ?1",
    [ST_RATING_UPSERT] = "INSERT INTO ratings(pair_id, participant, choice, winner_model_id, chosen_side, score_a, "
                         "score_b, tags, comment, decide_ms, created_ms) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                         "ON CONFLICT(pair_id, participant) DO UPDATE SET choice = excluded.choice, "
                         "winner_model_id = excluded.winner_model_id, chosen_side = excluded.chosen_side, "
                         "score_a = excluded.score_a, score_b = excluded.score_b, tags = excluded.tags, "
                         "comment = excluded.comment, decide_ms = excluded.decide_ms RETURNING id",
    [ST_REVISION_INSERT] = "INSERT INTO rating_revisions(rating_id, pair_id, participant, choice, winner_model_id, "
                           "chosen_side, score_a, score_b, tags, comment, decide_ms, created_ms) "
                           "SELECT id, pair_id, participant, choice, winner_model_id, chosen_side, score_a, score_b, "
                           "tags, comment, decide_ms, ?2 FROM ratings WHERE id = ?1",
    [ST_REVISION_GET] = "SELECT rating_id, pair_id, undone_ms IS NOT NULL FROM rating_revisions WHERE id = ?1",
    [ST_REVISION_LATEST] = "SELECT coalesce(max(id), 0) FROM rating_revisions WHERE rating_id = ?1 AND undone_ms IS NULL",
    [ST_REVISION_UNDO] = "UPDATE rating_revisions SET undone_ms = ?2 WHERE id = ?1",
    [ST_RATING_RESTORE] = "UPDATE ratings SET (choice, winner_model_id, chosen_side, score_a, score_b, tags, comment, "
                          "decide_ms) = (SELECT choice, winner_model_id, chosen_side, score_a, score_b, tags, comment, "
                          "decide_ms FROM rating_revisions WHERE id = ?2) WHERE id = ?1",
    [ST_RATING_OF] = RATING_SELECT "AND g.pair_id = ?2 AND g.participant = ?3",
    [ST_REVISIONS] = "SELECT id, rating_id, pair_id, participant, choice, winner_model_id, chosen_side, score_a, "
                     "score_b, tags, comment, decide_ms, created_ms, coalesce(undone_ms, 0) FROM rating_revisions "
                     "WHERE (?1 = 0 OR rating_id = ?1) ORDER BY id",
    [ST_RATINGS] = RATING_SELECT "ORDER BY g.id",
    [ST_RATINGS_LATEST] = RATING_SELECT "AND g.id = (SELECT max(g2.id) FROM ratings g2 WHERE g2.pair_id = g.pair_id "
                                        "AND g2.participant = g.participant) ORDER BY g.id",
    [ST_PAIRS_ALL] = PAIRROW_SELECT "ORDER BY p.id DESC LIMIT ?2 OFFSET ?3",
    [ST_PAIRS_SEARCH] = PAIRROW_SELECT
        "AND (p.prompt_id IN (SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ?4) "
        "OR p.id IN (SELECT r.pair_id FROM responses r WHERE r.id IN "
        "(SELECT rowid FROM responses_fts WHERE responses_fts MATCH ?4))) "
        "ORDER BY p.id DESC LIMIT ?2 OFFSET ?3",
    [ST_EVAL_INSERT] = "INSERT INTO evaluations(model_id, dataset, metric, value, n_tokens, details_json, "
                       "build_version, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_EVALS] = "SELECT id, model_id, dataset, metric, value, n_tokens, details_json, build_version, created_ms "
                 "FROM evaluations ORDER BY id",
    [ST_BENCH_INSERT] = "INSERT INTO benchmarks(model_id, name, threads, n_prompt, n_gen, prefill_tok_s, "
                        "decode_tok_s, ttft_ms, peak_rss, cpu_model, build_version, details_json, created_ms) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_BENCHES] = "SELECT id, model_id, name, threads, n_prompt, n_gen, prefill_tok_s, decode_tok_s, ttft_ms, "
                   "peak_rss, cpu_model, build_version, details_json, created_ms FROM benchmarks ORDER BY id",
    [ST_SCALE_INSERT] = "INSERT INTO scale_results(model_id, corpus, corpus_sha256, ctx, threads, n_prompt, n_gen, reps, "
                        "n_params, n_params_nonemb, bytes_on_disk, bytes_resident, load_ms, prefill_tok_s, decode_tok_s, "
                        "bits_per_byte, token_ppl, n_tokens, eval_id, prefill_bench_id, decode_bench_id, cpu_model, "
                        "build_version, created_ms) VALUES (:model_id, :corpus, :corpus_sha256, :ctx, :threads, "
                        ":n_prompt, :n_gen, :reps, :n_params, :n_params_nonemb, :bytes_on_disk, :bytes_resident, "
                        ":load_ms, :prefill_tok_s, :decode_tok_s, :bits_per_byte, :token_ppl, :n_tokens, :eval_id, "
                        ":prefill_bench_id, :decode_bench_id, :cpu_model, :build_version, :created_ms)",
    [ST_SCALES] = "SELECT s.id, s.model_id, s.corpus, s.corpus_sha256, s.ctx, s.threads, s.n_prompt, s.n_gen, s.reps, "
                  "s.n_params, s.n_params_nonemb, s.bytes_on_disk, s.bytes_resident, s.load_ms, s.prefill_tok_s, "
                  "s.decode_tok_s, s.bits_per_byte, s.token_ppl, s.n_tokens, coalesce(s.eval_id, 0), "
                  "coalesce(s.prefill_bench_id, 0), coalesce(s.decode_bench_id, 0), s.cpu_model, s.build_version, "
                  "s.created_ms, m.path, m.name, m.dtype, m.weights_sha256 "
                  "FROM scale_results s JOIN models m ON m.id = s.model_id ORDER BY s.id",
    [ST_SOURCES] = "SELECT id, uuid, host, origin, is_self, coalesce(file, ''), coalesce(schema_version, 0) "
                   "FROM sources ORDER BY id",
    [ST_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    [ST_SETTING_SET] = "INSERT OR REPLACE INTO settings(key, value) VALUES (?1, ?2)",
    [ST_HISTORY_ADD] = "INSERT INTO prompt_history(text, used_ms) VALUES (?1, ?2)",
    [ST_HISTORY] = "SELECT text FROM (SELECT text, max(id) AS last FROM prompt_history GROUP BY text "
                   "ORDER BY last DESC LIMIT ?1) ORDER BY last",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};
