// C++-only test of the shared core (common/) under AddressSanitizer and UBSan: the structure
// checks of compressed index arrays, against plain loops, over random arrays with and without
// faults, both index types, 1 to 3 threads, with and without AVX2; the rule that takes a
// kernel's thread count from its work and the hold-off when the cores are taken, and parallel
// loops on one thread and on several, and where a woken worker may run; the transpose; the symmetry test of BSR and CSR matrices against their dense transposes.
// Build and run as test_spgemm.cpp says.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#include "pynla/common/structure_check.hpp"
#include "pynla/common/symmetry.hpp"
#include "pynla/common/transpose.hpp"

namespace {

int n_checks = 0;

// Valid offsets for random row lengths (some rows empty), with `faults` rows made to decrease.
template <class I>
std::vector<I> random_offsets(std::mt19937_64& rng, std::int64_t n_major, int faults) {
    std::vector<I> offsets{0};
    for (std::int64_t i = 0; i < n_major; ++i) offsets.push_back(static_cast<I>(offsets.back() + rng() % 4));
    for (int f = 0; f < faults && n_major > 1; ++f) {
        const auto p = static_cast<std::size_t>(1 + rng() % static_cast<std::uint64_t>(n_major - 1));
        offsets[p] = static_cast<I>(offsets[p + 1] + 1);
    }
    return offsets;
}

template <class I>
int check(std::mt19937_64& rng, std::int64_t n_major, std::int64_t n_minor, int faults, bool sorted, int n_threads) {
    ++n_checks;
    int failures = 0;

    const auto bad_offsets = random_offsets<I>(rng, n_major, faults);
    std::int64_t expected_decrease = -1;
    for (std::int64_t p = 0; p < n_major && expected_decrease < 0; ++p) {
        if (bad_offsets[p + 1] < bad_offsets[p]) expected_decrease = p;
    }
    failures += pynla::first_decrease(bad_offsets.data(), n_major, n_threads) != expected_decrease;

    const auto offsets = random_offsets<I>(rng, n_major, 0);
    std::vector<I> indices(static_cast<std::size_t>(offsets.back()));
    for (auto& j : indices) j = static_cast<I>(n_minor > 0 ? rng() % n_minor : 0);
    for (std::int64_t i = 0; i < n_major && sorted; ++i) {
        std::sort(indices.begin() + offsets[i], indices.begin() + offsets[i + 1]);
    }
    for (int f = 0; f < faults && !indices.empty(); ++f) {
        indices[rng() % indices.size()] = static_cast<I>(rng() % 2 ? -1 - static_cast<I>(rng() % 3) : n_minor + rng() % 3);
    }
    std::int64_t expected_out_of_range = -1;
    for (std::size_t p = 0; p < indices.size() && expected_out_of_range < 0; ++p) {
        if (indices[p] < 0 || indices[p] >= n_minor) expected_out_of_range = static_cast<std::int64_t>(p);
    }
    bool expected_sorted = true;
    for (std::int64_t i = 0; i < n_major; ++i) {
        for (std::int64_t p = offsets[i] + 1; p < offsets[i + 1]; ++p) expected_sorted &= indices[p - 1] <= indices[p];
    }
    const auto got = pynla::check_indices(offsets.data(), n_major, indices.data(), n_minor, n_threads, true);
    failures += got.first_out_of_range != expected_out_of_range;
    failures += expected_out_of_range < 0 && got.rows_sorted != std::optional<bool>(expected_sorted);
    // Without the sortedness walk: the same range check, and sortedness left unknown.
    const auto range_only = pynla::check_indices(offsets.data(), n_major, indices.data(), n_minor, n_threads, false);
    failures += range_only.first_out_of_range != expected_out_of_range || range_only.rows_sorted.has_value();

    if (failures > 0) {
        std::printf("FAIL n_major=%ld n_minor=%ld faults=%d sorted=%d threads=%d\n", (long)n_major, (long)n_minor, faults,
                    sorted, n_threads);
    }
    return failures > 0;
}

template <class I>
int check_all(std::mt19937_64& rng) {
    int failures = 0;
    for (std::int64_t n_major : {0, 1, 2, 7, 100, 5000})
        for (std::int64_t n_minor : {0, 1, 3, 1000})
            for (int faults : {0, 1, 4})
                for (bool sorted : {true, false})
                    for (int n_threads : {1, 2, 3}) failures += check<I>(rng, n_major, n_minor, faults, sorted, n_threads);
    return failures;
}

// n_minor past I's largest value: every non-negative index is in range, and negative ones (the
// most negative too) must still be found.
template <class I>
int check_beyond_index_range() {
    ++n_checks;
    const std::int64_t n_minor = static_cast<std::int64_t>(std::numeric_limits<I>::max()) + 1000;
    const std::vector<I> offsets{0, 3, 3, 6};
    std::vector<I> indices{0, std::numeric_limits<I>::max(), 5, 7, 2, std::numeric_limits<I>::min()};
    int failures = pynla::check_indices(offsets.data(), 3, indices.data(), n_minor, 2, false).first_out_of_range != 5;
    indices[5] = -1;
    failures += pynla::check_indices(offsets.data(), 3, indices.data(), n_minor, 2, false).first_out_of_range != 5;
    indices[5] = std::numeric_limits<I>::max();
    failures += pynla::check_indices(offsets.data(), 3, indices.data(), n_minor, 2, false).first_out_of_range != -1;
    if (failures > 0) std::printf("FAIL negative index with n_minor past the index type (%d bytes)\n", (int)sizeof(I));
    return failures > 0;
}

// threads_for: one thread below two chunks of work, then a thread a chunk, up to the cap.
int check_threads_for() {
    using pynla::kBytesPerThread;
    int failures = 0;
    pynla::Contention::instance().reset();  // what earlier parallel loops found would hold threads_for to 1
    const auto expect = [&](std::int64_t bytes, int cap, int expected) {
        ++n_checks;
        const int got = pynla::threads_for(bytes, cap);
        if (got != expected) {
            std::printf("FAIL threads_for(%lld, %d) = %d, expected %d\n", (long long)bytes, cap, got, expected);
            ++failures;
        }
    };
    expect(0, 4, 1);
    expect(kBytesPerThread, 4, 1);
    expect(2 * kBytesPerThread - 1, 4, 1);
    expect(2 * kBytesPerThread, 4, 2);
    expect(3 * kBytesPerThread, 4, 3);
    expect(std::numeric_limits<std::int64_t>::max(), 4, 4);
    expect(std::numeric_limits<std::int64_t>::max(), 1, 1);
    expect(std::numeric_limits<std::int64_t>::max(), 0, 1);
    pynla::bytes_per_thread().store(1);
    expect(1, 3, 1);
    expect(5, 3, 3);
    pynla::bytes_per_thread().store(kBytesPerThread);
    return failures;
}

// Contention: a loop thread that ran less than kFairShare of its time, losing at least
// kLeastLostNs, holds kernels on one thread for a hold-off that doubles while loops keep finding
// the cores taken (up to the longest); each loop of kLeastFreeNs or more that finds them free
// shortens it by a quarter. Shorter losses
// and unknown CPU time say nothing. A test that lowers the work a thread needs still gets every
// thread.
int check_contention() {
    using pynla::Contention;
    int failures = 0;
    const auto expect = [&](bool ok, const char* what) {
        ++n_checks;
        if (!ok) {
            std::printf("FAIL contention: %s\n", what);
            ++failures;
        }
    };
    Contention& contention = Contention::instance();
    contention.reset();
    const std::int64_t wall = Contention::kLeastFreeNs, now = 1'000'000'000;
    contention.record(wall, wall, now);
    expect(!contention.holding_off(now), "a whole core is no contention");
    contention.record(0, Contention::kLeastLostNs - 1, now);
    expect(!contention.holding_off(now), "losing less than kLeastLostNs says nothing");
    contention.record(-1, wall, now);
    expect(!contention.holding_off(now), "unknown CPU time says nothing");
    contention.record(wall / 2, wall, now);
    expect(contention.holding_off(now + Contention::kFirstHoldOffNs - 1), "half a core holds off");
    expect(!contention.holding_off(now + Contention::kFirstHoldOffNs), "for kFirstHoldOffNs");
    std::int64_t hold_off = Contention::kFirstHoldOffNs, at = now;
    for (int probe = 0; probe < 8; ++probe) {  // each probe after the last hold-off finds the cores taken again
        at += hold_off;
        hold_off = std::min(2 * hold_off, Contention::kLongestHoldOffNs);
        contention.record(wall / 2, wall, at);
        expect(contention.holding_off(at + hold_off - 1) && !contention.holding_off(at + hold_off), "the hold-off doubles to its longest");
    }
    at += hold_off;
    contention.record(wall, wall, at);
    contention.record(wall / 2, wall, at);
    expect(contention.holding_off(at + Contention::kLongestHoldOffNs - 1), "one free loop shortens the hold-off, the next taken one doubles it");
    at += Contention::kLongestHoldOffNs;
    for (int loop = 0; loop < 16; ++loop) contention.record(wall - 1, wall - 1, at);  // too short to say the cores are free
    contention.record(wall / 2, wall, at);
    expect(contention.holding_off(at + Contention::kLongestHoldOffNs - 1), "loops shorter than kLeastFreeNs do not shorten the hold-off");
    at += Contention::kLongestHoldOffNs;
    for (int loop = 0; loop < 16; ++loop) contention.record(wall, wall, at);  // 640 ms * (3/4)^16 < 10 ms
    contention.record(wall / 2, wall, at);
    expect(contention.holding_off(at + Contention::kFirstHoldOffNs - 1) && !contention.holding_off(at + Contention::kFirstHoldOffNs),
           "free loops shorten the hold-off back to the first");

    contention.record(0, wall, pynla::steady_clock_ns() + std::int64_t{3600} * 1'000'000'000);  // held off for an hour
    const std::int64_t big = 100 * pynla::kBytesPerThread;
    expect(pynla::threads_for(big, 4) == 1, "threads_for takes one thread during a hold-off");
    pynla::bytes_per_thread().store(1);
    expect(pynla::threads_for(big, 4) == 4, "threads_for: a test that lowers the work a thread needs gets every thread");
    pynla::bytes_per_thread().store(pynla::kBytesPerThread);
    contention.reset();
    expect(pynla::threads_for(big, 4) == 4, "threads_for after reset");
    return failures;
}

// tasks_for: one task on one thread (no cut), kTasksPerThread a thread beyond.
int check_tasks_for() {
    int failures = 0;
    for (const auto [n_threads, expected] : {std::pair{1, std::int64_t{1}}, std::pair{0, std::int64_t{1}},
                                             std::pair{2, 2 * pynla::kTasksPerThread},
                                             std::pair{8, 8 * pynla::kTasksPerThread}}) {
        ++n_checks;
        if (pynla::tasks_for(n_threads) != expected) {
            std::printf("FAIL tasks_for(%d) = %lld, expected %lld\n", n_threads, (long long)pynla::tasks_for(n_threads),
                        (long long)expected);
            ++failures;
        }
    }
    return failures;
}

// Whether parallel_for_ordered committed tasks 0, 1, ... in order and finished each (finished[t] == 1).
bool committed_in_order_and_finished(const std::vector<std::int64_t>& committed, const std::vector<int>& finished) {
    if (committed.size() != finished.size()) return false;
    for (std::size_t i = 0; i < committed.size(); ++i) {
        if (committed[i] != static_cast<std::int64_t>(i) || finished[i] != 1) return false;
    }
    return true;
}

// parallel_for and parallel_for_ordered on 1 to 3 threads: every task once, commits in order,
// the first exception rethrown (on one thread: no task after it runs).
// transpose: against a plain stable counting of entries by column (repeated and unsorted
// columns, empty rows), on 1 and 3 threads.
template <class I>
int check_transpose(std::mt19937_64& rng) {
    int failures = 0;
    pynla::bytes_per_thread().store(1);  // every size reaches the parallel path
    for (int threads : {1, 3}) {
        pynla::set_max_threads(threads);
        for (std::int64_t n_rows : {0, 1, 7, 300}) {
            for (std::int64_t n_cols : {0, 1, 5, 200}) {
                std::vector<I> indptr{0}, indices;
                std::vector<double> data;
                for (std::int64_t i = 0; i < n_rows; ++i) {
                    const std::int64_t length = n_cols == 0 ? 0 : static_cast<std::int64_t>(rng() % 6);
                    for (std::int64_t e = 0; e < length; ++e) {
                        indices.push_back(static_cast<I>(rng() % static_cast<std::uint64_t>(n_cols)));
                        data.push_back(static_cast<double>(indices.size()));  // each value names its entry
                    }
                    indptr.push_back(static_cast<I>(indices.size()));
                }
                const pynla::CsrView<I, double> a{n_rows, n_cols, indptr.data(), indices.data(), data.data()};
                const auto t = pynla::transpose(a);
                bool same = t.n_rows == n_cols && t.n_cols == n_rows && t.indptr.size() == n_cols + 1;
                std::int64_t q = 0;
                for (std::int64_t c = 0; c < n_cols && same; ++c) {
                    same = t.indptr.data()[c] == q;
                    for (std::int64_t i = 0; i < n_rows && same; ++i) {
                        for (std::int64_t p = indptr[i]; p < indptr[i + 1] && same; ++p) {
                            if (indices[p] != c) continue;
                            same = t.indices.data()[q] == i && t.data.data()[q] == data[p];
                            ++q;
                        }
                    }
                }
                ++n_checks;
                if (!same || (n_cols > 0 && t.indptr.data()[n_cols] != static_cast<I>(indices.size()))) {
                    std::printf("FAIL transpose (%lld x %lld, %d threads)\n", (long long)n_rows, (long long)n_cols, threads);
                    ++failures;
                }
            }
        }
    }
    pynla::set_max_threads(1);
    pynla::bytes_per_thread().store(pynla::kBytesPerThread);
    return failures;
}

#if defined(__linux__)
// A worker is kept off the caller's CPU from before a loop is published until it joins it
// (wake_placement.hpp): the tasks it runs may use every CPU the caller may. Each loop's first task
// waits (up to 10 s) for a task on a worker, after a pause long enough for the workers to sleep.
int check_wake_placement() {
    int failures = 0;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return 0;
    for (int loop = 0; loop < 5; ++loop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::atomic<int> worker_tasks{0}, worker_tasks_confined{0};
        pynla::parallel_for(64, 2, [&](std::int64_t t, int thread) {
            if (thread != 0) {
                cpu_set_t cpus;
                CPU_ZERO(&cpus);
                sched_getaffinity(0, sizeof cpus, &cpus);
                ++worker_tasks;
                if (!CPU_EQUAL(&cpus, &allowed)) ++worker_tasks_confined;
            } else if (t == 0) {
                const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                while (worker_tasks.load() == 0 && std::chrono::steady_clock::now() < give_up) {
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
                }
            }
        });
        n_checks += 2;
        if (worker_tasks.load() == 0) {
            std::printf("FAIL wake placement: no worker joined a loop in 10 s\n");
            ++failures;
        }
        if (worker_tasks_confined.load() != 0) {
            std::printf("FAIL wake placement: a worker ran tasks on fewer CPUs than the caller may use\n");
            ++failures;
        }
    }
    return failures;
}
#else
int check_wake_placement() { return 0; }
#endif

int check_parallel_loops() {
    int failures = 0;
    const auto fail = [&](const char* what, int threads) {
        std::printf("FAIL %s (%d threads)\n", what, threads);
        ++failures;
    };
    for (int threads = 1; threads <= 3; ++threads) {
        for (std::int64_t n_tasks : {0, 1, 2, 7, 64}) {
            std::vector<int> runs(static_cast<std::size_t>(n_tasks), 0);
            pynla::parallel_for(n_tasks, threads, [&](std::int64_t t, int thread) {
                if (thread < 0 || thread >= threads) throw std::logic_error("thread index out of range");
                ++runs[static_cast<std::size_t>(t)];
            });
            ++n_checks;
            if (std::count(runs.begin(), runs.end(), 1) != n_tasks) fail("parallel_for runs every task once", threads);

            std::vector<std::int64_t> committed;
            std::vector<int> finished(static_cast<std::size_t>(n_tasks), 0);
            pynla::parallel_for_ordered(
                n_tasks, threads, [](std::int64_t, int) {},
                [&](std::int64_t t, int) { committed.push_back(t); },
                [&](std::int64_t t, int) { finished[static_cast<std::size_t>(t)] = 1; });
            ++n_checks;
            if (!committed_in_order_and_finished(committed, finished)) {
                fail("parallel_for_ordered commits in order and finishes every task", threads);
            }
        }
        ++n_checks;
        std::vector<int> ran(10, 0);
        try {
            pynla::parallel_for(10, threads, [&](std::int64_t t, int) {
                ran[static_cast<std::size_t>(t)] = 1;
                if (t == 3) throw std::runtime_error("task 3");
            });
            fail("parallel_for rethrows", threads);
        } catch (const std::runtime_error&) {
            if (threads == 1 && std::count(ran.begin(), ran.end(), 1) != 4) fail("one thread stops at the throw", threads);
        }
    }
    // parallel_for_ordered while the head task's thread is away (a slow first task): the other
    // threads go on without waiting for its commit, up to kMaxUncommittedTasks ended tasks, and
    // everything is still committed in order and finished. A throwing body with tasks waiting
    // behind it ends the loop (no hang).
    for (int threads = 2; threads <= 3; ++threads) {
        const std::int64_t n_tasks = 3 * pynla::kMaxUncommittedTasks;
        // Task 0 holds the head until another task has ended (waiting up to 10 s for a worker to
        // wake on a loaded machine), then a little longer; bodies that end meanwhile are counted.
        std::atomic<bool> first_done{false};
        std::atomic<std::int64_t> ended_before_first{0}, most_ended_before_first{0};
        std::vector<std::int64_t> committed;
        std::vector<int> finished(static_cast<std::size_t>(n_tasks), 0);
        pynla::parallel_for_ordered(
            n_tasks, threads,
            [&](std::int64_t t, int) {
                if (t != 0) {
                    if (!first_done) ++ended_before_first;
                    return;
                }
                const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                while (ended_before_first.load() == 0 && std::chrono::steady_clock::now() < give_up) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                most_ended_before_first = ended_before_first.load();
                first_done = true;
            },
            [&](std::int64_t t, int) { committed.push_back(t); },
            [&](std::int64_t t, int) { finished[static_cast<std::size_t>(t)] = 1; });
        ++n_checks;
        if (!committed_in_order_and_finished(committed, finished)) {
            fail("parallel_for_ordered behind a slow head task: in order, every task finished", threads);
        }
        ++n_checks;
        if (most_ended_before_first.load() < 1) fail("parallel_for_ordered: others go on behind a slow head task", threads);
        ++n_checks;
        if (most_ended_before_first.load() > pynla::kMaxUncommittedTasks - 1) {
            fail("parallel_for_ordered: at most kMaxUncommittedTasks ended tasks wait", threads);
        }
        ++n_checks;
        std::atomic<std::int64_t> commits{0};
        try {
            pynla::parallel_for_ordered(
                n_tasks, threads,
                [&](std::int64_t t, int) {
                    if (t == 0) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(20));
                        throw std::runtime_error("task 0");
                    }
                },
                [&](std::int64_t, int) { ++commits; }, [](std::int64_t, int) {});
            fail("parallel_for_ordered rethrows", threads);
        } catch (const std::runtime_error&) {
            if (commits.load() != 0) fail("parallel_for_ordered commits nothing after a throwing head task", threads);
        }
    }
    // A loop inside a task (the pool is busy: it runs on that thread), and loops from several
    // threads at once (one gets the pool, the others run alone): every task once, no deadlock.
    std::vector<int> inner_runs(4 * 16, 0);
    pynla::parallel_for(4, 3, [&](std::int64_t outer, int) {
        pynla::parallel_for(16, 3, [&](std::int64_t inner, int) { ++inner_runs[static_cast<std::size_t>(outer * 16 + inner)]; });
    });
    ++n_checks;
    if (std::count(inner_runs.begin(), inner_runs.end(), 1) != 64) fail("nested parallel_for", 3);
    std::vector<std::vector<int>> runs(4, std::vector<int>(1000, 0));
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c) {
        callers.emplace_back([&, c] {
            for (int repeat = 0; repeat < 50; ++repeat) {
                pynla::parallel_for(20, 3, [&](std::int64_t t, int) {
                    for (int i = 0; i < 50; ++i) ++runs[static_cast<std::size_t>(c)][static_cast<std::size_t>(t * 50 + i)];
                });
            }
        });
    }
    for (auto& caller : callers) caller.join();
    for (const auto& counts : runs) {
        ++n_checks;
        if (std::count(counts.begin(), counts.end(), 50) != 1000) fail("concurrent callers", 3);
    }
    return failures;
}


