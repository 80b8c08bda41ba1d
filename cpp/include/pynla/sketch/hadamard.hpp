// The subsampled randomized Hadamard transform (SRHT; Ailon and Chazelle 2006, Tropp 2011):
// S = sqrt(1 / m) P H D for an n x ... input padded with zeros to n2 = 2^ceil(log2 n) rows, where
// D flips the sign of each row at random, H is the n2 x n2 Walsh-Hadamard matrix (entries +-1)
// and P keeps m of its rows. Applied column by column: each column of A, signed and padded, is
// transformed in place (O(n2 log n2) additions) and sampled. Columns are independent, so the
// result does not depend on the thread count.
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <utility>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/matrix_view.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"

namespace pynla::sketch {

// The work of walsh_hadamard on `columns` columns of length n (a power of two), in parallel.hpp's
// currency: each of the log2(n) levels reads and writes every entry.
template <class T>
std::int64_t walsh_hadamard_bytes(std::int64_t n, std::int64_t columns) {
    std::int64_t levels = 1;
    while ((std::int64_t{1} << levels) < n) ++levels;
    return n * levels * columns * static_cast<std::int64_t>(sizeof(T));
}

// x <- H x for x of length n, a power of two. The butterflies of spans below kBlock are done
// block by block, so that most of the log2(n) sweeps run in the L1/L2 cache.
template <class T>
void walsh_hadamard(T* x, std::int64_t n) {
    constexpr std::int64_t kBlock = std::int64_t{1} << 12;
    const auto butterflies = [x](std::int64_t begin, std::int64_t end, std::int64_t span) {
        for (std::int64_t base = begin; base < end; base += 2 * span) {
            T* __restrict const low = x + base;
            T* __restrict const high = x + base + span;
            for (std::int64_t j = 0; j < span; ++j) {
                const T a = low[j], b = high[j];
                low[j] = a + b;
                high[j] = a - b;
            }
        }
    };
    // Spans 1 and 2 together, four values at a time: the same additions in the same order as two
    // radix-2 sweeps, without their one- and two-element inner loops.
    const auto first_two_spans = [x](std::int64_t begin, std::int64_t end) {
        for (std::int64_t base = begin; base < end; base += 4) {
            const T sum_low = x[base] + x[base + 1], difference_low = x[base] - x[base + 1];
            const T sum_high = x[base + 2] + x[base + 3], difference_high = x[base + 2] - x[base + 3];
            x[base] = sum_low + sum_high;
            x[base + 1] = difference_low + difference_high;
            x[base + 2] = sum_low - sum_high;
            x[base + 3] = difference_low - difference_high;
        }
    };
    const std::int64_t block = std::min(kBlock, n);
    for (std::int64_t begin = 0; begin < n; begin += block) {
        std::int64_t span = 1;
        if (block >= 4) {
            first_two_spans(begin, begin + block);
            span = 4;
        }
        for (; span < block; span *= 2) butterflies(begin, begin + block, span);
    }
    for (std::int64_t span = block; span < n; span *= 2) butterflies(0, n, span);
}

// Y = scale * P H D A (m x d, C order): `signs` are D's n signs, `samples` the m rows of H kept
// (each < n2), n2 >= n a power of two.
template <class T>
Buffer<T> srht(const MatrixView<T>& a, const std::int8_t* signs, const std::int64_t* samples, std::int64_t m,
               std::int64_t n2, double scale) {
    const std::int64_t n = a.n_rows, d = a.n_cols;
    Buffer<T> y(m * d);
    // Columns are transformed a group at a time: a group reads whole cache lines of a row-major A.
    const std::int64_t group = std::max<std::int64_t>(1, std::min<std::int64_t>(8, (std::int64_t{1} << 24) / n2));
    const std::int64_t n_groups = (d + group - 1) / group;
    const int n_threads = threads_for(walsh_hadamard_bytes<T>(n2, d));
    std::vector<std::vector<T>> work(static_cast<std::size_t>(n_threads));
    const auto factor = static_cast<RealOf<T>>(scale);
    parallel_for(n_groups, n_threads, [&](std::int64_t g, int thread) {
        const std::int64_t j0 = g * group, width = std::min(group, d - j0);
        std::vector<T>& columns = work[static_cast<std::size_t>(thread)];
        columns.assign(static_cast<std::size_t>(n2 * width), T(0));
        for (std::int64_t i = 0; i < n; ++i) {
            const T* const row = a.row(i) + j0 * a.col_stride;
            for (std::int64_t c = 0; c < width; ++c) {
                const T v = row[c * a.col_stride];
                columns[c * n2 + i] = signs[i] < 0 ? -v : v;
            }
        }
        for (std::int64_t c = 0; c < width; ++c) {
            T* const column = columns.data() + c * n2;
            walsh_hadamard(column, n2);
            for (std::int64_t r = 0; r < m; ++r) y[r * d + j0 + c] = column[samples[r]] * factor;
        }
    });
    return y;
}

}  // namespace pynla::sketch
