// test_logs_sources.cpp - `sigmaops diagnose` with journal and host sources, in-process through
// the command table: --journal-file on a real journal file (systemd-journal-remote), --journal on
// a machine without one, --host H --journal-file / --file over the real sshd (hosts.conf and
// known_hosts in a temp HOME), the same findings as the plain file; flag misuse is a usage error.
#include "journal_test_util.h"
#include "sshd_fixture.h"

#include <catch2/catch.hpp>
#include <cli/command.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace logs = sigmaops::logs;

namespace {

std::pair<int, std::string> in_process(std::vector<std::string> argv, std::string* err_out = nullptr) {
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    if (err_out) *err_out = err.str();
    return {rc, out.str() + err.str()};
}

// The findings of a --json report: category, count, first and last seen.
std::vector<std::string> findings_of(const std::string& json_text) {
    const auto j = nlohmann::json::parse(json_text.substr(0, json_text.find('\n')));
    std::vector<std::string> out;
    for (const auto& f : j.at("findings"))
        out.push_back(f.at("category").get<std::string>() + " x" + std::to_string(f.at("count").get<std::uint64_t>()) + " " +
                      f.at("first_seen").dump() + ".." + f.at("last_seen").dump());
    return out;
}

// The year the CLI gives a year-less syslog date in early March (the most recent past one).
int syslog_year() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    return tm.tm_mon >= 2 ? tm.tm_year + 1900 : tm.tm_year + 1900 - 1;
}

#define JOURNAL_TOOLS_OR_SKIP()                                          \
    do {                                                                 \
        const std::string why_ = logs_test::journal_tools_missing();    \
        if (!why_.empty()) {                                             \
            WARN("skipped: " + why_);                                    \
            std::printf("skipped: %s\n", why_.c_str());                  \
            return;                                                      \
        }                                                                \
    } while (0)

// HOME and XDG_CONFIG_HOME in a temp dir (no SSH_AUTH_SOCK) while it lives.
struct TempHome {
    logs_test::TempDir dir;
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    TempHome() {
        std::filesystem::create_directories(dir.path / "home/.ssh");
        std::filesystem::create_directories(dir.path / "xdg/sigmaops");
        set("HOME", (dir.path / "home").string());
        set("XDG_CONFIG_HOME", (dir.path / "xdg").string());
        set("SSH_AUTH_SOCK", std::nullopt);
    }
    ~TempHome() {
        for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
            if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
            else ::unsetenv(it->first.c_str());
        }
    }
    void set(const std::string& k, const std::optional<std::string>& v) {
        const char* old = std::getenv(k.c_str());
        saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
        if (v) ::setenv(k.c_str(), v->c_str(), 1);
        else ::unsetenv(k.c_str());
    }
};

} // namespace

