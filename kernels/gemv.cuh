// GEMV for decode (kernels.h, gemv): private kernel template and per-weight-type launcher.
// Included by gemv_<type>.cu, each of which instantiates one weight type; gemv.cu holds the
// public launcher that checks the problem and dispatches.
//
// Tuned for: one token, memory-bound weight streaming on H100 (~3 TB/s). A block of kThreads threads
// computes kRows rows together: per step every thread loads one 16-byte chunk of each of the
// kRows rows (8 F16/BF16 weights; 8 Q8_0 quants as 8 bytes), so kRows independent loads are in
// flight per thread and a 2048-wide row is one step for the whole block. The input chunk is read
// straight from global memory (L1/L2-resident) and transformed on the fly (fused RMSNorm: the
// block first reduces the sum of squares; fused SwiGLU: silu(g) * u), so there is no staging
// barrier. Partial sums are reduced by warp shuffles, then across the 8 warps in shared memory.
// (The first version staged the input in shared memory and gave each warp 2 rows: the
// 2048-row matrices ran on one block per SM at 0.9 TB/s; see docs/benchmarks.md.)
// Dimension letters: R rows (outputs), C cols (inputs).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "kernels.h"
#include "pdl.cuh"
#include "static_switch.h"

namespace sigmaops::kernels::gemv_impl {

constexpr int kMaxCols = 40960;

// Block shapes (rows per block, threads per block) the launcher can pick; variant 0 is the
// default, the others are kept for tuning (SIGMA_GEMV_VARIANT=i, see gemv.cu and bench_forward).
// pipelined: the next step's weights are requested before this step's math (double-buffered
// registers; only matters when cols > 8 * threads).
// min_blocks: __launch_bounds__'s minimum resident blocks per SM (caps registers).
// scatter: the warps' partial sums are combined by a reduce-scatter (warp_reduce_scatter: 9
// shuffles for 8 rows) instead of one 5-shuffle tree per row (40); shape 7 is the default without
// it, kept to measure the difference.
struct Shape { int rows, threads; bool pipelined; int min_blocks; bool scatter; };
constexpr Shape kShapes[] = {{8, 256, false, 3, true}, {8, 256, true, 1, true},   {4, 256, false, 1, true},
                             {16, 256, false, 1, true}, {8, 128, true, 1, true},  {4, 128, true, 1, true},
                             {16, 128, false, 1, true}, {8, 256, false, 3, false}};
constexpr int kNumShapes = int(sizeof(kShapes) / sizeof(kShapes[0]));
static_assert(kNumShapes == kGemvShapes, "kernels.h kGemvShapes");

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

// Warp sums of N values per lane (N a power of two) by recursive halving: at each offset a lane
// keeps half of its live values, sends the other half to its partner and adds what it receives
// (N - 1 shuffles in all for N <= 32, N - N/32 beyond, instead of 5 per value). Afterwards:
// N >= 32: a[j] (j < N/32) holds the warp sum of value lane * (N/32) + j;
// N < 32: a[0] holds the warp sum of value lane / (32/N) (the same in the 32/N lanes sharing it).
template <int N, int O = 16>
__device__ __forceinline__ void warp_reduce_scatter(float (&a)[N], int lane) {
    if constexpr (O > 0) {
        constexpr int live = N * O >= 16 ? N * O / 16 : 1;
        if constexpr (live >= 2) {
            constexpr int half = live / 2;
            const bool upper = (lane & O) != 0;
#pragma unroll
            for (int i = 0; i < half; ++i) {
                const float send = upper ? a[i] : a[i + half];
                const float keep = upper ? a[i + half] : a[i];
                a[i] = keep + __shfl_xor_sync(0xffffffffu, send, O);
            }
        } else {
            a[0] += __shfl_xor_sync(0xffffffffu, a[0], O);
        }
        warp_reduce_scatter<N, O / 2>(a, lane);
    }
}

// The block's matrix (m, W) and rows: blocks [first[m], first[m + 1]) belong to matrix m, kRows
// rows each; rows past the end are clamped for loading (row[]) and dropped on the way out.
template <int kRows>
struct BlockRows {
    int m;
    const DeviceMatrix* W;
    long long rows, row0, row[kRows];
    __device__ __forceinline__ BlockRows(const Plan& plan, int b) {
        m = b < plan.first[1] ? 0 : (b < plan.first[2] ? 1 : 2);
        W = &plan.p.w[m];
        rows = W->rows;
        row0 = (long long)(b - plan.first[m]) * kRows;
#pragma unroll
        for (int r = 0; r < kRows; ++r) row[r] = row0 + r < rows ? row0 + r : rows - 1;
    }
};

// Byte k of a word of int8 quants, each XORed with 0x80 (so the byte is q + 128), as an exact
// F32: the byte goes into the mantissa of 2^23 (one byte permute) and 2^23 + 128 comes off (one
// add). Two full-rate instructions instead of a quarter-rate int-to-float conversion, which made
// the Q8_0 GEMV instruction-bound.
__device__ __forceinline__ float i8_to_float(uint32_t biased, int k) {
    return __uint_as_float(__byte_perm(biased, 0x4B000000u, 0x7540u | unsigned(k))) - 8388736.0f;
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
__device__ __forceinline__ float scalar_weight(const DeviceMatrix& W, long long r, long long c) {
    if constexpr (WT == DType::BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(W.data)[r * W.cols + c]);
    else if constexpr (WT == DType::F16) return __half2float(static_cast<const __half*>(W.data)[r * W.cols + c]);
    else
        return float(static_cast<const int8_t*>(W.data)[r * W.cols + c]) *
               __half2float(static_cast<const __half*>(W.scales)[r * (W.cols / 32) + c / 32]);
}

// Input element c as the GEMV consumes it; `off` selects the input vector of a batch (v * cols).
__device__ __forceinline__ float input_at(const GemvParams& p, float scale, int c, long long off = 0) {
    if (p.input == GemvInput::RmsNorm) return p.x[off + c] * scale * p.norm[c];
    if (p.input == GemvInput::SwiGLU) {
        const float g = p.x[off + c];
        return g / (1.0f + expf(-g)) * p.x2[off + c];
    }
    return p.x[off + c];
}

// Input elements c..c+7 (c % 8 == 0, 16-byte aligned rows) of the vector at `off`.
__device__ __forceinline__ void input8(const GemvParams& p, float scale, int c, float (&x)[8], long long off = 0) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(p.x + off + c));
    const float4 b = __ldg(reinterpret_cast<const float4*>(p.x + off + c + 4));
    x[0] = a.x; x[1] = a.y; x[2] = a.z; x[3] = a.w; x[4] = b.x; x[5] = b.y; x[6] = b.z; x[7] = b.w;
    if (p.input == GemvInput::RmsNorm) {
        const float4 na = __ldg(reinterpret_cast<const float4*>(p.norm + c));
        const float4 nb = __ldg(reinterpret_cast<const float4*>(p.norm + c + 4));
        const float n[8] = {na.x, na.y, na.z, na.w, nb.x, nb.y, nb.z, nb.w};
#pragma unroll
        for (int i = 0; i < 8; ++i) x[i] = x[i] * scale * n[i];
    } else if (p.input == GemvInput::SwiGLU) {
        const float4 ua = __ldg(reinterpret_cast<const float4*>(p.x2 + off + c));
        const float4 ub = __ldg(reinterpret_cast<const float4*>(p.x2 + off + c + 4));
        const float u[8] = {ua.x, ua.y, ua.z, ua.w, ub.x, ub.y, ub.z, ub.w};
#pragma unroll
        for (int i = 0; i < 8; ++i) x[i] = x[i] / (1.0f + expf(-x[i])) * u[i];
    }
}

