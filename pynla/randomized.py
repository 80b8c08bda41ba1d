"""Randomized range finder and truncated SVD: block Krylov and subspace iteration.

Both functions see A only through products ``A @ X`` and ``A^H @ X`` with thin dense blocks X,
so A may be a dense array, a SciPy sparse array or matrix, or a ``LinearOperator``. Everything
else is dense LAPACK work on blocks of ``l`` columns. For a large A the products dominate the
cost, and both methods take ``2 q + 2`` of them for ``q`` iterations; block Krylov makes each
count for more (a subspace of ``(q + 1) l`` columns instead of ``l``).

References: N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness",
SIAM Review 53(2), 2011 (subspace iteration); C. Musco, C. Musco, "Randomized block Krylov
methods for stronger and faster approximate singular value decomposition", NeurIPS 2015.
"""

import math

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from pynla._threads import blas_threads_for, small_lapack_threads
from pynla._validation import as_csr_array, check_choice, check_integer, csr_parts, dense_compute_dtype
from pynla.orthogonalize import (
    blas_readable,
    gaussian,
    inner,
    orthonormal_block,
    small_eigh,
    thin_factors,
    times_power_of_two,
    unit_norm,
)

__all__ = ["randomized_range_finder", "randomized_svd"]

#: The values ``method`` takes.
METHODS = ("block_krylov", "power")

#: n_power_iterations for method="block_krylov" when not given: the fewest iterations that
#: reach a Frobenius residual within 1.0001x of the optimal rank-k error on the benchmark
#: matrices (20000 x 5000, k = 50, singular values 1/i and i**-0.5; see randomized_svd Notes).
KRYLOV_ITERATIONS = 3

#: ... and where k is at least KRYLOV_LARGE_RANK of min(m, n) (scikit-learn's threshold for
#: fewer iterations): there the space of (q + 1) l columns spans much of A's smaller side, its
#: dense work costs more than its products, and q = 2 is already more accurate than
#: scikit-learn's 4 iterations (see randomized_svd Notes).
KRYLOV_ITERATIONS_LARGE_RANK = 2
KRYLOV_LARGE_RANK = 0.1

#: The fewest n_oversamples for method="block_krylov" when not given. Its space is (q + 1) times
#: the block width, so oversampling buys less than for subspace iteration: on the benchmark
#: matrices 3 keep the residual within 1.0001x of optimal (1.000001x and 1.00008x) and below
#: scikit-learn's; 2 reach 1.00011x on i**-0.5.
KRYLOV_MIN_OVERSAMPLES = 3

#: The default block width is rounded up to a multiple of this: BLAS multiplies in panels of 4
#: or 8 columns, and a ragged last panel costs about as much as a full one (k = 50: 56 columns
#: took 2.24-2.28 s against 2.36-2.37 s for 53, OpenBLAS on 2 cores, medians of 7 interleaved
#: runs, at a smaller residual: 1.00006x against 1.00008x on i**-0.5).
BLOCK_WIDTH_MULTIPLE = 8

#: n_oversamples for method="power" when not given (scikit-learn's).
POWER_OVERSAMPLES = 10

#: The Ritz step takes the top k eigenvectors of the L x L Gram matrix of B = Q^H A where its
#: k-th eigenvalue is at least this fraction of the largest (sigma_k >= sigma_1 / 1000): the
#: singular values, Rayleigh quotients of those vectors, are then exact to rounding, and the
#: vectors' rounding error is at most about sigma_1 / (2 sigma_k) = 500 times a direct SVD's
#: (measured against gesdd, 2000 x 1000, k = 200: 4e-12 against 8e-13 at sigma_k = sigma_1 /
#: 200, 2e-12 against 2e-13 at sigma_1 / 500; values within 5e-15). Below, or where A's rank is
#: under k (the guarantee of exact answers), the SVD of B's factor, which costs a QR factorization
#: and an SVD of B's whole shorter side: at sigma_1 / 100, the earlier bound, a 2000 x 1000 SVD
#: at k = 200 (1/i) took 880 ms that way against 254 by the Gram matrix (one BLAS thread).
_GRAM_RITZ_MIN_RATIO = 1e-6


