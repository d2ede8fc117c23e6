// Decode attention for DiffQKV: private kernel templates and the per-configuration launcher.
// Included by decode_attention_<kv>_<dqk>_<dv>.cu, each of which instantiates one
// configuration (keeps nvcc parallel); decode_attention.cu holds the public launcher.
//
// Tuned for: one query token per sequence, long caches, H100 (132 SMs, ~3 TB/s). The cost is
// bytes of K and V read, so every K row is read once per K group, every V row once per V head,
// with 16-byte loads spread over enough blocks (slices of the cache) to fill every SM.
// Dimension letters: B batch, H query heads, T positions, D head size, S splits.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cub/block/block_scan.cuh>
#include <type_traits>

#include "kernels.h"

namespace sigmaops::kernels::attn {

constexpr int kThreads = 256;       // split-KV, scores and gather blocks
constexpr int kMaxTileHeads = 8;    // query heads one block serves (a K group, or a tile of it)
constexpr int kTileKeys = 256;      // keys per inner tile (their scores live in shared memory)
constexpr int kMaxSplits = 256;     // slices per sequence (the combine keeps weights in smem)
constexpr int kTopkThreads = 1024;  // top-k select: one block per (sequence, query head)
constexpr int kTopkBins = 2048;     // radix digit of 11 bits (passes: 11, 11, 10)
constexpr int kTopkCacheBytes = 192 * 1024;  // scores of one head cached in smem (48K keys)
constexpr int kUnionSmemBytes = 160 * 1024;  // union gather: bitmap + row list
constexpr float kLog2e = 1.4426950408889634f;

// Problem geometry as the kernels see it (typed and derived once by the launcher).
struct Geometry {
    int batch, n_q, n_k, n_v, max_ctx;
    int gk, gv;             // query heads per K head, per V head
    int tiles_per_group;    // head tiles per K head
    int tile_heads;         // query heads per tile (<= kMaxTileHeads)
    int n_splits;           // cache slices per sequence
    float scale_log2;       // scale * log2(e): scores are kept in the log2 domain
    int top_k;              // selective V rows per head (0 = full attention)
    int q_is_bf16;          // q element type: 1 = BF16, 0 = F32
};

// Device buffers; the workspace is carved by the launcher (see workspace_layout()).
struct Buffers {
    const void* q;          // (B, n_q, d_qk)
    const void* k;          // (B, n_k, max_ctx, d_qk)
    const void* v;          // (B, n_v, max_ctx, d_v)
    const int* seq_lens;    // (B)
    float* out;             // (B, n_q, d_v)
    int* counters;          // (B, n_k*tiles_per_group) zero between calls
    float* part_o;          // (B, n_q, S, d_v) unnormalised slice outputs
    float2* part_ml;        // (B, n_q, S) slice (max, sum of exp2) in the log2 domain
    float* scores;          // (B, n_q, max_ctx) selective V: scaled log2-domain scores
    float2* head_ml;        // (B, n_q) selective V: softmax (max, sum) over all keys
    int* idx;               // (B, n_q, top_k) selective V: selected positions
};

// ---- small device helpers ----------------------------------------------------------------

template <class T>
__device__ __forceinline__ void cvt8(const uint4& u, float (&f)[8]) {
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        if constexpr (std::is_same_v<T, __nv_bfloat16>) {
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

__device__ __forceinline__ uint4 ld16(const void* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Monotone map float -> uint32 (larger float, larger key).
__device__ __forceinline__ uint32_t order_key(float f) {
    const uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// The tile heads' queries, pre-scaled into the log2 domain, into q_s (zeros past nh so the dot
// products of unused heads are harmless). Caller synchronises before use.
template <int DQK>
__device__ __forceinline__ void load_q(const Geometry& g, const Buffers& buf, int b, int h0, int nh,
                                       float (*q_s)[DQK]) {
    for (int i = threadIdx.x; i < kMaxTileHeads * DQK; i += blockDim.x) {
        const int h = i / DQK, d = i % DQK;
        float v = 0.0f;
        if (h < nh) {
            const size_t off = (size_t(b) * g.n_q + h0 + h) * DQK + d;
            v = g.q_is_bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(buf.q)[off])
                            : static_cast<const float*>(buf.q)[off];
        }
        q_s[h][d] = v * g.scale_log2;
    }
}

// Scores of the tile heads against keys [0, n) of `krow0` (K rows from the tile's first key):
// s_s[h][t] = q_h . k_t * scale * log2(e). Each key row is read by DQK/8 lanes (16 bytes
// each); the per-head partial dots are reduced by a transposing butterfly that leaves head
// (lane & 7) in each lane (7 shuffles for 8 heads instead of 24).
template <class T, int DQK>
__device__ __forceinline__ void score_tile(const T* __restrict__ krow0, int n, const float (*q_s)[DQK],
                                           float (*s_s)[kTileKeys], int nh) {
    constexpr int NL = DQK / 8;
    constexpr int SLOTS = kThreads / NL;
    constexpr int PER = kTileKeys / SLOTS;
    constexpr int BATCH = 8;
    const int tid = threadIdx.x, col = tid % NL, slot = tid / NL, lane = tid & 31;
    float qreg[kMaxTileHeads][8];  // this lane's 8-wide column of every tile head's query
#pragma unroll
    for (int h = 0; h < kMaxTileHeads; ++h) {
        const float4 a = *reinterpret_cast<const float4*>(&q_s[h][col * 8]);
        const float4 c = *reinterpret_cast<const float4*>(&q_s[h][col * 8 + 4]);
        qreg[h][0] = a.x; qreg[h][1] = a.y; qreg[h][2] = a.z; qreg[h][3] = a.w;
        qreg[h][4] = c.x; qreg[h][5] = c.y; qreg[h][6] = c.z; qreg[h][7] = c.w;
    }
#pragma unroll
    for (int i0 = 0; i0 < PER; i0 += BATCH) {
        uint4 kv[BATCH];
#pragma unroll
        for (int i = 0; i < BATCH; ++i) {
            const int t = slot + (i0 + i) * SLOTS;
            kv[i] = t < n ? ld16(krow0 + size_t(t) * DQK + col * 8) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int i = 0; i < BATCH; ++i) {
            float kf[8];
            cvt8<T>(kv[i], kf);
            float d[8];
#pragma unroll
            for (int h = 0; h < 8; ++h) {
                float a = 0.0f;
#pragma unroll
                for (int e = 0; e < 8; ++e) a = fmaf(qreg[h][e], kf[e], a);
                d[h] = a;
            }
            if constexpr (NL == 16) {
#pragma unroll
                for (int h = 0; h < 8; ++h) d[h] += __shfl_xor_sync(0xffffffffu, d[h], 8);
            }
            {
                const bool up = lane & 4;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const float send = up ? d[j] : d[j + 4], keep = up ? d[j + 4] : d[j];
                    d[j] = keep + __shfl_xor_sync(0xffffffffu, send, 4);
                }
            }
            {
                const bool up = lane & 2;
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    const float send = up ? d[j] : d[j + 2], keep = up ? d[j + 2] : d[j];
                    d[j] = keep + __shfl_xor_sync(0xffffffffu, send, 2);
                }
            }
            {
                const bool up = lane & 1;
                const float send = up ? d[0] : d[1], keep = up ? d[1] : d[0];
                d[0] = keep + __shfl_xor_sync(0xffffffffu, send, 1);
            }
            const int h = lane & 7, t = slot + (i0 + i) * SLOTS;
            if (h < nh && t < n && (NL == 8 || (lane & 8) == 0)) s_s[h][t] = d[0];
        }
    }
}

// Block -> (sequence, K head, head tile, slice) for the split-KV and scores kernels.
struct TileCoord {
    int b, kh, h0, nh, split, len, t_begin, t_end;
};
__device__ __forceinline__ TileCoord tile_coord(const Geometry& g, const Buffers& buf) {
    TileCoord c;
    c.b = blockIdx.z;
    c.kh = blockIdx.y / g.tiles_per_group;
    const int tile = blockIdx.y % g.tiles_per_group;
    c.h0 = c.kh * g.gk + tile * g.tile_heads;
    c.nh = min(g.tile_heads, g.gk - tile * g.tile_heads);
    c.split = blockIdx.x;
    c.len = buf.seq_lens[c.b];
    int per = (c.len + g.n_splits - 1) / g.n_splits;
    per = (per + 15) & ~15;
    c.t_begin = min(c.len, c.split * per);
    c.t_end = min(c.len, c.t_begin + per);
    return c;
}

// ---- split-KV decode attention -----------------------------------------------------------
// Grid (S, n_k*tiles_per_group, B). Each block: online softmax over its slice in tiles of
// kTileKeys keys, V accumulated in registers; writes its (max, sum, unnormalised out) partial;
// the last block of each (sequence, head tile) combines all slices into `out`.
// HPV: register slots for the tile's query heads that share one V head (>= min(gv, tile)).
template <class T, int DQK, int DV, int HPV>
__global__ void __launch_bounds__(kThreads, 2) split_kv_kernel(const Geometry g, const Buffers buf) {
    __shared__ float s_s[kMaxTileHeads][kTileKeys];  // scores -> probabilities; later scratch
    __shared__ float m_s[kMaxTileHeads], l_s[kMaxTileHeads], alpha_s[kMaxTileHeads], inv_s[kMaxTileHeads];
    __shared__ int last_s;

    const TileCoord c = tile_coord(g, buf);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    if (tid < kMaxTileHeads) {
        m_s[tid] = -INFINITY;
        l_s[tid] = 0.0f;
    }

    __shared__ __align__(16) float q_s[kMaxTileHeads][DQK];
    load_q<DQK>(g, buf, c.b, c.h0, c.nh, q_s);

    // V role: column vcol of V head (vh_first + vj), keys vslot, vslot + vslots, ...
    constexpr int NLV = DV / 8;
    const int vh_first = c.h0 / g.gv, vh_last = (c.h0 + c.nh - 1) / g.gv;
    const int nvg = vh_last - vh_first + 1;
    const int vslots = (kThreads / NLV) / nvg;
    const int vcol = tid % NLV, vrest = tid / NLV, vj = vrest % nvg, vslot = vrest / nvg;
    const bool vactive = vslot < vslots;
    const int vh = vh_first + vj;
    const int hb = max(c.h0, vh * g.gv) - c.h0;                    // first tile head of this V head
    const int hc = min(c.h0 + c.nh, (vh + 1) * g.gv) - c.h0 - hb;  // tile heads on this V head

    float acc[HPV][8];
#pragma unroll
    for (int j = 0; j < HPV; ++j)
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[j][e] = 0.0f;

    const T* kbase = static_cast<const T*>(buf.k) + (size_t(c.b) * g.n_k + c.kh) * g.max_ctx * DQK;
    const T* vbase = static_cast<const T*>(buf.v) + (size_t(c.b) * g.n_v + vh) * g.max_ctx * DV + vcol * 8;
    __syncthreads();

    for (int t0 = c.t_begin; t0 < c.t_end; t0 += kTileKeys) {
        const int n = min(kTileKeys, c.t_end - t0);
        score_tile<T, DQK>(kbase + size_t(t0) * DQK, n, q_s, s_s, c.nh);
        __syncthreads();
        if (warp < c.nh) {  // online softmax, one warp per head
            float mx = -INFINITY;
            for (int t = lane; t < n; t += 32) mx = fmaxf(mx, s_s[warp][t]);
            mx = warp_max(mx);
            const float m_old = m_s[warp], m_new = fmaxf(m_old, mx);
            float sum = 0.0f;
            for (int t = lane; t < n; t += 32) {
                const float p = exp2f(s_s[warp][t] - m_new);
                s_s[warp][t] = p;
                sum += p;
            }
            sum = warp_sum(sum);
            if (lane == 0) {
                const float alpha = exp2f(m_old - m_new);
                l_s[warp] = l_s[warp] * alpha + sum;
                m_s[warp] = m_new;
                alpha_s[warp] = alpha;
            }
        }
        __syncthreads();
        if (vactive) {
#pragma unroll
            for (int j = 0; j < HPV; ++j) {
                const float a = j < hc ? alpha_s[hb + j] : 1.0f;
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[j][e] *= a;
            }
            constexpr int BATCH = 8;
            const T* vrow0 = vbase + size_t(t0) * DV;
            for (int tb = vslot; tb < n; tb += BATCH * vslots) {
                uint4 vv[BATCH];
#pragma unroll
                for (int i = 0; i < BATCH; ++i) {
                    const int t = tb + i * vslots;
                    vv[i] = t < n ? ld16(vrow0 + size_t(t) * DV) : make_uint4(0, 0, 0, 0);
                }
#pragma unroll
                for (int i = 0; i < BATCH; ++i) {
                    const int t = tb + i * vslots;
                    if (t < n) {
                        float vf[8];
                        cvt8<T>(vv[i], vf);
#pragma unroll
                        for (int j = 0; j < HPV; ++j) {
                            if (j < hc) {
                                const float p = s_s[hb + j][t];
#pragma unroll
                                for (int e = 0; e < 8; ++e) acc[j][e] = fmaf(p, vf[e], acc[j][e]);
                            }
                        }
                    }
                }
            }
        }
        __syncthreads();
    }

    // Reduce the V accumulators over vslots and write this slice's partials.
    float* red = &s_s[0][0];  // kThreads * 8 floats
    const size_t row0 = size_t(c.b) * g.n_q;
#pragma unroll
    for (int j = 0; j < HPV; ++j) {
        if (vactive) {
#pragma unroll
            for (int e = 0; e < 8; ++e) red[tid * 8 + e] = acc[j][e];
        }
        __syncthreads();
        for (int o = tid; o < nvg * DV; o += kThreads) {
            const int oj = o / DV, d = o % DV, ovh = vh_first + oj;
            const int ohb = max(c.h0, ovh * g.gv);
            const int ohc = min(c.h0 + c.nh, (ovh + 1) * g.gv) - ohb;
            if (j < ohc) {
                float s = 0.0f;
                for (int sl = 0; sl < vslots; ++sl) s += red[((sl * nvg + oj) * NLV + d / 8) * 8 + d % 8];
                buf.part_o[((row0 + ohb + j) * g.n_splits + c.split) * DV + d] = s;
            }
        }
        __syncthreads();
    }
    if (tid < c.nh) buf.part_ml[(row0 + c.h0 + tid) * g.n_splits + c.split] = make_float2(m_s[tid], l_s[tid]);

    // Last block of this (sequence, head tile) combines the slices (log-sum-exp).
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        int* counter = buf.counters + size_t(c.b) * gridDim.y + blockIdx.y;
        const int ticket = atomicAdd(counter, 1);
        last_s = ticket == g.n_splits - 1;
        if (last_s) *counter = 0;  // ready for the next call
    }
    __syncthreads();
    if (!last_s) return;
    __threadfence();
    float* wts = &s_s[0][0];  // [kMaxTileHeads][kMaxSplits]
    if (warp < c.nh) {
        const float2* ml = buf.part_ml + (row0 + c.h0 + warp) * g.n_splits;
        float M = -INFINITY;
        for (int s = lane; s < g.n_splits; s += 32) M = fmaxf(M, __ldcg(&ml[s]).x);
        M = warp_max(M);
        float L = 0.0f;
        for (int s = lane; s < g.n_splits; s += 32) {
            const float2 v = __ldcg(&ml[s]);
            const float w = v.x == -INFINITY ? 0.0f : exp2f(v.x - M);
            wts[warp * kMaxSplits + s] = w;
            L += v.y * w;
        }
        L = warp_sum(L);
        if (lane == 0) inv_s[warp] = L > 0.0f ? 1.0f / L : 0.0f;
    }
    __syncthreads();
    for (int o = tid; o < c.nh * DV; o += kThreads) {
        const int hl = o / DV, d = o % DV;
        const float* po = buf.part_o + (row0 + c.h0 + hl) * g.n_splits * DV + d;
        const float* w = wts + hl * kMaxSplits;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        int s = 0;
        for (; s + 4 <= g.n_splits; s += 4) {
            a0 = fmaf(__ldcg(po + size_t(s) * DV), w[s], a0);
            a1 = fmaf(__ldcg(po + size_t(s + 1) * DV), w[s + 1], a1);
            a2 = fmaf(__ldcg(po + size_t(s + 2) * DV), w[s + 2], a2);
            a3 = fmaf(__ldcg(po + size_t(s + 3) * DV), w[s + 3], a3);
        }
        for (; s < g.n_splits; ++s) a0 = fmaf(__ldcg(po + size_t(s) * DV), w[s], a0);
        buf.out[(row0 + c.h0 + hl) * DV + d] = ((a0 + a1) + (a2 + a3)) * inv_s[hl];
    }
}

// ---- selective V, step 1: scores of every key + per-slice softmax statistics ------------------
// Grid as split_kv_kernel. Writes scores (log2 domain) for t < len and (max, sum) per slice.
template <class T, int DQK>
__global__ void __launch_bounds__(kThreads, 2) scores_kernel(const Geometry g, const Buffers buf) {
    __shared__ float s_s[kMaxTileHeads][kTileKeys];
    __shared__ __align__(16) float q_s[kMaxTileHeads][DQK];
    const TileCoord c = tile_coord(g, buf);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    load_q<DQK>(g, buf, c.b, c.h0, c.nh, q_s);
    __syncthreads();
    const T* kbase = static_cast<const T*>(buf.k) + (size_t(c.b) * g.n_k + c.kh) * g.max_ctx * DQK;
    const size_t row0 = size_t(c.b) * g.n_q;
    float m = -INFINITY, l = 0.0f;  // meaningful in warps < nh
    for (int t0 = c.t_begin; t0 < c.t_end; t0 += kTileKeys) {
        const int n = min(kTileKeys, c.t_end - t0);
        score_tile<T, DQK>(kbase + size_t(t0) * DQK, n, q_s, s_s, c.nh);
        __syncthreads();
        if (warp < c.nh) {
            float* dst = buf.scores + (row0 + c.h0 + warp) * g.max_ctx + t0;
            float mx = -INFINITY;
            for (int t = lane; t < n; t += 32) {
                const float s = s_s[warp][t];
                dst[t] = s;
                mx = fmaxf(mx, s);
            }
            mx = warp_max(mx);
            const float m_new = fmaxf(m, mx);
            float sum = 0.0f;
            for (int t = lane; t < n; t += 32) sum += exp2f(s_s[warp][t] - m_new);
            l = l * exp2f(m - m_new) + warp_sum(sum);
            m = m_new;
        }
        __syncthreads();
    }
    if (warp < c.nh && lane == 0) buf.part_ml[(row0 + c.h0 + warp) * g.n_splits + c.split] = make_float2(m, l);
}

// ---- selective V, step 2: softmax statistics and top-k positions per (sequence, head) ---------
// Grid (n_q, B), kTopkThreads threads. Radix select on order_key(score): three passes of
// 11/11/10 bits find the k-th largest key exactly; a last pass collects the keys above it and
// as many equal to it as needed. Scores are cached in dynamic shared memory when they fit.
// (Templated on the KV type only so that each configuration's .cu owns its own copy.)
template <class T>
__global__ void __launch_bounds__(kTopkThreads, 1) topk_kernel(const Geometry g, const Buffers buf, int cache_cap) {
    extern __shared__ float cache[];
    __shared__ int hist[kTopkBins];
    __shared__ int sel_s, above_s, count_s, ties_s;
    using Scan = cub::BlockScan<int, kTopkThreads>;
    __shared__ typename Scan::TempStorage scan_tmp;

    const int h = blockIdx.x, b = blockIdx.y, tid = threadIdx.x, lane = tid & 31;
    const int len = buf.seq_lens[b];
    const size_t row = size_t(b) * g.n_q + h;
    if (tid < 32) {  // softmax statistics over all slices
        const float2* ml = buf.part_ml + row * g.n_splits;
        float M = -INFINITY;
        for (int s = lane; s < g.n_splits; s += 32) M = fmaxf(M, ml[s].x);
        M = warp_max(M);
        float L = 0.0f;
        for (int s = lane; s < g.n_splits; s += 32) {
            const float2 v = ml[s];
            L += v.x == -INFINITY ? 0.0f : v.y * exp2f(v.x - M);
        }
        L = warp_sum(L);
        if (lane == 0) buf.head_ml[row] = make_float2(M, L);
    }
    int* out_idx = buf.idx + row * g.top_k;
    if (g.top_k >= len) {  // everything is selected
        for (int i = tid; i < len; i += kTopkThreads) out_idx[i] = i;
        return;
    }
    const float* src = buf.scores + row * g.max_ctx;
    const bool cached = len <= cache_cap;
    uint32_t prefix = 0, mask = 0;
    int krem = g.top_k;
    for (int pass = 0; pass < 3; ++pass) {
        const int shift = pass == 0 ? 21 : (pass == 1 ? 10 : 0);
        const uint32_t dmask = pass == 2 ? 0x3ffu : 0x7ffu;
        for (int i = tid; i < kTopkBins; i += kTopkThreads) hist[i] = 0;
        __syncthreads();
        for (int i0 = 0; i0 < len; i0 += kTopkThreads) {
            const int i = i0 + tid;
            bool in = false;
            uint32_t bin = 0;
            if (i < len) {
                float v;
                if (pass == 0 || !cached) {
                    v = src[i];
                    if (cached) cache[i] = v;
                } else {
                    v = cache[i];
                }
                const uint32_t key = order_key(v);
                in = (key & mask) == prefix;
                bin = (key >> shift) & dmask;
            }
            const unsigned act = __ballot_sync(0xffffffffu, in);
            if (in) {  // warp-aggregated: scores crowd into few exponent bins
                const unsigned peers = __match_any_sync(act, bin);
                if (lane == __ffs(peers) - 1) atomicAdd(&hist[bin], __popc(peers));
            }
        }
        __syncthreads();
        // Thread t owns bins 2047-2t and 2046-2t (descending), so an exclusive prefix sum
        // over threads counts the keys in higher bins.
        const int c0 = hist[kTopkBins - 1 - 2 * tid], c1 = hist[kTopkBins - 2 - 2 * tid];
        int excl;
        Scan(scan_tmp).ExclusiveSum(c0 + c1, excl);
        if (excl < krem && excl + c0 + c1 >= krem) {
            if (excl + c0 >= krem) {
                sel_s = kTopkBins - 1 - 2 * tid;
                above_s = excl;
            } else {
                sel_s = kTopkBins - 2 - 2 * tid;
                above_s = excl + c0;
            }
        }
        __syncthreads();
        prefix |= uint32_t(sel_s) << shift;
        mask |= dmask << shift;
        krem -= above_s;
        __syncthreads();
    }
    if (tid == 0) {
        count_s = 0;
        ties_s = 0;
    }
    __syncthreads();
    for (int i = tid; i < len; i += kTopkThreads) {
        const uint32_t key = order_key(cached ? cache[i] : src[i]);
        bool take = key > prefix;
        if (key == prefix) take = atomicAdd(&ties_s, 1) < krem;
        if (take) out_idx[atomicAdd(&count_s, 1)] = i;
    }
}

// ---- selective V, step 3: gather the selected V rows ------------------------------------------
// Grid (n_v, B), kThreads threads: one block per V head serves every query head reading it.
// UNION: rows = union of the group's selections (each row fetched once, every head weighs it).
template <class T, int DV, int HPV, bool UNION>
__global__ void __launch_bounds__(kThreads) gather_kernel(const Geometry g, const Buffers buf) {
    extern __shared__ uint32_t dyn[];  // UNION: bitmap (ceil(max_ctx/32) words) + row list
    __shared__ float red[kThreads * 8];
    __shared__ int n_union_s;
    const int vh = blockIdx.x, b = blockIdx.y, tid = threadIdx.x;
    const int len = buf.seq_lens[b];
    const bool all = g.top_k >= len;
    const int kk = all ? len : g.top_k;
    constexpr int NL = DV / 8, SLOTS = kThreads / NL;
    const int col = tid % NL, slot = tid / NL;
    const size_t hrow0 = size_t(b) * g.n_q + size_t(vh) * g.gv;  // first query head of this V head
    const T* vbase = static_cast<const T*>(buf.v) + (size_t(b) * g.n_v + vh) * g.max_ctx * DV + col * 8;

    int n_rows = kk;
    const int* list = nullptr;
    if constexpr (UNION) {
        if (!all) {
            const int words = (len + 31) / 32;
            uint32_t* bitmap = dyn;
            int* ulist = reinterpret_cast<int*>(dyn + (g.max_ctx + 31) / 32);
            for (int i = tid; i < words; i += kThreads) bitmap[i] = 0;
            if (tid == 0) n_union_s = 0;
            __syncthreads();
            for (int e = tid; e < g.gv * kk; e += kThreads) {
                const int t = buf.idx[(hrow0 + e / kk) * g.top_k + e % kk];
                const uint32_t bit = 1u << (t & 31);
                if (!(atomicOr(&bitmap[t >> 5], bit) & bit)) ulist[atomicAdd(&n_union_s, 1)] = t;
            }
            __syncthreads();
            n_rows = n_union_s;
            list = ulist;
        }
    }

    for (int hb = 0; hb < g.gv; hb += HPV) {
        const int hc = min(HPV, g.gv - hb);
        float M[HPV], inv[HPV], acc[HPV][8];
#pragma unroll
        for (int j = 0; j < HPV; ++j) {
            const float2 ml = j < hc ? buf.head_ml[hrow0 + hb + j] : make_float2(0.0f, 1.0f);
            M[j] = ml.x;
            inv[j] = ml.y > 0.0f ? 1.0f / ml.y : 0.0f;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[j][e] = 0.0f;
        }
        if constexpr (UNION) {
            for (int r0 = slot; r0 < n_rows; r0 += 4 * SLOTS) {
                uint4 vv[4];
                int tt[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int r = r0 + i * SLOTS;
                    tt[i] = r < n_rows ? (list ? list[r] : r) : -1;
                    vv[i] = tt[i] >= 0 ? ld16(vbase + size_t(tt[i]) * DV) : make_uint4(0, 0, 0, 0);
                }
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    if (tt[i] < 0) continue;
                    float vf[8];
                    cvt8<T>(vv[i], vf);
#pragma unroll
                    for (int j = 0; j < HPV; ++j) {
                        if (j < hc) {
                            const float p = exp2f(buf.scores[(hrow0 + hb + j) * g.max_ctx + tt[i]] - M[j]) * inv[j];
#pragma unroll
                            for (int e = 0; e < 8; ++e) acc[j][e] = fmaf(p, vf[e], acc[j][e]);
                        }
                    }
                }
            }
        } else {
#pragma unroll
            for (int j = 0; j < HPV; ++j) {
                if (j >= hc) continue;
                const int* hidx = buf.idx + (hrow0 + hb + j) * g.top_k;
                const float* hs = buf.scores + (hrow0 + hb + j) * g.max_ctx;
                for (int r0 = slot; r0 < n_rows; r0 += 4 * SLOTS) {
                    uint4 vv[4];
                    int tt[4];
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        const int r = r0 + i * SLOTS;
                        tt[i] = r < n_rows ? (all ? r : hidx[r]) : -1;
                        vv[i] = tt[i] >= 0 ? ld16(vbase + size_t(tt[i]) * DV) : make_uint4(0, 0, 0, 0);
                    }
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        if (tt[i] < 0) continue;
                        float vf[8];
                        cvt8<T>(vv[i], vf);
                        const float p = exp2f(hs[tt[i]] - M[j]) * inv[j];
#pragma unroll
                        for (int e = 0; e < 8; ++e) acc[j][e] = fmaf(p, vf[e], acc[j][e]);
                    }
                }
            }
        }
