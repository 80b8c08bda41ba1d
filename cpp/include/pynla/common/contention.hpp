// Whether other work holds the cores. After each parallel loop the pool records how much of a
// core each of its threads got while it worked. Less than kFairShare means more threads wanted
// the cores than there were: another process, NumPy's BLAS threads spinning after a call, or
// more threads than cores. Kernels then run on the calling thread alone for a hold-off, after
// which the next parallel loop looks again. The hold-off doubles each time a loop finds the
// cores taken, and shrinks by a quarter each time one of 2 ms or more finds them free:
// contention that comes and goes (NumPy's BLAS threads spin only for a while after each call)
// still lengthens it, while a rare false alarm costs one short hold-off.
// Measured on a 2-core AMD EPYC (square of a 250000-row Laplacian on 2 threads): the caller got
// 0.99-1.00 of a core idle, and 0.47-0.76 beside a busy process or in a loop with a NumPy matmul,
// where 2 threads took 23-36 ms against 21-22 ms on one.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include <time.h>

namespace pynla {

class Contention {
public:
    // A thread of a parallel loop that ran less than this share of its time in the loop, and lost
    // at least kLeastLostNs, was descheduled (an interrupt or a short wait for the pool's lock
    // loses microseconds; a time slice given to another thread, a millisecond or more).
    static constexpr double kFairShare = 0.9;
    static constexpr std::int64_t kLeastLostNs = 500'000;
    // A loop thread that ran at least this long without losing so much found the cores free;
    // shorter ones say nothing (a call's small loops would otherwise shorten the hold-off that
    // its long loop had just found reason to lengthen).
    static constexpr std::int64_t kLeastFreeNs = 2'000'000;
    static constexpr std::int64_t kFirstHoldOffNs = 20'000'000;
    static constexpr std::int64_t kLongestHoldOffNs = 640'000'000;

    static Contention& instance() {
        static Contention contention;
        return contention;
    }

    // True while kernels should run on one thread (now_ns: steady_clock_ns()).
    bool holding_off(std::int64_t now_ns) const { return now_ns < until_ns(); }

    // When the hold-off ends (steady_clock_ns()).
    std::int64_t until_ns() const { return until_ns_.load(std::memory_order_relaxed); }

    // After a parallel loop, one of whose threads worked wall_ns and ran cpu_ns of it. The
    // threads of a loop record at once without a lock: one may overwrite another's update, which
    // only delays the rule by a loop (results never depend on it).
    void record(std::int64_t cpu_ns, std::int64_t wall_ns, std::int64_t now_ns) {
        if (cpu_ns < 0) return;
        if (wall_ns - cpu_ns < kLeastLostNs || static_cast<double>(cpu_ns) >= kFairShare * static_cast<double>(wall_ns)) {
            if (wall_ns >= kLeastFreeNs) {
                hold_off_ns_.store(hold_off_ns_.load(std::memory_order_relaxed) / 4 * 3, std::memory_order_relaxed);
            }
            return;
        }
        const std::int64_t hold_off =
            std::clamp(2 * hold_off_ns_.load(std::memory_order_relaxed), kFirstHoldOffNs, kLongestHoldOffNs);
        hold_off_ns_.store(hold_off, std::memory_order_relaxed);
        until_ns_.store(now_ns + hold_off, std::memory_order_relaxed);
    }

    // Forgets what the loops found (tests).
    void reset() {
        hold_off_ns_.store(0);
        until_ns_.store(0);
    }

private:
    Contention() = default;

    std::atomic<std::int64_t> hold_off_ns_{0};  // the last hold-off, 0 after a loop found the cores free
    std::atomic<std::int64_t> until_ns_{0};     // kernels take one thread until then
};

inline std::int64_t steady_clock_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// CPU time the calling thread has run, in ns (-1 where the system does not say).
inline std::int64_t thread_cpu_ns() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
    timespec time{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time) == 0) return std::int64_t{time.tv_sec} * 1'000'000'000 + time.tv_nsec;
#endif
    return -1;
}

}  // namespace pynla
