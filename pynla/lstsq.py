"""Least squares ``min ||A x - b||`` for A with at least as many rows as columns: sketch-and-
precondition where it pays, LAPACK where it does not, and no answer called converged unchecked."""

import functools
import math
from collections import namedtuple

import numpy as np
import scipy.linalg as sl
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from pynla import _core
from pynla._threads import one_blas_thread
from pynla._validation import check_choice, float_kernel_dtype
from pynla.block import aslinearoperator
from pynla.block_build import to_bsr
from pynla.sketch import SRHT, CountSketch, GaussianSketch, SparseSignSketch, _count

__all__ = ["LstsqResult", "sketched_lstsq"]

#: What sketched_lstsq returns.
LstsqResult = namedtuple("LstsqResult", ["x", "residual_norm", "iterations", "info"])

#: The values ``method`` takes.
METHODS = ("auto", "precondition", "solve", "direct")

#: The iteration has stalled when _STALL_STEPS steps in a row fail to take the excess residual
#: below _STALL_FACTOR times the last one that did (steps shrink it by about sqrt(d/s) each,
#: below 0.3 for the default s; at the rounding level it wanders). A stall counts as the end
#: only within _CERTIFICATE_FACTOR units of that level: heavy-ball steps can plateau for ten
#: steps far above it before they converge.
_STALL_FACTOR, _STALL_STEPS = 0.5, 4

#: The iteration diverges (R, from a sketch that does not embed A's range, does not precondition
#: A) once a residual passes _DIVERGED times ||b|| (that of x = 0): it stops there, long before
#: a product with A could overflow.
_DIVERGED = 1e4

#: An answer is certified when its excess residual, estimated as ||R^-H A^H r|| from a pass
#: over A, is at most _CERTIFICATE_FACTOR units of eps (cond(R) ||r|| + ||R|| ||x||): the level
#: rounding leaves in any forward stable answer. Answers at the rounding floor measured at up to
#: about 3 units (cond 1 to 1e10, residuals 0 to 10 ||A x||, 4000 to 1e5 rows; tests/test_lstsq.py
#: checks the margin); wrong answers that the old stopping rule called converged, at 1e3 to 1e14.
_CERTIFICATE_FACTOR = 64

#: R (from the sketch) whose smallest singular value is at most _RANK_SUSPECT eps times its
#: largest may come from a rank-deficient A (a sketch that embeds A's range changes A's
#: condition number by a factor (1 + e) / (1 - e), below 4 for distortions e up to 0.6, and a
#: sketch that does not can make R near singular where A is not): A's rank is then decided on A.
_RANK_SUSPECT = 4

#: The most entries of a sparse A densified for a direct solve when its sketch-and-precondition
#: answer fails its check (2^27 entries: 1 GiB in float64).
_DENSE_FALLBACK_ENTRIES = 1 << 27

#: The rates behind method="auto" (seconds, 2-core AMD EPYC, 32 MiB L3): "flop", a real
#: multiply-add in LAPACK's QR of an n x d matrix, which costs n d (d + "panel") of them (its
#: narrow panels run below the BLAS-3 rate), slower by 1 + size / (size + "cache") once A no
#: longer fits in cache (gelsd of 400000 x 50: 2x the in-cache rate); "dense_entry" and
#: "sparse_entry", a pass over A per byte of a value, and "row", per row; "iteration" and
#: "call", the Python work of an iteration and of a call. Sketching is taken when its estimate
#: is below "margin" times the direct one (the estimates are rough; the direct answer is exact).
#: Fitted to gelsd and the forced iteration on d = 10 ... 500, n = 16 d ... 20000 d.
_COST = {"flop": 7.4e-11, "panel": 150, "cache": 128 << 20, "dense_entry": 5.5e-11, "sparse_entry": 4e-10,
         "row": 5e-9, "iteration": 6e-5, "call": 1e-3, "margin": 0.8}

#: The most iterations when the caller sets none: about three times what the default sketch needs
#: in float64 (about 31).
_DEFAULT_MAXITER = 100

_SKETCHES = {"sparse_sign": SparseSignSketch, "countsketch": CountSketch, "srht": SRHT, "gaussian": GaussianSketch}


