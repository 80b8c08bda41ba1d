// Dense accumulator for rows of C that touch a large share of its columns, where a hash table
// would be as large as a dense array and slower to probe (the SPA of Gilbert, Moler and Schreiber,
// 1992). An array of n_cols values plus a stamp per column holding the last row that touched it,
// so nothing is cleared between rows. Allocated only by threads that meet such a row.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace pynla::spgemm::detail {

template <class I, class T>
class DenseAccumulator {
public:
    explicit DenseAccumulator(std::int64_t n_cols)
        : values_(static_cast<std::size_t>(n_cols)), stamps_(static_cast<std::size_t>(n_cols), I(-1)) {}

    // Symbolic pass for row `row`: count() each column, end_count() gives the distinct count.
    void begin_count(I row) {
        row_ = row;
        distinct_ = 0;
    }
    void count(I column) {
        if (stamps_[column] != row_) {
            stamps_[column] = row_;
            ++distinct_;
        }
    }
    std::int64_t end_count() const { return distinct_; }

    // Numeric pass for row `row`. Stamps: -1 never touched, row in the symbolic pass, -2 - row in
    // the numeric pass, so that no pass mistakes another's marks for its own.
    void begin_sum(I row) {
        row_ = -2 - row;
        touched_.clear();
    }
    void add(I column, const T& value) {
        if (stamps_[column] != row_) {
            stamps_[column] = row_;
            values_[column] = value;
            touched_.push_back(column);
        } else {
            values_[column] += value;
        }
    }
    // Ends the numeric row: writes its nonzero entries (sorted by column if asked) and returns
    // how many were written.
    std::int64_t end_sum(bool sort_indices, I* out_indices, T* out_values) {
        std::int64_t written = 0;
        const auto write_if_nonzero = [&](I j) {
            if (values_[j] != T(0)) {
                out_indices[written] = j;
                out_values[written] = values_[j];
                ++written;
            }
        };
        const auto n_cols = static_cast<std::int64_t>(stamps_.size());
        if (sort_indices && static_cast<std::int64_t>(touched_.size()) * 16 > n_cols) {
            // Many columns touched: a scan in column order is cheaper than sorting them.
            for (std::int64_t j = 0; j < n_cols; ++j) {
                if (stamps_[j] == row_) write_if_nonzero(static_cast<I>(j));
            }
        } else {
            if (sort_indices) std::sort(touched_.begin(), touched_.end());
            for (const I j : touched_) write_if_nonzero(j);
        }
        return written;
    }

private:
    std::vector<T> values_;
    std::vector<I> stamps_;
    std::vector<I> touched_;
    I row_ = -1;
    std::int64_t distinct_ = 0;
};

}  // namespace pynla::spgemm::detail
