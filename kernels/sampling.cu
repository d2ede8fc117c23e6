// Token sampling on the GPU (kernels.h, sample): the CPU sampler's steps (engine/src/sampling.cpp)
// where the logits live, so only the token id crosses to the host: repetition penalty, greedy
// argmax, temperature, top-k, min-p, top-p, then one seeded draw.
//
// One block of 1024 threads over the whole vocabulary, no sort. Every filter of the CPU sampler
// keeps a prefix of the candidates in the order (logit descending, index ascending), so each is
// a "cut": the elements whose order key (the logit's bits made monotone) is above a boundary key,
// plus the first `ties` elements (by index) equal to it. top-k finds its boundary by a radix
// select on counts (4 passes of 8 bits), top-p by a radix select on probability mass, min-p is a
// threshold on the weight. Weights w = exp((l - max) / T) are summed in 2^-40 fixed point, so
// every sum is exact and independent of the order of the atomics: a seed reproduces a draw.
// Passes that need index order give each warp a contiguous range of the vocabulary (lanes stride
// through it, ties ranked by ballot), which keeps the loads coalesced.
// Cost: about 14 passes over the logits by one block, a large share of a decode step for a
// 128K-token vocabulary (docs/benchmarks.md). So with top-k on (0 < top_k <= kCand, the defaults) and a workspace, the
// vocabulary is first cut to candidates by the whole GPU: each block of 1024 logits sorts its
// (key, index) pairs (bitonic, in shared memory) and keeps its top_k in index order; the global
// top_k are among them (a token's rank in its block is at most its rank overall, ties included,
// since lower indices win both). The one-block pass then runs on the ~V/16 candidates with an
// index map: the same kept set, the same order, the same fixed-point sums, so the same token
// as the full pass for any seed (test_gpu_sampling checks it draw for draw).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels.h"

