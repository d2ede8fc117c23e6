// Benchmark of DiffQKV decode attention (kernels.h) on the current GPU.
// Shapes: Sigma-1.5B (32/4/16, d 64) and its GQA twin (32/16/16), bf16 cache, contexts
// 2K..128K, batch 1 and 8; full attention and selective V (k = 100, per head and union).
// Timing: CUDA events around 50 calls after 5 warm-ups (mean per call). The cache buffers are
// rotated (several copies, >= 256 MiB in all) so that small problems are not served from L2.
// Bandwidth: bytes of K and V the call must read (+ q and out) per second, and its share of the
// device-to-device copy bandwidth measured in the same run (1 GiB cudaMemcpy, read + written).
// Output: one JSON object per line on stdout.
// Also times the same calls captured in a CUDA graph (us_graph): no host launch cost.
// Variants "*_pdl" launch with programmatic dependent launch (DecodeAttentionParams::pdl), as the
// engine's decode step does: each call's predecessor is the previous call (a real dependency:
// they share the workspace), so its launch, sequence-length read and first K/V loads overlap
// the previous call's tail. Every call uses the knobs of the environment
// (decode_attention_knobs_from_env: SIGMAOPS_ATTN_*, as the engine reads them), then each
// variant's own (DecodeAttentionKnobs). With --all, "*_old" run the previous kernels
// (old_kernels) and "*_pN" size the slices for N% of one block per SM (split_pct); "*_dyn" run
// full attention with the chunk pool (chunk_pool 1), "*_static" without it (0; the default takes
// it for few head tiles and long caches, decode_attention.cu dyn_default), and "*_fullsel"
// selective V's select without the group-maximum threshold (select_every_key), "*_grp1k" with it
// from 1024 keys (select_groups_from; default 4096).
// "*_wide" (with --all or --only) scale q by 30: scores spread over ~40 log2 units or more, as
// in a model with random weights (the selection's threshold then sits far below the max).
// Usage: bench_attention [--quick] [--all] [--warmup N] [--iters N] [--no-graph] [--batch B]
//                        [--ctx T] [--only variant,variant,...] [--trace]
// --trace: also print each variant's block timestamps (JSON "kind": "trace"; see print_trace).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels.h"

