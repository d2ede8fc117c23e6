// sigma/engine.h - the public API of the Sigma inference engine.
//
// The engine loads models in the Sigma GGUF format (see docs/architecture.md and the model
// contract SIGMA-GGUF.md): "sigma" (DiffQKV attention: separate K/V/Q head counts and sizes,
// augmented Q), plus "llama" and "qwen2" files from the llama.cpp converters. It runs them on
// the CPU (all cores, SIMD chosen at run time) or on CUDA when built with it.
//
// Thread-safety:
//   * Model is immutable after load(): share one std::shared_ptr<Model> between threads freely.
//   * A Session belongs to one thread at a time. Its generate() may be cancelled from any thread
//     through the std::atomic<bool> passed in; nothing else of a Session is thread-safe.
//   * Callbacks run on the thread that called generate(); they must not call back into the session.
// Errors: every call returns sigma::Expected; nothing here throws.
// Text: all strings are UTF-8 bytes. Streaming never splits a UTF-8 character.
#pragma once

#include <sigma/expected.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigma {

using TokenId = int32_t;

enum class Device { Cpu, Cuda };

struct LoadOptions {
    Device device = Device::Cpu;   // Cuda fails with ErrorCode::Unsupported when built without CUDA
    int n_threads = 0;             // CPU worker threads; 0 = all online cores
};

// What a loaded model is. Sizes use the names of SIGMA-GGUF.md.
struct ModelInfo {
    std::string path;
    std::string architecture;      // "sigma", "llama", "qwen2"
    std::string name;              // general.name, may be empty
    uint32_t n_layer = 0;
    uint32_t d_model = 0;
    uint32_t d_ff = 0;
    uint32_t n_q = 0, n_k = 0, n_v = 0;  // query, key and value head counts
    uint32_t d_qk = 0, d_v = 0;          // Q/K head size, V head size
    uint32_t d_aug = 0;                  // augmented-Q width, 0 = none
    uint32_t n_vocab = 0;
    uint32_t n_ctx_train = 0;
    float rope_base = 10000.0f;
    uint32_t d_rot = 0;
    bool tied_output = false;
    uint64_t n_params = 0;
    uint64_t weight_bytes = 0;           // bytes of all weights as stored (read once per decode step)
    uint64_t kv_bytes_per_token = 0;     // K + V cache bytes per token over all layers (F32 cache)
    std::vector<std::pair<std::string, uint64_t>> tensor_types; // type name -> tensor count
    bool has_tokenizer = false;
    std::string tokenizer_model;         // "llama" (SentencePiece), "gpt2" (byte-level BPE) or ""
    std::string chat_format;             // the fixed chat format ("chatml", "llama3", ... "sigma") used when
                                         // the file has no usable template of its own, and as its fallback
    bool chat_template_jinja = false;    // format_chat interprets the file's own tokenizer.chat_template
    std::string chat_template_error;     // why that template does not parse ("" = it does, or there is none)
};

// How the next token is picked. Greedy when temperature <= 0.
struct SamplingParams {
    float temperature = 0.7f;      // <= 0: greedy (argmax)
    int top_k = 40;                // 0 = off
    float top_p = 0.95f;           // 1 = off
    float min_p = 0.05f;           // 0 = off; drop tokens below min_p * p(best)
    float repeat_penalty = 1.1f;   // 1 = off; applied over the last repeat_last_n tokens
    int repeat_last_n = 64;
    uint64_t seed = 0;             // 0 = random seed
    int max_tokens = 256;          // tokens to generate at most
    std::vector<std::string> stop; // stop strings; the match is not emitted
    // Constrained decoding: a GBNF-style grammar (the language is described in
    // engine/src/grammar/grammar.h; start rule "root"). When set, every step masks the tokens
    // that would leave the text no longer a prefix of a sentence, and end-of-text is allowed only
    // where the text is a sentence; the result is a sentence unless max_tokens, a stop string,
    // cancellation or a full context cut it short. A bad grammar fails with InvalidArgument
    // naming the line, column and offset. Sampling then happens on the host (on CUDA too).
    std::string grammar;
    // Sum the generated tokens' log-probabilities (natural log, temperature 1, after the grammar
    // mask, before penalties) into GenerateResult::logprob. Samples on the host (on CUDA too).
    bool logprob = false;
};

enum class OverflowPolicy {
    Error,          // generate() fails with ErrorCode::ContextFull
    SlidingWindow,  // drop the oldest tokens (keeping the first n_keep) and recompute the cache
};

struct SessionOptions {
    int n_ctx = 0;                 // 0 = min(model's training context, 4096)
    OverflowPolicy overflow = OverflowPolicy::Error;
    int n_keep = 0;                // tokens kept at the start on a sliding-window shift
    // Selective V fetching: in decode steps (and logits(), which scores every position as decode
    // would) each query head sums only its top-k V rows by probability; a prompt's prefill
    // attends fully. 0 = off. Fixed for the session's life.
    int selective_v = 0;
};

