// Local runs (agents/commands Runner): real bash in its own session and process group, output
// streamed as it comes and cleaned of escape sequences, exit codes and signals, cancel (Ctrl-C)
// and timeout stopping the whole group (TERM, then KILL for what ignores it), and every run
// recorded in a real SQLite history file with who approved it.
#include <catch2/catch.hpp>

#include "commands/commands.h"
#include "commands_internal.h"
#include "commands_test_util.h"
#include "sshd_fixture.h"

#include <grp.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace commands_test;
using namespace std::chrono_literals;
using sigmaops::shell::Risk;
namespace history = sigmaops::history;

namespace {

using Clock = std::chrono::steady_clock;

// Confirms `text` with a scripted yes (or the typed host name when needed) and runs it.
sigmaops::Expected<RunResult> approve_and_run(Runner& runner, const std::string& text, const RunOptions& o = {}) {
    Proposal p = make_proposal(text, "", Origin::User);
    ScriptedConfirmer c = needs_typed_host(p.risk()) ? types(local_host_name()) : says_yes();
    Verdict v = confirm(p, c);
    REQUIRE(v.approved());
    return runner.run(p, std::move(*v.approval), o);
}

// Output chunks with the time each arrived.
struct Recorder {
    std::mutex m;
    std::string out, err;
    std::vector<std::pair<Clock::time_point, std::string>> chunks;
    OutputCallback callback() {
        return [this](Stream s, std::string_view text) {
            std::lock_guard<std::mutex> lock(m);
            (s == Stream::Stdout ? out : err) += text;
            chunks.emplace_back(Clock::now(), std::string(text));
            return true;
        };
    }
    bool saw(const std::string& s) {
        std::lock_guard<std::mutex> lock(m);
        return out.find(s) != std::string::npos;
    }
};

pid_t read_pid(const std::string& path) {
    for (int i = 0; i < 200; ++i) {
        const std::string s = read_file(path);
        if (!s.empty() && s.back() == '\n') return pid_t(std::stol(s));
        std::this_thread::sleep_for(10ms);
    }
    return -1;
}

} // namespace

TEST_CASE("commands local: output streams as it comes, exit code and stderr kept", "[commands][local]") {
    Runner runner{RunnerOptions{}};
    Recorder rec;
    RunOptions o;
    o.on_output = rec.callback();
    const auto t0 = Clock::now();
    auto r = approve_and_run(runner, "for i in 1 2 3; do echo $i; sleep 0.4; done; echo oops >&2; exit 7", o);
    REQUIRE(r);
    REQUIRE(r->exit_code);
    CHECK(*r->exit_code == 7);
    CHECK_FALSE(r->ok());
    CHECK(r->out == "1\n2\n3\n");
    CHECK(r->err == "oops\n");
    CHECK(rec.out == "1\n2\n3\n");
    CHECK(rec.err == "oops\n");
    CHECK(r->host == "localhost");
    // Streamed: "1" arrived long before the command ended (it sleeps 1.2 s after printing it),
    // however slowly the loaded machine started bash.
    const auto t_end = Clock::now();
    REQUIRE_FALSE(rec.chunks.empty());
    CHECK(rec.chunks.front().second.rfind("1", 0) == 0);
    CHECK(t_end - rec.chunks.front().first >= 1000ms);
    CHECK(rec.chunks.front().first >= t0);
    CHECK(r->elapsed >= 1100ms);
}

TEST_CASE("commands local: escape sequences and control bytes never reach the screen", "[commands][local]") {
    Runner runner{RunnerOptions{}};
    Recorder rec;
    RunOptions o;
    o.on_output = rec.callback();
    // Colours, a title-setting OSC, clear-screen, a bell, CRLF, invalid UTF-8, an 8-bit CSI; the
    // printf splits an escape sequence across two writes (and pipe reads) on purpose.
    auto r = approve_and_run(runner,
                             "printf '\\033[31mred\\033[0m\\r\\n'; printf '\\033]0;pwned\\007title\\n'; "
                             "printf '\\033[2Jclear\\a\\n'; printf 'bad \\377 utf8 \\302\\233 c1\\n'; "
                             "printf '\\033['; sleep 0.2; printf '1mbold\\033[0m\\n'",
                             o);
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(rec.out == "red\ntitle\nclear\nbad \xEF\xBF\xBD utf8  c1\nbold\n");
    CHECK(r->out == rec.out);
    CHECK(clean_output("a\rb") == "a\nb");
    CHECK(clean_output("\x1bP1$r\x1b\\x") == "x");
}