// One step's weights of the block's kRows rows at columns c..c+7: 16 bytes per row for F16/BF16
// (u), 8 quants and their scale for Q8_0 (q, d).
template <DType WT, int kRows>
__device__ __forceinline__ void load_step(const DeviceMatrix& W, const long long (&row)[kRows], int cols, int c,
                                          uint4 (&u)[kRows], uint2 (&q)[kRows], float (&d)[kRows]) {
    if constexpr (WT == DType::Q8_0) {
        const int8_t* qs = static_cast<const int8_t*>(W.data);
        const __half* sc = static_cast<const __half*>(W.scales);
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
            q[r] = __ldg(reinterpret_cast<const uint2*>(qs + row[r] * cols + c));
            d[r] = __half2float(sc[row[r] * (cols / 32) + c / 32]);
        }
    } else {
#pragma unroll
        for (int r = 0; r < kRows; ++r)
            u[r] = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(W.data) + row[r] * cols + c));
    }
}

template <DType WT, int kRows, int kThreads, bool kPipelined, int kMinBlocks, bool kScatter>
__global__ void __launch_bounds__(kThreads, kMinBlocks) gemv_kernel(const Plan plan) {
    constexpr int kWarps = kThreads / 32;
    constexpr int kStep = kThreads * 8;   // columns per step of the whole block
    __shared__ float part[kRows][kWarps];
    __shared__ float s_scale;
    const GemvParams& p = plan.p;
    const int cols = int(p.w[0].cols);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    // Which matrix, which rows.
    const BlockRows<kRows> br(plan, blockIdx.x);
    const int m = br.m;
    const DeviceMatrix& W = *br.W;
    const long long rows = br.rows, row0 = br.row0;
    const long long(&row)[kRows] = br.row;

    pdl_launch_dependents();
    // The first step's weights do not depend on the previous kernel: with PDL they stream in
    // while it finishes. Everything after pdl_wait() may read its outputs.
    const int c0 = threadIdx.x * 8;
    const bool vec = cols % 8 == 0;
    uint4 u[kRows];     // F16/BF16: 8 weights of each row
    uint2 q[kRows];     // Q8_0: 8 quants of each row
    float d[kRows];     // Q8_0: their scales
    if (vec && c0 < cols) load_step<WT, kRows>(W, row, cols, c0, u, q, d);
    pdl_wait();

    // Fused pre-norm: 1 / sqrt(mean(x^2) + eps) over the whole input.
    float scale = 1.0f;
    if (p.input == GemvInput::RmsNorm) {
        float ss = 0.0f;
        for (int c = threadIdx.x; c < cols; c += kThreads) ss += p.x[c] * p.x[c];
        ss = gemv_warp_sum(ss);
        if (lane == 0) part[0][warp] = ss;
        __syncthreads();
        if (threadIdx.x == 0) {
            float total = 0.0f;
#pragma unroll
            for (int i = 0; i < kWarps; ++i) total += part[0][i];
            s_scale = 1.0f / sqrtf(total / float(cols) + p.eps);
        }
        __syncthreads();
        scale = s_scale;
    }

    float acc[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;

    if (vec) {
        // Software pipeline: the next step's weights are requested before this step's math.
        for (int c = c0; c < cols; c += kStep) {
            uint4 un[kRows];
            uint2 qn[kRows];
            float dn[kRows];
            const bool more = kPipelined && c + kStep < cols;
            if (!kPipelined && c != c0) load_step<WT, kRows>(W, row, cols, c, u, q, d);
            if (more) load_step<WT, kRows>(W, row, cols, c + kStep, un, qn, dn);
            float x[8];
            input8(p, scale, c, x);
            if constexpr (WT == DType::Q8_0) {
#pragma unroll
                for (int r = 0; r < kRows; ++r) {
                    const uint32_t lo = q[r].x ^ 0x80808080u, hi = q[r].y ^ 0x80808080u;
                    float s = 0.0f;
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        s += i8_to_float(lo, k) * x[k];
                        s += i8_to_float(hi, k) * x[4 + k];
                    }
                    acc[r] += s * d[r];
                }
            } else {
#pragma unroll
                for (int r = 0; r < kRows; ++r) {
                    float f[8];
                    unpack8<WT>(u[r], f);
                    float s = 0.0f;
#pragma unroll
                    for (int i = 0; i < 8; ++i) s += f[i] * x[i];
                    acc[r] += s;
                }
            }
            if (more) {
#pragma unroll
                for (int r = 0; r < kRows; ++r) { u[r] = un[r]; q[r] = qn[r]; d[r] = dn[r]; }
            }
        }
    } else {  // odd widths (small test models): one element per thread per step
        for (int c = threadIdx.x; c < cols; c += kThreads) {
            const float xv = input_at(p, scale, c);
#pragma unroll
            for (int r = 0; r < kRows; ++r) acc[r] += scalar_weight<WT>(W, row[r], c) * xv;
        }
    }

    __syncthreads();   // part[0] was used by the norm reduction
    if constexpr (kScatter) {
        warp_reduce_scatter<kRows>(acc, lane);
        constexpr int kLanesPerRow = 32 / kRows;
        if (lane % kLanesPerRow == 0) part[lane / kLanesPerRow][warp] = acc[0];
    } else {
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
            const float v = gemv_warp_sum(acc[r]);
            if (lane == 0) part[r][warp] = v;
        }
    }
    __syncthreads();
    if (threadIdx.x < kRows && row0 + threadIdx.x < rows) {
        const int r = threadIdx.x;
        float v = 0.0f;
#pragma unroll
        for (int i = 0; i < kWarps; ++i) v += part[r][i];
        float* y = p.y[m] + row0 + r;
        if (p.accumulate) *y += v;
        else *y = v + (p.bias[m] ? p.bias[m][row0 + r] : 0.0f);
    }
}

