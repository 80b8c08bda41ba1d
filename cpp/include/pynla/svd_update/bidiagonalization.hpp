// Golub-Kahan-Lanczos bidiagonalization of a sparse block's residual against a basis, on the
// rows the block touches (the "gkl" update: Vecharynski and Saad, SIMAX 35, 2014, in the
// implicit form of Deng et al., ICLR 2024).
//
// The block Y (n x s) is given as Z = Y^T in CSR, relabelled onto the n_rows basis rows it
// touches (touched_rows.hpp), with C = V^T Y (k x s). The residual (I - V V^T) Y maps p (s
// values) to the implicit vector q = e(Y_t p) - V (C p) (e: the touched rows' values in place,
// zero elsewhere; Y_t = Z^T); two such vectors have inner product b1.b2 - c1.c2, as V is
// orthonormal, and (I - V V^T) Y's transpose maps q to Z b - C^T c. Step i:
//     q_i     = (Y_t p_i - beta_(i-1) b_(i-1),  C p_i - beta_(i-1) c_(i-1)) / alpha_i
//     p_(i+1) = (Z b_i - C^T c_i - alpha_i p_i) / beta_i,  reorthogonalized against p_0 .. p_i
// (twice, by modified Gram-Schmidt). Only the short right vectors p are reorthogonalized (one-
// sided reorthogonalization, Simon and Zha, SISC 21, 2000: the left ones stay near orthogonal;
// the caller orthonormalizes them once more with BLAS-3). It stops early when alpha or beta
// falls to `tiny`: the Krylov space is invariant.
// In:  Z, a trusted CSR view (s rows, n_rows columns; entries unsorted or repeated); C (k x s,
//      row-major); p0 (s values, unit norm); l >= 0; tiny >= 0.
// Out: steps <= l, and the left vectors' parts b (steps columns of n_rows) and c (steps columns
//      of k), column after column.
// Cost: about 4 nnz + 4 k s + 4 s i flops at step i. The sparse products run over rows on up to
//       the kernel's threads; every sum runs in a fixed order, so results do not depend on the
//       thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "pynla/common/buffer.hpp"
#include "pynla/common/csr.hpp"
#include "pynla/common/dot.hpp"
#include "pynla/common/error.hpp"
#include "pynla/common/parallel.hpp"

namespace pynla::svd_update {

struct Bidiagonalization {
    std::int64_t steps = 0;
    Buffer<double> b;  // steps columns of n_rows
    Buffer<double> c;  // steps columns of k
};

namespace detail {

// The transpose of a CSR matrix (counting sort: each row's entries in the original row order).
template <class I>
Csr<I, double> transpose(const CsrView<I, double>& z) {
    const std::int64_t nnz = z.nnz();
    Csr<I, double> t{z.n_cols, z.n_rows, Buffer<I>(z.n_cols + 1), Buffer<I>(nnz), Buffer<double>(nnz)};
    std::fill(t.indptr.data(), t.indptr.data() + z.n_cols + 1, I{0});
    for (std::int64_t e = 0; e < nnz; ++e) ++t.indptr.data()[z.indices[e] + 1];
    for (std::int64_t col = 0; col < z.n_cols; ++col) t.indptr.data()[col + 1] += t.indptr.data()[col];
    Buffer<I> next(z.n_cols);
    std::copy(t.indptr.data(), t.indptr.data() + z.n_cols, next.data());
    for (std::int64_t row = 0; row < z.n_rows; ++row) {
        for (std::int64_t e = z.row_begin(row); e < z.row_end(row); ++e) {
            const std::int64_t slot = next.data()[z.indices[e]]++;
            t.indices.data()[slot] = static_cast<I>(row);
            t.data.data()[slot] = z.data[e];
        }
    }
    return t;
}

// y = A x, rows in parallel (each row's sum in storage order).
template <class I>
void multiply(const CsrView<I, double>& a, const double* x, double* y, int n_threads) {
    const std::int64_t n_tasks = std::min<std::int64_t>(std::max<std::int64_t>(a.n_rows, 1), tasks_for(n_threads));
    parallel_for(n_tasks, n_threads, [&](std::int64_t task, int) {
        const std::int64_t begin = a.n_rows * task / n_tasks, end = a.n_rows * (task + 1) / n_tasks;
        for (std::int64_t row = begin; row < end; ++row) {
            double sum = 0;
            for (std::int64_t e = a.row_begin(row); e < a.row_end(row); ++e) sum += a.data[e] * x[a.indices[e]];
            y[row] = sum;
        }
    });
}

// y = M x (transpose: M^T x) for M (rows x cols, row-major).
inline void gemv(const double* m, std::int64_t rows, std::int64_t cols, bool transpose, const double* x, double* y) {
    if (!transpose) {
        for (std::int64_t r = 0; r < rows; ++r) y[r] = dot<false>(m + r * cols, x, cols);
        return;
    }
    std::fill(y, y + cols, 0.0);
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t col = 0; col < cols; ++col) y[col] += m[r * cols + col] * x[r];
    }
}

}  // namespace detail

