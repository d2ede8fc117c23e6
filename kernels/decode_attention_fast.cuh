// Decode attention for DiffQKV, tensor-core kernels (private; included by decode_attention.cuh).
//
// Tuned for batch 1 on an H100: the whole problem is ~20-300 KB of K/V rows per SM, so the cost
// is a fixed chain of latencies plus the time to stream the bytes. These kernels keep that
// chain short: one wave of 8-warp blocks (one per SM), each warp streams its own contiguous run
// of keys straight into registers (16-byte loads, the next chunk's loads issued while the
// current chunk is used: ~10 KB in flight per warp, no block barrier per tile), and does the
// arithmetic on the tensor cores (mma.sync m16n8k16):
//   scores   S (16 x 8 keys)  = Q (16 x d) . K^T    rows 0-7: the hi part of the tile's 8 query
//                                                  heads (bf16/f16), rows 8-15: their lo part
//                                                  (q - hi), so q keeps ~16 bits of precision
//   values   O^T (16 d x 8)   = V^T (d x 16 keys) . P^T   columns 0-3: hi part of p for the (up
//                                                  to 4) heads of one V head, columns 4-7: lo
// Both products use a permutation of d (and of the output rows) that lets every lane load 16
// contiguous bytes of a K or V row and feed them to the mma with byte permutes only. A block's
// warps are merged in shared memory; the blocks of one (sequence, K head) are merged by the last
// one to finish (log-sum-exp), as in split_kv_kernel.
// The softmax is online with a lazy rescale (only when a chunk's max exceeds the running one by
// more than 2^8), so p <= 256 and the common chunk costs no rescale.
// With PDL (Geometry::pdl) a block starts while the previous kernel finishes: it reads the
// sequence length, issues its first chunk's K (and V) loads for keys < len - 1 and prefetches
// up to kPdlPrefetchBytes a warp of the next older rows into the L2, then waits; q, the newest
// row (len - 1, written by the previous kernel), the workspace and out come after the wait,
// q and that row through the L2 (coherent loads).
#pragma once

namespace sigmaops::kernels::attn {

constexpr int kFastThreads = 256;   // 8 warps
constexpr int kFastWarps = kFastThreads / 32;
constexpr float kLazyRescale = 8.0f;  // log2 units
// Per warp, L2 prefetch before the PDL wait (Geometry::pdl_prefetch; DecodeAttentionKnobs).
// More (32 KB) was slower from 16K keys: the successor's prefetched lines were evicted before it
// read them, and the extra DRAM traffic slowed the call it overlapped (docs/benchmarks.md,
// decode attention, "the PDL prefetch").
constexpr int kPdlPrefetchBytes = 8 * 1024;
constexpr int kMergeDepth = 20;  // slices per thread loaded at once by the last block's merge

template <class T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<const uint32_t*>(&v);
    } else {
        const __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<const uint32_t*>(&v);
    }
}
template <class T>
__device__ __forceinline__ float2 unpack2(uint32_t u) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        return make_float2(__uint_as_float(u << 16), __uint_as_float(u & 0xffff0000u));
    } else {
        __half2 h;
        memcpy(&h, &u, 4);
        return __half22float2(h);
    }
}
// Splits (a, b) into hi = round(a, b) and lo = round((a, b) - hi), both packed pairs of T.
template <class T>
__device__ __forceinline__ void split2(float a, float b, uint32_t& hi, uint32_t& lo) {
    hi = pack2<T>(a, b);
    const float2 h = unpack2<T>(hi);
    lo = pack2<T>(a - h.x, b - h.y);
}

// d += a . b for one m16n8k16 tile (fp32 accumulate).
template <class T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
    uint32_t r;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
    return r;
}
__device__ __forceinline__ uint32_t u4_at(const uint4& u, int i) {  // i: compile-time after unrolling
    return i == 0 ? u.x : (i == 1 ? u.y : (i == 2 ? u.z : u.w));
}

// Blocks -> (sequence, K head tile, slice). Slices are whole 16-key units, spread evenly.
struct FastCoord {
    int b, kh, h0, nh, split, len, t_begin, t_end;
};
__device__ __forceinline__ FastCoord fast_coord(const Geometry& g, const Buffers& buf) {
    FastCoord c;
    c.b = blockIdx.z;
    c.kh = blockIdx.y / g.tiles_per_group;
    const int tile = blockIdx.y % g.tiles_per_group;
    c.h0 = c.kh * g.gk + tile * g.tile_heads;
    c.nh = min(g.tile_heads, g.gk - tile * g.tile_heads);
    c.split = blockIdx.x;
    c.len = g.pdl ? __ldcg(buf.seq_lens + c.b) : buf.seq_lens[c.b];  // PDL: L2, read before the wait
    const int units = (c.len + 15) >> 4;
    c.t_begin = min(c.len, int((int64_t(units) * c.split / g.n_splits) << 4));
    c.t_end = min(c.len, int((int64_t(units) * (c.split + 1) / g.n_splits) << 4));
    return c;
}

