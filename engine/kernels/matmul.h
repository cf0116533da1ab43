/* Private to engine/: the matrix kernels the forward passes call (matmul.c). */
#ifndef ABLAB_MATMUL_H
#define ABLAB_MATMUL_H

#include "pool.h"
#include "tensor.h"

/* ---------- kernels (matmul.c) ------------------------------------------------------------------ */
/* y[rows] = W x[cols], rows split over the pool's threads; plus scale B (A x) for each unmerged
 * LoRA pair of W (W->lora). For block-quantized W, x is first rounded to int8 blocks as llama.cpp
 * rounds it for that weight type (actq.h), in mm_vec and mm_batch alike. */
void mm_vec(const EngTensor *W, const float *x, float *y, EngPool *pool);
/* Y[n][rows] = X[n][cols] W^T (a prompt batch: gemm.c's kernel or sgemm; n == 1 goes to mm_vec),
 * over pool with the per-thread packing scratch pack ([threads][GEMM_PACK_FLOATS], gemm.h). */
void mm_batch(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool, float *pack);
/* Y[n][rows] for n independent vectors X[n][cols] (rows of different sequences decoded together):
 * each Y[t] gets exactly the bits mm_vec(W, X[t]) gives, rounding and LoRA included, while the
 * weights are read from memory once for all n (rows in cache-sized chunks, every vector per chunk). */
void mm_vecs(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool);
/* Whether mm_batch gives each row of X the bits it gives that row in any other batch (it runs
 * mm_vecs: Q8R), so that prompts of several sequences may share one call. */
bool mm_batch_rowwise(const EngTensor *W);
/* mm_batch for a prompt pass of a llama.cpp-order model (EngModel.llama_order): where the type
 * has its products in llama.cpp's order (quant_has_lc: Q8R, Q5_K and Q6_K with VNNI) those, for any n
 * (llama.cpp takes the same order for one row), else mm_batch. */
void mm_prompt(const EngTensor *W, const float *X, int n, float *Y, EngPool *pool, float *pack);
/* Whether mm_prompt takes W's llama.cpp-order kernel, which gives each row of X its bits in any
 * batch. */
bool mm_prompt_rowwise(const EngTensor *W);
/* Row r of W as F32 into out[cols] (embedding lookup, conversions), any dtype, transposed or not. */
void eng_tensor_row(const EngTensor *W, int64_t r, float *out);

#endif
