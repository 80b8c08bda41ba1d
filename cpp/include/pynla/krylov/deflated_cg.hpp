// Deflated preconditioned conjugate gradients (Saad, Yeung, Erhel and Guyomarc'h 2000): the
// iteration loop of pynla.RecyclingCG, with A given as a callable that also returns p^H A p (the
// bindings pass the core's CSR product, which sums it in the same sweep, or a Python operator)
// and M as a diagonal (Jacobi: applied inside the advance's sweep), the identity or a callable,
// so that no step of the loop returns to Python when A and M are sparse.
//
// Algorithm. From the residual r: the Galerkin start in W (x += W E^-1 W^H r, r -= A W
// E^-1 W^H r, E = W^H A W), then CG whose every direction is made A-conjugate to W,
// p = z + beta p - W mu, mu = E^-1 (A W)^H z. The loop keeps each direction as p~ - W c, p~ a
// vector and c its k coefficients (p~' = z + beta p~, c' = beta c + mu), so that no sweep reads
// W: only A W, once an iteration, in the sweep that reads it anyway:
//   q~ = A p~ and p~^H q~ (one sweep); p^H A p = p~^H q~ - c^H E c (W^H A p = 0: E c = W^H A p~);
//   alpha = rho / p^H A p; x += alpha p~ (and alpha c to W's coefficients of x);
//   r -= alpha (q~ - A W c); z = M r; g = [A W, r]^H z (one sweep when M is a diagonal);
//   p~ = z + (g_k / rho) p~ (one sweep over two vectors).
// Reading W and A W every iteration, as the direction p itself needs, cost half the time of an
// iteration at k = 10 (Darcy 128^2: 125 against 68 us without deflation, 2 threads). x is made
// whole (x -= W c_x) once at the end, or for each call of each_iteration that asks for it.
// The first `capacity` directions p~, their products q~ with A, their coefficients c and the
// CG coefficients are kept for the Ritz step that updates W (done by the caller: the kept
// direction i is p~_i - W c_i, its product q~_i - A W c_i). Every sum is one of the thread-count-
// invariant kernels (orthogonalize.hpp, cg_updates.hpp): the same bits for any thread count.
// In:  a Workspace of caller-owned arrays (below); Out: x, r and the kept data, in place.
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "pynla/krylov/cg_updates.hpp"
#include "pynla/krylov/orthogonalize.hpp"

namespace pynla::krylov {

template <class T>
struct CgWorkspace {
    std::int64_t n = 0;
    T* x = nullptr;
    T* r = nullptr;                  // column k of awr
    const T* w = nullptr;            // W, n x k column-major, leading dimension n
    const T* awr = nullptr;          // [A W, r], n x (k + 1) column-major, leading dimension n
    std::int64_t k = 0;
    const T* gram = nullptr;         // E = W^H A W, k x k column-major
    const T* inverse_gram = nullptr; // E^-1, k x k column-major
    T* kept = nullptr;               // P~, n x capacity column-major: directions are made here
    T* kept_products = nullptr;      // A P~, the same shape: products are made here
    T* kept_coefficients = nullptr;  // C, k x capacity column-major: P = P~ - W C
    std::int64_t capacity = 0;       // columns of P (0: nothing kept)
    std::int64_t stored = 0;         // columns of P filled (in and out)
    double* alphas = nullptr;        // capacity
    double* curvatures = nullptr;    // p_i^H A p_i, capacity
    double* rhos = nullptr;          // r_i^H z_i, capacity + 1
    T* projections = nullptr;        // (A W)^H z_i, k x (capacity + 1) column-major
    T* spare = nullptr;              // n: the direction once P is full
    T* q = nullptr;                  // n: the product once P is full
    T* z = nullptr;                  // n (unused when M is the identity: z is r)
    const T* m_diagonal = nullptr;   // M's diagonal when M is one (then apply_m is not called)
};

struct CgOutcome {
    int status = 0;                  // 0: the recurrence's residual met the tolerance;
                                     // 1: max_iterations reached; -1: non-positive curvature
    std::int64_t iterations = 0;
    std::int64_t products = 0;       // products with A
    std::int64_t preconditionings = 0;  // products with M (not the identity)
    double residual_norm = 0.0;      // of the recurrence
};

// q = A p and p^H q for an A given as apply(p, q) alone: the product, then a sweep for the inner
// product (csr_matvec_inner does both in one sweep).
template <class T, class Apply>
T product_then_inner(const Apply& apply, const T* p, T* q, std::int64_t n) {
    apply(p, q);
    T value{};
    project(p, n, 1, q, n, &value);
    return value;
}

namespace detail {

// y = matrix g for a k x k column-major matrix (E or E^-1).
template <class T>
void small_product(const T* matrix, const T* g, std::int64_t k, T* y) {
    for (std::int64_t i = 0; i < k; ++i) y[i] = T{};
    for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t i = 0; i < k; ++i) y[i] += matrix[j * k + i] * g[j];
}

// y -= B c for the n x k column-major basis B (leading dimension n).
template <class T>
void subtract_basis(const T* b, std::int64_t k, const T* c, T* y, std::int64_t n) {
    if (k == 0) return;
    const Chunks chunks(n);
    const Basis<T> basis{b, blas_size(n, "n"), blas_size(k, "k"), chunks};
    for_each_chunk(chunks, basis.sweep_bytes(), [&](std::int64_t chunk) { basis.subtract(chunk, c, y); });
}

}  // namespace detail

