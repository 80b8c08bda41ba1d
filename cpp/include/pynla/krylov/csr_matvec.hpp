// Y = A X for a CSR matrix A and a dense X with k columns: the sparse matrix-vector product the
// Krylov solvers spend most of their products on (SciPy's runs on one thread).
//
// Algorithm. Rows are cut into tasks of about equal entries (split_by_cost, fixed by A's
// structure); each row of Y is summed by one thread, its entries in stored order, so Y has the
// same bits for any thread count. Repeated column indices add up.
// In:  a trusted CSR view; X row-major (k values a row), A.n_cols rows; Y row-major, A.n_rows
//      rows, every entry written.
// Cost: 2 k nnz(A) flops; A read once, each row of X once per entry that meets it.
#pragma once

#include <cstdint>

#include "pynla/common/csr.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla::krylov {

template <class I, class T>
void csr_matvec(const CsrView<I, T>& a, const T* x, std::int64_t k, T* y) {
    // Bytes a product moves: each entry's index and value and the k values of X it meets, and Y.
    const std::int64_t bytes = a.nnz() * static_cast<std::int64_t>(sizeof(I) + sizeof(T) * (1 + k)) +
                               a.n_rows * k * static_cast<std::int64_t>(sizeof(T));
    const int n_threads = threads_for(bytes);
    const auto bounds = split_by_cost(a.n_rows, tasks_for(n_threads),
                                      [&](std::int64_t i) { return std::int64_t{a.indptr[i]} + i; });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        // Local copies of the arrays: the compiler need not reload them after every store to Y.
        const I* const indptr = a.indptr;
        const I* const indices = a.indices;
        const T* const data = a.data;
        const std::int64_t first = bounds[task], last = bounds[task + 1];
        if (k == 1) {  // matrix-vector products: one running sum a row
            for (std::int64_t i = first; i < last; ++i) {
                T sum{};
                for (std::int64_t t = indptr[i]; t < std::int64_t{indptr[i + 1]}; ++t) sum += data[t] * x[indices[t]];
                y[i] = sum;
            }
            return;
        }
        for (std::int64_t i = first; i < last; ++i) {
            T* y_row = y + i * k;
            for (std::int64_t c = 0; c < k; ++c) y_row[c] = T{};
            for (std::int64_t t = indptr[i]; t < std::int64_t{indptr[i + 1]}; ++t) {
                const T value = data[t];
                const T* x_row = x + std::int64_t{indices[t]} * k;
                for (std::int64_t c = 0; c < k; ++c) y_row[c] += value * x_row[c];
            }
        }
    });
}

}  // namespace pynla::krylov