// Grid (S, n_k*tiles_per_group, B), kFastThreads threads, one block per SM.
// SCORES = false: full attention (NVG V-head slots, CH 16-key units per chunk).
// SCORES = true: selective V step 1: every scaled log2-domain score into buf.scores and the
// slice's softmax statistics into buf.part_ml (no V).
// DYN (full attention only): the tile's keys are a pool of CH*16-key chunks shared by all its
// warps: warp gw = split * 8 + warp takes chunk gw first, then the next free one from a counter
// (one atomic per chunk, issued a chunk ahead), so SMs that get more bandwidth take more chunks
// and every block ends within about one chunk of the others. Without it each warp has a fixed
// run of keys, and the block timeline (docs/benchmarks.md) showed a tail of late blocks.
template <class T, int DQK, int DV, int NVG, int CH, bool SCORES, bool DYN = false>
__global__ void __launch_bounds__(kFastThreads, 1) fast_split_kernel(const Geometry g, const Buffers buf) {
    constexpr int KW = DQK / 32;  // uint4 per lane per K row
    constexpr int KS = DQK / 16;  // k-steps of the score mma
    constexpr int VW = DV / 64;   // uint4 per lane per V row
    constexpr int MT = DV / 16;   // m-tiles of O^T
    static_assert(NVG * MT * 4 <= 128, "accumulators");

    __shared__ __align__(16) float wo[SCORES ? 1 : kFastWarps][kMaxTileHeads][DV];  // per-warp outputs
    __shared__ float2 wml[kFastWarps][kMaxTileHeads];                               // per-warp (m, l)
    __shared__ float wts[kMaxTileHeads][kMaxSplits];                                // combine weights
    __shared__ __align__(16) float4 red4[kFastThreads];
    __shared__ int last_s;

    const int blk = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);  // trace slot
    trace_at(buf, 0, blk, 0);
    const FastCoord co = fast_coord(g, buf);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gr = lane >> 2, c = lane & 3;
    const size_t row0 = size_t(co.b) * g.n_q;

    // This warp's keys: 16-key units [u0, u1) of the slice, in chunks of CH units.
    const int units = (co.t_end - co.t_begin + 15) >> 4;
    const int u0 = units * warp / kFastWarps, u1 = units * (warp + 1) / kFastWarps;
    const int w_end = min(co.t_end, co.t_begin + (u1 << 4));
    const int n_chunks = (u1 - u0 + CH - 1) / CH;
    const int t_first = co.t_begin + (u0 << 4);

    // With PDL the newest row (len - 1) is left out of the regular loads (those before the wait
    // must not read it, and it is the one row the previous kernel may have written while this
    // one ran): the warp that owns it loads it into its chunk separately, coherently, after the
    // wait. Without PDL w_lim = w_end and fix_chunk = -1, and the prologue below keeps the order
    // of the kernel before PDL (q, then the first chunk; no griddepcontrol instructions).
    if (g.pdl) pdl_launch_dependents();
    const int t_last = co.len - 1;
    const int w_lim = g.pdl ? min(w_end, t_last) : w_end;
    const int fix_chunk = g.pdl && t_last >= t_first && t_last < w_end ? (t_last - t_first) / (CH * 16) : -1;

    // Query fragment (A of the score mma), pre-scaled into the log2 domain, hi/lo split.
    // Lane (gr, c) holds head gr's q at d = 8*(c + 4*i) + e (i < KW, e < 8): the same d its K
    // loads bring, so k-step s uses elements 4s..4s+3 of that list.
    uint32_t qa[KS][4];
    auto load_q = [&]() {
        float qv[KW * 8];
        const bool valid = gr < co.nh;
        const size_t qoff = (row0 + co.h0 + gr) * DQK;
#pragma unroll
        for (int i = 0; i < KW; ++i) {
            const int d0 = 8 * (c + 4 * i);
            if (g.q_is_bf16) {
                const __nv_bfloat16* qp = static_cast<const __nv_bfloat16*>(buf.q) + qoff + d0;
                const uint4 u = valid ? (g.pdl ? ld16cg(qp) : ld16(qp)) : make_uint4(0, 0, 0, 0);
                cvt8<__nv_bfloat16>(u, *reinterpret_cast<float(*)[8]>(&qv[8 * i]));
            } else {
                const float* qp = static_cast<const float*>(buf.q) + qoff + d0;
                const float4* q4 = reinterpret_cast<const float4*>(qp);
                const float4 a = valid ? (g.pdl ? __ldcg(q4) : __ldg(q4)) : make_float4(0, 0, 0, 0);
                const float4 b = valid ? (g.pdl ? __ldcg(q4 + 1) : __ldg(q4 + 1)) : make_float4(0, 0, 0, 0);
                qv[8 * i + 0] = a.x; qv[8 * i + 1] = a.y; qv[8 * i + 2] = a.z; qv[8 * i + 3] = a.w;
                qv[8 * i + 4] = b.x; qv[8 * i + 5] = b.y; qv[8 * i + 6] = b.z; qv[8 * i + 7] = b.w;
            }
        }
#pragma unroll
        for (int s = 0; s < KS; ++s) {
            split2<T>(qv[4 * s] * g.scale_log2, qv[4 * s + 1] * g.scale_log2, qa[s][0], qa[s][1]);
            split2<T>(qv[4 * s + 2] * g.scale_log2, qv[4 * s + 3] * g.scale_log2, qa[s][2], qa[s][3]);
        }
    };

    const T* kbase = static_cast<const T*>(buf.k) + (size_t(co.b) * g.n_k + co.kh) * g.max_ctx * DQK + 8 * c;
    // K rows: unit u, n-tile nt: key t0 + 16u + 8nt + gr, uint4 i at d 8*(c + 4i).
    uint4 kr[CH][2][KW];
    auto load_k = [&](int t0, int lim, int t_cg = -1) {  // chunk at key t0; rows >= lim: zeros; row t_cg: ld16cg
#pragma unroll
        for (int u = 0; u < CH; ++u)
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
                const int t = t0 + 16 * u + 8 * nt + gr;
#pragma unroll
                for (int i = 0; i < KW; ++i) {
                    const T* src = kbase + size_t(t) * DQK + 32 * i;
                    kr[u][nt][i] = t >= lim ? make_uint4(0, 0, 0, 0) : (t_cg >= 0 && t == t_cg ? ld16cg(src) : ld16(src));
                }
            }
    };
    auto load_k_row = [&](int t0, int trow) {  // PDL: the newest row into the chunk at t0, after the wait
#pragma unroll
        for (int u = 0; u < CH; ++u)
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
                const int t = t0 + 16 * u + 8 * nt + gr;
#pragma unroll
                for (int i = 0; i < KW; ++i)
                    if (t == trow) kr[u][nt][i] = ld16cg(kbase + size_t(t) * DQK + 32 * i);
            }
    };
    // PDL: rows [p0, p1) towards the L2 (one 128-byte line per lane and step). The callers take
    // the rows after the warp's first chunk, up to kPdlPrefetchBytes for the warp, keys < w_lim.
    auto prefetch_range = [&](const T* base, int row_elems, int p0, int p1) {
        const int lines = row_elems * int(sizeof(T)) / 128;
        for (int i = lane; i < (p1 - p0) * lines; i += 32)
            prefetch_l2(base + size_t(p0 + i / lines) * row_elems + (i % lines) * (128 / int(sizeof(T))));
    };
    auto prefetch_rows = [&](const T* base, int row_elems, int row_bytes_all) {  // after the first chunk
        const int p0 = t_first + CH * 16;
        prefetch_range(base, row_elems, p0, min(w_lim, p0 + g.pdl_prefetch / row_bytes_all));
    };
    const T* kbase0 = static_cast<const T*>(buf.k) + (size_t(co.b) * g.n_k + co.kh) * g.max_ctx * DQK;
    // Scores of the chunk at t0 from kr: sc[u][nt][e] = head gr, key t0 + 16u + 8nt + 2c + e (-inf
    // from key_end: the warp's end, or the sequence's with DYN).
    const int key_end = DYN ? co.len : w_end;
    auto scores = [&](int t0, float (&sc)[CH][2][2]) {
#pragma unroll
        for (int u = 0; u < CH; ++u)
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
                float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
                for (int s = 0; s < KS; ++s)
                    mma16816<T>(acc, qa[s], u4_at(kr[u][nt][s / 2], 2 * (s % 2)), u4_at(kr[u][nt][s / 2], 2 * (s % 2) + 1));
                const int t = t0 + 16 * u + 8 * nt + 2 * c;
                sc[u][nt][0] = t < key_end ? acc[0] + acc[2] : -INFINITY;
                sc[u][nt][1] = t + 1 < key_end ? acc[1] + acc[3] : -INFINITY;
            }
    };

    float m_run = -INFINITY, l_run = 0.0f;  // head gr (lanes of one head agree on m_run)

    if constexpr (SCORES) {
        // ---- selective V step 1: scores out, (max, sum) per slice --------------------------
        if (!g.pdl) {
            load_q();
            if (n_chunks > 0) load_k(t_first, w_end);
        } else {
            if (n_chunks > 0) load_k(t_first, w_lim);
            prefetch_rows(kbase0, DQK, DQK * int(sizeof(T)));
            pdl_wait();
            load_q();
            if (fix_chunk == 0) load_k_row(t_first, t_last);
        }
        trace_at(buf, 0, blk, 1);
        float* srow = buf.scores + (row0 + co.h0 + gr) * size_t(g.score_stride);
        for (int ci = 0; ci < n_chunks; ++ci) {
            float sc[CH][2][2];
            scores(t_first + ci * CH * 16, sc);
            if (ci == 0) trace_at(buf, 0, blk, 2);
            // (the newest row of a later chunk: one coherent load among them; registers are at
            // the limit here, a separate fix-up as in the full kernel spills)
            if (ci + 1 < n_chunks) {
                if (g.pdl)
                    load_k(t_first + (ci + 1) * CH * 16, w_end, t_last);
                else
                    load_k(t_first + (ci + 1) * CH * 16, w_end);
            }
            const int t0 = t_first + ci * CH * 16;
            float um[CH];  // this lane's maximum of each 16-key unit (4 of its keys)
#pragma unroll
            for (int u = 0; u < CH; ++u) {
#pragma unroll
                for (int nt = 0; nt < 2; ++nt) {
                    const int t = t0 + 16 * u + 8 * nt + 2 * c;
                    if (gr < co.nh) {
                        if (t + 1 < w_end) {
                            *reinterpret_cast<float2*>(srow + t) = make_float2(sc[u][nt][0], sc[u][nt][1]);
                        } else if (t < w_end) {
                            srow[t] = sc[u][nt][0];
                        }
                    }
                }
                um[u] = fmaxf(fmaxf(sc[u][0][0], sc[u][0][1]), fmaxf(sc[u][1][0], sc[u][1][1]));
            }
            float mx = -INFINITY;
#pragma unroll
            for (int u = 0; u < CH; ++u) mx = fmaxf(mx, um[u]);
            // Group maxima for the select (buf.group_max: one per 16-key unit and head): the four
            // lanes of head gr reduce-scatter their unit maxima (two exchanges, CH/2 + CH/4
            // shuffles), lane c ending with units c, c + 4, ...; the four lanes store 16 bytes.
            {
                static_assert(CH % 4 == 0, "units per chunk: a multiple of the head's 4 lanes");
                float h2[CH / 2];
#pragma unroll
                for (int j = 0; j < CH / 2; ++j) {  // units (j / 2) * 4 + j % 2 and that + 2
                    const int ua = (j >> 1) * 4 + (j & 1), ub = ua + 2;
                    const float send = (c & 2) ? um[ua] : um[ub];
                    const float keep = (c & 2) ? um[ub] : um[ua];
                    h2[j] = fmaxf(keep, __shfl_xor_sync(0xffffffffu, send, 2));
                }
#pragma unroll
                for (int i = 0; i < CH / 4; ++i) {  // h2[2i], h2[2i + 1]: units 4i + (c & 2) + {0, 1}
                    const float send = (c & 1) ? h2[2 * i] : h2[2 * i + 1];
                    const float keep = (c & 1) ? h2[2 * i + 1] : h2[2 * i];
                    const float gmax = fmaxf(keep, __shfl_xor_sync(0xffffffffu, send, 1));  // unit 4i + c
                    const int t = t0 + 16 * (4 * i + c);
                    if (gr < co.nh && t < w_end) buf.group_max[(row0 + co.h0 + gr) * size_t(g.gm_stride) + (t >> 4)] = gmax;
                }
            }
            if (mx > -INFINITY) {  // exact online (max, sum) of this lane's keys
                const float m_new = fmaxf(m_run, mx);
                float sum = 0.0f;
#pragma unroll
                for (int u = 0; u < CH; ++u)
#pragma unroll
                    for (int nt = 0; nt < 2; ++nt)
#pragma unroll
                        for (int e = 0; e < 2; ++e) sum += exp2f(sc[u][nt][e] - m_new);  // exp2(-inf) = 0
                l_run = l_run * exp2f(m_run - m_new) + sum;
                m_run = m_new;
            }
        }
        trace_at(buf, 0, blk, 3);
        // lanes -> head: merge the 4 lanes of each head
#pragma unroll
        for (int o = 1; o <= 2; o <<= 1) {
            const float m2 = __shfl_xor_sync(0xffffffffu, m_run, o), l2 = __shfl_xor_sync(0xffffffffu, l_run, o);
            const float M = fmaxf(m_run, m2);
            l_run = (M == -INFINITY) ? 0.0f : l_run * exp2f(m_run - M) + l2 * exp2f(m2 - M);
            m_run = M;
        }
        if (c == 0) wml[warp][gr] = make_float2(m_run, l_run);
        __syncthreads();
        if (tid < co.nh) {
            float M = -INFINITY;
            for (int w = 0; w < kFastWarps; ++w) M = fmaxf(M, wml[w][tid].x);
            float L = 0.0f;
            if (M > -INFINITY)
                for (int w = 0; w < kFastWarps; ++w) L += wml[w][tid].y * exp2f(wml[w][tid].x - M);
            buf.part_ml[(row0 + co.h0 + tid) * g.n_splits + co.split] = make_float2(M, L);
        }
        trace_at(buf, 0, blk, 4);
        return;
    } else {
        // ---- full attention ---------------------------------------------------------------
        const int vh_first = co.h0 / g.gv;
        const int nvg = (co.h0 + co.nh - 1) / g.gv - vh_first + 1;  // <= NVG (launcher checks)
        int hb[NVG], hc[NVG];  // per V slot: first tile head, number of tile heads (0: unused slot)
#pragma unroll
        for (int j = 0; j < NVG; ++j) {
            const int vh = vh_first + j;
            hb[j] = max(co.h0, vh * g.gv) - co.h0;
            hc[j] = j < nvg ? min(co.h0 + co.nh, (vh + 1) * g.gv) - co.h0 - hb[j] : 0;
        }
        // V rows: slot j, unit u, r: key t0 + 16u + {2c, 2c+1, 2c+8, 2c+9}[r], uint4 w at d 64w + 8gr.
        const T* vbase = static_cast<const T*>(buf.v) + (size_t(co.b) * g.n_v + vh_first) * g.max_ctx * DV + 8 * gr;
        uint4 vr[NVG][CH][4][VW];
        auto load_v = [&](int t0, int j, int lim, int t_cg = -1) {  // rows >= lim: zeros; row t_cg: ld16cg
            if (hc[j] == 0) return;
            const T* vb = vbase + size_t(j) * g.max_ctx * DV;
#pragma unroll
            for (int u = 0; u < CH; ++u)
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int t = t0 + 16 * u + 2 * c + (r & 1) + 8 * (r >> 1);
#pragma unroll
                    for (int w = 0; w < VW; ++w)
                        vr[j][u][r][w] = t >= lim ? make_uint4(0, 0, 0, 0)
                                                  : (t_cg >= 0 && t == t_cg ? ld16cg(vb + size_t(t) * DV + 64 * w) : ld16(vb + size_t(t) * DV + 64 * w));
                }
        };
        auto load_v_row = [&](int t0, int j, int trow) {  // PDL: the newest row into the chunk at t0
            if (hc[j] == 0) return;
            const T* vb = vbase + size_t(j) * g.max_ctx * DV;
#pragma unroll
            for (int u = 0; u < CH; ++u)
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int t = t0 + 16 * u + 2 * c + (r & 1) + 8 * (r >> 1);
#pragma unroll
                    for (int w = 0; w < VW; ++w)
                        if (t == trow) vr[j][u][r][w] = ld16cg(vb + size_t(t) * DV + 64 * w);
                }
        };
        float acc[NVG][MT][4];
