// `sigmaops chat` with the shipped default model (a real run, no terminal: lines from stdin):
// every shell command in the model's answer is shown after it with its risk, and one naming a
// program this machine lacks is marked. The tiny model's answers are weak (it invents programs
// such as `keep-header`), which is what this checks: such answers do not reach the user unmarked.
// Also /explain in the chat gives `sigmaops explain`'s output.
#include <catch2/catch.hpp>

#include "commands/commands.h"
#include "commands_test_util.h"

#include <fcntl.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <regex>

using namespace commands_test;

namespace {

const std::string k_sigmaops = std::string(SIGMAOPS_BINARY_DIR) + "/app/sigmaops";
const std::string k_model = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";

// Runs `sigmaops ARGS` with `input` on stdin; stdout and stderr together.
std::string run_sigmaops(const TempDir& dir, const std::vector<std::string>& args, const std::string& input) {
    const std::string in_path = dir / "stdin", out_path = dir / "out";
    std::ofstream(in_path) << input;
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        setsid();
        const int in = ::open(in_path.c_str(), O_RDONLY), out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        std::vector<char*> argv{const_cast<char*>(k_sigmaops.c_str())};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(k_sigmaops.c_str(), argv.data());
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    return read_file(out_path);
}

bool on_path(const std::string& program) {
    const std::string cmd = "command -v '" + program + "' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

} // namespace

TEST_CASE("chat: commands in the default model's answers are shown rated, missing programs marked",
          "[commands][chat][model]") {
    if (!exists(k_model)) {
        WARN("skipped: no default model at " << k_model);
        return;
    }
    TempDir dir;
    // Greedy decoding: the answers of the issue's examples; "//" sends them to the chat model
    // (without it they ask for a command and go to the command agent, as the next test shows).
    const std::string out = run_sigmaops(dir, {"chat", "-m", k_model, "--history", dir / "history.db", "--temp", "0"},
                                         "// Find files larger than 1GB under /var\n"
                                         "//Show the last 50 lines of the nginx error log\n/quit\n");
    INFO(out);
    REQUIRE_THAT(out, Catch::Contains("commands in this answer"));
    // Every command shown has its risk right after it; every program the test itself cannot find
    // on PATH (asked of the shell directly) is marked, and none that exists is.
    const std::regex shown(R"(\n  \$ ([^\n]*)\n    risk: ([a-z-]+))");
    int n_shown = 0, n_marked = 0;
    for (std::sregex_iterator it(out.begin(), out.end(), shown), end; it != end; ++it) {
        ++n_shown;
        const std::string cmd = (*it)[1];
        auto p = make_proposal(cmd, "", Origin::Model);
        CHECK(std::string((*it)[2]) == std::string(sigmaops::shell::risk_name(p.risk())));
        const std::string after = out.substr(it->position() + it->length(), 2000);
        const std::string block = after.substr(0, after.find("\n  $ ") == std::string::npos ? after.find("tok/s") : after.find("\n  $ "));
        for (const std::string& prog : p.assessment.programs) {
            if (prog.find_first_of("$`'\" ") != std::string::npos) continue;
            const bool marked = block.find(prog + ": program not found on localhost") != std::string::npos;
            CHECK(marked == !on_path(prog));
            n_marked += marked;
        }
    }
    CHECK(n_shown >= 1);
    // The issue's example answer: an invented program in a pipeline. The model answered it this way
    // when this test was written; whatever it answers now, an invented program is never unmarked.
    if (out.find("keep-header") != std::string::npos)
        CHECK_THAT(out, Catch::Contains("keep-header: program not found on localhost"));
    WARN("commands shown: " << n_shown << ", programs marked missing: " << n_marked);
}

TEST_CASE("chat: a plain message that asks for a command goes through the command agent as /cmd",
          "[commands][chat][model]") {
    if (!exists(k_model)) {
        WARN("skipped: no default model at " << k_model);
        return;
    }
    TempDir dir;
    const std::string out = run_sigmaops(dir, {"chat", "-m", k_model, "--history", dir / "history.db", "--temp", "0"},
                                         "/cmd show the last 50 lines of the nginx error log\n"
                                         "how do I show the last 50 lines of the nginx error log?\n/quit\n");
    INFO(out);
    const std::string routed = "(asks for a command: sent to the command agent as /cmd";
    const std::size_t at = out.find(routed);
    REQUIRE(at != std::string::npos);
    CHECK(out.find(routed, at + 1) == std::string::npos); // only the plain message, not the /cmd line
    // Both show the /cmd proposal (the candidates list when they differ) with its risk; neither
    // runs without a terminal, and the plain one did not reach the chat model.
    const std::string first = out.substr(0, at), second = out.substr(at);
    for (const std::string& part : {first, second}) {
        CHECK_THAT(part, Catch::Contains("sigmaops: proposing"));
        CHECK_THAT(part, Catch::Contains("\ncommand: "));
        CHECK_THAT(part, Catch::Contains("risk:"));
        CHECK_THAT(part, Catch::Contains("not run: declined: no terminal to ask on"));
    }
    CHECK_THAT(out, !Catch::Contains("sigma> "));
}

TEST_CASE("chat: /explain gives the explain command's output", "[commands][chat][model]") {
    if (!exists(k_model)) {
        WARN("skipped: no default model at " << k_model);
        return;
    }
    TempDir dir;
    const std::string chat = run_sigmaops(dir, {"chat", "-m", k_model, "--no-history"},
                                          "/explain tar -xzvf a.tgz -C /opt\n/explain\n/quit\n");
    const std::string direct = run_sigmaops(dir, {"explain", "tar -xzvf a.tgz -C /opt"}, "");
    INFO(chat);
    REQUIRE_FALSE(direct.empty());
    CHECK_THAT(chat, Catch::Contains(direct));
    CHECK_THAT(chat, Catch::Contains("usage: /explain COMMAND"));
}

TEST_CASE("cmd: candidates whose program this machine lacks are marked in --json and ranked below",
          "[commands][cli][context]") {
    TempDir dir;
    const std::string out = run_sigmaops(
        dir, {"cmd", "convert a video to mp4 with ffmpeg", "--no-model", "--candidates", "5", "--json", "--history", dir / "history.db"}, "");
    const std::size_t brace = out.find("{\"");
    REQUIRE(brace != std::string::npos);
    auto j = nlohmann::json::parse(out.substr(brace, out.rfind('}') - brace + 1));
    REQUIRE(j.contains("target"));
    CHECK(j["target"]["host"] == "localhost");
    bool seen_missing = false;
    for (const auto& k : j["candidates"]) {
        std::vector<std::string> expect;
        for (const auto& p : k["proposal"]["programs"])
            if (p.get<std::string>().find_first_of("$`'\" <") == std::string::npos && !on_path(p.get<std::string>()))
                expect.push_back(p.get<std::string>());
        CHECK(k["missing_programs"].get<std::vector<std::string>>() == expect);
        // Ranked: once a candidate with a missing program is seen, no complete one follows.
        if (!expect.empty()) seen_missing = true;
        else CHECK_FALSE(seen_missing);
    }
    // The context was cached in the history file under its own key.
    auto h = sigmaops::history::History::open(dir / "history.db");
    REQUIRE(h);
    CHECK((*h)->host_facts(context_cache_key("")));
}
