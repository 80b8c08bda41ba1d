// What the tall-skinny passes (gram.hpp, project.hpp) share: the cut of a tall matrix's rows
// into ranges, one BLAS call per range on one of pynla's threads. The ranges depend only on the
// shape, and partial sums over them are added in range order, so the passes give the same bits
// for any number of threads (the caller holds the BLAS to one thread, so that the BLAS never
// splits a call's sums its own way). They hold at least kMinEntries entries (a call per range
// then costs far more than its start-up), at most kMaxRanges of them, and their partials take
// at most a quarter of the matrix's memory; their count is a power of two (5 ranges on 2
// threads took 3 rounds: 10000 x 500, QR 2.4x SciPy against 2.9x with 2 ranges).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla::tall {

// A range holds at least kMinEntries entries and kMinRowsWide rows (4096 rows at 16 columns,
// 328 at 200: 4000 x 200 then takes 5 ranges, where one range left a core idle for its 80 million
// multiply-adds).
constexpr std::int64_t kMinEntries = std::int64_t{1} << 16;
constexpr std::int64_t kMinRowsWide = 64;
constexpr std::int64_t kMaxRanges = 16;

enum class Layout { kColumnMajor, kRowMajor };

namespace detail {

inline dense::fint blas_size(std::int64_t value, const char* name) {
    PYNLA_REQUIRE(value <= std::int64_t{0x7fffffff}, std::string("tall: ") + name + " passes the BLAS's 32-bit sizes");
    return static_cast<dense::fint>(value);
}

// The cut of m rows into ranges for a matrix of n columns: [bounds[r], bounds[r + 1]).
inline std::vector<std::int64_t> row_ranges(std::int64_t m, std::int64_t n) {
    const std::int64_t by_memory = m / std::max<std::int64_t>(4 * n, 1);  // partials: n^2 each, <= m n / 4
    const std::int64_t min_rows = std::max<std::int64_t>(kMinEntries / std::max<std::int64_t>(n, 1), kMinRowsWide);
    const std::int64_t most = std::clamp<std::int64_t>(std::min({kMaxRanges, by_memory, m / min_rows}), 1, kMaxRanges);
    std::int64_t count = 1;  // a power of two, so that 2, 4, ... threads share the ranges evenly
    while (2 * count <= most) count *= 2;
    std::vector<std::int64_t> bounds(static_cast<std::size_t>(count + 1));
    for (std::int64_t r = 0; r <= count; ++r) bounds[r] = m / count * r + std::min(r, m % count);
    return bounds;
}

// Threads for a pass over Y's m x n entries of `item` bytes, cut into `ranges` ranges.
inline int threads(std::int64_t m, std::int64_t n, std::size_t item, std::int64_t ranges) {
    return threads_for(m * n * static_cast<std::int64_t>(item), static_cast<int>(std::min<std::int64_t>(max_threads(), ranges)));
}

// Where row `row` of Y starts.
template <class T>
T* row_start(T* y, std::int64_t ld, Layout layout, std::int64_t row) {
    return layout == Layout::kColumnMajor ? y + row : y + row * ld;
}

}  // namespace detail

}  // namespace pynla::tall
