// test_tools_sftgen.cpp - sigmaops-sftgen (tools/sftgen) run as a program with --limit: every
// diagnose target cites the report's first finding in the form the log agent's grammar allows, every
// cmd target is a command the shell parser accepts in the command agent's answer form, and the
// output is the same for the same seed. Skips without the default model (diagnose's tokenizer) or
// without python3 + ../shared/data/tldr (the cmd/explain pairs).
#include <catch2/catch.hpp>

#include <commands/commands.h>
#include <logs/logs.h>
#include <shell/shell.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string k_bin = std::string(SIGMAOPS_BINARY_DIR) + "/tools/sigmaops-sftgen";
const std::string k_model = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";

struct TempDir {
    fs::path path;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "sigmaops-sftgen-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
};

std::vector<json> read_jsonl(const fs::path& p) {
    std::vector<json> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

} // namespace

TEST_CASE("sftgen diagnose: every target cites the report's first finding in the agent's answer form", "[tools][sftgen]") {
    if (!fs::exists(k_model)) {
        std::cout << "skipped: no default model at " << k_model << " (its tokenizer fits the prompts)\n";
        return;
    }
    REQUIRE(fs::exists(k_bin));
    TempDir a, b;
    REQUIRE(run(k_bin + " --tasks diagnose --limit 28 --seed 5 --model " + k_model + " --out " + a.path.string() + " 2>/dev/null") == 0);
    const auto recs = read_jsonl(a.path / "sft_agent_diagnose.jsonl");
    REQUIRE(recs.size() >= 40);   // 28 incidents x 2 context sizes, minus any the ranking disagreed on
    const std::regex form(R"(Root cause: \[F1\] [^\n\[]{1,100}\n(Then: \[F[0-9]+\] [^\n\[]{1,100}\n){0,2}(Check next: [^\n]+)?)");
    std::set<std::string> scenarios;
    for (const auto& r : recs) {
        INFO(r.dump());
        REQUIRE(r["task"] == "diagnose");
        REQUIRE(r["messages"].size() == 3);
        const std::string user = r["messages"][1]["content"], answer = r["messages"][2]["content"];
        CHECK(std::regex_match(answer, form));
        std::vector<std::string> ids;
        for (const auto& f : r["findings"]) ids.push_back(f["id"]);
        REQUIRE(!ids.empty());
        CHECK(r["root_finding"] == ids[0]);
        const auto c = sigmaops::logs::check_citations(answer, ids);
        CHECK(c.flag.empty());
        REQUIRE(!c.cited.empty());
        CHECK(c.cited[0] == ids[0]);
        // The prompt's first finding is the one the answer names, with its category.
        CHECK(user.find("F1 [") != std::string::npos);
        CHECK(user.find("] " + r["root_category"].get<std::string>() + ": ") != std::string::npos);
        // The untrusted log text is fenced.
        CHECK(user.find("<<<UNTRUSTED LOG DATA: evidence of F1") != std::string::npos);
        scenarios.insert(r["unit"].get<std::string>().substr(0, r["unit"].get<std::string>().find('/', 18)));
    }
    CHECK(scenarios.size() >= 13);   // every category's generator ran
    // Same seed, same bytes.
    REQUIRE(run(k_bin + " --tasks diagnose --limit 28 --seed 5 --model " + k_model + " --out " + b.path.string() + " 2>/dev/null") == 0);
    CHECK(slurp(a.path / "sft_agent_diagnose.jsonl") == slurp(b.path / "sft_agent_diagnose.jsonl"));
}

TEST_CASE("sftgen cmd and explain: commands parse, answers in the command agent's form", "[tools][sftgen]") {
    const fs::path tldr = fs::path(SIGMAOPS_SHARED_DATA) / "tldr" / "pages";
    if (!fs::exists(tldr) || run("python3 -c 'import sys' 2>/dev/null") != 0) {
        std::cout << "skipped: needs python3 and " << tldr.string() << " for the tldr pairs\n";
        return;
    }
    REQUIRE(fs::exists(k_bin));
    TempDir d;
    const std::string pairs = (d.path / "tldr_pairs.jsonl").string();
    REQUIRE(run("python3 " + std::string(SIGMAOPS_SOURCE_DIR) + "/tools/sftgen/tldr_pairs.py > " + pairs + " 2>/dev/null") == 0);
    REQUIRE(run(k_bin + " --tasks cmd,explain --limit 400 --pairs " + pairs + " --out " + d.path.string() + " 2>/dev/null") == 0);
    const auto cmds = read_jsonl(d.path / "sft_agent_cmd.jsonl");
    const auto exps = read_jsonl(d.path / "sft_agent_explain.jsonl");
    REQUIRE(cmds.size() >= 100);
    REQUIRE(exps.size() >= 50);   // a third of the unknown-risk ones are kept
    for (const auto& r : cmds) {
        INFO(r.dump());
        const std::string command = r["command"], answer = r["messages"].back()["content"];
        CHECK(sigmaops::shell::parse(command).ok());
        CHECK(sigmaops::commands::Proposer::command_of(answer) == command);
        CHECK(answer.rfind("```sh\n" + command + "\n```\n", 0) == 0);
        CHECK(answer.find('\n', command.size() + 11) == std::string::npos);   // one line of explanation
        // The prompt is the one the Proposer builds for this request.
        CHECK(r["messages"][0]["content"] == sigmaops::commands::Proposer::prompt("x", {})[0].content);
        CHECK(r["messages"][1]["content"].get<std::string>().rfind(r["request"].get<std::string>(), 0) == 0);
    }
    for (const auto& r : exps) {
        INFO(r.dump());
        CHECK(sigmaops::shell::parse(r["cmd_raw"].get<std::string>()).ok());
        CHECK(r["messages"].back()["content"].get<std::string>().find("Risk: ") != std::string::npos);
    }
}