#pragma unroll
        for (int j = 0; j < HPV; ++j) {
            __syncthreads();
#pragma unroll
            for (int e = 0; e < 8; ++e) red[tid * 8 + e] = acc[j][e];
            __syncthreads();
            if (j < hc) {
                for (int d = tid; d < DV; d += kThreads) {
                    float s = 0.0f;
                    for (int sl = 0; sl < SLOTS; ++sl) s += red[(sl * NL + d / 8) * 8 + d % 8];
                    buf.out[(hrow0 + hb + j) * DV + d] = len > 0 ? s : 0.0f;
                }
            }
        }
        __syncthreads();
    }
}

// ---- per-configuration launcher ------------------------------------------------------------

struct Plan {
    Geometry g;
    Buffers buf;
    int hpv_split;     // register slots per V head in split_kv_kernel
    int hpv_gather;    // register slots per V head in gather_kernel
    int topk_cache;    // scores cached in smem by topk_kernel (elements)
    size_t union_smem; // dynamic smem of the union gather
    cudaStream_t stream;
};

inline Status cuda_status(const char* what, cudaError_t e) {
    if (e == cudaSuccess) return {};
    return {std::string("decode_attention: ") + what + ": " + cudaGetErrorString(e)};
}

template <class T, int DQK, int DV, int HPV>
inline void launch_split(const Plan& p, dim3 grid) {
    split_kv_kernel<T, DQK, DV, HPV><<<grid, kThreads, 0, p.stream>>>(p.g, p.buf);
}
template <class T, int DV, int HPV>
inline cudaError_t launch_gather(const Plan& p, bool uni) {
    const dim3 grid(p.g.n_v, p.g.batch);
    if (uni) {
        static bool configured = false;  // host-side, per instantiation
        if (!configured) {
            const cudaError_t e = cudaFuncSetAttribute(gather_kernel<T, DV, HPV, true>,
                                                       cudaFuncAttributeMaxDynamicSharedMemorySize, kUnionSmemBytes);
            if (e != cudaSuccess) return e;
            configured = true;
        }
        gather_kernel<T, DV, HPV, true><<<grid, kThreads, p.union_smem, p.stream>>>(p.g, p.buf);
    } else {
        gather_kernel<T, DV, HPV, false><<<grid, kThreads, 0, p.stream>>>(p.g, p.buf);
    }
    return cudaGetLastError();
}

