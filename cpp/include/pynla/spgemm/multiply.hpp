// Sparse x sparse product C = A B, row by row (Gustavson, ACM TOMS 4(3), 1978).
//
// Algorithm. Row i of C is the sum over the entries A(i, k) of A(i, k) * B(k, :).
//   0. flops(i) = sum over A(i, k) of nnz(B(k, :)), the number of products row i makes.
//      Rows are cut into tasks of about equal flops (not equal row counts).
//   1. Symbolic pass: count the distinct columns of each row -> C.indptr (exact size, so the
//      output is allocated once, at its final size, and handed to numpy without a copy).
//   2. Numeric pass: sum each row into its slot at C.indptr[i].
// Each row is summed in a per-thread accumulator chosen by the row's shape: a dense window over
// its column span when that span is narrow or densely hit (window_accumulator.hpp: banded,
// stencil and dense rows, sorted for free), else a hash table sized to the row
// (hash_accumulator.hpp: scattered rows of graphs and power-law matrices).
//
// In:   CSR views; column indices may be unsorted and may repeat (repeats are summed).
// Out:  no duplicate columns; sorted columns if options.sort_indices. Entries whose sum is
//       exactly zero are dropped, as SciPy's csr_matmat does; each value is summed in the
//       same order as SciPy's (A's row order, then B's), so values match SciPy's bit for bit.
// Threads: one thread writes each row at a place fixed by the symbolic pass, so the result is
//       the same, bit for bit, for any number of threads.
// Cost: O(flops + nnz(A) + nnz(B) + n_rows) time; memory: C itself, the row plans (16 bytes a
//       row) and one accumulator per thread.
// Throws std::overflow_error if nnz(C) does not fit in I (the caller retries with int64).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "pynla/common/csr.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/spgemm/hash_accumulator.hpp"
#include "pynla/spgemm/window_accumulator.hpp"

namespace pynla::spgemm {

struct Options {
    bool sort_indices = true;
};

namespace detail {

// A row is summed in a dense window over its column span if the span is at most kMaxWindow
// columns and at most kWindowColumnsPerProduct times its product count (the bitmap scan then
// costs a few word reads per product); otherwise in a hash table.
constexpr std::int64_t kMaxWindow = std::int64_t{1} << 20;
constexpr std::int64_t kWindowColumnsPerProduct = 256;

template <class I, class T>
struct Workspace {
    HashAccumulator<I, T> hash;
    WindowAccumulator<I, T> window;
};

struct ColumnSpan {
    std::int64_t low, width;
};

// What both passes know of row i before they start it.
struct RowPlan {
    std::int64_t flops;
    ColumnSpan span;  // the columns the row can touch
    bool window;      // summed in the window accumulator (else in the hash table)
};

// True if every row of m lists its columns in non-decreasing order.
template <class I, class T>
bool rows_sorted(const CsrView<I, T>& m, int n_threads) {
    const auto bounds = split_by_cost(m.n_rows, n_threads * kTasksPerThread,
                                      [&](std::int64_t i) { return m.row_begin(i) + i; });
    std::vector<char> task_sorted(bounds.size() - 1, 1);
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t i = bounds[task]; i < bounds[task + 1] && task_sorted[task]; ++i) {
            for (std::int64_t p = m.row_begin(i) + 1; p < m.row_end(i); ++p) {
                if (m.indices[p] < m.indices[p - 1]) task_sorted[task] = 0;
            }
        }
    });
    return std::find(task_sorted.begin(), task_sorted.end(), 0) == task_sorted.end();
}

// The plans of all rows of A B, from one sweep over A: each row's flops (kept cumulative, to cut
// tasks of equal flops) and, when B's rows are sorted, the span of columns it can touch (from
// the first and last column of each row of B it uses; else every row may touch all columns).
// Memory: 16 bytes a row, or 8 when B's rows are unsorted.
template <class I>
class RowPlans {
public:
    template <class T>
    RowPlans(const CsrView<I, T>& a, const CsrView<I, T>& b, int n_threads)
        : n_cols_(b.n_cols), spans_known_(rows_sorted(b, n_threads)), cumulative_flops_(a.n_rows + 1) {
        if (spans_known_) {
            low_ = Buffer<I>(a.n_rows);
            high_ = Buffer<I>(a.n_rows);
        }
        cumulative_flops_[0] = 0;
        const auto bounds = split_by_cost(a.n_rows, n_threads * kTasksPerThread,
                                          [&](std::int64_t i) { return a.row_begin(i) + i; });
        parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
            for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
                std::int64_t flops = 0, low = b.n_cols, high = -1;
                for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                    const std::int64_t k = a.indices[p];
                    if (b.row_length(k) == 0) continue;
                    flops += b.row_length(k);
                    if (spans_known_) {
                        low = std::min<std::int64_t>(low, b.indices[b.row_begin(k)]);
                        high = std::max<std::int64_t>(high, b.indices[b.row_end(k) - 1]);
                    }
                }
                cumulative_flops_[i + 1] = flops;
                if (spans_known_) {
                    low_[i] = static_cast<I>(flops > 0 ? low : 0);
                    high_[i] = static_cast<I>(high);
                }
            }
        });
        for (std::int64_t i = 0; i < a.n_rows; ++i) cumulative_flops_[i + 1] += cumulative_flops_[i];
    }

    // Flops of the rows [0, i).
    std::int64_t cumulative_flops(std::int64_t i) const { return cumulative_flops_[i]; }

    RowPlan operator[](std::int64_t i) const {
        const std::int64_t flops = cumulative_flops_[i + 1] - cumulative_flops_[i];
        if (flops == 0) return {0, {0, 0}, false};
        const ColumnSpan span = spans_known_ ? ColumnSpan{low_[i], std::int64_t{high_[i]} - low_[i] + 1}
                                             : ColumnSpan{0, n_cols_};
        const bool window = span.width <= kMaxWindow && span.width <= kWindowColumnsPerProduct * flops;
        return {flops, span, window};
    }

