// The tall-skinny passes (pynla/tall/gram.hpp) under AddressSanitizer and UBSan: the Gram matrix
// Y^H Y and the in-place product Y U against plain loops, for float64 and complex128, column-
// and row-major, on shapes of one row range and of several (more rows than kMinRows), one
// column, a leading dimension past the rows (or columns); each on 1 and 3 threads, bit for bit (bytes_per_thread lowered to 1, so every
// pass takes every thread it may). The table's herk/syrk and trmm are plain stand-ins.
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

#include "checks.hpp"

namespace {

using namespace pynla;

using checks::draw;
using checks::expect;
using checks::on_1_and_3_threads;

// C = alpha op(A) + beta C on C's upper triangle, op(A) = A^H A (trans 'C' or 'T') or A A^H
// (trans 'N'), with the Fortran signature.
template <class T>
void stand_in_herk(const char* uplo, const char* trans, const int* n, const int* k, const RealOf<T>* alpha,
                   const T* a, const int* lda, const RealOf<T>* beta, T* c, const int* ldc) {
    if (*uplo != 'U') std::abort();
    const bool gram_of_columns = *trans != 'N';
    for (int j = 0; j < *n; ++j) {
        for (int i = 0; i <= j; ++i) {
            T sum{};
            for (int l = 0; l < *k; ++l) {
                sum += gram_of_columns ? conjugate(a[i * std::int64_t{*lda} + l]) * a[j * std::int64_t{*lda} + l]
                                       : a[l * std::int64_t{*lda} + i] * conjugate(a[l * std::int64_t{*lda} + j]);
            }
            T& out = c[j * std::int64_t{*ldc} + i];
            out = T(*alpha) * sum + (*beta == 0 ? T(0) : T(*beta) * out);
        }
    }
}

// B = alpha B A (side 'R', no transpose) or alpha A^T B (side 'L', trans 'T') for upper
// triangular A with a non-unit diagonal, in place.
template <class T>
void stand_in_trmm(const char* side, const char* uplo, const char* trans, const char* diag, const int* m, const int* n,
                   const T* alpha, const T* a, const int* lda, T* b, const int* ldb) {
    if (*uplo != 'U' || *diag != 'N') std::abort();
    const auto A = [&](int i, int j) { return a[j * std::int64_t{*lda} + i]; };
    const auto B = [&](int i, int j) -> T& { return b[j * std::int64_t{*ldb} + i]; };
    if (*side == 'R' && *trans == 'N') {
        std::vector<T> row(static_cast<std::size_t>(*n));
        for (int i = 0; i < *m; ++i) {
            for (int j = 0; j < *n; ++j) {
                T sum{};
                for (int l = 0; l <= j; ++l) sum += B(i, l) * A(l, j);
                row[j] = *alpha * sum;
            }
            for (int j = 0; j < *n; ++j) B(i, j) = row[j];
        }
    } else if (*side == 'L' && *trans == 'T') {
        std::vector<T> column(static_cast<std::size_t>(*m));
        for (int j = 0; j < *n; ++j) {
            for (int i = 0; i < *m; ++i) {
                T sum{};
                for (int l = 0; l <= i; ++l) sum += A(l, i) * B(l, j);
                column[i] = *alpha * sum;
            }
            for (int i = 0; i < *m; ++i) B(i, j) = column[i];
        }
    } else {
        std::abort();
    }
}

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
}

template <class T>
void run_shapes(std::mt19937_64& rng) {
    for (const tall::Layout layout : {tall::Layout::kColumnMajor, tall::Layout::kRowMajor}) {
        const bool by_columns = layout == tall::Layout::kColumnMajor;
        const auto lead = [&](std::int64_t m, std::int64_t n, std::int64_t padding) { return (by_columns ? m : n) + padding; };
        run<T>(rng, 1, 1, 1, layout);
        run<T>(rng, 40, 7, lead(40, 7, 0), layout);
        run<T>(rng, 40, 7, lead(40, 7, 5), layout);  // a leading dimension past the rows (or columns)
        run<T>(rng, tall::kMinRows * 3 + 5, 3, lead(tall::kMinRows * 3 + 5, 3, 0), layout);  // several ranges
        run<T>(rng, tall::kMinRows * 2 + 1, 1, lead(tall::kMinRows * 2 + 1, 1, 1), layout);
    }
}

}  // namespace

int main() {
    bytes_per_thread().store(1);
    dense::table().dsyrk = reinterpret_cast<void*>(&stand_in_herk<double>);
    dense::table().zherk = reinterpret_cast<void*>(&stand_in_herk<std::complex<double>>);
    dense::table().dtrmm = reinterpret_cast<void*>(&stand_in_trmm<double>);
    dense::table().ztrmm = reinterpret_cast<void*>(&stand_in_trmm<std::complex<double>>);
    std::mt19937_64 rng(20);
    run_shapes<double>(rng);
    run_shapes<std::complex<double>>(rng);
    return checks::report("test_tall_cpp");
}
