// GEMV for decode (kernels.h, gemv): private kernel template and per-weight-type launcher.
// Included by gemv_<type>.cu, each of which instantiates one weight type; gemv.cu holds the
// public launcher that checks the problem and dispatches.
//
// Tuned for: one token, memory-bound weight streaming on H100. Each block stages its input
// vector in shared memory as F32 (applying the fused RMSNorm or SwiGLU on the way), then each
// warp computes kRowsPerWarp rows with 16-byte weight loads (8 F16/BF16 or 16 Q8_0 quants per
// lane per row), one load per row in flight per lane, reduced by warp shuffles.
// Dimension letters: R rows (outputs), C cols (inputs).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "kernels.h"

namespace sigmaops::kernels::gemv_impl {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerWarp = 2;
constexpr int kRowsPerBlock = kWarps * kRowsPerWarp;
constexpr int kMaxCols = 40960;  // input staged in shared memory: 160 KB

// Block ranges of the (up to 3) matrices: matrix m owns blocks [first[m], first[m + 1]).
struct Plan {
    GemvParams p;
    int first[4];
    int total_blocks;
    size_t smem;
};

__device__ __forceinline__ float gemv_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// 8 packed 16-bit floats -> F32.
template <DType WT>
__device__ __forceinline__ void unpack8(const uint4& u, float (&f)[8]) {
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        if constexpr (WT == DType::BF16) {
            f[2 * i] = __uint_as_float(w[i] << 16);
            f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        } else {
            __half2 h;
            memcpy(&h, &w[i], 4);
            const float2 t = __half22float2(h);
            f[2 * i] = t.x;
            f[2 * i + 1] = t.y;
        }
    }
}

template <DType WT>
__device__ __forceinline__ float scalar_weight(const void* data, long long i) {
    if constexpr (WT == DType::BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(data)[i]);
    else return __half2float(static_cast<const __half*>(data)[i]);
}

