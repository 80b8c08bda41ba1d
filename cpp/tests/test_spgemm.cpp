// C++-only test of the SpGEMM core under AddressSanitizer and UBSan: random CSR inputs of many
// shapes and structures, every index and value type, compared with a dense product summed in
// the same order (so the comparison is exact). Build and run:
//   cmake -S . -B build/cpp-tests -DPYNLA_CPP_TESTS=ON && cmake --build build/cpp-tests && build/cpp-tests/test_spgemm_cpp
#include <algorithm>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <type_traits>
#include <vector>

#include "pynla/spgemm/multiply.hpp"
#include "pynla/spgemm/numeric.hpp"

namespace {

template <class I, class T>
struct RandomCsr {
    std::int64_t n_rows, n_cols;
    std::vector<I> indptr, indices;
    std::vector<T> data;
    pynla::CsrView<I, T> view() const { return {n_rows, n_cols, indptr.data(), indices.data(), data.data()}; }
};

// Row lengths from a heavy-tailed law (some empty, some dense), columns unsorted with
// repeats when `sorted` is false, values small integers so that sums cancel exactly.
template <class I, class T>
RandomCsr<I, T> random_csr(std::mt19937_64& rng, std::int64_t n_rows, std::int64_t n_cols, bool sorted) {
    RandomCsr<I, T> m{n_rows, n_cols, {0}, {}, {}};
    std::uniform_int_distribution<int> value(-2, 2);
    std::geometric_distribution<int> length(0.3);
    for (std::int64_t i = 0; i < n_rows; ++i) {
        const std::int64_t row_length = n_cols == 0 ? 0 : (i % 17 == 3 ? n_cols : length(rng));
        std::vector<I> row;
        for (std::int64_t p = 0; p < row_length; ++p) row.push_back(static_cast<I>(rng() % n_cols));
        if (sorted) std::sort(row.begin(), row.end());
        for (const I j : row) {
            m.indices.push_back(j);
            m.data.push_back(T(static_cast<double>(value(rng))));
        }
        m.indptr.push_back(static_cast<I>(m.indices.size()));
    }
    return m;
}

int n_checks = 0;

template <class I, class T>
int check(std::mt19937_64& rng, std::int64_t m, std::int64_t k, std::int64_t n, bool sorted_b, bool tell_sorted,
          bool sort_out, std::int64_t initial_capacity) {
    ++n_checks;
    const auto a = random_csr<I, T>(rng, m, k, true);
    const auto b = random_csr<I, T>(rng, k, n, sorted_b);
    // Told or not whether B's rows are sorted (told false for unsorted rows that may be sorted by chance).
    const auto b_rows_sorted = tell_sorted ? std::optional<bool>(sorted_b) : std::nullopt;
    const auto c = pynla::spgemm::multiply(a.view(), b.view(), {sort_out, b_rows_sorted, initial_capacity});
    std::vector<T> dense(static_cast<std::size_t>(m * n), T(0));
    for (std::int64_t i = 0; i < m; ++i)
        for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p)
            for (I q = b.indptr[a.indices[p]]; q < b.indptr[a.indices[p] + 1]; ++q)
                dense[i * n + b.indices[q]] += pynla::multiply(a.data[p], b.data[q]);
    int failures = 0;
    std::int64_t expected_nnz = 0;
    for (const T& x : dense) expected_nnz += (x != T(0));
    if (c.indptr[m] != expected_nnz) ++failures;
    std::vector<T> seen(dense.size(), T(0));
    for (std::int64_t i = 0; i < m; ++i) {
        for (I p = c.indptr[i]; p < c.indptr[i + 1]; ++p) {
            if (c.indices[p] < 0 || c.indices[p] >= n) { ++failures; continue; }
            if (sort_out && p > c.indptr[i] && c.indices[p] <= c.indices[p - 1]) ++failures;
            if (c.data[p] == T(0)) ++failures;
            seen[i * n + c.indices[p]] += c.data[p];
        }
    }
    if (seen != dense) ++failures;
    failures = failures > 0;
    if (failures) {
        std::printf("FAIL m=%ld k=%ld n=%ld sorted_b=%d tell_sorted=%d sort_out=%d initial_capacity=%ld\n", (long)m,
                    (long)k, (long)n, sorted_b, tell_sorted, sort_out, (long)initial_capacity);
    }
    return failures;
}

