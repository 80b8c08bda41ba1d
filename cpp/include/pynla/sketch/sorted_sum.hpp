// Sums values by index in [0, width) and writes the nonzero sums in increasing index order: a
// dense accumulator (Gilbert, Moler and Schreiber 1992) fed entry by entry. A bitmap
// (common/column_bitmap.hpp) says which indices the current set has touched, small enough to
// stay in the L1 cache beside the sums; walking it lists them in order, or, when they are few
// and the width large, they are sorted instead. Cost per set: O(entries + distinct log distinct
// or width / 4096). Widths up to ColumnBitmap::kMaxWidth.
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/common/column_bitmap.hpp"
#include "pynla/common/scalar.hpp"

namespace pynla::sketch {

template <class T>
class SortedSum {
public:
    // Starts a new set of indices in [0, width).
    void start(std::int64_t width) {
        if (static_cast<std::int64_t>(sums_.size()) < width) sums_.resize(static_cast<std::size_t>(width), T(0));
        bitmap_.reserve(width);
        width_ = width;
        touched_.clear();
    }

    void add(std::int64_t index, const T& value) {
        if (bitmap_.mark_new(static_cast<std::uint64_t>(index))) touched_.push_back(index);
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
            out_values[written] = scale == 1.0 ? sum : sum * static_cast<RealOf<T>>(scale);
            written += sum != T(0);
        };
        const auto n_touched = static_cast<std::int64_t>(touched_.size());
        if (ColumnBitmap::pays_off(n_touched, width_)) {
            bitmap_.walk(width_, take);
        } else {
            bitmap_.clear(touched_.data(), n_touched);
            std::sort(touched_.begin(), touched_.end());
            for (const std::int64_t index : touched_) take(index);
        }
        return written;
    }

private:
    std::vector<T> sums_;                // zero outside a set
    std::vector<std::int64_t> touched_;  // indices of the current set, in first-touch order
    ColumnBitmap bitmap_;                // the current set's indices; empty outside a set
    std::int64_t width_ = 0;
};

}  // namespace pynla::sketch
