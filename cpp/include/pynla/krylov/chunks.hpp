// The fixed cut of a Krylov vector into chunks of rows, which makes its sums the same bits for
// any number of threads: each chunk's partial sum is computed by one thread, and the partials
// are added in chunk order. The cut depends only on the vector's length.
#pragma once

#include <algorithm>
#include <cstdint>

#include "pynla/common/parallel.hpp"

namespace pynla::krylov {

struct Chunks {
    // Rows per chunk: 8 KB of doubles a vector, so that a chunk of a 50-column basis (400 KB)
    // stays in a 512 KB L2 cache between two sweeps of orthogonalize.hpp, while a call on it
    // (a gemv of 1024 x 50) costs far more than its start-up.
    static constexpr std::int64_t kRows = 1024;
    std::int64_t n = 0;

    explicit Chunks(std::int64_t n_rows) : n(n_rows) {}
    std::int64_t count() const { return (n + kRows - 1) / kRows; }
    std::int64_t begin(std::int64_t c) const { return c * kRows; }
    std::int64_t size(std::int64_t c) const { return std::min(kRows, n - c * kRows); }
};

// Runs body(chunk) for every chunk, on as many threads as `bytes` of work is worth.
template <class Body>
void for_each_chunk(const Chunks& chunks, std::int64_t bytes, Body&& body) {
    parallel_for(chunks.count(), threads_for(bytes), [&](std::int64_t c, int) { body(c); });
}

}  // namespace pynla::krylov
