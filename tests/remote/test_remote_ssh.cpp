// Remote transport against a real OpenSSH server (tests/support/sshd_fixture.h): host keys, every auth
// method and its failures, streaming exec / exit codes / cancel, atomic SFTP writes, the pool,
// and that no secret reaches the log. Needs root (sshd, test account); otherwise skipped.
#include <catch2/catch.hpp>

#include "remote/remote.h"
#include "sshd_fixture.h"

#include <sys/mount.h>

#include <cstring>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>

using namespace sigmaops::remote;
using namespace std::chrono_literals;
using sshd_test::SshdFixture;
using sshd_test::TestUser;

namespace {

// Answers from a script; counts what it was asked. Never accepts a host key unless told to.
struct ScriptedPrompter : Prompter {
    bool accept_host = false;
    std::string password, passphrase;
    int n_host_questions = 0, n_secret_questions = 0;
    std::string last_notice;
    bool confirm_host_key(const std::string&, int, const std::string&, const std::string& fp) override {
        ++n_host_questions;
        REQUIRE(fp.rfind("SHA256:", 0) == 0);
        return accept_host;
    }
    std::optional<SecretString> ask_secret(SecretKind kind, const std::string&) override {
        ++n_secret_questions;
        const std::string& s = kind == SecretKind::KeyPassphrase ? passphrase : password;
        if (s.empty()) return std::nullopt;
        return SecretString(s);
    }
    void notify(const std::string& m) override { last_notice = m; }
};

HostProfile profile(const SshdFixture& f, const std::string& user, const std::string& key = "") {
    HostProfile h;
    h.name = "testhost";
    h.hostname = "127.0.0.1";
    h.port = f.port;
    h.user = user;
    if (!key.empty()) h.identity_files = {key};
    return h;
}

ConnectOptions options(const SshdFixture& f, Prompter* p, std::vector<AuthMethod> methods) {
    ConnectOptions o;
    o.paths.ssh_config = f.dir + "/no_ssh_config";
    o.paths.app_hosts = f.dir + "/hosts.conf";
    o.paths.known_hosts = f.known_hosts;
    o.paths.app_known_hosts = f.app_known_hosts;
    o.prompter = p;
    o.auth_methods = std::move(methods);
    o.agent_socket = f.dir + "/no-agent.sock";
    o.max_password_attempts = 1;
    return o;
}

std::unique_ptr<SshSession> connect_root(const SshdFixture& f) {
    ScriptedPrompter p;
    auto s = SshSession::connect(profile(f, "root", f.key), options(f, &p, {AuthMethod::PublicKey}));
    INFO((s ? "" : s.error().message));
    REQUIRE(s);
    return std::move(*s);
}

}  // namespace

TEST_CASE("remote: every auth method succeeds and each failure says why", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f;
    TestUser user;
    ScriptedPrompter p;

    SECTION("ssh-agent with the key") {
        auto o = options(f, &p, {AuthMethod::Agent});
        o.agent_socket = f.start_agent(true);
        auto s = SshSession::connect(profile(f, TestUser::name), o);
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        auto r = (*s)->exec("whoami");
        REQUIRE(r);
        CHECK(r->out == std::string(TestUser::name) + "\n");
    }
    SECTION("ssh-agent with no keys") {
        auto o = options(f, &p, {AuthMethod::Agent});
        o.agent_socket = f.start_agent(false);
        auto s = SshSession::connect(profile(f, TestUser::name), o);
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Auth);
        CHECK_THAT(s.error().message, Catch::Contains("ssh-agent has no keys"));
    }
    SECTION("key file") {
        auto s = SshSession::connect(profile(f, TestUser::name, f.key), options(f, &p, {AuthMethod::PublicKey}));
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        CHECK(p.n_secret_questions == 0);
    }
    SECTION("key file with a passphrase, asked once") {
        p.passphrase = f.passphrase;
        auto s = SshSession::connect(profile(f, TestUser::name, f.enc_key), options(f, &p, {AuthMethod::PublicKey}));
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        CHECK(p.n_secret_questions == 1);
    }
    SECTION("wrong key") {
        auto s = SshSession::connect(profile(f, TestUser::name, f.wrong_key), options(f, &p, {AuthMethod::PublicKey}));
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Auth);
        CHECK_THAT(s.error().message, Catch::Contains("server refused key " + f.wrong_key));
        CHECK(p.n_secret_questions == 0);
    }
    SECTION("password") {
        p.password = user.password;
        auto s = SshSession::connect(profile(f, TestUser::name), options(f, &p, {AuthMethod::Password}));
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
    }
    SECTION("wrong password") {
        p.password = "not-the-password";
        auto s = SshSession::connect(profile(f, TestUser::name), options(f, &p, {AuthMethod::Password}));
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Auth);
        CHECK_THAT(s.error().message, Catch::Contains("password: password rejected"));
    }
    SECTION("keyboard-interactive") {
        p.password = user.password;
        auto s = SshSession::connect(profile(f, TestUser::name), options(f, &p, {AuthMethod::KeyboardInteractive}));
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        CHECK(p.n_secret_questions >= 1);
    }
}

