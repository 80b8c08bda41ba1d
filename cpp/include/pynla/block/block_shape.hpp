// Block shapes known at compile time. A kernel written over block dimensions of any integral
// type runs with std::integral_constant dimensions for the common shapes (its loops over a
// block then unroll and vectorise) and with plain integers for every other shape.
#pragma once

#include <cstdint>
#include <type_traits>

#include "pynla/common/scalar.hpp"

namespace pynla::block {

template <std::int64_t N>
using Dim = std::integral_constant<std::int64_t, N>;

// N for a Dim<N>, 0 for a dimension known only at run time.
template <class D>
constexpr std::int64_t static_dim_v = 0;
template <std::int64_t N>
constexpr std::int64_t static_dim_v<Dim<N>> = N;

// Calls body(rows, cols) with the block shape R x C: as Dim<R>, Dim<C> for the shapes of
// bundle adjustment (2x3, 3x2, 3x3, 6x6, 9x9), elasticity and pruned networks (2x2 to 16x16),
// else as std::int64_t. Complex values always take the generic path: their arithmetic is
// scalar, so unrolling gains little and would double the build.
template <class T, class Body>
decltype(auto) with_block_shape(std::int64_t r, std::int64_t c, Body&& body) {
    if constexpr (!is_complex_v<T>) {
#define PYNLA_BLOCK_SHAPE(R, C) \
    if (r == R && c == C) return body(Dim<R>{}, Dim<C>{});
        PYNLA_BLOCK_SHAPE(1, 1)
        PYNLA_BLOCK_SHAPE(2, 2)
        PYNLA_BLOCK_SHAPE(2, 3)
        PYNLA_BLOCK_SHAPE(3, 2)
        PYNLA_BLOCK_SHAPE(3, 3)
        PYNLA_BLOCK_SHAPE(4, 4)
        PYNLA_BLOCK_SHAPE(6, 6)
        PYNLA_BLOCK_SHAPE(8, 8)
        PYNLA_BLOCK_SHAPE(9, 9)
        PYNLA_BLOCK_SHAPE(16, 16)
#undef PYNLA_BLOCK_SHAPE
    }
    return body(r, c);
}

// Calls body(n) with n as a Dim for the block dimensions above (so that divisions by it become
// multiplications), else as std::int64_t.
template <class Body>
decltype(auto) with_dim(std::int64_t n, Body&& body) {
#define PYNLA_DIM(N) \
    if (n == N) return body(Dim<N>{});
    PYNLA_DIM(1)
    PYNLA_DIM(2)
    PYNLA_DIM(3)
    PYNLA_DIM(4)
    PYNLA_DIM(6)
    PYNLA_DIM(8)
    PYNLA_DIM(9)
    PYNLA_DIM(16)
#undef PYNLA_DIM
    return body(n);
}

}  // namespace pynla::block
