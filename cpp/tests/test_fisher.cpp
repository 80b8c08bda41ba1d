// The inverse-Fisher kernels (pynla/fisher/) against plain loops in long double, under
// AddressSanitizer and UBSan: gradient_dots, damped_combination and the blocked set-up,
// product and diagonal, over shapes (m or d of 0 and 1, blocks that do not divide d, more
// gradients than coordinates a block), k columns, thread counts and both instruction-set copies.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "pynla/fisher/blocked.hpp"
#include "pynla/fisher/gradient_products.hpp"

namespace {

using namespace pynla;

int n_checks = 0, n_failures = 0;

void expect(bool ok, const char* what, std::int64_t m, std::int64_t d, std::int64_t extra) {
    ++n_checks;
    if (!ok) {
        ++n_failures;
        std::printf("FAIL %s (m=%lld d=%lld, %lld)\n", what, (long long)m, (long long)d, (long long)extra);
    }
}

template <class Got, class Want>
bool close(const Got& got, const Want& want, double tolerance) {
    if (got.size() != static_cast<std::int64_t>(want.size())) return false;
    for (std::size_t e = 0; e < want.size(); ++e) {
        const double scale = 1 + std::fabs(static_cast<double>(want[e]));
        if (!(std::fabs(static_cast<double>(got[static_cast<std::int64_t>(e)]) - static_cast<double>(want[e])) <=
              tolerance * scale)) {
            return false;
        }
    }
    return true;
}

// The block-diagonal inverse's product with one column of X, in long double: per block, solve
// (shift I + G_b G_b^T) w = G_b x_b by Gaussian elimination, then s (x_b - G_b^T w).
std::vector<long double> blocked_reference(const std::vector<double>& g, std::int64_t m, std::int64_t d,
                                           std::int64_t block, double shift, const double* x, std::int64_t ldx,
                                           double s) {
    std::vector<long double> y(static_cast<std::size_t>(d));
    for (std::int64_t j0 = 0; j0 < d; j0 += block) {
        const std::int64_t n = std::min(d, j0 + block) - j0;
        std::vector<long double> k(static_cast<std::size_t>(m * (m + 1)), 0.0L);  // [K | c]
        for (std::int64_t i = 0; i < m; ++i) {
            for (std::int64_t j = 0; j < m; ++j) {
                long double sum = i == j ? shift : 0.0L;
                for (std::int64_t t = 0; t < n; ++t) sum += (long double)g[i * d + j0 + t] * g[j * d + j0 + t];
                k[i * (m + 1) + j] = sum;
            }
            long double c = 0;
            for (std::int64_t t = 0; t < n; ++t) c += (long double)g[i * d + j0 + t] * x[(j0 + t) * ldx];
            k[i * (m + 1) + m] = c;
        }
        for (std::int64_t p = 0; p < m; ++p) {  // K is positive definite: no pivoting needed
            for (std::int64_t i = p + 1; i < m; ++i) {
                const long double f = k[i * (m + 1) + p] / k[p * (m + 1) + p];
                for (std::int64_t j = p; j <= m; ++j) k[i * (m + 1) + j] -= f * k[p * (m + 1) + j];
            }
        }
        std::vector<long double> w(static_cast<std::size_t>(m));
        for (std::int64_t i = m - 1; i >= 0; --i) {
            long double sum = k[i * (m + 1) + m];
            for (std::int64_t j = i + 1; j < m; ++j) sum -= k[i * (m + 1) + j] * w[j];
            w[i] = sum / k[i * (m + 1) + i];
        }
        for (std::int64_t t = 0; t < n; ++t) {
            long double value = x[(j0 + t) * ldx];
            for (std::int64_t i = 0; i < m; ++i) value -= w[i] * g[i * d + j0 + t];
            y[j0 + t] = s * value;
        }
    }
    return y;
}

void test_products(std::int64_t m, std::int64_t d, std::mt19937_64& rng) {
    std::normal_distribution<double> normal;
    std::vector<double> g(m * d), x(d), w(m);
    for (auto& v : g) v = normal(rng);
    for (auto& v : x) v = normal(rng);
    for (auto& v : w) v = normal(rng);
    const MatrixView<double> view{g.data(), m, d, d, 1};
    std::vector<long double> dots(m), combination(d);
    for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < d; ++j) dots[i] += (long double)g[i * d + j] * x[j];
    }
    for (std::int64_t j = 0; j < d; ++j) {
        long double value = x[j];
        for (std::int64_t i = 0; i < m; ++i) value -= (long double)w[i] * g[i * d + j];
        combination[j] = 0.5L * value;
    }
    expect(close(fisher::gradient_dots(view, x.data()), dots, 1e-12), "gradient_dots", m, d, 0);
    expect(close(fisher::damped_combination(view, w.data(), x.data(), 0.5), combination, 1e-12), "damped_combination",
           m, d, 0);
}

