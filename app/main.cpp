// sigmaops - the terminal application: chat (the default), generate, logits, model info, bench,
// history, hosts and run. Every subcommand has --help; usage errors exit with code 2, runtime
// failures with 1.
#include "cli_args.h"

#include "assistant.h"
#include "history/history.h"
#include "history/history_cli.h"
#include "remote/remote_cli.h"

#include <sigma/engine.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace sigmaops;
using cli::Args;
using cli::Flag;
using cli::UsageError;

namespace {

constexpr const char* k_top_help =
    "sigmaops - a local AI assistant for people who run servers\n"
    "\n"
    "usage: sigmaops [COMMAND] [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  chat                 talk with the assistant in the terminal (the default)\n"
    "  generate             complete a prompt and stream the text\n"
    "  logits               write the logits of every position of a token list (float32)\n"
    "  model info FILE      architecture, shapes, KV bytes per token, tensor types\n"
    "  bench                prompt and decode speed, effective GB/s vs measured memory bandwidth\n"
    "  perplexity           perplexity of a text file (optionally with selective V)\n"
    "  history              list, show, search, export, import and remove past sessions\n"
    "  hosts                SSH host profiles: list, add, rm, test\n"
    "  run                  run one command on several hosts over SSH\n"
    "\n"
    "options:\n"
    "  --version            print the version\n"
    "  -h, --help           this help; `sigmaops COMMAND --help` for a command's options\n"
    "\n"
    "Models are looked up with -m FILE, then $SIGMAOPS_MODEL, then the data directory\n"
    "($XDG_DATA_HOME/sigmaops/models), then the build and source trees.\n";

std::atomic<bool> g_cancel{false};
std::atomic<bool> g_generating{false};

void on_sigint(int) {
    if (g_generating.load()) g_cancel = true;
    else { const char msg[] = "\n"; (void)!write(STDOUT_FILENO, msg, 1); _exit(130); }
}

std::vector<Flag> model_flags() {
    return {{"--model", "-m", "FILE", "model file (.gguf); default: the first one found (see sigmaops --help)"},
            {"--threads", "", "N", "CPU threads (default: all cores)"},
            {"--device", "", "cpu|cuda", "where to run (default: cpu)"},
            {"--ctx", "", "N", "context size in tokens (default: min(model's, 4096))"}};
}

std::vector<Flag> sampling_flags() {
    return {{"--n-predict", "-n", "N", "tokens to generate at most (default 256)"},
            {"--temp", "", "T", "temperature; 0 = greedy (default 0.7)"},
            {"--top-k", "", "K", "top-k (default 40, 0 = off)"},
            {"--top-p", "", "P", "top-p (default 0.95)"},
            {"--min-p", "", "P", "min-p (default 0.05)"},
            {"--repeat-penalty", "", "R", "repetition penalty (default 1.1, 1 = off)"},
            {"--seed", "", "S", "random seed (default: random)"},
            {"--stop", "", "TEXT", "stop when TEXT is generated"},
            {"--selective-v", "", "K", "decode-time selective V fetching: top-K V rows per head (0 = off)"},
            {"--sliding-window", "", "", "on a full context drop old tokens instead of stopping"}};
}

std::vector<Flag> concat(std::vector<Flag> a, const std::vector<Flag>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

sigma::SamplingParams sampling_from(const Args& a) {
    sigma::SamplingParams p;
    p.max_tokens = int(a.get_int("--n-predict", 256, 0, 1 << 20));
    p.temperature = float(a.get_double("--temp", 0.7, 0, 100));
    p.top_k = int(a.get_int("--top-k", 40, 0, 1 << 30));
    p.top_p = float(a.get_double("--top-p", 0.95, 0, 1));
    p.min_p = float(a.get_double("--min-p", 0.05, 0, 1));
    p.repeat_penalty = float(a.get_double("--repeat-penalty", 1.1, 0.01, 100));
    p.seed = uint64_t(a.get_int("--seed", 0, 0, (1LL << 62)));
    if (a.has("--stop")) p.stop.push_back(a.get("--stop"));
    return p;
}

sigma::SessionOptions session_from(const Args& a) {
    sigma::SessionOptions s;
    s.n_ctx = int(a.get_int("--ctx", 0, 0, 1 << 22));
    s.selective_v = int(a.get_int("--selective-v", 0, 0, 1 << 22));
    if (a.has("--sliding-window")) { s.overflow = sigma::OverflowPolicy::SlidingWindow; s.n_keep = 16; }
    return s;
}

// Loads the model named by -m (or found by the search); prints a clear message on failure.
std::shared_ptr<sigma::Model> load_model(const Args& a, const std::string& explicit_path = "") {
    if (explicit_path.empty() && a.has("--model") && a.get("--model").empty())
        throw UsageError("-m/--model needs a model file, got an empty path");
    auto path = find_model(explicit_path.empty() ? a.get("--model") : explicit_path);
    if (!path) { std::cerr << "sigmaops: " << path.error().message << "\n"; return nullptr; }
    sigma::LoadOptions lo;
    lo.n_threads = int(a.get_int("--threads", 0, 0, 1024));
    const std::string dev = a.get("--device", "cpu");
    if (dev == "cuda") lo.device = sigma::Device::Cuda;
    else if (dev != "cpu") throw UsageError("--device must be cpu or cuda, got '" + dev + "'");
    auto m = sigma::Model::load(*path, lo);
    if (!m) { std::cerr << "sigmaops: " << m.error().message << "\n"; return nullptr; }
    return *m;
}

const char* stop_name(sigma::StopReason r) {
    switch (r) {
    case sigma::StopReason::MaxTokens: return "max tokens";
    case sigma::StopReason::EndOfText: return "end of text";
    case sigma::StopReason::StopString: return "stop string";
    case sigma::StopReason::Cancelled: return "cancelled";
    case sigma::StopReason::CallbackStopped: return "stopped";
    case sigma::StopReason::ContextFull: return "context full";
    }
    return "?";
}

int cmd_generate(const std::vector<std::string>& argv) {
    Args a("generate", "sigmaops generate -m FILE -p TEXT [-n N] [--temp T] [--seed S] [--device cpu|cuda]",
           concat(concat(model_flags(), sampling_flags()),
                  {{"--prompt", "-p", "TEXT", "the prompt (required)"},
                   {"--chat", "", "", "wrap the prompt in the model's chat template as a user turn"},
                   {"--timings", "", "", "print prompt/decode speed to stderr at the end"}}));
    a.parse(argv);
    if (a.has("--help")) { std::cout << a.help(); return 0; }
    if (!a.has("--prompt")) throw UsageError("--prompt TEXT is required");
    if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "'");
    auto params = sampling_from(a);
    auto sopt = session_from(a);
    auto model = load_model(a);
    if (!model) return 1;
    std::string prompt = a.get("--prompt");
    if (a.has("--chat")) {
        auto p = model->format_chat({{"user", prompt}}, true);
        if (!p) { std::cerr << "sigmaops: " << p.error().message << "\n"; return 1; }
        prompt = *p;
    }
    auto session = model->new_session(sopt);
    if (!session) { std::cerr << "sigmaops: " << session.error().message << "\n"; return 1; }
    g_generating = true;
    auto res = (*session)->generate(prompt, params, [](std::string_view piece) {
        std::cout << piece << std::flush;
        return true;
    }, &g_cancel);
    g_generating = false;
    std::cout << "\n";
    if (!res) { std::cerr << "sigmaops: " << res.error().message << "\n"; return 1; }
    if (a.has("--timings")) {
        const auto& t = res->timings;
        std::fprintf(stderr, "prompt: %d tokens (%d reused) in %.1f ms = %.1f tok/s; decode: %d tokens in %.1f ms = %.1f tok/s; stop: %s\n",
                     t.n_prompt, t.n_reused, t.prompt_ms, t.prompt_tps(), t.n_decoded, t.decode_ms, t.decode_tps(),
                     stop_name(res->stop));
    }
    return 0;
}

std::vector<sigma::TokenId> parse_token_list(const std::string& s) {
    std::vector<sigma::TokenId> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        size_t used = 0;
        long long v = -1;
        try { v = std::stoll(item, &used); } catch (...) { used = 0; }
        if (used != item.size() || item.empty() || v < 0 || v > INT32_MAX)
            throw UsageError("--tokens expects comma-separated token ids, got '" + item + "'");
        out.push_back(sigma::TokenId(v));
    }
    if (out.empty()) throw UsageError("--tokens is empty");
    return out;
}

