// test_shell_corpus.cpp - the parser against `bash -n` on real snippets, with a floor: a sample of
// tools/shell_corpus.py's corpus (one tldr example in 12, every bash-completion and maintainer
// script on the machine; about 3,000 snippets, a few seconds). The whole corpus is measured by
// bench/bench_shell_parse (docs/benchmarks.md, "Shell parser").
#include <catch2/catch.hpp>

#include "bash_reference.h"

#include <shell/shell.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

TEST_CASE("the parser agrees with bash -n on at least 99% of real snippets", "[shell][corpus]") {
    const std::string tldr = std::string(SIGMAOPS_SHARED_DATA) + "/tldr/pages";
    if (access("/bin/bash", X_OK) != 0) { WARN("skipped: no /bin/bash to compare with"); return; }
    if (!fs::is_directory(tldr)) { WARN("skipped: no tldr pages at " << tldr); return; }
    const fs::path out = fs::temp_directory_path() / ("sigmaops_shell_corpus_" + std::to_string(getpid()) + ".jsonl");
    const std::string cmd = "python3 '" SIGMAOPS_SOURCE_DIR "/tools/shell_corpus.py' --every 12 --shared-data '" SIGMAOPS_SHARED_DATA
                            "' --out '" + out.string() + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) { WARN("skipped: python3 could not build the corpus (" << cmd << ")"); return; }
    auto corpus = shell_reference::read_corpus(out.string());
    fs::remove(out);
    REQUIRE(corpus);
    const auto& snippets = *corpus;
    CHECK(snippets.size() >= 2000);

    std::vector<int> agree(snippets.size(), 0);
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t)
        pool.emplace_back([&] {
            for (size_t i; (i = next++) < snippets.size();) {
                bool ours = sigmaops::shell::parse(snippets[i].text).ok();
                shell_reference::BashVerdict b = shell_reference::bash_n(snippets[i].text);
                agree[i] = !b.ran ? -1 : ours == b.ok ? 1 : 0;
            }
        });
    for (auto& t : pool) t.join();
    size_t n_agree = 0, n_ran = 0;
    for (size_t i = 0; i < snippets.size(); ++i) {
        if (agree[i] < 0) continue;
        ++n_ran;
        if (agree[i]) ++n_agree;
        else UNSCOPED_INFO("disagree: " << snippets[i].source);
    }
    REQUIRE(n_ran == snippets.size());
    const double share = double(n_agree) / double(n_ran);
    INFO(n_agree << " of " << n_ran << " agree");
    CHECK(share >= 0.99);
}
