/* Matrix kernels the forward passes call, dispatched on the weight's dtype.
 *   F32: OpenBLAS — sgemv for one row (decode), sgemm for a prompt batch; the output rows of W
 *        are split over the model's thread pool (each thread one BLAS call on its block), so a
 *        model's speed follows its own thread budget and OpenBLAS stays at one thread.
 *   F16 / BF16 / Q8_0: one row: quant.c's quant_matvec (SIMD, chosen at run time); a batch: rows
 *        converted 256 weights at a time into a stack buffer and dotted with every input row, so
 *        each weight is converted once per call and nothing is allocated.
 * Transposed (GPT-2 Conv1D, stored [in][out]) F32 matrices use BLAS's transpose flag on the
 * mapped file: y = W^T x with W[in][out] is sgemv(Trans) over a block of W's columns. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model.h"

bool eng_dtype_bytes(EngDType dt, int64_t rows, int64_t cols, size_t *out) {
    if (rows < 0 || cols < 0) return false;
    size_t n;
    if (!size_mul_ok((size_t)rows, (size_t)cols, &n)) return false;
    switch (dt) {
    case ENG_DT_F32: return size_mul_ok(n, 4, out);
    case ENG_DT_F16:
    case ENG_DT_BF16: return size_mul_ok(n, 2, out);
    case ENG_DT_Q8_0:
        if (cols % QK8_0) return false;
        return size_mul_ok(n / QK8_0, sizeof(BlockQ8_0), out);
    default: return false;
    }
}

/* ---------- rows of any dtype ------------------------------------------------------------------- */
/* Converts weights [c0, c0+n) of row r into out[n]; c0 is a multiple of 32. */
static void row_chunk(const EngTensor *W, int64_t r, int64_t c0, int64_t n, float *out) {
    size_t at = (size_t)(r * W->cols + c0), off;
    if (W->dt == ENG_DT_Q8_0) off = at / QK8_0 * sizeof(BlockQ8_0);
    else off = at * (W->dt == ENG_DT_F32 ? 4 : 2);
    quant_to_f32((QType)W->dt, (const char *)W->data + off, out, (size_t)n);
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
    if (j->n == 1) {
        quant_matvec((QType)W->dt, W->data, (size_t)cols, j->X, j->Y, (size_t)r0, (size_t)r1);
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
    if (eng_pool_size(pool) == 1 || W->rows * W->cols * (int64_t)n < (1 << 18)) {
        mm_rows(&j, 0, W->rows);
        return;
    }
    eng_pool_run(pool, mm_task, &j);
}

void mm_vec(const EngTensor *W, const float *x, float *y, EngPool *pool) { mm_run(W, x, 1, y, pool); }

void mm_batch(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool) { mm_run(W, X, n, Y, pool); }
