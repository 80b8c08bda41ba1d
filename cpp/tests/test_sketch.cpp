// C++-only test of the sketching core under AddressSanitizer and UBSan: sparse sketches drawn at
// several sizes, applied by every dense loop order (rows in parts, rows gathered, column groups;
// C, Fortran and strided layouts) and by the CSR and CSC kernels (with empty rows, repeated and
// unsorted columns), the Walsh-Hadamard transform, the SRHT and the one-pass least-squares
// gradient. Values are small integers and signs +-1 with scale 1, so every sum is exact and
// results are compared for equality with dense references. Sums sorted rather than accumulated
// (wide, sparse rows) are compared bit for bit, with inexact values, with the accumulator's
// and with the CSC kernel's. Build and run:
//   cmake -S . -B build/cpp-tests -DPYNLA_CPP_TESTS=ON && cmake --build build/cpp-tests && build/cpp-tests/test_sketch_cpp
#include <algorithm>
#include <complex>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "pynla/sketch/apply_dense.hpp"
#include "pynla/sketch/apply_sparse.hpp"
#include "pynla/sketch/hadamard.hpp"
#include "pynla/sketch/residual_gradient.hpp"
#include "pynla/sketch/residual_gradient_csr.hpp"
#include "pynla/sketch/sorted_sum.hpp"
#include "pynla/sketch/sparse_sketch.hpp"

namespace {

using namespace pynla;

int n_checks = 0, n_failures = 0;

void expect(bool ok, const char* what, std::int64_t m, std::int64_t n, std::int64_t k) {
    ++n_checks;
    if (!ok) {
        ++n_failures;
        std::printf("FAIL %s (m %lld, n %lld, k %lld)\n", what, static_cast<long long>(m), static_cast<long long>(n),
                    static_cast<long long>(k));
    }
}

double small_value(std::mt19937_64& rng) { return static_cast<double>(static_cast<int>(rng() % 7) - 3); }

// S as a dense m x n matrix (row-major), from its columns.
std::vector<double> dense_sketch(const sketch::SparseSketchView& s) {
    std::vector<double> dense(static_cast<std::size_t>(s.n_rows * s.n_cols), 0.0);
    for (std::int64_t i = 0; i < s.n_cols; ++i) {
        for (std::int64_t t = 0; t < s.per_column; ++t) {
            const std::int64_t p = i * s.per_column + t;
            dense[static_cast<std::size_t>(s.rows[p] * s.n_cols + i)] += s.signs[p] * s.scale;
        }
    }
    return dense;
}

// S A for a dense row-major A (n x d).
std::vector<double> reference_product(const std::vector<double>& s, std::int64_t m, std::int64_t n,
                                      const std::vector<double>& a, std::int64_t d) {
    std::vector<double> y(static_cast<std::size_t>(m * d), 0.0);
    for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < d; ++j) y[r * d + j] += s[r * n + i] * a[i * d + j];
    return y;
}

template <class Y>
bool equal(const Y& got, const std::vector<double>& expected) {
    for (std::size_t e = 0; e < expected.size(); ++e)
        if (got[static_cast<std::int64_t>(e)] != expected[e]) return false;
    return true;
}

void test_draw(std::int64_t m, std::int64_t n, std::int64_t k) {
    const auto s = sketch::draw_sparse_sketch(m, n, k, 12345);
    bool distinct = true, in_range = true, signs = true;
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t t = 0; t < k; ++t) {
            const std::int64_t p = i * k + t;
            in_range = in_range && s.rows[p] >= 0 && s.rows[p] < m;
            signs = signs && (s.signs[p] == 1 || s.signs[p] == -1);
            for (std::int64_t u = 0; u < t; ++u) distinct = distinct && s.rows[i * k + u] != s.rows[p];
        }
    }
    expect(in_range && signs && distinct, "draw: rows in range and distinct, signs +-1", m, n, k);
    const auto again = sketch::draw_sparse_sketch(m, n, k, 12345);
    bool same = true;
    for (std::int64_t p = 0; p < n * k; ++p) same = same && again.rows[p] == s.rows[p] && again.signs[p] == s.signs[p];
    expect(same, "draw: same key, same sketch", m, n, k);
    for (const std::int64_t first : {std::int64_t{0}, n / 3, n - 1}) {
        if (first < 0) continue;
        const std::int64_t count = std::min<std::int64_t>(n - first, 5);
        const auto part = sketch::draw_sparse_sketch(m, count, k, 12345, first);
        bool slice = true;
        for (std::int64_t p = 0; p < count * k; ++p)
            slice = slice && part.rows[p] == s.rows[first * k + p] && part.signs[p] == s.signs[first * k + p];
        expect(slice, "draw: columns drawn alone equal the full draw's", m, first, k);
    }
}

