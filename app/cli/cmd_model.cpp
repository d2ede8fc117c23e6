// cmd_model.cpp - the model subcommands: generate, logits, model info, bench, perplexity. All go
// through llm.h; none knows the engine's types.
#include "commands.h"
#include "common.h"

#include <base/text.h>
#include <commands/commands.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

namespace sigmaops::cli {

namespace {

int fail(Io& io, const Error& e) {
    io.err << "sigmaops: " << e.message << "\n";
    return k_exit_failure;
}

int run_generate(const Invocation& c) {
    if (!c.args.has("--prompt")) throw UsageError("--prompt TEXT is required");
    c.args.at_most(0);
    const llm::Sampling sampling = sampling_from(c.args);
    const llm::ContextOptions copt = context_from(c.args);
    auto model = load_model(c.args, c.io);
    if (!model) return k_exit_failure;
    std::string prompt = c.args.get("--prompt");
    if (c.args.has("--chat")) {
        auto p = model->format_chat({{"user", prompt}}, true);
        if (!p) return fail(c.io, p.error());
        prompt = *p;
    }
    auto ctx = model->new_context(copt);
    if (!ctx) return fail(c.io, ctx.error());
    Expected<llm::Completion> res = unexpected(ErrorCode::Cancelled, "not run");
    Interrupt::while_cancellable([&] { (*ctx)->cancel(); }, [&] {
        res = (*ctx)->complete(prompt, sampling, [&](std::string_view piece) {
            c.io.out << piece << std::flush;
            return true;
        });
    });
    c.io.out << "\n";
    if (!res) return fail(c.io, res.error());
    if (c.args.has("--timings")) {
        const llm::Usage& u = res->usage;
        char line[320];
        std::snprintf(line, sizeof line,
                      "prompt: %d tokens (%d reused) in %.1f ms = %.1f tok/s; decode: %d tokens in %.1f ms = %.1f tok/s; stop: %s\n",
                      u.n_prompt, u.n_reused, u.prompt_ms, u.prompt_tps(), u.n_generated, u.decode_ms, u.decode_tps(),
                      llm::stop_reason_text(res->stop));
        c.io.err << line;
    }
    return k_exit_ok;
}

std::vector<llm::Token> parse_token_list(const std::string& s) {
    std::vector<llm::Token> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        size_t used = 0;
        long long v = -1;
        try { v = std::stoll(item, &used); } catch (...) { used = 0; }
        if (used != item.size() || item.empty() || v < 0 || v > INT32_MAX)
            throw UsageError("--tokens expects comma-separated token ids, got '" + item + "'");
        out.push_back(llm::Token(v));
    }
    if (out.empty()) throw UsageError("--tokens is empty");
    return out;
}

int run_logits(const Invocation& c) {
    if (!c.args.has("--tokens") || !c.args.has("--output")) throw UsageError("--tokens and --output are required");
    c.args.at_most(0);
    auto tokens = parse_token_list(c.args.get("--tokens"));
    llm::ContextOptions copt = context_from(c.args);
    if (copt.n_ctx == 0) copt.n_ctx = int(tokens.size());
    auto model = load_model(c.args, c.io);
    if (!model) return k_exit_failure;
    auto ctx = model->new_context(copt);
    if (!ctx) return fail(c.io, ctx.error());
    auto logits = (*ctx)->logits(tokens);
    if (!logits) return fail(c.io, logits.error());
    const std::string out = c.args.get("--output"), tmp = out + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(logits->data()), std::streamsize(logits->size() * sizeof(float)));
        if (!f.good()) {
            c.io.err << "sigmaops: cannot write " << tmp << ": " << std::strerror(errno) << "\n";
            std::remove(tmp.c_str());
            return k_exit_failure;
        }
    }
    if (std::rename(tmp.c_str(), out.c_str()) != 0) {
        c.io.err << "sigmaops: cannot write " << out << ": " << std::strerror(errno) << "\n";
        std::remove(tmp.c_str());
        return k_exit_failure;
    }
    c.io.err << "wrote " << tokens.size() << " x " << model->card().n_vocab << " logits to " << out << "\n";
    return k_exit_ok;
}

