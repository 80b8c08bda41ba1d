// Checks of compressed (CSR, CSC, BSR) index arrays, for the Python layer's validation, which
// must reject malformed structure before any kernel trusts it (csr.hpp). Each array is read once,
// by every thread: numpy needs three passes (min and max of the indices, diff of the offsets),
// which cost 2% of a Poisson SpGEMM. The pass over the indices also tells whether every row
// lists its indices in non-decreasing order, which the SpGEMM kernel would otherwise find out in a
// pass of its own (when asked: it costs more than the rest of the check).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "pynla/common/parallel.hpp"
#include "pynla/common/simd.hpp"

namespace pynla {

namespace detail {

// Items [0, n) cut into about tasks_for(n_threads) equal ranges.
inline std::vector<std::int64_t> equal_ranges(std::int64_t n, int n_threads) {
    return split_by_cost(n, tasks_for(n_threads), [](std::int64_t p) { return p; });
}

// The first item p of the first range where found(range) holds for which is_bad(p), or -1.
// Ranges are scanned in order, so the answer does not depend on the number of threads.
template <class IsBad>
std::int64_t first_bad(const std::vector<std::int64_t>& ranges, const std::vector<char>& found, IsBad&& is_bad) {
    for (std::size_t r = 0; r + 1 < ranges.size(); ++r) {
        if (!found[r]) continue;
        for (std::int64_t p = ranges[r]; p < ranges[r + 1]; ++p) {
            if (is_bad(p)) return p;
        }
    }
    return -1;
}

template <class I>
struct Scan {
    std::make_unsigned_t<I> largest;  // as unsigned, so a negative value counts as huge
    std::int64_t descents;            // p with values[p] < values[p - 1]
};

// The scan of values[p] for p in [begin, end), begin >= 1, end - begin < 2^31: one loop that
// vectorizes, its counter as wide as the values (a wider one would widen every compare).
template <class I>
PYNLA_ALWAYS_INLINE Scan<I> scan_inline(const I* values, std::int64_t begin, std::int64_t end) {
    using Unsigned = std::make_unsigned_t<I>;
    Unsigned largest = 0, descents = 0;
    for (std::int64_t p = begin; p < end; ++p) {
        largest = std::max(largest, static_cast<Unsigned>(values[p]));
        descents += values[p] < values[p - 1];
    }
    return {largest, static_cast<std::int64_t>(descents)};
}

template <class I>
Scan<I> scan_plain(const I* values, std::int64_t begin, std::int64_t end) {
    return scan_inline(values, begin, end);
}

// The x86-64 baseline (SSE2) has no 32-bit max: AVX2 makes the scan 3 times faster.
template <class I>
PYNLA_TARGET_AVX2 Scan<I> scan_avx2(const I* values, std::int64_t begin, std::int64_t end) {
    return scan_inline(values, begin, end);
}

// The scan of values[p] for p in [begin, end), begin >= 1, end - begin < 2^31.
template <class I>
Scan<I> scan(const I* values, std::int64_t begin, std::int64_t end) {
    return use_avx2() ? scan_avx2(values, begin, end) : scan_plain(values, begin, end);
}

}  // namespace detail

// The first position p in [0, n_major) with offsets[p + 1] < offsets[p], or -1 if the n_major + 1
// offsets never decrease.
template <class I>
std::int64_t first_decrease(const I* offsets, std::int64_t n_major, int n_threads) {
    const auto ranges = detail::equal_ranges(n_major, n_threads);
    std::vector<char> found(ranges.size() - 1, 0);
    parallel_for(static_cast<std::int64_t>(found.size()), n_threads, [&](std::int64_t r, int) {
        found[r] = detail::scan(offsets, ranges[r] + 1, ranges[r + 1] + 1).descents > 0;
    });
    return detail::first_bad(ranges, found, [&](std::int64_t p) { return offsets[p + 1] < offsets[p]; });
}

struct IndexCheck {
    std::int64_t first_out_of_range;   // position of the first index outside [0, n_minor), or -1
    std::optional<bool> rows_sorted;   // every row's indices are non-decreasing (if all are in range);
                                       // known if asked for
};

// Checks the indices of a compressed matrix whose n_major + 1 offsets are valid (start at 0,
// never decrease, end at the number of indices); tells whether rows are sorted if find_rows_sorted
// (a walk over the row starts: most of the check's time on matrices of short rows).
template <class I>
IndexCheck check_indices(const I* offsets, std::int64_t n_major, const I* indices, std::int64_t n_minor,
                         int n_threads, bool find_rows_sorted) {
    using Unsigned = std::make_unsigned_t<I>;  // a negative index becomes huge: one compare finds both
    constexpr std::int64_t kBlock = std::int64_t{1} << 13;
    const std::int64_t nnz = offsets[n_major];
    // Past I's largest value no index is too large, but a negative one, seen as unsigned, is still
    // at least I's largest + 1: the bound for the unsigned compare is the smaller of the two.
    const std::uint64_t limit = std::min(static_cast<std::uint64_t>(std::max<std::int64_t>(n_minor, 0)),
                                         static_cast<std::uint64_t>(std::numeric_limits<I>::max()) + 1);
    const auto ranges = detail::equal_ranges(nnz, n_threads);
    std::vector<char> found(ranges.size() - 1, 0);
    std::vector<std::int64_t> range_descents(ranges.size() - 1, 0);
    parallel_for(static_cast<std::int64_t>(found.size()), n_threads, [&](std::int64_t r, int) {
        const std::int64_t begin = ranges[r], end = ranges[r + 1];
        if (begin == end) return;
        Unsigned largest = static_cast<Unsigned>(indices[begin]);
        std::int64_t descents = 0;  // within rows: each entry against the one before it, but not at a row start
        std::int64_t row = std::lower_bound(offsets, offsets + n_major, begin) - offsets;  // first to start here
        // By blocks that stay in L1 cache, for the row starts to be read again from there.
        for (std::int64_t block = begin; block < end; block += kBlock) {
            const std::int64_t block_end = std::min(end, block + kBlock);
            const detail::Scan<I> scan = detail::scan(indices, std::max<std::int64_t>(block, 1), block_end);
            largest = std::max(largest, scan.largest);
            descents += scan.descents;
            if (!find_rows_sorted) continue;
            for (; row < n_major && offsets[row] < block_end; ++row) {
                // Without branches: rows of graphs and random matrices are as often empty as not.
                // Positions are clamped into [0, nnz) for rows that start nothing (and are not counted).
                const std::int64_t start = offsets[row];
                const bool starts_entries = (start > 0) & (start < offsets[row + 1]);
                const bool descends = indices[std::min(start, nnz - 1)] < indices[std::max<std::int64_t>(start - 1, 0)];
                descents -= starts_entries & descends;
            }
        }
        found[r] = static_cast<std::uint64_t>(largest) >= limit;
        range_descents[r] = descents;
    });
    const std::int64_t out_of_range = detail::first_bad(ranges, found, [&](std::int64_t p) {
        return indices[p] < 0 || indices[p] >= n_minor;
    });
    std::int64_t descents = 0;
    for (const std::int64_t d : range_descents) descents += d;
    if (!find_rows_sorted) return {out_of_range, std::nullopt};
    return {out_of_range, descents == 0};
}

struct StructureCheck {
    std::int64_t first_decrease;  // first p with offsets[p + 1] < offsets[p], or -1
    IndexCheck indices;           // checked only if the offsets never decrease
    bool valid() const { return first_decrease < 0 && indices.first_out_of_range < 0; }
};

// The whole check of a compressed matrix whose n_major + 1 offsets start at 0 and end at the
// number of indices: offsets never decrease, then every index is in [0, n_minor), on as many
// threads as its size is worth.
template <class I>
StructureCheck check_structure(const I* offsets, std::int64_t n_major, const I* indices, std::int64_t n_minor,
                               bool find_rows_sorted) {
    const int n_threads = threads_for(static_cast<std::int64_t>(sizeof(I)) * (n_major + 1 + offsets[n_major]));
    const std::int64_t decrease = first_decrease(offsets, n_major, n_threads);
    // Rows are only known once offsets never decrease (with the ends as above, that keeps them
    // within the indices).
    if (decrease >= 0) return {decrease, {-1, std::nullopt}};
    return {-1, check_indices(offsets, n_major, indices, n_minor, n_threads, find_rows_sorted)};
}

}  // namespace pynla
