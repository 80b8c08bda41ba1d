// Errors the core raises. A precondition a caller can break throws (never assert()):
// std::invalid_argument -> ValueError, std::overflow_error -> OverflowError,
// std::bad_alloc -> MemoryError, pynla::linalg_error -> numpy.linalg.LinAlgError.
#pragma once

#include <stdexcept>
#include <string>

namespace pynla {

// A dense factorization failed (singular matrix, not positive definite, no convergence).
class linalg_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace pynla

#define PYNLA_REQUIRE(condition, message)                                  \
    do {                                                                   \
        if (!(condition)) throw std::invalid_argument(std::string(message)); \
    } while (false)
