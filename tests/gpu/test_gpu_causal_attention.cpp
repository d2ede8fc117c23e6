// Tolerance tests of the causal attention kernels (kernels.h, causal_attention) against a CPU
// twin in double: the tensor-core FlashAttention-2 style kernel and the simple one, over a grid
// of DiffQKV head layouts, head sizes 64/128, F16/BF16 caches, query counts that are not
// multiples of the 64-token tile and prefill continuing after an existing cache (pos0 > 0).
// (Its speed is measured by bench/bench_causal_attention.cu, not here.)
// Without a GPU every case prints "skipped: no GPU" and passes (CTest reports it skipped).
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
#include <random>
#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "kernels.h"

namespace {

using sigma::testing::have_gpu;
using sigma::testing::quick;

using sigmaops::kernels::CausalAttentionParams;
using sigmaops::kernels::DType;

// Rounds f to the cache type and returns its bits and the rounded value.
uint16_t to_bits(float f, DType t, float& back) {
    uint16_t b;
    if (t == DType::BF16) {
        const __nv_bfloat16 h = __float2bfloat16_rn(f);
        std::memcpy(&b, &h, 2);
        back = __bfloat162float(h);
    } else {
        const __half h = __float2half_rn(f);
        std::memcpy(&b, &h, 2);
        back = __half2float(h);
    }
    return b;
}

struct Problem {
    int n_q, n_k, n_v, d_qk, d_v;
    int n, pos0;
    DType kv;
};

// Runs one problem on the GPU (flash unless simple) and returns max |gpu - twin|; the twin uses
// the cache's rounded values and F32 queries, softmax in double.
double run_problem(const Problem& pr, bool simple, double* max_ref = nullptr) {
    const int max_ctx = pr.pos0 + pr.n + 3;   // a little spare room beyond the last key
    const int keys = pr.pos0 + pr.n;
    std::mt19937 rng(uint32_t(pr.n * 131 + pr.pos0 * 7 + pr.d_qk + pr.n_k));
    std::uniform_real_distribution<float> U(-1.0f, 1.0f);
    std::vector<float> q(size_t(pr.n) * pr.n_q * pr.d_qk);
    for (auto& x : q) x = 3.0f * U(rng);   // peaky enough that the softmax is not flat
    std::vector<uint16_t> kc(size_t(pr.n_k) * max_ctx * pr.d_qk, 0), vc(size_t(pr.n_v) * max_ctx * pr.d_v, 0);
    std::vector<float> kf(kc.size(), 0.0f), vf(vc.size(), 0.0f);
    for (int h = 0; h < pr.n_k; ++h)
        for (int t = 0; t < keys; ++t)
            for (int d = 0; d < pr.d_qk; ++d) {
                const size_t i = (size_t(h) * max_ctx + t) * pr.d_qk + d;
                kc[i] = to_bits(U(rng), pr.kv, kf[i]);
            }
    for (int h = 0; h < pr.n_v; ++h)
        for (int t = 0; t < keys; ++t)
            for (int d = 0; d < pr.d_v; ++d) {
                const size_t i = (size_t(h) * max_ctx + t) * pr.d_v + d;
                vc[i] = to_bits(U(rng), pr.kv, vf[i]);
            }
    float *dq = nullptr, *dout = nullptr;
    void *dk = nullptr, *dv = nullptr;
    int* dpos = nullptr;
    const size_t out_n = size_t(pr.n) * pr.n_q * pr.d_v;
    CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dq), q.size() * 4));
    CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dout), out_n * 4));
    CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dk), kc.size() * 2));
    CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dv), vc.size() * 2));
    CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dpos), 4));
    CUDA_OK(cudaMemcpy(dq, q.data(), q.size() * 4, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dk, kc.data(), kc.size() * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dv, vc.data(), vc.size() * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dpos, &pr.pos0, 4, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(dout, 0xff, out_n * 4));   // NaN: every output must be written

    CausalAttentionParams p;
    p.n = pr.n; p.pos0 = dpos;
    p.n_q = pr.n_q; p.n_k = pr.n_k; p.n_v = pr.n_v; p.d_qk = pr.d_qk; p.d_v = pr.d_v; p.max_ctx = max_ctx;
    p.q = dq; p.k_cache = dk; p.v_cache = dv; p.kv_type = pr.kv; p.out = dout; p.force_simple = simple;
    CHECK(sigmaops::kernels::causal_attention_uses_flash(p) == !simple);
    const auto st = sigmaops::kernels::causal_attention(p);
    INFO(st.error);
    REQUIRE(st.ok());
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<float> out(out_n);
    CUDA_OK(cudaMemcpy(out.data(), dout, out_n * 4, cudaMemcpyDeviceToHost));
    cudaFree(dq); cudaFree(dout); cudaFree(dk); cudaFree(dv); cudaFree(dpos);

    const double scale = 1.0 / std::sqrt(double(pr.d_qk));
    double err = 0, ref_max = 0;
    std::vector<double> s(keys), o(pr.d_v);
    for (int t = 0; t < pr.n; ++t)
        for (int h = 0; h < pr.n_q; ++h) {
            const int kh = h / (pr.n_q / pr.n_k), vh = h / (pr.n_q / pr.n_v);
            const int nk = pr.pos0 + t + 1;
            const float* qr = &q[(size_t(t) * pr.n_q + h) * pr.d_qk];
            double mx = -1e300;
            for (int j = 0; j < nk; ++j) {
                double acc = 0;
                const float* kr = &kf[(size_t(kh) * max_ctx + j) * pr.d_qk];
                for (int d = 0; d < pr.d_qk; ++d) acc += double(qr[d]) * kr[d];
                s[j] = acc * scale;
                mx = std::max(mx, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < nk; ++j) { s[j] = std::exp(s[j] - mx); sum += s[j]; }
            std::fill(o.begin(), o.end(), 0.0);
            for (int j = 0; j < nk; ++j) {
                const float* vr = &vf[(size_t(vh) * max_ctx + j) * pr.d_v];
                for (int d = 0; d < pr.d_v; ++d) o[d] += s[j] / sum * vr[d];
            }
            const float* g = &out[(size_t(t) * pr.n_q + h) * pr.d_v];
            for (int d = 0; d < pr.d_v; ++d) {
                const double e = std::fabs(double(g[d]) - o[d]);
                if (!(e <= err)) err = e;   // NaN propagates
                ref_max = std::max(ref_max, std::fabs(o[d]));
            }
        }
    if (max_ref) *max_ref = ref_max;
    return err;
}

}  // namespace

