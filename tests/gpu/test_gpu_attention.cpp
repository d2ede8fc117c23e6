// Tolerance tests of the DiffQKV decode attention kernels (kernels.h) against CPU twins:
// plain loops with double accumulation, over a grid of head layouts, head sizes, sequence
// lengths, batches, cache and query types; selective V with k >= len equals full attention and
// k = 100 equals the twin's own top-100 (per head and per-V-group union), also when many keys tie
// (the larger score first, then the lower position, as the CPU forward pass).
// Without a GPU every case prints "skipped: no GPU" and passes (CTest reports it skipped).
// With PDL (DecodeAttentionParams::pdl), several calls back to back in one CUDA graph, after
// rope writing the newest K/V row and q, or each reading the previous call's output.
// SIGMAOPS_TEST_QUICK=1 runs a reduced grid (for compute-sanitizer).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "kernels.h"

namespace {

using sigma::testing::have_gpu;
using sigma::testing::quick;

using sigmaops::kernels::DecodeAttentionParams;
using sigmaops::kernels::DType;

struct Shape {
    int n_q, n_k, n_v, d_qk, d_v;
};

// Host-side element conversions (round to nearest even), and back.
uint16_t to_bits(float f, DType t) {
    if (t == DType::BF16) {
        const __nv_bfloat16 h = __float2bfloat16_rn(f);
        uint16_t b;
        std::memcpy(&b, &h, 2);
        return b;
    }
    const __half h = __float2half_rn(f);
    uint16_t b;
    std::memcpy(&b, &h, 2);
    return b;
}
float from_bits(uint16_t b, DType t) {
    if (t == DType::BF16) {
        __nv_bfloat16_raw r;
        r.x = b;
        return __bfloat162float(__nv_bfloat16(r));
    }
    __half_raw r;
    r.x = b;
    return __half2float(__half(r));
}

// CPU twin. q (B, n_q, d_qk), k (B, n_k, max_ctx, d_qk), v (B, n_v, max_ctx, d_v) as the
// floats the GPU sees. selective_v == 0: full softmax attention. selective_v > 0: softmax over all keys,
// then sum p_t v_t over each head's selective_v keys (or over the union of its V group's selective_v sets).
std::vector<double> cpu_attention(const Shape& s, int batch, int max_ctx, const std::vector<int>& lens,
                                  const std::vector<float>& q, const std::vector<float>& k,
                                  const std::vector<float>& v, int selective_v, bool uni) {
    const int gk = s.n_q / s.n_k, gv = s.n_q / s.n_v;
    const double scale = 1.0 / std::sqrt(double(s.d_qk));
    std::vector<double> out(size_t(batch) * s.n_q * s.d_v, 0.0);
    for (int b = 0; b < batch; ++b) {
        const int len = lens[b];
        if (len == 0) continue;
        // probabilities and top-k sets for every head of this sequence
        std::vector<std::vector<double>> p(s.n_q, std::vector<double>(len));
        std::vector<std::vector<int>> top(s.n_q);
        for (int h = 0; h < s.n_q; ++h) {
            const int kh = h / gk;
            const float* qh = &q[(size_t(b) * s.n_q + h) * s.d_qk];
            double mx = -1e300;
            for (int t = 0; t < len; ++t) {
                const float* kt = &k[((size_t(b) * s.n_k + kh) * max_ctx + t) * s.d_qk];
                double dot = 0.0;
                for (int d = 0; d < s.d_qk; ++d) dot += double(qh[d]) * double(kt[d]);
                p[h][t] = dot * scale;
                mx = std::max(mx, p[h][t]);
            }
            double sum = 0.0;
            for (int t = 0; t < len; ++t) sum += (p[h][t] = std::exp(p[h][t] - mx));
            for (int t = 0; t < len; ++t) p[h][t] /= sum;
            std::vector<int> order(len);
            std::iota(order.begin(), order.end(), 0);
            const int kk = selective_v > 0 ? std::min(selective_v, len) : len;
            std::partial_sort(order.begin(), order.begin() + kk, order.end(), [&](int a, int c) {
                return p[h][a] > p[h][c] || (p[h][a] == p[h][c] && a < c);
            });
            top[h].assign(order.begin(), order.begin() + kk);
        }
        for (int h = 0; h < s.n_q; ++h) {
            const int vh = h / gv;
            std::vector<int> rows;
            if (uni) {
                std::set<int> u;
                for (int h2 = vh * gv; h2 < (vh + 1) * gv; ++h2) u.insert(top[h2].begin(), top[h2].end());
                rows.assign(u.begin(), u.end());
            } else {
                rows = top[h];
            }
            double* o = &out[(size_t(b) * s.n_q + h) * s.d_v];
            for (int t : rows) {
                const float* vt = &v[((size_t(b) * s.n_v + vh) * max_ctx + t) * s.d_v];
                for (int d = 0; d < s.d_v; ++d) o[d] += p[h][t] * double(vt[d]);
            }
        }
    }
    return out;
}

// The knobs every call of the cases below uses (the compiled defaults unless a test case sets
// others for its scope with KnobsScope).
sigmaops::kernels::DecodeAttentionKnobs g_knobs;
struct KnobsScope {
    explicit KnobsScope(const sigmaops::kernels::DecodeAttentionKnobs& k) { g_knobs = k; }
    ~KnobsScope() { g_knobs = {}; }
    KnobsScope(const KnobsScope&) = delete;
    KnobsScope& operator=(const KnobsScope&) = delete;
};

struct Case {
    Shape s;
    std::vector<int> lens;
    DType kv = DType::BF16;
    DType qt = DType::F32;
    int selective_v = 0;
    bool uni = false;
    int ties = 0;  // 0: random keys; 1: K and q small integers (many equal scores); 2: one K row per head
};

std::string describe(const Case& c) {
    std::string l;
    for (int x : c.lens) l += std::to_string(x) + ",";
    return std::to_string(c.s.n_q) + "/" + std::to_string(c.s.n_k) + "/" + std::to_string(c.s.n_v) +
           " d_qk " + std::to_string(c.s.d_qk) + " d_v " + std::to_string(c.s.d_v) + " lens " + l +
           (c.kv == DType::BF16 ? " kv bf16" : " kv f16") + (c.qt == DType::BF16 ? " q bf16" : " q f32") +
           " selective_v " + std::to_string(c.selective_v) + (c.uni ? " union" : "") +
           (c.ties ? " ties " + std::to_string(c.ties) : "");
}

// Runs one case twice (the second call checks the workspace is left ready) and compares both
// outputs with the CPU twin: max |gpu - ref| <= tol * max |ref| and every output written.
void run_case(const Case& c, std::mt19937& rng) {
    INFO(describe(c));
    const Shape& s = c.s;
    const int batch = int(c.lens.size());
    const int max_len = *std::max_element(c.lens.begin(), c.lens.end());
    const int max_ctx = std::max(1, max_len) + 3;  // spare positions hold poison
    std::normal_distribution<float> nd(0.0f, 1.0f);

    const size_t nq = size_t(batch) * s.n_q * s.d_qk;
    const size_t nk = size_t(batch) * s.n_k * max_ctx * s.d_qk;
    const size_t nv = size_t(batch) * s.n_v * max_ctx * s.d_v;
    std::vector<float> qf(nq), kf(nk), vf(nv);
    std::vector<uint16_t> qb(nq), kb(nk), vb(nv);
    std::uniform_int_distribution<int> small(-1, 1);
    for (size_t i = 0; i < nq; ++i) {
        const float x = c.ties ? float(small(rng) * 2) : nd(rng) * 1.5f;
        qb[i] = to_bits(x, DType::BF16);
        qf[i] = c.qt == DType::BF16 ? from_bits(qb[i], DType::BF16) : x;
    }
    const uint16_t poison = c.kv == DType::BF16 ? 0x7fc0 : 0x7e00;  // NaN past each length
    auto fill = [&](std::vector<float>& f, std::vector<uint16_t>& bits, int heads, int d, int ties) {
        for (int b = 0; b < batch; ++b)
            for (int h = 0; h < heads; ++h)
                for (int t = 0; t < max_ctx; ++t)
                    for (int e = 0; e < d; ++e) {
                        const size_t i = ((size_t(b) * heads + h) * max_ctx + t) * d + e;
                        if (t < c.lens[b]) {
                            if (ties == 2 && t > 0) {
                                bits[i] = bits[i - size_t(t) * d];  // row 0 of this head
                            } else {
                                const float x = ties == 1 ? float(small(rng)) : nd(rng);
                                bits[i] = to_bits(ties == 2 ? nd(rng) : x, c.kv);
                            }
                            f[i] = from_bits(bits[i], c.kv);
                        } else {
                            bits[i] = poison;
                            f[i] = 0.0f;
                        }
                    }
    };
    fill(kf, kb, s.n_k, s.d_qk, c.ties);
    fill(vf, vb, s.n_v, s.d_v, 0);
    const std::vector<double> ref = cpu_attention(s, batch, max_ctx, c.lens, qf, kf, vf, c.selective_v, c.uni);

    void *dq = nullptr, *dk = nullptr, *dv = nullptr, *dws = nullptr;
    int* dlens = nullptr;
    float* dout = nullptr;
    const size_t n_out = size_t(batch) * s.n_q * s.d_v;
    CUDA_OK(cudaMalloc(&dq, nq * 4));
    CUDA_OK(cudaMalloc(&dk, nk * 2));
    CUDA_OK(cudaMalloc(&dv, nv * 2));
    CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dlens), batch * sizeof(int)));
    CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dout), n_out * 4));
    if (c.qt == DType::BF16)
        CUDA_OK(cudaMemcpy(dq, qb.data(), nq * 2, cudaMemcpyHostToDevice));
    else
        CUDA_OK(cudaMemcpy(dq, qf.data(), nq * 4, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dk, kb.data(), nk * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dv, vb.data(), nv * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dlens, c.lens.data(), batch * sizeof(int), cudaMemcpyHostToDevice));

    DecodeAttentionParams p;
    p.batch = batch;
    p.n_q = s.n_q;
    p.n_k = s.n_k;
    p.n_v = s.n_v;
    p.d_qk = s.d_qk;
    p.d_v = s.d_v;
    p.max_ctx = max_ctx;
    p.max_seq_len = max_len;
    p.q = dq;
    p.q_type = c.qt;
    p.k_cache = dk;
    p.v_cache = dv;
    p.kv_type = c.kv;
    p.seq_lens = dlens;
    p.out = dout;
    p.selective_v = c.selective_v;
    p.selective_v_union = c.uni;
    p.knobs = g_knobs;
    p.workspace_bytes = sigmaops::kernels::decode_attention_workspace_bytes(p);
    REQUIRE(p.workspace_bytes > 0);
    CUDA_OK(cudaMalloc(&dws, p.workspace_bytes));
    CUDA_OK(cudaMemset(dws, 0, p.workspace_bytes));
    p.workspace = dws;

    for (int rep = 0; rep < 2; ++rep) {
        CUDA_OK(cudaMemset(dout, 0xff, n_out * 4));  // NaN: unwritten outputs fail
        const sigmaops::kernels::Status st = sigmaops::kernels::decode_attention(p);
        INFO("launcher: " << st.error);
        REQUIRE(st.ok());
        CUDA_OK(cudaDeviceSynchronize());
        std::vector<float> out(n_out);
        CUDA_OK(cudaMemcpy(out.data(), dout, n_out * 4, cudaMemcpyDeviceToHost));
        double max_ref = 0.0, max_err = 0.0;
        size_t bad = 0;
        for (size_t i = 0; i < n_out; ++i) {
            max_ref = std::max(max_ref, std::abs(ref[i]));
            if (!std::isfinite(out[i])) {
                ++bad;
                continue;
            }
            max_err = std::max(max_err, std::abs(double(out[i]) - ref[i]));
        }
        INFO("rep " << rep << " max_err " << max_err << " max_ref " << max_ref << " non-finite " << bad);
        CHECK(bad == 0);
        CHECK(max_err <= 2e-3 * std::max(max_ref, 1e-3));
    }
    cudaFree(dq);
    cudaFree(dk);
    cudaFree(dv);
    cudaFree(dlens);
    cudaFree(dout);
    cudaFree(dws);
}

