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

#include "cp_async.cuh"
#include "kernels.h"
#include "pdl.cuh"
#include "static_switch.h"

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
constexpr int kCounterSlots = 4096;  // (sequence, head tile) counter pairs at the workspace's start
constexpr int kGroupKeys = 16;      // keys per group maximum (selective V's select; one 16-key unit)

// Problem geometry as the kernels see it (typed and derived once by the launcher).
struct Geometry {
    int batch, n_q, n_k, n_v, max_ctx;
    int gk, gv;             // query heads per K head, per V head
    int tiles_per_group;    // head tiles per K head
    int tile_heads;         // query heads per tile (<= kMaxTileHeads)
    int n_splits;           // cache slices per sequence
    float scale_log2;       // scale * log2(e): scores are kept in the log2 domain
    int selective_v;              // selective V rows per head (0 = full attention)
    int q_is_bf16;          // q element type: 1 = BF16, 0 = F32
    int tile_keys;          // split-KV: keys per staged tile (<= 128)
    int nvg_max;            // split-KV: most V heads one head tile reads
    int score_stride;       // selective V: floats per head row of `scores` (max_ctx rounded up to 4)
    int fast;               // 1: tensor-core kernels (decode_attention_fast.cuh); 0: the kernels below
    int fast_nvg;           // fast split-KV: V-head slots compiled in (1, 2 or 4; >= nvg_max)
    int pdl;                // 1: launched with PDL (kernels.h DecodeAttentionParams::pdl)
    int pdl_prefetch;       // bytes a warp prefetches into the L2 before the PDL wait
    int dyn;                // 1: fast full attention takes chunks from a pool (fast_split_kernel DYN)
    int sel_groupmax;       // 1: select_gather_kernel's threshold from the group maxima (fast path)
    int sel_min_len;        // ... from this many keys (below: the passes over every key)
    int gm_stride;          // floats per head row of group_max (ceil(max_ctx / 16) rounded up to 4)
};

// Device buffers; the workspace is carved by the launcher (see workspace_layout()).
struct Buffers {
    const void* q;          // (B, n_q, d_qk)
    const void* k;          // (B, n_k, max_ctx, d_qk)
    const void* v;          // (B, n_v, max_ctx, d_v)
    const int* seq_lens;    // (B)
    float* out;             // (B, n_q, d_v)
    int* counters;          // (B, n_k*tiles_per_group, 2) zero between calls: each (sequence, head
                            // tile)'s slice ticket and chunk pool (fast_split_kernel<DYN>); the
                            // region is kCounterSlots pairs whatever the batch (see layout())
    float* part_o;          // (B, n_q, S, d_v) unnormalised slice outputs
    float2* part_ml;        // (B, n_q, S) slice (max, sum of exp2) in the log2 domain
    float* scores;          // (B, n_q, score_stride) selective V: scaled log2-domain scores
    float2* head_ml;        // (B, n_q) selective V: softmax (max, sum) over all keys
    int* idx;               // (B, n_q, selective_v) selective V: selected positions
    float* group_max;       // (B, n_q, gm_stride) selective V (tensor-core scores kernel): the
                            // largest score of every 16 keys [16 i, 16 i + 16)
    unsigned long long* trace;  // diagnostics (kernels.h decode_attention_trace); null = off
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
// Coherent (L2) 16-byte load: for data the previous kernel may write while a PDL kernel runs
// (q, the newest K/V row, scores), which the non-coherent path of ld16 must not cache.
__device__ __forceinline__ uint4 ld16cg(const void* p) { return __ldcg(reinterpret_cast<const uint4*>(p)); }

// Diagnostics: block-level timestamps (kernels.h decode_attention_trace).
__device__ __forceinline__ unsigned long long global_ns() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}
__device__ __forceinline__ void trace_at(const Buffers& buf, int base, int block, int slot) {
    if (buf.trace != nullptr && threadIdx.x == 0) buf.trace[base + block * kDecodeTraceSlots + slot] = global_ns();
}
__device__ __forceinline__ void trace_count(const Buffers& buf, int base, int block, int slot, int count) {
    if (buf.trace != nullptr && threadIdx.x == 0) buf.trace[base + block * kDecodeTraceSlots + slot] = unsigned(count);
}

