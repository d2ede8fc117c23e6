// bench_forward: end-to-end decode speed of the CUDA backend on Sigma-1.5B-shaped models with
// random weights made on the GPU (no file): Sigma (n_q/n_k/n_v 32/4/16, augmented Q 3072) and its
// GQA twin (32/16/16, no augmented Q), 26 layers, d_model 2048, d_ff 6144, head size 64, vocab
// 128256, untied output; at contexts 0, 4K, 32K, 64K (the K/V caches are filled with random
// values, then decode steps at positions ctx..ctx+31 are timed).
// One step = the engine's greedy decode call (forward_argmax: H2D token/position, the CUDA graph
// of the whole step, D2H token id), timed on the host over --steps steps after 3 warm-ups.
// Roofline: bytes one step must read (weights except the embedding table, plus every K and V
// row: ctx * n_layer * (n_k*d_qk + n_v*d_v) * 2 bytes, F16 cache) / the device-to-device copy
// bandwidth measured in the same run.
// Prefill: one row per model and weight type, a 4096-token prompt (1024 with --quick) from an
// empty cache in one forward() call (the backend's 4096-token pass: cuBLAS GEMMs over the whole
// prompt + the tensor-core causal attention), median of 3 after a full-size warm-up, against the
// bf16 tensor-core peak cuBLAS reaches in the same process (8192^3 GEMM, bf16 in, F32
// accumulate, median of 20). Model FLOPs, counted honestly: 2 x the parameters of every matrix
// a token multiplies (Q, K, V, augmented Q gate/up/down, O, FFN gate/up/down) per token; causal
// attention 2 x n_q x (d_qk + d_v) x T(T+1)/2 per layer (QK^T and PV over the keys each token
// sees); the output matrix for the LAST token only (prefill needs only that one's logits); no
// FLOPs for norms, RoPE, softmax or the embedding lookup. Prints one JSON object per row.
// GEMV block shapes (--gemv-shapes) add decode rows at ctx 0 with other GEMV shapes (tuning).
// Batched decode (--batch 8,16): B sequences stepped together (BatchForward::step: one graph,
// GEMMs with B rows, attention over the batch), every sequence at the same context; tokens/s
// counts all B sequences' tokens, the roofline's bytes are the weights (once per step; the
// batched GEMV rows: once per 8 sequences) plus B sequences' K/V rows. Rows: ctx 0 with each
// way of doing the matrix products (auto, the default: cuBLAS for an F16/BF16 model, the
// tensor-core small GEMM for a Q8_0 one; the small GEMM, cuBLAS, the batched GEMV with 4- or
// 8-row blocks), ctx 32K
// for both models, and selective V k=100 at 32K for Sigma.
//   bench_forward [--quick] [--prefill-only] [--steps N] [--types F16,Q8_0] [--gemv-shapes I,J]
//                 [--selv-only CTX] [--batch B,B2]
#ifdef SIGMA_HAVE_CUDA
#include "cuda/bench_hooks.h"
#include "cuda/cuda_backend.h"
#include "model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

sigma::Hparams shape(bool sigma_shape) {
    sigma::Hparams hp;
    hp.arch = "sigma";
    hp.n_ctx_train = 131072;
    hp.d_model = 2048; hp.n_layer = 26; hp.d_ff = 6144;
    hp.n_q = 32; hp.d_qk = 64; hp.d_v = 64; hp.d_rot = 64;
    hp.n_k = sigma_shape ? 4 : 16;
    hp.n_v = 16;
    hp.d_aug = sigma_shape ? 3072 : 0;
    hp.eps = 1e-5f; hp.rope_base = 50000.0f;
    hp.n_vocab = 128256;
    return hp;
}

} // namespace

