// test_shell_risk_corpus.cpp - issue 17's acceptance floors for the risk classifier, on the
// labelled corpus tests/fixtures/shell_risk/corpus.jsonl (commands from tldr, man pages, the
// test suites of public command guards and obfuscators, and issue 17's list, labelled by hand):
// every destructive or irreversible command rated destructive or worse (recall 100%), and fewer
// than 5% of the read-only commands rated above changes-files. The full table is
// bench/bench_shell_risk (docs/benchmarks.md, "Shell risk classifier").
#include <catch2/catch.hpp>

#include "risk_corpus.h"

#include <cstdio>
#include <fstream>
#include <string>

namespace {

std::string show(const shell_risk::Rated& m) {
    // (append, not +: g++ 12 warns falsely on "literal" + std::string)
    std::string s("[");
    s.append(sigmaops::shell::risk_name(m.c->label)).append(" rated ").append(sigmaops::shell::risk_name(m.a.risk));
    s.append("] ").append(m.c->command).append("  (").append(m.c->source).append(")");
    for (const auto& r : m.a.reasons) s.append("\n    ").append(sigmaops::shell::risk_name(r.risk)).append(": ").append(r.why);
    return s;
}

} // namespace

TEST_CASE("the labelled risk corpus meets issue 17's floors", "[shell][classify][corpus]") {
    const std::string path = std::string(SIGMAOPS_FIXTURES).append("/shell_risk/corpus.jsonl");
    shell_risk::Loaded corpus = shell_risk::load(path);
    INFO(corpus.error);
    REQUIRE(corpus.error.empty());

    // The corpus is what the acceptance asks for: >= 500 commands, >= 150 destructive or
    // irreversible, >= 50 obfuscated, and read-only commands to measure over-classification on.
    size_t obfuscated = 0;
    for (const auto& c : corpus.cases) obfuscated += c.obfuscated;
    shell_risk::Evaluation e = shell_risk::evaluate(corpus.cases);
    CHECK(corpus.cases.size() >= 500);
    CHECK(e.all.destructive_labelled() >= 150);
    CHECK(obfuscated >= 50);
    CHECK(e.all.labelled(sigmaops::shell::Risk::ReadOnly) >= 150);

    for (const auto& m : e.misses) UNSCOPED_INFO(show(m));
    // Destructive + irreversible recall: 100%.
    CHECK(e.all.destructive_caught() == e.all.destructive_labelled());
    // Read-only commands rated above changes-files: under 5%.
    const size_t read_only = e.all.labelled(sigmaops::shell::Risk::ReadOnly);
    CHECK(e.all.read_only_over() * 100 < read_only * 5);
}

TEST_CASE("a corpus line that is not a labelled command is an error with its line number", "[shell][classify][corpus]") {
    const std::string path = std::string(SIGMAOPS_BINARY_DIR).append("/risk_corpus_bad.jsonl");
    {
        std::ofstream f(path);
        f << "{\"command\": \"ls\", \"risk\": \"read-only\", \"obfuscated\": false, \"source\": \"x\"}\n";
        f << "{\"command\": \"rm -rf /\", \"risk\": \"unknown\"}\n";
    }
    shell_risk::Loaded bad = shell_risk::load(path);
    CHECK_THAT(bad.error, Catch::Contains(":2: bad label"));
    CHECK(shell_risk::load(std::string(path).append(".missing")).error.find("cannot open") == 0);
    std::remove(path.c_str());
}
