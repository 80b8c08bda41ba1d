// The Arnoldi steps of one GCRO-DR cycle (pynla.RecyclingGMRES): the loop that builds
//   A M T = C B + V+ Hbar,   T = [C, V] S
// from v_0 = basis column kk (set by the caller to r / ||r||, orthogonal to C), with A and M
// given as callables (the core's CSR product and a diagonal scaling, or Python operators), so
// that no step returns to Python when A and M are sparse.
//
// Algorithm. Classical Gram-Schmidt twice (CGS2) with the second pass delayed to the next step
// (DCGS2: Bielich, Langou, Thomas, Swirydowicz, Yamazaki and Boman 2022). The steps are
// memory-bound: a step reads the basis once a sweep, and CGS2 done at once takes three sweeps
// (orthogonalize.hpp), the delayed form two. Step j multiplies t_j, the unit remainder of one
// Gram-Schmidt pass: w = A M t_j, stored in the basis column after t_j. Sweep 1 computes
// Q^H [t_j, w] (Q = [C, v_0 .. v_j-1] and t_j itself; one gemm of the two adjacent columns a
// chunk, so that Q is read once for both); s = Q^H t_j and rho = ||t_j - Q s|| =
// sqrt(t_j^H t_j - ||s||^2) finish t_j as v_j = (t_j - Q s) / rho, and w's coefficient on v_j
// follows from the same products. Sweep 2 makes v_j and takes w's components on [Q, v_j] away
// ([t_j, w] -= Q [s, z], one gemm a chunk); the remainder, scaled to unit length, is t_j+1. Its second pass, s, comes with the next step's sweep 1 and completes column
// j of Hbar and B. Where one pass left t_j far from orthogonal (||s||^2 > t^H t / 2, where the
// difference would cancel), t_j is orthogonalized at once instead (orthogonalize.hpp), as it is
// at the end of the steps. The search directions are the t_j, not the v_j (the flexible-GMRES
// form): t_j = [C, V] s_j, S's column j, upper triangular below C's rows (t_0 = v_0); the
// caller updates x and the recycled space through S.
// The least-squares residual min ||beta e1 - Hbar y|| after j steps is beta / ||u||, u the null
// vector of Hbar^H with u_0 = 1 (u_j+1 = -(sum_l conj(h_lj) u_l) / h_j+1,j): one short sum a
// step replaces a Givens loop. It is estimated from each step's one-pass column; when the
// estimate meets the tolerance, t_j+1 is finished at once and the steps stop if the exact value
// meets it too. A remainder below `breakdown` times ||A M t_j|| means an invariant space: the
// steps stop and the next basis column is zeroed.
// In:  basis column-major, n x (kk + steps + 1), C in its first kk columns and v_0 in column kk;
//      H (steps + 1) x steps, B kk x steps and S (kk + steps) x steps, column-major, zero on entry.
// Out: the basis, H, B and S filled for the steps taken. Products: one with A M a step, and one
//      more when an invariant space shows only in the next step's first sweep.
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/krylov/orthogonalize.hpp"

namespace pynla::krylov {

struct ArnoldiOutcome {
    std::int64_t steps = 0;     // columns of H, B and S complete
    std::int64_t products = 0;  // products with A M
    bool broke_down = false;    // the Krylov space became invariant
    bool non_finite = false;    // A M t was not finite: the last product is not in H
};

namespace detail {

// Step state and the sweeps of one cycle.
template <class T>
class DelayedArnoldi {
public:
    DelayedArnoldi(T* basis, std::int64_t n, std::int64_t kk, std::int64_t steps, T* h, T* b, T* s)
        : basis_(basis), n_(n), kk_(kk), steps_(steps), h_(h), b_(b), s_(s), chunks_(n),
          partials_(static_cast<std::size_t>(2 * chunks_.count() * (kk + steps + 1))),
          pair_(static_cast<std::size_t>(2 * (kk + steps + 1))), t_products_(static_cast<std::size_t>(kk + steps + 1)),
          w_products_(t_products_.size()), scratch_(t_products_.size()),
          squares_(static_cast<std::size_t>(chunks_.count())), u_(static_cast<std::size_t>(steps + 1)) {
        u_[0] = T(1);
    }

    T* column(std::int64_t i) const { return basis_ + i * n_; }

    // Sweep 1 of step j: Q^H w (w in column kk + j + 1) against the kk + j + 1 columns up to
    // t_j, and Q^H t_j (one block product of the adjacent t_j and w) when t_j is not finished.
    // False if w is not finite.
    bool project_step(std::int64_t j, bool t_finished) {
        const Basis<T> q = basis_of(kk_ + j + 1);
        T* t = column(kk_ + j);
        if (t_finished) {
            for_each_chunk(chunks_, q.sweep_bytes(), [&](std::int64_t c) { q.products(c, t + n_, partials_.data()); });
            q.add_chunks(partials_.data(), w_products_.data());
        } else {
            for_each_chunk(chunks_, q.sweep_bytes(), [&](std::int64_t c) { q.pair_products(c, t, q.ldq, partials_.data()); });
            q.add_chunks(partials_.data(), pair_.data(), 2 * q.p);
            std::copy(pair_.begin(), pair_.begin() + q.p, t_products_.begin());
            std::copy(pair_.begin() + q.p, pair_.begin() + 2 * q.p, w_products_.begin());
        }
        double size = 0.0;
        for (std::int64_t i = 0; i < q.p; ++i) size += std::norm(w_products_[i]);
        return std::isfinite(size);
    }

