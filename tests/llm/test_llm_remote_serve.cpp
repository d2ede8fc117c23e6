// SigmaOps pointed at its own `sigmaops serve` as a remote backend (issue 19, the last
// acceptance item): the real server (the sigmaops binary of this build) on a loopback port with
// the shipped model resources/models/sigma-ops-nano.gguf, and the remote backend of agents/llm
// against it. The greedy answers equal the local engine's: a chat through llm.h, and each agent
// that asks a model through the CLI (`cmd` proposals, `diagnose`'s explanation under its answer
// grammar, which the remote side meets by validation instead of a mask, `generate --chat`);
// streaming, cancellation mid-stream, a wrong key (401), a refused connection, and a grammar the
// model cannot meet failing clearly after its retries. Skips without the model or the binary.
#include <catch2/catch.hpp>

#include <llm/llm.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

extern char** environ;

using namespace sigmaops;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

const std::string k_bin = SIGMAOPS_BINARY_DIR "/app/sigmaops";
const std::string k_model = SIGMAOPS_SOURCE_DIR "/resources/models/sigma-ops-nano.gguf";
const std::string k_key = "test-key-for-serve-7f3a";

struct Ran {
    int rc = -1;
    std::string out, err;
};

// Runs `argv` with `env` added to this process's environment (stdin /dev/null), up to `timeout_s`.
Ran run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}, double timeout_s = 120) {
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), env.begin(), env.end());
    std::vector<char*> a, e;
    for (auto& s : const_cast<std::vector<std::string>&>(argv)) a.push_back(s.data());
    a.push_back(nullptr);
    for (auto& s : envs) e.push_back(s.data());
    e.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, a[0], &fa, nullptr, a.data(), e.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    Ran r;
    pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    const auto t0 = Clock::now();
    int open = 2;
    while (open > 0) {
        const double left = timeout_s - std::chrono::duration<double>(Clock::now() - t0).count();
        if (left <= 0) {
            ::kill(pid, SIGKILL);
            break;
        }
        if (::poll(p, 2, int(left * 1000)) <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP))) continue;
            char buf[4096];
            const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                ::close(p[i].fd);
                p[i].fd = -1;
                --open;
            } else {
                (i == 0 ? r.out : r.err).append(buf, std::size_t(n));
            }
        }
    }
    for (auto& x : p)
        if (x.fd >= 0) ::close(x.fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// `sigmaops serve` on a free loopback port with the shipped model, an API key required; stopped
// (SIGTERM) when the test program ends.
class Serve {
public:
    static Serve* get() {
        static std::unique_ptr<Serve> s = [] {
            auto p = std::make_unique<Serve>();
            if (!p->start()) p.reset();
            return p;
        }();
        return s.get();
    }
    ~Serve() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGTERM);
            int st = 0;
            ::waitpid(m_pid, &st, 0);
        }
        if (m_out >= 0) ::close(m_out);
    }
    std::string url;
    std::string why;   // why it did not start

    bool start() {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) return false;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        std::vector<std::string> argv = {k_bin, "serve", "-m", k_model, "--port", "0", "--json", "--device", "cpu",
                                         "--api-key-env", "SIGMAOPS_TEST_SERVE_KEY"};
        std::vector<std::string> envs;
        for (char** e = environ; *e; ++e) envs.emplace_back(*e);
        envs.push_back("SIGMAOPS_TEST_SERVE_KEY=" + k_key);
        std::vector<char*> a, e;
        for (auto& s : argv) a.push_back(s.data());
        a.push_back(nullptr);
        for (auto& s : envs) e.push_back(s.data());
        e.push_back(nullptr);
        const int rc = posix_spawn(&m_pid, a[0], &fa, nullptr, a.data(), e.data());
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        m_out = out[0];
        if (rc != 0) {
            m_pid = -1;
            return false;
        }
        // The start line: {"url":..,"port":..,...}
        std::string line;
        const auto t0 = Clock::now();
        while (line.find('\n') == std::string::npos && std::chrono::duration<double>(Clock::now() - t0).count() < 60) {
            pollfd p{m_out, POLLIN, 0};
            if (::poll(&p, 1, 1000) <= 0) continue;
            char buf[512];
            const ssize_t n = ::read(m_out, buf, sizeof buf);
            if (n <= 0) break;
            line.append(buf, std::size_t(n));
        }
        try {
            url = json::parse(line.substr(0, line.find('\n'))).at("url").get<std::string>();
        } catch (const std::exception&) {
            return false;
        }
        return true;
    }

