// The CUDA backend against the CPU backend (the readable reference):
//  * prefill logits (cuBLAS + the causal kernel) on every engine fixture (manifest*.json),
//  * decode logits step by step (fused GEMVs, split-KV or causal attention, CUDA graphs on and
//    off), the on-GPU argmax, on the fixtures and on generated models with 64-wide heads in
//    F32/F16/BF16/Q8_0 long enough to cross graph buckets,
//  * selective V, greedy generation and text generation through the public API,
//  * clear Unsupported errors.
// Tolerance 2e-2 max abs logit error (F16 weights for F32 files, F16 KV cache; see
// docs/architecture.md "CUDA backend"). Each case prints its measured errors.
// Without a GPU every case prints "skipped: no GPU" and passes, except the one that checks that
// Device::Cuda then fails with ErrorCode::Unsupported.
// SIGMAOPS_TEST_QUICK=1: fewer fixtures and positions (for compute-sanitizer).
#include "gpu_model_util.h"
#include "kernels.h"
#include "cuda/cuda_backend.h"
#include "engine_test_util.h"
#include "gguf/gguf.h"
#include "model.h"
#include "tiny_model.h"

#include <cuda_runtime_api.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sigma/engine.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

using sigma::testing::generated_model;
using sigma::testing::have_gpu;
using sigma::testing::load_internal;
using sigma::testing::max_abs_diff;
using sigma::testing::some_tokens;
using sigma::testing::Loaded;
using sigma::testing::quick;

constexpr double kTol = 2e-2;

struct Fixture {
    std::string name, path;
    std::vector<sigma::TokenId> tokens;
    std::string ref;   // reference logits file
};

std::vector<Fixture> fixtures() {
    std::vector<Fixture> out;
    const fs::path dir = fs::path(SIGMAOPS_FIXTURES) / "models";
    for (const char* name : {"manifest.json", "manifest_hf.json"}) {
        if (!fs::exists(dir / name)) continue;
        std::ifstream f(dir / name);
        for (auto& e : nlohmann::json::parse(f))
            out.push_back({e["name"], (dir / e["gguf"].get<std::string>()).string(),
                           e["tokens"].get<std::vector<sigma::TokenId>>(), (dir / e["logits"].get<std::string>()).string()});
    }
    if (quick() && out.size() > 3) out = {out[1], out[8], out.back()};   // augq F32, augq Q8_0, an HF file
    return out;
}

std::vector<float> read_f32(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    f.seekg(0, std::ios::end);
    std::vector<float> v(size_t(f.tellg()) / sizeof(float));
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
    return v;
}


std::vector<float> session_logits(const std::string& path, sigma::Device dev, const std::vector<sigma::TokenId>& tokens,
                                  int n_ctx, int selective_v = 0) {
    sigma::LoadOptions lo;
    lo.device = dev;
    auto model = sigma::Model::load(path, lo);
    INFO(path << ": " << (model ? "" : model.error().message));
    REQUIRE(model);
    sigma::SessionOptions so;
    so.n_ctx = n_ctx;
    so.selective_v = selective_v;
    auto s = (*model)->new_session(so);
    INFO((s ? "" : s.error().message));
    REQUIRE(s);
    auto l = (*s)->logits(tokens);
    INFO((l ? "" : l.error().message));
    REQUIRE(l);
    return *l;
}

// Decodes `tokens` one at a time on the CUDA backend (graphs on or off) and compares every
// step's logits with the CPU's batched logits `cpu` (n, V). Returns the max abs error.
double decode_error(const Loaded& m, const std::vector<sigma::TokenId>& tokens, const std::vector<float>& cpu, int n_ctx,
                    bool graphs, int* argmax_mismatch = nullptr) {
    ::setenv("SIGMA_CUDA_GRAPH", graphs ? "1" : "0", 1);
    auto dm = sigma::cuda::upload_model(m.hp, m.w);
    auto fwd = sigma::cuda::new_cuda_forward(dm, n_ctx, 0);
    auto fwd2 = sigma::cuda::new_cuda_forward(dm, n_ctx, 0);   // the same steps through forward_argmax
    const size_t V = m.hp.n_vocab;
    std::vector<float> logits(V);
    double err = 0;
    int mismatch = 0;
    for (size_t t = 0; t < tokens.size(); ++t) {
        fwd->forward(&tokens[t], 1, int(t), logits.data(), false, sigma::Pass::Decode);
        err = std::max(err, max_abs_diff(logits.data(), &cpu[t * V], V));
        const sigma::TokenId next = fwd2->forward_argmax(tokens[t], int(t));
        const int gpu_argmax = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
        if (next != gpu_argmax) ++mismatch;
    }
    ::unsetenv("SIGMA_CUDA_GRAPH");
    if (argmax_mismatch) *argmax_mismatch = mismatch;
    return err;
}


} // namespace