TEST_CASE("remote: host keys: changed refused, unknown asked then pinned, refusal writes nothing", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f;
    ScriptedPrompter p;
    auto o = options(f, &p, {AuthMethod::PublicKey});
    const auto host = profile(f, "root", f.key);

    SECTION("changed key is refused without asking, even if accepted elsewhere") {
        sshd_test::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f.dir + "/other_host"});
        std::string other = sshd_test::read_text(f.dir + "/other_host.pub");
        sshd_test::write_text(f.known_hosts, "[127.0.0.1]:" + std::to_string(f.port) + " " + other);
        p.accept_host = true;
        auto s = SshSession::connect(host, o);
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::HostKey);
        CHECK_THAT(s.error().message, Catch::Contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
        CHECK_THAT(p.last_notice, Catch::Contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
        CHECK(p.n_host_questions == 0);
        CHECK_FALSE(std::filesystem::exists(f.app_known_hosts));
    }
    SECTION("unknown key refused by the user: nothing written") {
        sshd_test::write_text(f.known_hosts, "# empty\n");
        const std::string before = sshd_test::read_text(f.known_hosts);
        p.accept_host = false;
        auto s = SshSession::connect(host, o);
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::HostKey);
        CHECK(p.n_host_questions == 1);
        CHECK(sshd_test::read_text(f.known_hosts) == before);
        CHECK_FALSE(std::filesystem::exists(f.app_known_hosts));
    }
    SECTION("unknown key without a prompter is refused") {
        std::filesystem::remove(f.known_hosts);
        o.prompter = nullptr;
        auto s = SshSession::connect(host, o);
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::HostKey);
        CHECK_FALSE(std::filesystem::exists(f.known_hosts));
        CHECK_FALSE(std::filesystem::exists(f.app_known_hosts));
    }
    SECTION("unknown key accepted is pinned in the app's file, then not asked again") {
        std::filesystem::remove(f.known_hosts);
        p.accept_host = true;
        auto s = SshSession::connect(host, o);
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        CHECK(p.n_host_questions == 1);
        CHECK_FALSE(std::filesystem::exists(f.known_hosts));  // ~/.ssh/known_hosts is never written
        const std::string pinned = sshd_test::read_text(f.app_known_hosts);
        CHECK_THAT(pinned, Catch::Contains(f.host_pub.substr(0, f.host_pub.rfind(' '))));
        ScriptedPrompter refuse;
        auto again = SshSession::connect(host, options(f, &refuse, {AuthMethod::PublicKey}));
        REQUIRE(again);
        CHECK(refuse.n_host_questions == 0);
    }
}

TEST_CASE("remote: connection errors are clear", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f;
    ScriptedPrompter p;
    auto o = options(f, &p, {AuthMethod::PublicKey});
    SECTION("refused") {
        auto h = profile(f, "root", f.key);
        h.port = sshd_test::free_port();
        auto s = SshSession::connect(h, o);
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Network);
        CHECK_THAT(s.error().message, Catch::Contains("connection refused"));
    }
    SECTION("timeout (a port that accepts but never speaks)") {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(listen(fd, 4) == 0);
        socklen_t len = sizeof a;
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        auto h = profile(f, "root", f.key);
        h.port = ntohs(a.sin_port);
        o.connect_timeout = 700ms;
        auto t0 = std::chrono::steady_clock::now();
        auto s = SshSession::connect(h, o);
        close(fd);
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Network);
        INFO(s.error().message);
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    }
}

