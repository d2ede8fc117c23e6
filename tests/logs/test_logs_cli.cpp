// test_logs_cli.cpp - `sigmaops logs parse` through the command table, in-process.
#include "logs_test_util.h"

#include <catch2/catch.hpp>
#include <cli/command.h>
#include <cli/common.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace {

std::pair<int, std::string> in_process(std::vector<std::string> argv) {
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    return {rc, out.str() + err.str()};
}

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

} // namespace

TEST_CASE("logs parse writes one Loghub-style CSV row per input line", "[logs][cli]") {
    logs_test::TempDir d;
    const std::string log = d.file("app.log",
                                   "2024-03-01 09:12:01,123 ERROR [main] org.example.App: request 17 failed, \"quoted\"\n"
                                   "java.lang.IllegalStateException: pool exhausted\n"
                                   "\tat org.example.Pool.get(Pool.java:42)\n"
                                   "2024-03-01 09:12:02,000 ERROR [main] org.example.App: request 18 failed, \"quoted\"\n"
                                   "2024-03-01 09:12:03,000 INFO  [main] org.example.App: recovered\n");
    const std::string csv = (d.path / "out.csv").string();
    auto [rc, text] = in_process({"logs", "parse", log, "-o", csv});
    INFO(text);
    REQUIRE(rc == 0);
    CHECK(slurp(csv) == "LineId,EventId,EventTemplate\n"
                        "1,E1,\"request <*> failed, \"\"quoted\"\"\"\n"
                        "2,E1,\"request <*> failed, \"\"quoted\"\"\"\n"
                        "3,E1,\"request <*> failed, \"\"quoted\"\"\"\n"
                        "4,E1,\"request <*> failed, \"\"quoted\"\"\"\n"
                        "5,E2,recovered\n");
}

TEST_CASE("logs parse --json summarises, --log-format overrides, errors are clear", "[logs][cli]") {
    logs_test::TempDir d;
    const std::string log = d.file("s.log", "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties\n"
                                            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6\n"
                                            "[Sun Dec 04 04:51:08 2005] [error] mod_jk child workerEnv in error state 7\n");
    auto [rc, text] = in_process({"logs", "parse", log, "--json"});
    REQUIRE(rc == 0);
    CHECK_THAT(text, Catch::StartsWith("{\"format\":\"apache-error\",\"lines\":3,\"records\":3"));
    CHECK_THAT(text, Catch::Contains("{\"id\":\"E2\",\"count\":2,\"template\":\"mod_jk child workerEnv in error state <*>\"}"));
    auto [rc2, text2] = in_process({"logs", "parse", log, "--json", "--log-format", "\\[<Time>\\] \\[<Level>\\] <Content>"});
    CHECK(rc2 == 0);
    CHECK_THAT(text2, Catch::StartsWith("{\"format\":\"custom\""));
    auto [rc3, text3] = in_process({"logs", "parse", log, "--log-format", "<Time>"});
    CHECK(rc3 == 2);
    CHECK_THAT(text3, Catch::Contains("<Content>"));
    auto [rc4, text4] = in_process({"logs", "parse", (d.path / "missing.log").string()});
    CHECK(rc4 == 1);
    CHECK_THAT(text4, Catch::Contains("missing.log"));
    auto [rc5, text5] = in_process({"logs", "parse"});
    CHECK(rc5 == 2);
}

TEST_CASE("logs parse reads a truncated .gz up to the cut and fails loudly", "[logs][cli][hostile]") {
    logs_test::TempDir d;
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "Mar  1 10:00:00 h app[1]: event " + std::to_string(i) + " happened here\n";
    const std::string gz = d.gz("x.log.gz", text);
    REQUIRE(!gz.empty());
    std::filesystem::resize_file(gz, std::filesystem::file_size(gz) / 2);
    auto [rc, out] = in_process({"logs", "parse", gz, "-o", (d.path / "o.csv").string()});
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains("truncated"));
}

