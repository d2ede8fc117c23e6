// The remote backend (agents/llm remote*.cpp) against a tiny real HTTP server (cpp-httplib's
// Server on a loopback port, inside the test) that plays the protocol's edge cases an
// OpenAI-compatible endpoint can produce: streams in odd chunks, comments and [DONE], a
// non-streamed answer, 401/404/429/500, malformed events, a server that goes silent or closes
// early, a refused connection, cancellation mid-stream and mid-wait, a refused "logprobs", and a
// constraint checked after generation and asked again with a note. The same client against the
// real `sigmaops serve` is tests/llm/test_llm_remote_serve.cpp.
#include <catch2/catch.hpp>

#include "remote_http.h"

#include <llm/llm.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

using namespace sigmaops;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A real HTTP server on 127.0.0.1:<free port>, handlers set by the test. /v1/models lists "tiny"
// unless the test replaces it. Every request body to a completion endpoint is recorded.
class TinyServer {
public:
    using Setup = std::function<void(httplib::Server&, TinyServer&)>;
    explicit TinyServer(const Setup& setup) {
        m_svr.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"object":"list","data":[{"id":"tiny","object":"model","max_model_len":2048}]})", "application/json");
        });
        setup(m_svr, *this);
        m_port = m_svr.bind_to_any_port("127.0.0.1");
        REQUIRE(m_port > 0);
        m_thread = std::thread([this] { m_svr.listen_after_bind(); });
        for (int i = 0; i < 200 && !m_svr.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~TinyServer() {
        m_svr.stop();
        m_thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
    void record(const std::string& body) {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_bodies.push_back(json::parse(body));
    }
    std::vector<json> bodies() {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_bodies;
    }
    std::atomic<int> n_calls{0};

private:
    httplib::Server m_svr;
    int m_port = 0;
    std::thread m_thread;
    std::mutex m_mutex;
    std::vector<json> m_bodies;
};

std::string delta(const std::string& text, const char* finish = nullptr) {
    json c = {{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", finish ? json(finish) : json(nullptr)}};
    return "data: " + json{{"object", "chat.completion.chunk"}, {"choices", json::array({c})}}.dump() + "\n\n";
}

// Sends `chunks` as an event stream, each written separately with `delay_ms` between them.
void stream(httplib::Response& res, std::vector<std::string> chunks, int delay_ms = 0) {
    res.set_chunked_content_provider("text/event-stream", [chunks, delay_ms](size_t, httplib::DataSink& sink) {
        for (const std::string& c : chunks) {
            if (!sink.write(c.data(), c.size())) return false;
            if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        }
        sink.done();
        return true;
    });
}

// `s` cut into pieces of n bytes (so lines, CRLFs and UTF-8 characters are split).
std::vector<std::string> cut(const std::string& s, std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size(); i += n) out.push_back(s.substr(i, n));
    return out;
}

std::shared_ptr<llm::Model> connect(const TinyServer& srv, llm::RemoteOptions o = {}) {
    o.url = srv.url();
    auto m = llm::load_remote(o);
    INFO((m ? std::string() : m.error().message));
    REQUIRE(m);
    return m->model;
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

llm::Sampling greedy(int max_tokens = 32) {
    llm::Sampling s;
    s.temperature = 0;
    s.max_tokens = max_tokens;
    return s;
}

} // namespace

TEST_CASE("remote: a stream cut into 3-byte chunks, with comments, CRLF and [DONE], arrives whole", "[llm][remote]") {
    const std::string body = ": keep-alive\r\n\r\n" + delta("Hé") + delta("llo ") + delta("wörld ✓") + delta("", "stop") +
                             "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":4}}\r\n\r\n" +
                             "data: [DONE]\n\n";
    TinyServer srv([&](httplib::Server& s, TinyServer& self) {
        s.Post("/v1/chat/completions", [&, body](const httplib::Request& req, httplib::Response& res) {
            self.record(req.body);
            stream(res, cut(body, 3), 1);
        });
    });
    auto m = connect(srv);
    CHECK(m->card().backend == "remote");
    CHECK(m->card().name == "tiny");
    auto ctx = m->new_context();
    REQUIRE(ctx);
    CHECK((*ctx)->n_ctx() == 2048);   // max_model_len from /v1/models
    std::vector<std::string> pieces;
    auto r = (*ctx)->chat({{"user", "hi"}}, greedy(), [&](std::string_view p) {
        pieces.emplace_back(p);
        return true;
    });
    REQUIRE(r);
    CHECK(r->text == "Héllo wörld ✓");
    CHECK(r->stop == llm::StopReason::EndOfText);
    CHECK(r->usage.n_prompt == 7);
    CHECK(r->usage.n_generated == 4);
    CHECK(r->tokens.size() == 4);
    CHECK(pieces.size() >= 3);
    for (const auto& p : pieces) CHECK(valid_utf8(p));
    // What was sent: the model, the messages, streaming with usage, the local engine's sampler.
    auto b = srv.bodies();
    REQUIRE(b.size() == 1);
    CHECK(b[0]["model"] == "tiny");
    CHECK(b[0]["stream"] == true);
    CHECK(b[0]["messages"][0]["content"] == "hi");
    CHECK(b[0]["temperature"] == 0.0);
    CHECK(b[0]["max_tokens"] == 32);
    CHECK(b[0].contains("repeat_penalty"));
}

