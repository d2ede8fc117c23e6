// local.cpp - the Sigma engine behind llm.h: a Model wraps a sigma::Model, a Context wraps a
// sigma::Session. The only file above the engine that includes <sigma/engine.h>, with
// engine_info.cpp.
#include <llm/llm.h>

#include <base/text.h>
#include <sigma/engine.h>

#include <atomic>
#include <cstdio>

namespace sigmaops::llm {

namespace {

sigma::SamplingParams to_engine(const Sampling& s) {
    sigma::SamplingParams p;
    p.temperature = s.temperature;
    p.top_k = s.top_k;
    p.top_p = s.top_p;
    p.min_p = s.min_p;
    p.repeat_penalty = s.repeat_penalty;
    p.repeat_last_n = s.repeat_last_n;
    p.seed = s.seed;
    p.max_tokens = s.max_tokens;
    p.stop = s.stop;
    p.logprob = s.logprob;
    return p;
}

StopReason from_engine(sigma::StopReason r) {
    switch (r) {
    case sigma::StopReason::MaxTokens: return StopReason::MaxTokens;
    case sigma::StopReason::EndOfText: return StopReason::EndOfText;
    case sigma::StopReason::StopString: return StopReason::StopString;
    case sigma::StopReason::Cancelled: return StopReason::Cancelled;
    case sigma::StopReason::CallbackStopped: return StopReason::CallbackStopped;
    case sigma::StopReason::ContextFull: return StopReason::ContextFull;
    }
    return StopReason::MaxTokens;
}

Completion from_engine(sigma::GenerateResult&& r) {
    Completion c;
    c.text = std::move(r.text);
    c.tokens = std::move(r.tokens);
    c.stop = from_engine(r.stop);
    c.usage.n_prompt = r.timings.n_prompt;
    c.usage.n_reused = r.timings.n_reused;
    c.usage.n_generated = r.timings.n_decoded;
    c.usage.prompt_ms = r.timings.prompt_ms;
    c.usage.decode_ms = r.timings.decode_ms;
    c.usage.constraint_ms = r.timings.grammar_ms;
    c.logprob = r.logprob;
    return c;
}

std::vector<sigma::ChatMessage> to_engine(const std::vector<Message>& messages) {
    std::vector<sigma::ChatMessage> out;
    out.reserve(messages.size());
    for (const Message& m : messages) out.push_back({m.role, m.content});
    return out;
}

ModelCard card_of(const sigma::Model& m, const char* backend) {
    const sigma::ModelInfo& i = m.info();
    ModelCard c;
    c.path = i.path;
    c.name = i.name;
    c.architecture = i.architecture;
    c.backend = backend;
    c.chat_format = i.chat_format;
    c.has_tokenizer = i.has_tokenizer;
    c.n_vocab = i.n_vocab;
    c.n_ctx_train = i.n_ctx_train;
    c.n_params = i.n_params;
    c.weight_bytes = i.weight_bytes;
    c.kv_bytes_per_token = i.kv_bytes_per_token;
    c.load_ms = m.load_ms();
    char rope[64];
    std::snprintf(rope, sizeof rope, "base %g, %u dims", double(i.rope_base), i.d_rot);
    std::string types;
    for (const auto& [t, n] : i.tensor_types) types += (types.empty() ? "" : " ") + t + " x" + std::to_string(n);
    c.details = {
        {"layers", std::to_string(i.n_layer)},
        {"d_model", std::to_string(i.d_model)},
        {"d_ff", std::to_string(i.d_ff)},
        {"heads q/k/v", std::to_string(i.n_q) + "/" + std::to_string(i.n_k) + "/" + std::to_string(i.n_v)},
        {"head size qk/v", std::to_string(i.d_qk) + "/" + std::to_string(i.d_v)},
        {"augmented Q", i.d_aug ? std::to_string(i.d_aug) : std::string("none")},
        {"RoPE", rope},
        {"vocabulary", std::to_string(i.n_vocab) + (i.tied_output ? " (tied output)" : "")},
        {"context", std::to_string(i.n_ctx_train)},
        {"parameters", std::to_string(i.n_params)},
        {"weights", human_bytes(double(i.weight_bytes))},
        {"KV per token", std::to_string(i.kv_bytes_per_token) + " bytes (K " + std::to_string(i.n_k) + "x" +
                             std::to_string(i.d_qk) + " + V " + std::to_string(i.n_v) + "x" + std::to_string(i.d_v) +
                             " per layer, f32)"},
        {"tensor types", types},
        {"tokenizer", i.has_tokenizer ? i.tokenizer_model : std::string("none (token ids only)")},
        {"chat format", i.chat_format},
        // Whether prompts are rendered by the file's own tokenizer.chat_template (Jinja) or by the
        // fixed format above, and why the file's template is not used when it is there.
        {"chat template", i.chat_template_jinja            ? std::string("the model's own (Jinja, tokenizer.chat_template)")
                          : !i.chat_template_error.empty() ? "not used: " + i.chat_template_error + " (the fixed format " +
                                                                 i.chat_format + " instead)"
                                                           : "none in the file (the fixed format " + i.chat_format + ")"},
    };
    return c;
}

// The engine's sampling parameters with the constraint applied: a grammar goes to the engine,
// which masks every step (engine/src/grammar); a JSON schema becomes such a grammar.
Expected<sigma::SamplingParams> with_constraint(const Sampling& s, const Constraint& c) {
    sigma::SamplingParams p = to_engine(s);
    switch (c.kind) {
    case Constraint::Kind::None: break;
    case Constraint::Kind::Grammar:
        if (c.text.empty()) return unexpected(ErrorCode::InvalidArgument, "the grammar constraint is empty: write at least `root ::= ...`");
        p.grammar = c.text;
        break;
    case Constraint::Kind::JsonSchema: {
        auto g = json_schema_to_grammar(c.text);
        if (!g) return unexpected(g.error());
        p.grammar = std::move(*g);
        break;
    }
    }
    return p;
}

class LocalContext final : public Context {
public:
    LocalContext(std::shared_ptr<const sigma::Model> model, std::unique_ptr<sigma::Session> session, std::string format)
        : m_model(std::move(model)), m_session(std::move(session)), m_format(std::move(format)) {}

