// server.cpp - the HTTP side of `sigmaops serve`: OpenAI's request and response shapes over
// cpp-httplib (Debian's libcpp-httplib), a Job per request handed to the Scheduler, streamed as
// server-sent events. See serve.h for the contract.
#include "serve_internal.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

namespace sigmaops::serve {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// An OpenAI error object and its HTTP status.
struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param;             // "" = null
    std::string code;              // "" = null
};

json error_json(const ApiError& e) {
    return {{"error",
             {{"message", e.message},
              {"type", e.type},
              {"param", e.param.empty() ? json(nullptr) : json(e.param)},
              {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(error_json(e).dump(), "application/json");
}

ApiError bad_param(const std::string& param, const std::string& message) {
    return {400, message, "invalid_request_error", param, "invalid_value"};
}

std::string random_id(const char* prefix) {
    static std::mutex mu;
    static std::mt19937_64 rng{std::random_device{}()};
    std::lock_guard<std::mutex> lock(mu);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s%016llx%08llx", prefix, (unsigned long long)rng(), (unsigned long long)(rng() & 0xffffffffu));
    return buf;
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Equal without an early exit, so the time taken says nothing about where a guess differs.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const size_t n = std::max(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? (unsigned char)a[i] : 0, y = i < b.size() ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

const char* finish_text(Finish f) {
    switch (f) {
    case Finish::Stop: return "stop";
    case Finish::Length: return "length";
    case Finish::Cancelled: return "cancelled";
    case Finish::Error: return "error";
    }
    return "stop";
}

// A number field: absent or null leaves `out`; otherwise it must be a number in [lo, hi].
std::optional<ApiError> number_field(const json& body, const char* name, double lo, double hi, double& out) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) return bad_param(name, std::string("'") + name + "' must be a number");
    const double v = it->get<double>();
    if (!(v >= lo && v <= hi))
        return bad_param(name, std::string("'") + name + "' must be between " + json(lo).dump() + " and " + json(hi).dump() +
                                   ", got " + it->dump());
    out = v;
    return std::nullopt;
}

std::optional<ApiError> int_field(const json& body, const char* name, long long lo, long long hi, long long& out) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() && !it->is_number_unsigned())
        return bad_param(name, std::string("'") + name + "' must be an integer");
    const long long v = it->is_number_unsigned() ? (long long)std::min<uint64_t>(it->get<uint64_t>(), uint64_t(INT64_MAX))
                                                  : it->get<long long>();
    if (v < lo || v > hi)
        return bad_param(name, std::string("'") + name + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                   ", got " + it->dump());
    out = v;
    return std::nullopt;
}

// The parameters both endpoints share, into `job`. OpenAI's defaults: temperature 1, top_p 1,
// no top-k, min-p or repetition penalty (the extensions top_k, min_p, repeat_penalty,
// repeat_last_n set them as llama.cpp's server does).
std::optional<ApiError> parse_sampling(const json& body, Job& job, bool& stream, bool& include_usage) {
    llm::Sampling s;
    double temperature = 1.0, top_p = 1.0, min_p = 0.0, repeat_penalty = 1.0;
    long long top_k = 0, repeat_last_n = 64, max_tokens = -1, seed = -1, n = 1;
    if (auto e = number_field(body, "temperature", 0, 2, temperature)) return e;
    if (auto e = number_field(body, "top_p", 0, 1, top_p)) return e;
    if (auto e = number_field(body, "min_p", 0, 1, min_p)) return e;
    if (auto e = number_field(body, "repeat_penalty", 0, 10, repeat_penalty)) return e;
    if (auto e = int_field(body, "top_k", 0, 1 << 20, top_k)) return e;
    if (auto e = int_field(body, "repeat_last_n", -1, 1 << 20, repeat_last_n)) return e;
    if (auto e = int_field(body, "max_tokens", 1, 1 << 30, max_tokens)) return e;
    if (auto e = int_field(body, "max_completion_tokens", 1, 1 << 30, max_tokens)) return e;
    if (auto e = int_field(body, "seed", INT64_MIN, INT64_MAX, seed)) return e;
    if (auto e = int_field(body, "n", 1, 128, n)) return e;
    if (n != 1)
        return ApiError{400, "n > 1 is not supported by this server: send " + std::to_string(n) + " requests instead",
                        "invalid_request_error", "n", "unsupported_value"};
    if (auto it = body.find("logprobs"); it != body.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>()))
        return ApiError{400, "logprobs is not supported by this server", "invalid_request_error", "logprobs", "unsupported_value"};
    // Constrained decoding: OpenAI's response_format json_schema, or llama.cpp's "grammar" (GBNF).
    if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
        const std::string type = it->is_object() ? it->value("type", "") : "";
        if (type == "json_schema" && it->contains("json_schema") && (*it)["json_schema"].is_object() &&
            (*it)["json_schema"].contains("schema")) {
            job.constraint = {llm::Constraint::Kind::JsonSchema, (*it)["json_schema"]["schema"].dump()};
            if (auto g = llm::json_schema_to_grammar(job.constraint.text); !g)
                return bad_param("response_format", "response_format.json_schema.schema: " + g.error().message);
        } else if (type != "text") {
            return ApiError{400, "response_format must be {\"type\": \"text\"} or {\"type\": \"json_schema\", \"json_schema\": {\"schema\": ...}}",
                            "invalid_request_error", "response_format", "unsupported_value"};
        }
    }
    if (auto it = body.find("grammar"); it != body.end() && !it->is_null()) {
        if (!it->is_string()) return bad_param("grammar", "'grammar' must be a string (a GBNF grammar with a rule root)");
        if (!it->get<std::string>().empty() && job.constraint.kind == llm::Constraint::Kind::None)
            job.constraint = {llm::Constraint::Kind::Grammar, it->get<std::string>()};
    }
    std::vector<std::string> stops;
    if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
        if (it->is_string()) stops.push_back(it->get<std::string>());
        else if (it->is_array()) {
            for (const json& x : *it) {
                if (!x.is_string()) return bad_param("stop", "'stop' must be a string or an array of strings");
                stops.push_back(x.get<std::string>());
            }
        } else return bad_param("stop", "'stop' must be a string or an array of strings");
        if (stops.size() > 4) return bad_param("stop", "'stop' holds at most 4 strings");
        for (const auto& x : stops)
            if (x.empty()) return bad_param("stop", "a stop string must not be empty");
    }
    stream = false;
    if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
        if (!it->is_boolean()) return bad_param("stream", "'stream' must be true or false");
        stream = it->get<bool>();
    }
    include_usage = false;
    if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
        if (!it->is_object()) return bad_param("stream_options", "'stream_options' must be an object");
        auto u = it->find("include_usage");
        if (u != it->end() && !u->is_null()) {
            if (!u->is_boolean()) return bad_param("stream_options", "'stream_options.include_usage' must be true or false");
            include_usage = u->get<bool>();
        }
    }
    s.temperature = float(temperature);
    s.top_p = float(top_p);
    s.top_k = int(top_k);
    s.min_p = float(min_p);
    s.repeat_penalty = float(repeat_penalty);
    s.repeat_last_n = int(repeat_last_n);
    // seed: the same seed gives the same reply; 0 (the engine's "random") is mapped to another
    // fixed value, no seed means a random one.
    s.seed = seed == -1 && body.find("seed") == body.end() ? 0 : (seed == 0 ? 0x5eed5eedULL : uint64_t(seed));
    if (auto it = body.find("seed"); it != body.end() && it->is_null()) s.seed = 0;
    s.max_tokens = int(max_tokens);
    job.max_tokens_requested = int(max_tokens);
    job.sampling = s;
    job.set_stop(std::move(stops));
    return std::nullopt;
}