TEST_CASE("remote: finish_reason length is max tokens, a matched stop string is a stop string", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer&) {
        s.Post("/v1/chat/completions", [](const httplib::Request& req, httplib::Response& res) {
            const json b = json::parse(req.body);
            if (b.contains("stop")) {
                json c = {{"index", 0}, {"delta", json::object()}, {"finish_reason", "stop"}, {"stop_reason", "END"}};
                stream(res, {delta("abc"), "data: " + json{{"choices", json::array({c})}}.dump() + "\n\n", "data: [DONE]\n\n"});
            } else {
                stream(res, {delta("abc"), delta("", "length"), "data: [DONE]\n\n"});
            }
        });
    });
    auto m = connect(srv);
    auto ctx = m->new_context();
    REQUIRE(ctx);
    auto r = (*ctx)->chat({{"user", "x"}}, greedy(3));
    REQUIRE(r);
    CHECK(r->stop == llm::StopReason::MaxTokens);
    llm::Sampling s = greedy();
    s.stop = {"END"};
    r = (*ctx)->chat({{"user", "x"}}, s);
    REQUIRE(r);
    CHECK(r->stop == llm::StopReason::StopString);
    CHECK(r->text == "abc");
}

TEST_CASE("remote: a server that answers a streamed request with one JSON document is understood", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer&) {
        s.Post("/v1/chat/completions", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],)"
                            R"("usage":{"prompt_tokens":3,"completion_tokens":1}})",
                            "application/json");
        });
    });
    auto ctx = connect(srv)->new_context();
    REQUIRE(ctx);
    std::string seen;
    auto r = (*ctx)->chat({{"user", "x"}}, greedy(), [&](std::string_view p) {
        seen += p;
        return true;
    });
    REQUIRE(r);
    CHECK(r->text == "whole");
    CHECK(seen == "whole");
    CHECK(r->usage.n_generated == 1);
}

TEST_CASE("remote: format_chat text goes as a chat, other text to /v1/completions", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer& self) {
        s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
            self.record(req.body);
            stream(res, {delta("chat", "stop"), "data: [DONE]\n\n"});
        });
        s.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
            self.record(req.body);
            stream(res, {"data: {\"choices\":[{\"index\":0,\"text\":\"raw\",\"finish_reason\":\"stop\"}]}\n\n", "data: [DONE]\n\n"});
        });
    });
    auto m = connect(srv);
    auto ctx = m->new_context();
    REQUIRE(ctx);
    auto text = m->format_chat({{"system", "be brief"}, {"user", "hi <|im_end|> there"}}, true);
    REQUIRE(text);
    auto r = (*ctx)->complete(*text, greedy());
    REQUIRE(r);
    CHECK(r->text == "chat");
    r = (*ctx)->complete("Once upon a time", greedy());
    REQUIRE(r);
    CHECK(r->text == "raw");
    auto b = srv.bodies();
    REQUIRE(b.size() == 2);
    REQUIRE(b[0]["messages"].size() == 2);
    CHECK(b[0]["messages"][1]["content"] == "hi <|im_end|> there");   // an exact round trip, even with the marker inside
    CHECK(b[1]["prompt"] == "Once upon a time");
}

