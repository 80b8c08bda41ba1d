// C++-only test of the BSR core under AddressSanitizer and UBSan: random block matrices of many
// block shapes (unrolled and generic), with empty block rows, unsorted and repeated blocks, in
// every index and value type. Values are small integers, so every sum is exact and results are
// compared for equality with dense references. (diagonal_inverse.hpp needs SciPy's LAPACK and
// is tested from Python.) Build and run:
//   cmake -S . -B build/cpp-tests -DPYNLA_CPP_TESTS=ON && cmake --build build/cpp-tests && build/cpp-tests/test_block_cpp
#include <complex>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "pynla/block/block_columns.hpp"
#include "pynla/block/from_blocks.hpp"
#include "pynla/block/from_csr.hpp"
#include "pynla/block/multiply_block.hpp"
#include "pynla/block/multiply_dense.hpp"

namespace {

int n_checks = 0, n_failures = 0;

void expect(bool ok, const char* what, std::int64_t r, std::int64_t c) {
    ++n_checks;
    if (!ok) {
        ++n_failures;
        std::printf("FAIL %s (blocks %lldx%lld)\n", what, static_cast<long long>(r), static_cast<long long>(c));
    }
}

template <class T>
T small_value(std::mt19937_64& rng) {
    return T(static_cast<double>(static_cast<int>(rng() % 5) - 2));
}

// Listed blocks: block row, block column and R x C values each, in random order with repeats.
template <class I, class T>
struct BlockList {
    std::int64_t grid_rows, grid_cols, r, c;
    std::vector<I> rows, cols;
    std::vector<T> values;
};

template <class I, class T>
BlockList<I, T> random_blocks(std::mt19937_64& rng, std::int64_t grid_rows, std::int64_t grid_cols, std::int64_t r,
                              std::int64_t c, std::int64_t n) {
    BlockList<I, T> list{grid_rows, grid_cols, r, c, {}, {}, {}};
    for (std::int64_t k = 0; grid_rows > 0 && grid_cols > 0 && k < n; ++k) {
        list.rows.push_back(static_cast<I>(rng() % grid_rows / 2 * 2));  // odd block rows stay empty
        list.cols.push_back(static_cast<I>(rng() % grid_cols));
        for (std::int64_t e = 0; e < r * c; ++e) list.values.push_back(small_value<T>(rng));
    }
    return list;
}

template <class I, class T>
std::vector<T> dense_of(const BlockList<I, T>& list) {
    const std::int64_t n_cols = list.grid_cols * list.c;
    std::vector<T> dense(static_cast<std::size_t>(list.grid_rows * list.r * n_cols), T(0));
    for (std::size_t k = 0; k < list.rows.size(); ++k)
        for (std::int64_t i = 0; i < list.r; ++i)
            for (std::int64_t j = 0; j < list.c; ++j)
                dense[(list.rows[k] * list.r + i) * n_cols + list.cols[k] * list.c + j] += list.values[k * list.r * list.c + i * list.c + j];
    return dense;
}

// The same blocks as BSR in list order within each block row (unsorted, repeats kept).
template <class I, class T>
pynla::Bsr<I, T> unsorted_bsr(const BlockList<I, T>& list) {
    const std::int64_t bs = list.r * list.c, n = static_cast<std::int64_t>(list.rows.size());
    pynla::Bsr<I, T> m{list.grid_rows, list.grid_cols, list.r, list.c, pynla::Buffer<I>(list.grid_rows + 1),
                       pynla::Buffer<I>(n), pynla::Buffer<T>(n * bs)};
    std::int64_t q = 0;
    m.indptr[0] = 0;
    for (std::int64_t i = 0; i < list.grid_rows; ++i) {
        for (std::int64_t k = 0; k < n; ++k) {
            if (list.rows[k] != i) continue;
            m.indices[q] = list.cols[k];
            for (std::int64_t e = 0; e < bs; ++e) m.data[q * bs + e] = list.values[k * bs + e];
            ++q;
        }
        m.indptr[i + 1] = static_cast<I>(q);
    }
    return m;
}

template <class I, class T>
std::vector<T> dense_of(const pynla::Bsr<I, T>& m) {
    BlockList<I, T> list{m.n_block_rows, m.n_block_cols, m.block_rows, m.block_cols, {}, {}, {}};
    for (std::int64_t i = 0; i < m.n_block_rows; ++i)
        for (I p = m.indptr[i]; p < m.indptr[i + 1]; ++p) {
            list.rows.push_back(static_cast<I>(i));
            list.cols.push_back(m.indices[p]);
            for (std::int64_t e = 0; e < m.block_rows * m.block_cols; ++e) list.values.push_back(m.data[p * m.block_rows * m.block_cols + e]);
        }
    return dense_of(list);
}

template <class I, class T>
bool sorted_without_repeats(const pynla::Bsr<I, T>& m) {
    for (std::int64_t i = 0; i < m.n_block_rows; ++i)
        for (I p = m.indptr[i] + 1; p < m.indptr[i + 1]; ++p)
            if (m.indices[p] <= m.indices[p - 1]) return false;
    return true;
}

template <class I, class T>
void check_shape(std::mt19937_64& rng, std::int64_t r, std::int64_t c) {
    const std::int64_t grid_rows = 1 + rng() % 9, grid_cols = 1 + rng() % 7;
    const auto list = random_blocks<I, T>(rng, grid_rows, grid_cols, r, c, grid_rows * grid_cols / 2 + 3);
    const auto a = unsorted_bsr(list);
    const auto dense = dense_of(list);
    const std::int64_t n_rows = grid_rows * r, n_cols = grid_cols * c;

    // A X and A^T X for several widths (one column, a partial run of lanes, runs plus a tail).
    for (const std::int64_t k : {1, 3, 8, 13}) {
        std::vector<T> x(static_cast<std::size_t>(std::max(n_rows, n_cols) * k));
        for (auto& v : x) v = small_value<T>(rng);
        const auto y = pynla::block::multiply_dense(a.view(), x.data(), k, k);
        const auto columns = pynla::block::block_columns(a.view());
        const auto z = pynla::block::multiply_transpose_dense(a.view(), columns.view(), x.data(), k, k);
        bool same = true, same_transposed = true;
        for (std::int64_t i = 0; i < n_rows; ++i)
            for (std::int64_t col = 0; col < k; ++col) {
                T sum(0);
                for (std::int64_t j = 0; j < n_cols; ++j) sum += dense[i * n_cols + j] * x[j * k + col];
                same = same && sum == y[i * k + col];
            }
        for (std::int64_t j = 0; j < n_cols; ++j)
            for (std::int64_t col = 0; col < k; ++col) {
                T sum(0);
                for (std::int64_t i = 0; i < n_rows; ++i) sum += dense[i * n_cols + j] * x[i * k + col];
                same_transposed = same_transposed && sum == z[j * k + col];
            }
        expect(same, "multiply_dense", r, c);
        expect(same_transposed, "multiply_transpose_dense", r, c);
    }

    // Building from blocks, and CSR -> BSR of the same matrix.
    const auto built = pynla::block::from_blocks(grid_rows, grid_cols, r, c, static_cast<std::int64_t>(list.rows.size()),
                                                 list.rows.data(), list.cols.data(), list.values.data());
    expect(sorted_without_repeats(built) && dense_of(built) == dense, "from_blocks", r, c);
    std::vector<I> indptr{0}, indices;
    std::vector<T> values;
    for (std::int64_t i = 0; i < n_rows; ++i) {
        for (std::int64_t j = n_cols - 1; j >= 0; --j)  // columns in decreasing order: unsorted input
            if (dense[i * n_cols + j] != T(0)) {
                indices.push_back(static_cast<I>(j));
                values.push_back(dense[i * n_cols + j]);
            }
        indptr.push_back(static_cast<I>(indices.size()));
    }
    const pynla::CsrView<I, T> csr{n_rows, n_cols, indptr.data(), indices.data(), values.data()};
    const auto converted = pynla::block::from_csr(csr, r, c);
    expect(sorted_without_repeats(converted) && dense_of(converted) == dense, "from_csr", r, c);
    expect(pynla::block::count_blocks(csr, r, c) == converted.indptr[grid_rows], "count_blocks", r, c);

    // A B for B with C x S blocks.
    const std::int64_t s = 1 + rng() % 4, grid_b = 1 + rng() % 6;
    const auto list_b = random_blocks<I, T>(rng, grid_cols, grid_b, c, s, grid_cols * grid_b / 2 + 2);
    const auto b = unsorted_bsr(list_b);
    const auto product = pynla::block::multiply_block(a.view(), b.view());
    const auto dense_b = dense_of(list_b);
    const std::int64_t n_b = grid_b * s;
    std::vector<T> expected(static_cast<std::size_t>(n_rows * n_b), T(0));
    for (std::int64_t i = 0; i < n_rows; ++i)
        for (std::int64_t j = 0; j < n_cols; ++j)
            for (std::int64_t l = 0; l < n_b; ++l) expected[i * n_b + l] += dense[i * n_cols + j] * dense_b[j * n_b + l];
    expect(sorted_without_repeats(product) && dense_of(product) == expected, "multiply_block", r, c);
}

template <class I, class T>
void check_all(std::mt19937_64& rng) {
    const std::int64_t shapes[][2] = {{1, 1}, {2, 3}, {3, 2}, {3, 3}, {4, 4}, {8, 8}, {16, 16}, {5, 7}, {2, 9}};
    for (int repeat = 0; repeat < 3; ++repeat)
        for (const auto& shape : shapes) check_shape<I, T>(rng, shape[0], shape[1]);
}

}  // namespace

int main() {
    std::mt19937_64 rng(20261123);
    check_all<std::int32_t, float>(rng);
    check_all<std::int32_t, double>(rng);
    check_all<std::int64_t, double>(rng);
    check_all<std::int64_t, std::complex<double>>(rng);
    std::printf("%d passed, %d failed\n", n_checks - n_failures, n_failures);
    return n_failures == 0 ? 0 : 1;
}