std::optional<ApiError> parse_messages(const json& body, Job& job) {
    auto it = body.find("messages");
    if (it == body.end()) return ApiError{400, "'messages' is required", "invalid_request_error", "messages", "missing_required_parameter"};
    if (!it->is_array() || it->empty()) return bad_param("messages", "'messages' must be a non-empty array");
    for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
            return bad_param(where + ".role", where + " must be an object with a string 'role'");
        std::string role = m["role"].get<std::string>();
        if (role == "developer") role = "system";
        if (role != "system" && role != "user" && role != "assistant")
            return bad_param(where + ".role", "role '" + role + "' is not supported (system, developer, user, assistant)");
        std::string content;
        auto c = m.find("content");
        if (c == m.end() || c->is_null()) {
            if (role != "assistant") return bad_param(where + ".content", where + " has no content");
        } else if (c->is_string()) {
            content = c->get<std::string>();
        } else if (c->is_array()) {
            for (const json& part : *c) {
                if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
                    return bad_param(where + ".content", "only text content parts are supported");
                content += part["text"].get<std::string>();
            }
        } else {
            return bad_param(where + ".content", where + ".content must be a string or an array of text parts");
        }
        job.messages.push_back({role, std::move(content)});
    }
    job.is_chat = true;
    return std::nullopt;
}

