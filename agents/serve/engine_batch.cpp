// engine_batch.cpp - continuous batching: the serve module's one seam to the engine (public
// <sigma/engine.h> and <sigma/batch.h> only; tools/checks/layers.sh allows this file).
//
// One thread owns a sigma::BatchSession of n_seq sequences ("slots"). Each turn of its loop:
//   1. admits queued jobs into free slots (FIFO) and drops cancelled ones,
//   2. prefills one chunk (kPrefillChunk tokens) of one waiting prompt, round-robin, so a long
//      prompt never stalls the running streams for more than one chunk,
//   3. advances every decoding slot by one token in one BatchSession::step() (on CUDA: one
//      cuda::BatchForward graph), and hands each slot's new text to its job.
// Requests thus join and leave the running batch between decode steps. step() advances all
// n_seq sequences: a free slot computes a dummy token at position 0 and a slot still in
// prefill one at its next prompt position (which its next prefill chunk overwrites), so no
// cache a request relies on is touched. Greedy slots (temperature 0, no repetition penalty)
// take step()'s argmax; any other slot makes the step bring all logits to the host, where this
// file samples (temperature, top-k, top-p, min-p, repetition penalty, seeded).
#include "serve_internal.h"

#include <sigma/batch.h>
#include <sigma/engine.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

namespace sigmaops::serve {

namespace {

JobResult result(Finish f) {
    JobResult r;
    r.finish = f;
    return r;
}

constexpr int kPrefillChunk = 256;

// The engine's errors are sigmaops::Error already (sigma/expected.h).
const Error& to_error(const Error& e) { return e; }

// Length of the longest prefix of `s` that ends on a whole UTF-8 character.
size_t complete_utf8(std::string_view s) {
    size_t n = s.size();
    for (size_t back = 1; back <= 4 && back <= n; ++back) {
        const unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue;           // a continuation byte: look further back
        const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        return back >= len ? n : n - back;
    }
    return n;
}

bool greedy(const llm::Sampling& s) {
    return s.temperature <= 0 && (s.repeat_penalty == 1.0f || s.repeat_last_n == 0);
}

// The CPU sampler's steps, in its order: repetition penalty, greedy or top-k, temperature
// softmax, min-p, top-p, a draw.
sigma::TokenId sample(const float* logits, int n_vocab, const llm::Sampling& s, std::span<const sigma::TokenId> recent,
                      std::mt19937_64& rng) {
    std::vector<float> l(logits, logits + n_vocab);
    if (s.repeat_penalty != 1.0f)
        for (sigma::TokenId t : recent)
            if (t >= 0 && t < n_vocab) l[size_t(t)] = l[size_t(t)] > 0 ? l[size_t(t)] / s.repeat_penalty : l[size_t(t)] * s.repeat_penalty;
    if (s.temperature <= 0) return sigma::TokenId(std::max_element(l.begin(), l.end()) - l.begin());
    std::vector<int> idx(static_cast<size_t>(n_vocab));
    std::iota(idx.begin(), idx.end(), 0);
    size_t k = s.top_k > 0 ? std::min<size_t>(size_t(s.top_k), idx.size()) : idx.size();
    auto by_logit = [&](int a, int b) { return l[size_t(a)] > l[size_t(b)]; };
    if (k < idx.size()) {
        std::partial_sort(idx.begin(), idx.begin() + long(k), idx.end(), by_logit);
        idx.resize(k);
    } else {
        std::sort(idx.begin(), idx.end(), by_logit);
    }
    std::vector<double> p(idx.size());
    const double top = l[size_t(idx[0])];
    double sum = 0;
    for (size_t i = 0; i < idx.size(); ++i) sum += p[i] = std::exp((l[size_t(idx[i])] - top) / s.temperature);
    for (double& x : p) x /= sum;
    size_t n = p.size();
    if (s.min_p > 0)
        while (n > 1 && p[n - 1] < s.min_p * p[0]) --n;
    if (s.top_p < 1) {
        double c = 0;
        for (size_t i = 0; i < n; ++i) {
            c += p[i];
            if (c >= s.top_p) { n = i + 1; break; }
        }
    }
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += p[i];
    double r = std::uniform_real_distribution<double>(0, total)(rng);
    for (size_t i = 0; i < n; ++i) {
        r -= p[i];
        if (r <= 0) return idx[i];
    }
    return idx[n - 1];
}

class BatchScheduler final : public Scheduler {
public:
    BatchScheduler(std::shared_ptr<sigma::Model> model, std::unique_ptr<sigma::BatchSession> batch, const SchedulerConfig& config,
                   bool cuda)
        : m_model(std::move(model)), m_batch(std::move(batch)), m_config(config), m_cuda(cuda),
          m_slots(size_t(m_batch->n_seq())) {
        m_thread = std::thread([this] { loop(); });
    }

