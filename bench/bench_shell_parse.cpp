// bench_shell_parse.cpp - the shell parser against `bash -n` on a corpus of real snippets, and its
// speed on the `shell check` path (parse + classify) (docs/benchmarks.md, "Shell parser").
//
// Usage: bench_shell_parse CORPUS.jsonl [--jobs N] [--show N]
//   CORPUS.jsonl from tools/shell_corpus.py. Prints the agreement per kind of snippet, the
//   disagreements grouped by our message and by bash's, N examples of each (default 5), and the
//   time to check the first 10,000 one-line snippets on one thread.
#include "bash_reference.h"

#include <shell/shell.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

namespace {

std::string first_line(const std::string& s, size_t n = 110) {
    std::string l = s.substr(0, s.find('\n'));
    if (l.size() > n) l = l.substr(0, n) + "...";
    return l;
}

// "unexpected `)': expected ..." -> "unexpected `)'"; bash's "line 3: syntax error near ..." likewise.
std::string gist(std::string m) {
    size_t p = m.find("line ");
    if (p != std::string::npos) { size_t c = m.find(": ", p); if (c != std::string::npos) m = m.substr(c + 2); }
    m = first_line(m, 200);
    size_t colon = m.find(": expected");
    if (colon != std::string::npos) m = m.substr(0, colon);
    size_t at = m.find(" at ");
    if (at != std::string::npos) m = m.substr(0, at);
    return m;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) { std::fprintf(stderr, "usage: bench_shell_parse CORPUS.jsonl [--jobs N] [--show N]\n"); return 2; }
    unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
    int show = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--jobs")) jobs = unsigned(std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--show")) show = std::atoi(argv[i + 1]);
    }
    auto corpus = shell_reference::read_corpus(argv[1]);
    if (!corpus || corpus->empty()) { std::fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    const auto& snippets = *corpus;

    struct Outcome { bool ours_ok, bash_ok; std::string ours_msg, bash_msg; };
    std::vector<Outcome> out(snippets.size());
    std::atomic<size_t> next{0};
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned j = 0; j < jobs; ++j)
        pool.emplace_back([&] {
            for (size_t i; (i = next++) < snippets.size();) {
                auto r = sigmaops::shell::parse(snippets[i].text);
                auto b = shell_reference::bash_n(snippets[i].text);
                out[i] = {r.ok(), b.ok, r.ok() ? "" : r.error->message, b.message};
            }
        });
    for (auto& t : pool) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::map<std::string, std::array<size_t, 3>> per_kind;   // total, agree, bash ok
    std::map<std::string, std::vector<size_t>> we_reject, we_accept;
    size_t n_agree = 0;
    for (size_t i = 0; i < snippets.size(); ++i) {
        auto& k = per_kind[snippets[i].kind()];
        ++k[0];
        if (out[i].bash_ok) ++k[2];
        if (out[i].ours_ok == out[i].bash_ok) { ++k[1]; ++n_agree; continue; }
        if (!out[i].ours_ok) we_reject[gist(out[i].ours_msg)].push_back(i);
        else we_accept[gist(out[i].bash_msg)].push_back(i);
    }
    std::printf("corpus %s: %zu snippets, bash -n and ours agree on %zu (%.2f%%), %.1f s with %u jobs\n", argv[1],
                snippets.size(), n_agree, 100.0 * double(n_agree) / double(snippets.size()), secs, jobs);
    for (auto& [kind, k] : per_kind)
        std::printf("  %-11s %6zu snippets, bash accepts %6zu, agree %6zu (%.2f%%)\n", kind.c_str(), k[0], k[2], k[1],
                    100.0 * double(k[1]) / double(k[0]));
    auto dump = [&](const char* title, const std::map<std::string, std::vector<size_t>>& m) {
        size_t n = 0;
        for (auto& [_, v] : m) n += v.size();
        std::printf("%s: %zu\n", title, n);
        std::vector<std::pair<std::string, std::vector<size_t>>> sorted(m.begin(), m.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second.size() > b.second.size(); });
        for (auto& [msg, v] : sorted) {
            std::printf("  %5zu  %s\n", v.size(), msg.c_str());
            for (int e = 0; e < show && e < int(v.size()); ++e) {
                size_t i = v[size_t(e)];
                std::printf("         %s: %s\n", snippets[i].source.c_str(), first_line(snippets[i].text).c_str());
                std::printf("           ours: %s | bash: %s\n", first_line(out[i].ours_msg, 90).c_str(), first_line(out[i].bash_msg, 90).c_str());
            }
        }
    };
    dump("we reject, bash accepts", we_reject);
    dump("we accept, bash rejects", we_accept);

    // Speed: the `shell check` path (parse + classify) on the first 10,000 one-line snippets.
    std::vector<const std::string*> lines;
    for (const auto& s : snippets)
        if (s.text.find('\n') == std::string::npos && lines.size() < 10000) lines.push_back(&s.text);
    if (!lines.empty()) {
        double best = 1e9;
        for (int rep = 0; rep < 5; ++rep) {
            auto s0 = std::chrono::steady_clock::now();
            size_t n_high = 0;
            for (const std::string* l : lines)
                n_high += sigmaops::shell::classify_source(*l).risk >= sigmaops::shell::Risk::Destructive;
            best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count());
            if (rep == 0) std::printf("speed: %zu one-line commands, %zu destructive or worse\n", lines.size(), n_high);
        }
        std::printf("speed: parse + classify of %zu commands on one thread: %.3f s (best of 5), %.1f us each\n",
                    lines.size(), best, 1e6 * best / double(lines.size()));
    }
    return 0;
}
