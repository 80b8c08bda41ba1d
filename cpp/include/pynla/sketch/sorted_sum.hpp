// Sums values by index in [0, width) and writes the nonzero sums in increasing index order: the
// dense accumulator of SpGEMM's window rows (Gilbert, Moler and Schreiber 1992), fed entry by
// entry. A stamp per index says whether the current set has touched it; the touched indices are
// ordered by walking a bitmap (common/column_bitmap.hpp) or, when few and the width is large,
// by sorting them. Cost per set: O(entries + distinct log distinct or width / 4096).
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/common/column_bitmap.hpp"

namespace pynla::sketch {

template <class T>
class SortedSum {
public:
    // Starts a new set of indices in [0, width).
    void start(std::int64_t width) {
        if (static_cast<std::int64_t>(sums_.size()) < width) {
            sums_.resize(static_cast<std::size_t>(width), T(0));
            stamps_.resize(static_cast<std::size_t>(width), 0);
        }
        bitmap_.reserve(std::min(width, ColumnBitmap::kMaxWidth));  // wider sets are sorted
        width_ = width;
        touched_.clear();
        ++stamp_;
    }

    void add(std::int64_t index, const T& value) {
        if (stamps_[index] != stamp_) {
            stamps_[index] = stamp_;
            touched_.push_back(index);
        }
        sums_[index] += value;  // zero before the set's first touch
    }

    // Writes the nonzero sums times `scale` in increasing index order (exact zeros are dropped, as
    // SciPy drops them from products), resets them to zero, and returns how many were written.
    template <class I>
    std::int64_t write(double scale, I* out_indices, T* out_values) {
        std::int64_t written = 0;
        const auto take = [&](std::int64_t index) {
            const T sum = sums_[index];
            sums_[index] = T(0);
            out_indices[written] = static_cast<I>(index);
            out_values[written] = scale == 1.0 ? sum : sum * static_cast<decltype(std::real(sum))>(scale);
            written += sum != T(0);
        };
        const auto n_touched = static_cast<std::int64_t>(touched_.size());
        if (ColumnBitmap::pays_off(n_touched, width_)) {
            for (const std::int64_t index : touched_) bitmap_.mark(static_cast<std::uint64_t>(index));
            bitmap_.walk(width_, take);
        } else {
            std::sort(touched_.begin(), touched_.end());
            for (const std::int64_t index : touched_) take(index);
        }
        return written;
    }

private:
    std::vector<T> sums_;                  // zero outside a set
    std::vector<std::uint64_t> stamps_;    // the set that last touched each index
    std::vector<std::int64_t> touched_;    // indices of the current set, in first-touch order
    ColumnBitmap bitmap_;
    std::uint64_t stamp_ = 0;
    std::int64_t width_ = 0;
};

}  // namespace pynla::sketch
