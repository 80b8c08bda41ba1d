// Sums values by index in [0, width) and writes the nonzero sums in increasing index order: a
// dense accumulator (Gilbert, Moler and Schreiber 1992) fed entry by entry. A bitmap
// (common/column_bitmap.hpp) says which indices the current set has touched, small enough to
// stay in the L1 cache beside the sums; walking it lists them in order, or, when they are few
// and the width large, they are sorted instead. Cost per set: O(entries + distinct log distinct
// or width / 4096). Widths up to ColumnBitmap::kMaxWidth.
// A set given whole (sum_run) whose accumulator would not fit in the L2 cache is summed without
// one: by rank when its bitmap is small beside it (each entry's place among the set's distinct
// indices is counted off the bitmap, and its value added there: two reads of the set and one of
// the bitmap, all in the L1 cache; O(entries + width / 64)), else sorted by index with a stable
// radix sort and its runs of equal indices summed (O(entries + 2^11) per digit of at most 11
// bits), if it has entries enough to pay for the digit counts or the accumulator would be too
// large to allocate; a small set of a moderate width keeps the accumulator. Each adds a set's
// values to T(0) in the order given, so all give the same bits. A set given whole that will be
// written by walking the bitmap marks its indices without testing whether each is new (in a
// dense set that branch goes either way at random: CountSketch of 2.5e6 entries to 400 x 5000
// rows took 26 ms on one thread with it, 16 without).
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/common/column_bitmap.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"

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
        const auto n_touched = static_cast<std::int64_t>(touched_.size());
        if (ColumnBitmap::pays_off(n_touched, width_)) return write_walked(scale, out_indices, out_values);
        bitmap_.clear(touched_.data(), n_touched);
        std::sort(touched_.begin(), touched_.end());
        std::int64_t written = 0;
        for (const std::int64_t index : touched_) take(index, scale, out_indices, out_values, written);
        return written;
    }

    // Sums the set of n entries (indices[q], values[q]), indices in [0, width), as start, add
    // and write would, and writes it to out_indices and out_values, which may be the inputs.
    template <class I>
    std::int64_t sum_run(std::int64_t width, const I* indices, const T* values, std::int64_t n, double scale,
                         I* out_indices, T* out_values) {
        if (width * static_cast<std::int64_t>(sizeof(T)) > kCachedSumBytes && width < (std::int64_t{1} << 32)) {
            if ((width + 63) / 64 <= kRankWordsPerEntry * n) {
                return use_avx2() ? sum_by_rank_avx2(width, indices, values, n, scale, out_indices, out_values)
                                  : sum_by_rank_plain(width, indices, values, n, scale, out_indices, out_values);
            }
            const int bits = 64 - __builtin_clzll(static_cast<std::uint64_t>(width - 1));
            const int passes = (bits + kMaxDigitBits - 1) / kMaxDigitBits, digit_bits = (bits + passes - 1) / passes;
            // Enough entries to pay for the digit counts, or an accumulator too large to allocate
            // (each thread would zero its own, on every call: 128 MB at width 2^24 made a 1e4-entry
            // sketch 8 times slower than a 1e6-entry one); but no more than the width (denser sets
            // reuse the accumulator's cache lines, and the sort's buffers stay O(width)).
            const bool large = width * static_cast<std::int64_t>(sizeof(T)) > kLargeSumBytes;
            if ((n >= (std::int64_t{1} << digit_bits) || large) && n <= width) {
                radix_sort(indices, values, n, passes, digit_bits);
                return write_runs(scale, n, out_indices, out_values);
            }
        }
        start(width);
        if (ColumnBitmap::pays_off(n, width)) {  // the bitmap will be walked whatever the distinct indices
            for (std::int64_t q = 0; q < n; ++q) add_marked(indices[q], values[q]);
            return write_walked(scale, out_indices, out_values);
        }
        for (std::int64_t q = 0; q < n; ++q) add(indices[q], values[q]);
        return write(scale, out_indices, out_values);
    }

