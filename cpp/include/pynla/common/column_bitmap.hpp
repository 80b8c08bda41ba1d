// Puts a set of column offsets in [0, width) in increasing order without sorting: mark each in a
// bitmap, then walk the bitmap. A summary bit per 64-offset word lets the walk read only marked
// words, so a row with n columns costs O(n + width / 4096); the walk clears what it reads,
// leaving the bitmap empty for the next row. Gives sorted output to the SpGEMM accumulators and
// to the sparse sketches.
#pragma once

#include <cstdint>
#include <vector>

namespace pynla {

class ColumnBitmap {
public:
    // The widest set this can order without growing memory unreasonably (2 MiB of words).
    static constexpr std::int64_t kMaxWidth = std::int64_t{1} << 24;

    // True if walking a set of n offsets in [0, width) is cheaper than comparison sorting it.
    static bool pays_off(std::int64_t n, std::int64_t width) { return width <= kMaxWidth && width / 4096 <= n; }

    void reserve(std::int64_t width) {
        const auto n_words = static_cast<std::size_t>((width + 63) / 64);
        if (words_.size() < n_words) {
            words_.resize(n_words, 0);
            summary_.resize((n_words + 63) / 64, 0);
        }
    }
    void mark(std::uint64_t offset) {
        words_[offset >> 6] |= std::uint64_t{1} << (offset & 63);
        summary_[offset >> 12] |= std::uint64_t{1} << ((offset >> 6) & 63);
    }
    // Marks offset; true if it was not marked before.
    bool mark_new(std::uint64_t offset) {
        const std::uint64_t bit = std::uint64_t{1} << (offset & 63);
        std::uint64_t& word = words_[offset >> 6];
        if (word & bit) return false;
        word |= bit;
        summary_[offset >> 12] |= std::uint64_t{1} << ((offset >> 6) & 63);
        return true;
    }
    // Clears every mark, given every marked offset (cheaper than a walk when they are few).
    void clear(const std::int64_t* marked, std::int64_t n) {
        for (std::int64_t t = 0; t < n; ++t) {
            words_[marked[t] >> 6] = 0;
            summary_[marked[t] >> 12] = 0;
        }
    }
    // Calls visit(offset) for every marked offset in increasing order, and clears them.
    template <class Visit>
    void walk(std::int64_t width, Visit&& visit) {
        std::uint64_t* const words = words_.data();
        std::uint64_t* const summary = summary_.data();
        for (std::int64_t s = 0; s < (width + 4095) / 4096; ++s) {
            for (std::uint64_t marked = summary[s]; marked != 0; marked &= marked - 1) {
                const std::int64_t w = s * 64 + __builtin_ctzll(marked);
                for (std::uint64_t word = words[w]; word != 0; word &= word - 1) visit(w * 64 + __builtin_ctzll(word));
                words[w] = 0;
            }
            summary[s] = 0;
        }
    }

private:
    std::vector<std::uint64_t> words_;    // bit j of word w: offset 64 w + j marked; zero outside a walk
    std::vector<std::uint64_t> summary_;  // bit j of summary s: word 64 s + j nonzero; zero outside a walk
};

}  // namespace pynla