std::optional<ApiError> parse_prompt(const json& body, Job& job) {
    auto it = body.find("prompt");
    if (it == body.end()) return ApiError{400, "'prompt' is required", "invalid_request_error", "prompt", "missing_required_parameter"};
    if (it->is_string()) job.prompt = it->get<std::string>();
    else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) job.prompt = (*it)[0].get<std::string>();
    else return bad_param("prompt", "'prompt' must be a string (or an array of one string; batches are not supported)");
    if (job.prompt.empty()) return bad_param("prompt", "'prompt' is empty");
    job.is_chat = false;
    return std::nullopt;
}

class ServerImpl final : public Server {
public:
    ServerImpl(Options o, std::unique_ptr<Scheduler> sched, std::string id, std::string desc)
        : m_opt(std::move(o)), m_sched(std::move(sched)), m_id(std::move(id)), m_desc(std::move(desc)) {}

    ~ServerImpl() override { stop(); }

    Expected<void> listen() {
        setup_routes();
        const int n_threads = std::max(1, m_opt.parallel) + m_opt.queue + 8;
        m_http.new_task_queue = [n_threads] { return new httplib::ThreadPool(size_t(n_threads)); };
        m_http.set_payload_max_length(m_opt.max_body_bytes);
        m_http.set_keep_alive_timeout(2);
        m_http.set_read_timeout(30);
        m_http.set_write_timeout(30);
        if (m_opt.port == 0) {
            m_port = m_http.bind_to_any_port(m_opt.host);
            if (m_port <= 0) return unexpected(ErrorCode::Io, "cannot bind " + m_opt.host + " on any port");
        } else {
            if (!m_http.bind_to_port(m_opt.host, m_opt.port))
                return unexpected(ErrorCode::Io, "cannot bind " + m_opt.host + ":" + std::to_string(m_opt.port) +
                                                     " (in use, or not an address of this machine?)");
            m_port = m_opt.port;
        }
        m_thread = std::thread([this] { m_http.listen_after_bind(); });
        return {};
    }

    int port() const override { return m_port; }
    std::string model_id() const override { return m_id; }
    std::string description() const override { return m_desc; }

