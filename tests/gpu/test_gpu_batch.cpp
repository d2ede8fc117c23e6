// Batched decode on the CUDA backend (cuda_backend.h BatchForward, and the public BatchSession over
// it, sigma/batch.h, checked against the CPU's): n sequences of different
// lengths, each prefilled on its own, then stepped together. The reference is the same model
// decoded one sequence at a time by the single-sequence backend (itself checked against the CPU
// backend in test_gpu_forward): every step's logits of every sequence must agree within 2e-3 and
// the batch's argmax must be the reference's (or a near tie). Covered: F16/BF16/Q8_0 weights
// (the tensor-core small GEMM, the batched GEMV with 4- and 8-row blocks, cuBLAS), 64-wide heads (the batched split-KV attention, selective V) and 32-wide
// ones (the causal kernel per sequence), batches past the GEMV's 8 vectors, graphs on and off,
// single-sequence calls between batched steps, and bad input (positions, tokens, sequence
// indices, batch sizes), which must leave the caches intact.
// Without a GPU every case prints "skipped: no GPU" and passes, except the GEMV launcher's
// checks, which run before any CUDA call.
#include "gpu_model_util.h"
#include "kernels.h"
#include "cuda/cuda_backend.h"

#include <catch2/catch.hpp>
#include <sigma/batch.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <memory>
#include <span>
#include <vector>

