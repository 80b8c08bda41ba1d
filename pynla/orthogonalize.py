"""Orthonormal bases of tall blocks: ``orthogonalize(V, Q)``, block Gram-Schmidt against an
orthonormal basis with the block normalized by Cholesky QR, and the dense helpers it rests on
(Gram matrices, Cholesky factors, exact power-of-two scaling, small eigendecompositions),
shared by the randomized SVD, CUR, SVD updating, QR and least squares.
"""

import functools
import math

import numpy as np
import scipy.linalg

from pynla import _core
from pynla._threads import blas_threads_for, one_blas_thread, small_lapack_threads
from pynla._validation import dense_compute_dtype

__all__ = ["orthogonalize"]

#: A direction of a new block that keeps less than this fraction of its squared length once
#: projected off the basis lay inside the basis (it carries rounding only): it is redrawn.
LOST = 1e-2

#: How many times a block may have directions redrawn before the basis is given up on.
MAX_REDRAWS = 4

#: A thin block is orthonormalized by Cholesky QR only where its rows pass this many times its
#: columns (Householder QR below: measured crossing near 5 to 8 on one BLAS thread).
CHOLESKY_ROWS_PER_COLUMN = 6


def orthogonalize(V, Q=None, *, return_coefficients=False, rng=None, check_finite=True):
    """Orthonormal columns spanning the part of V's column space orthogonal to Q's.

    Block classical Gram-Schmidt, twice ("twice is enough"), with the block normalized after
    each pass: V's components along Q are removed (``V - Q (Q^H V)``), the block is made
    orthonormal by Cholesky QR (Householder QR where it is ill conditioned), and both steps are
    repeated once, which removes what rounding left. Each step is a few matrix-matrix products
    (``Q^H V``, ``Q C``, the block's Gram matrix) and a k x k factorization, so a block of k
    columns costs about ``4 n k (p + k)`` flops against a basis of p columns, at the BLAS-3 rate.

    A direction of V that lies in Q's span or in the span of V's other columns (V without full
    column rank once Q's span is removed) leaves only rounding after the second pass: it is
    replaced by another direction orthogonal to Q and to the rest (what the normalization
    makes of the rounding, or, where that too is lost, an eigenvalue of the block's Gram
    matrix below 1e-2, a random one), so W always has V's k columns, orthonormal and
    orthogonal to Q, as block Krylov methods need to keep their width; the rows of R that
    belong to replacements are at the level of rounding. The randomized SVD and range finder
    build their bases with it. V of any magnitude is scaled by a power of two first (exactly).

    Parameters
    ----------
    V : array_like, shape (n, k)
        The block; k <= n - p.
    Q : array_like, shape (n, p), optional
        Orthonormal columns (``Q^H Q = I`` to rounding; not checked: W is orthogonal to Q only
        as far as Q is orthonormal). None (default) or p = 0: V is only made orthonormal.
    return_coefficients : bool, optional
        Also return ``C = Q^H V`` and ``R = W^H V``: ``V = Q C + W R`` to rounding (R is
        upper triangular only where no direction was replaced; a replaced direction's row of R
        is at the level of rounding).
    rng : None, int or numpy.random.Generator, optional
        Randomness for the directions that replace lost ones (used only then).
    check_finite : bool, optional
        Whether to refuse NaN and infinity in V and Q (default True).

    Returns
    -------
    W : ndarray, shape (n, k)
        Orthonormal columns (``W^H W = I`` and ``Q^H W = 0`` to rounding), in V's and Q's dtype
        (float32, float64, complex64 or complex128; integers in float64, float16 in float32).
    C : ndarray, shape (p, k)
        Only with ``return_coefficients`` (shape (0, k) without Q).
    R : ndarray, shape (k, k)
        Only with ``return_coefficients``.

    Raises
    ------
    ValueError
        If V or Q is not 2-D, their rows differ, V has more columns than the n - p directions
        orthogonal to Q, or (with ``check_finite``) either holds NaN or infinity.

    See Also
    --------
    scipy.linalg.orth : an orthonormal basis of a matrix's range, by its SVD.
    pynla.qr : the QR factorization of a tall matrix, by Cholesky QR.

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> Q = pynla.orthogonalize(rng.standard_normal((1000, 20)))
    >>> V = rng.standard_normal((1000, 5))
    >>> W, C, R = pynla.orthogonalize(V, Q, return_coefficients=True)
    >>> bool(np.allclose(W.T @ W, np.eye(5)) and np.allclose(Q.T @ W, 0))
    True
    >>> bool(np.allclose(Q @ C + W @ R, V))
    True
    """
    V = _checked_matrix(V, "V", check_finite)
    n, k = V.shape
    if Q is not None:
        Q = _checked_matrix(Q, "Q", check_finite)
        if Q.shape[0] != n:
            raise ValueError(f"Q has {Q.shape[0]} rows, V has {n}: they must have the same rows")
        if Q.shape[1] == 0:
            Q = None
    p = 0 if Q is None else Q.shape[1]
    if k > n - p:
        raise ValueError(f"V has {k} columns but only {n - p} directions are orthogonal to Q's {p} columns in {n} rows")
    dtype = dense_compute_dtype(np.result_type(V.dtype, V.dtype if Q is None else Q.dtype), "V")
    V = np.asarray(V, dtype=dtype)
    Q = None if Q is None else np.asarray(Q, dtype=dtype)
    # Small blocks on one BLAS thread (the rule of pynla._threads: threads that spin between
    # small calls only take the cores from each other).
    with blas_threads_for(4 * n * k * (p + k)):
        W = orthonormal_block(V, Q, np.random.default_rng(rng)) if k > 0 else np.zeros((n, 0), dtype=dtype)
        if not return_coefficients:
            return W
        C = np.zeros((0, k), dtype=dtype) if Q is None else inner(Q, V)
        return W, C, inner(W, V)