// Defined per configuration in decode_attention_<kv>_<dqk>_<dv>.cu.
template <class T, int DQK, int DV>
Status run_config(const Plan& p, bool union_gather) {
    const dim3 grid(p.g.n_splits, p.g.n_k * p.g.tiles_per_group, p.g.batch);
    if (p.g.top_k == 0) {
        switch (p.hpv_split) {
            case 1: launch_split<T, DQK, DV, 1>(p, grid); break;
            case 2: launch_split<T, DQK, DV, 2>(p, grid); break;
            case 4: launch_split<T, DQK, DV, 4>(p, grid); break;
            default: launch_split<T, DQK, DV, 8>(p, grid); break;
        }
        return cuda_status("split_kv_kernel launch", cudaGetLastError());
    }
    scores_kernel<T, DQK><<<grid, kThreads, 0, p.stream>>>(p.g, p.buf);
    if (Status s = cuda_status("scores_kernel launch", cudaGetLastError()); !s.ok()) return s;
    static bool topk_configured = false;  // host-side, per instantiation
    if (!topk_configured) {
        const cudaError_t e = cudaFuncSetAttribute(topk_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                   kTopkCacheBytes);
        if (e != cudaSuccess) return cuda_status("topk_kernel attribute", e);
        topk_configured = true;
    }
    topk_kernel<T><<<dim3(p.g.n_q, p.g.batch), kTopkThreads, size_t(p.topk_cache) * 4, p.stream>>>(p.g, p.buf,
                                                                                                     p.topk_cache);
    if (Status s = cuda_status("topk_kernel launch", cudaGetLastError()); !s.ok()) return s;
    cudaError_t e;
    switch (p.hpv_gather) {
        case 1: e = launch_gather<T, DV, 1>(p, union_gather); break;
        case 2: e = launch_gather<T, DV, 2>(p, union_gather); break;
        case 4: e = launch_gather<T, DV, 4>(p, union_gather); break;
        default: e = launch_gather<T, DV, 8>(p, union_gather); break;
    }
    return cuda_status("gather_kernel launch", e);
}

}  // namespace sigmaops::kernels::attn

#define SIGMAOPS_DECODE_ATTENTION_CONFIG(T, DQK, DV) \
    template sigmaops::kernels::Status sigmaops::kernels::attn::run_config<T, DQK, DV>(const Plan&, bool);