// The numeric phase into a fixed pattern: the pattern is the product of A's and B's patterns
// (a product of all-ones copies, whose sums never cancel); every value must equal the dense
// product's, explicit zeros included.
template <class I, class T>
int check_into_pattern(const RandomCsr<I, T>& a, const RandomCsr<I, T>& b) {
    ++n_checks;
    const std::int64_t m = a.n_rows, n = b.n_cols;
    auto a_ones = a, b_ones = b;
    std::fill(a_ones.data.begin(), a_ones.data.end(), T(1));
    std::fill(b_ones.data.begin(), b_ones.data.end(), T(1));
    const auto pattern = pynla::spgemm::multiply(a_ones.view(), b_ones.view());
    std::vector<T> values(static_cast<std::size_t>(pattern.indptr[m]), T(7));  // every one must be overwritten
    pynla::spgemm::multiply_into_pattern(a.view(), b.view(), pattern.indptr.data(), pattern.indices.data(),
                                         values.data());
    std::vector<T> dense(static_cast<std::size_t>(m * n), T(0)), seen(dense.size(), T(0));
    for (std::int64_t i = 0; i < m; ++i)
        for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p)
            for (I q = b.indptr[a.indices[p]]; q < b.indptr[a.indices[p] + 1]; ++q)
                dense[i * n + b.indices[q]] += pynla::multiply(a.data[p], b.data[q]);
    bool ok = true;
    for (std::int64_t i = 0; i < m; ++i) {
        for (I p = pattern.indptr[i]; p < pattern.indptr[i + 1]; ++p) {
            ok = ok && values[p] == dense[i * n + pattern.indices[p]];
            seen[i * n + pattern.indices[p]] += values[p];
        }
    }
    ok = ok && seen == dense;
    if (!ok) std::printf("FAIL into pattern m=%ld k=%ld n=%ld\n", (long)m, (long)a.n_cols, (long)n);
    return !ok;
}

// The masked product: the dense product's nonzero entries at the mask's stored entries (or,
// with complement, elsewhere), and nothing else.
template <class I, class T>
int check_masked(std::mt19937_64& rng, std::int64_t m, std::int64_t k, std::int64_t n, bool complement) {
    ++n_checks;
    const auto a = random_csr<I, T>(rng, m, k, true);
    const auto b = random_csr<I, T>(rng, k, n, false);
    const auto mask = random_csr<I, T>(rng, m, n, false);
    const auto c = pynla::spgemm::multiply_masked(a.view(), b.view(), {mask.indptr.data(), mask.indices.data(), complement});
    std::vector<T> dense(static_cast<std::size_t>(m * n), T(0));
    std::vector<char> inside(dense.size(), 0);
    for (std::int64_t i = 0; i < m; ++i) {
        for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p)
            for (I q = b.indptr[a.indices[p]]; q < b.indptr[a.indices[p] + 1]; ++q)
                dense[i * n + b.indices[q]] += pynla::multiply(a.data[p], b.data[q]);
        for (I p = mask.indptr[i]; p < mask.indptr[i + 1]; ++p) inside[i * n + mask.indices[p]] = 1;
    }
    bool ok = true;
    std::int64_t expected_nnz = 0;
    for (std::size_t t = 0; t < dense.size(); ++t) {
        if ((inside[t] != 0) == complement) dense[t] = T(0);
        expected_nnz += dense[t] != T(0);
    }
    ok = c.indptr[m] == expected_nnz;
    for (std::int64_t i = 0; i < m && ok; ++i)
        for (I p = c.indptr[i]; p < c.indptr[i + 1]; ++p)
            ok = ok && c.indices[p] >= 0 && c.indices[p] < n && c.data[p] == dense[i * n + c.indices[p]];
    if (!ok) std::printf("FAIL masked m=%ld k=%ld n=%ld complement=%d\n", (long)m, (long)k, (long)n, complement);
    return !ok;
}