int run_info(const Invocation& c) {
    if (c.args.positional().size() != 1) throw UsageError("expected: model info FILE");
    auto m = llm::load_local(c.args.positional()[0]);
    if (!m) return fail(c.io, m.error());
    const llm::ModelCard& card = m->model->card();
    // Values come from the file (name, a template's error): shown on one line, escape sequences
    // and control bytes removed.
    auto row = [&](const std::string& key, const std::string& value) {
        std::string k = key + ":";
        if (k.size() < 16) k.resize(16, ' ');
        else k += " ";
        std::string v = commands::clean_output(value);
        std::replace(v.begin(), v.end(), '\n', ' ');
        std::replace(v.begin(), v.end(), '\t', ' ');
        c.io.out << k << v << "\n";
    };
    row("file", card.path);
    row("name", card.name.empty() ? "-" : card.name);
    row("architecture", card.architecture);
    for (const auto& [key, value] : card.details) row(key, value);
    return k_exit_ok;
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

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

int run_bench(const Invocation& c) {
    c.args.at_most(0);
    const int n_prompt = int(c.args.get_int("--prompt-tokens", 128, 1, 1 << 20));
    const int n_gen = int(c.args.get_int("--n-predict", 64, 1, 1 << 20));
    const int reps = int(c.args.get_int("--reps", 3, 1, 100));
    const bool json = c.args.has("--json");
    llm::ContextOptions copt = context_from(c.args);
    auto model = load_model(c.args, c.io);
    if (!model) return k_exit_failure;
    const llm::ModelCard& card = model->card();
    if (copt.n_ctx == 0) copt.n_ctx = n_prompt + n_gen + 1;
    auto ctx = model->new_context(copt);
    if (!ctx) return fail(c.io, ctx.error());
    const int threads_flag = int(c.args.get_int("--threads", 0, 0, 1024));
    const int n_threads = threads_flag ? threads_flag : int(std::max(1u, std::thread::hardware_concurrency()));
    const bool on_gpu = card.backend == "cuda";
    const llm::EngineInfo engine = llm::engine_info();
    std::string gpu_name;
    if (on_gpu) {
        auto g = llm::gpu_copy_bandwidth();
        if (!g) return fail(c.io, g.error());
        gpu_name = g->device_name;
    }
    std::mt19937 rng(42);
    std::vector<llm::Token> prompt(n_prompt);
    for (auto& t : prompt) t = llm::Token(rng() % card.n_vocab);
    llm::Sampling greedy;
    greedy.temperature = 0;
    greedy.repeat_penalty = 1.0f;
    greedy.max_tokens = n_gen;
    // Other runnable processes preempt decode threads and stall the rest at the next barrier:
    // say so rather than let a low number pass for the machine's speed.
    if (std::ifstream la("/proc/loadavg"); la) {
        double load1 = 0;
        const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        if (la >> load1; load1 > 0.5 * cores) {
            char note[320];
            std::snprintf(note, sizeof note,
                          "sigmaops bench: note: load average %.2f on %u cores; other processes compete with the "
                          "benchmark, so its figures will read low (bench/cpu_decode.sh runs it under SCHED_FIFO)\n",
                          load1, cores);
            c.io.err << note;
        }
    }
    // Warm-up: page the weights in.
    {
        llm::Sampling w = greedy;
        w.max_tokens = 2;
        (void)(*ctx)->complete_tokens({prompt[0]}, w);
    }
    // Bytes read per decoded token: all weights (a tied output counts once) + the KV cache so far.
    // (The CUDA backend keeps K and V in F16: half the CPU's F32 cache bytes.)
    const double avg_pos = n_prompt + n_gen / 2.0;
    const double kv_per_tok = on_gpu ? double(card.kv_bytes_per_token) / 2 : double(card.kv_bytes_per_token);
    const double bytes_per_tok = double(card.weight_bytes) + avg_pos * kv_per_tok;
    std::vector<double> bw, prompt_tps, decode_tps, eff, pct;
    char line[512];
    if (!json) {
        std::snprintf(line, sizeof line, "model:        %s (%s, %s weights)\n", card.path.c_str(), card.architecture.c_str(),
                      human_bytes(double(card.weight_bytes)).c_str());
        c.io.out << line;
        if (on_gpu) c.io.out << "gpu:          " << gpu_name << "\n";
        else c.io.out << "cpu:          " << n_threads << " threads, " << engine.cpu_features << "\n";
        c.io.out << "bytes/token:  " << human_bytes(bytes_per_tok) << " (weights + KV at the average position)\n";
        std::snprintf(line, sizeof line, "%4s %12s %12s %12s %12s %10s\n", "rep", "copy GB/s", "prompt t/s", "decode t/s",
                      "eff. GB/s", "% copy BW");
        c.io.out << line;
    }
    for (int r = 0; r < reps; ++r) {
        // The copy bandwidth is measured right before each run: on a shared VM it drifts. With
        // --device cuda the limit is the GPU's memory, not the CPU's.
        double limit = 0;
        if (on_gpu) {
            auto g = llm::gpu_copy_bandwidth();
            if (!g) return fail(c.io, g.error());
            limit = g->bytes_per_s;
        } else {
            limit = measure_copy_bandwidth(n_threads);
        }
        (*ctx)->reset();
        auto res = (*ctx)->complete_tokens(prompt, greedy);
        if (!res) return fail(c.io, res.error());
        const llm::Usage& u = res->usage;
        bw.push_back(limit);
        prompt_tps.push_back(u.prompt_tps());
        decode_tps.push_back(u.decode_tps());
        eff.push_back(u.decode_tps() * bytes_per_tok);
        pct.push_back(100.0 * eff.back() / limit);
        if (json)
            std::snprintf(line, sizeof line,
                          "{\"rep\":%d,\"copy_gbps\":%.3f,\"prompt_tps\":%.2f,\"decode_tps\":%.2f,\"effective_gbps\":%.3f,"
                          "\"pct_of_copy_bw\":%.1f}\n",
                          r, limit / 1e9, prompt_tps.back(), decode_tps.back(), eff.back() / 1e9, pct.back());
        else
            std::snprintf(line, sizeof line, "%4d %12.2f %12.1f %12.2f %12.2f %9.1f%%\n", r, limit / 1e9, prompt_tps.back(),
                          decode_tps.back(), eff.back() / 1e9, pct.back());
        c.io.out << line;
    }
    if (json) {
        std::snprintf(line, sizeof line,
                      "{\"model\":\"%s\",\"device\":\"%s\",\"threads\":%d,\"isa\":\"%s\",\"n_prompt\":%d,\"n_decode\":%d,"
                      "\"reps\":%d,\"bytes_per_token\":%.0f,\"median_copy_gbps\":%.3f,\"median_prompt_tps\":%.2f,"
                      "\"median_decode_tps\":%.2f,\"median_effective_gbps\":%.3f,\"median_pct_of_copy_bw\":%.1f}\n",
                      card.path.c_str(), on_gpu ? gpu_name.c_str() : "cpu", n_threads, engine.cpu_features.c_str(), n_prompt,
                      n_gen, reps, bytes_per_tok, median_of(bw) / 1e9, median_of(prompt_tps), median_of(decode_tps),
                      median_of(eff) / 1e9, median_of(pct));
    } else {
        std::snprintf(line, sizeof line, " med %12.2f %12.1f %12.2f %12.2f %9.1f%%   (decode %.2f ms/token; copy = %s, read + write)\n",
                      median_of(bw) / 1e9, median_of(prompt_tps), median_of(decode_tps), median_of(eff) / 1e9,
                      median_of(pct), 1000.0 / median_of(decode_tps),
                      on_gpu ? "GPU device-to-device cudaMemcpy of 1 GiB, median of 20"
                             : "STREAM-style memcpy over all threads, best of 5");
    }
    c.io.out << line;
    return k_exit_ok;
}

// Perplexity of a UTF-8 text file: the text is tokenized once (no BOS), cut into windows of
// --ctx - 1 tokens, each evaluated from an empty cache with BOS in front; every token of a
// window is scored (the first one given only BOS). Windows do not overlap, so each token is
// scored once. --selective-v applies selective V at every position (what decode would do).
int run_perplexity(const Invocation& c) {
    if (!c.args.has("--file")) throw UsageError("--file is required");
    c.args.at_most(0);
    llm::ContextOptions copt = context_from(c.args);   // options first: a usage error wins over a missing file
    if (copt.n_ctx == 0) copt.n_ctx = 512;
    if (copt.n_ctx < 2) throw UsageError("--ctx must be at least 2");
    const long long max_tokens = c.args.get_int("--max-tokens", 0, 0, 1LL << 40);
    const bool json = c.args.has("--json");
    const std::string file = c.args.get("--file");
    if (std::error_code ec; std::filesystem::is_directory(file, ec)) {
        c.io.err << "sigmaops: " << file << " is a directory; --file takes a text file\n";
        return k_exit_failure;
    }
    std::ifstream f(file, std::ios::binary);
    if (!f) {
        c.io.err << "sigmaops: cannot read " << file << ": " << std::strerror(errno) << "\n";
        return k_exit_failure;
    }
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto model = load_model(c.args, c.io);
    if (!model) return k_exit_failure;
    auto toks = model->tokenize(text, false, false);
    if (!toks) return fail(c.io, toks.error());
    if (max_tokens > 0 && toks->size() > size_t(max_tokens)) toks->resize(size_t(max_tokens));
    if (toks->empty()) {
        c.io.err << "sigmaops: " << file << " holds no text to score\n";
        return k_exit_failure;
    }
    auto bos = model->bos();
    if (!bos) {
        c.io.err << "sigmaops: the model has no BOS token to start windows with\n";
        return k_exit_failure;
    }
    auto ctx = model->new_context(copt);
    if (!ctx) return fail(c.io, ctx.error());
    const int n_vocab = int(model->card().n_vocab), window = copt.n_ctx - 1;
    double nll = 0;
    size_t n_scored = 0;
    char line[320];
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t start = 0; start < toks->size(); start += size_t(window)) {
        const size_t end = std::min(toks->size(), start + size_t(window));
        std::vector<llm::Token> in{*bos};
        in.insert(in.end(), toks->begin() + long(start), toks->begin() + long(end));
        auto logits = (*ctx)->logits(in);
        if (!logits) return fail(c.io, logits.error());
        for (size_t i = 0; i + 1 < in.size(); ++i) {
            const float* row = logits->data() + i * size_t(n_vocab);
            const float mx = *std::max_element(row, row + n_vocab);
            double sum = 0;
            for (int v = 0; v < n_vocab; ++v) sum += std::exp(double(row[v]) - mx);
            nll += std::log(sum) + mx - row[in[i + 1]];
            ++n_scored;
        }
        if (!json) {
            std::snprintf(line, sizeof line, "\r%zu / %zu tokens, ppl %.4f", n_scored, toks->size(), std::exp(nll / double(n_scored)));
            c.io.err << line << std::flush;
        }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double ppl = std::exp(nll / double(n_scored));
    if (json)
        std::snprintf(line, sizeof line,
                      "{\"file\":\"%s\",\"tokens\":%zu,\"ctx\":%d,\"selective_v\":%d,\"nll\":%.6f,\"ppl\":%.6f,\"seconds\":%.2f}\n",
                      file.c_str(), n_scored, copt.n_ctx, copt.selective_v, nll / double(n_scored), ppl, secs);
    else
        std::snprintf(line, sizeof line, "\nperplexity %.4f over %zu tokens (windows of %d, selective V %s), %.1f s\n", ppl,
                      n_scored, copt.n_ctx, copt.selective_v ? std::to_string(copt.selective_v).c_str() : "off", secs);
    c.io.out << line;
    return k_exit_ok;
}

} // namespace

