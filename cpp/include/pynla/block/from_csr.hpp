// CSR -> BSR with R x C blocks, and the count of blocks a block shape would store.
//
// Algorithm. Block row I of the result gathers the rows [I R, I R + R) of A. A first pass counts
// the distinct block columns j / C of each block row (a per-thread stamp array over block
// columns) and gives the exact indptr; a second lists each block row's block columns, sorts
// them, zeroes its blocks and adds every entry into its place. One thread writes each block
// row, and entries add up in A's order, so the result does not depend on the thread count.
// In:  a trusted CSR view (unsorted and repeated columns allowed: repeats add up) whose shape R
//      and C divide.
// Out: sorted block columns, no repeats, explicit zeros inside blocks.
// Cost: O(nnz(A) + nnzb log(nnzb per block row) + nnzb R C); one stamp array per thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/block/block_row_scratch.hpp"
#include "pynla/block/block_shape.hpp"
#include "pynla/common/bsr.hpp"
#include "pynla/common/csr.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla::block {

namespace detail {

// Calls visit(j) once for each distinct block column j of block row bi, in first-meeting order,
// marking stamp[j] = mark.
template <class I, class T, class Cols, class Visit>
void for_each_block_column(const CsrView<I, T>& a, std::int64_t block_rows, Cols block_cols,
                           std::int64_t bi, std::int64_t mark, std::vector<std::int64_t>& stamp, Visit&& visit) {
    const std::int64_t row_end = std::min(a.n_rows, (bi + 1) * block_rows);
    for (std::int64_t row = bi * block_rows; row < row_end; ++row) {
        for (std::int64_t p = a.row_begin(row); p < a.row_end(row); ++p) {
            const std::int64_t j = a.indices[p] / block_cols;
            if (stamp[j] != mark) {
                stamp[j] = mark;
                visit(j);
            }
        }
    }
}

// Block row boundaries of tasks of similar entry counts.
template <class I, class T>
std::vector<std::int64_t> block_row_tasks(const CsrView<I, T>& a, std::int64_t block_rows, int n_threads) {
    const std::int64_t n_block_rows = a.n_rows / block_rows;
    return split_by_cost(n_block_rows, tasks_for(n_threads), [&](std::int64_t bi) {
        return a.row_begin(bi * block_rows) + bi;
    });
}

}  // namespace detail

// The number of blocks A would store in R x C blocks (R and C dividing its shape).
template <class I, class T>
std::int64_t count_blocks(const CsrView<I, T>& a, std::int64_t block_rows, std::int64_t block_cols) {
    PYNLA_REQUIRE(block_rows > 0 && block_cols > 0 && a.n_rows % block_rows == 0 && a.n_cols % block_cols == 0,
                  "blocksize: must divide the shape");
    const int n_threads = threads_for(2 * a.nnz() * static_cast<std::int64_t>(sizeof(I)));
    const auto bounds = detail::block_row_tasks(a, block_rows, n_threads);
    std::vector<std::int64_t> task_blocks(bounds.size() - 1, 0);
    std::vector<BlockRowScratch<I>> scratch(static_cast<std::size_t>(n_threads));
    with_dim(block_cols, [&](auto cols) {
        parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int thread) {
            auto& stamp = scratch[thread].ready(a.n_cols / cols).stamp;
            for (std::int64_t bi = bounds[task]; bi < bounds[task + 1]; ++bi) {
                detail::for_each_block_column(a, block_rows, cols, bi, bi, stamp,
                                              [&](std::int64_t) { ++task_blocks[task]; });
            }
        });
    });
    std::int64_t total = 0;
    for (const std::int64_t blocks : task_blocks) total += blocks;
    return total;
}

template <class I, class T>
Bsr<I, T> from_csr(const CsrView<I, T>& a, std::int64_t block_rows, std::int64_t block_cols) {
    PYNLA_REQUIRE(block_rows > 0 && block_cols > 0 && a.n_rows % block_rows == 0 && a.n_cols % block_cols == 0,
                  "blocksize: must divide the shape");
    const std::int64_t n_block_rows = a.n_rows / block_rows, n_block_cols = a.n_cols / block_cols;
    const std::int64_t block_size = block_rows * block_cols;
    Bsr<I, T> m{n_block_rows, n_block_cols, block_rows, block_cols, Buffer<I>(n_block_rows + 1), {}, {}};
    const int n_threads = threads_for(4 * a.nnz() * static_cast<std::int64_t>(sizeof(I) + sizeof(T)));
    const auto bounds = detail::block_row_tasks(a, block_rows, n_threads);
    const auto n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<BlockRowScratch<I>> scratch(static_cast<std::size_t>(n_threads));

    with_dim(block_cols, [&](auto cols) {
        m.indptr[0] = 0;
        parallel_for(n_tasks, n_threads, [&](std::int64_t task, int thread) {
            auto& s = scratch[thread].ready(n_block_cols);
            for (std::int64_t bi = bounds[task]; bi < bounds[task + 1]; ++bi) {
                std::int64_t count = 0;
                detail::for_each_block_column(a, block_rows, cols, bi, bi, s.stamp, [&](std::int64_t) { ++count; });
                m.indptr[bi + 1] = static_cast<I>(count);  // at most nnz(A), which fits I
            }
        });
        for (std::int64_t bi = 0; bi < n_block_rows; ++bi) m.indptr[bi + 1] += m.indptr[bi];
        const std::int64_t n_blocks = m.indptr[n_block_rows];
        m.indices = Buffer<I>(n_blocks);
        m.data = Buffer<T>(n_blocks * block_size);

        // Stamped with -2 - bi, unlike any block row number of the counting pass.
        parallel_for(n_tasks, n_threads, [&](std::int64_t task, int thread) {
            auto& s = scratch[thread].ready(n_block_cols);
            for (std::int64_t bi = bounds[task]; bi < bounds[task + 1]; ++bi) {
                s.columns.clear();
                detail::for_each_block_column(a, block_rows, cols, bi, -2 - bi, s.stamp,
                                              [&](std::int64_t j) { s.columns.push_back(static_cast<I>(j)); });
                const std::int64_t begin = m.indptr[bi];
                s.place_columns(m.indices.data(), begin);
                std::fill(m.data.data() + begin * block_size, m.data.data() + (begin + s.columns.size()) * block_size, T{});
                for (std::int64_t row = bi * block_rows; row < (bi + 1) * block_rows; ++row) {
                    const std::int64_t r = row - bi * block_rows;
                    for (std::int64_t p = a.row_begin(row); p < a.row_end(row); ++p) {
                        const std::int64_t col = a.indices[p];
                        const std::int64_t j = col / cols;
                        m.data[std::int64_t{s.slot[j]} * block_size + r * cols + (col - j * cols)] += a.data[p];
                    }
                }
            }
        });
    });
    return m;
}

}  // namespace pynla::block
