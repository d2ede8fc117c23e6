// test_logs_signatures.cpp - stage 4 of agents/logs: every signature fires on a realistic
// excerpt and stays quiet on a near miss; findings are ranked causes first, with evidence;
// `sigmaops diagnose` prints them (text and --json).
#include "logs_test_util.h"

#include <catch2/catch.hpp>
#include <cli/command.h>

#include <set>
#include <sstream>

using namespace sigmaops;

namespace {

// The category a single log line (parsed with detection) falls into, or "".
std::string category_of(const std::string& line) {
    auto recs = logs_test::records_of(line + "\n");
    REQUIRE(recs.size() == 1);
    const int i = logs::match_signature(recs[0]);
    return i < 0 ? "" : std::string(logs::signatures()[std::size_t(i)].id);
}

struct Case { const char* category; const char* fires; const char* near_miss; };

// One realistic line per category, and a look-alike that must not fire.
const Case k_cases[] = {
    {"oom-killer",
     "Mar  1 09:12:01 web01 kernel: [12345.679001] Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:7000000kB",
     "Mar  1 09:12:01 web01 systemd[1]: session-4.scope: Killed process 4242 (bash) with signal SIGKILL."},
    {"disk-full",
     "Mar  1 09:12:01 db1 postgres[900]: PANIC:  could not write to file \"pg_wal/xlogtemp.900\": No space left on device",
     "Mar  1 09:12:01 db1 backup[77]: checked free space on /var: 41 GB available, 0 errors"},
    {"io-filesystem-error",
     "Mar  1 09:12:01 web01 kernel: [ 812.123456] blk_update_request: I/O error, dev sda, sector 123456 op 0x0:(READ) flags 0x0",
     "Mar  1 09:12:01 web01 kernel: [   3.123456] EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none."},
    {"kernel-hung-task-soft-lockup",
     "Mar  1 09:12:01 web01 kernel: [99.1] INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds.",
     "Mar  1 09:12:01 web01 sysctl[1]: kernel.hung_task_timeout_secs = 120"},
    {"time-jump-ntp",
     "Mar  1 09:12:01 web01 chronyd[640]: System clock wrong by 3602.123456 seconds",
     "Mar  1 09:12:01 web01 chronyd[640]: Selected source 192.0.2.10 (2.debian.pool.ntp.org)"},
    {"segfault-core-dump",
     "Mar  1 09:12:01 web01 kernel: [5.1] php-fpm8.2[4242]: segfault at 0 ip 00007f3a2b1c4d5e sp 00007ffd9c8e7a10 error 4 in libc.so.6[7f3a2b000000+195000]",
     "Mar  1 09:12:01 web01 systemd-coredump[1]: Core dump storage is set to external, ProcessSizeMax=2G"},
    {"tls-certificate",
     "Mar  1 09:12:01 web01 nginx[812]: 2024/03/01 09:12:01 [error] 812#812: *9 upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream",
     "Mar  1 09:12:01 web01 certbot[500]: Certificate not yet due for renewal; no action taken."},
    {"network-connection-dns",
     "Mar  1 09:12:01 web01 app[900]: dial tcp: lookup db.internal on 127.0.0.53:53: Temporary failure in name resolution",
     "Mar  1 09:12:01 web01 sshd[1234]: Connection closed by 203.0.113.9 port 52144"},
    {"database-error",
     "Mar  1 09:12:01 db1 postgres[900]: FATAL:  remaining connection slots are reserved for non-replication superuser connections",
     "Mar  1 09:12:01 db1 postgres[900]: LOG:  database system is ready to accept connections"},
    {"permission-denied",
     "Mar  1 09:12:01 web01 nginx[812]: 2024/03/01 09:12:01 [crit] 812#812: *3 open() \"/srv/www/index.html\" failed (13: Permission denied)",
     "Mar  1 09:12:01 web01 setup[77]: fixed permissions on 12 files, 0 errors"},
    {"webserver-config-error",
     "Mar  1 09:12:01 web01 nginx[812]: nginx: [emerg] unknown directive \"proxy_passs\" in /etc/nginx/sites-enabled/app:12",
     "Mar  1 09:12:01 web01 nginx[812]: nginx: configuration file /etc/nginx/nginx.conf test is successful"},
    {"systemd-unit-failure",
     "Mar  1 09:12:01 web01 systemd[1]: app.service: Failed with result 'exit-code'.",
     "Mar  1 09:12:01 web01 systemd[1]: app.service: Deactivated successfully."},
    {"ssh-brute-force",
     "Mar  1 09:12:01 web01 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2",
     "Mar  1 09:12:01 web01 sshd[1234]: Accepted publickey for deploy from 10.0.0.2 port 50000 ssh2"},
};

std::pair<int, std::string> in_process(std::vector<std::string> argv) {
    std::istringstream in;
    std::ostringstream out, err;
    sigmaops::cli::Io io{in, out, err};
    const int rc = sigmaops::cli::dispatch(sigmaops::cli::sigmaops_command(), argv, io);
    return {rc, out.str() + err.str()};
}

} // namespace

