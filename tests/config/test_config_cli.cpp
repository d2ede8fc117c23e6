// test_config_cli.cpp - `sigmaops tune postgres --facts ... [--json]` run in-process through the
// command table (issue 18): the JSON's settings, the readable list with sources, usage errors.
#include <cli/command.h>
#include <config/config.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

std::pair<int, std::string> in_process(std::vector<std::string> argv, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    return {rc, out.str() + err.str()};
}

} // namespace

TEST_CASE("tune postgres --json maps each setting to PGTune's value", "[config][cli]") {
    auto [rc, text] = in_process({"tune", "postgres", "--facts", "version=16,type=web,ram=8GB,cpus=4,connections=100,disk=ssd", "--json"});
    INFO(text);
    REQUIRE(rc == 0);
    const auto j = nlohmann::json::parse(text);
    CHECK(j.at("settings").at("shared_buffers") == "2GB");
    CHECK(j.at("settings").at("work_mem") == "20164kB");
    CHECK(j.at("settings").at("max_connections") == "100");
    CHECK(j.at("settings").size() == 19);
    CHECK_THAT(j.at("sources").at("work_mem").get<std::string>(), Catch::Contains("le0pard/pgtune@7caef27"));
    CHECK_THAT(j.at("sources").at("work_mem").get<std::string>(), Catch::Contains("selectWorkMem"));
    CHECK(j.at("facts").at("type") == "web");

    // Connections left out: the type's default; the 10082kB is the mixed workload.
    auto [rc2, text2] = in_process({"tune", "postgres", "--facts", "version=16,type=mixed,ram=8GB,cpus=4,connections=100", "--json"});
    REQUIRE(rc2 == 0);
    CHECK(nlohmann::json::parse(text2).at("settings").at("work_mem") == "10082kB");
    auto [rc3, text3] = in_process({"tune", "postgres", "--facts", "version=13,type=oltp,ram=4096MB", "--json"});
    REQUIRE(rc3 == 0);
    const auto j3 = nlohmann::json::parse(text3);
    CHECK(j3.at("settings").at("max_connections") == "300");
    CHECK(j3.at("settings").at("shared_buffers") == "1GB");
    CHECK(j3.at("facts").at("connections").is_null());
}

TEST_CASE("tune postgres prints a readable list with each setting's source", "[config][cli]") {
    auto [rc, text] = in_process({"tune", "postgres", "--facts", "version=16,type=web,ram=8GB,cpus=4,disk=hdd"});
    INFO(text);
    REQUIRE(rc == 0);
    CHECK_THAT(text, Catch::Contains("max_connections = 200"));
    CHECK_THAT(text, Catch::Contains("random_page_cost = 4 "));
    std::istringstream lines(text);
    int n_settings = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        ++n_settings;
        CHECK_THAT(line, Catch::Contains(" = "));
        CHECK_THAT(line, Catch::Contains("# le0pard/pgtune@7caef27 src/features/configuration/configurationSlice.js select"));
    }
    CHECK(n_settings == 19);
}

TEST_CASE("tune postgres: a bad fact is a usage error naming the key and what it accepts", "[config][cli]") {
    struct Bad {
        std::string facts, key, accepts;
    };
    for (const Bad& b : {Bad{"version=16,type=web,ram=8GB,colour=blue", "colour", "disk=ssd|hdd|san"},
                         Bad{"version=16,type=web,ram=lots", "ram", "MB, GB or TB"},
                         Bad{"version=16,type=web,ram=8GB,cpus=0", "cpus", "from 1 to 999999"},
                         Bad{"version=16,type=foo,ram=8GB", "type", "web, oltp, dw, desktop, mixed"},
                         Bad{"version=16,type=web,ram=8GB,disk=nvme", "disk", "ssd, hdd, san"},
                         Bad{"version=9,type=web,ram=8GB", "version", "from 10 to 18"},
                         Bad{"version=16,type=web,ram=256MB", "ram", "at least 512MB"},
                         Bad{"version=16,type=web,ram=8GB,connections=5", "connections", "from 20"},
                         Bad{"version=16,ram=8GB", "type", "is missing"},
                         Bad{"version=16,type=web,ram", "ram", "KEY=VALUE"}}) {
        auto [rc, text] = in_process({"tune", "postgres", "--facts", b.facts});
        INFO(b.facts << "\n" << text);
        CHECK(rc == sigmaops::cli::k_exit_usage);
        CHECK_THAT(text, Catch::Contains(b.key));
        CHECK_THAT(text, Catch::Contains(b.accepts));
    }
    auto [rc, text] = in_process({"tune", "postgres"});
    CHECK(rc == sigmaops::cli::k_exit_usage);
    CHECK_THAT(text, Catch::Contains("--facts"));
}

