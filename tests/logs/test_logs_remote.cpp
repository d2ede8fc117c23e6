// test_logs_remote.cpp - a host's journal and log files as sources (logs::open_remote) over the
// test suite's real sshd (tests/support/sshd_fixture.h): a real journal file (built by
// systemd-journal-remote) and plain/.gz files read on the "host" give the same findings as the
// same lines read locally; a missing or unreadable remote file and a host without a journal are
// clear errors; a large remote file streams in bounded memory and an early stop ends the remote
// command. Needs root (sshd, a test account) and the journal tools; otherwise skipped.
#include "journal_test_util.h"
#include "sshd_fixture.h"

#include <catch2/catch.hpp>
#include <remote/remote.h>

#include <chrono>

namespace logs = sigmaops::logs;
namespace remote = sigmaops::remote;
using sshd_test::SshdFixture;

namespace {

std::shared_ptr<remote::SshSession> connect_as(const SshdFixture& f, const std::string& user) {
    remote::HostProfile h;
    h.name = "loghost";
    h.hostname = "127.0.0.1";
    h.port = f.port;
    h.user = user;
    h.identity_files = {f.key};
    remote::ConnectOptions o;
    o.paths.ssh_config = f.dir + "/no_ssh_config";
    o.paths.app_hosts = f.dir + "/hosts.conf";
    o.paths.known_hosts = f.known_hosts;
    o.paths.app_known_hosts = f.app_known_hosts;
    o.auth_methods = {remote::AuthMethod::PublicKey};
    o.agent_socket = f.dir + "/no-agent.sock";
    auto s = remote::SshSession::connect(h, o);
    INFO((s ? "" : s.error().message));
    REQUIRE(s);
    return std::shared_ptr<remote::SshSession>(std::move(*s));
}

logs_test::PipelineResult remote_pipeline(std::shared_ptr<remote::SshSession> s, const logs::RemoteQuery& q) {
    auto reader = logs::open_remote(std::move(s), q);
    INFO((reader ? "" : reader.error().message));
    REQUIRE(reader);
    return logs_test::run_pipeline(*reader);
}

logs_test::PipelineResult local_pipeline(const std::string& text) {
    auto reader = logs::LineReader::from_bytes(text, "plain");
    return logs_test::run_pipeline(reader);
}

std::size_t rss_bytes() {
    std::ifstream f("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * std::size_t(::sysconf(_SC_PAGESIZE));
}

} // namespace

TEST_CASE("remote: a host's journal file and log files give the same findings as local plain files", "[logs][remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    const std::string missing = logs_test::journal_tools_missing();
    if (!missing.empty()) {
        WARN("skipped: " + missing);
        std::printf("skipped: %s\n", missing.c_str());
        return;
    }
    SshdFixture f(false);
    auto session = connect_as(f, "root");
    logs_test::TempDir dir;
    const std::string text = logs_test::sample_text("oom-java.log") + logs_test::sample_text("ssh-brute-force.log");
    const auto plain = local_pipeline(text);
    REQUIRE(!plain.findings.empty());

    SECTION("the journal (journalctl --file on the host), with and without a unit filter") {
        std::string why;
        const std::string journal = logs_test::make_journal(dir, "host", logs_test::export_text(logs_test::syslog_to_journal(text, 2024)), &why);
        INFO(why);
        REQUIRE(!journal.empty());
        logs::RemoteQuery q;
        q.journal = logs::JournalQuery{};
        q.journal->file = journal;
        const auto r = remote_pipeline(session, q);
        INFO("plain:\n" << logs_test::describe(plain.findings) << "remote journal:\n" << logs_test::describe(r.findings));
        CHECK(!r.error);
        CHECK(r.format == logs::Format::Journald);
        CHECK(r.findings == plain.findings);

        q.journal->units = {"ssh.service"};
        const auto ssh_only = remote_pipeline(session, q);
        CHECK(ssh_only.findings == local_pipeline(logs_test::sample_text("ssh-brute-force.log")).findings);
    }
    SECTION("a plain file and a .gz file, streamed with cat") {
        logs::RemoteQuery q;
        q.file = dir.file("syslog", text);
        const auto r = remote_pipeline(session, q);
        CHECK(!r.error);
        CHECK(r.records == plain.records);
        CHECK(r.findings == plain.findings);
        q.file = dir.gz("syslog.2.gz", text);
        REQUIRE(!q.file.empty());
        const auto gz = remote_pipeline(session, q);
        CHECK(!gz.error);
        CHECK(gz.findings == plain.findings);
    }
    SECTION("a missing file, a directory, a host without a journal: clear errors") {
        logs::RemoteQuery q;
        q.file = "/nonexistent/dir/app.log";
        auto r = remote_pipeline(session, q);
        CHECK(r.records == 0);
        REQUIRE(r.error);
        CHECK(r.error->code == sigmaops::ErrorCode::NotFound);
        CHECK(r.error->message == "loghost: no such file: /nonexistent/dir/app.log");
        q.file = dir.path.string();
        r = remote_pipeline(session, q);
        REQUIRE(r.error);
        CHECK_THAT(r.error->message, Catch::Contains("is a directory"));
        q.file = "/nonexistent/x.journal";
        q.file.clear();
        q.journal = logs::JournalQuery{};
        q.journal->file = "/nonexistent/x.journal";
        r = remote_pipeline(session, q);
        REQUIRE(r.error);
        CHECK_THAT(r.error->message, Catch::Contains("loghost"));
        // This machine keeps no system journal (PID 1 is not systemd here): the host says so.
        bool has_journal = false;
        for (const char* d : {"/var/log/journal", "/run/log/journal"}) {
            std::error_code ec;
            for (std::filesystem::recursive_directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
                has_journal = has_journal || it->path().extension() == ".journal";
        }
        if (!has_journal) {
            q.journal = logs::JournalQuery{};
            q.journal->units = {"ssh.service"};
            r = remote_pipeline(session, q);
            REQUIRE(r.error);
            CHECK(r.error->code == sigmaops::ErrorCode::NotFound);
            CHECK_THAT(r.error->message, Catch::StartsWith("loghost has no journal files in /var/log/journal"));
        }
    }
    CHECK(session->exec("true"));
}

TEST_CASE("remote: permission denied on the host is a clear error", "[logs][remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    sshd_test::TestUser user;   // unlocked (a password set) while it lives: sshd refuses locked accounts
    SshdFixture f(false);
    auto session = connect_as(f, sshd_test::TestUser::name);
    logs_test::TempDir dir;
    ::chmod(dir.path.c_str(), 0755);
    const std::string secret = dir.file("auth.log", logs_test::sample_text("ssh-brute-force.log"));
    ::chmod(secret.c_str(), 0600);
    logs::RemoteQuery q;
    q.file = secret;
    const auto r = remote_pipeline(session, q);
    CHECK(r.records == 0);
    REQUIRE(r.error);
    CHECK(r.error->code == sigmaops::ErrorCode::Io);
    CHECK_THAT(r.error->message, Catch::StartsWith("loghost: permission denied reading " + secret));
}

TEST_CASE("remote: a large file streams in bounded memory and stopping early ends the remote cat", "[logs][remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(false);
    auto session = connect_as(f, "root");
    logs_test::TempDir dir;
    // 64 MiB of syslog lines, written without holding them in memory at once.
    const std::string path = (dir.path / "big.log").string();
    {
        std::ofstream o(path, std::ios::binary);
        const std::string block = logs_test::sample_text("ssh-brute-force.log") + logs_test::sample_text("oom-java.log");
        REQUIRE(!block.empty());
        std::uint64_t written = 0;
        while (written < (64u << 20)) {
            o << block;
            written += block.size();
        }
    }
    const std::uint64_t size = std::filesystem::file_size(path);
    logs::RemoteQuery q;
    q.file = path;

    const std::size_t rss_before = rss_bytes();
    std::size_t rss_max = rss_before;
    {
        auto reader = logs::open_remote(session, q);
        REQUIRE(reader);
        CHECK(reader->bytes_total() == size);   // the SFTP stat, for the progress bar
        logs::Line line;
        std::uint64_t n = 0, bytes = 0;
        while (reader->next(line)) {
            bytes += line.original_bytes + 1;
            if (++n % 20000 == 0) rss_max = std::max(rss_max, rss_bytes());
        }
        CHECK(!reader->error());
        CHECK(bytes == size);
        CHECK(reader->bytes_read() == size);
    }
    INFO("RSS grew by " << (rss_max - rss_before) / 1024 << " KiB while streaming " << size / 1024 << " KiB");
    CHECK(rss_max - rss_before < (24u << 20));

    // Stop after a few lines: the reader's end stops the remote command within seconds, and the
    // session is usable afterwards.
    const auto t0 = std::chrono::steady_clock::now();
    {
        auto reader = logs::open_remote(session, q);
        REQUIRE(reader);
        logs::Line line;
        for (int i = 0; i < 1000; ++i) REQUIRE(reader->next(line));
    }
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    auto again = session->exec("echo ok");
    REQUIRE(again);
    CHECK(again->out == "ok\n");
    // No cat left running on the "host" ("[c]at" so that pgrep's own command line does not match).
    auto ps = session->exec("pgrep -f " + logs::shell_quote("[c]at -- " + path) + " || true");
    REQUIRE(ps);
    CHECK(ps->out.empty());
}