// Programmatic dependent launch (DecodeAttentionParams::pdl): n_steps calls captured back to
// back in one CUDA graph on one stream, sharing one workspace, replayed twice. With `rope`
// (batch 1) each call is launched with PDL right after a rope that writes its q and the
// newest K/V row (position len - 1, poison NaN until then), at lengths growing by one per step:
// reading either before the wait would show; without, call j reads the previous call's output
// as its q. Every call's output
// is checked against the CPU twin on what the GPU held (q and caches read back afterwards).
void run_pdl_chain(const Shape& s, const std::vector<int>& lens, DType kv, int selective_v, bool uni, bool rope,
                   std::mt19937& rng) {
    constexpr int n_steps = 4;
    INFO("pdl chain: " << describe({s, lens, kv, DType::F32, selective_v, uni}) << (rope ? " after rope" : " q = previous out"));
    REQUIRE(s.d_qk == s.d_v);
    REQUIRE((!rope || (lens.size() == 1 && lens[0] >= n_steps)));
    const int batch = int(lens.size());
    const int max_len = *std::max_element(lens.begin(), lens.end());
    const int max_ctx = std::max(1, max_len) + 3;
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const size_t nq = size_t(batch) * s.n_q * s.d_qk;
    const size_t nk = size_t(batch) * s.n_k * max_ctx * s.d_qk;
    const size_t nv = size_t(batch) * s.n_v * max_ctx * s.d_v;
    const uint16_t poison = kv == DType::BF16 ? 0x7fc0 : 0x7e00;
    // Lengths of step j; rows at and past the first step's newest row are poison (rope writes them).
    std::vector<std::vector<int>> step_lens(n_steps, lens);
    if (rope)
        for (int j = 0; j < n_steps; ++j) step_lens[j][0] = lens[0] - (n_steps - 1) + j;
    const int first_new = rope ? step_lens[0][0] - 1 : max_len;  // batch 1 when rope
    std::vector<uint16_t> kb(nk), vb(nv);
    auto fill = [&](std::vector<uint16_t>& bits, int heads, int d) {
        for (int b = 0; b < batch; ++b)
            for (int h = 0; h < heads; ++h)
                for (int t = 0; t < max_ctx; ++t)
                    for (int e = 0; e < d; ++e) {
                        const size_t i = ((size_t(b) * heads + h) * max_ctx + t) * d + e;
                        bits[i] = t < std::min(lens[b], first_new) ? to_bits(nd(rng), kv) : poison;
                    }
    };
    fill(kb, s.n_k, s.d_qk);
    fill(vb, s.n_v, s.d_v);

    void *dk = nullptr, *dv = nullptr, *dws = nullptr;
    CUDA_OK(cudaMalloc(&dk, nk * 2));
    CUDA_OK(cudaMalloc(&dv, nv * 2));
    CUDA_OK(cudaMemcpy(dk, kb.data(), nk * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dv, vb.data(), nv * 2, cudaMemcpyHostToDevice));
    const size_t n_out = size_t(batch) * s.n_q * s.d_v;
    std::vector<float*> dq(n_steps, nullptr), dout(n_steps, nullptr), dknew(n_steps, nullptr), dvnew(n_steps, nullptr);
    std::vector<int*> dlens(n_steps, nullptr), dpos(n_steps, nullptr);
    for (int j = 0; j < n_steps; ++j) {
        CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dout[j]), n_out * 4));
        CUDA_OK(cudaMemset(dout[j], 0xff, n_out * 4));  // NaN: unwritten outputs fail
        CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dlens[j]), batch * sizeof(int)));
        CUDA_OK(cudaMemcpy(dlens[j], step_lens[j].data(), batch * sizeof(int), cudaMemcpyHostToDevice));
        if (rope || j == 0) {
            std::vector<float> hq(nq);
            for (float& x : hq) x = nd(rng) * 1.5f;
            CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dq[j]), nq * 4));
            CUDA_OK(cudaMemcpy(dq[j], hq.data(), nq * 4, cudaMemcpyHostToDevice));
        } else {
            dq[j] = dout[j - 1];
        }
        if (rope) {
            std::vector<float> hk(size_t(s.n_k) * s.d_qk), hv(size_t(s.n_v) * s.d_v);
            for (float& x : hk) x = nd(rng);
            for (float& x : hv) x = nd(rng);
            const int pos = step_lens[j][0] - 1;
            CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dknew[j]), hk.size() * 4));
            CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dvnew[j]), hv.size() * 4));
            CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dpos[j]), sizeof(int)));
            CUDA_OK(cudaMemcpy(dknew[j], hk.data(), hk.size() * 4, cudaMemcpyHostToDevice));
            CUDA_OK(cudaMemcpy(dvnew[j], hv.data(), hv.size() * 4, cudaMemcpyHostToDevice));
            CUDA_OK(cudaMemcpy(dpos[j], &pos, sizeof(int), cudaMemcpyHostToDevice));
        }
    }
    DecodeAttentionParams p;
    p.batch = batch;
    p.n_q = s.n_q;
    p.n_k = s.n_k;
    p.n_v = s.n_v;
    p.d_qk = s.d_qk;
    p.d_v = s.d_v;
    p.max_ctx = max_ctx;
    p.max_seq_len = max_len;
    p.q_type = DType::F32;
    p.k_cache = dk;
    p.v_cache = dv;
    p.kv_type = kv;
    p.selective_v = selective_v;
    p.selective_v_union = uni;
    p.pdl = true;
    p.knobs = g_knobs;
    p.workspace_bytes = sigmaops::kernels::decode_attention_workspace_bytes(p);
    REQUIRE(p.workspace_bytes > 0);
    CUDA_OK(cudaMalloc(&dws, p.workspace_bytes));
    CUDA_OK(cudaMemset(dws, 0, p.workspace_bytes));
    p.workspace = dws;
    cudaStream_t stream;
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    p.stream = stream;
    CUDA_OK(cudaDeviceSynchronize());

    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int j = 0; j < n_steps; ++j) {
        if (rope) {
            sigmaops::kernels::RopeParams r;
            r.n = 1;
            r.pos0 = dpos[j];
            r.n_q = s.n_q;
            r.n_k = s.n_k;
            r.n_v = s.n_v;
            r.d_qk = s.d_qk;
            r.d_v = s.d_v;
            r.d_rot = 0;  // no rotation: the replay leaves q as it was
            r.q = dq[j];
            r.k = dknew[j];
            r.v = dvnew[j];
            r.k_cache = dk;
            r.v_cache = dv;
            r.kv_type = kv;
            r.max_ctx = max_ctx;
            // Launched plainly: a step boundary, as between the engine's graph launches, so the
            // rows of earlier steps (read before the wait) are complete; the attention call that
            // follows it is the PDL launch under test.
            r.pdl = false;
            r.stream = stream;
            const sigmaops::kernels::Status rs = sigmaops::kernels::rope(r);
            INFO("rope: " << rs.error);
            REQUIRE(rs.ok());
        }
        p.q = dq[j];
        p.out = dout[j];
        p.seq_lens = dlens[j];
        const sigmaops::kernels::Status st = sigmaops::kernels::decode_attention(p);
        INFO("launcher: " << st.error);
        REQUIRE(st.ok());
    }
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    for (int rep = 0; rep < 2; ++rep) {
        CUDA_OK(cudaGraphLaunch(exec, stream));
        CUDA_OK(cudaStreamSynchronize(stream));
        CUDA_OK(cudaGetLastError());
        std::vector<float> kf(nk), vf(nv);
        CUDA_OK(cudaMemcpy(kb.data(), dk, nk * 2, cudaMemcpyDeviceToHost));
        CUDA_OK(cudaMemcpy(vb.data(), dv, nv * 2, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < nk; ++i) kf[i] = from_bits(kb[i], kv);
        for (size_t i = 0; i < nv; ++i) vf[i] = from_bits(vb[i], kv);
        for (int j = 0; j < n_steps; ++j) {
            std::vector<float> q(nq), out(n_out);
            CUDA_OK(cudaMemcpy(q.data(), dq[j], nq * 4, cudaMemcpyDeviceToHost));
            CUDA_OK(cudaMemcpy(out.data(), dout[j], n_out * 4, cudaMemcpyDeviceToHost));
            if (!rope && j > 0) {  // the previous call's output, as this call read it (replays agree)
                std::vector<float> prev(n_out);
                CUDA_OK(cudaMemcpy(prev.data(), dout[j - 1], n_out * 4, cudaMemcpyDeviceToHost));
                q = prev;
            }
            // rows past this step's length are zeros for the twin (they are NaN poison or later rows)
            std::vector<float> kj = kf, vj = vf;
            for (int b = 0; b < batch; ++b) {
                for (int h = 0; h < s.n_k; ++h)
                    for (int t = step_lens[j][b]; t < max_ctx; ++t)
                        std::fill_n(&kj[((size_t(b) * s.n_k + h) * max_ctx + t) * s.d_qk], s.d_qk, 0.0f);
                for (int h = 0; h < s.n_v; ++h)
                    for (int t = step_lens[j][b]; t < max_ctx; ++t)
                        std::fill_n(&vj[((size_t(b) * s.n_v + h) * max_ctx + t) * s.d_v], s.d_v, 0.0f);
            }
            const std::vector<double> ref = cpu_attention(s, batch, max_ctx, step_lens[j], q, kj, vj, selective_v, uni);
            double max_ref = 0.0, max_err = 0.0;
            size_t bad = 0;
            for (size_t i = 0; i < n_out; ++i) {
                max_ref = std::max(max_ref, std::abs(ref[i]));
                if (!std::isfinite(out[i])) {
                    ++bad;
                    continue;
                }
                max_err = std::max(max_err, std::abs(double(out[i]) - ref[i]));
            }
            INFO("replay " << rep << " step " << j << " max_err " << max_err << " max_ref " << max_ref
                           << " non-finite " << bad);
            CHECK(bad == 0);
            CHECK(max_err <= 2e-3 * std::max(max_ref, 1e-3));
        }
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    for (int j = 0; j < n_steps; ++j) {
        if (rope || j == 0) cudaFree(dq[j]);
        cudaFree(dout[j]);
        cudaFree(dlens[j]);
        cudaFree(dknew[j]);
        cudaFree(dvnew[j]);
        cudaFree(dpos[j]);
    }
    cudaFree(dk);
    cudaFree(dv);
    cudaFree(dws);
}

std::vector<Shape> shapes() {
    std::vector<Shape> out;
    const int heads[4][3] = {{32, 4, 16}, {32, 16, 16}, {8, 1, 4}, {4, 4, 4}};
    for (const auto& h : heads)
        for (int d : {64, 128}) out.push_back({h[0], h[1], h[2], d, d});
    out.push_back({32, 4, 16, 128, 64});  // d_qk != d_v
    out.push_back({8, 1, 4, 64, 128});
    return out;
}

std::vector<std::vector<int>> length_sets() {
    if (quick()) return {{17}, {1000, 1, 300}};
    return {{1}, {17}, {1000}, {5000}, {17, 5000, 1}, {1000, 0, 333}};
}

}  // namespace