int cmd_logits(const std::vector<std::string>& argv) {
    Args a("logits", "sigmaops logits -m FILE --tokens 1,2,3 --out FILE",
           concat(model_flags(), {{"--tokens", "", "IDS", "comma-separated token ids (required)"},
                                  {"--out", "-o", "FILE", "output: little-endian float32, row-major [n_tokens][n_vocab] (required)"},
                                  {"--selective-v", "", "K", "apply selective V (top-K rows per head) at every position"}}));
    a.parse(argv);
    if (a.has("--help")) { std::cout << a.help(); return 0; }
    if (!a.has("--tokens") || !a.has("--out")) throw UsageError("--tokens and --out are required");
    auto tokens = parse_token_list(a.get("--tokens"));
    auto sopt = session_from(a);
    if (sopt.n_ctx == 0) sopt.n_ctx = int(tokens.size());
    auto model = load_model(a);
    if (!model) return 1;
    auto session = model->new_session(sopt);
    if (!session) { std::cerr << "sigmaops: " << session.error().message << "\n"; return 1; }
    auto logits = (*session)->logits(tokens);
    if (!logits) { std::cerr << "sigmaops: " << logits.error().message << "\n"; return 1; }
    const std::string out = a.get("--out"), tmp = out + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(logits->data()), std::streamsize(logits->size() * sizeof(float)));
        if (!f.good()) { std::cerr << "sigmaops: cannot write " << tmp << ": " << std::strerror(errno) << "\n"; std::remove(tmp.c_str()); return 1; }
    }
    if (std::rename(tmp.c_str(), out.c_str()) != 0) { std::cerr << "sigmaops: cannot write " << out << "\n"; return 1; }
    std::cerr << "wrote " << tokens.size() << " x " << model->info().n_vocab << " logits to " << out << "\n";
    return 0;
}

