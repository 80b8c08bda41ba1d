// The Arnoldi step of GMRES-type solvers and the projections of deflated CG: inner products of
// a vector with the columns of an orthonormal basis, and the removal of those components.
//
// Algorithm. Classical Gram-Schmidt, done twice (CGS2): h1 = Q^H w, w -= Q h1, h2 = Q^H w,
// w -= Q h2; the second pass restores orthogonality to working precision, which one pass of
// classical Gram-Schmidt loses when w is nearly in span(Q) (Giraud, Langou, Rozloznik 2005).
// Unlike modified Gram-Schmidt, each pass reads Q as one block: three sweeps over the rows, in
// chunks (chunks.hpp), the subtraction of a pass fused with the inner products of the next so
// that a chunk of Q read twice comes from cache the second time. Inner products are summed per
// chunk in a fixed order (dot.hpp) and the chunks' partial sums in chunk order, so the results
// are the same bits for any number of threads.
// In:  Q column-major, n rows, leading dimension ldq, its first p columns used; w of n values.
// Out: w in place; h (p values) and the norm of the new w.
// Cost: 4 n p flops for the products and as many for the updates; Q read three times.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/common/dot.hpp"
#include "pynla/krylov/chunks.hpp"

namespace pynla::krylov {

namespace detail {

template <class T>
struct Basis {
    const T* q;
    std::int64_t ldq;
    std::int64_t p;
    const T* column(std::int64_t j, std::int64_t row) const { return q + j * ldq + row; }
};

// partials[c * p + j] = Q_j^H w over chunk c.
template <class T>
void chunk_products(const Basis<T>& basis, const T* w, const Chunks& chunks, std::int64_t c, T* partials) {
    const std::int64_t begin = chunks.begin(c), size = chunks.size(c);
    for (std::int64_t j = 0; j < basis.p; ++j) {
        partials[c * basis.p + j] = dot<true>(basis.column(j, begin), w + begin, size);
    }
}

// w -= Q h over chunk c, columns in order.
template <class T>
void chunk_subtract(const Basis<T>& basis, const T* h, const Chunks& chunks, std::int64_t c, T* w) {
    const std::int64_t begin = chunks.begin(c), size = chunks.size(c);
    T* __restrict out = w + begin;
    for (std::int64_t j = 0; j < basis.p; ++j) {
        const T* __restrict column = basis.column(j, begin);
        const T coefficient = h[j];
        for (std::int64_t i = 0; i < size; ++i) out[i] -= column[i] * coefficient;
    }
}

// The sum over chunks, in chunk order, of partials (count x width).
template <class T>
void add_chunks(const std::vector<T>& partials, std::int64_t count, std::int64_t width, T* sums) {
    for (std::int64_t j = 0; j < width; ++j) sums[j] = T{};
    for (std::int64_t c = 0; c < count; ++c) {
        for (std::int64_t j = 0; j < width; ++j) sums[j] += partials[c * width + j];
    }
}

template <class T>
std::int64_t sweep_bytes(const Basis<T>& basis, std::int64_t n) {
    return (basis.p + 1) * n * static_cast<std::int64_t>(sizeof(T));
}

}  // namespace detail

// h = Q^H w for the first p columns of Q.
template <class T>
void project(const T* q, std::int64_t ldq, std::int64_t p, const T* w, std::int64_t n, T* h) {
    const detail::Basis<T> basis{q, ldq, p};
    const Chunks chunks(n, p, sizeof(T));
    std::vector<T> partials(static_cast<std::size_t>(chunks.count() * p));
    for_each_chunk(chunks, detail::sweep_bytes(basis, n),
                   [&](std::int64_t c) { detail::chunk_products(basis, w, chunks, c, partials.data()); });
    detail::add_chunks(partials, chunks.count(), p, h);
}

// w -= Q (Q^H w), twice; h receives the sum of both passes' coefficients. Returns ||w|| after.
template <class T>
double orthogonalize(const T* q, std::int64_t ldq, std::int64_t p, T* w, std::int64_t n, T* h) {
    const detail::Basis<T> basis{q, ldq, p};
    const Chunks chunks(n, p, sizeof(T));
    const std::int64_t count = chunks.count(), bytes = detail::sweep_bytes(basis, n);
    std::vector<T> partials(static_cast<std::size_t>(count * p));
    std::vector<T> first(static_cast<std::size_t>(p)), second(static_cast<std::size_t>(p));
    for_each_chunk(chunks, bytes, [&](std::int64_t c) { detail::chunk_products(basis, w, chunks, c, partials.data()); });
    detail::add_chunks(partials, count, p, first.data());
    for_each_chunk(chunks, bytes, [&](std::int64_t c) {
        detail::chunk_subtract(basis, first.data(), chunks, c, w);
        detail::chunk_products(basis, w, chunks, c, partials.data());
    });
    detail::add_chunks(partials, count, p, second.data());
    std::vector<T> squares(static_cast<std::size_t>(count));
    for_each_chunk(chunks, bytes, [&](std::int64_t c) {
        detail::chunk_subtract(basis, second.data(), chunks, c, w);
        const T* part = w + chunks.begin(c);
        squares[c] = dot<true>(part, part, chunks.size(c));
    });
    T total{};
    detail::add_chunks(squares, count, 1, &total);
    for (std::int64_t j = 0; j < p; ++j) h[j] = first[j] + second[j];
    return std::sqrt(std::real(total));
}

}  // namespace pynla::krylov