TEST_CASE("remote: format_chat is the server's /apply-template rendering, and completing it sends the chat", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer& self) {
        s.Post("/apply-template", [](const httplib::Request& req, httplib::Response& res) {
            std::string out;
            const json body = json::parse(req.body);
            for (const json& m : body["messages"]) out += "[" + m["role"].get<std::string>() + "] " + m["content"].get<std::string>() + "\n";
            res.set_content(json{{"prompt", out + "[assistant] "}}.dump(), "application/json");
        });
        s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
            self.record(req.body);
            stream(res, {delta("chat", "stop"), "data: [DONE]\n\n"});
        });
    });
    auto m = connect(srv);
    CHECK(m->card().chat_format == "the server's (/apply-template)");
    auto text = m->format_chat({{"system", "be brief"}, {"user", "hi"}}, true);
    REQUIRE(text);
    CHECK(*text == "[system] be brief\n[user] hi\n[assistant] ");
    auto ctx = m->new_context();
    REQUIRE(ctx);
    auto r = (*ctx)->complete(*text, greedy());
    REQUIRE(r);
    CHECK(r->text == "chat");
    auto b = srv.bodies();
    REQUIRE(b.size() == 1);
    CHECK(b[0]["messages"][1]["content"] == "hi");
}

TEST_CASE("remote: a wrong API key is a clear Auth error that does not show the key", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer&) {
        s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
            if (req.get_header_value("Authorization") == "Bearer right-key") return httplib::Server::HandlerResponse::Unhandled;
            res.status = 401;
            res.set_content(R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}})", "application/json");
            return httplib::Server::HandlerResponse::Handled;
        });
    });
    llm::RemoteOptions o;
    o.url = srv.url();
    o.api_key = "wrong-key-123";
    auto m = llm::load_remote(o);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == ErrorCode::Auth);
    CHECK_THAT(m.error().message, Catch::Contains("refused the API key (401: Incorrect API key provided)"));
    CHECK_THAT(m.error().message, Catch::Contains("SIGMAOPS_API_KEY"));
    CHECK_THAT(m.error().message, !Catch::Contains("wrong-key-123"));
    // The key from the environment.
    ::setenv("SIGMAOPS_API_KEY", "right-key", 1);
    o.api_key.clear();
    auto ok = llm::load_remote(o);
    ::unsetenv("SIGMAOPS_API_KEY");
    CHECK(ok);
}

TEST_CASE("remote: an unknown model is named with the models the endpoint serves", "[llm][remote]") {
    TinyServer srv([](httplib::Server&, TinyServer&) {});
    llm::RemoteOptions o;
    o.url = srv.url() + "/v1/";   // "/v1" and a trailing slash are taken as written
    o.model = "gpt-9";
    auto m = llm::load_remote(o);
    REQUIRE_FALSE(m);
    CHECK(m.error().code == ErrorCode::NotFound);
    CHECK_THAT(m.error().message, Catch::Contains("model 'gpt-9' is not served at " + srv.url() + "/v1 (it serves: tiny)"));
}

TEST_CASE("remote: a refused connection says so and names the address", "[llm][remote]") {
    // A port that was free a moment ago and has nobody listening.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    const int port = ntohs(a.sin_port);
    ::close(fd);
    llm::RemoteOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port);
    const auto t0 = Clock::now();
    auto m = llm::load_remote(o);
    REQUIRE_FALSE(m);
    CHECK(seconds_since(t0) < 5);
    CHECK(m.error().code == ErrorCode::Network);
    CHECK_THAT(m.error().message, Catch::Contains("cannot connect to the backend at http://127.0.0.1:" + std::to_string(port) +
                                                  " (connection refused)"));
}

TEST_CASE("remote: bad URLs are refused before any connection, credentials in them above all", "[llm][remote]") {
    for (const char* u : {"localhost:8080", "ftp://h/", "http://", "http://user:secret@h:1/v1", "http://h/v1?key=1", "http://h /v1"}) {
        llm::RemoteOptions o;
        o.url = u;
        auto m = llm::load_remote(o);
        INFO(u);
        REQUIRE_FALSE(m);
        CHECK(m.error().code == ErrorCode::InvalidArgument);
    }
    llm::RemoteOptions o;
    o.url = "http://user:secret@h:1/v1";
    CHECK_THAT(llm::load_remote(o).error().message, Catch::Contains("credentials do not belong in the URL"));
}

