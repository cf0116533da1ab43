#include "actq.h"
#include "ops.h"

#include <math.h>
#include <string.h>

#include "vmath.h"

/* Each op resolves the path once per call (vm_path(): quant.c's choice) and hands whole rows to
 * vmath.c's kernels; the portable C is what runs elsewhere, and tests/engine/test_ops.c holds all
 * of them to the same double-precision reference. */

void op_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps) {
    VmPath p = vm_path();
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
        if (VM_RUN(p, vm_rmsnorm, o, xr, w, (size_t)dim, eps)) continue;
        float ss = 0.0f;
        for (int i = 0; i < dim; i++) ss += xr[i] * xr[i];
        ss /= (float)dim;
        ss += eps;
        ss = 1.0f / sqrtf(ss);
        for (int i = 0; i < dim; i++) o[i] = w[i] * (ss * xr[i]);
    }
}

void op_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim, float eps) {
    VmPath p = vm_path();
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
        if (VM_RUN(p, vm_layernorm, o, xr, w, b, (size_t)dim, eps)) continue;
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < dim; i++) mean += xr[i];
        mean /= dim;
        for (int i = 0; i < dim; i++) {
            double d = xr[i] - mean;
            var += d * d;
        }
        var /= dim;
        float r = (float)(1.0 / sqrt(var + (double)eps));
        float mf = (float)mean;
        for (int i = 0; i < dim; i++) o[i] = (xr[i] - mf) * r * w[i] + b[i];
    }
}

void op_add_bias(float *y, const float *b, int n, int dim) {
    if (!b) return;
    VmPath p = vm_path();
    for (int t = 0; t < n; t++) {
        float *yr = y + (size_t)t * dim;
        if (VM_RUN(p, vm_add, yr, b, (size_t)dim)) continue;
        for (int i = 0; i < dim; i++) yr[i] += b[i];
    }
}

size_t op_argmax(const float *x, size_t n) {
#if VM_X86
    VmPath p = vm_path();
    if (p == VM_AVX512) return vm_argmax_avx512(x, n);
    if (p == VM_AVX2) return vm_argmax_avx2(x, n);
#endif
    size_t best = 0;
    float bl = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x[i] > bl) bl = x[best = i];
    return best;
}

size_t op_first_nonfinite(const float *x, size_t n) {
#if VM_X86
    VmPath p = vm_path();
    if (p == VM_AVX512) return vm_first_nonfinite_avx512(x, n);
    if (p == VM_AVX2) return vm_first_nonfinite_avx2(x, n);
#endif
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

void op_add(float *x, const float *y, size_t n) {
    VmPath p = vm_path();
    if (VM_RUN(p, vm_add, x, y, n)) return;
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void op_exp(float *y, const float *x, size_t n) {
    VmPath p = vm_path();
    if (VM_RUN(p, vm_exp, y, x, n)) return;
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

void op_silu_mul(float *a, const float *b, size_t n) {
    VmPath p = vm_path();
    if (VM_RUN(p, vm_silu_mul, a, b, n)) return;
    for (size_t i = 0; i < n; i++) {
        float v = a[i];
        v *= 1.0f / (1.0f + expf(-v));
        a[i] = v * b[i];
    }
}

void op_gelu_new(float *a, size_t n) {
    VmPath p = vm_path();
    if (VM_RUN(p, vm_gelu_new, a, n)) return;
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float x = a[i];
        /* 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)): one expf (several times cheaper than tanhf),
         * and no cancellation where e^(2u) is tiny, as 0.5 x (2 - 2 / (1 + e^(2u))) had */
        float u = k * (x + 0.044715f * x * x * x);
        a[i] = x / (1.0f + expf(-2.0f * u));
    }
}

void op_softmax(float *x, int n) {
    if (n <= 0) return;
    VmPath p = vm_path();
    if (VM_RUN(p, vm_softmax, x, (size_t)n)) return;
    float mx = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

void op_gelu_new_f16(float *a, size_t n) {
    float t[256];
    for (size_t i0 = 0; i0 < n; i0 += 256) {
        size_t k = n - i0 < 256 ? n - i0 : 256;
        memcpy(t, a + i0, k * sizeof *t);
        actq_round_f16(t, k);
        op_gelu_new(t, k);
        actq_round_f16(t, k);
        for (size_t i = 0; i < k; i++) {
            float x = a[i0 + i];
            a[i0 + i] = x <= -10.0f ? 0.0f : x >= 10.0f ? x : t[i];
        }
    }
}

void op_gelu_erf(float *a, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = 0.5f * a[i] * (1.0f + erff(a[i] * 0.70710678118654752f));
}

void op_gelu_mul(float *a, const float *b, size_t n) {
    op_gelu_new(a, n);
    for (size_t i = 0; i < n; i++) a[i] *= b[i];
}

void op_softcap(float *x, size_t n, float cap) {
    if (!(cap > 0.0f)) return;
    for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i] / cap) * cap;
}

void op_rope_inv_freq(float *inv, int rot_dim, float theta) {
    for (int j = 0; j < rot_dim / 2; j++) inv[j] = 1.0f / powf(theta, (float)(2 * j) / (float)rot_dim);
}

void op_rope_llama3(float *inv, int half, float factor, float low_freq_factor, float high_freq_factor, int orig_ctx) {
    const float pi = 3.14159265358979323846f;
    float low_wl = (float)orig_ctx / low_freq_factor, high_wl = (float)orig_ctx / high_freq_factor;
    for (int j = 0; j < half; j++) {
        float wl = 2.0f * pi / inv[j];
        float scaled = wl > low_wl ? inv[j] / factor : inv[j];
        if (!(wl < high_wl) && !(wl > low_wl)) { /* between the two: blend */
            float smooth = ((float)orig_ctx / wl - low_freq_factor) / (high_freq_factor - low_freq_factor);
            scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
        }
        inv[j] = scaled;
    }
}

void op_rope_tables(float *cos_t, float *sin_t, int ctx, int half, const float *inv) {
    for (int j = 0; j < half; j++) {
        for (int p = 0; p < ctx; p++) {
            float val = (float)p * inv[j];
            cos_t[(size_t)p * half + j] = cosf(val);
            sin_t[(size_t)p * half + j] = sinf(val);
        }
    }
}

void op_rope(float *v, int n_heads, int head_dim, int rot_dim, const float *c, const float *s, bool interleaved) {
    int half = rot_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * head_dim;
        if (interleaved) {
            for (int j = 0; j < half; j++) {
                float a = x[2 * j], b = x[2 * j + 1];
                x[2 * j] = a * c[j] - b * s[j];
                x[2 * j + 1] = a * s[j] + b * c[j];
            }
        } else {
            for (int j = 0; j < half; j++) {
                float a = x[j], b = x[j + half];
                x[j] = a * c[j] - b * s[j];
                x[j + half] = b * c[j] + a * s[j];
            }
        }
    }
}
