// Public launcher of decode attention (kernels.h): checks the problem, sizes the split, carves
// the workspace and dispatches to one configuration (KV type x d_qk x d_v), each instantiated in
// its own decode_attention_<kv>_<dqk>_<dv>.cu.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cerrno>
#include <cstdlib>

#include "decode_attention.cuh"

namespace sigmaops::kernels {
namespace attn {

#define SIGMAOPS_DECLARE_CONFIG(T, DQK, DV) extern template Status run_config<T, DQK, DV>(const Plan&, bool);
SIGMAOPS_DECLARE_CONFIG(__nv_bfloat16, 64, 64)
SIGMAOPS_DECLARE_CONFIG(__nv_bfloat16, 64, 128)
SIGMAOPS_DECLARE_CONFIG(__nv_bfloat16, 128, 64)
SIGMAOPS_DECLARE_CONFIG(__nv_bfloat16, 128, 128)
SIGMAOPS_DECLARE_CONFIG(__half, 64, 64)
SIGMAOPS_DECLARE_CONFIG(__half, 64, 128)
SIGMAOPS_DECLARE_CONFIG(__half, 128, 64)
SIGMAOPS_DECLARE_CONFIG(__half, 128, 128)
#undef SIGMAOPS_DECLARE_CONFIG

namespace {

int pow2_at_least(int n) {
    int p = 1;
    while (p < n) p *= 2;
    return p;
}

size_t align256(size_t n) { return (n + 255) & ~size_t(255); }

// Multiprocessors of the current device (cached per device).
int sm_count(std::string& err) {
    static int cached[64] = {};
    int dev = 0;
    if (cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) {
        err = std::string("decode_attention: cudaGetDevice: ") + cudaGetErrorString(e);
        return 0;
    }
    if (dev < 64 && cached[dev] > 0) return cached[dev];
    int n = 0;
    if (cudaError_t e = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev); e != cudaSuccess) {
        err = std::string("decode_attention: cudaDeviceGetAttribute: ") + cudaGetErrorString(e);
        return 0;
    }
    if (dev < 64) cached[dev] = n;
    return n;
}

struct Layout {
    size_t counters, part_o, part_ml, scores, head_ml, idx, group_max, total;
};

// Shape checks shared by the size query and the launcher; empty string = supported.
std::string check_shapes(const DecodeAttentionParams& p) {
    auto bad = [](const std::string& what) { return "decode_attention: " + what; };
    if (p.batch < 1 || p.n_q < 1 || p.n_k < 1 || p.n_v < 1 || p.max_ctx < 1)
        return bad("batch, n_q, n_k, n_v and max_ctx must be positive");
    if (p.n_q % p.n_k != 0 || p.n_q % p.n_v != 0)
        return bad("n_k (" + std::to_string(p.n_k) + ") and n_v (" + std::to_string(p.n_v) + ") must divide n_q (" +
                   std::to_string(p.n_q) + ")");
    if ((p.d_qk != 64 && p.d_qk != 128) || (p.d_v != 64 && p.d_v != 128))
        return bad("unsupported head size d_qk=" + std::to_string(p.d_qk) + " d_v=" + std::to_string(p.d_v) +
                   " (supported: 64, 128)");
    if (p.kv_type != DType::BF16 && p.kv_type != DType::F16) return bad("KV cache must be BF16 or F16");
    if (p.q_type != DType::BF16 && p.q_type != DType::F32) return bad("q must be F32 or BF16");
    if (p.max_seq_len < 0 || p.max_seq_len > p.max_ctx) return bad("max_seq_len must be in [0, max_ctx]");
    if (p.selective_v < 0) return bad("selective_v must be >= 0");
    if (int64_t(p.max_ctx) * std::max(p.d_qk, p.d_v) > (int64_t(1) << 30)) return bad("max_ctx too large");
    const DecodeAttentionKnobs& k = p.knobs;
    if (k.split_pct < 10 || k.split_pct > 1000 || k.chunk_pool < -1 || k.chunk_pool > 1 || k.select_groups_from < 1 ||
        k.pdl_prefetch_bytes < 0 || k.pdl_prefetch_bytes > (1 << 20))
        return bad("knobs out of range (split_pct 10..1000, chunk_pool -1..1, select_groups_from >= 1, "
                   "pdl_prefetch_bytes 0..1 MiB)");
    return {};
}

// The knobs' defaults in kernels.h are the constants the kernels were tuned with.
static_assert(DecodeAttentionKnobs{}.pdl_prefetch_bytes == kPdlPrefetchBytes, "kernels.h DecodeAttentionKnobs");
static_assert(DecodeAttentionKnobs{}.select_groups_from == kSelGroupMinLen, "kernels.h DecodeAttentionKnobs");

// Any value but unset, empty or "0" turns a flag on.
bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::string(v) != "0";
}
// An integer in [lo, hi]; unset, malformed or out of range: def.
int env_int(const char* name, long lo, long hi, int def) {
    const char* v = std::getenv(name);
    if (!v || !*v) return def;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v, &end, 10);
    if (end == v || *end != '\0' || errno == ERANGE) return def;  // "lots", "12x": not a number
    return n >= lo && n <= hi ? int(n) : def;
}

