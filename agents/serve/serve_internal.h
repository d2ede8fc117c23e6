// serve_internal.h - private to agents/serve (and its tests): a request as the schedulers see it
// (Job), the Scheduler seam between the HTTP handlers and the engine, the stop-string filter.
#pragma once

#include <serve/serve.h>

#include <llm/llm.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sigmaops::serve {

// Holds back generated text that might be the start of a stop string, so that a stop string is
// never emitted, not even partly, however the tokens cut it. push() returns the text that is
// now safe to emit; after a match, matched() is true and push() returns "" from then on.
class StopFilter {
public:
    explicit StopFilter(std::vector<std::string> stops) : m_stops(std::move(stops)) {}
    std::string push(std::string_view piece);
    std::string flush();            // at the end of generation: what was held back
    bool matched() const { return m_matched; }

private:
    std::vector<std::string> m_stops;
    std::string m_held;
    bool m_matched = false;
};

// Why a generation ended, as the API says it.
enum class Finish { Stop, Length, Cancelled, Error };

struct JobResult {
    Finish finish = Finish::Stop;
    int n_prompt = 0;               // prompt tokens
    int n_completion = 0;           // generated tokens
    Error error;                    // with Finish::Error
};

// One request: what to generate (filled by the HTTP side), and a one-way channel of text pieces
// and a final result (filled by the scheduler's thread, read by the connection's thread).
class Job {
public:
    // The prompt: chat messages (formatted with the model's template) or raw text.
    bool is_chat = false;
    std::vector<llm::Message> messages;
    std::string prompt;
    llm::Sampling sampling;         // max_tokens included; `stop` is applied here, not by the engine
    std::vector<std::string> stop;
    int max_tokens_requested = -1;  // -1: up to the context's end
    std::vector<int32_t> prompt_tokens;   // filled by Scheduler::count_prompt (the batch scheduler reuses them)
    llm::Constraint constraint;     // "grammar" (GBNF) or response_format json_schema; FIFO only

    Job() : m_filter({}) {}
    void set_stop(std::vector<std::string> s) { stop = s; m_filter = StopFilter(std::move(s)); }

    // Scheduler side. push_text() runs the stop filter; false = a stop string matched (or the job
    // was cancelled): generate no more.
    bool push_text(std::string_view piece);
    // Ends the job: flushes held-back text (unless a stop matched) and wakes the reader.
    void finish(JobResult r);
    bool stop_matched() const { return m_filter.matched(); }

    // Reader side. Waits up to `timeout` for text or the end; moves available text into `text`.
    // Returns true when the job has finished and all text was taken (then result() is valid).
    bool take(std::string& text, std::chrono::milliseconds timeout);
    const JobResult& result() const { return m_result; }

    // Any thread: stop this job (a disconnected client, shutdown). The scheduler sees it between
    // tokens; `on_cancel`, when set by the scheduler, interrupts a prefill too.
    void cancel();
    bool cancelled() const { return m_cancelled.load(); }
    void set_on_cancel(std::function<void()> f);

    const std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();

private:
    std::mutex m_mu;
    std::condition_variable m_cv;
    std::string m_text;
    bool m_done = false;
    JobResult m_result;
    std::atomic<bool> m_cancelled{false};
    std::function<void()> m_on_cancel;
    StopFilter m_filter;
};

// An OpenAI error object and its HTTP status.
struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param;             // "" = null
    std::string code;              // "" = null
};

// An OpenAI request body (chat: /v1/chat/completions, else /v1/completions) into `job` (prompt,
// sampling, stop, constraint) and the stream flags; an ApiError (400 bad JSON or parameter, 404
// unknown model) when it is not one. request.cpp.
std::optional<ApiError> parse_request(std::string_view body, bool chat, const std::string& model_id, Job& job, bool& stream,
                                      bool& include_usage, bool& has_response_format);

// llama.cpp's /apply-template body ({"messages": [...]}) into `messages`.
std::optional<ApiError> parse_template_request(std::string_view body, std::vector<llm::Message>& messages);

enum class SubmitStatus { Accepted, QueueFull, ShuttingDown };

class Scheduler {
public:
    virtual ~Scheduler() = default;
    // Queues `job`; the scheduler ends it with finish() exactly once if Accepted.
    virtual SubmitStatus submit(std::shared_ptr<Job> job) = 0;
    // Tokens of a prompt (for the context check); the chat template applied for a chat.
    virtual Expected<int> count_prompt(Job& job) = 0;
    virtual int n_ctx() const = 0;
    virtual int n_slots() const = 0;
    // Whether Job::constraint is applied (the FIFO scheduler: the engine's grammar mask).
    virtual bool constrains() const = 0;
    // Text -> token ids as the model's tokenizer makes them (llama.cpp's /tokenize).
    virtual Expected<std::vector<int32_t>> tokenize(std::string_view text, bool add_bos, bool parse_special) = 0;
    // The chat as the model's template writes it, the assistant turn opened (what chat requests run).
    virtual Expected<std::string> format_chat(const std::vector<llm::Message>& messages) = 0;
    virtual std::string description() const = 0;
    // No new jobs (ShuttingDown), queued ones finished as Cancelled. Running ones continue.
    virtual void close() = 0;
    // Cancels every running job.
    virtual void cancel_running() = 0;
    // Waits until no job runs or until `deadline`; true when idle.
    virtual bool wait_idle(std::chrono::steady_clock::time_point deadline) = 0;
};

struct SchedulerConfig {
    int parallel = 1;
    int queue = 16;
    int n_ctx = 0;
};

// FIFO over `parallel` llm::Contexts of one model (the CPU default).
Expected<std::unique_ptr<Scheduler>> make_fifo_scheduler(std::shared_ptr<llm::Model> model, const SchedulerConfig& config);

// Continuous batching over one sigma::BatchSession of `parallel` sequences (the GPU default;
// also runs on the CPU, for tests). Loads the model itself (engine_batch.cpp, the engine seam).
// `cuda`: Device::Cuda, else the CPU. `n_threads` for the CPU.
Expected<std::unique_ptr<Scheduler>> make_batch_scheduler(const std::string& model_path, bool cuda, int n_threads,
                                                          const SchedulerConfig& config);

} // namespace sigmaops::serve