std::string human_bytes(double b) {
    char buf[64];
    if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
    else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
    else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.1f KB", b / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f B", b);
    return buf;
}

int cmd_model(const std::vector<std::string>& argv) {
    Args a("model", "sigmaops model info FILE", {});
    a.parse(argv);
    if (a.has("--help")) { std::cout << a.help(); return 0; }
    if (a.positional().size() != 2 || a.positional()[0] != "info") throw UsageError("expected: model info FILE");
    auto m = sigma::Model::load(a.positional()[1]);
    if (!m) { std::cerr << "sigmaops: " << m.error().message << "\n"; return 1; }
    const sigma::ModelInfo& i = (*m)->info();
    std::cout << "file:           " << i.path << "\n"
              << "name:           " << (i.name.empty() ? "-" : i.name) << "\n"
              << "architecture:   " << i.architecture << "\n"
              << "layers:         " << i.n_layer << "\n"
              << "d_model:        " << i.d_model << "\n"
              << "d_ff:           " << i.d_ff << "\n"
              << "heads q/k/v:    " << i.n_q << "/" << i.n_k << "/" << i.n_v << "\n"
              << "head size qk/v: " << i.d_qk << "/" << i.d_v << "\n"
              << "augmented Q:    " << (i.d_aug ? std::to_string(i.d_aug) : std::string("none")) << "\n"
              << "RoPE:           base " << i.rope_base << ", " << i.d_rot << " dims\n"
              << "vocabulary:     " << i.n_vocab << (i.tied_output ? " (tied output)" : "") << "\n"
              << "context:        " << i.n_ctx_train << "\n"
              << "parameters:     " << i.n_params << "\n"
              << "weights:        " << human_bytes(double(i.weight_bytes)) << "\n"
              << "KV per token:   " << i.kv_bytes_per_token << " bytes (K " << i.n_k << "x" << i.d_qk << " + V " << i.n_v
              << "x" << i.d_v << " per layer, f32)\n"
              << "tensor types:  ";
    for (const auto& [t, n] : i.tensor_types) std::cout << " " << t << " x" << n;
    std::cout << "\n"
              << "tokenizer:      " << (i.has_tokenizer ? i.tokenizer_model : std::string("none (token ids only)")) << "\n"
              << "chat format:    " << i.chat_format << "\n";
    return 0;
}