def _checked_matrix(M, name, check_finite):
    M = np.asarray_chkfinite(M) if check_finite else np.asarray(M)
    if M.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {M.shape}")
    return M


def gaussian(rng, shape, dtype):
    """Standard normal entries of ``dtype``; complex: independent real and imaginary parts."""
    real = np.finfo(dtype).dtype
    if dtype.kind != "c":
        return rng.standard_normal(shape, dtype=real)
    omega = np.empty(shape, dtype=dtype)
    omega.real = rng.standard_normal(shape, dtype=real)
    omega.imag = rng.standard_normal(shape, dtype=real)
    return omega


def orthonormal_block(Y, P, rng, redraws=MAX_REDRAWS):
    """Orthonormal columns spanning the part of Y orthogonal to the orthonormal columns P.

    Block classical Gram-Schmidt twice ("twice is enough"), with the block normalized after
    each pass: the first pass removes P's directions from Y, which is then normalized
    (Cholesky QR, or Householder QR if Y is ill conditioned); the second removes what rounding
    left along P, and the block, now nearly orthonormal, is normalized again, safely. A
    direction of Y that lay inside P (or inside the rest of the block), as in the randomized
    SVD of a matrix of low rank, has almost nothing left after the second pass: its Gram matrix then has an
    eigenvalue below LOST, found by an eigendecomposition (taken only then: it costs ten
    Cholesky factorizations), and the direction is dropped; a random block orthogonal to P and
    the rest takes its place, so the result is always orthonormal, with Y's columns' count.
    P None: normalization only.
    """
    eps = np.finfo(Y.dtype).eps
    Y = unit_norm(Y)[0]  # its norms and Gram matrices neither overflow nor underflow
    if P is not None:
        Y = project_out(Y, P)
    Y, exact = normalized(Y, eps)
    if exact and P is None:
        return Y
    if P is not None:
        Y = project_out(Y, P)
    G = gram(Y)
    if np.linalg.norm(G - np.eye(len(G))) < 1 - LOST:  # no eigenvalue below LOST: all kept
        Q = cholesky_orthonormal(Y, G)
        if Q is not None:
            return Q
    values, vectors = small_eigh(G)  # ascending; near 1 for directions kept
    kept = values > LOST
    Y = Y @ (vectors[:, kept] / np.sqrt(values[kept]))
    if kept.all():
        return Y
    if redraws == 0:
        raise np.linalg.LinAlgError("could not extend the orthonormal basis: random blocks keep falling inside it")
    basis = Y if P is None else np.hstack([P, Y])
    fresh = gaussian(rng, (Y.shape[0], int(np.sum(~kept))), Y.dtype)
    return np.hstack([Y, orthonormal_block(fresh, basis, rng, redraws - 1)])