def randomized_range_finder(A, size, *, n_power_iterations=2, method="block_krylov", rng=None):
    """An orthonormal basis Q approximating the range of A: ``A ~= Q @ Q^H @ A``.

    Draws a Gaussian test matrix Omega with ``size`` columns and builds a basis from
    ``A @ Omega`` refined by ``n_power_iterations`` multiplications with ``A A^H``.

    Parameters
    ----------
    A : ndarray, sparse array or matrix, or LinearOperator, shape (m, n)
        The matrix. Dense arrays of any float or complex dtype (float16 computes in float32;
        bool and integers in float64) and any layout; sparse arrays and matrices of any
        format (converted to CSR once); a LinearOperator is used through ``matmat`` and
        ``rmatmat``.
    size : int
        The number of columns of Q, ``1 <= size <= min(m, n)``.
    n_power_iterations : int, optional
        The number q of multiplications with ``A A^H`` (default 2). Each costs two products
        with A (one with A, one with ``A^H``); the basis costs ``2 q + 2`` products in all.
    method : {"block_krylov", "power"}, optional
        ``"block_krylov"`` (default): Q holds the top ``size`` left singular vectors of
        ``P A``, with P the projector onto the block Krylov space spanned by
        ``[A Omega, (A A^H) A Omega, ..., (A A^H)^q A Omega]`` (at most ``min(m, n)``
        columns); this is the Rayleigh-Ritz step, which needs no further products.
        ``"power"``: Q spans ``(A A^H)^q A Omega`` (subspace iteration, orthonormalized after
        every product).
    rng : None, int or numpy.random.Generator, optional
        The source of Omega, through ``numpy.random.default_rng(rng)``. The same seed gives the
        same Q, bit for bit (with the same BLAS and thread count).

    Returns
    -------
    Q : ndarray, shape (m, size)
        Orthonormal columns, of A's dtype (float64 for bool and integer A, float32 for float16).
        What is guaranteed: orthonormality to rounding, and, when A's rank is at most
        ``size``, a Q whose span holds A's range (``Q Q^H A = A`` to rounding); otherwise an
        approximate basis whose error depends on A's spectrum and is not checked (there is no
        success flag to report).

    Raises
    ------
    TypeError
        If A is not an array, sparse array or matrix, or LinearOperator, or its dtype is not
        a float, complex, bool or integer dtype LAPACK takes (not long double).
    ValueError
        If A is not 2-D or holds NaN or infinity, or size, n_power_iterations or method is
        out of range, or a product with A overflows (A's norm beyond the dtype's range; any
        smaller magnitude is fine, as for `randomized_svd`).

    See Also
    --------
    randomized_svd : the truncated SVD built on the same basis.

    Examples
    --------
    A matrix whose singular values halve one after the other: a basis of 10 columns captures
    it up to about its 11th singular value, ``0.5**10``.

    >>> import numpy as np
    >>> from pynla import randomized_range_finder
    >>> rng = np.random.default_rng(7)
    >>> U0, _ = np.linalg.qr(rng.standard_normal((200, 40)))
    >>> V0, _ = np.linalg.qr(rng.standard_normal((100, 40)))
    >>> A = (U0 * 0.5 ** np.arange(40)) @ V0.T
    >>> Q = randomized_range_finder(A, 10, rng=1)
    >>> Q.shape
    (200, 10)
    >>> bool(np.allclose(Q.T @ Q, np.eye(10)))
    True
    >>> round(float(np.linalg.norm(A - Q @ (Q.T @ A), 2) / 0.5**10), 6)
    1.0
    """
    products = _Products(A)
    size = check_integer(size, "size", 1, min(products.shape), bound="min(A.shape)")
    q = check_integer(n_power_iterations, "n_power_iterations", 0)
    check_choice(method, "method", METHODS)
    products.check_finite()
    with blas_threads_for(_dense_work(products, size, q, method)):
        Q, Z = _basis(products, size, q, method, np.random.default_rng(rng))
        if Z is None:
            return Q
        return _ritz(Q, Z, size, right_vectors=False)