    // Finishes t_j: t_j = Q s + rho v_j, from sweep 1's Q^H t_j, or at once when that would
    // cancel (or when `from_products` is false); s and rho go to `coefficients` (p + 1 values,
    // S's column j or scratch), and column j - 1 of H and B is completed (A M t_j-1 = ... +
    // nu_j-1 t_j). Returns whether v_j is still to be made from t_j (sweep 2 does it).
    bool finish(std::int64_t j, bool from_products, T* coefficients) {
        const std::int64_t p = kk_ + j;
        bool delayed = false;
        if (from_products) {
            double squares = 0.0;
            for (std::int64_t i = 0; i < p; ++i) squares += std::norm(t_products_[i]);
            const double alpha = std::real(t_products_[p]);
            delayed = squares <= 0.5 * alpha;
            if (delayed) {
                for (std::int64_t i = 0; i < p; ++i) coefficients[i] = t_products_[i];
                rho_ = std::sqrt(alpha - squares);
            }
        }
        if (!delayed) {
            rho_ = orthogonalize(basis_, n_, p, column(p), n_, coefficients);
            if (rho_ > 0.0) scale(column(p), 1.0 / rho_);
        }
        coefficients[p] = T(rho_);
        if (j > 0) complete_column(j - 1, coefficients);
        return delayed;
    }

    // Sweep 1 and finish for t_j+1 at once, without a product: column j complete.
    void close(std::int64_t j) { finish(j + 1, false, scratch_.data()); }

    // Column j of H and B from sweep 1 (one pass), sweep 2, and t_j+1 in column kk + j + 1.
    // Returns ||w - [Q, v_j] (coefficients)|| before the scaling (nu_j) and ||w||^2's estimate.
    std::pair<double, double> advance(std::int64_t j, bool delayed, bool t_finished) {
        const std::int64_t p = kk_ + j;
        const T* s_column = s_ + j * (kk_ + steps_);
        T own = w_products_[p];  // v_j^H w when t_j is v_j
        if (delayed) {
            T sum{};
            for (std::int64_t i = 0; i < p; ++i) sum += conjugate(s_column[i]) * w_products_[i];
            own = (w_products_[p] - sum) / T(rho_);
        } else if (!t_finished) {
            project(column(p), n_, 1, column(p + 1), n_, &own);  // t_j was finished at once
        }
        w_products_[p] = own;
        for (std::int64_t i = 0; i < kk_; ++i) b_[j * kk_ + i] = w_products_[i];
        for (std::int64_t i = 0; i <= j; ++i) h_[j * (steps_ + 1) + i] = w_products_[kk_ + i];
        const Basis<T> q = basis_of(p);
        T* v = column(p);
        T* w = column(p + 1);
        const T inverse_rho = T(1.0 / rho_);
        if (delayed) {  // [v_j, w] -= Q [s, z]: one block product of the adjacent columns
            std::copy(s_column, s_column + p, pair_.begin());
            std::copy(w_products_.begin(), w_products_.begin() + p, pair_.begin() + p);
        }
        for_each_chunk(chunks_, q.sweep_bytes(), [&](std::int64_t c) {
            T* v_c = v + chunks_.begin(c);
            T* w_c = w + chunks_.begin(c);
            const std::int64_t rows = chunks_.size(c);
            if (delayed) {
                q.pair_subtract(c, pair_.data(), v, q.ldq);
                for (std::int64_t r = 0; r < rows; ++r) v_c[r] *= inverse_rho;
            } else if (p > 0) {
                q.subtract(c, w_products_.data(), w);
            }
            for (std::int64_t r = 0; r < rows; ++r) w_c[r] -= own * v_c[r];
            squares_[c] = squared_norm(w_c, rows);
        });
        double nu = 0.0;
        for (const double square : squares_) nu += square;
        nu = std::sqrt(nu);
        double size = nu * nu;
        for (std::int64_t i = 0; i <= p; ++i) size += std::norm(w_products_[i]);
        return {nu, size};
    }

