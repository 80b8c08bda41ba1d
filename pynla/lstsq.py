"""Least squares ``min ||A x - b||`` for A with at least as many rows as columns: a Cholesky
factor of A's Gram matrix (sketch-preconditioned where A is ill conditioned) or
sketch-and-precondition where they pay, LAPACK where they do not, and no answer called converged
unchecked."""

import functools
import math
from collections import namedtuple

import numpy as np
import scipy.linalg as sl
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from pynla import _core
from pynla._cgls import cgls
from pynla._threads import one_blas_thread
from pynla.orthogonalize import cholesky_factor, eigh_lapack, lapack_routine, times_power_of_two
from pynla._validation import cast_csr, check_choice, csr_parts, float_kernel_dtype
from pynla.sketch import SRHT, CountSketch, GaussianSketch, SparseSignSketch, _count

__all__ = ["LstsqResult", "sketched_lstsq"]

#: What sketched_lstsq returns.
LstsqResult = namedtuple("LstsqResult", ["x", "residual_norm", "iterations", "info"])

#: The values ``method`` takes.
METHODS = ("auto", "cholesky", "precondition", "krylov", "solve", "direct")

#: The Cholesky factor of A's Gram matrix is used where LAPACK's estimate of the reciprocal
#: condition number of the Gram matrix with unit diagonal is at least this many units of
#: rounding: each refinement step then shrinks the error by about that estimate over eps, or
#: more (measured: 4e4 units shrank it 5e4-fold, 5 units 10-fold; the estimate, a 1-norm one,
#: was 7 times below the true value on 200000 x 200 at cond 1e6), so a few steps, a pass over A
#: each, reach the rounding level. Below, A R0^-1 (R0 from a sketch) is factored instead, which
#: costs a copy of A and a triangular solve with it: at 100000 x 100, cond 1e7, 33 ms by A's own
#: factor and three steps against 107 ms.
_GRAM_MIN_UNITS = 16

#: method="auto" takes "cholesky" only where A has at least this many rows per column: below,
#: its gain over gelsd is small or none (1000 x 1000: 1.05x; 200 x 200: 1.4x; 50 x 50: 0.8x),
#: and an A too ill conditioned for its Gram matrix pays for that matrix and then for gelsd
#: (a sketch has no room).
_CHOLESKY_MIN_ROWS_PER_COLUMN = 2

#: R's extreme singular values, which the check needs (_excess_units), are computed exactly
#: (d^3 work) up to this many columns and estimated above (_extreme_singular_values), where the
#: estimate, about 0.2 ms and d^2 work, is cheaper: at d = 200 the exact values took 1.4 ms of a
#: 5.6 ms solve, the estimate 0.4 ms; at d = 500, 14 against 1.6 ms.
_EXACT_SINGULAR_VALUES_COLUMNS = 80

#: The estimate's Krylov bases: _KRYLOV_BLOCKS blocks of _KRYLOV_WIDTH columns.
_KRYLOV_BLOCKS, _KRYLOV_WIDTH = 3, 4

#: The most refinement steps of method="cholesky" when the caller sets no maxiter: a factor
#: that passed its checks needs two or three.
_DEFAULT_REFINEMENT_STEPS = 10

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
#: longer fits in cache (gelsd of 400000 x 50: 2x the in-cache rate); "gram_flop", one in the
#: core's Gram matrix (n d^2 / 2 of them, at the BLAS-3 rate); "small_flop", per d^3 of the
#: d x d factorizations; "dense_entry" and "sparse_entry", a pass over A per byte of a value,
#: and "row", per row; "iteration" and "call", the Python work of an iteration and of a call
#: of sketch-and-precondition, "cholesky_call" of method="cholesky", which takes about
#: "refinements" passes after its Gram matrix; "gelsd_call" and "gelsd_square" (per
#: d^2 / (1 + d / 500)), the costs of gelsd beyond its QR (its small SVD: 200 x 50 takes 0.6 ms,
#: four times its QR's flops; 1000 x 1000, 57 of 142 ms). Another method is taken when its estimate is below "margin" times gelsd's (the
#: estimates are rough; the direct answer is exact). Fitted to gelsd and the forced methods on
#: d = 10 ... 500, n = 1 d ... 20000 d.
_COST = {"flop": 7.4e-11, "panel": 150, "cache": 128 << 20, "gram_flop": 1.6e-11, "small_flop": 8e-11,
         "dense_entry": 5.5e-11, "sparse_entry": 4e-10, "row": 5e-9, "iteration": 6e-5, "call": 1e-3,
         "cholesky_call": 1.5e-4, "refinements": 2, "gelsd_call": 6e-5, "gelsd_square": 1.5e-7, "margin": 0.8}

#: How an iteration steps and when it ends (_iterate): ``x <- x + alpha R^-1 R^-H A^H (b - A x)
#: + beta (x - x_previous)``, ended once ``stall_steps`` steps in a row fail to halve the error
#: within _CERTIFICATE_FACTOR units of the rounding level, or once it is within ``enough_units``.
_Schedule = namedtuple("_Schedule", ["alpha", "beta", "stall_steps", "enough_units"])

#: Refinement with a factor that makes A R^-1 nearly orthonormal: plain steps, each shrinking
#: the error 16-fold or more (_GRAM_MIN_UNITS), so one that does not halve it is at the rounding
#: level.
#: Once a check finds the error within one unit (the bound a backward stable solver such as
#: gelsd guarantees), one more step, unchecked, takes it to the rounding floor: that saves the
#: pass over A that would check it.
_REFINEMENT = _Schedule(alpha=1.0, beta=0.0, stall_steps=1, enough_units=1.0)