int main(int argc, char** argv) {
    bool quick = false, prefill_only = false;
    int selv_only = 0;   // --selv-only CTX: just Sigma with selective V k=100 and full attention at CTX (profiling)
    int steps = 64;
    std::vector<int> gemv_shapes;   // --gemv-shapes 1,8: also time these GEMV block shapes at ctx 0
    std::vector<int> batches;       // --batch 8,16: batched decode rows
    std::vector<std::string> types = {"F16", "Q8_0"};
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--prefill-only")) prefill_only = true;
        else if (!std::strcmp(argv[i], "--selv-only") && i + 1 < argc) selv_only = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) steps = std::atoi(argv[++i]);
        else if ((!std::strcmp(argv[i], "--gemv-shapes") || !std::strcmp(argv[i], "--batch")) && i + 1 < argc) {
            std::vector<int>& list = argv[i][2] == 'g' ? gemv_shapes : batches;
            for (const char* at = argv[++i]; *at;) {
                list.push_back(std::atoi(at));
                while (*at && *at != ',') ++at;
                if (*at == ',') ++at;
            }
        }
        else if (!std::strcmp(argv[i], "--types") && i + 1 < argc) {
            types.clear();
            std::string s = argv[++i];
            for (size_t at = 0; at <= s.size();) {
                const size_t comma = std::min(s.find(',', at), s.size());
                types.push_back(s.substr(at, comma - at));
                at = comma + 1;
            }
        } else {
            std::fprintf(stderr, "usage: bench_forward [--quick] [--prefill-only] [--steps N] [--types F16,Q8_0] [--gemv-shapes I,J] [--selv-only CTX] [--batch B,B2]\n");
            return 2;
        }
    }
    for (int b : batches)
        if (b < 1 || b > 64) { std::fprintf(stderr, "bench_forward: --batch takes sizes 1..64\n"); return 2; }
    if (steps < 1) { std::fprintf(stderr, "bench_forward: --steps must be >= 1\n"); return 2; }
    try {
        const double copy_gbps = sigma::cuda::measure_copy_gbps();
        const double peak = sigma::cuda::measure_gemm_flops(8192, 8192, 8192);
        std::printf("{\"copy_gbps\": %.1f, \"cublas_bf16_8192_tflops\": %.1f}\n", copy_gbps, peak / 1e12);
        std::fflush(stdout);
        const std::vector<int> contexts = quick ? std::vector<int>{0, 4096} : std::vector<int>{0, 4096, 32768, 65536};
        struct Row { bool sigma; std::string type; int ctx; int selective_v; bool graph; bool pdl = true; int gemv_shape = 0; bool sample = false; bool sample_cut = true; };
        for (const std::string& type : types) {
            for (bool sig : {true, false}) {
                const sigma::Hparams hp = shape(sig);
                auto dm = sigma::cuda::random_model(hp, type, 1234);
                const uint64_t wbytes = sigma::cuda::decode_weight_bytes(*dm);
                std::vector<Row> rows;
                if (selv_only > 0) {
                    if (!sig) continue;
                    rows = {{sig, type, selv_only, 100, true}, {sig, type, selv_only, 0, true}};
                } else if (!prefill_only)
                for (int c : contexts) rows.push_back({sig, type, c, 0, true});
                const bool extra = !quick && !prefill_only && selv_only == 0;
                if (extra) rows.push_back({sig, type, 0, 0, false});   // launch overhead without graphs
                if (extra) rows.push_back({sig, type, 0, 0, true, false});   // programmatic dependent launch off
                if (!prefill_only && selv_only == 0) for (int v : gemv_shapes) rows.push_back({sig, type, 0, 0, true, true, v});   // GEMV block shapes
                // Sampling on the GPU (temperature 0.8, top-k 40, top-p 0.95, repetition penalty 1.1 over
                // 64 ids) instead of greedy: the sampler's cost per token.
                if (extra) rows.push_back({sig, type, 0, 0, true, true, 0, true});
                // ... and without the candidate cut (one block over the whole vocabulary).
                if (extra) rows.push_back({sig, type, 0, 0, true, true, 0, true, false});
                if (extra && sig) for (int c : {32768, 65536}) rows.push_back({sig, type, c, 100, true});
                for (const Row& r : rows) {
                    ::setenv("SIGMA_CUDA_GRAPH", r.graph ? "1" : "0", 1);
                    ::setenv("SIGMA_CUDA_PDL", r.pdl ? "1" : "0", 1);
                    ::setenv("SIGMA_GEMV_VARIANT", std::to_string(r.gemv_shape).c_str(), 1);
                    ::setenv("SIGMA_CUDA_SAMPLE_CUT", r.sample_cut ? "1" : "0", 1);
                    auto fwd = sigma::cuda::new_cuda_forward(dm, r.ctx + 64, r.selective_v);
                    sigma::cuda::fill_kv_random(*fwd, 99);
                    sigma::TokenId tok = 17;
                    sigma::SamplingParams sp;
                    sp.temperature = 0.8f; sp.top_k = 40; sp.top_p = 0.95f; sp.repeat_penalty = 1.1f;
                    std::vector<sigma::TokenId> recent;   // the penalty window: 64 context tokens
                    for (int i = 0; i < 64; ++i) recent.push_back(sigma::TokenId(i * 1999 % int(hp.n_vocab)));
                    sigma::SampleRequest req;
                    req.params = &sp; req.seed = 7; req.recent = recent;
                    auto step = [&](sigma::TokenId t, int pos) {
                        if (!r.sample) return fwd->forward_argmax(t, pos);
                        ++req.draw;
                        return fwd->forward_sample(t, pos, req);
                    };
                    for (int i = 0; i < 3; ++i) tok = step(tok, r.ctx + i);
                    const auto t0 = std::chrono::steady_clock::now();
                    for (int i = 0; i < steps; ++i) tok = step(tok, r.ctx + (i % 32));
                    const double ms =
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
                    const uint64_t k_row = uint64_t(hp.n_k) * hp.d_qk * 2, v_row = uint64_t(hp.n_v) * hp.d_v * 2;
                    const uint64_t keys = uint64_t(r.ctx) + 1;
                    const uint64_t v_rows = r.selective_v > 0 ? std::min<uint64_t>(keys, uint64_t(r.selective_v) * hp.n_q / hp.n_v)
                                                              : keys;   // selective V: at most k rows per query head
                    const uint64_t kv_bytes = hp.n_layer * (keys * k_row + v_rows * v_row);
                    const double bytes = double(wbytes + kv_bytes);
                    const double gbps = bytes / (ms * 1e-3) / 1e9;
                    std::printf("{\"model\": \"%s\", \"weights\": \"%s\", \"ctx\": %d, \"selective_v\": %d, \"graph\": %s, \"pdl\": %s, \"gemv_shape\": %d, \"sampling\": \"%s\", "
                                "\"ms_per_token\": %.4f, \"tokens_per_s\": %.1f, \"weight_bytes\": %llu, \"kv_bytes\": %llu, "
                                "\"gbps\": %.1f, \"copy_gbps\": %.1f, \"pct_of_copy_roofline\": %.1f}\n",
                                r.sigma ? "sigma-1.5B 32/4/16 augQ" : "gqa-twin 32/16/16", r.type.c_str(), r.ctx, r.selective_v,
                                r.graph ? "true" : "false", r.pdl ? "true" : "false", r.gemv_shape, r.sample ? (r.sample_cut ? "t0.8 k40 p0.95 rep1.1" : "t0.8 k40 p0.95 rep1.1, no cut") : "greedy", ms, 1000.0 / ms, (unsigned long long)wbytes,
                                (unsigned long long)kv_bytes, gbps, copy_gbps, 100.0 * gbps / copy_gbps);
                    std::fflush(stdout);
                }
                if (selv_only > 0) continue;
                // Batched decode: B sequences at the same context, one step advances all of them.
                for (int B : prefill_only ? std::vector<int>{} : batches) {
                    ::setenv("SIGMA_CUDA_GRAPH", "1", 1);
                    ::setenv("SIGMA_CUDA_PDL", "1", 1);
                    ::setenv("SIGMA_GEMV_VARIANT", "0", 1);
                    // (ctx, selective_v, matrix products): at ctx 0 the three ways of doing the
                    // matrix products (batched GEMV with 4- or 8-row blocks, cuBLAS GEMMs).
                    struct BRow { int ctx, selv; const char* gemm; };
                    std::vector<BRow> brows = {{0, 0, "auto"}, {0, 0, "mma"}, {0, 0, "cublas"}, {0, 0, "gemv4"}, {0, 0, "gemv8"}, {32768, 0, "auto"}};
                    if (sig) brows.push_back({32768, 100, "auto"});
                    for (const BRow& br : brows) {
                        const int ctx = br.ctx, selv = br.selv;
                        ::setenv("SIGMA_BATCH_GEMM", br.gemm[0] == 'c' ? "cublas" : br.gemm[0] == 'm' ? "mma" : br.gemm[0] == 'a' ? "auto" : "gemv", 1);
                        ::setenv("SIGMA_BATCH_GEMV_ROWS", br.gemm[4] == '8' ? "8" : "4", 1);
                        auto batch = sigma::cuda::new_cuda_batch_forward(dm, B, ctx + 64, selv);
                        sigma::cuda::fill_kv_random(*batch, 99);
                        std::vector<sigma::TokenId> tok(static_cast<size_t>(B)), next(static_cast<size_t>(B));
                        std::vector<int> pos(static_cast<size_t>(B));
                        for (int b = 0; b < B; ++b) tok[size_t(b)] = sigma::TokenId(17 + 31 * b);
                        auto step = [&](int i) {
                            for (int b = 0; b < B; ++b) pos[size_t(b)] = ctx + (i % 32);
                            batch->step(tok.data(), pos.data(), next.data(), nullptr);
                            tok = next;
                        };
                        for (int i = 0; i < 3; ++i) step(i);
                        const auto t0 = std::chrono::steady_clock::now();
                        for (int i = 0; i < steps; ++i) step(i);
                        const double ms =
                            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
                        const uint64_t k_row = uint64_t(hp.n_k) * hp.d_qk * 2, v_row = uint64_t(hp.n_v) * hp.d_v * 2;
                        const uint64_t keys = uint64_t(ctx) + 1;
                        const uint64_t v_rows = selv > 0 ? std::min<uint64_t>(keys, uint64_t(selv) * hp.n_q / hp.n_v) : keys;
                        const uint64_t kv_bytes = uint64_t(B) * hp.n_layer * (keys * k_row + v_rows * v_row);
                        // Weights are read once per 16 sequences by the small GEMM, once per step by
                        // cuBLAS, once per 8 sequences by the batched GEMV (cuBLAS's mode takes
                        // the GEMV for Q8_0).
                        const bool gemv_path = br.gemm[0] == 'g' || (br.gemm[0] == 'c' && type == "Q8_0");
                        const bool small_path = br.gemm[0] == 'm' || (br.gemm[0] == 'a' && type == "Q8_0");
                        const uint64_t w_reads = gemv_path ? uint64_t((B + 7) / 8) : small_path ? uint64_t((B + 15) / 16) : 1;
                        const double gbps = double(wbytes * w_reads + kv_bytes) / (ms * 1e-3) / 1e9;
                        std::printf("{\"model\": \"%s\", \"weights\": \"%s\", \"batch\": %d, \"batch_gemm\": \"%s\", \"ctx\": %d, \"selective_v\": %d, "
                                    "\"graph\": true, \"pdl\": true, \"sampling\": \"greedy\", \"ms_per_step\": %.4f, "
                                    "\"tokens_per_s\": %.1f, \"weight_bytes\": %llu, \"kv_bytes\": %llu, \"gbps\": %.1f, "
                                    "\"copy_gbps\": %.1f, \"pct_of_copy_roofline\": %.1f}\n",
                                    sig ? "sigma-1.5B 32/4/16 augQ" : "gqa-twin 32/16/16", type.c_str(), B,
                                    gemv_path && br.gemm[0] == 'c' ? "gemv4" : br.gemm, ctx, selv, ms,
                                    1000.0 * B / ms, (unsigned long long)(wbytes * w_reads), (unsigned long long)kv_bytes, gbps,
                                    copy_gbps, 100.0 * gbps / copy_gbps);
                        std::fflush(stdout);
                    }
                }
                // Prefill: the whole prompt in one forward() (logits of the last position only).
                const int n_pre = quick ? 1024 : 4096;
                auto fwd = sigma::cuda::new_cuda_forward(dm, n_pre + 64, 0);
                std::vector<sigma::TokenId> toks(n_pre);
                for (int i = 0; i < n_pre; ++i) toks[i] = sigma::TokenId((i * 7919 + 13) % int(hp.n_vocab));
                std::vector<float> logits(hp.n_vocab);
                fwd->forward(toks.data(), n_pre, 0, logits.data(), false, sigma::Pass::Prompt);   // warm-up (cuBLAS heuristics)
                std::vector<double> times;
                for (int rep = 0; rep < 3; ++rep) {
                    const auto t0 = std::chrono::steady_clock::now();
                    fwd->forward(toks.data(), n_pre, 0, logits.data(), false, sigma::Pass::Prompt);
                    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
                }
                std::sort(times.begin(), times.end());
                const double ms = times[1];
                const double D = hp.d_model, F = hp.d_ff, A = hp.d_aug, Vv = hp.n_vocab, T = n_pre;
                const double layer_params = D * hp.q_dim() + D * hp.k_dim() + D * hp.v_dim() + 3.0 * A * hp.q_dim() +
                                            double(hp.o_dim()) * D + 3.0 * D * F;
                const double gemm_flops = 2.0 * layer_params * hp.n_layer * T + 2.0 * D * Vv;   // logits: last token
                const double attn_flops = 2.0 * hp.n_q * double(hp.d_qk + hp.d_v) * (T * (T + 1) / 2) * hp.n_layer;
                const double flops = gemm_flops + attn_flops;
                const double tflops = flops / (ms * 1e-3) / 1e12;
                std::printf("{\"model\": \"%s\", \"weights\": \"%s\", \"prefill_tokens\": %d, \"ms\": %.2f, "
                            "\"prefill_tokens_per_s\": %.0f, \"model_tflop\": %.3f, \"attention_tflop\": %.3f, "
                            "\"tflops\": %.1f, \"pct_of_cublas_peak\": %.1f}\n",
                            sig ? "sigma-1.5B 32/4/16 augQ" : "gqa-twin 32/16/16", type.c_str(), n_pre, ms, n_pre * 1000.0 / ms,
                            flops / 1e12, attn_flops / 1e12, tflops, 100.0 * tflops * 1e12 / peak);
                std::fflush(stdout);
            }
        }
        ::unsetenv("SIGMA_CUDA_GRAPH");
        ::unsetenv("SIGMA_CUDA_PDL");
        ::unsetenv("SIGMA_GEMV_VARIANT");
        ::unsetenv("SIGMA_BATCH_GEMM");
        ::unsetenv("SIGMA_CUDA_SAMPLE_CUT");
        ::unsetenv("SIGMA_BATCH_GEMV_ROWS");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_forward: %s\n", e.what());
        return 1;
    }
    return 0;
}
#else
#include <cstdio>
int main() {
    std::puts("bench_forward: this build has no CUDA (nvcc was not found at build time)");
    return 0;
}
#endif
