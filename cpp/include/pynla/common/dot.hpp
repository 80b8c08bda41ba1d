// Dot products whose sums run in a fixed order: the same bits on every thread count and in
// the plain and AVX2 copies of a kernel (no reassociation but the one written here).
#pragma once

#include <complex>
#include <cstdint>

#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"

namespace pynla {

template <class T>
inline T conjugate(const T& v) {
    if constexpr (is_complex_v<T>) return std::conj(v); else return v;
}

// sum_t u[t] v[t] (conj(u[t]) v[t] if kConjugate) over n terms with eight running sums (so the
// loop vectorizes and is not bound by the latency of one chain of additions), added up in a
// fixed order.
template <bool kConjugate, class T>
PYNLA_ALWAYS_INLINE T dot(const T* __restrict u, const T* __restrict v, std::int64_t n) {
    constexpr std::int64_t kSums = 8;
    T sums[kSums] = {};
    std::int64_t t = 0;
    for (; t + kSums <= n; t += kSums) {
        for (std::int64_t s = 0; s < kSums; ++s) sums[s] += (kConjugate ? conjugate(u[t + s]) : u[t + s]) * v[t + s];
    }
    for (; t < n; ++t) sums[0] += (kConjugate ? conjugate(u[t]) : u[t]) * v[t];
    return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
}

}  // namespace pynla
