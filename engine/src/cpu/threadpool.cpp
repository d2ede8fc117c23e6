#include "cpu/threadpool.h"

#include <algorithm>
#include <chrono>

namespace sigma::cpu {

ThreadPool::ThreadPool(int n_threads) {
    m_n = n_threads > 0 ? n_threads : std::max(1u, std::thread::hardware_concurrency());
    for (int i = 1; i < m_n; ++i) m_threads.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
        m_generation.fetch_add(1);
    }
    m_cv.notify_all();
    for (auto& t : m_threads) t.join();
}

static void run_range(const std::function<void(int64_t, int64_t, int)>& fn, int64_t total, int active, int i) {
    if (i >= active) return;
    const int64_t chunk = (total + active - 1) / active;
    const int64_t b = std::min<int64_t>(total, chunk * i), e = std::min<int64_t>(total, b + chunk);
    if (b < e) fn(b, e, i);
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        // Spin a little (regions come in quick succession while decoding), then sleep.
        uint64_t gen = m_generation.load(std::memory_order_acquire);
        for (int spin = 0; gen == seen && spin < 20000; ++spin) {
            if (spin > 1000) std::this_thread::yield();
            gen = m_generation.load(std::memory_order_acquire);
        }
        if (gen == seen) {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_cv.wait(lock, [&] { return m_generation.load() != seen; });
            gen = m_generation.load();
        }
        seen = gen;
        if (m_stop) return;
        run_range(*m_fn, m_total, m_active, index);
        m_pending.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain) {
    if (n <= 0) return;
    const int active = static_cast<int>(std::clamp<int64_t>(n / std::max<int64_t>(grain, 1), 1, m_n));
    if (active == 1 || m_n == 1) {
        fn(0, n, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_fn = &fn;
        m_total = n;
        m_active = active;
        m_pending.store(m_n - 1, std::memory_order_release);
        m_generation.fetch_add(1, std::memory_order_acq_rel);
    }
    m_cv.notify_all();
    run_range(fn, n, active, 0);
    while (m_pending.load(std::memory_order_acquire) != 0) {
        // Workers finish within microseconds of us; spin then yield.
        std::this_thread::yield();
    }
}

} // namespace sigma::cpu