TEST_CASE("remote: 429 with Retry-After is waited out a bounded number of times", "[llm][remote]") {
    std::atomic<int> busy_left{1};
    TinyServer srv([&](httplib::Server& s, TinyServer& self) {
        s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            ++self.n_calls;
            if (busy_left-- > 0) {
                res.status = 429;
                res.set_header("Retry-After", "1");
                res.set_content(R"({"error":{"message":"queue full"}})", "application/json");
                return;
            }
            stream(res, {delta("ok", "stop"), "data: [DONE]\n\n"});
        });
    });
    auto m = connect(srv);
    auto ctx = m->new_context();
    REQUIRE(ctx);
    auto t0 = Clock::now();
    auto r = (*ctx)->chat({{"user", "x"}}, greedy());
    REQUIRE(r);
    CHECK(r->text == "ok");
    CHECK(seconds_since(t0) >= 0.9);   // Retry-After: 1 was honoured
    CHECK(srv.n_calls == 2);

    // Always busy: the first try and max_rate_retries more, then a clear error.
    busy_left = 1000;
    srv.n_calls = 0;
    llm::RemoteOptions o;
    o.max_rate_retries = 2;
    auto m2 = connect(srv, o);
    auto ctx2 = m2->new_context();
    REQUIRE(ctx2);
    t0 = Clock::now();
    r = (*ctx2)->chat({{"user", "x"}}, greedy());
    REQUIRE_FALSE(r);
    CHECK(srv.n_calls == 3);
    CHECK(seconds_since(t0) >= 1.9);
    CHECK_THAT(r.error().message, Catch::Contains("is busy (429: queue full) after 2 waits"));

    // A cancel() during the wait ends it at once.
    srv.n_calls = 0;
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        (*ctx2)->cancel();
    });
    t0 = Clock::now();
    r = (*ctx2)->chat({{"user", "x"}}, greedy());
    canceller.join();
    CHECK(seconds_since(t0) < 0.9);
    REQUIRE(r);
    CHECK(r->stop == llm::StopReason::Cancelled);
}

TEST_CASE("remote: server errors, malformed events, mid-stream errors and early closes are clear errors", "[llm][remote]") {
    std::string mode;
    TinyServer srv([&](httplib::Server& s, TinyServer&) {
        s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            if (mode == "500") {
                res.status = 500;
                res.set_content(R"({"error":{"message":"CUDA out of memory"}})", "application/json");
            } else if (mode == "bad-json") {
                stream(res, {delta("a"), "data: {\"choices\": [tru\n\n"});
            } else if (mode == "error-event") {
                stream(res, {delta("a"), "data: {\"error\":{\"message\":\"the model crashed\"}}\n\n"});
            } else if (mode == "early-close") {
                stream(res, {delta("a"), delta("b")});
            } else if (mode == "html") {
                res.set_content("<html>Bad gateway</html>", "text/html");
            }
        });
    });
    auto ctx = connect(srv)->new_context();
    REQUIRE(ctx);
    auto fails = [&](const std::string& m, ErrorCode code, const std::string& says) {
        mode = m;
        auto r = (*ctx)->chat({{"user", "x"}}, greedy());
        INFO(m);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == code);
        CHECK_THAT(r.error().message, Catch::Contains(says));
    };
    fails("500", ErrorCode::Generic, "failed with a server error (500: CUDA out of memory)");
    fails("bad-json", ErrorCode::Generic, "sent an event that is not JSON");
    fails("error-event", ErrorCode::Generic, "reported an error mid-answer: the model crashed");
    fails("early-close", ErrorCode::Network, "closed the stream before the answer ended");
    fails("html", ErrorCode::Generic, "answered with malformed JSON: <html>Bad gateway</html>");
}

TEST_CASE("remote: a server that goes silent times out with a clear error", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer&) {
        s.Post("/v1/chat/completions", [](const httplib::Request&, httplib::Response& res) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            res.set_content("{}", "application/json");
        });
    });
    llm::RemoteOptions o;
    o.read_timeout_s = 0.3;
    auto ctx = connect(srv, o)->new_context();
    REQUIRE(ctx);
    const auto t0 = Clock::now();
    auto r = (*ctx)->chat({{"user", "x"}}, greedy());
    CHECK(seconds_since(t0) < 1.2);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::Network);
    CHECK_THAT(r.error().message, Catch::Contains("did not answer within 0.3 s"));
}

