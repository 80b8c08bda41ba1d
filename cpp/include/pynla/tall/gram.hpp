// The passes of Cholesky QR and of least squares by its factor over a tall Y (m x n, m >= n),
// column- or row-major: its Gram matrix G = Y^H Y (with, optionally, the cross product C = Y^H B
// for a right-hand side B), and Y <- Y U or Y <- Y U^-1 for an upper triangular U (U = R^-1 or
// U = R: the new Y is A R^-1).
//
// Algorithm. Each works on contiguous ranges of rows (ranges.hpp), one BLAS call each
// (herk/syrk, gemm or gemv, trmm or trsm through the table) on one thread of pynla's pool; the
// caller holds the BLAS to one thread, so that the BLAS never splits a sum by its own thread
// count. G and C sum a few partials, one per range, in range order; the ranges depend only on
// m and n, so G and C are the same bits for any number of threads. Y U and Y U^-1 change each
// row alone.
// A row-major Y is the column-major Y^T (n x m): a range's Gram matrix is then conj(Y^T Y^T^H)
// (herk without transpose), its cross product (B^T conj(Y))^T (gemm), Y U is U^T Y^T and Y U^-1
// is U^-T Y^T (trmm and trsm from the left), so NumPy's C-ordered arrays need no transposing
// copy.
// In:  Y (m x n; column-major with leading dimension ld >= m, or row-major with ld >= n), U
//      (n x n, column-major, leading n), B (m x q, row-major, leading q).
// Out: G (n x n, column-major, leading n, both triangles), C (n x q, column-major, leading n),
//      or Y in place.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/tall/ranges.hpp"