def sketched_lstsq(A, b, *, method="auto", sketch="sparse_sign", sketch_size=None, rtol=None,
                   maxiter=None, rng=None):
    """Solve ``min ||A x - b||_2`` for A with at least as many rows as columns, by sketching
    where that is faster than LAPACK.

    ``method="precondition"`` (sketch-and-precondition, as Blendenpik and LSRN): sketch A with
    S (``S @ A``, s x d), take the QR factorization ``S A = Q R``, start from the
    sketch-and-solve answer ``R^-1 Q^H S b`` and iterate

        x <- x + alpha R^-1 R^-H A^H (b - A x) + beta (x - x_previous)

    (iterative sketching with momentum; Epperly, Meier and Nakatsukasa 2024 show it is forward
    stable, as accurate as Householder QR), with ``alpha = (1 - d/s)^2`` and ``beta = d/s``,
    the optimal heavy-ball parameters for a sketch of distortion ``sqrt(d/s)``: each iteration
    gains about ``sqrt(d/s)``. For dense A each iteration is a single pass over A in C++
    (``A^H (b - A x)`` is formed chunk by chunk while the rows are in cache).

    Every pass also checks the answer: its excess residual ``||A (x - x_best)||``, estimated as
    ``||R^-H A^H (b - A x)||``, is compared with the level rounding leaves in a forward stable
    answer, ``eps (cond(R) ||b - A x|| + ||R|| ||x||)``. The iteration ends once the estimate
    is below ``rtol ||R x||``, or when it stops shrinking within 64 times that level; an
    answer not within 64 times it (a sketch that does not embed A's range, as when s is close
    to n) is replaced by LAPACK's (``gelsd``, as ``scipy.linalg.lstsq``). If R looks singular
    (singular values below ``4 eps`` times the largest) the rank is decided on A, by LAPACK.

    ``method="direct"`` solves with LAPACK's ``gelsd`` (``scipy.linalg.lstsq``'s default
    driver; SciPy's answer to the bit for SciPy's inputs). ``method="auto"`` (the default)
    takes "precondition" where a cost model says it is faster, "direct" elsewhere: the model
    weighs the QR factorizations (about ``n d (d + 150)`` flops for A, slower once A leaves the
    cache; the same for the s x d sketch) against about ``log(rtol) / log(sqrt(d / s))``
    passes over A at memory speed, with rates measured on a 2-core x86-64 machine. Small,
    square and nearly square problems are solved directly; in float64 sketching is taken from
    about n = 5000 d at d = 50, n = 290 d at d = 100, n = 47 d at d = 200 and n = 19 d at
    d = 500, and never for d <= 20 (fewer rows for complex and float32 A).

    ``method="solve"`` (sketch-and-solve) returns ``R^-1 Q^H S b``: one pass over A, an answer
    whose residual is within a factor ``1 + O(sqrt(d/s))`` of the least one when S embeds A's
    range (likely for the default s; not checked).

    Whatever the method, where s would exceed half of A's rows LAPACK answers: such a sketch
    saves little work, and one as large as A embeds nothing (a square S is just a mixing of
    A's rows, whose R need not precondition A).

    Parameters
    ----------
    A : ndarray or sparse array/matrix, shape (n, d), n >= d
        Full column rank (see Raises). Dense A is used in place if its rows or columns are
        contiguous; sparse A of any format.
    b : array_like, shape (n,) or (n, q)
    method : {"auto", "precondition", "solve", "direct"}, optional
    sketch : {"sparse_sign", "countsketch", "srht", "gaussian"} or a sketch operator, optional
        The sketch (:mod:`pynla.sketch`); an operator must have shape (s, n). Default: the
        sparse sign embedding with 8 nonzeros per column (fewer when s < 8).
    sketch_size : int, optional
        s, with d <= s <= n. Default ``min(n, max(12 d, d + 50))``.
    rtol : float, optional
        The iteration ends once ``||R^-H A^H (b - A x)||`` (about the excess residual) is below
        ``rtol ||R x||`` (about ``||A x||``), or when it stops shrinking at the rounding level;
        default 4 eps of the dtype.
    maxiter : int, optional
        The most iterations. Default: up to 100, after which an answer that is still not
        converged (as with a sketch too small to embed A's range) is replaced by LAPACK's; a
        given maxiter is kept to, with ``info = 1`` when reached.
    rng : None, int or numpy.random.Generator, optional
        Randomness for the sketch.

    Returns
    -------
    LstsqResult
        ``x`` (d,) or (d, q); ``residual_norm``, ``||b - A x||`` (a float, or (q,) for 2-D b);
        ``iterations``, the number of iterations (steps; A is passed over once more) after
        the sketch (0 for "direct" and "solve"); ``info``: 0 if x is the least-squares solution to rounding
        (checked, or solved directly; always 0 for "solve"), 1 if the iteration stopped at a
        given ``maxiter`` (x is the last iterate, unchecked), 2 if a sparse A's answer failed its
        check and A is too large to solve densely (more than 2^27 entries; x is the last iterate).

    Raises
    ------
    ValueError
        If A is not 2-D or wider than tall, b's rows do not match A, A or b holds NaN or
        infinity, the sketch size or method is out of range.
    numpy.linalg.LinAlgError
        If A is rank deficient: singular values below ``eps`` times the largest, the rule of
        ``scipy.linalg.lstsq`` (decided on A by LAPACK; for a sparse A of more than 2^27
        entries, by its sketch). Sketching cannot give a minimum-norm solution; use
        ``scipy.linalg.lstsq`` for those.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.linalg
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((5000, 20))
    >>> b = rng.standard_normal(5000)
    >>> result = pynla.sketched_lstsq(A, b, method="precondition", rng=1)
    >>> x_ref = scipy.linalg.lstsq(A, b)[0]
    >>> bool(np.linalg.norm(result.x - x_ref) <= 1e-12 * np.linalg.norm(x_ref)), result.info
    (True, 0)
    >>> approximate = pynla.sketched_lstsq(A, b, method="solve", rng=1)
    >>> bool(approximate.residual_norm < 1.1 * np.linalg.norm(A @ x_ref - b))
    True
    >>> small = pynla.sketched_lstsq(A[:30], b[:30])  # "auto": solved by LAPACK
    >>> bool(np.array_equal(small.x, scipy.linalg.lstsq(A[:30], b[:30])[0])), small.iterations
    (True, 0)
    """
    check_choice(method, "method", METHODS)
    A, b, dtype = _checked_problem(A, b)
    n, d = A.shape
    limited = maxiter is not None
    maxiter = _count(maxiter, "maxiter", 0) if limited else _DEFAULT_MAXITER
    rtol = 4 * np.finfo(dtype).eps if rtol is None else float(rtol)
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol}")
    s = _sketch_rows(sketch, sketch_size, n, d)
    B = b.reshape(n, 1) if b.ndim == 1 else b
    direct = (d == 0 or method == "direct" or 2 * s > n
              or (method == "auto" and not _sketching_pays(A, s, dtype, rtol)))
    if direct:
        return _result(*_direct(A, B), 0, 0, b)
    S = _make_sketch(sketch, s, n, rng, dtype)
    # In A's dtype: a given sketch's entries may be wider (a float64 S on float32 A).
    SA, SB = S @ A, np.asarray(S @ B, dtype=dtype)
    SA = SA.astype(dtype, copy=False)
    # What follows runs little BLAS (the s x d QR, d x d solves); BLAS threads, which spin
    # between calls, would only take the cores from the passes over A in between.
    with one_blas_thread():
        X, residual, iterations, info = _sketched(A, B, SA.toarray() if sp.issparse(SA) else SA, SB, method,
                                                  rtol, maxiter, limited, dtype)
    if X is None:  # LAPACK answers, on the BLAS's own thread count
        X, residual = _direct(A, B)
    return _result(X, residual, iterations, info, b)


