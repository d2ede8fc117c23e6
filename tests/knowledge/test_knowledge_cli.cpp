// test_knowledge_cli.cpp - `sigmaops explain` through the command table, in-process: the JSON
// shape, the risk and reasons from the shell classifier, and exit code 2 with the offset for a
// command that does not parse.
#include <catch2/catch.hpp>

#include <cli/command.h>
#include <knowledge/knowledge.h>
#include <shell/shell.h>

#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

namespace {

struct Run {
    int rc;
    std::string out, err;
};

Run run(const std::vector<std::string>& argv) {
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    Run r;
    r.rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    r.out = out.str();
    r.err = err.str();
    return r;
}

const std::string k_index = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/knowledge/tldr.sqlite";

} // namespace

TEST_CASE("explain --json: words, programs, unknown flags, risk and reasons", "[knowledge][cli]") {
    if (!sigmaops::knowledge::local_docs()("tar")) {
        std::cout << "skipped: no man page for tar here\n";
        return;
    }
    Run r = run({"explain", "--json", "--index", k_index, "tar -xzvf a.tgz -C /opt --frobnicate"});
    REQUIRE(r.rc == 0);
    nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["ok"] == true);
    CHECK(j["command"] == "tar -xzvf a.tgz -C /opt --frobnicate");
    // The risk is the shell classifier's (agents/shell), reasons included: at least changes-files.
    const auto a = sigmaops::shell::classify_source("tar -xzvf a.tgz -C /opt --frobnicate");
    CHECK(a.risk >= sigmaops::shell::Risk::ChangesFiles);
    CHECK(j["risk"] == std::string(sigmaops::shell::risk_name(a.risk)));
    REQUIRE(j["reasons"].size() == a.reasons.size());
    REQUIRE(j["reasons"].size() >= 1);
    CHECK(j["reasons"][0]["word"] == "tar");
    CHECK(j["reasons"][0]["offset"] == 0);
    CHECK_FALSE(j["reasons"][0]["why"].get<std::string>().empty());
    REQUIRE(j["programs"].size() == 1);
    CHECK(j["programs"][0]["program"] == "tar");
    CHECK(j["programs"][0]["documented"] == true);
    CHECK(j["programs"][0]["summary"] == "an archiving utility");
    std::vector<std::string> texts;
    for (const auto& w : j["words"]) {
        texts.push_back(w["text"]);
        for (const char* k : {"offset", "text", "program", "role", "explanation", "source"}) CHECK(w.contains(k));
    }
    CHECK(texts == std::vector<std::string>{"tar", "-x", "-z", "-v", "-f", "a.tgz", "-C", "/opt", "--frobnicate"});
    CHECK(j["words"][1]["role"] == "option");
    CHECK(j["words"][1]["source"] == "man");
    CHECK(j["words"][5]["role"] == "option-value");
    CHECK(j["words"][8]["role"] == "unknown-option");
    REQUIRE(j["unknown_flags"].size() == 1);
    CHECK(j["unknown_flags"][0]["option"] == "--frobnicate");
    CHECK(j["unknown_flags"][0]["offset"] == 24);
    CHECK(j["undocumented"].empty());

    // The text form says the same.
    Run t = run({"explain", "--index", k_index, "tar -xzvf a.tgz -C /opt"});
    REQUIRE(t.rc == 0);
    CHECK(t.out.find("risk: " + std::string(sigmaops::shell::risk_name(a.risk))) != std::string::npos);
    CHECK(t.out.find("-C") != std::string::npos);
    CHECK(t.out.find("an archiving utility") != std::string::npos);
}

TEST_CASE("explain: a command that does not parse is exit code 2 with the offset", "[knowledge][cli]") {
    Run r = run({"explain", "--json", "--index", k_index, "tar -x 'a.tgz"});
    CHECK(r.rc == 2);
    nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["ok"] == false);
    CHECK(j["error"]["offset"] == 7);
    CHECK(r.err.find("offset 7") != std::string::npos);
    Run none = run({"explain"});
    CHECK(none.rc == 2);
    Run missing = run({"explain", "--index", "/nonexistent/tldr.sqlite", "ls"});
    CHECK(missing.rc == 1);
    CHECK(missing.err.find("not found") != std::string::npos);
}

TEST_CASE("explain: an undocumented program and tldr-only explanations", "[knowledge][cli]") {
    Run r = run({"explain", "--json", "--no-man", "--index", k_index, "free -h && sigmaops-nonexistent-tool -x"});
    REQUIRE(r.rc == 0);
    nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["undocumented"] == nlohmann::json::array({"sigmaops-nonexistent-tool"}));
    REQUIRE(j["words"].size() >= 2);
    CHECK(j["words"][1]["text"] == "-h");
    CHECK(j["words"][1]["source"] == "tldr");
    CHECK(j["risk"] == "unknown");   // an unknown program fails closed
}
