// The Krylov kernels (pynla/krylov/) under AddressSanitizer and UBSan: csr_matvec against a dense
// product (empty rows, a dense row, repeated and unsorted indices, 1 and 3 columns, 0 rows) and
// csr_matvec_inner against it, orthogonalize and project against the definitions (w = w' + Q h,
// Q^H w' = 0 to rounding, the returned norm), the CG updates against plain loops and the fused
// one against the separate ones, for float64 and complex128 and int32 and int64 indices; the
// Arnoldi and deflated CG loops against their defining relations; every
// kernel on 1 and 3 threads, bit for bit (every kernel then takes every
// thread: bytes_per_thread is lowered to 1). The BLAS table's gemv is filled with a plain
// stand-in (SciPy's BLAS is not linked here).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "pynla/common/dense.hpp"
#include "pynla/common/parallel.hpp"
#include "pynla/krylov/arnoldi.hpp"
#include "pynla/krylov/block_products.hpp"
#include "pynla/krylov/cg_updates.hpp"
#include "pynla/krylov/csr_matvec.hpp"
#include "pynla/krylov/deflated_cg.hpp"
#include "pynla/krylov/orthogonalize.hpp"

#include "checks.hpp"
#include "stand_in_blas.hpp"

namespace {

using namespace pynla;

using checks::draw;
using checks::expect;
using checks::on_1_and_3_threads;
using checks::stand_in_gemm;
using checks::stand_in_gemv;

template <class T>
std::vector<T> draws(std::mt19937_64& rng, std::int64_t n) {
    std::vector<T> v(static_cast<std::size_t>(n));
    for (auto& value : v) value = draw<T>(rng);
    return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

template <class I, class T>
void check_csr_matvec(std::mt19937_64& rng, std::int64_t n_rows, std::int64_t n_cols, std::int64_t k) {
    std::uniform_int_distribution<std::int64_t> column(0, std::max<std::int64_t>(n_cols - 1, 0));
    std::uniform_int_distribution<int> length(0, 6);
    std::vector<I> indptr{0}, indices;
    std::vector<T> data;
    for (std::int64_t i = 0; i < n_rows; ++i) {
        // Row 1 is dense (every column, twice: repeats add up), row 2 empty, the rest random.
        const std::int64_t entries = n_cols == 0 || i == 2 ? 0 : i == 1 ? 2 * n_cols : length(rng);
        for (std::int64_t t = 0; t < entries; ++t) {
            indices.push_back(static_cast<I>(i == 1 ? t % n_cols : column(rng)));
            data.push_back(draw<T>(rng));
        }
        indptr.push_back(static_cast<I>(indices.size()));
    }
    const CsrView<I, T> a{n_rows, n_cols, indptr.data(), indices.data(), data.data()};
    const auto x = draws<T>(rng, n_cols * k);
    const auto [one, three] = on_1_and_3_threads([&] {
        std::vector<T> y(static_cast<std::size_t>(n_rows * k));
        krylov::csr_matvec(a, x.data(), k, y.data());
        return y;
    });
    expect(same_bits(one, three), "csr_matvec: 1 and 3 threads", n_rows, k);
    bool close = true;
    for (std::int64_t i = 0; i < n_rows; ++i) {
        for (std::int64_t c = 0; c < k; ++c) {
            std::complex<long double> want = 0, scale = 0;
            for (I t = indptr[i]; t < indptr[i + 1]; ++t) {
                const std::complex<long double> product = std::complex<long double>(data[t]) *
                                                          std::complex<long double>(x[indices[t] * k + c]);
                want += product;
                scale += std::abs(product);
            }
            close = close && std::abs(std::complex<long double>(one[i * k + c]) - want) <= 1e-14L * (1 + std::abs(scale));
        }
    }
    expect(close, "csr_matvec: against the dense product", n_rows, k);
    if (k != 1 || n_rows != n_cols) return;
    // q = A p with p^H q in the same sweep: q as csr_matvec's, p^H q to rounding.
    const auto [inner_one, inner_three] = on_1_and_3_threads([&] {
        std::vector<T> q(static_cast<std::size_t>(n_rows));
        const T inner = krylov::csr_matvec_inner(a, x.data(), q.data());
        return std::pair{q, inner};
    });
    expect(same_bits(inner_one.first, one) && inner_one == inner_three, "csr_matvec_inner: q, and 1 and 3 threads",
           n_rows, k);
    std::complex<long double> want = 0;
    long double scale = 0;
    for (std::int64_t i = 0; i < n_rows; ++i) {
        const auto term = std::conj(std::complex<long double>(x[i])) * std::complex<long double>(one[i]);
        want += term;
        scale += std::abs(term);
    }
    expect(std::abs(std::complex<long double>(inner_one.second) - want) <= 1e-14L * (1 + scale),
           "csr_matvec_inner: p^H q", n_rows, k);
}

template <class T>
void check_orthogonalize(std::mt19937_64& rng, std::int64_t n, std::int64_t p) {
    // An orthonormal Q from modified Gram-Schmidt on random columns (p <= n), leading dimension n + 3.
    const std::int64_t ldq = n + 3;
    auto q = draws<T>(rng, ldq * p);
    for (std::int64_t j = 0; j < p; ++j) {
        T* column = q.data() + j * ldq;
        for (std::int64_t i = 0; i < j; ++i) {
            const T* other = q.data() + i * ldq;
            const T c = dot<true>(other, column, n);
            for (std::int64_t r = 0; r < n; ++r) column[r] -= other[r] * c;
        }
        const double norm = std::sqrt(std::real(dot<true>(column, column, n)));
        for (std::int64_t r = 0; r < n; ++r) column[r] /= norm;
    }
    // w: mostly in span(Q) (where one pass of classical Gram-Schmidt fails), plus a small new direction.
    auto w = draws<T>(rng, n);
    for (auto& value : w) value *= 1e-6;
    for (std::int64_t j = 0; j < p; ++j) {
        const T weight = draw<T>(rng);
        for (std::int64_t r = 0; r < n; ++r) w[r] += q[j * ldq + r] * weight;
    }
    struct Out {
        std::vector<T> w, h;
        double norm;
        bool operator==(const Out& o) const { return same_bits(w, o.w) && same_bits(h, o.h) && norm == o.norm; }
    };
    const auto [one, three] = on_1_and_3_threads([&] {
        Out out{w, std::vector<T>(static_cast<std::size_t>(p)), 0.0};
        out.norm = krylov::orthogonalize(q.data(), ldq, p, out.w.data(), n, out.h.data());
        return out;
    });
    expect(one == three, "orthogonalize: 1 and 3 threads", n, p);
    double reconstruction = 0, leftover = 0, norm_squared = 0, size = 0;
    for (std::int64_t r = 0; r < n; ++r) {
        T rebuilt = one.w[r];
        for (std::int64_t j = 0; j < p; ++j) rebuilt += q[j * ldq + r] * one.h[j];
        reconstruction = std::max(reconstruction, std::abs(rebuilt - w[r]));
        norm_squared += std::norm(one.w[r]);
        size = std::max(size, std::abs(w[r]));
    }
    for (std::int64_t j = 0; j < p; ++j) leftover = std::max(leftover, std::abs(dot<true>(q.data() + j * ldq, one.w.data(), n)));
    expect(reconstruction <= 1e-13 * (1 + size), "orthogonalize: w = w' + Q h", n, p);
    expect(leftover <= 1e-13 * (one.norm + 1e-6), "orthogonalize: Q^H w' = 0", n, p);
    expect(std::abs(one.norm - std::sqrt(norm_squared)) <= 1e-13 * (1 + one.norm), "orthogonalize: the norm", n, p);

    const auto [h_one, h_three] = on_1_and_3_threads([&] {
        std::vector<T> h(static_cast<std::size_t>(p));
        krylov::project(q.data(), ldq, p, w.data(), n, h.data());
        return h;
    });
    expect(same_bits(h_one, h_three), "project: 1 and 3 threads", n, p);
    bool close = true;
    for (std::int64_t j = 0; j < p; ++j) {
        std::complex<long double> want = 0;
        for (std::int64_t r = 0; r < n; ++r) {
            want += std::conj(std::complex<long double>(q[j * ldq + r])) * std::complex<long double>(w[r]);
        }
        close = close && std::abs(std::complex<long double>(h_one[j]) - want) <= 1e-13L * (1 + n);
    }
    expect(close, "project: Q^H w", n, p);
}

template <class T>
void check_cg_updates(std::mt19937_64& rng, std::int64_t n, std::int64_t k) {
    const auto p0 = draws<T>(rng, n), q = draws<T>(rng, n), x0 = draws<T>(rng, n), r0 = draws<T>(rng, n);
    const auto z = draws<T>(rng, n), mu = draws<T>(rng, k), w = draws<T>(rng, n * k);
    const T alpha = draw<T>(rng), beta = draw<T>(rng);
    struct Out {
        std::vector<T> x, r, p, scaled;
        double squares;
        bool operator==(const Out& o) const {
            return same_bits(x, o.x) && same_bits(r, o.r) && same_bits(p, o.p) && same_bits(scaled, o.scaled) &&
                   squares == o.squares;
        }
    };
    const auto [one, three] = on_1_and_3_threads([&] {
        Out out{x0, r0, p0, std::vector<T>(static_cast<std::size_t>(n)), 0.0};
        auto awr = w;  // [A W, r]: r is out.r, apart (the advance reads only A W's k columns)
        out.squares = krylov::cg_advance(alpha, p0.data(), q.data(), out.x.data(), out.r.data(), awr.data(), k,
                                         mu.data(), n);
        krylov::cg_direction(beta, z.data(), out.p.data(), out.p.data(), n);
        krylov::diagonal_product(q.data(), z.data(), out.scaled.data(), n);
        return out;
    });
    expect(one == three, "cg updates: 1 and 3 threads", n, k);
    // The fused advance and projection: the same bits as the advance, the scaling and the
    // projection apart, with M a diagonal (z = d r) and the identity (z = r).
    for (const bool diagonal : {true, false}) {
        const auto awr = draws<T>(rng, n * (k + 1));
        const auto [fused_one, fused_three] = on_1_and_3_threads([&] {
            auto x = x0, block = awr;
            std::vector<T> z_out(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(k + 1));
            const double squares = krylov::cg_advance_project(alpha, p0.data(), q.data(), x.data(), block.data() + k * n,
                                                              diagonal ? z.data() : nullptr, z_out.data(), block.data(),
                                                              k, mu.data(), n, g.data());
            return std::tuple{x, block, diagonal ? z_out : std::vector<T>{}, g, squares};
        });
        auto x = x0, block = awr;
        std::vector<T> scaled(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(k + 1));
        const double squares =
            krylov::cg_advance(alpha, p0.data(), q.data(), x.data(), block.data() + k * n, block.data(), k, mu.data(), n);
        T* zz = block.data() + k * n;
        if (diagonal) {
            krylov::diagonal_product(z.data(), zz, scaled.data(), n);
            zz = scaled.data();
        }
        krylov::project(block.data(), n, k + 1, zz, n, g.data());
        expect(fused_one == fused_three && fused_one == std::tuple{x, block, diagonal ? scaled : std::vector<T>{}, g, squares},
               "cg_advance_project: 1 and 3 threads, and as the advance, scaling and projection apart", n, k);
    }
    bool exact = true, close = true;
    double squares = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        T r = r0[i] - alpha * q[i];
        const T r_before = r;
        double size = std::abs(r);
        for (std::int64_t j = 0; j < k; ++j) {
            r -= w[j * n + i] * mu[j];
            size += std::abs(w[j * n + i] * mu[j]);
        }
        exact = exact && one.x[i] == x0[i] + alpha * p0[i] && one.p[i] == z[i] + beta * p0[i] &&
                one.scaled[i] == q[i] * z[i] && (k > 0 || one.r[i] == r_before);
        close = close && std::abs(one.r[i] - r) <= 1e-14 * size;  // A W h is summed by gemv
        squares += std::norm(one.r[i]);
    }
    expect(exact, "cg_advance, cg_direction and diagonal_product: against plain loops", n, k);
    expect(close, "cg_advance: r -= alpha q + A W h against a plain loop", n, k);
    expect(std::abs(one.squares - squares) <= 1e-13 * (1 + squares), "cg_advance: ||r||^2", n, k);
}

template <class T>
void check_block_products(std::mt19937_64& rng, std::int64_t n, std::int64_t p, std::int64_t k) {
    const std::int64_t ld = n + 2;
    const auto q = draws<T>(rng, ld * p), x = draws<T>(rng, ld * k), c = draws<T>(rng, p * k), y0 = draws<T>(rng, ld * k);
    struct Out {
        std::vector<T> h, y, y_sum;
        bool operator==(const Out& o) const { return same_bits(h, o.h) && same_bits(y, o.y) && same_bits(y_sum, o.y_sum); }
    };
    const auto [one, three] = on_1_and_3_threads([&] {
        Out out{std::vector<T>(static_cast<std::size_t>(p * k)), y0, y0};
        krylov::block_project(q.data(), ld, p, x.data(), ld, k, n, out.h.data());
        krylov::block_combine(q.data(), ld, p, c.data(), k, T(0), out.y.data(), ld, n);
        krylov::block_combine(q.data(), ld, p, c.data(), k, T(1), out.y_sum.data(), ld, n);
        return out;
    });
    expect(one == three, "block products: 1 and 3 threads", n, p);
    bool close = true;
    for (std::int64_t i = 0; i < p; ++i) {
        for (std::int64_t j = 0; j < k; ++j) {
            std::complex<long double> want = 0;
            for (std::int64_t r = 0; r < n; ++r) {
                want += std::conj(std::complex<long double>(q[i * ld + r])) * std::complex<long double>(x[j * ld + r]);
            }
            close = close && std::abs(std::complex<long double>(one.h[j * p + i]) - want) <= 1e-13L * (1 + n);
        }
    }
    for (std::int64_t r = 0; r < n; ++r) {
        for (std::int64_t j = 0; j < k; ++j) {
            std::complex<long double> want = 0;
            for (std::int64_t i = 0; i < p; ++i) want += std::complex<long double>(q[i * ld + r]) * std::complex<long double>(c[j * p + i]);
            const std::complex<long double> got(one.y[j * ld + r]), got_sum(one.y_sum[j * ld + r]);
            close = close && std::abs(got - want) <= 1e-13L * (1 + p) &&
                    std::abs(got_sum - want - std::complex<long double>(y0[j * ld + r])) <= 1e-13L * (1 + p);
        }
        for (std::int64_t j = 0; j < k; ++j) close = close && one.y[j * ld + n] == y0[j * ld + n];  // padding untouched
    }
    expect(close, "block_project and block_combine: against the definitions", n, p);
}

// A dense n x n operator (column-major) as the loops take it.
template <class T>
struct DenseOperator {
    const std::vector<T>& a;
    std::int64_t n;
    void operator()(const T* x, T* y) const {
        for (std::int64_t i = 0; i < n; ++i) {
            T sum{};
            for (std::int64_t j = 0; j < n; ++j) sum += a[j * n + i] * x[j];
            y[i] = sum;
        }
    }
};

// A + n I, A random: GMRES converges in a few steps.
template <class T>
std::vector<T> diagonally_dominant(std::mt19937_64& rng, std::int64_t n) {
    auto a = draws<T>(rng, n * n);
    for (std::int64_t i = 0; i < n; ++i) a[i * n + i] += T(double(n));
    return a;
}

// diag(1 + i mod 2): two eigenvalues, so that after two steps the remainder is rounding, one
// Gram-Schmidt pass leaves it far from orthogonal, and the delayed second pass gives way to an
// immediate one (in 49 of 20 x 12 steps from random starts; with no breakdown threshold to stop
// the steps, and M = I).
template <class T>
std::vector<T> near_invariant(std::int64_t n) {
    std::vector<T> a(static_cast<std::size_t>(n * n));
    for (std::int64_t i = 0; i < n; ++i) a[i * n + i] = T(1.0 + double(i % 2));
    return a;
}

// Arnoldi from a random start with a recycled C of kk orthonormal columns (C = A U for a random
// U, orthonormalized): A M T_j = C B_j + V_j+1 Hbar_j with T = [C, V] S, [C, V] orthonormal,
// same bits on 1 and 3 threads; `tolerance` stops the steps early, and then the relation holds
// for the steps taken; with A = I the space is invariant after one step (breakdown).
template <class T>
void check_arnoldi(std::mt19937_64& rng, const std::vector<T>& a, std::int64_t n, std::int64_t kk, std::int64_t steps,
                   double tolerance, double breakdown = 1e-14, bool scaled_m = true) {
    std::vector<T> diagonal(static_cast<std::size_t>(n), T(1));
    if (scaled_m) for (auto& d : diagonal) d = T(1.0 + std::abs(draw<T>(rng)));
    const DenseOperator<T> apply_a{a, n};
    const auto apply_m = [&](const T* x, T* y) {
        for (std::int64_t i = 0; i < n; ++i) y[i] = diagonal[i] * x[i];
    };
    auto start = draws<T>(rng, n * (kk + steps + 1));
    for (std::int64_t j = 0; j <= kk; ++j) {  // C and v_0 orthonormal (Gram-Schmidt on random columns)
        T* column = start.data() + j * n;
        for (std::int64_t i = 0; i < j; ++i) {
            const T c = dot<true>(start.data() + i * n, column, n);
            for (std::int64_t r = 0; r < n; ++r) column[r] -= start[i * n + r] * c;
        }
        const double norm = std::sqrt(std::real(dot<true>(column, column, n)));
        for (std::int64_t r = 0; r < n; ++r) column[r] /= norm;
    }
    const std::int64_t lds = kk + steps;
    struct Out {
        std::vector<T> basis, h, b, s;
        krylov::ArnoldiOutcome outcome;
        bool operator==(const Out& o) const {
            return same_bits(basis, o.basis) && same_bits(h, o.h) && same_bits(b, o.b) && same_bits(s, o.s) &&
                   outcome.steps == o.outcome.steps && outcome.products == o.outcome.products;
        }
    };
    const auto [one, three] = on_1_and_3_threads([&] {
        Out out{start, std::vector<T>(static_cast<std::size_t>((steps + 1) * steps)),
                std::vector<T>(static_cast<std::size_t>(kk * steps)), std::vector<T>(static_cast<std::size_t>(lds * steps)),
                {}};
        out.outcome = krylov::arnoldi(out.basis.data(), n, kk, steps, out.h.data(), out.b.data(), out.s.data(), 1.0,
                                      tolerance, breakdown, apply_a, apply_m, false);
        return out;
    });
    const std::int64_t taken = one.outcome.steps;
    expect(one == three, "arnoldi: 1 and 3 threads", n, kk);
    expect(one.outcome.products == taken && !one.outcome.broke_down, "arnoldi: one product a step", n, kk);
    // min ||e1 - Hbar_j y|| = 1 / ||u||, u_0 = 1, u_j+1 = -(sum_l conj(h_lj) u_l) / h_j+1,j.
    std::vector<double> least_squares;
    std::vector<T> u{T(1)};
    double u_squares = 1.0;
    for (std::int64_t j = 0; j < taken; ++j) {
        T sum{};
        for (std::int64_t i = 0; i <= j; ++i) sum += conjugate(one.h[j * (steps + 1) + i]) * u[i];
        u.push_back(-sum / one.h[j * (steps + 1) + j + 1]);
        u_squares += std::norm(u.back());
        least_squares.push_back(1.0 / std::sqrt(u_squares));
    }
    if (tolerance > 0) {  // stops once the residual meets it, at most a step late (the estimate)
        expect(taken < steps && least_squares[taken - 1] <= tolerance, "arnoldi: stops at the tolerance", n, kk);
        expect(taken < 2 || least_squares[taken - 2] > tolerance * 1e-3, "arnoldi: not long after", n, kk);
    } else {
        expect(taken == steps, "arnoldi: every step taken", n, kk);
    }
    double relation = 0, orthogonality = 0, residual = 0;
    std::vector<T> t(static_cast<std::size_t>(n)), z(static_cast<std::size_t>(n)), w(static_cast<std::size_t>(n));
    for (std::int64_t j = 0; j < taken; ++j) {
        for (std::int64_t r = 0; r < n; ++r) {
            t[r] = T{};
            for (std::int64_t i = 0; i <= kk + j; ++i) t[r] += one.basis[i * n + r] * one.s[j * lds + i];
        }
        apply_m(t.data(), z.data());
        apply_a(z.data(), w.data());
        for (std::int64_t r = 0; r < n; ++r) {
            T rebuilt{};
            for (std::int64_t i = 0; i < kk; ++i) rebuilt += one.basis[i * n + r] * one.b[j * kk + i];
            for (std::int64_t i = 0; i <= j + 1; ++i) rebuilt += one.basis[(kk + i) * n + r] * one.h[j * (steps + 1) + i];
            relation = std::max(relation, std::abs(rebuilt - w[r]));
        }
        for (std::int64_t i = kk + j + 1; i < lds; ++i) residual = std::max(residual, std::abs(one.s[j * lds + i]));
    }
    for (std::int64_t i = 0; i <= kk + taken; ++i) {
        for (std::int64_t j = 0; j <= kk + taken; ++j) {
            const T g = dot<true>(one.basis.data() + i * n, one.basis.data() + j * n, n);
            orthogonality = std::max(orthogonality, std::abs(g - T(i == j ? 1.0 : 0.0)));
        }
    }
    expect(relation <= 1e-11 * n * n, "arnoldi: A M T = C B + V Hbar", n, kk);
    expect(orthogonality <= 1e-12, "arnoldi: [C, V] orthonormal", n, kk);
    expect(residual == 0.0, "arnoldi: S upper triangular below C", n, kk);

    std::vector<T> identity(static_cast<std::size_t>(n * n));
    for (std::int64_t i = 0; i < n; ++i) identity[i * n + i] = T(1);
    auto basis = start;
    std::vector<T> h(static_cast<std::size_t>((steps + 1) * steps)), b(static_cast<std::size_t>(kk * steps)),
        s(static_cast<std::size_t>(lds * steps));
    const auto outcome = krylov::arnoldi(basis.data(), n, kk, steps, h.data(), b.data(), s.data(), 1.0, 0.0, 1e-14,
                                         DenseOperator<T>{identity, n}, apply_m, true);
    expect(outcome.broke_down && outcome.steps == 1 && outcome.products == 1,
           "arnoldi: breakdown on an invariant space", n, kk);
}

// Deflated CG on an SPD tridiagonal matrix with a diagonal M: the solution (against a direct
// solve), A-conjugacy of the kept directions to W, same bits on 1 and 3 threads.
template <class T>
void check_deflated_cg(std::mt19937_64& rng, std::int64_t n, std::int64_t k, std::int64_t capacity) {
    std::vector<T> a(static_cast<std::size_t>(n * n));
    for (std::int64_t i = 0; i < n; ++i) {
        a[i * n + i] = T(2.0 + 0.01 * i);
        if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = T(-1.0);
    }
    const DenseOperator<T> apply_a{a, n};
    const auto product_and_inner = [&](const T* p, T* q) { return krylov::product_then_inner(apply_a, p, q, n); };
    std::vector<T> m_diagonal(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) m_diagonal[i] = T(1.0 / (2.0 + 0.01 * i));
    const auto apply_m = [&](const T* x, T* y) {
        for (std::int64_t i = 0; i < n; ++i) y[i] = m_diagonal[i] * x[i];
    };
    // W: k random columns; E = W^H A W and its inverse (k <= 2 here: by hand).
    auto w = draws<T>(rng, n * k);
    std::vector<T> awr(static_cast<std::size_t>(n * (k + 1)));
    for (std::int64_t j = 0; j < k; ++j) apply_a(w.data() + j * n, awr.data() + j * n);
    std::vector<T> gram(static_cast<std::size_t>(k * k)), inverse(static_cast<std::size_t>(k * k));
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j) gram[j * k + i] = dot<true>(w.data() + i * n, awr.data() + j * n, n);
    if (k == 1) inverse[0] = T(1) / gram[0];
    if (k == 2) {
        const T det = gram[0] * gram[3] - gram[1] * gram[2];
        inverse = {gram[3] / det, -gram[1] / det, -gram[2] / det, gram[0] / det};
    }
    const auto b = draws<T>(rng, n);
    struct Out {
        std::vector<T> x, kept, coefficients, last_reported;
        std::int64_t iterations, stored;
        bool operator==(const Out& o) const {
            return same_bits(x, o.x) && same_bits(kept, o.kept) && same_bits(coefficients, o.coefficients) &&
                   iterations == o.iterations && stored == o.stored;
        }
    };
    // M as a callable, or as its diagonal, which the loop applies inside the advance's sweep.
    const auto solve = [&](bool diagonal_m) {
        auto r_block = awr;
        std::copy(b.begin(), b.end(), r_block.begin() + k * n);
        std::vector<T> x(static_cast<std::size_t>(n)), kept(static_cast<std::size_t>(n * capacity)),
            products(kept.size()), coefficients(static_cast<std::size_t>(k * capacity)),
            projections(static_cast<std::size_t>(k * (capacity + 1))), spare(x), q(x), z(x), last_reported;
        std::vector<double> alphas(static_cast<std::size_t>(capacity)), curvatures(alphas), rhos(capacity + 1);
        krylov::CgWorkspace<T> ws{n, x.data(), r_block.data() + k * n, w.data(), r_block.data(), k, gram.data(),
                                  inverse.data(), kept.data(), products.data(), coefficients.data(), capacity, 0,
                                  alphas.data(), curvatures.data(), rhos.data(), projections.data(), spare.data(),
                                  q.data(), z.data(), diagonal_m ? m_diagonal.data() : nullptr};
        const auto report = [&](const auto& current_x) {
            const T* reported = current_x();
            last_reported.assign(reported, reported + n);
        };
        const auto outcome = krylov::deflated_cg(ws, product_and_inner, apply_m, false, report, 1e-12, 10 * n, 0, true);
        return Out{x, kept, coefficients, last_reported, outcome.iterations, ws.stored};
    };
    const auto [one, three] = on_1_and_3_threads([&] { return solve(true); });
    expect(one == solve(false), "deflated_cg: a diagonal M as the same M called", n, k);
    expect(one == three, "deflated_cg: 1 and 3 threads", n, k);
    expect(one.iterations == 0 || same_bits(one.last_reported, one.x), "deflated_cg: the last iterate reported is x", n, k);
    std::vector<T> ax(static_cast<std::size_t>(n));
    apply_a(one.x.data(), ax.data());
    double residual = 0, size = 0, conjugacy = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        residual += std::norm(b[i] - ax[i]);
        size += std::norm(b[i]);
    }
    for (std::int64_t j = 0; j < one.stored; ++j) {  // the direction p_j = p~_j - W c_j
        std::vector<T> p(one.kept.begin() + j * n, one.kept.begin() + (j + 1) * n), ap(static_cast<std::size_t>(n));
        for (std::int64_t l = 0; l < k; ++l)
            for (std::int64_t i = 0; i < n; ++i) p[i] -= w[l * n + i] * one.coefficients[j * k + l];
        apply_a(p.data(), ap.data());
        for (std::int64_t i = 0; i < k; ++i) {
            conjugacy = std::max(conjugacy, std::abs(dot<true>(w.data() + i * n, ap.data(), n)) /
                                                std::sqrt(std::real(dot<true>(ap.data(), ap.data(), n))));
        }
    }
    expect(std::sqrt(residual) <= 1e-12 * std::sqrt(size) * 1.0001, "deflated_cg: ||b - A x|| <= 1e-12 ||b||", n, k);
    expect(one.stored == std::min(capacity, one.iterations), "deflated_cg: directions kept", n, k);
    expect(conjugacy <= 1e-8, "deflated_cg: directions A-conjugate to W", n, k);
}