def randomized_svd(A, k, *, n_oversamples=None, n_power_iterations=None, method="block_krylov", rng=None):
    """Truncated SVD by randomization: the k largest singular values of A and their vectors.

    Computes ``A ~= U @ diag(s) @ Vh`` from a basis Q of ``l = min(k + n_oversamples,
    min(m, n))`` columns per block (see :func:`randomized_range_finder`): the SVD of the small
    matrix ``B = Q^H A``, truncated to k. Results are shaped and typed as
    ``numpy.linalg.svd(A, full_matrices=False)`` truncated to its first k singular triplets.

    Parameters
    ----------
    A : ndarray, sparse array or matrix, or LinearOperator, shape (m, n)
        The matrix, as for :func:`randomized_range_finder`.
    k : int
        The number of singular triplets, ``1 <= k <= min(m, n)``.
    n_oversamples : int or None, optional
        Extra columns of the Gaussian test matrix beyond k, ``>= 0``. None (default) chooses,
        for ``"block_krylov"``, the fewest from 3 up that make ``k + n_oversamples`` a
        multiple of 8 (3 to 10; see Notes), and 10 for ``"power"`` (scikit-learn's).
    n_power_iterations : int or None, optional
        The number q of multiplications with ``A A^H``; the SVD costs ``2 q + 2`` products
        with A or ``A^H`` for either method. None (default) chooses: for ``"block_krylov"``, 3
        if ``k < 0.1 min(m, n)``, else 2 (see Notes); for ``"power"``, 7 if ``k < 0.1 min(m,
        n)``, else 4 (scikit-learn's rule).
    method : {"block_krylov", "power"}, optional
        ``"block_krylov"`` (default): randomized block Krylov (Musco & Musco), a basis of
        ``[A Omega, (A A^H) A Omega, ..., (A A^H)^q A Omega]`` (at most ``min(m, n)``
        columns). ``"power"``: subspace iteration (Halko, Martinsson & Tropp), a basis of
        ``(A A^H)^q A Omega`` alone. At equal q block Krylov is at least as accurate, at the
        same number of products.
    rng : None, int or numpy.random.Generator, optional
        The source of the test matrix Omega, through ``numpy.random.default_rng(rng)``. The
        same seed gives the same result, bit for bit (with the same BLAS and thread count).

    Returns
    -------
    U : ndarray, shape (m, k)
        Left singular vectors, orthonormal columns; A's dtype (float64 for bool and integer A,
        float32 for float16).
    s : ndarray, shape (k,)
        Singular values in descending order, real (float32 for float32 and complex64 A).
    Vh : ndarray, shape (k, n)
        Right singular vectors as rows, orthonormal; dtype as U.

        What is guaranteed: orthonormal U and Vh and the exact truncated SVD (to rounding) when
        A's rank is at most k, when the basis reaches min(m, n), or when A is small enough
        that the exact SVD costs less (see Notes); otherwise an approximation whose error
        depends on A's spectrum (Notes measures it) and is not checked (there is no success
        flag to report).

    Raises
    ------
    TypeError
        If A is not an array, sparse array or matrix, or LinearOperator, or its dtype is not
        a float, complex, bool or integer dtype LAPACK takes (not long double).
    ValueError
        If A is not 2-D or holds NaN or infinity (a LinearOperator: returns them), or k,
        n_oversamples, n_power_iterations or method is out of range; if A's Frobenius norm
        is beyond the dtype's range (finite entries of any smaller size are fine: every block
        is scaled by a power of two, exactly, before each product with A and each Gram
        matrix, and the singular values are scaled back).

    See Also
    --------
    randomized_range_finder : the basis alone.
    scipy.sparse.linalg.svds : Lanczos-type truncated SVD.

    Notes
    -----
    Block Krylov: block i+1 is ``A (A^H Q_i)`` orthogonalized against all earlier blocks (block
    Gram-Schmidt twice, the block normalized by Cholesky QR between the passes and after them).
    The products ``A^H Q_i`` taken along the way are the rows of ``B = Q^H A``, so B costs one
    product more (``A^H Q_q``), and the method costs ``2 q + 2`` products of width l, as
    subspace iteration does, but searches a space of ``(q + 1) l`` columns, not l. The top k
    triplets of B come from the eigendecomposition of its L x L Gram matrix where
    ``sigma_k >= sigma_1 / 1000`` (the singular values are then exact to rounding, and the
    vectors' rounding error is at most about ``sigma_1 / (2 sigma_k)`` times a direct SVD's),
    followed by an exact Rayleigh-Ritz step on the k vectors it gives; otherwise from a QR
    factorization of ``B^H`` and the SVD of its triangular factor.

    Subspace iteration orthonormalizes after every product (scikit-learn uses LU instead;
    the orthonormalization here costs about as much, and keeps small singular values accurate).

    Small A: where a model of the multiply-adds says that the exact SVD costs less than the
    method (a Gram matrix of A's shorter side and its eigendecomposition, against the method's
    products, orthonormalization and Ritz step), the exact truncated SVD is returned, by the
    same Ritz step with the whole shorter side as the basis; n_oversamples,
    n_power_iterations, method and rng then change nothing. Measured on one BLAS thread
    (Intel Xeon): 1000 x 200, k = 50: 7.2 ms exact against 14.2 ms block Krylov; 1000 x 300,
    k = 50: 13.7 against 16.6; 2000 x 200, k = 10: 7.7 against 9.7.

    Block Krylov takes q = 2 where ``k >= 0.1 min(m, n)`` (scikit-learn's threshold, where it
    takes 4 iterations instead of 7): its space then spans much of A's shorter side, its dense
    work costs more than its products, and q = 2 is already more accurate than scikit-learn's
    4 iterations: on 300 x 300, 1000 x 200, 500 x 500 and 3000 x 300 matrices with singular
    values ``1/i`` and ``i**-0.5``, k = 50, its largest relative error of a singular value
    was 1.5 to 23 times smaller than scikit-learn's, and its Frobenius residual closer to optimal.

    The defaults for block Krylov, q = 3 and at least 3 oversamples, are measured, on 20000 x
    5000 float64 matrices with singular values ``1/i`` and ``i**-0.5`` (i = 1..5000) and k = 50:
    with 3 oversamples its Frobenius residual is 1.000001x and 1.00008x the optimal rank-50
    error (2: 1.000002x and 1.00011x; q = 2: 1.00012x and 1.0009x), against 1.00004-1.00008x and
    1.00011-1.00027x for scikit-learn's default (16 products of subspace iteration of width 60).
    The default takes 6 for k = 50, rounding the block width up to 56 columns, which BLAS
    multiplies faster than 53 (4% less time here) at a smaller residual (1.0000004x and
    1.00006x).

    Examples
    --------
    A 200 x 100 matrix with singular values 1, 1/2, 1/4, ...

    >>> import numpy as np
    >>> from pynla import randomized_svd
    >>> rng = np.random.default_rng(7)
    >>> U0, _ = np.linalg.qr(rng.standard_normal((200, 40)))
    >>> V0, _ = np.linalg.qr(rng.standard_normal((100, 40)))
    >>> A = (U0 * 0.5 ** np.arange(40)) @ V0.T
    >>> U, s, Vh = randomized_svd(A, 5, rng=1)
    >>> U.shape, s.shape, Vh.shape
    ((200, 5), (5,), (5, 100))
    >>> s.round(10)
    array([1.    , 0.5   , 0.25  , 0.125 , 0.0625])
    >>> bool(np.allclose(U.T @ U, np.eye(5)) and np.allclose(Vh @ Vh.T, np.eye(5)))
    True

    The same from a sparse matrix or a LinearOperator:

    >>> import scipy.sparse as sp
    >>> from scipy.sparse.linalg import aslinearoperator
    >>> s_sparse = randomized_svd(sp.csr_array(A), 5, rng=1)[1]
    >>> s_operator = randomized_svd(aslinearoperator(A), 5, rng=1)[1]
    >>> bool(np.allclose(s_sparse, s) and np.allclose(s_operator, s))
    True
    """
    products = _Products(A)
    k = check_integer(k, "k", 1, min(products.shape), bound="min(A.shape)")
    if n_oversamples is None:
        n_oversamples = _krylov_oversamples(k) if method == "block_krylov" else POWER_OVERSAMPLES
    n_oversamples = check_integer(n_oversamples, "n_oversamples", 0)
    if n_power_iterations is not None:
        n_power_iterations = check_integer(n_power_iterations, "n_power_iterations", 0)
    check_choice(method, "method", METHODS)
    products.check_finite()
    if n_power_iterations is None:
        if method == "block_krylov":
            large_rank = k >= KRYLOV_LARGE_RANK * min(products.shape)
            n_power_iterations = KRYLOV_ITERATIONS_LARGE_RANK if large_rank else KRYLOV_ITERATIONS
        else:
            n_power_iterations = 7 if k < 0.1 * min(products.shape) else 4
    l = min(k + n_oversamples, min(products.shape))
    with blas_threads_for(_dense_work(products, l, n_power_iterations, method)):
        if _exact_costs_less(products, l, n_power_iterations, method):
            return _exact_svd(products, k)
        Q, Z = _basis(products, l, n_power_iterations, method, np.random.default_rng(rng))
        if Z is None:  # subspace iteration: B^H = A^H Q is one more product
            return _ritz(Q, products.rmatmat(Q), k, right_vectors=True)
        return _ritz(Q, Z, k, right_vectors=True)


