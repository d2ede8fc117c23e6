// serve_test_util.h - the serve tests' tools: a real `serve::Server` on a free loopback port with
// the shipped model, and real clients (curl, node) run as child processes.
#pragma once

#include <serve/serve.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace serve_test {

using nlohmann::json;
namespace fs = std::filesystem;

inline std::string nano_model() { return std::string(SIGMAOPS_SOURCE_DIR) + "/resources/models/sigma-ops-nano.gguf"; }

inline bool on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    size_t b = 0;
    while (b <= p.size()) {
        size_t e = p.find(':', b);
        if (e == std::string::npos) e = p.size();
        const fs::path f = fs::path(p.substr(b, e - b)) / program;
        if (::access(f.c_str(), X_OK) == 0) return true;
        b = e + 1;
    }
    return false;
}

// A child process with its stdout (and stderr, merged) on a pipe.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
        int out[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, out[1], 2);
        std::vector<std::string> envs;
        for (char** e = environ; *e; ++e) envs.emplace_back(*e);
        for (const auto& e : extra_env) envs.push_back(e);
        std::vector<char*> a, e;
        std::vector<std::string> args = argv;
        for (auto& s : args) a.push_back(s.data());
        a.push_back(nullptr);
        for (auto& s : envs) e.push_back(s.data());
        e.push_back(nullptr);
        const int rc = posix_spawnp(&m_pid, a[0], &fa, nullptr, a.data(), e.data());
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        m_fd = out[0];
        REQUIRE(rc == 0);
    }
    ~Child() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGKILL);
            wait();
        }
        if (m_fd >= 0) ::close(m_fd);
    }
    // Reads until `needle` shows up in the output, EOF, or the timeout. True when seen.
    bool read_until(const std::string& needle, double seconds) {
        const auto t0 = std::chrono::steady_clock::now();
        while (m_out.find(needle) == std::string::npos) {
            const double left = seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (left <= 0 || !read_some(int(left * 1000) + 1)) return m_out.find(needle) != std::string::npos;
        }
        return true;
    }
    // Everything until EOF; the exit status.
    int finish(double seconds = 60) {
        const auto t0 = std::chrono::steady_clock::now();
        for (;;) {
            const double left = seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (left <= 0 || !read_some(int(left * 1000) + 1)) break;
        }
        return wait();
    }
    void kill() { kill_with(SIGKILL); }
    void kill_with(int sig) {
        if (m_pid > 0) ::kill(m_pid, sig);
    }
    const std::string& out() const { return m_out; }

private:
    bool read_some(int timeout_ms) {
        pollfd p{m_fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        char buf[4096];
        const ssize_t n = ::read(m_fd, buf, sizeof buf);
        if (n <= 0) return false;
        m_out.append(buf, size_t(n));
        return true;
    }
    int wait() {
        if (m_pid <= 0) return m_status;
        int st = 0;
        ::waitpid(m_pid, &st, 0);
        m_pid = -1;
        m_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return m_status;
    }
    pid_t m_pid = -1;
    int m_fd = -1;
    int m_status = -1;
    std::string m_out;
};

struct Reply {
    int status = 0;
    std::string body;
    json j;          // the body as JSON (null when it is not)
};

// curl -s -X POST URL -d BODY, the status code on the last line.
inline Reply curl(const std::string& url, const std::string& body = "", const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "60", "-w", "\n%{http_code}"};
    if (!body.empty()) {
        argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", body});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    Child c(argv);
    c.finish();
    Reply r;
    const std::string& out = c.out();
    const size_t nl = out.rfind('\n');
    REQUIRE(nl != std::string::npos);
    r.status = std::atoi(out.c_str() + nl + 1);
    r.body = out.substr(0, nl);
    r.j = json::parse(r.body, nullptr, false);
    if (r.j.is_discarded()) r.j = nullptr;
    return r;
}

// The "data: ..." payloads of an event stream, in order ("[DONE]" included).
inline std::vector<std::string> sse_events(const std::string& body) {
    std::vector<std::string> out;
    size_t b = 0;
    while ((b = body.find("data: ", b)) != std::string::npos) {
        const size_t e = body.find("\n\n", b);
        if (e == std::string::npos) break;
        out.push_back(body.substr(b + 6, e - b - 6));
        b = e + 2;
    }
    return out;
}

// The text of a streamed chat (delta.content) or completion (text) reply.
inline std::string stream_text(const std::vector<std::string>& events) {
    std::string text;
    for (const auto& e : events) {
        if (e == "[DONE]") continue;
        json j = json::parse(e, nullptr, false);
        if (j.is_discarded() || !j.contains("choices")) continue;
        for (const auto& c : j["choices"]) {
            if (c.contains("delta") && c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
            if (c.contains("text")) text += c["text"].get<std::string>();
        }
    }
    return text;
}

inline sigmaops::serve::Options options() {
    sigmaops::serve::Options o;
    o.port = 0;
    o.model_path = nano_model();
    o.model_id = "nano";
    o.device = sigmaops::serve::Device::Cpu;
    o.n_ctx = 512;
    o.n_threads = 2;
    return o;
}

inline std::unique_ptr<sigmaops::serve::Server> start(const sigmaops::serve::Options& o) {
    auto s = sigmaops::serve::Server::start(o);
    if (!s) FAIL("serve did not start: " << s.error().message);
    return std::move(*s);
}

inline std::string base(const sigmaops::serve::Server& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

inline json chat_body(const std::string& prompt, int max_tokens, bool stream = false) {
    return json{{"model", "nano"},
                {"messages", json::array({json{{"role", "user"}, {"content", prompt}}})},
                {"max_tokens", max_tokens},
                {"temperature", 0},
                {"stream", stream}};
}

} // namespace serve_test

#define SERVE_REQUIRE_CURL()                                                                                           \
    do {                                                                                                               \
        if (!serve_test::on_path("curl")) {                                                                           \
            WARN("skipped: curl is not installed");                                                                    \
            std::printf("skipped: curl is not installed\n");                                                          \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)
