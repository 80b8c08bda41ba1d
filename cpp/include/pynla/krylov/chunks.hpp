// The fixed cut of a Krylov vector into chunks of rows, which makes its inner products the same
// bits for any number of threads: each chunk's partial sums are computed by one thread, and the
// partials are added in chunk order. The cut depends only on the vector's length and on how
// many basis columns a sweep reads with it, never on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>

#include "pynla/common/parallel.hpp"

namespace pynla::krylov {

// Bytes of basis rows one chunk holds: a sweep that reads a chunk twice (subtract, then the next
// inner products) finds it in a 512 KB L2 cache the second time.
constexpr std::int64_t kChunkBytes = std::int64_t{192} << 10;

struct Chunks {
    std::int64_t n = 0;     // rows of the vector
    std::int64_t rows = 1;  // rows per chunk (the last may have fewer)

    // Chunks of a sweep over n rows of `columns` basis columns of element size `bytes`.
    Chunks(std::int64_t n_rows, std::int64_t columns, std::int64_t bytes) : n(n_rows) {
        const std::int64_t fit = kChunkBytes / (std::max<std::int64_t>(columns, 1) * bytes);
        rows = std::clamp<std::int64_t>(fit / 64 * 64, 256, 16384);
    }
    std::int64_t count() const { return (n + rows - 1) / rows; }
    std::int64_t begin(std::int64_t c) const { return c * rows; }
    std::int64_t size(std::int64_t c) const { return std::min(rows, n - c * rows); }
};

// Runs body(chunk) for every chunk, on as many threads as `bytes` of work is worth.
template <class Body>
void for_each_chunk(const Chunks& chunks, std::int64_t bytes, Body&& body) {
    parallel_for(chunks.count(), threads_for(bytes), [&](std::int64_t c, int) { body(c); });
}

}  // namespace pynla::krylov
