// Remote runs (agents/commands Runner over agents/remote) against the test suite's real sshd
// (tests/support/sshd_fixture.h): output streams as it comes, cancel stops the remote process,
// every run is recorded in a real SQLite history file, and a sudo run asks the password once
// through the Prompter, with the password nowhere in the output, the history file or its WAL.
// Needs root (sshd, test account, a sudoers drop-in); otherwise skipped.
#include <catch2/catch.hpp>

#include "commands/commands.h"
#include "commands_test_util.h"
#include "sshd_fixture.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace commands_test;
using namespace std::chrono_literals;
using sshd_test::SshdFixture;
using sshd_test::TestUser;
namespace remote = sigmaops::remote;
namespace history = sigmaops::history;

namespace {

using Clock = std::chrono::steady_clock;

// Answers sudo questions from a script and counts them; never accepts an unknown host key
// (the fixture pins the real one).
struct SudoPrompter : remote::Prompter {
    std::string sudo_password;
    int n_sudo_questions = 0, n_other_questions = 0;
    bool confirm_host_key(const std::string&, int, const std::string&, const std::string&) override { return false; }
    std::optional<remote::SecretString> ask_secret(remote::SecretKind kind, const std::string&) override {
        if (kind != remote::SecretKind::SudoPassword) {
            ++n_other_questions;
            return std::nullopt;
        }
        ++n_sudo_questions;
        if (sudo_password.empty()) return std::nullopt;
        return remote::SecretString(sudo_password);
    }
    void notify(const std::string&) override {}
};

// /etc/sudoers.d/sigmaops-cmdtest-<pid> while it lives (checked with visudo first).
struct SudoersDropIn {
    std::string path = "/etc/sudoers.d/sigmaops-cmdtest-" + std::to_string(getpid());
    explicit SudoersDropIn(const std::string& rule) {
        const std::string tmp = "/etc/sudoers.d/.sigmaops-cmdtest-" + std::to_string(getpid()) + ".tmp";
        sshd_test::write_text(tmp, rule + "\n", 0440);
        REQUIRE(sshd_test::run({"visudo", "-cf", tmp}) == 0);
        REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
        forget();
    }
    ~SudoersDropIn() {
        std::remove(path.c_str());
        forget();
    }
    static void forget() { std::remove((std::string("/run/sudo/ts/") + TestUser::name).c_str()); }
};

// Connect options pointing at the fixture: hosts "box-root" and "box-user" in a hosts.conf in
// `conf_dir` (not the fixture's directory: add_host makes its directory private, and sshd reads
// authorized_keys from the fixture's as the test account).
remote::ConnectOptions connect_options(const SshdFixture& f, remote::Prompter* p, const std::string& conf_dir) {
    remote::ConnectOptions o;
    o.paths.ssh_config = f.dir + "/no_ssh_config";
    o.paths.app_hosts = conf_dir + "/hosts.conf";
    o.paths.known_hosts = f.known_hosts;
    o.paths.app_known_hosts = f.app_known_hosts;
    o.prompter = p;
    o.auth_methods = {remote::AuthMethod::PublicKey};
    o.agent_socket = f.dir + "/no-agent.sock";
    for (const auto& [name, user] : {std::pair<std::string, std::string>{"box-root", "root"}, {"box-user", TestUser::name}}) {
        remote::HostProfile h;
        h.name = name;
        h.hostname = "127.0.0.1";
        h.port = f.port;
        h.user = user;
        h.identity_files = {f.key};
        REQUIRE(remote::add_host(h, o.paths));
    }
    return o;
}

sigmaops::Expected<RunResult> approve_and_run(Runner& runner, const std::string& text, const std::string& host,
                                              const RunOptions& o = {}) {
    Proposal p = make_proposal(text, host, Origin::Model);
    ScriptedConfirmer c = needs_typed_host(p.risk()) ? types(host) : says_yes();
    Verdict v = confirm(p, c);
    REQUIRE(v.approved());
    return runner.run(p, std::move(*v.approval), o);
}

} // namespace