void test_blocked(std::int64_t m, std::int64_t d, std::int64_t block, std::int64_t k, std::mt19937_64& rng) {
    std::normal_distribution<double> normal;
    std::vector<double> g(m * d), x(d * k);
    for (auto& v : g) v = normal(rng);
    for (auto& v : x) v = normal(rng);
    const MatrixView<double> view{g.data(), m, d, d, 1};
    const double shift = 0.7 * static_cast<double>(m), s = 1 / 0.7;
    const auto factors = fisher::blocked_factors(view, block, shift);
    expect(factors.failed_block == -1, "blocked factors", m, d, block);
    const auto y = fisher::blocked_inverse_product(view, block, factors.factors.data(), x.data(), k, k, s);
    bool ok = y.size() == d * k;
    for (std::int64_t col = 0; col < k && ok; ++col) {
        const auto want = blocked_reference(g, m, d, block, shift, x.data() + col, k, s);
        for (std::int64_t j = 0; j < d; ++j) {
            ok = ok && std::fabs(y[j * k + col] - static_cast<double>(want[j])) <= 1e-10 * (1 + std::fabs((double)want[j]));
        }
    }
    expect(ok, "blocked product", m, d, block * 100 + k);
    // The diagonal: e_j through the product, against the diagonal kernel.
    const auto diagonal = fisher::blocked_inverse_diagonal(view, block, factors.factors.data(), s);
    bool diagonal_ok = diagonal.size() == d;
    std::vector<double> unit(d, 0.0);
    for (std::int64_t j = 0; j < d && diagonal_ok; j += std::max<std::int64_t>(1, d / 7)) {
        unit[j] = 1;
        const auto want = blocked_reference(g, m, d, block, shift, unit.data(), 1, s);
        unit[j] = 0;
        diagonal_ok = std::fabs(diagonal[j] - static_cast<double>(want[j])) <= 1e-10 * (1 + std::fabs((double)want[j]));
    }
    expect(diagonal_ok, "blocked diagonal", m, d, block);
}

void test_not_positive_definite() {
    // Gradients equal in block 1, with a shift far below their Gram entries: block 1 fails.
    const std::int64_t m = 3, d = 8;
    std::vector<double> g(m * d, 1e10);
    for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < 4; ++j) g[i * d + j] = i == j ? 1.0 : 0.0;
    }
    const auto factors = fisher::blocked_factors(MatrixView<double>{g.data(), m, d, d, 1}, 4, 1e-30);
    expect(factors.failed_block == 1, "the first block not positive definite", m, d, factors.failed_block);
}

}  // namespace

int main() {
    std::mt19937_64 rng(31415926);
    for (bool avx2 : {true, false}) {
        avx2_allowed().store(avx2);
        for (std::int64_t bytes : {kBytesPerThread, std::int64_t{1}}) {  // one thread, and every thread on any work
            bytes_per_thread().store(bytes);
            set_max_threads(bytes == 1 ? 3 : 1);
            for (std::int64_t m : {0, 1, 5, 9}) {
                for (std::int64_t d : {0, 1, 7, 2049, 5000}) test_products(m, d, rng);
            }
            for (std::int64_t m : {1, 4, 9}) {
                for (std::int64_t d : {1, 5, 23, 130}) {
                    for (std::int64_t block : {1, 4, 7, 64}) {
                        for (std::int64_t k : {1, 3}) test_blocked(m, d, block, k, rng);
                    }
                }
            }
        }
    }
    bytes_per_thread().store(kBytesPerThread);
    test_not_positive_definite();
    std::printf("%d checks, %d failures\n", n_checks, n_failures);
    return n_failures == 0 ? 0 : 1;
}
