// S A for a sparse sketch S (sparse_sketch.hpp) and a sparse A, kept sparse: CSR A gives S A in
// CSR, CSC A gives it in CSC. Entries of S A that sum to exactly zero are dropped and indices
// come out sorted, as in SciPy's product. Every sum runs over A's entries in a fixed order (S's
// columns increasing, then A's storage order), so results do not depend on the thread count.
//   - CSR: a stable counting sort moves each entry of A's row i, signed, to the rows of S A
//     that S's column i names (A read once, in order); then each row of S A sums its entries
//     by column (sorted_sum.hpp). O(k nnz(A) + m) work, about three streaming passes. Where S A
//     is mostly full (k nnz(A) >= 1.5 m d), A's entries are added into a dense S A instead, which
//     is then compressed: one pass over A and one over S A.
//   - CSC: column j of S A sums, for each entry (i, v) of A's column j, v times S's column i:
//     O(k nnz(A)) work, one pass, columns shared among threads.
// In both (but the dense path), the output is first written with room for every entry (k nnz(A)
// in all), then packed in place.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/csr.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"
#include "pynla/sketch/sorted_sum.hpp"
#include "pynla/sketch/sparse_sketch.hpp"

namespace pynla::sketch {

namespace detail {

// The compressed matrix of rows written at begin[r] with count[r] entries each (count[r] <=
// begin[r + 1] - begin[r]): each row is moved down over the gaps in place, in row order (a
// row only moves into room the rows before it left), and the buffers become the result.
template <class I, class T>
Csr<I, T> pack_rows(std::int64_t n_rows, std::int64_t n_cols, const std::vector<std::int64_t>& begin,
                    const std::vector<std::int64_t>& count, Buffer<I>&& indices, Buffer<T>&& values) {
    Csr<I, T> c{n_rows, n_cols, Buffer<I>(n_rows + 1), std::move(indices), std::move(values)};
    std::int64_t nnz = 0;
    for (std::int64_t r = 0; r < n_rows; ++r) {
        c.indptr[r] = static_cast<I>(nnz);
        if (nnz != begin[r]) {
            std::copy(c.indices.data() + begin[r], c.indices.data() + begin[r] + count[r], c.indices.data() + nnz);
            std::copy(c.data.data() + begin[r], c.data.data() + begin[r] + count[r], c.data.data() + nnz);
        }
        nnz += count[r];
    }
    c.indptr[n_rows] = static_cast<I>(nnz);
    c.indices.shrink_to(nnz);
    c.data.shrink_to(nnz);
    return c;
}

// sketch_csr where S A is mostly full (k nnz(A) >= 1.5 m d: every entry of S A expects 1.5
// terms, as when a tall sparse A is sketched for least squares): each entry of A is added,
// signed, into a dense S A (m x d, row-major, smaller than the scatter's buffers), which is then
// compressed. Measured on one thread (Intel Xeon), CountSketch: 2e5 x 200 with 20 a row to 2000
// rows 38.9 -> 13.2 ms; 1e6 x 100 with 5 a row to 1000, 49.8 -> 11.7; 2e5 x 1000 with 20 a row
// to 2000, 40.6 -> 32.3; sparse sign, 8 a column, 2e5 x 200: 242 -> 67. At 1.25 terms an entry
// (5e4 x 5000 with 50 a row to 400) the scatter was faster, 21.4 against 25.1 ms; at 1.6, slower.
// A is read in order; a thread owns a range of S A's rows and takes only the entries of A that
// land in them, so each sum runs in A's row order, as the scatter's does, for any number of
// threads. Nothing is written out and read back, and no row is sorted.
template <class I, class T>
Csr<I, T> sketch_csr_dense(const SparseSketchView& s, const CsrView<I, T>& a) {
    const std::int64_t m = s.n_rows, d = a.n_cols, k = s.per_column, n = a.n_rows;
    const int n_threads = threads_for(k * a.nnz() * static_cast<std::int64_t>(sizeof(I) + sizeof(T)) +
                                      m * d * static_cast<std::int64_t>(sizeof(T)));
    const auto bounds = split_by_cost(m, n_threads, [](std::int64_t r) { return r; });
    const auto n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;
    Buffer<T> dense(m * d);
    std::vector<std::int64_t> count(static_cast<std::size_t>(m));
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int) {
        const std::int64_t lo = bounds[task], hi = bounds[task + 1];
        T* const sums = dense.data();
        std::fill(sums + lo * d, sums + hi * d, T(0));
        for (std::int64_t i = 0; i < n; ++i) {
            for (std::int64_t p = i * k; p < (i + 1) * k; ++p) {
                const std::int64_t r = s.rows[p];
                if (r < lo || r >= hi) continue;
                T* const row = sums + r * d;
                const auto sign = static_cast<T>(s.signs[p]);  // +-1: the product is exact
                for (std::int64_t e = a.row_begin(i); e < a.row_end(i); ++e) row[a.indices[e]] += sign * a.data[e];
            }
        }
        for (std::int64_t r = lo; r < hi; ++r) {
            count[r] = std::count_if(sums + r * d, sums + (r + 1) * d, [](const T& v) { return v != T(0); });
        }
    });
    Csr<I, T> c{m, d, Buffer<I>(m + 1), Buffer<I>(0), Buffer<T>(0)};
    std::int64_t nnz = 0;
    for (std::int64_t r = 0; r < m; ++r) {
        c.indptr[r] = static_cast<I>(nnz);
        nnz += count[r];
    }
    c.indptr[m] = static_cast<I>(nnz);
    c.indices = Buffer<I>(nnz);
    c.data = Buffer<T>(nnz);
    const auto scale = static_cast<RealOf<T>>(s.scale);
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t r = bounds[task]; r < bounds[task + 1]; ++r) {
            std::int64_t q = c.indptr[r];
            for (std::int64_t j = 0; j < d; ++j) {  // S A's exact zeros dropped, as SciPy drops them
                const T sum = dense[r * d + j];
                if (sum == T(0)) continue;
                c.indices[q] = static_cast<I>(j);
                c.data[q++] = s.scale == 1.0 ? sum : sum * scale;
            }
        }
    });
    return c;
}

}  // namespace detail