TEST_CASE("causal attention (flash and simple) matches the double twin over a grid", "[gpu][causal-attention]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    struct Heads { int n_q, n_k, n_v, d_qk, d_v; };
    std::vector<Heads> heads = {{32, 4, 16, 64, 64}, {4, 4, 4, 128, 128}, {4, 1, 2, 64, 128}, {6, 3, 2, 128, 64}};
    std::vector<std::pair<int, int>> lens = {{1, 0}, {17, 0}, {64, 0}, {100, 0}, {257, 0}, {70, 5}, {33, 130}, {130, 64}};
    if (quick()) { heads = {{8, 2, 4, 64, 64}, {4, 1, 2, 128, 64}}; lens = {{17, 0}, {70, 5}, {65, 64}}; }
    int cases = 0;
    double worst_f16 = 0, worst_bf16 = 0, worst_simple = 0;
    for (const auto& hd : heads)
        for (const auto& [n, pos0] : lens)
            for (DType kv : {DType::F16, DType::BF16}) {
                const Problem pr{hd.n_q, hd.n_k, hd.n_v, hd.d_qk, hd.d_v, n, pos0, kv};
                double ref = 0;
                const double e = run_problem(pr, false, &ref);
                const double tol = kv == DType::F16 ? 4e-3 : 3e-2;   // Q and P rounded to the cache type
                INFO("flash " << hd.n_q << "/" << hd.n_k << "/" << hd.n_v << " d" << hd.d_qk << "/" << hd.d_v << " n=" << n
                              << " pos0=" << pos0 << (kv == DType::F16 ? " F16" : " BF16") << ": err " << e << " (max |ref| "
                              << ref << ")");
                CHECK(e <= tol);
                (kv == DType::F16 ? worst_f16 : worst_bf16) = std::max(kv == DType::F16 ? worst_f16 : worst_bf16, e);
                if (kv == DType::F16 && (n <= 70 || !quick())) {
                    const double es = run_problem(pr, true);
                    CHECK(es <= 1e-4);
                    worst_simple = std::max(worst_simple, es);
                }
                ++cases;
            }
    std::cout << "causal attention: " << cases << " problems; max |flash - twin| F16 " << worst_f16 << ", BF16 " << worst_bf16
              << "; max |simple - twin| " << worst_simple << std::endl;
}