#: The passes method="auto" expects CGLS ("krylov") to take on a sparse A, for its cost model:
#: on random tall sparse matrices (cond about 1.2) it took 9-15 steps and two passes more. An A
#: that needs many more (ill conditioned) is found out within the budget, at a few passes' cost.
_KRYLOV_PASSES = 16

#: The most iterations when the caller sets none: about three times what the default sketch needs
#: in float64 (about 31).
_DEFAULT_MAXITER = 100

_SKETCHES = {"sparse_sign": SparseSignSketch, "countsketch": CountSketch, "srht": SRHT, "gaussian": GaussianSketch}


def sketched_lstsq(A, b, *, method="auto", sketch="sparse_sign", sketch_size=None, rtol=None,
                   maxiter=None, rng=None):
    """Solve ``min ||A x - b||_2`` for A with at least as many rows as columns, several times
    faster than LAPACK where A is tall, with LAPACK's accuracy.

    ``method="cholesky"`` (dense A): one pass over A gives its Gram matrix ``A^H A = R^H R``
    (Cholesky) and ``A^H b`` at matrix-matrix speed, then ``x = R^-1 R^-H A^H b`` is refined,

        x <- x + R^-1 R^-H A^H (b - A x),

    each step a pass over A. Where A is too ill conditioned for its Gram matrix (LAPACK's
    estimate of the reciprocal condition number of ``A^H A``, scaled to a unit diagonal, below
    16 eps: about cond(A) > 1e7 in float64, 1e3 in float32), the Gram matrix is that of ``Y =
    A R0^-1`` instead, with R0 from the QR factorization of a sketch ``S A`` (randomized
    Cholesky QR: Y is well conditioned whenever S embeds A's range, and ``A = (Y R1^-1)(R1
    R0)`` is a QR factorization); that takes a copy of A and a triangular solve with it. Either
    way, A R^-1 is close to orthonormal, so each step shrinks the error at least 16-fold,
    usually far more: one to three steps (passes) reach the rounding level, for condition
    numbers up to 1e12 and beyond.

    ``method="precondition"`` (sketch-and-precondition, as Blendenpik and LSRN; dense or
    sparse A): sketch A with S (``S @ A``, s x d), take the QR factorization ``S A = Q R``,
    start from the sketch-and-solve answer ``R^-1 Q^H S b`` and iterate

        x <- x + alpha R^-1 R^-H A^H (b - A x) + beta (x - x_previous)

    (iterative sketching with momentum; Epperly, Meier and Nakatsukasa 2024 show it is forward
    stable, as accurate as Householder QR), with ``alpha = (1 - d/s)^2`` and ``beta = d/s``,
    the optimal heavy-ball parameters for a sketch of distortion ``sqrt(d/s)``: each iteration
    gains about ``sqrt(d/s)``, about 30 passes in all. For dense A each pass is one sweep over
    A in C++ (``A^H (b - A x)`` is formed chunk by chunk while the rows are in cache).

    Both check every pass: the excess residual ``||A (x - x_best)||``, estimated as
    ``||R^-H A^H (b - A x)||``, is compared with the level rounding leaves in a forward stable
    answer, ``eps (cond(R) ||b - A x|| + ||R|| ||x||)``. The iteration ends once the estimate
    is below ``rtol ||R x||``, or when it stops shrinking within 64 times that level (for
    "cholesky", also once it is within one unit of it; one more step, which needs no pass,
    then takes the answer to the rounding floor); an answer not within 64 times it (a sketch
    that does not embed A's range, as when s is close to n) is replaced by LAPACK's (``gelsd``,
    as ``scipy.linalg.lstsq``). If R (from the sketch) looks singular (singular values below
    ``4 eps`` times the largest) the rank is decided on A, by LAPACK.

    ``method="krylov"`` (made for sparse A): conjugate gradients on the normal equations (CGLS)
    of A with its columns scaled to unit norm, each step one pass over A that
    gives ``A^H A p`` and ``||A p||`` together. It needs no sketch and no factorization, and its
    steps depend on A's own condition number: on a well-conditioned sparse A (a random tall one:
    cond about 1.2) it takes 9 to 16 passes where "precondition" takes about 30 after its sketch
    and QR factorization, and it is faster than SciPy's ``lsqr`` at the same accuracy. Its answer
    is checked on a true pass by its backward error: x is the exact least-squares solution for
    ``A + E`` with ``||E|| = ||A^H (b - A x)|| / ||b - A x||`` (Stewart), so ``||A^H r|| <= rtol
    ||A|| ||r||`` (or, where b lies in A's range, ``||r|| <= rtol (||A|| ||x|| + ||b||)``), with
    ``||A||`` taken from below, is the guarantee of a backward stable solver such as gelsd; an
    iteration that stalls short of rtol is accepted within 64 units of rounding. Where A is rank
    deficient it returns a least-squares solution (from x = 0, the minimum-norm one up to
    rounding, as ``lsqr``), not a LinAlgError. Where it stalls short of its check (an
    ill-conditioned A, or a nearly consistent b: a residual between about 1e-14 and 1e-2 of
    ``||b||``, which the check cannot resolve from rounding), "precondition" answers instead.

    ``method="direct"`` solves with LAPACK's ``gelsd`` (``scipy.linalg.lstsq``'s default
    driver; SciPy's answer to the bit for SciPy's inputs). ``method="auto"`` (the default)
    takes the method a cost model says is fastest, "direct" unless another is estimated at
    most 0.8 times its time: the model weighs LAPACK's QR (about ``n d (d + 150)`` flops,
    slower once A leaves the cache), the Gram matrix (``n d^2 / 2`` multiply-adds at
    matrix-matrix speed) and the d x d factorizations against passes over A at memory speed,
    with rates measured on a 2-core x86-64 machine. In float64 "cholesky" is taken from about
    n = 320 d at d = 10, n = 58 d at d = 20 and n = 2 d from d = 50 on (never below 2 d:
    there it gains little, and an A too ill conditioned for its Gram matrix would then pay for
    both); fewer rows for complex A, more for float32. For sparse A, "krylov" comes first where
    16 passes cost less than the method the model picks otherwise, with a budget: it gives up
    as soon as its rate predicts more passes than that method would cost in all (an
    ill-conditioned A: after 6 to 9 passes on random sparse A of condition 40 to 4e4), and that
    method answers. "precondition" is taken for dense A only from d of a few thousand on, where
    the Gram matrix costs more than its 30 passes.

    ``method="solve"`` (sketch-and-solve) returns ``R^-1 Q^H S b``: one pass over A, an answer
    whose residual is within a factor ``1 + O(sqrt(d/s))`` of the least one when S embeds A's
    range (likely for the default s; not checked).

    Whatever the sketching method, where s would exceed half of A's rows LAPACK answers: such
    a sketch saves little work, and one as large as A embeds nothing (a square S is just a
    mixing of A's rows, whose R need not precondition A).

    Parameters
    ----------
    A : ndarray or sparse array/matrix, shape (n, d), n >= d
        Full column rank (see Raises). Dense A is used in place if its rows or columns are
        contiguous (a read-only A too; "cholesky" copies it only for an ill-conditioned A);
        sparse A of any format.
    b : array_like, shape (n,) or (n, q)
    method : {"auto", "cholesky", "precondition", "krylov", "solve", "direct"}, optional
    sketch : {"sparse_sign", "countsketch", "srht", "gaussian"} or a sketch operator, optional
        The sketch (:mod:`pynla.sketch`); an operator must have shape (s, n). Default: the
        sparse sign embedding with 8 nonzeros per column (fewer when s < 8).
    sketch_size : int, optional
        s, with d <= s <= n. Default ``min(n, max(12 d, d + 50))``.
    rtol : float, optional
        The iteration ends once ``||R^-H A^H (b - A x)||`` (about the excess residual) is below
        ``rtol ||R x||`` (about ``||A x||``), or when it stops shrinking at the rounding level;
        for "krylov", once the backward error is below rtol; default 4 eps of the dtype.
    maxiter : int, optional
        The most iterations. Default: up to 100 ("precondition"), 10 refinement steps
        ("cholesky") or ``max(100, 2 d)`` ("krylov"), after which an answer that is still not converged (as with a sketch too
        small to embed A's range) is replaced by LAPACK's; a given maxiter is kept to, with
        ``info = 1`` when reached.
    rng : None, int or numpy.random.Generator, optional
        Randomness for the sketch.

    Returns
    -------
    LstsqResult
        ``x`` (d,) or (d, q); ``residual_norm``, ``||b - A x||`` (a float, or (q,) for 2-D b);
        ``iterations``, the number of steps after the first answer (for "precondition" A is
        passed over once more, for "cholesky" as many times, its last step unchecked; 0 for
        "direct" and "solve"; for "krylov", its steps, each a pass, and two passes more; where
        "auto" tried "krylov" first, its steps and the other method's); ``info``: 0 if x is the least-squares solution to rounding
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
        entries, by its sketch). Not for "krylov" (see above), which "auto" tries first on
        sparse A: there a rank-deficient A gets a least-squares solution where CGLS converges. Sketching cannot give a minimum-norm solution; use
        ``scipy.linalg.lstsq`` for those.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.linalg
    >>> import pynla
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((5000, 20))
    >>> b = rng.standard_normal(5000)
    >>> x_ref = scipy.linalg.lstsq(A, b)[0]
    >>> result = pynla.sketched_lstsq(A, b)  # "auto": "cholesky" for this shape
    >>> bool(np.linalg.norm(result.x - x_ref) <= 1e-13 * np.linalg.norm(x_ref)), result.info
    (True, 0)
    >>> result = pynla.sketched_lstsq(A, b, method="precondition", rng=1)
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
    if method == "cholesky" and sp.issparse(A):
        raise ValueError("method='cholesky' needs a dense A (a sparse A's Gram matrix fills in): use 'precondition'")
    limited = maxiter is not None
    maxiter = _count(maxiter, "maxiter", 0) if limited else None
    rtol = 4 * np.finfo(dtype).eps if rtol is None else float(rtol)
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol}")
    s = _sketch_rows(sketch, sketch_size, n, d)
    B = b.reshape(n, 1) if b.ndim == 1 else b
    # "auto" may try CGLS first ("krylov"), within a budget of passes, then the fallback method.
    fallback, krylov_budget = None, math.inf
    if method == "auto" and d > 0:
        method, fallback, krylov_budget = _cheapest_method(A, s, dtype, rtol)
        if method == "krylov" and maxiter is not None:  # a given maxiter is for one method's steps
            method = fallback
    a_largest = None  # a dense A's largest magnitude, where its method reads A's values
    if method not in ("cholesky", "krylov") and not sp.issparse(A):
        a_largest = _largest_magnitude(A)
        if not math.isfinite(a_largest):  # NaN or infinity in A
            raise ValueError("A must not contain NaN or infinity")
    if d == 0 or method == "direct":
        return _result(*_direct_in_range(A, B, a_largest), 0, 0, b)
    # A and B are scaled by powers of two where they are far from 1 (_Scale): x and the
    # residuals are scaled back at the end.
    scale = _Scale(0, 0)
    if method == "cholesky":
        # Gram matrices, triangular factors and solves: the core's passes run one BLAS call per
        # range of rows on their own threads, and the d x d work is too small for more.
        with one_blas_thread():
            gram = _core.tall_gram(A, B)
            if not np.isfinite(np.diagonal(gram[0])).all():  # NaN or infinity in A, or squares overflow
                _check_finite(A)
            scale = _Scale.of(A, B, math.sqrt(abs(np.trace(gram[0]))))
            if scale != (0, 0):
                A, B = scale.applied(A, B)
                gram = _core.tall_gram(A, B)
            solved = _gram_solve(Passes(A), B, *gram, rtol, maxiter)
        if solved is not None:
            return _finished(A, B, *solved, b, scale)
    iterations = 0  # of CGLS, where it came first and gave up
    if method == "krylov":
        largest = _largest_magnitude(A.data if sp.issparse(A) else A)
        if not math.isfinite(largest):  # NaN or infinity in a dense A
            raise ValueError("A must not contain NaN or infinity")
        scale = _Scale.of(A, B, largest * math.sqrt(A.nnz if sp.issparse(A) else A.size))
        A, B = scale.applied(A, B)
        X, residual, iterations, info = _krylov(Passes(A), B, rtol, maxiter, krylov_budget)
        if X is not None or fallback == "direct":  # X None: LAPACK answers
            return _finished(A, B, X, residual, iterations, info, b, scale)
        # CGLS gave up (its budget, or a stall short of its check): sketch-and-precondition
        # answers, with what is left of a given maxiter.
        method = "precondition"
        maxiter = None if maxiter is None else maxiter - iterations
    if 2 * s > n:
        return _finished(A, B, None, None, iterations, 0, b, scale)
    S = _make_sketch(sketch, s, n, rng, dtype)
    # In A's dtype: a given sketch's entries may be wider (a float64 S on float32 A).
    SA, SB = S @ A, np.asarray(S @ B, dtype=dtype)
    SA = SA.astype(dtype, copy=False)
    # A sparse A's magnitude from |S A| (they differ by a few times), saving a pass over A.
    more = _Scale.of(A, B, _largest_magnitude(SA) if a_largest is None else a_largest)
    if more != (0, 0):
        (A, SA), (B, SB) = more.applied(A, B, SA, SB)
        scale = _Scale(scale.a + more.a, scale.b + more.b)
    # What follows runs little BLAS (the s x d QR, d x d solves) besides the core's passes; BLAS
    # threads, which spin between calls, would only take the cores from those passes.
    with one_blas_thread():
        X, residual, more_iterations, info = _sketched(Passes(A), B, SA.toarray() if sp.issparse(SA) else SA, SB,
                                                      method, rtol, maxiter)
    return _finished(A, B, X, residual, iterations + more_iterations, info, b, scale)


class _Scale(namedtuple("_Scale", ["a", "b"])):
    """Exponents of the powers of two by which A and B are scaled: ``A 2**-a`` and ``B 2**-b``
    (exactly, where the results are normal) have the least-squares solution ``2**(a - b) x``
    and residuals ``2**-b`` times B's. Scaling keeps the norms, products and squared norms of
    the passes far from overflow and underflow (where they would make a check vacuous or a
    residual infinite), and keeps LAPACK from scaling itself (gelsd then returns its residual
    rows in its own scale)."""

    @classmethod
    def of(cls, A, B, a_magnitude):
        """The scale for A (a_magnitude: ``||A||_F``, or a magnitude within a few times of it) and
        B: 0 for each whose magnitude lies within 2**(+-0.4 maxexp) of the dtype (2**+-409 in
        float64, 2**+-51 in float32), else the exponent that takes its norm to at most 1, from
        its largest magnitude (for A, a pass)."""
        b_largest = _largest_magnitude(B)
        return cls(scale_exponent(a_magnitude, lambda: _largest_magnitude(A), A.size, B.dtype),
                   scale_exponent(b_largest, lambda: b_largest, B.size, B.dtype))

    def applied(self, A, B, *sketched):
        """(A, B) scaled, or ((A, S A), (B, S B)) with the sketches of each."""
        if not sketched:
            return times_power_of_two(A, -self.a), times_power_of_two(B, -self.b)
        SA, SB = sketched
        return ((times_power_of_two(A, -self.a), times_power_of_two(SA, -self.a)),
                (times_power_of_two(B, -self.b), times_power_of_two(SB, -self.b)))


def scale_exponent(magnitude, largest, size, dtype):
    """_Scale's exponent for an array of ``size`` entries of ``dtype``, of norm about
    ``magnitude``, whose largest magnitude (or a bound on it within a few times) ``largest()``
    gives: 0 where the magnitude lies within 2**(+-0.4 maxexp), else the exponent that takes
    its norm to at most 1."""
    limit = 2.0 ** int(0.4 * np.finfo(dtype).maxexp)
    if 1 / limit <= magnitude <= limit:
        return 0
    largest = largest()
    return math.frexp(largest)[1] + math.ceil(math.log2(math.sqrt(size))) if largest > 0 else 0


def _largest_magnitude(M):
    """max |M_ij| (0 for an empty M; NaN if M holds one), dense or sparse; a real dense M
    without a temporary copy."""
    if M.size == 0:
        return 0.0
    if sp.issparse(M) or M.dtype.kind == "c":
        return float(abs(M).max())
    return float(np.maximum(M.max(), -M.min()))


def _direct_in_range(A, B, a_largest=None):
    """LAPACK's answer (_direct), with A and B scaled where they are far from 1 (_Scale):
    (X, residual norms). a_largest: A's largest magnitude, if known."""
    scale = _Scale.of(A, B, _largest_magnitude(A) if a_largest is None else a_largest)
    X, residual = _direct(*scale.applied(A, B))
    return times_power_of_two(X, scale.b - scale.a), times_power_of_two(residual, scale.b)