// The chunk pool (fast_split_kernel DYN) where it paid in the same-run A/B (docs/benchmarks.md,
// decode attention, "chunk pool"): few head tiles (rows = batch x K heads x tiles <= 32: Sigma
// at batch 1 and 8, the GQA twin at batch 1) and long caches, where fixed runs leave blocks
// finishing microseconds apart; with short caches or many tiles the fixed runs were faster.
// (The pool's counters sit in a fixed region of the workspace, layout() below: when the region
// grew with the batch, a batch-1 call's partial outputs landed on a batch-5 call's pools.)
bool dyn_default(int rows, int max_len) { return rows <= 32 && max_len >= 8192; }

// knobs.trace: the fast kernels record block timestamps into one device buffer (allocated on
// first use, kept for the process; see decode_attention_trace in kernels.h).
unsigned long long* g_trace = nullptr;
unsigned long long* trace_buffer(bool on) {
    if (!on) return nullptr;
    if (!g_trace && cudaMalloc(&g_trace, sizeof(unsigned long long) * kDecodeTraceEntries) != cudaSuccess) {
        g_trace = nullptr;
        return nullptr;
    }
    return g_trace;
}

// Dynamic shared memory of select_gather_kernel for keys up to max_len: the group maxima of
// one head (fast path), cached scores of one head when they fit, two bitmaps.
int sel_words(int max_len) { return (max_len + 31) / 32; }
int sel_groups(int max_len) { return int(std::min<size_t>(kSelGroupCap, (size_t(max_len) + kGroupKeys - 1) / kGroupKeys + 3) & ~3); }
int sel_cache(int max_len) {
    const size_t cache = (size_t(max_len) + 3) & ~size_t(3);
    return (cache + 2 * size_t(sel_words(max_len)) + sel_groups(max_len)) * 4 <= size_t(kSelDynBytes) ? int(cache) : 0;
}

