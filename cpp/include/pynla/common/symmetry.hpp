// Symmetric sparse matrices: whether a square one equals its transpose, value for value, and
// making a product that should be symmetric so bit for bit. The Galerkin product P^T A P is made
// exactly symmetric when A is (pynla.ptap), and both steps must cost little beside the products.
// SciPy's way, comparing A with a transposed copy, took 40% of a BSR product's time on 2-D
// elasticity; here each stored entry below the diagonal finds its mirror in place (by a cursor
// per row, as rows are taken in order), on the threads the matrix earns.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "pynla/common/bsr.hpp"
#include "pynla/common/buffer.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla {

enum class Symmetry { symmetric, not_symmetric, not_canonical };

namespace detail {

// The position of block column `column` in block row `row` (sorted), or -1. Short rows (stencils,
// finite elements) count the smaller columns without a branch; long ones are searched.
template <class I, class T>
std::int64_t find_block(const BsrView<I, T>& a, std::int64_t row, std::int64_t column) {
    const std::int64_t begin = a.row_begin(row), end = a.row_end(row);
    std::int64_t p = begin;
    if (end - begin <= 8) {
        for (std::int64_t q = begin; q < end; ++q) p += a.indices[q] < column;
    } else {
        std::int64_t high = end;
        while (p < high) {
            const std::int64_t mid = p + (high - p) / 2;
            if (a.indices[mid] < column) p = mid + 1; else high = mid;
        }
    }
    return p < end && a.indices[p] == column ? p : -1;
}

// Whether the R x R blocks p and q are each other's transposes (p == q: a symmetric block).
template <class I, class T>
bool transposed_blocks(const BsrView<I, T>& a, std::int64_t p, std::int64_t q) {
    const std::int64_t r = a.block_rows;
    const T* x = a.block(p);
    const T* y = a.block(q);
    for (std::int64_t i = 0; i < r; ++i) {
        for (std::int64_t j = 0; j < r; ++j) {
            if (!(x[i * r + j] == y[j * r + i])) return false;  // NaN is not equal to itself
        }
    }
    return true;
}

}  // namespace detail

// Visits every stored block of a square BSR matrix with square blocks, on the threads its size
// earns: visit(p, q) for each block p on or below the block diagonal, with q the position of its
// mirror (-1 if not stored; q == p on the diagonal), in each thread's range of rows until visit
// returns false there (the other ranges go on). Returns
// not_canonical if a block row is unsorted or repeats a column (mirrors are found by position,
// so they may then be missed), else not_symmetric if a visit returned false or the blocks above
// the diagonal outnumber those below (one without a mirror), else symmetric.
//
// Rows are taken in order, so the mirrors of row i's blocks below the diagonal, (j, i) for j < i,
// come in column order within each row j: a cursor per row, set past its diagonal when the row
// is visited, walks them in O(1) each. A row j before the thread's range of rows was visited by
// another thread; its mirror is searched for instead.
template <class I, class T, class Visit>
Symmetry visit_mirrors(const BsrView<I, T>& a, Visit&& visit) {
    if (a.n_block_rows != a.n_block_cols || a.block_rows != a.block_cols) return Symmetry::not_symmetric;
    const std::int64_t n = a.n_block_rows;
    const auto bytes = static_cast<std::int64_t>(a.n_blocks() * (2 * sizeof(I) + 2 * a.block_size() * sizeof(T)));
    const int n_threads = threads_for(bytes);
    // One range a thread: a mirror in a range before the thread's own costs a search, so the
    // fewer the ranges the better (the cut by entries keeps them even).
    const auto bounds = split_by_cost(n, n_threads, [&](std::int64_t i) { return a.row_begin(i) + i; });
    const auto n_ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<std::int64_t> above_minus_below(static_cast<std::size_t>(n_ranges), 0);
    Buffer<std::int64_t> next_mirror(n);  // row j's next block above its diagonal, set when row j is visited
    std::atomic<bool> mismatch{false}, unsorted{false};
    parallel_for(n_ranges, n_threads, [&](std::int64_t range, int) {
        const std::int64_t first_row = bounds[range];
        std::int64_t balance = 0;
        bool range_unsorted = false, range_mismatch = false;  // shared flags written once, at the end
        for (std::int64_t i = first_row; i < bounds[range + 1]; ++i) {
            std::int64_t past_diagonal = a.row_begin(i);
            for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                const std::int64_t j = a.indices[p];
                range_unsorted |= p > a.row_begin(i) && a.indices[p - 1] >= a.indices[p];
                if (j > i) {
                    ++balance;
                    continue;
                }
                past_diagonal = p + 1;
                std::int64_t q = p;
                if (j < i) {
                    --balance;
                    if (j < first_row) {
                        q = detail::find_block(a, j, i);
                    } else {
                        std::int64_t& next = next_mirror[j];
                        q = next < a.row_end(j) && a.indices[next] == i ? next++ : -1;
                    }
                }
                range_mismatch = range_mismatch || !visit(p, q);  // the order check goes on after one
            }
            next_mirror[i] = past_diagonal;
        }
        above_minus_below[static_cast<std::size_t>(range)] = balance;
        if (range_unsorted) unsorted.store(true);
        if (range_mismatch) mismatch.store(true);
    });
    if (unsorted.load()) return Symmetry::not_canonical;
    const bool counts_match = std::accumulate(above_minus_below.begin(), above_minus_below.end(), std::int64_t{0}) == 0;
    return mismatch.load() || !counts_match ? Symmetry::not_symmetric : Symmetry::symmetric;
}

