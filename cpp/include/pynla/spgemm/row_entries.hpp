// Writing one finished row of C from an accumulator: entries (column, value) are copied out, in column order if
// asked, and entries the semiring drops (plus_times: sums exactly zero, as SciPy's csr_matmat) are left out.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pynla/common/scalar.hpp"
#include "pynla/common/simd.hpp"
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

// Short rows (random and graph matrices: a few tens of entries over a wide span) are put in order by rank: each
// entry's place is the number of smaller columns, counted against every other entry, eight entries at once in
// SIMD lanes (simd.hpp: two SSE2 registers, or one AVX2 register where the CPU has it). That is n^2 / 8
// comparisons but no branch, where insertion sort and a bitmap walk mispredict a branch or two per entry: on a
// random 10000 x 10000 matrix with 5 entries a row, A A's rows of about 25 entries took 140 ns each to walk
// through a bitmap.
constexpr std::int64_t kMaxRankedEntries = 32;

// The entries of one short row, as column offsets from the row's least column and values, written out in column
// order by rank. Make one on the stack for each row (its arrays then cannot alias the accumulator's), fill
// offsets() and values() with up to kMaxRankedEntries entries of distinct offsets below 2^31, then write().
template <class T>
class RankedEntries {
public:
    // wide: use_avx2(), asked once per kernel.
    explicit RankedEntries(bool wide) : wide_(wide) {}

    std::uint32_t* offsets() { return offsets_; }
    T* values() { return values_; }

    // Writes the first n entries, as columns low + offset, in column order.
    template <class I>
    void write(std::int64_t n, std::int64_t low, I* out_indices, T* out_values) {
        if (wide_) {
            write_avx2(n, low, out_indices, out_values);
        } else {
            write_plain(n, low, out_indices, out_values);
        }
    }

private:
    typedef std::int32_t OffsetLanes __attribute__((vector_size(32)));
    static constexpr std::int64_t kLanes = 8, kBlocks = kMaxRankedEntries / kLanes;

    // The ranks of the first n entries among themselves, in n_blocks = ceil(n / kLanes) blocks of lanes (a
    // template parameter: the blocks then stay in registers).
    template <std::int64_t n_blocks>
    PYNLA_ALWAYS_INLINE void rank(std::int64_t n, std::int32_t* ranks_out) const {
        // Lanes past n hold zeros: they get ranks of their own, never counted in others' ranks nor written.
        OffsetLanes columns[n_blocks], ranks[n_blocks];
        for (std::int64_t block = 0; block < n_blocks; ++block) {
            std::memcpy(&columns[block], offsets_ + block * kLanes, sizeof(OffsetLanes));
            ranks[block] = OffsetLanes{};
        }
        for (std::int64_t u = 0; u < n; ++u) {
            const OffsetLanes column = OffsetLanes{} + static_cast<std::int32_t>(offsets_[u]);
            for (std::int64_t block = 0; block < n_blocks; ++block) ranks[block] -= column < columns[block];  // true: -1
        }
        for (std::int64_t block = 0; block < n_blocks; ++block) {
            std::memcpy(ranks_out + block * kLanes, &ranks[block], sizeof(OffsetLanes));
        }
    }

    template <class I>
    PYNLA_ALWAYS_INLINE void write_ranked(std::int64_t n, std::int64_t low, I* out_indices, T* out_values) {
        const OffsetLanes zeros{};
        std::memcpy(offsets_ + n, &zeros, sizeof(OffsetLanes));  // the lanes past n: defined, one store
        std::int32_t ranks[kMaxRankedEntries];
        static_assert(kBlocks == 4);
        switch ((n + kLanes - 1) / kLanes) {
            case 0: return;
            case 1: rank<1>(n, ranks); break;
            case 2: rank<2>(n, ranks); break;
            case 3: rank<3>(n, ranks); break;
            default: rank<4>(n, ranks); break;
        }
        for (std::int64_t t = 0; t < n; ++t) {
            out_indices[ranks[t]] = static_cast<I>(low + offsets_[t]);
            out_values[ranks[t]] = values_[t];
        }
    }
    template <class I>
    void write_plain(std::int64_t n, std::int64_t low, I* out_indices, T* out_values) {
        write_ranked(n, low, out_indices, out_values);
    }
    template <class I>
    PYNLA_TARGET_AVX2 void write_avx2(std::int64_t n, std::int64_t low, I* out_indices, T* out_values) {
        write_ranked(n, low, out_indices, out_values);
    }

    std::uint32_t offsets_[kMaxRankedEntries + kLanes];  // the lanes past n are zeroed by write()
    T values_[kMaxRankedEntries];
    bool wide_;
};

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
