"""Least squares by sketching: ``min ||A x - b||`` for tall A (n x d, n much larger than d)."""

from collections import namedtuple

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp
import threadpoolctl

from pynla import _core
from pynla._validation import float_kernel_dtype
from pynla.block import aslinearoperator
from pynla.block_build import to_bsr
from pynla.sketch import SRHT, CountSketch, GaussianSketch, SparseSignSketch, _count

__all__ = ["LstsqResult", "sketched_lstsq"]

#: What sketched_lstsq returns.
LstsqResult = namedtuple("LstsqResult", ["x", "residual_norm", "iterations", "info"])

#: The iteration has stalled when _STALL_STEPS steps in a row fail to get below _STALL_FACTOR
#: times the smallest step so far (a converging step shrinks by about sqrt(d/s) < 0.3).
_STALL_FACTOR, _STALL_STEPS = 0.9, 3

_SKETCHES = {"sparse_sign": SparseSignSketch, "countsketch": CountSketch, "srht": SRHT, "gaussian": GaussianSketch}


def sketched_lstsq(A, b, *, method="precondition", sketch="sparse_sign", sketch_size=None, rtol=None,
                   maxiter=100, rng=None):
    """Solve ``min ||A x - b||_2`` for a tall A by sketching.

    ``method="precondition"`` (sketch-and-precondition, as Blendenpik and LSRN): sketch A with
    S (``S @ A``, s x d), take the QR factorization ``S A = Q R``, start from the
    sketch-and-solve answer ``R^-1 Q^H S b`` and iterate

        x <- x + alpha R^-1 R^-H A^H (b - A x) + beta (x - x_previous)

    (iterative sketching with momentum; Epperly, Meier and Nakatsukasa 2024 show it is forward
    stable, as accurate as Householder QR), with ``alpha = (1 - d/s)^2`` and ``beta = d/s``,
    the optimal heavy-ball parameters for a sketch of distortion ``sqrt(d/s)``: each iteration
    gains about ``sqrt(d/s)``. For dense A each iteration is a single pass over A in C++
    (``A^H (b - A x)`` is formed chunk by chunk while the rows are in cache). It stops once a
    step changes ``R x`` (about ``A x``) by less than ``rtol`` relatively, or once steps stop
    shrinking because the error has reached the level rounding allows (about
    ``cond(A) eps ||b - A x|| / ||A x||``, as for any backward stable solver).

    ``method="solve"`` (sketch-and-solve) returns ``R^-1 Q^H S b``: one pass over A, an answer
    whose residual is within a factor ``1 + O(sqrt(d/s))`` of the least one.

    Parameters
    ----------
    A : ndarray or sparse array/matrix, shape (n, d), n >= d
        Full column rank (see Raises). Dense A is used in place if its rows or columns are
        contiguous; sparse A of any format.
    b : array_like, shape (n,) or (n, q)
    method : {"precondition", "solve"}, optional
    sketch : {"sparse_sign", "countsketch", "srht", "gaussian"} or a sketch operator, optional
        The sketch (:mod:`pynla.sketch`); an operator must have shape (s, n). Default: the
        sparse sign embedding with 8 nonzeros per column.
    sketch_size : int, optional
        s, with d <= s <= n. Default ``min(n, max(12 d, d + 50))``.
    rtol : float, optional
        Relative step size that ends the iteration; default 4 eps of the dtype.
    maxiter : int, optional
        The most iterations (default 100).
    rng : None, int or numpy.random.Generator, optional
        Randomness for the sketch.

    Returns
    -------
    LstsqResult
        ``x`` (d,) or (d, q); ``residual_norm``, ``||b - A x||`` (a float, or (q,) for 2-D b);
        ``iterations``, the number of iterations (passes over A) after the sketch; ``info``,
        0 if the iteration converged (always 0 for "solve"), 1 if it stopped at ``maxiter``.

    Raises
    ------
    ValueError
        If A is not 2-D or wider than tall, b's rows do not match A, A or b holds NaN or
        infinity, the sketch size or method is out of range.
    numpy.linalg.LinAlgError
        If A is rank deficient (numerically: the sketch's R has a diagonal entry below
        ``s eps max|R_ii|``). Sketching cannot give a minimum-norm solution; use
        ``scipy.linalg.lstsq`` for those.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.linalg
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((5000, 20))
    >>> b = rng.standard_normal(5000)
    >>> result = pynla.sketched_lstsq(A, b, rng=1)
    >>> x_ref = scipy.linalg.lstsq(A, b)[0]
    >>> bool(np.linalg.norm(result.x - x_ref) <= 1e-12 * np.linalg.norm(x_ref)), result.info
    (True, 0)
    >>> approximate = pynla.sketched_lstsq(A, b, method="solve", rng=1)
    >>> bool(approximate.residual_norm < 1.1 * np.linalg.norm(A @ x_ref - b))
    True
    """
    if method not in ("precondition", "solve"):
        raise ValueError(f"method must be 'precondition' or 'solve', got {method!r}")
    A, b, dtype = _checked_problem(A, b)
    n, d = A.shape
    maxiter = _count(maxiter, "maxiter", 0)
    S = _make_sketch(sketch, sketch_size, n, d, rng)
    rtol = 4 * np.finfo(dtype).eps if rtol is None else float(rtol)
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol}")
    B = b.reshape(n, -1)
    SA, SB = S @ A, np.asarray(S @ B)
    # What follows runs little BLAS (the s x d QR, d x d solves); BLAS threads, which spin
    # between calls, would only take the cores from the passes over A in between.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        return _solve(A, B, SA.toarray() if sp.issparse(SA) else SA, SB, b, method, rtol, maxiter, dtype)


