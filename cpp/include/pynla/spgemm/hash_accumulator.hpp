// Hash accumulator for one row of C (Nagasaka et al., "Performance optimization, modeling and
// analysis of sparse matrix-matrix products on multi-core and many-core processors", 2019).
// Open addressing with linear probing in a table sized to the row (a power of two at least twice
// the row's bound on distinct columns), so the table of a typical row sits in L1 cache.
// Fibonacci hashing spreads the regular column patterns of stencils and grids over the table.
// The bound is the row's product count or its span, whichever is smaller (the single numeric pass
// has no exact count); the slots a row fills are listed, so writing out and emptying the table
// cost O(entries), not O(table). One accumulator per thread; the table is emptied as each row is
// finished and never shrinks, so a thread's scratch is sized by the widest row it meets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"
#include "pynla/common/column_bitmap.hpp"
#include "pynla/spgemm/row_entries.hpp"
#include "pynla/spgemm/row_products.hpp"

namespace pynla::spgemm::detail {

template <class I, class T, class S = PlusTimes>
class HashAccumulator {
public:
    // Writes the entries of row i of A B over semiring S, which has at most max_entries distinct
    // columns, all in [low, low + width) (sorted by column if asked), leaving out those S drops
    // (plus_times: sums exactly zero, as SciPy does); empties the table and returns how many
    // entries were written. Only products whose column `filter` keeps are summed
    // (column_filters.hpp).
    template <class Filter>
    std::int64_t sum_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t max_entries,
                         std::int64_t low, std::int64_t width, bool sort_indices, const Filter& filter,
                         I* out_indices, T* out_values) {
        const Table table = reserve(max_entries);
        I* const keys = keys_.data();
        T* const values = values_.data();
        std::uint64_t* const used = used_slots_.data();
        std::int64_t n_used = 0;
        for_each_product<S>(a, b, i, [&](I column, const T& product) {
            if (!filter.keeps(column)) return;
            const std::uint64_t slot = table.slot_of(keys, column);
            if (keys[slot] == kEmpty) {
                keys[slot] = column;
                // Sums start at the identity, as SciPy's at zero (plus_times: -0.0 becomes +0.0).
                values[slot] = S::add(S::template identity<T>(), product);
                used[n_used++] = slot;
            } else {
                values[slot] = S::add(values[slot], product);
            }
        });
        if (sort_indices && n_used <= kMaxRankedEntries && width <= kMaxOffset) {
            return write_by_rank(n_used, low, out_indices, out_values);
        }
        if (sort_indices && ColumnBitmap::pays_off(n_used, width)) {
            return write_through_bitmap(table, n_used, low, width, out_indices, out_values);
        }
        Entry<I, T>* const first = entries_.data();
        for (std::int64_t t = 0; t < n_used; ++t) {
            first[t] = {keys[used[t]], values[used[t]]};
            keys[used[t]] = kEmpty;
        }
        if (sort_indices) sort_by_column(first, first + n_used);
        return write_kept<S>(first, first + n_used, out_indices, out_values);
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

    static constexpr std::int64_t kMaxOffset = std::numeric_limits<std::int32_t>::max();  // ranks compare int32

    // Writes the table's kept entries, at most kMaxRankedEntries, in column order by their ranks
    // (row_entries.hpp), their columns as offsets from low. Empties the table.
    std::int64_t write_by_rank(std::int64_t n_used, std::int64_t low, I* out_indices, T* out_values) {
        I* const keys = keys_.data();
        const std::uint64_t* const used = used_slots_.data();
        RankedEntries<T> ranked(wide_);
        std::uint32_t* const offsets = ranked.offsets();
        T* const sums = ranked.values();
        std::int64_t n_kept = 0;
        for (std::int64_t t = 0; t < n_used; ++t) {
            const T sum = values_[used[t]];
            offsets[n_kept] = static_cast<std::uint32_t>(keys[used[t]] - low);
            sums[n_kept] = sum;
            keys[used[t]] = kEmpty;
            n_kept += keeps_sum<S>(sum);  // a dropped entry is overwritten by the next
        }
        ranked.write(n_kept, low, out_indices, out_values);
        return n_kept;
    }

    // Writes the table's kept entries in column order: the columns are marked in a bitmap
    // over [low, low + width) and walked, each value found again by its key. Empties the table.
    std::int64_t write_through_bitmap(const Table& table, std::int64_t n_used, std::int64_t low, std::int64_t width,
                                      I* out_indices, T* out_values) {
        I* const keys = keys_.data();
        const T* const values = values_.data();
        const std::uint64_t* const used = used_slots_.data();
        bitmap_.reserve(width);
        for (std::int64_t t = 0; t < n_used; ++t) bitmap_.mark(static_cast<std::uint64_t>(keys[used[t]] - low));
        std::int64_t written = 0;
        bitmap_.walk(width, [&](std::int64_t offset) {
            const auto column = static_cast<I>(low + offset);
            const std::uint64_t slot = table.slot_of(keys, column);
            out_indices[written] = column;
            out_values[written] = values[slot];
            written += keeps_sum<S>(values[slot]);
        });
        for (std::int64_t t = 0; t < n_used; ++t) keys[used[t]] = kEmpty;
        return written;
    }

    // A table of at least 2 max_entries slots (a power of two), and room to list the used ones.
    Table reserve(std::int64_t max_entries) {
        int log2 = 1;
        while ((std::int64_t{1} << log2) < 2 * max_entries) ++log2;
        const Table table{(std::uint64_t{1} << log2) - 1, 64 - log2};
        if (keys_.size() <= table.mask) {
            keys_.resize(table.mask + 1, kEmpty);
            values_.resize(table.mask + 1);
        }
        if (static_cast<std::int64_t>(used_slots_.size()) < max_entries) {
            used_slots_.resize(static_cast<std::size_t>(max_entries));
            entries_.resize(static_cast<std::size_t>(max_entries));
        }
        return table;
    }

    std::vector<I> keys_;  // kEmpty outside a row
    std::vector<T> values_;
    std::vector<std::uint64_t> used_slots_;  // the slots filled in this row, in the order they were filled
    std::vector<Entry<I, T>> entries_;
    ColumnBitmap bitmap_;
    bool wide_ = use_avx2();  // short rows ranked with AVX2 (asked once per accumulator, that is per product)
};

}  // namespace pynla::spgemm::detail