Command generate_command() {
    Command c;
    c.name = "generate";
    c.summary = "complete a prompt and stream the text";
    c.usage = "-p TEXT [-m FILE] [-n N] [--temp T] [--seed S] [--device auto|cpu|cuda]";
    c.flags = concat({model_flags(), context_flags(), sampling_flags(),
                      {{"--prompt", "-p", "TEXT", "the prompt (required)"},
                       {"--chat", "", "", "wrap the prompt in the model's chat template as a user turn"},
                       {"--timings", "", "", "print prompt/decode speed to stderr at the end"}}});
    c.run = run_generate;
    return c;
}

Command logits_command() {
    Command c;
    c.name = "logits";
    c.summary = "write the logits of every position of a token list (float32)";
    c.usage = "--tokens 1,2,3 -o FILE [-m FILE]";
    c.flags = concat({model_flags(), context_flags(),
                      {{"--tokens", "", "IDS", "comma-separated token ids (required)"},
                       {"--output", "-o", "FILE", "little-endian float32, row-major [n_tokens][n_vocab] (required)", {"--out"}}}});
    c.notes = "--selective-v applies selective V at every position.";
    c.run = run_logits;
    return c;
}

Command model_command() {
    Command c;
    c.name = "model";
    c.summary = "what a model file holds: model info FILE";
    c.subcommands = {{"info", "architecture, shapes, KV bytes per token, tensor types", "FILE", {}, "", run_info, {}}};
    return c;
}