def _finished(A, B, X, residual, iterations, info, b, scale):
    """The result for A and B scaled by ``scale`` (_Scale), with LAPACK's answer where X is None
    (on the BLAS's own thread count)."""
    if X is None:
        X, residual = _direct_in_range(A, B)
    return _result(times_power_of_two(X, scale.b - scale.a), times_power_of_two(residual, scale.b),
                   iterations, info, b)


class Passes:
    """The passes over A that the methods take after the first (each reads A once): on one
    machine here; pynla.dask gives the same over the row blocks of a Dask array.

    ``gradient(X, B)``: ``(A^H (B - A X), squared column norms of B - A X)``; with B None,
    ``(-A^H A X, squared column norms of A X)``.
    ``a_column_norms()``: the norms of A's columns.
    ``preconditioned_gram(R0, B)``: ``(Y^H Y, Y^H B)`` for ``Y = A R0^-1``.
    ``column_norms(B)``: the norms of B's columns.
    ``densifiable``: whether LAPACK may take A when a method's answer fails its check.
    """

    def __init__(self, A):
        self.A = A
        self._csr = _checked_csr(A) if sp.issparse(A) else None
        self.gradient = _gradient_function(A) if self._csr is None else _csr_gradient(self._csr)
        self.densifiable = not sp.issparse(A) or A.shape[0] * A.shape[1] <= _DENSE_FALLBACK_ENTRIES

    def preconditioned_gram(self, R0, B):
        # Triangular solves (trsm), not a product with R0's inverse: Y's rows stay accurate to
        # rounding whatever R0's condition.
        A = self.A
        Y = np.array(A, order="F" if A.flags.f_contiguous else "C")
        _core.tall_times_upper(Y, np.asfortranarray(R0), inverse=True)
        return _core.tall_gram(Y, B)

    def a_column_norms(self):
        return np.sqrt(column_squares(self.A, self._csr))

    @staticmethod
    def column_norms(B):
        return np.linalg.norm(B, axis=0)


