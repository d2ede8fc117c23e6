// engine.cpp - Model and Session: loading a GGUF into the engine, prefix-reusing sessions,
// streaming generation, and the error boundary (exceptions inside, Expected outside).
#include "arch/arch.h"
#include "backend.h"
#include "batch_backend.h"
#include "forward.h"
#include "gguf/gguf.h"
#include "grammar/grammar.h"
#include "grammar_tokens.h"
#include "model.h"
#include "sampling.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#ifdef SIGMA_HAVE_CUDA
#include "cuda/bench_hooks.h"
#include "cuda/cuda_backend.h"
#endif

#include <sigma/batch.h>
#include <sigma/engine.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <span>
#include <sys/stat.h>

namespace sigma {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The CPU backend: the reference forward pass and its F32 KV cache.
class CpuBackend final : public ForwardBackend {
public:
    CpuBackend(const Hparams& hp, const Weights& w, int n_threads, int n_ctx, int selective_v)
        : m_fwd(hp, w, n_threads, selective_v) {
        m_kv.init(hp, n_ctx);
    }
    void forward(const TokenId* tokens, int n, int pos0, float* logits, bool all_logits, Pass pass) override {
        m_fwd.forward(tokens, n, pos0, m_kv, logits, all_logits, pass);
    }

private:
    CpuForward m_fwd;
    KvCache m_kv;
};

class ModelImpl final : public Model, public std::enable_shared_from_this<ModelImpl> {
public:
    void load(const std::string& path, const LoadOptions& opt) {
        const auto t0 = Clock::now();
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            throw Exception(ErrorCode::NotFound, path + ": no such file; pass a model with -m FILE (a .gguf file)");
        m_file = gguf::File::open(path);
        auto arch_name = m_file->get_string(arch::key_name(arch::Key::GeneralArchitecture, ""));
        if (!arch_name)
            throw Exception(ErrorCode::BadFile, path + ": key general.architecture missing; is this a model file?");
        const ArchLoader* arch = find_arch(*arch_name);
        if (!arch)
            throw Exception(ErrorCode::Unsupported, path + ": architecture '" + *arch_name +
                                                        "' is not supported (supported: " + arch_names() + ")");
        try {
            m_hp = arch->load_hparams(*m_file);
        } catch (const Exception& e) {
            rethrow_with_stage(path + ": loading hyperparameters", e);
        }
        try {
            arch->load_weights(*m_file, m_hp, m_w);
        } catch (const Exception& e) {
            rethrow_with_stage(path + ": loading tensors", e);
        }
        m_hp.n_vocab = uint32_t(m_w.token_embd.rows());
        try {
            m_tok = Tokenizer::from_gguf(*m_file);
        } catch (const Exception& e) {
            rethrow_with_stage(path + ": loading the tokenizer", e);
        }
        if (m_tok && m_tok->n_vocab() > int32_t(m_hp.n_vocab))
            throw Exception(ErrorCode::BadFile, path + ": the tokenizer has " + std::to_string(m_tok->n_vocab()) +
                                                    " tokens but token_embd only " + std::to_string(m_hp.n_vocab) + " rows");
        if (opt.device == Device::Cuda) {
#ifdef SIGMA_HAVE_CUDA
            try {
                m_cuda = cuda::upload_model(m_hp, m_w);
            } catch (const Exception& e) {
                rethrow_with_stage(path + ": uploading the weights to the GPU", e);
            }
#else
            throw Exception(ErrorCode::Unsupported,
                            "this build has no CUDA support (nvcc was not found at build time); use --device cpu");
#endif
        }
        m_n_threads = opt.n_threads;
        fill_info(path);
        m_load_ms = ms_since(t0);
    }