TEST_CASE("without a GPU, Device::Cuda fails with Unsupported", "[gpu][forward][errors]") {
    if (have_gpu()) {
        std::cout << "GPU present: the no-GPU error path is not exercised here" << std::endl;
        return;
    }
    sigma::LoadOptions lo;
    lo.device = sigma::Device::Cuda;
    auto m = sigma::Model::load((fs::path(SIGMAOPS_FIXTURES) / "models" / "sigma_basic_f32.gguf").string(), lo);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == sigma::ErrorCode::Unsupported);
    CHECK_THAT(m.error().message, Catch::Contains("--device cpu"));
}

TEST_CASE("the decode GEMV launcher rejects a bad problem with a message and launches nothing", "[gpu][forward][errors]") {
    // Checked before any CUDA call, so this runs with or without a GPU (host pointers suffice).
    namespace kk = sigmaops::kernels;
    alignas(16) static float x[64], y[64];
    alignas(16) static uint16_t w[64 * 64];
    kk::GemvParams p;
    p.n_mat = 1;
    p.w[0] = kk::DeviceMatrix{kk::DType::F16, w, nullptr, 64, 64};
    p.y[0] = y;
    p.x = x;
    for (int shape : {-1, kk::kGemvShapes, 1000}) {
        p.shape = shape;
        const kk::Status st = kk::gemv(p);
        INFO("shape " << shape);
        CHECK_FALSE(st.ok());
        CHECK_THAT(st.error, Catch::Contains("gemv: shape must be 0.."));
    }
    p.shape = 0;
    p.n_mat = 0;
    CHECK_THAT(kk::gemv(p).error, Catch::Contains("n_mat must be 1..3"));
    p.n_mat = 1;
    p.x = nullptr;
    CHECK_THAT(kk::gemv(p).error, Catch::Contains("missing input pointer"));
}

TEST_CASE("CUDA prefill logits match the CPU backend on every engine fixture", "[gpu][forward][prefill]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    const auto fx = fixtures();
    REQUIRE(fx.size() >= (quick() ? 3u : 10u));
    for (const auto& f : fx) {
        const auto cpu = session_logits(f.path, sigma::Device::Cpu, f.tokens, int(f.tokens.size()));
        const auto gpu = session_logits(f.path, sigma::Device::Cuda, f.tokens, int(f.tokens.size()));
        REQUIRE(gpu.size() == cpu.size());
        const auto ref = read_f32(f.ref);
        const double e_cpu = max_abs_diff(gpu.data(), cpu.data(), cpu.size());
        const double e_ref = ref.size() == gpu.size() ? max_abs_diff(gpu.data(), ref.data(), ref.size()) : -1;
        std::cout << "prefill " << f.name << ": max |cuda - cpu| = " << e_cpu << ", max |cuda - reference| = " << e_ref
                  << std::endl;
        INFO(f.name << ": max abs error vs CPU " << e_cpu);
        CHECK(e_cpu <= kTol);
    }
}

TEST_CASE("CUDA decode logits match the CPU backend step by step on every engine fixture", "[gpu][forward][decode]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    for (const auto& f : fixtures()) {
        const int n_ctx = int(f.tokens.size());
        const auto cpu = session_logits(f.path, sigma::Device::Cpu, f.tokens, n_ctx);
        const Loaded m = load_internal(f.path);
        int mismatch = 0;
        const double e_graph = decode_error(m, f.tokens, cpu, n_ctx, true, &mismatch);
        const double e_plain = quick() ? 0 : decode_error(m, f.tokens, cpu, n_ctx, false);
        std::cout << "decode " << f.name << ": max |cuda - cpu| = " << e_graph << " (graphs), " << e_plain
                  << " (no graphs); on-GPU argmax disagreements: " << mismatch << std::endl;
        INFO(f.name);
        CHECK(e_graph <= kTol);
        CHECK(e_plain <= kTol);
        CHECK(mismatch == 0);
    }
}

