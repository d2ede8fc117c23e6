// request.cpp - OpenAI request bodies (/v1/chat/completions, /v1/completions) into a Job: every
// field checked, each error an ApiError naming the parameter. Untrusted input (fuzz_serve.cpp).
#include "serve_internal.h"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace sigmaops::serve {

namespace {

using nlohmann::json;

ApiError bad_param(const std::string& param, const std::string& message) {
    return {400, message, "invalid_request_error", param, "invalid_value"};
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

} // namespace

std::optional<ApiError> parse_request(std::string_view text, bool chat, const std::string& model_id, Job& job, bool& stream,
                                      bool& include_usage, bool& has_response_format) {
    json body = json::parse(text, nullptr, false);
    if (body.is_discarded()) return ApiError{400, "the request body is not valid JSON", "invalid_request_error", "", "invalid_json"};
    if (!body.is_object()) return ApiError{400, "the request body must be a JSON object", "invalid_request_error", "", "invalid_json"};
    auto m = body.find("model");
    if (m == body.end() || !m->is_string())
        return ApiError{400, "'model' is required (GET /v1/models lists it)", "invalid_request_error", "model", "missing_required_parameter"};
    if (m->get<std::string>() != model_id)
        return ApiError{404, "The model '" + m->get<std::string>() + "' does not exist (this server has '" + model_id + "')",
                        "invalid_request_error", "model", "model_not_found"};
    if (auto e = chat ? parse_messages(body, job) : parse_prompt(body, job)) return e;
    if (auto e = parse_sampling(body, job, stream, include_usage)) return e;
    has_response_format = body.contains("response_format") && !body["response_format"].is_null();
    return std::nullopt;
}

std::optional<ApiError> parse_template_request(std::string_view text, std::vector<llm::Message>& messages) {
    json body = json::parse(text, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return ApiError{400, "the request body is not a JSON object", "invalid_request_error", "", "invalid_json"};
    Job job;
    if (auto e = parse_messages(body, job)) return e;
    messages = std::move(job.messages);
    return std::nullopt;
}

} // namespace sigmaops::serve