TEST_CASE("remote: exec streams, reports exit codes, env/cwd, timeouts, caps, and cancel kills", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f;
    auto s = connect_root(f);

    SECTION("first line of a 5-second command arrives within 1 second") {
        // On a loaded machine the remote shell itself may take a while to start: measure that
        // (a command with no delay) and allow 1 s on top of it.
        auto tb = std::chrono::steady_clock::now();
        REQUIRE(s->exec("echo first"));
        const auto baseline = std::chrono::steady_clock::now() - tb;
        auto t0 = std::chrono::steady_clock::now();
        std::chrono::steady_clock::duration first{};
        ExecOptions o;
        o.on_output = [&](Stream st, std::string_view b) {
            if (st == Stream::Stdout && b.find("first") != std::string_view::npos) {
                first = std::chrono::steady_clock::now() - t0;
                return false;  // seen it: stop the command
            }
            return true;
        };
        auto r = s->exec("echo first; sleep 5; echo last", o);
        REQUIRE(r);
        INFO("first line after " << std::chrono::duration_cast<std::chrono::milliseconds>(first).count()
             << " ms, shell start-up baseline " << std::chrono::duration_cast<std::chrono::milliseconds>(baseline).count() << " ms");
        CHECK(first > 0s);
        CHECK(first < 1s + baseline);
        CHECK(r->cancelled);  // the command was still running when its first line arrived
    }
    SECTION("exit codes and separate streams") {
        auto r = s->exec("echo out; echo err >&2; exit 3");
        REQUIRE(r);
        REQUIRE(r->exit_status);
        CHECK(*r->exit_status == 3);
        CHECK(r->out == "out\n");
        CHECK(r->err == "err\n");
        auto ok = s->exec("true");
        REQUIRE(ok);
        CHECK(ok->ok());
    }
    SECTION("environment and working directory") {
        ExecOptions o;
        o.env["SIGMA_X"] = "it's a value";
        o.working_dir = f.dir;
        auto r = s->exec("pwd; echo \"$SIGMA_X\"", o);
        REQUIRE(r);
        CHECK(r->out == f.dir + "\nit's a value\n");
    }
    SECTION("timeout stops the command") {
        ExecOptions o;
        o.timeout = 500ms;
        auto r = s->exec("sleep 30", o);
        REQUIRE(r);
        CHECK(r->timed_out);
        CHECK_FALSE(r->ok());
        CHECK(r->elapsed < 3s);
    }
    SECTION("output cap stops an endless command") {
        ExecOptions o;
        o.max_output_bytes = 100000;
        auto r = s->exec("yes", o);
        REQUIRE(r);
        CHECK(r->truncated);
        CHECK(r->out.size() == 100000);
    }
    SECTION("cancelled sleep 100 is gone on the server within 2 seconds") {
        // As a normal user: sshd delivers the signal request to the process group. (For root
        // logins sshd refuses signal requests; the library then kills the group from a second
        // channel, which costs one more remote shell start.)
        TestUser user;
        ScriptedPrompter p;
        auto us = SshSession::connect(profile(f, TestUser::name, f.key), options(f, &p, {AuthMethod::PublicKey}));
        REQUIRE(us);
        s = std::move(*us);
        std::atomic<bool> cancel{false};
        std::atomic<int> remote_pid{0};
        ExecOptions o;
        o.cancel = &cancel;
        o.on_output = [&](Stream, std::string_view b) {
            remote_pid = std::atoi(std::string(b).c_str());
            return true;
        };
        std::chrono::steady_clock::time_point t0;
        std::thread canceller([&] {
            while (remote_pid == 0) std::this_thread::sleep_for(10ms);
            std::this_thread::sleep_for(200ms);
            t0 = std::chrono::steady_clock::now();
            cancel = true;
        });
        auto r = s->exec("echo $$; exec sleep 100", o);
        canceller.join();
        REQUIRE(r);
        CHECK(r->cancelled);
        REQUIRE(remote_pid > 0);
        bool gone = false;
        while (std::chrono::steady_clock::now() - t0 < 2000ms && !gone) {
            gone = kill(remote_pid, 0) != 0 ||
                   sshd_test::read_text("/proc/" + std::to_string(remote_pid.load()) + "/stat").find(" Z ") != std::string::npos;
            if (!gone) std::this_thread::sleep_for(20ms);
        }
        INFO("checked " << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
             << " ms after cancelling");
        CHECK(gone);
    }
}

