// The block-diagonal Fisher of Optimal Brain Surgeon pruning: the d coordinates in consecutive
// blocks of `block` (the last may be shorter), block b with its own
//   K_b = shift I + G_b G_b^T (m x m),  G_b = the gradients' coordinates in block b,
// and F_b^-1 x_b = s (x_b - G_b^T K_b^-1 G_b x_b), s = 1 / damping.
// Set-up (blocked_factors): each block's Gram matrix (dot products of its rows, in T) and its
// Cholesky factor (in double, the lower triangle packed: half of m x m), blocks in parallel:
// one pass over G. A product
// (blocked_inverse_product) takes each block's c = G_b X_b, two triangular solves and
// s (X_b - G_b^T W) while G_b is in cache: one read of G for any number of columns. Each block
// is one task's, its sums in a fixed order: the bits do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/matrix_view.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/simd.hpp"
#include "pynla/fisher/gradient_products.hpp"

namespace pynla::fisher {

inline std::int64_t block_count(std::int64_t d, std::int64_t block) { return (d + block - 1) / block; }

// The values of a block's factor: the lower triangle of m x m, packed by rows (row i, entries
// 0..i, starts at i (i + 1) / 2).
inline std::int64_t packed_size(std::int64_t m) { return m * (m + 1) / 2; }

namespace detail {

// Row i of a packed factor.
template <class P>
PYNLA_ALWAYS_INLINE P* packed_row(P* l, std::int64_t i) { return l + i * (i + 1) / 2; }

// In place: the lower Cholesky factor of the symmetric matrix whose lower triangle a holds
// (packed). False if a pivot is not above `tolerance`.
inline bool cholesky_lower(double* a, std::int64_t m, double tolerance) {
    for (std::int64_t j = 0; j < m; ++j) {
        double* const row_j = packed_row(a, j);
        const double pivot = row_j[j] - dot<false>(row_j, row_j, j);
        if (!(pivot > tolerance)) return false;
        const double diagonal = std::sqrt(pivot);
        row_j[j] = diagonal;
        for (std::int64_t i = j + 1; i < m; ++i) {
            double* const row_i = packed_row(a, i);
            row_i[j] = (row_i[j] - dot<false>(row_i, row_j, j)) / diagonal;
        }
    }
    return true;
}

// w = (L L^T)^-1 c for one column (c and w at stride k; z is scratch of m values). Both
// solves read L by rows: forward by dot products, backward by updates of the remaining
// entries, each in a fixed order.
PYNLA_ALWAYS_INLINE void cholesky_solve(const double* l, std::int64_t m, const double* c, double* w, std::int64_t k, double* z) {
    for (std::int64_t i = 0; i < m; ++i) z[i] = (c[i * k] - dot<false>(packed_row(l, i), z, i)) / packed_row(l, i)[i];
    for (std::int64_t i = m - 1; i >= 0; --i) {
        const double* __restrict const row = packed_row(l, i);
        const double value = z[i] / row[i];
        w[i * k] = value;
        for (std::int64_t t = 0; t < i; ++t) z[t] -= value * row[t];
    }
}

// C = G_b X_b (m x k, row-major) for the block of coordinates [j0, j0 + n): a dot product per
// gradient for one column, else each gradient's coordinates in order, the k columns at once.
template <class T>
PYNLA_ALWAYS_INLINE void block_times(const MatrixView<T>& g, std::int64_t j0, std::int64_t n, const T* x,
                                     std::int64_t k, std::int64_t ldx, T* c) {
    for (std::int64_t i = 0; i < g.n_rows; ++i) {
        const T* __restrict const row = g.row(i) + j0;
        T* __restrict const out = c + i * k;
        if (k == 1) {
            out[0] = dot<false>(row, x + j0, n);
            continue;
        }
        std::fill(out, out + k, T(0));
        for (std::int64_t t = 0; t < n; ++t) {
            const T* __restrict const x_row = x + (j0 + t) * ldx;
            for (std::int64_t col = 0; col < k; ++col) out[col] += row[t] * x_row[col];
        }
    }
}

// Y_b = s (X_b - G_b^T W) for the block of coordinates [j0, j0 + n) (Y d x k row-major): each
// entry subtracts the gradients in order, a gradient at a time over the whole block.
template <class T>
PYNLA_ALWAYS_INLINE void block_combination(const MatrixView<T>& g, std::int64_t j0, std::int64_t n, const T* w,
                                           const T* x, std::int64_t k, std::int64_t ldx, T s, T* y) {
    if (k == 1) {  // one column: gradient_products.hpp's pass, over this block's coordinates
        combination(g, w, x, s, y, j0, j0 + n);
        return;
    }
    T* __restrict const out = y + j0 * k;
    for (std::int64_t t = 0; t < n; ++t) std::copy(x + (j0 + t) * ldx, x + (j0 + t) * ldx + k, out + t * k);
    for (std::int64_t i = 0; i < g.n_rows; ++i) {
        const T* __restrict const row = g.row(i) + j0;
        const T* __restrict const weights = w + i * k;
        for (std::int64_t t = 0; t < n; ++t) {
            for (std::int64_t col = 0; col < k; ++col) out[t * k + col] -= weights[col] * row[t];
        }
    }
    for (std::int64_t e = 0; e < n * k; ++e) out[e] *= s;
}

template <class T>
struct BlockScratch {
    BlockScratch(std::int64_t m, std::int64_t k)
        : c(static_cast<std::size_t>(m * k)), weights(c.size()), c_wide(c.size()), w(c.size()),
          z(static_cast<std::size_t>(m)) {}
    std::vector<T> c, weights;
    std::vector<double> c_wide, w, z;
};

template <class T>
struct BlockedProduct {
    const MatrixView<T>& g;
    std::int64_t block;
    const double* factors;
    const T* x;
    std::int64_t k, ldx;
    T s;
    T* y;
};

// Blocks [first, last) of blocked_inverse_product.
template <class T>
PYNLA_ALWAYS_INLINE void blocks(const BlockedProduct<T>& p, std::int64_t first, std::int64_t last,
                                BlockScratch<T>& scratch) {
    const std::int64_t m = p.g.n_rows, d = p.g.n_cols;
    for (std::int64_t b = first; b < last; ++b) {
        const std::int64_t j0 = b * p.block, n = std::min(d, j0 + p.block) - j0;
        block_times(p.g, j0, n, p.x, p.k, p.ldx, scratch.c.data());
        std::copy(scratch.c.begin(), scratch.c.end(), scratch.c_wide.begin());
        for (std::int64_t col = 0; col < p.k; ++col) {
            cholesky_solve(p.factors + b * packed_size(m), m, &scratch.c_wide[col], &scratch.w[col], p.k,
                           scratch.z.data());
        }
        std::transform(scratch.w.begin(), scratch.w.end(), scratch.weights.begin(),
                       [](double v) { return static_cast<T>(v); });
        block_combination(p.g, j0, n, scratch.weights.data(), p.x, p.k, p.ldx, p.s, p.y);
    }
}

// blocks() for the x86-64 baseline and for AVX2: the same sums in the same order.
template <class T>
void blocks_plain(const BlockedProduct<T>& p, std::int64_t first, std::int64_t last, BlockScratch<T>& scratch) {
    blocks(p, first, last, scratch);
}

template <class T>
PYNLA_TARGET_AVX2 void blocks_avx2(const BlockedProduct<T>& p, std::int64_t first, std::int64_t last,
                                   BlockScratch<T>& scratch) {
    blocks(p, first, last, scratch);
}

// The blocks [first, last) cut for n_threads threads.
inline std::vector<std::int64_t> block_tasks(std::int64_t n_blocks, int n_threads) {
    return split_by_cost(n_blocks, tasks_for(n_threads), [](std::int64_t b) { return b; });
}

}  // namespace detail

struct BlockedFactors {
    Buffer<double> factors;          // n_blocks lower factors, packed (packed_size(m) values each)
    std::int64_t failed_block = -1;  // the first block whose K is not positive definite, or -1
};

// Each block's Cholesky factor of shift I + G_b G_b^T (G's rows contiguous). A block fails if a
// pivot is not above eps(T) times its largest diagonal entry (K is then not positive definite
// in the precision of G).
template <class T>
BlockedFactors blocked_factors(const MatrixView<T>& g, std::int64_t block, double shift) {
    const std::int64_t m = g.n_rows, d = g.n_cols, n_blocks = block_count(d, block);
    BlockedFactors result{Buffer<double>(n_blocks * packed_size(m))};
    std::vector<char> failed(static_cast<std::size_t>(n_blocks), 0);
    const int n_threads = threads_for(m * d * static_cast<std::int64_t>(sizeof(T)) * std::max<std::int64_t>(m, 1));
    const auto tasks = detail::block_tasks(n_blocks, n_threads);
    parallel_for(static_cast<std::int64_t>(tasks.size()) - 1, n_threads, [&](std::int64_t task, int) {
        for (std::int64_t b = tasks[task]; b < tasks[task + 1]; ++b) {
            const std::int64_t j0 = b * block, n = std::min(d, j0 + block) - j0;
            double* const k = result.factors.data() + b * packed_size(m);
            double largest = shift;
            for (std::int64_t i = 0; i < m; ++i) {
                double* const row = detail::packed_row(k, i);
                for (std::int64_t j = 0; j <= i; ++j) row[j] = dot<false>(g.row(i) + j0, g.row(j) + j0, n);
                row[i] += shift;
                largest = std::max(largest, row[i]);
            }
            failed[b] = !detail::cholesky_lower(k, m, std::numeric_limits<T>::epsilon() * largest);
        }
    });
    const auto first = std::find(failed.begin(), failed.end(), 1);
    if (first != failed.end()) result.failed_block = first - failed.begin();
    return result;
}

// Y = s (X - G^T K^-1 G X) block by block: X d x k row-major (row stride ldx), Y d x k.
template <class T>
Buffer<T> blocked_inverse_product(const MatrixView<T>& g, std::int64_t block, const double* factors, const T* x,
                                  std::int64_t k, std::int64_t ldx, T s) {
    const std::int64_t m = g.n_rows, d = g.n_cols, n_blocks = block_count(d, block);
    Buffer<T> y(d * k);
    const int n_threads = threads_for(m * d * static_cast<std::int64_t>(sizeof(T)) * std::max<std::int64_t>(k, 1));
    const auto tasks = detail::block_tasks(n_blocks, n_threads);
    const bool wide = use_avx2();
    parallel_for(static_cast<std::int64_t>(tasks.size()) - 1, n_threads, [&](std::int64_t task, int) {
        detail::BlockScratch<T> scratch(m, k);
        const detail::BlockedProduct<T> product{g, block, factors, x, k, ldx, s, y.data()};
        if (wide) {
            detail::blocks_avx2(product, tasks[task], tasks[task + 1], scratch);
        } else {
            detail::blocks_plain(product, tasks[task], tasks[task + 1], scratch);
        }
    });
    return y;
}

// The diagonal of the blocked F^-1: s (1 - ||L_b^-1 g_(j)||^2) for each coordinate j, g_(j)
// its column of G_b.
template <class T>
Buffer<T> blocked_inverse_diagonal(const MatrixView<T>& g, std::int64_t block, const double* factors, T s) {
    const std::int64_t m = g.n_rows, d = g.n_cols, n_blocks = block_count(d, block);
    Buffer<T> out(d);
    const int n_threads = threads_for(m * d * static_cast<std::int64_t>(sizeof(T)) * std::max<std::int64_t>(m, 1));
    const auto tasks = detail::block_tasks(n_blocks, n_threads);
    parallel_for(static_cast<std::int64_t>(tasks.size()) - 1, n_threads, [&](std::int64_t task, int) {
        std::vector<double> z(static_cast<std::size_t>(m));
        for (std::int64_t b = tasks[task]; b < tasks[task + 1]; ++b) {
            const double* const l = factors + b * packed_size(m);
            const std::int64_t j0 = b * block, n = std::min(d, j0 + block) - j0;
            for (std::int64_t t = 0; t < n; ++t) {
                double norm = 0;
                for (std::int64_t i = 0; i < m; ++i) {
                    double sum = g.row(i)[j0 + t];
                    const double* const row = detail::packed_row(l, i);
                    for (std::int64_t q = 0; q < i; ++q) sum -= row[q] * z[q];
                    z[i] = sum / row[i];
                    norm += z[i] * z[i];
                }
                out[j0 + t] = static_cast<T>(s * (1 - norm));
            }
        }
    });
    return out;
}

}  // namespace pynla::fisher