TEST_CASE("diagnose --journal-file: the same findings as the plain file, and --journal without a journal says so",
          "[logs][cli][journal]") {
    JOURNAL_TOOLS_OR_SKIP();
    logs_test::TempDir dir;
    const std::string text = logs_test::sample_text("oom-java.log") + logs_test::sample_text("ssh-brute-force.log");
    const std::string plain = dir.file("syslog", text);
    std::string why;
    const std::string journal =
        logs_test::make_journal(dir, "system", logs_test::export_text(logs_test::syslog_to_journal(text, syslog_year())), &why);
    INFO(why);
    REQUIRE(!journal.empty());

    auto [rc_plain, out_plain] = in_process({"diagnose", plain, "--json", "--no-history"});
    REQUIRE(rc_plain == 0);
    const auto want = findings_of(out_plain);
    REQUIRE(want.size() >= 2);
    auto [rc, out] = in_process({"diagnose", "--journal-file", journal, "--json", "--no-history"});
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(findings_of(out) == want);
    CHECK_THAT(out, Catch::Contains("\"format\":\"journald-json\""));
    CHECK_THAT(out, Catch::Contains("\"name\":\"journal:" + journal + "\""));

    auto [rc_u, out_u] = in_process({"diagnose", "--journal-file", journal, "--unit", "ssh.service", "--priority", "info", "--json",
                                     "--no-history"});
    REQUIRE(rc_u == 0);
    const auto ssh_only = findings_of(out_u);
    REQUIRE(ssh_only.size() == 1);
    CHECK_THAT(ssh_only[0], Catch::StartsWith("ssh-brute-force x"));

    // A file and a journal together: two sources, one report.
    auto [rc2, out2] = in_process({"diagnose", plain, "--journal-file", journal, "--no-history"});
    CHECK(rc2 == 0);
    CHECK_THAT(out2, Catch::Contains("journal:" + journal + ": "));
    CHECK_THAT(out2, Catch::Contains("format journald-json"));

    bool has_system_journal = false;
    for (const char* d : {"/var/log/journal", "/run/log/journal"}) {
        std::error_code ec;
        for (std::filesystem::recursive_directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
            has_system_journal = has_system_journal || it->path().extension() == ".journal";
    }
    if (!has_system_journal) {
        auto [rc3, out3] = in_process({"diagnose", "--journal", "--unit", "nginx.service", "--no-history"});
        CHECK(rc3 == 1);
        CHECK_THAT(out3, Catch::Contains("this machine has no system journal"));
    }
}

TEST_CASE("diagnose: journal and host flags that do not fit together are usage errors", "[logs][cli]") {
    auto [rc1, t1] = in_process({"diagnose", "--file", "/var/log/syslog"});
    CHECK(rc1 == 2);
    CHECK_THAT(t1, Catch::Contains("--file names a file on a host"));
    auto [rc2, t2] = in_process({"diagnose", "x.log", "--unit", "nginx.service"});
    CHECK(rc2 == 2);
    CHECK_THAT(t2, Catch::Contains("--unit filters a journal"));
    auto [rc3, t3] = in_process({"diagnose", "--host", "h", "--file", "/x", "--journal-file", "/y"});
    CHECK(rc3 == 2);
    auto [rc4, t4] = in_process({"diagnose", "--journal-file", "/a", "--journal-dir", "/b"});
    CHECK(rc4 == 2);
    auto [rc5, t5] = in_process({"diagnose"});
    CHECK(rc5 == 2);
    CHECK_THAT(t5, Catch::Contains("--journal"));
}

TEST_CASE("diagnose --host: a host's journal file and log file over SSH, the same findings", "[logs][cli][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    JOURNAL_TOOLS_OR_SKIP();
    TempHome home;
    sshd_test::SshdFixture f(false);
    sshd_test::write_text((home.dir.path / "xdg/sigmaops/hosts.conf").string(),
                          "Host loghost\n  HostName 127.0.0.1\n  Port " + std::to_string(f.port) + "\n  User root\n  IdentityFile " +
                              f.key + "\n");
    sshd_test::write_text((home.dir.path / "home/.ssh/known_hosts").string(),
                          "[127.0.0.1]:" + std::to_string(f.port) + " " + f.host_pub + "\n");
    logs_test::TempDir dir;
    const std::string text = logs_test::sample_text("oom-java.log") + logs_test::sample_text("ssh-brute-force.log");
    const std::string plain = dir.file("syslog", text);
    const std::string journal =
        logs_test::make_journal(dir, "remote", logs_test::export_text(logs_test::syslog_to_journal(text, syslog_year())));
    REQUIRE(!journal.empty());
    auto [rc_plain, out_plain] = in_process({"diagnose", plain, "--json", "--no-history"});
    REQUIRE(rc_plain == 0);
    const auto want = findings_of(out_plain);

    auto [rc_j, out_j] = in_process({"diagnose", "--host", "loghost", "--journal-file", journal, "--json", "--no-history"});
    INFO(out_j);
    REQUIRE(rc_j == 0);
    CHECK(findings_of(out_j) == want);
    CHECK_THAT(out_j, Catch::Contains("\"name\":\"loghost:" + journal + "\""));

    auto [rc_f, out_f] = in_process({"diagnose", "--host", "loghost", "--file", plain, "--json", "--no-history"});
    INFO(out_f);
    REQUIRE(rc_f == 0);
    CHECK(findings_of(out_f) == want);

    auto [rc_m, out_m] = in_process({"diagnose", "--host", "loghost", "--file", "/nonexistent/app.log", "--no-history"});
    CHECK(rc_m == 1);
    CHECK_THAT(out_m, Catch::Contains("loghost:/nonexistent/app.log: not read: loghost: no such file: /nonexistent/app.log"));

    // A host whose key is not known: refused without a terminal to ask, nothing read.
    sshd_test::write_text((home.dir.path / "home/.ssh/known_hosts").string(), "");
    auto [rc_k, out_k] = in_process({"diagnose", "--host", "loghost", "--file", plain, "--no-history"});
    CHECK(rc_k == 1);
    CHECK_THAT(out_k, Catch::Contains("cannot connect to loghost"));
}