TEST_CASE("remote: SFTP writes are atomic, keep owner and mode, fail cleanly", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f;

    SECTION("50 MB overwrite: a reader sees old or new, never a mix; owner and mode kept") {
        TestUser user;
        auto s = connect_root(f);
        const std::string path = f.dir + "/big.bin";
        const std::string old_content(50u << 20, 'o');
        std::string new_content(50u << 20, 'n');
        new_content[123] = 'x';
        sshd_test::write_text(path, old_content, 0640);
        REQUIRE(chown(path.c_str(), user.uid, user.gid) == 0);
        std::atomic<bool> done{false};
        std::atomic<int> n_reads{0}, n_bad{0}, n_new{0};
        std::thread reader([&] {
            while (!done) {
                std::string got = sshd_test::read_text(path);
                ++n_reads;
                if (got == new_content) ++n_new;
                else if (got != old_content) ++n_bad;
            }
        });
        auto w = s->write_file(path, new_content);
        for (int before = n_reads; n_reads < before + 2;) std::this_thread::sleep_for(10ms);  // reads after the write
        done = true;
        reader.join();
        INFO((w ? "" : w.error().message));
        REQUIRE(w);
        CHECK(n_bad == 0);
        CHECK(n_reads > 1);
        CHECK(n_new > 0);
        CHECK(sshd_test::read_text(path) == new_content);
        struct stat st{};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0640);
        CHECK(st.st_uid == user.uid);
        CHECK(st.st_gid == user.gid);
        auto back = s->read_file(path);
        REQUIRE(back);
        CHECK(*back == new_content);
        for (const auto& e : std::filesystem::directory_iterator(f.dir))
            CHECK(e.path().filename().string().find(".sigmaops-") == std::string::npos);
    }
    SECTION("new file gets the requested mode") {
        auto s = connect_root(f);
        REQUIRE(s->write_file(f.dir + "/new.txt", "hello\n", 0600));
        auto st = s->stat(f.dir + "/new.txt");
        REQUIRE(st);
        CHECK(st->mode == 0600);
        CHECK(sshd_test::read_text(f.dir + "/new.txt") == "hello\n");
    }
    SECTION("read-only directory: fails cleanly, original intact") {
        TestUser user;
        const std::string ro = f.dir + "/ro";
        std::filesystem::create_directory(ro);
        sshd_test::write_text(ro + "/file.txt", "original\n", 0644);
        REQUIRE(chown((ro + "/file.txt").c_str(), user.uid, user.gid) == 0);
        REQUIRE(chown(ro.c_str(), user.uid, user.gid) == 0);
        REQUIRE(chmod(ro.c_str(), 0555) == 0);
        ScriptedPrompter p;
        p.password = user.password;
        auto s = SshSession::connect(profile(f, TestUser::name), options(f, &p, {AuthMethod::Password}));
        REQUIRE(s);
        auto w = (*s)->write_file(ro + "/file.txt", "new content\n");
        REQUIRE_FALSE(w);
        CHECK(w.error().code == ErrorCode::Io);
        CHECK_THAT(w.error().message, Catch::Contains("permission denied"));
        CHECK(sshd_test::read_text(ro + "/file.txt") == "original\n");
        CHECK(std::distance(std::filesystem::directory_iterator(ro), std::filesystem::directory_iterator()) == 1);
    }
    SECTION("full file system: fails cleanly, original intact") {
        const std::string full = f.dir + "/full";
        std::filesystem::create_directory(full);
        if (mount("tmpfs", full.c_str(), "tmpfs", 0, "size=1m") != 0) {
            WARN("skipped (full file system case): cannot mount a 1 MiB tmpfs here: " << strerror(errno));
            return;
        }
        struct Unmount { std::string p; ~Unmount() { umount2(p.c_str(), MNT_DETACH); } } unmount{full};
        sshd_test::write_text(full + "/file.txt", "original\n", 0644);
        auto s = connect_root(f);
        auto w = s->write_file(full + "/file.txt", std::string(3u << 20, 'z'));
        REQUIRE_FALSE(w);
        CHECK(w.error().code == ErrorCode::Io);
        CHECK_THAT(w.error().message, Catch::Contains("original is unchanged"));
        CHECK(sshd_test::read_text(full + "/file.txt") == "original\n");
        CHECK(std::distance(std::filesystem::directory_iterator(full), std::filesystem::directory_iterator()) == 1);
    }
}

