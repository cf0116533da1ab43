/* Private to engine/: the batch matrix multiply of prompt processing, C = A B^T, with our own
 * AVX-512 kernel. OpenBLAS's sgemm is the fallback (CPUs without AVX-512, or a forced kernel path):
 * on AVX-512 machines OpenBLAS may be pinned to its AVX2 kernels (OPENBLAS_CORETYPE), which halves
 * prefill speed, and it cannot read F16/BF16/Q8_0 weights without a dequantized copy.
 *
 * The kernel keeps a 6 x 64 block of C in 24 registers and walks K in blocks of GEMM_KC; B (the
 * weights) is converted to F32 and packed into panels of 64 columns as it is read, so any weight
 * dtype runs at the speed of F32 and each weight is converted once per call. */
#ifndef ABLAB_GEMM_H
#define ABLAB_GEMM_H

#include "quant.h"

#define GEMM_KC 256                              /* K per block of the kernel */
#define GEMM_PACK_FLOATS (512 * 1024)            /* scratch gemm_cols needs (floats, 64-byte aligned): 2 MiB */

/* The B operand. With kn == false, B is the logical matrix [N][K] stored as N rows of K values of
 * dtype dt, `row_bytes` apart (nn.Linear weights, cached keys). With kn == true it is stored [K][N]:
 * K rows of N values (F32 only), `row_bytes` apart (GPT-2 Conv1D weights, cached values). */
typedef struct {
    QType dt;
    const void *data;
    size_t row_bytes;
    bool kn;
} GemmB;

/* True when gemm_cols can run here (AVX-512 F/BW/VL, and the kernel path is not forced lower by
 * quant_set_path). When false, callers use sgemm. */
bool gemm_available(void);

/* C[i][j] = sum_k A[i][k] B[j][k] (accumulate: C[i][j] += ...) for i < M and j in [n0, n1).
 * A is M rows of K floats, lda floats apart; C rows are ldc floats apart. Q8_0 needs K % 32 == 0.
 * pack: GEMM_PACK_FLOATS floats, 64-byte aligned, private to the calling thread. Single-threaded:
 * callers split [0, N) over threads. Requires gemm_available(). */
void gemm_cols(int M, int K, const float *A, size_t lda, const GemmB *B, int n0, int n1, float *C, size_t ldc,
               bool accumulate, float *pack);

#endif