    ~BatchScheduler() override {
        close();
        cancel_running();
        {
            std::lock_guard<std::mutex> lock(m_mu);
            m_exit = true;
            m_cv.notify_all();
        }
        m_thread.join();
    }

    SubmitStatus submit(std::shared_ptr<Job> job) override {
        std::lock_guard<std::mutex> lock(m_mu);
        if (m_closed) return SubmitStatus::ShuttingDown;
        if (int(m_queue.size()) + m_n_active >= int(m_slots.size()) + m_config.queue) return SubmitStatus::QueueFull;
        m_queue.push_back(std::move(job));
        m_cv.notify_all();
        return SubmitStatus::Accepted;
    }

    Expected<int> count_prompt(Job& job) override {
        std::string text = job.prompt;
        if (job.is_chat) {
            auto t = format_chat(job.messages);
            if (!t) return unexpected(t.error());
            text = std::move(*t);
        }
        auto ids = m_model->tokenize(text, true, true);   // as generate(): BOS unless the text has it
        if (!ids) return unexpected(to_error(ids.error()));
        auto bos = m_model->tokenize("", true, false);
        if (bos && bos->size() == 1 && ids->size() >= 2 && (*ids)[0] == (*bos)[0] && (*ids)[1] == (*bos)[0]) ids->erase(ids->begin());
        job.prompt_tokens = std::move(*ids);
        return int(job.prompt_tokens.size());
    }

    int n_ctx() const override { return m_batch->n_ctx(); }
    int n_slots() const override { return int(m_slots.size()); }
    bool constrains() const override { return false; }
    Expected<std::string> format_chat(const std::vector<llm::Message>& messages) override {
        std::vector<sigma::ChatMessage> msgs;
        for (const auto& m : messages) msgs.push_back({m.role, m.content});
        return m_model->format_chat(msgs, true);
    }
    Expected<std::vector<int32_t>> tokenize(std::string_view text, bool add_bos, bool parse_special) override {
        auto t = m_model->tokenize(text, add_bos, parse_special);
        if (!t) return unexpected(t.error());
        return std::vector<int32_t>(t->begin(), t->end());
    }
    std::string description() const override {
        return std::string(m_cuda ? "cuda" : "cpu") + ", batch x" + std::to_string(m_slots.size());
    }

    void close() override {
        std::deque<std::shared_ptr<Job>> dropped;
        {
            std::lock_guard<std::mutex> lock(m_mu);
            m_closed = true;
            dropped.swap(m_queue);
        }
        for (auto& j : dropped) j->finish({Finish::Cancelled, 0, 0, {ErrorCode::Cancelled, "the server is shutting down"}});
    }

    void cancel_running() override {
        std::vector<std::shared_ptr<Job>> running;
        {
            std::lock_guard<std::mutex> lock(m_mu);
            running = m_running_jobs;
        }
        for (auto& j : running) if (j) j->cancel();
        m_cv.notify_all();
    }

    bool wait_idle(std::chrono::steady_clock::time_point deadline) override {
        std::unique_lock<std::mutex> lock(m_mu);
        return m_idle_cv.wait_until(lock, deadline, [&] { return m_n_active == 0 && m_queue.empty(); });
    }

private:
    enum class State { Free, Prefill, Decode };
    struct Slot {
        State state = State::Free;
        std::shared_ptr<Job> job;
        std::vector<sigma::TokenId> prompt;
        int n_done = 0;                       // prompt tokens in the cache
        sigma::TokenId last = 0;              // the token the next step feeds
        int pos = 0;                          // its position
        std::vector<sigma::TokenId> generated;
        size_t n_emitted = 0;                 // bytes of the decoded text handed to the job
        int max_tokens = 0;
        bool greedy = true;
        std::mt19937_64 rng;
    };

