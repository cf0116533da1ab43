/* Private to engine/ (ops.c and its tests): the AVX-512 and AVX2 + FMA kernels behind ops.h's
 * element-wise operations, and the run-time choice between them and ops.c's portable C.
 *
 * The choice is quant.c's: vm_path() is quant_path(), so quant_set_path("portable" |
 * "avx2" | "avx512") forces the matrix kernels and these together, and a test or a benchmark that
 * compares paths compares the whole forward pass. ops.c calls these; nothing else needs to.
 *
 * Every kernel computes what the op of the same name in ops.h documents, on one row (or one flat
 * array); they differ from the portable C only by float rounding (summation order, FMA) and by the
 * exponential, which is computed here in SIMD rather than by libm: vm_exp_* is within 2 ulp of
 * e^x for every float x, gives +inf above ~88.72, 0 (through the subnormals, rounded once) below
 * ~-103.97, and NaN for NaN. */
#ifndef ABLAB_VMATH_H
#define ABLAB_VMATH_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#define VM_X86 1
#else
#define VM_X86 0
#endif

typedef enum { VM_PORTABLE = 0, VM_AVX2, VM_AVX512 } VmPath;

/* The path quant.c's kernels take now (the best the CPU has, or the one quant_set_path forced).
 * Cheap enough to call once per op call; thread-safe. */
VmPath vm_path(void);

/* Runs kernel_avx512(...) or kernel_avx2(...) when path p is that one, and is then true; false
 * means neither ran and the caller's portable C must. Without x86 it is always false. */
#if VM_X86
#define VM_RUN(p, kernel, ...)                                                                      \
    ((p) == VM_AVX512 ? (kernel##_avx512(__VA_ARGS__), true)                                        \
                      : (p) == VM_AVX2 ? (kernel##_avx2(__VA_ARGS__), true) : false)
#else
#define VM_RUN(p, kernel, ...) ((void)(p), false)
#endif

#if VM_X86
/* Only call an _avx2 kernel when vm_path() >= VM_AVX2, an _avx512 one when it is VM_AVX512. */
void vm_exp_avx2(float *y, const float *x, size_t n);                  /* y = e^x; y may be x */
void vm_exp_avx512(float *y, const float *x, size_t n);
void vm_softmax_avx2(float *x, size_t n);                              /* n >= 1 */
void vm_softmax_avx512(float *x, size_t n);
void vm_gelu_new_avx2(float *a, size_t n);
void vm_gelu_new_avx512(float *a, size_t n);
void vm_silu_mul_avx2(float *a, const float *b, size_t n);
void vm_silu_mul_avx512(float *a, const float *b, size_t n);
void vm_add_avx2(float *x, const float *y, size_t n);                  /* x += y */
void vm_add_avx512(float *x, const float *y, size_t n);
/* One row of dim each; out may be x. */
void vm_layernorm_avx2(float *out, const float *x, const float *w, const float *b, size_t dim, float eps);
void vm_layernorm_avx512(float *out, const float *x, const float *w, const float *b, size_t dim, float eps);
void vm_rmsnorm_avx2(float *out, const float *x, const float *w, size_t dim, float eps);
void vm_rmsnorm_avx512(float *out, const float *x, const float *w, size_t dim, float eps);
size_t vm_argmax_avx2(const float *x, size_t n);                      /* op_argmax */
size_t vm_argmax_avx512(const float *x, size_t n);
size_t vm_first_nonfinite_avx2(const float *x, size_t n);             /* op_first_nonfinite */
size_t vm_first_nonfinite_avx512(const float *x, size_t n);
#endif

#endif
