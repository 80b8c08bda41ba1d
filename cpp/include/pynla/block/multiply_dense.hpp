// Y = A X and Y = A^T X for a BSR matrix A (R x C blocks) and a dense X with k columns.
//
// Algorithm. One thread computes each block row of Y whole, from zero:
//   A X:    Y_i = sum over the blocks A_ij of block row i    of A_ij   X_j   (R rows of Y)
//   A^T X:  Y_j = sum over the blocks A_ij of block column j of A_ij^T X_i   (C rows of Y)
// (the blocks of a block column come from block_columns.hpp, so A^T is never formed; a tall A
// with a small Y is summed by ranges of block rows instead, multiply_transpose_by_ranges). A block
// row of Y is made in register tiles of G rows x 2 runs of 32 bytes of columns: the tile's sums
// stay in registers while all of the block row's blocks pass, each block value broadcast against
// a run of a row of X (the rows of X the next blocks need are prefetched). Fewer columns than a
// run of lanes (a matrix-vector product) go one at a time, in tiles as high as the block. Sums
// run in a fixed order (blocks in order, then the rows of X they meet), lane by lane, so Y has
// the same bits for any thread count, tile shape or instruction set.
// In:  a trusted BSR view (blocks may be unsorted or repeat); X row-major with row stride ldx.
// Out: Y row-major (k columns), every entry written.
// Cost: 2 k nnz(A) flops; each block row of A is read once per tile of Y (from cache after the
//       first), each row of X once per block that meets it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/block/block_columns.hpp"
#include "pynla/block/block_shape.hpp"
#include "pynla/common/bsr.hpp"
#include "pynla/common/buffer.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/simd.hpp"

namespace pynla::block {

namespace detail {

// Runs of lanes per register tile, and how many blocks ahead prefetch() reaches.
constexpr int kTileRuns = 2;
constexpr std::int64_t kPrefetchDistance = 2;

// The blocks that make each output block row, and where the product goes. The listed blocks
// of output block b are t in [offsets[b], offsets[b + 1]): stored at positions[t] (or at t if
// positions is null) and meeting block row partners[t] of X. Element (o, i) of a listed block,
// o < out_dim, i < in_dim, is its (o, i) entry for A X and its (i, o) entry for A^T X.
template <bool Transposed, class I, class T, class OutDim, class InDim>
struct DenseProduct {
    OutDim out_dim;
    InDim in_dim;
    const T* data;
    const I* offsets;
    const I* partners;
    const I* positions;
    const T* x;
    std::int64_t ldx;
    T* y;
    std::int64_t k;

    PYNLA_ALWAYS_INLINE const T* block(std::int64_t t) const {
        const std::int64_t p = positions != nullptr ? std::int64_t{positions[t]} : t;
        return data + p * out_dim * in_dim;
    }

    PYNLA_ALWAYS_INLINE const T* x_rows(std::int64_t t) const {
        return x + std::int64_t{partners[t]} * in_dim * ldx;
    }

    PYNLA_ALWAYS_INLINE const T& element(const T* m, std::int64_t o, std::int64_t i) const {
        return Transposed ? m[i * out_dim + o] : m[o * in_dim + i];
    }

    // Asks for the rows of X that listed block t meets and, when blocks are listed out of
    // storage order (A^T X), for the block itself: neither order is one a hardware prefetcher guesses.
    PYNLA_ALWAYS_INLINE void prefetch(std::int64_t t, std::int64_t col) const {
        const T* xs = x_rows(t) + col;
        for (std::int64_t i = 0; i < in_dim; ++i) __builtin_prefetch(xs + i * ldx);
        if (positions != nullptr) {
            const auto* m = reinterpret_cast<const char*>(block(t));
            const std::int64_t bytes = out_dim * in_dim * std::int64_t{sizeof(T)};
            for (std::int64_t offset = 0; offset < bytes; offset += kCacheLineBytes) __builtin_prefetch(m + offset);
        }
    }

    // Rows [o0, o0 + G) of output block row b, columns [col, col + N runs of V): sums held in
    // G x N registers while the blocks pass.
    template <int G, int N, class V>
    PYNLA_ALWAYS_INLINE void tile(std::int64_t b, std::int64_t o0, std::int64_t col) const {
        constexpr int width = lane_count<V, T>();
        V sums[G][N];
        for (int g = 0; g < G; ++g)
            for (int n = 0; n < N; ++n) sums[g][n] = V{};
        for (std::int64_t t = offsets[b]; t < offsets[b + 1]; ++t) {
            if (t + kPrefetchDistance < offsets[b + 1]) prefetch(t + kPrefetchDistance, col);
            const T* m = block(t);
            const T* xs = x_rows(t) + col;
            for (std::int64_t i = 0; i < in_dim; ++i) {
                V x_run[N];
                for (int n = 0; n < N; ++n) x_run[n] = load_lanes<V>(xs + i * ldx + n * width);
                for (int g = 0; g < G; ++g) {
                    const T a = element(m, o0 + g, i);
                    for (int n = 0; n < N; ++n) sums[g][n] += scale_lanes(a, x_run[n]);
                }
            }
        }
        T* ys = y + (b * out_dim + o0) * k + col;
        for (int g = 0; g < G; ++g)
            for (int n = 0; n < N; ++n) store_lanes(ys + g * k + n * width, sums[g][n]);
    }

