// Scalar arithmetic shared by the kernels. Complex products use the textbook formula, as SciPy's
// sparsetools do, rather than std::complex's operator* (which calls __muldc3 to rescue inf/nan
// cases and is several times slower): results then match SciPy's bit for bit.
#pragma once

#include <complex>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace pynla {

template <class T>
struct is_complex : std::false_type {};
template <class F>
struct is_complex<std::complex<F>> : std::true_type {};
template <class T>
constexpr bool is_complex_v = is_complex<T>::value;

// The real type of T: T itself, or F for std::complex<F>.
template <class T>
using RealOf = decltype(std::real(std::declval<T>()));

template <class T>
constexpr bool is_kernel_scalar_v = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                    std::is_same_v<T, std::complex<float>> ||
                                    std::is_same_v<T, std::complex<double>>;

template <class T>
inline T multiply(const T& a, const T& b) {
    if constexpr (is_complex_v<T>) {
        return T(a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real());
    } else {
        return a * b;
    }
}

// x != 0, from the bits (NaN is nonzero, -0.0 is zero): integer operations, where a float compare
// that must also rule out NaN costs a few more. Used where every entry of a result is tested.
template <class T>
inline bool is_nonzero(const T& x) {
    if constexpr (is_complex_v<T>) {
        return is_nonzero(x.real()) || is_nonzero(x.imag());
    } else {
        using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
        Bits bits;
        std::memcpy(&bits, &x, sizeof(T));
        return (bits << 1) != 0;  // all bits but the sign
    }
}

}  // namespace pynla
