/* Matrix kernels the forward passes call, dispatched on the weight's dtype.
 *   One row (decode): quant.c's quant_matvec for every dtype (AVX-512 / AVX2 / portable, chosen at
 *        run time), which streams the weights faster than sgemv; never sgemm with one row.
 *   A batch (prefill): gemm.c's AVX-512 kernel for every dtype where the CPU has AVX-512; otherwise
 *        F32 through sgemm, and F16 / BF16 / Q8_0 in panels of 64 rows dequantized to F32, then
 *        sgemm, so each weight is converted once per call.
 *   The output rows of W are split over the model's thread pool (each thread one block), so a
 *        model's speed follows its own thread budget and OpenBLAS stays at one thread.
 *   Block-quantized weights (Q8_0, Q4_0 .. Q6_K) meet activations rounded first to the int8 blocks
 *        llama.cpp rounds them to for that type (actq.h), so that ablab and llama.cpp compute the
 *        same products of the same file up to the order of float additions.
 * Transposed (GPT-2 Conv1D, stored [in][out]) F32 matrices use BLAS's transpose flag on the
 * mapped file: y = W^T x with W[in][out] is sgemv(Trans) over a block of W's columns. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "actq.h"
#include "gemm.h"
#include "matmul.h"

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
    default: { /* Q8R and the 4/5-bit and k-quant blocks */
        size_t rb;
        if (qtype_row_bytes((QType)dt, (size_t)cols, &rb)) return false;
        return size_mul_ok((size_t)rows, rb, out);
    }
    }
}

/* ---------- rows of any dtype ------------------------------------------------------------------- */
/* Byte offset of row r (not transposed). */
static size_t row_offset(const EngTensor *W, int64_t r) {
    size_t rb = 0;
    qtype_row_bytes((QType)W->dt, (size_t)W->cols, &rb);
    return (size_t)r * rb;
}

void eng_tensor_row(const EngTensor *W, int64_t r, float *out) {
    if (W->transposed) { /* F32 stored [cols][rows] (GPT-2 Conv1D) */
        const float *A = W->data;
        for (int64_t c = 0; c < W->cols; c++) out[c] = A[c * W->rows + r];
        return;
    }
    quant_to_f32((QType)W->dt, (const char *)W->data + row_offset(W, r), out, (size_t)W->cols);
}

/* ---------- the work split ---------------------------------------------------------------------- */
typedef struct {
    const EngTensor *W;
    const float *X;
    float *Y;
    int n;          /* input rows */
    float *pack;    /* [threads][GEMM_PACK_FLOATS] for gemm_cols, or NULL */
    int align;      /* rows per block of the split */
    bool vecs;      /* n independent vectors, each through the one-row (decode) kernel (mm_vecs) */
    /* a batch row by row through quant.c: quant_matmul_lc (a prompt in llama.cpp's order, mm_prompt)
     * or quant_matmul (Q4_0 / Q5_0 on the Q8R kernel, mm_batch); NULL: the other paths */
    void (*rowwise)(QType t, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                    size_t r1);
} MmJob;

#define MM_PANEL 64 /* weight rows dequantized per sgemm in a batch */

