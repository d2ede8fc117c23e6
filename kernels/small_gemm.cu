// small_gemm (kernels.h): Y (n, rows) = X (n, cols) . W^T for n <= 16 rows of X, the matrix
// products of a batched decode step, on the tensor cores.
//
// Why: with one row per sequence the products are weight-streaming like decode's GEMV, but an
// FMA GEMV needs 8 FMAs per weight at batch 8 and runs out of issue slots and registers, and
// cuBLAS's pick for such skinny shapes stays far from the copy bandwidth (docs/benchmarks.md,
// "Batched decode"). Here one mma.sync m16n8k16 multiplies 16 weight rows by 8 input
// vectors over 16 columns, so the arithmetic is free and each thread can keep many weight loads
// in flight.
//
// Layout: a block of kWarps warps owns 16 rows of W; its warps take the 32-column steps of K in
// turn (warp w: steps w, w + kWarps, ...), kUnroll steps' loads issued before their math. In a
// step, lane (g, t) = (lane / 4, lane % 4) loads 16 bytes of row g and of row g + 8 at columns
// 8t..8t+7 (8 quants and the block's scale for Q8_0, whose 32-column blocks are the steps), and
// the same 8 columns of input vector g (and g + 8 for the second n-tile). Because the sum over K
// does not care about the order of K, the columns are fed to the mma permuted: for the first
// mma, fragment column 2t + e is physical column 8t + e and 2t + 8 + e is 8t + 2 + e; for the
// second, 8t + 4 + e and 8t + 6 + e. A and B take the same permutation, so every fragment
// register is one 32-bit word of a 16-byte load, with no shuffles. The warps' 16 x 8 partial
// tiles are summed in shared memory in a fixed order (deterministic), then written (or added).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "kernels.h"
#include "pdl.cuh"

namespace sigmaops::kernels {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kUnroll = 8;       // steps per warp whose loads are in flight together (a 2048-wide row: all)
constexpr int kMaxN = 16;        // two n-tiles of 8

template <bool kBf16>
__device__ __forceinline__ void mma16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                         uint32_t b1) {
    if constexpr (kBf16)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Two int8 quants (bytes i, i + 1 of a word, each XORed with 0x80 so it reads q + 128) as an
// exact half2: the byte goes into the mantissa of 1024 (0x6400), then 1152 comes off.
__device__ __forceinline__ uint32_t i8x2_to_half2(uint32_t biased, int i) {
    const uint32_t h = __byte_perm(biased, 0x64u, i == 0 ? 0x4140u : 0x4342u);
    __half2 v;
    memcpy(&v, &h, 4);
    v = __hsub2(v, __halves2half2(__ushort_as_half(0x6480), __ushort_as_half(0x6480)));   // 1152
    uint32_t out;
    memcpy(&out, &v, 4);
    return out;
}

// W's type: kQ8 (quants + F16 scales, X F16), else 16-bit weights of X's type (kBf16).
template <bool kQ8, bool kBf16, int kNT>
__global__ void __launch_bounds__(kThreads) small_gemm_kernel(const SmallGemmParams p) {
    __shared__ float red[kWarps][kNT][16][8];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const long long rows = p.w.rows;
    const int cols = int(p.w.cols), steps = cols / 32;
    const long long row0 = (long long)blockIdx.x * 16;
    const long long ra = min(row0 + g, rows - 1), rb = min(row0 + g + 8, rows - 1);   // clamped for loading
    const uint16_t* x = static_cast<const uint16_t*>(p.x);

    // PDL: the first round's weights (immutable) go to the L2 while the previous kernel ends.
    pdl_launch_dependents();
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
        const int s = warp + u * kWarps;
        if (s >= steps) break;
        const int c = s * 32 + t * 8;
        const size_t esize = kQ8 ? 1 : 2;
        const char* base = static_cast<const char*>(p.w.data);
        asm volatile("prefetch.global.L2 [%0];" ::"l"(base + (ra * cols + c) * esize));
        asm volatile("prefetch.global.L2 [%0];" ::"l"(base + (rb * cols + c) * esize));
    }
    pdl_wait();

    float acc[kNT][4];
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[nt][i] = 0.0f;

    for (int s0 = warp; s0 < steps; s0 += kWarps * kUnroll) {
        uint4 wa[kUnroll], wb[kUnroll];        // 16-bit weights of rows g, g + 8
        uint2 qa[kUnroll], qb[kUnroll];        // Q8_0 quants of rows g, g + 8
        float da[kUnroll], db[kUnroll];        // Q8_0 scales
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
            const int s = s0 + u * kWarps;
            if (s >= steps) break;
            const int c = s * 32 + t * 8;
            if constexpr (kQ8) {
                const int8_t* qs = static_cast<const int8_t*>(p.w.data);
                const __half* sc = static_cast<const __half*>(p.w.scales);
                qa[u] = __ldg(reinterpret_cast<const uint2*>(qs + ra * cols + c));
                qb[u] = __ldg(reinterpret_cast<const uint2*>(qs + rb * cols + c));
                da[u] = __half2float(sc[ra * steps + s]);
                db[u] = __half2float(sc[rb * steps + s]);
            } else {
                const uint16_t* w = static_cast<const uint16_t*>(p.w.data);
                wa[u] = __ldg(reinterpret_cast<const uint4*>(w + ra * cols + c));
                wb[u] = __ldg(reinterpret_cast<const uint4*>(w + rb * cols + c));
            }
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
            const int s = s0 + u * kWarps;
            if (s >= steps) break;
            const int c = s * 32 + t * 8;
            uint32_t a[4], b[4];   // row g / row g + 8: words 0..3 = columns 8t + {0,1}, {2,3}, {4,5}, {6,7}
            if constexpr (kQ8) {
                const uint32_t la = qa[u].x ^ 0x80808080u, ha = qa[u].y ^ 0x80808080u;
                const uint32_t lb = qb[u].x ^ 0x80808080u, hb = qb[u].y ^ 0x80808080u;
                a[0] = i8x2_to_half2(la, 0); a[1] = i8x2_to_half2(la, 1); a[2] = i8x2_to_half2(ha, 0); a[3] = i8x2_to_half2(ha, 1);
                b[0] = i8x2_to_half2(lb, 0); b[1] = i8x2_to_half2(lb, 1); b[2] = i8x2_to_half2(hb, 0); b[3] = i8x2_to_half2(hb, 1);
            } else {
                a[0] = wa[u].x; a[1] = wa[u].y; a[2] = wa[u].z; a[3] = wa[u].w;
                b[0] = wb[u].x; b[1] = wb[u].y; b[2] = wb[u].z; b[3] = wb[u].w;
            }
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt) {
                const int n = nt * 8 + g;
                const uint4 xv = n < p.n ? __ldg(reinterpret_cast<const uint4*>(x + (long long)n * cols + c)) : make_uint4(0, 0, 0, 0);
                if constexpr (kQ8) {
                    // The step is one Q8_0 block: integer products, then each row's scale.
                    float st[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                    mma16816<false>(st, a[0], b[0], a[1], b[1], xv.x, xv.y);
                    mma16816<false>(st, a[2], b[2], a[3], b[3], xv.z, xv.w);
                    acc[nt][0] += da[u] * st[0];
                    acc[nt][1] += da[u] * st[1];
                    acc[nt][2] += db[u] * st[2];
                    acc[nt][3] += db[u] * st[3];
                } else {
                    mma16816<kBf16>(acc[nt], a[0], b[0], a[1], b[1], xv.x, xv.y);
                    mma16816<kBf16>(acc[nt], a[2], b[2], a[3], b[3], xv.z, xv.w);
                }
            }
        }
    }

    // C fragment: acc[nt][0..1] = (row g, vectors 2t, 2t + 1), acc[nt][2..3] = (row g + 8, same).
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
        red[warp][nt][g][2 * t] = acc[nt][0];
        red[warp][nt][g][2 * t + 1] = acc[nt][1];
        red[warp][nt][g + 8][2 * t] = acc[nt][2];
        red[warp][nt][g + 8][2 * t + 1] = acc[nt][3];
    }
    __syncthreads();
    for (int o = threadIdx.x; o < kNT * 128; o += kThreads) {
        const int nt = o / 128, r = (o / 8) % 16, v = o % 8, n = nt * 8 + v;
        if (n >= p.n || row0 + r >= rows) continue;
        float s = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) s += red[w][nt][r][v];
        float* y = p.y + (long long)n * rows + row0 + r;
        if (p.accumulate) *y += s;
        else *y = s;
    }
}

