// S A for a sparse sketch S (sparse_sketch.hpp) and a dense A (n x d): Y = S A, m x d, C order.
// Two loop orders, one per layout of A, both summing each Y(r, j) over S's nonzeros in row r in
// increasing column order, so Y has the same bits for either layout and any thread count (and,
// for CountSketch, the bits of SciPy's clarkson_woodruff_transform, which sums in that order):
//   - rows of A contiguous: Y's rows are shared among threads; row r gathers the rows of A that
//     S's row r names (one pass over A, rows read whole, the next ones prefetched);
//   - otherwise (columns contiguous, or any strides): groups of columns are shared among threads;
//     each streams its columns of A once and adds every row into an m x G tile of Y in cache.
// Cost O(nnz(S) d) either way: for CountSketch, one pass over A.
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <utility>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/matrix_view.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/sketch/sparse_sketch.hpp"

namespace pynla::sketch {

// Prefetches a row of `length` values, one touch per cache line.
template <class T>
inline void prefetch_row(const T* row, std::int64_t length) {
    const char* const begin = reinterpret_cast<const char*>(row);
    const char* const end = reinterpret_cast<const char*>(row + length);
    for (const char* p = begin; p < end; p += 64) __builtin_prefetch(p);
}

template <class T>
inline void scale_values(T* values, std::int64_t n, double scale) {
    if (scale == 1.0) return;
    using Real = decltype(std::real(std::declval<T>()));
    const auto factor = static_cast<Real>(scale);
    for (std::int64_t j = 0; j < n; ++j) values[j] *= factor;
}

// Y(r, :) for every r, from A's rows (A.col_stride == 1).
template <class T>
Buffer<T> sketch_by_rows(const SketchRowsView& s_rows, std::int64_t m, double scale, const MatrixView<T>& a) {
    const std::int64_t d = a.n_cols;
    Buffer<T> y(m * d);
    constexpr std::int64_t kAhead = 4;  // rows of A in flight: enough to cover memory latency
    const int n_threads = max_threads();
    const auto bounds = split_by_cost(m, n_threads * kTasksPerThread,
                                      [&](std::int64_t r) { return (s_rows.indptr[r] + r) * (d + 1); });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t r = bounds[task]; r < bounds[task + 1]; ++r) {
            T* __restrict const out = y.data() + r * d;
            std::fill(out, out + d, T(0));
            const std::int64_t begin = s_rows.indptr[r], end = s_rows.indptr[r + 1];
            for (std::int64_t p = begin; p < end; ++p) {
                if (p + kAhead < end) prefetch_row(a.row(s_rows.sources[p + kAhead]), d);
                const T* __restrict const source = a.row(s_rows.sources[p]);
                if (s_rows.signs[p] > 0) {
                    for (std::int64_t j = 0; j < d; ++j) out[j] += source[j];
                } else {
                    for (std::int64_t j = 0; j < d; ++j) out[j] -= source[j];
                }
            }
            scale_values(out, d, scale);
        }
    });
    return y;
}

// Y(:, j) for every j, any strides: each task takes a group of up to kGroup columns, streams
// down them and adds every row into an m x kGroup tile. When rows are contiguous, groups start
// on cache lines (as row 0 is aligned), so that a line of A is read by one task only.
template <class T>
Buffer<T> sketch_by_columns(const SparseSketchView& s, const MatrixView<T>& a) {
    const std::int64_t m = s.n_rows, n = s.n_cols, d = a.n_cols, k = s.per_column;
    constexpr std::int64_t kGroup = 64 / sizeof(T) > 1 ? 64 / sizeof(T) : 1;  // a cache line of values
    std::vector<std::int64_t> starts{0};
    if (a.col_stride == 1) {
        const auto misalignment = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(a.data) % 64);
        const std::int64_t lead = misalignment % static_cast<std::int64_t>(sizeof(T)) == 0
                                      ? (64 - misalignment) % 64 / static_cast<std::int64_t>(sizeof(T)) : 0;
        if (lead > 0 && lead < d) starts.push_back(lead);
    }
    while (starts.back() + kGroup < d) starts.push_back(starts.back() + kGroup);
    starts.push_back(d);
    Buffer<T> y(m * d);
    const int n_threads = max_threads();
    std::vector<std::vector<T>> tiles(static_cast<std::size_t>(n_threads));
    parallel_for(static_cast<std::int64_t>(starts.size()) - 1, n_threads, [&](std::int64_t group, int thread) {
        const std::int64_t j0 = starts[group], width = starts[group + 1] - j0;
        std::vector<T>& tile = tiles[static_cast<std::size_t>(thread)];
        tile.assign(static_cast<std::size_t>(m * kGroup), T(0));
        T* const y_tile = tile.data();
        for (std::int64_t i = 0; i < n; ++i) {
            T values[kGroup];
            for (std::int64_t g = 0; g < width; ++g) values[g] = a(i, j0 + g);
            for (std::int64_t p = i * k; p < (i + 1) * k; ++p) {
                T* const out = y_tile + static_cast<std::int64_t>(s.rows[p]) * kGroup;
                if (s.signs[p] > 0) {
                    for (std::int64_t g = 0; g < width; ++g) out[g] += values[g];
                } else {
                    for (std::int64_t g = 0; g < width; ++g) out[g] -= values[g];
                }
            }
        }
        for (std::int64_t r = 0; r < m; ++r) {
            std::copy(y_tile + r * kGroup, y_tile + r * kGroup + width, y.data() + r * d + j0);
            scale_values(y.data() + r * d + j0, width, s.scale);
        }
    });
    return y;
}

}  // namespace pynla::sketch