// A random BSR matrix (sorted, canonical) with n x n blocks of R x R over a symmetric block
// pattern, symmetric values: indptr, indices, data.
template <class I>
struct BlockMatrix {
    std::int64_t n = 0, r = 1;
    std::vector<I> indptr, indices;
    std::vector<double> data;
    pynla::BsrView<I, double> view() const {
        return {n, n, r, r, indptr.data(), indices.data(), data.data()};
    }
};

template <class I>
BlockMatrix<I> symmetric_blocks(std::mt19937_64& rng, std::int64_t n, std::int64_t r) {
    std::vector<double> dense(static_cast<std::size_t>(n * n * r * r), 0.0);
    std::vector<char> stored(static_cast<std::size_t>(n * n), 0);
    const auto at = [&](std::int64_t row, std::int64_t column) -> double& { return dense[static_cast<std::size_t>(row * n * r + column)]; };
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = i; j < n; ++j) {
            if (i != j && rng() % 3 != 0) continue;
            stored[static_cast<std::size_t>(i * n + j)] = stored[static_cast<std::size_t>(j * n + i)] = 1;
            for (std::int64_t a = 0; a < r; ++a) {
                for (std::int64_t b = 0; b < r; ++b) {
                    const double value = static_cast<double>(rng() % 7) - 3.0;  // zeros too: stored all the same
                    at(i * r + a, j * r + b) = value;
                    at(j * r + b, i * r + a) = value;
                }
            }
        }
    }
    BlockMatrix<I> m;
    m.n = n;
    m.r = r;
    m.indptr.push_back(0);
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
            if (!stored[static_cast<std::size_t>(i * n + j)]) continue;
            m.indices.push_back(static_cast<I>(j));
            for (std::int64_t a = 0; a < r; ++a) {
                for (std::int64_t b = 0; b < r; ++b) m.data.push_back(at(i * r + a, j * r + b));
            }
        }
        m.indptr.push_back(static_cast<I>(m.indices.size()));
    }
    return m;
}

