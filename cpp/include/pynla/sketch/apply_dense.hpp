// S A for a sparse sketch S (sparse_sketch.hpp) and a dense A (n x d): Y = S A, m x d, C order.
// Three loop orders, by A's layout and Y's size; in each, every entry of Y is a sum in an order
// fixed by the sizes alone, so Y has the same bits for any thread count:
//   - rows of A contiguous, Y small (sketch_by_row_parts): A is cut into kParts ranges of rows,
//     each read in order (a stream) and added into a Y of its own, kept in cache; the kParts
//     Ys are then added in order. About one pass over A, on kParts threads at most.
//   - rows of A contiguous, Y large (sketch_by_rows): Y's rows are shared among threads; row r
//     gathers the rows of A that S's row r names, prefetched ahead. One pass over A, in random
//     order of rows, for CountSketch; k passes for k nonzeros per column.
//   - rows of A contiguous, Y large, k > 1 and m small (sketch_by_column_blocks): blocks of
//     columns are shared among threads; each streams its block of every row of A once and adds
//     it into the k rows of an m x W tile kept in the L2 cache. One pass over A for any k.
//   - other layouts (sketch_by_columns): groups of columns are shared among threads; each streams
//     its columns of A once and adds every row into an m x G tile of Y in cache.
// Cost O(nnz(S) d) in every case: for CountSketch, one pass over A.
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <utility>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/matrix_view.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"
#include "pynla/sketch/sparse_sketch.hpp"

namespace pynla::sketch {

// out[0, n) += source[0, n) for sign +1, -= for sign -1.
template <class T>
PYNLA_ALWAYS_INLINE void add_signed_body(T* __restrict out, const T* __restrict source, std::int64_t n,
                                         std::int8_t sign) {
    if (sign > 0) {
        for (std::int64_t j = 0; j < n; ++j) out[j] += source[j];
    } else {
        for (std::int64_t j = 0; j < n; ++j) out[j] -= source[j];
    }
}
template <class T>
void add_signed_plain(T* __restrict out, const T* __restrict source, std::int64_t n, std::int8_t sign) {
    add_signed_body(out, source, n, sign);
}
template <class T>
PYNLA_TARGET_AVX2 void add_signed_avx2(T* __restrict out, const T* __restrict source, std::int64_t n,
                                       std::int8_t sign) {
    add_signed_body(out, source, n, sign);
}

// add_signed_body in its AVX2 copy when `wide` (use_avx2(), asked once per kernel): the adds
// are lane-wise, so both copies give the same bits; AVX2 makes the sketch of the bench's dense
// 200000 x 200 matrix 10% faster (16.8 against 19.0 ms at 2 threads, medians of 8 A/B rounds).
template <class T>
inline void add_signed(T* __restrict out, const T* __restrict source, std::int64_t n, std::int8_t sign, bool wide) {
    if (wide) {
        add_signed_avx2(out, source, n, sign);
    } else {
        add_signed_plain(out, source, n, sign);
    }
}

// Prefetches a row of `length` values, one touch per cache line.
template <class T>
inline void prefetch_row(const T* row, std::int64_t length) {
    const char* const begin = reinterpret_cast<const char*>(row);
    const char* const end = reinterpret_cast<const char*>(row + length);
    for (const char* p = begin; p < end; p += kCacheLineBytes) __builtin_prefetch(p);
}

template <class T>
inline void scale_values(T* values, std::int64_t n, double scale) {
    if (scale == 1.0) return;
    const auto factor = static_cast<RealOf<T>>(scale);
    for (std::int64_t j = 0; j < n; ++j) values[j] *= factor;
}

// Y(r, :) for every r, from A's rows (A.col_stride == 1), S listed by row.
template <class T>
Buffer<T> sketch_by_rows(const SketchRowsView& s_rows, std::int64_t m, double scale, const MatrixView<T>& a) {
    const std::int64_t d = a.n_cols;
    Buffer<T> y(m * d);
    constexpr std::int64_t kAhead = 4;  // rows of A in flight: enough to cover memory latency
    const int n_threads = threads_for((s_rows.indptr[m] + m) * d * static_cast<std::int64_t>(sizeof(T)));
    const bool wide = use_avx2();
    const auto bounds = split_by_cost(m, tasks_for(n_threads),
                                      [&](std::int64_t r) { return (s_rows.indptr[r] + r) * (d + 1); });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t r = bounds[task]; r < bounds[task + 1]; ++r) {
            T* __restrict const out = y.data() + r * d;
            std::fill(out, out + d, T(0));
            const std::int64_t begin = s_rows.indptr[r], end = s_rows.indptr[r + 1];
            for (std::int64_t p = begin; p < end; ++p) {
                if (p + kAhead < end) prefetch_row(a.row(s_rows.sources[p + kAhead]), d);
                const T* __restrict const source = a.row(s_rows.sources[p]);
                add_signed(out, source, d, s_rows.signs[p], wide);
            }
            scale_values(out, d, scale);
        }
    });
    return y;
}