def project_out(Y, P):
    """``Y - P (P^H Y)``, a new Fortran-ordered array, by the core's passes over ranges of rows
    (tall/project.hpp): its sums are the same bits for any number of threads, pynla's or the
    BLAS's, where NumPy's products split them by the BLAS's thread count."""
    Y = np.array(Y, order="F")
    with one_blas_thread():  # one BLAS call per range, on pynla's threads
        _core.tall_project_out(np.asfortranarray(P), Y)
    return Y


@functools.lru_cache(maxsize=64)
def lapack_routine(name, dtype):
    """SciPy's wrapper of the LAPACK routine ``name`` for ``dtype`` (looked up once: the lookup
    costs about 10 us, as much as a small factorization)."""
    return scipy.linalg.lapack.get_lapack_funcs(name, dtype=dtype)


def blas_readable(A):
    """True if BLAS reads A in place: aligned, one unit stride, the other a row/column step."""
    if not A.flags.aligned:
        return False
    if A.flags.c_contiguous or A.flags.f_contiguous:
        return True
    (rows, cols), (row_step, col_step), item = A.shape, A.strides, A.itemsize
    return (col_step == item and row_step % item == 0 and row_step >= item * cols) or (
        row_step == item and col_step % item == 0 and col_step >= item * rows
    )


def gram(Y):
    """``Y^H Y`` by the core's Gram pass (tall/gram.hpp): the same bits for any number of
    threads, pynla's or the BLAS's. Y is read in place where BLAS can read it (blas_readable),
    else copied first."""
    if not blas_readable(Y):
        Y = np.ascontiguousarray(Y)
    with one_blas_thread():  # one BLAS call per range, on pynla's threads
        return _core.tall_gram(Y)


def unit_norm(Y):
    """(Y 2**-e, e): Y scaled by the power of two that takes its Frobenius norm to between
    1 / (2 sqrt(Y.size)) and 1, chosen from its largest magnitude (no sum of squares, which
    would overflow or underflow first). Exact wherever the result is normal: the methods here are
    invariant to the scale of a block, and this keeps every product and Gram matrix in range,
    for A of any magnitude whose norm is representable."""
    largest = float(np.max(np.abs(Y), initial=0))
    if not 0 < largest < np.inf:
        return Y, 0
    exponent = math.frexp(largest)[1] + math.ceil(math.log2(math.sqrt(Y.size)))
    return times_power_of_two(Y, -exponent), exponent


def times_power_of_two(Y, exponent):
    """Y 2**exponent, exactly (where the result is normal), in Y's dtype. In two halves: a
    single factor 2**exponent need not be representable (2**1074 is not, in float64)."""
    if exponent == 0:
        return Y
    real = np.finfo(Y.dtype).dtype.type
    half = exponent // 2
    return (Y * real(2.0**half)) * real(2.0 ** (exponent - half))


def inner(X, Y):
    """X^H Y; complex: as (Y^H X)^H, which conjugates Y (a block) instead of X (the basis)."""
    if X.dtype.kind == "c":
        return (Y.conj().T @ X).conj().T
    return X.T @ Y


def small_eigh(G):
    """Eigenvalues (ascending) and eigenvectors of a small Hermitian Gram matrix G, by LAPACK's
    syevd/heevd called directly (numpy.linalg.eigh costs about 60 us a call around the work,
    most of a 16 x 16 problem's time); on one BLAS thread from SMALL_LAPACK_ORDER up."""
    with small_lapack_threads(G.shape[0]):
        return eigh_lapack(G)


