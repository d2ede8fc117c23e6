// serve/serve.h - `sigmaops serve`: an OpenAI-compatible HTTP server on the local engine.
//
// Endpoints: GET /v1/models (and /v1/models/{id}), POST /v1/chat/completions and
// POST /v1/completions, each non-streaming or streaming as server-sent events ("data: {...}"
// blocks, then "data: [DONE]"), with usage counts, stop strings (a string or an array of up to
// 4; never emitted, not even in part across token boundaries), max_tokens, temperature, top_p,
// seed, stream_options.include_usage. n must be 1 (n > 1 is a 400 naming the parameter: send
// several requests). Extensions, as llama.cpp's server accepts them: top_k, min_p,
// repeat_penalty, repeat_last_n. Constrained decoding (FIFO scheduler): response_format
// {"type": "json_schema", ...} and llama.cpp's "grammar" (GBNF); the batch scheduler refuses the
// first (400) and ignores the second (its clients check the answer). Also llama.cpp's
// POST /tokenize and GET /props, and context_length in /v1/models, for clients that count
// tokens. Errors are OpenAI error objects
// {"error": {"message", "type", "param", "code"}}: bad JSON or parameters 400, a wrong or
// missing bearer token 401, unknown model 404, a body over the limit 413, queue full 429,
// shutting down 503.
//
// Scheduling (a Scheduler between the HTTP handlers and the engine): on the CPU requests wait
// in one FIFO queue and `parallel` of them (default 1) generate at a time, each on its own
// context, tokens streamed as made. With the batch scheduler (the default on a GPU) up to
// `parallel` requests share one sigma::BatchSession: requests join and leave the running batch
// between decode steps and the prefill of a new request is interleaved, one chunk per step.
// A request beyond parallel + queue gets 429 at once.
// Known limits: BatchSession::step() advances all `parallel` slots, a free one with a dummy
// token, so --parallel should be near the expected concurrency; a non-greedy slot brings every
// slot's logits to the host for that step. A streaming client that disconnects is seen at the
// next write and cancelled; a non-streaming one runs to its end (cpp-httplib 0.11 shows no
// disconnect before the reply is written), bounded by max_tokens and the context.
//
// Thread-safety: a Server runs its own threads; stop() and the destructor may be called from
// any one thread. Nothing here writes to the terminal: log lines go to Options::log.
// Errors: start() returns sigmaops::Expected; nothing here throws.
#pragma once

#include <base/result.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sigmaops::serve {

enum class Device { Cpu, Cuda, Auto };          // Auto: CUDA when it loads, else the CPU
enum class Scheduling { Auto, Fifo, Batch };    // Auto: Batch on CUDA, Fifo on the CPU

struct Options {
    std::string host = "127.0.0.1";   // loopback unless asked otherwise
    int port = 8080;                   // 0: any free port (see Server::port())
    std::string model_path;            // the GGUF file
    std::string model_id;              // the name clients send as "model"; "" = the file's stem
    Device device = Device::Auto;
    Scheduling scheduling = Scheduling::Auto;
    int n_threads = 0;                 // CPU threads; 0 = all online cores
    int n_ctx = 0;                     // tokens per request's context; 0 = min(training context, 4096)
    int parallel = 0;                  // requests generating at once; 0 = 1 (Fifo) or 8 (Batch)
    int queue = 16;                    // requests waiting beyond `parallel`; more get 429
    std::size_t max_body_bytes = 1 << 20;   // larger request bodies get 413
    std::string api_key;               // "" = no auth; else "Authorization: Bearer KEY" required
    int shutdown_grace_ms = 5000;      // stop(): in-flight requests may finish for this long, then are cancelled
    // One line per request and per state change (never a key or a prompt); may be null.
    std::function<void(std::string_view line)> log;
};

class Server {
public:
    virtual ~Server() = default;   // stops as stop() does
    // Loads the model, binds host:port and starts serving in background threads. Errors:
    // NotFound/BadFile/Unsupported for the model, Io when the address cannot be bound,
    // InvalidArgument for bad options.
    static Expected<std::unique_ptr<Server>> start(const Options& options);

    virtual int port() const = 0;                    // the bound port
    virtual std::string model_id() const = 0;
    // Where it runs and how it schedules: "cpu, fifo x1" / "cuda, batch x8", plus why the GPU
    // was not used when Device::Auto fell back.
    virtual std::string description() const = 0;
    // Graceful shutdown: new requests get 503, queued ones are cancelled, running ones may finish
    // within shutdown_grace_ms, then are cancelled (a stream then ends with an error event and
    // [DONE]); returns when every connection thread has ended. Idempotent.
    virtual void stop() = 0;
};

} // namespace sigmaops::serve
