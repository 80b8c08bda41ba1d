// C++-only test of the shared core (common/) under AddressSanitizer and UBSan: the structure
// checks of compressed index arrays, against plain loops, over random arrays with and without
// faults, both index types, 1 to 3 threads, with and without AVX2; the rule that takes a
// kernel's thread count from its work, and parallel loops on one thread and on several.
// Build and run as test_spgemm.cpp says.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "pynla/common/structure_check.hpp"

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

// parallel_for and parallel_for_ordered on 1 to 3 threads: every task once, commits in order,
// the first exception rethrown (on one thread: no task after it runs).
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

            std::vector<std::int64_t> committed, finished(static_cast<std::size_t>(n_tasks), 0);
            pynla::parallel_for_ordered(
                n_tasks, threads, [](std::int64_t, int) {},
                [&](std::int64_t t, int) { committed.push_back(t); },
                [&](std::int64_t t, int) { finished[static_cast<std::size_t>(t)] = 1; });
            ++n_checks;
            bool in_order = static_cast<std::int64_t>(committed.size()) == n_tasks;
            for (std::size_t i = 0; in_order && i < committed.size(); ++i) in_order = committed[i] == static_cast<std::int64_t>(i);
            if (!in_order || std::count(finished.begin(), finished.end(), 1) != n_tasks) {
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

}  // namespace

int main() {
    std::mt19937_64 rng(20261123);
    int failures = 0;
    for (bool avx2 : {true, false}) {  // both copies of the scan (the AVX2 one where the CPU has it)
        pynla::avx2_allowed().store(avx2);
        failures += check_all<std::int32_t>(rng) + check_all<std::int64_t>(rng);
        failures += check_beyond_index_range<std::int32_t>();
    }
    failures += check_threads_for() + check_tasks_for() + check_parallel_loops();
    std::printf("%d passed, %d failed\n", n_checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
