// job.cpp - a request's channel from the scheduler's thread to the connection's thread, and the
// stop-string filter that holds back text that may become a stop string.
#include "serve_internal.h"

#include <algorithm>

namespace sigmaops::serve {

std::string StopFilter::push(std::string_view piece) {
    if (m_matched) return {};
    m_held.append(piece);
    if (m_stops.empty()) {
        std::string out;
        out.swap(m_held);
        return out;
    }
    // The earliest complete match wins; the text before it is emitted.
    size_t first = std::string::npos;
    for (const std::string& s : m_stops) {
        const size_t at = m_held.find(s);
        if (at != std::string::npos) first = std::min(first, at);
    }
    if (first != std::string::npos) {
        m_matched = true;
        std::string out = m_held.substr(0, first);
        m_held.clear();
        return out;
    }
    // Otherwise hold the longest tail that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const std::string& s : m_stops) {
        const size_t max_k = std::min(s.size() - 1, m_held.size());
        for (size_t k = max_k; k > hold; --k)
            if (m_held.compare(m_held.size() - k, k, s, 0, k) == 0) { hold = k; break; }
    }
    std::string out = m_held.substr(0, m_held.size() - hold);
    m_held.erase(0, m_held.size() - hold);
    return out;
}

std::string StopFilter::flush() {
    std::string out;
    if (!m_matched) out.swap(m_held);
    m_held.clear();
    return out;
}

bool Job::push_text(std::string_view piece) {
    if (m_cancelled.load()) return false;
    std::string safe = m_filter.push(piece);
    if (!safe.empty()) {
        std::lock_guard<std::mutex> lock(m_mu);
        m_text += safe;
        m_cv.notify_all();
    }
    return !m_filter.matched();
}

void Job::finish(JobResult r) {
    std::string rest = m_filter.flush();
    std::lock_guard<std::mutex> lock(m_mu);
    m_text += rest;
    m_result = std::move(r);
    m_done = true;
    m_on_cancel = nullptr;
    m_cv.notify_all();
}

bool Job::take(std::string& text, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(m_mu);
    m_cv.wait_for(lock, timeout, [&] { return !m_text.empty() || m_done; });
    text.append(m_text);
    m_text.clear();
    return m_done;
}

void Job::cancel() {
    m_cancelled = true;
    std::lock_guard<std::mutex> lock(m_mu);
    // Under the lock: a scheduler clears on_cancel (set_on_cancel({})) before it reuses its
    // context for another job, so a late cancel never reaches the next one.
    if (m_on_cancel) m_on_cancel();
}

void Job::set_on_cancel(std::function<void()> f) {
    std::lock_guard<std::mutex> lock(m_mu);
    m_on_cancel = std::move(f);
}

} // namespace sigmaops::serve
