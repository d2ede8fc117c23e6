#include "cpu/threadpool.h"

#include <algorithm>

namespace sigma::cpu {

ThreadPool::ThreadPool(int n_threads) {
    m_n = n_threads > 0 ? n_threads : std::max(1u, std::thread::hardware_concurrency());
    for (int i = 1; i < m_n; ++i) m_threads.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    for (auto& t : m_threads) t.join();
}

void ThreadPool::work(int index) {
    uint64_t t = m_ticket.load(std::memory_order_acquire);
    for (;;) {
        const uint32_t i = uint32_t(t & 0xffffffffu);
        if (i >= m_n_chunks.load(std::memory_order_acquire)) return;
        if (!m_ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        // The claim succeeded, so this generation is current and cannot end before we report.
        const int64_t b = int64_t(i) * m_chunk, e = std::min(m_total, b + m_chunk);
        (*m_fn)(b, e, index);
        m_done.fetch_add(1, std::memory_order_acq_rel);
        t = m_ticket.load(std::memory_order_acquire);
    }
}

void ThreadPool::worker(int index) {
    uint32_t seen_gen = 0;
    for (;;) {
        uint32_t gen = uint32_t(m_ticket.load(std::memory_order_acquire) >> 32);
        for (int spin = 0; gen == seen_gen && spin < 4000 && !m_stop.load(std::memory_order_relaxed); ++spin) {
            if (spin > 200) std::this_thread::yield();
            gen = uint32_t(m_ticket.load(std::memory_order_acquire) >> 32);
        }
        if (gen == seen_gen) {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_cv.wait(lock, [&] { return m_stop.load() || uint32_t(m_ticket.load() >> 32) != seen_gen; });
            if (m_stop) return;
            gen = uint32_t(m_ticket.load() >> 32);
        }
        if (m_stop) return;
        seen_gen = gen;
        work(index);
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    if (m_n == 1 || n <= grain) {
        fn(0, n, 0);
        return;
    }
    // A few chunks per thread: a late or descheduled thread leaves its share to the others.
    const int64_t want = std::min<int64_t>(int64_t(m_n) * 4, (n + grain - 1) / grain);
    const int64_t chunk = (n + want - 1) / want;
    const uint32_t n_chunks = uint32_t((n + chunk - 1) / chunk);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_fn = &fn;
        m_total = n;
        m_chunk = chunk;
        m_done.store(0, std::memory_order_relaxed);
        m_n_chunks.store(n_chunks, std::memory_order_release);
        const uint64_t gen = (m_ticket.load(std::memory_order_relaxed) >> 32) + 1;
        m_ticket.store(gen << 32, std::memory_order_release);
    }
    m_cv.notify_all();
    work(0);
    // Wait only for chunks that other threads have already claimed.
    for (int spin = 0; m_done.load(std::memory_order_acquire) != n_chunks; ++spin)
        if (spin > 64) std::this_thread::yield();
}

} // namespace sigma::cpu
