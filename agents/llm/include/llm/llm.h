// llm/llm.h - the language model as the agents see it: a model that formats chats, tokenizes and
// opens contexts; a context that completes a prompt or a chat with streaming, cancellation and
// token accounting. The local Sigma engine is one implementation (load_local); a remote backend
// or constrained decoding plug in here without the agents, the CLI or the window changing.
//
// Nothing above this module includes <sigma/engine.h>: these types are the only model types the
// chat, the agents, app/ and ui/ use.
//
// Thread-safety: a Model is immutable and may be shared between threads. A Context belongs to
// one thread at a time, except cancel(), which any thread may call. Callbacks run on the thread
// that called complete()/chat() and must not call back into the context.
// Errors: every call returns sigmaops::Expected; nothing here throws.
// Text: UTF-8 bytes; streaming never splits a character.
#pragma once

#include <base/result.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sigmaops::llm {

using Token = int32_t;

// How the next token is picked. Greedy when temperature <= 0.
struct Sampling {
    float temperature = 0.7f;      // <= 0: greedy (argmax)
    int top_k = 40;                // 0 = off
    float top_p = 0.95f;           // 1 = off
    float min_p = 0.05f;           // 0 = off; drop tokens below min_p * p(best)
    float repeat_penalty = 1.1f;   // 1 = off; applied over the last repeat_last_n tokens
    int repeat_last_n = 64;
    uint64_t seed = 0;             // 0 = random seed
    int max_tokens = 256;          // tokens to generate at most
    std::vector<std::string> stop; // stop strings; the match is not emitted
    bool logprob = false;          // fill Completion::logprob (samples on the host, also on a GPU)
};

// What a context is opened with.
struct ContextOptions {
    int n_ctx = 0;                 // tokens; 0 = min(the model's training context, 4096)
    bool sliding_window = false;   // on a full context drop the oldest tokens (keeping n_keep)
    int n_keep = 0;
    int selective_v = 0;           // decode-time selective V fetching: top-k V rows per head; 0 = off
    std::string chat_format;       // chat template for chat(); "" = the model's
};

// A restriction of what the model may write, applied while decoding: at every step the tokens
// that would leave the text no longer a prefix of the grammar's language are masked out, and
// the end of text is allowed only where the text is complete, so the answer always has the
// grammar's form (unless max_tokens, a stop string or cancel() cuts it: see Completion::stop).
// Kind::Grammar: a GBNF-style grammar with a rule `root` (rules, alternatives, "literals",
// [classes], [^negated], ., ( groups ), * + ? {m,n}; the language is documented in the engine's
// grammar/grammar.h). A bad grammar fails with InvalidArgument naming line, column and offset.
// Kind::JsonSchema: a JSON schema of the simple kinds, turned into a grammar by
// json_schema_to_grammar(). A backend that cannot apply a kind fails rather than ignore it.
struct Constraint {
    enum class Kind { None, Grammar, JsonSchema };
    Kind kind = Kind::None;
    std::string text;              // the grammar or the JSON schema
};

// A grammar for the JSON values `schema` describes: type object (every listed property, in
// order), array (items), string, number, integer, boolean, null; enum, const, anyOf/oneOf; no
// type = any JSON value. Compact output (no newlines). InvalidArgument for a schema that is not
// JSON or is malformed; Unsupported for $ref, allOf, not, pattern, patternProperties, if, format.
Expected<std::string> json_schema_to_grammar(std::string_view schema);

enum class StopReason { MaxTokens, EndOfText, StopString, Cancelled, CallbackStopped, ContextFull };
// "max tokens", "end of text", "stop string", "cancelled", "stopped", "context full".
const char* stop_reason_text(StopReason reason);

// Token accounting of one completion.
struct Usage {
    int n_prompt = 0;              // prompt tokens evaluated (after prefix reuse)
    int n_reused = 0;              // prompt tokens served from the cached prefix
    int n_generated = 0;
    double prompt_ms = 0;
    double decode_ms = 0;
    double constraint_ms = 0;      // of decode_ms: the grammar's masks and parse steps
    double prompt_tps() const { return prompt_ms > 0 ? n_prompt * 1000.0 / prompt_ms : 0; }
    double decode_tps() const { return decode_ms > 0 ? n_generated * 1000.0 / decode_ms : 0; }
};

struct Completion {
    std::string text;              // without a matched stop string
    std::vector<Token> tokens;
    StopReason stop = StopReason::MaxTokens;
    Usage usage;
    // With Sampling::logprob: sum of the natural-log probabilities of `tokens` under the model
    // (temperature 1, after a constraint's mask, before repetition penalties); else 0.
    double logprob = 0;
};

