// incidents.h - synthetic incidents for sigmaops-sftgen's "diagnose" task: log text of one or more
// sources (syslog, ISO-dated syslog, journald JSON, nginx error log, PostgreSQL, MySQL) with a
// root cause, its consequences, routine noise and near-miss distractors, drawn from a seeded
// generator. Written for training data, independently of resources/samples and the tests (those
// are the evaluation); the text is checked by running the real pipeline over it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sftgen {

// Deterministic across platforms (no std:: distributions): splitmix64.
struct Rng {
    std::uint64_t s;
    explicit Rng(std::uint64_t seed) : s(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // [0, n)
    std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
    // [lo, hi]
    std::int64_t range(std::int64_t lo, std::int64_t hi) { return lo + std::int64_t(below(std::uint64_t(hi - lo + 1))); }
    bool chance(double p) { return double(next() >> 11) * (1.0 / 9007199254740992.0) < p; }
    template <typename T> const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }
};

struct SourceText {
    std::string name;    // "/var/log/syslog", "/var/log/nginx/error.log", "journal"
    std::string text;    // the lines, '\n'-terminated
};

struct Incident {
    std::string scenario;            // generator id: "oom", "disk-full", ..., "benign"
    std::string family;              // the variant family (which message kinds and chain)
    std::string expected;            // the category the ranking should put first ("" = benign: none above info)
    std::vector<std::string> consequences;   // categories the chain adds after the cause
    std::vector<SourceText> sources;
    std::int64_t now_ms = 0;         // "now" for year-less dates
    // What the text says, per category: facts[category][key] ("proc" -> "mysqld", "pid" -> "4312").
    std::map<std::string, std::map<std::string, std::string>> facts;
};

// The scenario ids, in a fixed order (each has several families).
const std::vector<std::string>& scenario_ids();
// One incident of `scenario` drawn with `rng`.
Incident make_incident(const std::string& scenario, Rng& rng);

// "03:12:07" / "2024-03-01 03:12:07" for a UTC time in ms.
std::string hms(std::int64_t ms);

} // namespace sftgen