Command bench_command() {
    Command c;
    c.name = "bench";
    c.summary = "prompt and decode speed, effective GB/s vs measured memory bandwidth";
    c.usage = "[-m FILE] [--prompt-tokens N] [-n N] [--reps N] [--json]";
    c.flags = concat({model_flags(), context_flags(),
                      {{"--prompt-tokens", "", "N", "prompt length (default 128)", {"-p"}},
                       {"--n-predict", "-n", "N", "tokens to decode (default 64)"},
                       {"--reps", "", "N", "repetitions; each measures copy bandwidth, then prompt + decode (default 3)"},
                       {"--json", "", "", "print one JSON object per repetition and one for the median"}}});
    c.run = run_bench;
    return c;
}

Command perplexity_command() {
    Command c;
    c.name = "perplexity";
    c.summary = "perplexity of a text file (optionally with selective V)";
    c.usage = "-f PATH [-m FILE] [--ctx N] [--selective-v K] [--json]";
    c.flags = concat({model_flags(), context_flags(),
                      {{"--file", "-f", "PATH", "the UTF-8 text file to score (required)"},
                       {"--max-tokens", "", "N", "score at most N tokens (default: all)"},
                       {"--json", "", "", "print one JSON object"}}});
    c.notes = "--selective-v applies selective V at every position; --ctx sets the window (default 512).";
    c.run = run_perplexity;
    return c;
}

} // namespace sigmaops::cli