#pragma unroll
        for (int j = 0; j < NVG; ++j)
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[j][mt][e] = 0.0f;

        // The warp's chunks (CK keys each): without DYN t_first + k CK (n_chunks of them, keys <
        // w_end); with DYN chunk gw first, then the pool's (DYN notes above). The next chunk's
        // loads are issued into registers as soon as the current chunk's are consumed.
        // (A variant that also kept 1-2 chunks per warp in flight in shared memory, filled by
        // cp.async before the PDL wait, measured slower at every context from 16K on an H100
        // and was removed: docs/benchmarks.md, decode attention.)
        constexpr int CK = CH * 16;
        const int n_ck = (co.len + CK - 1) / CK;
        const int n_w = g.n_splits * kFastWarps;
        const int gw = co.split * kFastWarps + warp;
        int* const pool = buf.counters + 2 * (size_t(co.b) * gridDim.y + blockIdx.y) + 1;
        int t0 = DYN ? (gw < n_ck ? gw * CK : -1) : (n_chunks > 0 ? t_first : -1);  // the first chunk
        // Loads before the PDL wait stop at lim_pre (the newest row comes after the wait, into
        // the chunk at fix_t0); later chunks load rows < lim_next, the newest coherently (DYN).
        const int lim_pre = DYN ? (g.pdl ? min(co.len, t_last) : co.len) : w_lim;
        const int lim_next = DYN ? co.len : w_lim;
        const int tcg_next = DYN && g.pdl ? t_last : -1;
        const int fix_t0 = DYN ? (g.pdl && t0 >= 0 && t_last >= t0 && t_last < t0 + CK ? t0 : -2)
                               : (fix_chunk >= 0 ? t_first + fix_chunk * CK : -2);

        if (!g.pdl) load_q();
        if (t0 >= 0) {
            load_k(t0, lim_pre);
#pragma unroll
            for (int j = 0; j < NVG; ++j) load_v(t0, j, lim_pre);
        }
        if (g.pdl) {
            const int rb = (DQK + nvg * DV) * int(sizeof(T));
            if constexpr (DYN) {  // the chunks this warp's position would take next
                for (int m = 1; m * CK * rb <= g.pdl_prefetch && gw + m * n_w < n_ck; ++m) {
                    const int p0 = (gw + m * n_w) * CK, p1 = min(p0 + CK, lim_pre);
                    prefetch_range(kbase0, DQK, p0, p1);
                    for (int j = 0; j < nvg; ++j)
                        prefetch_range(static_cast<const T*>(buf.v) + (size_t(co.b) * g.n_v + vh_first + j) * g.max_ctx * DV,
                                       DV, p0, p1);
                }
            } else {
                prefetch_rows(kbase0, DQK, rb);
                for (int j = 0; j < nvg; ++j)
                    prefetch_rows(static_cast<const T*>(buf.v) + (size_t(co.b) * g.n_v + vh_first + j) * g.max_ctx * DV, DV, rb);
            }
            pdl_wait();
            load_q();
        }
        trace_at(buf, 0, blk, 1);
        if (t0 >= 0 && t0 == fix_t0) {
            load_k_row(t0, t_last);
#pragma unroll
            for (int j = 0; j < NVG; ++j) load_v_row(t0, j, t_last);
        }
        int grab = 0;  // DYN, lane 0: the pool's answer for the next chunk to request
        if (DYN && t0 >= 0 && lane == 0) grab = atomicAdd(pool, 1);
        for (int ci = 0; t0 >= 0; ++ci) {
            float sc[CH][2][2];
            scores(t0, sc);
            if (ci == 0) trace_at(buf, 0, blk, 2);
            // The next chunk, loaded into registers while this one is used.
            int t0n;
            if constexpr (DYN) {
                const int cn = n_w + __shfl_sync(0xffffffffu, grab, 0);
                t0n = cn < n_ck ? cn * CK : -1;
            } else {
                t0n = ci + 1 < n_chunks ? t0 + CK : -1;
            }
            const bool more = t0n >= 0;
            if (more) {
                load_k(t0n, lim_next, tcg_next);
                if (t0n == fix_t0) load_k_row(t0n, t_last);
            }
            // chunk max of head gr
            float mx = -INFINITY;
#pragma unroll
            for (int u = 0; u < CH; ++u)
#pragma unroll
                for (int nt = 0; nt < 2; ++nt) mx = fmaxf(mx, fmaxf(sc[u][nt][0], sc[u][nt][1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const bool grow = mx > m_run + kLazyRescale || (m_run == -INFINITY && mx > -INFINITY);
            if (__any_sync(0xffffffffu, grow)) {  // rare after the first chunk
                const float m_new = grow ? mx : m_run;
                const float alpha = m_new == m_run ? 1.0f : exp2f(m_run - m_new);
                l_run *= alpha;
                m_run = m_new;
#pragma unroll
                for (int j = 0; j < NVG; ++j) {
                    const float a0 = __shfl_sync(0xffffffffu, alpha, ((hb[j] + ((2 * c) & 3)) * 4) & 31);
                    const float a1 = __shfl_sync(0xffffffffu, alpha, ((hb[j] + ((2 * c + 1) & 3)) * 4) & 31);
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt) {
                        acc[j][mt][0] *= a0;
                        acc[j][mt][2] *= a0;
                        acc[j][mt][1] *= a1;
                        acc[j][mt][3] *= a1;
                    }
                }
            }
            // p = 2^(s - m), hi/lo packed as B fragments: keys (2c, 2c+1) and (2c+8, 2c+9)
            uint32_t ph[CH][2], pl[CH][2];
#pragma unroll
            for (int u = 0; u < CH; ++u)
#pragma unroll
                for (int nt = 0; nt < 2; ++nt) {
                    const float p0 = sc[u][nt][0] == -INFINITY ? 0.0f : exp2f(sc[u][nt][0] - m_run);
                    const float p1 = sc[u][nt][1] == -INFINITY ? 0.0f : exp2f(sc[u][nt][1] - m_run);
                    l_run += p0 + p1;
                    split2<T>(p0, p1, ph[u][nt], pl[u][nt]);
                }
            // O^T += V^T P^T per V slot
#pragma unroll
            for (int j = 0; j < NVG; ++j) {
                if (hc[j] == 0) continue;
                const int src = ((hb[j] + (gr & 3)) * 4 + c) & 31;
                const bool col_ok = (gr & 3) < hc[j];
                const bool want_hi = gr < 4;
#pragma unroll
                for (int u = 0; u < CH; ++u) {
                    const uint32_t h0v = __shfl_sync(0xffffffffu, ph[u][0], src);
                    const uint32_t h1v = __shfl_sync(0xffffffffu, ph[u][1], src);
                    const uint32_t l0v = __shfl_sync(0xffffffffu, pl[u][0], src);
                    const uint32_t l1v = __shfl_sync(0xffffffffu, pl[u][1], src);
                    const uint32_t b0 = col_ok ? (want_hi ? h0v : l0v) : 0u;
                    const uint32_t b1 = col_ok ? (want_hi ? h1v : l1v) : 0u;
#pragma unroll
                    for (int w = 0; w < VW; ++w)
#pragma unroll
                        for (int m = 0; m < 4; ++m) {
                            uint32_t a[4];
                            a[0] = prmt(u4_at(vr[j][u][0][w], m), u4_at(vr[j][u][1][w], m), 0x5410);
                            a[1] = prmt(u4_at(vr[j][u][0][w], m), u4_at(vr[j][u][1][w], m), 0x7632);
                            a[2] = prmt(u4_at(vr[j][u][2][w], m), u4_at(vr[j][u][3][w], m), 0x5410);
                            a[3] = prmt(u4_at(vr[j][u][2][w], m), u4_at(vr[j][u][3][w], m), 0x7632);
                            mma16816<T>(acc[j][4 * w + m], a, b0, b1);
                        }
                }
                if (more) {
                    load_v(t0n, j, lim_next, tcg_next);
                    if (t0n == fix_t0) load_v_row(t0n, j, t_last);
                }
            }
            t0 = t0n;
            if (DYN && t0 >= 0 && lane == 0) grab = atomicAdd(pool, 1);
        }

        trace_at(buf, 0, blk, 3);
        // Warp -> shared memory: l summed over the head's lanes, hi + lo columns folded.
        l_run += __shfl_xor_sync(0xffffffffu, l_run, 1);
        l_run += __shfl_xor_sync(0xffffffffu, l_run, 2);
        if (c == 0) wml[warp][gr] = make_float2(m_run, l_run);
#pragma unroll
        for (int j = 0; j < NVG; ++j)
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[j][mt][e] += __shfl_xor_sync(0xffffffffu, acc[j][mt][e], 2);
        if (c < 2) {
#pragma unroll
            for (int j = 0; j < NVG; ++j) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int hl = 2 * c + (e & 1);  // head within the slot
                    if (hl < hc[j]) {
#pragma unroll
                        for (int mt = 0; mt < MT; ++mt) {
                            const int d = 64 * (mt / 4) + 8 * gr + 2 * (mt % 4) + (e >> 1);
                            wo[warp][hb[j] + hl][d] = acc[j][mt][e];
                        }
                    }
                }
            }
        }
        __syncthreads();

        // Block: merge the warps (each head's (m, l, o) over 8 warps).
        const bool single = g.n_splits == 1;
        for (int o = tid; o < co.nh * DV; o += kFastThreads) {
            const int hl = o / DV, d = o % DV;
            float M = -INFINITY;
#pragma unroll
            for (int w = 0; w < kFastWarps; ++w) M = fmaxf(M, wml[w][hl].x);
            float L = 0.0f, O = 0.0f;
            if (M > -INFINITY) {
#pragma unroll
                for (int w = 0; w < kFastWarps; ++w) {
                    const float2 ml = wml[w][hl];
                    const float wt = ml.x == -INFINITY ? 0.0f : exp2f(ml.x - M);
                    L += wt * ml.y;
                    O += wt * wo[w][hl][d];
                }
            }
            if (single) {
                buf.out[(row0 + co.h0 + hl) * DV + d] = L > 0.0f ? O / L : 0.0f;
            } else {
                buf.part_o[((row0 + co.h0 + hl) * g.n_splits + co.split) * DV + d] = O;
                if (d == 0) buf.part_ml[(row0 + co.h0 + hl) * g.n_splits + co.split] = make_float2(M, L);
            }
        }
        trace_at(buf, 0, blk, 4);
        if (single) {
            if (DYN && tid == 0) *pool = 0;  // every warp of the tile has stopped taking chunks
            return;
        }

        // Last block of this (sequence, head tile) combines the slices (log-sum-exp).
        __threadfence();
        __syncthreads();
        if (tid == 0) {
            int* counter = buf.counters + 2 * (size_t(co.b) * gridDim.y + blockIdx.y);
            const int ticket = atomicAdd(counter, 1);
            last_s = ticket == g.n_splits - 1;
            if (last_s) {  // ready for the next call
                *counter = 0;
                if (DYN) *pool = 0;  // every block of the tile has stopped taking chunks
            }
        }
        __syncthreads();
        if (!last_s) return;
        __threadfence();
        // Thread (o4, r): a float4 of one head's output over slices r, r + R, ..., merged online
        // (up to kMergeDepth of its slices' (m, l) and partial outputs loaded together: one round
        // trip to L2 for up to 40 slices at R = 2, as Sigma's 33 at batch 1), then the R threads
        // of each float4 are merged. n_out4 = nh * DV / 4 <= kFastThreads.
        const int n_out4 = co.nh * DV / 4, R = kFastThreads / n_out4;
        const int o4 = tid % n_out4, r = tid / n_out4;
        const int hl = o4 / (DV / 4), d4 = o4 % (DV / 4);
        float m = -INFINITY, l = 0.0f;
        float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (r < R) {
            const float4* po = reinterpret_cast<const float4*>(buf.part_o + (row0 + co.h0 + hl) * g.n_splits * DV) + d4;
            const float2* pml = buf.part_ml + (row0 + co.h0 + hl) * g.n_splits;
            for (int s0 = r; s0 < g.n_splits; s0 += kMergeDepth * R) {
                float4 v[kMergeDepth];
                float2 ml[kMergeDepth];
#pragma unroll
                for (int u = 0; u < kMergeDepth; ++u) {
                    const int s = s0 + u * R;
                    v[u] = s < g.n_splits ? __ldcg(po + size_t(s) * (DV / 4)) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                    ml[u] = s < g.n_splits ? __ldcg(pml + s) : make_float2(-INFINITY, 0.0f);
                }
                float mx = m;
#pragma unroll
                for (int u = 0; u < kMergeDepth; ++u) mx = fmaxf(mx, ml[u].x);
                if (mx == -INFINITY) continue;
                const float sc = exp2f(m - mx);  // m = -inf: 0
                a.x *= sc;
                a.y *= sc;
                a.z *= sc;
                a.w *= sc;
                l *= sc;
#pragma unroll
                for (int u = 0; u < kMergeDepth; ++u) {
                    const float w = ml[u].x == -INFINITY ? 0.0f : exp2f(ml[u].x - mx);
                    l = fmaf(ml[u].y, w, l);
                    a.x = fmaf(v[u].x, w, a.x);
                    a.y = fmaf(v[u].y, w, a.y);
                    a.z = fmaf(v[u].z, w, a.z);
                    a.w = fmaf(v[u].w, w, a.w);
                }
                m = mx;
            }
        }
        red4[tid] = a;
        wts[0][tid] = m;  // (wts is free here: kFastThreads <= kMaxSplits)
        wts[1][tid] = l;
        __syncthreads();
        if (tid < n_out4) {
            float M = -INFINITY;
            for (int rr = 0; rr < R; ++rr) M = fmaxf(M, wts[0][rr * n_out4 + tid]);
            float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            float L = 0.0f;
            if (M > -INFINITY) {
                for (int rr = 0; rr < R; ++rr) {
                    const float mr = wts[0][rr * n_out4 + tid];
                    const float w = mr == -INFINITY ? 0.0f : exp2f(mr - M);
                    const float4 v = red4[rr * n_out4 + tid];
                    L = fmaf(wts[1][rr * n_out4 + tid], w, L);
                    sum.x = fmaf(v.x, w, sum.x);
                    sum.y = fmaf(v.y, w, sum.y);
                    sum.z = fmaf(v.z, w, sum.z);
                    sum.w = fmaf(v.w, w, sum.w);
                }
            }
            const float inv = L > 0.0f ? 1.0f / L : 0.0f;
            reinterpret_cast<float4*>(buf.out + (row0 + co.h0 + hl) * DV)[d4] =
                make_float4(sum.x * inv, sum.y * inv, sum.z * inv, sum.w * inv);
        }
        trace_at(buf, 0, blk, 5);
    }
}