template <DType WT>
__global__ void __launch_bounds__(kThreads) gemv_kernel(const Plan plan) {
    extern __shared__ __align__(16) float xs[];  // (C) the staged input
    __shared__ float part[kWarps];
    const GemvParams& p = plan.p;
    const int cols = int(p.w[0].cols);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    // Stage the input (fused pre-norm or SwiGLU).
    if (p.input == GemvInput::RmsNorm) {
        float ss = 0.0f;
        for (int c = threadIdx.x; c < cols; c += kThreads) ss += p.x[c] * p.x[c];
        ss = gemv_warp_sum(ss);
        if (lane == 0) part[warp] = ss;
        __syncthreads();
        float total = 0.0f;
#pragma unroll
        for (int i = 0; i < kWarps; ++i) total += part[i];
        const float scale = 1.0f / sqrtf(total / float(cols) + p.eps);
        for (int c = threadIdx.x; c < cols; c += kThreads) xs[c] = p.x[c] * scale * p.norm[c];
    } else if (p.input == GemvInput::SwiGLU) {
        for (int c = threadIdx.x; c < cols; c += kThreads) {
            const float g = p.x[c];
            xs[c] = g / (1.0f + expf(-g)) * p.x2[c];
        }
    } else {
        for (int c = threadIdx.x; c < cols; c += kThreads) xs[c] = p.x[c];
    }
    __syncthreads();

    // Which matrix, which rows.
    const int b = blockIdx.x;
    const int m = b < plan.first[1] ? 0 : (b < plan.first[2] ? 1 : 2);
    const DeviceMatrix& W = p.w[m];
    const long long rows = W.rows;
    const long long row0 = (long long)(b - plan.first[m]) * kRowsPerBlock + (long long)warp * kRowsPerWarp;
    if (row0 >= rows) return;
    long long row[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) row[r] = row0 + r < rows ? row0 + r : rows - 1;  // clamp, result dropped
    float acc[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) acc[r] = 0.0f;

    if constexpr (WT == DType::Q8_0) {
        // 16 quants per lane per step; a lane pair shares one block of 32 and its scale.
        const int8_t* qs = static_cast<const int8_t*>(W.data);
        const __half* sc = static_cast<const __half*>(W.scales);
        const int n_blocks = cols / 32;
        for (int c = lane * 16; c < cols; c += 32 * 16) {
            uint4 u[kRowsPerWarp];
            float d[kRowsPerWarp];
#pragma unroll
            for (int r = 0; r < kRowsPerWarp; ++r) {
                u[r] = __ldg(reinterpret_cast<const uint4*>(qs + row[r] * cols + c));
                d[r] = __half2float(sc[row[r] * n_blocks + c / 32]);
            }
            float xv[16];
#pragma unroll
            for (int i = 0; i < 16; i += 4) {
                const float4 t = *reinterpret_cast<const float4*>(&xs[c + i]);
                xv[i] = t.x; xv[i + 1] = t.y; xv[i + 2] = t.z; xv[i + 3] = t.w;
            }
#pragma unroll
            for (int r = 0; r < kRowsPerWarp; ++r) {
                const uint32_t w[4] = {u[r].x, u[r].y, u[r].z, u[r].w};
                float s = 0.0f;
#pragma unroll
                for (int i = 0; i < 4; ++i) {
#pragma unroll
                    for (int k = 0; k < 4; ++k) s += float(int8_t((w[i] >> (8 * k)) & 0xff)) * xv[4 * i + k];
                }
                acc[r] += s * d[r];
            }
        }
    } else {
        if (cols % 8 == 0) {
            for (int c = lane * 8; c < cols; c += 32 * 8) {
                uint4 u[kRowsPerWarp];
#pragma unroll
                for (int r = 0; r < kRowsPerWarp; ++r)
                    u[r] = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(W.data) + row[r] * cols + c));
                const float4 x0 = *reinterpret_cast<const float4*>(&xs[c]);
                const float4 x1 = *reinterpret_cast<const float4*>(&xs[c + 4]);
#pragma unroll
                for (int r = 0; r < kRowsPerWarp; ++r) {
                    float f[8];
                    unpack8<WT>(u[r], f);
                    acc[r] += f[0] * x0.x + f[1] * x0.y + f[2] * x0.z + f[3] * x0.w +
                              f[4] * x1.x + f[5] * x1.y + f[6] * x1.z + f[7] * x1.w;
                }
            }
        } else {  // odd widths (small test models): one element per lane per step
            for (int c = lane; c < cols; c += 32) {
#pragma unroll
                for (int r = 0; r < kRowsPerWarp; ++r) acc[r] += scalar_weight<WT>(W.data, row[r] * cols + c) * xs[c];
            }
        }
    }

#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
        const float v = gemv_warp_sum(acc[r]);
        if (lane == 0 && row0 + r < rows) {
            float* y = p.y[m] + row0 + r;
            if (p.accumulate) *y += v;
            else *y = v + (p.bias[m] ? p.bias[m][row0 + r] : 0.0f);
        }
    }
}

// Launches gemv_kernel<WT> for a checked plan; explicitly instantiated once per gemv_<type>.cu.
template <DType WT>
Status run_gemv(const Plan& plan) {
    if (plan.smem > 48 * 1024) {
        const cudaError_t e =
            cudaFuncSetAttribute(gemv_kernel<WT>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(plan.smem));
        if (e != cudaSuccess) return {std::string("gemv: cudaFuncSetAttribute: ") + cudaGetErrorString(e)};
    }
    gemv_kernel<WT><<<plan.total_blocks, kThreads, plan.smem, static_cast<cudaStream_t>(plan.p.stream)>>>(plan);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return {std::string("gemv: launch failed: ") + cudaGetErrorString(e)};
    return {};
}

#define SIGMAOPS_GEMV_INSTANCE(WT) template Status run_gemv<WT>(const Plan&);

}  // namespace sigmaops::kernels::gemv_impl