TEST_CASE("remote: cancel() mid-stream returns at once with the text so far", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer&) {
        s.Post("/v1/chat/completions", [](const httplib::Request&, httplib::Response& res) {
            std::vector<std::string> chunks;
            for (int i = 0; i < 100; ++i) chunks.push_back(delta("tok" + std::to_string(i) + " "));
            stream(res, chunks, 100);   // ten seconds if nobody stops it
        });
    });
    auto ctx = connect(srv)->new_context();
    REQUIRE(ctx);
    std::atomic<bool> first{false};
    Clock::time_point cancelled_at;
    std::thread canceller([&] {
        while (!first) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        cancelled_at = Clock::now();
        (*ctx)->cancel();
    });
    auto r = (*ctx)->chat({{"user", "x"}}, greedy(), [&](std::string_view) {
        first = true;
        return true;
    });
    const double after_cancel = seconds_since(cancelled_at);
    canceller.join();
    REQUIRE(r);
    CHECK(r->stop == llm::StopReason::Cancelled);
    CHECK_THAT(r->text, Catch::StartsWith("tok0 "));
    CHECK(after_cancel < 0.5);
    // The next call starts afresh (an earlier cancel is forgotten).
    std::size_t n = 0;
    r = (*ctx)->chat({{"user", "x"}}, greedy(), [&](std::string_view) { return ++n < 2; });
    REQUIRE(r);
    CHECK(r->stop == llm::StopReason::CallbackStopped);
    CHECK(r->text == "tok0 tok1 ");
}

TEST_CASE("remote: a constraint is checked after generation and asked again with a note", "[llm][remote]") {
    std::atomic<bool> always_wrong{false};
    TinyServer srv([&](httplib::Server& s, TinyServer& self) {
        s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
            self.record(req.body);
            const json b = json::parse(req.body);
            const std::string last = b["messages"].back()["content"];
            const bool noted = last.find("does not follow the required format") != std::string::npos;
            const std::string answer = noted && !always_wrong ? "Answer: 42" : "I think it is 42";
            stream(res, {delta(answer.substr(0, 4)), delta(answer.substr(4)), delta("", "stop"), "data: [DONE]\n\n"});
        });
    });
    auto ctx = connect(srv)->new_context();
    REQUIRE(ctx);
    const llm::Constraint c{llm::Constraint::Kind::Grammar, "root ::= \"Answer: \" [0-9]+"};
    std::string seen;
    auto r = (*ctx)->chat({{"user", "what is six times seven?"}}, greedy(), [&](std::string_view p) {
        seen += p;
        return true;
    }, c);
    REQUIRE(r);
    CHECK(r->text == "Answer: 42");
    CHECK(seen == "Answer: 42");   // the broken first answer never reached the caller
    auto b = srv.bodies();
    REQUIRE(b.size() == 2);
    REQUIRE(b[1]["messages"].size() == 3);
    CHECK(b[1]["messages"][1]["role"] == "assistant");
    CHECK(b[1]["messages"][1]["content"] == "I th");   // stopped where it left the grammar
    CHECK_THAT(b[1]["messages"][2]["content"].get<std::string>(),
               Catch::Contains("breaks the required format at byte 0") && Catch::Contains("root ::= \"Answer: \" [0-9]+"));

    // Never right: the first try and constraint_retries more, then InvalidArgument.
    always_wrong = true;
    r = (*ctx)->chat({{"user", "what is six times seven?"}}, greedy(), {}, c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK_THAT(r.error().message, Catch::Contains("has no constrained decoding") && Catch::Contains("4 times"));
    CHECK(srv.bodies().size() == 2 + 4);

    // A bad grammar fails before any request, as with the local engine.
    r = (*ctx)->chat({{"user", "x"}}, greedy(), {}, {llm::Constraint::Kind::Grammar, "root ::= \"unclosed"});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK(srv.bodies().size() == 6);
}

TEST_CASE("remote: a JSON schema constraint is checked as the grammar json_schema_to_grammar makes", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer&) {
        s.Post("/v1/chat/completions", [](const httplib::Request&, httplib::Response& res) {
            stream(res, {delta("{\"ok\":true,\"n\":3}", "stop"), "data: [DONE]\n\n"});
        });
    });
    auto ctx = connect(srv)->new_context();
    REQUIRE(ctx);
    const std::string schema = R"({"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer"}}})";
    auto r = (*ctx)->chat({{"user", "x"}}, greedy(), {}, {llm::Constraint::Kind::JsonSchema, schema});
    REQUIRE(r);
    CHECK(r->text == "{\"ok\":true,\"n\":3}");
}