TEST_CASE("CUDA decode with 64/128-wide heads (split-KV kernel) across graph buckets", "[gpu][forward][decode]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    struct Case { std::string type; bool aug; uint32_t n_q, n_k, n_v, d; int n; };
    std::vector<Case> cases = {{"F32", true, 8, 2, 4, 64, 300}, {"F16", true, 8, 2, 4, 64, 80},
                               {"BF16", false, 8, 4, 4, 64, 80}, {"Q8_0", true, 8, 1, 4, 64, 80},
                               {"F32", false, 4, 2, 4, 128, 80}};
    if (quick()) cases = {{"Q8_0", true, 8, 2, 4, 64, 40}};
    for (const auto& c : cases) {
        const std::string path = generated_model(c.type, c.aug, c.n_q, c.n_k, c.n_v, c.d);
        const auto tokens = some_tokens(c.n, 256, int(c.n_k));
        const int n_ctx = c.n + 8;
        const auto cpu = session_logits(path, sigma::Device::Cpu, tokens, n_ctx);
        const auto gpu_prefill = session_logits(path, sigma::Device::Cuda, tokens, n_ctx);
        const Loaded m = load_internal(path);
        int mismatch = 0;
        const double e_dec = decode_error(m, tokens, cpu, n_ctx, true, &mismatch);
        const double e_pre = max_abs_diff(gpu_prefill.data(), cpu.data(), cpu.size());
        std::cout << "generated " << c.type << (c.aug ? " augQ " : " ") << c.n_q << "/" << c.n_k << "/" << c.n_v << " d" << c.d
                  << " (" << c.n << " positions): max |cuda - cpu| decode " << e_dec << ", prefill " << e_pre
                  << "; on-GPU argmax disagreements: " << mismatch << std::endl;
        INFO(path);
        CHECK(e_dec <= kTol);
        CHECK(e_pre <= kTol);
        CHECK(mismatch == 0);
    }
}

TEST_CASE("CUDA prefill in several chunks and after an existing context matches the CPU", "[gpu][forward][prefill]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    struct Case { std::string type; bool aug; uint32_t n_q, n_k, n_v, d; };
    std::vector<Case> cases = {{"F16", true, 8, 2, 4, 64}, {"BF16", false, 8, 4, 4, 64}, {"Q8_0", true, 8, 1, 4, 64},
                               {"F32", false, 4, 2, 4, 128}};
    if (quick()) cases = {{"F16", true, 8, 2, 4, 64}};
    const int n = quick() ? 150 : 300;
    for (const auto& c : cases) {
        const std::string path = generated_model(c.type, c.aug, c.n_q, c.n_k, c.n_v, c.d);
        const auto tokens = some_tokens(n, 256, 7);
        const auto cpu = session_logits(path, sigma::Device::Cpu, tokens, n + 8);
        // Chunks of 100 tokens (not a multiple of the 64-token attention tile).
        ::setenv("SIGMA_CUDA_PREFILL_CHUNK", "100", 1);
        const auto chunked = session_logits(path, sigma::Device::Cuda, tokens, n + 8);
        ::unsetenv("SIGMA_CUDA_PREFILL_CHUNK");
        // One pass over the whole prompt.
        const auto whole = session_logits(path, sigma::Device::Cuda, tokens, n + 8);
        // 37 tokens first, then the rest as one prefill continuing after that cache.
        const Loaded m = load_internal(path);
        auto dm = sigma::cuda::upload_model(m.hp, m.w);
        auto fwd = sigma::cuda::new_cuda_forward(dm, n + 8, 0);
        const size_t V = m.hp.n_vocab;
        const int first = 37;
        std::vector<float> head(size_t(first) * V), tail(size_t(n - first) * V);
        fwd->forward(tokens.data(), first, 0, head.data(), true, sigma::Pass::Prompt);
        fwd->forward(tokens.data() + first, n - first, first, tail.data(), true, sigma::Pass::Prompt);
        const double e_chunked = max_abs_diff(chunked.data(), cpu.data(), cpu.size());
        const double e_whole = max_abs_diff(whole.data(), cpu.data(), cpu.size());
        const double e_head = max_abs_diff(head.data(), cpu.data(), head.size());
        const double e_tail = max_abs_diff(tail.data(), cpu.data() + head.size(), tail.size());
        std::cout << "prefill " << c.type << (c.aug ? " augQ " : " ") << c.n_q << "/" << c.n_k << "/" << c.n_v << " d" << c.d
                  << " (" << n << " tokens): max |cuda - cpu| chunks of 100 " << e_chunked << ", one pass " << e_whole
                  << ", 37 then " << (n - first) << " after them " << std::max(e_head, e_tail) << std::endl;
        INFO(path);
        CHECK(e_chunked <= kTol);
        CHECK(e_whole <= kTol);
        CHECK(e_head <= kTol);
        CHECK(e_tail <= kTol);
    }
}

