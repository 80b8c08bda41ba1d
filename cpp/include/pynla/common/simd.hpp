// Short fixed-width vectors for dense inner loops, and the choice of instruction set at run time.
//
// Lanes<T> is a run of 32 bytes of T (4 doubles, 8 floats) handled as one value through GCC's
// vector extensions: the compiler maps it to whatever registers the function is compiled for
// (two SSE2 registers, one AVX2 register). Only lane-wise arithmetic is used, never a reduction
// across lanes, so a value computed in a lane is the value computed alone: results are the same
// bits on every CPU and for every lane width. Complex values go one at a time.
//
// The build is portable (x86-64 baseline); a kernel that gains from wider registers is compiled
// twice, once plainly and once inside a function marked PYNLA_TARGET_AVX2, and picks one at run
// time with use_avx2(). The kernel's body must be inlined into both (mark it
// PYNLA_ALWAYS_INLINE) so that each copy is compiled for its own instruction set.
#pragma once

#include <atomic>
#include <complex>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "pynla/common/scalar.hpp"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PYNLA_TARGET_AVX2 __attribute__((target("avx2")))
#define PYNLA_HAS_AVX2_TARGET 1
#else
#define PYNLA_TARGET_AVX2
#define PYNLA_HAS_AVX2_TARGET 0
#endif
#define PYNLA_ALWAYS_INLINE inline __attribute__((always_inline))

namespace pynla {

// Bytes in a cache line on every x86-64 CPU (and most others): the step of software prefetches.
constexpr std::int64_t kCacheLineBytes = 64;

// Whether kernels may take their AVX2 copies (default: yes). Tests turn it off to check that
// both copies give the same bits.
inline std::atomic<bool>& avx2_allowed() {
    static std::atomic<bool> allowed{true};
    return allowed;
}

// True if this CPU runs AVX2 and kernels are allowed to use it.
inline bool use_avx2() {
#if PYNLA_HAS_AVX2_TARGET
    static const bool cpu_has_avx2 = __builtin_cpu_supports("avx2");
    return cpu_has_avx2 && avx2_allowed().load();
#else
    return false;
#endif
}

template <class T>
struct LanesOf {
    using type = T;  // complex: one value at a time
};
template <>
struct LanesOf<float> {
    typedef float type __attribute__((vector_size(32)));
};
template <>
struct LanesOf<double> {
    typedef double type __attribute__((vector_size(32)));
};
template <class T>
using Lanes = typename LanesOf<T>::type;

// Values of T in a V (T itself, or Lanes<T>).
template <class V, class T>
constexpr int lane_count() {
    return static_cast<int>(sizeof(V) / sizeof(T));
}

template <class V, class T>
PYNLA_ALWAYS_INLINE V load_lanes(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}

template <class V, class T>
PYNLA_ALWAYS_INLINE void store_lanes(T* p, const V& v) {
    std::memcpy(p, &v, sizeof(V));
}

// a * x for a scalar a and x a scalar or lanes.
template <class V, class T>
PYNLA_ALWAYS_INLINE V scale_lanes(const T& a, const V& x) {
    if constexpr (std::is_same_v<V, T>) {
        return multiply(a, x);
    } else {
        return a * x;
    }
}

}  // namespace pynla
