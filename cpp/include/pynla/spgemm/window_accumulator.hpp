// Dense accumulator over a window of columns [low, low + width), for rows of C whose columns
// lie in a band (stencils, banded and FEM matrices) or fill much of their span (dense rows).
// The sparse accumulator (SPA) of Gilbert, Moler and Schreiber (1992), made to run fast:
//   - per column, a sum (reset to zero as the row is written out, so every sum starts at zero,
//     as SciPy's do) and a stamp naming the last (row, pass) that touched it, so that "seen
//     before?" is one compare, stamps are never cleared, and a window can move from row to row
//     (stale stamps never equal the current one);
//   - accumulating is a direct add, no hashing, no probing, no branch;
//   - the numeric pass lists the columns in the order it first meets them (SciPy's order, for
//     unsorted output); for sorted output they are marked in a bitmap and walked in column
//     order (column_bitmap.hpp), which beat insertion sort even on 13-column Poisson rows.
// Cost per row: O(products + distinct + width / 4096). Arrays grow to the widest window a
// thread meets; the caller keeps windows small enough to stay in cache.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/scalar.hpp"
#include "pynla/common/column_bitmap.hpp"
#include "pynla/spgemm/row_products.hpp"

namespace pynla::spgemm::detail {

template <class I, class T>
class WindowAccumulator {
public:
    // Symbolic pass: the number of distinct columns of row i of A B, all in [low, low + width).
    std::int64_t count_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t low,
                           std::int64_t width) {
        reserve(width);
        I* const stamps = stamps_.data();
        const I tag = static_cast<I>(i);  // symbolic pass of row i
        std::int64_t distinct = 0;
        for_each_product(a, b, i, [&](I column, std::int64_t, std::int64_t) {
            const std::int64_t offset = column - low;
            distinct += stamps[offset] != tag;
            stamps[offset] = tag;
        });
        return distinct;
    }

    // Numeric pass: writes the nonzero entries of row i of A B, which has `distinct` distinct
    // columns, all in [low, low + width), sorted by column if asked; returns how many.
    std::int64_t sum_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t low,
                         std::int64_t width, std::int64_t distinct, bool sort_indices, I* out_indices,
                         T* out_values) {
        reserve(width);
        // One slot more than distinct: every product writes its slot, only first touches advance.
        if (static_cast<std::int64_t>(first_touches_.size()) <= distinct) first_touches_.resize(static_cast<std::size_t>(distinct) + 1);
        I* const stamps = stamps_.data();
        T* const values = values_.data();
        std::uint32_t* const first_touches = first_touches_.data();
        const I tag = static_cast<I>(-2 - i);  // numeric pass of row i: never a row number, never -1
        std::int64_t n_touched = 0;
        for_each_product(a, b, i, [&](I column, std::int64_t p, std::int64_t q) {
            const T product = multiply(a.data[p], b.data[q]);
            const auto offset = static_cast<std::uint32_t>(column - low);
            values[offset] += product;  // zero before the row's first touch, as SciPy's sums: same bits
            const bool first = stamps[offset] != tag;
            stamps[offset] = tag;
            first_touches[n_touched] = offset;
            n_touched += first;
        });

        if (!sort_indices) return write_offsets(first_touches, n_touched, low, out_indices, out_values);
        if (ColumnBitmap::pays_off(n_touched, width)) {
            return write_nonzeros_by_bitmap(n_touched, low, width, out_indices, out_values);
        }
        std::sort(first_touches, first_touches + n_touched);
        return write_offsets(first_touches, n_touched, low, out_indices, out_values);
    }

private:
    // Writes the entries at the given offsets, in that order, skipping exact zeros (as SciPy
    // does); returns how many were written.
    std::int64_t write_offsets(const std::uint32_t* offsets, std::int64_t n, std::int64_t low, I* out_indices,
                               T* out_values) {
        std::int64_t written = 0;
        for (std::int64_t t = 0; t < n; ++t) written = take(offsets[t], low, written, out_indices, out_values);
        return written;
    }

    // As write_offsets for the first-touch list, in column order (through the bitmap).
    std::int64_t write_nonzeros_by_bitmap(std::int64_t n_touched, std::int64_t low, std::int64_t width,
                                          I* out_indices, T* out_values) {
        const std::uint32_t* const first_touches = first_touches_.data();
        for (std::int64_t t = 0; t < n_touched; ++t) bitmap_.mark(first_touches[t]);
        std::int64_t written = 0;
        bitmap_.walk(width, [&](std::int64_t offset) { written = take(offset, low, written, out_indices, out_values); });
        return written;
    }

    // Moves the sum at `offset` to out[written] and resets it; an exact zero is dropped (as
    // SciPy does) by not advancing. Returns the new count written.
    std::int64_t take(std::int64_t offset, std::int64_t low, std::int64_t written, I* out_indices, T* out_values) {
        const T value = values_[offset];
        values_[offset] = T(0);
        out_indices[written] = static_cast<I>(low + offset);
        out_values[written] = value;
        return written + (value != T(0));
    }

    void reserve(std::int64_t width) {
        if (static_cast<std::int64_t>(values_.size()) < width) {
            values_.resize(static_cast<std::size_t>(width), T(0));
            stamps_.resize(static_cast<std::size_t>(width), I(-1));
        }
        bitmap_.reserve(width);
    }

    std::vector<T> values_;                    // zero between rows: each write-out resets what it reads
    std::vector<I> stamps_;                    // -1, or the tag of the (row, pass) that last touched the offset
    std::vector<std::uint32_t> first_touches_; // offsets in the order the numeric pass first met them
    ColumnBitmap bitmap_;
};

}  // namespace pynla::spgemm::detail