// Batched decode (GemvParams::batch > 1): every weight is read once and multiplied with up to
// kGemvMaxBatch input vectors, which the caller has already normalized (Plain input only: a
// fused RMSNorm or SwiGLU would be recomputed by every block for every vector, several times the
// weight bytes in L1/L2 traffic). kRows rows per block of kBatchThreads threads; per step a thread
// loads one 16-byte chunk of each row, unpacks it to F32 once, then walks the batch: it reads that
// vector's 8 inputs (L1-resident: every block of the SM reads the same x) and accumulates into
// acc[row][vector]. kRows 4 (shape 0) or 8 (shape 1): more rows reuse each input load more often
// but hold more registers (fewer blocks per SM).
constexpr int kBatchThreads = 256;
constexpr int kBatchRowsFor[2] = {4, 8};

template <DType WT, int kRows>
__global__ void __launch_bounds__(kBatchThreads, kRows == 4 ? 2 : 1) gemv_batch_kernel(const Plan plan) {
    constexpr int kB = kGemvMaxBatch, kWarps = kBatchThreads / 32, kStep = kBatchThreads * 8;
    __shared__ float part[kRows][kB][kWarps];
    const GemvParams& p = plan.p;
    const int cols = int(p.w[0].cols), nb = p.batch;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    // Which matrix, which rows.
    const BlockRows<kRows> br(plan, blockIdx.x);
    const int m = br.m;
    const DeviceMatrix& W = *br.W;
    const long long rows = br.rows, row0 = br.row0;
    const long long(&row)[kRows] = br.row;

    pdl_launch_dependents();
    const int c0 = threadIdx.x * 8;
    const bool vec = cols % 8 == 0;
    uint4 u[kRows];
    uint2 q[kRows];
    float d[kRows];
    if (vec && c0 < cols) load_step<WT, kRows>(W, row, cols, c0, u, q, d);
    pdl_wait();

    float acc[kRows][kB];
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int v = 0; v < kB; ++v) acc[r][v] = 0.0f;

    if (vec) {
        for (int c = c0; c < cols; c += kStep) {
            if (c != c0) load_step<WT, kRows>(W, row, cols, c, u, q, d);
            float f[kRows][8];
#pragma unroll
            for (int r = 0; r < kRows; ++r) {
                if constexpr (WT == DType::Q8_0) {
                    const uint32_t lo = q[r].x ^ 0x80808080u, hi = q[r].y ^ 0x80808080u;
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        f[r][k] = i8_to_float(lo, k) * d[r];
                        f[r][4 + k] = i8_to_float(hi, k) * d[r];
                    }
                } else {
                    unpack8<WT>(u[r], f[r]);
                }
            }
#pragma unroll
            for (int v = 0; v < kB; ++v) {
                if (v >= nb) break;
                float x[8];
                input8(p, 1.0f, c, x, (long long)v * cols);
#pragma unroll
                for (int r = 0; r < kRows; ++r) {
                    float s = 0.0f;
#pragma unroll
                    for (int i = 0; i < 8; ++i) s += f[r][i] * x[i];
                    acc[r][v] += s;
                }
            }
        }
    } else {  // odd widths (small test models)
        for (int c = threadIdx.x; c < cols; c += kBatchThreads) {
#pragma unroll
            for (int v = 0; v < kB; ++v) {
                if (v >= nb) break;
                const float xv = p.x[(long long)v * cols + c];
#pragma unroll
                for (int r = 0; r < kRows; ++r) acc[r][v] += scalar_weight<WT>(W, row[r], c) * xv;
            }
        }
    }

    // Warp sums of the kRows * kB accumulators by a reduce-scatter: value i = r * kB + v.
    constexpr int kN = kRows * kB, kPerLane = kN / 32;
    static_assert(kN % 32 == 0, "the reduce-scatter leaves kN / 32 values per lane");
    float flat[kN];