attn::Geometry geometry(const DecodeAttentionParams& p, int sms) {
    attn::Geometry g{};
    g.batch = p.batch;
    g.n_q = p.n_q;
    g.n_k = p.n_k;
    g.n_v = p.n_v;
    g.max_ctx = p.max_ctx;
    g.gk = p.n_q / p.n_k;
    g.gv = p.n_q / p.n_v;
    g.tiles_per_group = (g.gk + kMaxTileHeads - 1) / kMaxTileHeads;
    g.tile_heads = (g.gk + g.tiles_per_group - 1) / g.tiles_per_group;
    const int max_len = p.max_seq_len > 0 ? p.max_seq_len : p.max_ctx;
    const float scale = p.scale != 0.0f ? p.scale : 1.0f / std::sqrt(float(p.d_qk));
    g.scale_log2 = scale * kLog2e;
    // Selective V with k >= every length selects every key: that is full attention.
    g.selective_v = p.selective_v > 0 && p.selective_v < max_len ? p.selective_v : 0;
    g.q_is_bf16 = p.q_type == DType::BF16;
    g.score_stride = (p.max_ctx + 3) & ~3;
    // Split-KV staging: the most V heads one head tile touches, and the largest tile (keys) whose
    // two stages of K + V rows fit kSplitStageBytes.
    g.nvg_max = 1;
    for (int kh = 0; kh < p.n_k; ++kh)
        for (int t = 0; t < g.tiles_per_group; ++t) {
            const int h0 = kh * g.gk + t * g.tile_heads, nh = std::min(g.tile_heads, g.gk - t * g.tile_heads);
            g.nvg_max = std::max(g.nvg_max, (h0 + nh - 1) / g.gv - h0 / g.gv + 1);
        }
    const int key_bytes = (p.d_qk + g.nvg_max * p.d_v) * 2;
    g.tile_keys = kSplitTileMax;
    while (g.tile_keys > 16 && 2 * g.tile_keys * key_bytes > kSplitStageBytes) g.tile_keys /= 2;

    // Tensor-core kernels: full attention when every V head of a head tile has <= 4 of its
    // query heads (hi/lo columns of the P^T fragment) and the tile reads <= 4 V heads of 64
    // (2 of 128: accumulator registers); selective V always (the union needs <= 64 heads per V
    // head, and bitmaps of max_len bits that fit shared memory).
    const int rows = p.batch * p.n_k * g.tiles_per_group;
    const DecodeAttentionKnobs& kn = p.knobs;
    if (kn.old_kernels) {
        g.fast = 0;
    } else if (g.selective_v == 0) {
        g.fast = std::min(g.gv, g.tile_heads) <= 4 && g.nvg_max <= (p.d_v == 64 ? 4 : 2);
    } else {
        g.fast = (!p.selective_v_union || g.gv <= kSelMaxHeads) &&
                 (2 * size_t(sel_words(max_len)) + sel_groups(max_len)) * 4 <= size_t(kSelDynBytes);
    }
    g.fast_nvg = g.nvg_max <= 1 ? 1 : (g.nvg_max <= 2 ? 2 : 4);
    g.pdl = p.pdl && g.fast ? 1 : 0;  // the other kernels never wait: launched without PDL
    g.pdl_prefetch = kn.pdl_prefetch_bytes;
    const int dyn = kn.chunk_pool;
    g.dyn = g.fast && g.selective_v == 0 && (dyn < 0 ? dyn_default(rows, max_len) : dyn == 1) ? 1 : 0;
    g.sel_groupmax = g.fast && g.selective_v > 0 && !kn.select_every_key ? 1 : 0;
    g.sel_min_len = kn.select_groups_from;
    g.gm_stride = int(((size_t(p.max_ctx) + kGroupKeys - 1) / kGroupKeys + 3) & ~size_t(3));
    int splits;
    if (g.fast) {
        // One wave of one 8-warp block per SM (the blocks hold ~200 registers a thread), at
        // least 128 keys (one 16-key unit per warp) a slice.
        splits = std::max(1, sms * kn.split_pct / 100 / rows);
        splits = std::min(splits, std::max(1, (max_len + 127) / 128));
    } else {
        // One wave of two blocks per SM: as many slices as fit, at least 64 keys each.
        splits = std::max(1, (2 * sms) / rows);
        splits = std::min(splits, std::max(1, (max_len + 63) / 64));
    }
    g.n_splits = std::min(splits, kMaxSplits);
    return g;
}