    const ModelInfo& info() const override { return m_info; }
    double load_ms() const override { return m_load_ms; }
    const Hparams& hparams() const { return m_hp; }
    const Weights& weights() const { return m_w; }
    const Tokenizer* tokenizer() const { return m_tok.get(); }
    // The vocabulary as constrained decoding sees it (each token's bytes, its byte trie), built
    // on first use and shared by every session of the model. Requires a tokenizer.
    std::shared_ptr<const grammar::TokenTable> grammar_tokens() const {
        std::call_once(m_grammar_once, [&] { m_grammar_tokens = make_grammar_tokens(*m_tok); });
        return m_grammar_tokens;
    }
    int n_threads() const { return m_n_threads; }
    // The compute backend of a new session: the device chosen at load.
    std::unique_ptr<ForwardBackend> new_backend(int n_ctx, int selective_v) const {
#ifdef SIGMA_HAVE_CUDA
        if (m_cuda) return cuda::new_cuda_forward(m_cuda, n_ctx, selective_v);
#endif
        return std::make_unique<CpuBackend>(m_hp, m_w, m_n_threads, n_ctx, selective_v);
    }

    Expected<std::vector<TokenId>> tokenize(std::string_view text, bool add_bos, bool parse_special) const override {
        if (!m_tok) return no_tokenizer();
        return catch_to_expected([&] { return m_tok->encode(text, add_bos, parse_special); });
    }
    Expected<std::string> detokenize(const std::vector<TokenId>& tokens) const override {
        if (!m_tok) return no_tokenizer();
        return catch_to_expected([&] { return m_tok->decode(tokens); });
    }
    bool is_end_of_generation(TokenId id) const override { return m_tok && m_tok->is_eog(id); }
    Expected<std::string> format_chat(const std::vector<ChatMessage>& messages, bool add_assistant,
                                      const std::string& format_name) const override {
        return catch_to_expected([&] {
            // No name: the model's own template (interpreted), the fixed format as its fallback.
            if (format_name.empty()) return m_chat->apply(messages, add_assistant);
            if (format_name == "jinja") return m_chat->apply_jinja(messages, add_assistant);
            auto f = chat_format_from_name(format_name);
            if (!f) throw Exception(ErrorCode::InvalidArgument, "unknown chat format '" + format_name +
                                                                    "' (known: jinja, chatml, llama3, gemma, mistral, sigma)");
            return apply_chat_template(*f, messages, add_assistant);
        });
    }
    Expected<std::unique_ptr<Session>> new_session(const SessionOptions& options) const override;
    Expected<std::unique_ptr<BatchSession>> new_batch(int n_seq, const SessionOptions& options) const override;

