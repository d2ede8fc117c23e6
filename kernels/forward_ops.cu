// Small forward-pass operations of the CUDA backend (kernels.h): embed, rmsnorm, rope + KV-cache
// store, silu_mul, add, convert, Q8_0 dequantization, seq_lens, argmax. In prefill, rmsnorm
// and silu_mul also write the next GEMM's F16/BF16 input directly (no separate convert pass). Each is a params
// struct (kernels.h), a launcher that checks the problem, and a kernel. They are cheap next to
// the matrix products and attention; they are written for clarity and exact agreement with the
// CPU backend (engine/src/cpu/ops.cpp), not tuned.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels.h"
#include "pdl.cuh"

namespace sigmaops::kernels {
namespace {

constexpr int kThreads = 256;

Status launched(const char* name) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return {std::string(name) + ": launch failed: " + cudaGetErrorString(e)};
    return {};
}

Status bad(const char* name, const std::string& what) { return {std::string(name) + ": " + what}; }

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

unsigned blocks_for(long long n, int threads = kThreads) {
    return unsigned((n + threads - 1) / threads);
}

// Element c of row r of a device matrix, as F32.
__device__ __forceinline__ float matrix_at(const DeviceMatrix& w, long long r, long long c) {
    switch (w.type) {
        case DType::F16:
            return __half2float(static_cast<const __half*>(w.data)[r * w.cols + c]);
        case DType::BF16:
            return __bfloat162float(static_cast<const __nv_bfloat16*>(w.data)[r * w.cols + c]);
        default: {  // Q8_0
            const int8_t q = static_cast<const int8_t*>(w.data)[r * w.cols + c];
            const float d = __half2float(static_cast<const __half*>(w.scales)[r * (w.cols / 32) + c / 32]);
            return float(q) * d;
        }
    }
}

bool matrix_ok(const DeviceMatrix& w) {
    if (!w.data || w.rows < 1 || w.cols < 1) return false;
    if (w.type == DType::Q8_0) return w.scales && w.cols % 32 == 0;
    return w.type == DType::F16 || w.type == DType::BF16;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// ---- embed ---------------------------------------------------------------------------------

__global__ void embed_kernel(const EmbedParams p) {
    const int t = blockIdx.y;
    const long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= p.table.cols) return;
    const long long id = p.ids[t];
    p.out[t * p.table.cols + c] = matrix_at(p.table, id, c);
}

// x as F16 (saturating at +-65504, so a GEMM input never becomes inf) or BF16, at element i.
__device__ __forceinline__ void store_lp(void* out, DType t, long long i, float x) {
    if (t == DType::F16)
        static_cast<__half*>(out)[i] = __float2half_rn(fminf(fmaxf(x, -65504.0f), 65504.0f));
    else
        static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(x);
}

// ---- rmsnorm -------------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) rmsnorm_kernel(const RmsNormParams p) {
    __shared__ float part[kThreads / 32];
    pdl_launch_dependents();   // no-ops unless launched with PDL (RmsNormParams::pdl)
    pdl_wait();
    const long long r = blockIdx.x;
    const float* x = p.x + r * p.cols;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < p.cols; c += blockDim.x) ss += x[c] * x[c];
    ss = warp_sum(ss);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = ss;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int i = 0; i < kThreads / 32; ++i) total += part[i];
    const float scale = 1.0f / sqrtf(total / float(p.cols) + p.eps);
    float* y = p.out + r * p.cols;
    if (!p.out_lp) {
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) y[c] = x[c] * scale * p.w[c];
        return;
    }
    for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
        const float v = x[c] * scale * p.w[c];
        y[c] = v;
        store_lp(p.out_lp, p.lp_type, r * p.cols + c, v);
    }
}

// ---- rope + KV store -----------------------------------------------------------------------

template <class T>
__device__ __forceinline__ T to_kv(float f);
template <>
__device__ __forceinline__ __half to_kv<__half>(float f) { return __float2half_rn(f); }
template <>
__device__ __forceinline__ __nv_bfloat16 to_kv<__nv_bfloat16>(float f) { return __float2bfloat16_rn(f); }

// cos/sin of pos * base^(-2i/d_rot), in double like cpu::rope.
__device__ __forceinline__ void rope_cs(int pos, int i, int d_rot, float base, float& c, float& s) {
    const double freq = pow(double(base), -2.0 * i / d_rot);
    double sd, cd;
    sincos(double(pos) * freq, &sd, &cd);
    c = float(cd);
    s = float(sd);
}