    // The last rows of a block row, when out_dim is not a multiple of the tile height: G or fewer.
    template <int G, int N, class V>
    PYNLA_ALWAYS_INLINE void last_tile(std::int64_t b, std::int64_t o0, std::int64_t col) const {
        if (out_dim - o0 == G) {
            tile<G, N, V>(b, o0, col);
        } else if constexpr (G > 1) {
            last_tile<G - 1, N, V>(b, o0, col);
        }
    }

    template <int G, int N, class V>
    PYNLA_ALWAYS_INLINE void tile_column(std::int64_t b, std::int64_t col) const {
        std::int64_t o0 = 0;
        for (; o0 + G <= out_dim; o0 += G) tile<G, N, V>(b, o0, col);
        if (o0 < out_dim) last_tile<G - 1, N, V>(b, o0, col);
    }

    // Columns [col, k) of output block row b, one at a time, for fewer columns than a run of
    // lanes (a matrix-vector product). A small block's rows all go in one tile (so A is read
    // once per column), else G at a time.
    template <int G>
    PYNLA_ALWAYS_INLINE void narrow_columns(std::int64_t b, std::int64_t col) const {
        for (; col < k; ++col) {
            constexpr std::int64_t height = static_dim_v<OutDim>;
            if constexpr (height > 0 && height <= 16) {
                tile<height, 1, T>(b, 0, col);
            } else {
                tile_column<G, 1, T>(b, col);
            }
        }
    }

    // Output block rows [first, last), in tiles G rows high.
    template <int G>
    PYNLA_ALWAYS_INLINE void block_rows(std::int64_t first, std::int64_t last) const {
        constexpr int width = lane_count<Lanes<T>, T>();
        for (std::int64_t b = first; b < last; ++b) {
            std::int64_t col = 0;
            if constexpr (width > 1) {
                for (; col + kTileRuns * width <= k; col += kTileRuns * width) tile_column<G, kTileRuns, Lanes<T>>(b, col);
                for (; col + width <= k; col += width) tile_column<G, 1, Lanes<T>>(b, col);
            }
            narrow_columns<G>(b, col);
        }
    }
};

// The same loop compiled twice: a tile of 4 rows x 2 runs holds 8 of AVX2's 16 registers, one of
// 2 rows x 2 runs holds 8 of SSE2's 16 (each run two registers).
template <class Product>
void block_rows_baseline(const Product& product, std::int64_t first, std::int64_t last) {
    product.template block_rows<2>(first, last);
}

template <class Product>
PYNLA_TARGET_AVX2 void block_rows_avx2(const Product& product, std::int64_t first, std::int64_t last) {
    product.template block_rows<4>(first, last);
}

template <bool Transposed, class I, class T>
Buffer<T> multiply(std::int64_t n_out_blocks, std::int64_t out_dim, std::int64_t in_dim, const T* data,
                   const I* offsets, const I* partners, const I* positions, const T* x, std::int64_t k,
                   std::int64_t ldx) {
    PYNLA_REQUIRE(k >= 0 && ldx >= k, "bsr_matmul: X's row stride is shorter than its rows");
    Buffer<T> y(n_out_blocks * out_dim * k);
    // Each stored block is read once and multiplies k columns: its bytes, plus X's and Y's rows.
    const std::int64_t n_blocks = offsets[n_out_blocks];
    const int n_threads = threads_for((n_blocks * out_dim * in_dim + (n_blocks * in_dim + n_out_blocks * out_dim) * k)
                                      * static_cast<std::int64_t>(sizeof(T)));
    const auto bounds = split_by_cost(n_out_blocks, tasks_for(n_threads),
                                      [&](std::int64_t b) { return std::int64_t{offsets[b]} + b; });
    with_block_shape<T>(out_dim, in_dim, [&](auto out, auto in) {
        using Product = DenseProduct<Transposed, I, T, decltype(out), decltype(in)>;
        const Product product{out, in, data, offsets, partners, positions, x, ldx, y.data(), k};
        const bool wide = !is_complex_v<T> && use_avx2();
        parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
            if (wide) {
                block_rows_avx2(product, bounds[task], bounds[task + 1]);
            } else {
                block_rows_baseline(product, bounds[task], bounds[task + 1]);
            }
        });
    });
    return y;
}

// A^T X by ranges of block rows where A is tall and Y small: Y at most kCachedRangeBytes, and
// A's rows at least kTallRatio times Y's.
constexpr std::int64_t kCachedRangeBytes = std::int64_t{1} << 16;
constexpr std::int64_t kTallRatio = 8;
// The ranges: one per kRangeEntries of A's entries, at most kMaxRanges (their Ys' memory).
constexpr std::int64_t kRangeEntries = std::int64_t{1} << 16;
constexpr std::int64_t kMaxRanges = 16;

