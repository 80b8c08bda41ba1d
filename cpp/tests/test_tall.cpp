// The tall-skinny passes (pynla/tall/gram.hpp, project.hpp) under AddressSanitizer and UBSan: the
// Gram matrix Y^H Y, the cross product Y^H B (one column and three), the projection Y - P (P^H Y)
// (column-major only), and the in-place Y U and Y U^-1 against
// plain loops, for float64 and complex128, column- and row-major, on shapes of one row range
// and of several (ranges.hpp; and more rows than a cache block), one column, a leading
// dimension past the rows (or columns); each on 1 and 3 threads, bit for bit (bytes_per_thread
// lowered to 1, so every pass takes every thread it may). The table's BLAS are plain stand-ins
// (stand_in_blas.hpp).
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <random>
#include <utility>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/tall/gram.hpp"
#include "pynla/tall/project.hpp"

#include "checks.hpp"
#include "stand_in_blas.hpp"

namespace {

using namespace pynla;

using checks::draw;
using checks::expect;
using checks::on_1_and_3_threads;
using checks::stand_in_gemm;
using checks::stand_in_gemv;
using checks::stand_in_herk;
using checks::stand_in_triangular;

template <class T>
std::vector<T> random_matrix(std::mt19937_64& rng, std::int64_t rows, std::int64_t columns) {
    std::vector<T> out(static_cast<std::size_t>(rows * columns));
    for (T& v : out) v = draw<T>(rng);
    return out;
}

template <class T>
double largest_difference(const std::vector<T>& a, const std::vector<T>& b) {
    double largest = 0;
    for (std::size_t i = 0; i < a.size(); ++i) largest = std::max(largest, static_cast<double>(std::abs(a[i] - b[i])));
    return largest;
}

template <class T>
void run(std::mt19937_64& rng, std::int64_t m, std::int64_t n, std::int64_t ld, tall::Layout layout) {
    const bool by_columns = layout == tall::Layout::kColumnMajor;
    const std::vector<T> y = random_matrix<T>(rng, by_columns ? ld : m, by_columns ? n : ld);
    const auto at = [&](std::int64_t r, std::int64_t j) { return by_columns ? j * ld + r : r * ld + j; };
    std::vector<T> u = random_matrix<T>(rng, n, n);
    for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = j + 1; i < n; ++i) u[j * n + i] = T(0);

    // The Gram matrix against its definition, both triangles.
    std::vector<T> expected(static_cast<std::size_t>(n * n));
    for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = 0; i < n; ++i) {
            T sum{};
            for (std::int64_t r = 0; r < m; ++r) sum += conjugate(y[at(r, i)]) * y[at(r, j)];
            expected[j * n + i] = sum;
        }
    const auto [one, three] = on_1_and_3_threads([&] {
        std::vector<T> g(static_cast<std::size_t>(n * n));
        tall::gram(y.data(), ld, m, n, layout, g.data());
        return g;
    });
    expect(largest_difference(one, expected) <= 1e-12 * static_cast<double>(m), "gram against the definition", m, n);
    expect(one == three, "gram: 1 and 3 threads, the same bits", m, n);
    bool hermitian = true;
    for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = 0; i < n; ++i) hermitian = hermitian && one[j * n + i] == conjugate(one[i * n + j]);
    expect(hermitian, "gram: exactly Hermitian", m, n);

    // Y^H B with the Gram matrix, against its definition; G the same bits as without B.
    for (const std::int64_t q : {std::int64_t{1}, std::int64_t{3}}) {
        const std::vector<T> b = random_matrix<T>(rng, m, q);
        std::vector<T> cross_expected(static_cast<std::size_t>(n * q));
        for (std::int64_t k = 0; k < q; ++k)
            for (std::int64_t i = 0; i < n; ++i) {
                T sum{};
                for (std::int64_t r = 0; r < m; ++r) sum += conjugate(y[at(r, i)]) * b[r * q + k];
                cross_expected[k * n + i] = sum;
            }
        const auto [cross_one, cross_three] = on_1_and_3_threads([&] {
            std::vector<T> g(static_cast<std::size_t>(n * n)), c(static_cast<std::size_t>(n * q));
            tall::gram(y.data(), ld, m, n, layout, g.data(), tall::CrossProduct<T>{b.data(), q, c.data()});
            expect(g == one, "gram with B: G the same bits as without", m, q);
            return c;
        });
        expect(largest_difference(cross_one, cross_expected) <= 1e-12 * static_cast<double>(m), "gram: Y^H B against the definition", m, q);
        expect(cross_one == cross_three, "gram: Y^H B on 1 and 3 threads, the same bits", m, q);
    }

    // Y U in place against plain products; the padding past the rows (or columns) untouched.
    std::vector<T> product(y);
    for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t j = 0; j < n; ++j) {
            T sum{};
            for (std::int64_t l = 0; l <= j; ++l) sum += y[at(r, l)] * u[j * n + l];
            product[at(r, j)] = sum;
        }
    const auto [y_one, y_three] = on_1_and_3_threads([&] {
        std::vector<T> out(y);
        tall::times_upper(out.data(), ld, m, n, layout, u.data());
        return out;
    });
    expect(largest_difference(y_one, product) <= 1e-12 * static_cast<double>(n), "times_upper against the definition", m, n);
    expect(y_one == y_three, "times_upper: 1 and 3 threads, the same bits", m, n);

    // Y U^-1 in place: solving it back from Y U gives Y (U has a dominant diagonal).
    for (std::int64_t j = 0; j < n; ++j) u[j * n + j] += T(static_cast<RealOf<T>>(2 * n));
    std::vector<T> times(y);
    tall::times_upper(times.data(), ld, m, n, layout, u.data());
    const auto [solved_one, solved_three] = on_1_and_3_threads([&] {
        std::vector<T> out(times);
        tall::solve_upper(out.data(), ld, m, n, layout, u.data());
        return out;
    });
    expect(largest_difference(solved_one, y) <= 1e-12, "solve_upper undoes times_upper", m, n);
    expect(solved_one == solved_three, "solve_upper: 1 and 3 threads, the same bits", m, n);
}