TEST_CASE("commands remote: output streams, the run is recorded, cancel stops the remote process",
          "[commands][remote][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(false);
    TempDir dir;
    SudoPrompter prompter;
    auto db = history::History::open(dir / "history.db");
    REQUIRE(db);
    RunnerOptions ro;
    ro.history = db->get();
    ro.prompter = &prompter;
    ro.connect = connect_options(f, &prompter, dir.path);
    Runner runner(ro);

    // Streaming: the first line arrives while the command still runs.
    std::mutex m;
    std::string seen;
    Clock::time_point first{};
    RunOptions o;
    o.on_output = [&](Stream s, std::string_view text) {
        std::lock_guard<std::mutex> lock(m);
        if (s == Stream::Stdout && seen.empty()) first = Clock::now();
        if (s == Stream::Stdout) seen += text;
        return true;
    };
    const auto t0 = Clock::now();
    auto r = approve_and_run(runner, "for i in 1 2 3; do echo $i; sleep 0.5; done; printf '\\033[1mdone\\033[0m\\n' >&2", "box-root", o);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(r->host == "box-root");
    CHECK(seen == "1\n2\n3\n");
    CHECK(r->out == "1\n2\n3\n");
    CHECK(r->err == "done\n");                // escape sequences stripped from remote output too
    CHECK(first - t0 < Clock::now() - t0 - 700ms);
    REQUIRE(r->history_id > 0);

    // Cancel mid-way: the remote sleeper is gone afterwards.
    const std::string tag = std::to_string(1000 + getpid() % 9000);
    std::atomic<bool> cancel{false};
    RunOptions oc;
    oc.cancel = &cancel;
    std::atomic<bool> started{false};
    oc.on_output = [&](Stream, std::string_view text) {
        if (text.find("started") != std::string_view::npos) started = true;
        return true;
    };
    std::thread stopper([&] {
        const auto until = Clock::now() + 15s;
        while (!started && Clock::now() < until) std::this_thread::sleep_for(10ms);
        std::this_thread::sleep_for(200ms);
        cancel = true;
    });
    const auto t1 = Clock::now();
    auto rc = approve_and_run(runner, "echo started; sleep 40." + tag + "; echo finished", "box-root", oc);
    stopper.join();
    INFO((rc ? "" : rc.error().message));
    REQUIRE(rc);
    CHECK(rc->cancelled);
    CHECK(rc->out == "started\n");
    CHECK(Clock::now() - t1 < 10s);
    auto left = approve_and_run(runner, "pgrep -a -f '^sleep 40\\." + tag + "$' || echo none", "box-root");
    REQUIRE(left);
    CHECK(left->out == "none\n");

    // All three runs are in the history file, with who approved them and their output.
    auto db2 = history::History::open(dir / "history.db");
    REQUIRE(db2);
    auto rows = (*db2)->commands_on("box-root", 0, 0);
    REQUIRE(rows);
    REQUIRE(rows->size() == 3);
    const history::Command& cancelled_row = (*rows)[1];   // newest first
    CHECK_THAT(cancelled_row.text, Catch::StartsWith("echo started; sleep 40."));
    CHECK_FALSE(cancelled_row.exit_code);
    CHECK(cancelled_row.stdout_text == "started\n");
    const history::Command& first_row = (*rows)[2];
    CHECK(first_row.id == r->history_id);
    CHECK(first_row.stdout_text == "1\n2\n3\n");
    REQUIRE(first_row.exit_code);
    CHECK(*first_row.exit_code == 0);
    CHECK_THAT(first_row.approved_by, Catch::StartsWith(current_user_name() + " ("));
    CHECK(prompter.n_sudo_questions == 0);
    CHECK(prompter.n_other_questions == 0);
}

TEST_CASE("commands remote: sudo asks the password once through the Prompter and it is recorded nowhere",
          "[commands][remote][sudo][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(false);
    TestUser user;
    SudoersDropIn sudoers(std::string(TestUser::name) + " ALL=(ALL) ALL");
    TempDir dir;
    SudoPrompter prompter;
    prompter.sudo_password = user.password;
    auto db = history::History::open(dir / "history.db");
    REQUIRE(db);
    RunnerOptions ro;
    ro.history = db->get();
    ro.prompter = &prompter;
    ro.connect = connect_options(f, &prompter, dir.path);
    Runner runner(ro);

    // `sudo CMD` from the model: sudo is lifted into the run (the password goes through the
    // Prompter), the approval covers the sudo.
    Proposal p = make_proposal("sudo id -u", "box-user", Origin::Model);
    REQUIRE(p.sudo);
    ScriptedConfirmer yes = says_yes();
    Verdict v = confirm(p, yes);
    REQUIRE(v.approved());
    REQUIRE(v.approval->sudo());
    auto r1 = runner.run(p, std::move(*v.approval));
    INFO((r1 ? "" : r1.error().message));
    REQUIRE(r1);
    CHECK(r1->ok());
    CHECK(r1->out == "0\n");
    CHECK(prompter.n_sudo_questions == 1);

    // A second sudo run (a command that would print its input and every command line) does not
    // ask again; the password is in none of it.
    auto r2 = approve_and_run(runner, "sudo sh -c 'cat; id -u; ps -eo args'", "box-user");
    INFO((r2 ? "" : r2.error().message));
    REQUIRE(r2);
    CHECK(r2->ok());
    CHECK(prompter.n_sudo_questions == 1);
    CHECK(r2->out.find(user.password) == std::string::npos);
    CHECK(r2->err.find(user.password) == std::string::npos);
    CHECK_THAT(r2->out, Catch::Contains("sudo -S"));

    // Not in history: neither the rows nor the bytes of the database and its WAL.
    auto rows = (*db)->commands_on("box-user", 0, 0);
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[1].text == "sudo id -u");
    for (const auto& row : *rows) {
        CHECK(row.text.find(user.password) == std::string::npos);
        CHECK(row.stdout_text.find(user.password) == std::string::npos);
        CHECK(row.stderr_text.find(user.password) == std::string::npos);
        CHECK(row.approved_by.find(user.password) == std::string::npos);
    }
    for (const std::string file : {dir / "history.db", dir / "history.db-wal"}) {
        const std::string bytes = read_file(file);
        INFO(file);
        CHECK(bytes.find(user.password) == std::string::npos);
    }
}

TEST_CASE("commands remote: a sudo password that is not given means nothing runs", "[commands][remote][sudo][sshd]") {
    SSHD_TEST_NEEDS_ROOT();
    SshdFixture f(false);
    TestUser user;
    SudoersDropIn sudoers(std::string(TestUser::name) + " ALL=(ALL) ALL");
    TempDir dir;
    SudoPrompter prompter;   // declines the question
    RunnerOptions ro;
    ro.prompter = &prompter;
    ro.connect = connect_options(f, &prompter, dir.path);
    Runner runner(ro);
    const std::string marker = "/tmp/sigmaops-cmdtest-sudo-" + std::to_string(getpid());
    auto r = approve_and_run(runner, "sudo touch " + marker, "box-user");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == sigmaops::ErrorCode::Cancelled);
    CHECK(prompter.n_sudo_questions == 1);
    CHECK_FALSE(exists(marker));
}
