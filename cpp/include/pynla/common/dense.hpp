// The dense BLAS/LAPACK the core calls: a table of function pointers, filled once at import from
// the routines SciPy already loaded (scipy.linalg.cython_blas / cython_lapack capsules). One BLAS
// in the process, the one threadpoolctl controls, and nothing extra to link. A C++-only build may
// fill the same table from any Fortran-ABI BLAS. Matrices are column-major, as in Fortran.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <type_traits>

#include "pynla/common/error.hpp"
#include "pynla/common/scalar.hpp"

namespace pynla::dense {

using fint = int;  // SciPy's BLAS/LAPACK take 32-bit Fortran integers (LP64)

// Every routine the table holds, by its BLAS/LAPACK name.
#define PYNLA_DENSE_ROUTINES(X) \
    X(sgemm) X(dgemm) X(cgemm) X(zgemm) \
    X(sgemv) X(dgemv) X(cgemv) X(zgemv) \
    X(sgesv) X(dgesv) X(cgesv) X(zgesv) \
    X(ssyrk) X(dsyrk) X(cherk) X(zherk) \
    X(strmm) X(dtrmm) X(ctrmm) X(ztrmm) \
    X(strsm) X(dtrsm) X(ctrsm) X(ztrsm) \
    X(spotrf) X(dpotrf)

struct Table {
#define PYNLA_DENSE_SLOT(name) void* name = nullptr;
    PYNLA_DENSE_ROUTINES(PYNLA_DENSE_SLOT)
#undef PYNLA_DENSE_SLOT
};

inline Table& table() {
    static Table the_table;
    return the_table;
}

namespace detail {
template <class Function>
Function* routine(void* slot, const char* name) {
    if (slot == nullptr) throw std::runtime_error(std::string("dense routine not loaded: ") + name);
    return reinterpret_cast<Function*>(slot);
}

template <class T, class F32, class F64, class C64, class C128>
auto& pick(F32& f32, F64& f64, C64& c64, C128& c128) {
    if constexpr (std::is_same_v<T, float>) return f32;
    else if constexpr (std::is_same_v<T, double>) return f64;
    else if constexpr (std::is_same_v<T, std::complex<float>>) return c64;
    else return c128;
}

inline void check_info(fint info, const char* routine_name) {
    if (info < 0) throw std::invalid_argument(std::string(routine_name) + ": argument " +
                                              std::to_string(-info) + " is invalid");
}
}  // namespace detail

// C = alpha op(A) op(B) + beta C
template <class T>
void gemm(char trans_a, char trans_b, fint m, fint n, fint k, T alpha, const T* a, fint lda,
          const T* b, fint ldb, T beta, T* c, fint ldc) {
    using Gemm = void(const char*, const char*, const fint*, const fint*, const fint*, const T*,
                      const T*, const fint*, const T*, const fint*, const T*, T*, const fint*);
    auto& t = table();
    auto* f = detail::routine<Gemm>(detail::pick<T>(t.sgemm, t.dgemm, t.cgemm, t.zgemm), "gemm");
    f(&trans_a, &trans_b, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

// y = alpha op(A) x + beta y (x and y with unit stride)
template <class T>
void gemv(char trans, fint m, fint n, T alpha, const T* a, fint lda, const T* x, T beta, T* y) {
    using Gemv = void(const char*, const fint*, const fint*, const T*, const T*, const fint*, const T*, const fint*,
                      const T*, T*, const fint*);
    auto& t = table();
    auto* f = detail::routine<Gemv>(detail::pick<T>(t.sgemv, t.dgemv, t.cgemv, t.zgemv), "gemv");
    const fint one = 1;
    f(&trans, &m, &n, &alpha, a, &lda, x, &one, &beta, y, &one);
}

// C = alpha A^H A + beta C (trans 'C') or alpha A A^H + beta C (trans 'N'), on C's `uplo`
// triangle: syrk for real T (where ^H is ^T), herk for complex T (alpha and beta real).
template <class T>
void herk(char uplo, char trans, fint n, fint k, RealOf<T> alpha, const T* a, fint lda, RealOf<T> beta, T* c,
          fint ldc) {
    using Herk = void(const char*, const char*, const fint*, const fint*, const RealOf<T>*, const T*, const fint*,
                      const RealOf<T>*, T*, const fint*);
    auto& t = table();
    auto* f = detail::routine<Herk>(detail::pick<T>(t.ssyrk, t.dsyrk, t.cherk, t.zherk), "herk");
    const char blas_trans = (trans == 'C' && !is_complex_v<T>) ? 'T' : trans;
    f(&uplo, &blas_trans, &n, &k, &alpha, a, &lda, &beta, c, &ldc);
}

namespace detail {
// trmm and trsm: the same Fortran signature, from the table's `slot` for T.
template <class T>
void triangular(void* slot, const char* name, char side, char uplo, char trans_a, char diag, fint m, fint n, T alpha,
                const T* a, fint lda, T* b, fint ldb) {
    using Triangular = void(const char*, const char*, const char*, const char*, const fint*, const fint*, const T*,
                            const T*, const fint*, T*, const fint*);
    routine<Triangular>(slot, name)(&side, &uplo, &trans_a, &diag, &m, &n, &alpha, a, &lda, b, &ldb);
}
}  // namespace detail

// B = alpha B op(A) (side 'R') or alpha op(A) B (side 'L') for triangular A, in place.
template <class T>
void trmm(char side, char uplo, char trans_a, char diag, fint m, fint n, T alpha, const T* a, fint lda, T* b,
          fint ldb) {
    auto& t = table();
    detail::triangular<T>(detail::pick<T>(t.strmm, t.dtrmm, t.ctrmm, t.ztrmm), "trmm", side, uplo, trans_a, diag, m, n,
                          alpha, a, lda, b, ldb);
}

// B = alpha B op(A)^-1 (side 'R') or alpha op(A)^-1 B (side 'L') for triangular A, in place.
template <class T>
void trsm(char side, char uplo, char trans_a, char diag, fint m, fint n, T alpha, const T* a, fint lda, T* b,
          fint ldb) {
    auto& t = table();
    detail::triangular<T>(detail::pick<T>(t.strsm, t.dtrsm, t.ctrsm, t.ztrsm), "trsm", side, uplo, trans_a, diag, m, n,
                          alpha, a, lda, b, ldb);
}

// Solves A X = B in place (B becomes X, A its LU factors). Throws linalg_error if A is singular.
template <class T>
void gesv(fint n, fint n_rhs, T* a, fint lda, fint* pivots, T* b, fint ldb) {
    using Gesv = void(const fint*, const fint*, T*, const fint*, fint*, T*, const fint*, fint*);
    auto& t = table();
    auto* f = detail::routine<Gesv>(detail::pick<T>(t.sgesv, t.dgesv, t.cgesv, t.zgesv), "gesv");
    fint info = 0;
    f(&n, &n_rhs, a, &lda, pivots, b, &ldb, &info);
    detail::check_info(info, "gesv");
    if (info > 0) throw linalg_error("Singular matrix");
}

// Cholesky factor of a real symmetric positive definite matrix, in place ('L' or 'U').
template <class T>
void potrf(char uplo, fint n, T* a, fint lda) {
    static_assert(std::is_floating_point_v<T>, "potrf: real types only");
    using Potrf = void(const char*, const fint*, T*, const fint*, fint*);
    auto& t = table();
    auto* f = detail::routine<Potrf>(std::is_same_v<T, float> ? t.spotrf : t.dpotrf, "potrf");
    fint info = 0;
    f(&uplo, &n, a, &lda, &info);
    detail::check_info(info, "potrf");
    if (info > 0) throw linalg_error("Matrix is not positive definite");
}

}  // namespace pynla::dense