def eigh_lapack(G, vectors=True):
    """small_eigh on the BLAS threads in force (for callers already on one BLAS thread); G may
    be overwritten. With ``vectors=False``, the eigenvalues alone (ascending)."""
    name = "heevd" if G.dtype.kind == "c" else "syevd"
    driver = lapack_routine(name, G.dtype)
    values, eigenvectors, info = driver(G, compute_v=int(vectors), lower=1, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK {name} did not converge (info {info})")
    return (values, eigenvectors) if vectors else values


def cholesky_orthonormal(Y, G):
    """Y R^-1 for the Cholesky factor R^H R = G of Y's Gram matrix G, or None if G is not
    numerically positive definite. Orthonormal to about eps cond(Y)**2."""
    R = cholesky_factor(G)
    return None if R is None else Y @ triangular_inverse(R)


def cholesky_factor(G, min_reciprocal_condition=None):
    """The upper Cholesky factor R (R^H R = G, strictly lower part zero) of a Hermitian G, or
    None if G is not numerically positive definite or, with ``min_reciprocal_condition``,
    LAPACK's estimate of ``1 / cond(G)`` (pocon) is below it."""
    potrf, pocon = lapack_routine("potrf", G.dtype), lapack_routine("pocon", G.dtype)
    R, info = potrf(G, lower=0, clean=1)
    if info != 0:
        return None
    if min_reciprocal_condition is not None:
        reciprocal_condition, info = pocon(R, np.linalg.norm(G, 1))
        if not (info == 0 and reciprocal_condition >= min_reciprocal_condition):
            return None
    return R


def triangular_inverse(R):
    """The inverse of a Cholesky factor R (upper triangular, positive diagonal), by trtri, for
    products through NumPy's BLAS: SciPy's trsm would run on SciPy's own OpenBLAS, whose
    threads then spin and take the cores from NumPy's BLAS in the products that follow
    (20000 x 2000, k = 50, 2 threads: 1.10 s a call against 0.87). R is well conditioned where
    it is used (checked, or the factor of a Gram matrix near I)."""
    return lapack_routine("trtri", R.dtype)(R, lower=0)[0]


def cholesky_qr_pass(Y, eps):
    """(Q, M) with ``Y = Q M`` and Q's columns orthonormal, or None if Y is ill conditioned.

    Cholesky QR of Y with unit columns: Y's Gram matrix scaled by its diagonal, ``D^-1 G D^-1
    = R^H R`` (D: the column norms), gives ``Q = Y D^-1 R^-1`` in a thin product and a
    triangular inverse (Householder QR of a tall block costs several times more, an
    eigendecomposition of G ten times the Cholesky factorization at order 56), with one pass
    over Y for G and one for Q. Q is orthonormal to about ``eps * cond(Y D^-1)**2``, so the
    result is given only where LAPACK's estimate of the scaled Gram matrix's ``1 / cond``
    (pocon) passes ``sqrt(eps)``: Q is then orthonormal to about ``sqrt(eps)``, and a second
    pass makes it orthonormal to rounding.
    """
    G = gram(Y)
    norms = np.sqrt(G.diagonal().real)
    if not norms.min() > 0:
        return None
    R = cholesky_factor(G / np.outer(norms, norms), min_reciprocal_condition=np.sqrt(eps))
    if R is None:
        return None
    return Y @ (triangular_inverse(R) / norms[:, None]), R * norms


def normalized(Y, eps):
    """(Q, exact): Q's columns orthonormal, spanning Y's; exact if by Householder QR (orthonormal
    to rounding), else by one Cholesky QR (orthonormal to sqrt(eps))."""
    factored = cholesky_qr_pass(Y, eps)
    if factored is not None:
        return factored[0], False
    return scipy.linalg.qr(Y, mode="economic", check_finite=False)[0], True


def thin_factors(Y, eps):
    """(W, M) with ``Y = W M``, W's columns orthonormal to rounding: Cholesky QR twice where Y is
    tall and well conditioned, else Householder QR (cheaper on a squat block, safe on any)."""
    if Y.shape[0] > CHOLESKY_ROWS_PER_COLUMN * Y.shape[1]:
        first = cholesky_qr_pass(Y, eps)
        second = None if first is None else cholesky_qr_pass(first[0], eps)
        if second is not None:
            return second[0], second[1] @ first[1]
    return scipy.linalg.qr(Y, mode="economic", check_finite=False)