// Rows enough for `count` ranges of a matrix of n columns, and a few more (ranges.hpp).
std::int64_t rows_for_ranges(std::int64_t n, std::int64_t count) {
    return count * std::max({tall::kMinEntries / n, tall::kMinRowsWide, 4 * n}) + 5;
}

// Y - P (P^H Y) and P^H Y against plain loops; Y's padding past its rows untouched.
template <class T>
void run_projection(std::mt19937_64& rng, std::int64_t m, std::int64_t p, std::int64_t k, std::int64_t padding) {
    const std::int64_t ld = m + padding;
    const std::vector<T> basis = random_matrix<T>(rng, ld, p), y = random_matrix<T>(rng, ld, k);
    std::vector<T> c_expected(static_cast<std::size_t>(p * k)), y_expected(y);
    for (std::int64_t j = 0; j < k; ++j) {
        for (std::int64_t i = 0; i < p; ++i) {
            T sum{};
            for (std::int64_t r = 0; r < m; ++r) sum += conjugate(basis[i * ld + r]) * y[j * ld + r];
            c_expected[j * p + i] = sum;
        }
        for (std::int64_t r = 0; r < m; ++r) {
            T sum{};
            for (std::int64_t i = 0; i < p; ++i) sum += basis[i * ld + r] * c_expected[j * p + i];
            y_expected[j * ld + r] -= sum;
        }
    }
    const auto [one, three] = on_1_and_3_threads([&] {
        std::vector<T> out(y), c(static_cast<std::size_t>(p * k));
        tall::project_out(basis.data(), ld, out.data(), ld, m, p, k, c.data());
        out.insert(out.end(), c.begin(), c.end());
        return out;
    });
    std::vector<T> expected(y_expected);
    expected.insert(expected.end(), c_expected.begin(), c_expected.end());
    expect(largest_difference(one, expected) <= 1e-11 * static_cast<double>(m), "project_out against the definition", m, k);
    expect(one == three, "project_out: 1 and 3 threads, the same bits", m, k);
}

template <class T>
void run_shapes(std::mt19937_64& rng) {
    run_projection<T>(rng, 50, 3, 2, 0);
    run_projection<T>(rng, rows_for_ranges(5, 3), 5, 4, 3);  // several ranges, padded
    run_projection<T>(rng, rows_for_ranges(3, 2), 0, 3, 0);  // an empty basis
    run_projection<T>(rng, 100, 4, 0, 1);  // an empty block
    for (const tall::Layout layout : {tall::Layout::kColumnMajor, tall::Layout::kRowMajor}) {
        const bool by_columns = layout == tall::Layout::kColumnMajor;
        const auto lead = [&](std::int64_t m, std::int64_t n, std::int64_t padding) { return (by_columns ? m : n) + padding; };
        run<T>(rng, 1, 1, 1, layout);
        run<T>(rng, 40, 7, lead(40, 7, 0), layout);
        run<T>(rng, 40, 7, lead(40, 7, 5), layout);  // a leading dimension past the rows (or columns)
        run<T>(rng, rows_for_ranges(3, 3), 3, lead(rows_for_ranges(3, 3), 3, 0), layout);  // several ranges
        run<T>(rng, rows_for_ranges(1, 2), 1, lead(rows_for_ranges(1, 2), 1, 1), layout);
        run<T>(rng, rows_for_ranges(20, 4), 20, lead(rows_for_ranges(20, 4), 20, 2), layout);  // several cache blocks a range
        run<T>(rng, rows_for_ranges(100, 3), 100, lead(rows_for_ranges(100, 3), 100, 0), layout);  // wide: short ranges
    }
}

}  // namespace

int main() {
    bytes_per_thread().store(1);
    dense::table().dsyrk = reinterpret_cast<void*>(&stand_in_herk<double>);
    dense::table().zherk = reinterpret_cast<void*>(&stand_in_herk<std::complex<double>>);
    dense::table().dgemv = reinterpret_cast<void*>(&stand_in_gemv<double>);
    dense::table().zgemv = reinterpret_cast<void*>(&stand_in_gemv<std::complex<double>>);
    dense::table().dgemm = reinterpret_cast<void*>(&stand_in_gemm<double>);
    dense::table().zgemm = reinterpret_cast<void*>(&stand_in_gemm<std::complex<double>>);
    dense::table().dtrmm = reinterpret_cast<void*>(&stand_in_triangular<double, false>);
    dense::table().ztrmm = reinterpret_cast<void*>(&stand_in_triangular<std::complex<double>, false>);
    dense::table().dtrsm = reinterpret_cast<void*>(&stand_in_triangular<double, true>);
    dense::table().ztrsm = reinterpret_cast<void*>(&stand_in_triangular<std::complex<double>, true>);
    std::mt19937_64 rng(20);
    run_shapes<double>(rng);
    run_shapes<std::complex<double>>(rng);
    return checks::report("test_tall_cpp");
}