    // Checks the options every session kind shares; returns the context size (0 = the model's
    // training context, at most 4096).
    int session_n_ctx(const SessionOptions& options) const {
        if (options.n_ctx < 0 || options.n_ctx > (1 << 22))
            throw Exception(ErrorCode::InvalidArgument, "n_ctx must be between 1 and 4194304");
        if (options.selective_v < 0) throw Exception(ErrorCode::InvalidArgument, "selective_v must be >= 0");
        return options.n_ctx > 0 ? options.n_ctx : int(std::min<uint32_t>(m_hp.n_ctx_train ? m_hp.n_ctx_train : 4096, 4096));
    }

private:
    static Unexpected no_tokenizer() {
        return unexpected(ErrorCode::Unsupported, "this model file has no tokenizer (no tokenizer.ggml.* keys): "
                                                  "it can only run on token ids (see `sigmaops logits --tokens`)");
    }
    void fill_info(const std::string& path) {
        ModelInfo& i = m_info;
        i.path = path;
        i.architecture = m_hp.arch;
        i.name = m_file->get_string(arch::key_name(arch::Key::GeneralName, "")).value_or("");
        i.n_layer = m_hp.n_layer; i.d_model = m_hp.d_model; i.d_ff = m_hp.d_ff;
        i.n_q = m_hp.n_q; i.n_k = m_hp.n_k; i.n_v = m_hp.n_v; i.d_qk = m_hp.d_qk; i.d_v = m_hp.d_v;
        i.d_aug = m_hp.d_aug; i.n_vocab = m_hp.n_vocab; i.n_ctx_train = m_hp.n_ctx_train;
        i.rope_base = m_hp.rope_base; i.d_rot = m_hp.d_rot; i.tied_output = m_w.tied;
        i.kv_bytes_per_token = KvCache::bytes_per_token(m_hp);
        std::map<std::string, uint64_t> types;
        for (const auto& t : m_file->tensors()) {
            i.n_params += uint64_t(t.n_elements());
            i.weight_bytes += t.n_bytes;
            types[gguf::type_name(t.type)]++;
        }
        i.tensor_types.assign(types.begin(), types.end());
        i.has_tokenizer = m_tok != nullptr;
        if (m_tok) {
            i.tokenizer_model = m_tok->vocab().model;
            const Vocab& v = m_tok->vocab();
            m_chat = std::make_unique<ModelChatTemplate>(v.chat_template, m_hp.arch,
                                                         v.bos >= 0 ? m_tok->token_text(v.bos) : std::string(),
                                                         v.eos >= 0 ? m_tok->token_text(v.eos) : std::string(),
                                                         v.add_bos && v.bos >= 0);
        } else {
            m_chat = std::make_unique<ModelChatTemplate>("", m_hp.arch, "", "", false);
        }
        i.chat_format = std::string(chat_format_name(m_chat->fallback()));
        i.chat_template_jinja = m_chat->interpreted();
        i.chat_template_error = m_chat->parse_error();
    }

    std::unique_ptr<gguf::File> m_file;
    Hparams m_hp;
    Weights m_w;
    std::unique_ptr<Tokenizer> m_tok;
    std::unique_ptr<ModelChatTemplate> m_chat;   // the file's own template, or a fixed format
    ModelInfo m_info;
    double m_load_ms = 0;
    int m_n_threads = 0;
    mutable std::once_flag m_grammar_once;
    mutable std::shared_ptr<const grammar::TokenTable> m_grammar_tokens;
#ifdef SIGMA_HAVE_CUDA
    std::shared_ptr<const cuda::DeviceModel> m_cuda;   // weights on the GPU (Device::Cuda)
#endif
};

// Holds text back while it could still be the start of a stop string.
class StopMatcher {
public:
    explicit StopMatcher(const std::vector<std::string>& stops) : m_stops(stops) {}
    // Adds `piece`; returns the text safe to emit now. Sets matched when a stop string completed.
    std::string push(std::string_view piece, bool& matched) {
        m_buf += piece;
        for (const auto& s : m_stops) {
            if (s.empty()) continue;
            auto at = m_buf.find(s);
            if (at != std::string::npos) {
                matched = true;
                std::string out = m_buf.substr(0, at);
                m_buf.clear();
                return out;
            }
        }
        // Keep the longest suffix that is a prefix of some stop string.
        size_t keep = 0;
        for (const auto& s : m_stops)
            for (size_t n = std::min(s.size() - (s.empty() ? 0 : 1), m_buf.size()); n > keep; --n)
                if (m_buf.compare(m_buf.size() - n, n, s, 0, n) == 0) { keep = n; break; }
        std::string out = m_buf.substr(0, m_buf.size() - keep);
        m_buf.erase(0, m_buf.size() - keep);
        return out;
    }
    std::string flush() { std::string out; out.swap(m_buf); return out; }

private:
    const std::vector<std::string>& m_stops;
    std::string m_buf;
};

class SessionImpl final : public Session {
public:
    SessionImpl(std::shared_ptr<const ModelImpl> model, const SessionOptions& opt)
        : m_model(std::move(model)), m_opt(opt), m_hp(m_model->hparams()) {
        m_n_ctx = m_model->session_n_ctx(opt);
        m_fwd = m_model->new_backend(m_n_ctx, opt.selective_v);
        m_logits.resize(m_hp.n_vocab);
    }