namespace {

using sigma::testing::generated_model;
using sigma::testing::have_gpu;
using sigma::testing::load_internal;
using sigma::testing::Loaded;
using sigma::testing::max_abs_diff;
using sigma::testing::quick;
using sigma::testing::some_tokens;

// The batched GEMV keeps F32 activations like single-sequence decode: only summation order
// differs. cuBLAS rounds them to F16/BF16 first, as prefill does: the engine's CUDA tolerance.
constexpr double kTol = 2e-3, kTolBlas = 2e-2;

struct Outcome {
    double err = 0;        // max abs logit difference, batch vs one-at-a-time
    int argmax_diff = 0;   // steps where the batch's token differs from the reference's without a near tie
};

// Prefills n_seq sequences of different lengths, then takes `steps` batched greedy steps; the
// reference decodes each sequence alone with the same tokens. Every `interleave` steps (0:
// never) sequence 1 also takes a single-sequence step through sequence(1), on both sides.
Outcome compare(const Loaded& m, int n_seq, int selective_v, int steps, int interleave, double tie) {
    const int n_ctx = 256, V = int(m.hp.n_vocab);
    auto dm = sigma::cuda::upload_model(m.hp, m.w);
    auto batch = sigma::cuda::new_cuda_batch_forward(dm, n_seq, n_ctx, selective_v);
    std::vector<std::unique_ptr<sigma::ForwardBackend>> ref;
    std::vector<int> pos(static_cast<size_t>(n_seq));
    std::vector<sigma::TokenId> tok(static_cast<size_t>(n_seq)), next(static_cast<size_t>(n_seq));
    std::vector<float> logits(static_cast<size_t>(V)), ref_logits(static_cast<size_t>(V)), all(static_cast<size_t>(n_seq * V));
    for (int b = 0; b < n_seq; ++b) {
        ref.push_back(sigma::cuda::new_cuda_forward(dm, n_ctx, selective_v));
        const std::vector<sigma::TokenId> prompt = some_tokens(3 + 5 * b % 23, V, b);
        batch->sequence(b).forward(prompt.data(), int(prompt.size()), 0, logits.data(), false, sigma::Pass::Decode);
        ref[size_t(b)]->forward(prompt.data(), int(prompt.size()), 0, ref_logits.data(), false, sigma::Pass::Decode);
        REQUIRE(max_abs_diff(logits.data(), ref_logits.data(), size_t(V)) <= 1e-4);   // the same kernels
        pos[size_t(b)] = int(prompt.size());
        tok[size_t(b)] = sigma::TokenId(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    Outcome out;
    for (int s = 0; s < steps; ++s) {
        batch->step(tok.data(), pos.data(), next.data(), all.data());
        for (int b = 0; b < n_seq; ++b) {
            ref[size_t(b)]->forward(&tok[size_t(b)], 1, pos[size_t(b)], ref_logits.data(), false, sigma::Pass::Decode);
            const float* row = &all[size_t(b) * size_t(V)];
            out.err = std::max(out.err, max_abs_diff(row, ref_logits.data(), size_t(V)));
            const int want = int(std::max_element(ref_logits.begin(), ref_logits.end()) - ref_logits.begin());
            if (next[size_t(b)] != want && ref_logits[size_t(want)] - ref_logits[size_t(next[size_t(b)])] > tie) ++out.argmax_diff;
            ++pos[size_t(b)];
        }
        tok = next;
        if (interleave > 0 && s % interleave == interleave - 1 && n_seq > 1) {
            const sigma::TokenId a = batch->sequence(1).forward_argmax(tok[1], pos[1]);
            const sigma::TokenId r = ref[1]->forward_argmax(tok[1], pos[1]);
            CHECK(a == r);
            ++pos[1];
            tok[1] = a;
        }
    }
    return out;
}

} // namespace

TEST_CASE("batched decode equals each sequence decoded alone", "[gpu][batch]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    struct Case { const char* type; bool aug; uint32_t n_q, n_k, n_v, d; int n_seq, selective_v; };
    std::vector<Case> cases = {
        {"F16", true, 8, 2, 4, 64, 3, 0},      // Sigma-like heads, the split-KV kernel
        {"Q8_0", true, 8, 2, 4, 64, 11, 0},    // past 8 sequences: two GEMV launches per matrix
        {"BF16", false, 8, 8, 8, 64, 5, 0},    // a GQA/MHA twin
        {"F16", true, 8, 2, 4, 64, 4, 6},      // selective V, k = 6 (selects from the 2nd step on)
        {"F32", true, 4, 1, 2, 32, 3, 0},      // 32-wide heads: the causal kernel per sequence
    };
    if (quick()) cases = {cases[0], cases[3]};
    // The batched step's matrix products: the batched GEMV (4 or 8 rows per block), or cuBLAS.
    struct Variant { const char* name; const char* gemm; const char* rows; bool graphs; };
    const Variant variants[] = {{"auto", "auto", "4", true},     {"mma", "mma", "4", true},       {"mma", "mma", "4", false},     {"cublas", "cublas", "4", true},
                                {"gemv4", "gemv", "4", true},    {"gemv4", "gemv", "4", false},  {"gemv8", "gemv", "8", true}};
    for (const Variant& var : variants) {
        if (quick() && (!var.graphs || var.gemm[0] == 'c' || var.gemm[0] == 'a' || var.rows[0] == '8')) continue;   // mma + gemv4, graphs
        const bool graphs = var.graphs;
        ::setenv("SIGMA_CUDA_GRAPH", graphs ? "1" : "0", 1);
        ::setenv("SIGMA_BATCH_GEMM", var.gemm, 1);
        ::setenv("SIGMA_BATCH_GEMV_ROWS", var.rows, 1);
        for (const Case& c : cases) {
            const Loaded m = load_internal(generated_model(c.type, c.aug, c.n_q, c.n_k, c.n_v, c.d));
            const bool blas = var.gemm[0] != 'g';   // mma, cublas: activations rounded to 16 bits
            const double tol = blas ? kTolBlas : kTol;
            // Under the 16-bit activations' rounding a small k may pick other rows than the reference (both
            // right); k = 64 covers every position here, so the selective-V kernels run but
            // select everything.
            const int selective_v = blas && c.selective_v > 0 ? 64 : c.selective_v;
            const Outcome o = compare(m, c.n_seq, selective_v, quick() ? 6 : 24, 5, 2 * tol);
            std::cout << "batch " << c.n_seq << " " << c.type << " heads " << c.n_q << "/" << c.n_k << "/" << c.n_v << " d" << c.d
                      << " selective_v " << selective_v << " " << var.name << (graphs ? " graphs" : " no graphs")
                      << ": max |batch - alone| "
                      << o.err << ", argmax differences " << o.argmax_diff << std::endl;
            INFO(c.type << " n_seq " << c.n_seq << " selective_v " << c.selective_v << " " << var.name << " graphs " << graphs);
            CHECK(o.err <= tol);
            CHECK(o.argmax_diff == 0);
        }
    }
    ::unsetenv("SIGMA_CUDA_GRAPH");
    ::unsetenv("SIGMA_BATCH_GEMM");
    ::unsetenv("SIGMA_BATCH_GEMV_ROWS");
}

TEST_CASE("batched decode rejects bad input before touching the GPU and keeps its caches", "[gpu][batch][errors]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    const Loaded m = load_internal(generated_model("F16", true, 8, 2, 4, 64));
    auto dm = sigma::cuda::upload_model(m.hp, m.w);
    auto code_of = [](auto&& fn) {
        try {
            fn();
        } catch (const sigma::Exception& e) {
            std::cout << "  error: " << e.what() << std::endl;
            return e.code();
        }
        return sigma::ErrorCode::Generic;   // nothing thrown
    };
    CHECK(code_of([&] { sigma::cuda::new_cuda_batch_forward(dm, 0, 64, 0); }) == sigma::ErrorCode::InvalidArgument);
    CHECK(code_of([&] { sigma::cuda::new_cuda_batch_forward(dm, 65, 64, 0); }) == sigma::ErrorCode::InvalidArgument);

    const int V = int(m.hp.n_vocab), n_ctx = 64;
    auto batch = sigma::cuda::new_cuda_batch_forward(dm, 2, n_ctx, 0);
    auto ref = sigma::cuda::new_cuda_forward(dm, n_ctx, 0);
    CHECK(code_of([&] { batch->sequence(2); }) == sigma::ErrorCode::InvalidArgument);
    CHECK(code_of([&] { batch->sequence(-1); }) == sigma::ErrorCode::InvalidArgument);
    const std::vector<sigma::TokenId> prompt = some_tokens(9, V, 3);
    std::vector<float> logits(static_cast<size_t>(V)), all(static_cast<size_t>(2 * V));
    for (int b = 0; b < 2; ++b) batch->sequence(b).forward(prompt.data(), 9, 0, logits.data(), false, sigma::Pass::Prompt);
    ref->forward(prompt.data(), 9, 0, logits.data(), false, sigma::Pass::Prompt);

    std::vector<sigma::TokenId> next(2);
    const sigma::TokenId good[2] = {5, 6}, bad_tok[2] = {5, sigma::TokenId(V)}, neg_tok[2] = {-1, 6};
    const int good_pos[2] = {9, 9}, far[2] = {9, n_ctx}, neg[2] = {-1, 9};
    CHECK(code_of([&] { batch->step(good, far, next.data(), nullptr); }) == sigma::ErrorCode::ContextFull);
    CHECK(code_of([&] { batch->step(good, neg, next.data(), nullptr); }) == sigma::ErrorCode::ContextFull);
    CHECK(code_of([&] { batch->step(bad_tok, good_pos, next.data(), nullptr); }) == sigma::ErrorCode::InvalidArgument);
    CHECK(code_of([&] { batch->step(neg_tok, good_pos, next.data(), nullptr); }) == sigma::ErrorCode::InvalidArgument);

    // Nothing above reached the caches: the next good step matches the reference.
    batch->step(good, good_pos, next.data(), all.data());
    ref->forward(&good[0], 1, 9, logits.data(), false, sigma::Pass::Decode);
    const double err = max_abs_diff(all.data(), logits.data(), size_t(V));
    std::cout << "after rejected steps: max |batch - alone| " << err << std::endl;
    CHECK(err <= kTol);
}

TEST_CASE("the public BatchSession on the GPU agrees with the CPU's", "[gpu][batch][api]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    const std::string path = generated_model("F16", true, 8, 2, 4, 64);
    auto gpu_model = sigma::Model::load(path, {sigma::Device::Cuda});
    auto cpu_model = sigma::Model::load(path, {sigma::Device::Cpu});
    REQUIRE(gpu_model);
    REQUIRE(cpu_model);
    // selective V with k = 64 >= every length here: the selective kernels run and select all.
    for (int selective_v : {0, 64}) {
        sigma::SessionOptions so;
        so.n_ctx = 128;
        so.selective_v = selective_v;
        const int n_seq = 3;
        auto gpu = (*gpu_model)->new_batch(n_seq, so);
        auto cpu = (*cpu_model)->new_batch(n_seq, so);
        REQUIRE(gpu);
        REQUIRE(cpu);
        const int V = (*gpu)->n_vocab();
        std::vector<float> lg(static_cast<size_t>(n_seq * V)), lc(static_cast<size_t>(n_seq * V));
        std::vector<sigma::TokenId> tok(static_cast<size_t>(n_seq)), next_g(tok.size()), next_c(tok.size());
        std::vector<int> pos(tok.size());
        double err = 0;
        for (int b = 0; b < n_seq; ++b) {
            const std::vector<sigma::TokenId> prompt = some_tokens(4 + 7 * b, V, b);
            const std::span<float> row_g(lg.data() + size_t(b) * V, size_t(V)), row_c(lc.data() + size_t(b) * V, size_t(V));
            auto g = (*gpu)->prefill(b, prompt, 0, row_g);
            auto c = (*cpu)->prefill(b, prompt, 0, row_c);
            REQUIRE(g);
            REQUIRE(c);
            err = std::max(err, max_abs_diff(row_g.data(), row_c.data(), size_t(V)));
            tok[size_t(b)] = *g;
            pos[size_t(b)] = int(prompt.size());
        }
        for (int s = 0; s < 8; ++s) {
            REQUIRE((*gpu)->step(tok, pos, next_g, lg));
            REQUIRE((*cpu)->step(tok, pos, next_c, lc));   // the same tokens: the GPU's choices
            err = std::max(err, max_abs_diff(lg.data(), lc.data(), lg.size()));
            for (int& p : pos) ++p;
            tok = next_g;
        }
        std::cout << "public batch, selective_v " << selective_v << ": max |gpu - cpu| " << err << std::endl;
        CHECK(err <= kTolBlas);
        // A bad position is refused and leaves the caches as they were.
        std::vector<int> far = pos;
        far[1] = so.n_ctx;
        const auto bad = (*gpu)->step(tok, far, next_g);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == sigma::ErrorCode::ContextFull);
        REQUIRE((*gpu)->step(tok, pos, next_g, lg));
        REQUIRE((*cpu)->step(tok, pos, next_c, lc));
        CHECK(max_abs_diff(lg.data(), lc.data(), lg.size()) <= kTolBlas);
    }
}

TEST_CASE("the GEMV and small GEMM launchers reject bad problems with a message", "[gpu][batch][errors]") {
    // Checked before any CUDA call, so this runs with or without a GPU (host pointers suffice).
    namespace kk = sigmaops::kernels;
    alignas(16) static float x[64 * 16], y[64 * 16];
    alignas(16) static uint16_t w[64 * 64];
    kk::GemvParams p;
    p.n_mat = 1;
    p.w[0] = kk::DeviceMatrix{kk::DType::F16, w, nullptr, 64, 64};
    p.y[0] = y;
    p.x = x;
    for (int batch : {0, -3, kk::kGemvMaxBatch + 1}) {
        p.batch = batch;
        const kk::Status st = kk::gemv(p);
        INFO("batch " << batch);
        CHECK_FALSE(st.ok());
        CHECK_THAT(st.error, Catch::Contains("gemv: batch must be 1..8"));
    }
    p.batch = 4;
    p.input = kk::GemvInput::RmsNorm;
    p.norm = x;
    CHECK_THAT(kk::gemv(p).error, Catch::Contains("gemv: a batch (batch > 1) takes a Plain input"));
    p.input = kk::GemvInput::Plain;
    p.shape = 2;
    CHECK_THAT(kk::gemv(p).error, Catch::Contains("gemv: a batch (batch > 1) has shapes 0..1"));

    kk::SmallGemmParams sp;
    sp.w = kk::DeviceMatrix{kk::DType::F16, w, nullptr, 64, 64};
    sp.x = x; sp.y = y; sp.n = 17;
    CHECK_THAT(kk::small_gemm(sp).error, Catch::Contains("1 <= n <= 16"));
    sp.n = 4;
    sp.x_type = kk::DType::BF16;
    CHECK_THAT(kk::small_gemm(sp).error, Catch::Contains("X must be BF16 for BF16 weights, else F16"));
    sp.x_type = kk::DType::F16;
    sp.w.cols = 48;
    CHECK_THAT(kk::small_gemm(sp).error, Catch::Contains("cols a positive multiple of 32"));
    sp.w = kk::DeviceMatrix{kk::DType::Q8_0, w, nullptr, 64, 64};
    CHECK_THAT(kk::small_gemm(sp).error, Catch::Contains("Q8_0 W needs scales"));
}

TEST_CASE("small_gemm equals a double-precision reference", "[gpu][batch]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    namespace kk = sigmaops::kernels;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> U(-1.0f, 1.0f);
    struct Shape { long long rows, cols; int n; };
    std::vector<Shape> shapes = {{100, 96, 1}, {100, 96, 5}, {256, 2048, 8}, {37, 6144, 9}, {2048, 64, 16}, {16, 32, 3}};
    if (quick()) shapes = {{100, 96, 5}, {37, 320, 9}};   // partial tiles, both n-tiles
    for (kk::DType wt : {kk::DType::F16, kk::DType::BF16, kk::DType::Q8_0})
        for (const Shape& sh : shapes)
            for (bool accumulate : {false, true}) {
                const long long R = sh.rows, C = sh.cols;
                const int n = sh.n;
                // Weights as the kernel reads them, and their exact values for the reference.
                std::vector<uint16_t> w16(size_t(R * C)), x16(size_t(n) * size_t(C));
                std::vector<int8_t> q(size_t(R * C));
                std::vector<uint16_t> sc(size_t(R * (C / 32)));
                std::vector<double> w(size_t(R * C)), xv(size_t(n) * size_t(C));
                auto to16 = [&](float v, bool bf) -> uint16_t {
                    if (bf) { const __nv_bfloat16 b = __float2bfloat16(v); uint16_t u; std::memcpy(&u, &b, 2); return u; }
                    const __half h = __float2half(v); uint16_t u; std::memcpy(&u, &h, 2); return u;
                };
                auto from16 = [&](uint16_t u, bool bf) -> double {
                    if (bf) { __nv_bfloat16 b; std::memcpy(&b, &u, 2); return double(__bfloat162float(b)); }
                    __half h; std::memcpy(&h, &u, 2); return double(__half2float(h));
                };
                const bool bf = wt == kk::DType::BF16;
                for (long long r = 0; r < R; ++r)
                    for (long long c = 0; c < C; ++c) {
                        const size_t i = size_t(r * C + c);
                        if (wt == kk::DType::Q8_0) {
                            if (c % 32 == 0) sc[size_t(r * (C / 32) + c / 32)] = to16(0.01f + 0.02f * std::fabs(U(rng)), false);
                            q[i] = int8_t(int(std::lround(127.0f * U(rng))));
                            w[i] = double(q[i]) * from16(sc[size_t(r * (C / 32) + c / 32)], false);
                        } else {
                            w16[i] = to16(U(rng), bf);
                            w[i] = from16(w16[i], bf);
                        }
                    }
                for (size_t i = 0; i < xv.size(); ++i) { x16[i] = to16(U(rng), bf); xv[i] = from16(x16[i], bf); }
                std::vector<float> y0(size_t(n) * size_t(R));
                for (auto& v : y0) v = U(rng);
                void *dw = nullptr, *ds = nullptr, *dx = nullptr;
                float* dy = nullptr;
                const size_t wbytes = wt == kk::DType::Q8_0 ? q.size() : w16.size() * 2;
                CUDA_OK(cudaMalloc(&dw, wbytes));
                CUDA_OK(cudaMalloc(&ds, sc.size() * 2));
                CUDA_OK(cudaMalloc(&dx, x16.size() * 2));
                CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dy), y0.size() * 4));
                CUDA_OK(cudaMemcpy(dw, wt == kk::DType::Q8_0 ? static_cast<const void*>(q.data()) : w16.data(), wbytes, cudaMemcpyHostToDevice));
                CUDA_OK(cudaMemcpy(ds, sc.data(), sc.size() * 2, cudaMemcpyHostToDevice));
                CUDA_OK(cudaMemcpy(dx, x16.data(), x16.size() * 2, cudaMemcpyHostToDevice));
                CUDA_OK(cudaMemcpy(dy, y0.data(), y0.size() * 4, cudaMemcpyHostToDevice));
                kk::SmallGemmParams p;
                p.w = kk::DeviceMatrix{wt, dw, wt == kk::DType::Q8_0 ? ds : nullptr, R, C};
                p.x = dx; p.x_type = bf ? kk::DType::BF16 : kk::DType::F16; p.n = n; p.y = dy; p.accumulate = accumulate;
                const kk::Status st = kk::small_gemm(p);
                INFO(st.error);
                REQUIRE(st.ok());
                std::vector<float> y(y0.size());
                CUDA_OK(cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost));
                double err = 0, scale = 0;
                for (int v = 0; v < n; ++v)
                    for (long long r = 0; r < R; ++r) {
                        double ref = accumulate ? double(y0[size_t(v * R + r)]) : 0.0;
                        for (long long c = 0; c < C; ++c) ref += w[size_t(r * C + c)] * xv[size_t(v * C + c)];
                        err = std::max(err, std::fabs(ref - double(y[size_t(v * R + r)])));
                        scale = std::max(scale, std::fabs(ref));
                    }
                cudaFree(dw); cudaFree(ds); cudaFree(dx); cudaFree(dy);
                INFO("type " << int(wt) << " rows " << R << " cols " << C << " n " << n << " accumulate " << accumulate
                              << ": max error " << err << " (max |y| " << scale << ")");
                CHECK(err <= 1e-4 * std::max(1.0, scale));   // F32 accumulation of exact products
            }
    std::cout << "small_gemm: F16/BF16/Q8_0 x " << shapes.size() << " shapes x (=, +=) within 1e-4 relative of the reference" << std::endl;
}