TEST_CASE("commands local: cancel (Ctrl-C) stops the whole process group", "[commands][local][cancel]") {
    TempDir dir;
    Runner runner{RunnerOptions{}};
    Recorder rec;
    std::atomic<bool> cancel{false};
    RunOptions o;
    o.cancel = &cancel;
    o.on_output = rec.callback();
    o.kill_grace = 500ms;
    const std::string pidfile = dir / "pid";
    // bash, a background sleeper in the same group, and a child that ignores SIGTERM.
    const std::string text = "echo $$ > " + pidfile + "; sleep 60 & (trap '' TERM; sleep 60; echo survived) & "
                             "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 1; done";
    std::thread stopper([&] {
        const auto until = Clock::now() + 10s;
        while (!rec.saw("2\n") && Clock::now() < until) std::this_thread::sleep_for(10ms);
        cancel = true;   // what the CLI's SIGINT handler does
    });
    const auto t0 = Clock::now();
    auto r = approve_and_run(runner, text, o);
    stopper.join();
    REQUIRE(r);
    CHECK(r->cancelled);
    CHECK_FALSE(r->timed_out);
    CHECK_FALSE(r->exit_code);
    CHECK(r->signal == "TERM");
    CHECK(r->out.rfind("1\n2\n", 0) == 0);
    CHECK(r->out.find("8") == std::string::npos);
    CHECK(r->out.find("survived") == std::string::npos);
    CHECK(Clock::now() - t0 < 5s);
    const pid_t pgid = read_pid(pidfile);
    REQUIRE(pgid > 0);
    CHECK(getpgid(pgid) == -1);               // bash itself is gone
    CHECK_FALSE(group_alive(pgid));           // and so is every process it started
}

TEST_CASE("commands local: a timeout stops the group, a command gets no terminal and no input", "[commands][local]") {
    TempDir dir;
    Runner runner{RunnerOptions{}};
    RunOptions o;
    o.timeout = 500ms;
    o.kill_grace = 300ms;
    const std::string pidfile = dir / "pid";
    auto r = approve_and_run(runner, "echo $$ > " + pidfile + "; trap '' TERM; sleep 30", o);
    REQUIRE(r);
    CHECK(r->timed_out);
    CHECK(r->signal == "KILL");               // it ignored TERM
    CHECK(r->elapsed < 3s);
    const pid_t pgid = read_pid(pidfile);
    REQUIRE(pgid > 0);
    CHECK_FALSE(group_alive(pgid));

    // stdin is /dev/null (a command waiting for input ends at once), and there is no
    // controlling terminal to ask anything on.
    auto in = approve_and_run(runner, "cat; echo read-done; (exec 3</dev/tty) 2>/dev/null && echo has-tty || echo no-tty");
    REQUIRE(in);
    CHECK(in->out == "read-done\nno-tty\n");
}

TEST_CASE("commands local: runs and refusals are recorded in a real history file", "[commands][local][history]") {
    TempDir dir;
    auto db = history::History::open(dir / "history.db");
    REQUIRE(db);
    RunnerOptions ro;
    ro.history = db->get();
    Runner runner(ro);

    Proposal p = make_proposal("echo hello; echo warn >&2; exit 3", "", Origin::Model, "says hello");
    ScriptedConfirmer yes = says_yes();
    Verdict v = confirm(p, yes);
    REQUIRE(v.approved());
    auto r = runner.run(p, std::move(*v.approval));
    REQUIRE(r);
    REQUIRE(r->history_id > 0);

    Proposal d = make_proposal("rm -rf " + dir.path + "/nothing", "", Origin::Model);
    ScriptedConfirmer wrong = types("not-this-host");
    Verdict no = confirm(d, wrong);
    REQUIRE_FALSE(no.approved());
    auto declined_id = record_declined(**db, d, no.declined);
    REQUIRE(declined_id);

    // Read back through a second connection to the same file.
    auto db2 = history::History::open(dir / "history.db");
    REQUIRE(db2);
    auto row = (*db2)->command(r->history_id);
    REQUIRE(row);
    CHECK(row->host == "localhost");
    CHECK(row->text == p.text);
    CHECK(row->risk == history::Risk::ReadOnly);
    CHECK_THAT(row->approved_by, Catch::StartsWith(current_user_name() + " (read-only"));
    CHECK_THAT(row->approved_by, Catch::Contains("proposed by the model"));
    CHECK_THAT(row->approved_by, Catch::Contains("; approved " + history::format_utc(row->started_ms).substr(0, 10)));
    REQUIRE(row->exit_code);
    CHECK(*row->exit_code == 3);
    CHECK(row->stdout_text == "hello\n");
    CHECK(row->stderr_text == "warn\n");
    CHECK(row->started_ms > 0);

    auto refused = (*db2)->command(*declined_id);
    REQUIRE(refused);
    CHECK(refused->approved_by.empty());
    CHECK_FALSE(refused->exit_code);
    CHECK(refused->risk == history::Risk::High);
    CHECK_THAT(refused->stderr_text, Catch::Contains("not run: declined: the host name typed"));
    auto all = (*db2)->commands_on("localhost", 0, 0);
    REQUIRE(all);
    CHECK(all->size() == 2);
}