def _gram_solve(passes, B, G, C, rtol, maxiter):
    """method="cholesky" by the Cholesky factor of A's own Gram matrix G (C = A^H B, from the
    same pass), then refinement (``passes``: Passes over A). (X, residual norms, iterations, info), X None where LAPACK must
    answer; None where G is too ill conditioned for its factor to precondition A (A R0^-1, from
    a sketch, is factored instead).

    The problem solved is ``min ||(A D) y - b||``, x = D y, with D the powers of two that take
    A's columns to about unit norm (exactly): Cholesky's error depends on the condition of the
    Gram matrix so scaled (van der Sluis), R's singular values for the check come accurately
    from its eigenvalues (or estimates, _extreme_singular_values), and the check measures the
    rounding level of A D, the level of a solver whose backward error is columnwise, as
    Householder QR's, whatever the columns' sizes.
    """
    factored = _scaled_cholesky(G)
    if factored is None:
        return None
    R, scale, G_scaled = factored
    Y = _triangular_solve(R, _triangular_solve(R, scale[:, None] * C, adjoint=True))
    singular_values = _extreme_singular_values(R, G_scaled)
    Y, residual, iterations, info = _refined(passes, B, R, singular_values, Y, rtol, maxiter, column_scale=scale)
    return (None if Y is None else scale[:, None] * Y), residual, iterations, info