TEST_CASE("CUDA selective V: k >= context equals full attention, small k close to the CPU", "[gpu][forward][selective-v]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    const std::string path = generated_model("F16", false, 8, 2, 4, 64);
    const auto tokens = some_tokens(48, 256, 3);
    const auto full = session_logits(path, sigma::Device::Cuda, tokens, 64, 0);
    const auto k_all = session_logits(path, sigma::Device::Cuda, tokens, 64, 64);
    const auto k8 = session_logits(path, sigma::Device::Cuda, tokens, 64, 8);
    const auto cpu_k8 = session_logits(path, sigma::Device::Cpu, tokens, 64, 8);
    const double e_all = max_abs_diff(full.data(), k_all.data(), full.size());
    const double change = max_abs_diff(k8.data(), full.data(), k8.size());
    // Selection is discontinuous: where the 8th and 9th probabilities nearly tie, the GPU's F16
    // keys may pick the other row than the CPU's F32 keys and that position's logits jump. So:
    // most positions within the tolerance, and the worst one bounded.
    // Positions 0..7 attend to at most 8 keys: no selection there, so they must agree tightly.
    // The exact selection itself is checked against a CPU twin on identical inputs by
    // test_gpu_attention ("selective V k=100 equals the CPU top-100").
    const size_t V = k8.size() / tokens.size();
    int over = 0;
    double e_k8 = 0, e_unselected = 0;
    for (size_t t = 0; t < tokens.size(); ++t) {
        const double e = max_abs_diff(&k8[t * V], &cpu_k8[t * V], V);
        if (t < 8) e_unselected = std::max(e_unselected, e);
        e_k8 = std::max(e_k8, e);
        if (e > kTol) ++over;
    }
    std::cout << "selective V: k=64 vs full " << e_all << "; k=8 cuda vs cpu: positions 0-7 (no selection) " << e_unselected
              << ", all positions max " << e_k8 << ", positions over " << kTol << ": " << over << " of " << tokens.size()
              << " (k=8 vs full: " << change << ")" << std::endl;
    CHECK(e_all <= kTol);
    CHECK(e_unselected <= kTol);
    CHECK(change > 0.5);
    CHECK(over <= int(tokens.size()) / 4);   // measured 8 of 48 (2026-11-25, H100)
    CHECK(e_k8 < 1.0);

    // Head sizes the decode kernel does not handle: a clear Unsupported error, not garbage.
    sigma::LoadOptions lo;
    lo.device = sigma::Device::Cuda;
    auto small = sigma::Model::load((fs::path(SIGMAOPS_FIXTURES) / "models" / "sigma_basic_f32.gguf").string(), lo);
    REQUIRE(small);
    sigma::SessionOptions so;
    so.selective_v = 4;
    auto s = (*small)->new_session(so);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == sigma::ErrorCode::Unsupported);
    CHECK_THAT(s.error().message, Catch::Contains("selective V"));
}

TEST_CASE("CUDA greedy generation equals the CPU's - text generation runs", "[gpu][forward][generate]") {
    if (!have_gpu()) { std::cout << "skipped: no GPU" << std::endl; return; }
    const std::string path = generated_model("F32", true, 8, 2, 4, 64);
    sigma::SamplingParams gp;
    gp.temperature = 0;
    gp.repeat_penalty = 1;
    gp.max_tokens = 32;
    std::vector<std::vector<sigma::TokenId>> outs;
    for (auto dev : {sigma::Device::Cpu, sigma::Device::Cuda}) {
        sigma::LoadOptions lo;
        lo.device = dev;
        auto m = sigma::Model::load(path, lo);
        REQUIRE(m);
        sigma::SessionOptions so;
        so.n_ctx = 128;
        auto s = (*m)->new_session(so);
        REQUIRE(s);
        auto r = (*s)->generate_tokens(some_tokens(10, 256, 5), gp);
        INFO((r ? "" : r.error().message));
        REQUIRE(r);
        outs.push_back(r->tokens);
    }
    size_t same = 0;
    while (same < outs[0].size() && same < outs[1].size() && outs[0][same] == outs[1][same]) ++same;
    std::cout << "greedy generation: " << same << " of " << outs[0].size() << " tokens equal CPU vs CUDA" << std::endl;
    CHECK(same >= 8);   // random weights: a near-tie later may legitimately flip one token

    // Text in, text out, with a real SentencePiece tokenizer and sampling on the host.
    sigma::LoadOptions lo;
    lo.device = sigma::Device::Cuda;
    auto chat = sigma::Model::load(sigma::testing::tiny_chat_model("Q8_0"), lo);
    REQUIRE(chat);
    auto s = (*chat)->new_session({});
    REQUIRE(s);
    sigma::SamplingParams sp;
    sp.seed = 42;
    sp.max_tokens = 16;
    auto r = (*s)->generate("hello server", sp);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    CHECK(r->timings.n_decoded > 0);
}
