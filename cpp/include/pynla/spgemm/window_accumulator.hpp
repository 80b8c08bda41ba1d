// Dense accumulator over a window of columns [low, low + width), for rows of C whose columns
// lie in a band (stencils, banded and FEM matrices) or fill much of their span (dense rows).
// The sparse accumulator (SPA) of Gilbert, Moler and Schreiber (1992), made lean:
//   - per column of the window, a sum, the semiring's identity between rows (zero for plus_times;
//     each write-out resets what it reads, so every sum starts at the identity, as SciPy's start
//     at zero, and a window can move from row to row);
//   - per 64 columns, a word of "touched" bits;
//   - a product costs one add into its sum and one bit set: no hashing, no compare, no branch;
//   - the row is written out by scanning the words of its span, which lists the touched
//     columns in increasing order: the output is sorted for free.
// Cost per row: O(products + entries + width / 64). The arrays grow to the widest window a thread
// meets; the caller keeps windows narrow enough for the scan to be cheap.
// Short rows thinly spread over their window may take sum_short_row instead (sum_listable_row
// decides, from the thread's last such rows: random rows are listed, stencil rows scanned):
// their columns are listed as first touched and put in order by rank (row_entries.hpp), with no
// scan.
#pragma once

#include <cstdint>
#include <vector>

#include "pynla/common/csr.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"
#include "pynla/spgemm/row_entries.hpp"
#include "pynla/spgemm/row_products.hpp"

namespace pynla::spgemm::detail {

template <class I, class T, class S = PlusTimes>
class WindowAccumulator {
public:
    // Writes the entries of row i of A B over semiring S, whose columns all lie in [low, low +
    // width), in column order, leaving out those S drops (plus_times: sums exactly zero, as SciPy
    // does); returns how many. Only products whose column `filter` keeps are summed
    // (column_filters.hpp).
    template <class Filter>
    std::int64_t sum_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t low,
                         std::int64_t width, const Filter& filter, I* out_indices, T* out_values) {
        reserve(width);
        T* const sums = sums_.data();
        std::uint64_t* const touched = touched_.data();
        for_each_product<S>(a, b, i, [&](I column, const T& product) {
            if (!filter.keeps(column)) return;
            const auto offset = static_cast<std::uint64_t>(column - low);
            sums[offset] = S::add(sums[offset], product);  // the identity before the row's first touch: SciPy's bits
            touched[offset >> 6] |= std::uint64_t{1} << (offset & 63);
        });

        std::int64_t written = 0, words_touched = 0;
        const std::int64_t n_words = (width + 63) / 64;
        for (std::int64_t group = 0; group < n_words; group += kWordsPerGroup) {
            // Most words of a wide span are empty (a Poisson row touches 8 of 32): skip a group at once.
            std::uint64_t any = 0;
            for (std::int64_t j = 0; j < kWordsPerGroup; ++j) any |= touched[group + j];
            if (any == 0) continue;
            for (std::int64_t w = group; w < group + kWordsPerGroup; ++w) {
                words_touched += touched[w] != 0;
                for (std::uint64_t word = touched[w]; word != 0; word &= word - 1) {
                    const std::int64_t offset = w * 64 + __builtin_ctzll(word);
                    const T sum = sums[offset];
                    sums[offset] = S::template identity<T>();
                    out_indices[written] = static_cast<I>(low + offset);
                    out_values[written] = sum;
                    written += keeps_sum<S>(sum);  // a dropped entry is overwritten by the next
                }
                touched[w] = 0;
            }
        }
        words_touched_ = words_touched;
        return written;
    }