def _scaled_cholesky(G):
    """(R, scale, G_scaled): the upper Cholesky factor of ``G_scaled = D G D``, D = diag(scale)
    the powers of two nearest to its diagonal's inverse square roots; or None where G is not
    finite, holds a squared column norm near underflow (so that its entries lost precision),
    or G_scaled is too ill conditioned (_GRAM_MIN_UNITS)."""
    finfo = np.finfo(G.dtype)
    diagonal = np.real(np.diagonal(G))
    if not (np.isfinite(G).all() and diagonal.min() >= finfo.tiny / finfo.eps):
        return None
    scale = np.exp2(-np.round(np.log2(diagonal) / 2)).astype(diagonal.dtype)
    G_scaled = G * scale[:, None] * scale
    R = cholesky_factor(G_scaled, min_reciprocal_condition=_GRAM_MIN_UNITS * finfo.eps)
    return None if R is None else (R, scale, G_scaled)


def _extreme_singular_values(R, G=None):
    """[largest, smallest] singular values of the upper triangular R (G: ``R^H R``, if known).
    Exact up to _EXACT_SINGULAR_VALUES_COLUMNS columns (from G's eigenvalues, or R's SVD);
    above, estimated from inside the spectrum: Rayleigh-Ritz on a Krylov basis of three blocks
    of R^H R for the largest, of (R^H R)^-1 for the smallest. Ritz values never leave the
    spectrum, so the estimates understate cond(R) and ||R|| (measured within 5%: Gaussian and
    graded R, cond up to 1e6, d = 50-500), and the check (_excess_units) can only get stricter
    by them, never certify an answer the exact values would not."""
    d = R.shape[0]
    if d <= _EXACT_SINGULAR_VALUES_COLUMNS:
        if G is None:
            return sl.svdvals(R)
        return np.sqrt(np.maximum(eigh_lapack(G, vectors=False), 0))[::-1]
    # The Ritz values of R^H R on an orthonormal K are the squared singular values of R K; those
    # of (R^H R)^-1, of R^-H K.
    start = _krylov_start(d, R.dtype)
    basis = _krylov_basis(start, lambda V: R.conj().T @ (R @ V))
    largest = np.linalg.svd(R @ basis, compute_uv=False)[0]
    basis = _krylov_basis(start, lambda V: _triangular_solve(R, _triangular_solve(R, V, adjoint=True)))
    smallest = 1 / np.linalg.svd(_triangular_solve(R, basis, adjoint=True), compute_uv=False)[0]
    return np.array([largest, smallest])