// Y = S A streaming A's rows in order (A.col_stride == 1), for a Y small enough to be summed in
// `parts` copies: part q adds rows [n q / parts, n (q + 1) / parts) of A, read in order, into a
// Y of its own (part 0 into the result itself); then the other parts' Ys are added in order.
template <class T>
Buffer<T> sketch_by_row_parts(const SparseSketchView& s, const MatrixView<T>& a, std::int64_t parts) {
    const std::int64_t m = s.n_rows, n = s.n_cols, d = a.n_cols, k = s.per_column, size = m * d;
    Buffer<T> y(size);
    Buffer<T> partial((parts - 1) * size);
    const int n_threads = threads_for((n * k + parts * m) * d * static_cast<std::int64_t>(sizeof(T)));
    const bool wide = use_avx2();
    parallel_for(parts, n_threads, [&](std::int64_t part, int) {
        T* const sums = part == 0 ? y.data() : partial.data() + (part - 1) * size;
        std::fill(sums, sums + size, T(0));
        for (std::int64_t i = n * part / parts; i < n * (part + 1) / parts; ++i) {
            const T* __restrict const source = a.row(i);
            for (std::int64_t p = i * k; p < (i + 1) * k; ++p) {
                T* __restrict const out = sums + static_cast<std::int64_t>(s.rows[p]) * d;
                add_signed(out, source, d, s.signs[p], wide);
            }
        }
    });
    const auto bounds = split_by_cost(size, tasks_for(n_threads), [](std::int64_t e) { return e; });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        const std::int64_t e0 = bounds[task], e1 = bounds[task + 1];
        for (std::int64_t part = 1; part < parts; ++part) {
            const T* __restrict const add = partial.data() + (part - 1) * size;
            for (std::int64_t e = e0; e < e1; ++e) y[e] += add[e];
        }
        scale_values(y.data() + e0, e1 - e0, s.scale);
    });
    return y;
}

// Adds row i of A's columns [j0, j0 + width) into the rows of the m x kWidth tile that S's
// column i names. A full group (width == kWidth) takes the unrolled branch.
template <std::int64_t kWidth, class T>
PYNLA_ALWAYS_INLINE void add_row_to_tile(const SparseSketchView& s, const MatrixView<T>& a, std::int64_t i,
                                         std::int64_t j0, std::int64_t width, T* tile) {
    T values[kWidth] = {};
    const T* const row = a.row(i);
    for (std::int64_t g = 0; g < width; ++g) values[g] = row[(j0 + g) * a.col_stride];
    const std::int64_t k = s.per_column;
    for (std::int64_t p = i * k; p < (i + 1) * k; ++p) {
        T* __restrict const out = tile + static_cast<std::int64_t>(s.rows[p]) * kWidth;
        const bool add = s.signs[p] > 0;
        if (width == kWidth) {
            for (std::int64_t g = 0; g < kWidth; ++g) out[g] = add ? out[g] + values[g] : out[g] - values[g];
        } else {
            for (std::int64_t g = 0; g < width; ++g) out[g] = add ? out[g] + values[g] : out[g] - values[g];
        }
    }
}

// Y(:, j) for every j, any strides: each task takes a group of up to kWidth columns, streams
// down them and adds every row into an m x kWidth tile, kept in the L2 cache. When rows are
// contiguous, groups start on cache lines (where row 0's do), so a line of A is read by one task.
template <class T>
Buffer<T> sketch_by_columns(const SparseSketchView& s, const MatrixView<T>& a) {
    const std::int64_t m = s.n_rows, n = s.n_cols, d = a.n_cols;
    constexpr std::int64_t kWidth = 128 / sizeof(T) > 1 ? 128 / sizeof(T) : 1;  // two cache lines of values
    std::vector<std::int64_t> starts{0};
    if (a.col_stride == 1) {
        const auto misalignment = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(a.data) % 64);
        const std::int64_t lead = misalignment % static_cast<std::int64_t>(sizeof(T)) == 0
                                      ? (64 - misalignment) % 64 / static_cast<std::int64_t>(sizeof(T)) : 0;
        if (lead > 0 && lead < d) starts.push_back(lead);
    }
    while (starts.back() + kWidth < d) starts.push_back(starts.back() + kWidth);
    starts.push_back(d);
    Buffer<T> y(m * d);
    const int n_threads = threads_for((a.n_rows + m) * d * static_cast<std::int64_t>(sizeof(T)));
    std::vector<std::vector<T>> tiles(static_cast<std::size_t>(n_threads));
    parallel_for(static_cast<std::int64_t>(starts.size()) - 1, n_threads, [&](std::int64_t group, int thread) {
        const std::int64_t j0 = starts[group], width = starts[group + 1] - j0;
        std::vector<T>& tile = tiles[static_cast<std::size_t>(thread)];
        tile.assign(static_cast<std::size_t>(m * kWidth), T(0));
        for (std::int64_t i = 0; i < n; ++i) add_row_to_tile<kWidth>(s, a, i, j0, width, tile.data());
        for (std::int64_t r = 0; r < m; ++r) {
            std::copy(tile.data() + r * kWidth, tile.data() + r * kWidth + width, y.data() + r * d + j0);
            scale_values(y.data() + r * d + j0, width, s.scale);
        }
    });
    return y;
}

