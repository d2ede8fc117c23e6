#include "cpu/threadpool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SIGMA_CPU_RELAX() _mm_pause()
#else
#define SIGMA_CPU_RELAX() std::this_thread::yield()
#endif

namespace sigma::cpu {

namespace {
// Decode issues a region every ~10-50 us, so a worker that slept (a futex wake costs tens of
// microseconds in a VM) or yielded (a system call) between regions would cost more than the
// region itself. So waiters first spin on `pause` (k_spin), then yield their core to other
// processes (busy machine), and idle workers finally sleep (k_spin_before_sleep).
constexpr auto k_spin = std::chrono::microseconds(100);
constexpr auto k_spin_before_sleep = std::chrono::microseconds(3000);
}  // namespace

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
        if (gen == seen_gen) {
            // Spin (checking the clock every 64 rounds), yield, then sleep until the next region.
            const auto start = std::chrono::steady_clock::now();
            bool yield = false;
            for (int spin = 1; gen == seen_gen && !m_stop.load(std::memory_order_relaxed); ++spin) {
                if (yield) std::this_thread::yield();
                else SIGMA_CPU_RELAX();
                gen = uint32_t(m_ticket.load(std::memory_order_acquire) >> 32);
                if ((spin & 63) == 0) {
                    const auto waited = std::chrono::steady_clock::now() - start;
                    if (waited > k_spin_before_sleep) break;
                    yield = waited > k_spin;
                }
            }
        }
        if (gen == seen_gen) {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_sleepers.fetch_add(1, std::memory_order_seq_cst);
            m_cv.wait(lock, [&] { return m_stop.load() || uint32_t(m_ticket.load() >> 32) != seen_gen; });
            m_sleepers.fetch_sub(1, std::memory_order_relaxed);
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
    // Two chunks per thread: a late or descheduled thread leaves its share to the others, and
    // each thread still streams long contiguous row ranges.
    static const int64_t per_thread = [] { const char* e = std::getenv("SIGMA_POOL_CHUNKS"); return e ? std::max(1, std::atoi(e)) : 2; }();
    const int64_t want = std::min<int64_t>(int64_t(m_n) * per_thread, (n + grain - 1) / grain);
    const int64_t chunk = (n + want - 1) / want;
    const uint32_t n_chunks = uint32_t((n + chunk - 1) / chunk);
    // Only this thread writes the region fields, and no worker reads them until it has claimed a
    // ticket of the new generation, which the release store below publishes.
    m_fn = &fn;
    m_total = n;
    m_chunk = chunk;
    m_done.store(0, std::memory_order_relaxed);
    m_n_chunks.store(n_chunks, std::memory_order_relaxed);
    const uint64_t gen = (m_ticket.load(std::memory_order_relaxed) >> 32) + 1;
    m_ticket.store(gen << 32, std::memory_order_seq_cst);
    // A worker registers as a sleeper (seq_cst) before re-checking the ticket under the mutex,
    // so either it sees the new generation or we see it sleeping and wake it.
    if (m_sleepers.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_cv.notify_all();
    }
    work(0);
    // Wait only for chunks that other threads have already claimed.
    const auto until = std::chrono::steady_clock::now() + k_spin;
    bool yield = false;
    for (int spin = 1; m_done.load(std::memory_order_acquire) != n_chunks; ++spin) {
        if (yield) std::this_thread::yield();
        else SIGMA_CPU_RELAX();
        if ((spin & 63) == 0 && !yield) yield = std::chrono::steady_clock::now() > until;
    }
}

} // namespace sigma::cpu