    void release(size_t b, JobResult r) {
        Slot& s = m_slots[b];
        r.n_prompt = int(s.prompt.size());
        r.n_completion = int(s.generated.size());
        s.job->finish(std::move(r));
        s = Slot{};
        std::lock_guard<std::mutex> lock(m_mu);
        m_running_jobs[b] = nullptr;
        --m_n_active;
        m_idle_cv.notify_all();
    }

    // A new token of slot b: end of text, new text for its job, limits. True while it goes on.
    bool accept(size_t b, sigma::TokenId tok) {
        Slot& s = m_slots[b];
        if (m_model->is_end_of_generation(tok)) { release(b, result(Finish::Stop)); return false; }
        s.generated.push_back(tok);
        auto text = m_model->detokenize(s.generated);
        if (!text) { release(b, {Finish::Error, 0, 0, to_error(text.error())}); return false; }
        const size_t upto = complete_utf8(*text);
        if (upto > s.n_emitted) {
            const bool more = s.job->push_text(std::string_view(*text).substr(s.n_emitted, upto - s.n_emitted));
            s.n_emitted = upto;
            if (!more) { release(b, result(s.job->stop_matched() ? Finish::Stop : Finish::Cancelled)); return false; }
        }
        if (int(s.generated.size()) >= s.max_tokens || s.pos + 1 >= m_batch->n_ctx()) {
            // The text so far, an incomplete character included, then "length".
            if (text->size() > s.n_emitted) s.job->push_text(std::string_view(*text).substr(s.n_emitted));
            release(b, result(Finish::Length));
            return false;
        }
        s.last = tok;
        ++s.pos;
        return true;
    }

    std::span<const sigma::TokenId> recent(const Slot& s, std::vector<sigma::TokenId>& buf) const {
        const int n = s.job->sampling.repeat_last_n;
        buf = s.prompt;
        buf.insert(buf.end(), s.generated.begin(), s.generated.end());
        const size_t k = n < 0 ? buf.size() : std::min(buf.size(), size_t(n));
        return std::span<const sigma::TokenId>(buf).last(k);
    }

    void admit(size_t b, std::shared_ptr<Job> job) {
        Slot& s = m_slots[b];
        s = Slot{};
        s.job = std::move(job);
        if (s.job->prompt_tokens.empty()) {
            if (auto n = count_prompt(*s.job); !n) { release_unstarted(b, n.error()); return; }
        }
        s.prompt = s.job->prompt_tokens;
        s.state = State::Prefill;
        const llm::Sampling& sp = s.job->sampling;
        s.greedy = greedy(sp);
        s.max_tokens = sp.max_tokens < 0 ? m_batch->n_ctx() : sp.max_tokens;
        s.rng.seed(sp.seed ? sp.seed : std::random_device{}());
    }

    void release_unstarted(size_t b, const Error& e) {
        Slot& s = m_slots[b];
        s.state = State::Decode;   // so that release() frees it
        release(b, {Finish::Error, 0, 0, e});
    }