Layout layout(const DecodeAttentionParams& p, const attn::Geometry& g) {
    Layout l{};
    size_t off = 0;
    const size_t heads = size_t(p.batch) * p.n_q;
    // Slice tickets and chunk pools: a fixed region for up to kCounterSlots (sequence, head tile)
    // pairs, so that calls of different batch sizes sharing one workspace (the engine's batch-1
    // and batch-n decode) find each other's counters, always left at zero, where their own are,
    // never another call's partial outputs. (It grew with the batch before: a batch-1 call's
    // partial outputs overwrote a batch-5 call's chunk pools, whose warps then ran ~2^30 empty
    // chunks: the hang of fast_split_kernel<DYN> in test_gpu_batch.)
    l.counters = off;
    off += align256(2 * std::max<size_t>(kCounterSlots, size_t(p.batch) * p.n_k * g.tiles_per_group) * sizeof(int));
    l.part_o = off;
    off += align256(heads * g.n_splits * p.d_v * sizeof(float));
    l.part_ml = off;
    off += align256(heads * g.n_splits * 2 * sizeof(float));
    if (g.selective_v > 0) {
        l.scores = off;
        off += align256(heads * g.score_stride * sizeof(float));
        l.head_ml = off;
        off += align256(heads * 2 * sizeof(float));
        l.idx = off;
        off += align256(heads * g.selective_v * sizeof(int));
        l.group_max = off;
        off += align256(heads * g.gm_stride * sizeof(float));
    }
    l.total = off;
    return l;
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

}  // namespace
}  // namespace attn

DecodeAttentionKnobs decode_attention_knobs_from_env() {
    using attn::env_flag;
    using attn::env_int;
    DecodeAttentionKnobs k;
    k.old_kernels = env_flag("SIGMAOPS_ATTN_OLD");
    k.split_pct = env_int("SIGMAOPS_ATTN_SPLIT_PCT", 10, 1000, k.split_pct);
    if (const char* v = std::getenv("SIGMAOPS_ATTN_DYN"); v && *v) k.chunk_pool = std::string(v) != "0" ? 1 : 0;
    k.select_every_key = env_flag("SIGMAOPS_ATTN_SEL_FULL");
    k.select_groups_from = env_int("SIGMAOPS_ATTN_SEL_MINLEN", 1, 1L << 30, k.select_groups_from);
    k.pdl_prefetch_bytes = env_int("SIGMAOPS_ATTN_PDL_PREFETCH", 0, 1L << 20, k.pdl_prefetch_bytes);
    k.trace = env_flag("SIGMAOPS_ATTN_TRACE");
    return k;
}

std::size_t decode_attention_workspace_bytes(const DecodeAttentionParams& p) {
    if (!attn::check_shapes(p).empty()) return 0;
    std::string err;
    const int sms = attn::sm_count(err);
    if (sms <= 0) return 0;
    return attn::layout(p, attn::geometry(p, sms)).total;
}

DecodeAttentionPlanInfo decode_attention_plan(const DecodeAttentionParams& p, int sms) {
    DecodeAttentionPlanInfo info;
    if (sms < 1) {
        info.error = "decode_attention_plan: sms must be positive";
        return info;
    }
    if (std::string e = attn::check_shapes(p); !e.empty()) {
        info.error = e;
        return info;
    }
    const attn::Geometry g = attn::geometry(p, sms);
    info.tensor_cores = g.fast != 0;
    info.pdl = g.pdl != 0;
    info.chunk_pool = g.dyn != 0;
    info.head_tiles = g.tiles_per_group;
    info.tile_heads = g.tile_heads;
    info.splits = g.n_splits;
    info.pdl_prefetch_bytes = g.pdl_prefetch;
    info.group_max_select = g.sel_groupmax != 0;
    info.group_max_min_len = g.sel_min_len;
    info.workspace_bytes = attn::layout(p, g).total;
    return info;
}