// Y(:, j) for every j, rows of A contiguous: each task takes a block of `width` columns (a
// multiple of 64 bytes of values) and streams that block of every row of A, in order, into the
// rows of an m x width tile that S's column names; then writes the tile into Y, scaled.
template <class T>
Buffer<T> sketch_by_column_blocks(const SparseSketchView& s, const MatrixView<T>& a, std::int64_t width) {
    const std::int64_t m = s.n_rows, n = s.n_cols, d = a.n_cols, k = s.per_column;
    Buffer<T> y(m * d);
    const int n_threads = threads_for((n * k + m) * d * static_cast<std::int64_t>(sizeof(T)));
    const bool wide = use_avx2();
    std::vector<std::vector<T>> tiles(static_cast<std::size_t>(n_threads));
    parallel_for((d + width - 1) / width, n_threads, [&](std::int64_t block, int thread) {
        const std::int64_t j0 = block * width, block_width = std::min(width, d - j0);
        std::vector<T>& tile = tiles[static_cast<std::size_t>(thread)];
        tile.assign(static_cast<std::size_t>(m * width), T(0));
        for (std::int64_t i = 0; i < n; ++i) {
            const T* const source = a.row(i) + j0;
            for (std::int64_t p = i * k; p < (i + 1) * k; ++p) {
                add_signed(tile.data() + static_cast<std::int64_t>(s.rows[p]) * width, source, block_width, s.signs[p],
                           wide);
            }
        }
        for (std::int64_t r = 0; r < m; ++r) {
            std::copy(tile.data() + r * width, tile.data() + r * width + block_width, y.data() + r * d + j0);
            scale_values(y.data() + r * d + j0, block_width, s.scale);
        }
    });
    return y;
}

// Y = S A (m x d, C order) for any A: the loop order that suits A's layout and Y's size.
template <class T>
Buffer<T> sketch_dense(const SparseSketchView& s, const MatrixView<T>& a) {
    // Each part costs a pass over Y, and keeps one thread busy: 200000 x 200 to 2000 rows on 2
    // threads takes 11.9 ms in 2 parts, 12.3-13.2 in 4, against 10.4 for one pass over A. More
    // threads on one part would each pull all of its rows of A through the cache, as the
    // hardware prefetcher brings them the other threads' share too (one part on 2 threads,
    // sharing A's columns: 34 ms; sharing Y's rows: 21 ms).
    constexpr std::int64_t kParts = 2;
    constexpr std::int64_t kPartsBytes = std::int64_t{4} << 20;  // a Y that stays in cache
    constexpr std::int64_t kTileBytes = std::int64_t{1} << 18;   // a tile that stays in L2 (half of it)
    constexpr std::int64_t kMinBlockBytes = 512;                 // blocks of 8 cache lines or more
    if (a.col_stride != 1 && a.n_cols > 1) return sketch_by_columns(s, a);
    const auto item = static_cast<std::int64_t>(sizeof(T));
    if (s.n_rows * a.n_cols * item <= kPartsBytes) return sketch_by_row_parts(s, a, kParts);
    // Gathering reads A once per nonzero of S's columns: past one, stream column blocks instead,
    // if a tile of m rows is still wide enough to stream well.
    const std::int64_t block_bytes = kTileBytes / s.n_rows / 64 * 64;
    if (s.per_column > 1 && block_bytes >= kMinBlockBytes && block_bytes % item == 0) {
        return sketch_by_column_blocks(s, a, block_bytes / item);
    }
    const SketchRows rows = sketch_rows(s);
    return sketch_by_rows(rows.view(), s.n_rows, s.scale, a);
}

}  // namespace pynla::sketch