    void loop() {
        size_t rr = 0;
        std::vector<sigma::TokenId> tokens(m_slots.size()), next(m_slots.size()), recent_buf;
        std::vector<int> pos(m_slots.size());
        std::vector<float> logits, last_logits(size_t(m_batch->n_vocab()));
        for (;;) {
            std::vector<std::pair<size_t, std::shared_ptr<Job>>> admitted;
            {
                std::unique_lock<std::mutex> lock(m_mu);
                m_cv.wait(lock, [&] { return m_exit || !m_queue.empty() || m_n_active > 0; });
                if (m_exit && m_n_active == 0) return;
                for (size_t b = 0; b < m_slots.size() && !m_queue.empty(); ++b) {
                    if (m_slots[b].state != State::Free || m_running_jobs[b]) continue;
                    m_running_jobs[b] = m_queue.front();
                    admitted.emplace_back(b, std::move(m_queue.front()));
                    m_queue.pop_front();
                    ++m_n_active;
                }
            }
            for (auto& [b, job] : admitted) admit(b, std::move(job));
            for (size_t b = 0; b < m_slots.size(); ++b)
                if (m_slots[b].state != State::Free && m_slots[b].job->cancelled()) release(b, result(Finish::Cancelled));

            // 2. One prefill chunk, round-robin over the slots still reading their prompt.
            for (size_t i = 0; i < m_slots.size(); ++i) {
                const size_t b = (rr + i) % m_slots.size();
                Slot& s = m_slots[b];
                if (s.state != State::Prefill) continue;
                rr = b + 1;
                const int n = std::min(kPrefillChunk, int(s.prompt.size()) - s.n_done);
                const bool last_chunk = s.n_done + n == int(s.prompt.size());
                auto r = m_batch->prefill(int(b), std::span<const sigma::TokenId>(s.prompt).subspan(size_t(s.n_done), size_t(n)),
                                          s.n_done, last_chunk && !s.greedy ? std::span<float>(last_logits) : std::span<float>());
                if (!r) { release(b, {Finish::Error, 0, 0, to_error(r.error())}); break; }
                s.n_done += n;
                if (last_chunk) {
                    s.state = State::Decode;
                    s.pos = s.n_done - 1;   // accept() moves it to the first generated token's position
                    const sigma::TokenId first = s.greedy ? *r : sample(last_logits.data(), m_batch->n_vocab(), s.job->sampling,
                                                                        recent(s, recent_buf), s.rng);
                    accept(b, first);
                }
                break;
            }

            // 3. One decode step of every slot that is decoding.
            bool any = false, want_logits = false;
            for (size_t b = 0; b < m_slots.size(); ++b) {
                const Slot& s = m_slots[b];
                if (s.state == State::Decode) {
                    any = true;
                    want_logits |= !s.greedy;
                    tokens[b] = s.last;
                    pos[b] = s.pos;
                } else if (s.state == State::Prefill) {
                    tokens[b] = 0;
                    pos[b] = std::min(s.n_done, m_batch->n_ctx() - 1);
                } else {
                    tokens[b] = 0;
                    pos[b] = 0;
                }
            }
            if (!any) continue;
            if (want_logits) logits.resize(m_slots.size() * size_t(m_batch->n_vocab()));
            auto r = m_batch->step(tokens, pos, next, want_logits ? std::span<float>(logits) : std::span<float>());
            if (!r) {
                for (size_t b = 0; b < m_slots.size(); ++b)
                    if (m_slots[b].state == State::Decode) release(b, {Finish::Error, 0, 0, to_error(r.error())});
                continue;
            }
            for (size_t b = 0; b < m_slots.size(); ++b) {
                Slot& s = m_slots[b];
                if (s.state != State::Decode) continue;
                const sigma::TokenId t = s.greedy ? next[b]
                                                  : sample(&logits[b * size_t(m_batch->n_vocab())], m_batch->n_vocab(),
                                                           s.job->sampling, recent(s, recent_buf), s.rng);
                accept(b, t);
            }
        }
    }

    std::shared_ptr<sigma::Model> m_model;
    std::unique_ptr<sigma::BatchSession> m_batch;
    SchedulerConfig m_config;
    bool m_cuda = false;
    std::vector<Slot> m_slots;                              // the loop thread's only
    std::mutex m_mu;
    std::condition_variable m_cv, m_idle_cv;
    std::deque<std::shared_ptr<Job>> m_queue;
    std::vector<std::shared_ptr<Job>> m_running_jobs = std::vector<std::shared_ptr<Job>>(64);   // by slot
    int m_n_active = 0;
    bool m_closed = false, m_exit = false;
    std::thread m_thread;
};

} // namespace

Expected<std::unique_ptr<Scheduler>> make_batch_scheduler(const std::string& model_path, bool cuda, int n_threads,
                                                          const SchedulerConfig& config) {
    sigma::LoadOptions lo;
    lo.device = cuda ? sigma::Device::Cuda : sigma::Device::Cpu;
    lo.n_threads = n_threads;
    auto model = sigma::Model::load(model_path, lo);
    if (!model) return unexpected(to_error(model.error()));
    if (!(*model)->info().has_tokenizer)
        return unexpected(ErrorCode::Unsupported, model_path + " has no tokenizer: the server needs one");
    const int n_seq = std::clamp(config.parallel, 1, sigma::BatchSession::kMaxSeqs);
    sigma::SessionOptions so;
    so.n_ctx = config.n_ctx;
    auto batch = (*model)->new_batch(n_seq, so);
    if (!batch) return unexpected(to_error(batch.error()));
    return std::unique_ptr<Scheduler>(std::make_unique<BatchScheduler>(std::move(*model), std::move(*batch), config, cuda));
}

} // namespace sigmaops::serve