namespace {

#define CHECK_CUDA(call)                                                                              \
    do {                                                                                              \
        const cudaError_t e_ = (call);                                                                \
        if (e_ != cudaSuccess) {                                                                      \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                             \
        }                                                                                             \
    } while (0)

using sigmaops::kernels::DecodeAttentionParams;
using sigmaops::kernels::DType;

int g_warmup = 5, g_iters = 50;
bool g_graph = true;
bool g_trace = false;  // --trace: block timestamps of the last graph-replayed call
const char* g_variant = "";
sigmaops::kernels::DecodeAttentionKnobs g_knobs;  // the knobs of the variant being measured

// --trace: the last call's block timestamps (kernels.h decode_attention_trace) as one JSON line:
// per region (split-KV / scores blocks, select+gather blocks) and slot, the count of blocks that
// wrote it and its 0/10/50/90/100th percentiles in µs after the earliest split-block start
// (select slots kDecodeTraceCountSlot and after: counts of groups / candidates, not times).
void print_trace(const char* variant, int batch, int ctx) {
    using namespace sigmaops::kernels;
    std::vector<unsigned long long> t(kDecodeTraceEntries);
    if (decode_attention_trace(t.data(), kDecodeTraceEntries) < 0) return;
    unsigned long long origin = ~0ull;
    for (int b = 0; b < kDecodeTraceSelectBase / kDecodeTraceSlots; ++b)
        if (t[b * kDecodeTraceSlots]) origin = std::min(origin, t[b * kDecodeTraceSlots]);
    if (origin == ~0ull) return;
    std::printf("{\"kind\": \"trace\", \"variant\": \"%s\", \"batch\": %d, \"ctx\": %d", variant, batch, ctx);
    for (int region = 0; region < 2; ++region) {
        const int base = region * kDecodeTraceSelectBase;
        for (int slot = 0; slot < kDecodeTraceSlots; ++slot) {
            std::vector<double> us;
            const bool count = region == 1 && slot >= kDecodeTraceCountSlot;  // counts, not times
            for (int b = 0; b < kDecodeTraceSelectBase / kDecodeTraceSlots; ++b) {
                const unsigned long long v = t[base + b * kDecodeTraceSlots + slot];
                if (count && v > 0) us.push_back(double(v));
                if (!count && v >= origin) us.push_back(double(v - origin) / 1e3);
            }
            if (us.empty()) continue;
            std::sort(us.begin(), us.end());
            auto pct = [&](double f) { return us[std::min(us.size() - 1, size_t(f * double(us.size() - 1) + 0.5))]; };
            std::printf(", \"%s%d\": [%zu, %.2f, %.2f, %.2f, %.2f, %.2f]", region ? "sel" : "split", slot, us.size(), pct(0),
                        pct(0.1), pct(0.5), pct(0.9), pct(1));
        }
    }
    std::printf("}\n");
    std::fflush(stdout);
}

// Device-to-device copy bandwidth, bytes read + written per second.
double copy_bandwidth() {
    const size_t bytes = size_t(1) << 30;
    void *a = nullptr, *b = nullptr;
    CHECK_CUDA(cudaMalloc(&a, bytes));
    CHECK_CUDA(cudaMalloc(&b, bytes));
    CHECK_CUDA(cudaMemset(a, 1, bytes));
    cudaEvent_t e0, e1;
    CHECK_CUDA(cudaEventCreate(&e0));
    CHECK_CUDA(cudaEventCreate(&e1));
    for (int i = 0; i < 3; ++i) CHECK_CUDA(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    const int n = 10;
    CHECK_CUDA(cudaEventRecord(e0));
    for (int i = 0; i < n; ++i) CHECK_CUDA(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
    CHECK_CUDA(cudaEventRecord(e1));
    CHECK_CUDA(cudaEventSynchronize(e1));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, e0, e1));
    cudaFree(a);
    cudaFree(b);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return 2.0 * bytes * n / (ms * 1e-3);
}

__global__ void fill_random_bf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        uint32_t x = uint32_t(i) * 2654435761u ^ seed;
        x ^= x >> 13;
        x *= 0x5bd1e995u;
        x ^= x >> 15;
        p[i] = __float2bfloat16((float(x & 0xffffu) / 65535.0f - 0.5f) * 3.0f);
    }
}

// Stand-in for the engine's rope (the kernel before attention in a decode step): writes q
// and the newest K and V row (position len - 1) of every sequence. With PDL it waits for the
// previous kernel first, as rope does; the attention call after it then runs its pre-wait
// part (sequence length, first loads of older rows) while this kernel finishes.
__global__ void write_step_kernel(float* q, int n_q, int n_k, int n_v, int d, int ctx, __nv_bfloat16* k,
                                  __nv_bfloat16* v, float scale) {
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    const int b = blockIdx.x;
    float* qb = q + size_t(b) * n_q * d;
    for (int i = threadIdx.x; i < n_q * d; i += blockDim.x) qb[i] = qb[i] * scale;  // |scale| = 1: stays bounded
    const size_t row = size_t(ctx - 1) * d;
    for (int i = threadIdx.x; i < n_k * d; i += blockDim.x) {
        __nv_bfloat16* kr = k + (size_t(b) * n_k + i / d) * ctx * d;
        kr[row + i % d] = kr[i % d];  // row 0's values
    }
    for (int i = threadIdx.x; i < n_v * d; i += blockDim.x) {
        __nv_bfloat16* vr = v + (size_t(b) * n_v + i / d) * ctx * d;
        vr[row + i % d] = vr[i % d];
    }
}

