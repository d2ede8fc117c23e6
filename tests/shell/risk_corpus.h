// risk_corpus.h - the labelled risk corpus (tests/fixtures/shell_risk/corpus.jsonl) and its
// evaluation: every command classified, a confusion table (label x rating) for all commands and
// for the obfuscated ones, destructive+irreversible recall and read-only over-classification.
// Shared by tests/shell/test_shell_risk_corpus.cpp (the acceptance floors of issue 17) and
// bench/bench_shell_risk.cpp (the table of docs/benchmarks.md, "Shell risk classifier").
//
// The corpus: one JSON object a line, {"command", "risk", "obfuscated", "source"}. `risk` is the
// label a person gave the command (what it really does, not what the classifier says): one of
// read-only, changes-files, changes-system, destructive, irreversible. See
// tests/fixtures/shell_risk/README.md for the labelling rules and the sources.
#pragma once

#include <shell/shell.h>

#include <nlohmann/json.hpp>

#include <array>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace shell_risk {

using sigmaops::shell::Risk;

struct Case {
    std::string command, source;
    Risk label = Risk::ReadOnly;
    bool obfuscated = false;
};

inline std::optional<Risk> risk_from_name(const std::string& n) {
    for (Risk r : {Risk::ReadOnly, Risk::ChangesFiles, Risk::ChangesSystem, Risk::Unknown, Risk::Destructive, Risk::Irreversible})
        if (sigmaops::shell::risk_name(r) == n) return r;
    return std::nullopt;
}

// The corpus, or an error message (a bad line names its number).
struct Loaded {
    std::vector<Case> cases;
    std::string error;
};

inline Loaded load(const std::string& path) {
    Loaded out;
    std::ifstream f(path);
    if (!f) { out.error = "cannot open " + path; return out; }
    std::string line;
    for (size_t n = 1; std::getline(f, line); ++n) {
        if (line.empty()) continue;
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("command") || !j.contains("risk") || !j["command"].is_string() ||
            !j["risk"].is_string()) {
            out.error = path + ":" + std::to_string(n) + ": not a {command, risk, obfuscated, source} object";
            return out;
        }
        auto r = risk_from_name(j["risk"].get<std::string>());
        if (!r || *r == Risk::Unknown) { out.error = path + ":" + std::to_string(n) + ": bad label " + j["risk"].dump(); return out; }
        Case c;
        c.command = j["command"].get<std::string>();
        c.label = *r;
        c.obfuscated = j.value("obfuscated", false);
        c.source = j.value("source", std::string());
        out.cases.push_back(std::move(c));
    }
    return out;
}

constexpr size_t k_levels = 6;   // the Risk values, in order

struct Table {
    std::array<std::array<size_t, k_levels>, k_levels> n{};   // n[label][rating]
    size_t total() const {
        size_t t = 0;
        for (auto& row : n) for (size_t x : row) t += x;
        return t;
    }
    size_t labelled(Risk l) const {
        size_t t = 0;
        for (size_t x : n[size_t(l)]) t += x;
        return t;
    }
    // Commands labelled destructive or irreversible that were rated destructive or irreversible.
    size_t destructive_caught() const {
        size_t t = 0;
        for (Risk l : {Risk::Destructive, Risk::Irreversible})
            for (Risk r : {Risk::Destructive, Risk::Irreversible}) t += n[size_t(l)][size_t(r)];
        return t;
    }
    size_t destructive_labelled() const { return labelled(Risk::Destructive) + labelled(Risk::Irreversible); }
    // Read-only commands rated above changes-files (changes-system, unknown, destructive, irreversible).
    size_t read_only_over() const {
        size_t t = 0;
        for (size_t r = size_t(Risk::ChangesSystem); r < k_levels; ++r) t += n[size_t(Risk::ReadOnly)][r];
        return t;
    }
};

struct Rated {
    const Case* c;
    sigmaops::shell::Assessment a;
};

struct Evaluation {
    Table all, obfuscated;
    std::vector<Rated> misses;   // D/I labels rated lower, and read-only labels rated above changes-files
    std::vector<Rated> other;    // every other disagreement between label and rating
};

inline bool is_miss(Risk label, Risk rating) {
    bool di = label == Risk::Destructive || label == Risk::Irreversible;
    if (di) return rating < Risk::Destructive;
    return label == Risk::ReadOnly && rating > Risk::ChangesFiles;
}

inline Evaluation evaluate(const std::vector<Case>& cases) {
    Evaluation e;
    for (const Case& c : cases) {
        sigmaops::shell::Assessment a = sigmaops::shell::classify_source(c.command);
        e.all.n[size_t(c.label)][size_t(a.risk)]++;
        if (c.obfuscated) e.obfuscated.n[size_t(c.label)][size_t(a.risk)]++;
        if (is_miss(c.label, a.risk)) e.misses.push_back({&c, std::move(a)});
        else if (a.risk != c.label) e.other.push_back({&c, std::move(a)});
    }
    return e;
}

} // namespace shell_risk