def _dense_work(products, l, q, method):
    """The size of the call's BLAS work, for the BLAS thread rule (_threads.blas_threads_for):
    the larger of a product with A and the orthonormalization of its basis, ``max(m, n) L``,
    times the block width l (L: the basis's columns). A sparse A's products are SciPy's own,
    but its basis is dense: a Zipf 20200 x 10000 matrix (7e5 nonzeros) at k = 64 took 463 ms on
    two BLAS threads and 559 on one, where a dense 2000 x 1000 at k = 50 took 144 and 85."""
    basis = min((q + 1) * l, min(products.shape)) if method == "block_krylov" else l
    return max(products.work, max(products.shape) * basis) * l


def _exact_costs_less(products, l, q, method):
    """Whether the exact truncated SVD (_exact_svd) costs less than the method, in
    multiply-adds at the rate of a product with A.

    Exact: the Gram matrix of A's shorter side s (``max(m, n) s^2 / 2``: syrk fills one
    triangle; an operator adds a product of width s) and its eigendecomposition (``5 s^3``). The
    method: ``2 q + 2`` products of width l (``products.work`` each a column); the
    orthonormalization of its basis of L columns (block Krylov: ``16 m L l``, L = (q + 1) l, two
    Gram-Schmidt passes and two Cholesky QR passes a block, each a few calls; subspace
    iteration: ``8 (2 q + 2) max(m, n) l^2``); and the Ritz step (``n L^2 + 5 L^3``).

    The factors are fitted to both paths timed on one BLAS thread (Intel Xeon, matrices with
    singular values 1/i) on 58 shapes from 60 x 400 to 2000 x 1000 and k from 5 to 50: the path
    the model picks was never more than 3% slower than the other (1000 x 300, k = 50: exact
    13.7 ms, block Krylov 16.6; 2000 x 200, k = 10: 7.7 against 9.7; 300 x 300, k = 50: 10.2
    against 8.6). With the earlier factors (a full Gram matrix, 8 s^3, 8 m L l) it was up to
    1.6 times slower (5000 x 100, k = 5; 60 x 400, k = 5).
    """
    (m, n), (short, long) = products.shape, sorted(products.shape)
    exact = long * short**2 // 2 + 5 * short**3 + (0 if products.entries_at_hand else m * n * short)
    if method == "block_krylov":
        L = min((q + 1) * l, short)
        orthonormalization = 16 * m * L * l
    else:
        L = l
        orthonormalization = 8 * (2 * q + 2) * max(m, n) * l * l
    randomized = (2 * q + 2) * products.work * l + orthonormalization + n * L**2 + 5 * L**3
    return exact < randomized


