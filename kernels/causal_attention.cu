// Causal attention for a batch of query tokens against the KV cache (kernels.h, causal_attention):
// prefill (the whole prompt, or a chunk of it continuing after an existing cache), and decode
// for head sizes the split-KV decode kernel does not handle.
//
// Two kernels behind one launcher:
//  * flash: FlashAttention-2 style on tensor cores (mma.sync m16n8k16, F32 accumulate) for
//    d_qk, d_v in {64, 128}. A block takes 64 query tokens of one query head (4 warps x 16 rows);
//    each warp keeps its Q rows in registers (converted from F32 to the cache's type) and
//    walks the key tiles 0..last: 64-key K and V tiles come through cp.async into a double
//    buffer in shared memory (16-byte chunks XOR-swizzled by row so ldmatrix is conflict-free),
//    S = Q K^T by mma, causal mask only on the tiles that reach past the block's first query
//    position, online softmax in F32 (exp2, per-thread partial row sums reduced once at the
//    end), P is re-packed from the S accumulators into A fragments (no shared memory) and
//    O += P V with ldmatrix.trans for V. Blocks are issued longest-first (last query tiles
//    first) so the causal triangle does not leave a tail of long blocks.
//  * simple: one warp per (token, query head), online softmax over chunks of 32 keys, F32 CUDA
//    cores; any d_qk, d_v <= 256. The reference the flash kernel is tested next to.
// Any DiffQKV head layout with contiguous groups: query head h reads K head h / (n_q/n_k) and
// V head h / (n_q/n_v).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "cp_async.cuh"
#include "kernels.h"
#include "static_switch.h"

namespace sigmaops::kernels {
namespace {

// ==== simple kernel ==========================================================================

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

// ==== flash kernel ===========================================================================

constexpr int kFlashM = 64;              // query tokens per block (16 per warp)
constexpr int kFlashN = 64;              // keys per tile
constexpr int kFlashWarps = 4;
constexpr int kFlashThreads = kFlashWarps * 32;

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

// c (16x8 F32) += a (16x16) . b (16x8), operands of type T (F16 or BF16).
template <class T>
__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__half>(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as one 32-bit register of two T (lo = a).
template <class T>
__device__ __forceinline__ uint32_t pack2(float a, float b);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
    const __half2 h = __floats2half2_rn(a, b);
    return *reinterpret_cast<const uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<const uint32_t*>(&h);
}

// Element offset of 16-byte chunk `c` of row `r` in a tile of rows of D elements (swizzled).
template <int D>
__device__ __forceinline__ int swz(int r, int c) {
    return r * D + ((c ^ (r & 7)) << 3);
}

// Copies rows [row0, row0 + kFlashN) of one head's cache (rows of D elements) into a swizzled
// shared tile; rows at or beyond `limit` become zeros (never read from global memory).
template <int D, class T>
__device__ __forceinline__ void load_tile(T* tile, const T* head, int row0, int limit) {
    constexpr int kChunks = D / 8;
#pragma unroll
    for (int i = threadIdx.x; i < kFlashN * kChunks; i += kFlashThreads) {
        const int r = i / kChunks, c = i % kChunks;
        const int row = row0 + r;
        const bool ok = row < limit;
        const T* src = head + (ok ? (long long)row * D + c * 8 : 0);
        cp_async16(smem_u32(tile + swz<D>(r, c)), src, ok ? 16 : 0);
    }
}

template <int DQK, int DV, class T>
__global__ void __launch_bounds__(kFlashThreads) flash_attention_kernel(const CausalAttentionParams p, const float scale_log2) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* sk = reinterpret_cast<T*>(smem_raw);              // [2][kFlashN][DQK]
    T* sv = sk + 2 * kFlashN * DQK;                       // [2][kFlashN][DV]

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, tq = lane % 4;                // mma fragment row group / thread in quad
    const int q_tile = gridDim.x - 1 - blockIdx.x;        // longest (last) query tiles first
    const int h = blockIdx.y;
    const int kh = h / (p.n_q / p.n_k), vh = h / (p.n_q / p.n_v);
    const int pos0 = *p.pos0;
    const int t0 = q_tile * kFlashM;                      // first query token of the block
    const int key_end = pos0 + min(t0 + kFlashM, p.n);    // keys [0, key_end) are read
    const int n_tiles = (key_end + kFlashN - 1) / kFlashN;
    const int first_masked = (pos0 + t0) / kFlashN;       // tiles from here on reach past a query