TEST_CASE("decode attention matches the CPU twin (full softmax)", "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    std::mt19937 rng(1234);
    for (const Shape& s : shapes()) {
        if (quick() && s.n_q == 32 && s.n_k == 16) continue;
        for (const auto& lens : length_sets())
            for (DType kv : {DType::BF16, DType::F16}) {
                const DType qt = (lens.size() == 3 && kv == DType::BF16) ? DType::BF16 : DType::F32;
                run_case({s, lens, kv, qt, 0, false}, rng);
            }
    }
}

TEST_CASE("selective V with k >= length equals full attention", "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    std::mt19937 rng(99);
    for (const Shape& s : {Shape{32, 4, 16, 64, 64}, Shape{8, 1, 4, 128, 128}, Shape{4, 4, 4, 64, 128}})
        for (bool uni : {false, true})
            for (const auto& lens : length_sets()) {
                const int selective_v = uni ? 100000 : *std::max_element(lens.begin(), lens.end());
                run_case({s, lens, DType::BF16, DType::F32, std::max(1, selective_v), uni}, rng);
            }
}

TEST_CASE("selective V k=100 equals the CPU top-100", "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    std::mt19937 rng(7);
    // {17, 20000}: one sequence below and one above the select's group-maximum path
    // (kSelGroupMinLen) in one call; 70000: that path alone.
    std::vector<std::vector<int>> lens_sets = {{1000}, {5000}, {17, 5000, 1}, {17, 20000}, {70000}};
    if (quick()) lens_sets = {{1000, 1, 300}, {17, 20000}};
    for (const Shape& s : {Shape{32, 4, 16, 64, 64}, Shape{32, 16, 16, 64, 64}, Shape{8, 1, 4, 128, 128}})
        for (bool uni : {false, true})
            for (const auto& lens : lens_sets) {
                if (lens[0] == 70000 && s.n_k == 16) continue;  // one long case (uncached top-k path)
                if (quick() && lens.size() == 2 && s.n_k != 4) continue;  // quick: the fast path on Sigma only
                run_case({s, lens, DType::BF16, DType::F32, 100, uni}, rng);
                if (!quick()) run_case({s, lens, DType::F16, DType::BF16, 100, uni}, rng);
            }
}

