// The inverses of the diagonal blocks of a square BSR matrix with square blocks, as a block
// diagonal BSR matrix: the block-Jacobi preconditioner of bundle adjustment and Schur-complement
// solvers, M^-1 = blockdiag(A_11^-1, ..., A_nn^-1).
//
// Algorithm. One thread per range of block rows gathers each diagonal block (repeats add up, in
// storage order) and inverts it with LAPACK's gesv against the identity, through the table of
// dense.hpp. A row-major block read column-major is its transpose, so solving M^T X = I column-
// major leaves M^-1 row-major.
// Throws linalg_error naming the first block row whose diagonal block is missing or singular.
// Cost: O(n_block_rows R^3) flops plus one pass over A's block indices.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "pynla/common/bsr.hpp"
#include "pynla/common/dense.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla::block {

template <class I, class T>
Bsr<I, T> diagonal_block_inverses(const BsrView<I, T>& a) {
    PYNLA_REQUIRE(a.n_block_rows == a.n_block_cols && a.block_rows == a.block_cols,
                  "A: expected a square matrix with square blocks");
    const std::int64_t n = a.n_block_rows, r = a.block_rows, block_size = r * r;
    Bsr<I, T> inverse{n, n, r, r, Buffer<I>(n + 1), Buffer<I>(n), Buffer<T>(n * block_size)};
    for (std::int64_t i = 0; i <= n; ++i) inverse.indptr[i] = static_cast<I>(i);
    for (std::int64_t i = 0; i < n; ++i) inverse.indices[i] = static_cast<I>(i);

    // Failures are noted per block row and the first one reported after the loop, so the error
    // names the same block row whatever the thread count.
    enum Outcome : char { kInverted, kMissing, kSingular };
    std::vector<char> outcome(static_cast<std::size_t>(n), kInverted);
    const int n_threads = threads_for(n * block_size * (r + static_cast<std::int64_t>(sizeof(T))));
    const auto bounds = split_by_cost(n, tasks_for(n_threads),
                                      [&](std::int64_t i) { return a.row_begin(i) + i * block_size; });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        std::vector<T> block(static_cast<std::size_t>(block_size));
        std::vector<dense::fint> pivots(static_cast<std::size_t>(r));
        for (std::int64_t i = bounds[task]; i < bounds[task + 1]; ++i) {
            std::fill(block.begin(), block.end(), T{});
            bool present = false;
            for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                if (a.indices[p] != i) continue;
                present = true;
                const T* source = a.block(p);
                for (std::int64_t e = 0; e < block_size; ++e) block[e] += source[e];
            }
            if (!present) {
                outcome[i] = kMissing;
                continue;
            }
            T* x = inverse.data.data() + i * block_size;
            std::fill(x, x + block_size, T{});
            for (std::int64_t d = 0; d < r; ++d) x[d * r + d] = T{1};
            try {
                const auto rf = static_cast<dense::fint>(r);
                dense::gesv<T>(rf, rf, block.data(), rf, pivots.data(), x, rf);
            } catch (const linalg_error&) {
                outcome[i] = kSingular;
            }
        }
    });
    const auto failed = std::find_if(outcome.begin(), outcome.end(), [](char o) { return o != kInverted; });
    if (failed != outcome.end()) {
        const auto i = std::to_string(failed - outcome.begin());
        throw linalg_error("A: diagonal block " + i + (*failed == kMissing ? " is missing (singular)" : " is singular"));
    }
    return inverse;
}

}  // namespace pynla::block