/* Output rows [r0, r1) of Y[n][rows] = X[n][cols] W^T; thread i's scratch is pack + i * GEMM_PACK_FLOATS. */
static void mm_rows(const MmJob *j, int64_t r0, int64_t r1, int i) {
    const EngTensor *W = j->W;
    int64_t rows = W->rows, cols = W->cols;
    if (r1 <= r0) return;
    if (j->rowwise) {
        j->rowwise((QType)W->dt, W->data, (size_t)cols, j->X, j->n, j->Y, (size_t)rows, (size_t)r0, (size_t)r1);
        return;
    }
    if (j->vecs) { /* each vector as mm_vec computes it alone, the weights read once for all */
        if (!W->transposed) {
            quant_matvecs((QType)W->dt, W->data, (size_t)cols, j->X, j->n, j->Y, (size_t)rows, (size_t)r0, (size_t)r1);
            return;
        }
        for (int t = 0; t < j->n; t++) /* F32 Conv1D: the sgemv of one row, per vector */
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)cols, (int)(r1 - r0), 1.0f, (const float *)W->data + r0,
                        (int)rows, j->X + (size_t)t * cols, 1, 0.0f, j->Y + (size_t)t * rows + r0, 1);
        return;
    }
    if (j->n > 1 && j->pack) { /* a batch: our AVX-512 kernel, any dtype (gemm.c) */
        size_t rb = 0;
        if (W->transposed) rb = (size_t)rows * sizeof(float);
        else qtype_row_bytes((QType)W->dt, (size_t)cols, &rb);
        GemmB B = {(QType)W->dt, W->data, rb, W->transposed};
        gemm_cols(j->n, (int)cols, j->X, (size_t)cols, &B, (int)r0, (int)r1, j->Y, (size_t)rows, false,
                  j->pack + (size_t)i * GEMM_PACK_FLOATS);
        return;
    }
    if (j->n == 1 && !W->transposed) { /* decode: our SIMD matvec streams the rows (quant.c) */
        quant_matvec((QType)W->dt, W->data, (size_t)cols, j->X, j->Y, (size_t)r0, (size_t)r1);
        return;
    }
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
    /* a batch against F16/BF16/Q8_0 weights: panels of MM_PANEL rows dequantized to F32, then
     * sgemm, so prefill runs at BLAS speed and each weight is converted once per call */
    int64_t pr = r1 - r0 < MM_PANEL ? r1 - r0 : MM_PANEL;
    float *panel = malloc((size_t)pr * (size_t)cols * sizeof *panel);
    if (!panel) { /* no memory for a panel: one row at a time through the matvec kernel */
        for (int t = 0; t < j->n; t++)
            for (int64_t r = r0; r < r1; r++)
                j->Y[(int64_t)t * rows + r] = quant_dot((QType)W->dt, (const char *)W->data + row_offset(W, r),
                                                        j->X + (int64_t)t * cols, (size_t)cols);
        return;
    }
    for (int64_t p0 = r0; p0 < r1; p0 += MM_PANEL) {
        int64_t m = r1 - p0 < MM_PANEL ? r1 - p0 : MM_PANEL;
        for (int64_t r = 0; r < m; r++) eng_tensor_row(W, p0 + r, panel + r * cols);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, (int)m, (int)cols, 1.0f, j->X, (int)cols, panel,
                    (int)cols, 0.0f, j->Y + p0, (int)rows);
    }
    free(panel);
}

static void mm_task(void *ud, int i, int n) {
    const MmJob *j = ud;
    int64_t rows = j->W->rows;
    /* blocks of 16 rows keep each thread's slice aligned for BLAS */
    int64_t per = (rows + n - 1) / n;
    per = (per + j->align - 1) / j->align * j->align;
    int64_t r0 = per * i, r1 = r0 + per;
    if (r0 > rows) r0 = rows;
    if (r1 > rows) r1 = rows;
    mm_rows(j, r0, r1, i);
}

static void mm_run(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool, float *pack) {
    /* the gemm kernel packs 64 columns at a time: give each thread whole panels */
    MmJob j = {W, X, Y, n, pack, pack ? 64 : 16, false, NULL};
    /* small matrices are not worth waking the workers */
    if (eng_pool_size(pool) == 1 || W->rows * W->cols * (int64_t)n < (1 << 18)) {
        mm_rows(&j, 0, W->rows, 0);
        return;
    }
    eng_pool_run(pool, mm_task, &j);
}

/* Y[n][rows] += scale B (A X^T)^T for each unmerged adapter of W: A x into the pair's scratch,
 * LORA_ROWS input rows at a time, then B times that (rank r is small: one thread, BLAS). */
static void mm_lowrank(const EngTensor *W, const float *X, int n, float *Y) {
    int rows = (int)W->rows, cols = (int)W->cols;
    for (const EngLowRank *l = W->lora; l; l = l->next)
        for (int t0 = 0; t0 < n; t0 += LORA_ROWS) {
            int k = n - t0 < LORA_ROWS ? n - t0 : LORA_ROWS;
            const float *x = X + (size_t)t0 * cols;
            float *y = Y + (size_t)t0 * rows;
            if (k == 1) {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, l->r, cols, 1.0f, l->A, cols, x, 1, 0.0f, l->tmp, 1);
                cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, l->r, l->scale, l->B, l->r, l->tmp, 1, 1.0f, y, 1);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, l->r, cols, 1.0f, x, cols, l->A, cols, 0.0f,
                            l->tmp, l->r);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, rows, l->r, l->scale, l->tmp, l->r, l->B, l->r,
                            1.0f, y, rows);
            }
        }
}

/* x rounded for W's type into buf (stack) or the heap; q8r.c rounds Q8R's x itself. NULL when W
 * reads float activations, or when there is no memory for a long row (x is then used as it is). */
#define MM_STACK_COLS 4096
static ActType round_type(const EngTensor *W) {
    return W->dt == ENG_DT_Q8R ? ACT_NONE : actq_type((QType)W->dt);
}

static float *round_x(const EngTensor *W, const float *x, float *buf) {
    ActType a = round_type(W);
    if (a == ACT_NONE) return NULL;
    float *xr = W->cols <= MM_STACK_COLS ? buf : malloc((size_t)W->cols * sizeof *xr);
    if (xr) actq_round_f32(a, x, xr, (size_t)W->cols);
    return xr;
}

