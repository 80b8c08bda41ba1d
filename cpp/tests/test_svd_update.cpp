// touched_rows (pynla/svd_update/) against a std::map, under AddressSanitizer and UBSan: empty
// blocks, repeated and unsorted indices, every index distinct, n of 1, out-of-range indices
// (rejected with the workspace restored), int32 and int64 indices.
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "pynla/svd_update/touched_rows.hpp"

namespace {

using namespace pynla;

int n_checks = 0, n_failures = 0;

void expect(bool ok, const char* what, std::int64_t nnz, std::int64_t n) {
    ++n_checks;
    if (!ok) {
        ++n_failures;
        std::printf("FAIL %s (nnz=%lld n=%lld)\n", what, (long long)nnz, (long long)n);
    }
}

bool all_unmarked(const std::vector<std::int64_t>& marks) {
    for (const auto mark : marks) {
        if (mark != -1) return false;
    }
    return true;
}

template <class I>
void check(const std::vector<I>& indices, std::int64_t n) {
    const auto nnz = static_cast<std::int64_t>(indices.size());
    std::vector<std::int64_t> marks(static_cast<std::size_t>(n), -1);
    const auto rows = svd_update::touched_rows(indices.data(), nnz, n, marks.data());
    // The reference: first-met order through a map from index to position.
    std::map<I, std::int64_t> position;
    std::vector<I> want_touched;
    for (const I index : indices) {
        if (position.emplace(index, static_cast<std::int64_t>(want_touched.size())).second) want_touched.push_back(index);
    }
    bool same_touched = rows.touched.size() == static_cast<std::int64_t>(want_touched.size());
    for (std::size_t t = 0; same_touched && t < want_touched.size(); ++t) {
        same_touched = rows.touched.data()[t] == want_touched[t];
    }
    expect(same_touched, "touched rows in first-met order", nnz, n);
    bool same_local = rows.local.size() == nnz;
    for (std::int64_t p = 0; same_local && p < nnz; ++p) {
        same_local = rows.local.data()[p] == position[indices[static_cast<std::size_t>(p)]] &&
                     rows.touched.data()[rows.local.data()[p]] == indices[static_cast<std::size_t>(p)];
    }
    expect(same_local, "local positions", nnz, n);
    expect(all_unmarked(marks), "marks restored", nnz, n);
}

template <class I>
void check_rejects(std::vector<I> indices, std::int64_t n) {
    std::vector<std::int64_t> marks(static_cast<std::size_t>(n), -1);
    bool threw = false;
    try {
        svd_update::touched_rows(indices.data(), static_cast<std::int64_t>(indices.size()), n, marks.data());
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    expect(threw, "out-of-range index rejected", static_cast<std::int64_t>(indices.size()), n);
    expect(all_unmarked(marks), "marks restored after a rejection", static_cast<std::int64_t>(indices.size()), n);
}

template <class I>
void run_all(std::mt19937_64& rng) {
    check<I>({}, 0);
    check<I>({}, 5);
    check<I>({0}, 1);
    check<I>({0, 0, 0}, 1);
    check<I>({4, 1, 4, 3, 1, 0}, 5);
    for (const std::int64_t n : {1, 7, 100, 5000}) {
        for (const std::int64_t nnz : {1, 10, 1000, 20000}) {
            std::uniform_int_distribution<std::int64_t> uniform(0, n - 1);
            std::vector<I> indices(static_cast<std::size_t>(nnz));
            for (auto& index : indices) index = static_cast<I>(uniform(rng));
            check(indices, n);
            // Power-law rows: a few indices repeat most of the time.
            for (auto& index : indices) index = static_cast<I>(uniform(rng) % (1 + uniform(rng) % 8));
            check(indices, n);
        }
        std::vector<I> every(static_cast<std::size_t>(n));  // every index once, descending
        for (std::int64_t i = 0; i < n; ++i) every[static_cast<std::size_t>(i)] = static_cast<I>(n - 1 - i);
        check(every, n);
    }
    check_rejects<I>({0, 3, 1, 5}, 5);
    check_rejects<I>({2, -1}, 5);
    check_rejects<I>({0}, 0);
}

}  // namespace

int main() {
    std::mt19937_64 rng(17);
    run_all<std::int32_t>(rng);
    run_all<std::int64_t>(rng);
    std::printf("test_svd_update_cpp: %d checks, %d failures\n", n_checks, n_failures);
    return n_failures == 0 ? 0 : 1;
}