// Y = A^T X for a tall A: each of a few ranges of block rows (fixed by A alone) sums A_i^T X_i
// into a Y of its own, its blocks in storage order, so A and X are read in order and Y, small,
// stays in the cache; the ranges' Ys are then added in range order. The by-column product
// gathers X's rows and A's blocks from all over memory: for a 2e5 x 200 A with 4e6 entries, on
// one thread (Intel Xeon), 42 ms by columns against 6.2 by ranges. The same bits for any thread
// count, but summed in another order than by columns.
template <class I, class T>
Buffer<T> multiply_transpose_by_ranges(const BsrView<I, T>& a, const T* x, std::int64_t k, std::int64_t ldx) {
    const std::int64_t R = a.block_rows, C = a.block_cols, size = a.n_cols() * k;
    const std::int64_t n_ranges = std::clamp<std::int64_t>(a.n_blocks() * a.block_size() / kRangeEntries, 1, kMaxRanges);
    const auto bounds = split_by_cost(a.n_block_rows, n_ranges, [&](std::int64_t i) { return a.row_begin(i) + i; });
    const auto ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<T> sums(static_cast<std::size_t>(ranges * size), T(0));
    const int n_threads = threads_for((a.n_blocks() * a.block_size() + a.n_rows() * k + ranges * size) *
                                      static_cast<std::int64_t>(sizeof(T)));
    // Each range's sum; the block shape, and X's width where it is 1, fixed at compile time (as
    // loop bounds read at run time, the loops cost four times the arithmetic at 1 x 1 blocks).
    const auto sum_ranges = [&](auto rows, auto cols, auto width) {
        parallel_for(ranges, n_threads, [&](std::int64_t range, int) {
            T* const y = sums.data() + range * size;
            for (std::int64_t i = bounds[range]; i < bounds[range + 1]; ++i) {
                for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                    const T* const block = a.data + p * rows * cols;
                    T* const y_block = y + std::int64_t{a.indices[p]} * cols * width;
                    for (std::int64_t r = 0; r < rows; ++r) {
                        const T* const x_row = x + (i * rows + r) * ldx;
                        for (std::int64_t c = 0; c < cols; ++c) {
                            const T v = block[r * cols + c];
                            T* const y_row = y_block + c * width;
                            for (std::int64_t col = 0; col < width; ++col) y_row[col] += v * x_row[col];
                        }
                    }
                }
            }
        });
    };
    with_block_shape<T>(R, C, [&](auto rows, auto cols) {
        if (k == 1) {
            sum_ranges(rows, cols, Dim<1>{});
        } else {
            sum_ranges(rows, cols, k);
        }
    });
    Buffer<T> y(size);
    std::copy(sums.begin(), sums.begin() + size, y.data());
    for (std::int64_t range = 1; range < ranges; ++range) {
        const T* const from = sums.data() + range * size;
        for (std::int64_t e = 0; e < size; ++e) y[e] += from[e];
    }
    return y;
}

}  // namespace detail

// Y = A X: X has A.n_cols() rows of k values, row i at x + i * ldx. Y is A.n_rows() x k, row-major.
template <class I, class T>
Buffer<T> multiply_dense(const BsrView<I, T>& a, const T* x, std::int64_t k, std::int64_t ldx) {
    return detail::multiply<false, I, T>(a.n_block_rows, a.block_rows, a.block_cols, a.data, a.indptr, a.indices,
                                         nullptr, x, k, ldx);
}

// Whether multiply_transpose_dense sums A^T X by ranges of block rows (A tall, Y small), which
// needs no listing of A's blocks by block column.
template <class I, class T>
bool transposed_by_ranges(const BsrView<I, T>& a, std::int64_t k) {
    return a.n_cols() * k * static_cast<std::int64_t>(sizeof(T)) <= detail::kCachedRangeBytes &&
           a.n_rows() >= detail::kTallRatio * a.n_cols();
}

// Y = A^T X: X has A.n_rows() rows of k values; columns lists A's blocks by block column
// (block_columns(a); unread where transposed_by_ranges). Y is A.n_cols() x k, row-major.
template <class I, class T>
Buffer<T> multiply_transpose_dense(const BsrView<I, T>& a, const BlockColumnsView<I>& columns, const T* x,
                                   std::int64_t k, std::int64_t ldx) {
    if (transposed_by_ranges(a, k)) {
        PYNLA_REQUIRE(k >= 0 && ldx >= k, "bsr_matmul: X's row stride is shorter than its rows");
        return detail::multiply_transpose_by_ranges(a, x, k, ldx);
    }
    return detail::multiply<true, I, T>(a.n_block_cols, a.block_cols, a.block_rows, a.data, columns.indptr,
                                        columns.rows, columns.positions, x, k, ldx);
}

}  // namespace pynla::block