TEST_CASE("tune sshd --file shows each hunk with its rule and source, and writes nothing", "[config][cli][sshd]") {
    const std::string dir = std::string(SIGMAOPS_BINARY_DIR) + "/test-tune-sshd";
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/sshd_config";
    const std::string text = "# test\nPort 22\nX11Forwarding yes\nPasswordAuthentication yes\n\x1b[31mBanner none\n";
    { std::ofstream(path, std::ios::binary) << text; }
    auto [rc, out] = in_process({"tune", "sshd", "--file", path, "--login-user", "alice"});
    INFO(out);
    // The escape sequence in the file is shown, not sent: a keyword with ESC in it does not parse.
    CHECK(rc == 1);
    CHECK_THAT(out, Catch::Contains(path + ":5:") || Catch::Contains("^["));
    CHECK(out.find('\x1b') == std::string::npos);

    const std::string good = "# test\nPort 22\nX11Forwarding yes\nPasswordAuthentication yes\n\nMatch User backup\n\tX11Forwarding yes\n";
    { std::ofstream(path, std::ios::binary) << good; }
    auto [rc2, out2] = in_process({"tune", "sshd", "--file", path, "--login-user", "alice"});
    INFO(out2);
    REQUIRE(rc2 == 0);
    CHECK_THAT(out2, Catch::Contains("## sshd.x11-forwarding: X11Forwarding no"));
    CHECK_THAT(out2, Catch::Contains("-X11Forwarding yes\n+X11Forwarding no\n"));
    CHECK_THAT(out2, Catch::Contains("# source: Lynis 3.0.8 SSH-7408"));
    CHECK_THAT(out2, Catch::Contains("+PermitRootLogin no\n"));
    CHECK_THAT(out2, Catch::Contains("-PasswordAuthentication yes\n+PasswordAuthentication no\n"));
    CHECK_THAT(out2, Catch::Contains("nothing was written"));
    std::ifstream in(path, std::ios::binary);
    std::string now((std::istreambuf_iterator<char>(in)), {});
    CHECK(now == good);

    // A password login keeps PasswordAuthentication; --json lists hunks with rule, source and diff.
    auto [rc3, out3] = in_process({"tune", "sshd", "--file", path, "--login-method", "password", "--login-user", "alice", "--json"});
    REQUIRE(rc3 == 0);
    const auto j = nlohmann::json::parse(out3);
    bool x11 = false;
    for (const auto& h : j.at("hunks")) {
        CHECK(h.at("key") != "PasswordAuthentication");
        CHECK(!h.at("source").get<std::string>().empty());
        if (h.at("key") == "X11Forwarding") {
            x11 = true;
            CHECK(h.at("current") == "yes");
            CHECK(h.at("line") == 3);
            CHECK(h.at("rule") == "sshd.x11-forwarding");
            CHECK_THAT(h.at("diff").get<std::string>(), Catch::Contains("+X11Forwarding no"));
        }
    }
    CHECK(x11);
    CHECK_THAT(j.at("diff").get<std::string>(), Catch::Contains("--- a" + path));

    auto [rc4, out4] = in_process({"tune", "sshd"});
    CHECK(rc4 == 2);
    auto [rc5, out5] = in_process({"tune", "sshd", "--file", path, "--login-method", "telepathy"});
    CHECK(rc5 == 2);
    CHECK_THAT(out5, Catch::Contains("--login-method"));
    auto [rc6, out6] = in_process({"tune", "sshd", "--file", dir + "/missing"});
    CHECK(rc6 == 1);
    CHECK_THAT(out6, Catch::Contains("no such file"));
}

TEST_CASE("/tune in the chat: the config agent as `sigmaops tune`, with the chat's history", "[config][cli][chat]") {
    const std::string model = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";
    if (!std::filesystem::exists(model)) {
        std::cout << "skipped: resources/models/sigma-ops-nano.gguf is absent (the chat loads a model)\n";
        return;
    }
    const std::string dir = std::string(SIGMAOPS_BINARY_DIR) + "/test-chat-tune";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string sshd = dir + "/sshd_config";
    const std::string text = "# test\nPort 22\nX11Forwarding yes\n";
    { std::ofstream(sshd, std::ios::binary) << text; }
    // A C1 CSI (U+009B, valid UTF-8) in a comment beside the changed line: --json leaves it in the
    // diff's context, and the chat's screen-safe output removes it as for every other command.
    const std::string hostile = dir + "/sshd_config_c1";
    { std::ofstream(hostile, std::ios::binary) << "# test\nPort 22\n# \xC2\x9B" "2J cleared\nX11Forwarding yes\n"; }
    const std::string db = dir + "/h.db";
    auto [rc, out] = in_process({"chat", "-m", model, "--history", db, "-n", "4"},
                                "/tune\n"
                                "/tune postgres --facts version=16,type=web,ram=8GB,cpus=4,connections=100,disk=ssd --json\n"
                                "/tune sshd --file " + sshd + " --login-user alice\n"
                                "/tune nginx\n"
                                "/tune sshd --file " + hostile + " --login-user alice --json\n"
                                "/quit\n");
    INFO(out);
    CHECK(rc == 0);
    CHECK_THAT(out, Catch::Contains("usage: /tune SERVICE"));
    // The same answers as the commands give outside the chat.
    CHECK_THAT(out, Catch::Contains("\"shared_buffers\": \"2GB\""));
    CHECK_THAT(out, Catch::Contains("\"work_mem\": \"20164kB\""));
    CHECK_THAT(out, Catch::Contains("-X11Forwarding yes\n+X11Forwarding no\n"));
    CHECK_THAT(out, Catch::Contains("nothing was written"));
    CHECK_THAT(out, Catch::Contains("tune nginx needs --host H"));   // as the command says it
    CHECK_THAT(out, !Catch::Contains("unknown command /tune"));
    CHECK_THAT(out, Catch::Contains(" cleared"));   // the comment is shown, without the sequence
    CHECK_THAT(out, !Catch::Contains("\xC2\x9B"));
    std::ifstream in(sshd, std::ios::binary);
    CHECK(std::string((std::istreambuf_iterator<char>(in)), {}) == text);

    // With --no-history, /tune on a host is refused (every change is recorded), before any SSH.
    auto [rc2, out2] = in_process({"chat", "-m", model, "--no-history", "-n", "4"}, "/tune sshd --host nowhere.invalid --apply\n/quit\n");
    INFO(out2);
    CHECK(rc2 == 0);
    CHECK_THAT(out2, Catch::Contains("/tune --host needs the history"));
    CHECK_THAT(out2, !Catch::Contains("connecting to"));
}