TEST_CASE("the signature library has the issue's thirteen stable ids, each with a case here", "[logs][signatures]") {
    std::set<std::string> ids, tested;
    for (const auto& s : logs::signatures()) {
        ids.insert(std::string(s.id));
        CHECK_FALSE(s.explanation.empty());
        CHECK_FALSE(s.next_commands.empty());
    }
    for (const Case& c : k_cases) tested.insert(c.category);
    CHECK(ids == std::set<std::string>{"oom-killer", "disk-full", "segfault-core-dump", "systemd-unit-failure", "ssh-brute-force",
                                       "tls-certificate", "network-connection-dns", "io-filesystem-error",
                                       "kernel-hung-task-soft-lockup", "time-jump-ntp", "permission-denied", "database-error",
                                       "webserver-config-error"});
    CHECK(tested == ids);
}

TEST_CASE("every signature fires on its excerpt and not on its near miss", "[logs][signatures]") {
    for (const Case& c : k_cases) {
        INFO(c.category);
        CHECK(category_of(c.fires) == c.category);
        CHECK(category_of(c.near_miss) != c.category);
    }
}

TEST_CASE("counts and summaries do not fire anything", "[logs][signatures]") {
    for (const char* line : {"Mar  1 09:12:01 web01 ansible[1]: PLAY RECAP: web01 ok=12 changed=0 unreachable=0 failed=0",
                             "Mar  1 09:12:01 web01 backup[1]: done, 0 errors, 0 warnings",
                             "Mar  1 09:12:01 web01 systemd[1]: Stopped nginx.service - A high performance web server.",
                             "Mar  1 09:12:01 web01 systemd[1]: Reloaded nginx.service.",
                             "Mar  1 09:12:01 web01 systemd[1]: app.service: Main process exited, code=exited, status=0/SUCCESS"}) {
        INFO(line);
        CHECK(category_of(line).empty());
    }
}

TEST_CASE("findings: the OOM kill ranks before the unit failure it caused, brute force needs many tries", "[logs][signatures]") {
    auto recs = logs_test::records_of(
        "Mar  1 09:12:02 web01 systemd[1]: app.service: Main process exited, code=killed, status=9/KILL\n"
        "Mar  1 09:12:02 web01 systemd[1]: app.service: Failed with result 'signal'.\n"
        "Mar  1 09:12:01 web01 kernel: [1.2] Out of memory: Killed process 4242 (java) total-vm:8123456kB\n"
        "Mar  1 09:12:03 web01 sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n");
    logs::TemplateMiner miner;
    logs::Collector col;
    for (const auto& r : recs) {
        const auto m = miner.add(r.message);
        col.add(r, "syslog", m.template_id, miner.get(m.template_id).text);
    }
    const auto f = col.findings();
    REQUIRE(f.size() == 2);   // one failed password is not a brute force
    CHECK(f[0].id == "F1");
    CHECK(f[0].category == "oom-killer");
    CHECK(f[0].evidence.at(0).source == "syslog");
    CHECK(f[0].evidence.at(0).line == 3);
    CHECK(f[1].category == "systemd-unit-failure");
    CHECK(f[1].count == 2);
    CHECK(f[1].has_time);
    CHECK(f[1].last_ms - f[1].first_ms == 0);

    logs::Collector many(3);
    for (int i = 0; i < 50; ++i) {
        logs::Record r;
        r.first_line = std::uint64_t(i + 1);
        r.app = "sshd";
        r.message = "Failed password for invalid user u" + std::to_string(i) + " from 203.0.113.9 port 22 ssh2";
        many.add(r, "auth.log", 1, "Failed password for invalid user <*> from <*> port <*> ssh2");
    }
    const auto g = many.findings();
    REQUIRE(g.size() == 1);
    CHECK(g[0].category == "ssh-brute-force");
    CHECK(g[0].count == 50);
    REQUIRE(g[0].evidence.size() == 3);
    CHECK(g[0].evidence[2].line == 50);   // the latest match is kept as the last evidence line
    const auto d = many.digest(5);
    REQUIRE(d.size() == 1);
    CHECK(d[0].count == 50);

    // Templates merged into a word family after they were added are counted under the final id.
    logs::TemplateMiner fm;
    logs::Collector fc;
    std::uint64_t line = 0;
    for (const char* user : {"root", "admin", "git", "oracle", "test"}) {
        logs::Record r;
        r.first_line = ++line;
        r.message = std::string("Failed password for ") + user + " from 192.0.2.1 port 22 ssh2";
        const auto m = fm.add(r.message);
        fc.add(r, "auth.log", m.template_id, fm.get(m.template_id).text);
    }
    CHECK(fc.digest(5).size() == 3);   // root, admin, git (+ oracle and test, merged into root's id)
    const auto merged = fc.digest(5, &fm);
    REQUIRE(merged.size() == 1);
    CHECK(merged[0].count == 5);
    CHECK(merged[0].text == "Failed password for <*> from <*> port <*> ssh2");
    CHECK(merged[0].first.line == 1);
}

