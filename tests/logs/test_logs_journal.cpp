// test_logs_journal.cpp - the local journal as a source (logs::open_journal), on REAL journal
// files: incident samples turned into the Journal Export Format and converted by
// systemd-journal-remote, then read back by journalctl --file through the new source. The same
// lines from a plain file must give the same findings; unit and priority filters must select
// what journalctl selects; errors are clear. Skipped when the journal tools are missing.
#include "journal_test_util.h"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>

namespace logs = sigmaops::logs;
using logs_test::JournalEntry;

namespace {

#define JOURNAL_TOOLS_OR_SKIP()                                          \
    do {                                                                 \
        const std::string why_ = logs_test::journal_tools_missing();    \
        if (!why_.empty()) {                                             \
            WARN("skipped: " + why_);                                    \
            std::printf("skipped: %s\n", why_.c_str());                  \
            return;                                                      \
        }                                                                \
    } while (0)

logs_test::PipelineResult from_plain(const std::string& text) {
    auto reader = logs::LineReader::from_bytes(text, "plain");
    return logs_test::run_pipeline(reader);
}

logs_test::PipelineResult from_journal(const logs::JournalQuery& q) {
    auto reader = logs::open_journal(q);
    INFO((reader ? "" : reader.error().message));
    REQUIRE(reader);
    return logs_test::run_pipeline(*reader);
}

// journalctl processes whose parent is this test process (none may be left behind).
int journalctl_children() {
    int n = 0;
    DIR* d = ::opendir("/proc");
    if (!d) return 0;
    const std::string me = std::to_string(::getpid());
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
        std::string stat((std::istreambuf_iterator<char>(f)), {});
        const auto close = stat.rfind(')');
        if (close == std::string::npos || stat.find("(journalctl)") == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        std::string state, ppid;
        rest >> state >> ppid;
        if (ppid == me) ++n;
    }
    ::closedir(d);
    return n;
}

} // namespace

TEST_CASE("journal: journalctl's argv and shell quoting", "[logs][journal]") {
    logs::JournalQuery q;
    CHECK(logs::journalctl_argv(q) == std::vector<std::string>{"journalctl", "--output=json", "--no-pager", "--all"});
    q.file = "/x/system.journal";
    q.units = {"nginx.service", "-evil"};
    q.since = "2024-03-03 02:00";
    q.priority = "err";
    CHECK(logs::journalctl_argv(q) == std::vector<std::string>{"journalctl", "--output=json", "--no-pager", "--all",
                                                                "--file=/x/system.journal", "--unit=nginx.service", "--unit=-evil",
                                                                "--since=2024-03-03 02:00", "--priority=err"});
    CHECK(logs::shell_quote("plain") == "'plain'");
    CHECK(logs::shell_quote("it's; rm -rf / $(x) `y`") == "'it'\\''s; rm -rf / $(x) `y`'");
    logs::RemoteQuery rq;
    rq.file = "/var/log/o'dd name.log";
    CHECK(logs::remote_command(rq) == "LC_ALL=C cat -- '/var/log/o'\\''dd name.log'");
    rq.file.clear();
    rq.journal = logs::JournalQuery{};
    rq.journal->units = {"a b"};
    const std::string cmd = logs::remote_command(rq);
    CHECK_THAT(cmd, Catch::EndsWith("; LC_ALL=C exec 'journalctl' '--output=json' '--no-pager' '--all' '--unit=a b'"));
    CHECK_THAT(cmd, Catch::StartsWith("if ! command -v journalctl"));
    rq.journal->file = "/j/x.journal";
    CHECK(logs::remote_command(rq) == "LC_ALL=C exec 'journalctl' '--output=json' '--no-pager' '--all' '--file=/j/x.journal' '--unit=a b'");
}

