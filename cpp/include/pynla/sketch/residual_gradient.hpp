// G = A^H (B - A X) and the squared column norms of B - A X, in one pass over a dense A (n x d):
// the step of iterative least-squares solvers, which would otherwise read A twice (A X, then
// A^H R). Rows are taken in chunks of kChunkRows: a chunk's residual is formed and used while
// its rows are in cache. Each chunk sums into its own partial G, and the partials are added in
// chunk order, so the result does not depend on the thread count.
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <utility>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/matrix_view.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"

namespace pynla::sketch {

template <class T>
struct ResidualGradient {
    Buffer<T> gradient;                // d x q, C order
    Buffer<RealOf<T>> residual_norms;  // q squared norms
};

namespace detail {

template <class T>
inline RealOf<T> squared_magnitude(const T& v) {
    if constexpr (is_complex_v<T>) return std::norm(v); else return v * v;
}

// The partial G's (n_chunks blocks of `size` entries) and squared norms (n_chunks blocks of q)
// added in chunk order, the entries of G shared among the threads: the same bits for any count.
template <class T>
ResidualGradient<T> sum_partials(const std::vector<T>& partial_g, const std::vector<RealOf<T>>& partial_norms,
                                 std::int64_t n_chunks, std::int64_t size, std::int64_t q, int n_threads) {
    ResidualGradient<T> result{Buffer<T>(size), Buffer<RealOf<T>>(q)};
    const auto bounds = split_by_cost(size, n_threads, [&](std::int64_t e) { return e; });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t e = bounds[task]; e < bounds[task + 1]; ++e) {
            T sum = T(0);
            for (std::int64_t chunk = 0; chunk < n_chunks; ++chunk) sum += partial_g[chunk * size + e];
            result.gradient[e] = sum;
        }
    });
    for (std::int64_t c = 0; c < q; ++c) {
        RealOf<T> sum = 0;
        for (std::int64_t chunk = 0; chunk < n_chunks; ++chunk) sum += partial_norms[chunk * q + c];
        result.residual_norms[c] = sum;
    }
    return result;
}

// One chunk of rows [i0, i1), rows of A contiguous: per row, r = b - a x, then g += a^H r.
template <class T>
PYNLA_ALWAYS_INLINE void chunk_by_rows(const MatrixView<T>& a, const T* x, const T* b, std::int64_t q, std::int64_t i0,
                   std::int64_t i1, T* g, RealOf<T>* norms, std::vector<T>& residual) {
    const std::int64_t d = a.n_cols;
    residual.resize(static_cast<std::size_t>(q));
    std::vector<RealOf<T>> chunk_norms(static_cast<std::size_t>(q), RealOf<T>(0));
    for (std::int64_t i = i0; i < i1; ++i) {
        const T* __restrict const row = a.row(i);
        T* __restrict const r = residual.data();
        if (q == 1) {  // one right-hand side: a dot product and an axpy, both vectorized
            r[0] = b[i] - dot<false>(row, x, d);
            const T r0 = r[0];
            for (std::int64_t j = 0; j < d; ++j) g[j] += conjugate(row[j]) * r0;
        } else {
            std::copy(b + i * q, b + (i + 1) * q, r);
            for (std::int64_t j = 0; j < d; ++j) {
                for (std::int64_t c = 0; c < q; ++c) r[c] -= row[j] * x[j * q + c];
            }
            for (std::int64_t j = 0; j < d; ++j) {
                const T a_conj = conjugate(row[j]);
                for (std::int64_t c = 0; c < q; ++c) g[j * q + c] += a_conj * r[c];
            }
        }
        for (std::int64_t c = 0; c < q; ++c) chunk_norms[c] += squared_magnitude(r[c]);
    }
    // Written once: neighbouring chunks' norms share a cache line, and chunks run on different
    // threads (a write per row made 2 threads slower than 1: 31 against 25 ms).
    std::copy(chunk_norms.begin(), chunk_norms.end(), norms);
}

// chunk_by_rows compiled for the x86-64 baseline and for AVX2: its sums keep their order in
// both (eight running sums, lane by lane), so the two give the same bits.
template <class T>
void chunk_by_rows_plain(const MatrixView<T>& a, const T* x, const T* b, std::int64_t q, std::int64_t i0,
                         std::int64_t i1, T* g, RealOf<T>* norms, std::vector<T>& residual) {
    chunk_by_rows(a, x, b, q, i0, i1, g, norms, residual);
}