    void stop() override {
        std::call_once(m_stop_once, [&] {
            m_stopping = true;
            log("shutting down: new requests get 503; running requests have " + std::to_string(m_opt.shutdown_grace_ms) + " ms");
            m_sched->close();
            if (!m_sched->wait_idle(Clock::now() + std::chrono::milliseconds(m_opt.shutdown_grace_ms))) {
                log("cancelling the requests still running");
                m_sched->cancel_running();
                m_sched->wait_idle(Clock::now() + std::chrono::seconds(5));
            }
            // Streams send their last event once their job has ended; give them a moment.
            for (int i = 0; i < 50 && m_streams.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
            m_http.stop();
            if (m_thread.joinable()) m_thread.join();
            m_sched.reset();
            log("stopped");
        });
    }

private:
    void log(const std::string& line) const {
        if (m_opt.log) m_opt.log(line);
    }

    void setup_routes() {
        m_http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            if (m_opt.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
            const std::string auth = req.get_header_value("Authorization");
            const std::string prefix = "Bearer ";
            if (auth.size() > prefix.size() && auth.compare(0, prefix.size(), prefix) == 0 &&
                same_secret(std::string_view(auth).substr(prefix.size()), m_opt.api_key))
                return httplib::Server::HandlerResponse::Unhandled;
            send_error(res, {401, auth.empty() ? "no API key: send 'Authorization: Bearer KEY'" : "incorrect API key",
                             "invalid_request_error", "", "invalid_api_key"});
            return httplib::Server::HandlerResponse::Handled;
        });
        m_http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;
            if (res.status == 413)
                send_error(res, {413, "the request body is larger than " + std::to_string(m_opt.max_body_bytes) + " bytes",
                                 "invalid_request_error", "", "request_too_large"});
            else if (res.status == 404)
                send_error(res, {404, "no such endpoint: " + req.method + " " + req.path, "invalid_request_error", "", "unknown_url"});
            else if (res.status == 405)
                send_error(res, {405, "method " + req.method + " not allowed on " + req.path, "invalid_request_error", "", "method_not_allowed"});
            else
                send_error(res, {res.status, "request failed with HTTP " + std::to_string(res.status),
                                 res.status >= 500 ? "server_error" : "invalid_request_error", "", ""});
        });
        m_http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "internal error";
            try { if (ep) std::rethrow_exception(ep); } catch (const std::exception& e) { what = e.what(); } catch (...) {}
            send_error(res, {500, what, "server_error", "", ""});
        });
        m_http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
            log(req.remote_addr + " " + req.method + " " + req.path + " " + std::to_string(res.status));
        });

        m_http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(json{{"status", m_stopping ? "stopping" : "ok"}}.dump(), "application/json");
            if (m_stopping) res.status = 503;
        });
        m_http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(json{{"object", "list"}, {"data", json::array({model_object()})}}.dump(), "application/json");
        });
        m_http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            if (req.matches[1] != m_id)
                return send_error(res, {404, "The model '" + std::string(req.matches[1]) + "' does not exist", "invalid_request_error",
                                        "model", "model_not_found"});
            res.set_content(model_object().dump(), "application/json");
        });
        // llama.cpp's server's /tokenize ({"content", "add_special"} -> {"tokens"}) and /props
        // (default_generation_settings.n_ctx), which clients such as SigmaOps' remote backend use
        // for exact token counts and the context size.
        m_http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
            json body = json::parse(req.body, nullptr, false);
            if (body.is_discarded() || !body.is_object())
                return send_error(res, {400, "the request body is not a JSON object", "invalid_request_error", "", "invalid_json"});
            auto c = body.find("content");
            if (c == body.end() || !c->is_string()) return send_error(res, bad_param("content", "'content' must be a string"));
            auto flag = [&](const char* name, bool def) {
                auto it = body.find(name);
                return it != body.end() && it->is_boolean() ? it->get<bool>() : def;
            };
            auto t = m_sched->tokenize(c->get<std::string>(), flag("add_special", false), flag("parse_special", true));
            if (!t) return send_error(res, {400, t.error().message, "invalid_request_error", "content", ""});
            res.set_content(json{{"tokens", *t}}.dump(), "application/json");
        });
        m_http.Get("/props", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(json{{"default_generation_settings", {{"n_ctx", m_sched->n_ctx()}}},
                                 {"total_slots", m_sched->n_slots()},
                                 {"model", m_id}}.dump(),
                            "application/json");
        });
        m_http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { complete(req, res, true); });
        m_http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { complete(req, res, false); });
    }

    json model_object() const {
        // context_length / max_model_len (vLLM's name): the tokens one request's prompt and reply share.
        return {{"id", m_id}, {"object", "model"}, {"created", m_created}, {"owned_by", "sigmaops"},
                {"context_length", m_sched->n_ctx()}, {"max_model_len", m_sched->n_ctx()}};
    }

    void complete(const httplib::Request& req, httplib::Response& res, bool chat) {
        if (m_stopping) return send_error(res, {503, "the server is shutting down", "server_error", "", "shutting_down"});
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) return send_error(res, {400, "the request body is not valid JSON", "invalid_request_error", "", "invalid_json"});
        if (!body.is_object()) return send_error(res, {400, "the request body must be a JSON object", "invalid_request_error", "", "invalid_json"});
        auto m = body.find("model");
        if (m == body.end() || !m->is_string())
            return send_error(res, {400, "'model' is required (GET /v1/models lists it)", "invalid_request_error", "model", "missing_required_parameter"});
        if (m->get<std::string>() != m_id)
            return send_error(res, {404, "The model '" + m->get<std::string>() + "' does not exist (this server has '" + m_id + "')",
                                    "invalid_request_error", "model", "model_not_found"});
        auto job = std::make_shared<Job>();
        bool stream = false, include_usage = false;
        if (auto e = chat ? parse_messages(body, *job) : parse_prompt(body, *job)) return send_error(res, *e);
        if (auto e = parse_sampling(body, *job, stream, include_usage)) return send_error(res, *e);
        if (job->constraint.kind != llm::Constraint::Kind::None && !m_sched->constrains()) {
            // The batch scheduler samples without a grammar mask. llama.cpp's "grammar" is an
            // extension its clients check the answer against anyway: dropped, and said in the
            // log; OpenAI's response_format is a promise: refused.
            if (body.contains("response_format") && !body["response_format"].is_null())
                return send_error(res, {400, "response_format json_schema needs constrained decoding, which this server's batch "
                                             "scheduler does not do (run serve with --scheduler fifo)",
                                        "invalid_request_error", "response_format", "unsupported_value"});
            log("the batch scheduler ignores this request's grammar");
            job->constraint = {};
        }
        auto n_prompt = m_sched->count_prompt(*job);
        if (!n_prompt) return send_error(res, {400, n_prompt.error().message, "invalid_request_error", chat ? "messages" : "prompt", ""});
        if (*n_prompt >= m_sched->n_ctx())
            return send_error(res, {400, "the prompt has " + std::to_string(*n_prompt) + " tokens; this model's context holds " +
                                             std::to_string(m_sched->n_ctx()),
                                    "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded"});
        switch (m_sched->submit(job)) {
        case SubmitStatus::Accepted: break;
        case SubmitStatus::QueueFull:
            res.set_header("Retry-After", "1");
            return send_error(res, {429, "the server is busy: every slot and the queue are full; retry later", "rate_limit_error", "", "queue_full"});
        case SubmitStatus::ShuttingDown:
            return send_error(res, {503, "the server is shutting down", "server_error", "", "shutting_down"});
        }
        const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
        const int64_t created = unix_now();
        if (!stream) return reply_whole(res, *job, chat, id, created);
        reply_stream(res, job, chat, id, created, include_usage);
    }

    json usage_json(const JobResult& r) const {
        return {{"prompt_tokens", r.n_prompt}, {"completion_tokens", r.n_completion}, {"total_tokens", r.n_prompt + r.n_completion}};
    }

    static ApiError job_error(const JobResult& r) {
        if (r.finish == Finish::Cancelled) return {503, "the request was cancelled: the server is shutting down", "server_error", "", "cancelled"};
        if (r.error.code == ErrorCode::ContextFull) return {400, r.error.message, "invalid_request_error", "", "context_length_exceeded"};
        if (r.error.code == ErrorCode::InvalidArgument) return {400, r.error.message, "invalid_request_error", "", "invalid_value"};
        return {500, r.error.message.empty() ? "generation failed" : r.error.message, "server_error", "", ""};
    }

    void reply_whole(httplib::Response& res, Job& job, bool chat, const std::string& id, int64_t created) {
        std::string text;
        while (!job.take(text, std::chrono::milliseconds(1000))) {}
        const JobResult& r = job.result();
        if (r.finish == Finish::Error || r.finish == Finish::Cancelled) return send_error(res, job_error(r));
        json choice = chat ? json{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"logprobs", nullptr},
                                  {"finish_reason", finish_text(r.finish)}}
                           : json{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_text(r.finish)}};
        json out = {{"id", id},
                    {"object", chat ? "chat.completion" : "text_completion"},
                    {"created", created},
                    {"model", m_id},
                    {"choices", json::array({choice})},
                    {"usage", usage_json(r)}};
        res.set_content(out.dump(), "application/json");
    }

    void reply_stream(httplib::Response& res, std::shared_ptr<Job> job, bool chat, const std::string& id, int64_t created,
                      bool include_usage) {
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        ++m_streams;
        auto chunk = [this, chat, id, created](const json& choice_delta, const json& finish) {
            json choice = chat ? json{{"index", 0}, {"delta", choice_delta}, {"logprobs", nullptr}, {"finish_reason", finish}}
                               : json{{"index", 0}, {"text", choice_delta}, {"logprobs", nullptr}, {"finish_reason", finish}};
            return json{{"id", id},
                        {"object", chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", created},
                        {"model", m_id},
                        {"choices", json::array({choice})}};
        };
        res.set_chunked_content_provider(
            "text/event-stream",
            [this, job, chat, chunk, include_usage, id, created](size_t, httplib::DataSink& sink) {
                auto send = [&](const json& j) {
                    const std::string line = "data: " + j.dump() + "\n\n";
                    return sink.write(line.data(), line.size());
                };
                // The role first, as OpenAI does; then the text as it comes.
                if (chat && !send(chunk(json{{"role", "assistant"}, {"content", ""}}, nullptr))) { job->cancel(); return false; }
                std::string text;
                bool done = false;
                while (!done) {
                    text.clear();
                    done = job->take(text, std::chrono::milliseconds(200));
                    if (!text.empty() && !send(chunk(chat ? json{{"content", text}} : json(text), nullptr))) {
                        job->cancel();   // the client went away: stop its generation
                        while (!job->take(text, std::chrono::milliseconds(1000))) text.clear();
                        return false;
                    }
                }
                const JobResult& r = job->result();
                bool ok = true;
                if (r.finish == Finish::Error || r.finish == Finish::Cancelled) {
                    ok = send(error_json(job_error(r)));
                } else {
                    ok = send(chunk(chat ? json::object() : json(""), finish_text(r.finish)));
                    if (ok && include_usage) {
                        json u = {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                                  {"model", m_id}, {"choices", json::array()}, {"usage", usage_json(r)}};
                        ok = send(u);
                    }
                }
                static const char done_line[] = "data: [DONE]\n\n";
                if (ok) ok = sink.write(done_line, sizeof done_line - 1);
                if (ok) sink.done();
                return ok;
            },
            [this, job](bool) {
                job->cancel();   // a no-op when it has finished; a cut connection stops the generation
                --m_streams;
            });
    }

    Options m_opt;
    std::unique_ptr<Scheduler> m_sched;
    std::string m_id, m_desc;
    httplib::Server m_http;
    std::thread m_thread;
    int m_port = 0;
    int64_t m_created = unix_now();
    std::atomic<bool> m_stopping{false};
    std::atomic<int> m_streams{0};
    std::once_flag m_stop_once;
};

} // namespace

