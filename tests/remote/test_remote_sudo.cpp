// sudo through the remote transport against a real OpenSSH server and the real sudo
// (tests/support/sshd_fixture.h): the test account gets a sudoers drop-in only while a test runs. Covers:
// a password rule (asked once per session through the Prompter, commands run as root), a wrong
// password (one question, a clear Auth error, no endless retries), no prompter / declined,
// NOPASSWD (never asks), and that the password is on no process's command line and in no log.
// Needs root (sshd, test account, /etc/sudoers.d); otherwise skipped.
#include <catch2/catch.hpp>

#include "remote/remote.h"
#include "sshd_fixture.h"

#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>

using namespace sigmaops::remote;
using namespace std::chrono_literals;
using sshd_test::SshdFixture;
using sshd_test::TestUser;

namespace {

// Answers sudo questions from a script and counts them; never accepts unknown host keys (the
// fixture pins the real one).
struct SudoPrompter : Prompter {
    std::string sudo_password;  // empty: declines
    int n_sudo_questions = 0, n_other_questions = 0;
    std::string last_prompt;
    bool confirm_host_key(const std::string&, int, const std::string&, const std::string&) override { return false; }
    std::optional<SecretString> ask_secret(SecretKind kind, const std::string& prompt) override {
        if (kind != SecretKind::SudoPassword) {
            ++n_other_questions;
            return std::nullopt;
        }
        ++n_sudo_questions;
        last_prompt = prompt;
        if (sudo_password.empty()) return std::nullopt;
        return SecretString(sudo_password);
    }
    void notify(const std::string&) override {}
};

// /etc/sudoers.d/sigmaops-test-<pid> for as long as this object lives. Each rule is written to a
// dotted temp name (sudo's @includedir skips names with a '.'), checked with `visudo -cf`, then
// renamed into place, so a bad rule never reaches sudo. The destructor (also on a failed REQUIRE)
// removes the file and the account's sudo timestamps.
class SudoersDropIn {
public:
    SudoersDropIn() : m_path("/etc/sudoers.d/sigmaops-test-" + std::to_string(getpid())) { forget_credentials(); }
    ~SudoersDropIn() {
        std::remove(m_path.c_str());
        std::remove(tmp().c_str());
        forget_credentials();
    }
    SudoersDropIn(const SudoersDropIn&) = delete;
    SudoersDropIn& operator=(const SudoersDropIn&) = delete;

    void set(const std::string& rule) {
        sshd_test::write_text(tmp(), rule + "\n", 0440);
        REQUIRE(sshd_test::run({"visudo", "-cf", tmp()}) == 0);
        REQUIRE(std::rename(tmp().c_str(), m_path.c_str()) == 0);
        forget_credentials();
    }

private:
    std::string tmp() const { return "/etc/sudoers.d/.sigmaops-test-" + std::to_string(getpid()) + ".tmp"; }
    static void forget_credentials() { std::remove((std::string("/run/sudo/ts/") + TestUser::name).c_str()); }
    std::string m_path;
};

// The test account, logged in with the fixture's key (no password auth: the password is only
// for sudo here).
Expected<std::unique_ptr<SshSession>> connect_user(const SshdFixture& f, Prompter* p) {
    HostProfile h;
    h.name = "testhost";
    h.hostname = "127.0.0.1";
    h.port = f.port;
    h.user = TestUser::name;
    h.identity_files = {f.key};
    ConnectOptions o;
    o.paths.ssh_config = f.dir + "/no_ssh_config";
    o.paths.app_hosts = f.dir + "/hosts.conf";
    o.paths.known_hosts = f.known_hosts;
    o.paths.app_known_hosts = f.app_known_hosts;
    o.prompter = p;
    o.auth_methods = {AuthMethod::PublicKey};
    o.agent_socket = f.dir + "/no-agent.sock";
    return SshSession::connect(h, o);
}

std::unique_ptr<SshSession> must_connect(const SshdFixture& f, Prompter* p) {
    auto s = connect_user(f, p);
    INFO((s ? "" : s.error().message));
    REQUIRE(s);
    return std::move(*s);
}

ExecOptions sudo_opts() {
    ExecOptions o;
    o.sudo = true;
    o.timeout = 10s;  // a sudo waiting for a password that never comes must not hang the test
    return o;
}

}  // namespace