struct Result {
    double us;        // plain launches on a stream (host launch cost included when it dominates)
    double us_graph;  // the same g_iters calls captured in one CUDA graph and replayed
    double bytes;
    double us_writer_graph;  // step mode: write_step_kernel alone, g_iters launches in one graph
};

// One measured configuration. Returns mean µs per call over g_iters calls.
// step: each call is preceded by write_step_kernel (launched with PDL when pdl is set), as the
// attention of an engine decode step follows rope; the time is per (writer + attention).
Result measure(int n_q, int n_k, int n_v, int d, int batch, int ctx, int selective_v, bool uni, bool pdl, bool step,
               float qscale) {
    const size_t k_elems = size_t(batch) * n_k * ctx * d, v_elems = size_t(batch) * n_v * ctx * d;
    const size_t set_bytes = (k_elems + v_elems) * 2;
    const int n_sets = int(std::clamp<size_t>((size_t(256) << 20) / set_bytes + 1, 1, 64));
    std::vector<void*> ks(n_sets), vs(n_sets);
    for (int i = 0; i < n_sets; ++i) {
        CHECK_CUDA(cudaMalloc(&ks[i], k_elems * 2));
        CHECK_CUDA(cudaMalloc(&vs[i], v_elems * 2));
        fill_random_bf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(ks[i]), k_elems, 17u + i);
        fill_random_bf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(vs[i]), v_elems, 91u + i);
    }
    void* q = nullptr;
    float* out = nullptr;
    int* lens = nullptr;
    CHECK_CUDA(cudaMalloc(&q, size_t(batch) * n_q * d * 4));
    CHECK_CUDA(cudaMalloc(&out, size_t(batch) * n_q * d * 4));
    CHECK_CUDA(cudaMalloc(&lens, batch * sizeof(int)));
    {
        std::vector<float> hq(size_t(batch) * n_q * d);
        std::mt19937 rng(5);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (float& x : hq) x = nd(rng) * qscale;
        CHECK_CUDA(cudaMemcpy(q, hq.data(), hq.size() * 4, cudaMemcpyHostToDevice));
        std::vector<int> hl(batch, ctx);
        CHECK_CUDA(cudaMemcpy(lens, hl.data(), batch * sizeof(int), cudaMemcpyHostToDevice));
    }
    DecodeAttentionParams p;
    p.batch = batch;
    p.n_q = n_q;
    p.n_k = n_k;
    p.n_v = n_v;
    p.d_qk = p.d_v = d;
    p.max_ctx = ctx;
    p.max_seq_len = ctx;
    p.q = q;
    p.q_type = DType::F32;
    p.kv_type = DType::BF16;
    p.seq_lens = lens;
    p.out = out;
    p.selective_v = selective_v;
    p.selective_v_union = uni;
    p.pdl = pdl;
    p.knobs = g_knobs;
    p.workspace_bytes = sigmaops::kernels::decode_attention_workspace_bytes(p);
    void* ws = nullptr;
    CHECK_CUDA(cudaMalloc(&ws, p.workspace_bytes));
    CHECK_CUDA(cudaMemset(ws, 0, p.workspace_bytes));
    p.workspace = ws;
    CHECK_CUDA(cudaDeviceSynchronize());
    // One created stream for every launch (PDL needs a kernel predecessor on the same stream).
    cudaStream_t st;
    CHECK_CUDA(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    p.stream = st;

    auto writer = [&](int i) {
        cudaLaunchConfig_t cfg{};
        cfg.gridDim = dim3(unsigned(batch));
        cfg.blockDim = dim3(256);
        cfg.stream = st;
        cudaLaunchAttribute attr[1];
        attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attr[0].val.programmaticStreamSerializationAllowed = 1;
        cfg.attrs = attr;
        cfg.numAttrs = pdl ? 1 : 0;
        CHECK_CUDA(cudaLaunchKernelEx(&cfg, write_step_kernel, static_cast<float*>(q), n_q, n_k, n_v, d, ctx,
                                      static_cast<__nv_bfloat16*>(ks[i % n_sets]),
                                      static_cast<__nv_bfloat16*>(vs[i % n_sets]), (i & 1) ? -1.0f : 1.0f));
    };
    auto call = [&](int i) {
        if (step) writer(i);
        p.k_cache = ks[i % n_sets];
        p.v_cache = vs[i % n_sets];
        const sigmaops::kernels::Status status = sigmaops::kernels::decode_attention(p);
        if (!status.ok()) {
            std::fprintf(stderr, "%s\n", status.error.c_str());
            std::exit(1);
        }
    };
    for (int i = 0; i < g_warmup; ++i) call(i);
    CHECK_CUDA(cudaDeviceSynchronize());
    cudaEvent_t e0, e1;
    CHECK_CUDA(cudaEventCreate(&e0));
    CHECK_CUDA(cudaEventCreate(&e1));
    CHECK_CUDA(cudaEventRecord(e0, st));
    for (int i = 0; i < g_iters; ++i) call(i);
    CHECK_CUDA(cudaEventRecord(e1, st));
    CHECK_CUDA(cudaEventSynchronize(e1));
    CHECK_CUDA(cudaGetLastError());
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, e0, e1));

    // Graph replay: the launches without host overhead (as an engine's captured decode step).
    // g_iters launches of `body` captured in one graph; ms of one replay after a warm one.
    // `after` gets the instantiated graph before it is destroyed.
    auto time_graph = [&](auto&& body, auto&& after) {
        cudaGraph_t graph;
        cudaGraphExec_t exec;
        CHECK_CUDA(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
        for (int i = 0; i < g_iters; ++i) body(i);
        CHECK_CUDA(cudaStreamEndCapture(st, &graph));
        CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
        CHECK_CUDA(cudaGraphLaunch(exec, st));
        CHECK_CUDA(cudaStreamSynchronize(st));
        CHECK_CUDA(cudaEventRecord(e0, st));
        CHECK_CUDA(cudaGraphLaunch(exec, st));
        CHECK_CUDA(cudaEventRecord(e1, st));
        CHECK_CUDA(cudaEventSynchronize(e1));
        float ms_g = 0;
        CHECK_CUDA(cudaEventElapsedTime(&ms_g, e0, e1));
        after(exec);
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
        return ms_g;
    };
    const float ms_graph = !g_graph ? 0.0f : time_graph(call, [&](cudaGraphExec_t exec) {
        if (!g_trace) return;
        // clear (a read clears), replay once more: the trace holds its last call
        std::vector<unsigned long long> scratch(sigmaops::kernels::kDecodeTraceEntries);
        sigmaops::kernels::decode_attention_trace(scratch.data(), int(scratch.size()));
        CHECK_CUDA(cudaGraphLaunch(exec, st));
        CHECK_CUDA(cudaStreamSynchronize(st));
        print_trace(g_variant, batch, ctx);
    });
    // the writer alone, for reference
    const float ms_writer = !(g_graph && step) ? 0.0f : time_graph(writer, [](cudaGraphExec_t) {});
    cudaStreamDestroy(st);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);

    // Bytes the call must move: K (all rows), V (all rows, or the selected rows), q, out.
    const double k_bytes = double(k_elems) * 2;
    double v_bytes = double(v_elems) * 2;
    if (selective_v > 0) {
        const int gv = n_q / n_v;
        v_bytes = double(batch) * n_v * std::min<double>(double(gv) * selective_v, ctx) * d * 2;
    }
    const double bytes = k_bytes + v_bytes + double(batch) * n_q * d * (4 + 4);
    for (int i = 0; i < n_sets; ++i) {
        cudaFree(ks[i]);
        cudaFree(vs[i]);
    }
    cudaFree(q);
    cudaFree(out);
    cudaFree(lens);
    cudaFree(ws);
    return {ms * 1e3 / g_iters, ms_graph * 1e3 / g_iters, bytes, ms_writer * 1e3 / g_iters};
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, all = false;
    int only_batch = 0, only_ctx = 0;
    std::string only;  // comma-separated variant names; empty = all
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--all")) all = true;
        else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) g_iters = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--warmup") && i + 1 < argc) g_warmup = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = "," + std::string(argv[++i]) + ",";
        else if (!std::strcmp(argv[i], "--no-graph")) g_graph = false;
        else if (!std::strcmp(argv[i], "--trace")) {
            g_trace = true;  // knobs.trace for every call
        }
        else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) only_batch = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--ctx") && i + 1 < argc) only_ctx = std::atoi(argv[++i]);
    }
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        std::printf("{\"skipped\": \"no GPU\"}\n");
        return 0;
    }
    cudaDeviceProp prop{};
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    const double copy_bw = copy_bandwidth();
    std::printf("{\"kind\": \"device\", \"gpu\": \"%s\", \"sms\": %d, \"copy_GBps\": %.1f}\n", prop.name,
                prop.multiProcessorCount, copy_bw / 1e9);
    std::fflush(stdout);

    struct Variant {
        const char* name;
        int n_q, n_k, n_v, selective_v;
        bool uni;
        bool old;       // knobs.old_kernels
        int split_pct;  // knobs.split_pct (0: the environment's)
        bool pdl;       // DecodeAttentionParams::pdl
        bool extra;     // only with --all
        bool step = false;  // each call after write_step_kernel (the engine's rope stand-in)
        float qscale = 1.0f;  // q multiplied by this (wide score distributions)
        int dyn = 0;          // knobs.chunk_pool: 1 the chunk pool, -1 fixed runs (0), 0 the environment's
        bool fullsel = false; // knobs.select_every_key (the select's passes over every key)
        int sel_min_len = 0;  // knobs.select_groups_from (0: the environment's)
    };
    const sigmaops::kernels::DecodeAttentionKnobs env_knobs = sigmaops::kernels::decode_attention_knobs_from_env();
    const Variant variants[] = {
        {"sigma", 32, 4, 16, 0, false, false, 0, false, false},
        {"sigma_pdl", 32, 4, 16, 0, false, false, 0, true, false},
        {"gqa", 32, 16, 16, 0, false, false, 0, false, false},
        {"gqa_pdl", 32, 16, 16, 0, false, false, 0, true, false},
        {"sigma_selv100", 32, 4, 16, 100, false, false, 0, false, false},
        {"sigma_selv100_pdl", 32, 4, 16, 100, false, false, 0, true, false},
        {"sigma_selv100_union", 32, 4, 16, 100, true, false, 0, false, false},
        {"sigma_selv100_union_pdl", 32, 4, 16, 100, true, false, 0, true, false},
        {"sigma_step", 32, 4, 16, 0, false, false, 0, false, false, true},
        {"sigma_step_pdl", 32, 4, 16, 0, false, false, 0, true, false, true},
        {"sigma_selv100_step", 32, 4, 16, 100, false, false, 0, false, false, true},
        {"sigma_selv100_step_pdl", 32, 4, 16, 100, false, false, 0, true, false, true},
        {"gqa_selv100", 32, 16, 16, 100, false, false, 0, false, true},
        {"sigma_old", 32, 4, 16, 0, false, true, 0, false, true},
        {"gqa_old", 32, 16, 16, 0, false, true, 0, false, true},
        {"sigma_selv100_old", 32, 4, 16, 100, false, true, 0, false, true},
        {"sigma_p50", 32, 4, 16, 0, false, false, 50, false, true},
        {"sigma_p200", 32, 4, 16, 0, false, false, 200, false, true},
        {"gqa_p200", 32, 16, 16, 0, false, false, 200, false, true},
        {"sigma_selv100_p200", 32, 4, 16, 100, false, false, 200, false, true},
        {"sigma_selv100_wide", 32, 4, 16, 100, false, false, 0, false, true, false, 30.0f},
        {"sigma_selv100_wide_pdl", 32, 4, 16, 100, false, false, 0, true, true, false, 30.0f},
        {"sigma_dyn", 32, 4, 16, 0, false, false, 0, false, true, false, 1.0f, 1},
        {"sigma_dyn_pdl", 32, 4, 16, 0, false, false, 0, true, true, false, 1.0f, 1},
        {"gqa_dyn_pdl", 32, 16, 16, 0, false, false, 0, true, true, false, 1.0f, 1},
        {"sigma_static_pdl", 32, 4, 16, 0, false, false, 0, true, true, false, 1.0f, -1},
        {"gqa_static_pdl", 32, 16, 16, 0, false, false, 0, true, true, false, 1.0f, -1},
        {"sigma_selv100_fullsel", 32, 4, 16, 100, false, false, 0, false, true, false, 1.0f, 0, true},
        {"sigma_selv100_fullsel_pdl", 32, 4, 16, 100, false, false, 0, true, true, false, 1.0f, 0, true},
        {"sigma_selv100_grp1k_pdl", 32, 4, 16, 100, false, false, 0, true, true, false, 1.0f, 0, false, 1024},
        {"sigma_selv100_union_grp1k_pdl", 32, 4, 16, 100, true, false, 0, true, true, false, 1.0f, 0, false, 1024},
    };
    std::vector<int> ctxs = {2048, 4096, 16384, 32768, 65536, 131072};
    std::vector<int> batches = {1, 8};
    if (quick) {
        ctxs = {4096, 32768};
        batches = {1};
    }
    if (only_batch) batches = {only_batch};
    if (only_ctx) ctxs = {only_ctx};
    for (int batch : batches)
        for (int ctx : ctxs)
            for (const Variant& v : variants) {
                if (!only.empty() && only.find("," + std::string(v.name) + ",") == std::string::npos) continue;
                if (only.empty() && v.extra && !all) continue;
                g_knobs = env_knobs;
                g_knobs.trace = env_knobs.trace || g_trace;
                if (v.old) g_knobs.old_kernels = true;
                if (v.split_pct) g_knobs.split_pct = v.split_pct;
                if (v.dyn) g_knobs.chunk_pool = v.dyn > 0 ? 1 : 0;
                if (v.fullsel) g_knobs.select_every_key = true;
                if (v.sel_min_len) g_knobs.select_groups_from = v.sel_min_len;
                g_variant = v.name;
                const Result r = measure(v.n_q, v.n_k, v.n_v, 64, batch, ctx, v.selective_v, v.uni, v.pdl, v.step, v.qscale);
                const double gbps = r.bytes / (r.us * 1e-6) / 1e9;
                std::printf("{\"kind\": \"ours\", \"variant\": \"%s\", \"n_q\": %d, \"n_k\": %d, \"n_v\": %d, \"d\": 64, "
                            "\"batch\": %d, \"ctx\": %d, \"selective_v\": %d, \"pdl\": %d, \"us\": %.2f, \"us_graph\": %.2f, \"bytes\": %.0f, "
                            "\"GBps\": %.1f, \"pct_copy_bw\": %.1f, \"pct_copy_bw_graph\": %.1f, \"us_writer_graph\": %.2f}\n",
                            v.name, v.n_q, v.n_k, v.n_v, batch, ctx, v.selective_v, int(v.pdl), r.us, r.us_graph, r.bytes, gbps,
                            100.0 * gbps * 1e9 / copy_bw, 100.0 * r.bytes / (r.us_graph * 1e-6) / copy_bw, r.us_writer_graph);
                std::fflush(stdout);
            }
    return 0;
}
