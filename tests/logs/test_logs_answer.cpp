// test_logs_answer.cpp - the model's answer is held to a grammar made of the report's own finding
// ids and next commands (logs::answer_grammar); and the acceptance item of issue 16: with the
// default model (resources/models/sigma-ops-nano.gguf, greedy; skipped without it), on every
// incident sample the answer cites a finding, and names the finding of the sample's expected
// category as the root cause on at least the measured number of samples.
#include "logs_test_util.h"

#include <catch2/catch.hpp>
#include <llm/llm.h>

#include <filesystem>
#include <iostream>

namespace logs = sigmaops::logs;
namespace llm = sigmaops::llm;

namespace {

std::shared_ptr<llm::Model> nano() {
    static std::shared_ptr<llm::Model> m = [] {
        const std::string path = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";
        if (!std::filesystem::exists(path)) return std::shared_ptr<llm::Model>();
        auto l = llm::load_local(path);
        return l ? l->model : std::shared_ptr<llm::Model>();
    }();
    return m;
}

std::string samples_dir() { return std::string(SIGMAOPS_SOURCE_DIR) + "/resources/samples/"; }

logs::Report diagnose_sample(const std::string& file) {
    std::vector<logs::Source> s;
    s.push_back(logs::open_source(samples_dir() + file));
    auto r = logs::diagnose(std::move(s));
    REQUIRE(r);
    return std::move(*r);
}

} // namespace

TEST_CASE("answer grammar: the report's ids and the root cause's own next commands, nothing else", "[logs][explain][grammar]") {
    logs::Report r = diagnose_sample("segfault-php.log");
    REQUIRE(r.findings.size() >= 2);
    std::vector<std::string> ids;
    for (const auto& f : r.findings) ids.push_back(f.id);
    auto g = logs::answer_grammar(r, ids);
    REQUIRE(g);
    INFO(*g);
    for (const auto& f : r.findings) {
        CHECK_THAT(*g, Catch::Contains("\"" + f.id + "\""));
        for (const auto& cmd : f.next_commands) {
            std::string lit;
            for (char c : cmd) {
                if (c == '"' || c == '\\') lit += '\\';
                lit += c;
            }
            CHECK_THAT(*g, Catch::Contains("\"" + lit + "\""));
        }
    }
    // Only the offered ids: F1 alone leaves the others out.
    auto g1 = logs::answer_grammar(r, {"F1"});
    REQUIRE(g1);
    CHECK_THAT(*g1, !Catch::Contains("\"F2\""));
    // No id of the report: nothing to cite.
    auto none = logs::answer_grammar(r, {"F99"});
    REQUIRE_FALSE(none);
    CHECK(none.error().code == sigmaops::ErrorCode::InvalidArgument);
}

TEST_CASE("default model on the incident samples: the answer cites the finding of the expected category",
          "[logs][explain][samples][model]") {
    auto model = nano();
    if (!model) {
        std::cout << "skipped: resources/models/sigma-ops-nano.gguf is absent\n";
        return;
    }
    // The incident samples and their expected categories (as test_logs_signatures.cpp checks the
    // ranking); the benign samples have no finding to cite and are left out.
    const std::pair<const char*, const char*> expected[] = {
        {"oom-java.log", "oom-killer"},
        {"disk-full-postgres.log", "disk-full"},
        {"segfault-php.log", "segfault-core-dump"},
        {"unit-failure-config.log", "systemd-unit-failure"},
        {"ssh-brute-force.log", "ssh-brute-force"},
        {"tls-expired.log", "tls-certificate"},
        {"hung-task-io.log", "kernel-hung-task-soft-lockup"},
        {"dns-failure.log", "network-connection-dns"},
        {"nginx-config.log", "webserver-config-error"},
    };
    int right = 0, total = 0;
    for (const auto& [file, category] : expected) {
        logs::Report r = diagnose_sample(file);
        REQUIRE_FALSE(r.findings.empty());
        const auto want = std::find_if(r.findings.begin(), r.findings.end(), [&](const logs::Finding& f) { return f.category == category; });
        REQUIRE(want != r.findings.end());
        REQUIRE(logs::explain(r, *model));
        REQUIRE(r.model);
        const logs::ModelAnswer& a = *r.model;
        INFO(file << " (expected " << want->id << " " << category << "):\n" << a.text);
        const auto named = std::find_if(r.findings.begin(), r.findings.end(), [&](const logs::Finding& f) { return f.id == a.root_cause; });
        std::cout << "--- " << file << " (expected " << want->id << " " << category << "), the model names " << a.root_cause << " "
                  << (named != r.findings.end() ? named->category : std::string("?")) << "\n" << a.text << "\n";
        // Structural, whatever the model: the answer opens with a root cause among the report's
        // ids, cites only known findings, and any "Check next" command is one of that finding's.
        CHECK_THAT(a.text, Catch::StartsWith("Root cause: [F"));
        CHECK(a.flag.empty());
        CHECK_FALSE(a.cited.empty());
        CHECK(a.unknown.empty());
        REQUIRE_FALSE(a.root_cause.empty());
        CHECK(a.cited[0] == a.root_cause);
        const auto chosen = std::find_if(r.findings.begin(), r.findings.end(), [&](const logs::Finding& f) { return f.id == a.root_cause; });
        REQUIRE(chosen != r.findings.end());
        if (const auto at = a.text.find("\nCheck next: "); at != std::string::npos) {
            const std::string cmd = a.text.substr(at + 13);
            CHECK(std::find(chosen->next_commands.begin(), chosen->next_commands.end(), cmd) != chosen->next_commands.end());
        }
        // The disagreement is said exactly when the model's root cause is not the ranking's F1.
        CHECK(a.disagreement.empty() == (a.root_cause == r.findings[0].id));
        if (!a.disagreement.empty()) CHECK_THAT(logs::report_text(r), Catch::Contains("the model disagrees with the ranking: it names " + a.root_cause));
        ++total;
        if (a.root_cause == want->id) ++right;
    }
    std::cout << "the default model named the expected finding as the root cause on " << right << "/" << total << " incident samples\n";
    // A floor measured with sigma-ops-nano (greedy) on 2026-12-07; see docs/benchmarks.md (logs).
    // A better model (issue 21) should raise it; it must not fall.
    CHECK(total == 9);
    CHECK(right >= 7);   // measured: 7/9 (oom-java picks F3, hung-task-io picks F2)
}
