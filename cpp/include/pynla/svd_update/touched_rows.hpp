// The rows of a basis that a sparse block touches, and the block relabelled onto them.
//
// Updating a rank-k SVD with a sparse block Y (n x s: s new directions over the n rows of the
// left or right singular vectors) reads and writes only the rows of the basis that Y's entries
// name (Deng et al., "Fast Updating Truncated SVD for Representation Learning with Sparse
// Matrices", ICLR 2024). The caller holds Y as the CSR rows of Y^T (s x n); this kernel lists
// the distinct columns of those rows, in the order first met (`touched`), and rewrites every
// column index as its position in that list (`local`), so that the update's products run on
// an s x |touched| block and its basis rows are gathered once.
// In:  indices: the nnz column indices of the CSR rows (any order, repeats allowed), each in
//      [0, n); marks: n entries, each -1 on entry: a workspace the caller keeps from call to
//      call, so that no call spends O(n) on it. Every entry is -1 again on return, also when
//      an index is out of range (std::invalid_argument, after undoing the marks made).
// Out: touched (distinct indices, first met first), local (nnz): touched[local[p]] == indices[p].
// Cost: one pass over the indices and one over `touched`; one thread (it costs less than
//       the products that follow it on the same block: one multiply-add per entry and basis
//       column).
#pragma once

#include <cstdint>
#include <type_traits>

#include "pynla/common/buffer.hpp"
#include "pynla/common/error.hpp"

namespace pynla::svd_update {

template <class I>
struct TouchedRows {
    Buffer<I> touched;
    Buffer<I> local;
};

template <class I>
TouchedRows<I> touched_rows(const I* indices, std::int64_t nnz, std::int64_t n, std::int64_t* marks) {
    static_assert(std::is_integral_v<I> && std::is_signed_v<I>, "indices are signed integers");
    Buffer<I> local(nnz);
    Buffer<I> touched(nnz);  // at most nnz distinct; trimmed below
    std::int64_t n_touched = 0;
    const auto undo_marks = [&] {
        for (std::int64_t t = 0; t < n_touched; ++t) marks[touched.data()[t]] = -1;
    };
    for (std::int64_t p = 0; p < nnz; ++p) {
        const std::int64_t row = indices[p];
        if (row < 0 || row >= n) {
            undo_marks();
            PYNLA_REQUIRE(false, "indices: an index is out of range");
        }
        if (marks[row] < 0) {
            marks[row] = n_touched;
            touched.data()[n_touched++] = static_cast<I>(row);
        }
        local.data()[p] = static_cast<I>(marks[row]);
    }
    undo_marks();
    touched.shrink_to(n_touched);
    return {std::move(touched), std::move(local)};
}

}  // namespace pynla::svd_update
