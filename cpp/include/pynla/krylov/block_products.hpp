// Products of a tall basis with a block: H = Q^H X (inner products of every column pair) and
// Y = beta Y + Q C (combinations of the basis's columns), for the Ritz and recycling steps of
// the Krylov solvers (n rows, tens of columns).
//
// Algorithm. The rows are cut into chunks (chunks.hpp); each chunk is one gemm through the BLAS
// table on one thread of pynla's pool. Q^H X adds the chunks' partial products in chunk order;
// Q C writes each chunk's rows alone. So results are the same bits for any number of threads,
// provided each gemm runs on one BLAS thread (OpenBLAS splits a threaded Q^H X's sums by the
// thread count: measured; the solvers hold one BLAS thread), while both cores still work.
// In:  column-major Q (n x p, leading dimension ldq), X (n x k, ldx) or C (p x k, leading p).
// Out: H (p x k, leading p) or Y (n x k, ldy), in place.
#pragma once

#include <cstdint>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/krylov/chunks.hpp"
#include "pynla/krylov/orthogonalize.hpp"

namespace pynla::krylov {

template <class T>
void block_project(const T* q, std::int64_t ldq, std::int64_t p, const T* x, std::int64_t ldx, std::int64_t k,
                   std::int64_t n, T* h) {
    const Chunks chunks(n);
    const std::int64_t size = p * k;
    std::vector<T> partials(static_cast<std::size_t>(chunks.count() * size));
    if (size > 0) {
        const auto rows_p = detail::blas_size(p, "p"), columns = detail::blas_size(k, "k");
        const auto lead_q = detail::blas_size(ldq, "ldq"), lead_x = detail::blas_size(ldx, "ldx");
        for_each_chunk(chunks, (p + k) * n * static_cast<std::int64_t>(sizeof(T)), [&](std::int64_t c) {
            const auto rows = static_cast<dense::fint>(chunks.size(c));
            dense::gemm<T>(is_complex_v<T> ? 'C' : 'T', 'N', rows_p, columns, rows, T(1), q + chunks.begin(c), lead_q,
                           x + chunks.begin(c), lead_x, T(0), partials.data() + c * size, rows_p);
        });
    }
    for (std::int64_t j = 0; j < size; ++j) h[j] = T{};
    for (std::int64_t c = 0; c < chunks.count(); ++c) {
        for (std::int64_t j = 0; j < size; ++j) h[j] += partials[c * size + j];
    }
}

template <class T>
void block_combine(const T* q, std::int64_t ldq, std::int64_t p, const T* coefficients, std::int64_t k, T beta, T* y,
                   std::int64_t ldy, std::int64_t n) {
    const Chunks chunks(n);
    if (k == 0) return;
    const auto inner = detail::blas_size(p, "p"), columns = detail::blas_size(k, "k");
    const auto lead_q = detail::blas_size(ldq, "ldq"), lead_y = detail::blas_size(ldy, "ldy");
    for_each_chunk(chunks, (p + k) * n * static_cast<std::int64_t>(sizeof(T)), [&](std::int64_t c) {
        const auto rows = static_cast<dense::fint>(chunks.size(c));
        T* out = y + chunks.begin(c);
        if (p == 0) {  // no columns to combine: Y = beta Y (0 for beta 0, as gemm's rule)
            for (std::int64_t j = 0; j < k; ++j)
                for (std::int64_t i = 0; i < rows; ++i) out[j * ldy + i] = beta == T(0) ? T(0) : beta * out[j * ldy + i];
            return;
        }
        dense::gemm<T>('N', 'N', rows, columns, inner, T(1), q + chunks.begin(c), lead_q, coefficients,
                       std::max<dense::fint>(inner, 1), beta, out, lead_y);
    });
}

}  // namespace pynla::krylov