struct Timings {
    double load_ms = 0;            // model load (copied from the model)
    int n_prompt = 0;              // prompt tokens evaluated (after prefix reuse)
    int n_reused = 0;              // prompt tokens served from the cached prefix
    double prompt_ms = 0;
    int n_decoded = 0;
    double decode_ms = 0;
    double grammar_ms = 0;         // of decode_ms: computing grammar masks and advancing the parse
    int n_grammar_states = 0;      // distinct parse states the grammar went through (masks computed at most once each)
    double prompt_tps() const { return prompt_ms > 0 ? n_prompt * 1000.0 / prompt_ms : 0; }
    double decode_tps() const { return decode_ms > 0 ? n_decoded * 1000.0 / decode_ms : 0; }
};

enum class StopReason { MaxTokens, EndOfText, StopString, Cancelled, CallbackStopped, ContextFull };

struct GenerateResult {
    std::string text;              // the generated text (without a matched stop string)
    std::vector<TokenId> tokens;   // the generated tokens
    StopReason stop = StopReason::MaxTokens;
    Timings timings;
    // With SamplingParams::logprob: the sum of log p(token) over `tokens` (see there); else 0.
    double logprob = 0;
};

// Called with each new piece of UTF-8 text (complete characters only). Return false to stop.
using TokenCallback = std::function<bool(std::string_view piece)>;

struct ChatMessage {
    std::string role;              // "system", "user" or "assistant"
    std::string content;
};

class Session;
class BatchSession;   // sigma/batch.h

class Model {
public:
    virtual ~Model() = default;
    // Loads a GGUF file. Errors name the file and what is wrong with it (NotFound, BadFile, Unsupported).
    static Expected<std::shared_ptr<Model>> load(const std::string& path, const LoadOptions& options = {});

    virtual const ModelInfo& info() const = 0;
    virtual double load_ms() const = 0;
    // Text -> tokens. Fails (Unsupported) for a file without tokenizer keys.
    virtual Expected<std::vector<TokenId>> tokenize(std::string_view text, bool add_bos, bool parse_special) const = 0;
    virtual Expected<std::string> detokenize(const std::vector<TokenId>& tokens) const = 0;
    // Whether `id` ends a generation (eos, eot, <|im_end|>-style tokens: what generate() stops
    // at). For callers that sample themselves, e.g. a server over a BatchSession. False without
    // a tokenizer.
    virtual bool is_end_of_generation(TokenId id) const { (void)id; return false; }
    // Formats a conversation with the model's chat template: the file's own Jinja template
    // (tokenizer.chat_template) interpreted as transformers renders it, falling back to the fixed
    // chat_format when it fails (warned once on stderr); or `format_name` if given: "jinja" (the
    // file's template, its error if it fails), "chatml", "llama3", "gemma", "mistral", "sigma".
    // add_assistant opens the assistant turn. A BOS text the template puts first is dropped when
    // the tokenizer adds BOS itself (generate() does; tokenize with add_bos = true).
    virtual Expected<std::string> format_chat(const std::vector<ChatMessage>& messages, bool add_assistant,
                                              const std::string& format_name = "") const = 0;
    virtual Expected<std::unique_ptr<Session>> new_session(const SessionOptions& options = {}) const = 0;
    // n_seq sequences decoded together (include <sigma/batch.h>): n_seq in 1..64,
    // options.n_ctx positions per sequence and options.selective_v as for new_session.
    virtual Expected<std::unique_ptr<BatchSession>> new_batch(int n_seq, const SessionOptions& options = {}) const = 0;
};

class Session {
public:
    virtual ~Session() = default;
    // Evaluates `prompt` (reusing the longest common prefix with what the cache already holds)
    // and samples up to params.max_tokens tokens, streaming text to on_text.
    // `cancel` may be null; when it becomes true the call returns with StopReason::Cancelled.
    virtual Expected<GenerateResult> generate(std::string_view prompt, const SamplingParams& params,
                                              const TokenCallback& on_text = {},
                                              const std::atomic<bool>* cancel = nullptr) = 0;
    virtual Expected<GenerateResult> generate_tokens(const std::vector<TokenId>& prompt, const SamplingParams& params,
                                                     const TokenCallback& on_text = {},
                                                     const std::atomic<bool>* cancel = nullptr) = 0;
    // Logits of every position of `tokens` evaluated from an empty cache: row-major [n_tokens][n_vocab].
    virtual Expected<std::vector<float>> logits(const std::vector<TokenId>& tokens) = 0;
    virtual void reset() = 0;                     // forget the cache
    virtual int n_past() const = 0;               // tokens held in the cache
    virtual int n_ctx() const = 0;
};

std::string version();
// Which CPU SIMD paths this machine runs ("avx512", "avx2", "scalar").
std::string cpu_features();
// The GPU's device-to-device copy bandwidth in bytes/s (read + written; 1 GiB cudaMemcpy,
// median of 20) and its name: the limit a decode step on Device::Cuda is measured against.
// Unsupported without CUDA or without a GPU.
struct GpuCopyBandwidth {
    double bytes_per_s = 0;
    std::string device_name;
};
Expected<GpuCopyBandwidth> gpu_copy_bandwidth();

} // namespace sigma
