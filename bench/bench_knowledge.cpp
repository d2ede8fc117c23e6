// bench_knowledge.cpp - the tldr retrieval of agents/knowledge: how often the best retrieved
// example runs the right program, and how long a search takes (docs/benchmarks.md, "tldr retrieval").
//
// Usage: bench_knowledge [INDEX] [--stride K]
//   INDEX: a tldr index (default: the one knowledge::find_index() finds, the shipped one).
//   Request -> command pairs come from the index itself: every K-th example (default 1: all),
//   its description as the request, the program its command runs as the answer. Leave-one-out:
//   the example itself is excluded from the search, so it can never retrieve itself; the other
//   examples of its page stay (they are what a request about that program should find).
//   A hit: the retrieved example's command runs the same program (the first simple command's
//   program after wrappers: `sudo apt install` -> apt).
#include <knowledge/knowledge.h>
#include <shell/shell.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace kn = sigmaops::knowledge;

namespace {

// The program the example's command runs first, or its page's name when the command does not parse.
std::string program_of(const kn::Example& e) {
    const std::string cmd = kn::fill_placeholders(e, [](const kn::Placeholder&) { return std::string("X"); });
    sigmaops::shell::ParseResult r = sigmaops::shell::parse(cmd);
    if (r.ok()) {
        const sigmaops::shell::Command* c = &r.script->list;
        while (c->kind != sigmaops::shell::Kind::Simple && !c->body.empty()) c = &c->body[0];
        if (c->kind == sigmaops::shell::Kind::Simple && !c->words.empty())
            for (const sigmaops::shell::Payload& p : sigmaops::shell::payloads(*c))
                if (!p.words.empty())
                    if (auto w = p.words[0].literal()) return sigmaops::shell::program_name(*w);
    }
    return e.page.substr(0, e.page.find('-'));
}

std::vector<std::string> words_of(const std::string& s) {
    std::vector<std::string> out(1);
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c))) out.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else if (!out.back().empty()) out.emplace_back();
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    std::string index;
    size_t stride = 1;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--stride") && i + 1 < argc) stride = std::max(1, std::atoi(argv[++i]));
        else index = argv[i];
    }
    auto k = kn::Knowledge::open(index);
    if (!k) {
        std::fprintf(stderr, "bench_knowledge: %s\n", k.error().message.c_str());
        return 1;
    }
    std::printf("index %s: %zu pages, %zu examples\n", k->path().c_str(), k->n_pages(), k->n_examples());
    // Every example with its program.
    std::unordered_map<std::int64_t, std::string> program;
    std::vector<kn::Example> all;
    for (const std::string& name : k->page_names()) {
        auto page = k->page(name);
        if (!page || !page->has_value()) return 1;
        for (kn::Example& e : (*page)->examples) {
            program[e.id] = program_of(e);
            all.push_back(std::move(e));
        }
    }
    for (const bool boost : {true, false}) {
    size_t n = 0, top1 = 0, top5 = 0, empty = 0, n_named = 0, named1 = 0;
    std::vector<double> ms;
    for (size_t i = 0; i < all.size(); i += stride) {
        const kn::Example& e = all[i];
        kn::SearchOptions o;
        o.n = 5;
        o.exclude = {e.id};
        o.boost_named_program = boost;
        const auto t0 = std::chrono::steady_clock::now();
        auto r = k->search(e.description, o);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (!r) {
            std::fprintf(stderr, "search failed: %s\n", r.error().message.c_str());
            return 1;
        }
        ++n;
        if (r->empty()) { ++empty; continue; }
        const std::string& want = program[e.id];
        if (program[(*r)[0].id] == want) ++top1;
        // Requests that name their own program ("... with tar"): where the boost should help.
        bool names_own = false;
        for (const std::string& w : words_of(e.description)) names_own |= w == want;
        if (names_own) { ++n_named; named1 += program[(*r)[0].id] == want; }
        for (const kn::Example& x : *r)
            if (program[x.id] == want) { ++top5; break; }
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double q) { return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
    double sum = 0;
    for (double x : ms) sum += x;
    std::printf("-- program-name boost %s\n", boost ? "on (default)" : "off");
    std::printf("requests %zu (every %zu-th example, itself excluded)\n", n, stride);
    std::printf("requests naming their own program: %zu, top-1 %.1f%%\n", n_named, n_named ? 100.0 * named1 / n_named : 0.0);
    std::printf("right program: top-1 %.1f%%  top-5 %.1f%%  (no result: %zu)\n", 100.0 * top1 / n, 100.0 * top5 / n, empty);
    std::printf("search latency (n=5): mean %.3f ms  median %.3f ms  p95 %.3f ms  max %.3f ms\n", sum / ms.size(),
                pct(0.5), pct(0.95), ms.back());
    }
    return 0;
}