def _solve(A, B, SA, SB, b, method, rtol, maxiter, dtype):
    """sketched_lstsq after the sketch: SA = S A and SB = S B."""
    d, s = A.shape[1], SA.shape[0]
    Q, R = sl.qr(SA, mode="economic")
    magnitudes = np.abs(np.diag(R))
    if d > 0 and magnitudes.min() <= s * np.finfo(dtype).eps * magnitudes.max():
        rank = int(np.sum(magnitudes > s * np.finfo(dtype).eps * magnitudes.max()))
        raise np.linalg.LinAlgError(f"A is rank deficient (numerical rank {rank} < {d} columns); sketched_lstsq "
                                    "needs full column rank: use scipy.linalg.lstsq for a minimum-norm solution")
    X = sl.solve_triangular(R, Q.conj().T @ SB)
    gradient = _gradient_function(A)
    if method == "solve":
        residual = np.sqrt(gradient(X, B)[1])
        return _result(X, residual, b, 0, 0)

    ratio = d / s
    alpha, beta = (1 - ratio) ** 2, ratio
    X_previous = X
    info, iterations = 1, 0
    smallest, stalled = np.inf, 0
    for iterations in range(1, maxiter + 1):
        G = gradient(X, B)[0]
        step = sl.solve_triangular(R, sl.solve_triangular(R, G, trans="C"))
        X, X_previous = X + alpha * step + beta * (X - X_previous), X
        change = np.max(np.linalg.norm(R @ (X - X_previous), axis=0) / np.linalg.norm(R @ X, axis=0))
        # Done when a step is below rtol, or when steps stop shrinking: the error has reached the
        # level that rounding in A^H (b - A x) sets (about cond(A) eps ||r|| / ||A x||).
        stalled = stalled + 1 if change > _STALL_FACTOR * smallest else 0
        smallest = min(smallest, change)
        if change <= rtol or stalled >= _STALL_STEPS:
            info = 0
            break
    return _result(X, np.sqrt(gradient(X, B)[1]), b, iterations, info)


def _checked_problem(A, b):
    """A (dense or CSR) and b in one kernel dtype, checked; returns (A, b, dtype)."""
    if sp.issparse(A):
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        data = A.data
    else:
        A = np.asarray(A)
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        data = A
    b = np.asarray(b)
    n, d = A.shape
    if n < d:
        raise ValueError(f"A has shape {A.shape}: sketched least squares needs at least as many rows as columns")
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ValueError(f"b has shape {b.shape}, expected ({n},) or ({n}, q) for A {A.shape}")
    dtype = float_kernel_dtype(np.result_type(A.dtype, b.dtype), "A")
    if not np.all(np.isfinite(data)):
        raise ValueError("A must not contain NaN or infinity")
    if not np.all(np.isfinite(b)):
        raise ValueError("b must not contain NaN or infinity")
    if sp.issparse(A):
        A = A.tocsr().astype(dtype, copy=False)
    elif A.strides[1] != A.itemsize and A.strides[0] != A.itemsize and d > 1:
        A = np.ascontiguousarray(A, dtype=dtype)
    else:
        A = A.astype(dtype, copy=False)
    return A, np.ascontiguousarray(b, dtype=dtype), dtype


def _make_sketch(sketch, sketch_size, n, d, rng):
    if isinstance(sketch, str):
        if sketch not in _SKETCHES:
            raise ValueError(f"sketch must be one of {sorted(_SKETCHES)} or a sketch operator, got {sketch!r}")
        s = min(n, max(12 * d, d + 50)) if sketch_size is None else _count(sketch_size, "sketch_size", 1)
        if not d <= s <= n:
            raise ValueError(f"sketch_size must be between d={d} and n={n}, got {s}")
        return _SKETCHES[sketch](s, n, rng=rng)
    if not hasattr(sketch, "shape") or tuple(sketch.shape)[1:] != (n,) or not d <= sketch.shape[0] <= n:
        raise ValueError(f"sketch must be an operator of shape (s, {n}) with {d} <= s <= {n}")
    return sketch


def _gradient_function(A):
    """gradient(X, B) -> (A^H (B - A X), squared column norms of B - A X): one pass over dense A."""
    if sp.issparse(A):
        operator = aslinearoperator(to_bsr(A, blocksize=(1, 1)))

        def gradient(X, B):
            residual = B - operator.matmat(X)
            return operator.rmatmat(residual), np.sum(np.abs(residual) ** 2, axis=0)

        return gradient

    def gradient(X, B):
        G, norms = _core.residual_gradient(A, np.ascontiguousarray(X), B)
        return G.reshape(X.shape), norms

    return gradient


def _result(X, residual, b, iterations, info):
    if b.ndim == 1:
        return LstsqResult(X.reshape(-1), float(residual[0]), iterations, info)
    return LstsqResult(X, residual, iterations, info)
