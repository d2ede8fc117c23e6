// remote.cpp - llm::Model / llm::Context over an OpenAI-compatible HTTP endpoint (llm.h,
// "a remote OpenAI-compatible endpoint"): requests as JSON, answers streamed as server-sent
// events (remote_sse.h) through remote_http.h, constraints checked with the engine's grammar
// library and asked again when broken, token counts from the server's /tokenize or estimated.
#include <llm/llm.h>

#include "remote_http.h"
#include "remote_sse.h"

#include <grammar/grammar.h>   // engine/src/grammar: the checker of constrained answers

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>

namespace sigmaops::llm {

namespace {

using json = nlohmann::json;
using remote::Http;

// Common BPE vocabularies take 3.5-4.5 bytes per token of English and logs, so counting 2 keeps
// prompt budgets safe for the models remote servers run; the shipped sigma-ops-nano's small
// vocabulary takes about 1.5 on diagnose's prompt (serve it with /tokenize, or pass a smaller --ctx).
constexpr const char* k_estimate_note = "one token per 2 bytes, rounded up";

double ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// Bytes of `s` that end on a UTF-8 character boundary (a split character waits for its rest).
std::size_t complete_utf8(std::string_view s) {
    std::size_t n = s.size(), back = 0;
    while (back < 4 && back < n && (static_cast<unsigned char>(s[n - 1 - back]) & 0xC0) == 0x80) ++back;
    if (back == n) return n;
    const auto lead = static_cast<unsigned char>(s[n - 1 - back]);
    const std::size_t need = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
    return back + 1 < need ? n - back - 1 : n;
}

// ---- constraints: the engine's grammar as a checker -----------------------------------------

class Checker {
public:
    static Expected<std::unique_ptr<Checker>> make(const Constraint& c) {
        if (c.kind == Constraint::Kind::None) return std::unique_ptr<Checker>();
        std::string grammar = c.text;
        if (c.kind == Constraint::Kind::Grammar && c.text.empty())
            return unexpected(ErrorCode::InvalidArgument, "the grammar constraint is empty: write at least `root ::= ...`");
        if (c.kind == Constraint::Kind::JsonSchema) {
            auto g = json_schema_to_grammar(c.text);
            if (!g) return unexpected(g.error());
            grammar = std::move(*g);
        }
        auto out = std::make_unique<Checker>();
        try {
            out->m_grammar = sigma::grammar::Grammar::parse(grammar);
        } catch (const std::exception& e) {
            return unexpected(ErrorCode::InvalidArgument, std::string("bad grammar: ") + e.what());
        }
        out->m_tokens = std::make_shared<sigma::grammar::TokenTable>(std::vector<sigma::grammar::TokenInfo>{});
        out->m_kind = c.kind;
        out->m_text = c.text;
        out->m_gbnf = std::move(grammar);
        out->start();
        return out;
    }
    void start() {
        m_matcher = std::make_unique<sigma::grammar::Matcher>(m_grammar, m_tokens);
        m_n = 0;
        m_broken = false;
    }
    // Feeds more of the answer; false once it has left the grammar's language (m_n then is the
    // offset of the first byte that broke it).
    bool feed(std::string_view piece) {
        if (m_broken) return false;
        if (m_matcher->accept_bytes(piece)) {
            m_n += piece.size();
            return true;
        }
        for (char c : piece) {
            if (!m_matcher->accept_bytes(std::string_view(&c, 1))) break;
            ++m_n;
        }
        m_broken = true;
        return false;
    }
    bool complete() const { return !m_broken && m_matcher->complete(); }
    // What is wrong with `answer` (fed in full), for the retry's note and the final error.
    std::string why(const std::string& answer) const {
        auto shown = [](std::string_view s) {
            std::string o;
            for (char c : s) o += c == '\n' ? std::string("\\n") : std::string(1, c);
            return o;
        };
        if (m_broken) {
            const std::size_t from = m_n > 40 ? m_n - 40 : 0;
            return "it breaks the required format at byte " + std::to_string(m_n) + " (after \"" +
                   shown(std::string_view(answer).substr(from, m_n - from)) + "\", at \"" +
                   shown(std::string_view(answer).substr(m_n, 20)) + "\")";
        }
        return "it ends before the required format is complete";
    }
    // The grammar in GBNF (a JSON schema already converted), for servers that take one.
    const std::string& gbnf() const { return m_gbnf; }
    std::string note(const std::string& answer) const {
        std::string n = "Your answer does not follow the required format: " + why(answer) + ". Answer again, ";
        if (m_kind == Constraint::Kind::JsonSchema) return n + "as compact JSON matching this JSON schema, and nothing else:\n" + m_text;
        return n + "exactly in the form this grammar (GBNF, start rule root) describes, and nothing else:\n" + m_text;
    }

private:
    std::shared_ptr<const sigma::grammar::Grammar> m_grammar;
    std::shared_ptr<const sigma::grammar::TokenTable> m_tokens;
    std::unique_ptr<sigma::grammar::Matcher> m_matcher;
    Constraint::Kind m_kind = Constraint::Kind::None;
    std::string m_text;
    std::string m_gbnf;
    std::size_t m_n = 0;
    bool m_broken = false;
};

// ---- ChatML: what format_chat writes, and how complete() recognizes it ----------------------

std::string chatml(const std::vector<Message>& messages, bool add_assistant) {
    std::string out;
    for (const Message& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (add_assistant) out += "<|im_start|>assistant\n";
    return out;
}

// The conversation `text` is, when it is exactly chatml(messages, true) of some messages.
std::optional<std::vector<Message>> parse_chatml(std::string_view text) {
    static constexpr std::string_view open = "<|im_start|>", close = "<|im_end|>\n", tail = "<|im_start|>assistant\n";
    if (text.size() < tail.size() || text.substr(text.size() - tail.size()) != tail) return std::nullopt;
    std::string_view body = text.substr(0, text.size() - tail.size());
    std::vector<Message> out;
    while (!body.empty()) {
        if (body.substr(0, open.size()) != open) return std::nullopt;
        body.remove_prefix(open.size());
        const std::size_t nl = body.find('\n');
        if (nl == std::string_view::npos) return std::nullopt;
        const std::string role(body.substr(0, nl));
        if (role != "system" && role != "user" && role != "assistant") return std::nullopt;
        body.remove_prefix(nl + 1);
        const std::size_t end = body.find(close);
        if (end == std::string_view::npos) return std::nullopt;
        out.push_back({role, std::string(body.substr(0, end))});
        body.remove_prefix(end + close.size());
    }
    if (out.empty() || chatml(out, true) != text) return std::nullopt;   // only an exact round trip
    return out;
}

// ---- the model and its contexts ------------------------------------------------------------

struct Shared {
    remote::Endpoint endpoint;
    std::string key;
    remote::HttpOptions http;
    RemoteOptions options;
    std::string model;             // the name requests carry
    bool exact_tokens = false;     // the server's /tokenize answers
    // The server refused "logprobs" once (400 naming it): not asked for again, logprob stays 0.
    mutable std::atomic<bool> no_logprobs{false};
    // The server renders chats with its own template on request (llama.cpp's POST /apply-template).
    bool apply_template = false;
    // Texts format_chat got from /apply-template and their messages, so complete() of such a
    // text goes as the chat it is (the last 32).
    mutable std::mutex rendered_mutex;
    mutable std::vector<std::pair<std::string, std::vector<Message>>> rendered;
    std::optional<std::vector<Message>> messages_of(std::string_view text) const {
        std::lock_guard<std::mutex> lock(rendered_mutex);
        for (const auto& [t, m] : rendered)
            if (t == text) return m;
        return std::nullopt;
    }
    int n_ctx = 4096;
    ~Shared() { std::fill(key.begin(), key.end(), '\0'); }
};

Expected<std::vector<Token>> remote_tokenize(const Shared& s, std::string_view text, bool add_bos) {
    if (!s.exact_tokens) {
        const std::size_t n = (text.size() + 1) / 2 + (add_bos ? 1 : 0);
        return std::vector<Token>(n, Token(-1));
    }
    Http http(s.endpoint, s.key, s.http);
    json body = {{"content", std::string(text)}, {"prompt", std::string(text)}, {"model", s.model},
                 {"add_special", add_bos}, {"add_special_tokens", add_bos}};
    auto r = http.request("POST", s.endpoint.root + "/tokenize", body.dump(-1, ' ', false, json::error_handler_t::replace));
    if (!r) return unexpected(r.error());
    if (r->status < 200 || r->status >= 300) return unexpected(http.http_error(s.endpoint.root + "/tokenize", *r));
    try {
        const json j = json::parse(r->body);
        std::vector<Token> out;
        for (const auto& t : j.at("tokens")) out.push_back(t.is_object() ? t.at("id").get<Token>() : t.get<Token>());
        return out;
    } catch (const std::exception&) {
        return unexpected(ErrorCode::Generic, "the backend's /tokenize answer is not the expected JSON: " + remote::error_message_of(r->body));
    }
}

// llama.cpp's POST /apply-template: {"messages": [...]} -> {"prompt": the rendered chat, with the
// assistant turn opened}.
Expected<std::string> apply_template(const Shared& s, const std::vector<Message>& messages) {
    Http http(s.endpoint, s.key, s.http);
    json ms = json::array();
    for (const Message& m : messages) ms.push_back({{"role", m.role}, {"content", m.content}});
    json body = json::object();
    body["messages"] = std::move(ms);
    body["model"] = s.model;
    auto r = http.request("POST", s.endpoint.root + "/apply-template", body.dump(-1, ' ', false, json::error_handler_t::replace));
    if (!r) return unexpected(r.error());
    if (r->status < 200 || r->status >= 300) return unexpected(http.http_error(s.endpoint.root + "/apply-template", *r));
    try {
        return json::parse(r->body).at("prompt").get<std::string>();
    } catch (const std::exception&) {
        return unexpected(ErrorCode::Generic, "the backend's /apply-template answer is not the expected JSON: " + remote::error_message_of(r->body));
    }
}

class RemoteContext final : public Context {
public:
    RemoteContext(std::shared_ptr<const Shared> s, int n_ctx)
        : m_s(std::move(s)), m_http(m_s->endpoint, m_s->key, m_s->http), m_n_ctx(n_ctx) {}

    Expected<Completion> chat(const std::vector<Message>& messages, const Sampling& sampling, const TextCallback& on_text,
                              const Constraint& constraint) override {
        m_http.arm();
        return constrained(&messages, {}, sampling, on_text, constraint);
    }

    Expected<Completion> complete(std::string_view prompt, const Sampling& sampling, const TextCallback& on_text,
                                  const Constraint& constraint) override {
        m_http.arm();
        // A conversation format_chat() wrote goes as a chat, so the server's template applies.
        if (auto msgs = m_s->messages_of(prompt)) return constrained(&*msgs, {}, sampling, on_text, constraint);
        if (auto msgs = parse_chatml(prompt)) return constrained(&*msgs, {}, sampling, on_text, constraint);
        return constrained(nullptr, json(std::string(prompt)), sampling, on_text, constraint);
    }

    Expected<Completion> complete_tokens(const std::vector<Token>& prompt, const Sampling& sampling,
                                         const TextCallback& on_text, const Constraint& constraint) override {
        m_http.arm();
        if (!m_s->exact_tokens)
            return unexpected(ErrorCode::Unsupported, "the backend at " + m_s->endpoint.shown +
                                                          " has no /tokenize, so token ids mean nothing there; send text");
        return constrained(nullptr, json(prompt), sampling, on_text, constraint);
    }

    Expected<std::vector<float>> logits(const std::vector<Token>&) override {
        return unexpected(ErrorCode::Unsupported, "a remote backend (" + m_s->endpoint.shown + ") does not give logits");
    }
    void cancel() override { m_http.cancel(); }
    void reset() override {}   // the server keeps (or not) its own prefix cache
    int n_ctx() const override { return m_n_ctx; }

private:
    struct Attempt {
        Completion c;
        bool broke = false;        // the checker stopped it
    };

    json request_body(const std::vector<Message>* messages, const json& prompt, const Sampling& s, const Checker* checker) const {
        json b = {{"model", m_s->model}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
        if (messages) {
            json ms = json::array();
            for (const Message& m : *messages) ms.push_back({{"role", m.role}, {"content", m.content}});
            b["messages"] = std::move(ms);
            if (s.logprob && !m_s->no_logprobs) b["logprobs"] = true;
        } else {
            b["prompt"] = prompt;
            if (s.logprob && !m_s->no_logprobs) b["logprobs"] = 1;
        }
        b["max_tokens"] = s.max_tokens;
        b["temperature"] = s.temperature <= 0 ? 0.0 : double(s.temperature);
        b["top_p"] = s.temperature <= 0 ? 1.0 : double(s.top_p);
        // Not in OpenAI's API but understood by llama.cpp's server, vLLM and `sigmaops serve`:
        // the same sampler as the local engine (a server that does not know them ignores them).
        b["top_k"] = s.top_k;
        b["min_p"] = s.min_p;
        b["repeat_penalty"] = s.repeat_penalty;
        b["repeat_last_n"] = s.repeat_last_n;
        b["repetition_penalty"] = s.repeat_penalty;
        if (s.seed) b["seed"] = s.seed;
        if (!s.stop.empty()) b["stop"] = s.stop;
        // llama.cpp's server (and any server that takes it) masks with this GBNF grammar as the
        // local engine does; others ignore the field, and the answer is checked either way.
        if (checker) b["grammar"] = checker->gbnf();
        return b;
    }

    // One streamed generation. `emit` gets the text as it comes (complete UTF-8 characters);
    // `checker`, when given, sees it first and stops the stream once the text breaks it.
    Expected<Attempt> once(const std::vector<Message>* messages, const json& prompt, const Sampling& s,
                           const TextCallback& emit, Checker* checker) {
        const std::string path = m_s->endpoint.api + (messages ? "/chat/completions" : "/completions");
        const std::string body = request_body(messages, prompt, s, checker).dump(-1, ' ', false, json::error_handler_t::replace);
        Attempt a;
        remote::SseParser sse;
        std::string pending;           // bytes of a split UTF-8 character
        std::string finish, stop_reason, fail;
        bool done = false, stopped = false, saw_usage = false;
        int n_logprobs = 0;
        const auto t0 = std::chrono::steady_clock::now();
        double first_ms = -1;

        auto text = [&](const std::string& piece) -> bool {
            if (piece.empty()) return true;
            if (first_ms < 0) first_ms = ms_since(t0);
            pending += piece;
            const std::size_t n = complete_utf8(pending);
            if (n == 0) return true;
            const std::string out = pending.substr(0, n);
            pending.erase(0, n);
            a.c.text += out;
            if (checker && !checker->feed(out)) {
                a.broke = true;
                return false;
            }
            if (emit && !emit(out)) {
                stopped = true;
                return false;
            }
            return true;
        };
        // One chunk object (streamed) or the whole answer (non-streamed).
        auto object = [&](const json& j) -> bool {
            if (j.contains("error") && !j["error"].is_null()) {
                fail = "the backend at " + m_s->endpoint.shown + " reported an error mid-answer: " + remote::error_message_of(j.dump());
                return false;
            }
            if (j.contains("usage") && j["usage"].is_object()) {
                const json& u = j["usage"];
                a.c.usage.n_prompt = u.value("prompt_tokens", a.c.usage.n_prompt);
                a.c.usage.n_generated = u.value("completion_tokens", a.c.usage.n_generated);
                saw_usage = true;
            }
            if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return true;
            const json& ch = j["choices"][0];
            std::string piece;
            if (ch.contains("delta") && ch["delta"].is_object()) {
                const json& d = ch["delta"];
                if (d.contains("content") && d["content"].is_string()) piece = d["content"].get<std::string>();
            } else if (ch.contains("message") && ch["message"].is_object()) {
                const json& m = ch["message"];
                if (m.contains("content") && m["content"].is_string()) piece = m["content"].get<std::string>();
            } else if (ch.contains("text") && ch["text"].is_string()) {
                piece = ch["text"].get<std::string>();
            }
            if (ch.contains("logprobs") && ch["logprobs"].is_object()) {
                const json& lp = ch["logprobs"];
                if (lp.contains("content") && lp["content"].is_array())
                    for (const json& t : lp["content"])
                        if (t.contains("logprob") && t["logprob"].is_number()) {
                            a.c.logprob += t["logprob"].get<double>();
                            ++n_logprobs;
                        }
                if (lp.contains("token_logprobs") && lp["token_logprobs"].is_array())
                    for (const json& t : lp["token_logprobs"])
                        if (t.is_number()) {
                            a.c.logprob += t.get<double>();
                            ++n_logprobs;
                        }
            }
            if (ch.contains("finish_reason") && ch["finish_reason"].is_string()) finish = ch["finish_reason"].get<std::string>();
            if (ch.contains("stop_reason") && ch["stop_reason"].is_string()) stop_reason = ch["stop_reason"].get<std::string>();
            return text(piece);
        };
        auto on_chunk = [&](std::string_view bytes) -> bool {
            for (const remote::SseEvent& e : sse.feed(bytes)) {
                if (done) break;
                if (e.data == "[DONE]") {
                    done = true;
                    break;
                }
                json j;
                try {
                    j = json::parse(e.data);
                } catch (const std::exception&) {
                    fail = "the backend at " + m_s->endpoint.shown + " sent an event that is not JSON: " + remote::error_message_of(e.data);
                    return false;
                }
                if (e.event == "error") {
                    fail = "the backend at " + m_s->endpoint.shown + " reported an error mid-answer: " + remote::error_message_of(e.data);
                    return false;
                }
                if (!object(j)) return false;
            }
            if (!sse.error().empty()) {
                fail = "the backend at " + m_s->endpoint.shown + " sent a broken event stream: " + sse.error();
                return false;
            }
            return !done;   // nothing after [DONE] is read
        };

        auto r = m_http.request("POST", path, body, on_chunk);
        if (!r && r.error().code == ErrorCode::Cancelled && !m_http.cancelled()) {
            // Stopped by our own callback: the checker, the caller, [DONE] or a parse failure.
            if (!fail.empty()) return unexpected(ErrorCode::Generic, fail);
            if (stopped) a.c.stop = StopReason::CallbackStopped;
            else if (a.broke) a.c.stop = StopReason::EndOfText;
            else finish = finish.empty() ? "stop" : finish;
        } else if (!r && r.error().code == ErrorCode::Cancelled) {
            a.c.stop = StopReason::Cancelled;
            finalize(a, s, n_logprobs, t0, first_ms, saw_usage);
            return a;
        } else if (!r) {
            return unexpected(r.error());
        } else if (r->status == 400 && s.logprob && !m_s->no_logprobs && r->body.find("logprobs") != std::string::npos) {
            // Log-probabilities are an extra: without them the answer is the same, its score 0.
            m_s->no_logprobs = true;
            return once(messages, prompt, s, emit, checker);
        } else if (r->status < 200 || r->status >= 300) {
            Error e = m_http.http_error(path, *r);
            if (r->status == 404) e = model_not_found(e);
            return unexpected(e);
        }
        if (!fail.empty()) return unexpected(ErrorCode::Generic, fail);
        if (r && r->content_type.find("text/event-stream") == std::string::npos) {
            // Not streamed after all (a server that ignores "stream"): one JSON document.
            try {
                if (!object(json::parse(r->body)) && !fail.empty()) return unexpected(ErrorCode::Generic, fail);
            } catch (const std::exception&) {
                return unexpected(ErrorCode::Generic, "the backend at " + m_s->endpoint.shown + " answered with malformed JSON: " +
                                                          remote::error_message_of(r->body));
            }
            if (finish.empty() && !a.broke && !stopped)
                return unexpected(ErrorCode::Generic, "the backend at " + m_s->endpoint.shown + " answered without a choice: " +
                                                          remote::error_message_of(r->body));
        } else if (r && !done) {
            for (const remote::SseEvent& e : sse.finish()) {
                if (e.data == "[DONE]") {
                    done = true;
                    break;
                }
                try {
                    if (!object(json::parse(e.data))) break;
                } catch (const std::exception&) {
                    return unexpected(ErrorCode::Generic, "the backend at " + m_s->endpoint.shown +
                                                              " sent an event that is not JSON: " + remote::error_message_of(e.data));
                }
            }
            if (!fail.empty()) return unexpected(ErrorCode::Generic, fail);
            if (finish.empty() && !a.broke && !stopped)
                return unexpected(ErrorCode::Network, "the backend at " + m_s->endpoint.shown +
                                                          " closed the stream before the answer ended (no finish_reason, no [DONE])");
        }
        if (!stopped && !a.broke) {
            if (finish == "length") {
                a.c.stop = StopReason::MaxTokens;
            } else if (!stop_reason.empty() && std::find(s.stop.begin(), s.stop.end(), stop_reason) != s.stop.end()) {
                a.c.stop = StopReason::StopString;
            } else {
                a.c.stop = StopReason::EndOfText;
            }
        }
        finalize(a, s, n_logprobs, t0, first_ms, saw_usage);
        return a;
    }

    void finalize(Attempt& a, const Sampling& s, int n_logprobs, std::chrono::steady_clock::time_point t0, double first_ms,
                  bool saw_usage) const {
        const double total = ms_since(t0);
        a.c.usage.prompt_ms = first_ms < 0 ? total : first_ms;
        a.c.usage.decode_ms = total - a.c.usage.prompt_ms;
        int n = a.c.usage.n_generated;
        if (!saw_usage || n == 0) n = n_logprobs;
        if (n == 0 && !a.c.text.empty()) {
            auto t = remote_tokenize(*m_s, a.c.text, false);
            n = t ? int(t->size()) : 0;
        }
        a.c.usage.n_generated = n;
        a.c.tokens.assign(std::size_t(n), Token(-1));
        if (!s.logprob) a.c.logprob = 0;
    }

    // A 404 on a completion usually means the model name: say which names the endpoint serves.
    Error model_not_found(Error e) {
        auto r = m_http.request("GET", m_s->endpoint.api + "/models", "");
        if (!r || r->status != 200) return e;
        try {
            std::string names;
            bool found = false;
            for (const json& m : json::parse(r->body).at("data")) {
                const std::string id = m.value("id", "");
                found |= id == m_s->model;
                names += (names.empty() ? "" : ", ") + id;
            }
            if (!found)
                return {ErrorCode::NotFound, "model '" + m_s->model + "' is not served at " + m_s->endpoint.shown +
                                                 " (it serves: " + names + "); pass one of these with --backend-model"};
        } catch (const std::exception&) {
        }
        return e;
    }

    // The constraint's validate-and-retry loop around once().
    Expected<Completion> constrained(const std::vector<Message>* messages, const json& prompt, const Sampling& sampling,
                                     const TextCallback& on_text, const Constraint& constraint) {
        auto checker = Checker::make(constraint);
        if (!checker) return unexpected(checker.error());
        if (!*checker) {
            auto a = once(messages, prompt, sampling, on_text, nullptr);
            if (!a) return unexpected(a.error());
            return std::move(a->c);
        }
        Checker& ck = **checker;
        std::vector<Message> convo = messages ? *messages : std::vector<Message>{};
        Sampling s = sampling;
        Usage total;
        std::string last_why;
        const int n_tries = 1 + std::max(0, m_s->options.constraint_retries);
        for (int k = 0; k < n_tries; ++k) {
            ck.start();
            auto a = once(messages ? &convo : nullptr, prompt, s, {}, &ck);
            if (!a) return unexpected(a.error());
            Completion& c = a->c;
            total.n_prompt += c.usage.n_prompt;
            total.n_generated += c.usage.n_generated;
            total.prompt_ms += c.usage.prompt_ms;
            total.decode_ms += c.usage.decode_ms;
            // Cut short (cancel, the caller, max tokens): a prefix of the format, as the local
            // engine would give; a complete answer that passes: done.
            const bool cut = c.stop == StopReason::Cancelled || c.stop == StopReason::CallbackStopped ||
                             c.stop == StopReason::MaxTokens || c.stop == StopReason::ContextFull;
            if ((cut && !a->broke) || ck.complete()) {
                c.usage = total;
                if (on_text && !c.text.empty() && !on_text(c.text) && c.stop == StopReason::EndOfText) c.stop = StopReason::CallbackStopped;
                return std::move(c);
            }
            last_why = ck.why(c.text);
            if (messages) {
                convo.push_back({"assistant", c.text});
                convo.push_back({"user", ck.note(c.text)});
            } else {
                // A raw completion has no turn to add a note to: sample instead of repeating.
                s.temperature = std::max(0.7f, sampling.temperature);
                s.seed = sampling.seed + uint64_t(k) + 1;
            }
        }
        return unexpected(ErrorCode::InvalidArgument,
                          "the backend at " + m_s->endpoint.shown + " has no constrained decoding, and its answer broke the required format " +
                              std::to_string(n_tries) + " times (asked again with a note each time); last time " + last_why);
    }

    std::shared_ptr<const Shared> m_s;
    Http m_http;
    int m_n_ctx;
};

class RemoteModel final : public Model {
public:
    RemoteModel(std::shared_ptr<const Shared> s, ModelCard card) : m_s(std::move(s)), m_card(std::move(card)) {}
    const ModelCard& card() const override { return m_card; }
    Expected<std::vector<Token>> tokenize(std::string_view text, bool add_bos, bool) const override {
        return remote_tokenize(*m_s, text, add_bos);
    }
    Expected<Token> bos() const override {
        return unexpected(ErrorCode::NotFound, "a remote backend's tokens are the server's: no BOS id here");
    }
    Expected<std::string> format_chat(const std::vector<Message>& messages, bool add_assistant, const std::string& format) const override {
        if (!format.empty() && format != "chatml")
            return unexpected(ErrorCode::Unsupported, "a remote backend formats chats itself; only \"chatml\" can be asked for here");
        if (format.empty() && add_assistant && m_s->apply_template) {
            // The server's own rendering: token counts of it are the server's exactly.
            auto text = apply_template(*m_s, messages);
            if (!text) return unexpected(text.error());
            std::lock_guard<std::mutex> lock(m_s->rendered_mutex);
            if (m_s->rendered.size() >= 32) m_s->rendered.erase(m_s->rendered.begin());
            m_s->rendered.emplace_back(*text, messages);
            return text;
        }
        return chatml(messages, add_assistant);
    }
    Expected<std::unique_ptr<Context>> new_context(const ContextOptions& o) const override {
        if (o.n_ctx < 0) return unexpected(ErrorCode::InvalidArgument, "n_ctx must not be negative");
        const int n = o.n_ctx > 0 ? std::min(o.n_ctx, m_s->n_ctx) : std::min(m_s->n_ctx, 4096);
        return std::unique_ptr<Context>(new RemoteContext(m_s, n));
    }

private:
    std::shared_ptr<const Shared> m_s;
    ModelCard m_card;
};

} // namespace

Expected<Loaded> load_remote(const RemoteOptions& options) {
    auto endpoint = remote::parse_endpoint(options.url);
    if (!endpoint) return unexpected(endpoint.error());
    auto s = std::make_shared<Shared>();
    s->endpoint = *endpoint;
    s->options = options;
    s->options.api_key.clear();
    s->http.connect_timeout_s = options.connect_timeout_s;
    s->http.read_timeout_s = options.read_timeout_s;
    s->http.max_rate_retries = options.max_rate_retries;
    if (!options.api_key.empty()) {
        s->key = options.api_key;
    } else {
        auto k = api_key_for(options.url);
        if (!k) return unexpected(k.error());
        s->key = std::move(*k);
    }
    Loaded out;
    std::vector<std::string> notes;
    const auto t0 = std::chrono::steady_clock::now();
    Http http(s->endpoint, s->key, s->http);
    int n_ctx_server = 0;
    std::string names;
    auto r = http.request("GET", s->endpoint.api + "/models", "");
    if (!r) return unexpected(r.error());
    if (r->status == 404) {
        if (options.model.empty())
            return unexpected(ErrorCode::NotFound, s->endpoint.shown + "/models is not there (404), so no model name can be picked: pass --backend-model NAME");
        notes.push_back("the backend lists no models (/models: 404)");
        s->model = options.model;
    } else if (r->status < 200 || r->status >= 300) {
        return unexpected(http.http_error(s->endpoint.api + "/models", *r));
    } else {
        try {
            const json j = json::parse(r->body);
            bool found = false;
            for (const json& m : j.at("data")) {
                const std::string id = m.at("id").get<std::string>();
                names += (names.empty() ? "" : ", ") + id;
                const bool pick = options.model.empty() ? s->model.empty() : id == options.model;
                if (!pick) continue;
                found = true;
                s->model = id;
                // vLLM: max_model_len; llama.cpp: meta.n_ctx_train; others: context_length / n_ctx.
                for (const char* k : {"max_model_len", "context_length", "n_ctx"})
                    if (m.contains(k) && m[k].is_number_integer()) n_ctx_server = m[k].get<int>();
                if (!n_ctx_server && m.contains("meta") && m["meta"].is_object() && m["meta"].contains("n_ctx_train") &&
                    m["meta"]["n_ctx_train"].is_number_integer())
                    n_ctx_server = m["meta"]["n_ctx_train"].get<int>();
            }
            if (!found && options.model.empty())
                return unexpected(ErrorCode::NotFound, "the backend at " + s->endpoint.shown + " serves no model");
            if (!found)
                return unexpected(ErrorCode::NotFound, "model '" + options.model + "' is not served at " + s->endpoint.shown +
                                                           " (it serves: " + names + "); pass one of these with --backend-model");
        } catch (const std::exception&) {
            return unexpected(ErrorCode::Generic, "the backend at " + s->endpoint.shown + " answered /models with something that is not "
                                                  "an OpenAI model list: " + remote::error_message_of(r->body));
        }
    }
    if (n_ctx_server == 0) {
        // llama.cpp's server says its context in /props (default_generation_settings.n_ctx).
        auto p = http.request("GET", s->endpoint.root + "/props", "");
        if (p && p->status == 200) {
            try {
                const json j = json::parse(p->body);
                if (j.contains("default_generation_settings") && j["default_generation_settings"].contains("n_ctx"))
                    n_ctx_server = j["default_generation_settings"]["n_ctx"].get<int>();
                else if (j.contains("n_ctx"))
                    n_ctx_server = j["n_ctx"].get<int>();
            } catch (const std::exception&) {
            }
        }
        if (n_ctx_server <= 0 && options.n_ctx <= 0) {
            n_ctx_server = 0;
            notes.push_back("the backend does not say its context size: 4096 tokens assumed");
        }
    }
    s->n_ctx = options.n_ctx > 0 ? options.n_ctx : n_ctx_server > 0 ? n_ctx_server : 4096;
    // /tokenize: exact counts when the server has one (a probe with a word).
    {
        s->exact_tokens = true;
        auto t = remote_tokenize(*s, "hello", false);
        s->exact_tokens = t.has_value() && !t->empty();
        if (!s->exact_tokens) notes.push_back(std::string("no /tokenize at ") + s->endpoint.origin + s->endpoint.root +
                                              ": token counts are estimated (" + k_estimate_note + ")");
    }
    {
        s->apply_template = true;
        auto t = apply_template(*s, {{"user", "hello"}});
        s->apply_template = t.has_value() && !t->empty();
    }
    ModelCard c;
    c.path = s->endpoint.shown;
    c.name = s->model;
    c.architecture = "remote";
    c.backend = "remote";
    c.chat_format = s->apply_template ? "the server's (/apply-template)" : "the server's (counted as ChatML)";
    c.has_tokenizer = true;
    c.n_ctx_train = uint32_t(s->n_ctx);
    c.load_ms = ms_since(t0);
    c.details = {{"endpoint", s->endpoint.shown},
                 {"model", s->model},
                 {"models served", names.empty() ? std::string("(not listed)") : names},
                 {"context", std::to_string(s->n_ctx) + (n_ctx_server ? " (the server's)" : options.n_ctx ? " (asked for)" : " (assumed)")},
                 {"tokenizer", s->exact_tokens ? std::string("the server's /tokenize") : std::string("estimated: ") + k_estimate_note},
                 {"constraints", "checked after generation, asked again up to " + std::to_string(options.constraint_retries) + " times"},
                 {"API key", s->key.empty() ? "none" : "set (not shown)"}};
    for (const std::string& n : notes) out.fallback_note += (out.fallback_note.empty() ? "" : "; ") + n;
    out.model = std::make_shared<RemoteModel>(std::move(s), std::move(c));
    return out;
}

} // namespace sigmaops::llm