// A sleep whose command line is this test process's own ("sleep 28.4242"): the check that a
// timeout left no process behind looks for exactly it, not for any `sleep 28` that another
// program on the machine (another test run) may have running.
static std::string nap(int seconds) { return "sleep " + std::to_string(seconds) + "." + std::to_string(1000 + ::getpid() % 9000); }
static std::string nap_suffix() { return "\\." + std::to_string(1000 + ::getpid() % 9000); }

TEST_CASE("remote sudo: skipped without root", "[remote][sudo]") {
    if (!sshd_test::is_root()) {
        WARN("skipped: needs root (starts sshd, test user, sudoers drop-in)");
        std::puts("skipped: needs root");
        return;
    }
    SUCCEED("running as root: the sudo tests below run");
}

TEST_CASE("remote sudo: password asked once per session, commands run as root, secret on no command line and in no log",
          "[remote][sudo][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(false);  // public-key logins only: faster sessions; sudo uses PAM by itself
    TestUser user;
    SudoersDropIn sudoers;
    sudoers.set(std::string(TestUser::name) + " ALL=(ALL) ALL");

    const std::string log_path = f.dir + "/sigmaops-remote.log";
    auto log_file = std::make_shared<std::ofstream>(log_path);
    auto mutex = std::make_shared<std::mutex>();
    set_log_sink([log_file, mutex](int level, std::string_view m) {
        std::lock_guard<std::mutex> lock(*mutex);
        *log_file << level << " " << m << "\n";
    }, 4 /* SSH_LOG_FUNCTIONS: everything */);
    struct SinkOff { ~SinkOff() { set_log_sink(nullptr, 0); } } sink_off;

    SudoPrompter p;
    p.sudo_password = user.password;
    std::string ps_out;
    {
        auto s = must_connect(f, &p);
        auto plain = s->exec("id -u");
        REQUIRE(plain);
        CHECK(plain->out == std::to_string(user.uid) + "\n");
        CHECK(p.n_sudo_questions == 0);  // nothing asked before sudo is used

        auto r1 = s->exec("id -u", sudo_opts());
        INFO((r1 ? "" : r1.error().message));
        REQUIRE(r1);
        CHECK(r1->ok());
        CHECK(r1->out == "0\n");
        CHECK(r1->err.find(user.password) == std::string::npos);
        CHECK(p.n_sudo_questions == 1);
        CHECK_THAT(p.last_prompt, Catch::Contains(std::string("sudo")) && Catch::Contains(std::string(TestUser::name)));

        // Second sudo command on the same session: no new question. It lists every process's
        // command line (the running sudo, its shell, sshd's children) while sudo holds the
        // password: the password must be on none of them.
        ExecOptions o = sudo_opts();
        o.env["SIGMAOPS_SUDO_TEST"] = "1";
        auto r2 = s->exec("id -u && ps -eo args && cat /proc/[0-9]*/cmdline | tr '\\000' ' '", o);
        INFO((r2 ? "" : r2.error().message));
        REQUIRE(r2);
        CHECK(r2->ok());
        CHECK(r2->out.rfind("0\n", 0) == 0);
        CHECK(p.n_sudo_questions == 1);
        ps_out = r2->out;
        CHECK_THAT(ps_out, Catch::Contains("sudo -S"));  // the sudo itself was listed
        CHECK(ps_out.find(user.password) == std::string::npos);

        // Exit status and output of the wrapped command come through unchanged.
        auto r3 = s->exec("echo out; echo err >&2; exit 3", sudo_opts());
        REQUIRE(r3);
        REQUIRE(r3->exit_status);
        CHECK(*r3->exit_status == 3);
        CHECK(r3->out == "out\n");
        CHECK(r3->err == "err\n");
        CHECK(p.n_sudo_questions == 1);

        // A timeout stops all of a sudo command's (root) processes, not just sudo, with no new
        // question; and a plain command's process group too under the account's dash login shell.
        ExecOptions slow_opts = sudo_opts();
        slow_opts.timeout = 500ms;
        auto slow = s->exec(nap(28) + "; true", slow_opts);
        REQUIRE(slow);
        CHECK(slow->timed_out);
        CHECK(slow->elapsed < 5s);
        slow_opts.sudo = false;
        auto slow_plain = s->exec("sh -c '" + nap(27) + "; true'", slow_opts);
        REQUIRE(slow_plain);
        CHECK(slow_plain->timed_out);
        auto left = s->exec("pgrep -a -f '^sleep 2[78]" + nap_suffix() + "$' || true");
        REQUIRE(left);
        CHECK(left->out == "");
        CHECK(p.n_sudo_questions == 1);
    }
    {
        // A new session asks again (once).
        auto s = must_connect(f, &p);
        auto r = s->exec("id -u", sudo_opts());
        REQUIRE(r);
        CHECK(r->out == "0\n");
        CHECK(p.n_sudo_questions == 2);
    }
    CHECK(p.n_other_questions == 0);

    set_log_sink(nullptr, 0);
    log_file->close();
    const std::string text = sshd_test::read_text(log_path);
    CHECK(text.size() > 1000);  // logging really was on
    CHECK(text.find(user.password) == std::string::npos);
    CHECK(sshd_test::read_text(f.log_file).find(user.password) == std::string::npos);
}