def _krylov_basis(start, apply):
    """An orthonormal basis of [V, M V, M^2 V] (_KRYLOV_BLOCKS blocks) for V = start and M given by
    ``apply``; each block's columns scaled to unit norm before the next product."""
    V, blocks = start, []
    for _ in range(_KRYLOV_BLOCKS):
        V = V / np.linalg.norm(V, axis=0)
        blocks.append(V)
        V = apply(V)
    return np.linalg.qr(np.hstack(blocks))[0]


@functools.lru_cache(maxsize=16)
def _krylov_start(d, dtype):
    """A fixed random d x _KRYLOV_WIDTH block (read-only): the same estimates on every call."""
    start = np.random.default_rng(d).standard_normal((d, _KRYLOV_WIDTH)).astype(dtype)
    start.flags.writeable = False
    return start


def _sketched(passes, B, SA, SB, method, rtol, maxiter):
    """sketched_lstsq after the sketch (SA = S A, SB = S B; ``passes``: Passes over A): (X,
    residual norms, iterations, info), with X None where LAPACK must answer instead; maxiter None
    where the caller set none."""
    densifiable = passes.densifiable
    Q, R = sl.qr(SA, mode="economic")
    singular_values = sl.svdvals(R)
    eps = np.finfo(SA.dtype).eps
    if singular_values[-1] <= _RANK_SUSPECT * eps * singular_values[0]:
        if densifiable:
            return None, None, 0, 0  # R may be singular where A is not: A decides
        rank = int(np.sum(singular_values > _RANK_SUSPECT * eps * singular_values[0]))
        raise np.linalg.LinAlgError(f"A is rank deficient (numerical rank {rank} < {R.shape[1]} columns, from its "
                                    "sketch; A is too large to confirm densely): use scipy.linalg.lstsq or lsqr")
    if method == "cholesky":
        return _preconditioned_gram_solve(passes, B, R, rtol, maxiter)
    X = sl.solve_triangular(R, Q.conj().T @ SB)
    if method == "solve":
        return X, np.sqrt(passes.gradient(X, B)[1]), 0, 0
    # The optimal heavy-ball parameters for a sketch of distortion sqrt(d / s); it ends only
    # where steps stall, well below one unit of rounding.
    ratio = R.shape[1] / SA.shape[0]
    schedule = _Schedule(alpha=(1 - ratio) ** 2, beta=ratio, stall_steps=_STALL_STEPS, enough_units=0.0)
    X, residual, iterations, certified = _iterate(R, singular_values, X, passes.column_norms(B),
                                                  functools.partial(passes.gradient, B=B), rtol,
                                                  _DEFAULT_MAXITER if maxiter is None else maxiter, schedule)
    if certified:
        return X, residual, iterations, 0
    if maxiter is not None:
        return X, residual, iterations, 1
    if not densifiable:
        return X, residual, iterations, 2
    return None, None, iterations, 0


def _preconditioned_gram_solve(passes, B, R0, rtol, maxiter):
    """method="cholesky" for an A too ill conditioned for its own Gram matrix (randomized
    Cholesky QR): Y = A R0^-1 (triangular solves, which keep Y's rows accurate to rounding
    whatever R0's condition) is well conditioned when the sketch embeds A's range, so its Gram
    matrix gives R1 safely, and ``A = (Y R1^-1) (R1 R0)`` is a QR factorization: x = R^-1 R1^-H
    Y^H b with R = R1 R0, then refinement. On one machine it takes a copy of A. As _gram_solve."""
    G, C = passes.preconditioned_gram(R0, B)
    factored = _scaled_cholesky(G)
    if factored is None:  # the sketch did not embed A's range: R0 does not precondition A
        return None, None, 0, 0
    R1 = factored[0] / factored[1]
    R = R1 @ R0
    X = _triangular_solve(R, _triangular_solve(R1, C, adjoint=True))
    return _refined(passes, B, R, _extreme_singular_values(R), X, rtol, maxiter)


def _krylov(passes, B, rtol, maxiter, budget):
    """method="krylov": CGLS on A with its columns scaled to unit norm (_cgls.cgls). (X,
    residual norms, iterations, info) as _sketched; X None where CGLS gave up (its ``budget`` of
    passes, or a stall short of its check: a nearly consistent b, whose residual the check
    cannot resolve, or an ill-conditioned A) and the caller's fallback answers.

    The scaling is exact division, not powers of two: its rounding does not matter (the check
    is taken on the X returned), and powers of two leave columns up to sqrt(2) apart, which
    took a random sparse A with graded columns from condition 1.2 to 4.3 (31 steps against 11).
    """
    column_norms = passes.a_column_norms()
    tiny = np.finfo(column_norms.dtype).tiny
    column_scale = 1 / np.where(column_norms > tiny, column_norms, 1)
    a_norm = float(np.max(column_norms * column_scale, initial=0))  # ||A D||_2 is at least its largest column
    if a_norm == 0:  # A = 0: every x is a least-squares solution, the minimum-norm one is 0
        return np.zeros((len(column_norms), B.shape[1]), dtype=B.dtype), passes.column_norms(B), 0, 0
    default_maxiter = max(_DEFAULT_MAXITER, 2 * len(column_norms))
    solved = cgls(passes.gradient, B, column_scale, a_norm, rtol, default_maxiter if maxiter is None else maxiter, budget)
    if solved.status == "certified":
        return solved.X, solved.residual, solved.iterations, 0
    if solved.status == "maxiter" and maxiter is not None:
        return solved.X, solved.residual, solved.iterations, 1
    return None, None, solved.iterations, 0


