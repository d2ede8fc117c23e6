// threadpool.h - a fixed pool of CPU worker threads for the engine's data-parallel loops.
// Tuned for many short parallel regions (dozens per decoded token): workers spin briefly on a
// generation counter before sleeping, so a region costs microseconds, not a futex round trip.
// Not reentrant: one parallel_for at a time per pool (each Session owns its pool).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sigma::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int n_threads);   // n_threads <= 0: all online cores
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return m_n; }
    // Calls fn(begin, end, thread_index) over [0, n) split into size() contiguous ranges,
    // on the workers and the calling thread; returns when all are done. `grain` is the smallest
    // range worth its own thread.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain = 1);

private:
    void worker(int index);
    int m_n = 1;
    std::vector<std::thread> m_threads;
    const std::function<void(int64_t, int64_t, int)>* m_fn = nullptr;
    int64_t m_total = 0;
    int m_active = 1;                       // threads taking part in the current region
    std::atomic<uint64_t> m_generation{0};
    std::atomic<int> m_pending{0};
    std::atomic<bool> m_stop{false};
    std::mutex m_mutex;
    std::condition_variable m_cv;
};

} // namespace sigma::cpu