TEST_CASE("remote: a refused logprobs is dropped, the answer still comes", "[llm][remote]") {
    TinyServer srv([](httplib::Server& s, TinyServer& self) {
        s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
            self.record(req.body);
            if (json::parse(req.body).contains("logprobs")) {
                res.status = 400;
                res.set_content(R"({"error":{"message":"logprobs is not supported by this server","param":"logprobs"}})", "application/json");
                return;
            }
            stream(res, {delta("fine", "stop"), "data: [DONE]\n\n"});
        });
    });
    auto ctx = connect(srv)->new_context();
    REQUIRE(ctx);
    llm::Sampling s = greedy();
    s.logprob = true;
    auto r = (*ctx)->chat({{"user", "x"}}, s);
    REQUIRE(r);
    CHECK(r->text == "fine");
    CHECK(r->logprob == 0);
    CHECK(srv.bodies().size() == 2);
}

TEST_CASE("remote: token counts come from /tokenize when the server has one, else an estimate", "[llm][remote]") {
    TinyServer with([](httplib::Server& s, TinyServer&) {
        s.Post("/tokenize", [](const httplib::Request& req, httplib::Response& res) {
            const std::string text = json::parse(req.body).value("content", "");
            json ids = json::array();
            for (std::size_t i = 0; i < text.size(); i += 2) ids.push_back(int(i));   // one "token" per 2 bytes
            res.set_content(json{{"tokens", ids}}.dump(), "application/json");
        });
    });
    auto m = connect(with);
    auto t = m->tokenize("abcdefghij", false, false);
    REQUIRE(t);
    CHECK(t->size() == 5);
    CHECK((*t)[1] == 2);

    TinyServer without([](httplib::Server&, TinyServer&) {});
    llm::RemoteOptions o;
    o.url = without.url();
    auto loaded = llm::load_remote(o);
    REQUIRE(loaded);
    CHECK_THAT(loaded->fallback_note, Catch::Contains("token counts are estimated"));
    t = loaded->model->tokenize("abcdefghij", false, false);
    REQUIRE(t);
    CHECK(t->size() == 5);   // ceil(10 / 2)
    auto ctx = loaded->model->new_context();
    REQUIRE(ctx);
    CHECK((*ctx)->complete_tokens({1, 2}, greedy()).error().code == ErrorCode::Unsupported);
    CHECK((*ctx)->logits({1}).error().code == ErrorCode::Unsupported);
}

TEST_CASE("remote: Retry-After values", "[llm][remote]") {
    using llm::remote::retry_after_seconds;
    CHECK(retry_after_seconds("3") == 3);
    CHECK(retry_after_seconds("") == -1);
    CHECK(retry_after_seconds("soon") == -1);
    CHECK(retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT") == 0);   // in the past: now
}

TEST_CASE("remote: the API key: the environment first, and without a Secret Service the keyring says so", "[llm][remote]") {
    // A real keyring needs a D-Bus session with a Secret Service (GNOME Keyring, KWallet): none
    // runs here, so this checks the answers without one; set-key with one is left to a desktop.
    const char* bus = std::getenv("DBUS_SESSION_BUS_ADDRESS");
    const char* run = std::getenv("XDG_RUNTIME_DIR");
    const std::string saved_bus = bus ? bus : "", saved_run = run ? run : "";
    ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
    ::setenv("XDG_RUNTIME_DIR", "/nonexistent-sigmaops-test", 1);
    ::setenv("SIGMAOPS_API_KEY", "from-env", 1);
    auto k = llm::api_key_for("http://127.0.0.1:1");
    ::unsetenv("SIGMAOPS_API_KEY");
    auto none = llm::api_key_for("http://127.0.0.1:1");
    auto stored = llm::store_api_key("http://127.0.0.1:1", "secret-value");
    auto forgot = llm::forget_api_key("http://127.0.0.1:1");
    if (!saved_bus.empty()) ::setenv("DBUS_SESSION_BUS_ADDRESS", saved_bus.c_str(), 1);
    if (!saved_run.empty()) ::setenv("XDG_RUNTIME_DIR", saved_run.c_str(), 1);
    else ::unsetenv("XDG_RUNTIME_DIR");
    REQUIRE(k);
    CHECK(*k == "from-env");
    REQUIRE(none);
    CHECK(none->empty());   // no keyring: no key, not an error
    REQUIRE_FALSE(stored);
    CHECK(stored.error().code == ErrorCode::Unsupported);
    CHECK_THAT(stored.error().message, Catch::Contains("SIGMAOPS_API_KEY") && !Catch::Contains("secret-value"));
    REQUIRE_FALSE(forgot);
    CHECK(forgot.error().code == ErrorCode::Unsupported);
    CHECK(llm::store_api_key("http://127.0.0.1:1", "").error().code == ErrorCode::InvalidArgument);
}