// A product over semiring S (not plus_times): an entry wherever some product reaches, with the
// semiring's sum of the products in A's and B's order (exact: min, max and or are exact, and
// the values are small integers).
template <class S, class I, class T>
int check_semiring(std::mt19937_64& rng, std::int64_t m, std::int64_t k, std::int64_t n, bool sorted_b) {
    ++n_checks;
    auto a = random_csr<I, T>(rng, m, k, true);
    auto b = random_csr<I, T>(rng, k, n, sorted_b);
    for (auto* values : {&a.data, &b.data})
        for (T& x : *values) x = std::is_same_v<T, std::uint8_t> ? T(rng() % 2) : x;
    const auto c = pynla::spgemm::multiply<S>(a.view(), b.view());
    std::vector<T> dense(static_cast<std::size_t>(m * n), S::template identity<T>());
    std::vector<char> reached(dense.size(), 0);
    for (std::int64_t i = 0; i < m; ++i)
        for (I p = a.indptr[i]; p < a.indptr[i + 1]; ++p)
            for (I q = b.indptr[a.indices[p]]; q < b.indptr[a.indices[p] + 1]; ++q) {
                const std::size_t at = static_cast<std::size_t>(i * n + b.indices[q]);
                dense[at] = S::add(dense[at], S::multiply(a.data[p], b.data[q]));
                reached[at] = 1;
            }
    std::int64_t expected_nnz = 0;
    for (const char r : reached) expected_nnz += r;
    bool ok = c.indptr[m] == expected_nnz;
    for (std::int64_t i = 0; i < m && ok; ++i)
        for (I p = c.indptr[i]; p < c.indptr[i + 1]; ++p)
            ok = ok && c.indices[p] >= 0 && c.indices[p] < n && reached[i * n + c.indices[p]] &&
                 c.data[p] == dense[i * n + c.indices[p]];
    if (!ok) std::printf("FAIL semiring m=%ld k=%ld n=%ld sorted_b=%d\n", (long)m, (long)k, (long)n, sorted_b);
    return !ok;
}

// With one thread, nnz(C) is bounded by nnz(A) times B's longest row if that fits the limit, else
// by the flops counted.
template <class I, class T>
int check_one_task_bound(std::mt19937_64& rng) {
    ++n_checks;
    const auto a = random_csr<I, T>(rng, 50, 40, true);
    const auto b = random_csr<I, T>(rng, 40, 30, true);
    std::int64_t flops = 0, longest = 0;
    for (std::int64_t p = 0; p < a.indptr[50]; ++p) flops += b.indptr[a.indices[p] + 1] - b.indptr[a.indices[p]];
    for (std::int64_t k = 0; k < 40; ++k) longest = std::max<std::int64_t>(longest, b.indptr[k + 1] - b.indptr[k]);
    const std::int64_t coarse = a.indptr[50] * longest;
    using pynla::spgemm::detail::split_rows_by_flops;
    using pynla::spgemm::detail::coarse_flops_bound;
    const std::int64_t no_limit = std::numeric_limits<std::int64_t>::max();  // the product never passes it
    const bool ok = coarse_flops_bound(a.view(), b.view(), no_limit) == coarse &&
                    coarse_flops_bound(a.view(), b.view(), coarse - 1) == -1 &&
                    split_rows_by_flops(a.view(), b.view(), 1, 1, coarse, coarse).max_entries == coarse &&
                    split_rows_by_flops(a.view(), b.view(), 1, 1, coarse - 1, coarse).max_entries == flops &&
                    split_rows_by_flops(a.view(), b.view(), 1, 1, coarse, -1).max_entries == flops &&
                    split_rows_by_flops(a.view(), b.view(), 2, 1, coarse, coarse).max_entries == flops && flops < coarse;
    if (!ok) std::printf("FAIL one-task bound: flops %ld, coarse %ld\n", (long)flops, (long)coarse);
    return !ok;
}