    const T* K = static_cast<const T*>(p.k_cache) + (long long)kh * p.max_ctx * DQK;
    const T* V = static_cast<const T*>(p.v_cache) + (long long)vh * p.max_ctx * DV;

    load_tile<DQK>(sk, K, 0, key_end);
    load_tile<DV>(sv, V, 0, key_end);
    cp_async_commit();

    // Q fragments (A operand, 16 rows x DQK) of this warp, from F32 global memory.
    const int row_a = t0 + warp * 16 + g, row_b = row_a + 8;   // this thread's two query tokens
    uint32_t qf[DQK / 16][4];
    {
        const long long stride = (long long)p.n_q * DQK;
        const float* qa = p.q + (long long)row_a * stride + (long long)h * DQK;
        const float* qb = p.q + (long long)row_b * stride + (long long)h * DQK;
#pragma unroll
        for (int ks = 0; ks < DQK / 16; ++ks) {
            const int d0 = ks * 16 + 2 * tq;
            float2 a0 = make_float2(0.f, 0.f), a2 = a0, b0 = a0, b2 = a0;
            if (row_a < p.n) { a0 = *reinterpret_cast<const float2*>(qa + d0); a2 = *reinterpret_cast<const float2*>(qa + d0 + 8); }
            if (row_b < p.n) { b0 = *reinterpret_cast<const float2*>(qb + d0); b2 = *reinterpret_cast<const float2*>(qb + d0 + 8); }
            qf[ks][0] = pack2<T>(a0.x, a0.y);
            qf[ks][1] = pack2<T>(b0.x, b0.y);
            qf[ks][2] = pack2<T>(a2.x, a2.y);
            qf[ks][3] = pack2<T>(b2.x, b2.y);
        }
    }
    const int pos_a = pos0 + row_a, pos_b = pos0 + row_b;   // last key each row may see

    float o[DV / 8][4];
#pragma unroll
    for (int i = 0; i < DV / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.f, l_b = 0.f;

    // ldmatrix lane roles: matrix mi = lane / 8, row r = lane % 8 within it.
    const int mi = lane / 8, r8 = lane % 8;

    for (int j = 0; j < n_tiles; ++j) {
        if (j + 1 < n_tiles) {
            const int nb = (j + 1) & 1;
            load_tile<DQK>(sk + nb * kFlashN * DQK, K, (j + 1) * kFlashN, key_end);
            load_tile<DV>(sv + nb * kFlashN * DV, V, (j + 1) * kFlashN, key_end);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const T* tk = sk + (j & 1) * kFlashN * DQK;
        const T* tv = sv + (j & 1) * kFlashN * DV;

        // S (16 x 64) = Q K^T: 8 n-tiles of 8 keys.
        float s[kFlashN / 8][4];
#pragma unroll
        for (int i = 0; i < kFlashN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
        for (int np = 0; np < kFlashN / 16; ++np) {
#pragma unroll
            for (int ks = 0; ks < DQK / 16; ++ks) {
                const int key = np * 16 + r8 + (mi / 2) * 8;
                const int chunk = ks * 2 + (mi % 2);
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(smem_u32(tk + swz<DQK>(key, chunk)), b0, b1, b2, b3);
                mma16816<T>(s[2 * np], qf[ks], b0, b1);
                mma16816<T>(s[2 * np + 1], qf[ks], b2, b3);
            }
        }

        // Scale (log2 domain), causal mask on tiles that reach past the block's first query.
        const int kbase = j * kFlashN;
        const bool masked = j >= first_masked;
        float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kFlashN / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int key = kbase + nt * 8 + 2 * tq + e;
                float va = s[nt][e] * scale_log2, vb = s[nt][2 + e] * scale_log2;
                if (masked) {
                    if (key > pos_a) va = -INFINITY;
                    if (key > pos_b) vb = -INFINITY;
                }
                s[nt][e] = va;
                s[nt][2 + e] = vb;
                mx_a = fmaxf(mx_a, va);
                mx_b = fmaxf(mx_b, vb);
            }
        }
#pragma unroll
        for (int off = 1; off <= 2; off <<= 1) {
            mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, off));
            mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, off));
        }
        // Key 0 is in tile 0 and every row sees it, so m is finite from the first tile on.
        const float mn_a = fmaxf(m_a, mx_a), mn_b = fmaxf(m_b, mx_b);
        const float corr_a = exp2f(m_a - mn_a), corr_b = exp2f(m_b - mn_b);
        m_a = mn_a;
        m_b = mn_b;
        float sum_a = 0.f, sum_b = 0.f;