// ---- selective V, step 2 (fused): top-k per head and the gather of its V rows --------------
// Grid (n_q / hpb, B), kSelThreads threads. hpb = 1: one block per query head and its own top-k
// set; hpb = gv (selective_v_union): one block per V head, rows = the union of its heads' sets.
// Per head: M, L from the slices' statistics. Then the top-k keys, larger score first and the
// lower position among equal scores (the CPU reference's order), by one of two paths:
// - group maxima (from g.sel_min_len keys): the scores kernel wrote the largest score of every
//   16 keys. The k-th largest of those disjoint maxima is <= the k-th largest score, so only
//   the groups at or above it (about k of them) can hold the top k: their keys go through a
//   histogram of the maxima's bins (bin = topk_bin(M, s), below), and the keys in or above the
//   threshold bin become candidates (about k..2k); with at most kSelDirectCap of them every
//   candidate is ranked exactly against all others and the rank is the row's place in the list
//   (no bitmap); with more, the threshold-bin ranking below decides.
// - passes over every key: pass 1 histograms every score (keeps a copy of the scores in shared
//   memory when they fit), which finds the bin B holding the k-th largest; pass 2 marks every
//   key of a bin above B in a bitmap and ranks B's keys exactly among themselves. If B holds
//   more than kSelCandCap keys (near-constant scores), a radix select on the score bits inside
//   B finds the threshold and the ties at it are taken in position order. Taken below
//   sel_min_len, and when the first path finds too many groups or candidates.
// The bitmap is compacted in position order; either way the row list has a fixed order, so the
// block's sum of p_t * v_t over the rows (p the softmax over all keys) is deterministic.
constexpr int kSelThreads = 1024;
constexpr int kSelCandCap = 1024;
constexpr int kSelListCap = 4096;
constexpr int kSelMaxHeads = 64;          // union: query heads per V head
constexpr int kSelDynBytes = 160 * 1024;  // group maxima + score cache + two bitmaps
constexpr int kSelGroupCap = 8 * kSelThreads;  // group maxima per head the fast path takes (128K keys)
constexpr int kSelHotCap = kSelListCap;        // groups at or above the threshold (list_s holds them)
constexpr int kSelDirectCap = 256;             // candidates ranked against each other (4 threads each)
constexpr int kSelBinCap = 256;  // candidates of the threshold bin ranked from a short list
static_assert(kSelCandCap == kSelThreads, "one candidate per thread");
static_assert(4 * kSelDirectCap == kSelThreads, "direct ranks: 4 threads per candidate");
// The group-maximum path from this many keys by default (DecodeAttentionKnobs::select_groups_from
// overrides it for benchmarks). Below, the passes over every key cost less than its fixed part
// (measured at 2K and 4K: docs/benchmarks.md, decode attention, "group maxima for the select").
constexpr int kSelGroupMinLen = 4096;

