// Which products of a row of C = A B are summed: all of them (the plain product), those on or
// above the diagonal (the upper triangle of a symmetric product), or only those whose column is
// in (or, with complement, outside) the row's pattern in a mask M (masked products, as
// GraphBLAS's C<M> = A B with a structural mask: M's stored entries count, whatever their
// values). One filter per thread; the numeric pass calls begin_row before a row's products
// and end_row after.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace pynla::spgemm {

// A mask's pattern: CSR row offsets and column indices (n_rows + 1 and nnz of them).
template <class I>
struct MaskView {
    const I* indptr;
    const I* indices;
    bool complement;  // keep the columns outside each row's pattern instead of those in it
};

namespace detail {

// Keeps every product.
struct EveryColumn {
    // The most entries row i can keep; 0 skips the row.
    std::int64_t begin_row(std::int64_t) { return std::numeric_limits<std::int64_t>::max(); }
    bool keeps(std::int64_t) const { return true; }
    void end_row(std::int64_t) {}
};

// Keeps the products on or above the diagonal (column >= row): the upper triangle of a product
// known to be symmetric, such as A A^T, at half the work.
class UpperTriangle {
public:
    std::int64_t begin_row(std::int64_t i) {
        row_ = i;
        return std::numeric_limits<std::int64_t>::max();
    }
    bool keeps(std::int64_t column) const { return column >= row_; }
    void end_row(std::int64_t) {}

private:
    std::int64_t row_ = 0;
};

// Keeps the products whose column is in the mask's row (or outside it, with complement): the
// row's columns are marked in a bitmap over all of C's columns (n_cols / 8 bytes a thread), so
// a product's test is one bit read; end_row clears the marks.
template <class I>
class MaskColumns {
public:
    MaskColumns(const MaskView<I>& mask, std::int64_t n_cols) : mask_(mask), n_cols_(n_cols) {}

    std::int64_t begin_row(std::int64_t i) {
        const std::int64_t begin = mask_.indptr[i], end = mask_.indptr[i + 1];
        if (!mask_.complement && begin == end) return 0;  // nothing to keep: the row costs no product
        if (words_.empty()) words_.assign(static_cast<std::size_t>((n_cols_ + 63) / 64 + 1), 0);
        for (std::int64_t p = begin; p < end; ++p) {
            const std::int64_t column = mask_.indices[p];
            words_[column >> 6] |= std::uint64_t{1} << (column & 63);
        }
        return mask_.complement ? std::numeric_limits<std::int64_t>::max() : end - begin;
    }

    bool keeps(std::int64_t column) const {
        return static_cast<bool>((words_[column >> 6] >> (column & 63)) & 1) != mask_.complement;
    }

    void end_row(std::int64_t i) {
        for (std::int64_t p = mask_.indptr[i]; p < mask_.indptr[i + 1]; ++p) words_[mask_.indices[p] >> 6] = 0;
    }

private:
    MaskView<I> mask_;
    std::int64_t n_cols_;
    std::vector<std::uint64_t> words_;  // bit c % 64 of word c / 64: column c in the current row's mask
};

}  // namespace detail

}  // namespace pynla::spgemm
