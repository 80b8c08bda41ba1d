// Sparse x sparse product C = A B, row by row (Gustavson, ACM TOMS 4(3), 1978).
//
// Algorithm. Row i of C is the sum over the entries A(i, k) of A(i, k) * B(k, :).
//   0. Count each row's flops (products) and cut the rows into tasks of about equal flops (not
//      equal row counts); the flops also bound nnz(C). (One thread makes one task, and skips the
//      count if nnz(A) times B's longest row bounds nnz(C) well enough: row_plans.hpp.)
//   1. One numeric pass: each task plans each row as it reaches it (row_plans.hpp: column span,
//      accumulator), sums it, and appends it to C in row order (rows_in_order.hpp). C is
//      reserved at an upper bound on its size, so there is no symbolic pass: on stencil and FEM
//      products that pass cost a third of the time.
// Each row is summed in a per-thread accumulator chosen by the row's shape: a dense window over
// its column span when that span is narrow or densely hit (window_accumulator.hpp: banded,
// stencil and dense rows, sorted for free; over all of B's columns, unplanned, when A's row has
// an entry for every 64 of them: Galerkin products on coarse grids), or for a short row (at most 32 products) when the
// span is at most 2^16 columns (random rows: listed and ranked, not scanned; sum_listable_row),
// else a hash table sized to the row (hash_accumulator.hpp: scattered rows of graphs and
// power-law matrices; short rows ranked there too).
// Masked products (multiply_masked) run the same pass with each row's products filtered by the
// mask's row (column_filters.hpp): rows whose mask is empty make no product, and the others
// sum only the products they keep, in accumulators sized to what they can keep. Other semirings
// than SciPy's plus-times (min-plus, or-and, ...: semirings.hpp) are a template parameter.
//
// In:   CSR views; column indices may be unsorted and may repeat (repeats are summed).
// Out:  no duplicate columns; sorted columns if options.sort_indices (window rows always are).
//       Entries whose sum is exactly zero are dropped, as SciPy's csr_matmat does; each value is
//       summed in the same order as SciPy's (A's row order, then B's), so values match SciPy's
//       bit for bit.
// Threads: each row is summed by one thread and lands at a place fixed by the rows before it,
//       so the result is the same, bit for bit, for any number of threads.
// Cost: O(flops + nnz(A) + nnz(B) + n_rows) time; memory: C itself, one accumulator per thread
//       and, with more than one thread, one task's rows per thread (more, up to
//       kMaxUncommittedTasks tasks' rows, while a thread holding an early task is descheduled).
// Throws std::overflow_error, before any work, if flops(A B), which bounds nnz(C), does not fit
//       in I (the caller retries with int64).
// B's rows: if the caller does not say whether they are sorted (options.b_rows_sorted), the
//       kernel reads B's indices to find out; for unsorted rows it finds each row's least and
//       greatest column in one more pass (the spans of C's rows come from them).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <optional>
#include <vector>

#if defined(__linux__)
#include <unistd.h>
#endif

#include "pynla/common/csr.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/structure_check.hpp"
#include "pynla/spgemm/column_filters.hpp"
#include "pynla/spgemm/hash_accumulator.hpp"
#include "pynla/spgemm/row_plans.hpp"
#include "pynla/spgemm/rows_in_order.hpp"
#include "pynla/spgemm/semirings.hpp"
#include "pynla/spgemm/window_accumulator.hpp"

