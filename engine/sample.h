/* Private to engine/: token sampling, a pure function of (logits, settings, recent tokens, RNG
 * state). The chain is llama.cpp's default order: repetition penalty → top-k → top-p → min-p →
 * temperature → draw; temperature 0 is greedy (argmax after the penalty, first index on ties). */
#ifndef ABLAB_SAMPLE_H
#define ABLAB_SAMPLE_H

#include "engine.h"

typedef struct { uint64_t s; } EngRng;          /* splitmix64 */
void   eng_rng_seed(EngRng *r, uint64_t seed);
double eng_rng_uniform(EngRng *r);               /* [0, 1) */

typedef struct { int id; float logit; float p; } EngCand;

/* Picks the next token. recent: the last tokens of the sequence (prompt and generated), of which
 * the last s->repeat_last_n (-1: all) are penalized. cands: caller's scratch of vocab entries
 * (nothing is allocated). Returns the token id. */
int eng_sample(const float *logits, int vocab, const EngSampling *s, const int *recent, int n_recent,
               EngCand *cands, EngRng *rng);

#endif
