/* Matrix kernels the forward passes call, dispatched on the weight's dtype.
 *   F32: OpenBLAS — sgemv for one row (decode), sgemm for a prompt batch; the output rows of W
 *        are split over the model's thread pool (each thread one BLAS call on its block), so a
 *        model's speed follows its own thread budget and OpenBLAS stays at one thread.
 *   F16 / BF16 / Q8_0: rows converted 256 weights at a time into a stack buffer and dotted with
 *        every input row, so each weight is converted once per call and nothing is allocated.
 * Transposed (GPT-2 Conv1D, stored [in][out]) F32 matrices use BLAS's transpose flag on the
 * mapped file: y = W^T x with W[in][out] is sgemv(Trans) over a block of W's columns. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model.h"

/* ---------- numbers ----------------------------------------------------------------------------- */
float eng_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float eng_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t eng_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

uint16_t eng_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0); /* inf / nan */
    if (ax >= 0x477ff000u) return sign | 0x7c00;  /* rounds to >= 65520: overflow to inf */
    if (ax < 0x38800000u) {                        /* below the smallest normal half: subnormal */
        if (ax < 0x33000000u) return sign;         /* < 2^-25 rounds to zero */
        uint32_t man = (ax & 0x7fffff) | 0x800000;
        int shift = 126 - (int)(ax >> 23);         /* 14 .. 24 */
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t h = ((ax >> 23) - 112) << 10 | ((ax >> 13) & 0x3ff);
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into the exponent: fine */
    return sign | (uint16_t)h;
}

const char *eng_dtype_name(EngDType dt) {
    switch (dt) {
    case ENG_DT_F32: return "f32";
    case ENG_DT_F16: return "f16";
    case ENG_DT_BF16: return "bf16";
    case ENG_DT_Q8_0: return "q8_0";
    default: return "?";
    }
}

bool eng_dtype_bytes(EngDType dt, int64_t rows, int64_t cols, size_t *out) {
    if (rows < 0 || cols < 0) return false;
    size_t n;
    if (!size_mul_ok((size_t)rows, (size_t)cols, &n)) return false;
    switch (dt) {
    case ENG_DT_F32: return size_mul_ok(n, 4, out);
    case ENG_DT_F16:
    case ENG_DT_BF16: return size_mul_ok(n, 2, out);
    case ENG_DT_Q8_0:
        if (cols % ENG_Q8_0_BLOCK) return false;
        return size_mul_ok(n / ENG_Q8_0_BLOCK, sizeof(EngBlockQ8_0), out);
    default: return false;
    }
}

/* ---------- rows of any dtype ------------------------------------------------------------------- */
/* Converts weights [c0, c0+n) of row r into out[n]; c0 and n are multiples of 32 for Q8_0 unless
 * n reaches the end of the row. */
static void row_chunk(const EngTensor *W, int64_t r, int64_t c0, int64_t n, float *out) {
    switch (W->dt) {
    case ENG_DT_F32:
        memcpy(out, (const float *)W->data + r * W->cols + c0, (size_t)n * 4);
        break;
    case ENG_DT_F16: {
        const uint16_t *p = (const uint16_t *)W->data + r * W->cols + c0;
        for (int64_t i = 0; i < n; i++) out[i] = eng_f16_to_f32(p[i]);
        break;
    }
    case ENG_DT_BF16: {
        const uint16_t *p = (const uint16_t *)W->data + r * W->cols + c0;
        for (int64_t i = 0; i < n; i++) out[i] = eng_bf16_to_f32(p[i]);
        break;
    }
    case ENG_DT_Q8_0: {
        const EngBlockQ8_0 *b = (const EngBlockQ8_0 *)W->data + (r * W->cols + c0) / ENG_Q8_0_BLOCK;
        for (int64_t i = 0; i < n; i += ENG_Q8_0_BLOCK, b++) {
            float d = eng_f16_to_f32(b->d);
            for (int j = 0; j < ENG_Q8_0_BLOCK; j++) out[i + j] = d * (float)b->q[j];
        }
        break;
    }
    default: break;
    }
}

void eng_tensor_row(const EngTensor *W, int64_t r, float *out) { row_chunk(W, r, 0, W->cols, out); }

/* ---------- the work split ---------------------------------------------------------------------- */
typedef struct {
    const EngTensor *W;
    const float *X;
    float *Y;
    int n;          /* input rows */
} MmJob;

#define MM_CHUNK 256

/* Output rows [r0, r1) of Y[n][rows] = X[n][cols] W^T. */
static void mm_rows(const MmJob *j, int64_t r0, int64_t r1) {
    const EngTensor *W = j->W;
    int64_t rows = W->rows, cols = W->cols;
    if (r1 <= r0) return;
    if (W->dt == ENG_DT_F32) {
        const float *A = W->data;
        if (j->n == 1) {
            if (W->transposed)
                cblas_sgemv(CblasRowMajor, CblasTrans, (int)cols, (int)(r1 - r0), 1.0f, A + r0, (int)rows, j->X, 1,
                            0.0f, j->Y + r0, 1);
            else
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(r1 - r0), (int)cols, 1.0f, A + r0 * cols, (int)cols,
                            j->X, 1, 0.0f, j->Y + r0, 1);
        } else {
            if (W->transposed)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->n, (int)(r1 - r0), (int)cols, 1.0f, j->X,
                            (int)cols, A + r0, (int)rows, 0.0f, j->Y + r0, (int)rows);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, (int)(r1 - r0), (int)cols, 1.0f, j->X,
                            (int)cols, A + r0 * cols, (int)cols, 0.0f, j->Y + r0, (int)rows);
        }
        return;
    }
    float buf[MM_CHUNK];
    for (int64_t r = r0; r < r1; r++) {
        for (int t = 0; t < j->n; t++) j->Y[(int64_t)t * rows + r] = 0.0f;
        for (int64_t c0 = 0; c0 < cols; c0 += MM_CHUNK) {
            int64_t m = cols - c0 < MM_CHUNK ? cols - c0 : MM_CHUNK;
            row_chunk(W, r, c0, m, buf);
            for (int t = 0; t < j->n; t++) {
                const float *x = j->X + (int64_t)t * cols + c0;
                float acc = 0.0f;
                for (int64_t i = 0; i < m; i++) acc += buf[i] * x[i];
                j->Y[(int64_t)t * rows + r] += acc;
            }
        }
    }
}

static void mm_task(void *ud, int i, int n) {
    const MmJob *j = ud;
    int64_t rows = j->W->rows;
    /* blocks of 16 rows keep each thread's slice aligned for BLAS */
    int64_t per = (rows + n - 1) / n;
    per = (per + 15) / 16 * 16;
    int64_t r0 = per * i, r1 = r0 + per;
    if (r0 > rows) r0 = rows;
    if (r1 > rows) r1 = rows;
    mm_rows(j, r0, r1);
}

static void mm_run(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool) {
    MmJob j = {W, X, Y, n};
    /* small matrices are not worth waking the workers */
    if (eng_pool_size(pool) == 1 || W->rows * W->cols * (int64_t)n < 32768) {
        mm_rows(&j, 0, W->rows);
        return;
    }
    eng_pool_run(pool, mm_task, &j);
}

void mm_vec(const EngTensor *W, const float *x, float *y, EngPool *pool) { mm_run(W, x, 1, y, pool); }

void mm_batch(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool) { mm_run(W, X, n, Y, pool); }
