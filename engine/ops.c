#include "ops.h"

#include <math.h>
#include <string.h>

void op_rmsnorm(float *out, const float *x, const float *w, int n, int dim, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
        float ss = 0.0f;
        for (int i = 0; i < dim; i++) ss += xr[i] * xr[i];
        ss /= (float)dim;
        ss += eps;
        ss = 1.0f / sqrtf(ss);
        for (int i = 0; i < dim; i++) o[i] = w[i] * (ss * xr[i]);
    }
}

void op_layernorm(float *out, const float *x, const float *w, const float *b, int n, int dim, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * dim;
        float *o = out + (size_t)t * dim;
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
    for (int t = 0; t < n; t++)
        for (int i = 0; i < dim; i++) y[(size_t)t * dim + i] += b[i];
}

void op_add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void op_silu_mul(float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = a[i];
        v *= 1.0f / (1.0f + expf(-v));
        a[i] = v * b[i];
    }
}

void op_gelu_new(float *a, size_t n) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float x = a[i];
        /* tanh(u) = 1 - 2 / (1 + e^(2u)): expf is several times cheaper than tanhf, and the
         * cancellation near 0 costs ~1e-7 absolute, far inside the logits' tolerance */
        float u = k * (x + 0.044715f * x * x * x);
        a[i] = 0.5f * x * (2.0f - 2.0f / (1.0f + expf(2.0f * u)));
    }
}

void op_softmax(float *x, int n) {
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

void op_rope_tables(float *cos_t, float *sin_t, int ctx, int head_dim, float theta) {
    int half = head_dim / 2;
    for (int j = 0; j < half; j++) {
        float inv = 1.0f / powf(theta, (float)(2 * j) / (float)head_dim);
        for (int p = 0; p < ctx; p++) {
            float val = (float)p * inv;
            cos_t[(size_t)p * half + j] = cosf(val);
            sin_t[(size_t)p * half + j] = sinf(val);
        }
    }
}

void op_rope(float *v, int n_heads, int head_dim, const float *c, const float *s, bool interleaved) {
    int half = head_dim / 2;
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