    // Sums a short row that may be listed (RowPlan::listed) as sum_row would: listed
    // (sum_short_row) or scanned (sum_row), as the last such row chose. Random rows are listed,
    // as their scan mispredicts a branch or two a column, up to about 3 entries a touched word of
    // 64 columns (1000 x 1000 with 5 a row, squared: 1.9 a word, 164 against 216 us; 512 x 512,
    // 2.6 a word, lists in 66 and scans in 52 us). Stencil rows are scanned, their branches
    // repeating row after row: 2-D Poisson squared, 13 entries in 5 words, scans 1.4x faster; they
    // are told from random rows by repeating the shape of the row before. Sorted, both give the
    // same entries and bits, so the result does not depend on the choice, nor on how rows fall to
    // threads.
    template <class Filter>
    std::int64_t sum_listable_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t low,
                                  std::int64_t width, bool sort_indices, const Filter& filter, I* out_indices,
                                  T* out_values) {
        // Unsorted rows are always listed: their order (as first touched) must not depend on the choice.
        const std::int64_t written =
            list_next_ || !sort_indices ? sum_short_row(a, b, i, low, width, sort_indices, filter, out_indices, out_values)
                                        : sum_row(a, b, i, low, width, filter, out_indices, out_values);
        // Scan the next row if this one had 3 or more entries a touched word, or if it repeats the
        // shape (span and entries) of the row before it, as stencil rows do, with 1.5 or more.
        const bool repeats = width == last_width_ && written == last_written_;
        list_next_ = !(written >= 3 * words_touched_ || (repeats && 2 * written >= 3 * words_touched_));
        last_width_ = width;
        last_written_ = written;
        return written;
    }

    // As sum_row, for a row of at most kMaxRankedEntries products spread thinly over its window:
    // the columns are listed as they are first touched and put in order by rank
    // (row_entries.hpp), not found by scanning the window's words (whose branches, one or two a
    // column, cost more than the sums on random matrices). Unsorted if !sort_indices.
    template <class Filter>
    std::int64_t sum_short_row(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, std::int64_t low,
                               std::int64_t width, bool sort_indices, const Filter& filter, I* out_indices,
                               T* out_values) {
        reserve(width);
        T* const sums = sums_.data();
        std::uint64_t* const touched = touched_.data();
        std::uint32_t columns[kMaxRankedEntries];  // offsets from low, in the order first touched
        std::int64_t n_touched = 0, words_touched = 0;
        for_each_product<S>(a, b, i, [&](I column, const T& product) {
            if (!filter.keeps(column)) return;
            const auto offset = static_cast<std::uint32_t>(column - low);
            std::uint64_t& word = touched[offset >> 6];
            const std::uint64_t bit = std::uint64_t{1} << (offset & 63);
            const std::uint64_t before = word;
            columns[n_touched] = offset;
            n_touched += (before & bit) == 0;  // no branch: kept only if new
            words_touched += before == 0;
            word = before | bit;
            sums[offset] = S::add(sums[offset], product);
        });
        words_touched_ = words_touched;
        if (!sort_indices) return write_touched(columns, n_touched, low, out_indices, out_values);
        RankedEntries<T> ranked(wide_);
        std::uint32_t* const kept_columns = ranked.offsets();
        T* const kept_sums = ranked.values();
        std::int64_t n_kept = 0;
        for (std::int64_t t = 0; t < n_touched; ++t) {
            const std::uint32_t offset = columns[t];
            const T sum = take(offset);
            kept_columns[n_kept] = offset;
            kept_sums[n_kept] = sum;
            n_kept += keeps_sum<S>(sum);  // a dropped entry is overwritten by the next (tested in a register:
                                          // read back from kept_sums, it chained the loop through memory)
        }
        ranked.write(n_kept, low, out_indices, out_values);
        return n_kept;
    }

private:
    // The sum at offset, leaving the identity and no touched bit there.
    T take(std::uint32_t offset) {
        const T sum = sums_[offset];
        sums_[offset] = S::template identity<T>();
        touched_[offset >> 6] = 0;
        return sum;
    }

    // Writes the sums at the n columns (offsets from low), in that order, leaving out those S drops.
    std::int64_t write_touched(const std::uint32_t* columns, std::int64_t n, std::int64_t low, I* out_indices,
                               T* out_values) {
        std::int64_t written = 0;
        for (std::int64_t t = 0; t < n; ++t) {
            const T sum = take(columns[t]);
            out_indices[written] = static_cast<I>(low + columns[t]);
            out_values[written] = sum;
            written += keeps_sum<S>(sum);  // a dropped entry is overwritten by the next
        }
        return written;
    }

    static constexpr std::int64_t kWordsPerGroup = 2;  // 1, 2, 4, 8 measured: 2 by 2% on Poisson, even elsewhere

    void reserve(std::int64_t width) {
        if (static_cast<std::int64_t>(sums_.size()) < width) {
            sums_.resize(static_cast<std::size_t>(width), S::template identity<T>());
            // Whole groups of words, so the scan needs no tail: the words past the span stay zero.
            const std::int64_t n_groups = (width + 64 * kWordsPerGroup - 1) / (64 * kWordsPerGroup);
            touched_.resize(static_cast<std::size_t>(n_groups * kWordsPerGroup), 0);
        }
    }

    std::vector<T> sums_;              // the identity outside a row
    std::vector<std::uint64_t> touched_;  // bit j of word w: offset 64 w + j touched in this row; zero outside a row
    bool wide_ = use_avx2();  // short rows ranked with AVX2 (asked once per accumulator, that is per product)
    std::int64_t words_touched_ = 0;  // by the last row: words of 64 columns it touched
    bool list_next_ = true;          // the next listable row is listed (sum_listable_row)
    std::int64_t last_width_ = -1, last_written_ = -1;  // span and entries of the last listable row
};

}  // namespace pynla::spgemm::detail