template <class I, class T>
int check_all(std::mt19937_64& rng) {
    int failures = 0;
    const std::int64_t shapes[][3] = {{0, 3, 4}, {3, 0, 4}, {1, 1, 1}, {5, 7, 0}, {40, 30, 50}, {300, 2, 300},
                                      {2, 300, 2}, {60, 60, 5000}, {200, 200, 200},
                                      {70000, 60, 30}};  // more rows than flop-sum blocks: blocks of 2 rows
    for (const auto& s : shapes)
        for (bool sorted_b : {true, false})
            for (bool tell_sorted : {true, false})
                for (bool sort_out : {true, false})
                    for (std::int64_t initial_capacity : {0, 1})  // 0: the kernel's reserve; 1: C grows
                        failures += check<I, T>(rng, s[0], s[1], s[2], sorted_b, tell_sorted, sort_out,
                                                initial_capacity);
    for (const auto& s : shapes)
        for (bool sorted_b : {true, false})
            failures += check_into_pattern(random_csr<I, T>(rng, s[0], s[1], true), random_csr<I, T>(rng, s[1], s[2], sorted_b));
    for (const auto& s : shapes)
        for (bool complement : {false, true}) failures += check_masked<I, T>(rng, s[0], s[1], s[2], complement);
    // Rows spanning more than the window's 2^20 columns: places found by binary search.
    const std::int64_t wide = (std::int64_t{1} << 20) + 40;
    const RandomCsr<I, T> b{2, wide, {0, 3, 5}, {0, static_cast<I>(wide - 1), 9, 5, static_cast<I>(wide - 2)},
                            {T(1), T(2), T(-1), T(3), T(1)}};
    failures += check_into_pattern(random_csr<I, T>(rng, 4, 2, true), b);
    if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
        for (const auto& s : shapes)
            for (bool sorted_b : {true, false}) {
                failures += check_semiring<pynla::spgemm::MinPlus, I, T>(rng, s[0], s[1], s[2], sorted_b);
                failures += check_semiring<pynla::spgemm::MaxTimes, I, T>(rng, s[0], s[1], s[2], sorted_b);
                if constexpr (std::is_same_v<T, double>) {
                    failures += check_semiring<pynla::spgemm::PlusPair, I, T>(rng, s[0], s[1], s[2], sorted_b);
                    failures += check_semiring<pynla::spgemm::OrAnd, I, std::uint8_t>(rng, s[0], s[1], s[2], sorted_b);
                }
            }
    }
    return failures + check_one_task_bound<I, T>(rng);
}

}  // namespace

int main() {
    std::mt19937_64 rng(20260911);
    int failures = 0;
    for (int n_threads : {1, 3}) {  // one task (the coarse bound on nnz(C)), and tasks in order
        pynla::set_max_threads(n_threads);
        // Every product on every thread: neither its size nor a contention hold-off (contention.hpp,
        // which a loaded machine may set) keeps it on one.
        pynla::bytes_per_thread().store(n_threads > 1 ? 1 : pynla::kBytesPerThread);
        failures += check_all<std::int32_t, float>(rng);
        failures += check_all<std::int32_t, double>(rng);
        failures += check_all<std::int64_t, double>(rng);
        failures += check_all<std::int32_t, std::complex<float>>(rng);
        failures += check_all<std::int64_t, std::complex<double>>(rng);
    }
    std::printf("%d passed, %d failed\n", n_checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
