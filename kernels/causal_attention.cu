// Causal attention for a batch of query tokens against the KV cache (kernels.h,
// causal_attention): the simple, correct kernel the CUDA backend uses for prefill, and for
// decode when the head sizes are not ones the split-KV kernel handles (64, 128).
//
// One warp per (token, query head). Keys are processed in chunks of 32: each lane scores one
// key (a full dot product against the query in shared memory), the warp updates the running
// max and sum (online softmax), then every lane accumulates its own slice of the d_v output
// dims over the chunk's 32 V rows (coalesced). Exact softmax in F32; no tensor cores, no tiling
// over query tokens. TODO (docs/architecture.md): FlashAttention-2 style tensor-core prefill.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <string>

#include "kernels.h"

namespace sigmaops::kernels {
namespace {

constexpr int kWarps = 4;        // warps (tasks) per block
constexpr int kMaxHead = 256;    // largest d_qk / d_v
constexpr int kSlots = kMaxHead / 32;

__device__ __forceinline__ float kv_float(const __half x) { return __half2float(x); }
__device__ __forceinline__ float kv_float(const __nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__global__ void __launch_bounds__(kWarps * 32) causal_attention_kernel(const CausalAttentionParams p, const float scale) {
    __shared__ float qs[kWarps][kMaxHead];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const long long task = (long long)blockIdx.x * kWarps + warp;
    if (task >= (long long)p.n * p.n_q) return;  // whole warps only; no block barrier below
    const int t = int(task / p.n_q), h = int(task % p.n_q);
    const int n_keys = *p.pos0 + t + 1;
    const int kh = h / (p.n_q / p.n_k), vh = h / (p.n_q / p.n_v);

    const float* q = p.q + (long long)t * p.n_q * p.d_qk + (long long)h * p.d_qk;
    for (int d = lane; d < p.d_qk; d += 32) qs[warp][d] = q[d];
    __syncwarp();

    const T* K = static_cast<const T*>(p.k_cache) + (long long)kh * p.max_ctx * p.d_qk;
    const T* V = static_cast<const T*>(p.v_cache) + (long long)vh * p.max_ctx * p.d_v;
    float m = -INFINITY, l = 0.0f;
    float o[kSlots];
#pragma unroll
    for (int i = 0; i < kSlots; ++i) o[i] = 0.0f;

    for (int j0 = 0; j0 < n_keys; j0 += 32) {
        const int j = j0 + lane;
        float s = -INFINITY;
        if (j < n_keys) {
            const T* kr = K + (long long)j * p.d_qk;
            float acc = 0.0f;
            for (int d = 0; d < p.d_qk; ++d) acc += qs[warp][d] * kv_float(kr[d]);
            s = acc * scale;
        }
        float cmax = s;
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) cmax = fmaxf(cmax, __shfl_xor_sync(0xffffffffu, cmax, off));
        const float m_new = fmaxf(m, cmax);      // finite: key j0 always exists
        const float pj = j < n_keys ? expf(s - m_new) : 0.0f;
        const float corr = expf(m - m_new);      // 0 on the first chunk
        float psum = pj;
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) psum += __shfl_xor_sync(0xffffffffu, psum, off);
        l = l * corr + psum;
#pragma unroll
        for (int i = 0; i < kSlots; ++i) o[i] *= corr;
        const int nj = min(32, n_keys - j0);
        for (int jj = 0; jj < nj; ++jj) {
            const float pw = __shfl_sync(0xffffffffu, pj, jj);
            const T* vr = V + (long long)(j0 + jj) * p.d_v;
#pragma unroll
            for (int i = 0; i < kSlots; ++i) {
                const int d = lane + 32 * i;
                if (d < p.d_v) o[i] += pw * kv_float(vr[d]);
            }
        }
        m = m_new;
    }
    float* out = p.out + (long long)t * p.n_q * p.d_v + (long long)h * p.d_v;
    const float inv = 1.0f / l;
#pragma unroll
    for (int i = 0; i < kSlots; ++i) {
        const int d = lane + 32 * i;
        if (d < p.d_v) out[d] = o[i] * inv;
    }
}

}  // namespace

Status causal_attention(const CausalAttentionParams& p) {
    const std::string name = "causal_attention: ";
    if (!p.pos0 || !p.q || !p.k_cache || !p.v_cache || !p.out) return {name + "null pointer"};
    if (p.n < 1 || p.n_q < 1 || p.n_k < 1 || p.n_v < 1 || p.max_ctx < 1) return {name + "sizes must be positive"};
    if (p.n_q % p.n_k != 0 || p.n_q % p.n_v != 0) return {name + "n_k and n_v must divide n_q"};
    if (p.d_qk < 1 || p.d_qk > kMaxHead || p.d_v < 1 || p.d_v > kMaxHead)
        return {name + "head sizes d_qk=" + std::to_string(p.d_qk) + " d_v=" + std::to_string(p.d_v) +
                " unsupported (1..256)"};
    const float scale = p.scale != 0.0f ? p.scale : 1.0f / std::sqrt(float(p.d_qk));
    const long long tasks = (long long)p.n * p.n_q;
    const unsigned blocks = unsigned((tasks + kWarps - 1) / kWarps);
    cudaStream_t stream = static_cast<cudaStream_t>(p.stream);
    if (p.kv_type == DType::F16)
        causal_attention_kernel<__half><<<blocks, kWarps * 32, 0, stream>>>(p, scale);
    else if (p.kv_type == DType::BF16)
        causal_attention_kernel<__nv_bfloat16><<<blocks, kWarps * 32, 0, stream>>>(p, scale);
    else
        return {name + "KV cache must be F16 or BF16"};
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return {name + "launch failed: " + cudaGetErrorString(e)};
    return {};
}

}  // namespace sigmaops::kernels
