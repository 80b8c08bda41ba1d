"""CUR decompositions: ``A ~= C @ U @ R`` with C actual columns and R actual rows of A.

``cur`` takes A explicitly (dense or sparse); ``cur_from_functions`` sees A only through two
callbacks that return chosen rows and chosen columns, and touches as few entries as it can.
Both return a :class:`CURDecomposition`, a ``LinearOperator`` for ``C U R``.

Selection. Columns are picked by pivoting on a small matrix whose columns stand for A's:

- ``"lupp"``: LU with partial pivoting on a sketch ``S A`` (Dong & Martinsson 2023 found it
  as accurate as pivoted QR for CUR, at BLAS-3 speed), with S a sparse sign sketch of 8
  nonzeros per column: as good as a Gaussian S, in C++. (A CountSketch, one nonzero per
  column, is 7x cheaper but maps the columns of a coherent A, one close to diagonal, onto
  the same few directions, and picks badly: 2.4x the optimal error instead of 1.0002x on the
  benchmark matrix.)
- ``"qr"``: column-pivoted QR (LAPACK ``geqp3``) on the same sketch;
- ``"deim"``: pivoted QR on the right singular vectors of a randomized SVD (Q-DEIM, Drmac &
  Gugercin 2016);
- ``"leverage"``: sampling without replacement with probabilities proportional to the rank-k
  leverage scores of a randomized SVD (Drineas, Mahoney & Muthukrishnan 2008);
- ``"uniform"``: uniform sampling without replacement, the cheap baseline.

Rows are picked by the same rule applied to C (the rows that make ``C[I, :]`` best
conditioned), or to a sketch ``A S^T`` when more rows than columns are asked for.

Cores. ``"optimal"``: ``U = C^+ [P_C A P_R]_k R^+``, the best rank-k approximation of A within
the spans of C and R (Boutsidis & Woodruff 2017); one more product with A. ``"intersection"``:
``U = [A[I, J]]_k^+``, the truncated pseudo-inverse of the intersection, which reads no entry
beyond C and R. Every pseudo-inverse drops singular values below ``rtol`` times the largest:
the plain inverse of the intersection amplifies rounding without bound (Park & Nakatsukasa
2024) and is never used.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from pynla._operator import KernelLinearOperator
from pynla._threads import blas_threads_for, small_lapack_threads
from pynla._validation import check_choice, check_integer, csr_parts, dense_compute_dtype
from pynla.randomized import _Products, randomized_svd
from pynla.sketch import SparseSignSketch

__all__ = ["CURDecomposition", "cur", "cur_from_functions"]

#: CUR runs on one BLAS thread where its product with A has fewer multiply-adds than this
#: (_threads.blas_threads_for): its sketch (pynla's threads), LAPACK calls (SciPy's OpenBLAS)
#: and products (NumPy's) alternate, and two threads of each took the cores from each other.
#: Measured on 2 cores, one BLAS thread against two: 600 x 6000, k = 50 (3.6e8), 62-65 against
#: 96-105 ms; 5000 x 5000 (2.5e9), 226-250 against 249-257; 3000 x 30000 (9e9), 940 against 738.
ONE_BLAS_THREAD_BELOW = 1 << 31

#: The values ``method`` takes (``cur``); ``cur_from_functions`` takes the first two and "uniform".
METHODS = ("lupp", "qr", "deim", "leverage", "uniform")

#: The values ``core`` takes.
CORES = ("optimal", "intersection")

#: Rows of the sketch beyond the number of columns it selects.
SKETCH_OVERSAMPLES = 10

#: Power iterations of the randomized SVD behind "deim" and "leverage": selection needs the
#: dominant subspace only roughly.
SELECTION_POWER_ITERATIONS = 1


class CURDecomposition(KernelLinearOperator):
    """A rank-k approximation ``C @ U @ R`` of an m x n matrix A, from its actual columns and rows.

    A ``scipy.sparse.linalg.LinearOperator``: ``cur @ x``, ``cur.T``, ``cur.H``, ``matmat``
    and the rest apply ``C @ (U @ (R @ x))`` without forming the m x n product, by NumPy and
    SciPy, so in every dtype they take; ``args`` is ``(C, U, R)`` and ``dtype`` is U's. As
    SciPy's generic LinearOperator, it refuses sparse x (multiply ``approximation()`` instead).

    Attributes
    ----------
    C : ndarray or sparse, shape (m, c)
        The columns ``A[:, col_indices]``; sparse (CSC, of A's kind) for sparse A.
    U : ndarray, shape (c, r)
        The core, of rank at most k.
    R : ndarray or sparse, shape (r, n)
        The rows ``A[row_indices, :]``; sparse (CSR, of A's kind) for sparse A.
    row_indices : ndarray of intp, shape (r,)
        The rows of A in R, in the order they were selected (for :func:`cur`'s pivoting
        methods, the most important first).
    col_indices : ndarray of intp, shape (c,)
        The columns of A in C, likewise.
    n_evaluated : int or None
        For :func:`cur_from_functions`: how many entries of A the callbacks returned. None
        for :func:`cur`.
    """

    kernel_dtypes = None  # NumPy's and SciPy's products take them all

    def __init__(self, C, U, R, row_indices, col_indices, n_evaluated=None):
        super().__init__(U.dtype, (C.shape[0], R.shape[1]), (C, U, R))
        self.C, self.U, self.R = C, U, R
        self.row_indices, self.col_indices = row_indices, col_indices
        self.n_evaluated = n_evaluated

    def approximation(self):
        """``C @ U @ R`` as a dense (m, n) array."""
        CU = np.asarray(self.C @ self.U)
        if sp.issparse(self.R):
            return np.asarray((self.R.T @ CU.T).T)
        return CU @ self.R

    def _kernel_product(self, X, adjoint):
        if not adjoint:
            return np.asarray(self.C @ (self.U @ np.asarray(self.R @ X)))
        CH_X = np.asarray(self.C.T @ X.conj()).conj()  # C^H X without conjugating C
        inner = self.U.conj().T @ CH_X
        return np.asarray(self.R.T @ inner.conj()).conj()


def cur(A, k, *, n_cols=None, n_rows=None, method="lupp", core="optimal", rtol=None, col_indices=None,
        row_indices=None, rng=None):
    """CUR decomposition of an explicit matrix: ``A ~= C @ U @ R``, of rank at most k.

    Parameters
    ----------
    A : ndarray or sparse array or matrix, shape (m, n)
        Dense arrays of any float or complex dtype (bool and integers compute in float64,
        float16 in float32); SciPy sparse arrays and matrices of any format.
    k : int
        The rank of the approximation, ``1 <= k <= min(m, n)``.
    n_cols, n_rows : int, optional
        How many columns and rows to select, at least k (default ``min(2 k, n)`` and
        ``min(2 k, m)``). More than k lets the rank-k core come close to the optimal rank-k
        error (see Notes).
    method : {"lupp", "qr", "deim", "leverage", "uniform"}, optional
        How columns and rows are selected (module docstring). Default ``"lupp"``.
    core : {"optimal", "intersection"}, optional
        ``"optimal"`` (default): ``U = C^+ [P_C A P_R]_k R^+``, one more product with A.
        ``"intersection"``: ``U = [A[I, J]]_k^+`` from the intersection alone.
    rtol : float, optional
        Singular values below ``rtol`` times the largest are dropped from every
        pseudo-inverse (default: the dimension times the dtype's epsilon).
    col_indices, row_indices : array_like of int, optional
        Columns or rows to use instead of selecting them (their counts override n_cols and
        n_rows). Negative indices count from the end, as in numpy.
    rng : None, int or numpy.random.Generator, optional
        The source of randomness (``numpy.random.default_rng(rng)``).

    Returns
    -------
    CURDecomposition
        ``C``, ``U``, ``R``, ``row_indices``, ``col_indices``; a ``LinearOperator`` for
        ``C U R`` with ``approximation()`` giving it dense. What is guaranteed: actual columns
        and rows of A, and ``C U R = A`` to rounding when A's rank is at most k; otherwise an
        approximation whose error depends on A's spectrum (Notes measures it) and is not
        checked (there is no success flag to report).

    Raises
    ------
    TypeError
        If A is not an array or a SciPy sparse array or matrix (for a ``LinearOperator``, use
        :func:`cur_from_functions`).
    ValueError
        If A is not 2-D or holds NaN or infinity where the method reads it; if k, n_cols,
        n_rows, method, core or rtol is out of range; if an index in col_indices or
        row_indices is out of range or repeated.

    See Also
    --------
    cur_from_functions : CUR of a matrix given by callbacks.
    scipy.linalg.interpolative.interp_decomp : the one-sided interpolative decomposition.

    Notes
    -----
    Cost for dense m x n A and the default method and core: a sparse sign sketch of A (8
    additions per entry, in C++), LU of the n x (c + 10) sketch and of the m x c columns, SVDs of C and R
    (``O((m + n) c^2)``), and one product of A with an n x r block for the core.

    Accuracy, as the Frobenius error over the optimal rank-k error ``||A - A_k||_F``, measured
    on 1000 x 5000 matrices with k = 50: with exactly k columns and rows, 1.7 to 2.6; with 2k
    of each (the default) and the optimal core, 1.0 for fast singular value decay, 1.3 for
    ``1/i`` and 1.5 to 1.55 for a flat tail (low rank plus noise), the hardest case for any
    choice of actual columns. The intersection core costs 10 to 60% more error.

    Examples
    --------
    A matrix of rank 3 is reproduced from 3 of its columns and 3 of its rows:

    >>> import numpy as np
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    >>> decomposition = pynla.cur(A, 3, n_cols=3, n_rows=3, rng=0)
    >>> decomposition.C.shape, decomposition.U.shape, decomposition.R.shape
    ((60, 3), (3, 3), (3, 40))
    >>> bool(np.allclose(decomposition.C, A[:, decomposition.col_indices]))
    True
    >>> bool(np.allclose(decomposition.approximation(), A))
    True
    >>> x = rng.standard_normal(40)
    >>> bool(np.allclose(decomposition @ x, A @ x))
    True
    """
    matrix = _ExplicitMatrix(A)
    m, n = matrix.shape
    k = check_integer(k, "k", 1, min(m, n), bound="min(A.shape)")
    n_cols = _selection_size(n_cols, "n_cols", k, n, "A.shape[1]")
    n_rows = _selection_size(n_rows, "n_rows", k, m, "A.shape[0]")
    check_choice(method, "method", METHODS)
    check_choice(core, "core", CORES)
    rtol = _check_rtol(rtol)
    rng = np.random.default_rng(rng)

    if col_indices is not None:
        col_indices = _check_indices(col_indices, n, "col_indices")
        n_cols = len(col_indices)
    if row_indices is not None:
        row_indices = _check_indices(row_indices, m, "row_indices")
        n_rows = len(row_indices)
    # The largest product: A times n_rows columns (the optimal core).
    with blas_threads_for(matrix.products.work * n_rows, threshold=ONE_BLAS_THREAD_BELOW):
        return _cur(matrix, k, n_cols, n_rows, method, core, rtol, col_indices, row_indices, rng)


def _cur(matrix, k, n_cols, n_rows, method, core, rtol, col_indices, row_indices, rng):
    """cur's work, its arguments checked."""
    m, n = matrix.shape
    # The randomized SVD behind "deim" and "leverage" serves both sides.
    svd = None
    if method in ("deim", "leverage") and (col_indices is None or row_indices is None):
        rank = k if method == "leverage" else min(max(n_cols, n_rows), m, n)
        svd = randomized_svd(matrix.array, rank, n_power_iterations=SELECTION_POWER_ITERATIONS, rng=rng)
    if col_indices is None:
        col_indices = _select(n_cols, n, method, None if svd is None else svd[2].conj().T,
                              lambda: matrix.sketch_columns(n_cols, rng), rng)
    C = matrix.columns(col_indices)
    if row_indices is None:
        # The rows of A stand as the rows of C, or of a sketch when C has too few columns.
        row_indices = _select(n_rows, m, method, None if svd is None else svd[0],
                              lambda: _dense(C) if n_rows <= n_cols else matrix.sketch_rows(n_rows, rng), rng)
    R = matrix.rows(row_indices)

    if core == "optimal":
        U = _optimal_core(matrix.products, _dense(C), _dense(R), k, rtol)
    else:
        U = _truncated_pinv(_dense(C)[row_indices, :], k, rtol)
    return CURDecomposition(C, U, R, row_indices, col_indices)


def cur_from_functions(get_rows, get_cols, shape, k, *, n_cols=None, n_rows=None, method="lupp", rtol=None,
                       dtype=None, rng=None):
    """CUR decomposition of a matrix known only through functions that compute its rows and columns.

    Cross approximation: ``n_rows`` rows chosen uniformly at random are computed; the columns
    are the pivots of those rows; the pivots of those columns are computed as rows too. R
    holds every row computed (the random ones oversample the intersection, which steadies
    its pseudo-inverse), and the core is the truncated pseudo-inverse of the intersection
    ``A[I, J]``. No row or column is asked for twice, and none is asked for that C and R do
    not hold.

    Parameters
    ----------
    get_rows : callable
        ``get_rows(indices)`` with a 1-D intp array of distinct row indices returns the array
        ``A[indices, :]`` of shape ``(len(indices), n)`` (dense, or SciPy sparse).
    get_cols : callable
        ``get_cols(indices)`` returns ``A[:, indices]``, shape ``(m, len(indices))``.
    shape : tuple of int
        ``(m, n)``.
    k : int
        The rank of the approximation, ``1 <= k <= min(m, n)``.
    n_cols : int, optional
        Columns to select, ``k <= n_cols <= min(m, n)`` (default ``min(2 k, m, n)``).
    n_rows : int, optional
        Random rows to start from, ``n_cols <= n_rows <= m`` (default n_cols). R then holds
        between n_rows and ``n_rows + n_cols`` rows.
    method : {"lupp", "qr", "uniform"}, optional
        The pivoting rule (LU with partial pivoting, column-pivoted QR), or ``"uniform"``:
        columns at random and R the random rows alone. Default ``"lupp"``.
    rtol : float, optional
        As for :func:`cur`.
    dtype : dtype, optional
        The dtype to compute in (default: that of the first rows returned; float64 for bool
        and integers).
    rng : None, int or numpy.random.Generator, optional
        The source of randomness (``numpy.random.default_rng(rng)``).

    Returns
    -------
    CURDecomposition
        With ``n_evaluated`` the number of entries the callbacks returned:
        ``m * len(col_indices) + n * len(row_indices)``. Guarantees as for :func:`cur`: exact
        for rank at most k, otherwise an approximation that is not checked.

    Raises
    ------
    TypeError
        If get_rows or get_cols is not callable.
    ValueError
        If shape, k, n_cols, n_rows, method or rtol is out of range, or a callback returns an
        array of the wrong shape, with NaN or infinity, or complex values when computing in a
        real dtype (the message names the callback).

    Examples
    --------
    A 300 x 200 matrix of rank 4, of which 5600 entries are computed instead of 60000:

    >>> import numpy as np
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((300, 4)), rng.standard_normal((4, 200))
    >>> decomposition = pynla.cur_from_functions(lambda i: X[i] @ Y, lambda j: X @ Y[:, j],
    ...                                          (300, 200), 4, rng=0)
    >>> decomposition.n_evaluated
    5600
    >>> bool(np.allclose(decomposition.approximation(), X @ Y))
    True
    """
    m, n = _check_shape(shape)
    k = check_integer(k, "k", 1, min(m, n), bound="min(shape)")
    n_cols = check_integer(min(2 * k, m, n) if n_cols is None else n_cols, "n_cols", k, min(m, n),
                           bound="min(shape)")
    n_rows = check_integer(n_cols if n_rows is None else n_rows, "n_rows", n_cols, m, bound="shape[0]")
    check_choice(method, "method", METHODS[:2] + ("uniform",))
    rtol = _check_rtol(rtol)
    rng = np.random.default_rng(rng)
    fetch = _Callbacks(get_rows, get_cols, (m, n), dtype)

    random_rows = rng.choice(m, size=n_rows, replace=False).astype(np.intp)
    R = fetch.rows(random_rows)
    if method == "uniform":
        col_indices = rng.choice(n, size=n_cols, replace=False).astype(np.intp)
        row_indices = random_rows
    else:
        col_indices = _pivots(R.conj().T, n_cols, method)
    C = fetch.cols(col_indices)
    if method != "uniform":
        pivots = _pivots(C, n_cols, method)
        new_rows = pivots[~np.isin(pivots, random_rows)]
        row_indices = np.concatenate([new_rows, random_rows])
        if len(new_rows):
            R = np.concatenate([fetch.rows(new_rows), R])
    U = _truncated_pinv(C[row_indices, :], k, rtol)
    return CURDecomposition(C, U, R, row_indices, col_indices, fetch.n_evaluated)


# ---------------------------------------------------------------------------------------------
# Inputs


class _ExplicitMatrix:
    """A as ``cur`` reads it: columns and rows by index, and products (randomized._Products)."""

    def __init__(self, A):
        if isinstance(A, LinearOperator):
            raise TypeError("A must be an array or a SciPy sparse array or matrix; for a LinearOperator "
                            "or a matrix known through its rows and columns, use cur_from_functions")
        if sp.issparse(A):
            if A.ndim != 2:
                raise ValueError(f"A must be 2-D, got shape {A.shape}")
            dtype = dense_compute_dtype(A.dtype, "A")
            parts = csr_parts(A, "A")
            container = sp.csr_array if isinstance(A, sp.sparray) else sp.csr_matrix
            self._by_rows = container((np.asarray(parts.data, dtype=dtype), parts.indices, parts.indptr),
                                      shape=A.shape)
            if not self._by_rows.has_canonical_format:  # a copy: the arrays may be the caller's
                self._by_rows = self._by_rows.copy()
                self._by_rows.sum_duplicates()
            self._by_columns = self._by_rows.tocsc()
            self.array = self._by_rows
            self.products = _Products(self._by_rows)
            self.products.check_finite()
        else:
            self.products = _Products(A)  # checks type, dimensions and dtype
            self.array = np.asarray(A)
            if self.array.dtype != self.products.dtype:
                self.array = self.array.astype(self.products.dtype)
                self.products = _Products(self.array)  # one converted copy serves both
            self._by_rows = self._by_columns = self.array
        self.shape = self.products.shape
        self.dtype = self.products.dtype

    def sketch_columns(self, count, rng):
        """(S A)^T for a sparse sign sketch S with room to select ``count`` columns: its rows
        stand for A's columns. NaN or infinity anywhere in A reaches the sketch."""
        return self._sketch(self.array, count, rng)

    def sketch_rows(self, count, rng):
        """(S A^T)^T = A S^T, whose rows stand for A's rows, likewise."""
        return self._sketch(self.array.T, count, rng)

    def _sketch(self, B, count, rng):
        """(S B)^T for a sparse sign sketch S of B's rows, count + SKETCH_OVERSAMPLES of them."""
        size = B.shape[0]
        sketch = SparseSignSketch(min(count + SKETCH_OVERSAMPLES, size), size, nonzeros_per_column=min(8, size), rng=rng,
                                  dtype=np.finfo(B.dtype).dtype)
        return self.products.checked(_dense(sketch @ B)).T

    def columns(self, indices):
        return _finite(self._by_columns[:, indices], "A")

    def rows(self, indices):
        return _finite(self._by_rows[indices, :], "A")


class _Callbacks:
    """get_rows and get_cols, with what they return checked and the entries counted."""

    def __init__(self, get_rows, get_cols, shape, dtype):
        for callback, name in ((get_rows, "get_rows"), (get_cols, "get_cols")):
            if not callable(callback):
                raise TypeError(f"{name} must be callable, got {type(callback).__name__}")
        self._get_rows, self._get_cols = get_rows, get_cols
        self.shape = shape
        self.dtype = None if dtype is None else dense_compute_dtype(dtype, "A")
        self.n_evaluated = 0

    def rows(self, indices):
        return self._checked(self._get_rows(indices.copy()), (len(indices), self.shape[1]), "get_rows")

    def cols(self, indices):
        return self._checked(self._get_cols(indices.copy()), (self.shape[0], len(indices)), "get_cols")

    def _checked(self, values, expected_shape, name):
        if sp.issparse(values):
            values = values.toarray()
        values = np.asarray(values)
        if values.dtype.kind not in "biufc":
            raise ValueError(f"{name} must return a numeric array, got dtype {values.dtype}")
        if values.shape != expected_shape:
            raise ValueError(f"{name} returned shape {values.shape}, expected {expected_shape}")
        if self.dtype is None:
            self.dtype = dense_compute_dtype(values.dtype, "A")
        if values.dtype.kind == "c" and self.dtype.kind != "c":
            raise ValueError(f"{name} returned complex values to a real computation; pass a complex dtype")
        values = values.astype(self.dtype, copy=False)
        if not np.isfinite(values).all():
            raise ValueError(f"{name} returned NaN or infinity")
        self.n_evaluated += values.size
        return values


def _check_shape(shape):
    try:
        m, n = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a pair (m, n), got {shape!r}") from None
    return check_integer(m, "shape[0]", 1), check_integer(n, "shape[1]", 1)


def _selection_size(value, name, k, limit, bound):
    return check_integer(min(2 * k, limit) if value is None else value, name, k, limit, bound=bound)


def _check_rtol(rtol):
    if rtol is None:
        return None
    if not isinstance(rtol, (int, float, np.floating, np.integer)) or isinstance(rtol, bool) or not 0 <= rtol < 1:
        raise ValueError(f"rtol must be a number in [0, 1), got {rtol!r}")
    return float(rtol)


def _check_indices(indices, size, name):
    """Distinct integer indices in [-size, size), as non-negative intp; ValueError naming ``name``."""
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0 or indices.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a non-empty 1-D array of integers, got {indices!r}")
    if indices.min() < -size or indices.max() >= size:
        raise ValueError(f"{name} holds an index out of range for size {size}")
    indices = np.where(indices < 0, indices + size, indices).astype(np.intp)
    if len(np.unique(indices)) != len(indices):
        raise ValueError(f"{name} holds a repeated index")
    return indices


def _finite(values, name):
    data = values.data if sp.issparse(values) else values
    if not np.isfinite(data).all():
        raise ValueError(f"{name} must not contain NaN or infinity")
    return values


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


# ---------------------------------------------------------------------------------------------
# Selection


def _select(count, size, method, singular_vectors, sketch, rng):
    """``count`` distinct indices out of ``size`` (A's columns or rows). ``singular_vectors``
    (size x r) are A's right or left singular vectors for "deim" and "leverage"; ``sketch()``
    gives a size x l matrix whose rows stand for the indices, for pivoting."""
    if method == "uniform":
        return rng.choice(size, size=count, replace=False).astype(np.intp)
    if method == "leverage":
        return _sample(np.sum(np.abs(singular_vectors) ** 2, axis=1), count, rng)
    if method == "deim":
        return _pivots(singular_vectors, count, "qr")
    return _pivots(sketch(), count, method)


def _pivots(Y, count, method):
    """The first ``count`` rows of Y (p x l) chosen by pivoting: LU with partial pivoting on Y, or
    column-pivoted QR on Y^H. ``count <= l``, or the pivots after the l-th are arbitrary."""
    p = Y.shape[0]
    if method == "qr":
        _, order = scipy.linalg.qr(Y.conj().T, mode="r", pivoting=True)
        return order[:count].astype(np.intp)
    getrf = scipy.linalg.get_lapack_funcs("getrf", (Y,))
    _, swaps, _ = getrf(np.array(Y, order="F"), overwrite_a=True)  # a singular Y still pivots
    order = np.arange(p, dtype=np.intp)
    for i, j in enumerate(swaps[: min(count, p)]):  # at most l swaps, each O(1)
        order[i], order[j] = order[j], order[i]
    return order[:count]


def _sample(scores, count, rng):
    """``count`` distinct indices drawn with probability proportional to ``scores`` (Gumbel top-k:
    the ``count`` largest ``log(score) + Gumbel noise``; indices of zero score come last)."""
    with np.errstate(divide="ignore"):
        keys = np.log(scores) + rng.gumbel(size=scores.shape)
    return np.argsort(-keys, kind="stable")[:count].astype(np.intp)


# ---------------------------------------------------------------------------------------------
# Cores


def _truncated_svd(X, rtol):
    """The thin SVD of X without the singular values below rtol times the largest (on one BLAS
    thread where X is not tiny: see _threads.small_lapack_threads)."""
    with small_lapack_threads(min(X.shape)):
        W, s, Zh = scipy.linalg.svd(X, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    rtol = max(X.shape) * np.finfo(s.dtype).eps if rtol is None else rtol
    keep = int(np.count_nonzero(s > rtol * s[0])) if s.size and s[0] > 0 else 0
    return W[:, :keep], s[:keep], Zh[:keep]


def _truncated_pinv(X, k, rtol):
    """The pseudo-inverse of X's best rank-k approximation, small singular values dropped."""
    W, s, Zh = _truncated_svd(X, rtol)
    W, s, Zh = W[:, :k], s[:k], Zh[:k]
    return (Zh.conj().T / s) @ W.conj().T


def _optimal_core(products, C, R, k, rtol):
    """``U = C^+ [P_C A P_R]_k R^+`` from the SVDs C = Wc Sc Zc^H and R = Wr Sr Zr^H: with
    M = Wc^H A Zr and its best rank-k approximation M_k, U = Zc Sc^-1 M_k Sr^-1 Wr^H, so that
    C U R = Wc M_k Zr^H."""
    Wc, sc, Zch = _truncated_svd(C, rtol)
    # R's SVD from its conjugate transpose (n x r, tall): LAPACK is fastest that way round.
    Zr, sr, Wrh = _truncated_svd(R.conj().T, rtol)
    if sc.size == 0 or sr.size == 0:  # C or R is zero
        return np.zeros((C.shape[1], R.shape[0]), dtype=C.dtype)
    W, s, Zh = _truncated_svd(Wc.conj().T @ products.matmat(Zr), rtol)
    Mk = (W[:, :k] * s[:k]) @ Zh[:k]
    return (Zch.conj().T / sc) @ Mk @ (Wrh / sr[:, None])
