/* The sampler over arbitrary logits and settings: 24 bytes of settings (temperature, top-p, min-p,
 * repeat penalty as raw floats, top-k, repeat window, a seed), then the logits as raw floats (any
 * NaN, infinity or denormal). The token must be an id of the vocabulary. */
#include <math.h>

#include "fuzz.h"
#include "sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 28) return 0;
    EngSampling s = eng_sampling_default();
    memcpy(&s.temp, data, 4);
    memcpy(&s.top_p, data + 4, 4);
    memcpy(&s.min_p, data + 8, 4);
    memcpy(&s.repeat_penalty, data + 12, 4);
    int16_t k, win;
    memcpy(&k, data + 16, 2);
    memcpy(&win, data + 18, 2);
    s.top_k = k;
    s.repeat_last_n = win;
    uint32_t seed;
    memcpy(&seed, data + 20, 4);
    int vocab = (int)((size - 24) / 4);
    float *lg = malloc((size_t)vocab * sizeof *lg);
    EngCand *c = malloc((size_t)vocab * sizeof *c);
    int *recent = malloc((size_t)vocab * sizeof *recent);
    if (!lg || !c || !recent) abort();
    memcpy(lg, data + 24, (size_t)vocab * 4);
    for (int i = 0; i < vocab; i++) recent[i] = (int)((data[24 + i] * 37u + (unsigned)i) % (unsigned)(vocab + 2)) - 1;
    EngRng r;
    eng_rng_seed(&r, seed);
    for (int rep = 0; rep < 2; rep++) {
        int id = eng_sample(lg, vocab, &s, recent, vocab, c, &r);
        if (id < 0 || id >= vocab) abort();
    }
    free(lg);
    free(c);
    free(recent);
    return 0;
}
