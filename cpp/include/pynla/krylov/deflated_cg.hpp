// Deflated preconditioned conjugate gradients (Saad, Yeung, Erhel and Guyomarc'h 2000): the
// iteration loop of pynla.RecyclingCG, with A given as a callable that also returns p^H A p (the
// bindings pass the core's CSR product, which sums it in the same sweep, or a Python operator)
// and M as a diagonal (Jacobi: applied inside the advance's sweep), the identity or a callable,
// so that no step of the loop returns to Python when A and M are sparse.
//
// Algorithm. From the residual r: the Galerkin start in W (x += W E^-1 W^H r, r -= A W
// E^-1 W^H r, E = W^H A W), then CG whose every direction is made A-conjugate to W:
//   q = A p and p^H q (one sweep); alpha = rho / p^H q;
//   x += alpha p; r -= alpha q; z = M r; g = [A W, r]^H z (one sweep when M is a diagonal);
//   p = z + (g_k / rho) p - W E^-1 g_0..k-1 (one sweep).
// The first `capacity` directions, their products with A and the coefficients are kept for
// the Ritz step that updates W (done by the caller). Every sum is one of the thread-count-
// invariant kernels (orthogonalize.hpp, cg_updates.hpp): the same bits for any thread count.
// In:  a Workspace of caller-owned arrays (below); Out: x, r and the kept data, in place.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
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
    const T* inverse_gram = nullptr; // E^-1, k x k column-major
    T* kept = nullptr;               // P, n x capacity column-major: directions are made here
    T* kept_products = nullptr;      // A P, the same shape
    std::int64_t capacity = 0;       // columns of P (0: nothing kept)
    std::int64_t stored = 0;         // columns of P filled (in and out)
    double* alphas = nullptr;        // capacity
    double* curvatures = nullptr;    // p_i^H A p_i, capacity
    double* rhos = nullptr;          // r_i^H z_i, capacity + 1
    T* projections = nullptr;        // (A W)^H z_i, k x (capacity + 1) column-major
    T* spare = nullptr;              // n: the direction once P is full
    T* q = nullptr;                  // n
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

// y = E^-1 g for the k x k column-major E^-1.
template <class T>
void small_product(const T* matrix, const T* g, std::int64_t k, T* y) {
    for (std::int64_t i = 0; i < k; ++i) y[i] = T{};
    for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t i = 0; i < k; ++i) y[i] += matrix[j * k + i] * g[j];
}

}  // namespace detail

// Runs deflated CG from ws.r until ||r|| <= tolerance, max_iterations in all (counting
// `done` already), or breakdown. product_and_inner(p, q) sets q = A p and returns p^H q, summed
// in an order that does not depend on the thread count; apply_m(r, z) sets z = M r (not called
// if identity_m: z is r, or if ws.m_diagonal is set); each_iteration(x) runs after each
// iteration. keep says whether directions are kept (P's columns from ws.stored on).
template <class T, class ProductAndInner, class ApplyM, class EachIteration>
CgOutcome deflated_cg(CgWorkspace<T>& ws, ProductAndInner&& product_and_inner, ApplyM&& apply_m, bool identity_m,
                      EachIteration&& each_iteration, double tolerance, std::int64_t max_iterations,
                      std::int64_t done, bool keep) {
    const std::int64_t n = ws.n, k = ws.k;
    CgOutcome outcome;
    std::vector<T> g(static_cast<std::size_t>(k + 1)), weights(static_cast<std::size_t>(k));
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
        std::vector<T> negative(weights);
        for (auto& weight : negative) weight = -weight;
        const Chunks chunks(n);
        const detail::Basis<T> w_basis{ws.w, detail::blas_size(n, "n"), detail::blas_size(k, "k"), chunks};
        const detail::Basis<T> aw_basis{ws.awr, detail::blas_size(n, "n"), detail::blas_size(k, "k"), chunks};
        for_each_chunk(chunks, 2 * w_basis.sweep_bytes(), [&](std::int64_t c) {
            w_basis.subtract(c, negative.data(), ws.x);  // x += W weights
            aw_basis.subtract(c, weights.data(), ws.r);  // r -= A W weights
        });
    }
    bool storing = keep && ws.stored < ws.capacity;
    T* z = precondition();
    double rho = inner_products(z);
    T* p = storing ? ws.kept + ws.stored * n : ws.spare;
    cg_direction(T(0), z, ws.w, n, k, weights.data(), z, p, n);
    if (storing) {
        for (std::int64_t i = 0; i < k; ++i) ws.projections[ws.stored * k + i] = g[i];
        ws.rhos[ws.stored] = rho;
    }
    double norm = krylov::norm(ws.r, n);
    while (norm > tolerance) {
        if (done + outcome.iterations >= max_iterations) {
            outcome.status = 1;
            break;
        }
        const double curvature = std::real(product_and_inner(static_cast<const T*>(p), ws.q));
        ++outcome.products;
        if (!(std::isfinite(curvature) && curvature > 0 && std::isfinite(rho) && rho > 0)) {
            outcome.status = -1;
            break;
        }
        const double alpha = rho / curvature;
        double rho_next = 0.0;
        if (fused_m) {
            norm = std::sqrt(cg_advance_project(T(alpha), p, ws.q, ws.x, ws.r, identity_m ? nullptr : ws.m_diagonal,
                                                ws.z, ws.awr, k, n, g.data()));
            z = identity_m ? ws.r : ws.z;
            if (!identity_m) ++outcome.preconditionings;
            rho_next = weigh();
        } else {
            norm = std::sqrt(cg_advance(T(alpha), p, ws.q, ws.x, ws.r, n));
            z = precondition();
            rho_next = inner_products(z);
        }
        ++outcome.iterations;
        T* next = p;
        if (storing) {
            const std::int64_t i = ws.stored;
            std::memcpy(ws.kept_products + i * n, ws.q, static_cast<std::size_t>(n) * sizeof(T));
            ws.alphas[i] = alpha;
            ws.curvatures[i] = curvature;
            ws.rhos[i + 1] = rho_next;
            for (std::int64_t j = 0; j < k; ++j) ws.projections[(i + 1) * k + j] = g[j];
            ++ws.stored;
            storing = ws.stored < ws.capacity;
            next = storing ? ws.kept + ws.stored * n : ws.spare;
        }
        each_iteration(static_cast<const T*>(ws.x));
        cg_direction(T(rho_next / rho), z, ws.w, n, k, weights.data(), p, next, n);
        p = next;
        rho = rho_next;
    }
    outcome.residual_norm = norm;
    return outcome;
}

}  // namespace pynla::krylov