TEST_CASE("remote: one command on 20 hosts runs on all of them at once and reuses the connections", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(/*with_pam=*/false);  // key auth only; no PAM session modules per login
    // 20 host names in the app's hosts.conf, all pointing at the one sshd (20 connections).
    std::string conf;
    std::vector<std::string> hosts;
    for (int i = 1; i <= 20; ++i) {
        hosts.push_back("sim" + std::to_string(i));
        conf += "Host " + hosts.back() + "\n  HostName 127.0.0.1\n  Port " + std::to_string(f.port) +
                "\n  User root\n  IdentityFile " + f.key + "\n";
    }
    sshd_test::write_text(f.dir + "/hosts.conf", conf);
    ScriptedPrompter p;
    ConnectionPool pool(options(f, &p, {AuthMethod::PublicKey}));
    // A barrier rather than a stopwatch (a wall-clock bound failed once on a loaded CI machine):
    // each command marks its arrival with its connection's client port, then waits (up to 60 s)
    // until all 20 have arrived. A command sees 20 only if all 20 were running at the same time;
    // with fewer run at once the first ones time out and print a smaller count.
    const std::string barrier = f.dir + "/barrier";
    std::filesystem::create_directories(barrier);
    const std::string cmd = "set -- $SSH_CONNECTION; touch " + barrier + "/$2; i=0; "
                            "while [ $(ls " + barrier + " | wc -l) -lt 20 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; "
                            "echo $(ls " + barrier + " | wc -l) $2";
    auto t0 = std::chrono::steady_clock::now();
    auto results = run_on_hosts(pool, hosts, cmd, 20);
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(results.size() == 20);
    std::vector<std::string> ports;
    for (std::size_t i = 0; i < results.size(); ++i) {
        CHECK(results[i].host == hosts[i]);
        INFO(results[i].host << ": " << (results[i].result ? "" : results[i].result.error().message));
        REQUIRE(results[i].result);
        INFO("exit " << (results[i].result->exit_status ? std::to_string(*results[i].result->exit_status) : "none")
             << " signal '" << results[i].result->exit_signal << "' stdout '" << results[i].result->out
             << "' stderr '" << results[i].result->err << "'");
        CHECK(results[i].result->ok());
        std::istringstream line(results[i].result->out);
        int seen = 0;
        std::string port;
        line >> seen >> port;
        CHECK(seen == 20);
        CHECK_FALSE(port.empty());
        ports.push_back(port);
    }
    std::set<std::string> distinct(ports.begin(), ports.end());
    CHECK(distinct.size() == 20);  // 20 connections, one per host name
    // Serially this would take 20 timeouts (20 minutes); at once it takes the slowest connect.
    INFO("first round took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took < 30s);
    // A second round reuses the connections: each host's command arrives from the same client port.
    auto again = run_on_hosts(pool, hosts, "set -- $SSH_CONNECTION; echo $2", 20);
    REQUIRE(again.size() == 20);
    for (std::size_t i = 0; i < again.size(); ++i) {
        INFO(again[i].host);
        REQUIRE(again[i].result);
        CHECK(again[i].result->out == ports[i] + "\n");
    }
}

namespace {

// The pids owning the IPv4 TCP sockets of /proc/net/tcp that `want` accepts (local and remote
// end as "0100007F:PORT" in hex, state "01" = established), found through /proc/PID/fd.
template <class Want>
std::vector<pid_t> socket_owners(Want want) {
    std::ifstream tcp("/proc/net/tcp");
    std::string line;
    std::set<std::string> inodes;
    std::getline(tcp, line);  // header
    while (std::getline(tcp, line)) {
        std::istringstream in(line);
        std::string sl, local, remote, st, queues, timer, retr, uid, timeout, ino;
        in >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> ino;
        if (want(local, remote, st)) inodes.insert("socket:[" + ino + "]");
    }
    std::vector<pid_t> out;
    for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
        const std::string name = proc.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::error_code ec;
        for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", ec)) {
            std::error_code ec2;
            if (inodes.count(std::filesystem::read_symlink(fd.path(), ec2).string())) out.push_back(std::stoi(name));
        }
    }
    return out;
}
std::string loopback_end(int port) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0100007F:%04X", port);
    return buf;
}
// The pid owning the socket 127.0.0.1:local_port -> 127.0.0.1:remote_port, or -1.
pid_t socket_owner(int local_port, int remote_port) {
    const auto pids = socket_owners([&](const std::string& l, const std::string& r, const std::string&) {
        return l == loopback_end(local_port) && r == loopback_end(remote_port);
    });
    return pids.empty() ? -1 : pids.front();
}
// The pids owning established sockets connected to 127.0.0.1:remote_port.
std::vector<pid_t> socket_owners_to(int remote_port) {
    return socket_owners([&](const std::string&, const std::string& r, const std::string& st) {
        return r == loopback_end(remote_port) && st == "01";
    });
}