def _sketched(A, B, SA, SB, method, rtol, maxiter, limited, dtype):
    """sketched_lstsq after the sketch (SA = S A, SB = S B): (X, residual norms, iterations, info),
    with X None where LAPACK must answer instead; ``limited``: maxiter was the caller's."""
    densifiable = not sp.issparse(A) or A.shape[0] * A.shape[1] <= _DENSE_FALLBACK_ENTRIES
    Q, R = sl.qr(SA, mode="economic")
    singular_values = sl.svdvals(R)
    eps = np.finfo(dtype).eps
    if singular_values[-1] <= _RANK_SUSPECT * eps * singular_values[0]:
        if densifiable:
            return None, None, 0, 0  # R may be singular where A is not: A decides
        rank = int(np.sum(singular_values > _RANK_SUSPECT * eps * singular_values[0]))
        raise np.linalg.LinAlgError(f"A is rank deficient (numerical rank {rank} < {R.shape[1]} columns, from its "
                                    "sketch; A is too large to confirm densely): use scipy.linalg.lstsq or lsqr")
    X = sl.solve_triangular(R, Q.conj().T @ SB)
    gradient = _gradient_function(A)
    if method == "solve":
        return X, np.sqrt(gradient(X, B)[1]), 0, 0
    X, residual, iterations, certified = _iterate(R, singular_values, X, B, gradient, rtol, maxiter, SA.shape[0])
    if certified:
        return X, residual, iterations, 0
    if limited:
        return X, residual, iterations, 1
    if not densifiable:
        return X, residual, iterations, 2
    return None, None, iterations, 0