// Runs deflated CG from ws.r until ||r|| <= tolerance, max_iterations in all (counting
// `done` already), or breakdown. product_and_inner(p, q) sets q = A p and returns p^H q, summed
// in an order that does not depend on the thread count; apply_m(r, z) sets z = M r (not called
// if identity_m: z is r, or if ws.m_diagonal is set); each_iteration(current_x) runs after each
// iteration, where current_x() returns the iterate x (made whole only if called). keep says
// whether directions are kept (P's columns from ws.stored on).
template <class T, class ProductAndInner, class ApplyM, class EachIteration>
CgOutcome deflated_cg(CgWorkspace<T>& ws, ProductAndInner&& product_and_inner, ApplyM&& apply_m, bool identity_m,
                      EachIteration&& each_iteration, double tolerance, std::int64_t max_iterations,
                      std::int64_t done, bool keep) {
    const std::int64_t n = ws.n, k = ws.k;
    const auto size_k = static_cast<std::size_t>(k);
    CgOutcome outcome;
    // weights: mu = E^-1 (A W)^H z; c: W's coefficients of the direction (p = p~ - W c);
    // x_coefficients: of x (the iterate is x - W x_coefficients); h: the advance's A W term.
    std::vector<T> g(size_k + 1), weights(size_k), c(size_k), ec(size_k), x_coefficients(size_k), h(size_k);
    const bool fused_m = identity_m || ws.m_diagonal != nullptr;
    const auto precondition = [&] {
        if (identity_m) return ws.r;
        if (ws.m_diagonal != nullptr) diagonal_product(ws.m_diagonal, static_cast<const T*>(ws.r), ws.z, n);
        else apply_m(static_cast<const T*>(ws.r), ws.z);
        ++outcome.preconditionings;
        return ws.z;
    };
    // weights = E^-1 (A W)^H z from g = [A W, r]^H z; returns r^H z.
    const auto weigh = [&] {
        detail::small_product(ws.inverse_gram, g.data(), k, weights.data());
        return std::real(g[k]);
    };
    const auto inner_products = [&](const T* z) {
        project(ws.awr, n, k + 1, z, n, g.data());
        return weigh();
    };
    if (k > 0) {  // the Galerkin start: W^H r = 0 afterwards
        project(ws.w, n, k, ws.r, n, g.data());
        detail::small_product(ws.inverse_gram, g.data(), k, weights.data());
        for (std::size_t i = 0; i < size_k; ++i) x_coefficients[i] = -weights[i];  // x += W weights
        detail::subtract_basis(ws.awr, k, weights.data(), ws.r, n);                  // r -= A W weights
    }
    bool storing = keep && ws.stored < ws.capacity;
    // The direction and product in the kept columns while there is room, then in the spares.
    const auto direction_slot = [&] { return storing ? ws.kept + ws.stored * n : ws.spare; };
    const auto product_slot = [&] { return storing ? ws.kept_products + ws.stored * n : ws.q; };
    const auto keep_coefficients = [&] {
        if (storing) std::copy(c.begin(), c.end(), ws.kept_coefficients + ws.stored * k);
    };
    T* z = precondition();
    double rho = inner_products(z);
    T* p = direction_slot();
    std::copy_n(z, n, p);
    c = weights;
    keep_coefficients();
    if (storing) {
        for (std::int64_t i = 0; i < k; ++i) ws.projections[ws.stored * k + i] = g[i];
        ws.rhos[ws.stored] = rho;
    }
    std::vector<T> whole_x;  // x made whole for each_iteration
    const auto current_x = [&]() -> const T* {
        whole_x.assign(ws.x, ws.x + n);
        detail::subtract_basis(ws.w, k, x_coefficients.data(), whole_x.data(), n);
        return whole_x.data();
    };
    double norm = krylov::norm(ws.r, n);
    while (norm > tolerance) {
        if (done + outcome.iterations >= max_iterations) {
            outcome.status = 1;
            break;
        }
        T* const q = product_slot();
        detail::small_product(ws.gram, c.data(), k, ec.data());
        double deflated_part = 0.0;  // c^H E c
        for (std::size_t i = 0; i < size_k; ++i) deflated_part += std::real(std::conj(c[i]) * ec[i]);
        const double curvature = std::real(product_and_inner(static_cast<const T*>(p), q)) - deflated_part;
        ++outcome.products;
        if (!(std::isfinite(curvature) && curvature > 0 && std::isfinite(rho) && rho > 0)) {
            outcome.status = -1;
            break;
        }
        const double alpha = rho / curvature;
        for (std::size_t i = 0; i < size_k; ++i) {
            x_coefficients[i] += alpha * c[i];
            h[i] = -alpha * c[i];
        }
        double rho_next = 0.0;
        if (fused_m) {
            norm = std::sqrt(cg_advance_project(T(alpha), p, q, ws.x, ws.r, identity_m ? nullptr : ws.m_diagonal,
                                                ws.z, ws.awr, k, h.data(), n, g.data()));
            z = identity_m ? ws.r : ws.z;
            if (!identity_m) ++outcome.preconditionings;
            rho_next = weigh();
        } else {
            norm = std::sqrt(cg_advance(T(alpha), p, q, ws.x, ws.r, ws.awr, k, h.data(), n));
            z = precondition();
            rho_next = inner_products(z);
        }
        ++outcome.iterations;
        if (storing) {
            const std::int64_t i = ws.stored;
            ws.alphas[i] = alpha;
            ws.curvatures[i] = curvature;
            ws.rhos[i + 1] = rho_next;
            for (std::int64_t j = 0; j < k; ++j) ws.projections[(i + 1) * k + j] = g[j];
            ++ws.stored;
            storing = ws.stored < ws.capacity;
        }
        each_iteration(current_x);
        const double beta = rho_next / rho;
        T* const next = direction_slot();
        cg_direction(T(beta), z, p, next, n);
        for (std::size_t i = 0; i < size_k; ++i) c[i] = T(beta) * c[i] + weights[i];
        keep_coefficients();
        p = next;
        rho = rho_next;
    }
    detail::subtract_basis(ws.w, k, x_coefficients.data(), ws.x, n);  // x made whole
    outcome.residual_norm = norm;
    return outcome;
}

}  // namespace pynla::krylov
