// What the numeric pass knows of each row of C = A B before it starts the row: its flop count,
// the span of columns it can touch, which accumulator sums it, and a bound on its entries (to
// reserve room for them); and, for all rows at once, the flops that cut rows into tasks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/csr.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/spgemm/row_entries.hpp"

namespace pynla::spgemm {

// SpGEMM's work in parallel.hpp's currency: bytes a flop (B's index and value, the accumulator).
constexpr std::int64_t kBytesPerFlop = 12;

}  // namespace pynla::spgemm

namespace pynla::spgemm::detail {

// With more than one thread, tasks make at most about this many products: a task's rows then
// fit a thread's chunk in L2 cache on their way to C.
constexpr std::int64_t kFlopsPerTask = std::int64_t{1} << 16;

// A row is summed in a dense window over its column span if the span is at most kMaxWindow
// columns and at most kWindowColumnsPerProduct times its product count (the bitmap scan then
// costs at most a few word reads per product); otherwise in a hash table.
constexpr std::int64_t kMaxWindow = std::int64_t{1} << 20;
constexpr std::int64_t kWindowColumnsPerProduct = 256;
// A row of at most kMaxRankedEntries products is summed in a window up to kMaxShortRowWindow
// columns wide, whatever its span; its columns may then be listed instead of scanned
// (WindowAccumulator::sum_listable_row decides, from the rows before it) when the span has at
// least kListColumnsPerProduct columns a product.
constexpr std::int64_t kMaxShortRowWindow = std::int64_t{1} << 16;
constexpr std::int64_t kListColumnsPerProduct = 16;

// A row of A with an entry for every kBitmapColumnsPerEntry columns of B or more is not planned:
// it is summed in a window over all of B's columns, whose bitmap (one word an entry of A, at
// most) costs less to scan than the span costs to find (four loads an entry of A). The second
// product of a Galerkin product on a coarse grid, (P^T A) P with rows of about 36 entries and a
// 1024-column P (2-D Poisson 96^2, aggregates of 3 x 3): 210 -> 165 us on one thread (SciPy's:
// about 200).
constexpr std::int64_t kBitmapColumnsPerEntry = 64;

struct ColumnSpan {
    std::int64_t low, width;
};

struct RowPlan {
    std::int64_t flops;  // its products (B's columns instead, a bound on its entries, if it is not planned)
    ColumnSpan span;  // the columns the row can touch
    bool window;      // summed in the window accumulator (else in the hash table)
    bool listed;      // a window row whose columns may be listed as touched (else scanned)

    // The most entries the row can have: one per product, and one per column of its span.
    std::int64_t max_entries() const { return std::min(flops, span.width); }
};

// Plans rows of A B as the numeric pass reaches them: each row's flops and the span of columns
// it can touch, from the first and last column of each row of B it uses. The sweep over the
// row's entries of A reads what the products read next, so it costs little more than the loop
// that counts the flops. When B's rows are not sorted, each row's least and greatest column are
// found first, in one pass over B (pyamg's interpolation matrices come unsorted: without spans
// their products took the hash table at 2.6x the window's time).
template <class I, class T>
class RowPlanner {
public:
    // b_rows_sorted: every row of B lists its columns in non-decreasing order.
    RowPlanner(const CsrView<I, T>& a, const CsrView<I, T>& b, bool b_rows_sorted, int n_threads) : a_(a), b_(b) {
        if (!b_rows_sorted) find_row_spans(n_threads);
    }

    RowPlan operator()(std::int64_t i) const {
        const std::int64_t entries = a_.row_length(i);
        if (entries == 0) return {0, {0, 0}, false, false};
        if (b_.n_cols <= kBitmapColumnsPerEntry * entries) return {b_.n_cols, {0, b_.n_cols}, true, false};
        std::int64_t flops = 0, low = b_.n_cols, high = -1;
        for (std::int64_t p = a_.row_begin(i); p < a_.row_end(i); ++p) {
            const std::int64_t k = a_.indices[p];
            const std::int64_t begin = b_.row_begin(k), end = b_.row_end(k);
            if (begin == end) continue;
            flops += end - begin;
            low = std::min<std::int64_t>(low, row_low_.empty() ? b_.indices[begin] : row_low_[k]);
            high = std::max<std::int64_t>(high, row_high_.empty() ? b_.indices[end - 1] : row_high_[k]);
        }
        if (flops == 0) return {0, {0, 0}, false, false};
        const ColumnSpan span{low, high - low + 1};
        const bool short_row = flops <= kMaxRankedEntries;
        const bool window = (span.width <= kMaxWindow && span.width <= kWindowColumnsPerProduct * flops) ||
                            (short_row && span.width <= kMaxShortRowWindow);
        return {flops, span, window, window && short_row && span.width >= kListColumnsPerProduct * flops};
    }

private:
    void find_row_spans(int n_threads) {
        row_low_.resize(static_cast<std::size_t>(b_.n_rows));
        row_high_.resize(static_cast<std::size_t>(b_.n_rows));
        const auto chunks = split_by_cost(b_.n_rows, tasks_for(n_threads), [&](std::int64_t k) { return b_.row_begin(k) + k; });
        parallel_for(static_cast<std::int64_t>(chunks.size()) - 1, n_threads, [&](std::int64_t chunk, int) {
            for (std::int64_t k = chunks[chunk]; k < chunks[chunk + 1]; ++k) {
                I low = static_cast<I>(b_.n_cols), high = -1;
                for (std::int64_t q = b_.row_begin(k); q < b_.row_end(k); ++q) {
                    low = std::min(low, b_.indices[q]);
                    high = std::max(high, b_.indices[q]);
                }
                row_low_[k] = low;
                row_high_[k] = high;
            }
        });
    }