void test_dense(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t d, std::mt19937_64& rng) {
    const auto drawn = sketch::draw_sparse_sketch(m, n, k, rng());
    const sketch::SparseSketchView s{m, n, k, drawn.rows.data(), drawn.signs.data(), 1.0};
    std::vector<double> a(static_cast<std::size_t>(n * d)), a_fortran(a.size()), a_strided(a.size() * 2);
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < d; ++j) {
            const double v = small_value(rng);
            a[i * d + j] = v;
            a_fortran[j * n + i] = v;
            a_strided[2 * (i * d + j)] = v;
        }
    }
    const auto expected = reference_product(dense_sketch(s), m, n, a, d);
    const MatrixView<double> c_order{a.data(), n, d, d, 1};
    const MatrixView<double> f_order{a_fortran.data(), n, d, 1, n};
    const MatrixView<double> strided{a_strided.data(), n, d, 2 * d, 2};
    const auto rows = sketch::sketch_rows(s);
    for (bool avx2 : {true, false}) {  // both copies of the adds (the AVX2 one where the CPU has it)
        avx2_allowed().store(avx2);
        expect(equal(sketch::sketch_by_rows(rows.view(), m, 1.0, c_order), expected), "dense by rows", m, n, k);
        expect(equal(sketch::sketch_by_row_parts(s, c_order, 3), expected), "dense by row parts", m, n, k);
        expect(equal(sketch::sketch_by_columns(s, c_order), expected), "dense by columns, C order", m, n, k);
        expect(equal(sketch::sketch_by_columns(s, f_order), expected), "dense by columns, Fortran order", m, n, k);
        for (const std::int64_t width : {8, 13, 64}) {  // blocks that divide d, do not, or exceed it
            expect(equal(sketch::sketch_by_column_blocks(s, c_order, width), expected), "dense by column blocks", m, n,
                   k);
        }
        expect(equal(sketch::sketch_dense(s, strided), expected), "dense, strided", m, n, k);
    }
    avx2_allowed().store(true);
}

// A random CSR matrix with empty rows and repeated, unsorted columns.
struct RandomCsr {
    std::vector<std::int64_t> indptr{0}, indices;
    std::vector<double> data, dense;
};

RandomCsr random_csr(std::int64_t n, std::int64_t d, std::mt19937_64& rng) {
    RandomCsr a;
    a.dense.assign(static_cast<std::size_t>(n * d), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t length = d == 0 || rng() % 3 == 0 ? 0 : static_cast<std::int64_t>(rng() % 5);
        for (std::int64_t e = 0; e < length; ++e) {
            const auto j = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(d));
            const double v = small_value(rng);
            a.indices.push_back(j);
            a.data.push_back(v);
            a.dense[i * d + j] += v;
        }
        a.indptr.push_back(static_cast<std::int64_t>(a.indices.size()));
    }
    return a;
}

// The dense m x d matrix of a compressed result, by rows (CSR) or by columns (transposed).
template <class I>
std::vector<double> expand(const Csr<I, double>& c, bool transposed, std::int64_t m, std::int64_t d, bool* canonical) {
    std::vector<double> dense(static_cast<std::size_t>(m * d), 0.0);
    *canonical = true;
    for (std::int64_t major = 0; major < c.n_rows; ++major) {
        for (I p = c.indptr[major]; p < c.indptr[major + 1]; ++p) {
            *canonical = *canonical && c.data[p] != 0.0 && (p == c.indptr[major] || c.indices[p - 1] < c.indices[p]);
            const std::int64_t r = transposed ? c.indices[p] : major, j = transposed ? major : c.indices[p];
            dense[r * d + j] += c.data[p];
        }
    }
    return dense;
}

