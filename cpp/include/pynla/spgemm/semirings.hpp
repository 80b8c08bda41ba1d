// The semirings a sparse product can sum over (GraphBLAS's C = A (+.x) B): how a row's products
// are made from A's and B's values, how they are added, where a sum starts, and which entries
// the result keeps. A semiring is a template parameter of the kernel: its operations inline into
// the product loop.
//
// PlusTimes is SciPy's A @ B: sums start at zero, and an entry whose sum is exactly zero is
// dropped, as SciPy drops it. Every other semiring keeps each entry some product reaches,
// whatever its value (GraphBLAS's rule: no explicit "zeros" of min_plus). Min and max ignore a
// NaN product, as fmin and fmax do.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "pynla/common/scalar.hpp"

namespace pynla::spgemm {

struct PlusTimes {
    static constexpr bool kDropsZeros = true;
    template <class T>
    static constexpr bool kTakes = is_kernel_scalar_v<T>;
    template <class T>
    static T identity() { return T(0); }
    template <class T>
    static T add(const T& x, const T& y) { return x + y; }
    template <class T>
    static T multiply(const T& a, const T& b) { return pynla::multiply(a, b); }
};

template <class T>
constexpr bool is_real_kernel_scalar_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

// The additions of the ordered semirings, on real values (min and max need an order).
struct MinOfReals {
    static constexpr bool kDropsZeros = false;
    template <class T>
    static constexpr bool kTakes = is_real_kernel_scalar_v<T>;
    template <class T>
    static T identity() { return std::numeric_limits<T>::infinity(); }
    template <class T>
    static T add(const T& x, const T& y) { return y < x ? y : x; }
};

struct MaxOfReals {
    static constexpr bool kDropsZeros = false;
    template <class T>
    static constexpr bool kTakes = is_real_kernel_scalar_v<T>;
    template <class T>
    static T identity() { return -std::numeric_limits<T>::infinity(); }
    template <class T>
    static T add(const T& x, const T& y) { return y > x ? y : x; }
};

// Shortest paths: the least sum of weights along two-edge paths.
struct MinPlus : MinOfReals {
    template <class T>
    static T multiply(const T& a, const T& b) { return a + b; }
};

// Longest (critical) paths.
struct MaxPlus : MaxOfReals {
    template <class T>
    static T multiply(const T& a, const T& b) { return a + b; }
};

// Most reliable paths (products of probabilities).
struct MaxTimes : MaxOfReals {
    template <class T>
    static T multiply(const T& a, const T& b) { return a * b; }
};

// Reachability, on bool values (bytes 0 and 1).
struct OrAnd {
    static constexpr bool kDropsZeros = false;
    template <class T>
    static constexpr bool kTakes = std::is_same_v<T, std::uint8_t>;
    template <class T>
    static T identity() { return T(0); }
    template <class T>
    static T add(const T& x, const T& y) { return static_cast<T>(x | y); }
    template <class T>
    static T multiply(const T& a, const T& b) { return static_cast<T>(a & b); }
};

// Common neighbours: every product is one, whatever the values, so each entry counts the
// products that reach it.
struct PlusPair {
    static constexpr bool kDropsZeros = false;
    template <class T>
    static constexpr bool kTakes = std::is_same_v<T, double>;
    template <class T>
    static T identity() { return T(0); }
    template <class T>
    static T add(const T& x, const T& y) { return x + y; }
    template <class T>
    static T multiply(const T&, const T&) { return T(1); }
};

// Whether a finished sum is an entry of the result.
template <class S, class T>
inline bool keeps_sum(const T& sum) {
    if constexpr (S::kDropsZeros) {
        return is_nonzero(sum);
    } else {
        return true;
    }
}

}  // namespace pynla::spgemm
