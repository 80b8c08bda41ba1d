// Hash accumulator for one row of C (Nagasaka et al., "Performance optimization, modeling and
// analysis of sparse matrix-matrix products on multi-core and many-core processors", 2019).
// Open addressing with linear probing in a table sized to the row (a power of two at least twice
// the row's bound on distinct columns), so the table of a typical row sits in L1 cache.
// Fibonacci hashing spreads the regular column patterns of stencils and grids over the table.
// One accumulator per thread; the table is emptied as each row is finished and never shrinks,
// so a thread's scratch is sized by the widest row it meets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/scalar.hpp"
#include "pynla/common/column_bitmap.hpp"
#include "pynla/spgemm/row_entries.hpp"
#include "pynla/spgemm/row_products.hpp"

namespace pynla::spgemm::detail {

template <class I, class T>
class HashAccumulator {
public:
    // Symbolic pass: the number of distinct columns of row i of A B, given a bound on it.
    std::int64_t count_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t max_distinct) {
        const Table table = reserve(max_distinct);
        I* const keys = keys_.data();
        std::int64_t distinct = 0;
        for_each_product(a, b, i, [&](I column, std::int64_t, std::int64_t) {
            const std::uint64_t slot = table.slot_of(keys, column);
            distinct += keys[slot] == kEmpty;
            keys[slot] = column;
        });
        std::fill(keys, keys + table.mask + 1, kEmpty);
        return distinct;
    }

    // Numeric pass: writes the nonzero entries of row i of A B, which has `distinct` distinct
    // columns, all in [low, low + width) (sorted by column if asked), empties the table, and
    // returns how many entries were written.
    std::int64_t sum_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t low,
                         std::int64_t width, std::int64_t distinct, bool sort_indices, I* out_indices, T* out_values) {
        const Table table = reserve(distinct);
        if (values_.size() < keys_.size()) values_.resize(keys_.size());
        if (static_cast<std::int64_t>(entries_.size()) < distinct) entries_.resize(static_cast<std::size_t>(distinct));
        I* const keys = keys_.data();
        T* const values = values_.data();
        for_each_product(a, b, i, [&](I column, std::int64_t p, std::int64_t q) {
            const T product = multiply(a.data[p], b.data[q]);
            const std::uint64_t slot = table.slot_of(keys, column);
            if (keys[slot] == kEmpty) {
                keys[slot] = column;
                values[slot] = T(0) + product;  // sums start at zero, as SciPy's: -0.0 becomes +0.0
            } else {
                values[slot] += product;
            }
        });
        if (sort_indices && ColumnBitmap::pays_off(distinct, width)) {
            return write_through_bitmap(table, low, width, out_indices, out_values);
        }
        Entry<I, T>* const first = entries_.data();
        Entry<I, T>* last = first;
        for (std::uint64_t slot = 0; slot <= table.mask; ++slot) {
            if (keys[slot] != kEmpty) {
                *last++ = {keys[slot], values[slot]};
                keys[slot] = kEmpty;
            }
        }
        if (sort_indices) sort_by_column(first, last);
        return write_nonzeros(first, last, out_indices, out_values);
    }

private:
    static constexpr I kEmpty = -1;

    struct Table {
        std::uint64_t mask;
        int shift;
        // The slot holding `column`, or the empty slot where it belongs (linear probing from
        // its Fibonacci-hashed home slot).
        std::uint64_t slot_of(const I* keys, I column) const {
            std::uint64_t slot = (static_cast<std::uint64_t>(column) * 0x9E3779B97F4A7C15ull) >> shift;
            while (keys[slot] != column && keys[slot] != kEmpty) slot = (slot + 1) & mask;
            return slot;
        }
    };

    // Writes the table's nonzero entries in column order: the columns are marked in a bitmap
    // over [low, low + width) and walked, each value found again by its key. Empties the table.
    std::int64_t write_through_bitmap(const Table& table, std::int64_t low, std::int64_t width, I* out_indices,
                                      T* out_values) {
        I* const keys = keys_.data();
        const T* const values = values_.data();
        bitmap_.reserve(width);
        for (std::uint64_t slot = 0; slot <= table.mask; ++slot) {
            if (keys[slot] != kEmpty) bitmap_.mark(static_cast<std::uint64_t>(keys[slot] - low));
        }
        std::int64_t written = 0;
        bitmap_.walk(width, [&](std::int64_t offset) {
            const auto column = static_cast<I>(low + offset);
            const std::uint64_t slot = table.slot_of(keys, column);
            out_indices[written] = column;
            out_values[written] = values[slot];
            written += (values[slot] != T(0));
        });
        std::fill(keys, keys + table.mask + 1, kEmpty);
        return written;
    }

    // A table of at least 2 max_distinct slots (a power of two).
    Table reserve(std::int64_t max_distinct) {
        int log2 = 1;
        while ((std::int64_t{1} << log2) < 2 * max_distinct) ++log2;
        const Table table{(std::uint64_t{1} << log2) - 1, 64 - log2};
        if (keys_.size() <= table.mask) keys_.resize(table.mask + 1, kEmpty);
        return table;
    }

    std::vector<I> keys_;  // kEmpty outside a row
    std::vector<T> values_;
    std::vector<Entry<I, T>> entries_;
    ColumnBitmap bitmap_;
};

}  // namespace pynla::spgemm::detail