TEST_CASE("journal: a real journal file gives the same findings as the same lines in a plain file", "[logs][journal]") {
    JOURNAL_TOOLS_OR_SKIP();
    for (const std::string sample : {"oom-java.log", "ssh-brute-force.log", "unit-failure-config.log", "segfault-php.log",
                                     "hung-task-io.log", "nginx-config.log", "benign-ssh-logins.log"}) {
        SECTION(sample) {
            logs_test::TempDir dir;
            const std::string text = logs_test::sample_text(sample);
            REQUIRE(!text.empty());
            const auto entries = logs_test::syslog_to_journal(text, 2024);
            REQUIRE(entries.size() >= 4);
            std::string why;
            const std::string journal = logs_test::make_journal(dir, "incident", logs_test::export_text(entries), &why);
            INFO(why);
            REQUIRE(!journal.empty());

            const auto plain = from_plain(text);
            logs::JournalQuery q;
            q.file = journal;
            const auto fromj = from_journal(q);
            INFO("plain:\n" << logs_test::describe(plain.findings) << "journal:\n" << logs_test::describe(fromj.findings));
            CHECK(!fromj.error);
            CHECK(fromj.format == logs::Format::Journald);
            CHECK(fromj.records == entries.size());
            CHECK(fromj.findings == plain.findings);
            if (sample != "benign-ssh-logins.log") CHECK(!fromj.findings.empty());
            // The journal's fields reach the records: unit's app, host, pid, priority as severity.
            for (std::size_t i = 0; i < fromj.kept.size() && i < plain.kept.size(); ++i) {
                CHECK(fromj.kept[i].app == plain.kept[i].app);
                CHECK(fromj.kept[i].host == plain.kept[i].host);
                CHECK(fromj.kept[i].time_ms == plain.kept[i].time_ms);
                CHECK(fromj.kept[i].severity == (entries[i].priority == 3 ? logs::Severity::Error : logs::Severity::Info));
            }
        }
    }
    CHECK(journalctl_children() == 0);
}

TEST_CASE("journal: unit and priority filters select what journalctl selects", "[logs][journal]") {
    JOURNAL_TOOLS_OR_SKIP();
    logs_test::TempDir dir;
    // One host's night: the OOM kill at 02:15, the brute force at 03:00, a unit failing at 08:30.
    const std::string oom = logs_test::sample_text("oom-java.log"), ssh = logs_test::sample_text("ssh-brute-force.log"),
                      unit = logs_test::sample_text("unit-failure-config.log");
    std::vector<JournalEntry> all;
    for (const auto* t : {&oom, &ssh, &unit})
        for (auto& e : logs_test::syslog_to_journal(*t, 2024)) all.push_back(std::move(e));
    std::string why;
    const std::string journal = logs_test::make_journal(dir, "night", logs_test::export_text(all), &why);
    INFO(why);
    REQUIRE(!journal.empty());

    logs::JournalQuery q;
    q.file = journal;
    const auto everything = from_journal(q);
    CHECK(everything.records == all.size());
    const auto cats = [](const logs_test::PipelineResult& r) {
        std::vector<std::string> c;
        for (const auto& f : r.findings) c.push_back(std::get<0>(f));
        return c;
    };
    const auto every_cat = cats(everything);
    for (const char* want : {"oom-killer", "ssh-brute-force", "systemd-unit-failure"})
        CHECK(std::find(every_cat.begin(), every_cat.end(), want) != every_cat.end());

    SECTION("--unit ssh.service: the brute force alone, counted as in the plain file") {
        q.units = {"ssh.service"};
        const auto r = from_journal(q);
        const auto plain = from_plain(ssh);
        CHECK(r.records == plain.records);
        CHECK(r.findings == plain.findings);
        CHECK(cats(r) == std::vector<std::string>{"ssh-brute-force"});
    }
    SECTION("--unit api.service: its own lines and PID 1's messages about it (UNIT=api.service)") {
        q.units = {"api.service"};
        const auto r = from_journal(q);
        std::size_t expected = 0;
        for (const auto& e : all)
            expected += e.unit == "api.service" || e.export_text.find("\nUNIT=api.service\n") != std::string::npos;
        CHECK(r.records == expected);
        const auto c = cats(r);
        CHECK(std::find(c.begin(), c.end(), "systemd-unit-failure") != c.end());
        CHECK(std::find(c.begin(), c.end(), "oom-killer") == c.end());
    }
    SECTION("--priority err: only entries at err or worse") {
        q.priority = "err";
        const auto r = from_journal(q);
        const auto n_err = std::count_if(all.begin(), all.end(), [](const JournalEntry& e) { return e.priority <= 3; });
        REQUIRE(n_err > 0);
        REQUIRE(std::size_t(n_err) < all.size());
        CHECK(r.records == std::uint64_t(n_err));
        for (const auto& rec : r.kept) CHECK(rec.severity >= logs::Severity::Error);
    }
    SECTION("--since / --until: a time window") {
        q.since = "2024-03-03 02:50:00";
        q.until = "2024-03-03 04:00:00";
        const std::string tz = std::getenv("TZ") ? std::getenv("TZ") : "";
        ::setenv("TZ", "UTC", 1);   // journalctl reads the window in local time; the entries are UTC
        const auto r = from_journal(q);
        if (tz.empty()) ::unsetenv("TZ");
        else ::setenv("TZ", tz.c_str(), 1);
        CHECK(cats(r) == std::vector<std::string>{"ssh-brute-force"});
        CHECK(r.records == from_plain(ssh).records);
    }
}