namespace pynla::tall {

namespace detail {
// The bytes of Y the Gram matrix takes at a time, so that they are still in cache for Y^H B.
constexpr std::int64_t kCacheBytes = std::int64_t{1} << 19;
}  // namespace detail

// A right-hand side for gram: C = Y^H B for B (m x q, row-major, leading q), into c (n x q,
// column-major, leading n). Empty (q = 0) by default.
template <class T>
struct CrossProduct {
    const T* b = nullptr;
    std::int64_t q = 0;
    T* c = nullptr;
};

template <class T>
void gram(const T* y, std::int64_t ld, std::int64_t m, std::int64_t n, Layout layout, T* g,
          CrossProduct<T> cross = {}) {
    const std::vector<std::int64_t> bounds = detail::row_ranges(m, n);  // as without B: G the same bits
    const auto ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    const std::int64_t size = n * n, cross_size = n * cross.q;
    std::vector<T> partials(static_cast<std::size_t>(ranges * size)), cross_partials(static_cast<std::size_t>(ranges * cross_size));
    const auto columns = detail::blas_size(n, "n"), lead = detail::blas_size(std::max<std::int64_t>(ld, 1), "ld");
    const auto q = detail::blas_size(cross.q, "q");
    const bool by_columns = layout == Layout::kColumnMajor;
    parallel_for(ranges, detail::threads(m, n + cross.q, sizeof(T), ranges), [&](std::int64_t r, int) {
        // Blocks of a range small enough to stay in cache between the Gram and the cross products.
        const std::int64_t block = std::max<std::int64_t>(detail::kCacheBytes / (std::max<std::int64_t>(n, 1) * sizeof(T)), 64);
        std::vector<T> b_conj;
        for (std::int64_t first = bounds[r]; first < bounds[r + 1]; first += block) {
            const auto rows = detail::blas_size(std::min(block, bounds[r + 1] - first), "rows");
            const bool opening = first == bounds[r];
            const T* start = detail::row_start(y, ld, layout, first);
            dense::herk<T>('U', by_columns ? 'C' : 'N', columns, rows, RealOf<T>(1), start, lead, RealOf<T>(opening ? 0 : 1),
                           partials.data() + r * size, std::max<dense::fint>(columns, 1));
            if (q == 0 || columns == 0) continue;
            // B^T's columns from row `first` on: B's rows, as a column-major q x rows.
            const T* b_start = cross.b + first * cross.q;
            T* out = cross_partials.data() + r * cross_size;
            const T beta(opening ? 0 : 1);
            if (q == 1 && by_columns) {  // gemv: the BLAS's gemm with one column runs several times slower
                dense::gemv<T>('C', rows, columns, T(1), start, lead, b_start, beta, out);
            } else if (q == 1) {  // Y^H b = conj(Y^T conj(b)), and Y^T is the column-major matrix at hand
                b_conj.assign(b_start, b_start + rows);
                for (T& v : b_conj) v = conjugate(v);
                for (dense::fint i = 0; i < columns; ++i) out[i] = conjugate(out[i]);
                dense::gemv<T>('N', columns, rows, T(1), start, lead, b_conj.data(), beta, out);
                for (dense::fint i = 0; i < columns; ++i) out[i] = conjugate(out[i]);
            } else if (by_columns) {  // Y^H B, n x q
                dense::gemm<T>('C', 'T', columns, q, rows, T(1), start, lead, b_start, q, beta, out, columns);
            } else {  // B^T Y^T^H = (Y^H B)^T, q x n
                dense::gemm<T>('N', 'C', q, columns, rows, T(1), b_start, q, start, lead, beta, out, q);
            }
        }
    });
    for (std::int64_t j = 0; j < n; ++j) {  // the upper triangle, summed in range order
        for (std::int64_t i = 0; i <= j; ++i) {
            T sum = partials[j * n + i];
            for (std::int64_t r = 1; r < ranges; ++r) sum += partials[r * size + j * n + i];
            if constexpr (is_complex_v<T>) {
                if (!by_columns) sum = std::conj(sum);  // the ranges gave conj(G)
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
    for (std::int64_t k = 0; k < cross.q; ++k) {  // C, summed in range order
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t at = by_columns ? k * n + i : i * cross.q + k;  // in a range's partial
            T sum = cross_partials[at];
            for (std::int64_t r = 1; r < ranges; ++r) sum += cross_partials[r * cross_size + at];
            cross.c[k * n + i] = sum;
        }
    }
}

namespace detail {

// Y <- Y U (kMultiply) or Y <- Y U^-1 (kSolve) for upper triangular U, a BLAS call per range.
enum class Triangular { kMultiply, kSolve };

template <class T>
void apply_upper(T* y, std::int64_t ld, std::int64_t m, std::int64_t n, Layout layout, const T* u, Triangular how) {
    const std::vector<std::int64_t> bounds = row_ranges(m, n);
    const auto ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    const auto columns = blas_size(n, "n"), lead = blas_size(std::max<std::int64_t>(ld, 1), "ld");
    const auto routine = how == Triangular::kMultiply ? &dense::trmm<T> : &dense::trsm<T>;
    parallel_for(ranges, threads(m, n, sizeof(T), ranges),
                 [&](std::int64_t r, int) {
                     const auto rows = blas_size(bounds[r + 1] - bounds[r], "rows");
                     T* start = row_start(y, ld, layout, bounds[r]);
                     if (layout == Layout::kColumnMajor) {
                         routine('R', 'U', 'N', 'N', rows, columns, T(1), u, std::max<dense::fint>(columns, 1), start, lead);
                     } else {
                         routine('L', 'U', 'T', 'N', columns, rows, T(1), u, std::max<dense::fint>(columns, 1), start, lead);
                     }
                 });
}

}  // namespace detail

template <class T>
void times_upper(T* y, std::int64_t ld, std::int64_t m, std::int64_t n, Layout layout, const T* u) {
    detail::apply_upper(y, ld, m, n, layout, u, detail::Triangular::kMultiply);
}

template <class T>
void solve_upper(T* y, std::int64_t ld, std::int64_t m, std::int64_t n, Layout layout, const T* u) {
    detail::apply_upper(y, ld, m, n, layout, u, detail::Triangular::kSolve);
}

}  // namespace pynla::tall
