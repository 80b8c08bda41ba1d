// The products that make one row of C = A B, visited in SciPy's order (A's row, then B's).
#pragma once

#include <cstdint>

#include "pynla/common/csr.hpp"
#include "pynla/common/scalar.hpp"
#include "pynla/spgemm/semirings.hpp"

namespace pynla::spgemm::detail {

// Calls visit(column, A(i, k) * B(k, column)) for every product of row i, in SciPy's order (the
// product of semiring S: semirings.hpp).
// A(i, k) is read once per row of B, into a local: read through a.data inside the loop it would
// be read again for every product, as the compiler cannot rule out that the accumulator's
// stores change it.
template <class S = PlusTimes, class I, class T, class Visit>
inline void for_each_product(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, Visit&& visit) {
    const I* const b_indices = b.indices;
    const T* const b_data = b.data;
    for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
        const std::int64_t k = a.indices[p];
        const T a_ik = a.data[p];
        const std::int64_t end = b.row_end(k);
#pragma GCC unroll 4  // rows of B are short: the loop test would cost a third of the visit
        for (std::int64_t q = b.row_begin(k); q < end; ++q) visit(b_indices[q], S::multiply(a_ik, b_data[q]));
    }
}

}  // namespace pynla::spgemm::detail
