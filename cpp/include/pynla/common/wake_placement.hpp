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
// until it joins a later loop; a sleeping worker needs no CPU. A worker found spinning on
// another CPU is left alone: the system calls cost about 7 us a loop.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

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

// The CPU the calling thread runs on (-1: unknown).
inline int current_cpu() {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

// One worker's placement. The worker says where it spins; the caller that owns the pool keeps it
// off its CPU before it publishes a loop, and the worker takes its CPUs back, under the pool's
// lock, as it joins the loop. Does nothing where the system has no CPU affinity.
class WakePlacement {
public:
    // The worker, while it spins between loops (`cpu`: current_cpu()), and with -1 before it
    // sleeps.
    void spinning_on(int cpu) { spinning_on_.store(cpu, std::memory_order_relaxed); }

    // The caller, before it publishes a loop: keeps each worker that may run on the caller's CPU
    // (asleep: Linux may wake it there; or spinning there) off it, if the caller may use another
    // CPU. Workers spinning elsewhere cost no system call.
    static void keep_off_caller(std::vector<std::thread>& workers, std::deque<WakePlacement>& placements) {
#if defined(__linux__)
        const int caller_cpu = current_cpu();
        if (caller_cpu < 0) return;
        bool have_cpus = false;
        CpuSet allowed, elsewhere;
        for (std::size_t w = 0; w < workers.size(); ++w) {
            WakePlacement& placement = placements[w];
            const int worker_cpu = placement.spinning_on_.load(std::memory_order_relaxed);
            if (worker_cpu >= 0 && worker_cpu != caller_cpu) continue;
            if (!have_cpus) {
                CPU_ZERO(&allowed);
                if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
                elsewhere = allowed;
                CPU_CLR(caller_cpu, &elsewhere);
                if (CPU_COUNT(&elsewhere) == 0) return;
                have_cpus = true;
            }
            if (pthread_setaffinity_np(workers[w].native_handle(), sizeof elsewhere, &elsewhere) == 0) {
                placement.allowed_ = allowed;
                placement.kept_off_ = true;
            }
        }
#else
        (void)workers, (void)placements;
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
    std::atomic<int> spinning_on_{-1};
    bool kept_off_ = false;
    CpuSet allowed_{};
};

}  // namespace pynla::detail
