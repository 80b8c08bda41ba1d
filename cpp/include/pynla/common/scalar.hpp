// Scalar arithmetic shared by the kernels. Complex products use the textbook formula, as SciPy's
// sparsetools do, rather than std::complex's operator* (which calls __muldc3 to rescue inf/nan
// cases and is several times slower): results then match SciPy's bit for bit.
#pragma once

#include <complex>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace pynla {

template <class T>
struct is_complex : std::false_type {};
template <class F>
struct is_complex<std::complex<F>> : std::true_type {};
template <class T>
constexpr bool is_complex_v = is_complex<T>::value;

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

// x if keep, else +0, without a branch (a mispredicted branch in a kernel's inner loop costs
// more than the arithmetic): a bitwise AND with a mask, so NaN and inf pass through unchanged.
template <class T>
inline T keep_if(bool keep, const T& x) {
    static_assert(sizeof(T) % sizeof(std::uint32_t) == 0, "keep_if: T is a whole number of words");
    std::uint32_t words[sizeof(T) / sizeof(std::uint32_t)];
    std::memcpy(words, &x, sizeof(T));
    const std::uint32_t mask = 0u - static_cast<std::uint32_t>(keep);
    for (auto& word : words) word &= mask;
    T result;
    std::memcpy(&result, words, sizeof(T));
    return result;
}

}  // namespace pynla