TEST_CASE("journal: errors are clear, cancel and early ends stop journalctl", "[logs][journal]") {
    JOURNAL_TOOLS_OR_SKIP();
    logs_test::TempDir dir;
    logs::JournalQuery q;
    q.file = (dir.path / "missing.journal").string();
    auto r = logs::open_journal(q);
    REQUIRE(!r);
    CHECK(r.error().code == sigmaops::ErrorCode::NotFound);
    CHECK_THAT(r.error().message, Catch::Contains("no such journal file"));

    q = {};
    q.directory = dir.path.string();
    r = logs::open_journal(q);
    REQUIRE(!r);
    CHECK_THAT(r.error().message, Catch::Contains("no journal files"));

    // Not a journal: journalctl's own complaint ends the stream.
    q = {};
    q.file = dir.file("not.journal", "this is not a journal file\n");
    r = logs::open_journal(q);
    REQUIRE(r);
    auto res = logs_test::run_pipeline(*r);
    CHECK(res.records == 0);
    REQUIRE(res.error);
    CHECK_THAT(res.error->message, Catch::Contains("journalctl"));

    // A journal with many entries: a bad --since is journalctl's InvalidArgument.
    std::string many;
    for (int i = 0; i < 20000; ++i)
        many += "__REALTIME_TIMESTAMP=" + std::to_string(1709431200000000LL + i * 1000LL) +
                "\n__MONOTONIC_TIMESTAMP=" + std::to_string(1000000 + i) + "\n_BOOT_ID=5bd4e3a1c0f24e6d9a7b8c9d0e1f2a3b\n"
                "MESSAGE=request " + std::to_string(i) + " served in 12ms\nPRIORITY=6\nSYSLOG_IDENTIFIER=app\n_HOSTNAME=h\n\n";
    std::string why;
    const std::string journal = logs_test::make_journal(dir, "many", many, &why);
    INFO(why);
    REQUIRE(!journal.empty());
    q = {};
    q.file = journal;
    q.since = "not a time at all";
    r = logs::open_journal(q);
    REQUIRE(r);
    res = logs_test::run_pipeline(*r);
    REQUIRE(res.error);
    CHECK(res.error->code == sigmaops::ErrorCode::InvalidArgument);
    CHECK_THAT(res.error->message, Catch::Contains("not a time at all"));

    // Stopping after a few lines (the reader destroyed) kills and reaps journalctl.
    q.since.clear();
    {
        auto early = logs::open_journal(q);
        REQUIRE(early);
        logs::Line line;
        for (int i = 0; i < 10; ++i) REQUIRE(early->next(line));
        CHECK_THAT(line.text, Catch::Contains("\"MESSAGE\":\"request 9 served in 12ms\""));
        CHECK(journalctl_children() == 1);
    }
    CHECK(journalctl_children() == 0);

    // Cancel: the stream ends with Cancelled, and journalctl is gone.
    std::atomic<bool> cancel{false};
    auto c = logs::open_journal(q, {}, &cancel);
    REQUIRE(c);
    logs::Line line;
    REQUIRE(c->next(line));
    cancel = true;
    std::uint64_t n = 1;
    while (c->next(line)) ++n;
    CHECK(n < 20000);
    REQUIRE(c->error());
    CHECK(c->error()->code == sigmaops::ErrorCode::Cancelled);
    CHECK(journalctl_children() == 0);

    // Read to the end: every entry, nothing left running.
    auto full = logs::open_journal(q);
    REQUIRE(full);
    res = logs_test::run_pipeline(*full);
    CHECK(!res.error);
    CHECK(res.records == 20000);
    CHECK(journalctl_children() == 0);
}

TEST_CASE("journal: without journal files here, --journal says so and names the alternatives", "[logs][journal]") {
    const bool has_system_journal = [] {
        for (const char* d : {"/var/log/journal", "/run/log/journal"}) {
            std::error_code ec;
            for (std::filesystem::recursive_directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
                if (it->path().extension() == ".journal") return true;
        }
        return false;
    }();
    if (has_system_journal) {
        WARN("skipped: this machine has a system journal");
        std::puts("skipped: this machine has a system journal");
        return;
    }
    auto r = logs::open_journal({});
    REQUIRE(!r);
    CHECK(r.error().code == sigmaops::ErrorCode::NotFound);
    CHECK_THAT(r.error().message, Catch::Contains("no system journal"));
    CHECK_THAT(r.error().message, Catch::Contains("--journal-file"));
}