def _iterate(R, singular_values, X, B, gradient, rtol, maxiter, s):
    """Iterative sketching with momentum from X, for a sketch of s rows and the triangular R of
    its QR (singular values descending): (X, residual norms, iterations, certified).

    Each pass over A gives, for the current X, A^H r and ||r||: enough for the check
    (_excess_units) and for the step. The iteration ends once ||R^-H A^H r|| <= rtol ||R x||,
    or when it stalls within _CERTIFICATE_FACTOR units of the rounding level (there, not at
    one unit, which is a bound: the error keeps shrinking below it for several steps); it is
    certified when it ends within _CERTIFICATE_FACTOR units."""
    ratio = R.shape[1] / s
    alpha, beta = (1 - ratio) ** 2, ratio
    X_previous = X
    B_norms = np.linalg.norm(B, axis=0)
    best, stalled, iterations = np.inf, 0, 0
    while True:
        G, squared_norms = gradient(X, B)
        residual = np.sqrt(squared_norms)
        Z, units = _excess_units(R, singular_values, X, G, residual)
        if np.any(residual > _DIVERGED * B_norms):
            return X, residual, iterations, False  # R does not precondition A: steps grow
        if np.all(np.linalg.norm(Z, axis=0) <= rtol * np.linalg.norm(R @ X, axis=0)):
            return X, residual, iterations, True
        # Stalled within the band rounding allows: steps no longer halve the excess.
        if units < _STALL_FACTOR * best:
            best, stalled = units, 0
        else:
            stalled += 1
        if (stalled >= _STALL_STEPS and units <= _CERTIFICATE_FACTOR) or iterations == maxiter:
            return X, residual, iterations, units <= _CERTIFICATE_FACTOR
        step = sl.solve_triangular(R, Z)
        X, X_previous = X + alpha * step + beta * (X - X_previous), X
        iterations += 1


def _excess_units(R, singular_values, X, G, residual):
    """The check of an answer X, given G = A^H r and the norms of r = B - A X: (Z, units) with
    Z = R^-H G, whose columns' norms estimate the excess residual ||A (x - x_best)|| (exactly
    so where S embeds A's range), and the largest of them in units of the rounding level of a
    forward stable answer, eps (cond(R) ||r|| + ||R|| ||x||)."""
    Z = sl.solve_triangular(R, G, trans="C")
    excess = np.linalg.norm(Z, axis=0)
    condition = singular_values[0] / singular_values[-1]
    unit = np.finfo(X.dtype).eps * (condition * residual + singular_values[0] * np.linalg.norm(X, axis=0))
    return Z, float(np.max(np.divide(excess, unit, out=np.zeros_like(excess), where=excess > 0), initial=0))