    Expected<GenerateResult> generate(std::string_view prompt, const SamplingParams& params, const TokenCallback& on_text,
                                      const std::atomic<bool>* cancel) override {
        const Tokenizer* tok = m_model->tokenizer();
        if (!tok) return unexpected(ErrorCode::Unsupported, "this model has no tokenizer: text prompts need one");
        return catch_to_expected([&] {
            const std::string bos_text = tok->bos() >= 0 ? tok->token_text(tok->bos()) : std::string();
            const bool has_bos_text = !bos_text.empty() && prompt.substr(0, bos_text.size()) == bos_text;
            std::vector<TokenId> ids = tok->encode(prompt, !has_bos_text, true);
            return run(ids, params, on_text, cancel);
        });
    }

    Expected<GenerateResult> generate_tokens(const std::vector<TokenId>& prompt, const SamplingParams& params,
                                             const TokenCallback& on_text, const std::atomic<bool>* cancel) override {
        return catch_to_expected([&] { return run(prompt, params, on_text, cancel); });
    }

    Expected<std::vector<float>> logits(const std::vector<TokenId>& tokens) override {
        return catch_to_expected([&] {
            check_ids(tokens);
            if (int(tokens.size()) > m_n_ctx)
                throw Exception(ErrorCode::ContextFull, std::to_string(tokens.size()) + " tokens do not fit the context of " +
                                                            std::to_string(m_n_ctx) + "; raise n_ctx");
            reset();
            std::vector<float> out(tokens.size() * m_hp.n_vocab);
            const size_t chunk = size_t(m_fwd->prefill_chunk());
            for (size_t b = 0; b < tokens.size(); b += chunk) {
                const int n = int(std::min(chunk, tokens.size() - b));
                m_fwd->forward(&tokens[b], n, int(b), &out[b * m_hp.n_vocab], true, Pass::Decode);   // as decode scores them
            }
            m_cached = tokens;
            return out;
        });
    }

    void reset() override { m_cached.clear(); }
    int n_past() const override { return int(m_cached.size()); }
    int n_ctx() const override { return m_n_ctx; }

private:
    void check_ids(const std::vector<TokenId>& ids) const {
        for (TokenId t : ids)
            if (t < 0 || uint32_t(t) >= m_hp.n_vocab)
                throw Exception(ErrorCode::InvalidArgument, "token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                                                std::to_string(m_hp.n_vocab) + ")");
    }

    // Brings the cache to hold exactly `ids`, reusing the common prefix; leaves the last
    // position's logits in m_logits. Returns the number of tokens evaluated.
    int evaluate(const std::vector<TokenId>& ids, const std::atomic<bool>* cancel, int& reused) {
        size_t common = 0;
        while (common < m_cached.size() && common < ids.size() && m_cached[common] == ids[common]) ++common;
        if (common == ids.size()) --common;   // the last token is re-evaluated for its logits
        reused = int(common);
        m_cached.resize(common);
        const size_t chunk = size_t(m_fwd->prefill_chunk());   // 128 on the CPU, up to 4096 on the GPU
        for (size_t b = common; b < ids.size(); b += chunk) {
            if (cancel && cancel->load()) throw Exception(ErrorCode::Cancelled, "cancelled");
            const int n = int(std::min(chunk, ids.size() - b));
            m_fwd->forward(&ids[b], n, int(b), m_logits.data(), false, Pass::Prompt);
            m_cached.insert(m_cached.end(), ids.begin() + b, ids.begin() + b + n);
        }
        return int(ids.size() - common);
    }

    // Applies the overflow policy to a token sequence that does not fit; returns the kept tokens.
    std::vector<TokenId> shift(const std::vector<TokenId>& ids, size_t room_needed) const {
        const size_t keep_head = std::min<size_t>(m_opt.n_keep, ids.size());
        const size_t budget = size_t(m_n_ctx) > keep_head + room_needed ? m_n_ctx - keep_head - room_needed : 1;
        std::vector<TokenId> out(ids.begin(), ids.begin() + keep_head);
        const size_t tail = std::min(budget, ids.size() - keep_head);
        out.insert(out.end(), ids.end() - tail, ids.end());
        return out;
    }

