// threadpool.h - a fixed pool of CPU worker threads for the engine's data-parallel loops.
// Tuned for many short parallel regions (dozens per decoded token) on machines that may be busy
// with other work: a region is cut into a few chunks per thread that participants claim from an
// atomic ticket, and the calling thread works too. A worker that is descheduled (another process
// holds its core) simply claims nothing, so a region never waits for a thread that is not running
// unless that thread already holds a chunk. Idle workers spin briefly, then sleep.
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
    // Calls fn(begin, end, thread_index) over disjoint ranges covering [0, n), on the workers and
    // the calling thread; returns when all are done. thread_index is in [0, size()) and unique
    // among concurrently running calls (use it for per-thread scratch). `grain` is the smallest
    // range worth handing out.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain = 1);

private:
    void worker(int index);
    void work(int index);   // claims and runs chunks of the current region until none are left

    int m_n = 1;
    std::vector<std::thread> m_threads;
    // The current region; written by the caller before it publishes a new ticket generation.
    const std::function<void(int64_t, int64_t, int)>* m_fn = nullptr;
    int64_t m_total = 0;
    int64_t m_chunk = 1;
    std::atomic<uint32_t> m_n_chunks{0};
    std::atomic<uint64_t> m_ticket{0};      // (generation << 32) | next chunk index
    std::atomic<uint32_t> m_done{0};        // chunks finished in the current generation
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_sleepers{0};         // workers blocked on m_cv
    std::mutex m_mutex;
    std::condition_variable m_cv;
};

} // namespace sigma::cpu
