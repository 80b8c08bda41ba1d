// C = A B for BSR matrices A (R x K blocks) and B (K x S blocks): BSR with R x S blocks.
//
// Algorithm. Gustavson's row-wise product over blocks, in two passes over A's block rows. The
// symbolic pass counts each row's distinct block columns (a per-thread stamp array) and gives
// C's exact indptr. The numeric pass lists each row's block columns again, sorts them, maps each
// to its slot, zeroes the row's blocks and adds A_ik B_kj into the slot of j for every pair, in
// A's order, then B's. The rows of B that A names are prefetched ahead: with small blocks
// (bundle adjustment's 2 x 3), fetching them costs more than multiplying them.
// In:  trusted BSR views, blocks may be unsorted or repeat.
// Out: sorted block columns, no repeats; every block of the structural product is kept, even
//      one whose values sum to zero (as SciPy's bsr @ bsr does).
// Each value is summed in a fixed order, so the result does not depend on the thread count.
// Cost: 2 R K S (block products) flops; memory: C plus two n_block_cols arrays per thread.
// Throws std::overflow_error if C's block count does not fit I (the caller retries with int64).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "pynla/block/block_row_scratch.hpp"
#include "pynla/block/block_shape.hpp"
#include "pynla/common/bsr.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"

namespace pynla::block {

namespace detail {

// Blocks of A ahead whose rows of B are prefetched: A names B's rows in no order a hardware
// prefetcher guesses, and with small blocks fetching them is most of the work.
constexpr std::int64_t kRowsAheadToPrefetch = 4;

// Asks for row k of m: its block columns and its blocks.
template <class I, class T>
PYNLA_ALWAYS_INLINE void prefetch_row(const BsrView<I, T>& m, std::int64_t k) {
    __builtin_prefetch(m.indices + m.row_begin(k));
    const auto* first = reinterpret_cast<const char*>(m.block(m.row_begin(k)));
    const auto* last = reinterpret_cast<const char*>(m.block(m.row_end(k)));
    for (const char* line = first; line < last; line += kCacheLineBytes) __builtin_prefetch(line);
}

// Calls visit(j) once for each distinct block column j of row i of A B, in first-meeting order,
// marking stamp[j] = mark. Rows of B are prefetched a few blocks of A ahead.
template <class I, class T, class Visit>
void for_each_product_column(const BsrView<I, T>& a, const BsrView<I, T>& b, std::int64_t i, std::int64_t mark,
                             std::vector<std::int64_t>& stamp, Visit&& visit) {
    for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
        if (p + kRowsAheadToPrefetch < a.row_end(i)) prefetch_row(b, a.indices[p + kRowsAheadToPrefetch]);
        const std::int64_t k = a.indices[p];
        for (std::int64_t q = b.row_begin(k); q < b.row_end(k); ++q) {
            const std::int64_t j = b.indices[q];
            if (stamp[j] != mark) {
                stamp[j] = mark;
                visit(j);
            }
        }
    }
}

// c += a b for an R x K block a and a K x S block b, all row-major (restrict: the three never
// overlap, so c's rows can stay in registers across k).
template <class T, class R, class K, class S>
PYNLA_ALWAYS_INLINE void add_block_product(R r_dim, K k_dim, S s_dim, const T* __restrict a, const T* __restrict b,
                                           T* __restrict c) {
    for (std::int64_t r = 0; r < r_dim; ++r) {
        T* __restrict c_row = c + r * s_dim;
        for (std::int64_t k = 0; k < k_dim; ++k) {
            const T a_rk = a[r * k_dim + k];
            for (std::int64_t s = 0; s < s_dim; ++s) c_row[s] += multiply(a_rk, b[k * s_dim + s]);
        }
    }
}

}  // namespace detail

