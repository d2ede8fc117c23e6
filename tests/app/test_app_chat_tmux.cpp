// `sigmaops chat` as a person at a terminal meets it, driven through tmux (a real pseudo-terminal,
// real keys): a reply streams and grows on the screen, Ctrl-C stops it and the chat goes on with
// the next question; /cmd and /run ask on the terminal and run only on "y" (a marker file proves
// it; "n" and Ctrl-C at the question run nothing); the input history comes back with Up after a
// restart (a secret-looking line never kept, the file mode 0600); risk names are coloured, and
// plain with NO_COLOR; Ctrl-C twice at the prompt leaves. The shipped model
// (resources/models/sigma-ops-nano.gguf) answers at a high temperature so that a reply is long
// enough to be stopped. Each test has its own HOME, XDG directories and tmux server.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <vector>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs a shell command, returns its stdout (and its exit status through `rc`).
std::string sh(const std::string& cmd, int* rc = nullptr) {
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return {};
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

bool have_tmux() {
    int rc = 0;
    sh("tmux -V >/dev/null 2>&1", &rc);
    return rc == 0;
}

std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
    return n;
}

// One tmux server (its own socket) with one window running the chat.
class Tmux {
public:
    // The server's socket lives in the test's own directory (removed with it), not in /tmp/tmux-UID.
    explicit Tmux(fs::path dir) : m_dir(std::move(dir)) {
        m_socket = "tmux-" + std::to_string(++s_serial);
    }
    ~Tmux() { sh(tmux("kill-server") + " >/dev/null 2>&1"); }

