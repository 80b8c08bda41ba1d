// The products that make one row of C = A B, visited in SciPy's order (A's row, then B's).
#pragma once

#include <cstdint>

#include "pynla/common/csr.hpp"

namespace pynla::spgemm::detail {

// Calls visit(column, p, q) for every product A(i, k) B(k, column), where p and q are the
// positions of the two factors in a.data and b.data.
template <class I, class T, class Visit>
inline void for_each_product(const CsrView<I, T>& a, const CsrView<I, T>& b, std::int64_t i, Visit&& visit) {
    const I* const b_indices = b.indices;
    for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
        const std::int64_t k = a.indices[p];
        const std::int64_t end = b.row_end(k);
        for (std::int64_t q = b.row_begin(k); q < end; ++q) visit(b_indices[q], p, q);
    }
}

}  // namespace pynla::spgemm::detail
