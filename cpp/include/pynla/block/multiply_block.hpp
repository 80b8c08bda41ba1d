// C = A B for BSR matrices A (R x K blocks) and B (K x S blocks): BSR with R x S blocks.
//
// Algorithm. Gustavson's row-wise product over blocks. The block structure of C is the product
// of the block structures, computed by spgemm::multiply on them (a block product costs R K S
// multiply-adds, so this pass is small beside the numeric one). Then one thread computes each
// block row of C: it maps each block column of the row to its slot, zeroes the row's blocks and
// adds A_ik B_kj into the slot of j for every pair, in A's order, then B's.
// In:  trusted BSR views, blocks may be unsorted or repeat.
// Out: sorted block columns, no repeats; every block of the structural product is kept, even
//      one whose values sum to zero (as SciPy's bsr @ bsr does).
// Each value is summed in a fixed order, so the result does not depend on the thread count.
// Cost: 2 R K S (block products) flops; memory C plus one n_block_cols slot array per thread.
// Throws std::overflow_error if C's block count does not fit I (the caller retries with int64).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/block/block_shape.hpp"
#include "pynla/common/bsr.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"
#include "pynla/spgemm/multiply.hpp"

namespace pynla::block {

namespace detail {

constexpr std::int64_t kBlockRowTasksPerThread = 16;

// The structure of a BSR matrix as a CSR matrix of ones (one per stored block).
template <class I, class T>
CsrView<I, float> block_pattern(const BsrView<I, T>& m, const Buffer<float>& ones) {
    return {m.n_block_rows, m.n_block_cols, m.indptr, m.indices, ones.data()};
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
    Buffer<float> a_ones(a.n_blocks()), b_ones(b.n_blocks());
    std::fill(a_ones.data(), a_ones.data() + a.n_blocks(), 1.0f);
    std::fill(b_ones.data(), b_ones.data() + b.n_blocks(), 1.0f);
    auto structure = spgemm::multiply(detail::block_pattern(a, a_ones), detail::block_pattern(b, b_ones));

    const std::int64_t block_size = a.block_rows * b.block_cols;
    const std::int64_t n_blocks = structure.indptr[a.n_block_rows];
    Bsr<I, T> c{a.n_block_rows, b.n_block_cols, a.block_rows, b.block_cols,
                std::move(structure.indptr), std::move(structure.indices), Buffer<T>(n_blocks * block_size)};

    // Tasks of similar block-product counts: the flops of block row i are the lengths of the
    // rows of B that its blocks name.
    std::vector<std::int64_t> cumulative(a.n_block_rows + 1, 0);
    for (std::int64_t i = 0; i < a.n_block_rows; ++i) {
        std::int64_t products = 1;
        for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) products += b.row_end(a.indices[p]) - b.row_begin(a.indices[p]);
        cumulative[i + 1] = cumulative[i] + products;
    }
    const int n_threads = max_threads();
    const auto bounds = split_by_cost(a.n_block_rows, n_threads * detail::kBlockRowTasksPerThread,
                                      [&](std::int64_t i) { return cumulative[i]; });
    std::vector<std::vector<I>> slots(static_cast<std::size_t>(n_threads));

    with_block_shape<T>(a.block_rows, a.block_cols, [&](auto r_dim, auto k_dim) {
        const auto multiply_rows = [&](auto s_dim) {
            parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int thread) {
                auto& slot = slots[thread];  // slot[j]: position of block column j in the current row
                if (slot.empty()) slot.resize(static_cast<std::size_t>(c.n_block_cols));
                for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
                    for (std::int64_t q = c.indptr[i]; q < c.indptr[i + 1]; ++q) slot[c.indices[q]] = static_cast<I>(q);
                    T* row_data = c.data.data() + std::int64_t{c.indptr[i]} * block_size;
                    std::fill(row_data, row_data + (std::int64_t{c.indptr[i + 1]} - c.indptr[i]) * block_size, T{});
                    for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                        const std::int64_t k = a.indices[p];
                        for (std::int64_t q = b.row_begin(k); q < b.row_end(k); ++q) {
                            T* c_block = c.data.data() + std::int64_t{slot[b.indices[q]]} * block_size;
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