    GenerateResult run(std::vector<TokenId> prompt, const SamplingParams& params, const TokenCallback& on_text,
                       const std::atomic<bool>* cancel) {
        if (prompt.empty()) throw Exception(ErrorCode::InvalidArgument, "empty prompt");
        check_ids(prompt);
        if (params.max_tokens < 0) throw Exception(ErrorCode::InvalidArgument, "max_tokens must be >= 0");
        // The grammar is checked before any work: a bad one fails with its line and offset.
        // A session keeps the last grammar's matcher: its states and masks carry over to the
        // next generation with the same grammar (n candidates of one request, an evaluation).
        grammar::Matcher* constraint = nullptr;
        if (!params.grammar.empty()) {
            if (!m_model->tokenizer())
                throw Exception(ErrorCode::Unsupported, "a grammar needs the model's tokenizer (this file has none)");
            if (!m_matcher || m_grammar_text != params.grammar) {
                m_matcher.reset();
                m_matcher = std::make_unique<grammar::Matcher>(grammar::Grammar::parse(params.grammar), m_model->grammar_tokens());
                m_grammar_text = params.grammar;
            }
            m_matcher->reset();
            constraint = m_matcher.get();
        }
        GenerateResult res;
        res.timings.load_ms = m_model->load_ms();
        if (int(prompt.size()) >= m_n_ctx) {
            if (m_opt.overflow == OverflowPolicy::Error)
                throw Exception(ErrorCode::ContextFull, "the prompt has " + std::to_string(prompt.size()) +
                                                            " tokens but the context holds " + std::to_string(m_n_ctx) +
                                                            "; start a new chat, raise the context size, or use the sliding window");
            prompt = shift(prompt, std::min<size_t>(std::max(params.max_tokens, 1), m_n_ctx / 4));
        }
        const auto t0 = Clock::now();
        try {
            res.timings.n_prompt = evaluate(prompt, cancel, res.timings.n_reused);
        } catch (const Exception& e) {
            if (e.code() != ErrorCode::Cancelled) throw;
            res.stop = StopReason::Cancelled;
            return res;
        }
        res.timings.prompt_ms = ms_since(t0);

        const Tokenizer* tok = m_model->tokenizer();
        std::optional<StreamDecoder> dec;
        if (tok) dec.emplace(*tok);
        StopMatcher stops(params.stop);
        Sampler sampler(params);
        const auto t1 = Clock::now();
        res.stop = StopReason::MaxTokens;
        bool stopped = false;
        auto emit = [&](const std::string& text) {
            if (text.empty()) return true;
            res.text += text;
            return on_text ? on_text(text) : true;
        };
        // How this generation samples, chosen once. On a backend that samples where the logits
        // live (the GPU), greedy without penalties takes the argmax there and any other sampling
        // draws there (seeded by the Sampler's seed and the draw index): only the token id comes
        // back, and `pending` (>= 0) holds it until the next iteration. Otherwise (the CPU) each
        // step writes host logits and the Sampler picks.
        // A grammar or log-probabilities need the logits on the host: such a generation samples
        // there on every backend.
        enum class Path { DeviceArgmax, DeviceSample, Host };
        const bool penalised = params.repeat_penalty != 1.0f && params.repeat_last_n != 0;
        Path path = Path::Host;
        if (m_fwd->samples_on_device() && !constraint && !params.logprob)
            path = params.temperature <= 0 && !penalised ? Path::DeviceArgmax : Path::DeviceSample;
        // The repetition penalty's window: a view of the last repeat_last_n context tokens.
        auto recent = [&]() -> std::span<const TokenId> {
            if (!penalised) return {};
            const size_t n = params.repeat_last_n < 0 ? m_cached.size() : std::min(m_cached.size(), size_t(params.repeat_last_n));
            return std::span<const TokenId>(m_cached).last(n);
        };
        auto request = [&](uint64_t draw) {
            SampleRequest r;
            r.params = &params;
            r.seed = sampler.seed();
            r.draw = draw;
            r.recent = recent();
            return r;
        };
        TokenId pending = -1;
        for (int i = 0; i < params.max_tokens && !stopped; ++i) {
            if (cancel && cancel->load()) { res.stop = StopReason::Cancelled; break; }
            // After a prefill (the first token, or a sliding-window shift) nothing is pending: the
            // device sampler draws from the prefill's last logits; greedy takes the host argmax.
            if (pending < 0 && path == Path::DeviceSample) pending = m_fwd->sample_last(request(uint64_t(i)));
            if (constraint) {
                const auto tg = Clock::now();
                const int n_allowed = constraint->apply(m_logits.data(), int(m_hp.n_vocab));
                res.timings.grammar_ms += ms_since(tg);
                if (n_allowed == 0)
                    throw Exception(ErrorCode::Generic, "the grammar allows none of the model's tokens after \"" +
                                                            utf8_tail(res.text, 40) + "\"");
            }
            const double lse = params.logprob && pending < 0 ? log_sum_exp(m_logits.data(), int(m_hp.n_vocab)) : 0;
            const float* raw = params.logprob && pending < 0 ? keep_copy(m_logits) : nullptr;
            const TokenId next = pending >= 0 ? pending : sampler.sample(m_logits.data(), int(m_hp.n_vocab), recent());
            pending = -1;
            if (raw) res.logprob += double(raw[next]) - lse;
            if (constraint) {
                const auto tg = Clock::now();
                const bool ok = constraint->accept(next);
                res.timings.grammar_ms += ms_since(tg);
                if (!ok) throw Exception(ErrorCode::Generic, "internal: the sampler picked a token the grammar masked");
            }
            if (tok && tok->is_eog(next)) { res.stop = StopReason::EndOfText; break; }
            res.tokens.push_back(next);
            ++res.timings.n_decoded;
            if (dec) {
                bool matched = false;
                const std::string safe = stops.push(dec->push(next), matched);
                if (!emit(safe)) { res.stop = StopReason::CallbackStopped; stopped = true; }
                if (matched) { res.stop = StopReason::StopString; stopped = true; }
            }
            if (stopped || i + 1 == params.max_tokens) { m_cached.push_back(next); break; }
            if (int(m_cached.size()) + 1 > m_n_ctx) {
                if (m_opt.overflow == OverflowPolicy::Error) { res.stop = StopReason::ContextFull; m_cached.push_back(next); break; }
                std::vector<TokenId> kept = shift(m_cached, m_n_ctx / 4);
                kept.push_back(next);
                m_cached.clear();   // positions change: recompute the kept window
                int unused = 0;
                evaluate(kept, nullptr, unused);
                continue;
            }
            const int pos = int(m_cached.size());
            m_cached.push_back(next);   // in the penalty window of the draw below
            try {
                switch (path) {
                case Path::DeviceArgmax: pending = m_fwd->forward_argmax(next, pos); break;
                case Path::DeviceSample: pending = m_fwd->forward_sample(next, pos, request(uint64_t(i) + 1)); break;
                case Path::Host: m_fwd->forward(&next, 1, pos, m_logits.data(), false, Pass::Decode); break;
                }
            } catch (...) {
                m_cached.pop_back();   // its K/V may not be in the cache
                throw;
            }
        }
        if (dec && res.stop != StopReason::StopString) {
            bool matched = false;
            std::string rest = stops.push(dec->flush(), matched);
            if (!matched) rest += stops.flush();
            else res.stop = StopReason::StopString;
            emit(rest);
        }
        res.timings.decode_ms = ms_since(t1);
        if (constraint) res.timings.n_grammar_states = int(constraint->n_states());
        return res;
    }