    CsrView<I, T> a_, b_;
    std::vector<I> row_low_, row_high_;  // each row of B's least and greatest column, if its rows are unsorted
};

// The rows of A B cut into tasks, and a bound on nnz(C).
struct RowTasks {
    std::vector<std::int64_t> bounds;  // task t: rows [bounds[t], bounds[t + 1])
    std::int64_t max_entries;          // the flops of A B, or with one task a coarser bound (see below)
    int n_threads = 1;                 // threads for the tasks (tasks_by_flops)
};

// nnz(A) times the length of B's longest row (a bound on the flops of A B) if that is at most
// `limit`, else -1. It reads B's row offsets only.
template <class I, class T>
std::int64_t coarse_flops_bound(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t limit) {
    std::int64_t longest = 0;
    for (std::int64_t k = 0; k < b.n_rows; ++k) longest = std::max(longest, b.row_length(k));
    if (longest > 0 && a.nnz() > limit / longest) return -1;  // the product would pass the limit
    return a.nnz() * longest;
}

// Cuts the rows of A B into tasks of about equal flops: one task for one thread; for more, at
// least kTasksPerThread a thread and at most about flops_per_task flops each. The flops are
// summed by blocks of rows, at most kMaxBlocks blocks (a task starts at a block boundary), so
// the sums take little memory: a prefix sum a row would be 5% of a Poisson product's result.
// One task needs no flops to be cut, and nnz(C) needs only a bound: if `coarse_bound` (the
// caller's coarse_flops_bound, -1 past its limit) is at most `max_entries_limit` (as for stencil
// and FEM matrices) it serves, and A's entries are not read here (3% of a Poisson product with
// one thread).
template <class I, class T>
RowTasks split_rows_by_flops(const CsrView<I, T>& a, const CsrView<I, T>& b, int n_threads,
                             std::int64_t flops_per_task, std::int64_t max_entries_limit, std::int64_t coarse_bound) {
    if (n_threads == 1 && coarse_bound >= 0 && coarse_bound <= max_entries_limit) return {{0, a.n_rows}, coarse_bound};
    constexpr std::int64_t kMaxBlocks = std::int64_t{1} << 16;
    const std::int64_t rows_per_block = std::max<std::int64_t>(1, (a.n_rows + kMaxBlocks - 1) / kMaxBlocks);
    const std::int64_t n_blocks = (a.n_rows + rows_per_block - 1) / rows_per_block;
    std::vector<std::int64_t> cumulative(static_cast<std::size_t>(n_blocks) + 1, 0);  // flops of blocks [0, j)
    const I* const a_indptr = a.indptr;
    const I* const a_indices = a.indices;
    const I* const b_indptr = b.indptr;
    const auto chunks = split_by_cost(n_blocks, tasks_for(n_threads), [&](std::int64_t j) {
        return a.row_begin(std::min(j * rows_per_block, a.n_rows)) + j;
    });
    parallel_for(static_cast<std::int64_t>(chunks.size()) - 1, n_threads, [&](std::int64_t chunk, int) {
        for (std::int64_t j = chunks[chunk]; j < chunks[chunk + 1]; ++j) {
            const std::int64_t end = a_indptr[std::min((j + 1) * rows_per_block, a.n_rows)];
            std::int64_t flops = 0;
            for (std::int64_t p = a_indptr[j * rows_per_block]; p < end; ++p) {
                flops += b_indptr[a_indices[p] + 1] - b_indptr[a_indices[p]];
            }
            cumulative[static_cast<std::size_t>(j) + 1] = flops;
        }
    });
    for (std::size_t j = 0; j < static_cast<std::size_t>(n_blocks); ++j) cumulative[j + 1] += cumulative[j];
    const std::int64_t flops = cumulative.back();
    const std::int64_t n_tasks = n_threads == 1 ? 1 : std::max(tasks_for(n_threads), flops / flops_per_task);
    auto bounds = split_by_cost(n_blocks, n_tasks, [&](std::int64_t j) { return cumulative[j] + j; });
    for (auto& bound : bounds) bound = std::min(bound * rows_per_block, a.n_rows);
    return {std::move(bounds), flops};
}

// The rows of A B cut into tasks of about equal flops, on threads chosen from the work: first
// from a bound on the flops (B's row offsets only), then, once the flops are counted, from the
// flops themselves. max_entries_limit: as split_rows_by_flops's.
template <class I, class T>
RowTasks tasks_by_flops(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t max_entries_limit) {
    constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();
    const std::int64_t flops_bound = coarse_flops_bound(a, b, kNoLimit / kBytesPerFlop);
    const int n_threads = threads_for(flops_bound < 0 ? kNoLimit : kBytesPerFlop * flops_bound);
    RowTasks tasks = split_rows_by_flops(a, b, n_threads, kFlopsPerTask, max_entries_limit, flops_bound);
    tasks.n_threads = threads_for(kBytesPerFlop * tasks.max_entries, n_threads);
    return tasks;
}

}  // namespace pynla::spgemm::detail