def _direct(A, B):
    """LAPACK's gelsd on A (densified if sparse): (X, residual norms); LinAlgError if A is rank
    deficient by SciPy's rule (singular values below eps times the largest)."""
    dense = A.toarray() if sp.issparse(A) else A
    n, d = dense.shape
    if d == 0:
        return np.zeros((0, B.shape[1]), dtype=B.dtype), np.linalg.norm(B, axis=0)
    gelsd = lapack.get_lapack_funcs("gelsd", (dense, B))
    cond = np.finfo(gelsd.dtype).eps
    work = _gelsd_work(gelsd.dtype.char, n, d, B.shape[1], float(cond))
    X, _, rank, info = gelsd(dense, B, *work, cond, False, False)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK gelsd failed (info {info}): its SVD did not converge")
    if rank < d:
        raise np.linalg.LinAlgError(f"A is rank deficient (numerical rank {rank} < {d} columns); sketched_lstsq "
                                    "needs full column rank: use scipy.linalg.lstsq for a minimum-norm solution")
    # Rows d: of gelsd's output are Q^H b past A's range: their norms are the residual norms (as
    # SciPy's residues), with no product with A, whose NumPy BLAS threads would then spin on the
    # cores the next SciPy LAPACK call needs (that made a loop of these calls 2x slower).
    return X[:d], np.linalg.norm(X[d:], axis=0)


@functools.lru_cache(maxsize=64)
def _gelsd_work(dtype_char, n, d, q, cond):
    """gelsd's workspace sizes for an n x d problem with q right-hand sides (LAPACK's query)."""
    query = lapack.get_lapack_funcs("gelsd_lwork", dtype=np.dtype(dtype_char))
    *sizes, info = query(n, d, q, cond)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK gelsd workspace query failed (info {info})")
    # Sizes come back in the working precision (complex for complex types): in single
    # precision a large one may be rounded down, so take the next float up, as SciPy does.
    real = np.finfo(np.dtype(dtype_char)).dtype
    return tuple(int(np.ceil(np.nextafter(real.type(np.real(size)), real.type(np.inf)))) for size in sizes)


def _sketching_pays(A, s, dtype, rtol):
    """The cost model behind method="auto": whether sketch-and-precondition is estimated faster
    than LAPACK's gelsd (rates in _COST)."""
    n, d = A.shape
    if s >= n:
        return False
    real_bytes = dtype.itemsize // 2 if dtype.kind == "c" else dtype.itemsize
    flop = _COST["flop"] * (4 if dtype.kind == "c" else 1) * real_bytes / 8
    size = n * d * dtype.itemsize
    out_of_cache = 1 + size / (size + _COST["cache"])
    entry = _COST["dense_entry" if not sp.issparse(A) else "sparse_entry"] * dtype.itemsize
    entries = A.nnz if sp.issparse(A) else n * d
    passes = math.log(rtol) / math.log(math.sqrt(d / s)) + 3
    direct = n * d * (d + _COST["panel"]) * flop * out_of_cache
    sketched = (_COST["call"] + s * d * (d + _COST["panel"]) * flop
                + passes * (entries * entry + n * _COST["row"] + _COST["iteration"] + 4 * d * d * flop))
    return sketched < _COST["margin"] * direct


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


def _sketch_rows(sketch, sketch_size, n, d):
    """s, the sketch's number of rows, checked: d <= s <= n."""
    if isinstance(sketch, str):
        if sketch not in _SKETCHES:
            raise ValueError(f"sketch must be one of {sorted(_SKETCHES)} or a sketch operator, got {sketch!r}")
        s = min(n, max(12 * d, d + 50)) if sketch_size is None else _count(sketch_size, "sketch_size", 1)
        if not d <= s <= n:
            raise ValueError(f"sketch_size must be between d={d} and n={n}, got {s}")
        return s
    if not hasattr(sketch, "shape") or tuple(sketch.shape)[1:] != (n,) or not d <= sketch.shape[0] <= n:
        raise ValueError(f"sketch must be an operator of shape (s, {n}) with {d} <= s <= {n}")
    return sketch.shape[0]


def _make_sketch(sketch, s, n, rng, dtype):
    """The sketch named ``sketch`` (or the given operator), with entries of the real dtype of
    ``dtype``: S A is then in A's dtype."""
    if not isinstance(sketch, str):
        return sketch
    real = np.finfo(dtype).dtype
    if sketch == "sparse_sign":
        return SparseSignSketch(s, n, nonzeros_per_column=min(8, s), rng=rng, dtype=real)
    return _SKETCHES[sketch](s, n, rng=rng, dtype=real)


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


def _result(X, residual, iterations, info, b):
    if b.ndim == 1:
        return LstsqResult(X.reshape(-1), float(residual[0]), iterations, info)
    return LstsqResult(X, residual, iterations, info)
