"""QR factorization of tall matrices by Cholesky QR, with LAPACK where it would not win.

Householder QR (LAPACK's geqrf and orgqr, behind ``scipy.linalg.qr``) works on panels a few
columns wide, so much of its time runs at matrix-vector speed. Cholesky QR does the same job
with Gram matrices and triangular multiplications, which run at matrix-matrix speed: ``G = A^H
A = R^H R`` (Cholesky) gives ``Q = A R^-1``. Q is orthonormal only to about ``eps cond(A)**2``,
so the pass is repeated on Q while the Gram matrix of the last Q says it is not orthonormal to
rounding (CholeskyQR2: Yamamoto, Nakatsukasa, Yanagisawa and Fukaya 2015); where A is too ill
conditioned for its Cholesky factorization, the first pass factors ``A^H A + s I`` with a small
shift s (shifted CholeskyQR3: Fukaya, Kannan, Nakatsukasa, Yamamoto and Yanagisawa 2020); a
numerically rank-deficient A goes to LAPACK. Every decision reads a Gram matrix the method
computes anyway, so the checks cost nothing extra.
"""

import numpy as np
import scipy.linalg

from pynla import _core
from pynla._threads import one_blas_thread
from pynla.orthogonalize import cholesky_factor, times_power_of_two, triangular_inverse, unit_norm

__all__ = ["qr"]

#: The modes of scipy.linalg.qr.
MODES = ("full", "r", "economic", "raw")

#: Cholesky QR is used where A has at least this many rows per column (below, Householder QR
#: is about as fast, and the full Q of mode="full" is square anyway) ...
MIN_ROWS_PER_COLUMN = 4

#: ... and at least this many entries: below, its fixed cost (about 60 us of calls) is more
#: than LAPACK's whole QR (one BLAS thread or two, 2 cores: 400 x 20, 103 against 79 us;
#: 1000 x 20, 161 against 310 us).
MIN_ENTRIES = 1 << 14

#: A Q whose Gram matrix is within this many units of rounding of the identity (largest entry
#: of ``Q^H Q - I``) is orthonormal to rounding: Householder QR's Q measures 1-3 units here.
ORTHONORMAL_UNITS = 16

#: The first pass takes the shifted Gram matrix where LAPACK's estimate of ``1 / cond(A^H A)``
#: is below this many units of rounding: Cholesky QR's Q then has a condition number near
#: ``eps**-1/2`` or worse, past what the passes after it can repair.
SHIFT_BELOW_UNITS = 100

#: Passes of Cholesky QR after the first before LAPACK takes over (two repair any Q whose
#: Gram matrix the first pass could factor).
MAX_REPAIR_PASSES = 2


