// The two passes of Cholesky QR over a tall Y (m x n, m >= n), column- or row-major: its Gram
// matrix G = Y^H Y, and Y <- Y U for an upper triangular U (U = R^-1: the new Y is A R^-1).
//
// Algorithm. Both work on contiguous ranges of rows, one BLAS call each (herk/syrk or trmm
// through the table) on one thread of pynla's pool; the caller holds the BLAS to one thread, so
// that the BLAS never splits a sum by its own thread count. The Gram matrix sums a few partial
// Gram matrices, one per range, in range order; the ranges depend only on m and n, so G is the
// same bits for any number of threads. Y U changes each row alone. The ranges are at least
// kMinRows long (a call per range then costs far more than its start-up), at most kMaxRanges of
// them, and their partials take at most a quarter of Y's memory.
// A row-major Y is the column-major B = Y^T (n x m): a range's Gram matrix is then conj(B B^H)
// (herk without transpose), and Y U is U^T B (trmm from the left), so NumPy's C-ordered arrays
// need no transposing copy.
// In:  Y (m x n; column-major with leading dimension ld >= m, or row-major with ld >= n), U
//      (n x n, column-major, leading n).
// Out: G (n x n, column-major, leading n, both triangles), or Y in place.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"

namespace pynla::tall {

constexpr std::int64_t kMinRows = 4096;
constexpr std::int64_t kMaxRanges = 16;

enum class Layout { kColumnMajor, kRowMajor };

namespace detail {

inline dense::fint blas_size(std::int64_t value, const char* name) {
    PYNLA_REQUIRE(value <= std::int64_t{0x7fffffff}, std::string("tall: ") + name + " passes the BLAS's 32-bit sizes");
    return static_cast<dense::fint>(value);
}

// The cut of m rows into ranges for a matrix of n columns: [bounds[r], bounds[r + 1]).
inline std::vector<std::int64_t> row_ranges(std::int64_t m, std::int64_t n) {
    const std::int64_t by_memory = m / std::max<std::int64_t>(4 * n, 1);  // partials: n^2 each, <= m n / 4
    const std::int64_t count = std::clamp<std::int64_t>(std::min({kMaxRanges, by_memory, m / kMinRows}), 1, kMaxRanges);
    std::vector<std::int64_t> bounds(static_cast<std::size_t>(count + 1));
    for (std::int64_t r = 0; r <= count; ++r) bounds[r] = m / count * r + std::min(r, m % count);
    return bounds;
}

// Threads for a pass over Y's m x n entries of `item` bytes, cut into `ranges` ranges.
inline int threads(std::int64_t m, std::int64_t n, std::size_t item, std::int64_t ranges) {
    return threads_for(m * n * static_cast<std::int64_t>(item), static_cast<int>(std::min<std::int64_t>(max_threads(), ranges)));
}

// Where row `row` of Y starts.
template <class T>
T* row_start(T* y, std::int64_t ld, Layout layout, std::int64_t row) {
    return layout == Layout::kColumnMajor ? y + row : y + row * ld;
}

}  // namespace detail

template <class T>
void gram(const T* y, std::int64_t ld, std::int64_t m, std::int64_t n, Layout layout, T* g) {
    const std::vector<std::int64_t> bounds = detail::row_ranges(m, n);
    const auto ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    const std::int64_t size = n * n;
    std::vector<T> partials(static_cast<std::size_t>(ranges * size));
    const auto columns = detail::blas_size(n, "n"), lead = detail::blas_size(std::max<std::int64_t>(ld, 1), "ld");
    parallel_for(ranges, detail::threads(m, n, sizeof(T), ranges),
                 [&](std::int64_t r, int) {
                     const auto rows = detail::blas_size(bounds[r + 1] - bounds[r], "rows");
                     dense::herk<T>('U', layout == Layout::kColumnMajor ? 'C' : 'N', columns, rows, RealOf<T>(1),
                                    detail::row_start(y, ld, layout, bounds[r]), lead, RealOf<T>(0),
                                    partials.data() + r * size, std::max<dense::fint>(columns, 1));
                 });
    for (std::int64_t j = 0; j < n; ++j) {  // the upper triangle, summed in range order
        for (std::int64_t i = 0; i <= j; ++i) {
            T sum = partials[j * n + i];
            for (std::int64_t r = 1; r < ranges; ++r) sum += partials[r * size + j * n + i];
            if constexpr (is_complex_v<T>) {
                if (layout == Layout::kRowMajor) sum = std::conj(sum);  // the ranges gave conj(G)
            }
            g[j * n + i] = sum;
        }
    }
    for (std::int64_t j = 0; j < n; ++j) {  // the lower triangle, by symmetry
        for (std::int64_t i = j + 1; i < n; ++i) {
            if constexpr (is_complex_v<T>) {
                g[j * n + i] = std::conj(g[i * n + j]);
            } else {
                g[j * n + i] = g[i * n + j];
            }
        }
        if constexpr (is_complex_v<T>) g[j * n + j] = T(std::real(g[j * n + j]));  // herk's diagonal is real
    }
}

template <class T>
void times_upper(T* y, std::int64_t ld, std::int64_t m, std::int64_t n, Layout layout, const T* u) {
    const std::vector<std::int64_t> bounds = detail::row_ranges(m, n);
    const auto ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    const auto columns = detail::blas_size(n, "n"), lead = detail::blas_size(std::max<std::int64_t>(ld, 1), "ld");
    parallel_for(ranges, detail::threads(m, n, sizeof(T), ranges),
                 [&](std::int64_t r, int) {
                     const auto rows = detail::blas_size(bounds[r + 1] - bounds[r], "rows");
                     T* start = detail::row_start(y, ld, layout, bounds[r]);
                     if (layout == Layout::kColumnMajor) {
                         dense::trmm<T>('R', 'U', 'N', 'N', rows, columns, T(1), u, std::max<dense::fint>(columns, 1),
                                        start, lead);
                     } else {
                         dense::trmm<T>('L', 'U', 'T', 'N', columns, rows, T(1), u, std::max<dense::fint>(columns, 1),
                                        start, lead);
                     }
                 });
}

}  // namespace pynla::tall
