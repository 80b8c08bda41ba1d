// Compressed sparse row matrices: a borrowed view for inputs, an owned result for outputs.
// Views are trusted: the Python layer checks structure (monotone indptr, indices in range)
// before any kernel sees them. Indices within a row may be unsorted and may repeat.
#pragma once

#include <cstdint>
#include <type_traits>

#include "pynla/common/buffer.hpp"

namespace pynla {

template <class I>
constexpr bool is_index_type_v = std::is_same_v<I, std::int32_t> || std::is_same_v<I, std::int64_t>;

template <class I, class T>
struct CsrView {
    static_assert(is_index_type_v<I>, "CSR indices are int32 or int64");
    std::int64_t n_rows = 0;
    std::int64_t n_cols = 0;
    const I* indptr = nullptr;   // n_rows + 1 offsets, indptr[0] == 0
    const I* indices = nullptr;  // indptr[n_rows] column indices
    const T* data = nullptr;     // indptr[n_rows] values

    std::int64_t row_begin(std::int64_t i) const { return static_cast<std::int64_t>(indptr[i]); }
    std::int64_t row_end(std::int64_t i) const { return static_cast<std::int64_t>(indptr[i + 1]); }
    std::int64_t row_length(std::int64_t i) const { return row_end(i) - row_begin(i); }
    std::int64_t nnz() const { return static_cast<std::int64_t>(indptr[n_rows]); }
};

template <class I, class T>
struct Csr {
    std::int64_t n_rows = 0;
    std::int64_t n_cols = 0;
    Buffer<I> indptr;
    Buffer<I> indices;
    Buffer<T> data;
};

}  // namespace pynla
