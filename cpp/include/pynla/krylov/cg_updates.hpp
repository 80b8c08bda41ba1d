// The vector updates of (deflated) conjugate gradients, each one sweep over its vectors:
//   diagonal:  y = d * x entry by entry (a Jacobi preconditioner, for CG and GCRO-DR alike);
//   advance:   x += alpha p, r -= alpha q + A W h (q = A p; the A W h term is deflated CG's
//              correction for the part of its direction kept as coefficients of W, see
//              deflated_cg.hpp; k = 0: none), returning ||r||^2;
//   advance and project: the advance, then z = d r for a diagonal M (d null: M is the identity
//              and z is r), then g = [A W, r]^H z, the inner products the next direction needs
//              (through gemv; r is [A W, r]'s last column, the same memory), each chunk's while
//              its r, z and A W are in cache: one sweep, not three;
//   direction: p' = z + beta p (p' may be p).
// A W's products go through the BLAS table's gemv, chunk by chunk, as in orthogonalize.hpp.
// The squared norm and the inner products are summed per chunk in a fixed order and over
// chunks in chunk order (chunks.hpp), so every result is the same bits for any number of
// threads.
#pragma once

#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/common/dot.hpp"
#include "pynla/krylov/chunks.hpp"
#include "pynla/krylov/orthogonalize.hpp"

namespace pynla::krylov {

template <class T>
void diagonal_product(const T* d, const T* x, T* y, std::int64_t n) {
    const Chunks chunks(n);
    for_each_chunk(chunks, 3 * n * static_cast<std::int64_t>(sizeof(T)), [&](std::int64_t c) {
        const std::int64_t begin = chunks.begin(c), end = begin + chunks.size(c);
        for (std::int64_t i = begin; i < end; ++i) y[i] = d[i] * x[i];
    });
}

namespace detail {

// Chunk c of the advance: x += alpha p, r -= alpha q, then r -= A W h (aw: the basis of A W,
// k = 0 for none).
template <class T>
void advance_chunk(const Chunks& chunks, std::int64_t c, T alpha, const T* p, const T* q, T* x, T* r,
                   const Basis<T>& aw, const T* h) {
    const std::int64_t begin = chunks.begin(c), end = begin + chunks.size(c);
    for (std::int64_t i = begin; i < end; ++i) {
        x[i] += alpha * p[i];
        r[i] -= alpha * q[i];
    }
    if (aw.p > 0) aw.subtract(c, h, r);
}

}  // namespace detail

// awr: [A W, r] (n x (k + 1), column-major; r its last column); h: k values.
template <class T>
double cg_advance(T alpha, const T* p, const T* q, T* x, T* r, const T* awr, std::int64_t k, const T* h,
                  std::int64_t n) {
    const Chunks chunks(n);
    const detail::Basis<T> aw{awr, detail::blas_size(n, "n"), detail::blas_size(k, "k"), chunks};
    std::vector<double> squares(static_cast<std::size_t>(chunks.count()));
    for_each_chunk(chunks, aw.sweep_bytes() + 5 * n * static_cast<std::int64_t>(sizeof(T)), [&](std::int64_t c) {
        detail::advance_chunk(chunks, c, alpha, p, q, x, r, aw, h);
        squares[c] = std::real(dot<true>(r + chunks.begin(c), r + chunks.begin(c), chunks.size(c)));
    });
    double total = 0.0;
    for (const double square : squares) total += square;
    return total;
}

template <class T>
double cg_advance_project(T alpha, const T* p, const T* q, T* x, T* r, const T* d, T* z, const T* awr,
                          std::int64_t k, const T* h, std::int64_t n, T* g) {
    const Chunks chunks(n);
    const detail::Basis<T> basis{awr, detail::blas_size(n, "n"), detail::blas_size(k + 1, "k"), chunks};
    const detail::Basis<T> aw{awr, basis.ldq, basis.p - 1, chunks};
    const T* scaled = d != nullptr ? z : r;
    std::vector<double> squares(static_cast<std::size_t>(chunks.count()));
    std::vector<T> partials(static_cast<std::size_t>(chunks.count() * (k + 1)));
    const std::int64_t bytes = basis.sweep_bytes() + 5 * n * static_cast<std::int64_t>(sizeof(T));
    for_each_chunk(chunks, bytes, [&](std::int64_t c) {
        const std::int64_t begin = chunks.begin(c), end = begin + chunks.size(c);
        detail::advance_chunk(chunks, c, alpha, p, q, x, r, aw, h);
        if (d != nullptr) {
            for (std::int64_t i = begin; i < end; ++i) z[i] = d[i] * r[i];
        }
        squares[c] = std::real(dot<true>(r + begin, r + begin, end - begin));
        basis.products(c, scaled, partials.data());
    });
    basis.add_chunks(partials.data(), g);
    double total = 0.0;
    for (const double square : squares) total += square;
    return total;
}

template <class T>
void cg_direction(T beta, const T* z, const T* p, T* p_next, std::int64_t n) {
    const Chunks chunks(n);
    for_each_chunk(chunks, 3 * n * static_cast<std::int64_t>(sizeof(T)), [&](std::int64_t c) {
        const std::int64_t begin = chunks.begin(c), end = begin + chunks.size(c);
        for (std::int64_t i = begin; i < end; ++i) p_next[i] = z[i] + beta * p[i];
    });
}

}  // namespace pynla::krylov