namespace detail {

// A 64-bit mix (splitmix64's finalizer): nearby inputs give unrelated outputs.
inline std::uint64_t mix(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The bits of a value, with -0 read as +0 (they compare equal).
template <class T>
std::uint64_t value_bits(T v) {
    if constexpr (std::is_floating_point_v<T>) {
        if (v == T(0)) v = T(0);
        std::uint64_t bits = 0;
        std::memcpy(&bits, &v, sizeof(T));
        return bits;
    } else {
        return mix(value_bits(v.real())) ^ value_bits(v.imag());
    }
}

// Whether the sums, over every stored value v at (row, column), of a hash of (row, column, v) and
// of (column, row, v) agree, for rows in any order. A symmetric matrix lists the same triples both
// ways, and a sum does not depend on order, so a mismatch proves it unsymmetric, in one pass;
// but only without repeated entries (a value split in two would differ), which the pass looks
// for with a mark per column: answers differ, match, or repeats.
enum class Fingerprints { differ, match, repeats };

template <class I, class T>
Fingerprints fingerprints(const BsrView<I, T>& a) {
    const std::int64_t r = a.block_rows;
    const auto bytes = static_cast<std::int64_t>(a.n_blocks() * (sizeof(I) + a.block_size() * sizeof(T)));
    const int n_threads = threads_for(bytes);
    const auto bounds = split_by_cost(a.n_block_rows, n_threads, [&](std::int64_t i) { return a.row_begin(i) + i; });
    const auto n_ranges = static_cast<std::int64_t>(bounds.size()) - 1;
    std::vector<std::uint64_t> difference(static_cast<std::size_t>(n_ranges), 0);
    std::atomic<bool> repeats{false};
    parallel_for(n_ranges, n_threads, [&](std::int64_t range, int) {
        std::vector<std::int64_t> last_row(static_cast<std::size_t>(a.n_block_cols), -1);  // column -> last row listing it
        std::uint64_t sum = 0;  // wraps: an order-free sum modulo 2^64
        for (std::int64_t i = bounds[range]; i < bounds[range + 1]; ++i) {
            for (std::int64_t p = a.row_begin(i); p < a.row_end(i); ++p) {
                auto& last = last_row[static_cast<std::size_t>(a.indices[p])];
                if (last == i) repeats.store(true, std::memory_order_relaxed);
                last = i;
                const T* block = a.block(p);
                for (std::int64_t e = 0; e < r * r; ++e) {
                    const auto row = static_cast<std::uint64_t>(i * r + e / r);
                    const auto column = static_cast<std::uint64_t>(a.indices[p] * r + e % r);
                    const std::uint64_t value = mix(value_bits(block[e]));
                    sum += mix(mix(row) ^ column ^ value) - mix(mix(column) ^ row ^ value);
                }
            }
        }
        difference[static_cast<std::size_t>(range)] = sum;
    });
    if (repeats.load()) return Fingerprints::repeats;
    const bool equal = std::accumulate(difference.begin(), difference.end(), std::uint64_t{0}) == 0;
    return equal ? Fingerprints::match : Fingerprints::differ;
}

}  // namespace detail

// Whether A (BSR with square blocks; CSR is the case of 1 x 1 blocks) equals its transpose, with
// no conjugation: every stored block (i, j) has a stored block (j, i) that is its transpose. An
// entry whose mirror is not stored makes A not symmetric, even if its value is zero. Where rows
// are unsorted but repeat no column, the answer is not_symmetric if the fingerprints prove it (a
// product's unsorted result, for one, need not be sorted to be refused); else not_canonical.
template <class I, class T>
Symmetry symmetry(const BsrView<I, T>& a) {
    const Symmetry found =
        visit_mirrors(a, [&](std::int64_t p, std::int64_t q) { return q >= 0 && detail::transposed_blocks(a, p, q); });
    if (found == Symmetry::not_canonical && detail::fingerprints(a) == detail::Fingerprints::differ) {
        return Symmetry::not_symmetric;
    }
    return found;
}

// Makes a matrix that should be symmetric (a product P^T A P of symmetric A) symmetric bit for bit:
// every value below the diagonal becomes a copy of its mirror above, block by block (blocks below
// the block diagonal take their mirror's transpose; a diagonal block's lower triangle takes its
// upper). `data` is a's own values, written in place; values on and above the diagonal are only
// read. Returns false, with only some values below the diagonal written, where the pattern is
// not symmetric or not canonical: the caller must then build the result from the triangle above.
template <class I, class T>
bool mirror_upper(const BsrView<I, T>& a, T* data) {
    const std::int64_t r = a.block_rows;
    const auto copy_mirror = [&](std::int64_t p, std::int64_t q) {
        if (q < 0) return false;
        T* block = data + p * a.block_size();
        const T* mirror = data + q * a.block_size();
        for (std::int64_t row = 0; row < r; ++row) {
            for (std::int64_t column = 0; column < (p == q ? row : r); ++column) block[row * r + column] = mirror[column * r + row];
        }
        return true;
    };
    return visit_mirrors(a, copy_mirror) == Symmetry::symmetric;
}

}  // namespace pynla