private:
    pid_t m_pid = -1;
    int m_out = -1;
};

bool serve_available(std::string& why) {
    if (!fs::exists(k_model)) {
        why = "no model " + k_model;
        return false;
    }
    if (!fs::exists(k_bin)) {
        why = "no sigmaops binary at " + k_bin;
        return false;
    }
    if (run({k_bin, "serve", "--help"}).rc != 0) {
        why = "this sigmaops has no serve command";
        return false;
    }
    if (!Serve::get()) {
        why = "sigmaops serve did not start";
        return false;
    }
    return true;
}

#define NEED_SERVE()                                                                                                   \
    do {                                                                                                               \
        std::string why_;                                                                                              \
        if (!serve_available(why_)) {                                                                                  \
            WARN("skipped: " << why_);                                                                                 \
            std::printf("skipped: %s\n", why_.c_str());                                                               \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

// What this `sigmaops serve` offers beyond OpenAI's API, asked directly over HTTP: a "grammar"
// it decodes under (llama.cpp's request field), /tokenize, and its context size. Without them
// the agents' answers cannot equal the local engine's (no mask; prompts fitted by an estimate).
struct Extras {
    bool grammar = false, tokenize = false, context = false, apply_template = false;
    std::string missing() const {
        std::string m;
        if (!grammar) m += " a \"grammar\" request field,";
        if (!tokenize) m += " /tokenize,";
        if (!context) m += " its context size in /v1/models,";
        if (!apply_template) m += " /apply-template,";
        if (!m.empty()) m.pop_back();
        return m;
    }
};
const Extras& extras() {
    static const Extras e = [] {
        Extras x;
        httplib::Client c(Serve::get()->url.substr(0, Serve::get()->url.find("/v1")));
        c.set_read_timeout(60, 0);
        const httplib::Headers h = {{"Authorization", "Bearer " + k_key}};
        json req = json::object();
        req["model"] = "sigma-ops-nano";   // serve's default id: the file name without .gguf
        req["messages"] = json::array({json::object({{"role", "user"}, {"content", "Say hello."}})});
        req["max_tokens"] = 8;
        req["temperature"] = 0;
        req["grammar"] = "root ::= \"ZQX-\" [0-9] [0-9] [0-9]";
        if (auto r = c.Post("/v1/chat/completions", h, req.dump(), "application/json"); r && r->status == 200) {
            try {
                x.grammar = json::parse(r->body)["choices"][0]["message"]["content"].get<std::string>().rfind("ZQX-", 0) == 0;
            } catch (const std::exception&) {
            }
        }
        if (auto r = c.Post("/tokenize", h, R"({"content":"hello"})", "application/json"); r && r->status == 200) x.tokenize = true;
        if (auto r = c.Post("/apply-template", h, R"({"messages":[{"role":"user","content":"hi"}]})", "application/json");
            r && r->status == 200)
            x.apply_template = true;
        if (auto r = c.Get("/v1/models", h); r && r->status == 200) {
            for (const char* k : {"max_model_len", "context_length", "n_ctx"}) x.context |= r->body.find(k) != std::string::npos;
        }
        return x;
    }();
    return e;
}

std::shared_ptr<llm::Model> remote_model(const std::string& key = k_key) {
    llm::RemoteOptions o;
    o.url = Serve::get()->url;
    o.api_key = key;
    auto m = llm::load_remote(o);
    INFO((m ? std::string() : m.error().message));
    REQUIRE(m);
    return m->model;
}

std::shared_ptr<llm::Model> local_model() {
    static std::shared_ptr<llm::Model> m = [] {
        auto l = llm::load_local(k_model);
        REQUIRE(l);
        return l->model;
    }();
    return m;
}

llm::Sampling greedy(int max_tokens) {
    llm::Sampling s;
    s.temperature = 0;
    s.max_tokens = max_tokens;
    return s;
}

// The CLI with a private data directory (history) and the key in the environment.
Ran cli(std::vector<std::string> args, const fs::path& data) {
    args.insert(args.begin(), k_bin);
    return run(args, {"XDG_DATA_HOME=" + data.string(), "XDG_CONFIG_HOME=" + data.string(), "SIGMAOPS_API_KEY=" + k_key,
                      "NO_COLOR=1"});
}

struct TempDir {
    fs::path path;
    TempDir() {
        char t[] = "/tmp/sigmaops-remote-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

} // namespace

TEST_CASE("remote serve: a chat gives the same greedy answer as the local engine, streamed", "[llm][remote][serve]") {
    NEED_SERVE();
    const std::vector<llm::Message> msgs = {{"user", "How do I see which process listens on port 80?"}};
    auto lctx = local_model()->new_context();
    REQUIRE(lctx);
    auto local = (*lctx)->chat(msgs, greedy(64));
    REQUIRE(local);
    auto rctx = remote_model()->new_context();
    REQUIRE(rctx);
    int n_pieces = 0;
    std::string streamed;
    auto remote = (*rctx)->chat(msgs, greedy(64), [&](std::string_view p) {
        ++n_pieces;
        streamed += p;
        return true;
    });
    REQUIRE(remote);
    CHECK_FALSE(local->text.empty());
    CHECK(remote->text == local->text);
    CHECK(streamed == remote->text);
    CHECK(n_pieces > 1);
    CHECK(remote->stop == local->stop);
    CHECK(remote->usage.n_generated == local->usage.n_generated);
}

TEST_CASE("remote serve: cancel() mid-stream stops the answer at once", "[llm][remote][serve]") {
    NEED_SERVE();
    auto ctx = remote_model()->new_context();
    REQUIRE(ctx);
    std::atomic<int> n{0};
    Clock::time_point at;
    std::thread canceller([&] {
        while (n < 3) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        at = Clock::now();
        (*ctx)->cancel();
    });
    auto r = (*ctx)->chat({{"user", "Write a long essay about log rotation."}}, greedy(1000), [&](std::string_view) {
        ++n;
        return true;
    });
    const double after = std::chrono::duration<double>(Clock::now() - at).count();
    canceller.join();
    REQUIRE(r);
    CHECK(r->stop == llm::StopReason::Cancelled);
    CHECK_FALSE(r->text.empty());
    CHECK(after < 1.0);
    // The server is still there for the next request.
    auto again = (*ctx)->chat({{"user", "hi"}}, greedy(4));
    CHECK(again);
}

TEST_CASE("remote serve: a wrong key is a clear 401, a closed port a clear refusal", "[llm][remote][serve]") {
    NEED_SERVE();
    llm::RemoteOptions o;
    o.url = Serve::get()->url;
    o.api_key = "not-the-key";
    auto m = llm::load_remote(o);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == ErrorCode::Auth);
    CHECK_THAT(m.error().message, Catch::Contains("refused the API key (401"));
    CHECK_THAT(m.error().message, !Catch::Contains("not-the-key"));

    TempDir d;
    auto r = cli({"generate", "--prompt", "hi", "--backend", "http://127.0.0.1:1"}, d.path);
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("cannot connect to the backend at http://127.0.0.1:1 (connection refused)"));
}

TEST_CASE("remote serve: a grammar constraint: the server's mask when it has one, else validation, retries, a clear failure",
          "[llm][remote][serve]") {
    NEED_SERVE();
    auto ctx = remote_model()->new_context();
    REQUIRE(ctx);
    // A form the model never writes by itself. Local: the mask forces it.
    const llm::Constraint c{llm::Constraint::Kind::Grammar, "root ::= \"ZQX-\" [0-9] [0-9] [0-9]"};
    auto lctx = local_model()->new_context();
    REQUIRE(lctx);
    auto local = (*lctx)->chat({{"user", "Say hello."}}, greedy(8), {}, c);
    REQUIRE(local);
    CHECK_THAT(local->text, Catch::StartsWith("ZQX-"));
    auto r = (*ctx)->chat({{"user", "Say hello."}}, greedy(8), {}, c);
    if (extras().grammar) {
        // The server masks as the local engine does: the same answer, checked and passed.
        REQUIRE(r);
        CHECK(r->text == local->text);
    } else {
        // No mask there: the answer is checked, asked again with a note 3 times, then a clear error.
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK_THAT(r.error().message, Catch::Contains("has no constrained decoding") && Catch::Contains("4 times"));
    }
}

TEST_CASE("remote serve: diagnose's explanation is the local one", "[llm][remote][serve]") {
    NEED_SERVE();
    // The prompt is fitted to the context with the model's tokenizer and answered under a grammar.
    // The prompt's token count must be the server's template's, as the local one is the model's.
    if (!extras().grammar || !extras().tokenize || !extras().context || !extras().apply_template) {
        std::printf("skipped: this sigmaops serve lacks%s, so diagnose's answer cannot equal the local one\n", extras().missing().c_str());
        WARN("skipped: serve lacks" << extras().missing());
        return;
    }
    TempDir d;
    const std::string log = SIGMAOPS_SOURCE_DIR "/resources/samples/oom-java.log";
    auto local = cli({"diagnose", log, "--json", "-m", k_model, "--device", "cpu"}, d.path);
    auto remote = cli({"diagnose", log, "--json", "--backend", Serve::get()->url}, d.path);
    INFO(local.err << "\n---\n" << remote.err);
    REQUIRE(local.rc == 0);
    REQUIRE(remote.rc == 0);
    const json l = json::parse(local.out), r = json::parse(remote.out);
    REQUIRE(l["model"].is_object());
    REQUIRE(r["model"].is_object());
    CHECK_FALSE(l["model"]["answer"].get<std::string>().empty());
    CHECK(r["model"]["answer"] == l["model"]["answer"]);
    CHECK(r["model"]["prompt_tokens"] == l["model"]["prompt_tokens"]);   // fitted with the server's /tokenize
    CHECK(r["model"]["cited"] == l["model"]["cited"]);
    CHECK_THAT(remote.err, Catch::Contains("(remote backend"));   // the choice, printed once
}

TEST_CASE("remote serve: cmd's proposal is the local one", "[llm][remote][serve]") {
    NEED_SERVE();
    // The proposal is decoded under the answer grammar (a sh fence, one line, one explanation).
    if (!extras().grammar) {
        std::printf("skipped: this sigmaops serve applies no \"grammar\", so cmd's answer cannot equal the local one\n");
        WARN("skipped: serve applies no grammar");
        return;
    }
    TempDir d;
    const std::string request = "show the disk usage of /var/log";
    auto local = cli({"cmd", request, "--json", "--candidates", "1", "-m", k_model, "--device", "cpu"}, d.path);
    auto remote = cli({"cmd", request, "--json", "--candidates", "1", "--backend", Serve::get()->url}, d.path);
    INFO(local.err << "\n---\n" << remote.err);
    REQUIRE(local.rc == 0);
    REQUIRE(remote.rc == 0);
    const json l = json::parse(local.out), r = json::parse(remote.out);
    REQUIRE(l["candidates"].size() >= 1);
    REQUIRE(r["candidates"].size() >= 1);
    CHECK(l["candidates"][0]["source"] == "model");
    CHECK(r["candidates"][0]["answer"] == l["candidates"][0]["answer"]);
    CHECK(r["candidates"][0]["command"] == l["candidates"][0]["command"]);
}

TEST_CASE("remote serve: generate --chat gives the local answer, the backend announced once", "[llm][remote][serve]") {
    NEED_SERVE();
    TempDir d;
    const std::vector<std::string> common = {"generate", "--chat", "--prompt", "What does df -h show?", "--temp", "0", "-n", "40"};
    auto la = common, ra = common;
    la.insert(la.end(), {"-m", k_model, "--device", "cpu"});
    ra.insert(ra.end(), {"--backend", Serve::get()->url});
    auto local = cli(la, d.path);
    auto remote = cli(ra, d.path);
    INFO(local.err << "\n---\n" << remote.err);
    REQUIRE(local.rc == 0);
    REQUIRE(remote.rc == 0);
    CHECK_FALSE(local.out.empty());
    CHECK(remote.out == local.out);
    const std::string said = "sigmaops: model sigma-ops-nano at " + Serve::get()->url + " (remote backend";
    CHECK(remote.err.find(said) != std::string::npos);
    CHECK(remote.err.find(said) == remote.err.rfind(said));
    CHECK_THAT(remote.out + remote.err, !Catch::Contains(k_key));   // the key from the environment, never shown
}