def _refined(passes, B, R, singular_values, X, rtol, maxiter, column_scale=None):
    """Refinement of X with a factor R that makes A R^-1 nearly orthonormal (_GRAM_MIN_UNITS):
    x <- x + R^-1 R^-H A^H (b - A x), each step a pass over A, until the check of _iterate
    certifies it (_REFINEMENT); with ``column_scale``, of A diag(column_scale) instead of A.
    (X, residual norms, iterations, info) as _sketched."""
    gradient = functools.partial(passes.gradient, B=B)
    if column_scale is not None:
        unscaled, scale = gradient, column_scale[:, None]

        def gradient(X):
            G, squared_norms = unscaled(scale * X)
            return scale * G, squared_norms

    steps = _DEFAULT_REFINEMENT_STEPS if maxiter is None else maxiter
    X, residual, iterations, certified = _iterate(R, singular_values, X, passes.column_norms(B), gradient, rtol,
                                                  steps, _REFINEMENT)
    if certified:
        return X, residual, iterations, 0
    if maxiter is not None:
        return X, residual, iterations, 1
    return None, None, iterations, 0


def _iterate(R, singular_values, X, B_norms, gradient, rtol, maxiter, schedule):
    """The iteration of ``schedule`` (_Schedule) from X, for the triangular R and its singular
    values (descending), B's column norms and ``gradient(X) -> (A^H (B - A X), squared column
    norms of B - A X)``: (X, residual norms, iterations, certified).

    Each pass over A gives, for the current X, A^H r and ||r||: enough for the check
    (_excess_units) and for the step. The iteration ends once ||R^-H A^H r|| <= rtol ||R x||,
    once the error is within ``schedule.enough_units`` units of the rounding level, or when it
    stalls within _CERTIFICATE_FACTOR units (there, not at one unit, which is a bound: the
    error keeps shrinking below it for several steps); it is certified when it ends within
    _CERTIFICATE_FACTOR units."""
    X_previous = X
    best, stalled, iterations = np.inf, 0, 0
    while True:
        G, squared_norms = gradient(X)
        residual = np.sqrt(squared_norms)
        Z, units = _excess_units(R, singular_values, X, G, residual)
        if np.any(residual > _DIVERGED * B_norms):
            return X, residual, iterations, False  # R does not precondition A: steps grow
        converged = bool(np.all(np.linalg.norm(Z, axis=0) <= rtol * np.linalg.norm(R @ X, axis=0)))
        if schedule.enough_units and iterations < maxiter and (converged or units <= schedule.enough_units):
            # Refinement ends here, with one step more: it costs no pass over A, and it takes
            # the error from within one unit to the rounding floor.
            return X + schedule.alpha * _triangular_solve(R, Z), residual, iterations + 1, True
        if converged:
            return X, residual, iterations, True
        # Stalled within the band rounding allows: steps no longer halve the excess.
        if units < _STALL_FACTOR * best:
            best, stalled = units, 0
        else:
            stalled += 1
        if (stalled >= schedule.stall_steps and units <= _CERTIFICATE_FACTOR) or iterations == maxiter:
            return X, residual, iterations, units <= _CERTIFICATE_FACTOR
        step = _triangular_solve(R, Z)
        X, X_previous = X + schedule.alpha * step + schedule.beta * (X - X_previous), X
        iterations += 1


def _excess_units(R, singular_values, X, G, residual):
    """The check of an answer X, given G = A^H r and the norms of r = B - A X: (Z, units) with
    Z = R^-H G, whose columns' norms estimate the excess residual ||A (x - x_best)|| (exactly
    so where S embeds A's range), and the largest of them in units of the rounding level of a
    forward stable answer, eps (cond(R) ||r|| + ||R|| ||x||)."""
    Z = _triangular_solve(R, G, adjoint=True)
    excess = np.linalg.norm(Z, axis=0)
    condition = singular_values[0] / singular_values[-1]
    unit = np.finfo(X.dtype).eps * (condition * residual + singular_values[0] * np.linalg.norm(X, axis=0))
    return Z, float(np.max(np.divide(excess, unit, out=np.zeros_like(excess), where=excess > 0), initial=0))


def _triangular_solve(R, B, adjoint=False):
    """R^-1 B, or R^-H B, for an upper triangular R with a nonzero diagonal, by LAPACK's trtrs
    called directly: scipy.linalg.solve_triangular costs about 20 us a call around the work,
    more than the work of a small solve, and the iterations make several a pass."""
    X, info = lapack_routine("trtrs", R.dtype)(R, B, lower=0, trans=2 if adjoint else 0)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK trtrs failed (info {info}): a triangular factor is singular")
    return X


def _direct(A, B):
    """LAPACK's gelsd on A (densified if sparse) and B, both far from overflow and underflow
    (_direct_in_range): (X, residual norms); LinAlgError if A is rank deficient by SciPy's rule
    (singular values below eps times the largest)."""
    dense = A.toarray() if sp.issparse(A) else A
    n, d = dense.shape
    if d == 0:
        return np.zeros((0, B.shape[1]), dtype=B.dtype), np.linalg.norm(B, axis=0)
    gelsd = lapack_routine("gelsd", np.result_type(dense.dtype, B.dtype))
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


