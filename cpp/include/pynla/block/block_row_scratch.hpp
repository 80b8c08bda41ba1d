// Per-thread scratch for kernels that build a BSR result one block row at a time (from_csr.hpp,
// multiply_block.hpp): which block columns the row has met, and where each one's block goes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace pynla::block {

template <class I>
struct BlockRowScratch {
    std::vector<std::int64_t> stamp;  // stamp[j] == mark: the current row has met block column j
    std::vector<I> slot;              // slot[j]: position of block column j's block in the result
    std::vector<I> columns;           // the current row's block columns

    // Sized for n_block_cols block columns on first use (each thread's, once), stamps unset.
    BlockRowScratch& ready(std::int64_t n_block_cols) {
        if (stamp.empty()) {
            stamp.assign(static_cast<std::size_t>(n_block_cols), -1);
            slot.resize(static_cast<std::size_t>(n_block_cols));
        }
        return *this;
    }

    // Sorts the row's block columns into indices[begin, ...) and points each one's slot there.
    void place_columns(I* indices, std::int64_t begin) {
        std::sort(columns.begin(), columns.end());
        for (std::size_t q = 0; q < columns.size(); ++q) {
            indices[begin + q] = columns[q];
            slot[columns[q]] = static_cast<I>(begin + q);
        }
    }
};

}  // namespace pynla::block
