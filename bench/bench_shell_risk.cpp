// bench_shell_risk.cpp - the risk classifier against the labelled corpus of issue 17
// (tests/fixtures/shell_risk/corpus.jsonl): the confusion table per class, for all commands and
// for the obfuscated ones, destructive+irreversible recall and read-only over-classification
// (docs/benchmarks.md, "Shell risk classifier"). The floors are tests/shell/test_shell_risk_corpus.cpp.
//
// Usage: bench_shell_risk [CORPUS.jsonl] [--markdown] [--misses] [--all-disagreements]
//   --markdown             the tables as Markdown (for docs/benchmarks.md)
//   --misses               list every miss: a D/I command rated lower, a read-only one rated above
//                          changes-files, with the classifier's reasons
//   --all-disagreements    also every other command whose rating differs from its label
#include "risk_corpus.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace {

using sigmaops::shell::Risk;
using sigmaops::shell::risk_name;

const Risk k_order[] = {Risk::ReadOnly, Risk::ChangesFiles, Risk::ChangesSystem, Risk::Unknown, Risk::Destructive, Risk::Irreversible};

std::string pct(size_t a, size_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", b ? 100.0 * double(a) / double(b) : 0.0);
    return buf;
}

void table(const char* title, const shell_risk::Table& t, bool md) {
    std::printf("%s%s (%zu commands)%s\n", md ? "**" : "", title, t.total(), md ? "**\n" : "");
    if (md) {
        std::printf("| label \\ rated |");
        for (Risk r : k_order) std::printf(" %s |", std::string(risk_name(r)).c_str());
        std::printf(" total |\n|---|");
        for (size_t i = 0; i < 7; ++i) std::printf("---:|");
        std::printf("\n");
    } else {
        std::printf("%-16s", "label \\ rated");
        for (Risk r : k_order) std::printf("%15s", std::string(risk_name(r)).c_str());
        std::printf("%8s\n", "total");
    }
    for (Risk l : k_order) {
        if (l == Risk::Unknown) continue;   // no command is labelled unknown
        if (md) std::printf("| %s |", std::string(risk_name(l)).c_str());
        else std::printf("%-16s", std::string(risk_name(l)).c_str());
        for (Risk r : k_order) {
            size_t n = t.n[size_t(l)][size_t(r)];
            if (md) std::printf(l == r ? " **%zu** |" : " %zu |", n);
            else std::printf("%15zu", n);
        }
        if (md) std::printf(" %zu |\n", t.labelled(l));
        else std::printf("%8zu\n", t.labelled(l));
    }
    size_t ro = t.labelled(Risk::ReadOnly);
    std::printf("%sdestructive+irreversible recall: %zu/%zu = %s; read-only rated above changes-files: %zu/%zu = %s\n\n",
                md ? "\n" : "", t.destructive_caught(), t.destructive_labelled(), pct(t.destructive_caught(), t.destructive_labelled()).c_str(),
                t.read_only_over(), ro, pct(t.read_only_over(), ro).c_str());
}

void list(const char* title, const std::vector<shell_risk::Rated>& v) {
    std::printf("%s: %zu\n", title, v.size());
    for (const auto& m : v) {
        std::string cmd = m.c->command;
        for (char& ch : cmd) if (ch == '\n') ch = ' ';
        std::printf("  [%s -> %s] %s\n", std::string(risk_name(m.c->label)).c_str(), std::string(risk_name(m.a.risk)).c_str(), cmd.c_str());
        for (const auto& r : m.a.reasons) std::printf("      %s: %s\n", std::string(risk_name(r.risk)).c_str(), r.why.c_str());
    }
}

} // namespace

int main(int argc, char** argv) {
    std::string path = SIGMAOPS_SOURCE_DIR "/tests/fixtures/shell_risk/corpus.jsonl";
    bool md = false, misses = false, all = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--markdown")) md = true;
        else if (!std::strcmp(argv[i], "--misses")) misses = true;
        else if (!std::strcmp(argv[i], "--all-disagreements")) misses = all = true;
        else if (argv[i][0] == '-') { std::fprintf(stderr, "usage: bench_shell_risk [CORPUS.jsonl] [--markdown] [--misses] [--all-disagreements]\n"); return 2; }
        else path = argv[i];
    }
    shell_risk::Loaded corpus = shell_risk::load(path);
    if (!corpus.error.empty()) { std::fprintf(stderr, "%s\n", corpus.error.c_str()); return 1; }
    shell_risk::Evaluation e = shell_risk::evaluate(corpus.cases);
    table("All commands", e.all, md);
    table("Obfuscated commands", e.obfuscated, md);
    if (misses) list("misses", e.misses);
    if (all) list("other disagreements", e.other);
    return 0;
}