void test_sparse(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t d, std::mt19937_64& rng) {
    const auto drawn = sketch::draw_sparse_sketch(m, n, k, rng());
    const sketch::SparseSketchView s{m, n, k, drawn.rows.data(), drawn.signs.data(), 1.0};
    const auto a = random_csr(n, d, rng);
    const auto expected = reference_product(dense_sketch(s), m, n, a.dense, d);
    const CsrView<std::int64_t, double> csr{n, d, a.indptr.data(), a.indices.data(), a.data.data()};
    bool canonical = false;
    const auto by_rows = expand(sketch::sketch_csr(s, csr), false, m, d, &canonical);
    expect(by_rows == expected && canonical, "CSR: S A, canonical", m, n, k);

    // The CSC form of A: its transpose in CSR, columns' rows in random order.
    std::vector<std::vector<std::pair<std::int64_t, double>>> columns(static_cast<std::size_t>(d));
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t p = a.indptr[i]; p < a.indptr[i + 1]; ++p) columns[a.indices[p]].push_back({i, a.data[p]});
    std::vector<std::int32_t> t_indptr{0}, t_indices;
    std::vector<double> t_data;
    for (auto& column : columns) {
        std::shuffle(column.begin(), column.end(), rng);
        for (const auto& [i, v] : column) {
            t_indices.push_back(static_cast<std::int32_t>(i));
            t_data.push_back(v);
        }
        t_indptr.push_back(static_cast<std::int32_t>(t_indices.size()));
    }
    const CsrView<std::int32_t, double> transpose{d, n, t_indptr.data(), t_indices.data(), t_data.data()};
    const auto by_columns = expand(sketch::sketch_csc(s, transpose), true, m, d, &canonical);
    expect(by_columns == expected && canonical, "CSC: S A, canonical", m, n, k);
}

// SortedSum::sum_run (which ranks or radix-sorts sets too wide for a cached accumulator) against
// start/add/write, bit for bit: values are not small integers here, so the order of each sum
// shows, and some repeat an index, sum to exactly zero or are -0.0.
template <class I, class T>
void test_sum_run(std::int64_t width, std::int64_t n, std::mt19937_64& rng) {
    std::vector<I> indices(static_cast<std::size_t>(n));
    std::vector<T> values(indices.size());
    for (std::int64_t q = 0; q < n; ++q) {
        indices[q] = static_cast<I>(q > 0 && rng() % 4 == 0 ? indices[rng() % q] : rng() % width);
        const double x = static_cast<double>(static_cast<std::int64_t>(rng() % 2001) - 1000) / 7.0;
        values[q] = q > 0 && rng() % 8 == 0 ? -values[rng() % q] : rng() % 50 == 0 ? T(-0.0) : T(x);
        if constexpr (is_complex_v<T>) values[q] += T(0, x / 3);
    }
    sketch::SortedSum<T> sum;
    std::vector<I> expected_indices(indices.size()), got_indices(indices);
    std::vector<T> expected_values(values.size()), got_values(values);
    sum.start(width);
    for (std::int64_t q = 0; q < n; ++q) sum.add(indices[q], values[q]);
    const std::int64_t expected = sum.write(0.5, expected_indices.data(), expected_values.data());
    // In place, as sketch_csr calls it.
    const std::int64_t got = sum.sum_run(width, got_indices.data(), got_values.data(), n, 0.5, got_indices.data(),
                                         got_values.data());
    const auto bytes = [&](std::size_t size) { return size * static_cast<std::size_t>(got); };
    const bool same = got == expected && (got == 0 || (std::memcmp(got_indices.data(), expected_indices.data(), bytes(sizeof(I))) == 0 &&
                                                       std::memcmp(got_values.data(), expected_values.data(), bytes(sizeof(T))) == 0));
    expect(same, "sorted sum of a whole set, same bits", width, n, static_cast<std::int64_t>(sizeof(T)));
}

