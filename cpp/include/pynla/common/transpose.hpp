// The transpose of a CSR matrix, as CSR (the matrix's CSC arrays), multithreaded. Within each row
// of the transpose, entries keep the input's order: by input row, then by their place in it (a
// stable counting sort: SciPy's csr_tocsc order, repeated entries kept). The same for any number
// of threads.
// Algorithm: the input's rows are cut into one range a thread, of about equal entries; each range
// counts its entries in each column; the counts, added up column by column and range by range,
// give each range its place in each row of the transpose; each range then writes its entries
// there. Memory: the result, and one index a column for each range (at most one range per
// n_cols entries).
// In: a checked view (indices in range; rows may be unsorted and repeat columns).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pynla/common/csr.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla {

template <class I, class T>
Csr<I, T> transpose(const CsrView<I, T>& a) {
    const std::int64_t nnz = a.nnz(), n_cols = a.n_cols;
    // Work: each entry read and written (index and value), each row and column counted.
    const auto entry_bytes = static_cast<std::int64_t>(2 * (sizeof(I) + sizeof(T)));
    const int n_threads = threads_for(entry_bytes * nnz + static_cast<std::int64_t>(sizeof(I)) * (a.n_rows + n_cols));
    Csr<I, T> t;
    t.n_rows = n_cols;
    t.n_cols = a.n_rows;
    t.indptr.resize(n_cols + 1);
    t.indices.resize(nnz);
    t.data.resize(nnz);
    // Each range keeps an index a column: no more ranges than the entries pay for (a wide matrix
    // with few entries takes one), so the counts never outgrow the result.
    const std::int64_t most_ranges = std::clamp<std::int64_t>(nnz / std::max<std::int64_t>(n_cols, 1), 1, n_threads);
    const std::vector<std::int64_t> ranges = split_by_cost(a.n_rows, most_ranges, [&](std::int64_t i) { return a.row_begin(i) + i; });
    const auto n_ranges = static_cast<std::int64_t>(ranges.size()) - 1;
    // places[r * n_cols + c]: range r's entries in column c, then where the first of them goes.
    std::vector<I> places(static_cast<std::size_t>(n_ranges * n_cols), I{0});
    parallel_for(n_ranges, n_threads, [&](std::int64_t r, int) {
        I* count = places.data() + r * n_cols;
        for (std::int64_t p = a.row_begin(ranges[r]); p < a.row_begin(ranges[r + 1]); ++p) ++count[a.indices[p]];
    });
    I placed = 0;
    for (std::int64_t c = 0; c < n_cols; ++c) {
        t.indptr.data()[c] = placed;
        for (std::int64_t r = 0; r < n_ranges; ++r) {
            I& place = places[static_cast<std::size_t>(r * n_cols + c)];
            const I count = place;
            place = placed;
            placed += count;
        }
    }
    t.indptr.data()[n_cols] = placed;
    parallel_for(n_ranges, n_threads, [&](std::int64_t r, int) {
        I* place = places.data() + r * n_cols;
        for (std::int64_t i = ranges[r]; i < ranges[r + 1]; ++i) {
            for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                const I q = place[a.indices[p]]++;
                t.indices.data()[q] = static_cast<I>(i);
                t.data.data()[q] = a.data[p];
            }
        }
    });
    return t;
}

}  // namespace pynla