#pragma unroll
        for (int nt = 0; nt < kFlashN / 8; ++nt) {
            s[nt][0] = exp2f(s[nt][0] - mn_a);
            s[nt][1] = exp2f(s[nt][1] - mn_a);
            s[nt][2] = exp2f(s[nt][2] - mn_b);
            s[nt][3] = exp2f(s[nt][3] - mn_b);
            sum_a += s[nt][0] + s[nt][1];
            sum_b += s[nt][2] + s[nt][3];
        }
        l_a = l_a * corr_a + sum_a;
        l_b = l_b * corr_b + sum_b;
#pragma unroll
        for (int i = 0; i < DV / 8; ++i) {
            o[i][0] *= corr_a;
            o[i][1] *= corr_a;
            o[i][2] *= corr_b;
            o[i][3] *= corr_b;
        }

        // O (16 x DV) += P (16 x 64) V (64 x DV); P's A fragments straight from S.
#pragma unroll
        for (int ks = 0; ks < kFlashN / 16; ++ks) {
            uint32_t pa[4];
            pa[0] = pack2<T>(s[2 * ks][0], s[2 * ks][1]);
            pa[1] = pack2<T>(s[2 * ks][2], s[2 * ks][3]);
            pa[2] = pack2<T>(s[2 * ks + 1][0], s[2 * ks + 1][1]);
            pa[3] = pack2<T>(s[2 * ks + 1][2], s[2 * ks + 1][3]);
#pragma unroll
            for (int dp = 0; dp < DV / 16; ++dp) {
                const int key = ks * 16 + r8 + (mi % 2) * 8;
                const int chunk = dp * 2 + (mi / 2);
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(smem_u32(tv + swz<DV>(key, chunk)), b0, b1, b2, b3);
                mma16816<T>(o[2 * dp], pa, b0, b1);
                mma16816<T>(o[2 * dp + 1], pa, b2, b3);
            }
        }
        __syncthreads();   // the next iteration's loads overwrite this buffer
    }

#pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
        l_a += __shfl_xor_sync(0xffffffffu, l_a, off);
        l_b += __shfl_xor_sync(0xffffffffu, l_b, off);
    }
    const float inv_a = 1.f / l_a, inv_b = 1.f / l_b;
    const long long stride = (long long)p.n_q * DV;
    if (row_a < p.n) {
        float* out = p.out + (long long)row_a * stride + (long long)h * DV;
#pragma unroll
        for (int i = 0; i < DV / 8; ++i)
            *reinterpret_cast<float2*>(out + i * 8 + 2 * tq) = make_float2(o[i][0] * inv_a, o[i][1] * inv_a);
    }
    if (row_b < p.n) {
        float* out = p.out + (long long)row_b * stride + (long long)h * DV;
#pragma unroll
        for (int i = 0; i < DV / 8; ++i)
            *reinterpret_cast<float2*>(out + i * 8 + 2 * tq) = make_float2(o[i][2] * inv_b, o[i][3] * inv_b);
    }
}