TEST_CASE("selective V's group-maximum select (direct ranks / the threshold bin / the fallback)", "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    std::mt19937 rng(2026);
    // k = 100: about 100-150 candidates, ranked directly (rank = place in the row list);
    // k = 300: more than kSelDirectCap candidates, the threshold-bin ranking and the bitmap.
    // The group maxima from 1024 keys (knobs.select_groups_from): 4000 keys use them, 17 keys
    // and 1500 keys (94 groups < k = 100) do not, in one call.
    sigmaops::kernels::DecodeAttentionKnobs knobs;
    knobs.select_groups_from = 1024;
    const KnobsScope scope(knobs);
    for (int selective_v : {100, 300})
        for (bool uni : {false, true})
            for (const auto& lens : std::vector<std::vector<int>>{{17, 20000}, {4000, 1500, 17}}) {
                run_case({Shape{32, 4, 16, 64, 64}, lens, DType::BF16, DType::F32, selective_v, uni}, rng);
                if (quick()) continue;
                run_case({Shape{8, 1, 4, 128, 128}, lens, DType::F16, DType::F32, selective_v, uni}, rng);
            }
}

TEST_CASE("full attention's kernel variants (chunk pool / few slices) match the CPU twin",
          "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    std::mt19937 rng(777);
    // The grid above runs the defaults, which below 8192 keys are the fixed runs. Here each
    // combination is forced: the chunk pool (knobs.chunk_pool) on and off, with all and with
    // 10% of the slices (knobs.split_pct), so that a warp has many chunks (the pool hands out
    // many). Plain launches and PDL chains (the newest row is loaded after the wait).
    struct Mode {
        int chunk_pool;
        int split_pct;
    };
    const Mode modes[] = {{1, 100}, {1, 10}, {0, 10}, {0, 100}};
    for (const Mode& m : modes) {
        sigmaops::kernels::DecodeAttentionKnobs knobs;
        knobs.chunk_pool = m.chunk_pool;
        knobs.split_pct = m.split_pct;
        const KnobsScope scope(knobs);
        INFO("chunk_pool " << m.chunk_pool << " split_pct " << m.split_pct);
        for (const Shape& s : shapes()) {
            if (quick() && s.n_q == 32 && s.n_k == 16) continue;
            for (const auto& lens : std::vector<std::vector<int>>{{1}, {5000}, {17, 5000, 1}})
                run_case({s, lens, s.d_qk == 64 ? DType::BF16 : DType::F16, DType::F32, 0, false}, rng);
        }
        for (const Shape& s : {Shape{32, 4, 16, 64, 64}, Shape{32, 16, 16, 64, 64}, Shape{8, 1, 4, 128, 128}}) {
            run_pdl_chain(s, {5000}, DType::BF16, 0, false, true, rng);
            run_pdl_chain(s, {17, 5000, 1}, DType::F16, 0, false, false, rng);
        }
    }
}

