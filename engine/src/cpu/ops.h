// ops.h - the CPU backend's named operations. The CUDA backend implements the same list
// (kernels/kernels.h); a backend lacking one fails loudly at load time, never silently.
// Shapes: T = tokens in the batch; weights are (rows = out, cols = in), see model.h.
#pragma once

#include "cpu/simd.h"
#include "cpu/threadpool.h"
#include "model.h"

#include <vector>

namespace sigma::cpu {

// y (T, W.rows) = x (T, W.cols) @ W^T. For Q8_0 weights x is quantized to Q8 blocks first (in q8buf).
void matmul(ThreadPool& pool, const Tensor& W, const float* x, int64_t T, float* y, std::vector<BlockQ8>& q8buf);
// The same for several matrices sharing the input x, in one parallel region: ys[m] = x @ Ws[m]^T.
void matmul_multi(ThreadPool& pool, int n_mat, const Tensor* const* Ws, const float* x, int64_t T, float* const* ys,
                  std::vector<BlockQ8>& q8buf);
// y (n) = x / sqrt(mean(x^2) + eps) * w
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);
// cs (d_rot) = cos, sin of each rotation pair's angle at position pos: cs[2i] = cos(pos * base^(-2i/d_rot)),
// cs[2i+1] = its sine (computed in double, rounded once). Depends only on the position, so the
// forward pass computes it once per token for all layers and heads.
void rope_angles(int d_rot, int pos, float base, float* cs);
// Rotates the first d_rot dims of each of n_heads heads of size head_dim by the angles cs.
void rope(float* v, int n_heads, int head_dim, int d_rot, const float* cs, RopeStyle style);
// out (D) = dequantized row `id` of the embedding table (V, D)
void embed_row(const Tensor& emb, int64_t id, float* out);
// g (n) = silu(g) * u  (SIMD exp on AVX-512, within 2 ulp of std::exp)
void silu_mul(float* g, const float* u, int64_t n);
// y (n) += b (n)
void add_inplace(float* y, const float* b, int64_t n);

} // namespace sigma::cpu
