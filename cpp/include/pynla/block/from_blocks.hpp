// BSR from a list of blocks: block k is the dense R x C array blocks[k] at block row rows[k] and
// block column cols[k]. Blocks listed more than once add up, as finite-element and Jacobian
// assembly need.
//
// Algorithm. A stable counting sort by block row; then, one thread per block row, a sort of the
// row's blocks by (block column, list order) and a sum over each run of equal columns.
// In:  coordinates in range (checked by the caller), any order.
// Out: sorted block columns, no repeats. Repeats add up in list order, so the result does not
//      depend on the thread count.
// Cost: O(n_listed log(n_listed per block row) + n_listed R C).
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "pynla/common/bsr.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla::block {

template <class I, class T>
Bsr<I, T> from_blocks(std::int64_t n_block_rows, std::int64_t n_block_cols, std::int64_t block_rows,
                      std::int64_t block_cols, std::int64_t n_listed, const I* rows, const I* cols, const T* blocks) {
    const std::int64_t block_size = block_rows * block_cols;
    // Listed blocks grouped by block row, in list order: row bi's are order[start[bi], start[bi + 1]).
    std::vector<std::int64_t> start(static_cast<std::size_t>(n_block_rows) + 1, 0);
    for (std::int64_t k = 0; k < n_listed; ++k) ++start[rows[k] + 1];
    for (std::int64_t bi = 0; bi < n_block_rows; ++bi) start[bi + 1] += start[bi];
    std::vector<std::int64_t> order(static_cast<std::size_t>(n_listed));
    {
        std::vector<std::int64_t> next(start.begin(), start.end() - 1);
        for (std::int64_t k = 0; k < n_listed; ++k) order[next[rows[k]]++] = k;
    }

    // Sort each row's listed blocks by (column, list order) and count its distinct columns.
    const int n_threads = threads_for(n_listed * (block_rows * block_cols * static_cast<std::int64_t>(sizeof(T)) + 16));
    const auto bounds = split_by_cost(n_block_rows, tasks_for(n_threads),
                                      [&](std::int64_t bi) { return start[bi] + bi; });
    const auto n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;
    Bsr<I, T> m{n_block_rows, n_block_cols, block_rows, block_cols, Buffer<I>(n_block_rows + 1), {}, {}};
    m.indptr[0] = 0;
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t bi = bounds[task]; bi < bounds[task + 1]; ++bi) {
            const auto first = order.begin() + start[bi], last = order.begin() + start[bi + 1];
            std::sort(first, last, [&](std::int64_t x, std::int64_t y) {
                return std::make_pair(cols[x], x) < std::make_pair(cols[y], y);
            });
            std::int64_t distinct = 0;
            for (auto it = first; it != last; ++it) distinct += (it == first || cols[*it] != cols[*(it - 1)]);
            m.indptr[bi + 1] = static_cast<I>(distinct);
        }
    });
    for (std::int64_t bi = 0; bi < n_block_rows; ++bi) m.indptr[bi + 1] += m.indptr[bi];
    const std::int64_t n_blocks = m.indptr[n_block_rows];
    m.indices = Buffer<I>(n_blocks);
    m.data = Buffer<T>(n_blocks * block_size);

    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t bi = bounds[task]; bi < bounds[task + 1]; ++bi) {
            std::int64_t q = std::int64_t{m.indptr[bi]} - 1;
            for (std::int64_t s = start[bi]; s < start[bi + 1]; ++s) {
                const std::int64_t k = order[s];
                const T* source = blocks + k * block_size;
                const bool new_column = s == start[bi] || cols[k] != cols[order[s - 1]];
                if (new_column) {
                    ++q;
                    m.indices[q] = cols[k];
                }
                T* target = m.data.data() + q * block_size;
                if (new_column) {
                    std::copy(source, source + block_size, target);
                } else {
                    for (std::int64_t e = 0; e < block_size; ++e) target[e] += source[e];
                }
            }
        }
    });
    return m;
}

}  // namespace pynla::block