template <bool kQ8, bool kBf16>
cudaError_t launch(const SmallGemmParams& p, dim3 grid, cudaStream_t stream) {
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg = pdl_launch_config(grid, dim3(kThreads), 0, stream, p.pdl, attr);
    const cudaError_t e = p.n > 8 ? cudaLaunchKernelEx(&cfg, small_gemm_kernel<kQ8, kBf16, 2>, p)
                                  : cudaLaunchKernelEx(&cfg, small_gemm_kernel<kQ8, kBf16, 1>, p);
    return e != cudaSuccess ? e : cudaGetLastError();
}

}  // namespace

Status small_gemm(const SmallGemmParams& p) {
    const std::string name = "small_gemm: ";
    const DeviceMatrix& w = p.w;
    if (!w.data || w.rows < 1 || w.cols < 32 || w.cols % 32 != 0 || w.cols > (1 << 24))
        return {name + "W needs data, rows >= 1 and cols a positive multiple of 32"};
    if (w.type != DType::F16 && w.type != DType::BF16 && w.type != DType::Q8_0)
        return {name + "W must be F16, BF16 or Q8_0"};
    if (w.type == DType::Q8_0 && !w.scales) return {name + "Q8_0 W needs scales"};
    const DType want = w.type == DType::BF16 ? DType::BF16 : DType::F16;
    if (p.x_type != want) return {name + "X must be BF16 for BF16 weights, else F16"};
    if (!p.x || !p.y || p.n < 1 || p.n > kMaxN) return {name + "need x, y and 1 <= n <= 16"};
    if ((reinterpret_cast<uintptr_t>(p.x) & 15) != 0 || (reinterpret_cast<uintptr_t>(w.data) & 15) != 0)
        return {name + "x and W's data must be 16-byte aligned"};
    if (w.rows > (long long)65535 * 16 * 1024) return {name + "too many rows"};
    const dim3 grid(unsigned((w.rows + 15) / 16));
    const cudaStream_t stream = static_cast<cudaStream_t>(p.stream);
    cudaError_t e;
    if (w.type == DType::Q8_0) e = launch<true, false>(p, grid, stream);
    else if (w.type == DType::BF16) e = launch<false, true>(p, grid, stream);
    else e = launch<false, false>(p, grid, stream);
    if (e != cudaSuccess) return {name + "launch failed: " + cudaGetErrorString(e)};
    return {};
}

}  // namespace sigmaops::kernels