// One block per token, or for a single token (decode) kRopeSplit blocks that share the work
// (blockIdx.y), so that each thread handles about one element instead of a serial loop of
// dependent loads. Each block computes the position's d_rot/2 (cos, sin) pairs once (in double)
// into shared memory; every head reads them from there. With PDL (RopeParams::pdl) the
// table is computed while the previous kernel finishes: it depends only on pos0, which the host
// copied before the step's first (plainly launched) kernel.
constexpr int kRopeSplit = 8;
template <class T>
__global__ void __launch_bounds__(kThreads) rope_kernel(const RopeParams p) {
    __shared__ float cs_cos[128], cs_sin[128];
    pdl_launch_dependents();
    const int t = blockIdx.x;
    // L2-coherent: read before the PDL wait
    const int pos = p.per_sequence ? __ldcg(p.pos0 + t) : __ldcg(p.pos0) + t;
    // Batched decode: token t writes sequence t's caches.
    const long long k_seq = p.per_sequence ? (long long)t * p.n_k * p.max_ctx * p.d_qk : 0;
    const long long v_seq = p.per_sequence ? (long long)t * p.n_v * p.max_ctx * p.d_v : 0;
    const int half = p.d_rot / 2;
    for (int i = threadIdx.x; i < half; i += blockDim.x) rope_cs(pos, i, p.d_rot, p.base, cs_cos[i], cs_sin[i]);
    pdl_wait();
    __syncthreads();
    const int first = threadIdx.x + blockIdx.y * blockDim.x, stride = blockDim.x * gridDim.y;
    // Q: one thread per rotated pair, in place.
    float* q = p.q + (long long)t * p.n_q * p.d_qk;
    for (int idx = first; idx < p.n_q * half; idx += stride) {
        const int h = idx / half, i = idx % half;
        const float c = cs_cos[i], s = cs_sin[i];
        float* x = q + h * p.d_qk;
        const int a = p.interleaved ? 2 * i : i;
        const int b = p.interleaved ? 2 * i + 1 : i + half;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
    // K: one thread per element, rotated on the way into the cache.
    const float* k = p.k + (long long)t * p.n_k * p.d_qk;
    T* kc = static_cast<T*>(p.k_cache) + k_seq;
    for (int idx = first; idx < p.n_k * p.d_qk; idx += stride) {
        const int h = idx / p.d_qk, d = idx % p.d_qk;
        const float* x = k + h * p.d_qk;
        float out = x[d];
        if (d < p.d_rot) {
            const int i = p.interleaved ? d / 2 : (d < half ? d : d - half);
            const bool first = p.interleaved ? (d % 2 == 0) : (d < half);
            const int partner = p.interleaved ? (first ? d + 1 : d - 1) : (first ? d + half : d - half);
            const float c = cs_cos[i], s = cs_sin[i];
            out = first ? x[d] * c - x[partner] * s : x[partner] * s + x[d] * c;
        }
        kc[((long long)h * p.max_ctx + pos) * p.d_qk + d] = to_kv<T>(out);
    }
    // V: copied.
    const float* v = p.v + (long long)t * p.n_v * p.d_v;
    T* vc = static_cast<T*>(p.v_cache) + v_seq;
    for (int idx = first; idx < p.n_v * p.d_v; idx += stride) {
        const int h = idx / p.d_v, d = idx % p.d_v;
        vc[((long long)h * p.max_ctx + pos) * p.d_v + d] = to_kv<T>(v[idx]);
    }
}

// ---- elementwise ---------------------------------------------------------------------------

__global__ void silu_mul_kernel(const SiluMulParams p) {
    pdl_launch_dependents();
    pdl_wait();
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= p.n) return;
    const float g = p.g[i];
    const float y = g / (1.0f + expf(-g)) * p.u[i];
    if (p.out_lp) store_lp(p.out_lp, p.lp_type, i, y);
    else p.g[i] = y;
}

__global__ void add_kernel(const AddParams p) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)p.rows * p.cols) return;
    p.y[i] += p.b[i % p.cols];
}

__global__ void convert_kernel(const ConvertParams p) {
    pdl_launch_dependents();
    pdl_wait();
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= p.n) return;
    store_lp(p.out, p.out_type, i, p.x[i]);
}

__global__ void dequant_kernel(const DequantParams p) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= p.n_rows * p.w.cols) return;
    const long long r = i / p.w.cols, c = i % p.w.cols;
    static_cast<__half*>(p.out)[i] = __float2half_rn(matrix_at(p.w, p.row0 + r, c));
}

__global__ void seq_lens_kernel(const SeqLensParams p) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < p.n) p.seq_lens[t] = p.per_sequence ? p.pos0[t] + 1 : *p.pos0 + t + 1;
}

