/* Private to engine/: half-precision scalars and GGUF's Q8_0 blocks (half.c). */
#ifndef ABLAB_HALF_H
#define ABLAB_HALF_H

#include <stddef.h>
#include <stdint.h>

#define QK8_0 32
typedef struct {
    uint16_t d;          /* fp16 scale */
    int8_t qs[QK8_0];
} BlockQ8_0;             /* 34 bytes, no padding (as GGUF stores it) */

uint16_t fp32_to_fp16(float f);
float    fp16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);
float    bf16_to_fp32(uint16_t h);

/* n floats (n % 32 == 0) as n / 32 Q8_0 blocks, as ggml quantizes: d = max|x| / 127 rounded to
 * fp16, q = round(x / d). */
void q8_0_from_f32(const float *x, BlockQ8_0 *y, size_t n);

#endif