    Expected<Completion> chat(const std::vector<Message>& messages, const Sampling& sampling, const TextCallback& on_text,
                              const Constraint& constraint) override {
        auto prompt = m_model->format_chat(to_engine(messages), true, m_format);
        if (!prompt) return unexpected(prompt.error());
        return complete(*prompt, sampling, on_text, constraint);
    }

    Expected<Completion> complete(std::string_view prompt, const Sampling& sampling, const TextCallback& on_text,
                                  const Constraint& constraint) override {
        auto params = with_constraint(sampling, constraint);
        if (!params) return unexpected(params.error());
        m_cancel = false;
        auto r = m_session->generate(prompt, *params, on_text, &m_cancel);
        if (!r) return unexpected(r.error());
        return from_engine(std::move(*r));
    }

    Expected<Completion> complete_tokens(const std::vector<Token>& prompt, const Sampling& sampling,
                                         const TextCallback& on_text, const Constraint& constraint) override {
        auto params = with_constraint(sampling, constraint);
        if (!params) return unexpected(params.error());
        m_cancel = false;
        auto r = m_session->generate_tokens(prompt, *params, on_text, &m_cancel);
        if (!r) return unexpected(r.error());
        return from_engine(std::move(*r));
    }

    Expected<std::vector<float>> logits(const std::vector<Token>& tokens) override { return m_session->logits(tokens); }
    void cancel() override { m_cancel = true; }
    void reset() override { m_session->reset(); }
    int n_ctx() const override { return m_session->n_ctx(); }

private:
    std::shared_ptr<const sigma::Model> m_model;
    std::unique_ptr<sigma::Session> m_session;
    std::string m_format;
    std::atomic<bool> m_cancel{false};
};

class LocalModel final : public Model, public std::enable_shared_from_this<LocalModel> {
public:
    LocalModel(std::shared_ptr<sigma::Model> model, const char* backend)
        : m_model(std::move(model)), m_card(card_of(*m_model, backend)) {}