// sketch_csr against sketch_csc, bit for bit: values are not small integers, and both kernels
// add each entry's terms in the order of A's rows when A's transpose lists them in that order.
// Wide d: rows of S A too sparse for a cached accumulator (sorted, not accumulated); narrow d:
// S A mostly full (accumulated dense, then compressed).
template <class I>
void test_sparse_bits(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t d, std::mt19937_64& rng) {
    const auto drawn = sketch::draw_sparse_sketch(m, n, k, rng());
    const sketch::SparseSketchView s{m, n, k, drawn.rows.data(), drawn.signs.data(), 0.75};
    std::vector<I> indptr{0}, indices;
    std::vector<double> data;
    for (std::int64_t i = 0; i < n; ++i) {
        // Mostly 0 to 4 entries; one row in 1000 dense (5000 entries: over several of the
        // placement's 4096-entry blocks).
        const std::int64_t length = rng() % 1000 == 0 ? 5000 : rng() % 3 == 0 ? 0 : static_cast<std::int64_t>(rng() % 5);
        for (std::int64_t e = 0; e < length; ++e) {
            const bool repeat = e > 0 && rng() % 4 == 0;
            indices.push_back(repeat ? indices.back() : static_cast<I>(rng() % static_cast<std::uint64_t>(d)));
            data.push_back(static_cast<double>(static_cast<std::int64_t>(rng() % 2001) - 1000) / 7.0);
        }
        indptr.push_back(static_cast<I>(indices.size()));
    }
    std::vector<std::vector<std::pair<I, double>>> columns(static_cast<std::size_t>(d));
    for (std::int64_t i = 0; i < n; ++i)
        for (I p = indptr[i]; p < indptr[i + 1]; ++p) columns[indices[p]].push_back({static_cast<I>(i), data[p]});
    std::vector<I> t_indptr{0}, t_indices;
    std::vector<double> t_data;
    for (const auto& column : columns) {
        for (const auto& [i, v] : column) {
            t_indices.push_back(i);
            t_data.push_back(v);
        }
        t_indptr.push_back(static_cast<I>(t_indices.size()));
    }
    const auto by_rows = sketch::sketch_csr(s, CsrView<I, double>{n, d, indptr.data(), indices.data(), data.data()});
    const auto by_columns = sketch::sketch_csc(s, CsrView<I, double>{d, n, t_indptr.data(), t_indices.data(), t_data.data()});
    // (row, column, value bits) of every stored entry, in row then column order.
    using Entry = std::tuple<std::int64_t, std::int64_t, std::uint64_t>;
    const auto bits = [](double v) {
        std::uint64_t b;
        std::memcpy(&b, &v, sizeof b);
        return b;
    };
    std::vector<Entry> from_rows, from_columns;
    for (std::int64_t r = 0; r < m; ++r)
        for (I p = by_rows.indptr[r]; p < by_rows.indptr[r + 1]; ++p)
            from_rows.emplace_back(r, by_rows.indices[p], bits(by_rows.data[p]));
    for (std::int64_t j = 0; j < d; ++j)
        for (I p = by_columns.indptr[j]; p < by_columns.indptr[j + 1]; ++p)
            from_columns.emplace_back(by_columns.indices[p], j, bits(by_columns.data[p]));
    std::sort(from_columns.begin(), from_columns.end());
    expect(!from_rows.empty() && from_rows == from_columns, "CSR: same bits as CSC", m, n, k);
}

void test_hadamard(std::mt19937_64& rng) {
    for (std::int64_t n : {1, 2, 8, 64, 8192}) {  // 8192 crosses the blocking of spans
        std::vector<double> x(static_cast<std::size_t>(n)), expected(x.size(), 0.0);
        for (auto& v : x) v = small_value(rng);
        for (std::int64_t r = 0; r < n; ++r)
            for (std::int64_t c = 0; c < n; ++c) expected[r] += (__builtin_popcountll(r & c) % 2 ? -1.0 : 1.0) * x[c];
        sketch::walsh_hadamard(x.data(), n);
        expect(x == expected, "Walsh-Hadamard transform", n, n, 1);
    }
    // SRHT with scale 1: sampled rows of H D A for a 5 x 3 A padded to 8.
    const std::int64_t n = 5, d = 3, n2 = 8;
    std::vector<double> a(n * d);
    for (auto& v : a) v = small_value(rng);
    const std::int8_t signs[n] = {1, -1, -1, 1, -1};
    const std::int64_t samples[3] = {0, 5, 7};
    const auto y = sketch::srht(MatrixView<double>{a.data(), n, d, d, 1}, signs, samples, 3, n2, 1.0);
    std::vector<double> expected(3 * d, 0.0);
    for (std::int64_t r = 0; r < 3; ++r)
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < d; ++j)
                expected[r * d + j] += (__builtin_popcountll(samples[r] & i) % 2 ? -1.0 : 1.0) * signs[i] * a[i * d + j];
    expect(equal(y, expected), "SRHT", 3, n, 1);
}