struct Message {
    std::string role;              // "system", "user" or "assistant"
    std::string content;
};

// Called with each new piece of text (complete UTF-8 characters). Return false to stop.
using TextCallback = std::function<bool(std::string_view piece)>;

// What a loaded model is, for status lines, About boxes and `model info`.
struct ModelCard {
    std::string path;
    std::string name;              // general.name, may be empty
    std::string architecture;      // "sigma", "llama", "qwen2"
    std::string backend;           // where it runs: "cpu" or "cuda"
    std::string chat_format;       // the chat template in use ("sigma", "chatml", ...)
    bool has_tokenizer = false;
    uint32_t n_vocab = 0;
    uint32_t n_ctx_train = 0;
    uint64_t n_params = 0;
    uint64_t weight_bytes = 0;     // bytes of all weights as stored
    uint64_t kv_bytes_per_token = 0; // K + V cache bytes per token, all layers, F32 cache
    double load_ms = 0;
    // Everything else the backend knows, in display order: ("heads q/k/v", "12/2/6"), ...
    std::vector<std::pair<std::string, std::string>> details;
    std::string display_name() const { return name.empty() ? path : name; }
};

class Context {
public:
    virtual ~Context() = default;
    // Formats `messages` with the model's chat template, opens the assistant turn and completes
    // it. The longest common prefix with what the context already holds is reused.
    virtual Expected<Completion> chat(const std::vector<Message>& messages, const Sampling& sampling,
                                      const TextCallback& on_text = {}, const Constraint& constraint = {}) = 0;
    // Completes raw text (no template) or raw tokens.
    virtual Expected<Completion> complete(std::string_view prompt, const Sampling& sampling,
                                          const TextCallback& on_text = {}, const Constraint& constraint = {}) = 0;
    virtual Expected<Completion> complete_tokens(const std::vector<Token>& prompt, const Sampling& sampling,
                                                 const TextCallback& on_text = {}, const Constraint& constraint = {}) = 0;
    // Logits of every position of `tokens` from an empty context: row-major [n_tokens][n_vocab].
    virtual Expected<std::vector<float>> logits(const std::vector<Token>& tokens) = 0;
    // Stops a chat()/complete() in progress from any thread: it returns StopReason::Cancelled
    // with the text so far. A cancel() before the call starts is forgotten when it starts.
    virtual void cancel() = 0;
    virtual void reset() = 0;      // forget the cached prompt
    virtual int n_ctx() const = 0;
};

class Model {
public:
    virtual ~Model() = default;
    virtual const ModelCard& card() const = 0;
    virtual Expected<std::vector<Token>> tokenize(std::string_view text, bool add_bos, bool parse_special) const = 0;
    // The token a sequence starts with; NotFound when the model has none.
    virtual Expected<Token> bos() const = 0;
    // The conversation as the model's chat template writes it (`format` overrides the template).
    virtual Expected<std::string> format_chat(const std::vector<Message>& messages, bool add_assistant,
                                              const std::string& format = "") const = 0;
    virtual Expected<std::unique_ptr<Context>> new_context(const ContextOptions& options = {}) const = 0;
};

// ---- the local engine ---------------------------------------------------------------------

enum class Device {
    Cpu,
    Cuda,   // fails (Unsupported) when this build or this machine has no usable GPU
    Auto,   // CUDA when it loads, otherwise the CPU; the reason is reported
};

struct LoadOptions {
    Device device = Device::Cpu;
    int n_threads = 0;             // CPU worker threads; 0 = all online cores
};

struct Loaded {
    std::shared_ptr<Model> model;
    // With Device::Auto, why the GPU was not used ("" when it was, or was not tried). From
    // load_remote: what the endpoint lacks that the local engine has (no /tokenize, ...).
    std::string fallback_note;
};

// Loads a GGUF file into the Sigma engine. Errors name the file and what is wrong with it
// (NotFound, BadFile, Unsupported).
Expected<Loaded> load_local(const std::string& path, const LoadOptions& options = {});

// The places searched for a model, in order: $SIGMAOPS_MODEL, <data_dir>/models, the source
// tree's resources/models, the install prefix's share/sigmaops/models, the build tree's models/.
std::vector<std::string> model_search_paths();
// `explicit_path` (from -m or settings) wins when non-empty; otherwise the first *.gguf found in
// the search paths. NotFound's message lists every place looked at and how to pass a model.
Expected<std::string> find_model(const std::string& explicit_path);

