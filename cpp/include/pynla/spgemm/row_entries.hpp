// Writing one finished row of C from a hash accumulator: entries (column, value) are copied out, in column order if
// asked, and entries the semiring drops (plus_times: sums exactly zero, as SciPy's csr_matmat) are left out.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/scalar.hpp"
#include "pynla/spgemm/semirings.hpp"

namespace pynla::spgemm::detail {

template <class I, class T>
struct Entry {
    I column;
    T value;
};

// Sorts by column: insertion sort for the short rows that dominate sparse products, else std::sort.
template <class I, class T>
void sort_by_column(Entry<I, T>* first, Entry<I, T>* last) {
    if (last - first <= 32) {
        for (auto* it = first + 1; it < last; ++it) {
            const Entry<I, T> moving = *it;
            auto* hole = it;
            for (; hole > first && (hole - 1)->column > moving.column; --hole) *hole = *(hole - 1);
            *hole = moving;
        }
    } else {
        std::sort(first, last, [](const Entry<I, T>& x, const Entry<I, T>& y) { return x.column < y.column; });
    }
}

// Copies the entries semiring S keeps (plus_times: the nonzero ones) to out_indices/out_values.
// Returns how many were kept; the slots out_indices[0, last - first) may all be written.
template <class S, class I, class T>
std::int64_t write_kept(const Entry<I, T>* first, const Entry<I, T>* last, I* out_indices, T* out_values) {
    std::int64_t written = 0;
    for (const auto* e = first; e < last; ++e) {
        out_indices[written] = e->column;
        out_values[written] = e->value;
        written += keeps_sum<S>(e->value);  // a dropped entry is overwritten by the next, or left past the end
    }
    return written;
}

}  // namespace pynla::spgemm::detail