__device__ __forceinline__ void prefetch_l2(const void* p) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}

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
// Inverse of order_key.
__device__ __forceinline__ float key_float(uint32_t key) {
    return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
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
// SMEM: krow0 points to shared memory (a staged tile) instead of global memory.
template <class T, int DQK, int TK, bool SMEM>
__device__ __forceinline__ void score_tile(const T* __restrict__ krow0, int n, const float (*q_s)[DQK],
                                           float (*s_s)[TK], int nh) {
    constexpr int NL = DQK / 8;
    constexpr int SLOTS = kThreads / NL;
    constexpr int PER = (TK + SLOTS - 1) / SLOTS;
    constexpr int BATCH = PER < 8 ? PER : 8;
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
        if (i0 * SLOTS >= n) break;  // block-uniform
        uint4 kv[BATCH];
#pragma unroll
        for (int i = 0; i < BATCH; ++i) {
            const int t = slot + (i0 + i) * SLOTS;
            if constexpr (SMEM)
                kv[i] = t < n ? *reinterpret_cast<const uint4*>(krow0 + t * DQK + col * 8) : make_uint4(0, 0, 0, 0);
            else
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

// ---- bulk copies (TMA engine, 1-D) completing on an mbarrier --------------------------------

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_fence_init() {
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(bar)), "r"(bytes)
                 : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
    uint32_t done = 0;
    do {
        asm volatile(
            "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(smem_u32(bar)), "r"(parity)
            : "memory");
    } while (!done);
}
// bytes: multiple of 16; both addresses 16-byte aligned.
__device__ __forceinline__ void bulk_g2s(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(smem_u32(dst)),
        "l"(src), "r"(bytes), "r"(smem_u32(bar))
        : "memory");
}

// ---- split-KV decode attention -----------------------------------------------------------
// Grid (S, n_k*tiles_per_group, B). Each block walks its slice of the cache in tiles of
// g.tile_keys keys: one thread streams the tile's K rows and the rows of every V head the tile
// needs into shared memory with bulk copies (two stages: the next tile is in flight while this
// one is used), the block scores it, updates an online softmax per head and accumulates V in
// registers. It writes its (max, sum, unnormalised out) partial; the last block of each
// (sequence, head tile) to finish combines all slices into `out` (log-sum-exp).
// HPV: register slots for the tile's query heads that share one V head (>= min(gv, tile)).
// Dynamic smem: 2 stages x tile_keys x (DQK + nvg_max*DV) elements of T.
constexpr int kSplitTileMax = 128;
template <class T, int DQK, int DV, int HPV>
__global__ void __launch_bounds__(kThreads, 2) split_kv_kernel(const Geometry g, const Buffers buf) {
    extern __shared__ __align__(128) unsigned char stage_mem[];
    __shared__ float s_s[kMaxTileHeads][kSplitTileMax];  // scores -> probabilities
    __shared__ __align__(16) float q_s[kMaxTileHeads][DQK];
    __shared__ __align__(16) float4 red4[kThreads];
    __shared__ float m_s[kMaxTileHeads], l_s[kMaxTileHeads], alpha_s[kMaxTileHeads], inv_s[kMaxTileHeads];
    __shared__ __align__(8) uint64_t full_bar[2];
    __shared__ int last_s;

    const TileCoord c = tile_coord(g, buf);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int TK = g.tile_keys;
    const int vh_first = c.h0 / g.gv, vh_last = (c.h0 + c.nh - 1) / g.gv;
    const int nvg = vh_last - vh_first + 1;
    const size_t stage_elems = size_t(TK) * (DQK + g.nvg_max * DV);
    T* const stage0 = reinterpret_cast<T*>(stage_mem);
    auto stage_k = [&](int st) { return stage0 + st * stage_elems; };
    const T* kbase = static_cast<const T*>(buf.k) + (size_t(c.b) * g.n_k + c.kh) * g.max_ctx * DQK;
    const T* vbase0 = static_cast<const T*>(buf.v) + (size_t(c.b) * g.n_v + vh_first) * g.max_ctx * DV;
    const int n_tiles = (c.t_end - c.t_begin + TK - 1) / TK;

    auto issue = [&](int i) {  // one thread: tile i into stage i & 1
        const int st = i & 1, t0 = c.t_begin + i * TK, n = min(TK, c.t_end - t0);
        const uint32_t kb = uint32_t(n) * DQK * sizeof(T), vb = uint32_t(n) * DV * sizeof(T);
        mbar_expect_tx(&full_bar[st], kb + nvg * vb);
        bulk_g2s(stage_k(st), kbase + size_t(t0) * DQK, kb, &full_bar[st]);
        T* vdst = stage_k(st) + size_t(TK) * DQK;
        for (int j = 0; j < nvg; ++j)
            bulk_g2s(vdst + size_t(j) * TK * DV, vbase0 + (size_t(j) * g.max_ctx + t0) * DV, vb, &full_bar[st]);
    };
    if (tid == 0) {
        mbar_init(&full_bar[0], 1);
        mbar_init(&full_bar[1], 1);
        mbar_fence_init();
        if (n_tiles > 0) issue(0);
        if (n_tiles > 1) issue(1);
    }
    if (tid < kMaxTileHeads) {
        m_s[tid] = -INFINITY;
        l_s[tid] = 0.0f;
    }
    load_q<DQK>(g, buf, c.b, c.h0, c.nh, q_s);

    // V role: column vcol of V head (vh_first + vj), keys vslot, vslot + vslots, ...
    constexpr int NLV = DV / 8;
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
    __syncthreads();

    for (int i = 0; i < n_tiles; ++i) {
        const int st = i & 1, n = min(TK, c.t_end - (c.t_begin + i * TK));
        mbar_wait(&full_bar[st], (i >> 1) & 1);
        score_tile<T, DQK, kSplitTileMax, true>(stage_k(st), n, q_s, s_s, c.nh);
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
            __syncwarp();
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
            const T* vs = stage_k(st) + size_t(TK) * DQK + size_t(vj) * TK * DV + vcol * 8;
#pragma unroll 4
            for (int t = vslot; t < n; t += vslots) {
                float vf[8];
                cvt8<T>(*reinterpret_cast<const uint4*>(vs + t * DV), vf);
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
        __syncthreads();  // stage st and s_s free again
        if (tid == 0 && i + 2 < n_tiles) issue(i + 2);
    }

    // Reduce the V accumulators over vslots and write this slice's partials.
    float* red = reinterpret_cast<float*>(red4);  // kThreads * 4 floats: two rounds of 4 per head
    const size_t row0 = size_t(c.b) * g.n_q;
#pragma unroll
    for (int j = 0; j < HPV; ++j) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            if (vactive)
                red4[tid] = make_float4(acc[j][4 * half], acc[j][4 * half + 1], acc[j][4 * half + 2], acc[j][4 * half + 3]);
            __syncthreads();
            for (int o = tid; o < nvg * DV / 2; o += kThreads) {
                const int oj = o / (DV / 2), dd = o % (DV / 2);  // dd: index among this half's dims
                const int d = (dd / 4) * 8 + 4 * half + dd % 4;
                const int ovh = vh_first + oj;
                const int ohb = max(c.h0, ovh * g.gv);
                const int ohc = min(c.h0 + c.nh, (ovh + 1) * g.gv) - ohb;
                if (j < ohc) {
                    float sum = 0.0f;
                    for (int sl = 0; sl < vslots; ++sl) sum += red[((sl * nvg + oj) * NLV + d / 8) * 4 + dd % 4];
                    buf.part_o[((row0 + ohb + j) * g.n_splits + c.split) * DV + d] = sum;
                }
            }
            __syncthreads();
        }
    }
    if (tid < c.nh) buf.part_ml[(row0 + c.h0 + tid) * g.n_splits + c.split] = make_float2(m_s[tid], l_s[tid]);

    // Last block of this (sequence, head tile) combines the slices (log-sum-exp).
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        int* counter = buf.counters + 2 * (size_t(c.b) * gridDim.y + blockIdx.y);
        const int ticket = atomicAdd(counter, 1);
        last_s = ticket == g.n_splits - 1;
        if (last_s) *counter = 0;  // ready for the next call
    }
    __syncthreads();
    if (!last_s) return;
    __threadfence();
    float* wts = reinterpret_cast<float*>(stage_mem);  // [kMaxTileHeads][kMaxSplits]; stages are idle now
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
    // Thread (o4, r): a float4 of one head's output over slices r, r + R, ...; then a sum over r.
    const int n_out4 = c.nh * DV / 4, R = kThreads / n_out4;
    const int o4 = tid % n_out4, r = tid / n_out4;
    float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < R) {
        const int hl = o4 / (DV / 4), d4 = o4 % (DV / 4);
        const float4* po = reinterpret_cast<const float4*>(buf.part_o + (row0 + c.h0 + hl) * g.n_splits * DV) + d4;
        const float* w = wts + hl * kMaxSplits;
        int s = r;
        for (; s + 7 * R < g.n_splits; s += 8 * R) {
            float4 v[8];
#pragma unroll
            for (int u = 0; u < 8; ++u) v[u] = __ldcg(po + size_t(s + u * R) * (DV / 4));
#pragma unroll
            for (int u = 0; u < 8; ++u) {
                const float wu = w[s + u * R];
                a.x = fmaf(v[u].x, wu, a.x);
                a.y = fmaf(v[u].y, wu, a.y);
                a.z = fmaf(v[u].z, wu, a.z);
                a.w = fmaf(v[u].w, wu, a.w);
            }
        }
        for (; s < g.n_splits; s += R) {
            const float4 v = __ldcg(po + size_t(s) * (DV / 4));
            const float wu = w[s];
            a.x = fmaf(v.x, wu, a.x);
            a.y = fmaf(v.y, wu, a.y);
            a.z = fmaf(v.z, wu, a.z);
            a.w = fmaf(v.w, wu, a.w);
        }
    }
    red4[tid] = a;
    __syncthreads();
    if (tid < n_out4) {
        float4 sum = red4[tid];
        for (int rr = 1; rr < R; ++rr) {
            const float4 v = red4[rr * n_out4 + tid];
            sum.x += v.x;
            sum.y += v.y;
            sum.z += v.z;
            sum.w += v.w;
        }
        const int hl = tid / (DV / 4), d4 = tid % (DV / 4);
        const float inv = inv_s[hl];
        reinterpret_cast<float4*>(buf.out + (row0 + c.h0 + hl) * DV)[d4] =
            make_float4(sum.x * inv, sum.y * inv, sum.z * inv, sum.w * inv);
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
        score_tile<T, DQK, kTileKeys, false>(kbase + size_t(t0) * DQK, n, q_s, s_s, c.nh);
        __syncthreads();
        if (warp < c.nh) {
            float* dst = buf.scores + (row0 + c.h0 + warp) * g.score_stride + t0;
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
// Grid (n_q, B), kTopkThreads threads. With M the head's max score (from the slice statistics),
// pass 1 histograms every key by bin = topk_bin(M, s) (below), which finds the bin B holding the
// k-th largest; pass 2 takes every key in a bin above B and gathers B's keys as candidates,
// ranked exactly among themselves (ties: lower position first). Scores are cached in dynamic
// shared memory when they fit. If B holds more than kTopkCandCap keys (near-constant scores), a
// radix select on the score bits inside B decides.
constexpr int kTopkCandCap = 1024;
constexpr int kGatherCap = 2048;  // gather fast path: (row, head) entries staged in smem

// Bin of score v of a head whose maximum is M, larger scores in lower bins: the float bits of
// d = M - v (log2 units) above the 17 low ones, i.e. 64 bins per octave of d, from d = 2^-10
// (bin 0 holds every d below) to 2^22 (the last bin holds every d above). A bin is <= 1/64 of
// d wide, so the bins around the k-th score stay narrow however far below the maximum it lies.
// (The previous bins, (M - v) * 64 up to 32 log2 units, put every key of a wide distribution,
// e.g. a model with random weights, into the last bin and sent the select to the radix path:
// 1.5-2.7x slower at 16K-128K; bench_attention's "*_wide" variants.) Monotone in v.
constexpr int kTopkMinExp = 127 - 10;  // biased exponent of the first bin's d, 2^-10
__device__ __forceinline__ int topk_bin(float M, float v) {
    const float d = fmaxf(M - v, 0.0f);
    const int b = int(__float_as_uint(d) >> 17) - (kTopkMinExp << 6);
    return min(max(b, 0), kTopkBins - 1);
}

// Radix select among the keys of the threshold bin B (the rare case of more candidates in B
// than fit the exact ranking: near-constant scores), shared by topk_kernel and
// select_gather_kernel. Three passes over the keys (11, 11 and 10 bits of order_key(score), most
// significant first) find the key of the k_left-th largest score in B. Returns that key and
// leaves in k_left how many keys equal to it are still to take (every key of B above it is in).
// Called by all NT threads of the block (2 * NT == kTopkBins); score(i) is key i's score,
// i < len; hist (kTopkBins ints), digit_s, above_s and scan_tmp are shared memory.
template <int NT, class Scan, class ScoreAt>
__device__ __forceinline__ uint32_t radix_select_bin(int len, float M, int B, int& k_left, int* hist, int& digit_s,
                                                     int& above_s, typename Scan::TempStorage& scan_tmp, const ScoreAt& score) {
    static_assert(2 * NT == kTopkBins, "each thread owns two radix bins");
    const int tid = threadIdx.x;
    uint32_t prefix = 0, mask = 0;
    int kr = k_left;  // a local in the loop, as when this code was written inline in both kernels
    for (int pass = 0; pass < 3; ++pass) {
        const int shift = pass == 0 ? 21 : (pass == 1 ? 10 : 0);
        const uint32_t dmask = pass == 2 ? 0x3ffu : 0x7ffu;
        for (int i = tid; i < kTopkBins; i += NT) hist[i] = 0;
        __syncthreads();
        for (int i = tid; i < len; i += NT) {
            const float v = score(i);
            const uint32_t key = order_key(v);
            if (topk_bin(M, v) == B && (key & mask) == prefix) atomicAdd(&hist[(key >> shift) & dmask], 1);
        }
        __syncthreads();
        const int c0 = hist[kTopkBins - 1 - 2 * tid], c1 = hist[kTopkBins - 2 - 2 * tid];
        int excl;
        Scan(scan_tmp).ExclusiveSum(c0 + c1, excl);
        if (excl < kr && excl + c0 + c1 >= kr) {
            digit_s = excl + c0 >= kr ? kTopkBins - 1 - 2 * tid : kTopkBins - 2 - 2 * tid;
            above_s = excl + c0 >= kr ? excl : excl + c0;
        }
        __syncthreads();
        prefix |= uint32_t(digit_s) << shift;
        mask |= dmask << shift;
        kr -= above_s;
        __syncthreads();
    }
    k_left = kr;
    return prefix;
}

template <class T>
__global__ void __launch_bounds__(kTopkThreads, 1) topk_kernel(const Geometry g, const Buffers buf, int cache_cap) {
    extern __shared__ float cache[];
    __shared__ int hist[kTopkBins];
    __shared__ int cand_i[kTopkCandCap];
    __shared__ float cand_v[kTopkCandCap];
    __shared__ float M_s;
    __shared__ int sel_s, above_s, count_s, ncand_s, ties_s;
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
        if (lane == 0) {
            buf.head_ml[row] = make_float2(M, L);
            M_s = M;
        }
    }
    int* out_idx = buf.idx + row * g.selective_v;
    if (g.selective_v >= len) {  // everything is selected
        for (int i = tid; i < len; i += kTopkThreads) out_idx[i] = i;
        return;
    }
    const float* src = buf.scores + row * g.score_stride;
    const bool cached = len <= cache_cap;
    for (int i = tid; i < kTopkBins; i += kTopkThreads) hist[i] = 0;
    if (tid == 0) {
        count_s = 0;
        ncand_s = 0;
        ties_s = 0;
    }
    __syncthreads();
    const float M = M_s;
    for (int i = tid; i < len; i += kTopkThreads) {
        const float v = src[i];
        if (cached) cache[i] = v;
        atomicAdd(&hist[topk_bin(M, v)], 1);
    }
    __syncthreads();
    {  // bin B: thread t owns bins 2t and 2t+1 (descending scores)
        const int c0 = hist[2 * tid], c1 = hist[2 * tid + 1];
        int excl;
        Scan(scan_tmp).ExclusiveSum(c0 + c1, excl);
        if (excl < g.selective_v && excl + c0 + c1 >= g.selective_v) {
            sel_s = excl + c0 >= g.selective_v ? 2 * tid : 2 * tid + 1;
            above_s = excl + c0 >= g.selective_v ? excl : excl + c0;
        }
    }
    __syncthreads();
    const int B = sel_s, krem = g.selective_v - above_s, nB = hist[B];
    for (int i = tid; i < len; i += kTopkThreads) {
        const float v = cached ? cache[i] : src[i];
        const int bin = topk_bin(M, v);
        if (bin < B) {
            out_idx[atomicAdd(&count_s, 1)] = i;
        } else if (bin == B && nB <= kTopkCandCap) {
            const int c = atomicAdd(&ncand_s, 1);
            cand_i[c] = i;
            cand_v[c] = v;
        }
    }
    __syncthreads();
    if (nB <= kTopkCandCap) {
        for (int c = tid; c < nB; c += kTopkThreads) {
            const float v = cand_v[c];
            const int i = cand_i[c];
            int rank = 0;
            for (int o = 0; o < nB; ++o) {
                const float w = cand_v[o];
                rank += (w > v) || (w == v && cand_i[o] < i);
            }
            if (rank < krem) out_idx[atomicAdd(&count_s, 1)] = i;
        }
        return;
    }
    // Rare: radix select among the keys of bin B.
    int kr = krem;
    const uint32_t prefix = radix_select_bin<kTopkThreads, Scan>(len, M, B, kr, hist, sel_s, above_s, scan_tmp,
                                                                 [&](int i) { return cached ? cache[i] : src[i]; });
    for (int i = tid; i < len; i += kTopkThreads) {
        const float v = cached ? cache[i] : src[i];
        if (topk_bin(M, v) != B) continue;
        const uint32_t key = order_key(v);
        bool take = key > prefix;
        if (key == prefix) take = atomicAdd(&ties_s, 1) < kr;
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
    const bool all = g.selective_v >= len;
    const int kk = all ? len : g.selective_v;
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
                const int t = buf.idx[(hrow0 + e / kk) * g.selective_v + e % kk];
                const uint32_t bit = 1u << (t & 31);
                if (!(atomicOr(&bitmap[t >> 5], bit) & bit)) ulist[atomicAdd(&n_union_s, 1)] = t;
            }
            __syncthreads();
            n_rows = n_union_s;
            list = ulist;
        }
    }

    // Fast path: stage every (row, head) weight in shared memory first (one round of dependent
    // loads: index -> score), then stream the V rows with many loads in flight.
    __shared__ int e_t[kGatherCap];
    __shared__ float e_p[2 * kGatherCap];
    const int n_entries = UNION ? n_rows : g.gv * kk;
    if (g.gv <= HPV && n_entries <= kGatherCap && (!UNION || n_rows * g.gv <= 2 * kGatherCap)) {
        for (int e = tid; e < n_entries; e += kThreads) {
            if constexpr (UNION) {
                const int t = list ? list[e] : e;
                e_t[e] = t;
                for (int j = 0; j < g.gv; ++j) {
                    const float2 ml = buf.head_ml[hrow0 + j];
                    const float inv = ml.y > 0.0f ? 1.0f / ml.y : 0.0f;
                    e_p[j * n_rows + e] = exp2f(buf.scores[(hrow0 + j) * g.score_stride + t] - ml.x) * inv;
                }
            } else {
                const int j = e / kk, r = e % kk;
                const int t = all ? r : buf.idx[(hrow0 + j) * g.selective_v + r];
                const float2 ml = buf.head_ml[hrow0 + j];
                const float inv = ml.y > 0.0f ? 1.0f / ml.y : 0.0f;
                e_t[e] = t;
                e_p[e] = exp2f(buf.scores[(hrow0 + j) * g.score_stride + t] - ml.x) * inv;
            }
        }
        __syncthreads();
        float acc[HPV][8];
#pragma unroll
        for (int j = 0; j < HPV; ++j)
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[j][e] = 0.0f;
        constexpr int BATCH = 8;
        for (int e0 = slot; e0 < n_entries; e0 += BATCH * SLOTS) {
            uint4 vv[BATCH];
#pragma unroll
            for (int i = 0; i < BATCH; ++i) {
                const int e = e0 + i * SLOTS;
                vv[i] = e < n_entries ? ld16(vbase + size_t(e_t[e]) * DV) : make_uint4(0, 0, 0, 0);
            }
#pragma unroll
            for (int i = 0; i < BATCH; ++i) {
                const int e = e0 + i * SLOTS;
                if (e >= n_entries) continue;
                float vf[8];
                cvt8<T>(vv[i], vf);
                if constexpr (UNION) {
#pragma unroll
                    for (int j = 0; j < HPV; ++j) {
                        if (j < g.gv) {
                            const float p = e_p[j * n_rows + e];
#pragma unroll
                            for (int d = 0; d < 8; ++d) acc[j][d] = fmaf(p, vf[d], acc[j][d]);
                        }
                    }
                } else {
                    const int je = e / kk;
                    const float p = e_p[e];
#pragma unroll
                    for (int j = 0; j < HPV; ++j) {
                        if (j == je) {
#pragma unroll
                            for (int d = 0; d < 8; ++d) acc[j][d] = fmaf(p, vf[d], acc[j][d]);
                        }
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
            if (j < g.gv) {
                for (int d = tid; d < DV; d += kThreads) {
                    float sum = 0.0f;
                    for (int sl = 0; sl < SLOTS; ++sl) sum += red[(sl * NL + d / 8) * 8 + d % 8];
                    buf.out[(hrow0 + j) * DV + d] = sum;
                }
            }
        }
        return;
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
                            const float p = exp2f(buf.scores[(hrow0 + hb + j) * g.score_stride + tt[i]] - M[j]) * inv[j];
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
                const int* hidx = buf.idx + (hrow0 + hb + j) * g.selective_v;
                const float* hs = buf.scores + (hrow0 + hb + j) * g.score_stride;
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

}  // namespace sigmaops::kernels::attn

#include "decode_attention_fast.cuh"

namespace sigmaops::kernels::attn {

// ---- per-configuration launcher ------------------------------------------------------------

struct Plan {
    Geometry g;
    Buffers buf;
    int hpv_split;     // register slots per V head in split_kv_kernel
    int hpv_gather;    // register slots per V head in gather_kernel
    int topk_cache;    // scores cached in smem by topk_kernel (elements)
    size_t union_smem; // dynamic smem of the union gather
    int sel_cache;     // select_gather_kernel: scores cached in smem (elements, multiple of 4)
    int sel_words;     // select_gather_kernel: bitmap words (ceil(max_len / 32))
    int sel_groups;    // select_gather_kernel: group maxima of one head in smem (multiple of 4)
    int sel_hpb;       // select_gather_kernel: query heads per block (1, or gv for the union)
    cudaStream_t stream;
};

inline Status cuda_status(const char* what, cudaError_t e) {
    if (e == cudaSuccess) return {};
    return {std::string("decode_attention: ") + what + ": " + cudaGetErrorString(e)};
}

constexpr int kSplitStageBytes = 96 * 1024;  // both stages of split_kv_kernel (2 blocks per SM)
template <class T, int DQK, int DV, int HPV>
inline cudaError_t launch_split(const Plan& p, dim3 grid) {
    static bool configured = false;  // host-side, per instantiation
    if (!configured) {
        cudaError_t e = cudaFuncSetAttribute(split_kv_kernel<T, DQK, DV, HPV>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, kSplitStageBytes);
        if (e != cudaSuccess) return e;
        // Two blocks per SM need the largest shared-memory carveout; by default the driver may
        // pick a smaller one that fits only one.
        e = cudaFuncSetAttribute(split_kv_kernel<T, DQK, DV, HPV>, cudaFuncAttributePreferredSharedMemoryCarveout,
                                 int(cudaSharedmemCarveoutMaxShared));
        if (e != cudaSuccess) return e;
        configured = true;
    }
    const size_t smem = 2 * size_t(p.g.tile_keys) * (DQK + p.g.nvg_max * DV) * sizeof(T);
    split_kv_kernel<T, DQK, DV, HPV><<<grid, kThreads, smem, p.stream>>>(p.g, p.buf);
    return cudaGetLastError();
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
// Tensor-core kernels: 16-byte loads in flight per lane, about 32 uint4 (see fast_split_kernel).
template <int DQK, int DV, int NVG>
constexpr int fast_chunk_units() {
    constexpr int per_unit = 2 * (DQK / 32) + NVG * 4 * (DV / 64);
    constexpr int n = 32 / per_unit;
    return n >= 4 ? 4 : (n >= 2 ? 2 : 1);
}
// Launch with the programmatic-serialization attribute when the call asked for PDL (Geometry::pdl;
// the kernels then wait for their predecessor before reading its outputs).
template <class... KArgs, class... Args>
inline cudaError_t launch_ex(const Plan& p, void (*kernel)(KArgs...), dim3 grid, int threads, size_t smem,
                             Args... args) {
    cudaLaunchAttribute attr;
    cudaLaunchConfig_t cfg = pdl_launch_config(grid, dim3(unsigned(threads)), smem, p.stream, p.g.pdl, attr);
    if (!p.g.pdl) {  // as before PDL
        kernel<<<grid, threads, smem, p.stream>>>(args...);
        return cudaGetLastError();
    }
    const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, args...);
    return e != cudaSuccess ? e : cudaGetLastError();
}
template <class T, int DQK, int DV, int NVG, bool DYN>
inline cudaError_t launch_fast_variant(const Plan& p, dim3 grid) {
    constexpr int CH = fast_chunk_units<DQK, DV, NVG>();
    return launch_ex(p, fast_split_kernel<T, DQK, DV, NVG, CH, false, DYN>, grid, kFastThreads, 0, p.g, p.buf);
}
template <class T, int DQK, int DV, int NVG>
inline cudaError_t launch_fast(const Plan& p, dim3 grid) {
    return SIGMAOPS_BOOL_SWITCH(p.g.dyn, DYN, [&] { return launch_fast_variant<T, DQK, DV, NVG, DYN>(p, grid); });
}
template <class T, int DQK, int DV>
Status run_fast(const Plan& p, dim3 grid) {
    if (p.g.selective_v == 0) {
        // V-head slots: 1, 2 or 4 (DV 64) / 1 or 2 (DV 128: accumulator registers)
        auto launch = [&](auto nvg) { return launch_fast<T, DQK, DV, decltype(nvg)::value>(p, grid); };
        const cudaError_t e = DV == 64 ? static_switch<1, 2, 4>(p.g.fast_nvg, launch) : static_switch<1, 2>(p.g.fast_nvg, launch);
        return cuda_status("fast_split_kernel launch", e);
    }
    constexpr int CHS = DQK == 64 ? 8 : 4;  // scores only: 32 uint4 of K rows in flight per lane
    if (Status s = cuda_status("fast scores launch",
                               launch_ex(p, fast_split_kernel<T, DQK, DV, 1, CHS, true>, grid, kFastThreads, 0, p.g, p.buf));
        !s.ok())
        return s;
    static bool configured = false;  // host-side, per instantiation
    if (!configured) {
        const cudaError_t e = cudaFuncSetAttribute(select_gather_kernel<T, DV>,
                                                   cudaFuncAttributeMaxDynamicSharedMemorySize, kSelDynBytes);
        if (e != cudaSuccess) return cuda_status("select_gather_kernel attribute", e);
        configured = true;
    }
    const size_t smem = (size_t(p.sel_groups) + size_t(p.sel_cache) + 2 * size_t(p.sel_words)) * 4;
    return cuda_status("select_gather_kernel launch",
                       launch_ex(p, select_gather_kernel<T, DV>, dim3(p.g.n_q / p.sel_hpb, p.g.batch), kSelThreads,
                                 smem, p.g, p.buf, p.sel_groups, p.sel_cache, p.sel_words, p.sel_hpb));
}

template <class T, int DQK, int DV>
Status run_config(const Plan& p, bool union_gather) {
    const dim3 grid(p.g.n_splits, p.g.n_k * p.g.tiles_per_group, p.g.batch);
    if (p.g.fast) return run_fast<T, DQK, DV>(p, grid);
    if (p.g.selective_v == 0) {
        const cudaError_t e = static_switch<1, 2, 4, 8>(
            p.hpv_split, [&](auto hpv) { return launch_split<T, DQK, DV, decltype(hpv)::value>(p, grid); });
        return cuda_status("split_kv_kernel launch", e);
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
    const cudaError_t e = static_switch<1, 2, 4, 8>(
        p.hpv_gather, [&](auto hpv) { return launch_gather<T, DV, decltype(hpv)::value>(p, union_gather); });
    return cuda_status("gather_kernel launch", e);
}

}  // namespace sigmaops::kernels::attn

#define SIGMAOPS_DECODE_ATTENTION_CONFIG(T, DQK, DV) \
    template sigmaops::kernels::Status sigmaops::kernels::attn::run_config<T, DQK, DV>(const Plan&, bool);