private:
    static constexpr int kMaxDigitBits = 11;                   // 2^11 counts per digit: 8 KiB
    static constexpr std::int64_t kCachedSumBytes = 1 << 18;  // half an L2 cache
    static constexpr std::int64_t kLargeSumBytes = 1 << 23;   // past this, no accumulator is allocated
    static constexpr std::int64_t kRankWordsPerEntry = 4;     // ranking pays while its bitmap is this small

    static T scaled(const T& sum, double scale) { return scale == 1.0 ? sum : sum * static_cast<RealOf<T>>(scale); }

    // add() for a set that will be written by write_walked: the index is marked without a test
    // of whether it is new (in a dense set, a branch as likely taken as not) and not listed.
    void add_marked(std::int64_t index, const T& value) {
        bitmap_.mark(static_cast<std::uint64_t>(index));
        sums_[index] += value;
    }

    // write() for a set fed by add_marked: in the bitmap's order, O(distinct + width / 4096).
    template <class I>
    std::int64_t write_walked(double scale, I* out_indices, T* out_values) {
        std::int64_t written = 0;
        bitmap_.walk(width_, [&](std::int64_t index) { take(index, scale, out_indices, out_values, written); });
        return written;
    }

    // Writes the sum at index (if nonzero) as entry `written`, and resets it to zero.
    template <class I>
    void take(std::int64_t index, double scale, I* out_indices, T* out_values, std::int64_t& written) {
        const T sum = sums_[index];
        sums_[index] = T(0);
        out_indices[written] = static_cast<I>(index);
        out_values[written] = scaled(sum, scale);
        written += sum != T(0);
    }

    // Sorts the entries by index into keys_[0] and values_[0], stably: a pass per digit of
    // digit_bits bits, lowest first, all digits counted in one read of the input.
    template <class I>
    void radix_sort(const I* indices, const T* values, std::int64_t n, int passes, int digit_bits) {
        const std::uint32_t mask = (std::uint32_t{1} << digit_bits) - 1;
        counts_.assign(static_cast<std::size_t>(passes) << digit_bits, 0);
        std::uint32_t* const counts = counts_.data();
        for (std::int64_t q = 0; q < n; ++q) {
            const auto key = static_cast<std::uint32_t>(indices[q]);
            for (int pass = 0; pass < passes; ++pass) ++counts[(pass << digit_bits) + ((key >> (pass * digit_bits)) & mask)];
        }
        for (int pass = 0; pass < passes; ++pass) {
            std::uint32_t offset = 0;
            for (std::uint32_t* c = counts + (pass << digit_bits); c < counts + ((pass + 1) << digit_bits); ++c) {
                const std::uint32_t count = *c;
                *c = offset;
                offset += count;
            }
        }
        reserve_sorted(n);
        // Pass p moves the entries into buffer (passes - 1 - p) % 2, so the last lands in buffer 0.
        const auto move = [&](int pass, const auto* from_keys, const T* from_values) {
            std::uint32_t* const next = counts + (pass << digit_bits);
            const int shift = pass * digit_bits, to = (passes - 1 - pass) % 2;
            std::uint32_t* const to_keys = keys_[to].data();
            T* const to_values = values_[to].data();
            for (std::int64_t q = 0; q < n; ++q) {
                const auto key = static_cast<std::uint32_t>(from_keys[q]);
                const std::uint32_t place = next[(key >> shift) & mask]++;
                to_keys[place] = key;
                to_values[place] = from_values[q];
            }
            return to;
        };
        int last = move(0, indices, values);
        for (int pass = 1; pass < passes; ++pass) last = move(pass, keys_[last].data(), values_[last].data());
    }

    // sum_run by rank (width < 2^32): marks the set's indices in rank_words_, counts the marks
    // before each word (ranks_), then adds each value at its index's rank among the marked ones,
    // in keys_[0] and values_[0]; clears the marks and writes the sums out.
    template <class I>
    PYNLA_ALWAYS_INLINE std::int64_t sum_by_rank(std::int64_t width, const I* indices, const T* values, std::int64_t n,
                                                 double scale, I* out_indices, T* out_values) {
        const std::int64_t n_words = (width + 63) / 64;
        if (static_cast<std::int64_t>(rank_words_.size()) < n_words) {
            rank_words_.resize(static_cast<std::size_t>(n_words), 0);
            ranks_.resize(static_cast<std::size_t>(n_words));
        }
        std::uint64_t* const words = rank_words_.data();
        std::uint32_t* const ranks = ranks_.data();
        for (std::int64_t q = 0; q < n; ++q) {
            const auto index = static_cast<std::uint64_t>(indices[q]);
            words[index >> 6] |= std::uint64_t{1} << (index & 63);
        }
        std::uint32_t distinct = 0;
        for (std::int64_t w = 0; w < n_words; ++w) {
            ranks[w] = distinct;
            distinct += static_cast<std::uint32_t>(__builtin_popcountll(words[w]));
        }
        reserve_sorted(distinct);
        std::uint32_t* const keys = keys_[0].data();
        T* const sums = values_[0].data();
        std::fill(sums, sums + distinct, T(0));
        for (std::int64_t q = 0; q < n; ++q) {
            const auto index = static_cast<std::uint64_t>(indices[q]);
            const std::uint64_t below = words[index >> 6] & ((std::uint64_t{1} << (index & 63)) - 1);
            const std::uint32_t rank = ranks[index >> 6] + static_cast<std::uint32_t>(__builtin_popcountll(below));
            keys[rank] = static_cast<std::uint32_t>(index);
            sums[rank] += values[q];
        }
        std::fill(words, words + n_words, std::uint64_t{0});
        return write_runs(scale, distinct, out_indices, out_values);  // runs of one: each key is distinct
    }

    // The x86-64 baseline has no popcount instruction (each is a library call): AVX2 CPUs have one,
    // and it makes the ranking twice as fast as the radix sort (1000 entries in 2^17: 6.5 against 13 ns each).
    template <class I>
    std::int64_t sum_by_rank_plain(std::int64_t width, const I* indices, const T* values, std::int64_t n, double scale,
                                   I* out_indices, T* out_values) {
        return sum_by_rank(width, indices, values, n, scale, out_indices, out_values);
    }
    template <class I>
    PYNLA_TARGET_AVX2 std::int64_t sum_by_rank_avx2(std::int64_t width, const I* indices, const T* values,
                                                    std::int64_t n, double scale, I* out_indices, T* out_values) {
        return sum_by_rank(width, indices, values, n, scale, out_indices, out_values);
    }

    void reserve_sorted(std::int64_t n) {
        for (int b = 0; b < 2; ++b) {
            if (static_cast<std::int64_t>(keys_[b].size()) < n) {
                keys_[b].resize(static_cast<std::size_t>(n));
                values_[b].resize(static_cast<std::size_t>(n));
            }
        }
    }

    // Writes the nonzero sums of the runs of equal keys in keys_[0], values_[0] (n entries).
    template <class I>
    std::int64_t write_runs(double scale, std::int64_t n, I* out_indices, T* out_values) {
        const std::uint32_t* const keys = keys_[0].data();
        const T* const values = values_[0].data();
        std::int64_t written = 0;
        for (std::int64_t q = 0; q < n;) {
            const std::uint32_t key = keys[q];
            T sum = T(0);
            do sum += values[q++];
            while (q < n && keys[q] == key);
            out_indices[written] = static_cast<I>(key);
            out_values[written] = scaled(sum, scale);
            written += sum != T(0);
        }
        return written;
    }

    std::vector<T> sums_;                // zero outside a set
    std::vector<std::int64_t> touched_;  // indices of the current set, in first-touch order
    ColumnBitmap bitmap_;                // the current set's indices; empty outside a set
    std::int64_t width_ = 0;
    std::vector<std::uint32_t> counts_;  // radix sort: per pass, the next place for each digit
    std::vector<std::uint32_t> keys_[2]; // radix sort: indices, moved back and forth by the passes (rank: keys_[0])
    std::vector<T> values_[2];           // radix sort: their values (rank: the sums, values_[0])
    std::vector<std::uint64_t> rank_words_;  // rank: the set's indices as bits; zero outside a set
    std::vector<std::uint32_t> ranks_;       // rank: marks before each word of rank_words_
};

}  // namespace pynla::sketch
