// fifo_scheduler.cpp - the CPU's scheduler: one FIFO queue, `parallel` workers, each with its own
// llm::Context (reset per request, so a reply never depends on which worker or what ran before).
#include "serve_internal.h"

#include <thread>

namespace sigmaops::serve {

namespace {

Finish finish_of(const llm::Completion& c, const Job& job) {
    switch (c.stop) {
    case llm::StopReason::EndOfText:
    case llm::StopReason::StopString: return Finish::Stop;
    case llm::StopReason::CallbackStopped: return job.stop_matched() ? Finish::Stop : Finish::Cancelled;
    case llm::StopReason::Cancelled: return Finish::Cancelled;
    case llm::StopReason::MaxTokens:
    case llm::StopReason::ContextFull: return Finish::Length;
    }
    return Finish::Stop;
}

class FifoScheduler final : public Scheduler {
public:
    FifoScheduler(std::shared_ptr<llm::Model> model, const SchedulerConfig& config)
        : m_model(std::move(model)), m_config(config) {
        llm::ContextOptions copt;
        copt.n_ctx = config.n_ctx;
        for (int i = 0; i < std::max(1, config.parallel); ++i) {
            auto ctx = m_model->new_context(copt);
            if (!ctx) { m_error = ctx.error(); return; }
            m_n_ctx = (*ctx)->n_ctx();
            m_workers.emplace_back([this, c = std::shared_ptr<llm::Context>(std::move(*ctx))] { work(*c); });
        }
    }

    ~FifoScheduler() override {
        close();
        cancel_running();
        {
            std::lock_guard<std::mutex> lock(m_mu);
            m_exit = true;
            m_cv.notify_all();
        }
        for (auto& t : m_workers) t.join();
    }

    const Error* error() const { return m_error.message.empty() ? nullptr : &m_error; }

    SubmitStatus submit(std::shared_ptr<Job> job) override {
        std::lock_guard<std::mutex> lock(m_mu);
        if (m_closed) return SubmitStatus::ShuttingDown;
        if (int(m_queue.size()) + m_running >= std::max(1, m_config.parallel) + m_config.queue) return SubmitStatus::QueueFull;
        m_queue.push_back(std::move(job));
        m_cv.notify_all();
        return SubmitStatus::Accepted;
    }

    Expected<int> count_prompt(Job& job) override {
        std::string text = job.prompt;
        if (job.is_chat) {
            auto t = m_model->format_chat(job.messages, true);
            if (!t) return unexpected(t.error());
            text = std::move(*t);
        }
        // As the engine's generate(): BOS added unless the text starts with it.
        auto ids = m_model->tokenize(text, true, true);
        if (!ids) return unexpected(ids.error());
        auto bos = m_model->bos();
        if (bos && ids->size() >= 2 && (*ids)[0] == *bos && (*ids)[1] == *bos) return int(ids->size()) - 1;
        return int(ids->size());
    }

    int n_ctx() const override { return m_n_ctx; }
    int n_slots() const override { return std::max(1, m_config.parallel); }
    bool constrains() const override { return true; }
    Expected<std::string> format_chat(const std::vector<llm::Message>& messages) override {
        return m_model->format_chat(messages, true);
    }
    Expected<std::vector<int32_t>> tokenize(std::string_view text, bool add_bos, bool parse_special) override {
        auto t = m_model->tokenize(text, add_bos, parse_special);
        if (!t) return unexpected(t.error());
        return std::vector<int32_t>(t->begin(), t->end());
    }
    std::string description() const override {
        return m_model->card().backend + ", fifo x" + std::to_string(std::max(1, m_config.parallel));
    }

    void close() override {
        std::deque<std::shared_ptr<Job>> dropped;
        {
            std::lock_guard<std::mutex> lock(m_mu);
            m_closed = true;
            dropped.swap(m_queue);
            m_cv.notify_all();
        }
        for (auto& j : dropped) j->finish({Finish::Cancelled, 0, 0, {ErrorCode::Cancelled, "the server is shutting down"}});
    }

    void cancel_running() override {
        std::vector<std::shared_ptr<Job>> running;
        {
            std::lock_guard<std::mutex> lock(m_mu);
            running = m_current;
        }
        for (auto& j : running) if (j) j->cancel();
    }

    bool wait_idle(std::chrono::steady_clock::time_point deadline) override {
        std::unique_lock<std::mutex> lock(m_mu);
        return m_idle_cv.wait_until(lock, deadline, [&] { return m_running == 0 && m_queue.empty(); });
    }

private:
    void work(llm::Context& ctx) {
        size_t slot;
        {
            std::lock_guard<std::mutex> lock(m_mu);
            slot = m_current.size();
            m_current.push_back(nullptr);
        }
        for (;;) {
            std::shared_ptr<Job> job;
            {
                std::unique_lock<std::mutex> lock(m_mu);
                m_cv.wait(lock, [&] { return m_exit || !m_queue.empty(); });
                if (m_exit) return;
                job = std::move(m_queue.front());
                m_queue.pop_front();
                ++m_running;
                m_current[slot] = job;
            }
            run(ctx, *job);
            {
                std::lock_guard<std::mutex> lock(m_mu);
                --m_running;
                m_current[slot] = nullptr;
                m_idle_cv.notify_all();
            }
        }
    }

    void run(llm::Context& ctx, Job& job) {
        if (job.cancelled()) {
            job.finish({Finish::Cancelled, 0, 0, {ErrorCode::Cancelled, "cancelled"}});
            return;
        }
        job.set_on_cancel([&ctx] { ctx.cancel(); });
        if (job.cancelled()) ctx.cancel();   // a cancel between the check and set_on_cancel
        ctx.reset();
        llm::Sampling s = job.sampling;
        s.stop.clear();                      // the Job's StopFilter applies stop strings
        if (s.max_tokens < 0) s.max_tokens = ctx.n_ctx();
        auto on_text = [&job](std::string_view piece) { return job.push_text(piece); };
        auto res = job.is_chat ? ctx.chat(job.messages, s, on_text, job.constraint)
                               : ctx.complete(job.prompt, s, on_text, job.constraint);
        job.set_on_cancel({});
        if (!res) {
            JobResult r;
            r.finish = res.error().code == ErrorCode::Cancelled ? Finish::Cancelled : Finish::Error;
            r.error = res.error();
            job.finish(std::move(r));
            return;
        }
        JobResult r;
        r.finish = finish_of(*res, job);
        r.n_prompt = res->usage.n_prompt + res->usage.n_reused;
        r.n_completion = res->usage.n_generated;
        job.finish(std::move(r));
    }

    std::shared_ptr<llm::Model> m_model;
    SchedulerConfig m_config;
    Error m_error;
    int m_n_ctx = 0;
    std::mutex m_mu;
    std::condition_variable m_cv, m_idle_cv;
    std::deque<std::shared_ptr<Job>> m_queue;
    std::vector<std::shared_ptr<Job>> m_current;   // per worker: its running job or null
    int m_running = 0;
    bool m_closed = false, m_exit = false;
    std::vector<std::thread> m_workers;
};

} // namespace

Expected<std::unique_ptr<Scheduler>> make_fifo_scheduler(std::shared_ptr<llm::Model> model, const SchedulerConfig& config) {
    auto s = std::make_unique<FifoScheduler>(std::move(model), config);
    if (const Error* e = s->error()) return unexpected(*e);
    return std::unique_ptr<Scheduler>(std::move(s));
}

} // namespace sigmaops::serve