// ---- argmax --------------------------------------------------------------------------------

constexpr int kArgmaxThreads = 256;
constexpr int kArgmaxBlocks = 264;

// Orders (value, index) as one unsigned 64-bit key: larger value first, then smaller index.
__device__ __forceinline__ unsigned long long argmax_key(float v, int i) {
    const uint32_t b = __float_as_uint(v);
    const uint32_t ord = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((unsigned long long)ord << 32) | (0xffffffffu - uint32_t(i));
}

// grid (blocks, rows): row blockIdx.y.
__global__ void __launch_bounds__(kArgmaxThreads) argmax_partial_kernel(const ArgmaxParams p) {
    const float* x = p.x + (long long)blockIdx.y * p.n;
    unsigned long long best = 0;   // below every real key
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += gridDim.x * blockDim.x) {
        const float v = x[i];
        if (v == v) best = max(best, argmax_key(v, i));
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, o));
    if (threadIdx.x % 32 == 0 && best != 0) atomicMax(p.scratch + blockIdx.y, best);
}

// One thread per row.
__global__ void argmax_finish_kernel(const ArgmaxParams p) {
    const int r = threadIdx.x;
    if (r >= p.rows) return;
    const unsigned long long k = p.scratch[r];
    p.out[r] = k == 0 ? 0 : int(0xffffffffu - uint32_t(k & 0xffffffffu));
    p.scratch[r] = 0;
}

// ---- fill_random ---------------------------------------------------------------------------

__device__ __forceinline__ float hash_uniform(unsigned long long seed, long long i) {
    unsigned long long z = seed * 0x9E3779B97F4A7C15ull + (unsigned long long)i + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return float(z >> 40) * (2.0f / 16777216.0f) - 1.0f;   // [-1, 1)
}

__global__ void fill_random_kernel(const FillRandomParams p) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += stride) {
        const float u = hash_uniform(p.seed, i);
        const float v = p.offset + p.scale * u;
        switch (p.type) {
            case DType::F32: static_cast<float*>(p.out)[i] = v; break;
            case DType::F16: static_cast<__half*>(p.out)[i] = __float2half_rn(v); break;
            case DType::BF16: static_cast<__nv_bfloat16*>(p.out)[i] = __float2bfloat16_rn(v); break;
            default: static_cast<int8_t*>(p.out)[i] = int8_t(__float2int_rn(127.0f * u)); break;
        }
    }
}

}  // namespace

// ---- launchers -----------------------------------------------------------------------------

Status embed(const EmbedParams& p) {
    if (!matrix_ok(p.table)) return bad("embed", "table must be F16, BF16 or Q8_0 (cols % 32 == 0) with data");
    if (!p.ids || !p.out || p.n < 1 || p.n > 65535) return bad("embed", "need ids, out and 1 <= n <= 65535");
    const dim3 grid(blocks_for(p.table.cols), unsigned(p.n));
    embed_kernel<<<grid, kThreads, 0, as_stream(p.stream)>>>(p);
    return launched("embed");
}

Status rmsnorm(const RmsNormParams& p) {
    if (!p.x || !p.w || !p.out || p.rows < 1 || p.cols < 1) return bad("rmsnorm", "need x, w, out and positive sizes");
    if (p.out_lp && p.lp_type != DType::F16 && p.lp_type != DType::BF16) return bad("rmsnorm", "lp_type must be F16 or BF16");
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg = pdl_launch_config(dim3(unsigned(p.rows)), dim3(kThreads), 0, as_stream(p.stream), p.pdl, attr);
    if (const cudaError_t e = cudaLaunchKernelEx(&cfg, rmsnorm_kernel, p); e != cudaSuccess)
        return bad("rmsnorm", std::string("launch failed: ") + cudaGetErrorString(e));
    return launched("rmsnorm");
}

Status rope(const RopeParams& p) {
    if (!p.pos0 || !p.q || !p.k || !p.v || !p.k_cache || !p.v_cache) return bad("rope", "null pointer");
    if (p.n < 1 || p.n_q < 1 || p.n_k < 1 || p.n_v < 1 || p.d_qk < 1 || p.d_v < 1 || p.max_ctx < 1)
        return bad("rope", "sizes must be positive");
    if (p.d_rot < 0 || p.d_rot > p.d_qk || p.d_rot % 2 != 0 || p.d_rot > 256)
        return bad("rope", "d_rot must be even and <= min(d_qk, 256)");
    if (p.kv_type != DType::F16 && p.kv_type != DType::BF16) return bad("rope", "KV cache must be F16 or BF16");
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg =
        pdl_launch_config(dim3(unsigned(p.n), p.n == 1 || p.per_sequence ? kRopeSplit : 1), dim3(kThreads), 0,
                          as_stream(p.stream), p.pdl, attr);
    const cudaError_t e = p.kv_type == DType::F16 ? cudaLaunchKernelEx(&cfg, rope_kernel<__half>, p)
                                                  : cudaLaunchKernelEx(&cfg, rope_kernel<__nv_bfloat16>, p);
    if (e != cudaSuccess) return bad("rope", std::string("launch failed: ") + cudaGetErrorString(e));
    return launched("rope");
}

