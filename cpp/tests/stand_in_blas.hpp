// Plain-loop stand-ins for the BLAS routines the dense-backed kernels call through the table
// (dense.hpp), with the Fortran signatures: the C++ tests fill the table with them, so that they
// check the kernels' own logic under the sanitizers without linking a BLAS. Real and complex;
// only the argument combinations the kernels use (anything else aborts).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "pynla/common/dot.hpp"
#include "pynla/common/scalar.hpp"

namespace pynla::checks {

// y = alpha op(A) x + beta y (unit strides only; beta = 0 ignores y).
template <class T>
void stand_in_gemv(const char* trans, const int* m, const int* n, const T* alpha, const T* a, const int* lda,
                   const T* x, const int* incx, const T* beta, T* y, const int* incy) {
    if (*incx != 1 || *incy != 1) std::abort();
    const bool transposed = *trans != 'N';
    const int outputs = transposed ? *n : *m, inputs = transposed ? *m : *n;
    for (int o = 0; o < outputs; ++o) {
        T sum{};
        for (int i = 0; i < inputs; ++i) {
            T element = transposed ? a[o * std::int64_t{*lda} + i] : a[i * std::int64_t{*lda} + o];
            if (*trans == 'C') element = conjugate(element);
            sum += element * x[i];
        }
        y[o] = *alpha * sum + (*beta == T(0) ? T(0) : *beta * y[o]);
    }
}

// C = alpha op(A) op(B) + beta C (beta = 0 ignores C).
template <class T>
void stand_in_gemm(const char* trans_a, const char* trans_b, const int* m, const int* n, const int* k, const T* alpha,
                   const T* a, const int* lda, const T* b, const int* ldb, const T* beta, T* c, const int* ldc) {
    for (int j = 0; j < *n; ++j) {
        for (int i = 0; i < *m; ++i) {
            T sum{};
            for (int l = 0; l < *k; ++l) {
                T left = *trans_a == 'N' ? a[l * std::int64_t{*lda} + i] : a[i * std::int64_t{*lda} + l];
                if (*trans_a == 'C') left = conjugate(left);
                T right = *trans_b == 'N' ? b[j * std::int64_t{*ldb} + l] : b[l * std::int64_t{*ldb} + j];
                if (*trans_b == 'C') right = conjugate(right);
                sum += left * right;
            }
            T& out = c[j * std::int64_t{*ldc} + i];
            out = *alpha * sum + (*beta == T(0) ? T(0) : *beta * out);
        }
    }
}

// C = alpha op(A) + beta C on C's upper triangle, op(A) = A^H A (trans 'C' or 'T') or A A^H
// (trans 'N').
template <class T>
void stand_in_herk(const char* uplo, const char* trans, const int* n, const int* k, const RealOf<T>* alpha,
                   const T* a, const int* lda, const RealOf<T>* beta, T* c, const int* ldc) {
    if (*uplo != 'U') std::abort();
    const bool gram_of_columns = *trans != 'N';
    for (int j = 0; j < *n; ++j) {
        for (int i = 0; i <= j; ++i) {
            T sum{};
            for (int l = 0; l < *k; ++l) {
                sum += gram_of_columns ? conjugate(a[i * std::int64_t{*lda} + l]) * a[j * std::int64_t{*lda} + l]
                                       : a[l * std::int64_t{*lda} + i] * conjugate(a[l * std::int64_t{*lda} + j]);
            }
            T& out = c[j * std::int64_t{*ldc} + i];
            out = T(*alpha) * sum + (*beta == 0 ? T(0) : T(*beta) * out);
        }
    }
}

// B = alpha B A (side 'R', no transpose) or alpha A^T B (side 'L', trans 'T') for upper
// triangular A with a non-unit diagonal, in place; with `solve`, B A^-1 or A^-T B instead.
template <class T, bool solve>
void stand_in_triangular(const char* side, const char* uplo, const char* trans, const char* diag, const int* m,
                         const int* n, const T* alpha, const T* a, const int* lda, T* b, const int* ldb) {
    if (*uplo != 'U' || *diag != 'N') std::abort();
    const auto A = [&](int i, int j) { return a[j * std::int64_t{*lda} + i]; };
    const auto B = [&](int i, int j) -> T& { return b[j * std::int64_t{*ldb} + i]; };
    if (*side == 'R' && *trans == 'N') {  // each row x of B: x A (or x A^-1, forward substitution)
        std::vector<T> row(static_cast<std::size_t>(*n));
        for (int i = 0; i < *m; ++i) {
            for (int j = 0; j < *n; ++j) {
                T sum = solve ? B(i, j) : T(0);
                for (int l = 0; l < j; ++l) sum += (solve ? -row[l] : B(i, l)) * A(l, j);
                row[j] = solve ? sum / A(j, j) : sum + B(i, j) * A(j, j);
            }
            for (int j = 0; j < *n; ++j) B(i, j) = *alpha * row[j];
        }
    } else if (*side == 'L' && *trans == 'T') {  // each column x of B: A^T x (or A^-T x)
        std::vector<T> column(static_cast<std::size_t>(*m));
        for (int j = 0; j < *n; ++j) {
            for (int i = 0; i < *m; ++i) {
                T sum = solve ? B(i, j) : T(0);
                for (int l = 0; l < i; ++l) sum += A(l, i) * (solve ? -column[l] : B(l, j));
                column[i] = solve ? sum / A(i, i) : sum + A(i, i) * B(i, j);
            }
            for (int i = 0; i < *m; ++i) B(i, j) = *alpha * column[i];
        }
    } else {
        std::abort();
    }
}

}  // namespace pynla::checks