private:
    std::int64_t n_cols_;
    bool spans_known_;
    Buffer<std::int64_t> cumulative_flops_;  // Buffers: no zero fill, huge pages when large
    Buffer<I> low_, high_;
};

template <class I, class T>
std::int64_t count_row(Workspace<I, T>& workspace, const CsrView<I, T>& a, const CsrView<I, T>& b,
                       std::int64_t i, const RowPlan& plan) {
    if (plan.flops == 0) return 0;
    if (plan.window) return workspace.window.count_row(a, b, i, plan.span.low, plan.span.width);
    return workspace.hash.count_row(a, b, i, std::min(plan.flops, plan.span.width));
}

template <class I, class T>
std::int64_t sum_row(Workspace<I, T>& workspace, const CsrView<I, T>& a, const CsrView<I, T>& b,
                     std::int64_t i, const RowPlan& plan, std::int64_t distinct, bool sort_indices,
                     I* out_indices, T* out_values) {
    if (distinct == 0) return 0;
    if (plan.window) return workspace.window.sum_row(a, b, i, plan.span.low, plan.span.width, distinct, sort_indices,
                                                       out_indices, out_values);
    return workspace.hash.sum_row(a, b, i, plan.span.low, plan.span.width, distinct, sort_indices, out_indices,
                                  out_values);
}

// Rows whose sums cancelled to zero end early, marked by a column index of -1; slide every row
// left over those gaps and rewrite indptr. Sequential: exact cancellation is rare.
template <class I, class T>
void close_gaps(Csr<I, T>& c) {
    std::int64_t write = 0, row_begin = 0;
    for (std::int64_t i = 0; i < c.n_rows; ++i) {
        const std::int64_t row_end = c.indptr[i + 1];
        for (std::int64_t read = row_begin; read < row_end && c.indices[read] != I(-1); ++read, ++write) {
            c.indices[write] = c.indices[read];
            c.data[write] = c.data[read];
        }
        c.indptr[i + 1] = static_cast<I>(write);
        row_begin = row_end;
    }
    c.indices.shrink_to(write);
    c.data.shrink_to(write);
}

}  // namespace detail

template <class I, class T>
Csr<I, T> multiply(const CsrView<I, T>& a, const CsrView<I, T>& b, const Options& options = {}) {
    static_assert(is_kernel_scalar_v<T>, "spgemm: float, double, complex<float> or complex<double>");
    PYNLA_REQUIRE(a.n_cols == b.n_rows, "spgemm: inner dimensions differ");
    // The window accumulator stamps rows as -2 - row: row numbers must fit I with room.
    PYNLA_REQUIRE(a.n_rows < std::numeric_limits<I>::max() && b.n_cols <= std::numeric_limits<I>::max(),
                  "spgemm: shape does not fit the index type");
    const std::int64_t n_rows = a.n_rows;

    const int n_threads = max_threads();
    const detail::RowPlans<I> plans(a, b, n_threads);
    const auto bounds = split_by_cost(n_rows, n_threads == 1 ? 1 : n_threads * kTasksPerThread,
                                      [&](std::int64_t i) { return plans.cumulative_flops(i) + i; });
    const auto n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<detail::Workspace<I, T>> workspaces(static_cast<std::size_t>(n_threads));

    Csr<I, T> c{n_rows, b.n_cols, Buffer<I>(n_rows + 1), {}, {}};
    c.indptr[0] = 0;
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int thread) {
        for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
            c.indptr[i + 1] = static_cast<I>(detail::count_row(workspaces[thread], a, b, i, plans[i]));
        }
    });
    std::int64_t nnz = 0;
    for (std::int64_t i = 0; i < n_rows; ++i) {
        nnz += c.indptr[i + 1];
        if (nnz > std::numeric_limits<I>::max()) throw std::overflow_error("spgemm: nnz(C) does not fit the index type");
        c.indptr[i + 1] = static_cast<I>(nnz);
    }

    c.indices = Buffer<I>(nnz);
    c.data = Buffer<T>(nnz);
    std::vector<char> task_has_gaps(static_cast<std::size_t>(n_tasks), 0);
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int thread) {
        for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
            const std::int64_t begin = c.indptr[i], distinct = c.indptr[i + 1] - begin;
            const std::int64_t written = detail::sum_row(workspaces[thread], a, b, i, plans[i], distinct, options.sort_indices,
                                                         c.indices.data() + begin, c.data.data() + begin);
            if (written < distinct) {
                c.indices[begin + written] = I(-1);
                task_has_gaps[task] = 1;
            }
        }
    });
    if (std::find(task_has_gaps.begin(), task_has_gaps.end(), 1) != task_has_gaps.end()) detail::close_gaps(c);
    return c;
}

}  // namespace pynla::spgemm