void test_residual_gradient(std::int64_t n, std::int64_t d, std::int64_t q, std::mt19937_64& rng) {
    std::vector<double> a(static_cast<std::size_t>(n * d)), a_fortran(a.size()), x(d * q), b(n * q);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < d; ++j) a_fortran[j * n + i] = a[i * d + j] = small_value(rng);
    for (auto& v : x) v = small_value(rng);
    for (auto& v : b) v = small_value(rng);
    std::vector<double> residual(n * q), gradient(d * q, 0.0), norms(q, 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t c = 0; c < q; ++c) {
            double r = b[i * q + c];
            for (std::int64_t j = 0; j < d; ++j) r -= a[i * d + j] * x[j * q + c];
            residual[i * q + c] = r;
            norms[c] += r * r;
            for (std::int64_t j = 0; j < d; ++j) gradient[j * q + c] += a[i * d + j] * r;
        }
    }
    for (const auto& view : {MatrixView<double>{a.data(), n, d, d, 1}, MatrixView<double>{a_fortran.data(), n, d, 1, n}}) {
        const auto result = sketch::residual_gradient(view, x.data(), b.data(), q);
        expect(equal(result.gradient, gradient) && equal(result.residual_norms, norms), "residual gradient", n, d, q);
    }
}


// A random CSR matrix (n x d) with rows of 0 to 2 d entries, some columns repeated and out of order.
template <class I>
std::tuple<std::vector<I>, std::vector<I>, std::vector<double>> random_csr(std::int64_t n, std::int64_t d,
                                                                          std::mt19937_64& rng, bool integers) {
    std::vector<I> indptr(1, 0), indices;
    std::vector<double> data;
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t length = d == 0 ? 0 : static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(2 * d + 1));
        for (std::int64_t e = 0; e < length; ++e) {
            indices.push_back(static_cast<I>(rng() % static_cast<std::uint64_t>(d)));
            data.push_back(integers ? small_value(rng) : uniform(rng));
        }
        indptr.push_back(static_cast<I>(indices.size()));
    }
    return {indptr, indices, data};
}

// residual_gradient_csr against a dense reference (small integers: every order sums exactly), with
// and without B; then, with real values, the same bits on 1 and 3 threads.
template <class I>
void test_residual_gradient_csr(std::int64_t n, std::int64_t d, std::int64_t q, std::mt19937_64& rng) {
    const auto [indptr, indices, data] = random_csr<I>(n, d, rng, true);
    const CsrView<I, double> a{n, d, indptr.data(), indices.data(), data.data()};
    std::vector<double> x(d * q), b(n * q);
    for (auto& v : x) v = small_value(rng);
    for (auto& v : b) v = small_value(rng);
    for (const double* b_data : {static_cast<const double*>(b.data()), static_cast<const double*>(nullptr)}) {
        std::vector<double> gradient(d * q, 0.0), norms(q, 0.0);
        for (std::int64_t i = 0; i < n; ++i) {
            for (std::int64_t c = 0; c < q; ++c) {
                double r = b_data != nullptr ? b_data[i * q + c] : 0.0;
                for (std::int64_t e = indptr[i]; e < indptr[i + 1]; ++e) r -= data[e] * x[indices[e] * q + c];
                norms[c] += r * r;
                for (std::int64_t e = indptr[i]; e < indptr[i + 1]; ++e) gradient[indices[e] * q + c] += data[e] * r;
            }
        }
        const auto result = sketch::residual_gradient_csr(a, x.data(), b_data, q);
        expect(equal(result.gradient, gradient) && equal(result.residual_norms, norms), "CSR residual gradient", n, d, q);
    }
    const auto [r_indptr, r_indices, r_data] = random_csr<I>(n, d, rng, false);
    const CsrView<I, double> real{n, d, r_indptr.data(), r_indices.data(), r_data.data()};
    const auto saved_bytes = bytes_per_thread().load();
    const int saved_threads = max_threads();
    bytes_per_thread().store(1);  // every size on the parallel path
    set_max_threads(1);
    const auto one = sketch::residual_gradient_csr(real, x.data(), b.data(), q);
    set_max_threads(3);
    const auto three = sketch::residual_gradient_csr(real, x.data(), b.data(), q);
    bytes_per_thread().store(saved_bytes);
    set_max_threads(saved_threads);
    const bool same = std::equal(one.gradient.data(), one.gradient.data() + d * q, three.gradient.data()) &&
                      std::equal(one.residual_norms.data(), one.residual_norms.data() + q, three.residual_norms.data());
    expect(same, "CSR residual gradient bits on 1 and 3 threads", n, d, q);
}

}  // namespace