namespace pynla::spgemm {

struct Options {
    bool sort_indices = true;
    // Whether every row of B lists its columns in non-decreasing order, if the caller knows (pynla's
    // validation finds out as it checks B); if not, the kernel reads B's indices to find out.
    std::optional<bool> b_rows_sorted;
    // Entries of C to reserve at first; 0 picks a bound (see initial_capacity). Tests set it
    // small, to make C grow.
    std::int64_t initial_capacity = 0;
};

namespace detail {

// C is first reserved for min(a bound on nnz(C), entries in half the machine's memory) entries:
// reserving costs address space, not memory, but Linux refuses a single reservation
// much larger than its memory. A larger C grows by remapping.
inline std::int64_t reservable_bytes() {
#if defined(__linux__)
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0) return static_cast<std::int64_t>(pages) * page_size / 2;
#endif
    return std::int64_t{1} << 30;
}

template <class I, class T, class S>
struct Workspace {
    HashAccumulator<I, T, S> hash;
    WindowAccumulator<I, T, S> window;
};

// Sums row i, which keeps at most max_entries entries, with the accumulator its plan chose.
template <class I, class T, class S, class Filter>
std::int64_t sum_row(Workspace<I, T, S>& workspace, const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i,
                     const RowPlan& plan, std::int64_t max_entries, bool sort_indices, const Filter& filter,
                     I* out_indices, T* out_values) {
    if (plan.flops == 0) return 0;
    if (plan.listed) {
        return workspace.window.sum_listable_row(a, b, i, plan.span.low, plan.span.width, sort_indices, filter,
                                                 out_indices, out_values);
    }
    if (plan.window) {
        return workspace.window.sum_row(a, b, i, plan.span.low, plan.span.width, filter, out_indices, out_values);
    }
    return workspace.hash.sum_row(a, b, i, max_entries, plan.span.low, plan.span.width, sort_indices, filter,
                                  out_indices, out_values);
}

template <class I, class T>
std::int64_t initial_capacity(std::int64_t max_entries, const Options& options) {
    if (options.initial_capacity > 0) return options.initial_capacity;
    return std::min(max_entries, reservable_bytes() / static_cast<std::int64_t>(sizeof(I) + sizeof(T)));
}

// The product over semiring S with each row's products filtered (column_filters.hpp): one filter
// per thread, copied from `prototype`.
template <class S, class I, class T, class Filter>
Csr<I, T> multiply_filtered(const CsrView<I, T>& a, const CsrView<I, T>& b, const Options& options,
                            const Filter& prototype) {
    static_assert(S::template kTakes<T>, "spgemm: a value type the semiring does not take");
    PYNLA_REQUIRE(a.n_cols == b.n_rows, "spgemm: inner dimensions differ");
    PYNLA_REQUIRE(a.n_rows < std::numeric_limits<I>::max() && b.n_cols <= std::numeric_limits<I>::max(),
                  "spgemm: shape does not fit the index type");
    const std::int64_t n_rows = a.n_rows;

    const RowTasks tasks = tasks_by_flops(a, b, std::numeric_limits<I>::max());
    const int n_threads = tasks.n_threads;
    const std::vector<std::int64_t>& bounds = tasks.bounds;
    // Past I's range C may not fit, and finding out would cost the product.
    if (tasks.max_entries > std::numeric_limits<I>::max()) {
        throw std::overflow_error("spgemm: nnz(C) may not fit the index type");
    }
    const bool b_rows_sorted = options.b_rows_sorted.has_value()
                                   ? *options.b_rows_sorted
                                   : *check_indices(b.indptr, b.n_rows, b.indices, b.n_cols,
                                                   threads_for(static_cast<std::int64_t>(sizeof(I)) * (b.nnz() + b.n_rows), n_threads),
                                                   true).rows_sorted;
    const RowPlanner<I, T> plan_row(a, b, b_rows_sorted, n_threads);
    std::vector<Workspace<I, T, S>> workspaces(static_cast<std::size_t>(n_threads));
    std::vector<Filter> filters(static_cast<std::size_t>(n_threads), prototype);
    const auto n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;
    RowsInOrder<I, T> c(n_rows, b.n_cols, initial_capacity<I, T>(tasks.max_entries, options), n_tasks, n_threads);

    parallel_for_ordered(
        n_tasks, n_threads,
        [&](std::int64_t task, int thread) {
            c.begin_task(thread, task, bounds[task]);
            Filter& filter = filters[thread];
            for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
                const std::int64_t keeps_at_most = filter.begin_row(i);
                if (keeps_at_most == 0) {  // a masked row with nothing to keep: no product is made
                    c.end_row(thread, i, 0);
                    continue;
                }
                const RowPlan plan = plan_row(i);
                const std::int64_t max_entries = std::min(plan.max_entries(), keeps_at_most);
                const auto [indices, values] = c.room(thread, max_entries);
                c.end_row(thread, i,
                          sum_row(workspaces[thread], a, b, i, plan, max_entries, options.sort_indices, filter,
                                  indices, values));
                filter.end_row(i);
            }
        },
        [&](std::int64_t task, int) { c.commit(task); }, [&](std::int64_t task, int) { c.finish(task); });
    return c.result();
}

}  // namespace detail

// C = A B over semiring S (semirings.hpp; SciPy's product by default).
template <class S = PlusTimes, class I, class T>
Csr<I, T> multiply(const CsrView<I, T>& a, const CsrView<I, T>& b, const Options& options = {}) {
    return detail::multiply_filtered<S>(a, b, options, detail::EveryColumn{});
}

// The upper triangle of C = A B (the entries with column >= row), for products known to be
// symmetric (A A^T): the products below the diagonal are not summed.
template <class S = PlusTimes, class I, class T>
Csr<I, T> multiply_upper(const CsrView<I, T>& a, const CsrView<I, T>& b, const Options& options = {}) {
    return detail::multiply_filtered<S>(a, b, options, detail::UpperTriangle{});
}

// The masked product C<M> = A B: only the entries of A B at the stored entries of M's rows (or,
// with mask.complement, outside them). M has A's rows and B's columns; its indices must be in
// range (the caller checks). Entries and values are those of A B there, bit for bit.
template <class S = PlusTimes, class I, class T>
Csr<I, T> multiply_masked(const CsrView<I, T>& a, const CsrView<I, T>& b, const MaskView<I>& mask,
                          const Options& options = {}) {
    return detail::multiply_filtered<S>(a, b, options, detail::MaskColumns<I>(mask, b.n_cols));
}

}  // namespace pynla::spgemm