def qr(a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    """QR decomposition of a matrix: ``a = Q @ R``, by Cholesky QR where a is tall.

    ``scipy.linalg.qr``'s signature and results. For ``mode="economic"`` and ``mode="r"``
    without pivoting, on a matrix with at least 4 rows per column and 16384 entries, the
    factors come from Cholesky QR (Gram matrices and triangular products at matrix-matrix
    speed, see Notes); every other call is ``scipy.linalg.qr``'s.

    Parameters
    ----------
    a : array_like, shape (m, n)
        The matrix. Any dtype ``scipy.linalg.qr`` takes; it computes in the same dtype (float32,
        float64, complex64 or complex128; integers in float64).
    overwrite_a, lwork : optional
        As for ``scipy.linalg.qr`` (used only where it computes; a is never overwritten by
        Cholesky QR).
    mode : {"full", "r", "economic", "raw"}, optional
        As for ``scipy.linalg.qr``: "economic" gives Q of shape (m, n) and R (n, n), "r" the
        tuple ``(R,)``.
    pivoting : bool, optional
        Column pivoting, by ``scipy.linalg.qr``.
    check_finite : bool, optional
        Whether to refuse NaN and infinity (default True), as ``scipy.linalg.qr``.

    Returns
    -------
    Q : ndarray
        Orthonormal columns, shape (m, n) for "economic". Not returned for "r".
    R : ndarray
        Upper triangular, shape (n, n) for "economic" and "r". From Cholesky QR, its diagonal
        is real and positive (the one QR factorization of a full-rank a with that property);
        LAPACK's Householder QR may differ from it in the signs of R's rows and Q's columns.

    Raises
    ------
    ValueError
        If a is not 2-D, holds NaN or infinity (with ``check_finite``), or mode is not one of
        the four, as ``scipy.linalg.qr``.

    See Also
    --------
    scipy.linalg.qr : Householder QR, which this calls where Cholesky QR would not win.

    Notes
    -----
    Each pass forms the Gram matrix ``G = Y^H Y`` of the current factor Y (a to begin with),
    factors ``G = R_p^H R_p`` and replaces Y by ``Y R_p^-1``; R is the product of the R_p.
    After the first pass, the Gram matrix of the new Y is also its test: when its largest
    entry off the identity is within 16 units of rounding, Y is Q. A well-conditioned a takes
    two Gram matrices and one triangular product; a matrix of condition up to about
    ``eps**-1/2`` one pass more (CholeskyQR2). Where a's Gram matrix is too ill conditioned
    for Cholesky (LAPACK's estimate of its reciprocal condition below 100 eps, or the
    factorization fails), the first pass factors ``G + s I`` with ``s = 11 (m n + n (n + 1))
    eps ||a||_2^2`` (shifted CholeskyQR3), which takes a up to condition about ``1 / eps``.
    A numerically rank-deficient a, which no pass can make orthonormal, is handed to LAPACK,
    as is one that still fails the test after two passes more. a is scaled by a power of two
    first (exactly), so that its Gram matrix neither overflows nor underflows.

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> a = np.random.default_rng(0).standard_normal((2000, 50))
    >>> q, r = pynla.qr(a, mode="economic")
    >>> q.shape, r.shape
    ((2000, 50), (50, 50))
    >>> bool(np.allclose(q @ r, a) and np.allclose(q.T @ q, np.eye(50)))
    True
    >>> bool(np.all(np.diag(r) > 0))
    True
    >>> (r_only,) = pynla.qr(a, mode="r")
    >>> bool(np.allclose(r_only, r))
    True
    """
    if mode not in MODES:
        raise ValueError(f"Mode argument should be one of {list(MODES)}")
    array = np.asarray_chkfinite(a) if check_finite else np.asarray(a)
    if array.ndim != 2:
        raise ValueError("expected a 2-D array")
    m, n = array.shape
    if mode not in ("economic", "r") or pivoting or n == 0 or m < MIN_ROWS_PER_COLUMN * n or m * n < MIN_ENTRIES:
        return scipy.linalg.qr(array, overwrite_a=overwrite_a, lwork=lwork, mode=mode, pivoting=pivoting,
                               check_finite=False)
    dtype = scipy.linalg.lapack.get_lapack_funcs("geqrf", (array,)).dtype
    # The working copy becomes Q; a stays whole for LAPACK's turn. Its layout is a's (the core
    # takes either), which makes the copy a plain one.
    work = np.array(array, dtype=dtype, order="F" if array.flags.f_contiguous else "C")
    with one_blas_thread():  # the core's passes run one BLAS call per range of rows on its own threads
        factors = _cholesky_qr(work)
    if factors is None:  # numerically rank deficient, or too ill conditioned: Householder QR
        return scipy.linalg.qr(array, overwrite_a=overwrite_a, lwork=lwork, mode=mode, check_finite=False)
    Q, R = factors
    return (R,) if mode == "r" else (Q, R)


def _cholesky_qr(Y):
    """(Q, R) of the tall C- or Fortran-ordered Y by Cholesky QR passes (see qr's Notes), Q in Y's
    memory, or None where they cannot make an orthonormal Q (Y is then overwritten)."""
    eps = np.finfo(Y.dtype).eps
    exponent, G = 0, _core.tall_gram(Y)
    if not _gram_in_range(G):  # Y's largest entries square out of range: scale Y exactly
        Y, exponent = unit_norm(Y)
        G = _core.tall_gram(Y)
    identity = np.eye(len(G), dtype=Y.dtype)
    factor = cholesky_factor(G, min_reciprocal_condition=SHIFT_BELOW_UNITS * eps)
    if factor is None:
        factor = cholesky_factor(G + _shift(Y, G, eps) * identity)
        if factor is None:
            return None
    _times_inverse(Y, factor)
    R = factor
    for _ in range(MAX_REPAIR_PASSES + 1):
        G = _core.tall_gram(Y)
        if np.max(np.abs(G - identity)) <= ORTHONORMAL_UNITS * eps:
            return Y, times_power_of_two(R, exponent)
        factor = cholesky_factor(G)
        if factor is None:
            return None
        _times_inverse(Y, factor)
        R = factor @ R
    return None


def _gram_in_range(G):
    """Whether the Gram matrix G of A kept A's precision: finite, and its largest diagonal entry
    (A's largest squared column norm) at least 2**(minexp / 2), far above the squares that
    underflow. Otherwise A is scaled first; checking G instead of A's entries saves a pass
    over A in the common case."""
    finfo = np.finfo(G.dtype)
    largest = float(np.max(np.real(np.diagonal(G))))
    return bool(np.isfinite(G).all()) and largest >= 2.0 ** (finfo.minexp // 2)


def _shift(Y, G, eps):
    """Shifted CholeskyQR3's shift ``11 (m n + n (n + 1)) eps ||Y||_2^2``, with the trace of G
    (``||Y||_F^2 >= ||Y||_2^2``) for the squared norm."""
    m, n = Y.shape
    return 11 * (m * n + n * (n + 1)) * eps * float(np.real(np.trace(G)))


def _times_inverse(Y, R):
    """Y <- Y R^-1 in place, for the Cholesky factor R, by the core's pass over Y's rows (R's
    inverse is upper triangular, with a zero lower part, as R's)."""
    _core.tall_times_upper(Y, triangular_inverse(R))
