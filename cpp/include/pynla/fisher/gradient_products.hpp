// The two passes over the gradients G (m x d, one gradient a row, rows contiguous) that an
// inverse-Fisher product makes (pynla/fisher.py: F^-1 x = (x - G^T K^-1 G x) / damping):
//   gradient_dots:      c = G x           one dot product a gradient, gradients in parallel;
//   damped_combination: y = s (x - G^T w) by chunks of 16 KiB of coordinates, each chunk passing
//                       over every gradient in order while its part of y stays in L1 cache.
// Each output sums in an order fixed by the sizes alone (dot.hpp's eight running sums; the
// gradients in order), so the bits do not depend on the thread count or the instruction set.
// Cost: one read of G each, memory-bound: the product's floor is two reads of G.
#pragma once

#include <algorithm>
#include <cstdint>

#include "pynla/common/buffer.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/matrix_view.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/simd.hpp"

namespace pynla::fisher {

namespace detail {

// Bytes of y per chunk of damped_combination: half of L1.
constexpr std::int64_t kChunkBytes = 16 << 10;

template <class T>
PYNLA_ALWAYS_INLINE void dots(const MatrixView<T>& g, const T* x, T* c, std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) c[i] = dot<false>(g.row(i), x, g.n_cols);
}

template <class T>
void dots_plain(const MatrixView<T>& g, const T* x, T* c, std::int64_t i0, std::int64_t i1) {
    dots(g, x, c, i0, i1);
}

template <class T>
PYNLA_TARGET_AVX2 void dots_avx2(const MatrixView<T>& g, const T* x, T* c, std::int64_t i0, std::int64_t i1) {
    dots(g, x, c, i0, i1);
}

// y[j0, j1) = s (x - G^T w) over those coordinates.
template <class T>
PYNLA_ALWAYS_INLINE void combination(const MatrixView<T>& g, const T* w, const T* x, T s, T* y, std::int64_t j0,
                                     std::int64_t j1) {
    T* __restrict const out = y + j0;
    const std::int64_t n = j1 - j0;
    std::copy(x + j0, x + j1, out);
    // Four gradients a sweep (each entry still subtracts them in order): a quarter of the
    // loads and stores of y, and four streams of G for the prefetcher.
    std::int64_t i = 0;
    for (; i + 4 <= g.n_rows; i += 4) {
        const T* __restrict const r0 = g.row(i) + j0;
        const T* __restrict const r1 = g.row(i + 1) + j0;
        const T* __restrict const r2 = g.row(i + 2) + j0;
        const T* __restrict const r3 = g.row(i + 3) + j0;
        const T w0 = w[i], w1 = w[i + 1], w2 = w[i + 2], w3 = w[i + 3];
        for (std::int64_t t = 0; t < n; ++t) out[t] = (((out[t] - w0 * r0[t]) - w1 * r1[t]) - w2 * r2[t]) - w3 * r3[t];
    }
    for (; i < g.n_rows; ++i) {
        const T* __restrict const row = g.row(i) + j0;
        const T weight = w[i];
        for (std::int64_t t = 0; t < n; ++t) out[t] -= weight * row[t];
    }
    for (std::int64_t t = 0; t < n; ++t) out[t] *= s;
}

template <class T>
void combination_plain(const MatrixView<T>& g, const T* w, const T* x, T s, T* y, std::int64_t j0, std::int64_t j1) {
    combination(g, w, x, s, y, j0, j1);
}

template <class T>
PYNLA_TARGET_AVX2 void combination_avx2(const MatrixView<T>& g, const T* w, const T* x, T s, T* y, std::int64_t j0,
                                        std::int64_t j1) {
    combination(g, w, x, s, y, j0, j1);
}

}  // namespace detail

// c = G x: G's rows contiguous (col_stride 1), x of G.n_cols values; c has G.n_rows.
template <class T>
Buffer<T> gradient_dots(const MatrixView<T>& g, const T* x) {
    Buffer<T> c(g.n_rows);
    const int n_threads = threads_for(g.n_rows * g.n_cols * static_cast<std::int64_t>(sizeof(T)));
    const auto bounds = split_by_cost(g.n_rows, tasks_for(n_threads), [](std::int64_t i) { return i; });
    const bool wide = use_avx2();
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        if (wide) {
            detail::dots_avx2(g, x, c.data(), bounds[task], bounds[task + 1]);
        } else {
            detail::dots_plain(g, x, c.data(), bounds[task], bounds[task + 1]);
        }
    });
    return c;
}

// y = s (x - G^T w): G's rows contiguous, w of G.n_rows values, x and y of G.n_cols.
template <class T>
Buffer<T> damped_combination(const MatrixView<T>& g, const T* w, const T* x, T s) {
    const std::int64_t d = g.n_cols;
    Buffer<T> y(d);
    const int n_threads = threads_for(g.n_rows * d * static_cast<std::int64_t>(sizeof(T)));
    constexpr std::int64_t chunk_size = detail::kChunkBytes / static_cast<std::int64_t>(sizeof(T));
    const std::int64_t n_chunks = (d + chunk_size - 1) / chunk_size;
    const bool wide = use_avx2();
    parallel_for(n_chunks, n_threads, [&](std::int64_t chunk, int) {
        const std::int64_t j0 = chunk * chunk_size, j1 = std::min(d, j0 + chunk_size);
        if (wide) {
            detail::combination_avx2(g, w, x, s, y.data(), j0, j1);
        } else {
            detail::combination_plain(g, w, x, s, y.data(), j0, j1);
        }
    });
    return y;
}

}  // namespace pynla::fisher