template <class I>
Bidiagonalization bidiagonalize(const CsrView<I, double>& z, const double* c_matrix, std::int64_t k,
                                const double* p0, std::int64_t l, double tiny) {
    PYNLA_REQUIRE(l >= 0 && k >= 0 && tiny >= 0, "l, k and tiny must be non-negative");
    const std::int64_t s = z.n_rows, n_rows = z.n_cols;
    const auto z_t = detail::transpose(z);
    const CsrView<I, double> y_t{n_rows, s, z_t.indptr.data(), z_t.indices.data(), z_t.data.data()};
    const int n_threads = threads_for(12 * z.nnz());

    Bidiagonalization out{0, Buffer<double>(l * n_rows), Buffer<double>(l * k)};
    Buffer<double> p(std::max<std::int64_t>(l + 1, 1) * s), work(std::max(s, k));
    std::copy(p0, p0 + s, p.data());
    double beta = 0;
    for (std::int64_t i = 0; i < l; ++i) {
        double* b = out.b.data() + i * n_rows;
        double* c = out.c.data() + i * k;
        const double* p_i = p.data() + i * s;
        detail::multiply(y_t, p_i, b, n_threads);
        detail::gemv(c_matrix, k, s, false, p_i, c);
        if (i > 0) {
            const double* b_prev = b - n_rows;
            const double* c_prev = c - k;
            for (std::int64_t r = 0; r < n_rows; ++r) b[r] -= beta * b_prev[r];
            for (std::int64_t r = 0; r < k; ++r) c[r] -= beta * c_prev[r];
        }
        const double alpha = std::sqrt(std::max(dot<false>(b, b, n_rows) - dot<false>(c, c, k), 0.0));
        if (!(alpha > tiny)) break;
        for (std::int64_t r = 0; r < n_rows; ++r) b[r] /= alpha;
        for (std::int64_t r = 0; r < k; ++r) c[r] /= alpha;
        out.steps = i + 1;
        if (out.steps == l) break;

        double* p_next = p.data() + (i + 1) * s;
        detail::multiply(z, b, p_next, n_threads);
        detail::gemv(c_matrix, k, s, true, c, work.data());
        for (std::int64_t j = 0; j < s; ++j) p_next[j] -= work.data()[j] + alpha * p_i[j];
        for (int pass = 0; pass < 2; ++pass) {
            for (std::int64_t j = 0; j <= i; ++j) {
                const double* p_j = p.data() + j * s;
                const double h = dot<false>(p_j, p_next, s);
                for (std::int64_t r = 0; r < s; ++r) p_next[r] -= h * p_j[r];
            }
        }
        beta = std::sqrt(dot<false>(p_next, p_next, s));
        if (!(beta > tiny)) break;
        for (std::int64_t r = 0; r < s; ++r) p_next[r] /= beta;
    }
    out.b.shrink_to(out.steps * n_rows);
    out.c.shrink_to(out.steps * k);
    return out;
}

}  // namespace pynla::svd_update
