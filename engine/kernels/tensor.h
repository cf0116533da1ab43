/* Private to engine/: a weight matrix as the kernels read it, and its dtypes.
 *
 * Matrix convention: an EngTensor is the logical matrix W[rows = out][cols = in] of y = W x
 * (nn.Linear's layout). GPT-2's Conv1D matrices are stored [in][out]: those carry
 * transposed = true (F32 only; kernels use BLAS's transpose flag, so the file stays mapped). */
#ifndef ABLAB_TENSOR_H
#define ABLAB_TENSOR_H

#include "quant.h"

/* ---------- tensors ----------------------------------------------------------------------------- */
/* The dtypes are quant.h's QType (same numbers): kernels for the half and quantized types live in
 * quant.c (the GGUF/quant part), F32 goes through OpenBLAS. */
typedef enum {
    ENG_DT_F32 = QT_F32,
    ENG_DT_F16 = QT_F16,   /* IEEE half */
    ENG_DT_BF16 = QT_BF16, /* bfloat16 */
    ENG_DT_Q8_0 = QT_Q8_0, /* GGUF's Q8_0: blocks of 32 weights = fp16 scale d + 32 int8 q (34 bytes) */
    ENG_DT_Q8R = QT_Q8R,   /* Q8_0 repacked in memory for VNNI (quant.h); shown as "q8_0" */
    /* GGUF's 4/5-bit blocks of 32 and k-quant super-blocks of 256 (kquant.h) */
    ENG_DT_Q4_0 = QT_Q4_0, ENG_DT_Q4_1 = QT_Q4_1, ENG_DT_Q5_0 = QT_Q5_0, ENG_DT_Q5_1 = QT_Q5_1,
    ENG_DT_Q2_K = QT_Q2_K, ENG_DT_Q3_K = QT_Q3_K, ENG_DT_Q4_K = QT_Q4_K, ENG_DT_Q5_K = QT_Q5_K, ENG_DT_Q6_K = QT_Q6_K,
} EngDType;

/* A LoRA pair kept beside a matrix that is not F32 (lora.c): y += scale B (A x), A [r][cols],
 * B [rows][r], F32; tmp holds A x for LORA_ROWS input rows at a time. */
#define LORA_ROWS 64
typedef struct EngLowRank {
    const float *A, *B;
    float *tmp;
    int r;
    float scale;
    const struct EngLowRank *next;
} EngLowRank;

typedef struct {
    EngDType dt;
    const void *data;    /* row-major; rows of cols elements (Q8_0: cols/32 blocks per row) */
    int64_t rows, cols;  /* logical shape [out][in] */
    bool transposed;     /* stored [cols][rows] (GPT-2 Conv1D); only with dt == ENG_DT_F32 */
    const EngLowRank *lora; /* unmerged adapters added by mm_vec / mm_batch, or NULL */
} EngTensor;

static inline const char *eng_dtype_name(EngDType dt) { return qtype_name((QType)dt); }
/* Bytes of a rows x cols tensor of dt; false on overflow or when cols is not a multiple of
 * the block size. */
bool eng_dtype_bytes(EngDType dt, int64_t rows, int64_t cols, size_t *out);

/* The dtype a matrix of `cols` columns gets when `want` is asked: block types need rows of whole
 * blocks. As llama-quantize: Q4_K falls back to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, and what still
 * does not fit to F16. (llama.cpp puts IQ4_NL where Q2_K/Q3_K do not fit, a type ablab does not
 * write: those take Q5_0, which llama.cpp reads too.) */
static inline EngDType eng_fit_dtype(EngDType want, int64_t cols) {
    if (cols % (int64_t)qtype_block((QType)want) == 0) return want;
    switch (want) {
    case ENG_DT_Q2_K:
    case ENG_DT_Q3_K:
    case ENG_DT_Q4_K: want = ENG_DT_Q5_0; break;
    case ENG_DT_Q5_K: want = ENG_DT_Q5_1; break;
    case ENG_DT_Q6_K: want = ENG_DT_Q8_0; break;
    default: break;
    }
    return cols % (int64_t)qtype_block((QType)want) ? ENG_DT_F16 : want;
}

#endif