// Whether `ancestor` is pid or one of its parents.
bool descends_from(pid_t pid, pid_t ancestor) {
    for (int depth = 0; pid > 1 && depth < 64; ++depth) {
        if (pid == ancestor) return true;
        const std::string stat = sshd_test::read_text("/proc/" + std::to_string(pid) + "/stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos) return false;
        std::istringstream in(stat.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        in >> state >> ppid;
        pid = ppid;
    }
    return false;
}

std::size_t jump_temp_files() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
        if (e.path().filename().string().rfind("sigmaops-jump-", 0) == 0) ++n;
    return n;
}

}  // namespace

TEST_CASE("remote: ProxyJump through a real jump host (keys / strict host keys / clear errors)", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture target(/*with_pam=*/false), jump(/*with_pam=*/false);
    // The app's hosts.conf names the jump host (its own key, port and user) and the inner host;
    // the OpenSSH client that makes the hop learns the jump host's settings from it.
    auto write_hosts = [&](const std::string& jump_key, const std::string& proxy_jump) {
        sshd_test::write_text(target.dir + "/hosts.conf",
                              "Host jumpbox\n  HostName 127.0.0.1\n  Port " + std::to_string(jump.port) + "\n  User root\n  IdentityFile " +
                                  jump_key + "\nHost inner\n  HostName 127.0.0.1\n  Port " + std::to_string(target.port) +
                                  "\n  User root\n  IdentityFile " + target.key + "\n  ProxyJump " + proxy_jump + "\n");
    };
    const std::string jump_pin = "[127.0.0.1]:" + std::to_string(jump.port) + " " + jump.host_pub + "\n";
    ScriptedPrompter p;
    ConnectOptions o = options(target, &p, {AuthMethod::PublicKey});  // no agent: keys from IdentityFile
    o.connect_timeout = 10000ms;
    auto connect_inner = [&]() {
        auto h = resolve_host("inner", o.paths);
        REQUIRE(h);
        return SshSession::connect(*h, o);
    };
    const std::size_t temp_before = jump_temp_files();

    SECTION("the connection goes through the jump host, whose key is pinned in the app's known_hosts") {
        write_hosts(jump.key, "jumpbox");
        sshd_test::write_text(target.app_known_hosts, jump_pin, 0600);
        auto s = connect_inner();
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        auto r = (*s)->exec("echo $SSH_CONNECTION");
        REQUIRE(r);
        REQUIRE(r->ok());
        std::istringstream in(r->out);
        std::string caddr, cport, saddr, sport;
        in >> caddr >> cport >> saddr >> sport;
        REQUIRE(sport == std::to_string(target.port));
        // The target's client socket belongs to the jump host's sshd, not to this process.
        const pid_t owner = socket_owner(std::stoi(cport), target.port);
        INFO("client port " << cport << ", owner pid " << owner << ", jump sshd pid " << jump.pid);
        REQUIRE(owner > 0);
        CHECK(owner != getpid());
        CHECK(descends_from(owner, jump.pid));
        // The hop's temp file is gone once the connection is up.
        CHECK(jump_temp_files() == temp_before);
        // A user and port in the ProxyJump value win over the jump host's entry.
        write_hosts(jump.key, "root@jumpbox:" + std::to_string(jump.port));
        auto again = connect_inner();
        INFO((again ? "" : again.error().message));
        CHECK(again);
    }
    SECTION("an unknown jump host key is refused with a clear error, never asked on a terminal") {
        write_hosts(jump.key, "jumpbox");
        sshd_test::write_text(target.app_known_hosts, "", 0600);
        const std::string kh_before = sshd_test::read_text(target.known_hosts);
        auto t0 = std::chrono::steady_clock::now();
        auto s = connect_inner();
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Network);
        CHECK_THAT(s.error().message, Catch::Contains("inner (127.0.0.1:" + std::to_string(target.port) +
                                                      "): cannot connect via jump host jumpbox: "));
        CHECK_THAT(s.error().message, Catch::Contains("Host key verification failed"));
        CHECK_THAT(s.error().message, Catch::Contains("sigmaops hosts test jumpbox"));
        CHECK(std::chrono::steady_clock::now() - t0 < 8s);
        // Nothing was pinned behind the user's back, and no temp file is left.
        CHECK(sshd_test::read_text(target.app_known_hosts) == "");
        CHECK(sshd_test::read_text(target.known_hosts) == kh_before);
        CHECK(jump_temp_files() == temp_before);
        // What the hint says (`sigmaops hosts test jumpbox`: a direct connection that asks, then
        // pins into the app's known_hosts) is enough for the hop's OpenSSH client.
        ScriptedPrompter yes;
        yes.accept_host = true;
        ConnectOptions direct = o;
        direct.prompter = &yes;
        auto jh = resolve_host("jumpbox", o.paths);
        REQUIRE(jh);
        auto pinned = SshSession::connect(*jh, direct);
        INFO((pinned ? "" : pinned.error().message));
        REQUIRE(pinned);
        CHECK(yes.n_host_questions == 1);
        auto s2 = connect_inner();
        INFO((s2 ? "" : s2.error().message));
        CHECK(s2);
    }
    SECTION("a key the jump host does not accept: its refusal in the error") {
        write_hosts(jump.wrong_key, "jumpbox");
        sshd_test::write_text(target.app_known_hosts, jump_pin, 0600);
        auto s = connect_inner();
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::Network);
        CHECK_THAT(s.error().message, Catch::Contains("cannot connect via jump host jumpbox: "));
        CHECK_THAT(s.error().message, Catch::Contains("Permission denied"));
        CHECK(jump_temp_files() == temp_before);
    }
    SECTION("an unknown key of a jump host given by address and port: the hint says how to pin it") {
        write_hosts(jump.key, "root@127.0.0.1:" + std::to_string(jump.port));
        sshd_test::write_text(target.app_known_hosts, "", 0600);
        auto s = connect_inner();
        REQUIRE_FALSE(s);
        CHECK_THAT(s.error().message, Catch::Contains("Host key verification failed"));
        CHECK_THAT(s.error().message, Catch::Contains("add it as a host (`sigmaops hosts add NAME --host 127.0.0.1 --port " +
                                                      std::to_string(jump.port) + "`), then `sigmaops hosts test NAME` pins it"));
    }
    SECTION("a jump host that is not listening") {
        write_hosts(jump.key, "root@127.0.0.1:" + std::to_string(sshd_test::free_port()));
        auto s = connect_inner();
        REQUIRE_FALSE(s);
        CHECK_THAT(s.error().message, Catch::Contains("cannot connect via jump host 127.0.0.1: "));
        CHECK_THAT(s.error().message, Catch::Contains("Connection refused"));
    }
    SECTION("malformed ProxyJump values are rejected before anything runs") {
        for (const std::string bad : {"root@jumpbox:99999", "jumpbox:22x", "[::1", "@"}) {
            write_hosts(jump.key, bad);
            auto s = connect_inner();
            INFO(bad);
            REQUIRE_FALSE(s);
            CHECK(s.error().code == ErrorCode::InvalidArgument);
            CHECK_THAT(s.error().message, Catch::Contains("ProxyJump"));
            CHECK(jump_temp_files() == temp_before);
        }
    }
}