def _exact_svd(products, k):
    """The exact top k singular triplets, by the Ritz step (_ritz) with the whole of A's shorter
    side as the basis: from the Gram matrix of that side where its top k eigenvalues are well
    separated from zero, else from a QR factorization of A. Exact to rounding for any A."""
    m, n = products.shape
    if m <= n:  # the basis I_m: B = A, Z = A^H
        return _ritz(None, products.dense(adjoint=True), k, right_vectors=True)
    # m > n: the same for A^H, whose triplets are A's with U and V exchanged
    U, s, Vh = _ritz(None, products.dense(adjoint=False), k, right_vectors=True)
    return np.ascontiguousarray(Vh.conj().T), s, np.ascontiguousarray(U.conj().T)


def _krylov_oversamples(k):
    """The fewest oversamples from KRYLOV_MIN_OVERSAMPLES up making k + them a multiple of
    BLOCK_WIDTH_MULTIPLE."""
    return KRYLOV_MIN_OVERSAMPLES + (-(k + KRYLOV_MIN_OVERSAMPLES)) % BLOCK_WIDTH_MULTIPLE


# ---------------------------------------------------------------------------------------------
# Checks


class _Products:
    """A as the methods use it: shape, the dtype they compute in, ``A @ X`` and ``A^H @ X``.

    A dense array is used in place when BLAS can read it (any C- or F-ordered layout, or a
    strided view with one unit stride), else copied once; a sparse array becomes CSR once
    (structure checked by ``csr_parts``), with ``A^H`` as a CSC view of it; a LinearOperator
    is called through ``matmat`` and ``rmatmat``. Every product is checked for NaN and
    infinity: a LinearOperator may return them, and finite A may overflow. Dense A is not
    scanned up front: NaN or infinity in A makes ``A @ Omega`` non-finite, and only then is
    A read in full, to say which it is (this saves a pass over A).
    """

    def __init__(self, A):
        self._entries = None  # float entries of A to scan for NaN and infinity
        self._matrix = None  # A as a dense or CSR array, None for a LinearOperator
        self._operator = isinstance(A, LinearOperator)
        if self._operator:
            self.shape = tuple(A.shape)
            self.dtype = dense_compute_dtype(A.dtype if A.dtype is not None else np.float64, "A")
            self._matmat, self._rmatmat = A.matmat, A.rmatmat
        elif sp.issparse(A):
            self._init_sparse(A)
        else:
            self._init_dense(A)
        #: multiply-adds of a product with one column: the entries of A (a LinearOperator: as if dense)
        self.work = self.shape[0] * self.shape[1] if self._matrix is None else self._matrix.size
        #: whether dense() reads A's entries (False: it takes a product with the identity)
        self.entries_at_hand = self._matrix is not None

    def _init_sparse(self, A):
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        self.shape = tuple(A.shape)
        self.dtype = dense_compute_dtype(A.dtype, "A")
        parts = csr_parts(A, "A")
        csr = as_csr_array(parts, np.asarray(parts.data, dtype=self.dtype))
        self._matrix = csr
        adjoint = csr.T.conj() if self.dtype.kind == "c" else csr.T  # CSC, sharing csr's structure
        self._matmat, self._rmatmat = csr.__matmul__, adjoint.__matmul__
        if np.dtype(A.dtype).kind in "fc":
            self._entries = csr.data

    def _init_dense(self, A):
        try:
            A = np.asarray(A)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"A must be an array, a SciPy sparse array or matrix, or a LinearOperator; got {type(A).__name__}"
            ) from error
        if A.dtype.kind not in "biufc":
            raise TypeError(
                f"A must be a numeric array, a SciPy sparse array or matrix, or a LinearOperator; "
                f"got {type(A).__name__} of dtype {A.dtype}"
            )
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        self.shape = A.shape
        self.dtype = dense_compute_dtype(A.dtype, "A")
        floating = A.dtype.kind in "fc"
        if A.dtype != self.dtype or not blas_readable(A):
            A = np.ascontiguousarray(A, dtype=self.dtype)
        if floating:
            self._entries = A
        self._matrix = A
        self._matmat = A.__matmul__
        if self.dtype.kind == "c":  # A^H X = (X^H A)^H: conjugates the thin blocks, never A
            self._rmatmat = lambda X: (X.conj().T @ A).conj().T
        else:
            self._rmatmat = A.T.__matmul__

    def dense(self, adjoint):
        """A (or A^H if ``adjoint``) as a dense array in the compute dtype, checked finite."""
        if self._matrix is None:
            return self.rmatmat(np.eye(self.shape[0], dtype=self.dtype)) if adjoint else self.matmat(
                np.eye(self.shape[1], dtype=self.dtype))
        A = self._matrix.toarray() if sp.issparse(self._matrix) else self._matrix
        return self.checked(A.conj().T if adjoint else A)

    def check_finite(self):
        """ValueError if sparse A holds NaN or infinity (dense A: checked by the products)."""
        if self._entries is not None and self._entries.ndim == 1 and not np.isfinite(self._entries).all():
            raise ValueError("A must not contain NaN or infinity")

    def matmat(self, X):
        with np.errstate(over="ignore", invalid="ignore"):  # NaN and infinity are checked after
            return self.checked(self._matmat(X))

    def rmatmat(self, X):
        with np.errstate(over="ignore", invalid="ignore"):
            return self.checked(self._rmatmat(X))

    def checked(self, Y):
        """Y (a product with A) in the compute dtype; ValueError saying why if it is not finite."""
        Y = np.asarray(Y, dtype=self.dtype)
        if not np.isfinite(Y).all():
            if self._operator:
                raise ValueError("A must not contain NaN or infinity: the LinearOperator A returned them")
            if self._entries is not None and not np.isfinite(self._entries).all():
                raise ValueError("A must not contain NaN or infinity")
            raise ValueError("a product with A overflowed: A's entries are too large in magnitude; scale A down")
        return Y


