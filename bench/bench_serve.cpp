// bench_serve.cpp - load on a running `sigmaops serve` (not a CI test): N concurrent streaming
// clients for S seconds, each sending greedy chat requests from a fixed prompt set. Before the
// load, every prompt is run alone; under load each reply must equal its prompt's reply alone (no
// lost, duplicated or mixed-up tokens). Reports requests, errors, mismatches, p50/p99 time to
// first token, and aggregate completion tokens/s (usage counts from the server).
//   bench_serve --url http://127.0.0.1:8080 [--model ID] [--clients 32] [--seconds 120]
//               [--max-tokens 64] [--key-env NAME]
// Exit status: 0 when there were no errors and no mismatches, 1 otherwise, 2 usage.
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
    std::string url = "http://127.0.0.1:8080";
    std::string model;
    std::string key;
    int clients = 32;
    double seconds = 120;
    int max_tokens = 64;
};

const std::vector<std::string> k_prompts = {
    "How do I list open ports?",
    "What does the df command show?",
    "How do I restart nginx?",
    "Show the last 50 lines of the syslog.",
    "Which process listens on port 22?",
    "How do I check free memory?",
    "Explain what a zombie process is.",
    "How do I find large files under /var?",
};

struct Outcome {
    bool ok = false;
    std::string text;
    int completion_tokens = 0;
    double ttft_s = -1;
    std::string error;
};

httplib::Headers headers(const Config& c) {
    httplib::Headers h;
    if (!c.key.empty()) h.emplace("Authorization", "Bearer " + c.key);
    return h;
}

json body(const Config& c, const std::string& prompt, bool stream) {
    json b = {{"model", c.model},
              {"messages", json::array({json{{"role", "user"}, {"content", prompt}}})},
              {"max_tokens", c.max_tokens},
              {"temperature", 0},
              {"stream", stream}};
    if (stream) b["stream_options"] = {{"include_usage", true}};
    return b;
}

Outcome stream_one(const Config& c, httplib::Client& cli, const std::string& prompt) {
    Outcome o;
    std::string buf;
    bool done = false;
    const auto t0 = Clock::now();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.headers = headers(c);
    req.set_header("Content-Type", "application/json");
    req.body = body(c, prompt, true).dump();
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        buf.append(data, n);
        size_t e;
        while ((e = buf.find("\n\n")) != std::string::npos) {
            std::string ev = buf.substr(0, e);
            buf.erase(0, e + 2);
            if (ev.rfind("data: ", 0) != 0) continue;
            ev.erase(0, 6);
            if (ev == "[DONE]") { done = true; continue; }
            json j = json::parse(ev, nullptr, false);
            if (j.is_discarded()) { o.error = "bad event: " + ev; return false; }
            if (j.contains("error")) { o.error = j["error"].dump(); continue; }
            if (j.contains("usage") && j["usage"].is_object()) o.completion_tokens = j["usage"]["completion_tokens"].get<int>();
            for (const auto& ch : j["choices"]) {
                if (!ch.contains("delta") || !ch["delta"].contains("content")) continue;
                const std::string piece = ch["delta"]["content"].get<std::string>();
                if (!piece.empty() && o.ttft_s < 0) o.ttft_s = std::chrono::duration<double>(Clock::now() - t0).count();
                o.text += piece;
            }
        }
        return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    if (!cli.send(req, res, err)) {
        if (o.error.empty()) o.error = "HTTP error " + httplib::to_string(err);
        return o;
    }
    if (res.status != 200) {
        o.error = "HTTP " + std::to_string(res.status) + " " + res.body;
        return o;
    }
    o.ok = done && o.error.empty();
    if (!done && o.error.empty()) o.error = "the stream ended without [DONE]";
    return o;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
    return v[i];
}

} // namespace

int main(int argc, char** argv) {
    Config c;
    std::string key_env;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) { std::fprintf(stderr, "bench_serve: %s needs a value\n", a.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (a == "--url") c.url = value();
        else if (a == "--model") c.model = value();
        else if (a == "--clients") c.clients = std::atoi(value().c_str());
        else if (a == "--seconds") c.seconds = std::atof(value().c_str());
        else if (a == "--max-tokens") c.max_tokens = std::atoi(value().c_str());
        else if (a == "--key-env") key_env = value();
        else { std::fprintf(stderr, "usage: bench_serve --url URL [--model ID] [--clients N] [--seconds S] [--max-tokens N] [--key-env NAME]\n"); return 2; }
    }
    if (!key_env.empty()) {
        const char* k = std::getenv(key_env.c_str());
        if (!k) { std::fprintf(stderr, "bench_serve: %s is not set\n", key_env.c_str()); return 2; }
        c.key = k;
    }
    if (c.clients < 1 || c.seconds <= 0 || c.max_tokens < 1) { std::fprintf(stderr, "bench_serve: bad numbers\n"); return 2; }
    httplib::Client probe(c.url);
    probe.set_read_timeout(300);
    if (c.model.empty()) {
        auto r = probe.Get("/v1/models", headers(c));
        if (!r || r->status != 200) { std::fprintf(stderr, "bench_serve: GET %s/v1/models failed\n", c.url.c_str()); return 1; }
        c.model = json::parse(r->body)["data"][0]["id"].get<std::string>();
    }
    // Each prompt alone, first: the replies the load must reproduce.
    std::vector<std::string> expect;
    for (const auto& p : k_prompts) {
        Outcome o = stream_one(c, probe, p);
        if (!o.ok) { std::fprintf(stderr, "bench_serve: reference request failed: %s\n", o.error.c_str()); return 1; }
        expect.push_back(o.text);
    }
    std::fprintf(stderr, "bench_serve: %d clients for %.0f s against %s (model %s, max_tokens %d)\n", c.clients, c.seconds,
                 c.url.c_str(), c.model.c_str(), c.max_tokens);
    std::mutex mu;
    std::vector<double> ttft;
    long n_req = 0, n_err = 0, n_mismatch = 0, n_tokens = 0;
    std::string first_error;
    const auto t_start = Clock::now();
    const auto t_end = t_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.seconds));
    std::vector<std::thread> th;
    for (int i = 0; i < c.clients; ++i)
        th.emplace_back([&, i] {
            httplib::Client cli(c.url);
            cli.set_read_timeout(600);
            for (size_t k = size_t(i); Clock::now() < t_end; ++k) {
                const size_t pi = k % k_prompts.size();
                Outcome o = stream_one(c, cli, k_prompts[pi]);
                std::lock_guard<std::mutex> lock(mu);
                ++n_req;
                if (!o.ok) {
                    ++n_err;
                    if (first_error.empty()) first_error = o.error;
                    continue;
                }
                if (o.text != expect[pi]) ++n_mismatch;
                n_tokens += o.completion_tokens;
                if (o.ttft_s >= 0) ttft.push_back(o.ttft_s);
            }
        });
    for (auto& t : th) t.join();
    const double wall = std::chrono::duration<double>(Clock::now() - t_start).count();
    std::printf("clients %d, %.1f s: %ld requests, %ld errors, %ld mismatches, %ld completion tokens\n", c.clients, wall, n_req,
                n_err, n_mismatch, n_tokens);
    std::printf("time to first token: p50 %.3f s, p99 %.3f s; aggregate %.1f tokens/s\n", percentile(ttft, 0.5),
                percentile(ttft, 0.99), double(n_tokens) / wall);
    if (!first_error.empty()) std::printf("first error: %s\n", first_error.c_str());
    return n_err == 0 && n_mismatch == 0 ? 0 : 1;
}
