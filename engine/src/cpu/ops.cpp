#include "cpu/ops.h"

#include "gguf/gguf.h"

#include <sigma/expected.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace sigma::cpu {

using gguf::GgmlType;

void matmul(ThreadPool& pool, const Tensor& W, const float* x, int64_t T, float* y, MatmulScratch& scratch) {
    const Tensor* w[1] = {&W};
    float* out[1] = {y};
    matmul_multi(pool, 1, w, x, T, out, scratch);
}

void matmul_multi(ThreadPool& pool, int n_mat, const Tensor* const* Ws, const float* x, int64_t T, float* const* ys,
                  MatmulScratch& scratch) {
    const int64_t cols = Ws[0]->cols();
    int64_t total = 0;
    int64_t first_row[9] = {0};
    if (n_mat > 8) throw Exception(ErrorCode::Generic, "matmul_multi: at most 8 matrices");
    for (int m = 0; m < n_mat; ++m) {
        if (Ws[m]->cols() != cols) throw Exception(ErrorCode::Generic, "matmul_multi: matrices differ in input width");
        first_row[m] = total;
        total += Ws[m]->rows();
    }
    first_row[n_mat] = total;
    const BlockQ8* xq = nullptr;
    static const bool q8_activations = [] {
        const char* e = std::getenv("SIGMA_Q8_ACTIVATIONS");   // 1: quantize activations to Q8 (faster, less exact)
        return e && e[0] == '1';
    }();
    bool any_q8 = false;
    for (int m = 0; m < n_mat; ++m) any_q8 |= Ws[m]->type == GgmlType::Q8_0;
    const int16_t* x16 = nullptr;
    const float* d16 = nullptr;
    if (any_q8 && q8_activations) {
        const int64_t nb = cols / 32;
        scratch.q8.resize(static_cast<size_t>(T * nb));
        for (int64_t t = 0; t < T; ++t) quantize_q8(x + t * cols, scratch.q8.data() + t * nb, cols);
        xq = scratch.q8.data();
    } else if (any_q8 && have_q16_path()) {
        const int64_t nb = cols / 32;
        scratch.q16.resize(static_cast<size_t>(T * cols));
        scratch.d16.resize(static_cast<size_t>(T * nb));
        for (int64_t t = 0; t < T; ++t) quantize_q16(x + t * cols, scratch.q16.data() + t * cols, scratch.d16.data() + t * nb, cols);
        x16 = scratch.q16.data();
        d16 = scratch.d16.data();
    }
    // The rows of all matrices form one range split across threads (one parallel region for
    // Q, K and V, say). Within a thread, blocks of rows are reused over all tokens, so a weight
    // row is read from memory once per call: decode is bound by exactly that read.
    pool.parallel_for(total, [&](int64_t g0, int64_t g1, int) {
        for (int m = 0; m < n_mat; ++m) {
            const int64_t r0 = std::max(g0, first_row[m]) - first_row[m];
            const int64_t r1 = std::min(g1, first_row[m + 1]) - first_row[m];
            if (r0 >= r1) continue;
            const Tensor& W = *Ws[m];
            const int64_t rows = W.rows();
            const uint64_t stride = W.row_stride();
            constexpr int64_t RB = 16;
            for (int64_t rb = r0; rb < r1; rb += RB) {
                const int64_t re = std::min(r1, rb + RB);
                for (int64_t t = 0; t < T; ++t) {
                    const float* xt = x + t * cols;
                    float* yt = ys[m] + t * rows;
                    int64_t r = rb;
                    // Prefill (T > 1) shares x over four rows; for decode the single-row kernel
                    // streams faster (measured: 4-row decode ran at half the speed).
                    if (W.type == GgmlType::Q8_0 && !xq && T > 1) {
                        if (x16)
                            for (; r + 4 <= re; r += 4)
                                dot4_q8_0_q16(W.data + r * stride, stride, x16 + t * cols, d16 + t * (cols / 32), cols, yt + r);
                        else
                            for (; r + 4 <= re; r += 4) dot4_q8_0_f32(W.data + r * stride, stride, xt, cols, yt + r);
                    }
                    for (; r < re; ++r) {
                        const uint8_t* wr = W.data + r * stride;
                        switch (W.type) {
                        case GgmlType::F32: yt[r] = dot_f32(reinterpret_cast<const float*>(wr), xt, cols); break;
                        case GgmlType::F16: yt[r] = dot_f16(reinterpret_cast<const uint16_t*>(wr), xt, cols); break;
                        case GgmlType::BF16: yt[r] = dot_bf16(reinterpret_cast<const uint16_t*>(wr), xt, cols); break;
                        case GgmlType::Q8_0:
                            yt[r] = x16  ? dot_q8_0_q16(wr, x16 + t * cols, d16 + t * (cols / 32), cols)
                                    : xq ? dot_q8_0(wr, xq + t * (cols / 32), cols)
                                         : dot_q8_0_f32(wr, xt, cols);
                            break;
                        default: throw Exception(ErrorCode::Unsupported, "matmul: unsupported weight type");
                        }
                    }
                }
            }
        }
    }, 64);
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
    const float scale = 1.0f / std::sqrt(float(ss / n) + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void rope_angles(int d_rot, int pos, float base, float* cs) {
    for (int i = 0; i < d_rot / 2; ++i) {
        const double freq = std::pow(double(base), -2.0 * i / d_rot);
        const double ang = pos * freq;
        cs[2 * i] = float(std::cos(ang));
        cs[2 * i + 1] = float(std::sin(ang));
    }
}

void rope(float* v, int n_heads, int head_dim, int d_rot, const float* cs, RopeStyle style) {
    const int half = d_rot / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* x = v + h * head_dim;
        for (int i = 0; i < half; ++i) {
            const float c = cs[2 * i], s = cs[2 * i + 1];
            const int a = style == RopeStyle::RotateHalf ? i : 2 * i;
            const int b = style == RopeStyle::RotateHalf ? i + half : 2 * i + 1;
            const float x0 = x[a], x1 = x[b];
            x[a] = x0 * c - x1 * s;
            x[b] = x0 * s + x1 * c;
        }
    }
}

void embed(const Tensor& emb, int64_t id, float* out) {
    gguf::dequantize_row(emb.type, emb.row(id), out, emb.cols());
}

void silu_mul(float* g, const float* u, int64_t n) {
    const int64_t done = silu_mul_simd(g, u, n);
    for (int64_t i = done; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void add(float* y, const float* b, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += b[i];
}

} // namespace sigma::cpu
