// The blocks of a BSR matrix listed by block column, for products with its transpose: for
// block column j, the block rows and storage positions of its blocks, in block-row order (and
// storage order within a block row). A counting sort: O(n_blocks + n_block_cols) time.
#pragma once

#include <algorithm>
#include <cstdint>

#include "pynla/common/bsr.hpp"
#include "pynla/common/buffer.hpp"

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
    const std::int64_t n_blocks = a.n_blocks();
    BlockColumns<I> columns{Buffer<I>(a.n_block_cols + 1), Buffer<I>(n_blocks), Buffer<I>(n_blocks)};
    I* next = columns.indptr.data();  // next[j + 1] counts, then next[j] is where column j's next block goes
    std::fill(next, next + a.n_block_cols + 1, I(0));
    for (std::int64_t p = 0; p < n_blocks; ++p) ++next[a.indices[p] + 1];
    for (std::int64_t j = 0; j < a.n_block_cols; ++j) next[j + 1] += next[j];
    for (std::int64_t i = 0; i < a.n_block_rows; ++i) {
        for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
            const I slot = next[a.indices[p]]++;
            columns.rows[slot] = static_cast<I>(i);
            columns.positions[slot] = static_cast<I>(p);
        }
    }
    // next[j] now holds the end of column j: shift back by one to get the starts.
    for (std::int64_t j = a.n_block_cols; j > 0; --j) next[j] = next[j - 1];
    next[0] = 0;
    return columns;
}

}  // namespace pynla::block
