/* Private to engine/: llama.cpp's float arithmetic, step for step (lcmath.c).
 *
 * A model read from llama.cpp's block types (EngModel.attn_f16) has its activations rounded to
 * int8 before every product, as llama.cpp rounds them. A difference of one unit in the last place
 * upstream of such a rounding can move a value across a rounding boundary, and the step it then
 * makes is as large as the file's own quantization error. So on a quantized file ablab agrees with
 * llama.cpp closely only where it computes the inputs of each rounding with the same float
 * operations in the same order. These functions do that for the operations of a prompt pass, as
 * the native x86-64 build of llama.cpp with AVX-512 computes them (ggml's CPU backend with its
 * llamafile GEMM; the commit is in docs/speed.md) for a model whose matrices allow it
 * (EngModel.llama_order):
 *   RMSNorm     a double sum of the float squares in order, the float scale, then the weight;
 *   RoPE        the angle of pair j as the position times theta_scale^j, multiplied up in float,
 *               and the rotation with the fused multiply-adds GCC makes of ggml's C (-std=gnu11
 *               contracts a*b + c*d);
 *   SiLU        x / (1 + e^-x) with ggml's vector exponential in blocks of 16 per row;
 *   softmax     the vector exponential, the sum in double over blocks of 16 of the row, each
 *               block summed as GCC's _mm512_reduce_add_ps sums it;
 *   attention   (a prompt of two or more rows) the products of fp16 q with fp16 keys and of fp16
 *               probabilities with fp16 values in 16 lanes of fused multiply-adds, in the order
 *               of their index, then summed across lanes as above.
 * The products of a prompt pass are q8r.c's q8r_matmul_lc (Q8_0) and kquant_vnni.c's dots (Q5_K,
 * Q6_K), through quant_matmul_lc. Every function here gives the same
 * bits on every path (the AVX-512 ones are the same operations, lane for lane). */
#ifndef ABLAB_LCMATH_H
#define ABLAB_LCMATH_H

#include <stdbool.h>
#include <stddef.h>

/* e^x as ggml's vector exponential computes one lane of it. */
float lc_expf(float x);
/* The sum of 16 floats as GCC's _mm512_reduce_add_ps adds them. */
float lc_sum16(const float a[16]);
/* out[t] = RMSNorm(x[t]) * w for n rows of dim (out may be x). */
void lc_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps);
/* a = silu(a) * b over rows of `width` (n floats in all). */
void lc_silu_mul(float *a, const float *b, size_t n, size_t width);
/* A row of attention scores, already scaled: softmax over [lo, hi), zeros elsewhere in [0, hi). */
void lc_softmax(float *row, int lo, int hi);
/* cos/sin tables [ctx][half] of plain RoPE with base theta over rot_dim dimensions. */
void lc_rope_tables(float *cos_t, float *sin_t, int ctx, int half, int rot_dim, float theta);

/* ggml_rope of n_heads heads (pairs (2j, 2j+1) when interleaved, else (j, j + rot_dim/2)): as
 * llama.cpp's build contracts it, x0' = x0 cos - (x1 sin) and x1' = x1 cos + (x0 sin), each with
 * the first product fused into the addition. */
void lc_rope(float *v, int n_heads, int head_dim, int rot_dim, const float *c, const float *s, bool interleaved);

/* A prompt's attention output for one head and query row (its scores are lc_gemm16 of the query and
 * the keys): out[d] = the sum over s in [0, len) of p[s] v_s[d] (v_s = v + s * vstride), in
 * llamafile's lanes of s, hd % 16 == 0, fp16-valued inputs. */
void lc_mix(const float *p, const float *v, size_t vstride, int len, int hd, float *out);

/* C[i][j] = the lanes of the fused products of A's row i and B's row j, 16 at a time in order
 * (K % 16 == 0), summed as lc_sum16: llamafile's f16 GEMM on fp16-valued floats, 4 x 4 at once. */
void lc_gemm16(int M, int N, int K, const float *A, size_t lda, const float *B, size_t ldb, float *C, size_t ldc);

#endif