TEST_CASE("sigmaops diagnose prints ranked findings, benign logs give none", "[logs][cli][signatures]") {
    logs_test::TempDir dir;
    const std::string bad = dir.file("syslog",
                                     "Mar  1 09:12:01 web01 kernel: [1.2] Out of memory: Killed process 4242 (java) total-vm:8123456kB\n"
                                     "Mar  1 09:12:02 web01 systemd[1]: app.service: Failed with result 'oom-kill'.\n");
    auto [rc, text] = in_process({"diagnose", bad, "--no-model", "--no-history"});
    INFO(text);
    CHECK(rc == 0);
    CHECK_THAT(text, Catch::Contains("F1  critical  oom-killer"));
    CHECK_THAT(text, Catch::Contains("F2  error  systemd-unit-failure"));
    CHECK_THAT(text, Catch::Contains("syslog:1  [1.2] Out of memory"));
    auto [rc2, js] = in_process({"diagnose", bad, "--json", "--no-history", "--no-model"});
    CHECK(rc2 == 0);
    CHECK_THAT(js, Catch::StartsWith("{\"sources\":[{\"name\":"));
    CHECK_THAT(js, Catch::Contains("\"findings\":[{\"id\":\"F1\",\"category\":\"oom-killer\""));
    CHECK_THAT(js, Catch::Contains("\"model\":null}"));

    const std::string benign = dir.file("ok.log",
                                        "Mar  1 09:12:01 web01 systemd[1]: Reloaded nginx.service.\n"
                                        "Mar  1 09:12:02 web01 sshd[1]: Accepted publickey for deploy from 10.0.0.2 port 5 ssh2\n"
                                        "Mar  1 09:12:03 web01 backup[2]: done, 0 errors\n");
    auto [rc3, t3] = in_process({"diagnose", benign, "--no-history"});
    CHECK(rc3 == 0);
    CHECK_THAT(t3, Catch::Contains("No findings"));
    auto [rc4, t4] = in_process({"diagnose", (dir.path / "missing").string(), "--no-history"});
    CHECK(rc4 == 1);
    CHECK_THAT(t4, Catch::Contains("not read"));
}

TEST_CASE("sample incidents: diagnose names the right category first, benign samples give nothing", "[logs][signatures][samples]") {
    // resources/samples/: one incident per major category (root cause plus its consequences and
    // noise), and three benign near misses (a graceful reload, a clean deploy, ordinary logins).
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
        {"benign-graceful-restart.log", ""},
        {"benign-deploy.log", ""},
        {"benign-ssh-logins.log", ""},
    };
    for (const auto& [file, category] : expected) {
        const std::string path = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/samples/" + file;
        auto reader = logs::LineReader::open(path);
        REQUIRE(reader);
        auto parser = logs::RecordParser::create();
        logs::TemplateMiner miner;
        logs::Collector col;
        logs::Record r;
        while (parser->next(*reader, r)) {
            const auto m = miner.add(r.message);
            col.add(r, file, m.template_id, miner.get(m.template_id).text);
        }
        const auto f = col.findings();
        INFO(file << ": " << (f.empty() ? std::string("no findings") : f[0].category));
        if (std::string(category).empty()) {
            CHECK(f.empty());
        } else {
            REQUIRE_FALSE(f.empty());
            CHECK(f[0].category == category);
        }
    }
}

