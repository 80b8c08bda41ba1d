// The blocks of a BSR matrix listed by block column, for products with its transpose: for
// block column j, the block rows and storage positions of its blocks, in block-row order (and
// storage order within a block row). A parallel counting sort: O(n_blocks + threads x
// n_block_cols) time and memory.
#pragma once

#include <cstdint>
#include <vector>

#include "pynla/common/bsr.hpp"
#include "pynla/common/buffer.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla::block {

template <class I>
struct BlockColumnsView {
    const I* indptr = nullptr;     // n_block_cols + 1 offsets into rows and positions
    const I* rows = nullptr;       // the block row of each listed block
    const I* positions = nullptr;  // its position in the matrix's indices and data
};

template <class I>
struct BlockColumns {
    Buffer<I> indptr;
    Buffer<I> rows;
    Buffer<I> positions;

    BlockColumnsView<I> view() const { return {indptr.data(), rows.data(), positions.data()}; }
};

template <class I, class T>
BlockColumns<I> block_columns(const BsrView<I, T>& a) {
    const std::int64_t n_blocks = a.n_blocks(), n_cols = a.n_block_cols;
    BlockColumns<I> columns{Buffer<I>(n_cols + 1), Buffer<I>(n_blocks), Buffer<I>(n_blocks)};
    // A counting sort in parallel: task t takes a range of block rows, counts its blocks per
    // column, and writes them after those of the tasks before it, so the listing is the same
    // for any thread count.
    const int n_threads = threads_for(4 * (n_blocks + n_cols) * static_cast<std::int64_t>(sizeof(I)));
    const auto bounds = split_by_cost(a.n_block_rows, n_threads, [&](std::int64_t i) { return a.row_begin(i) + i; });
    const auto n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<std::vector<I>> next(static_cast<std::size_t>(n_tasks));  // next[t][j]: counts, then slots
    parallel_for(n_tasks, n_threads, [&](std::int64_t t, int) {
        next[t].assign(static_cast<std::size_t>(n_cols), I(0));
        for (std::int64_t p = a.row_begin(bounds[t]); p < a.row_begin(bounds[t + 1]); ++p) ++next[t][a.indices[p]];
    });
    std::int64_t offset = 0;
    for (std::int64_t j = 0; j < n_cols; ++j) {
        columns.indptr[j] = static_cast<I>(offset);
        for (std::int64_t t = 0; t < n_tasks; ++t) {
            const I count = next[t][j];
            next[t][j] = static_cast<I>(offset);
            offset += count;
        }
    }
    columns.indptr[n_cols] = static_cast<I>(offset);
    parallel_for(n_tasks, n_threads, [&](std::int64_t t, int) {
        for (std::int64_t i = bounds[t]; i < bounds[t + 1]; ++i) {
            for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                const I slot = next[t][a.indices[p]]++;
                columns.rows[slot] = static_cast<I>(i);
                columns.positions[slot] = static_cast<I>(p);
            }
        }
    });
    return columns;
}

}  // namespace pynla::block
