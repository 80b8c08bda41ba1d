// The worker threads behind parallel_for. The caller always works on its own loop; a worker
// joins only if it wakes while tasks are left, and the caller then waits only for the tasks
// in progress and for the workers that joined to leave (a few instructions after their last
// claim), never for a worker that the OS has not run yet. (An OpenMP region waits at its
// closing barrier for every thread of its team: on a machine doing other work, or beside
// NumPy's BLAS threads spinning after a call, that wait was milliseconds on a 1 ms kernel.)
// Workers spin for a few hundred microseconds after a loop, so that the next kernel of a
// sequence finds them awake, then sleep, and never spin on cores that other work needs. Each
// loop keeps the workers off the caller's CPU until they join it (wake_placement.hpp). Each
// thread of a loop tells contention.hpp how much of a core it got while it worked.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>

#include <pthread.h>
#include <thread>
#include <vector>

#include "pynla/common/contention.hpp"
#include "pynla/common/wake_placement.hpp"

namespace pynla::detail {

class ThreadPool {
public:
    using Task = std::function<void(std::int64_t task, int thread)>;

    // The process's pool. Never destroyed: its workers sleep in it until the process ends (a
    // destructor at exit would have to join threads that the runtime's teardown may already
    // have taken away). A child made by fork() gets a new, empty pool: the parent's workers do
    // not exist there, and the parent's lock may have been held at the fork.
    static ThreadPool& instance() {
        static const bool registered = [] {
            pthread_atfork(nullptr, nullptr, [] { current().store(new ThreadPool); });
            return true;
        }();
        (void)registered;
        return *current().load();
    }

    // Runs task(t, thread) for every t in [0, n_tasks): thread 0 is the caller, 1 .. helpers
    // the workers that join. `task` must not throw. Returns false, having run nothing, if the
    // pool is running another loop (another caller's, or the one this call is a task of): the
    // caller then runs its loop alone.
    bool run(std::int64_t n_tasks, int helpers, const Task& task) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            if (live_) return false;
            add_workers(helpers);
            live_ = true;  // the pool is this caller's: workers_ stays as it is until the loop ends
        }
        // Before the loop is published, so that no worker can have joined it yet. System calls:
        // outside the lock.
        WakePlacement::keep_off_caller(workers_, placements_);
        {
            std::unique_lock<std::mutex> lock(mutex_);
            ++generation_;
            n_tasks_ = n_tasks;
            next_.store(0);
            completed_.store(0);
            helpers_wanted_ = helpers;
            helpers_joined_ = 0;
            task_ = &task;
            published_.store(generation_, std::memory_order_release);
        }
        wake_.notify_all();
        work(task, 0);
        // The last tasks end within microseconds, usually: look for that before sleeping (a
        // condition variable's wake-up alone costs tens of microseconds).
        const auto until = std::chrono::steady_clock::now() + kSpin;
        while (!finished() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return finished(); });
        live_ = false;
        task_ = nullptr;
        return true;
    }

private:
    // How long a worker looks for the next loop, and the caller for the end of its loop's last
    // tasks, before sleeping.
    static constexpr std::chrono::microseconds kSpin{500};

    ThreadPool() = default;

    static std::atomic<ThreadPool*>& current() {
        static std::atomic<ThreadPool*> pool{new ThreadPool};
        return pool;
    }

    // Starts workers until there are `count` (fewer if the system refuses threads). Under mutex_.
    void add_workers(int count) {
        while (static_cast<int>(workers_.size()) < count) {
            WakePlacement& placement = placements_.emplace_back();  // a deque's elements stay where they are
            try {
                workers_.emplace_back([this, &placement, seen = generation_] { worker(placement, seen); });
            } catch (const std::system_error&) {
                placements_.pop_back();
                return;
            }
        }
    }

    // Every task ended, and every worker that joined has left work(): no thread touches the
    // loop's tasks or counters any more, so the next loop may reset them.
    bool finished() const { return completed_.load() == n_tasks_ && active_.load() == 0; }

    // Claims tasks (one atomic increment each: a lock a task cost about a microsecond, 35 us for
    // a loop of 32 tasks on 2 threads) and runs them while any are left. After its last task,
    // and before that task counts as ended (so before run() returns: no record of a loop lands
    // after it), tells contention.hpp how much of a core this thread got meanwhile: a caller or
    // worker descheduled while it held tasks has kept the others waiting for them.
    void work(const Task& task, int thread) {
        const std::int64_t start_ns = steady_clock_ns(), start_cpu_ns = thread_cpu_ns();
        for (std::int64_t t = next_.fetch_add(1); t < n_tasks_;) {
            task(t, thread);
            const std::int64_t next = next_.fetch_add(1);
            if (next >= n_tasks_) {  // this thread's last task
                const std::int64_t end_ns = steady_clock_ns();
                Contention::instance().record(start_cpu_ns < 0 ? -1 : thread_cpu_ns() - start_cpu_ns, end_ns - start_ns,
                                              end_ns);
            }
            if (completed_.fetch_add(1) + 1 == n_tasks_) notify_done();
            t = next;
        }
    }

    // Wakes the caller if it sleeps on done_. Taking the lock first means a caller that saw the
    // loop unfinished (under the lock) is already waiting, so the notification is not lost.
    void notify_done() {
        { const std::lock_guard<std::mutex> lock(mutex_); }
        done_.notify_all();
    }

    void worker(WakePlacement& placement, std::uint64_t seen) {
        for (;;) {
            const auto until = std::chrono::steady_clock::now() + kSpin;
            while (published_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until) {
                placement.spinning_on(current_cpu());
                std::this_thread::yield();
            }
            std::unique_lock<std::mutex> lock(mutex_);
            placement.spinning_on(-1);
            wake_.wait(lock, [&] { return generation_ != seen; });
            seen = generation_;
            if (!live_ || helpers_joined_ >= helpers_wanted_ || next_.load() >= n_tasks_) continue;  // not needed, or late
            placement.release_self();
            const int thread = ++helpers_joined_;
            active_.fetch_add(1);  // under the lock, while the loop is live: run() waits for it
            const Task& task = *task_;
            const std::int64_t n_tasks = n_tasks_;  // once this worker has left, the next loop may reset it
            lock.unlock();
            work(task, thread);
            if (active_.fetch_sub(1) == 1 && completed_.load() == n_tasks) notify_done();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;  // workers: a loop was published
    std::condition_variable done_;  // the caller: the last task in progress ended
    std::vector<std::thread> workers_;
    // By worker (wake_placement.hpp), in a deque: each worker holds a reference to its own.
    std::deque<WakePlacement> placements_;
    std::atomic<std::uint64_t> published_{0};  // generation_, for workers spinning without the lock
    // The current loop: set under mutex_ before it is published (a worker joins under mutex_, so
    // it sees them), and kept until every task has ended and every worker has left it.
    bool live_ = false;
    std::uint64_t generation_ = 0;
    std::int64_t n_tasks_ = 0;
    int helpers_wanted_ = 0, helpers_joined_ = 0;
    const Task* task_ = nullptr;
    std::atomic<std::int64_t> next_{0};       // the next task to claim (past n_tasks_: none left)
    std::atomic<std::int64_t> completed_{0};  // tasks ended
    std::atomic<int> active_{0};              // workers inside work()
};

}  // namespace pynla::detail