template <class T>
void run_dense_kernels(std::mt19937_64& rng) {
    for (const auto& [n, kk] : {std::pair<std::int64_t, std::int64_t>{12, 0}, {30, 3}, {1500, 4}, {2500, 9}}) {
        const std::int64_t steps = std::min<std::int64_t>(n - kk - 1, 20);
        check_arnoldi<T>(rng, diagonally_dominant<T>(rng, n), n, kk, steps, 0.0);
        if (n >= 30) check_arnoldi<T>(rng, diagonally_dominant<T>(rng, n), n, kk, steps, 1e-6);
    }
    check_arnoldi<T>(rng, near_invariant<T>(300), 300, 0, 12, 0.0, 0.0, false);
    for (const auto& [n, k] : {std::pair<std::int64_t, std::int64_t>{1, 0}, {40, 0}, {40, 1}, {1500, 2}}) {
        check_deflated_cg<T>(rng, n, k, 10);
    }
    for (const std::int64_t n : {0, 1, 300, 5000}) {
        for (const auto& [p, k] : {std::pair<std::int64_t, std::int64_t>{0, 3}, {3, 0}, {1, 1}, {12, 5}}) {
            check_block_products<T>(rng, n, p, k);
        }
    }
    for (const std::int64_t n : {0, 1, 5, 300, 20000}) {
        for (const std::int64_t p : {0, 1, 7, 40}) {
            if (p <= n) check_orthogonalize<T>(rng, n, p);
        }
        for (const std::int64_t k : {0, 1, 10}) check_cg_updates<T>(rng, n, k);
    }
}

template <class I, class T>
void run_csr(std::mt19937_64& rng) {
    for (const auto& [rows, cols] : {std::pair<std::int64_t, std::int64_t>{0, 0}, {3, 0}, {1, 1}, {40, 7}, {5000, 3000}, {2500, 2500}}) {
        for (const std::int64_t k : {1, 3}) check_csr_matvec<I, T>(rng, rows, cols, k);
    }
}

}  // namespace

int main() {
    bytes_per_thread().store(1);
    dense::table().dgemv = reinterpret_cast<void*>(&stand_in_gemv<double>);
    dense::table().zgemv = reinterpret_cast<void*>(&stand_in_gemv<std::complex<double>>);
    dense::table().dgemm = reinterpret_cast<void*>(&stand_in_gemm<double>);
    dense::table().zgemm = reinterpret_cast<void*>(&stand_in_gemm<std::complex<double>>);
    std::mt19937_64 rng(18);
    run_csr<std::int32_t, double>(rng);
    run_csr<std::int64_t, double>(rng);
    run_csr<std::int32_t, std::complex<double>>(rng);
    run_dense_kernels<double>(rng);
    run_dense_kernels<std::complex<double>>(rng);
    return checks::report("test_krylov_cpp");
}