TEST_CASE("commands local: sudo as a normal user asks the password once through the Prompter", "[commands][local][sudo]") {
    if (geteuid() != 0) {
        WARN("skipped: needs root (test account, sudoers drop-in)");
        std::puts("skipped: needs root");
        return;
    }
    sshd_test::TestUser user;
    const std::string drop_in = "/etc/sudoers.d/sigmaops-cmdlocal-" + std::to_string(getpid());
    {
        const std::string tmp = "/etc/sudoers.d/.sigmaops-cmdlocal.tmp";
        sshd_test::write_text(tmp, std::string(sshd_test::TestUser::name) + " ALL=(ALL) ALL\n", 0440);
        REQUIRE(sshd_test::run({"visudo", "-cf", tmp}) == 0);
        REQUIRE(std::rename(tmp.c_str(), drop_in.c_str()) == 0);
    }
    struct Remove { std::string path; ~Remove() { std::remove(path.c_str()); } } remove_drop_in{drop_in};
    TempDir dir;
    chmod(dir.path.c_str(), 0777);
    const std::string report = dir / "report";

    // The runs happen in a child that became the test account: a normal user whose sudo needs
    // its password. It writes what it saw to `report`.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::ofstream out(report);
        if (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0) _exit(3);
        struct Asker : sigmaops::remote::Prompter {
            std::string pw;
            int n = 0;
            bool confirm_host_key(const std::string&, int, const std::string&, const std::string&) override { return false; }
            std::optional<sigmaops::remote::SecretString> ask_secret(sigmaops::remote::SecretKind, const std::string&) override {
                ++n;
                return sigmaops::remote::SecretString(pw);
            }
            void notify(const std::string&) override {}
        } asker;
        asker.pw = user.password;
        auto db = sigmaops::history::History::open(dir / "history.db");
        if (!db) _exit(4);
        RunnerOptions ro;
        ro.prompter = &asker;
        ro.history = db->get();
        Runner runner(ro);
        for (const char* text : {"sudo id -u", "sudo sh -c 'cat; id -u; ps -eo args'"}) {
            Proposal p = make_proposal(text, "", Origin::Model);
            ScriptedConfirmer yes = says_yes();
            Verdict v = confirm(p, yes);
            if (!v.approved()) _exit(5);
            auto r = runner.run(p, std::move(*v.approval));
            out << "sudo=" << p.sudo << " ok=" << (r && r->ok()) << " questions=" << asker.n << "\n";
            if (r) out << r->out << "---\n" << r->err << "===\n";
            else out << "error: " << r.error().message << "\n";
        }
        out.close();
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    const std::string seen = read_file(report);
    INFO(seen);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    CHECK_THAT(seen, Catch::StartsWith("sudo=1 ok=1 questions=1\n0\n---\n===\n"));
    CHECK_THAT(seen, Catch::Contains("sudo=1 ok=1 questions=1\n0\n"));          // the second run: no new question
    CHECK(seen.find("questions=2") == std::string::npos);
    CHECK_THAT(seen, Catch::Contains("sudo -S -k -p  -- bash -c"));                // ps saw the sudo...
    CHECK(seen.find(user.password) == std::string::npos);                          // ...and not the password
    const std::string db_bytes = read_file(dir / "history.db") + read_file(dir / "history.db-wal");
    CHECK(db_bytes.find(user.password) == std::string::npos);
    CHECK(db_bytes.find("sudo id -u") != std::string::npos);
}