    // Column j of H and B gets its second pass: += nu_j s, and h_j+1,j = nu_j rho_j+1. Then u_j+1.
    void complete_column(std::int64_t j, const T* s_next) {
        const std::int64_t ldh = steps_ + 1;
        T* h_column = h_ + j * ldh;
        const double nu = nus_[static_cast<std::size_t>(j)];
        for (std::int64_t i = 0; i < kk_; ++i) b_[j * kk_ + i] += T(nu) * s_next[i];
        for (std::int64_t i = 0; i <= j; ++i) h_column[i] += T(nu) * s_next[kk_ + i];
        h_column[j + 1] = T(nu * rho_);
        if (nu * rho_ == 0.0) return;  // an invariant space: the steps stop here
        u_[j + 1] = next_u(j, nu * rho_);
        u_squares_ += std::norm(u_[j + 1]);
    }

    // u_j+1 for column j as it stands and the subdiagonal given.
    T next_u(std::int64_t j, double subdiagonal) const {
        const T* h_column = h_ + j * (steps_ + 1);
        T sum{};
        for (std::int64_t i = 0; i <= j; ++i) sum += conjugate(h_column[i]) * u_[i];
        return -sum / T(subdiagonal);
    }

    double u_squares() const { return u_squares_; }
    void record_nu(double nu) { nus_.push_back(nu); }

    void scale(T* x, double factor) const {
        for_each_chunk(chunks_, 2 * n_ * static_cast<std::int64_t>(sizeof(T)), [&](std::int64_t c) {
            T* x_c = x + chunks_.begin(c);
            for (std::int64_t r = 0; r < chunks_.size(c); ++r) x_c[r] *= T(factor);
        });
    }
    void zero(T* x) const {
        for (std::int64_t i = 0; i < n_; ++i) x[i] = T{};
    }

private:
    Basis<T> basis_of(std::int64_t p) const {
        return Basis<T>{basis_, blas_size(n_, "n"), blas_size(p, "p"), chunks_};
    }

    T* basis_;
    std::int64_t n_, kk_, steps_;
    T *h_, *b_, *s_;
    Chunks chunks_;
    std::vector<T> partials_, pair_, t_products_, w_products_, scratch_;
    std::vector<double> squares_;
    std::vector<T> u_;
    std::vector<double> nus_;
    double u_squares_ = 1.0;
    double rho_ = 1.0;
};

}  // namespace detail

template <class T, class ApplyA, class ApplyM>
ArnoldiOutcome arnoldi(T* basis, std::int64_t n, std::int64_t kk, std::int64_t steps, T* h, T* b, T* s, double beta,
                       double tolerance, double breakdown, ApplyA&& apply_a, ApplyM&& apply_m, bool identity_m) {
    ArnoldiOutcome outcome;
    detail::DelayedArnoldi<T> cycle(basis, n, kk, steps, h, b, s);
    std::vector<T> z(identity_m ? 0 : static_cast<std::size_t>(n));
    const std::int64_t ldh = steps + 1, lds = kk + steps;
    // An invariant space: h_j,j-1 (complete) below `breakdown` times ||A M t_j-1||.
    const auto invariant = [&](std::int64_t j, double size) {
        T& subdiagonal = h[(j - 1) * ldh + j];
        if (std::abs(subdiagonal) > breakdown * std::sqrt(size)) return false;
        subdiagonal = T{};
        cycle.zero(cycle.column(kk + j));
        outcome.broke_down = true;
        return true;
    };
    bool t_finished = true;  // t_0 = v_0
    double size = 0.0;       // ||A M t_j-1||^2, estimated from its coefficients
    for (std::int64_t j = 0; j < steps; ++j) {
        const T* t = cycle.column(kk + j);
        T* w = cycle.column(kk + j + 1);
        if (identity_m) {
            apply_a(t, w);
        } else {
            apply_m(t, z.data());
            apply_a(static_cast<const T*>(z.data()), w);
        }
        ++outcome.products;
        const bool finite = cycle.project_step(j, t_finished);
        bool delayed = false;
        if (t_finished) {
            s[j * lds + kk + j] = T(1);
        } else {
            delayed = cycle.finish(j, true, s + j * lds);
            if (invariant(j, size)) {
                cycle.zero(w);
                return outcome;
            }
        }
        if (!finite) {
            outcome.non_finite = true;
            return outcome;
        }
        const auto [nu, estimate] = cycle.advance(j, delayed, t_finished);
        size = estimate;
        cycle.record_nu(nu);
        outcome.steps = j + 1;
        if (nu <= breakdown * std::sqrt(size)) {
            cycle.zero(w);
            outcome.broke_down = true;
            return outcome;
        }
        cycle.scale(w, 1.0 / nu);
        t_finished = false;
        const T guess = cycle.next_u(j, nu);  // rho_j+1 = 1 and no second pass
        if (beta / std::sqrt(cycle.u_squares() + std::norm(guess)) > tolerance && j + 1 < steps) continue;
        cycle.close(j);
        t_finished = true;
        if (invariant(j + 1, size)) return outcome;
        if (beta / std::sqrt(cycle.u_squares()) <= tolerance) break;
    }
    return outcome;
}

}  // namespace pynla::krylov