Expected<std::unique_ptr<Server>> Server::start(const Options& options) {
    Options o = options;
    if (o.model_path.empty()) return unexpected(ErrorCode::InvalidArgument, "no model file given");
    if (o.port < 0 || o.port > 65535) return unexpected(ErrorCode::InvalidArgument, "port must be 0..65535");
    if (o.queue < 0) return unexpected(ErrorCode::InvalidArgument, "the queue limit must be >= 0");
    if (o.parallel < 0 || o.parallel > 64) return unexpected(ErrorCode::InvalidArgument, "parallel must be 0..64");
    std::string id = o.model_id.empty() ? std::filesystem::path(o.model_path).stem().string() : o.model_id;

    SchedulerConfig cfg;
    cfg.queue = o.queue;
    cfg.n_ctx = o.n_ctx;
    std::unique_ptr<Scheduler> sched;
    std::string note;
    const bool batch_wanted = o.scheduling == Scheduling::Batch || (o.scheduling == Scheduling::Auto && o.device != Device::Cpu);
    if (o.device != Device::Cpu && batch_wanted) {
        cfg.parallel = o.parallel > 0 ? o.parallel : 8;
        auto b = make_batch_scheduler(o.model_path, true, o.n_threads, cfg);
        if (b) sched = std::move(*b);
        else if (o.device == Device::Cuda || b.error().code == ErrorCode::NotFound || b.error().code == ErrorCode::BadFile)
            return unexpected(b.error());
        else note = "the GPU is not used: " + b.error().message;
    }
    if (!sched && batch_wanted && o.scheduling == Scheduling::Batch) {
        cfg.parallel = o.parallel > 0 ? o.parallel : 8;
        auto b = make_batch_scheduler(o.model_path, false, o.n_threads, cfg);
        if (!b) return unexpected(b.error());
        sched = std::move(*b);
    }
    if (!sched) {
        cfg.parallel = o.parallel > 0 ? o.parallel : 1;
        llm::LoadOptions lo;
        lo.device = o.device == Device::Cpu || !note.empty() ? llm::Device::Cpu
                    : o.device == Device::Cuda             ? llm::Device::Cuda
                                                           : llm::Device::Auto;
        lo.n_threads = o.n_threads;
        auto loaded = llm::load_local(o.model_path, lo);
        if (!loaded) return unexpected(loaded.error());
        if (!loaded->fallback_note.empty()) note = loaded->fallback_note;
        auto f = make_fifo_scheduler(loaded->model, cfg);
        if (!f) return unexpected(f.error());
        sched = std::move(*f);
    }
    o.parallel = cfg.parallel;
    std::string desc = sched->description() + ", context " + std::to_string(sched->n_ctx()) + ", queue " + std::to_string(o.queue);
    if (!note.empty()) desc += " (" + note + ")";
    auto server = std::make_unique<ServerImpl>(std::move(o), std::move(sched), std::move(id), std::move(desc));
    if (auto l = server->listen(); !l) return unexpected(l.error());
    return std::unique_ptr<Server>(std::move(server));
}

} // namespace sigmaops::serve