template <class I, class T>
Bsr<I, T> multiply_block(const BsrView<I, T>& a, const BsrView<I, T>& b) {
    PYNLA_REQUIRE(a.n_block_cols == b.n_block_rows && a.block_cols == b.block_rows,
                  "bsr spgemm: the blocks of A and B do not meet");
    const std::int64_t n_rows = a.n_block_rows, block_size = a.block_rows * b.block_cols;
    Bsr<I, T> c{n_rows, b.n_block_cols, a.block_rows, b.block_cols, Buffer<I>(n_rows + 1), {}, {}};

    // Tasks of similar block-product counts: those of block row i are the lengths of the rows
    // of B that its blocks name.
    std::vector<std::int64_t> cumulative(n_rows + 1, 0);
    for (std::int64_t i = 0; i < n_rows; ++i) {
        std::int64_t products = 1;
        for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
            products += b.row_end(a.indices[p]) - b.row_begin(a.indices[p]);
        }
        cumulative[i + 1] = cumulative[i] + products;
    }
    // Each block product is R x K x C multiply-adds on blocks read from cache: about a byte each.
    const int n_threads = threads_for(cumulative[n_rows] * a.block_rows * a.block_cols * b.block_cols);
    const auto bounds = split_by_cost(n_rows, tasks_for(n_threads),
                                      [&](std::int64_t i) { return cumulative[i]; });
    const auto n_tasks = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<BlockRowScratch<I>> scratch(static_cast<std::size_t>(n_threads));

    // Symbolic pass: the distinct block columns of each row (stamped with the row number).
    c.indptr[0] = 0;
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int thread) {
        auto& s = scratch[thread].ready(c.n_block_cols);
        for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
            std::int64_t count = 0;
            detail::for_each_product_column(a, b, i, i, s.stamp, [&](std::int64_t) { ++count; });
            c.indptr[i + 1] = static_cast<I>(std::min<std::int64_t>(count, std::numeric_limits<I>::max()));
        }
    });
    std::int64_t n_blocks = 0;
    for (std::int64_t i = 0; i < n_rows; ++i) {
        n_blocks += c.indptr[i + 1];
        if (n_blocks > std::numeric_limits<I>::max()) {
            throw std::overflow_error("bsr spgemm: C's blocks do not fit the index type");
        }
        c.indptr[i + 1] = static_cast<I>(n_blocks);
    }
    c.indices = Buffer<I>(n_blocks);
    c.data = Buffer<T>(n_blocks * block_size);

    // Numeric pass (stamped with -2 - row, unlike any row number): each row's columns sorted,
    // its blocks zeroed, then every block product added into its slot.
    with_block_shape<T>(a.block_rows, a.block_cols, [&](auto r_dim, auto k_dim) {
        const auto multiply_rows = [&](auto s_dim) {
            parallel_for(n_tasks, n_threads, [&](std::int64_t task, int thread) {
                auto& s = scratch[thread].ready(c.n_block_cols);
                for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
                    s.columns.clear();
                    detail::for_each_product_column(a, b, i, -2 - i, s.stamp,
                                                    [&](std::int64_t j) { s.columns.push_back(static_cast<I>(j)); });
                    const std::int64_t begin = c.indptr[i];
                    s.place_columns(c.indices.data(), begin);
                    T* row_data = c.data.data() + begin * block_size;
                    std::fill(row_data, row_data + static_cast<std::int64_t>(s.columns.size()) * block_size, T{});
                    for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                        const std::int64_t k = a.indices[p];
                        for (std::int64_t q = b.row_begin(k); q < b.row_end(k); ++q) {
                            T* c_block = c.data.data() + std::int64_t{s.slot[b.indices[q]]} * block_size;
                            detail::add_block_product(r_dim, k_dim, s_dim, a.block(p), b.block(q), c_block);
                        }
                    }
                }
            });
        };
        // B's blocks are square (K x K) or, for J^T J, as wide as A's are high (K x R).
        if (b.block_cols == a.block_cols) {
            multiply_rows(k_dim);
        } else if (b.block_cols == a.block_rows) {
            multiply_rows(r_dim);
        } else {
            multiply_rows(b.block_cols);
        }
    });
    return c;
}

}  // namespace pynla::block
