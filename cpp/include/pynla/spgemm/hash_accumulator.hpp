// Hash accumulator for one row of C (Nagasaka et al., "Performance optimization, modeling and
// analysis of sparse matrix-matrix products on multi-core and many-core processors", 2019).
// Open addressing with linear probing in a table sized to the row (a power of two at least twice
// the row's bound on distinct columns), so the table of a typical row sits in L1 cache.
// Fibonacci hashing spreads the regular column patterns of stencils and grids over the table.
// One accumulator per thread; the table is emptied as each row is finished, never reallocated
// smaller, so a thread's scratch is sized by the widest row it meets.
#pragma once

#include <cstdint>
#include <vector>

#include "pynla/spgemm/row_entries.hpp"

namespace pynla::spgemm::detail {

template <class I, class T>
class HashAccumulator {
public:
    // Symbolic pass: prepares for a row with at most max_distinct distinct columns.
    void begin_count(std::int64_t max_distinct) {
        resize_for(max_distinct);
        distinct_ = 0;
    }
    void count(I column) {
        std::uint64_t slot = home_slot(column);
        while (keys_[slot] != column) {
            if (keys_[slot] == kEmpty) {
                keys_[slot] = column;
                ++distinct_;
                return;
            }
            slot = (slot + 1) & mask_;
        }
    }
    // Ends the symbolic row: returns its number of distinct columns and empties the table.
    std::int64_t end_count() {
        std::fill(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(mask_ + 1), kEmpty);
        return distinct_;
    }

    // Numeric pass: prepares for a row with exactly `distinct` distinct columns.
    void begin_sum(std::int64_t distinct) {
        resize_for(distinct);
        values_.resize(keys_.size());
    }
    void add(I column, const T& value) {
        std::uint64_t slot = home_slot(column);
        while (true) {
            if (keys_[slot] == column) {
                values_[slot] += value;
                return;
            }
            if (keys_[slot] == kEmpty) {
                keys_[slot] = column;
                values_[slot] = value;
                return;
            }
            slot = (slot + 1) & mask_;
        }
    }
    // Ends the numeric row: writes its nonzero entries (sorted by column if asked), empties the
    // table, and returns how many entries were written.
    std::int64_t end_sum(bool sort_indices, I* out_indices, T* out_values) {
        entries_.clear();
        for (std::uint64_t slot = 0; slot <= mask_; ++slot) {
            if (keys_[slot] != kEmpty) {
                entries_.push_back({keys_[slot], values_[slot]});
                keys_[slot] = kEmpty;
            }
        }
        if (sort_indices) sort_by_column(entries_.data(), entries_.data() + entries_.size());
        return write_nonzeros(entries_.data(), entries_.data() + entries_.size(), out_indices, out_values);
    }

private:
    static constexpr I kEmpty = -1;

    void resize_for(std::int64_t max_distinct) {
        int log2 = 1;
        while ((std::int64_t{1} << log2) < 2 * max_distinct) ++log2;
        shift_ = 64 - log2;
        mask_ = (std::uint64_t{1} << log2) - 1;
        if (keys_.size() <= mask_) keys_.resize(mask_ + 1, kEmpty);
    }
    std::uint64_t home_slot(I column) const {
        return (static_cast<std::uint64_t>(column) * 0x9E3779B97F4A7C15ull) >> shift_;
    }

    std::vector<I> keys_;  // kEmpty outside a row
    std::vector<T> values_;
    std::vector<Entry<I, T>> entries_;
    std::uint64_t mask_ = 1;
    int shift_ = 63;
    std::int64_t distinct_ = 0;
};

}  // namespace pynla::spgemm::detail
