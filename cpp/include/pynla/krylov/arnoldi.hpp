// The Arnoldi steps of one GCRO-DR cycle (pynla.RecyclingGMRES): the loop that builds
//   A M V = C B + V+ Hbar
// from v_0 = basis column kk (set by the caller to r / ||r||), with A and M given as callables
// (the core's CSR product and a diagonal scaling, or Python operators), so that no step returns
// to Python when A and M are sparse.
//
// Algorithm. Step j: w = A M v_j; orthogonalize w against [C, v_0 .. v_j] (orthogonalize.hpp:
// classical Gram-Schmidt twice, one block sweep each); B's column j = the C part, Hbar's = the
// V part and ||w||; v_j+1 = w / ||w||. The least-squares residual min ||beta e1 - Hbar y|| after
// j steps is beta / ||u||, u the null vector of Hbar^H with u_0 = 1 (u_j+1 = -(sum_l conj(h_lj)
// u_l) / h_j+1,j): one short sum a step replaces a Givens loop; the steps stop when it meets the
// tolerance. A new vector below `breakdown` times ||A M v_j|| means an invariant space: the
// steps stop and the next basis column is zeroed.
// In:  basis column-major, n x (kk + steps + 1), C in its first kk columns; H (steps + 1) x steps
//      and B kk x steps, column-major, zero on entry.
// Out: the basis, H and B filled for the steps taken.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/krylov/orthogonalize.hpp"

namespace pynla::krylov {

struct ArnoldiOutcome {
    std::int64_t steps = 0;
    bool broke_down = false;   // the Krylov space became invariant
    bool non_finite = false;   // A M v was not finite: the last step is not in H
};

template <class T, class ApplyA, class ApplyM>
ArnoldiOutcome arnoldi(T* basis, std::int64_t n, std::int64_t kk, std::int64_t steps, T* h, T* b, double beta,
                       double tolerance, double breakdown, ApplyA&& apply_a, ApplyM&& apply_m, bool identity_m) {
    ArnoldiOutcome outcome;
    std::vector<T> w(static_cast<std::size_t>(n)), z(identity_m ? 0 : static_cast<std::size_t>(n));
    std::vector<T> coefficients(static_cast<std::size_t>(kk + steps)), u(static_cast<std::size_t>(steps + 1));
    u[0] = T(1);
    double u_squares = 1.0;
    const std::int64_t ldh = steps + 1;
    for (std::int64_t j = 0; j < steps; ++j) {
        const T* v = basis + (kk + j) * n;
        if (identity_m) {
            apply_a(v, w.data());
        } else {
            apply_m(v, z.data());
            apply_a(static_cast<const T*>(z.data()), w.data());
        }
        const std::int64_t p = kk + j + 1;
        const double next = orthogonalize(basis, n, p, w.data(), n, coefficients.data());
        double size = next * next;
        for (std::int64_t i = 0; i < p; ++i) size += std::norm(coefficients[i]);
        if (!std::isfinite(size)) {
            outcome.non_finite = true;
            return outcome;
        }
        outcome.steps = j + 1;
        for (std::int64_t i = 0; i < kk; ++i) b[j * kk + i] = coefficients[i];
        for (std::int64_t i = 0; i <= j; ++i) h[j * ldh + i] = coefficients[kk + i];
        T* v_next = basis + (kk + j + 1) * n;
        if (next <= breakdown * std::sqrt(size)) {
            for (std::int64_t i = 0; i < n; ++i) v_next[i] = T{};
            outcome.broke_down = true;
            return outcome;
        }
        h[j * ldh + j + 1] = T(next);
        const double inverse = 1.0 / next;
        for (std::int64_t i = 0; i < n; ++i) v_next[i] = w[i] * inverse;
        T sum{};
        for (std::int64_t i = 0; i <= j; ++i) sum += conjugate(h[j * ldh + i]) * u[i];
        u[j + 1] = -sum / next;
        u_squares += std::norm(u[j + 1]);
        if (beta / std::sqrt(u_squares) <= tolerance) break;
    }
    return outcome;
}

}  // namespace pynla::krylov
