// residual_gradient.hpp for a CSR A (n x d): G = A^H (B - A X) and the squared column norms of
// B - A X in one pass over A, each row's residual formed and used while the row is in cache.
// Without B (b null) it gives -A^H A X and the squared norms of A X: the step of conjugate
// gradients on the normal equations (CGLS), in one pass where A X and then A^H (A X) would read
// A twice. The rows are cut into chunks by A's structure alone (about equal entries), each chunk
// sums into its own partial G, and the partials are added in chunk order: the bits do not depend
// on the thread count. Duplicate and unsorted indices are summed as they come (in storage order).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/csr.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"
#include "pynla/sketch/residual_gradient.hpp"

namespace pynla::sketch {

namespace detail {

// A chunk holds about kCsrChunkEntries entries (its partial is then small beside the work), and
// there are at most kCsrMaxChunks chunks, whose partials take at most A's entries' room.
constexpr std::int64_t kCsrChunkEntries = std::int64_t{1} << 15;
constexpr std::int64_t kCsrMaxChunks = 256;

// Row bounds of the chunks of A for partials of `width` entries each: [bounds[c], bounds[c + 1]).
template <class I, class T>
std::vector<std::int64_t> csr_chunks(const CsrView<I, T>& a, std::int64_t width) {
    const std::int64_t nnz = a.nnz(), n = a.n_rows;
    const std::int64_t by_memory = nnz / std::max<std::int64_t>(width, 1);
    const std::int64_t count = std::clamp<std::int64_t>(std::min({nnz / kCsrChunkEntries, by_memory, n}), 1, kCsrMaxChunks);
    std::vector<std::int64_t> bounds(static_cast<std::size_t>(count + 1), n);
    bounds[0] = 0;
    for (std::int64_t c = 1; c < count; ++c) {  // the first row that starts at or past c / count of the entries
        const std::int64_t target = nnz / count * c + std::min(c, nnz % count);
        const auto row = std::lower_bound(a.indptr, a.indptr + n + 1, target,
                                          [](I start, std::int64_t t) { return static_cast<std::int64_t>(start) < t; }) - a.indptr;
        bounds[c] = std::clamp<std::int64_t>(row, bounds[c - 1], n);
    }
    return bounds;
}

// a x for the row of entries [begin, end), in four running sums added at the end: one chain of
// dependent additions waits on each (the dot products alone of 2e5 x 200, 20 a row, one thread:
// 6.7 against 2.9 ms).
template <class I, class T>
PYNLA_ALWAYS_INLINE T row_dot(const CsrView<I, T>& a, const T* x, std::int64_t begin, std::int64_t end) {
    T sums[4] = {T(0), T(0), T(0), T(0)};
    std::int64_t e = begin;
    for (; e + 4 <= end; e += 4) {
        for (int s = 0; s < 4; ++s) sums[s] += a.data[e + s] * x[a.indices[e + s]];
    }
    for (; e < end; ++e) sums[0] += a.data[e] * x[a.indices[e]];
    return (sums[0] + sums[1]) + (sums[2] + sums[3]);
}

// Rows [i0, i1): per row, r = b - a x (r = -a x without b), then g += a^H r.
template <class I, class T>
void csr_chunk(const CsrView<I, T>& a, const T* x, const T* b, std::int64_t q, std::int64_t i0, std::int64_t i1,
               T* g, RealOf<T>* norms) {
    std::vector<T> r(static_cast<std::size_t>(q));
    std::vector<RealOf<T>> chunk_norms(static_cast<std::size_t>(q), RealOf<T>(0));
    for (std::int64_t i = i0; i < i1; ++i) {
        const std::int64_t begin = a.row_begin(i), end = a.row_end(i);
        if (q == 1) {
            const T residual = (b != nullptr ? b[i] : T(0)) - row_dot(a, x, begin, end);
            for (std::int64_t e = begin; e < end; ++e) g[a.indices[e]] += conjugate(a.data[e]) * residual;
            chunk_norms[0] += squared_magnitude(residual);
            continue;
        }
        for (std::int64_t c = 0; c < q; ++c) r[c] = b != nullptr ? b[i * q + c] : T(0);
        for (std::int64_t e = begin; e < end; ++e) {
            const T value = a.data[e];
            const T* const x_row = x + static_cast<std::int64_t>(a.indices[e]) * q;
            for (std::int64_t c = 0; c < q; ++c) r[c] -= value * x_row[c];
        }
        for (std::int64_t e = begin; e < end; ++e) {
            const T value = conjugate(a.data[e]);
            T* const g_row = g + static_cast<std::int64_t>(a.indices[e]) * q;
            for (std::int64_t c = 0; c < q; ++c) g_row[c] += value * r[c];
        }
        for (std::int64_t c = 0; c < q; ++c) chunk_norms[c] += squared_magnitude(r[c]);
    }
    std::copy(chunk_norms.begin(), chunk_norms.end(), norms);  // written once: see chunk_by_rows
}

}  // namespace detail

// X is d x q and B (null, or) n x q, both C order; A's indices must be in range (checked by the
// caller).
template <class I, class T>
ResidualGradient<T> residual_gradient_csr(const CsrView<I, T>& a, const T* x, const T* b, std::int64_t q) {
    const std::int64_t d = a.n_cols, size = d * q;
    const auto bounds = detail::csr_chunks(a, size);
    const auto n_chunks = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<T> partial_g(static_cast<std::size_t>(n_chunks * size), T(0));
    std::vector<RealOf<T>> partial_norms(static_cast<std::size_t>(n_chunks * q), RealOf<T>(0));
    const std::int64_t bytes = a.nnz() * static_cast<std::int64_t>(sizeof(I) + sizeof(T)) +
                               a.n_rows * q * static_cast<std::int64_t>(b != nullptr ? sizeof(T) : 0);
    const int n_threads = threads_for(bytes, static_cast<int>(std::min<std::int64_t>(max_threads(), n_chunks)));
    parallel_for(n_chunks, n_threads, [&](std::int64_t chunk, int) {
        detail::csr_chunk(a, x, b, q, bounds[chunk], bounds[chunk + 1], partial_g.data() + chunk * size,
                          partial_norms.data() + chunk * q);
    });
    return detail::sum_partials(partial_g, partial_norms, n_chunks, size, q, n_threads);
}

}  // namespace pynla::sketch