Status silu_mul(const SiluMulParams& p) {
    if (!p.g || !p.u || p.n < 1) return bad("silu_mul", "need g, u and n >= 1");
    if (p.out_lp && p.lp_type != DType::F16 && p.lp_type != DType::BF16) return bad("silu_mul", "lp_type must be F16 or BF16");
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg = pdl_launch_config(dim3(blocks_for(p.n)), dim3(kThreads), 0, as_stream(p.stream), p.pdl, attr);
    if (const cudaError_t e = cudaLaunchKernelEx(&cfg, silu_mul_kernel, p); e != cudaSuccess)
        return bad("silu_mul", std::string("launch failed: ") + cudaGetErrorString(e));
    return launched("silu_mul");
}

Status add(const AddParams& p) {
    if (!p.y || !p.b || p.rows < 1 || p.cols < 1) return bad("add", "need y, b and positive sizes");
    add_kernel<<<blocks_for((long long)p.rows * p.cols), kThreads, 0, as_stream(p.stream)>>>(p);
    return launched("add");
}

Status convert(const ConvertParams& p) {
    if (!p.x || !p.out || p.n < 1) return bad("convert", "need x, out and n >= 1");
    if (p.out_type != DType::F16 && p.out_type != DType::BF16) return bad("convert", "out_type must be F16 or BF16");
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg = pdl_launch_config(dim3(blocks_for(p.n)), dim3(kThreads), 0, as_stream(p.stream), p.pdl, attr);
    if (const cudaError_t e = cudaLaunchKernelEx(&cfg, convert_kernel, p); e != cudaSuccess)
        return bad("convert", std::string("launch failed: ") + cudaGetErrorString(e));
    return launched("convert");
}

Status dequant_rows(const DequantParams& p) {
    if (!matrix_ok(p.w) || p.w.type != DType::Q8_0) return bad("dequant_rows", "w must be a Q8_0 matrix");
    if (!p.out || p.row0 < 0 || p.n_rows < 1 || p.row0 + p.n_rows > p.w.rows) return bad("dequant_rows", "bad row range");
    dequant_kernel<<<blocks_for(p.n_rows * p.w.cols), kThreads, 0, as_stream(p.stream)>>>(p);
    return launched("dequant_rows");
}

Status fill_seq_lens(const SeqLensParams& p) {
    if (!p.pos0 || !p.seq_lens || p.n < 1) return bad("fill_seq_lens", "need pos0, seq_lens and n >= 1");
    seq_lens_kernel<<<blocks_for(p.n), kThreads, 0, as_stream(p.stream)>>>(p);
    return launched("fill_seq_lens");
}

Status argmax(const ArgmaxParams& p) {
    if (!p.x || !p.out || !p.scratch || p.n < 1) return bad("argmax", "need x, out, scratch and n >= 1");
    if (p.rows < 1 || p.rows > 1024) return bad("argmax", "rows must be 1..1024");
    const unsigned per_row = std::max(1u, unsigned(kArgmaxBlocks / p.rows));
    const unsigned blocks = std::min<unsigned>(per_row, blocks_for(p.n, kArgmaxThreads));
    argmax_partial_kernel<<<dim3(blocks, unsigned(p.rows)), kArgmaxThreads, 0, as_stream(p.stream)>>>(p);
    if (Status s = launched("argmax"); !s.ok()) return s;
    argmax_finish_kernel<<<1, unsigned((p.rows + 31) / 32 * 32), 0, as_stream(p.stream)>>>(p);
    return launched("argmax");
}

Status fill_random(const FillRandomParams& p) {
    if (!p.out || p.n < 1) return bad("fill_random", "need out and n >= 1");
    const long long blocks = std::min<long long>(blocks_for(p.n), 132LL * 16);
    fill_random_kernel<<<unsigned(blocks), kThreads, 0, as_stream(p.stream)>>>(p);
    return launched("fill_random");
}

}  // namespace sigmaops::kernels