Status decode_attention(const DecodeAttentionParams& p) {
    using namespace attn;
    if (std::string e = check_shapes(p); !e.empty()) return {e};
    if (!p.q || !p.k_cache || !p.v_cache || !p.seq_lens || !p.out || !p.workspace)
        return {"decode_attention: null pointer among q, k_cache, v_cache, seq_lens, out, workspace"};
    if (!aligned16(p.q) || !aligned16(p.k_cache) || !aligned16(p.v_cache) || !aligned16(p.workspace))
        return {"decode_attention: q, k_cache, v_cache and workspace must be 16-byte aligned"};
    std::string err;
    const int sms = sm_count(err);
    if (sms <= 0) return {err};
    Plan plan{};
    plan.g = geometry(p, sms);
    const Layout l = layout(p, plan.g);
    if (p.workspace_bytes < l.total)
        return {"decode_attention: workspace too small (" + std::to_string(p.workspace_bytes) + " < " +
                std::to_string(l.total) + " bytes; see decode_attention_workspace_bytes)"};
    char* ws = static_cast<char*>(p.workspace);
    Buffers& b = plan.buf;
    b.q = p.q;
    b.k = p.k_cache;
    b.v = p.v_cache;
    b.seq_lens = p.seq_lens;
    b.out = p.out;
    b.counters = reinterpret_cast<int*>(ws + l.counters);
    b.part_o = reinterpret_cast<float*>(ws + l.part_o);
    b.part_ml = reinterpret_cast<float2*>(ws + l.part_ml);
    b.trace = plan.g.fast ? trace_buffer(p.knobs.trace) : nullptr;
    if (plan.g.selective_v > 0) {
        b.scores = reinterpret_cast<float*>(ws + l.scores);
        b.head_ml = reinterpret_cast<float2*>(ws + l.head_ml);
        b.idx = reinterpret_cast<int*>(ws + l.idx);
        b.group_max = reinterpret_cast<float*>(ws + l.group_max);
    }
    const Geometry& g = plan.g;
    // Register slots for the tile heads sharing one V head (split) / a V head's heads (gather).
    if (!g.fast && 2 * g.tile_keys * (p.d_qk + g.nvg_max * p.d_v) * 2 > kSplitStageBytes)
        return {"decode_attention: a head tile reads too many V heads (" + std::to_string(g.nvg_max) + ")"};
    plan.hpv_split = pow2_at_least(std::min(g.gv, g.tile_heads));
    plan.hpv_gather = pow2_at_least(std::min(g.gv, kMaxTileHeads));
    const int max_len = p.max_seq_len > 0 ? p.max_seq_len : p.max_ctx;
    plan.topk_cache = max_len * 4 <= kTopkCacheBytes ? max_len : 0;
    plan.union_smem = (size_t((p.max_ctx + 31) / 32) + size_t(g.gv) * g.selective_v) * sizeof(int);
    const bool union_gather = g.selective_v > 0 && p.selective_v_union;
    if (!g.fast && union_gather && g.selective_v < max_len && plan.union_smem > size_t(kUnionSmemBytes))
        return {"decode_attention: selective_v_union needs " + std::to_string(plan.union_smem) +
                " bytes of shared memory (max_ctx/8 + 4*selective_v*n_q/n_v), more than " +
                std::to_string(kUnionSmemBytes)};
    if (union_gather && g.selective_v >= max_len) plan.union_smem = 0;  // every row: no bitmap needed
    plan.sel_words = sel_words(max_len);
    plan.sel_cache = sel_cache(max_len);
    plan.sel_groups = g.sel_groupmax ? sel_groups(max_len) : 0;
    plan.sel_hpb = union_gather ? g.gv : 1;
    plan.stream = static_cast<cudaStream_t>(p.stream);

    // KV type x d_qk x d_v (check_shapes allowed only these): one configuration each.
    return SIGMAOPS_BOOL_SWITCH(p.kv_type == DType::BF16, IS_BF16, [&] {
        using T = std::conditional_t<IS_BF16, __nv_bfloat16, __half>;
        return static_switch<64, 128>(p.d_qk, [&](auto dqk) {
            return static_switch<64, 128>(
                p.d_v, [&](auto dv) { return run_config<T, decltype(dqk)::value, decltype(dv)::value>(plan, union_gather); });
        });
    });
}

int decode_attention_trace(unsigned long long* host, int max_entries) {
    if (!attn::g_trace || !host || max_entries <= 0) return -1;
    const int n = std::min(max_entries, kDecodeTraceEntries);
    if (cudaDeviceSynchronize() != cudaSuccess) return -1;
    if (cudaMemcpy(host, attn::g_trace, sizeof(unsigned long long) * n, cudaMemcpyDeviceToHost) != cudaSuccess) return -1;
    if (cudaMemset(attn::g_trace, 0, sizeof(unsigned long long) * kDecodeTraceEntries) != cudaSuccess) return -1;
    return n;
}

}  // namespace sigmaops::kernels