// STREAM-style copy bandwidth over all threads: bytes read + written per second, best of 5.
double measure_copy_bandwidth(int n_threads) {
    const size_t n = size_t(64) << 20;   // 64 Mi floats = 256 MiB per array
    std::vector<float> src(n, 1.0f), dst(n, 0.0f);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> th;
        for (int t = 0; t < n_threads; ++t)
            th.emplace_back([&, t] {
                const size_t b = n * t / n_threads, e = n * (t + 1) / n_threads;
                std::memcpy(dst.data() + b, src.data() + b, (e - b) * sizeof(float));
            });
        for (auto& x : th) x.join();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, 2.0 * n * sizeof(float) / s);
    }
    return best;
}

int cmd_bench(const std::vector<std::string>& argv) {
    Args a("bench", "sigmaops bench -m FILE [-p N] [-n N] [--reps N] [--json]",
           concat(model_flags(), {{"--prompt-tokens", "-p", "N", "prompt length (default 128)"},
                                  {"--n-predict", "-n", "N", "tokens to decode (default 64)"},
                                  {"--reps", "", "N", "repetitions; each measures copy bandwidth, then prompt + decode (default 3)"},
                                  {"--selective-v", "", "K", "selective V at decode"},
                                  {"--json", "", "", "print one JSON object per repetition and one for the median"}}));
    a.parse(argv);
    if (a.has("--help")) { std::cout << a.help(); return 0; }
    const int n_prompt = int(a.get_int("--prompt-tokens", 128, 1, 1 << 20));
    const int n_gen = int(a.get_int("--n-predict", 64, 1, 1 << 20));
    const int reps = int(a.get_int("--reps", 3, 1, 100));
    auto sopt = session_from(a);
    auto model = load_model(a);
    if (!model) return 1;
    const sigma::ModelInfo& info = model->info();
    if (sopt.n_ctx == 0) sopt.n_ctx = n_prompt + n_gen + 1;
    auto session = model->new_session(sopt);
    if (!session) { std::cerr << "sigmaops: " << session.error().message << "\n"; return 1; }
    const int n_threads = int(a.get_int("--threads", 0, 0, 1024)) ? int(a.get_int("--threads", 0, 0, 1024))
                                                                  : int(std::max(1u, std::thread::hardware_concurrency()));
    const bool on_gpu = a.get("--device", "cpu") == "cuda";
    std::string gpu_name;
    if (on_gpu) {
        auto g = sigma::gpu_copy_bandwidth();
        if (!g) { std::cerr << "sigmaops: " << g.error().message << "\n"; return 1; }
        gpu_name = g->device_name;
    }
    std::mt19937 rng(42);
    std::vector<sigma::TokenId> prompt(n_prompt);
    for (auto& t : prompt) t = sigma::TokenId(rng() % info.n_vocab);
    sigma::SamplingParams p;
    p.temperature = 0;
    p.repeat_penalty = 1.0f;
    p.max_tokens = n_gen;
    // Other runnable processes preempt decode threads and stall the rest at the next barrier:
    // say so rather than let a low number pass for the machine's speed.
    if (std::ifstream la("/proc/loadavg"); la) {
        double load1 = 0;
        if (la >> load1; load1 > 0.5 * std::max(1u, std::thread::hardware_concurrency()))
            std::fprintf(stderr, "sigmaops bench: note: load average %.2f on %u cores; other processes compete with the "
                                 "benchmark, so its figures will read low (bench/cpu_decode.sh runs it under SCHED_FIFO)\n",
                         load1, std::max(1u, std::thread::hardware_concurrency()));
    }
    // Warm-up: page the weights in.
    (void)(*session)->generate_tokens({prompt[0]}, [] { sigma::SamplingParams w; w.max_tokens = 2; w.temperature = 0; return w; }());
    // Bytes read per decoded token: all weights (a tied output counts once) + the KV cache so far.
    const double avg_pos = n_prompt + n_gen / 2.0;
    // (The CUDA backend keeps K and V in F16: half the CPU's F32 cache bytes.)
    const double kv_per_tok = on_gpu ? double(info.kv_bytes_per_token) / 2 : double(info.kv_bytes_per_token);
    const double bytes_per_tok = double(info.weight_bytes) + avg_pos * kv_per_tok;
    struct Rep { double bw, prompt_tps, decode_tps, eff, pct; };
    std::vector<Rep> runs;
    if (!a.has("--json")) {
        std::printf("model:        %s (%s, %s weights)\n", info.path.c_str(), info.architecture.c_str(),
                    human_bytes(double(info.weight_bytes)).c_str());
        if (on_gpu) std::printf("gpu:          %s\n", gpu_name.c_str());
        else std::printf("cpu:          %d threads, %s\n", n_threads, sigma::cpu_features().c_str());
        std::printf("bytes/token:  %s (weights + KV at the average position)\n", human_bytes(bytes_per_tok).c_str());
        std::printf("%4s %12s %12s %12s %12s %10s\n", "rep", "copy GB/s", "prompt t/s", "decode t/s", "eff. GB/s", "% copy BW");
    }
    for (int r = 0; r < reps; ++r) {
        // The copy bandwidth is measured right before each run: on a shared VM it drifts. With
        // --device cuda the limit is the GPU's memory, not the CPU's.
        double bw = 0;
        if (on_gpu) {
            auto g = sigma::gpu_copy_bandwidth();
            if (!g) { std::cerr << "sigmaops: " << g.error().message << "\n"; return 1; }
            bw = g->bytes_per_s;
        } else {
            bw = measure_copy_bandwidth(n_threads);
        }
        (*session)->reset();
        auto res = (*session)->generate_tokens(prompt, p);
        if (!res) { std::cerr << "sigmaops: " << res.error().message << "\n"; return 1; }
        const auto& t = res->timings;
        const double eff = t.decode_tps() * bytes_per_tok;
        runs.push_back({bw, t.prompt_tps(), t.decode_tps(), eff, 100.0 * eff / bw});
        const Rep& x = runs.back();
        if (a.has("--json"))
            std::printf("{\"rep\":%d,\"copy_gbps\":%.3f,\"prompt_tps\":%.2f,\"decode_tps\":%.2f,\"effective_gbps\":%.3f,"
                        "\"pct_of_copy_bw\":%.1f}\n", r, x.bw / 1e9, x.prompt_tps, x.decode_tps, x.eff / 1e9, x.pct);
        else
            std::printf("%4d %12.2f %12.1f %12.2f %12.2f %9.1f%%\n", r, x.bw / 1e9, x.prompt_tps, x.decode_tps, x.eff / 1e9, x.pct);
    }
    auto median = [&](double Rep::*f) {
        std::vector<double> v;
        for (const Rep& x : runs) v.push_back(x.*f);
        std::sort(v.begin(), v.end());
        return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    if (a.has("--json")) {
        std::printf("{\"model\":\"%s\",\"device\":\"%s\",\"threads\":%d,\"isa\":\"%s\",\"n_prompt\":%d,\"n_decode\":%d,\"reps\":%d,"
                    "\"bytes_per_token\":%.0f,\"median_copy_gbps\":%.3f,\"median_prompt_tps\":%.2f,\"median_decode_tps\":%.2f,"
                    "\"median_effective_gbps\":%.3f,\"median_pct_of_copy_bw\":%.1f}\n",
                    info.path.c_str(), on_gpu ? gpu_name.c_str() : "cpu", n_threads, sigma::cpu_features().c_str(), n_prompt, n_gen, reps, bytes_per_tok,
                    median(&Rep::bw) / 1e9, median(&Rep::prompt_tps), median(&Rep::decode_tps), median(&Rep::eff) / 1e9,
                    median(&Rep::pct));
    } else {
        std::printf(" med %12.2f %12.1f %12.2f %12.2f %9.1f%%   (decode %.2f ms/token; copy = %s, read + write)\n",
                    median(&Rep::bw) / 1e9, median(&Rep::prompt_tps), median(&Rep::decode_tps), median(&Rep::eff) / 1e9,
                    median(&Rep::pct), 1000.0 / median(&Rep::decode_tps),
                    on_gpu ? "GPU device-to-device cudaMemcpy of 1 GiB, median of 20" : "STREAM-style memcpy over all threads, best of 5");
    }
    return 0;
}

// Perplexity of a UTF-8 text file: the text is tokenized once (no BOS), cut into windows of
// --ctx - 1 tokens, each evaluated from an empty cache with BOS in front; every token of a
// window is scored (the first one given only BOS). Windows do not overlap, so each token is
// scored once. --selective-v applies selective V at every position (what decode would do).
int cmd_perplexity(const std::vector<std::string>& argv) {
    Args a("perplexity", "sigmaops perplexity -m FILE -f TEXT [--ctx N] [--selective-v K] [--json]",
           concat(model_flags(), {{"--file", "-f", "TEXT", "UTF-8 text to score (required)"},
                                  {"--max-tokens", "", "N", "score at most N tokens (default: all)"},
                                  {"--selective-v", "", "K", "selective V (top-K V rows per head) at every position"},
                                  {"--json", "", "", "print one JSON object"}}));
    a.parse(argv);
    if (a.has("--help")) { std::cout << a.help(); return 0; }
    if (!a.has("--file")) throw UsageError("--file is required");
    auto sopt = session_from(a);   // flags first: a usage error wins over a missing file
    if (sopt.n_ctx == 0) sopt.n_ctx = 512;
    if (sopt.n_ctx < 2) throw UsageError("--ctx must be at least 2");
    if (std::error_code ec; std::filesystem::is_directory(a.get("--file"), ec)) {
        std::cerr << "sigmaops: " << a.get("--file") << " is a directory; --file takes a text file\n";
        return 1;
    }
    std::ifstream f(a.get("--file"), std::ios::binary);
    if (!f) { std::cerr << "sigmaops: cannot read " << a.get("--file") << ": " << std::strerror(errno) << "\n"; return 1; }
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto model = load_model(a);
    if (!model) return 1;
    auto toks = model->tokenize(text, false, false);
    if (!toks) { std::cerr << "sigmaops: " << toks.error().message << "\n"; return 1; }
    const long long max_tokens = a.get_int("--max-tokens", 0, 0, 1LL << 40);
    if (max_tokens > 0 && toks->size() > size_t(max_tokens)) toks->resize(size_t(max_tokens));
    if (toks->empty()) { std::cerr << "sigmaops: " << a.get("--file") << " holds no text to score\n"; return 1; }
    auto bos = model->tokenize("", true, false);
    if (!bos || bos->size() != 1) { std::cerr << "sigmaops: the model has no BOS token to start windows with\n"; return 1; }
    auto session = model->new_session(sopt);
    if (!session) { std::cerr << "sigmaops: " << session.error().message << "\n"; return 1; }
    const int n_vocab = int(model->info().n_vocab), window = sopt.n_ctx - 1;
    double nll = 0;
    size_t n_scored = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t start = 0; start < toks->size(); start += size_t(window)) {
        const size_t end = std::min(toks->size(), start + size_t(window));
        std::vector<sigma::TokenId> in{(*bos)[0]};
        in.insert(in.end(), toks->begin() + long(start), toks->begin() + long(end));
        auto logits = (*session)->logits(in);
        if (!logits) { std::cerr << "sigmaops: " << logits.error().message << "\n"; return 1; }
        for (size_t i = 0; i + 1 < in.size(); ++i) {
            const float* row = logits->data() + i * size_t(n_vocab);
            const float mx = *std::max_element(row, row + n_vocab);
            double sum = 0;
            for (int v = 0; v < n_vocab; ++v) sum += std::exp(double(row[v]) - mx);
            nll += std::log(sum) + mx - row[in[i + 1]];
            ++n_scored;
        }
        if (!a.has("--json"))
            std::fprintf(stderr, "\r%zu / %zu tokens, ppl %.4f", n_scored, toks->size(), std::exp(nll / double(n_scored)));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double ppl = std::exp(nll / double(n_scored));
    if (a.has("--json"))
        std::printf("{\"file\":\"%s\",\"tokens\":%zu,\"ctx\":%d,\"selective_v\":%d,\"nll\":%.6f,\"ppl\":%.6f,\"seconds\":%.2f}\n",
                    a.get("--file").c_str(), n_scored, sopt.n_ctx, sopt.selective_v, nll / double(n_scored), ppl, secs);
    else
        std::printf("\nperplexity %.4f over %zu tokens (windows of %d, selective V %s), %.1f s\n", ppl, n_scored, sopt.n_ctx,
                    sopt.selective_v ? std::to_string(sopt.selective_v).c_str() : "off", secs);
    return 0;
}

void print_help_chat() {
    std::cout << "commands: /new (new conversation), /history (recent sessions), /resume ID, /quit\n"
                 "Ctrl-C stops a reply; Ctrl-D or /quit leaves.\n";
}

int cmd_chat(const std::vector<std::string>& argv) {
    Args a("chat", "sigmaops chat [-m FILE] [--history FILE | --no-history]",
           concat(concat(model_flags(), sampling_flags()),
                  {{"--history", "", "FILE", "history database (default: $XDG_DATA_HOME/sigmaops/history.db)"},
                   {"--no-history", "", "", "keep nothing on disk"},
                   {"--system", "", "TEXT", "system prompt"},
                   {"--resume", "", "ID", "continue session ID"}}));
    a.parse(argv);
    if (a.has("--help")) { std::cout << a.help(); print_help_chat(); return 0; }
    if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "'");
    ChatOptions opt;
    opt.sampling = sampling_from(a);
    opt.session = session_from(a);
    if (a.has("--system")) opt.system_prompt = a.get("--system");
    opt.history_db = a.has("--no-history") ? ":none" : a.get("--history");
    const std::string db = opt.history_db.empty() ? AppPaths::resolve().history_db : opt.history_db;
    auto model = load_model(a);
    if (!model) return 1;
    auto svc = ChatService::create(model, opt);
    if (!svc) {
        std::cerr << "sigmaops: " << svc.error().message << "\n";
        if (svc.error().code == sigma::ErrorCode::BadFile)
            std::cerr << "The history file is damaged. Move it aside with:\n  mv '" << db << "' '" << db
                      << ".broken'\nor run with --no-history.\n";
        return 1;
    }
    ChatService& chat = **svc;
    if (a.has("--resume")) {
        if (auto r = chat.resume(a.get_int("--resume", 0, 1, INT64_MAX)); !r) { std::cerr << "sigmaops: " << r.error().message << "\n"; return 1; }
    }
    const sigma::ModelInfo& info = chat.model_info();
    const bool tty = isatty(STDIN_FILENO);
    std::cout << "SigmaOps " << app_version() << " - model " << (info.name.empty() ? info.path : info.name) << " ("
              << info.architecture << ", " << human_bytes(double(info.weight_bytes)) << ", " << sigma::cpu_features() << ")\n";
    if (opt.history_db != ":none") std::cout << "history: " << db << "\n";
    print_help_chat();
    for (const auto& m : chat.conversation())
        if (m.role != "system") std::cout << (m.role == "user" ? "you> " : "sigma> ") << m.content << "\n";
    std::string line;
    for (;;) {
        std::cout << "you> " << std::flush;
        if (!std::getline(std::cin, line)) { std::cout << "\n"; break; }
        if (line.empty()) continue;
        if (!tty) std::cout << line << "\n";
        if (line == "/quit" || line == "/exit") break;
        if (line == "/help") { print_help_chat(); continue; }
        if (line == "/new") { chat.new_conversation(); std::cout << "(new conversation)\n"; continue; }
        if (line == "/history") {
            std::vector<std::string> args{"list"};
            history::run_history_cli(args, std::cout, std::cerr, db);
            continue;
        }
        if (line == "/resume" || line.rfind("/resume ", 0) == 0) {
            const std::string arg = line.size() > 8 ? line.substr(8) : "";
            long long id = 0;
            std::size_t used = 0;
            try { id = std::stoll(arg, &used); } catch (...) { used = 0; }
            if (arg.empty() || used != arg.size() || id < 1) {
                std::cout << "usage: /resume ID, with ID a session number from /history\n";
                continue;
            }
            if (auto r = chat.resume(id); !r) std::cout << "cannot resume: " << r.error().message << "\n";
            else std::cout << "(resumed session " << id << ", " << chat.conversation().size() << " messages)\n";
            continue;
        }
        // A line that is one "/word" and no command (a typo such as "/hsitory"): say so rather
        // than send it to the model. Lines with more ("/var is full", "/etc/fstab") are messages.
        if (line.size() > 1 && line[0] == '/' && line.find_first_of(" \t/", 1) == std::string::npos) {
            std::cout << "unknown command " << line << " (commands: /new, /history, /resume ID, /help, /quit)\n";
            continue;
        }
        std::cout << "sigma> " << std::flush;
        g_cancel = false;
        g_generating = true;
        std::thread watcher([&] {
            while (g_generating) {
                if (g_cancel) chat.cancel();
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        });
        auto reply = chat.send(line, [](std::string_view piece) {
            std::cout << piece << std::flush;
            return true;
        });
        g_generating = false;
        watcher.join();
        if (!reply) { std::cout << "\n[error] " << reply.error().message << "\n"; continue; }
        std::cout << "\n";
        const auto& t = reply->timings;
        std::cout << "  [" << t.n_decoded << " tokens, " << std::fixed << std::setprecision(1) << t.decode_tps() << " tok/s"
                  << (reply->stop == sigma::StopReason::Cancelled ? ", stopped" : "") << "]\n"
                  << std::defaultfloat;
    }
    return 0;
}

int dispatch(const std::vector<std::string>& args) {
    if (args.empty()) return cmd_chat({});
    const std::string& cmd = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "--version" || cmd == "-V") {
        std::cout << "sigmaops " << app_version() << " (engine " << sigma::version() << ", cpu " << sigma::cpu_features()
#ifdef SIGMA_HAVE_CUDA
                  << ", cuda kernels built"
#endif
                  << ")\n";
        return 0;
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") { std::cout << k_top_help; return 0; }
    if (cmd == "chat") return cmd_chat(rest);
    if (cmd == "generate") return cmd_generate(rest);
    if (cmd == "logits") return cmd_logits(rest);
    if (cmd == "model") return cmd_model(rest);
    if (cmd == "bench") return cmd_bench(rest);
    if (cmd == "perplexity") return cmd_perplexity(rest);
    if (cmd == "history") {
        std::string db;
        std::vector<std::string> r2;
        for (size_t i = 0; i < rest.size(); ++i) {
            if (rest[i] == "--db" && i + 1 < rest.size()) db = rest[++i];
            else r2.push_back(rest[i]);
        }
        if (db.empty()) db = AppPaths::resolve().history_db;
        return history::run_history_cli(r2, std::cout, std::cerr, db);
    }
    if (cmd == "hosts") return remote::run_hosts_cli(rest, std::cout, std::cerr);
    if (cmd == "run") return remote::run_exec_cli(rest, std::cout, std::cerr);
    if (!cmd.empty() && cmd[0] == '-') {
        // Options without a command belong to chat (e.g. `sigmaops -m model.gguf`).
        return cmd_chat(args);
    }
    throw UsageError("unknown command '" + cmd + "'");
}

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGINT, on_sigint);
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        return dispatch(args);
    } catch (const UsageError& e) {
        std::string cmd = args.empty() || args[0][0] == '-' ? "" : args[0] + " ";
        std::cerr << "sigmaops: " << e.what() << "\nTry 'sigmaops " << cmd << "--help'.\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "sigmaops: " << e.what() << "\n";
        return 1;
    }
}
