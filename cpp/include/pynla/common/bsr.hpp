// Block sparse row (BSR) matrices, in SciPy's layout: a CSR structure over block rows and block
// columns, each stored block a dense R x C array in row-major order (data has shape (nnzb, R, C)).
// A borrowed view for inputs, an owned result for outputs. Views are trusted: the Python layer
// checks the structure before any kernel sees it. Blocks within a block row may be unsorted and
// may repeat (repeats add up).
#pragma once

#include <cstdint>

#include "pynla/common/buffer.hpp"
#include "pynla/common/csr.hpp"

namespace pynla {

template <class I, class T>
struct BsrView {
    static_assert(is_index_type_v<I>, "BSR indices are int32 or int64");
    using index_type = I;
    using value_type = T;
    std::int64_t n_block_rows = 0;
    std::int64_t n_block_cols = 0;
    std::int64_t block_rows = 1;  // R: rows of each block
    std::int64_t block_cols = 1;  // C: columns of each block
    const I* indptr = nullptr;    // n_block_rows + 1 offsets, indptr[0] == 0
    const I* indices = nullptr;   // indptr[n_block_rows] block-column indices
    const T* data = nullptr;      // indptr[n_block_rows] blocks of R * C values

    std::int64_t n_rows() const { return n_block_rows * block_rows; }
    std::int64_t n_cols() const { return n_block_cols * block_cols; }
    std::int64_t block_size() const { return block_rows * block_cols; }
    std::int64_t row_begin(std::int64_t i) const { return static_cast<std::int64_t>(indptr[i]); }
    std::int64_t row_end(std::int64_t i) const { return static_cast<std::int64_t>(indptr[i + 1]); }
    std::int64_t n_blocks() const { return static_cast<std::int64_t>(indptr[n_block_rows]); }
    const T* block(std::int64_t p) const { return data + p * block_size(); }
};

template <class I, class T>
struct Bsr {
    std::int64_t n_block_rows = 0;
    std::int64_t n_block_cols = 0;
    std::int64_t block_rows = 1;
    std::int64_t block_cols = 1;
    Buffer<I> indptr;
    Buffer<I> indices;
    Buffer<T> data;

    BsrView<I, T> view() const {
        return {n_block_rows, n_block_cols, block_rows, block_cols, indptr.data(), indices.data(), data.data()};
    }
};

}  // namespace pynla