TEST_CASE("remote: ProxyJump with two hops (both from the app's hosts.conf)", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture target(/*with_pam=*/false), j1(/*with_pam=*/false), j2(/*with_pam=*/false);
    // hop1 and hop2 exist only in the app's hosts.conf (their own keys and ports): the OpenSSH
    // client that makes the hops learns them from the ssh_config the app writes for it, and so
    // does the nested client that -J (or hop2's own ProxyJump) starts for the first hop.
    auto write_hosts = [&](const std::string& hop1_jump, const std::string& hop2_jump, const std::string& inner_jump) {
        auto jump_line = [](const std::string& j) { return j.empty() ? std::string() : "  ProxyJump " + j + "\n"; };
        sshd_test::write_text(target.dir + "/hosts.conf",
                              "Host hop1\n  HostName 127.0.0.1\n  Port " + std::to_string(j1.port) + "\n  User root\n  IdentityFile " +
                                  j1.key + "\n" + jump_line(hop1_jump) + "Host hop2\n  HostName 127.0.0.1\n  Port " +
                                  std::to_string(j2.port) + "\n  User root\n  IdentityFile " + j2.key + "\n" + jump_line(hop2_jump) +
                                  "Host inner\n  HostName 127.0.0.1\n  Port " + std::to_string(target.port) +
                                  "\n  User root\n  IdentityFile " + target.key + "\n" + jump_line(inner_jump));
    };
    const std::string pin1 = "[127.0.0.1]:" + std::to_string(j1.port) + " " + j1.host_pub + "\n";
    const std::string pin2 = "[127.0.0.1]:" + std::to_string(j2.port) + " " + j2.host_pub + "\n";
    ScriptedPrompter p;
    ConnectOptions o = options(target, &p, {AuthMethod::PublicKey});
    const std::size_t temp_before = jump_temp_files();
    auto connect_inner = [&]() {
        auto h = resolve_host("inner", o.paths);
        REQUIRE(h);
        return SshSession::connect(*h, o);
    };
    // target <- hop2's sshd; hop2 <- hop1's sshd.
    auto check_chain = [&](SshSession& s) {
        auto r = s.exec("echo $SSH_CONNECTION");
        REQUIRE(r);
        std::istringstream in(r->out);
        std::string caddr, cport;
        in >> caddr >> cport;
        const pid_t to_target = socket_owner(std::stoi(cport), target.port);
        INFO("target's client owned by " << to_target << "; hop2 sshd " << j2.pid << ", hop1 sshd " << j1.pid);
        CHECK(descends_from(to_target, j2.pid));
        const auto to_hop2 = socket_owners_to(j2.port);
        CHECK(std::any_of(to_hop2.begin(), to_hop2.end(), [&](pid_t pid) { return descends_from(pid, j1.pid); }));
    };

    SECTION("ProxyJump hop1,hop2") {
        write_hosts("", "", "hop1,hop2");
        sshd_test::write_text(target.app_known_hosts, pin1 + pin2, 0600);
        auto s = connect_inner();
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        check_chain(**s);
        CHECK(jump_temp_files() == temp_before);
    }
    SECTION("a chain written per host: inner via hop2, hop2 via hop1") {
        write_hosts("", "hop1", "hop2");
        sshd_test::write_text(target.app_known_hosts, pin1 + pin2, 0600);
        auto s = connect_inner();
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        check_chain(**s);
    }
    SECTION("the first hop's unknown key is refused too (the policy reaches the nested client)") {
        write_hosts("", "", "hop1,hop2");
        sshd_test::write_text(target.app_known_hosts, pin2, 0600);
        auto s = connect_inner();
        REQUIRE_FALSE(s);
        CHECK_THAT(s.error().message, Catch::Contains("cannot connect via jump host hop2: "));
        CHECK_THAT(s.error().message, Catch::Contains("Host key verification failed"));
        CHECK_THAT(s.error().message, Catch::Contains("connect once to each jump host with `sigmaops hosts test NAME`"));
        CHECK(sshd_test::read_text(target.app_known_hosts) == pin2);
        CHECK(jump_temp_files() == temp_before);
    }
    SECTION("a loop of jump hosts is refused before any ssh starts") {
        write_hosts("hop2", "hop1", "hop2");
        auto t0 = std::chrono::steady_clock::now();
        auto s = connect_inner();
        REQUIRE_FALSE(s);
        CHECK(s.error().code == ErrorCode::InvalidArgument);
        CHECK_THAT(s.error().message, Catch::Contains("ProxyJump loop: hop2 -> hop1 -> hop2"));
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);
        CHECK(jump_temp_files() == temp_before);
    }
}