    // Starts `argv` (no shell in between: Ctrl-C reaches the chat alone) with only `env` in its
    // environment, in a detached 160x50 window that stays when it ends (exit_status()).
    void start(const std::vector<std::string>& env, const std::vector<std::string>& argv) {
        const fs::path conf = m_dir / (m_socket + ".conf");
        std::ofstream(conf) << "set -g remain-on-exit on\nset -g history-limit 5000\n";
        std::string cmd = "new-session -d -s chat -x 160 -y 50 -- env -i PATH=/usr/bin:/bin LANG=C.UTF-8 TERM=xterm-256color";
        for (const std::string& e : env) cmd += " " + quote(e);
        for (const std::string& a : argv) cmd += " " + quote(a);
        int rc = 0;
        sh(tmux("-f " + quote(conf.string()) + " " + cmd), &rc);
        REQUIRE(rc == 0);
    }
    // The chat's exit status once it has ended; -1 while it runs.
    int exit_status() const {
        const std::string st = sh(tmux("display-message -p -t chat '#{pane_dead}:#{pane_dead_status}'"));
        if (st.rfind("1:", 0) != 0) return -1;
        return std::atoi(st.c_str() + 2);
    }
    int wait_exit(std::chrono::milliseconds limit = 10000ms) {
        const auto end = std::chrono::steady_clock::now() + limit;
        int st = -1;
        while ((st = exit_status()) < 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(40ms);
        if (st < 0) FAIL_CHECK("the chat did not end; the screen:\n" << screen());
        return st;
    }
    void stop() { sh(tmux("kill-session -t chat") + " >/dev/null 2>&1"); }
    // The whole window, wrapped lines joined; `escapes` keeps colour as escape sequences.
    std::string screen(bool escapes = false) const {
        return sh(tmux(std::string("capture-pane -p -J ") + (escapes ? "-e " : "") + "-S -5000 -t chat"));
    }
    void type(const std::string& text) { sh(tmux("send-keys -t chat -l " + quote(text))); }
    void key(const std::string& name) { sh(tmux("send-keys -t chat " + name)); }
    // Polls the screen until `ok` holds; fails the test with the screen after `limit`.
    std::string wait(const std::function<bool(const std::string&)>& ok, const char* what,
                     std::chrono::milliseconds limit = 15000ms) {
        const auto end = std::chrono::steady_clock::now() + limit;
        std::string s;
        for (;;) {
            s = screen();
            if (ok(s)) return s;
            if (std::chrono::steady_clock::now() > end) break;
            std::this_thread::sleep_for(40ms);
        }
        FAIL_CHECK("timed out waiting for " << what << "; the screen:\n" << s);
        return s;
    }
    std::string wait_for(const std::string& text, std::size_t times = 1, std::chrono::milliseconds limit = 15000ms) {
        return wait([&](const std::string& s) { return count(s, text) >= times; }, text.c_str(), limit);
    }

private:
    std::string tmux(const std::string& args) const { return "tmux -S " + quote((m_dir / m_socket).string()) + " " + args; }
    fs::path m_dir;
    std::string m_socket;
    static inline int s_serial = 0;
};

// The text after the last "sigma> " on the screen, blanks removed (what the reply has shown).
std::string reply_so_far(const std::string& screen) {
    const std::size_t at = screen.rfind("sigma> ");
    if (at == std::string::npos) return {};
    std::string out;
    for (char c : screen.substr(at + 7))
        if (c != ' ' && c != '\n') out += c;
    return out;
}

struct Private {
    fs::path dir;
    std::vector<std::string> env;
    Private() {
        dir = fs::temp_directory_path() / ("sigmaops-chat-tmux-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir / "home");
        env = {"HOME=" + (dir / "home").string(), "XDG_DATA_HOME=" + (dir / "data").string(),
               "XDG_CONFIG_HOME=" + (dir / "config").string(), "XDG_CACHE_HOME=" + (dir / "cache").string(),
               std::string("USER=") + (std::getenv("USER") ? std::getenv("USER") : "root")};
    }
    ~Private() { fs::remove_all(dir); }
};

} // namespace

TEST_CASE("chat in a terminal: streaming, Ctrl-C, /run confirmed both ways, history across a restart", "[app][chat][tmux]") {
    if (!have_tmux()) {
        SUCCEED("skipped: tmux is not installed (apt-get install tmux)");
        std::puts("skipped: tmux is not installed");
        return;
    }
    const std::string bin = std::string(SIGMAOPS_BINARY_DIR) + "/app/sigmaops";
    const std::string model = std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf";
    REQUIRE(fs::exists(bin));
    if (!fs::exists(model)) {
        SUCCEED("skipped: the shipped model is missing");
        std::puts("skipped: resources/models/sigma-ops-nano.gguf is missing");
        return;
    }
    Private p;
    const fs::path marker = p.dir / "marker";
    // A high temperature over the whole vocabulary: the end token is unlikely, replies run long.
    const std::vector<std::string> chat = {bin,     "chat",    "-m",      model,   "--device", "cpu", "-n", "200", "--temp",
                                           "5",     "--top-k", "0",       "--top-p", "1",      "--min-p", "0", "--seed", "7"};

    Tmux t(p.dir);
    t.start(p.env, chat);
    t.wait_for("you> ");

    // A reply streams: the screen shows part of it, then more of it, before it ends.
    t.type("what is an inode");
    t.key("Enter");
    const std::string first = reply_so_far(t.wait([](const std::string& s) { return reply_so_far(s).size() >= 2; }, "the first tokens"));
    t.wait([&](const std::string& s) { return reply_so_far(s).size() > first.size(); }, "the reply to grow");
    // Ctrl-C mid-answer: the reply stops, the prompt comes back, the chat goes on.
    t.key("C-c");
    std::string s = t.wait_for("stopped]");
    CHECK(count(s, " tok/s") == 1);
    t.wait([](const std::string& s) { return s.find("you> ", s.find("stopped]")) != std::string::npos; }, "the prompt after Ctrl-C");
    t.type("what is swap");
    t.key("Enter");
    s = t.wait_for(" tok/s", 2, 30000ms);
    CHECK(count(s, "stopped]") == 1);   // the second reply ended by itself
    t.wait_for("you> ", 3);

    // Each step below waits for one more of what it expects than the screen held before it.
    auto step = [&](const std::function<void()>& act, const std::string& expect, std::chrono::milliseconds limit = 15000ms) {
        const std::size_t before = count(t.screen(), expect);
        act();
        return t.wait_for(expect, before + 1, limit);
    };
    auto line = [&](const std::string& text) { return [&t, text] { t.type(text); t.key("Enter"); }; };
    auto key = [&](const std::string& name) { return [&t, name] { t.key(name); }; };

    // /cmd REQUEST: the command agent proposes (the model, reused from the chat) and asks; "n"
    // runs nothing. (Which command the model picks is its own; /run below proves what runs.)
    std::size_t not_run = count(t.screen(), "not run: ");
    std::size_t prompts = count(t.screen(), "you> ");
    line("/cmd list the files in " + p.dir.string() + " sorted by size")();
    s = t.wait([](const std::string& s) {
        return s.find("Run it? [y/N]") != std::string::npos || s.find("Type the host name") != std::string::npos ||
               s.find("placeholders") != std::string::npos;
    }, "the /cmd proposal", 30000ms);
    CHECK(s.find("command: ") != std::string::npos);
    CHECK(count(s, "device: ") <= 1);   // the chat's model, not loaded again
    if (s.find("placeholders") == std::string::npos) line("n")();
    t.wait_for("not run: ", ++not_run);
    t.wait_for("you> ", ++prompts);

    // /run asks on the terminal: "n" runs nothing, "y" runs it.
    s = step(line("/run touch " + marker.string()), "Run it? [y/N]");
    CHECK(s.find("changes-files") != std::string::npos);
    // The risk is coloured (stdout is a terminal, NO_COLOR unset).
    CHECK(t.screen(true).find("33mchanges-files") != std::string::npos);
    step(line("n"), "not run: declined");
    CHECK_FALSE(fs::exists(marker));
    t.wait_for("you> ", ++prompts);
    // Ctrl-C at the question: not run, and the chat goes on.
    step(line("/run touch " + marker.string()), "Run it? [y/N]");
    step(key("C-c"), "not run: ");
    CHECK_FALSE(fs::exists(marker));
    t.wait_for("you> ", ++prompts);
    step(line("/run touch " + marker.string()), "Run it? [y/N]");
    step(line("y"), "exit 0");
    CHECK(fs::exists(marker));
    t.wait_for("you> ", ++prompts);

    // The input history: /model is kept, a line with a password is not.
    step(line("/model"), "context:  ");
    t.wait_for("you> ", ++prompts);
    step(line("/resume password=hunter2"), "usage: /resume ID");
    t.wait_for("you> ", ++prompts);
    t.key("C-d");
    CHECK(t.wait_exit() == 0);
    t.stop();

    const fs::path history = p.dir / "data" / "sigmaops" / "chat_history";
    REQUIRE(fs::exists(history));
    struct stat st {};
    REQUIRE(::stat(history.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::stringstream kept;
    kept << std::ifstream(history).rdbuf();
    CHECK(kept.str().find("hunter2") == std::string::npos);
    CHECK(kept.str().find("/model") != std::string::npos);

    // After a restart, Up brings back the last line kept (/model, not the secret one) and Enter runs it.
    Tmux again(p.dir);
    std::vector<std::string> no_color = p.env;
    no_color.push_back("NO_COLOR=1");
    again.start(no_color, chat);
    again.wait_for("you> ");
    again.key("Up");
    again.wait_for("you> /model");
    again.key("Enter");
    again.wait_for("context:  ");
    again.wait_for("you> ", 2);
    // NO_COLOR: risk names stay plain.
    again.type("/explain ls -l");
    again.key("Enter");
    again.wait_for("risk: read-only");
    CHECK(again.screen(true).find("32mread-only") == std::string::npos);
    again.wait_for("you> ", 3);
    // Ctrl-C at the prompt warns; a second one leaves cleanly.
    again.key("C-c");
    again.wait_for("Ctrl-C again");
    again.key("C-c");
    CHECK(again.wait_exit() == 0);
}