template <class T>
PYNLA_TARGET_AVX2 void chunk_by_rows_avx2(const MatrixView<T>& a, const T* x, const T* b, std::int64_t q,
                                          std::int64_t i0, std::int64_t i1, T* g, RealOf<T>* norms,
                                          std::vector<T>& residual) {
    chunk_by_rows(a, x, b, q, i0, i1, g, norms, residual);
}

// One chunk of rows [i0, i1), columns of A contiguous: R = B - A X by columns, then G = A^H R
// by dot products down the columns.
template <class T>
void chunk_by_columns(const MatrixView<T>& a, const T* x, const T* b, std::int64_t q, std::int64_t i0,
                      std::int64_t i1, T* g, RealOf<T>* norms, std::vector<T>& residual) {
    const std::int64_t d = a.n_cols, length = i1 - i0;
    residual.resize(static_cast<std::size_t>(length * q));
    T* __restrict const r = residual.data();  // column c at c * length
    for (std::int64_t c = 0; c < q; ++c) {
        for (std::int64_t t = 0; t < length; ++t) r[c * length + t] = b[(i0 + t) * q + c];
    }
    for (std::int64_t j = 0; j < d; ++j) {
        const T* __restrict const column = a.column(j) + i0;
        for (std::int64_t c = 0; c < q; ++c) {
            const T coefficient = x[j * q + c];
            for (std::int64_t t = 0; t < length; ++t) r[c * length + t] -= column[t] * coefficient;
        }
    }
    for (std::int64_t j = 0; j < d; ++j) {
        for (std::int64_t c = 0; c < q; ++c) g[j * q + c] = dot<true>(a.column(j) + i0, r + c * length, length);
    }
    for (std::int64_t c = 0; c < q; ++c) {
        RealOf<T> norm = 0;  // summed apart from norms: see chunk_by_rows
        for (std::int64_t t = 0; t < length; ++t) norm += squared_magnitude(r[c * length + t]);
        norms[c] = norm;
    }
}

}  // namespace detail

// A with contiguous rows (col_stride 1) or contiguous columns (row_stride 1); X is d x q and B
// n x q, both C order.
template <class T>
ResidualGradient<T> residual_gradient(const MatrixView<T>& a, const T* x, const T* b, std::int64_t q) {
    constexpr std::int64_t kChunkRows = 256;
    const std::int64_t n = a.n_rows, d = a.n_cols;
    const std::int64_t n_chunks = (n + kChunkRows - 1) / kChunkRows;
    std::vector<T> partial_g(static_cast<std::size_t>(n_chunks * d * q), T(0));
    std::vector<RealOf<T>> partial_norms(static_cast<std::size_t>(n_chunks * q), RealOf<T>(0));
    const int n_threads = threads_for(n * d * std::max<std::int64_t>(q, 1) * static_cast<std::int64_t>(sizeof(T)));
    std::vector<std::vector<T>> residuals(static_cast<std::size_t>(n_threads));
    const bool by_rows = a.col_stride == 1 || d <= 1;
    const bool wide = !is_complex_v<T> && use_avx2();
    parallel_for(n_chunks, n_threads, [&](std::int64_t chunk, int thread) {
        const std::int64_t i0 = chunk * kChunkRows, i1 = std::min(n, i0 + kChunkRows);
        T* const g = partial_g.data() + chunk * d * q;
        RealOf<T>* const norms = partial_norms.data() + chunk * q;
        auto& residual = residuals[static_cast<std::size_t>(thread)];
        if (by_rows && wide) detail::chunk_by_rows_avx2(a, x, b, q, i0, i1, g, norms, residual);
        else if (by_rows) detail::chunk_by_rows_plain(a, x, b, q, i0, i1, g, norms, residual);
        else detail::chunk_by_columns(a, x, b, q, i0, i1, g, norms, residual);
    });

    return detail::sum_partials(partial_g, partial_norms, n_chunks, d * q, q, n_threads);
}

}  // namespace pynla::sketch