TEST_CASE("logs parse --rotated reads the set oldest first", "[logs][cli]") {
    logs_test::TempDir d;
    d.gz("syslog.2.gz", "Mar  1 10:00:00 h a[1]: first\n");
    d.file("syslog.1", "Mar  1 10:00:01 h a[1]: second\n");
    const std::string s = d.file("syslog", "Mar  1 10:00:02 h a[1]: third\n");
    auto [rc, out] = in_process({"logs", "parse", s, "--rotated"});
    REQUIRE(rc == 0);
    CHECK(out == "LineId,EventId,EventTemplate\n1,E1,first\n2,E2,second\n3,E3,third\n");
}

TEST_CASE("the progress line: bytes of a known total, lines and bytes read of an unknown one, never into a stream", "[logs][cli]") {
    using sigmaops::cli::progress_text;
    CHECK(progress_text(64000000, 1000000000, 1500000, 2.0) == "logs: 64.00 MB / 1.00 GB, 1500000 lines, 750000 lines/s");
    // A journal, a host or stdin: the size is unknown, so lines, their rate and the bytes so far.
    CHECK(progress_text(3000000, 0, 30000, 1.5) == "logs: 30000 lines, 20000 lines/s, 3.00 MB read");
    CHECK(progress_text(0, 0, 0, 0) == "logs: 0 lines, 0 lines/s, 0 B read");
    // Not the process's stderr (a test's stream), or --json: no progress line.
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    CHECK_FALSE(sigmaops::cli::progress_wanted(io, false));
    sigmaops::cli::Io real{in, out, std::cerr};
    CHECK_FALSE(sigmaops::cli::progress_wanted(real, true));
    CHECK(sigmaops::cli::progress_wanted(real, false) == (::isatty(2) == 1));
}

TEST_CASE("diagnose on a terminal: progress for stdin of unknown size, none with --json or into a pipe", "[logs][cli]") {
    // script(1) (util-linux) gives sigmaops a pseudo-terminal as stderr; stdin is a pipe that
    // sends 20,000 lines, waits 1.2 s, then 20,000 more (the second batch passes a progress call
    // after more than a second of work).
    const std::string sigmaops = std::string(SIGMAOPS_BINARY_DIR) + "/app/sigmaops";
    if (::access("/usr/bin/script", X_OK) != 0 || ::access(sigmaops.c_str(), X_OK) != 0) {
        std::cout << "skipped: needs /usr/bin/script (util-linux) and the built sigmaops\n";
        return;
    }
    logs_test::TempDir d;
    const std::string gen = d.file("gen.sh",
                                   "#!/bin/sh\n"
                                   "seq 1 20000 | sed 's/^/app01 worker: request served, id /'\n"
                                   "sleep 1.2\n"
                                   "seq 20001 40000 | sed 's/^/app01 worker: request served, id /'\n");
    const std::string inner = d.file("run.sh", "#!/bin/sh\nsh " + gen + " | " + sigmaops +
                                                   " diagnose - --no-model --no-history \"$@\" > " + (d.path / "out").string() + "\n");
    auto on_pty = [&](const std::string& extra) {
        const std::string cmd = "script -qfec 'sh " + inner + " " + extra + "' /dev/null 2>&1";
        std::string seen;
        if (FILE* p = ::popen(cmd.c_str(), "r")) {
            char buf[4096];
            for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) seen.append(buf, n);
            ::pclose(p);
        }
        return seen;
    };
    const std::string tty = on_pty("");
    INFO(tty);
    CHECK_THAT(tty, Catch::Contains("\rlogs: 32768 lines, "));
    CHECK_THAT(tty, Catch::Contains(" lines/s, "));
    CHECK_THAT(tty, Catch::Contains(" read"));
    CHECK_THAT(slurp((d.path / "out").string()), Catch::Contains("40000 records"));
    const std::string json = on_pty("--json");
    INFO(json);
    CHECK_THAT(json, !Catch::Contains("lines/s"));
    CHECK_THAT(slurp((d.path / "out").string()), Catch::StartsWith("{"));
    // stderr a pipe (no terminal): no progress line either.
    std::string piped;
    if (FILE* p = ::popen(("sh " + inner + " 2>&1").c_str(), "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) piped.append(buf, n);
        ::pclose(p);
    }
    CHECK_THAT(piped, !Catch::Contains("lines/s"));
    CHECK_THAT(slurp((d.path / "out").string()), Catch::Contains("40000 records"));
}
