// The Arnoldi step of GMRES-type solvers and the projections of deflated CG: inner products of
// a vector with the columns of an orthonormal basis, and the removal of those components.
//
// Algorithm. Classical Gram-Schmidt, done twice (CGS2): h1 = Q^H w, w -= Q h1, h2 = Q^H w,
// w -= Q h2. The second pass restores orthogonality to working precision, which one pass of
// classical Gram-Schmidt loses when w is nearly in span(Q) (Giraud, Langou, Rozloznik 2005).
// Unlike modified Gram-Schmidt, each pass reads Q as one block: the rows are cut into chunks
// (chunks.hpp) and each chunk goes through the BLAS table's gemv, which streams a block of Q
// with all of a core's vector units (4 times the speed of a loop of dot products here). Three
// sweeps: the subtraction of one pass is fused with the products of the next, so that a chunk
// of Q read twice comes from cache the second time. Each chunk is one thread's, and the
// chunks' partial products are added in chunk order, so the results are the same bits for any
// number of threads, provided each gemv call runs on one BLAS thread (BLAS would otherwise
// split a call's sums its own way): the callers run the solvers under one BLAS thread.
// In:  Q column-major, n rows, leading dimension ldq, its first p columns used; w of n values.
// Out: w in place; h (p values) and the norm of the new w.
// Cost: 8 n p flops; Q read three times.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/error.hpp"
#include "pynla/krylov/chunks.hpp"

namespace pynla::krylov {

namespace detail {

inline dense::fint blas_size(std::int64_t n, const char* what) {
    PYNLA_REQUIRE(n <= std::int64_t{2147483647}, std::string(what) + " exceeds the 32-bit BLAS's sizes");
    return static_cast<dense::fint>(n);
}

// The first p columns of Q, chunk by chunk.
template <class T>
struct Basis {
    const T* q;
    dense::fint ldq;
    dense::fint p;
    const Chunks& chunks;

    // partials[c * p, +p) = Q_c^H w_c.
    void products(std::int64_t c, const T* w, T* partials) const {
        const auto rows = static_cast<dense::fint>(chunks.size(c));
        dense::gemv<T>(is_complex_v<T> ? 'C' : 'T', rows, p, T(1), q + chunks.begin(c), ldq, w + chunks.begin(c), T(0),
                       partials + c * p);
    }
    // w_c -= Q_c h.
    void subtract(std::int64_t c, const T* h, T* w) const {
        const auto rows = static_cast<dense::fint>(chunks.size(c));
        dense::gemv<T>('N', rows, p, T(-1), q + chunks.begin(c), ldq, h, T(1), w + chunks.begin(c));
    }
    // partials[c * 2p, +2p) = Q_c^H [x, y], y = x + ldx: two vectors' products in one pass.
    void pair_products(std::int64_t c, const T* x, dense::fint ldx, T* partials) const {
        const auto rows = static_cast<dense::fint>(chunks.size(c));
        dense::gemm<T>(is_complex_v<T> ? 'C' : 'T', 'N', p, 2, rows, T(1), q + chunks.begin(c), ldq, x + chunks.begin(c),
                       ldx, T(0), partials + c * 2 * p, p);
    }
    // [x, y]_c -= Q_c [h, h + p], y = x + ldx.
    void pair_subtract(std::int64_t c, const T* h, T* x, dense::fint ldx) const {
        const auto rows = static_cast<dense::fint>(chunks.size(c));
        dense::gemm<T>('N', 'N', rows, 2, p, T(-1), q + chunks.begin(c), ldq, h, p, T(1), x + chunks.begin(c), ldx);
    }
    // The sum over chunks, in chunk order, of partials (`width` values a chunk).
    void add_chunks(const T* partials, T* sums, std::int64_t width) const {
        for (std::int64_t j = 0; j < width; ++j) sums[j] = T{};
        for (std::int64_t c = 0; c < chunks.count(); ++c) {
            for (std::int64_t j = 0; j < width; ++j) sums[j] += partials[c * width + j];
        }
    }
    void add_chunks(const T* partials, T* sums) const { add_chunks(partials, sums, p); }
    std::int64_t sweep_bytes() const { return (std::int64_t{p} + 2) * chunks.n * static_cast<std::int64_t>(sizeof(T)); }
};

template <class T>
double squared_norm(const T* w, std::int64_t n) {
    return std::real(dot<true>(w, w, n));
}

}  // namespace detail

// ||w||: squares summed per chunk in a fixed order, and over chunks in chunk order.
template <class T>
double norm(const T* w, std::int64_t n) {
    const Chunks chunks(n);
    std::vector<double> squares(static_cast<std::size_t>(chunks.count()));
    for_each_chunk(chunks, n * static_cast<std::int64_t>(sizeof(T)),
                   [&](std::int64_t c) { squares[c] = detail::squared_norm(w + chunks.begin(c), chunks.size(c)); });
    double total = 0.0;
    for (const double square : squares) total += square;
    return std::sqrt(total);
}

// h = Q^H w for the first p columns of Q.
template <class T>
void project(const T* q, std::int64_t ldq, std::int64_t p, const T* w, std::int64_t n, T* h) {
    const Chunks chunks(n);
    const detail::Basis<T> basis{q, detail::blas_size(ldq, "ldq"), detail::blas_size(p, "p"), chunks};
    std::vector<T> partials(static_cast<std::size_t>(chunks.count() * p));
    if (p > 0) for_each_chunk(chunks, basis.sweep_bytes(), [&](std::int64_t c) { basis.products(c, w, partials.data()); });
    basis.add_chunks(partials.data(), h);
}

// w -= Q (Q^H w), twice; h receives the sum of both passes' coefficients. Returns ||w|| after.
template <class T>
double orthogonalize(const T* q, std::int64_t ldq, std::int64_t p, T* w, std::int64_t n, T* h) {
    if (p == 0) return norm(w, n);
    const Chunks chunks(n);
    const detail::Basis<T> basis{q, detail::blas_size(ldq, "ldq"), detail::blas_size(p, "p"), chunks};
    const std::int64_t bytes = basis.sweep_bytes();
    std::vector<T> partials(static_cast<std::size_t>(chunks.count() * p)), second(static_cast<std::size_t>(p));
    for_each_chunk(chunks, bytes, [&](std::int64_t c) { basis.products(c, w, partials.data()); });
    basis.add_chunks(partials.data(), h);
    for_each_chunk(chunks, bytes, [&](std::int64_t c) {
        basis.subtract(c, h, w);
        basis.products(c, w, partials.data());
    });
    basis.add_chunks(partials.data(), second.data());
    std::vector<double> squares(static_cast<std::size_t>(chunks.count()));
    for_each_chunk(chunks, bytes, [&](std::int64_t c) {
        basis.subtract(c, second.data(), w);
        squares[c] = detail::squared_norm(w + chunks.begin(c), chunks.size(c));
    });
    double total = 0.0;
    for (const double square : squares) total += square;
    for (std::int64_t j = 0; j < p; ++j) h[j] += second[j];
    return std::sqrt(total);
}

}  // namespace pynla::krylov