# ---------------------------------------------------------------------------------------------
# Bases


def _basis(products, l, q, method, rng):
    """(Q, Z): an orthonormal basis Q (m x L) and Z = A^H Q if it came free (block Krylov), else None."""
    omega = gaussian(rng, (products.shape[1], l), products.dtype)
    # ||Omega||_2 is about sqrt(n) + sqrt(l): scaled below 1, A Omega cannot overflow.
    omega = times_power_of_two(omega, -math.ceil(math.log2(math.sqrt(products.shape[1]) + math.sqrt(l))))
    if method == "power":
        return _subspace_iteration(products, omega, q, rng), None
    return _block_krylov(products, omega, q, rng)


def _subspace_iteration(products, omega, q, rng):
    """An orthonormal basis of (A A^H)^q A Omega, orthonormalized after every product."""
    Y = products.matmat(omega)
    for _ in range(q):
        Y = orthonormal_block(Y, None, rng)
        Y = products.matmat(orthonormal_block(products.rmatmat(Y), None, rng))
    return orthonormal_block(Y, None, rng)


def _block_krylov(products, omega, q, rng):
    """(Q, Z): orthonormal Q spanning [A Omega, (A A^H) A Omega, ..., (A A^H)^q A Omega], Z = A^H Q.

    Block i+1 is A Z_i orthogonalized against blocks 0..i; Z_i = A^H Q_i is a block of Z. The
    basis stops at min(m, n) columns (the last block is cut to fit): A's range has no more.
    """
    (m, n), l = products.shape, omega.shape[1]
    widths = [l]
    for _ in range(q):
        width = min(l, min(m, n) - sum(widths))
        if width == 0:
            break
        widths.append(width)
    Q = np.empty((m, sum(widths)), dtype=products.dtype, order="F")
    Z = np.empty((n, sum(widths)), dtype=products.dtype, order="F")
    Y, start = products.matmat(omega), 0
    for i, width in enumerate(widths):
        if i > 0:  # Z's block is A^H Q_i, of A's size: scaled to norm 1 first, so that
            # A (A^H Q_i), of A's size squared, can neither overflow nor underflow.
            Y = products.matmat(unit_norm(Z[:, start - widths[i - 1] : start - widths[i - 1] + width])[0])
        Q[:, start : start + width] = orthonormal_block(Y, Q[:, :start] if start else None, rng)
        Z[:, start : start + width] = products.rmatmat(Q[:, start : start + width])
        start += width
    return Q, Z


