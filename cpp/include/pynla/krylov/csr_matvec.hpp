// Y = A X for a CSR matrix A and a dense X with k columns: the sparse matrix-vector product the
// Krylov solvers spend most of their products on (SciPy's runs on one thread). And q = A p
// together with p^H q, for CG's curvature: the inner product of each chunk of rows is taken
// while that chunk of q is still in cache, which saves CG a sweep over p and q an iteration.
//
// Algorithm. Rows are cut into tasks of about equal entries (split_by_cost, fixed by A's
// structure), or into the fixed chunks of chunks.hpp when an inner product is summed too; each
// row of Y is summed by one thread, its entries in stored order, and the chunks' inner products
// are added in chunk order, so every result has the same bits for any thread count. Repeated
// column indices add up.
// In:  a trusted CSR view; X row-major (k values a row), A.n_cols rows; Y row-major, A.n_rows
//      rows, every entry written.
// Cost: 2 k nnz(A) flops; A read once, each row of X once per entry that meets it.
#pragma once

#include <cstdint>
#include <vector>

#include "pynla/common/csr.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/krylov/chunks.hpp"

namespace pynla::krylov {

namespace detail {

// y[i] = (A x)[i] for rows [first, last). A's arrays are read through locals, so that the
// compiler keeps them in registers across the stores to y (with them read through the view, a
// product at 16384 rows took 40% longer).
template <class I, class T>
void matvec_rows(const CsrView<I, T>& a, const T* x, T* y, std::int64_t first, std::int64_t last) {
    const I* const indptr = a.indptr;
    const I* const indices = a.indices;
    const T* const data = a.data;
    for (std::int64_t i = first; i < last; ++i) {
        T sum{};
        for (std::int64_t t = indptr[i]; t < std::int64_t{indptr[i + 1]}; ++t) sum += data[t] * x[indices[t]];
        y[i] = sum;
    }
}

// Bytes a product with k columns moves: each entry's index and value and the k values of X it
// meets, and Y.
template <class I, class T>
std::int64_t matvec_bytes(const CsrView<I, T>& a, std::int64_t k) {
    return a.nnz() * static_cast<std::int64_t>(sizeof(I) + sizeof(T) * (1 + k)) +
           a.n_rows * k * static_cast<std::int64_t>(sizeof(T));
}

}  // namespace detail

template <class I, class T>
void csr_matvec(const CsrView<I, T>& a, const T* x, std::int64_t k, T* y) {
    const int n_threads = threads_for(detail::matvec_bytes(a, k));
    const auto bounds = split_by_cost(a.n_rows, tasks_for(n_threads),
                                      [&](std::int64_t i) { return std::int64_t{a.indptr[i]} + i; });
    parallel_for(static_cast<std::int64_t>(bounds.size()) - 1, n_threads, [&](std::int64_t task, int) {
        const std::int64_t first = bounds[task], last = bounds[task + 1];
        if (k == 1) {
            detail::matvec_rows(a, x, y, first, last);
            return;
        }
        const I* const indptr = a.indptr;
        const I* const indices = a.indices;
        const T* const data = a.data;
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

// q = A p for a square A; returns p^H q.
template <class I, class T>
T csr_matvec_inner(const CsrView<I, T>& a, const T* p, T* q) {
    const Chunks chunks(a.n_rows);
    std::vector<T> partials(static_cast<std::size_t>(chunks.count()));
    const std::int64_t bytes = detail::matvec_bytes(a, 1) + a.n_rows * static_cast<std::int64_t>(sizeof(T));
    for_each_chunk(chunks, bytes, [&](std::int64_t c) {
        const std::int64_t begin = chunks.begin(c), size = chunks.size(c);
        detail::matvec_rows(a, p, q, begin, begin + size);
        partials[c] = dot<true>(p + begin, q + begin, size);
    });
    T total{};
    for (const T partial : partials) total += partial;
    return total;
}

}  // namespace pynla::krylov