    // log(sum(exp(logits))) over the finite logits.
    static double log_sum_exp(const float* logits, int n) {
        float mx = -INFINITY;
        for (int t = 0; t < n; ++t) mx = std::max(mx, logits[t]);
        if (!std::isfinite(mx)) return 0;
        double sum = 0;
        for (int t = 0; t < n; ++t) sum += std::exp(double(logits[t] - mx));
        return double(mx) + std::log(sum);
    }
    // The logits before the sampler's penalties change them.
    const float* keep_copy(const std::vector<float>& logits) {
        m_logits_copy.assign(logits.begin(), logits.end());
        return m_logits_copy.data();
    }
    // The last `n` bytes of `s` or fewer, starting at a character boundary.
    static std::string utf8_tail(const std::string& s, size_t n) {
        size_t b = s.size() > n ? s.size() - n : 0;
        while (b < s.size() && (uint8_t(s[b]) & 0xC0) == 0x80) ++b;
        return s.substr(b);
    }

    std::shared_ptr<const ModelImpl> m_model;
    SessionOptions m_opt;
    const Hparams& m_hp;
    int m_n_ctx = 0;
    std::unique_ptr<ForwardBackend> m_fwd;   // CPU or CUDA, chosen at Model::load
    std::vector<TokenId> m_cached;   // tokens whose K/V the cache holds, in order
    std::vector<float> m_logits;     // (V) logits after the last evaluated position
    std::vector<float> m_logits_copy;   // (V) with SamplingParams::logprob: the logits before penalties
    std::string m_grammar_text;                 // the grammar m_matcher was made for
    std::unique_ptr<grammar::Matcher> m_matcher;
};

Expected<std::unique_ptr<Session>> ModelImpl::new_session(const SessionOptions& options) const {
    return catch_to_expected([&]() -> std::unique_ptr<Session> {
        (void)session_n_ctx(options);   // checks the options before anything is allocated
        return std::make_unique<SessionImpl>(shared_from_this(), options);
    });
}

Expected<std::unique_ptr<BatchSession>> ModelImpl::new_batch(int n_seq, const SessionOptions& options) const {
    return catch_to_expected([&]() -> std::unique_ptr<BatchSession> {
        if (n_seq < 1 || n_seq > BatchSession::kMaxSeqs)
            throw Exception(ErrorCode::InvalidArgument, "a batch holds 1 to " + std::to_string(BatchSession::kMaxSeqs) +
                                                            " sequences, not " + std::to_string(n_seq));
        const int n_ctx = session_n_ctx(options);
        std::unique_ptr<BatchBackend> backend;
#ifdef SIGMA_HAVE_CUDA
        if (m_cuda) backend = new_cuda_batch(m_cuda, n_seq, n_ctx, options.selective_v);
#endif
        if (!backend) backend = new_cpu_batch(m_hp, m_w, m_n_threads, n_seq, n_ctx, options.selective_v);
        return new_batch_session(shared_from_this(), m_hp, std::move(backend), n_seq, n_ctx);
    });
}

} // namespace

Expected<std::shared_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options) {
    return catch_to_expected([&]() -> std::shared_ptr<Model> {
        auto m = std::make_shared<ModelImpl>();
        m->load(path, options);
        return m;
    });
}

std::string version() { return "0.1.0"; }

std::string cpu_features() { return cpu::isa_name(cpu::detect_isa()); }

Expected<GpuCopyBandwidth> gpu_copy_bandwidth() {
#ifdef SIGMA_HAVE_CUDA
    return catch_to_expected([] { return GpuCopyBandwidth{cuda::measure_copy_gbps() * 1e9, cuda::device_name()}; });
#else
    return unexpected(ErrorCode::Unsupported, "this build has no CUDA support (nvcc was not found at build time)");
#endif
}

} // namespace sigma
