// Where a pool worker runs when a loop starts. Left to itself, Linux often runs a worker on the
// caller's own CPU, where it waits for the caller's time slice to end: after the worker has
// slept (the scheduler wakes a thread near its waker), and also while it spins between loops.
// Measured on a 2-vCPU VM (Intel Xeon, Firecracker, kernel 6.18): a 6 ms loop of 2 threads 20 ms
// after the last one ran with both threads on one CPU in 36 of 60 loops (median 6.1 ms, as on
// one thread); the square of a 10000-row Laplacian 5 ms after the last call took 740-770 us on 2
// threads, its time on one. So before each loop is published the caller keeps every worker off
// its own CPU (an affinity mask without it), and a worker that joins the loop takes back every
// CPU the caller may use: then 15 of 60 loops shared a CPU (median 3.3 ms), and the square took
// 610-820 us (in a loop without pauses: 470). A worker that does not join stays off that CPU
// until it joins a later loop; a sleeping worker needs no CPU.
#pragma once

#include <thread>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace pynla::detail {

#if defined(__linux__)
using CpuSet = cpu_set_t;
#else
struct CpuSet {};
#endif

// The CPU a thread runs on and the CPUs it may use.
struct ThreadCpus {
    int current = -1;  // -1: unknown (then no worker is kept off it)
    CpuSet allowed{};

    // The calling thread's.
    static ThreadCpus here() {
        ThreadCpus cpus;
#if defined(__linux__)
        CPU_ZERO(&cpus.allowed);
        if (sched_getaffinity(0, sizeof cpus.allowed, &cpus.allowed) == 0) cpus.current = sched_getcpu();
#endif
        return cpus;
    }
};

// One worker's placement: changed by the caller that owns the pool before it publishes a loop,
// and by the worker, under the pool's lock, as it joins the loop. Does nothing where the system
// has no CPU affinity.
class WakePlacement {
public:
    // The caller, before it publishes a loop: keeps `worker` off the CPU the caller runs on, if
    // the caller may use another.
    void keep_off(std::thread& worker, const ThreadCpus& caller) {
#if defined(__linux__)
        if (caller.current < 0) return;
        CpuSet elsewhere = caller.allowed;
        CPU_CLR(caller.current, &elsewhere);
        if (CPU_COUNT(&elsewhere) == 0 || pthread_setaffinity_np(worker.native_handle(), sizeof elsewhere, &elsewhere) != 0) {
            return;
        }
        allowed_ = caller.allowed;
        kept_off_ = true;
#else
        (void)worker, (void)caller;
#endif
    }

    // The worker, as it joins a loop: may run on every CPU the loop's caller may use again.
    void release_self() {
#if defined(__linux__)
        if (!kept_off_) return;
        kept_off_ = false;
        pthread_setaffinity_np(pthread_self(), sizeof allowed_, &allowed_);
#endif
    }

private:
    bool kept_off_ = false;
    CpuSet allowed_{};
};

}  // namespace pynla::detail