TEST_CASE("remote: no secret reaches the log", "[remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f;
    TestUser user;
    const std::string log_path = f.dir + "/sigmaops-remote.log";
    auto log_file = std::make_shared<std::ofstream>(log_path);
    auto mutex = std::make_shared<std::mutex>();
    set_log_sink([log_file, mutex](int level, std::string_view m) {
        std::lock_guard<std::mutex> lock(*mutex);
        *log_file << level << " " << m << "\n";
    }, 4 /* SSH_LOG_FUNCTIONS: everything */);
    {
        ScriptedPrompter p;
        p.password = user.password;
        p.passphrase = f.passphrase;
        REQUIRE(SshSession::connect(profile(f, TestUser::name), options(f, &p, {AuthMethod::Password})));
        REQUIRE(SshSession::connect(profile(f, TestUser::name), options(f, &p, {AuthMethod::KeyboardInteractive})));
        REQUIRE(SshSession::connect(profile(f, TestUser::name, f.enc_key), options(f, &p, {AuthMethod::PublicKey})));
        ScriptedPrompter wrong;
        wrong.password = user.password + "x";
        CHECK_FALSE(SshSession::connect(profile(f, TestUser::name), options(f, &wrong, {AuthMethod::Password})));
    }
    set_log_sink(nullptr, 0);
    log_file->close();
    const std::string text = sshd_test::read_text(log_path);
    CHECK(text.size() > 1000);  // logging really was on
    CHECK(text.find(user.password) == std::string::npos);
    CHECK(text.find(f.passphrase) == std::string::npos);
    const std::string sshd_log = sshd_test::read_text(f.log_file);
    CHECK(sshd_log.find(user.password) == std::string::npos);
    CHECK(sshd_log.find(f.passphrase) == std::string::npos);
}