TEST_CASE("selective V takes tied keys in position order", "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    std::mt19937 rng(31);
    // ties 1: few distinct scores (exact ranking among a crowded threshold bin, or the radix
    // path past 1024 candidates); ties 2: every score of a head equal (radix path, ties only).
    // 20000 keys: the group-maximum path first (too many candidates: it falls back).
    for (int ties : {1, 2})
        for (bool uni : {false, true})
            for (const auto& lens : std::vector<std::vector<int>>{{3000}, {17, 5000, 1}, {20000}}) {
                run_case({Shape{32, 4, 16, 64, 64}, lens, DType::BF16, DType::F32, 100, uni, ties}, rng);
                if (quick()) break;
                run_case({Shape{8, 1, 4, 128, 128}, lens, DType::F16, DType::F32, 100, uni, ties}, rng);
            }
}

TEST_CASE("the block trace reads nothing unless tracing was enabled and rejects a bad buffer", "[gpu][attention]") {
    // No GPU needed: without knobs.trace no call has allocated the trace buffer.
    using sigmaops::kernels::decode_attention_trace;
    std::vector<unsigned long long> host(sigmaops::kernels::kDecodeTraceEntries, 7);
    CHECK(decode_attention_trace(host.data(), int(host.size())) == -1);
    CHECK(decode_attention_trace(nullptr, 16) == -1);
    CHECK(decode_attention_trace(host.data(), 0) == -1);
    CHECK(host[0] == 7);  // untouched
}

