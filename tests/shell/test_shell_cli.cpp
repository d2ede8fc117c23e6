// test_shell_cli.cpp - `sigmaops shell check [--jsonl]` through the command table, in-process:
// one JSON object per input with ok, error {offset, message}, risk, reasons, programs.
#include <catch2/catch.hpp>

#include <cli/command.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace {

struct Run {
    int rc;
    std::vector<nlohmann::json> lines;
    std::string err;
};

Run check(const std::vector<std::string>& argv, const std::string& input) {
    std::istringstream in(input);
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    Run r;
    r.rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    std::istringstream lines(out.str());
    for (std::string l; std::getline(lines, l);) r.lines.push_back(nlohmann::json::parse(l));
    r.err = err.str();
    return r;
}

} // namespace

TEST_CASE("shell check: one JSON object per line", "[shell][cli]") {
    Run r = check({"shell", "check"}, "ls -la\nsudo rm -rf /\necho 'oops\n\nfrobnicate\n");
    REQUIRE(r.rc == 0);
    REQUIRE(r.lines.size() == 5);
    CHECK(r.lines[0]["ok"] == true);
    CHECK(r.lines[0]["risk"] == "read-only");
    CHECK(r.lines[0]["programs"] == nlohmann::json::array({"ls"}));
    CHECK(r.lines[1]["risk"] == "irreversible");
    REQUIRE(r.lines[1]["reasons"].size() == 1);
    CHECK(r.lines[1]["reasons"][0]["word"] == "rm");
    CHECK(r.lines[1]["reasons"][0]["offset"] == 5);
    CHECK(r.lines[1]["reasons"][0]["risk"] == "irreversible");
    CHECK(r.lines[2]["ok"] == false);
    CHECK(r.lines[2]["error"]["offset"] == 5);
    CHECK(r.lines[2]["risk"] == "unknown");
    CHECK(r.lines[3]["ok"] == true);                       // an empty line is an empty script
    CHECK(r.lines[3]["risk"] == "read-only");
    CHECK(r.lines[4]["risk"] == "unknown");
}

TEST_CASE("shell check --jsonl: a JSON string per line, so scripts span lines", "[shell][cli]") {
    const std::string in = "\"if true; then\\n  rm -rf /var\\nfi\"\n\"cat <<EOF\\n$x\\nEOF\"\n{\"not\":\"a string\"}\n";
    Run r = check({"shell", "check", "--jsonl"}, in);
    REQUIRE(r.rc == 0);
    REQUIRE(r.lines.size() == 3);
    CHECK(r.lines[0]["ok"] == true);
    CHECK(r.lines[0]["risk"] == "irreversible");
    CHECK(r.lines[0]["reasons"][0]["offset"] == 16);
    CHECK(r.lines[1]["ok"] == true);
    CHECK(r.lines[1]["risk"] == "read-only");
    CHECK(r.lines[2]["ok"] == false);
    CHECK(r.lines[2]["input_error"] == true);
}

TEST_CASE("shell check: usage errors and help come from the table", "[shell][cli]") {
    Run extra = check({"shell", "check", "extra"}, "");
    CHECK(extra.rc == 2);
    Run bad = check({"shell", "check", "--nope"}, "");
    CHECK(bad.rc == 2);
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    CHECK(sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), {"shell", "check", "--help"}, io) == 0);
    CHECK_THAT(out.str(), Catch::Contains("--jsonl"));
}
