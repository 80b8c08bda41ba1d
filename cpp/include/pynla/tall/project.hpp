// Block Gram-Schmidt's projection: Y <- Y - P (P^H Y) for a tall P (m x p) with orthonormal
// columns and a tall block Y (m x k), both column-major; C = P^H Y is returned too.
//
// Algorithm. Two passes over ranges of rows (ranges.hpp), one BLAS call per range on one of
// pynla's threads: gemm for the partial products P_r^H Y_r, added in range order into C (the
// same bits for any number of threads), then gemm for Y_r -= P_r C, which changes each row
// alone. Orthogonalizing against a basis twice (block CGS2) is two calls.
// In:  P (m x p, leading dimension ldp >= m), Y (m x k, leading dimension ldy >= m).
// Out: Y in place; C (p x k, column-major, leading p).
// Cost: 4 m p k flops; P read twice, Y read twice and written once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/tall/ranges.hpp"

namespace pynla::tall {

template <class T>
void project_out(const T* p, std::int64_t ldp, T* y, std::int64_t ldy, std::int64_t m, std::int64_t basis_columns,
                 std::int64_t block_columns, T* c) {
    // Ranges as for the wider of the two: the partials (p x k each) then take at most a
    // quarter of the narrower one's memory.
    const std::vector<std::int64_t> bounds = detail::row_ranges(m, std::max(basis_columns, block_columns));
    const auto ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    const std::int64_t size = basis_columns * block_columns;
    const auto np = detail::blas_size(basis_columns, "p"), k = detail::blas_size(block_columns, "k");
    const auto lead_p = detail::blas_size(std::max<std::int64_t>(ldp, 1), "ldp");
    const auto lead_y = detail::blas_size(std::max<std::int64_t>(ldy, 1), "ldy");
    const auto lead_c = std::max<dense::fint>(np, 1);
    std::fill(c, c + size, T(0));
    if (size == 0) return;
    const int threads = detail::threads(m, basis_columns + block_columns, sizeof(T), ranges);
    std::vector<T> partials(static_cast<std::size_t>(ranges * size));
    parallel_for(ranges, threads, [&](std::int64_t r, int) {
        const auto rows = detail::blas_size(bounds[r + 1] - bounds[r], "rows");
        dense::gemm<T>('C', 'N', np, k, rows, T(1), p + bounds[r], lead_p, y + bounds[r], lead_y, T(0),
                       partials.data() + r * size, lead_c);
    });
    for (std::int64_t r = 0; r < ranges; ++r) {  // in range order
        for (std::int64_t i = 0; i < size; ++i) c[i] += partials[r * size + i];
    }
    parallel_for(ranges, threads, [&](std::int64_t r, int) {
        const auto rows = detail::blas_size(bounds[r + 1] - bounds[r], "rows");
        dense::gemm<T>('N', 'N', rows, k, np, T(-1), p + bounds[r], lead_p, c, lead_c, T(1), y + bounds[r], lead_y);
    });
}

}  // namespace pynla::tall