// symmetry(): symmetric matrices found so; one changed value, one removed mirror, an unsorted
// or repeated block row, rectangular grids and blocks each found; on 1 and 3 threads.
template <class I>
int check_symmetry(std::mt19937_64& rng) {
    using pynla::Symmetry;
    int failures = 0;
    const auto expect = [&](Symmetry got, Symmetry expected, const char* what, std::int64_t n, std::int64_t r) {
        ++n_checks;
        if (got != expected) {
            std::printf("FAIL symmetry: %s (n %lld, R %lld)\n", what, (long long)n, (long long)r);
            ++failures;
        }
    };
    pynla::bytes_per_thread().store(1);  // every size reaches the parallel path
    for (int threads : {1, 3}) {
        pynla::set_max_threads(threads);
        for (std::int64_t r : {1, 2, 3}) {
            for (std::int64_t n : {0, 1, 2, 5, 40}) {
                auto m = symmetric_blocks<I>(rng, n, r);
                expect(pynla::symmetry(m.view()), Symmetry::symmetric, "symmetric", n, r);
                if (m.indices.empty()) continue;
                const auto p = static_cast<std::size_t>(rng() % m.indices.size());
                const auto value = static_cast<std::size_t>(p * r * r + rng() % (r * r));
                const std::int64_t row = std::upper_bound(m.indptr.begin(), m.indptr.end(), static_cast<I>(p)) - m.indptr.begin() - 1;
                const bool diagonal_of_diagonal = m.indices[p] == row && (value - p * r * r) % (r + 1) == 0;
                m.data[value] += 1.0;
                expect(pynla::symmetry(m.view()), diagonal_of_diagonal ? Symmetry::symmetric : Symmetry::not_symmetric,
                       "a changed value", n, r);
                m.data[value] = std::numeric_limits<double>::quiet_NaN();
                expect(pynla::symmetry(m.view()), Symmetry::not_symmetric, "NaN", n, r);
                auto lower = symmetric_blocks<I>(rng, n, r);  // drop the last block of the last non-empty row
                std::int64_t last = n - 1;
                while (lower.indptr[static_cast<std::size_t>(last)] == lower.indptr[static_cast<std::size_t>(last + 1)]) --last;
                const bool diagonal = lower.indices.back() == last;
                lower.indices.pop_back();
                lower.data.resize(lower.data.size() - static_cast<std::size_t>(r * r));
                for (std::int64_t i = last + 1; i <= n; ++i) --lower.indptr[static_cast<std::size_t>(i)];
                expect(pynla::symmetry(lower.view()), diagonal ? Symmetry::symmetric : Symmetry::not_symmetric,
                       "a removed block", n, r);
                auto unsorted = symmetric_blocks<I>(rng, n, r);
                for (std::int64_t i = 0; i < n; ++i) {
                    const auto begin = unsorted.indptr[static_cast<std::size_t>(i)], end = unsorted.indptr[static_cast<std::size_t>(i + 1)];
                    if (end - begin >= 2) {
                        std::swap(unsorted.indices[static_cast<std::size_t>(begin)], unsorted.indices[static_cast<std::size_t>(begin + 1)]);
                        std::swap_ranges(unsorted.data.begin() + begin * r * r, unsorted.data.begin() + (begin + 1) * r * r,
                                         unsorted.data.begin() + (begin + 1) * r * r);  // the same matrix, its row unsorted
                        expect(pynla::symmetry(unsorted.view()), Symmetry::not_canonical, "an unsorted row", n, r);
                        auto changed = unsorted;  // unsorted and unsymmetric: the fingerprints tell
                        changed.data[static_cast<std::size_t>(begin * r * r)] += 1.0;
                        const bool on_diagonal = changed.indices[static_cast<std::size_t>(begin)] == i;
                        expect(pynla::symmetry(changed.view()), on_diagonal ? Symmetry::not_canonical : Symmetry::not_symmetric,
                               "an unsorted row, a value changed", n, r);
                        unsorted.indices[static_cast<std::size_t>(begin)] = unsorted.indices[static_cast<std::size_t>(begin + 1)];
                        expect(pynla::symmetry(unsorted.view()), Symmetry::not_canonical, "a repeated column", n, r);
                        break;
                    }
                }
                auto split = symmetric_blocks<I>(rng, n, r);  // symmetric, one block stored as two halves
                const auto first = split.indptr[0];
                split.indices.insert(split.indices.begin() + first + 1, split.indices[static_cast<std::size_t>(first)]);
                std::vector<double> half(split.data.begin() + first * r * r, split.data.begin() + (first + 1) * r * r);
                for (auto& value : half) value /= 2;
                std::copy(half.begin(), half.end(), split.data.begin() + first * r * r);
                split.data.insert(split.data.begin() + (first + 1) * r * r, half.begin(), half.end());
                for (std::int64_t row = 1; row <= n; ++row) ++split.indptr[static_cast<std::size_t>(row)];
                expect(pynla::symmetry(split.view()), Symmetry::not_canonical, "a value split in two", n, r);
            }
        }
        for (std::int64_t r : {1, 3}) {  // mirror_upper restores a symmetric matrix whose lower values changed
            for (std::int64_t n : {0, 1, 7, 40}) {
                auto m = symmetric_blocks<I>(rng, n, r);
                const auto original = m.data;
                for (auto& value : m.data) value += static_cast<double>(rng() % 2);
                for (std::int64_t i = 0; i < n; ++i) {  // the changes above the diagonal undone
                    for (auto p = m.indptr[static_cast<std::size_t>(i)]; p < m.indptr[static_cast<std::size_t>(i + 1)]; ++p) {
                        for (std::int64_t e = 0; e < r * r; ++e) {
                            const auto at = static_cast<std::size_t>(p * r * r + e);
                            const std::int64_t column = m.indices[static_cast<std::size_t>(p)] * r + e % r, row = i * r + e / r;
                            if (column >= row) m.data[at] = original[at];
                        }
                    }
                }
                const bool mirrored = pynla::mirror_upper(m.view(), m.data.data());
                expect(mirrored && m.data == original ? Symmetry::symmetric : Symmetry::not_symmetric, Symmetry::symmetric,
                       "mirror_upper", n, r);
            }
        }
        // A block above the diagonal without a mirror, and one below: mirror_upper refuses both.
        for (const auto& [indices, second_row] : {std::pair{std::vector<I>{0, 1, 1}, I{2}}, std::pair{std::vector<I>{0, 0, 1}, I{1}}}) {
            BlockMatrix<I> lopsided;
            lopsided.n = 2;
            lopsided.indptr = {0, second_row, 3};
            lopsided.indices = indices;
            lopsided.data = {1.0, 2.0, 3.0};
            expect(pynla::mirror_upper(lopsided.view(), lopsided.data.data()) ? Symmetry::symmetric : Symmetry::not_symmetric,
                   Symmetry::not_symmetric, "mirror_upper of a lopsided pattern", 2, 1);
        }
        auto m = symmetric_blocks<I>(rng, 4, 2);
        auto rectangular = m.view();
        rectangular.block_cols = 1;
        rectangular.n_block_cols = 8;
        expect(pynla::symmetry(rectangular), Symmetry::not_symmetric, "rectangular blocks", 4, 2);
    }
    pynla::bytes_per_thread().store(pynla::kBytesPerThread);
    return failures;
}

}  // namespace

int main() {
    std::mt19937_64 rng(20261123);
    int failures = 0;
    for (bool avx2 : {true, false}) {  // both copies of the scan (the AVX2 one where the CPU has it)
        pynla::avx2_allowed().store(avx2);
        failures += check_all<std::int32_t>(rng) + check_all<std::int64_t>(rng);
        failures += check_beyond_index_range<std::int32_t>();
    }
    failures += check_threads_for() + check_contention() + check_tasks_for() + check_parallel_loops() + check_wake_placement();
    failures += check_symmetry<std::int32_t>(rng) + check_symmetry<std::int64_t>(rng);
    failures += check_transpose<std::int32_t>(rng) + check_transpose<std::int64_t>(rng);
    std::printf("%d passed, %d failed\n", n_checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