template <int DQK, int DV, class T>
Status launch_flash(const CausalAttentionParams& p, float scale) {
    constexpr size_t smem = size_t(2) * kFlashN * (DQK + DV) * sizeof(T);
    auto kernel = flash_attention_kernel<DQK, DV, T>;
    static bool configured = false;   // per instantiation; the attribute is per device function
    if (!configured) {
        const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
        if (e != cudaSuccess) return {std::string("causal_attention: cudaFuncSetAttribute: ") + cudaGetErrorString(e)};
        configured = true;
    }
    const dim3 grid(unsigned((p.n + kFlashM - 1) / kFlashM), unsigned(p.n_q));
    kernel<<<grid, kFlashThreads, smem, static_cast<cudaStream_t>(p.stream)>>>(p, scale * 1.4426950408889634f);
    return {};
}

template <class T>
Status dispatch_flash(const CausalAttentionParams& p, float scale) {  // d_qk, d_v in {64, 128}
    return static_switch<64, 128>(p.d_qk, [&](auto dqk) {
        return static_switch<64, 128>(p.d_v, [&](auto dv) { return launch_flash<decltype(dqk)::value, decltype(dv)::value, T>(p, scale); });
    });
}

bool aligned(const void* ptr, size_t a) { return reinterpret_cast<uintptr_t>(ptr) % a == 0; }

}  // namespace

bool causal_attention_uses_flash(const CausalAttentionParams& p) {
    const bool heads = (p.d_qk == 64 || p.d_qk == 128) && (p.d_v == 64 || p.d_v == 128);
    return heads && !p.force_simple && aligned(p.q, 8) && aligned(p.out, 8) && aligned(p.k_cache, 16) &&
           aligned(p.v_cache, 16);
}

Status causal_attention(const CausalAttentionParams& p) {
    const std::string name = "causal_attention: ";
    if (!p.pos0 || !p.q || !p.k_cache || !p.v_cache || !p.out) return {name + "null pointer"};
    if (p.n < 1 || p.n_q < 1 || p.n_k < 1 || p.n_v < 1 || p.max_ctx < 1) return {name + "sizes must be positive"};
    if (p.n_q % p.n_k != 0 || p.n_q % p.n_v != 0) return {name + "n_k and n_v must divide n_q"};
    if (p.n_q > 65535) return {name + "n_q must be <= 65535"};
    if (p.d_qk < 1 || p.d_qk > kMaxHead || p.d_v < 1 || p.d_v > kMaxHead)
        return {name + "head sizes d_qk=" + std::to_string(p.d_qk) + " d_v=" + std::to_string(p.d_v) +
                " unsupported (1..256)"};
    if (p.kv_type != DType::F16 && p.kv_type != DType::BF16) return {name + "KV cache must be F16 or BF16"};
    const float scale = p.scale != 0.0f ? p.scale : 1.0f / std::sqrt(float(p.d_qk));
    cudaStream_t stream = static_cast<cudaStream_t>(p.stream);
    if (causal_attention_uses_flash(p)) {
        Status s = p.kv_type == DType::F16 ? dispatch_flash<__half>(p, scale) : dispatch_flash<__nv_bfloat16>(p, scale);
        if (!s.ok()) return s;
    } else {
        const long long tasks = (long long)p.n * p.n_q;
        const unsigned blocks = unsigned((tasks + kWarps - 1) / kWarps);
        if (p.kv_type == DType::F16)
            causal_attention_kernel<__half><<<blocks, kWarps * 32, 0, stream>>>(p, scale);
        else
            causal_attention_kernel<__nv_bfloat16><<<blocks, kWarps * 32, 0, stream>>>(p, scale);
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return {name + "launch failed: " + cudaGetErrorString(e)};
    return {};
}

}  // namespace sigmaops::kernels