def _cheapest_method(A, s, dtype, rtol):
    """The cost model behind method="auto": of "direct" (LAPACK's gelsd), "cholesky" (dense A
    only) and "precondition", the one estimated fastest (rates in _COST); a sketching method
    only where its estimate is below _COST["margin"] times gelsd's. For sparse A, "krylov" comes
    first where _KRYLOV_PASSES passes cost less than that method: returns (method, the method
    to fall back on, the passes CGLS may take before the fallback would have been cheaper), the
    last two None and infinity where there is no fallback."""
    n, d = A.shape
    real_bytes = dtype.itemsize // 2 if dtype.kind == "c" else dtype.itemsize
    scale = (4 if dtype.kind == "c" else 1) * real_bytes / 8  # a multiply-add's cost against float64's
    size = n * d * dtype.itemsize
    out_of_cache = 1 + size / (size + _COST["cache"])
    entries = A.nnz if sp.issparse(A) else n * d
    one_pass = entries * dtype.itemsize * _COST["sparse_entry" if sp.issparse(A) else "dense_entry"] + n * _COST["row"]
    costs = {"direct": (n * d * (d + _COST["panel"]) * _COST["flop"] * scale * out_of_cache
                        + _COST["gelsd_call"] + d * d / (1 + d / 500) * _COST["gelsd_square"] * scale)}
    if not sp.issparse(A) and n >= _CHOLESKY_MIN_ROWS_PER_COLUMN * d:
        costs["cholesky"] = (_COST["cholesky_call"] + one_pass + n * d * d / 2 * _COST["gram_flop"] * scale
                             + _COST["refinements"] * (one_pass + _COST["iteration"])
                             + d ** 3 * _COST["small_flop"] * scale)
    if 2 * s <= n:
        passes = precondition_passes(d, s, rtol)
        costs["precondition"] = (_COST["call"] + s * d * (d + _COST["panel"]) * _COST["flop"] * scale
                                 + passes * (one_pass + _COST["iteration"] + 4 * d * d * _COST["flop"] * scale))
    cheapest = min(costs, key=costs.get)
    choice = cheapest if costs[cheapest] < _COST["margin"] * costs["direct"] else "direct"
    pass_cost = one_pass + _COST["iteration"]
    if sp.issparse(A) and _KRYLOV_PASSES * pass_cost < costs[choice]:
        return "krylov", choice, costs[choice] / pass_cost
    return choice, None, math.inf


def precondition_passes(d, s, rtol):
    """The passes over A that "precondition" is expected to take after its sketch of s rows
    (its rate: sqrt(d / s) a step, and three more)."""
    return math.log(rtol) / math.log(math.sqrt(d / s)) + 3


def _checked_problem(A, b):
    """A (dense or CSR) and b in one kernel dtype, checked (but for a dense A's values: see
    _check_finite); returns (A, b, dtype)."""
    if not sp.issparse(A):
        A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"A must be 2-D, got shape {A.shape}")
    b = np.asarray(b)
    n, d = A.shape
    if n < d:
        raise ValueError(f"A has shape {A.shape}: sketched least squares needs at least as many rows as columns")
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ValueError(f"b has shape {b.shape}, expected ({n},) or ({n}, q) for A {A.shape}")
    dtype = float_kernel_dtype(np.result_type(A.dtype, b.dtype), "A")
    if not np.all(np.isfinite(b)):
        raise ValueError("b must not contain NaN or infinity")
    if sp.issparse(A):
        A = A.tocsr().astype(dtype, copy=False)
        _check_finite(A.data)
    else:
        A = A.astype(dtype, copy=False)
        if not _rows_or_columns_contiguous(A):
            A = np.ascontiguousarray(A)
    return A, np.ascontiguousarray(b, dtype=dtype), dtype


def _check_finite(values):
    """ValueError if A's values hold NaN or infinity (a dense A's are checked where its method
    needs them: method="cholesky" reads them off its Gram matrix, saving a pass)."""
    if not np.all(np.isfinite(values)):
        raise ValueError("A must not contain NaN or infinity")


def _rows_or_columns_contiguous(A):
    """Whether the passes over A can take it in place: its rows (or columns) contiguous, one
    after another without overlap, as the BLAS's leading dimension allows."""
    if A.flags.c_contiguous or A.flags.f_contiguous:
        return True
    (row_stride, column_stride), item = A.strides, A.itemsize
    n, d = A.shape
    return ((column_stride == item and row_stride >= d * item and row_stride % item == 0)
            or (row_stride == item and column_stride >= n * item and column_stride % item == 0))


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


def column_squares(A, csr=None):
    """The squared norms of A's columns, dense or sparse (``csr``: its _checked_csr arrays, if
    at hand). For a sparse A they are the squares' column sums, |A|^H 1, by the one-pass
    gradient kernel (np.bincount took 30 ms at 4e6 entries, this 8), duplicates summed first:
    norms of the stored entries could exceed the columns' and void CGLS's bound on ||A||."""
    if not sp.issparse(A):
        return np.sum(np.abs(A) ** 2, axis=0)
    if not A.has_canonical_format:
        A = A.tocsr(copy=True)
        A.sum_duplicates()
        csr = None
    indptr, indices, data, (n, d) = _checked_csr(A) if csr is None else csr
    squares = np.abs(data) ** 2
    gradient = _csr_gradient((indptr, indices, squares, (n, d)))
    return gradient(np.zeros((d, 1), dtype=squares.dtype), np.ones((n, 1), dtype=squares.dtype))[0][:, 0]


def _gradient_function(A):
    """gradient(X, B) -> (A^H (B - A X), squared column norms of B - A X), one pass over a dense A
    (the core's kernel; Passes takes _csr_gradient for a sparse A); B None stands for zeros."""

    def gradient(X, B):
        B = np.zeros((A.shape[0], X.shape[1]), dtype=A.dtype) if B is None else B
        G, norms = _core.residual_gradient(A, np.ascontiguousarray(X), B)
        return G.reshape(X.shape), norms

    return gradient


def _checked_csr(A):
    """A's CSR arrays as the core takes them, (indptr, indices, data, shape), structure checked."""
    parts = csr_parts(A, "A")
    return cast_csr(parts, A.dtype, parts.indices.dtype)[:4]


def _csr_gradient(csr):
    """_gradient_function for the CSR arrays ``csr`` (_checked_csr)."""

    def gradient(X, B):
        G, norms = _core.csr_residual_gradient(csr, np.ascontiguousarray(X), B)
        return G.reshape(X.shape), norms

    return gradient


def _result(X, residual, iterations, info, b):
    if b.ndim == 1:
        return LstsqResult(X.reshape(-1), float(residual[0]), iterations, info)
    return LstsqResult(X, residual, iterations, info)
