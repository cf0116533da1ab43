/* Private to engine/: Q8_0 repacked in memory for integer dot products (q8r.c). */
#ifndef ABLAB_Q8R_H
#define ABLAB_Q8R_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------- Q8R: Q8_0 repacked (q8r.c) ----------
 * A row of n weights (n % 32 == 0): n bytes q + 128 (pairs of blocks interleaved four bytes at a
 * time), n / 32 fp16 scales, and for rows of 512 bytes or more zeros to a multiple of 64 bytes
 * (q8r_row_bytes), so that those rows start 64-byte aligned when the tensor does. */
size_t q8r_row_bytes(size_t n);
bool q8r_supported(void);                               /* AVX-512 F/BW/VL + VNNI (cached) */
void q8r_from_q8_0(const void *src, void *dst, size_t n); /* one row, exact */
void q8r_from_f32(const float *x, void *dst, size_t n);   /* one row, quantized as Q8_0 */
void q8r_to_q8_0(const void *src, void *dst, size_t n);   /* one row, exact */
void q8r_to_f32(const void *src, float *dst, size_t n);
float q8r_dot_f32(const void *row, const float *x, size_t n);
/* quant_matvec for Q8R: x quantized once, then VNNI (vnni) or portable integer dots per row. */
void q8r_matvec(bool vnni, const void *w, size_t cols, const float *x, float *y, size_t r0, size_t r1);
/* q8r_matvec for n vectors x[n][cols] at once, y[v][r] at y + v * ldy + r: each vector quantized once,
 * then the rows in chunks small enough to stay in cache while every vector meets them, so the
 * weights are read from memory once for all n; eight vectors share each instruction. Each y[v]
 * gets the bits q8r_matvec of x[v] gives. */
void q8r_matvecs(bool vnni, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                 size_t r1);

/* Rows of another format that are exactly Q8_0 (every weight an int8 times its block's fp16
 * scale: Q4_0, Q5_0), converted to Q8R on request: fn writes row r of src (rows of cols weights) in
 * Q8R at dst, using scratch (cols / 32 * 34 bytes, the caller's). */
typedef struct {
    void (*fn)(const void *src, size_t cols, size_t r, uint8_t *dst, void *scratch);
    const void *src;
    void *scratch;
} Q8RConv;
/* q8r_matvecs over such rows: each chunk of rows converted once, then met by every vector, so a
 * prompt of a 4-bit file runs on the Q8R kernel. The results are q8r_matvecs' on the converted rows.
 * -1, with nothing written, when there is no memory for the converted chunk and x's forms. */
int q8r_matvecs_conv(bool vnni, const Q8RConv *conv, size_t cols, const float *x, int n, float *y, size_t ldy,
                     size_t r0, size_t r1);

/* q8r_matvecs for a prompt, in llama.cpp's order (ggml's Q8_0 dot: eight lanes of four products per
 * block, fused into the lanes block by block, the lanes then summed in ggml's tree), so a prompt of a
 * Q8_0 file gives llama.cpp's bits where its inputs are llama.cpp's (lcmath.h). The VNNI path packs
 * 16 rows at a time so that one instruction serves 16 rows; it and the portable path give the same
 * bits. Each y[v] depends on x[v] and the row alone. */
void q8r_matmul_lc(bool vnni, const void *w, size_t cols, const float *x, int n, float *y, size_t ldy, size_t r0,
                   size_t r1);

/* Decode streams each matrix once, row by row: while one row is multiplied, the bytes of a row
 * `ahead` bytes further on are asked for. The hardware prefetcher alone left one core at 19 GB/s
 * on GPT-2 XL's 1600-wide Q8_0 rows (11 tok/s, below llama.cpp's 12; 4 KiB ahead gave 15, 8 KiB the
 * same within the noise) and Q4_0 at 19.5 GB/s (25 with it). Q8R takes 4 KiB (Q8R_AHEAD_BYTES): 8
 * took the scratch shape's Q8_0 decode from 159-182 to 142-146 tok/s (session 11, alternating
 * builds). The 4/5-bit and k-quant kernels take 8 KiB (KQ_AHEAD_BYTES): one core, matrices
 * streamed from memory, five rounds alternating builds, medians for 4 / 8 / 12 KiB: Q4_0
 * 3072 x 768 33.2 / 36.5 / 35.3 GB/s, Q6_K 50257 x 768 38.7 / 41.3 / 43.3. row: the row being
 * multiplied, rb its bytes, left the bytes from it to the end of the rows being multiplied
 * (nothing past them is asked for). Used by q8r.c and kquant_vnni.c. */
#define Q8R_AHEAD_BYTES 4096
#define KQ_AHEAD_BYTES 8192
static inline void prefetch_rows_ahead(const void *row, size_t rb, size_t left, size_t ahead) {
    for (size_t b = ahead; b < ahead + rb && b < left; b += 64) __builtin_prefetch((const char *)row + b);
}

#endif
