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
            if (c == body.end() || !c->is_string()) return send_error(res, {400, "'content' must be a string", "invalid_request_error", "content", "invalid_value"});
            auto flag = [&](const char* name, bool def) {
                auto it = body.find(name);
                return it != body.end() && it->is_boolean() ? it->get<bool>() : def;
            };
            auto t = m_sched->tokenize(c->get<std::string>(), flag("add_special", false), flag("parse_special", true));
            if (!t) return send_error(res, {400, t.error().message, "invalid_request_error", "content", ""});
            res.set_content(json{{"tokens", *t}}.dump(), "application/json");
        });
        // llama.cpp's /apply-template: {"messages"} -> {"prompt"}, the chat as this model's template
        // writes it (clients count its tokens with /tokenize, as the server will run it).
        m_http.Post("/apply-template", [this](const httplib::Request& req, httplib::Response& res) {
            std::vector<llm::Message> messages;
            if (auto e = parse_template_request(req.body, messages)) return send_error(res, *e);
            auto p = m_sched->format_chat(messages);
            if (!p) return send_error(res, {400, p.error().message, "invalid_request_error", "messages", ""});
            res.set_content(json{{"prompt", *p}}.dump(), "application/json");
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
        auto job = std::make_shared<Job>();
        bool stream = false, include_usage = false, has_response_format = false;
        if (auto e = parse_request(req.body, chat, m_id, *job, stream, include_usage, has_response_format)) return send_error(res, *e);
        if (job->constraint.kind != llm::Constraint::Kind::None && !m_sched->constrains()) {
            // The batch scheduler samples without a grammar mask. llama.cpp's "grammar" is an
            // extension its clients check the answer against anyway: dropped, and said in the
            // log; OpenAI's response_format is a promise: refused.
            if (has_response_format)
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
