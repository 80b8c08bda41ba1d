// What the C++ tests of the dense-backed kernels share: counted checks, Gaussian draws, and
// running a kernel on 1 and on 3 threads.
#pragma once

#include <complex>
#include <cstdint>
#include <cstdio>
#include <random>
#include <type_traits>
#include <utility>

#include "pynla/common/parallel.hpp"

namespace pynla::checks {

inline int n_checks = 0, n_failures = 0;

// Counts a check; prints what failed, with the two sizes that name the case.
inline void expect(bool ok, const char* what, std::int64_t first, std::int64_t second) {
    ++n_checks;
    if (!ok) {
        ++n_failures;
        std::printf("FAIL %s (%lld, %lld)\n", what, (long long)first, (long long)second);
    }
}

// The line main prints last, and its exit code.
inline int report(const char* test) {
    std::printf("%s: %d checks, %d failures\n", test, n_checks, n_failures);
    return n_failures == 0 ? 0 : 1;
}

// A standard normal value; complex: independent real and imaginary parts.
template <class T>
T draw(std::mt19937_64& rng) {
    std::normal_distribution<double> normal;
    if constexpr (std::is_floating_point_v<T>) {
        return T(normal(rng));
    } else {
        const double real = normal(rng);
        return T(real, normal(rng));
    }
}

// f() on 1 thread and on 3: the two results.
template <class F>
auto on_1_and_3_threads(F&& f) {
    set_max_threads(1);
    auto one = f();
    set_max_threads(3);
    auto three = f();
    return std::make_pair(one, three);
}

}  // namespace pynla::checks