#pragma unroll
    for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int v = 0; v < kB; ++v) flat[r * kB + v] = acc[r][v];
    warp_reduce_scatter<kN>(flat, lane);
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
        const int i = lane * kPerLane + j;
        part[i / kB][i % kB][warp] = flat[j];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < kRows * kB; i += kBatchThreads) {
        const int r = i % kRows, v = i / kRows;
        if (v >= nb || row0 + r >= rows) continue;
        float t = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) t += part[r][v][w];
        float* y = p.y[m] + (long long)v * rows + row0 + r;
        if (p.accumulate) *y += t;
        else *y = t + (p.bias[m] ? p.bias[m][row0 + r] : 0.0f);
    }
}

// Launches gemv_kernel<WT, shape> for a checked plan (planned with that shape's rows per block);
// explicitly instantiated once per gemv_<type>.cu.
template <DType WT>
Status run_gemv(const Plan& plan, int shape) {
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg = pdl_launch_config(dim3(unsigned(plan.total_blocks)), dim3(unsigned(kShapes[shape].threads)), 0,
                                               static_cast<cudaStream_t>(plan.p.stream), plan.p.pdl, attr);
    cudaError_t e = cudaErrorInvalidValue;
    if (plan.p.batch > 1) {
        cfg.blockDim = dim3(unsigned(kBatchThreads));
        e = static_switch<0, 1>(shape, [&](auto s) {
            return cudaLaunchKernelEx(&cfg, gemv_batch_kernel<WT, kBatchRowsFor[decltype(s)::value]>, plan);
        });
        if (e == cudaSuccess) e = cudaGetLastError();
        if (e != cudaSuccess) return {std::string("gemv: launch failed: ") + cudaGetErrorString(e)};
        return {};
    }
    // shape < kNumShapes (checked by gemv())
    e = static_switch_below<kNumShapes>(shape, [&](auto s) {
        constexpr Shape S = kShapes[decltype(s)::value];
        return cudaLaunchKernelEx(&cfg, gemv_kernel<WT, S.rows, S.threads, S.pipelined, S.min_blocks, S.scatter>, plan);
    });
    if (e == cudaSuccess) e = cudaGetLastError();
    if (e != cudaSuccess) return {std::string("gemv: launch failed: ") + cudaGetErrorString(e)};
    return {};
}

#define SIGMAOPS_GEMV_INSTANCE(WT) template Status run_gemv<WT>(const Plan&, int);

}  // namespace sigmaops::kernels::gemv_impl