TEST_CASE("statistical signals: an error-rate jump and a template burst, not a steady rate", "[logs][signatures][signals]") {
    logs::TemplateMiner miner;
    logs::Collector col;
    const std::int64_t t0 = 1709251200000LL;   // 2024-03-01 00:00 UTC
    std::uint64_t line = 0;
    auto add = [&](std::int64_t ms, std::string msg, logs::Severity sev) {
        logs::Record r;
        r.first_line = ++line;
        r.has_time = true;
        r.time_ms = ms;
        r.severity = sev;
        r.message = std::move(msg);
        const auto m = miner.add(r.message);
        col.add(r, "app.log", m.template_id, miner.get(m.template_id).text);
    };
    // 30 quiet minutes: a steady heartbeat (3 a minute) and one error a minute.
    for (int minute = 0; minute < 30; ++minute) {
        for (int k = 0; k < 3; ++k) add(t0 + minute * 60'000 + k * 1000, "heartbeat from worker " + std::to_string(k), logs::Severity::Info);
        add(t0 + minute * 60'000 + 5000, "request " + std::to_string(minute) + " failed with code 500", logs::Severity::Error);
    }
    CHECK(col.findings().empty());   // steady rates are not signals
    // Minute 30: 60 retries and 40 errors.
    for (int k = 0; k < 60; ++k) add(t0 + 30 * 60'000 + k * 500, "retrying connection attempt " + std::to_string(k), logs::Severity::Info);
    for (int k = 0; k < 40; ++k) add(t0 + 30 * 60'000 + k * 700, "request " + std::to_string(100 + k) + " failed with code 500", logs::Severity::Error);
    // Minute 31 back to normal.
    add(t0 + 31 * 60'000, "heartbeat from worker 0", logs::Severity::Info);
    const auto f = col.findings();
    REQUIRE(f.size() >= 2);
    CHECK(f[0].category == "error-rate-change");
    CHECK(f[0].severity == logs::Severity::Warning);
    CHECK(f[0].count == 40);
    CHECK(f[0].first_ms == t0 + 30 * 60'000);
    CHECK_THAT(f[0].title, Catch::Contains("2024-03-01 00:30"));
    CHECK(f[1].category == "template-burst");
    CHECK(f[1].severity == logs::Severity::Info);
    bool retry_burst = false;
    for (const auto& x : f)
        if (x.category == "template-burst" && x.title.find("retrying connection attempt") != std::string::npos) {
            retry_burst = true;
            CHECK(x.count == 60);
            REQUIRE(x.evidence.size() == 1);
            CHECK(x.evidence[0].line == 30 * 4 + 1);
        }
    CHECK(retry_burst);
}

TEST_CASE("statistical signals are per source: a second file that starts earlier is no burst", "[logs][signatures][signals]") {
    logs::TemplateMiner miner;
    logs::Collector col;
    const std::int64_t t0 = 1709251200000LL;
    std::uint64_t line = 0;
    auto add = [&](const char* source, std::int64_t ms, const std::string& msg, logs::Severity sev) {
        logs::Record r;
        r.first_line = ++line;
        r.has_time = true;
        r.time_ms = ms;
        r.severity = sev;
        r.message = msg;
        const auto m = miner.add(r.message);
        col.add(r, source, m.template_id, miner.get(m.template_id).text);
    };
    // Two files of the same hour, read one after the other, each with a steady rate.
    for (const char* source : {"syslog.1", "syslog"})
        for (int minute = 0; minute < 60; ++minute)
            for (int k = 0; k < 5; ++k) {
                add(source, t0 + minute * 60'000 + k * 1000, "heartbeat from worker " + std::to_string(k), logs::Severity::Info);
                add(source, t0 + minute * 60'000 + k * 1000 + 500, "job " + std::to_string(k) + " failed", logs::Severity::Error);
            }
    // And one file that jumps back in time by a day half-way through.
    for (int minute = 0; minute < 60; ++minute)
        for (int k = 0; k < 5; ++k)
            add("odd.log", t0 + (minute < 30 ? minute : minute - 1440) * 60'000 + k * 1000, "tick " + std::to_string(k),
                logs::Severity::Info);
    const auto f = col.findings();
    for (const auto& x : f) INFO(x.category << " " << x.title);
    CHECK(f.empty());
}
