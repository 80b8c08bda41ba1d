// Sparse sketching matrices S (m x n) with k nonzeros per column, each +-scale in a distinct row:
// k = 1 and scale = 1 is CountSketch (Clarkson and Woodruff 2013), larger k the sparse sign
// embedding (Meng and Mahoney 2013; Tropp et al. 2017). S is stored by column (column i's rows
// and signs at [i k, (i + 1) k)), as it is drawn; kernels that build S A row by row list it by
// row first (SketchRows).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/sketch/random.hpp"

namespace pynla::sketch {

struct SparseSketchView {
    std::int64_t n_rows = 0;                // m, the sketch size
    std::int64_t n_cols = 0;                // n, the dimension sketched
    std::int64_t per_column = 0;            // k
    const std::int32_t* rows = nullptr;     // n k row indices, distinct within a column
    const std::int8_t* signs = nullptr;     // n k signs, +1 or -1
    double scale = 1.0;                     // every nonzero is sign * scale

    std::int64_t size() const { return n_cols * per_column; }
};

struct SparseSketch {
    std::int64_t n_rows = 0, n_cols = 0, per_column = 0;
    Buffer<std::int32_t> rows;
    Buffer<std::int8_t> signs;
};

// Draws columns [first, first + n) of S: column i uses draws [k i, k (i + 1)) of the stream
// `key`, so it does not depend on how columns are shared among threads, and any range of columns
// can be drawn alone (a row block of A, sketched where it is stored, takes its own). Rows are a uniform k-subset of [0, m) by Floyd's
// algorithm (each draw picks among j + 1 rows, taking row j itself if the pick is already in);
// a draw's row comes from its high bits (uniform_below) and its sign from its lowest bit, which
// moves the row by less than m / 2^64: the two are independent for any practical purpose.
// Requires 1 <= k <= m <= 2^31 - 1.
inline SparseSketch draw_sparse_sketch(std::int64_t m, std::int64_t n, std::int64_t k, std::uint64_t key,
                                       std::int64_t first = 0) {
    SparseSketch s{m, n, k, Buffer<std::int32_t>(n * k), Buffer<std::int8_t>(n * k)};
    const int n_threads = threads_for(16 * n * k);  // a hashed draw costs about 16 bytes' work
    const auto bounds = split_by_cost(n, tasks_for(n_threads), [](std::int64_t i) { return i; });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        // Locals, not captures: the int8 stores may alias anything, and would make the compiler
        // reload every captured value after each of them.
        const std::int64_t begin = bounds[task], end = bounds[task + 1], m_ = m, k_ = k;
        const std::uint64_t key_ = key;
        const auto first_ = static_cast<std::uint64_t>(first);
        std::int32_t* const all_rows = s.rows.data();
        std::int8_t* const all_signs = s.signs.data();
        // Signs are computed, not branched on: a branch on a fair coin mispredicts half the time.
        if (k_ == 1) {  // CountSketch: a draw per column, no subset to keep distinct
            for (std::int64_t i = begin; i < end; ++i) {
                const std::uint64_t bits = random_bits(key_, first_ + static_cast<std::uint64_t>(i));
                all_rows[i] = static_cast<std::int32_t>(uniform_below(bits, m_));
                all_signs[i] = static_cast<std::int8_t>(2 * static_cast<int>(bits & 1) - 1);
            }
            return;
        }
        for (std::int64_t i = begin; i < end; ++i) {
            std::int32_t* const rows = all_rows + i * k_;
            std::int8_t* const signs = all_signs + i * k_;
            for (std::int64_t t = 0; t < k_; ++t) {
                const std::uint64_t bits =
                    random_bits(key_, static_cast<std::uint64_t>(k_) * (first_ + static_cast<std::uint64_t>(i)) +
                                          static_cast<std::uint64_t>(t));
                const std::int64_t j = m_ - k_ + t;
                auto row = static_cast<std::int32_t>(uniform_below(bits, j + 1));
                if (std::find(rows, rows + t, row) != rows + t) row = static_cast<std::int32_t>(j);
                rows[t] = row;
                signs[t] = static_cast<std::int8_t>(2 * static_cast<int>(bits & 1) - 1);
            }
        }
    });
    return s;
}

// S listed by row: row r's nonzeros are sources[indptr[r] .. indptr[r + 1]) (their columns, in
// increasing order) with their signs.
struct SketchRowsView {
    const std::int64_t* indptr = nullptr;
    const std::int64_t* sources = nullptr;
    const std::int8_t* signs = nullptr;
};