// S A in CSR for A in CSR (n x d). Requires k nnz(A) to fit in I.
template <class I, class T>
Csr<I, T> sketch_csr(const SparseSketchView& s, const CsrView<I, T>& a) {
    const std::int64_t m = s.n_rows, d = a.n_cols, k = s.per_column;
    if (2 * k * a.nnz() >= 3 * m * d) return detail::sketch_csr_dense(s, a);
    // Each of A's entries is placed k times, then summed: written and read, about 4 (I + T) bytes.
    const int n_threads = threads_for(4 * k * a.nnz() * static_cast<std::int64_t>(sizeof(I) + sizeof(T)));

    // 1. Each entry of A's row i goes, signed, to the rows of S A that S's column i names, in
    // order of A's rows: row r's entries are [begin[r], begin[r + 1]).
    Buffer<I> indices(k * a.nnz());
    Buffer<T> values(k * a.nnz());
    indices.prefault();
    values.prefault();
    // Raw pointers copied into the lambda: stores through out_indices (of A's index type) could
    // otherwise make the compiler reload anything reached through a reference.
    I* __restrict const out_indices = indices.data();
    T* __restrict const out_values = values.data();
    const I* __restrict const a_indptr = a.indptr;
    const I* __restrict const a_indices = a.indices;
    const T* __restrict const a_values = a.data;
    const std::int8_t* __restrict const signs = s.signs;
    const std::int32_t* __restrict const rows = s.rows;
    const auto begin = sort_by_sketch_row(
        s, [&](std::int64_t i) { return a.row_begin(i) + i; },
        [=](std::int64_t i) { return static_cast<std::int64_t>(a_indptr[i + 1]) - a_indptr[i]; },
        [=](std::int64_t, std::int64_t first, std::int64_t last, std::int64_t* next, auto k) {
            // One flat loop over the entries of rows [first, last), not a loop per row: rows of
            // graphs and random matrices hold 0, 1 or 2 entries, and a loop per row mispredicts
            // its end at nearly every row (measured: 13 against 4 ns per row). An entry's row is
            // the last row starting at or before it, found block by block of entries through a
            // table of the rows starting in the block, kept in the L1 cache.
            constexpr std::int64_t kBlock = 4096;
            std::vector<std::int64_t> last_row_starting(kBlock);
            const std::int64_t e1 = a_indptr[last];
            std::int64_t i = first, unlisted = first;  // the current row; the first row not in the table
            for (std::int64_t block = a_indptr[first]; block < e1; block += kBlock) {
                const std::int64_t block_end = std::min(e1, block + kBlock);
                std::fill(last_row_starting.begin(), last_row_starting.end(), first);
                for (; unlisted < last && a_indptr[unlisted] < block_end; ++unlisted) {
                    last_row_starting[a_indptr[unlisted] - block] = unlisted;
                }
                for (std::int64_t e = block; e < block_end; ++e) {
                    i = std::max(i, last_row_starting[e - block]);
                    const I column = a_indices[e];
                    const T value = a_values[e];
                    for (std::int64_t p = i * k; p < (i + 1) * k; ++p) {
                        const std::int64_t q = next[rows[p]]++;
                        out_indices[q] = column;
                        out_values[q] = static_cast<T>(signs[p]) * value;  // +-1: the product is exact
                        // The next cache line of this row of S A, asked for now: the rows are too
                        // many (1000 here) for the hardware to see them as streams, and each line's
                        // first store would otherwise wait for memory (12 against 6 ms at 2 threads).
                        __builtin_prefetch(out_indices + q + kCacheLineBytes / sizeof(I), 1);
                        __builtin_prefetch(out_values + q + kCacheLineBytes / sizeof(T), 1);
                    }
                }
            }
        });

    // 2. Each row of S A sums its entries by column, in place.
    std::vector<std::int64_t> count(static_cast<std::size_t>(m));
    std::vector<SortedSum<T>> sums(static_cast<std::size_t>(n_threads));
    const auto row_bounds = split_by_cost(m, tasks_for(n_threads), [&](std::int64_t r) { return begin[r] + r; });
    parallel_for(static_cast<std::int64_t>(row_bounds.size()) - 1, n_threads, [&](std::int64_t task, int thread) {
        SortedSum<T>& sum = sums[static_cast<std::size_t>(thread)];
        for (std::int64_t r = row_bounds[task]; r < row_bounds[task + 1]; ++r) {
            I* const row_indices = indices.data() + begin[r];
            T* const row_values = values.data() + begin[r];
            count[r] = sum.sum_run(d, row_indices, row_values, begin[r + 1] - begin[r], s.scale, row_indices, row_values);
        }
    });
    return detail::pack_rows(m, d, begin, count, std::move(indices), std::move(values));
}