TEST_CASE("remote sudo: wrong password, no prompter, declined", "[remote][sudo][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(false);
    TestUser user;
    SudoersDropIn sudoers;
    sudoers.set(std::string(TestUser::name) + " ALL=(ALL) ALL");

    SECTION("wrong password: one question, a clear error, no endless retry") {
        SudoPrompter p;
        p.sudo_password = user.password + "-wrong";
        auto s = must_connect(f, &p);
        const auto t0 = std::chrono::steady_clock::now();
        auto r = s->exec("id -u", sudo_opts());
        const auto took = std::chrono::steady_clock::now() - t0;
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Auth);
        CHECK_THAT(r.error().message, Catch::Contains("sudo password rejected"));
        CHECK(r.error().message.find(p.sudo_password) == std::string::npos);
        CHECK(p.n_sudo_questions == 1);
        CHECK(took < 8s);
        // The session still works, and the next sudo command asks again (the user may have
        // mistyped) instead of reusing the rejected password.
        auto plain = s->exec("echo alive");
        REQUIRE(plain);
        CHECK(plain->out == "alive\n");
        p.sudo_password = user.password;
        auto r2 = s->exec("id -u", sudo_opts());
        INFO((r2 ? "" : r2.error().message));
        REQUIRE(r2);
        CHECK(r2->out == "0\n");
        CHECK(p.n_sudo_questions == 2);
    }
    SECTION("no prompter: a clear error, nothing run") {
        auto s = must_connect(f, nullptr);
        auto r = s->exec("id -u", sudo_opts());
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Auth);
        CHECK_THAT(r.error().message, Catch::Contains("sudo needs a password"));
    }
    SECTION("declined: Cancelled") {
        SudoPrompter p;  // empty password: declines
        auto s = must_connect(f, &p);
        auto r = s->exec("id -u", sudo_opts());
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Cancelled);
        CHECK(p.n_sudo_questions == 1);
    }
}

TEST_CASE("remote sudo: NOPASSWD never asks", "[remote][sudo][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(false);
    TestUser user;
    SudoersDropIn sudoers;
    sudoers.set(std::string(TestUser::name) + " ALL=(ALL) NOPASSWD: ALL");

    SudoPrompter p;
    p.sudo_password = user.password;
    auto s = must_connect(f, &p);
    for (int i = 0; i < 2; ++i) {
        auto r = s->exec("id -u", sudo_opts());
        INFO((r ? "" : r.error().message));
        REQUIRE(r);
        CHECK(r->out == "0\n");
    }
    CHECK(p.n_sudo_questions == 0);
    // A timeout stops the command although it runs as root and the login is not.
    ExecOptions o = sudo_opts();
    o.timeout = 500ms;
    auto slow = s->exec(nap(30), o);
    REQUIRE(slow);
    CHECK(slow->timed_out);
    CHECK_FALSE(slow->ok());
    CHECK(slow->elapsed < 5s);
    auto left = s->exec("pgrep -a -f '^sleep 30" + nap_suffix() + "$' || true");
    REQUIRE(left);
    CHECK(left->out == "");
    // Without any prompter too.
    auto s2 = must_connect(f, nullptr);
    auto r = s2->exec("id -u", sudo_opts());
    REQUIRE(r);
    CHECK(r->out == "0\n");
}