# ---------------------------------------------------------------------------------------------
# Rayleigh-Ritz


def _ritz(Q, Z, n_keep, *, right_vectors):
    """The top ``n_keep`` singular triplets of B = Q^H A, from B^H = Z = A^H Q (n x L); Q None
    stands for the identity (B = A).

    ``B = C diag(s) X^H`` truncated gives ``U = Q C`` and ``Vh = X^H``: C (L x n_keep) and X
    (n x n_keep) come from the Gram matrix of B where its top n_keep eigenvalues are well
    separated from zero (_ritz_from_gram), else from a factorization of Z (_ritz_from_factor).
    Returns U alone unless ``right_vectors``.
    """
    eps = np.finfo(Z.dtype).eps
    Z, exponent = unit_norm(Z)  # B's singular values are those of the scaled Z times 2**exponent
    C, s, X = _ritz_from_gram(Z, n_keep, eps) or _ritz_from_factor(Z, n_keep, eps)
    U = C if Q is None else Q @ C
    if not right_vectors:
        return U
    with np.errstate(over="ignore"):
        s = np.ldexp(s, exponent)
    if not np.isfinite(s).all():
        raise ValueError(f"A's largest singular values overflow {s.dtype}: A's norm is too large; scale A down")
    return U, s, np.ascontiguousarray(X.conj().T)