namespace sigmaops::kernels {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarpsS = kThreads / 32;
constexpr int kCandBlock = 1024;           // logits per candidate block
constexpr int kCand = 64;                  // candidate slots per block (top_k <= kCand)
constexpr float kFix = 1099511627776.0f;   // 2^40: weights (<= 1) in fixed point
using u64 = unsigned long long;

__device__ __forceinline__ uint32_t ord_key(float v) {
    const uint32_t b = __float_as_uint(v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float key_float(uint32_t k) {
    return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// Kept: key > key_b, or key == key_b and rank among those ties (by index) < ties. all: every
// non-NaN element.
struct Cut {
    uint32_t key = 0;
    int ties = 0;
    bool all = true;
};

__device__ __forceinline__ u64 warp_max(u64 v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ u64 warp_incl_scan(u64 v, int lane) {
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const u64 n = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += n;
    }
    return v;
}

struct Shared {
    unsigned int count[256];
    u64 mass[256];
    u64 warp_val[kWarpsS];      // per-warp partials
    u64 warp_base[kWarpsS];     // exclusive prefix of warp_val
    u64 total;
    uint32_t prefix;
    long long rem;              // count or mass still to take below the chosen bins
    int found;
    u64 bin_count;
};

// warp_base[w] = sum of warp_val[< w]; total = the sum. Call with every thread; ends synced.
__device__ void scan_warps(Shared& s) {
    __syncthreads();
    if (threadIdx.x < 32) {
        const int lane = threadIdx.x;
        const u64 v = s.warp_val[lane];
        const u64 incl = warp_incl_scan(v, lane);
        s.warp_base[lane] = incl - v;
        if (lane == 31) s.total = incl;
    }
    __syncthreads();
}

// Radix step on warp 0: over bins 255..0 (largest keys first), finds the first bin b at which
// `above + cum + val[b] >= need` (val = count or mass); sets prefix |= b << shift,
// rem = need - above - cum (what remains to take inside bin b), bin_count = count[b].
// found = 0 when even all bins do not reach `need`.
template <bool kMass>
__device__ void pick_bin(Shared& s, int shift, long long need) {
    if (threadIdx.x >= 32) return;
    const int lane = threadIdx.x;
    u64 v[8], sum = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const int b = 255 - (lane * 8 + i);
        v[i] = kMass ? s.mass[b] : u64(s.count[b]);
        sum += v[i];
    }
    const u64 incl = warp_incl_scan(sum, lane);
    const unsigned hit = __ballot_sync(0xffffffffu, (long long)incl >= need);
    if (hit == 0) {
        if (lane == 0) s.found = 0;
        return;
    }
    const int first = __ffs(hit) - 1;
    if (lane == first) {
        long long cum = (long long)(incl - sum);
        int i = 0;
        for (; i < 7; ++i) {
            if (cum + (long long)v[i] >= need) break;
            cum += (long long)v[i];
        }
        const int b = 255 - (lane * 8 + i);
        s.prefix |= uint32_t(b) << shift;
        s.rem = need - cum;
        s.bin_count = s.count[b];
        s.found = 1;
    }
}

__device__ __forceinline__ u64 weight_fix(float v, float mval, float inv_t_log2) {
    const float w = exp2f((v - mval) * inv_t_log2);
    return u64(w * kFix);
}

// The token the kernel picked: position i of the array it sampled, or the token id there.
__device__ __forceinline__ void emit(const SampleParams& p, int i) { *p.out = p.index_map ? p.index_map[i] : i; }

__global__ void __launch_bounds__(kThreads) sample_kernel(const SampleParams p) {
    __shared__ Shared s;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int V = p.n_vocab;
    float* x = p.logits;
    const unsigned lt_mask = (1u << lane) - 1u;
    const int range = (V + kWarpsS - 1) / kWarpsS;       // contiguous vocabulary range per warp
    const int w_lo = warp * range, w_hi = min(V, w_lo + range);

    // Repetition penalty (ids are distinct): divide positive logits, multiply negative ones.
    if (p.repeat_penalty != 1.0f)
        for (int i = tid; i < p.n_penalty; i += kThreads) {
            const int id = p.penalty_ids[i];
            if (id < 0 || id >= V) continue;
            const float l = x[id];
            x[id] = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
        }
    __syncthreads();

    // Largest logit (first index on ties; NaN never wins).
    u64 best = 0;
    for (int i = tid; i < V; i += kThreads) {
        const float v = x[i];
        if (v == v) best = max(best, (u64(ord_key(v)) << 32) | u64(0xffffffffu - uint32_t(i)));
    }
    best = warp_max(best);
    if (lane == 0) s.warp_val[warp] = best;
    __syncthreads();
    if (tid < 32) {
        u64 b = warp_max(s.warp_val[tid]);
        if (tid == 0) s.total = b;
    }
    __syncthreads();
    best = s.total;
    const int arg = best == 0 ? 0 : int(0xffffffffu - uint32_t(best & 0xffffffffu));
    if (p.temperature <= 0.0f || best == 0) {
        if (tid == 0) emit(p, arg);
        return;
    }
    const float mval = key_float(uint32_t(best >> 32));
    const float inv_t_log2 = 1.4426950408889634f / p.temperature;

    // ---- top-k: the k-th largest key by a radix select on counts ----
    Cut ck;
    if (p.top_k > 0 && p.top_k < V) {
        if (tid == 0) s.prefix = 0;
        uint32_t mask = 0;
        long long need = p.top_k;
        for (int shift = 24; shift >= 0; shift -= 8) {
            __syncthreads();
            const uint32_t prefix = s.prefix;
            if (tid < 256) s.count[tid] = 0;
            __syncthreads();
            for (int i = tid; i < V; i += kThreads) {
                const float v = x[i];
                const uint32_t k = ord_key(v);
                if (v == v && (k & mask) == prefix) atomicAdd(&s.count[(k >> shift) & 255u], 1u);
            }
            __syncthreads();
            pick_bin<false>(s, shift, need);
            __syncthreads();
            need = s.rem;
            mask |= 255u << shift;
        }
        ck.key = s.prefix;
        ck.ties = int(need);
        ck.all = false;
    }
    __syncthreads();

    // Per-warp rank base of the ties at c.key (ordered passes rank them by index).
    auto tie_bases = [&](const Cut& c) {
        u64 n = 0;
        if (!c.all)
            for (int i0 = w_lo; i0 < w_hi; i0 += 32) {
                const int i = i0 + lane;
                const bool tie = i < w_hi && x[i] == x[i] && ord_key(x[i]) == c.key;
                n += __popc(__ballot_sync(0xffffffffu, tie));
            }
        if (lane == 0) s.warp_val[warp] = n;
        scan_warps(s);
    };
    // Calls f(i, v, key, in_cut) for i in this warp's range in index order (whole warp, every
    // lane every iteration; i >= w_hi gives in_cut false). Needs tie_bases(c) first.
    auto ordered = [&](const Cut& c, auto&& f) {
        u64 run = s.warp_base[warp];
        for (int i0 = w_lo; i0 < w_hi; i0 += 32) {
            const int i = i0 + lane;
            const bool valid = i < w_hi;
            const float v = valid ? x[i] : 0.0f;
            const uint32_t k = ord_key(v);
            const bool real = valid && v == v;
            const bool tie = real && !c.all && k == c.key;
            const unsigned bal = __ballot_sync(0xffffffffu, tie);
            const u64 rank = run + __popc(bal & lt_mask);
            run += __popc(bal);
            const bool in = real && (c.all || k > c.key || (tie && rank < u64(c.ties)));
            f(i, v, k, in);
        }
    };

    // ---- Z: the mass of the top-k set ----
    tie_bases(ck);
    u64 z = 0;
    ordered(ck, [&](int, float v, uint32_t, bool in) {
        if (in) z += weight_fix(v, mval, inv_t_log2);
    });
    __syncthreads();   // warp_base is read above, rewritten below
    for (int o = 16; o > 0; o >>= 1) z += __shfl_xor_sync(0xffffffffu, z, o);
    if (lane == 0) s.warp_val[warp] = z;
    scan_warps(s);
    const u64 z_total = s.total;
    tie_bases(ck);   // restore the top-k tie bases for the passes below

    const float min_p = p.min_p;
    auto kept_min_p = [&](float v) { return min_p <= 0.0f || exp2f((v - mval) * inv_t_log2) >= min_p; };

    // ---- top-p: the shortest prefix of S' = top-k and min-p whose mass reaches top_p * Z ----
    Cut cut = ck;
    if (p.top_p < 1.0f) {
        const long long target = (long long)ceil(double(p.top_p) * double(z_total));
        if (tid == 0) { s.prefix = 0; s.found = 1; }
        uint32_t mask = 0;
        long long need = target;
        for (int shift = 24; shift >= 0; shift -= 8) {
            __syncthreads();
            const uint32_t prefix = s.prefix;
            if (tid < 256) { s.count[tid] = 0; s.mass[tid] = 0; }
            __syncthreads();
            ordered(ck, [&](int, float v, uint32_t k, bool in) {
                if (in && (k & mask) == prefix && kept_min_p(v)) {
                    atomicAdd(&s.count[(k >> shift) & 255u], 1u);
                    atomicAdd(&s.mass[(k >> shift) & 255u], weight_fix(v, mval, inv_t_log2));
                }
            });
            __syncthreads();
            pick_bin<true>(s, shift, need);
            __syncthreads();
            if (!s.found) break;   // S' holds less than the target: keep all of it
            need = s.rem;
            mask |= 255u << shift;
        }
        __syncthreads();
        if (s.found) {
            const uint32_t kp = s.prefix;
            const u64 w = max(u64(1), weight_fix(key_float(kp), mval, inv_t_log2));
            long long nt = (need + (long long)w - 1) / (long long)w;
            nt = max(1LL, min(nt, (long long)s.bin_count));
            cut.key = kp;
            cut.ties = int(nt);
            cut.all = false;
        }
        __syncthreads();
        tie_bases(cut);
    }

    // ---- draw: r uniform in [0, mass of the final set), found in index order ----
    const bool lower_ok_all = ck.all;
    const uint32_t lower_key = ck.key;
    auto final_w = [&](float v, uint32_t k, bool in) -> u64 {
        if (!in || !kept_min_p(v) || (!lower_ok_all && k < lower_key)) return 0;
        return weight_fix(v, mval, inv_t_log2);
    };
    u64 m = 0;
    ordered(cut, [&](int, float v, uint32_t k, bool in) { m += final_w(v, k, in); });
    for (int o = 16; o > 0; o >>= 1) m += __shfl_xor_sync(0xffffffffu, m, o);
    __syncthreads();
    if (lane == 0) s.warp_val[warp] = m;
    scan_warps(s);
    const u64 total = s.total;
    // splitmix64 of (seed, draw) -> 53-bit uniform in [0, 1).
    u64 h = p.seed * 0x9E3779B97F4A7C15ull + p.draw * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    const double u = double(h >> 11) * (1.0 / 9007199254740992.0);
    const u64 r = min(total - 1, u64(u * double(total)));
    const u64 wb = s.warp_base[warp];
    const u64 wv = s.warp_val[warp];
    // The ties' rank bases of the final cut are gone (warp_base now holds masses): recount them
    // locally while walking; only the warp holding r walks.
    if (total > 0 && r >= wb && r < wb + wv) {
        // Tie bases of `cut` for this warp: count the ties in the warps before it.
        u64 tie_base = 0;
        if (!cut.all)
            for (int i = lane; i < w_lo; i += 32) {
                const float v = x[i];
                tie_base += (v == v && ord_key(v) == cut.key) ? 1 : 0;
            }
        for (int o = 16; o > 0; o >>= 1) tie_base += __shfl_xor_sync(0xffffffffu, tie_base, o);
        u64 run_t = tie_base, run_m = wb;
        for (int i0 = w_lo; i0 < w_hi; i0 += 32) {
            const int i = i0 + lane;
            const bool valid = i < w_hi;
            const float v = valid ? x[i] : 0.0f;
            const uint32_t k = ord_key(v);
            const bool real = valid && v == v;
            const bool tie = real && !cut.all && k == cut.key;
            const unsigned bal = __ballot_sync(0xffffffffu, tie);
            const u64 rank = run_t + __popc(bal & lt_mask);
            run_t += __popc(bal);
            const bool in = real && (cut.all || k > cut.key || (tie && rank < u64(cut.ties)));
            const u64 w = final_w(v, k, in);
            const u64 incl = warp_incl_scan(w, lane);
            const unsigned hit = __ballot_sync(0xffffffffu, w > 0 && r < run_m + incl);
            if (hit) {
                if (lane == __ffs(hit) - 1) emit(p, i);
                return;
            }
            run_m += __shfl_sync(0xffffffffu, incl, 31);
        }
        if (lane == 0) emit(p, arg);   // not reached: r < the warp's mass
    }
}

// Repetition penalty alone (the candidate path applies it before cutting).
__global__ void penalty_kernel(const SampleParams p) {
    for (int i = threadIdx.x; i < p.n_penalty; i += blockDim.x) {
        const int id = p.penalty_ids[i];
        if (id < 0 || id >= p.n_vocab) continue;
        const float l = p.logits[id];
        p.logits[id] = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
    }
}

// Block b: logits [b * kCandBlock, ...) -> its top_k (logit, index) in index order at slots
// [b * kCand, b * kCand + kCand), NaN after them. Keys: (ordered logit, inverted index), unique.
__global__ void __launch_bounds__(kCandBlock) candidates_kernel(const float* x, int V, int k, float* cand_logit, int* cand_index) {
    __shared__ u64 keys[kCandBlock];
    __shared__ int warp_cnt[kCandBlock / 32];
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int i = blockIdx.x * kCandBlock + tid;
    const float v = i < V ? x[i] : 0.0f;
    const u64 key = (i < V && v == v) ? (u64(ord_key(v)) << 32) | u64(0xffffffffu - uint32_t(i)) : 0;
    keys[tid] = key;
    // Bitonic sort, descending.
    for (int size = 2; size <= kCandBlock; size <<= 1)
        for (int stride = size / 2; stride > 0; stride >>= 1) {
            __syncthreads();
            const int j = tid ^ stride;
            if (j > tid) {
                const u64 a = keys[tid], b = keys[j];
                const bool desc = (tid & size) == 0;
                if (desc ? a < b : a > b) { keys[tid] = b; keys[j] = a; }
            }
        }
    __syncthreads();
    const u64 kth = keys[k - 1];   // 0 when the block has fewer than k valid logits
    const bool sel = key != 0 && key >= kth;
    const unsigned bal = __ballot_sync(0xffffffffu, sel);
    if (lane == 0) warp_cnt[warp] = __popc(bal);
    __syncthreads();
    int base = 0, total = 0;
    for (int w = 0; w < kCandBlock / 32; ++w) {
        base += w < warp ? warp_cnt[w] : 0;
        total += warp_cnt[w];
    }
    float* out_l = cand_logit + (long long)blockIdx.x * kCand;
    int* out_i = cand_index + (long long)blockIdx.x * kCand;
    if (sel) {
        const int pos = base + __popc(bal & ((1u << lane) - 1u));
        out_l[pos] = v;
        out_i[pos] = i;
    }
    if (tid >= total && tid < kCand) {
        out_l[tid] = __int_as_float(0x7fc00000);   // NaN: never kept
        out_i[tid] = 0;
    }
}

int candidate_blocks(int n_vocab) { return (n_vocab + kCandBlock - 1) / kCandBlock; }

}  // namespace

std::size_t sample_workspace_bytes(int n_vocab) {
    return n_vocab < 1 ? 0 : std::size_t(candidate_blocks(n_vocab)) * kCand * (sizeof(float) + sizeof(int));
}

Status sample(const SampleParams& p) {
    const std::string name = "sample: ";
    if (!p.logits || !p.out || p.n_vocab < 1) return {name + "need logits, out and n_vocab >= 1"};
    if (p.n_penalty < 0 || (p.n_penalty > 0 && !p.penalty_ids)) return {name + "penalty ids missing"};
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return {name + "top_p must be in (0, 1]"};
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return {name + "min_p must be in [0, 1]"};
    if (!(p.repeat_penalty > 0.0f)) return {name + "repeat_penalty must be > 0"};
    if (p.index_map) return {name + "index_map is internal (leave it null)"};
    const cudaStream_t stream = static_cast<cudaStream_t>(p.stream);
    const int blocks = candidate_blocks(p.n_vocab);
    const bool cut = p.workspace && p.workspace_bytes >= sample_workspace_bytes(p.n_vocab) && p.temperature > 0.0f &&
                     p.top_k > 0 && p.top_k <= kCand && blocks >= 2;
    if (cut) {
        float* cand_logit = static_cast<float*>(p.workspace);
        int* cand_index = reinterpret_cast<int*>(cand_logit + (long long)blocks * kCand);
        if (p.repeat_penalty != 1.0f && p.n_penalty > 0) penalty_kernel<<<1, 256, 0, stream>>>(p);
        candidates_kernel<<<blocks, kCandBlock, 0, stream>>>(p.logits, p.n_vocab, p.top_k, cand_logit, cand_index);
        SampleParams q = p;
        q.logits = cand_logit;
        q.n_vocab = blocks * kCand;
        q.n_penalty = 0;
        q.repeat_penalty = 1.0f;
        q.index_map = cand_index;
        sample_kernel<<<1, kThreads, 0, stream>>>(q);
    } else {
        sample_kernel<<<1, kThreads, 0, stream>>>(p);
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return {name + "launch failed: " + cudaGetErrorString(e)};
    return {};
}

}  // namespace sigmaops::kernels