int main() {
    std::mt19937_64 rng(31415926);
    for (std::int64_t m : {1, 3, 17}) {
        for (std::int64_t k : {1, 2, 3}) {
            if (k > m) continue;
            test_draw(m, 600, k);
            for (std::int64_t n : {0, 1, 40, 700}) {
                for (std::int64_t d : {0, 1, 5, 19}) {
                    test_dense(m, n, k, d, rng);
                    test_sparse(m, n, k, d, rng);
                }
            }
        }
    }
    for (bool avx2 : {true, false}) {  // both copies of the ranking (the AVX2 one where the CPU has it)
        avx2_allowed().store(avx2);
        // Past the cached accumulator (256 KiB of values): 40000 wide (but float) is ranked from 157
        // entries on, 100000 from 391 (1000 on), 2^24 radix-sorted at every n (its accumulator
        // would pass 8 MiB); the rest are accumulated.
        for (std::int64_t width : {1, 1000, 40000, 100000, 1 << 24}) {
            for (std::int64_t n : {0, 1, 300, 1000, 2048, 3000}) {
                test_sum_run<std::int32_t, double>(width, n, rng);
                test_sum_run<std::int64_t, float>(width, n, rng);
                test_sum_run<std::int64_t, std::complex<double>>(width, n, rng);
            }
        }
    }
    avx2_allowed().store(true);
    for (std::int64_t k : {1, 3}) {
        test_sparse_bits<std::int32_t>(5, 3000, k, 100000, rng);
        test_sparse_bits<std::int32_t>(7, 30000, k, 100000, rng);
        test_sparse_bits<std::int64_t>(4, 2000, k, 1 << 24, rng);
    }
    test_hadamard(rng);
    for (std::int64_t n : {0, 1, 255, 600})
        for (std::int64_t d : {1, 2, 9, 16})
            for (std::int64_t q : {1, 3}) test_residual_gradient(n, d, q, rng);
    for (std::int64_t n : {0, 1, 300, 20000})  // 20000 rows: several chunks
        for (std::int64_t d : {0, 1, 7, 40})
            for (std::int64_t q : {1, 3}) {
                test_residual_gradient_csr<std::int32_t>(n, d, q, rng);
                test_residual_gradient_csr<std::int64_t>(n, d, q, rng);
            }
    // S A mostly full, on 1 and 3 threads (every size on the parallel path): each thread owns
    // rows of S A, and every sum keeps A's row order.
    bytes_per_thread().store(1);
    for (int threads : {1, 3}) {
        set_max_threads(threads);
        for (std::int64_t k : {1, 3}) {
            test_sparse_bits<std::int32_t>(5, 3000, k, 20, rng);
            test_sparse_bits<std::int64_t>(17, 30000, k, 300, rng);
        }
    }
    bytes_per_thread().store(kBytesPerThread);
    std::printf("%d checks, %d failures\n", n_checks, n_failures);
    return n_failures == 0 ? 0 : 1;
}
