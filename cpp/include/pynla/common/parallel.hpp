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
// n_threads; 1 while other work holds the cores (contention.hpp), unless a test has lowered the
// work a thread needs (it wants every kernel on every thread). With 1 the kernel opens no
// parallel region: parallel_for runs on the calling thread.
inline int threads_for(std::int64_t bytes, int n_threads) {
    const std::int64_t per_thread = bytes_per_thread().load();
    if (n_threads <= 1 || (per_thread >= kBytesPerThread && Contention::instance().holding_off(steady_clock_ns()))) return 1;
    return static_cast<int>(std::clamp<std::int64_t>(bytes / per_thread, 1, n_threads));
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

// Ended tasks that may wait for their commit in parallel_for_ordered; a thread that would start
// a task further ahead of the commits waits for them instead. It bounds the memory that ended,
// uncommitted tasks hold (SpGEMM: a task's rows, 2^16 products or fewer).
constexpr std::int64_t kMaxUncommittedTasks = 64;

// As parallel_for, with two more steps per task: commit(task, thread) in task order, each after
// body(task) has returned (commit(t) starts after commit(t - 1) has returned), then
// finish(task, thread), in parallel with other tasks. No thread waits for its turn to commit: a
// thread that ends a body goes on to its next task, and the thread that ends the body at the
// head of the line commits it and every ended task behind it, one at a time, finishing each
// right after its commit. So commit and finish may run on another thread than the body (`thread`
// names the thread running them): what a body hands to its commit must belong to the task, not
// to the thread. (Waiting for the turn cost milliseconds whenever the OS had descheduled the
// thread holding the head task: beside a busy process or NumPy's spinning BLAS threads, the
// square of a 250000-row Laplacian took 70-90 ms on 2 threads instead of 15.) At most
// kMaxUncommittedTasks ended tasks wait for their commit. After a task throws, no later task is
// committed; a committed task is always finished. The first exception is rethrown here.
template <class Body, class Commit, class Finish>
void parallel_for_ordered(std::int64_t n_tasks, int n_threads, Body&& body, Commit&& commit, Finish&& finish) {
    detail::FirstError error;
    if (n_tasks <= 1 || n_threads <= 1) {
        for (std::int64_t task = 0; task < n_tasks && !error.failed(); ++task) {
            if (error.attempt(body, task, 0) && error.attempt(commit, task, 0)) error.attempt(finish, task, 0);
        }
        error.rethrow();
        return;
    }
    std::vector<std::atomic<bool>> ended(static_cast<std::size_t>(n_tasks));
    std::atomic<std::int64_t> head{0};         // the first task not yet committed
    std::atomic<bool> committing{false};        // a thread is committing
    // Commits the head task if its body has ended; returns it (or -1: none committed). Sequentially
    // consistent flags: a thread that sets ended[t] and finds `committing` taken is seen by the
    // committer's look at ended[] after it lets go (below).
    const auto commit_head = [&](int thread) -> std::int64_t {
        if (committing.exchange(true)) return -1;
        std::int64_t t = head.load();
        if (t < n_tasks && ended[static_cast<std::size_t>(t)].load() && !error.failed() && error.attempt(commit, t, thread)) {
            head.store(t + 1);
        } else {
            t = -1;
        }
        committing.store(false);
        return t;
    };
    const auto step = [&](std::int64_t task, int thread) {
        while (task - head.load() >= kMaxUncommittedTasks && !error.failed()) std::this_thread::yield();
        if (error.failed() || !error.attempt(body, task, thread)) return;
        ended[static_cast<std::size_t>(task)].store(true);
        for (;;) {
            const std::int64_t committed = commit_head(thread);
            if (committed >= 0) {
                error.attempt(finish, committed, thread);
                continue;
            }
            // Nothing committed: either another thread is committing (it looks again after letting
            // go, so it sees this task) or the head's body has not ended (its thread commits it).
            const std::int64_t t = head.load();
            if (committing.load() || t >= n_tasks || !ended[static_cast<std::size_t>(t)].load() || error.failed()) return;
        }
    };
    detail::run_tasks(n_tasks, n_threads, step);
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