TEST_CASE("decode attention rejects unsupported problems with a clear error", "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    DecodeAttentionParams p;
    p.batch = 1;
    p.n_q = 32;
    p.n_k = 4;
    p.n_v = 16;
    p.d_qk = 96;
    p.d_v = 64;
    p.max_ctx = 128;
    int dummy = 0;
    p.q = p.k_cache = p.v_cache = p.workspace = &dummy;
    p.seq_lens = &dummy;
    p.out = reinterpret_cast<float*>(&dummy);
    p.workspace_bytes = 1 << 20;
    sigmaops::kernels::Status st = sigmaops::kernels::decode_attention(p);
    CHECK_FALSE(st.ok());
    CHECK(st.error.find("head size") != std::string::npos);
    p.d_qk = 64;
    p.n_k = 5;
    st = sigmaops::kernels::decode_attention(p);
    CHECK_FALSE(st.ok());
    CHECK(st.error.find("divide") != std::string::npos);
    p.n_k = 4;
    p.kv_type = DType::F32;
    st = sigmaops::kernels::decode_attention(p);
    CHECK_FALSE(st.ok());
    CHECK(sigmaops::kernels::decode_attention_workspace_bytes(p) == 0);
}

TEST_CASE("PDL: back-to-back calls in one graph match the CPU twin", "[gpu][attention]") {
    if (!have_gpu()) {
        std::cout << "skipped: no GPU" << std::endl;
        return;
    }
    std::mt19937 rng(4242);
    std::vector<Shape> pdl_shapes = {Shape{32, 4, 16, 64, 64}, Shape{32, 16, 16, 64, 64}, Shape{8, 1, 4, 128, 128}};
    std::vector<std::vector<int>> rope_lens = {{17}, {1000}, {5000}};
    std::vector<std::vector<int>> chain_lens = {{17, 5000, 1}, {1000, 0, 333}};
    if (quick()) {
        pdl_shapes = {Shape{32, 4, 16, 64, 64}};
        rope_lens = {{300}};
        chain_lens = {{1000, 1, 300}};
    }
    for (const Shape& s : pdl_shapes)
        for (int selective_v : {0, 100})
            for (bool uni : {false, true}) {
                if (selective_v == 0 && uni) continue;
                for (const auto& lens : rope_lens) run_pdl_chain(s, lens, DType::BF16, selective_v, uni, true, rng);
                for (const auto& lens : chain_lens)
                    run_pdl_chain(s, lens, quick() ? DType::BF16 : DType::F16, selective_v, uni, false, rng);
            }
}