struct SketchRows {
    Buffer<std::int64_t> indptr;
    Buffer<std::int64_t> sources;
    Buffer<std::int8_t> signs;

    SketchRowsView view() const { return {indptr.data(), sources.data(), signs.data()}; }
};

namespace detail {

// sort_by_sketch_row for k = K nonzeros per column (K = 0: k known only at run time). K = 1,
// CountSketch, is compiled apart: its loop over a column's nonzeros then disappears.
template <std::int64_t K, class Weight, class Move>
std::vector<std::int64_t> sort_by_sketch_row(const SparseSketchView& s, const std::vector<std::int64_t>& bounds,
                                             int n_threads, Weight& weight, Move& move) {
    const std::int64_t m = s.n_rows;
    const auto k = [&] {
        if constexpr (K == 0) return s.per_column; else return std::integral_constant<std::int64_t, K>{};
    }();
    const std::int32_t* const rows = s.rows;
    const std::int64_t n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;

    std::vector<std::int64_t> next(static_cast<std::size_t>(n_tasks * m), 0);  // task t, row r at t m + r
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int) {
        std::int64_t* const counts = next.data() + task * m;
        for (std::int64_t i = bounds[task], end = bounds[task + 1]; i < end; ++i) {
            const std::int64_t items = weight(i);
            for (std::int64_t p = i * k; p < (i + 1) * k; ++p) counts[rows[p]] += items;
        }
    });
    std::vector<std::int64_t> starts(static_cast<std::size_t>(m + 1));
    std::int64_t offset = 0;
    for (std::int64_t r = 0; r < m; ++r) {
        starts[r] = offset;
        for (std::int64_t task = 0; task < n_tasks; ++task) {
            const std::int64_t count = next[task * m + r];
            next[task * m + r] = offset;
            offset += count;
        }
    }
    starts[m] = offset;
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int) {
        move(task, bounds[task], bounds[task + 1], next.data() + task * m, k);
    });
    return starts;
}

}  // namespace detail

// A stable counting sort of the items S's columns bring to its rows, in parallel: column i
// brings weight(i) items to each row its nonzeros name. Task t takes a range of columns (cut by
// cumulative(i), as for split_by_cost), counts its items per row, and places them after those
// of the tasks before it, so every row lists its items in column order for any thread count.
// move(task, first, last, next, k) places the items of columns [first, last): those of column i
// for its nonzero p (row rows[p]) at next[rows[p]] onwards, advancing it; k is S's nonzeros per
// column (a std::integral_constant for CountSketch, so that loops over it disappear). Returns
// each row's first position (m + 1 of them). O(n k + tasks x m) time and memory.
template <class Cumulative, class Weight, class Move>
std::vector<std::int64_t> sort_by_sketch_row(const SparseSketchView& s, Cumulative&& cumulative, Weight&& weight,
                                             Move&& move) {
    // Each entry is counted, then moved: read and written twice, about 32 bytes' work.
    const int n_threads = threads_for(32 * s.per_column * cumulative(s.n_cols));
    // Tasks x m counters: keep them to a few million whatever m is.
    const std::int64_t max_tasks = std::max<std::int64_t>(1, (std::int64_t{1} << 22) / std::max<std::int64_t>(s.n_rows, 1));
    const auto bounds = split_by_cost(s.n_cols, std::min<std::int64_t>(n_threads * 4, max_tasks), cumulative);
    if (s.per_column == 1) return detail::sort_by_sketch_row<1>(s, bounds, n_threads, weight, move);
    return detail::sort_by_sketch_row<0>(s, bounds, n_threads, weight, move);
}

// S listed by row (each nonzero is one item of its column).
inline SketchRows sketch_rows(const SparseSketchView& s) {
    const std::int64_t size = s.size();
    SketchRows listing{Buffer<std::int64_t>(s.n_rows + 1), Buffer<std::int64_t>(size), Buffer<std::int8_t>(size)};
    const auto starts = sort_by_sketch_row(
        s, [](std::int64_t i) { return i; }, [](std::int64_t) { return std::int64_t{1}; },
        [&](std::int64_t, std::int64_t first, std::int64_t last, std::int64_t* next, auto k) {
            for (std::int64_t i = first; i < last; ++i) {
                for (std::int64_t p = i * k; p < (i + 1) * k; ++p) {
                    const std::int64_t q = next[s.rows[p]]++;
                    listing.sources[q] = i;
                    listing.signs[q] = s.signs[p];
                }
            }
        });
    std::copy(starts.begin(), starts.end(), listing.indptr.data());
    return listing;
}

}  // namespace pynla::sketch