    const ModelCard& card() const override { return m_card; }

    Expected<std::vector<Token>> tokenize(std::string_view text, bool add_bos, bool parse_special) const override {
        return m_model->tokenize(text, add_bos, parse_special);
    }

    Expected<Token> bos() const override {
        auto t = m_model->tokenize("", true, false);
        if (!t) return unexpected(t.error());
        if (t->size() != 1) return unexpected(ErrorCode::NotFound, m_card.path + " has no BOS token");
        return (*t)[0];
    }

    Expected<std::string> format_chat(const std::vector<Message>& messages, bool add_assistant,
                                      const std::string& format) const override {
        return m_model->format_chat(to_engine(messages), add_assistant, format);
    }

    Expected<std::unique_ptr<Context>> new_context(const ContextOptions& o) const override {
        sigma::SessionOptions s;
        s.n_ctx = o.n_ctx;
        s.n_keep = o.n_keep;
        s.overflow = o.sliding_window ? sigma::OverflowPolicy::SlidingWindow : sigma::OverflowPolicy::Error;
        s.selective_v = o.selective_v;
        auto session = m_model->new_session(s);
        if (!session) return unexpected(session.error());
        return std::unique_ptr<Context>(new LocalContext(m_model, std::move(*session), o.chat_format));
    }

private:
    std::shared_ptr<sigma::Model> m_model;
    ModelCard m_card;
};

Expected<std::shared_ptr<Model>> load_on(const std::string& path, const LoadOptions& options, sigma::Device device) {
    sigma::LoadOptions lo;
    lo.device = device;
    lo.n_threads = options.n_threads;
    auto m = sigma::Model::load(path, lo);
    if (!m) return unexpected(m.error());
    return std::shared_ptr<Model>(std::make_shared<LocalModel>(std::move(*m), device == sigma::Device::Cuda ? "cuda" : "cpu"));
}

} // namespace

const char* stop_reason_text(StopReason reason) {
    switch (reason) {
    case StopReason::MaxTokens: return "max tokens";
    case StopReason::EndOfText: return "end of text";
    case StopReason::StopString: return "stop string";
    case StopReason::Cancelled: return "cancelled";
    case StopReason::CallbackStopped: return "stopped";
    case StopReason::ContextFull: return "context full";
    }
    return "?";
}

Expected<Loaded> load_local(const std::string& path, const LoadOptions& options) {
    Loaded out;
    bool try_gpu = options.device == Device::Auto;
#ifndef SIGMA_HAVE_CUDA
    try_gpu = false;   // nothing to fall back from: this build runs on the CPU only
#endif
    if (try_gpu) {
        auto gpu = load_on(path, options, sigma::Device::Cuda);
        if (gpu) {
            out.model = std::move(*gpu);
            return out;
        }
        // A file that is broken is broken on every device: say so instead of trying again.
        if (gpu.error().code == ErrorCode::NotFound || gpu.error().code == ErrorCode::BadFile) return unexpected(gpu.error());
        out.fallback_note = "running on the CPU: " + gpu.error().message;
    }
    auto m = load_on(path, options, options.device == Device::Cuda ? sigma::Device::Cuda : sigma::Device::Cpu);
    if (!m) return unexpected(m.error());
    out.model = std::move(*m);
    return out;
}

EngineInfo engine_info() {
    EngineInfo e;
    e.version = sigma::version();
    e.cpu_features = sigma::cpu_features();
#ifdef SIGMA_HAVE_CUDA
    e.cuda_built = true;
#endif
    return e;
}

Expected<GpuBandwidth> gpu_copy_bandwidth() {
    auto g = sigma::gpu_copy_bandwidth();
    if (!g) return unexpected(g.error());
    return GpuBandwidth{g->bytes_per_s, g->device_name};
}

} // namespace sigmaops::llm