// Candidate key for the direct ranks: larger = earlier in the CPU's order (score, then the lower
// position).
__device__ __forceinline__ unsigned long long sel_key(float s, int pos) {
    return (static_cast<unsigned long long>(order_key(s)) << 32) | (0xffffffffu - uint32_t(pos));
}

template <class T, int DV>
__global__ void __launch_bounds__(kSelThreads, 1)
    select_gather_kernel(const Geometry g, const Buffers buf, int groups_cap, int cache_cap, int words_cap, int hpb) {
    extern __shared__ __align__(16) unsigned char sel_mem[];
    float* gmax = reinterpret_cast<float*>(sel_mem);                     // groups_cap: one head's group maxima
    float* cache = gmax + groups_cap;                                    // cache_cap scores of one head
    uint32_t* selbits = reinterpret_cast<uint32_t*>(cache + cache_cap);  // words_cap: selected rows
    uint32_t* tiebits = selbits + words_cap;                             // words_cap: ties at the threshold
    // The selection's histogram and candidates, then the gather's partial sums, share memory.
    union SelSmem {
        struct {
            int hist[kTopkBins];
            int cand_i[kSelCandCap];
            float cand_v[kSelCandCap];
        } s;
        struct {
            float red[kSelThreads / 32][DV];
            float red2[8][DV];
        } g;
    };
    __shared__ SelSmem sm;
    int* const hist = sm.s.hist;
    int* const cand_i = sm.s.cand_i;
    float* const cand_v = sm.s.cand_v;
    __shared__ int list_s[kSelListCap];  // the fast path's groups, then the selected rows
    __shared__ float list_v[kSelDirectCap];  // direct ranks: the selected rows' scores
    __shared__ unsigned long long candk[kSelDirectCap];
    __shared__ float M_s[kSelMaxHeads], inv_s[kSelMaxHeads];
    __shared__ int bin_s, above_s, ncand_s, nhot_s, nb_s;
    __shared__ float bin_v[kSelBinCap];
    __shared__ int bin_i[kSelBinCap];
    using Scan = cub::BlockScan<int, kSelThreads>;
    __shared__ typename Scan::TempStorage scan_tmp;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int b = blockIdx.y, hq0 = blockIdx.x * hpb;
    const int blk = blockIdx.x + gridDim.x * blockIdx.y;  // trace slot
    trace_at(buf, kDecodeTraceSelectBase, blk, 0);
    const int len = g.pdl ? __ldcg(buf.seq_lens + b) : buf.seq_lens[b];  // PDL: L2, read before the wait
    const size_t row0 = size_t(b) * g.n_q;
    const int vh = hq0 / g.gv;
    const int k = g.selective_v;
    const bool all = k >= len;
    const int n4 = (len + 3) >> 2;
    const int words = (len + 31) >> 5;
    // With PDL this block may start while the scores kernel finishes: shared memory only, then
    // wait for it (scores, statistics) before anything else.
    if (g.pdl) pdl_launch_dependents();
    for (int i = tid; i < words; i += kSelThreads) selbits[i] = 0;
    for (int i = tid; i < kTopkBins; i += kSelThreads) hist[i] = 0;
    if (tid == 0) ncand_s = 0;
    if (g.pdl) pdl_wait();
    trace_at(buf, kDecodeTraceSelectBase, blk, 1);
    // The group-maximum path for this sequence: the first head's group maxima come into shared
    // memory in the same round trip as the statistics. Otherwise head 0's scores go towards L1
    // while the statistics are read.
    const int n_g = (len + kGroupKeys - 1) / kGroupKeys;
    const bool try_fast = !all && g.sel_groupmax && len >= g.sel_min_len && n_g >= k && n_g <= groups_cap;
    auto load_groups = [&](int hh) {
        const float* src = buf.group_max + (row0 + hq0 + hh) * size_t(g.gm_stride);
        for (int i = tid; 4 * i < n_g; i += kSelThreads) cp_async16(smem_u32(gmax + 4 * i), src + 4 * i, 16);
        cp_async_commit();
    };
    if (try_fast) {
        load_groups(0);
    } else if (!all) {
        const float4* src4 = reinterpret_cast<const float4*>(buf.scores + (row0 + hq0) * size_t(g.score_stride));
        for (int i = tid; i < n4; i += kSelThreads) asm volatile("prefetch.global.L1 [%0];" ::"l"(src4 + i));
    }

    for (int hh = warp; hh < hpb; hh += kSelThreads / 32) {  // softmax statistics over all slices
        // every slice's (max, sum) in one round trip (n_splits <= kMaxSplits = 8 per lane)
        const float2* ml = buf.part_ml + (row0 + hq0 + hh) * g.n_splits;
        float2 sv[kMaxSplits / 32];
#pragma unroll
        for (int j = 0; j < kMaxSplits / 32; ++j) {
            const int sl = lane + 32 * j;
            sv[j] = sl < g.n_splits ? __ldcg(&ml[sl]) : make_float2(-INFINITY, 0.0f);
        }
        float M = -INFINITY;
#pragma unroll
        for (int j = 0; j < kMaxSplits / 32; ++j) M = fmaxf(M, sv[j].x);
        M = warp_max(M);
        float L = 0.0f;
#pragma unroll
        for (int j = 0; j < kMaxSplits / 32; ++j) L += sv[j].x == -INFINITY ? 0.0f : sv[j].y * exp2f(sv[j].x - M);
        L = warp_sum(L);
        if (lane == 0) {
            M_s[hh] = M;
            inv_s[hh] = L > 0.0f ? 1.0f / L : 0.0f;
        }
    }
    const bool cache_ok = hpb == 1 && !all && len <= cache_cap;
    bool cached = false;  // the head's scores are in `cache` (set by the full passes below)
    __syncthreads();
    trace_at(buf, kDecodeTraceSelectBase, blk, 2);

    // bin_s, above_s <- the bin holding the kk-th largest of the histogram (larger scores in lower
    // bins) and the count above it (bin_s untouched when the histogram holds fewer than kk).
    auto find_bin = [&](int kk) {
        const int c0 = hist[2 * tid], c1 = hist[2 * tid + 1];
        int excl;
        Scan(scan_tmp).ExclusiveSum(c0 + c1, excl);
        if (excl < kk && excl + c0 + c1 >= kk) {
            bin_s = excl + c0 >= kk ? 2 * tid : 2 * tid + 1;
            above_s = excl + c0 >= kk ? excl : excl + c0;
        }
        __syncthreads();
    };
    // hist[bin] += 1 for the lanes with `valid`, one atomic per distinct bin of the warp (group
    // maxima and candidates crowd into a few bins near the maximum).
    auto hist_add = [&](bool valid, int bin) {
        const unsigned act = __ballot_sync(0xffffffffu, valid);
        if (valid) {
            const unsigned peers = __match_any_sync(act, bin);
            if (lane == __ffs(peers) - 1) atomicAdd(&hist[bin], __popc(peers));
        }
    };
    // The warp's lanes with `valid` take consecutive slots of a shared counter: slot, or -1.
    auto warp_slot = [&](bool valid, int* counter) {
        const unsigned bal = __ballot_sync(0xffffffffu, valid);
        int base = 0;
        if (lane == 0 && bal) base = atomicAdd(counter, __popc(bal));
        base = __shfl_sync(0xffffffffu, base, 0);
        return valid ? base + __popc(bal & ((1u << lane) - 1u)) : -1;
    };
    int n_rows = len;
    const int* list = nullptr;
    bool direct = false;  // list_s / list_v hold the rows in rank order (hpb = 1, direct ranks)
    if (!all) {
        for (int hh = 0; hh < hpb; ++hh) {
            const float M = M_s[hh];
            const float* src = buf.scores + (row0 + hq0 + hh) * size_t(g.score_stride);
            const float4* src4 = reinterpret_cast<const float4*>(src);
            if (hh > 0) {
                for (int i = tid; i < kTopkBins; i += kSelThreads) hist[i] = 0;
                if (tid == 0) ncand_s = 0;
                __syncthreads();
            }
            bool fast = false;
            if (try_fast) {
                if (hh > 0) load_groups(hh);
                if (tid == 0) {
                    bin_s = -1;
                    nhot_s = 0;
                    nb_s = 0;
                }
                cp_async_wait<0>();
                __syncthreads();
                const int rounds = (n_g + kSelThreads - 1) / kSelThreads;
                // The threshold: the bin Bl holding the k-th largest group maximum, from a histogram
                // of the maxima's bins. Plain shared atomics: the warp-aggregated hist_add cost 1-3.5
                // µs more here (same-run A/B, 16K-64K, batch 1), and neither a lower bound that
                // kept most maxima out of the histogram nor a histogram-free threshold (each warp's
                // largest maxima, then their exact ranks) was faster.
                for (int j = 0; j < rounds; ++j) {
                    const int i = tid + j * kSelThreads;
                    const float v = i < n_g ? gmax[i] : -INFINITY;
                    if (v > -INFINITY) atomicAdd(&hist[topk_bin(M, v)], 1);
                }
                __syncthreads();
                if (hh == 0) trace_at(buf, kDecodeTraceSelectBase, blk, 8);
                find_bin(k);
                const int Bl = bin_s;  // -1: fewer than k finite group maxima
                for (int i = tid; i < kTopkBins; i += kSelThreads) hist[i] = 0;
                if (Bl >= 0) {
                    for (int j = 0; j < rounds; ++j) {  // the groups in or above bin Bl
                        const int i = tid + j * kSelThreads;
                        const float v = i < n_g ? gmax[i] : -INFINITY;
                        const int slot = warp_slot(v > -INFINITY && topk_bin(M, v) <= Bl, &nhot_s);
                        if (slot >= 0 && slot < kSelHotCap) list_s[slot] = i;
                    }
                }
                __syncthreads();
                const int nhot = nhot_s;
                if (hh == 0) {
                    trace_at(buf, kDecodeTraceSelectBase, blk, 10);
                    trace_count(buf, kDecodeTraceSelectBase, blk, kDecodeTraceCountSlot, nhot);
                }
                if (Bl >= 0 && nhot <= kSelHotCap) {
                    // their keys in or above bin Bl: at least k (every such group's maximum)
                    for (int w0 = 0; w0 < 4 * nhot; w0 += kSelThreads) {
                        const int w = w0 + tid;
                        const int gi = w < 4 * nhot ? list_s[w >> 2] : 0;
                        const int p0 = kGroupKeys * gi + 4 * (w & 3);
                        const bool load = w < 4 * nhot && p0 < len;
                        const float4 v4 = load ? __ldcg(src4 + (p0 >> 2)) : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
                        const float e[4] = {v4.x, v4.y, v4.z, v4.w};
#pragma unroll
                        for (int q = 0; q < 4; ++q) {
                            const int pos = p0 + q;
                            const bool in = pos < len && e[q] > -INFINITY && topk_bin(M, e[q]) <= Bl;
                            const int cix = warp_slot(in, &ncand_s);
                            if (cix >= 0 && cix < kSelCandCap) {
                                cand_i[cix] = pos;
                                cand_v[cix] = e[q];
                                if (cix < kSelDirectCap) candk[cix] = sel_key(e[q], pos);
                                // its V row towards the L2 while the candidates are ranked
#pragma unroll
                                for (int o = 0; o < DV; o += 128 / int(sizeof(T)))
                                    prefetch_l2(static_cast<const T*>(buf.v) + ((size_t(b) * g.n_v + vh) * g.max_ctx + pos) * DV + o);
                            }
                        }
                    }
                    __syncthreads();
                    if (hh == 0) trace_at(buf, kDecodeTraceSelectBase, blk, 3);
                    const int n = ncand_s;  // >= k
                    if (hh == 0) trace_count(buf, kDecodeTraceSelectBase, blk, kDecodeTraceCountSlot + 1, n);
                    fast = n <= kSelCandCap;
                    if (n <= kSelDirectCap) {
                        // every candidate against all others: 4 threads a candidate, n / 4 each
                        const int ci = tid >> 2, part = tid & 3;
                        const unsigned long long my = ci < n ? candk[ci] : 0ull;
                        int rank = 0;
                        if (ci < n)
#pragma unroll 8
                            for (int o = part; o < n; o += 4) rank += candk[o] > my;
                        rank += __shfl_xor_sync(0xffffffffu, rank, 1);
                        rank += __shfl_xor_sync(0xffffffffu, rank, 2);
                        if (ci < n && part == 0 && rank < k) {
                            const int pos = int(0xffffffffu - uint32_t(my));
                            if (hpb == 1) {
                                list_s[rank] = pos;
                                list_v[rank] = key_float(uint32_t(my >> 32));
                            } else {
                                atomicOr(&selbits[pos >> 5], 1u << (pos & 31));
                            }
                        }
                        direct = hpb == 1;
                        if (hh == 0) trace_at(buf, kDecodeTraceSelectBase, blk, 4);
                    } else if (fast) {  // one candidate per thread (kSelCandCap == kSelThreads)
                        const bool has = tid < n;
                        const float v = has ? cand_v[tid] : 0.0f;
                        const int i = has ? cand_i[tid] : 0;
                        const int bin = has ? topk_bin(M, v) : 0;
                        hist_add(has, bin);
                        __syncthreads();
                        find_bin(k);
                        if (hh == 0) trace_at(buf, kDecodeTraceSelectBase, blk, 4);
                        const int B = bin_s, krem = k - above_s;
                        // Bins above B are in. Bin B's candidates go to a short list and one is in
                        // when fewer than krem of them come before it (larger score, or equal and
                        // lower position: the CPU's order).
                        if (has && bin == B) {
                            const int j = atomicAdd(&nb_s, 1);
                            if (j < kSelBinCap) {
                                bin_v[j] = v;
                                bin_i[j] = i;
                            }
                        }
                        __syncthreads();
                        const int nb = nb_s;
                        bool take = has && bin < B;
                        if (has && bin == B) {
                            int rank = 0;
                            if (nb <= kSelBinCap) {
#pragma unroll 8
                                for (int o = 0; o < nb; ++o) {
                                    const float w = bin_v[o];
                                    rank += (w > v) || (w == v && bin_i[o] < i);
                                }
                            } else {
                                for (int o = 0; o < n; ++o) {
                                    const float w = cand_v[o];
                                    rank += topk_bin(M, w) == B && ((w > v) || (w == v && cand_i[o] < i));
                                }
                            }
                            take = rank < krem;
                        }
                        if (take) atomicOr(&selbits[i >> 5], 1u << (i & 31));
                    }
                }
                if (!fast) {  // too many groups or candidates: the passes below, from a clean state
                    __syncthreads();
                    for (int i = tid; i < kTopkBins; i += kSelThreads) hist[i] = 0;
                    if (tid == 0) ncand_s = 0;
                    __syncthreads();
                }
            }
            if (!fast) {
                cached = cache_ok;
                // pass 1: histogram (and the shared-memory copy)
                for (int i0 = tid; i0 < n4; i0 += 8 * kSelThreads) {
                    float4 v[8];
#pragma unroll
                    for (int u = 0; u < 8; ++u) {
                        const int i = i0 + u * kSelThreads;
                        // with PDL the scores were written while this kernel ran: coherent loads
                        v[u] = i >= n4 ? make_float4(0.0f, 0.0f, 0.0f, 0.0f) : (g.pdl ? __ldcg(src4 + i) : __ldg(src4 + i));
                    }
#pragma unroll
                    for (int u = 0; u < 8; ++u) {
                        const int i = i0 + u * kSelThreads;
                        if (i >= n4) continue;
                        if (cached) reinterpret_cast<float4*>(cache)[i] = v[u];
                        const float e[4] = {v[u].x, v[u].y, v[u].z, v[u].w};
#pragma unroll
                        for (int q = 0; q < 4; ++q)
                            if (4 * i + q < len) atomicAdd(&hist[topk_bin(M, e[q])], 1);
                    }
                }
                __syncthreads();
                if (hh == 0) trace_at(buf, kDecodeTraceSelectBase, blk, 3);
                find_bin(k);
                if (hh == 0) trace_at(buf, kDecodeTraceSelectBase, blk, 4);
                const int B = bin_s, krem = k - above_s, nB = hist[B];
                // pass 2: bins above B are in; B's keys become candidates
                for (int i0 = tid; i0 < n4; i0 += 8 * kSelThreads) {
                    float4 v[8];
#pragma unroll
                    for (int u = 0; u < 8; ++u) {
                        const int i = i0 + u * kSelThreads;
                        v[u] = i >= n4 ? make_float4(0.0f, 0.0f, 0.0f, 0.0f)
                                       : (cached ? reinterpret_cast<const float4*>(cache)[i] : __ldcg(src4 + i));
                    }
#pragma unroll
                    for (int u = 0; u < 8; ++u) {
                        const int i = i0 + u * kSelThreads;
                        if (i >= n4) continue;
                        const float e[4] = {v[u].x, v[u].y, v[u].z, v[u].w};
#pragma unroll
                        for (int q = 0; q < 4; ++q) {
                            const int pos = 4 * i + q;
                            if (pos >= len) continue;
                            const int bin = topk_bin(M, e[q]);
                            if (bin < B) {
                                atomicOr(&selbits[pos >> 5], 1u << (pos & 31));
                            } else if (bin == B && nB <= kSelCandCap) {
                                const int cix = atomicAdd(&ncand_s, 1);
                                cand_i[cix] = pos;
                                cand_v[cix] = e[q];
                            }
                        }
                    }
                }
                __syncthreads();
                if (nB <= kSelCandCap) {
                    for (int ci = tid; ci < nB; ci += kSelThreads) {
                        const float v = cand_v[ci];
                        const int i = cand_i[ci];
                        int rank = 0;
                        for (int o = 0; o < nB; ++o) {
                            const float w = cand_v[o];
                            rank += (w > v) || (w == v && cand_i[o] < i);
                        }
                        if (rank < krem) atomicOr(&selbits[i >> 5], 1u << (i & 31));
                    }
                } else {
                    // Rare: radix select among the keys of bin B (decode_attention.cuh).
                    int kr = krem;
                    const uint32_t prefix = radix_select_bin<kSelThreads, Scan>(
                        len, M, B, kr, hist, bin_s, above_s, scan_tmp,
                        [&](int pos) { return cached ? cache[pos] : __ldcg(src + pos); });
                    // keys above the threshold are in; ties at it are taken in position order
                    for (int i = tid; i < words; i += kSelThreads) tiebits[i] = 0;
                    __syncthreads();
                    for (int pos = tid; pos < len; pos += kSelThreads) {
                        const float v = cached ? cache[pos] : __ldcg(src + pos);
                        if (topk_bin(M, v) != B) continue;
                        const uint32_t key = order_key(v);
                        if (key > prefix) atomicOr(&selbits[pos >> 5], 1u << (pos & 31));
                        else if (key == prefix) atomicOr(&tiebits[pos >> 5], 1u << (pos & 31));
                    }
                    __syncthreads();
                    int running = 0;
                    for (int w0 = 0; w0 < words; w0 += kSelThreads) {
                        const int w = w0 + tid;
                        const uint32_t bits = w < words ? tiebits[w] : 0u;
                        int off, total;
                        Scan(scan_tmp).ExclusiveSum(__popc(bits), off, total);
                        int rank = running + off;
                        uint32_t rem = bits, take = 0;
                        while (rem && rank < kr) {
                            const uint32_t low = rem & (0u - rem);
                            take |= low;
                            rem ^= low;
                            ++rank;
                        }
                        if (take) atomicOr(&selbits[w], take);
                        running += total;
                        __syncthreads();
                    }
                }
            }
            __syncthreads();
        }
        trace_at(buf, kDecodeTraceSelectBase, blk, 5);
        // The selected rows (union over the block's heads) in position order, unless the direct
        // ranks already listed them in rank order.
        int* lst = direct || hpb * k <= kSelListCap ? list_s : buf.idx + (row0 + hq0) * size_t(k);
        int running = direct ? k : 0;
        for (int w0 = 0; !direct && w0 < words; w0 += kSelThreads) {
            const int w = w0 + tid;
            const uint32_t bits = w < words ? selbits[w] : 0u;
            int off, total;
            Scan(scan_tmp).ExclusiveSum(__popc(bits), off, total);
            uint32_t rem = bits;
            int o = running + off;
            while (rem) {
                lst[o++] = (w << 5) + (__ffs(rem) - 1);
                rem &= rem - 1;
            }
            running += total;
            __syncthreads();
        }
        n_rows = running;
        list = lst;
    }
    trace_at(buf, kDecodeTraceSelectBase, blk, 6);

    // Gather: thread (cc, r) reads 16 bytes (column chunk cc) of rows r, r + RPR, ...
    constexpr int NC = DV / 8, RPR = kSelThreads / NC;
    const int cc = tid % NC, r = tid / NC;
    const T* vrow0 = static_cast<const T*>(buf.v) + (size_t(b) * g.n_v + vh) * g.max_ctx * DV + cc * 8;
    for (int hh = 0; hh < hpb; ++hh) {
        const float M = M_s[hh], inv = inv_s[hh];
        const float* srow = buf.scores + (row0 + hq0 + hh) * size_t(g.score_stride);
        float acc[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[e] = 0.0f;
        for (int i0 = r; i0 < n_rows; i0 += 4 * RPR) {
            int tt[4];
            uint4 vv[4];
            float sv[4];
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const int i = i0 + u * RPR;
                tt[u] = i < n_rows ? (list ? list[i] : i) : -1;
            }
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const T* vp = vrow0 + size_t(tt[u]) * DV;
                vv[u] = tt[u] < 0 ? make_uint4(0, 0, 0, 0) : (g.pdl && tt[u] == len - 1 ? ld16cg(vp) : ld16(vp));
                sv[u] = tt[u] < 0 ? -INFINITY
                                  : (direct ? list_v[i0 + u * RPR] : (cached ? cache[tt[u]] : __ldcg(srow + tt[u])));
            }
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                if (tt[u] < 0) continue;
                const float pw = exp2f(sv[u] - M) * inv;
                float vf[8];
                cvt8<T>(vv[u], vf);
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[e] = fmaf(pw, vf[e], acc[e]);
            }
        }
#pragma unroll
        for (int o = NC; o < 32; o <<= 1)
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[e] += __shfl_xor_sync(0xffffffffu, acc[e], o);
        if (lane < NC)
#pragma unroll
            for (int e = 0; e < 8; ++e) sm.g.red[warp][lane * 8 + e] = acc[e];
        __syncthreads();
        if (tid < 8 * DV) {  // 32 warps -> 8 parts -> 1, in a fixed order
            const int d = tid % DV, part = tid / DV;
            sm.g.red2[part][d] =
                sm.g.red[4 * part][d] + sm.g.red[4 * part + 1][d] + sm.g.red[4 * part + 2][d] + sm.g.red[4 * part + 3][d];
        }
        __syncthreads();
        if (tid < DV) {
            float sum = 0.0f;
#pragma unroll
            for (int part = 0; part < 8; ++part) sum += sm.g.red2[part][tid];
            buf.out[(row0 + hq0 + hh) * DV + tid] = sum;
        }
        __syncthreads();
    }
    trace_at(buf, kDecodeTraceSelectBase, blk, 7);
}

}  // namespace sigmaops::kernels::attn