def _ritz_from_gram(Z, n_keep, eps):
    """(C, s, X) from the top n_keep eigenvectors E of ``B B^H = Z^H Z``, or None where its
    n_keep-th eigenvalue is below _GRAM_RITZ_MIN_RATIO of the largest.

    ``Y = Z E`` (n x n_keep) has the thin SVD ``Y = X diag(s) Vm^H``, so ``(E Vm)^H B = diag(s)
    X^H``: C = E Vm, and s and X are the Ritz values and right vectors on E's span, accurate to
    rounding where E is (see _GRAM_RITZ_MIN_RATIO). One L x L eigendecomposition and an
    n_keep x n_keep SVD replace the factorization of Z and the L x L SVD (300 x 300, k = 50,
    L = 168, one BLAS thread: the whole call took 9.1 ms against 14.8).
    """
    values, vectors = small_eigh(inner(Z, Z))  # ascending
    if not values[-n_keep] >= _GRAM_RITZ_MIN_RATIO * values[-1] > 0:
        return None
    E = vectors[:, : -n_keep - 1 : -1]
    W, M = thin_factors(Z @ E, eps)
    Um, s, Vmh = _small_svd(M)
    return E @ Vmh.conj().T, s, W @ Um


def _ritz_from_factor(Z, n_keep, eps):
    """(C, s, X) from ``Z = W M`` (W orthonormal) and the SVD ``M = Um diag(s) Vm^H``: B = Z^H
    = Vm diag(s) (W Um)^H, so C = Vm and X = W Um, truncated. Exact to rounding for any Z."""
    W, M = thin_factors(Z, eps)
    Um, s, Vmh = _small_svd(M)
    return Vmh[:n_keep].conj().T, s[:n_keep], W @ Um[:, :n_keep]


def _small_svd(M):
    """The SVD of a small square M, by gesdd (gesvd if it does not converge), on one BLAS thread
    from SMALL_LAPACK_ORDER up."""
    with small_lapack_threads(M.shape[0]):
        try:
            return scipy.linalg.svd(M, check_finite=False)
        except np.linalg.LinAlgError:  # gesdd did not converge: the slower, sturdier gesvd
            return scipy.linalg.svd(M, check_finite=False, lapack_driver="gesvd")