// S A in CSC for A in CSC (n x d), given as the CSR view of A^T (d x n): the result is returned
// as the CSR arrays of (S A)^T (d x m). Requires k nnz(A) to fit in I.
template <class I, class T>
Csr<I, T> sketch_csc(const SparseSketchView& s, const CsrView<I, T>& a_transpose) {
    const std::int64_t m = s.n_rows, d = a_transpose.n_rows, k = s.per_column;
    std::vector<std::int64_t> begin(static_cast<std::size_t>(d + 1)), count(static_cast<std::size_t>(d));
    for (std::int64_t j = 0; j <= d; ++j) begin[j] = k * a_transpose.row_begin(j);
    Buffer<I> indices(begin[d]);
    Buffer<T> values(begin[d]);
    const int n_threads = threads_for(4 * begin[d] * static_cast<std::int64_t>(sizeof(I) + sizeof(T)));
    std::vector<SortedSum<T>> sums(static_cast<std::size_t>(n_threads));
    const auto bounds = split_by_cost(d, tasks_for(n_threads), [&](std::int64_t j) { return begin[j] + j; });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int thread) {
        SortedSum<T>& sum = sums[static_cast<std::size_t>(thread)];
        for (std::int64_t j = bounds[task]; j < bounds[task + 1]; ++j) {
            sum.start(m);
            for (std::int64_t e = a_transpose.row_begin(j); e < a_transpose.row_end(j); ++e) {
                const std::int64_t i = a_transpose.indices[e];
                const T v = a_transpose.data[e];
                for (std::int64_t p = i * k; p < (i + 1) * k; ++p) sum.add(s.rows[p], s.signs[p] < 0 ? -v : v);
            }
            count[j] = sum.write(s.scale, indices.data() + begin[j], values.data() + begin[j]);
        }
    });
    return detail::pack_rows(d, m, begin, count, std::move(indices), std::move(values));
}

}  // namespace pynla::sketch
