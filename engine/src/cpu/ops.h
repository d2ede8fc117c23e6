// ops.h - the CPU backend's named operations. The CUDA backend implements the same list
// (kernels/kernels.h); a backend lacking one fails loudly at load time, never silently.
// Shapes: T = tokens in the batch; weights are (rows = out, cols = in), see model.h.
//
// The list, and the names each backend gives an operation (one name where both have it;
// tests/gpu/test_gpu_ops.cpp holds every CUDA op to its CPU twin):
//   op         CPU (sigma::cpu, this file)   CUDA (sigmaops::kernels, kernels.h)
//   embed      embed                         embed
//   rmsnorm    rmsnorm                       rmsnorm (optionally also writes an F16/BF16 copy)
//   matmul     matmul, matmul_multi          gemv (one token, up to 3 matrices, fused pre-norm /
//                                            SwiGLU input, bias / residual epilogue), small_gemm
//                                            (batched decode), cuBLAS (prefill)
//   rope       rope_angles + rope            rope (computes its angles; also stores K and V in
//                                            the cache, which forward.cpp does by hand)
//   silu_mul   silu_mul                      silu_mul
//   add        add (y += b)                  add (y += b on every row: bias or residual)
//   attention  attn_scores, attn_exp,        decode_attention (split-KV, selective V),
//              attn_accumulate (simd.h)      causal_attention (prefill)
//   argmax     in the sampler (sampling.cpp) argmax
// CUDA only (device plumbing): convert, dequant_rows, fill_seq_lens, sample, fill_random.
#pragma once

#include "cpu/simd.h"
#include "cpu/threadpool.h"
#include "model.h"

#include <cstddef>
#include <new>
#include <vector>

namespace sigma::cpu {

// 64-byte aligned storage for vectors that SIMD code loads with aligned loads.
template <class T>
struct AlignedAllocator {
    using value_type = T;
    AlignedAllocator() = default;
    template <class U>
    AlignedAllocator(const AlignedAllocator<U>&) {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
    void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
    template <class U>
    bool operator==(const AlignedAllocator<U>&) const { return true; }
};

// Activation copies a matmul makes for Q8_0 weights (kept between calls to avoid allocations).
struct MatmulScratch {
    std::vector<BlockQ8> q8;                 // SIGMA_Q8_ACTIVATIONS=1: (T, cols/32) Q8 blocks
    std::vector<int16_t, AlignedAllocator<int16_t>> q16;   // (T, cols) 16-bit activations
    std::vector<float> d16;                  // (T, cols/32) their scales
};
// y (T, W.rows) = x (T, W.cols) @ W^T. Q8_0 weights on AVX-512 multiply 16-bit copies of x
// (quantize_q16); elsewhere x stays f32.
void matmul(ThreadPool& pool, const Tensor& W, const float* x, int64_t T, float* y, MatmulScratch& scratch);
// The same for several matrices sharing the input x, in one parallel region: ys[m] = x @ Ws[m]^T.
void matmul_multi(ThreadPool& pool, int n_mat, const Tensor* const* Ws, const float* x, int64_t T, float* const* ys,
                  MatmulScratch& scratch);
// y (n) = x / sqrt(mean(x^2) + eps) * w
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);
// cs (d_rot) = cos, sin of each rotation pair's angle at position pos: cs[2i] = cos(pos * base^(-2i/d_rot)),
// cs[2i+1] = its sine (computed in double, rounded once). Depends only on the position, so the
// forward pass computes it once per token for all layers and heads.
void rope_angles(int d_rot, int pos, float base, float* cs);
// Rotates the first d_rot dims of each of n_heads heads of size head_dim by the angles cs.
void rope(float* v, int n_heads, int head_dim, int d_rot, const float* cs, RopeStyle style);
// out (D) = dequantized row `id` of the embedding table (V, D)
void embed(const Tensor& emb, int64_t id, float* out);
// g (n) = silu(g) * u  (SIMD exp on AVX-512, within 2 ulp of std::exp)
void silu_mul(float* g, const float* u, int64_t n);
// y (n) += b (n)
void add(float* y, const float* b, int64_t n);

} // namespace sigma::cpu