void mm_vec(const EngTensor *W, const float *x, float *y, EngPool *pool) {
    float buf[MM_STACK_COLS];
    float *xr = round_x(W, x, buf);
    mm_run(W, xr ? xr : x, 1, y, pool, NULL);
    if (xr != buf) free(xr);
    if (W->lora) mm_lowrank(W, x, 1, y);
}

/* A batch through one of quant.c's row-by-row kernels (MmJob.rowwise), x as it is (the kernel
 * quantizes it), then the adapters. */
static void mm_rowwise(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool,
                       void (*fn)(QType, const void *, size_t, const float *, int, float *, size_t, size_t, size_t)) {
    MmJob j = {W, X, Y, n, NULL, 16, false, fn};
    if (eng_pool_size(pool) == 1 || W->rows * W->cols * (int64_t)n < (1 << 18)) mm_rows(&j, 0, W->rows, 0);
    else eng_pool_run(pool, mm_task, &j);
    if (W->lora) mm_lowrank(W, X, n, Y);
}

bool mm_batch_rowwise(const EngTensor *W) { return W->dt == ENG_DT_Q8R && !W->transposed; }

void mm_batch(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool, float *pack) {
    if (n == 1) {
        mm_vec(W, X, Y, pool);
        return;
    }
    /* Q8R: the integer kernel, eight tokens per pass over the weights (q8r_matvecs), x quantized as
     * ggml quantizes it. Packing the weights to float for the GEMM was slower at every length:
     * GPT-2 124M shape, one thread, pp8 370 against 1131 tok/s, pp512 about 960 against 1200-1530 */
    if (mm_batch_rowwise(W)) {
        mm_vecs(W, X, n, Y, pool);
        return;
    }
    /* Q4_0 / Q5_0 weights are exactly Q8_0 ones: converted to Q8R a chunk of rows at a time, they
     * run on that kernel (scratch Q4_0 pp512, one thread: 643 tok/s on the float GEMM, 1171 here) */
    if (!W->transposed && quant_matmul_q8r((QType)W->dt)) {
        mm_rowwise(W, X, n, Y, pool, quant_matmul);
        return;
    }
    /* the activations rounded as ggml rounds them for this weight type (actq.h); the adapters see
     * them unrounded, as llama.cpp's float LoRA matrices do */
    ActType a = actq_type((QType)W->dt);
    float *xr = a != ACT_NONE ? malloc((size_t)n * (size_t)W->cols * sizeof *xr) : NULL; /* NULL: x as it is */
    if (xr) actq_round_f32(a, X, xr, (size_t)n * (size_t)W->cols);
    mm_run(W, xr ? xr : X, n, Y, pool, n > 1 && gemm_available() ? pack : NULL);
    free(xr);
    if (W->lora) mm_lowrank(W, X, n, Y);
}

void mm_vecs(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool) {
    if (n == 1) {
        mm_vec(W, X, Y, pool);
        return;
    }
    size_t cols = (size_t)W->cols;
    /* each vector rounded for W's type as mm_vec rounds it (round_x) */
    ActType a = round_type(W);
    float *xr = NULL;
    if (a != ACT_NONE) {
        if (!(xr = malloc((size_t)n * cols * sizeof *xr))) { /* no memory: one vector at a time */
            for (int t = 0; t < n; t++) mm_vec(W, X + (size_t)t * cols, Y + (size_t)t * (size_t)W->rows, pool);
            return;
        }
        for (int t = 0; t < n; t++) actq_round_f32(a, X + (size_t)t * cols, xr + (size_t)t * cols, cols);
    }
    MmJob j = {W, xr ? xr : X, Y, n, NULL, 16, true, NULL};
    /* the same split as mm_vec where the kernel's result could depend on it (sgemv's blocks); the
     * per-row kernels give each row the same bits whatever the split */
    int64_t work = W->rows * W->cols * (W->transposed ? 1 : n);
    if (eng_pool_size(pool) == 1 || work < (1 << 18)) mm_rows(&j, 0, W->rows, 0);
    else eng_pool_run(pool, mm_task, &j);
    free(xr);
    if (W->lora)
        for (int t = 0; t < n; t++) mm_lowrank(W, X + (size_t)t * cols, 1, Y + (size_t)t * (size_t)W->rows);
}

bool mm_prompt_rowwise(const EngTensor *W) { return !W->transposed && quant_has_lc((QType)W->dt); }

void mm_prompt(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool, float *pack) {
    if (!mm_prompt_rowwise(W)) {
        mm_batch(W, X, n, Y, pool, pack);
        return;
    }
    mm_rowwise(W, X, n, Y, pool, quant_matmul_lc);
}