// ---- a remote OpenAI-compatible endpoint (vLLM, llama.cpp's server, `sigmaops serve`, ...) ----
//
// The same Model/Context over HTTP(S) (remote.cpp, cpp-httplib): chat() posts
// /v1/chat/completions, complete() of a text that format_chat() wrote does too (the server
// applies its own chat template), other text goes to /v1/completions; always streamed (SSE),
// cancel() closes the connection. What the endpoint lacks is made up for, and said:
// - Constraint: the endpoint decodes freely; the answer is checked against the grammar (the
//   engine's grammar library) and asked for again, with a note saying what was wrong, at most
//   constraint_retries times, then the call fails with InvalidArgument. A constrained answer
//   reaches on_text in one piece, after its check.
// - tokenize(): the server's /tokenize (llama.cpp's server, vLLM) when it answers; otherwise an
//   estimate of one token per 2 bytes, rounded up (more than common BPE tokenizers count for
//   English and logs, 3.5-4.5 bytes a token; less than the shipped sigma-ops-nano's small
//   vocabulary counts for diagnose's prompt, about 1.5 bytes a token), ids all -1.
//   Where it matters: the log agent fits its prompt to n_ctx with these counts (logs::build_prompt),
//   so without /tokenize it leaves out more than it would need to, and a server that does not say
//   its context (/v1/models max_model_len, llama.cpp's /props) is assumed to hold 4096 tokens
//   (pass ContextOptions::n_ctx, the CLI's --ctx, to say it).
// - format_chat() is the server's own rendering when it has llama.cpp's POST /apply-template
//   (so counts of it are exact), else ChatML ("<|im_start|>role\ncontent<|im_end|>\n"), whose
//   length only approximates the server's template; complete() of either text sends the messages.
// - logits() and complete_tokens() without an exact tokenizer: Unsupported. Completion::tokens
//   holds the endpoint's count of generated tokens, ids -1; logprob comes from "logprobs" when
//   the endpoint sends them, else 0.
// Errors: Network (refused, unreachable, timeouts, TLS), Auth (401/403), NotFound (unknown model
// or path), Generic (429/503 after the allowed waits, 5xx, malformed answers), each naming the URL.
struct RemoteOptions {
    std::string url;               // http(s)://host[:port][/prefix]; "/v1" is added unless it ends in it
    std::string model;             // the endpoint's model name; "" = the first one /v1/models lists
    // "" = api_key_for(url). Never logged, never written anywhere; sent as "Authorization: Bearer".
    std::string api_key;
    double connect_timeout_s = 10;
    double read_timeout_s = 300;   // the longest silence while an answer is awaited
    int max_rate_retries = 3;      // 429/503: waits of Retry-After (capped at 30 s) at most this often
    int constraint_retries = 3;    // answers that break a Constraint: asked again at most this often
    int n_ctx = 0;                 // the endpoint's context; 0 = what /v1/models or /props says, else 4096
};

// Connects to the endpoint (GET /v1/models: reachable, key accepted, model served) and probes
// /tokenize. The card says: backend "remote", path = the URL, name = the model name.
Expected<Loaded> load_remote(const RemoteOptions& options);

// Where the API key of an endpoint comes from: $SIGMAOPS_API_KEY when set and not empty, else
// the system keyring's entry for `url` (libsecret's Secret Service; stored by store_api_key()),
// else "" (no key). An error only when the keyring answers with one other than "not there".
Expected<std::string> api_key_for(const std::string& url);
// Stores / removes the key for `url` in the system keyring (schema "org.sigmaops.ApiKey",
// attribute url). Unsupported when no Secret Service runs (no D-Bus session, no keyring daemon).
Expected<void> store_api_key(const std::string& url, std::string_view key);
Expected<bool> forget_api_key(const std::string& url);   // false: there was none

// About the engine this build carries.
struct EngineInfo {
    std::string version;           // the engine's version
    std::string cpu_features;      // the SIMD path this CPU runs ("avx512", "avx2", "scalar")
    bool cuda_built = false;       // built with the CUDA backend
};
EngineInfo engine_info();

// The GPU's device-to-device copy bandwidth (bytes read + written per second) and its name: the
// limit a decode step on the GPU is measured against. Unsupported without CUDA or a GPU.
struct GpuBandwidth {
    double bytes_per_s = 0;
    std::string device_name;
};
Expected<GpuBandwidth> gpu_copy_bandwidth();

} // namespace sigmaops::llm
