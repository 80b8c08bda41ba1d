// Where a sleeping pool worker wakes. Left to itself, Linux may wake a thread onto the CPU of
// the thread that woke it, and after the worker has slept for a while it often does: measured on
// a 2-vCPU VM (Firecracker, kernel 6.18, cpuidle haltpoll), a worker asleep for 20 ms woke on
// the caller's CPU in 65 of 100 loops, where it waited for the caller's time slice to end: it
// joined a loop 2.6 ms (median; 4.9 ms at the 90th percentile) after the loop began, so a 1 ms
// kernel ran on one thread. Kept off the caller's CPU for that wake, it joined after 0.15 ms
// (after a 1 ms sleep: 0.04 ms either way). So the caller keeps a sleeping worker off its own
// CPU until the worker has woken, and the worker then gives itself back every CPU the caller
// may use.
#pragma once

#include <thread>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace pynla::detail {

// One worker's placement, changed under the pool's lock by the caller that wakes the worker and
// by the worker once awake. Does nothing where the system has no CPU affinity.
class WakePlacement {
public:
    // The caller, before it wakes `worker`: keeps the worker off the CPU the caller runs on, if
    // the caller may use another.
    void keep_off_caller(std::thread& worker) {
#if defined(__linux__)
        const int caller_cpu = sched_getcpu();
        cpu_set_t allowed;
        CPU_ZERO(&allowed);
        if (caller_cpu < 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
        cpu_set_t elsewhere = allowed;
        CPU_CLR(caller_cpu, &elsewhere);
        if (CPU_COUNT(&elsewhere) == 0 || pthread_setaffinity_np(worker.native_handle(), sizeof elsewhere, &elsewhere) != 0) {
            return;
        }
        allowed_ = allowed;
        kept_off_ = true;
#else
        (void)worker;
#endif
    }

    // The worker, once awake: may run on every CPU its last caller may use again.
    void release_self() {
#if defined(__linux__)
        if (!kept_off_) return;
        kept_off_ = false;
        pthread_setaffinity_np(pthread_self(), sizeof allowed_, &allowed_);
#endif
    }

private:
#if defined(__linux__)
    bool kept_off_ = false;
    cpu_set_t allowed_{};
#endif
};

}  // namespace pynla::detail
