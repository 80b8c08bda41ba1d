// Threads for the kernels: their count is OpenMP's (libgomp's limit for the calling thread, so
// threadpoolctl and OMP_NUM_THREADS govern it), within pynla's cap and the work's need; they
// run on pynla's own pool (thread_pool.hpp). Work is cut into tasks of similar cost, fixed
// before any thread starts; a task's output goes to a place fixed in advance, so results
// never depend on the number of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#ifdef PYNLA_HAS_OPENMP
#include <omp.h>
#endif

#include "pynla/common/thread_pool.hpp"

namespace pynla {

// pynla's own cap on threads, set by pynla.set_num_threads for every calling thread (0: none).
inline std::atomic<int>& thread_cap() {
    static std::atomic<int> cap{0};
    return cap;
}

// Threads the next kernel called from this thread will use: OpenMP's limit for the calling
// thread (which OMP_NUM_THREADS and threadpoolctl set), within pynla's cap. A kernel reads it
// once and passes it on, so a concurrent change cannot resize a running kernel.
inline int max_threads() {
#ifdef PYNLA_HAS_OPENMP
    const int openmp_limit = omp_get_max_threads();
    const int cap = thread_cap().load();
    return cap > 0 ? std::min(cap, openmp_limit) : openmp_limit;
#else
    return 1;
#endif
}

// Caps every thread's kernels at n threads, and sets the calling thread's OpenMP limit to n
// (so the cap can also raise the calling thread's count above its default).
inline void set_max_threads(int n) {
    thread_cap().store(n);
#ifdef PYNLA_HAS_OPENMP
    omp_set_num_threads(n);
#endif
}

// The least work worth a thread, in bytes a kernel reads and writes (kernels that do more per
// byte count their work in the same currency: SpGEMM 12 bytes a flop, B's index and value and
// the accumulator). Measured on a 2-core AMD EPYC: on the square of a 2-D Laplacian two threads
// break even with one at about 60000 flops (720 KB; 206 against 205 us) and gain 19% at 120000,
// 32% at 250000. A parallel region costs 10-30 us to wake and join on an idle machine, and
// milliseconds when the OS has lent a core to another process or NumPy's BLAS threads spin on it.
constexpr std::int64_t kBytesPerThread = std::int64_t{512} << 10;

// The work per thread in force: kBytesPerThread, unless a test lowers it (to 1: every kernel
// then takes every thread, so that tests of thread-count invariance reach the parallel paths).
inline std::atomic<std::int64_t>& bytes_per_thread() {
    static std::atomic<std::int64_t> bytes{kBytesPerThread};
    return bytes;
}

// Threads for a kernel of `bytes` work: bytes / bytes_per_thread(), at least 1, at most
// n_threads. With 1 the kernel opens no parallel region: parallel_for runs on the calling thread.
inline int threads_for(std::int64_t bytes, int n_threads) {
    return static_cast<int>(std::clamp<std::int64_t>(bytes / bytes_per_thread().load(), 1, std::max(n_threads, 1)));
}

// As above, within the threads the next kernel called from this thread may use.
inline int threads_for(std::int64_t bytes) { return threads_for(bytes, max_threads()); }

namespace detail {

// The first exception thrown by any task of a parallel loop, kept to be rethrown on the caller:
// none may escape into a worker thread.
class FirstError {
public:
    // Runs step(task, thread); records what it throws. True if it returned.
    template <class Step>
    bool attempt(Step&& step, std::int64_t task, int thread) {
        try {
            step(task, thread);
            return true;
        } catch (...) {
            const std::lock_guard<std::mutex> lock(mutex_);
            if (!error_) error_ = std::current_exception();
            failed_.store(true);
            return false;
        }
    }
    bool failed() const { return failed_.load(); }
    void rethrow() const {
        if (error_) std::rethrow_exception(error_);
    }

private:
    std::mutex mutex_;
    std::exception_ptr error_;
    std::atomic<bool> failed_{false};
};

// Runs step(task, thread) for every task, on the pool with up to n_threads threads (the caller
// among them), or in order on the caller when the pool is busy with another loop.
template <class Step>
void run_tasks(std::int64_t n_tasks, int n_threads, Step&& step) {
    const ThreadPool::Task task = [&](std::int64_t t, int thread) { step(t, thread); };
    if (!ThreadPool::instance().run(n_tasks, n_threads - 1, task)) {
        for (std::int64_t t = 0; t < n_tasks; ++t) step(t, 0);
    }
}

}  // namespace detail

// Runs body(task, thread) for task in [0, n_tasks) on up to n_threads threads (thread_pool.hpp:
// the caller works too, and waits only for tasks in progress), tasks handed out one at a time
// in order, with thread in [0, n_threads) naming the worker (for per-thread scratch). One
// thread or one task runs on the caller alone, in order, waking nothing. The first exception
// thrown by any task is rethrown here, on the caller.
template <class Body>
void parallel_for(std::int64_t n_tasks, int n_threads, Body&& body) {
    detail::FirstError error;
    if (n_tasks <= 1 || n_threads <= 1) {
        for (std::int64_t task = 0; task < n_tasks && error.attempt(body, task, 0); ++task) {
        }
    } else {
        detail::run_tasks(n_tasks, n_threads, [&](std::int64_t task, int thread) { error.attempt(body, task, thread); });
    }
    error.rethrow();
}

// As parallel_for, with two more steps per task: commit(task, thread) in task order (commit(t)
// starts after commit(t - 1) has returned), then finish(task, thread) in parallel again. So the
// bodies run in parallel, the commits can claim their places in one shared output in order, and
// the finishes can fill those places in parallel. After a task throws, no later task is
// committed; a committed task is always finished. The first exception is rethrown here.
template <class Body, class Commit, class Finish>
void parallel_for_ordered(std::int64_t n_tasks, int n_threads, Body&& body, Commit&& commit, Finish&& finish) {
    detail::FirstError error;
    // Tasks are handed out in order, so the task whose commit is due is always in progress:
    // waiting for its turn cannot deadlock.
    std::atomic<std::int64_t> turn{0};
    const auto step = [&](std::int64_t task, int thread) {
        bool ok = !error.failed() && error.attempt(body, task, thread);
        while (turn.load(std::memory_order_acquire) != task) std::this_thread::yield();
        ok = ok && !error.failed() && error.attempt(commit, task, thread);
        turn.store(task + 1, std::memory_order_release);
        if (ok) error.attempt(finish, task, thread);
    };
    if (n_tasks <= 1 || n_threads <= 1) {
        for (std::int64_t task = 0; task < n_tasks && !error.failed(); ++task) step(task, 0);
    } else {
        detail::run_tasks(n_tasks, n_threads, step);
    }
    error.rethrow();
}

// Tasks per thread when work is cut by cost: enough for dynamic scheduling to even out what the
// cost estimate misjudges, few enough that handing them out costs nothing.
constexpr std::int64_t kTasksPerThread = 16;

// Tasks to cut a kernel's work into on n_threads threads: kTasksPerThread each, or one task on
// one thread (nothing to balance; cutting would only cost small calls their binary searches and
// per-task set-up). Kernels give the same bits for any cut.
inline std::int64_t tasks_for(int n_threads) { return n_threads > 1 ? n_threads * kTasksPerThread : 1; }

// Cuts the items [0, n) into at most n_tasks contiguous ranges of about equal cost, given
// cumulative(i) = cost of the items [0, i), non-decreasing in i, for i in [0, n]. Returns the
// boundaries: range t is [bounds[t], bounds[t + 1]). The cut depends only on the costs.
template <class CumulativeCost>
std::vector<std::int64_t> split_by_cost(std::int64_t n, std::int64_t n_tasks, CumulativeCost&& cumulative) {
    n_tasks = std::max<std::int64_t>(1, std::min(n_tasks, n));
    const std::int64_t total = cumulative(n);
    std::vector<std::int64_t> bounds{0};
    for (std::int64_t t = 1; t < n_tasks; ++t) {
        // First item whose cumulative cost reaches t/n_tasks of the total (no overflow: t < n_tasks).
        const std::int64_t target = total / n_tasks * t + total % n_tasks * t / n_tasks;
        std::int64_t low = bounds.back(), high = n;
        while (low < high) {
            const std::int64_t mid = low + (high - low) / 2;
            if (cumulative(mid) < target) low = mid + 1; else high = mid;
        }
        if (low > bounds.back() && low < n) bounds.push_back(low);
    }
    bounds.push_back(n);
    return bounds;
}

}  // namespace pynla
