"""Least squares on a row-chunked Dask array: pynla.sketched_lstsq's methods and checks, with
every pass over A a task per row block and the blocks' sums added in a fixed tree."""

import math
from collections import namedtuple

import dask
import dask.array as da
import numpy as np

from pynla import _core
from pynla import lstsq as one_machine
from pynla._validation import check_choice, float_kernel_dtype
from pynla.dask._blocks import aligned, block_values, row_blocks, same_row_chunks, summed
from pynla.dask.sketch import sketch as dask_sketch
from pynla.orthogonalize import times_power_of_two

__all__ = ["DaskLstsqResult", "sketched_lstsq"]

#: What pynla.dask.sketched_lstsq returns: pynla.LstsqResult's fields and the passes over A.
DaskLstsqResult = namedtuple("DaskLstsqResult", [*one_machine.LstsqResult._fields, "passes"])

METHODS = ("auto", "cholesky", "precondition", "krylov")


def sketched_lstsq(A, b, *, method="auto", sketch="sparse_sign", sketch_size=None, rtol=None, maxiter=None,
                   rng=None):
    """Solve ``min ||A x - b||_2`` for A (n x d, n >= d, a dask.array.Array chunked by rows,
    NumPy or SciPy sparse chunks) and b (n or n x q, a Dask array with A's row chunks, or a
    NumPy array), with :func:`pynla.sketched_lstsq`'s methods and checks.

    - ``"cholesky"`` (dense A; ``"auto"`` takes it where A has at least 2 rows a column): one
      pass gives ``A^H A`` and ``A^H b`` (each block's in its task, added in a fixed tree), the
      client factors them, and each refinement step is one pass giving ``A^H (b - A x)`` and
      ``||b - A x||``: three passes in all for a well-conditioned A. Where A is too ill
      conditioned for its Gram matrix, the Gram matrix of ``A R0^-1`` (R0 from the QR
      factorization of a distributed sketch of A; each task solves with its own block) instead.
    - ``"krylov"`` (sparse A's first method): conjugate gradients on the normal equations
      (CGLS) with A's columns scaled to unit norm, as on one machine: a pass over A for its
      largest magnitude, one for its column norms, then one a step (``A^H A p`` and ``||A p||``
      in each task), about 15 in all for a well-conditioned A. Under ``"auto"`` it gives up
      as soon as its rate predicts more passes than ``"precondition"`` would take (an
      ill-conditioned A), and ``"precondition"`` answers.
    - ``"precondition"``: the sketch ``S A`` by :func:`pynla.dask.sketch`, then iterative
      sketching with momentum, a pass an iteration.

    Every answer is checked as on one machine (x's excess residual within the rounding level
    of a forward stable solver). One that fails (a sketch that does not embed A's range, or A
    numerically rank deficient) is replaced by Dask's own QR solve (``dask.array.linalg.lstsq``,
    TSQR: Householder QR's accuracy), which also decides A's rank.

    Parameters are pynla.sketched_lstsq's (``method``: "auto", "cholesky", "precondition" or
    "krylov"; "auto" with a given ``maxiter`` takes "precondition" for a sparse A).

    Returns
    -------
    DaskLstsqResult
        ``x``, ``residual_norm``, ``iterations`` and ``info`` as pynla.sketched_lstsq's (NumPy),
        and ``passes``, the passes over A taken (each reads every block once).

    Raises
    ------
    ValueError, TypeError
        As pynla.sketched_lstsq, naming the argument; also for A not chunked by rows, b not
        chunked as A.
    numpy.linalg.LinAlgError
        If A is rank deficient (by TSQR's R: singular values below ``eps max(n, d)`` times the
        largest).

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import pynla, pynla.dask
    >>> rng = np.random.default_rng(0)
    >>> M, v = rng.standard_normal((40000, 20)), rng.standard_normal(40000)
    >>> result = pynla.dask.sketched_lstsq(da.from_array(M, chunks=(10000, 20)), v)
    >>> x = pynla.sketched_lstsq(M, v).x
    >>> bool(np.linalg.norm(result.x - x) <= 1e-13 * np.linalg.norm(x)), result.info, result.passes
    (True, 0, 2)
    """
    check_choice(method, "method", METHODS)
    rows = row_blocks(A, "A")
    n, d = rows.shape
    if n < d:
        raise ValueError(f"A has shape {rows.shape}: least squares needs at least as many rows as columns")
    b_blocks, one_column = _right_hand_sides(b, rows)
    dtype = float_kernel_dtype(np.result_type(rows.dtype, b_blocks.dtype), "A")
    rtol = 4 * np.finfo(dtype).eps if rtol is None else float(rtol)
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol}")
    maxiter = one_machine._count(maxiter, "maxiter", 0) if maxiter is not None else None
    s = one_machine._sketch_rows(sketch, sketch_size, n, d)
    krylov_budget = math.inf  # passes CGLS may take before "precondition" would have cost less
    if method == "auto" and rows.sparse:
        method = "krylov" if maxiter is None else "precondition"  # a given maxiter is for one method's steps
        krylov_budget = one_machine.precondition_passes(d, s, rtol) + 1  # and the sketch's pass
    elif method == "auto":
        method = "precondition" if n < one_machine._CHOLESKY_MIN_ROWS_PER_COLUMN * d else "cholesky"
    if method == "cholesky" and rows.sparse:
        raise ValueError("method='cholesky' needs dense chunks (a sparse A's Gram matrix fills in): use 'precondition'")
    passes = BlockPasses(rows, b_blocks, dtype)
    solved = None
    krylov_iterations = 0  # of CGLS, where it came first and gave up
    if d == 0:
        no_columns = np.zeros((0, b_blocks.q), dtype)
        solved = no_columns, np.sqrt(passes.gradient(no_columns, b_blocks)[1]), 0, 0
    elif method == "cholesky":
        solved = one_machine._gram_solve(passes, b, *passes.gram(), rtol, maxiter)
    elif method == "krylov":
        passes.scale_from_largest()
        # cgls reads B's shape and dtype; the passes take b's own blocks.
        B = np.empty((0, b_blocks.q), dtype=dtype)
        solved = one_machine._krylov(passes, B, rtol, maxiter, krylov_budget)
        if solved[0] is None:  # CGLS gave up: sketch-and-precondition answers, with what is left of maxiter
            solved, krylov_iterations = None, solved[2]
            maxiter = None if maxiter is None else maxiter - krylov_iterations
    if solved is None and d > 0 and 2 * s <= n:
        S = one_machine._make_sketch(sketch, s, n, rng, dtype)
        SA = dask_sketch(S, A)
        passes.count += 1
        SA = np.asarray(SA.toarray() if hasattr(SA, "toarray") else SA, dtype=dtype)
        SB = np.asarray(dask_sketch(S, b_blocks.array), dtype=dtype)
        if method == "precondition":  # no Gram pass or CGLS has checked and scaled A and b
            passes.scale_from_sketch(SA, SB)
        SA, SB = times_power_of_two(SA, -passes.scale[0]), times_power_of_two(SB, -passes.scale[1])
        solved = one_machine._sketched(passes, b, SA, SB, "cholesky" if method == "cholesky" else "precondition",
                                       rtol, maxiter)
    if solved is None or solved[0] is None:
        X, residual = _tsqr_solve(A, b_blocks, dtype, passes)
        iterations, info = (0, 0) if solved is None else solved[2:]
    else:
        X, residual, iterations, info = solved
    iterations += krylov_iterations
    a_exponent, b_exponent = passes.scale
    X, residual = times_power_of_two(X, b_exponent - a_exponent), times_power_of_two(residual, b_exponent)
    if one_column:
        return DaskLstsqResult(X.reshape(-1), float(residual[0]), iterations, info, passes.count)
    return DaskLstsqResult(X, residual, iterations, info, passes.count)


class _RightHandSides:
    """b as row blocks matching A's: a Dask array (2-D, q columns) and its Delayed blocks."""

    def __init__(self, array, rows):
        self.array = array
        self.blocks = same_row_chunks(rows, row_blocks(array, "b"), "A", "b").blocks
        self.q, self.dtype = array.shape[1], np.dtype(array.dtype)


def _right_hand_sides(b, rows):
    """(b's blocks as _RightHandSides, whether b is one column)."""
    if not isinstance(b, da.Array):
        b = np.asarray(b)
        if b.ndim in (1, 2) and b.shape[0] == rows.shape[0]:
            # Sent to the cluster once (persisted), not with every pass's graph.
            b = da.from_array(b, chunks=(tuple(np.diff(rows.bounds)),) + ((b.shape[1],) if b.ndim == 2 else ()))
            b = b.persist()
    if b.ndim not in (1, 2) or b.shape[0] != rows.shape[0]:
        raise ValueError(f"b has shape {b.shape}, expected ({rows.shape[0]},) or ({rows.shape[0]}, q) for A {rows.shape}")
    if b.dtype.kind not in "biufc":
        raise TypeError(f"b must have a numeric dtype, got {b.dtype}")
    one_column = b.ndim == 1
    return _RightHandSides(b.reshape(-1, 1) if one_column else b, rows), one_column


class BlockPasses:
    """pynla.sketched_lstsq's passes (pynla.lstsq.Passes) over row blocks: each block's part in
    its own task, the parts added in a fixed tree. A and b are scaled in the tasks by the
    powers of two in ``scale`` (set by ``gram``, ``scale_from_sketch`` or
    ``scale_from_largest``, as pynla.sketched_lstsq scales them), and ``count`` counts the
    passes taken. A ``B`` the methods pass stands for b itself, whose blocks these passes hold
    (None, where the methods ask for no b: zeros)."""

    densifiable = True  # an answer that fails its check is replaced by TSQR's (_tsqr_solve)

    def __init__(self, rows, b_blocks, dtype):
        self.rows, self.b_blocks, self.dtype = rows, b_blocks, dtype
        self.scale, self.count, self._b_norms = (0, 0), 0, None

    def _each_block(self, task, *arguments):
        """The tree sum of ``task(A_i, b_i, *arguments)`` over the blocks, computed."""
        self.count += 1
        parts = [task(block, b_block, self.rows.sparse, self.dtype, self.scale, *arguments)
                 for block, b_block in zip(self.rows.blocks, self.b_blocks.blocks)]
        d = self.rows.shape[1]
        return summed(parts, part_entries=d * (d + self.b_blocks.q))

    def gram(self):
        """(A^H A, A^H b): a pass, and a second when A or b must be scaled (their norms beyond
        2^+-409 in float64, as pynla.sketched_lstsq's _Scale)."""
        G, C, b_squares, b_largest = self._each_block(_gram_block)
        if not math.isfinite(b_largest):
            raise ValueError("b must not contain NaN or infinity")
        # A's magnitude from its Gram matrix, as on one machine; its largest entry (a pass) only
        # where that is not finite or is far from 1. The blocks' largest magnitudes are added,
        # not compared: a bound within the number of blocks, which only moves the exponent by
        # that factor's.
        (n, d), q = self.rows.shape, self.b_blocks.q
        with np.errstate(over="ignore", invalid="ignore"):
            a_magnitude = math.sqrt(abs(np.trace(G))) if np.isfinite(np.diagonal(G)).all() else math.inf
        scale = (one_machine.scale_exponent(a_magnitude, self._a_largest, n * d, self.dtype),
                 one_machine.scale_exponent(b_largest, lambda: b_largest, n * q, self.dtype))
        if scale != (0, 0):
            self.scale = scale
            G, C, b_squares, _ = self._each_block(_gram_block)
        self._b_norms = np.sqrt(b_squares)
        return G, C

    def scale_from_sketch(self, SA, SB):
        """Checks and scales A and b from their sketches, as pynla.sketched_lstsq does for a
        sparse A: NaN or infinity in A or b reaches S A or S b (every row of A meets S), and
        |S A| is within a few times of A's magnitude. A pass over A (and one over b) only where
        a sketch is not finite, to say why."""
        if not np.isfinite(SB).all():
            b_largest = float(abs(self.b_blocks.array).max().compute())
            if not math.isfinite(b_largest):
                raise ValueError("b must not contain NaN or infinity")
        if not np.isfinite(SA).all():
            self._a_largest()  # raises for NaN or infinity in A
            raise ValueError("A's sketch overflowed: A's entries are too large in magnitude; scale A down")
        (n, d), q = self.rows.shape, self.b_blocks.q
        a_largest, b_largest = _largest(SA), _largest(SB)
        self.scale = (one_machine.scale_exponent(a_largest, lambda: a_largest, n * d, self.dtype),
                      one_machine.scale_exponent(b_largest, lambda: b_largest, n * q, self.dtype))

    def _a_largest(self):
        """A bound on A's largest magnitude (a pass); ValueError if A holds NaN or infinity."""
        largest = self._each_block(_largest_block)
        if not math.isfinite(largest):
            raise ValueError("A must not contain NaN or infinity")
        return largest

    def scale_from_largest(self):
        """Checks and scales A and b from their largest magnitudes, as pynla.sketched_lstsq does
        before CGLS: a pass over A (and one over b); NaN or infinity in either raises."""
        b_largest = float(abs(self.b_blocks.array).max().compute())
        if not math.isfinite(b_largest):
            raise ValueError("b must not contain NaN or infinity")
        a_largest = self._a_largest()
        (n, d), q = self.rows.shape, self.b_blocks.q
        self.scale = (one_machine.scale_exponent(a_largest * math.sqrt(n * d), lambda: a_largest, n * d, self.dtype),
                      one_machine.scale_exponent(b_largest, lambda: b_largest, n * q, self.dtype))

    def gradient(self, X, B):
        """As pynla.lstsq.Passes.gradient: any B stands for b's own blocks; None for zeros."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        return self._each_block(_gradient_block, X, B is not None)

    def a_column_norms(self):
        return np.sqrt(self._each_block(_column_squares_block))

    def preconditioned_gram(self, R0, B=None):
        return self._each_block(_preconditioned_gram_block, np.asfortranarray(R0))[:2]

    def column_norms(self, B=None):
        if self._b_norms is None:  # from b alone: not a pass over A
            b_scaled = times_power_of_two(self.b_blocks.array.astype(self.dtype), -self.scale[1])
            self._b_norms = np.sqrt(dask.compute((abs(b_scaled) ** 2).sum(axis=0))[0])
        return self._b_norms


def _block(block, b_block, sparse, dtype, scale):
    """A block and b's block as the kernels take them: dtype, layout, scale."""
    A_i = block_values(block, sparse, "A")
    A_i = A_i.astype(dtype, copy=False) if sparse else np.ascontiguousarray(A_i, dtype=dtype)
    B_i = np.ascontiguousarray(block_values(b_block, False, "b"), dtype=dtype)
    return times_power_of_two(A_i, -scale[0]), times_power_of_two(B_i, -scale[1])


@dask.delayed(pure=True)
def _gram_block(block, b_block, sparse, dtype, scale):
    A_i, B_i = _block(block, b_block, sparse, dtype, scale)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is what the scale then removes
        G, C = _core.tall_gram(A_i.toarray() if sparse else A_i, B_i)
        return G, C, np.sum(np.abs(B_i) ** 2, axis=0), _largest(B_i)


@dask.delayed(pure=True)
def _largest_block(block, b_block, sparse, dtype, scale):
    return _largest(_block(block, b_block, sparse, dtype, scale)[0])


def _largest(M):
    """max |M_ij| (0 for none; infinity where M holds NaN or infinity)."""
    largest = one_machine._largest_magnitude(M)
    return largest if math.isfinite(largest) else math.inf


@dask.delayed(pure=True)
def _gradient_block(block, b_block, sparse, dtype, scale, X, with_b):
    """(A_i^H (b_i - A_i X), ||b_i - A_i X||^2), b_i zero without with_b: the core's one-pass
    kernels, as on one machine."""
    A_i, B_i = _block(block, b_block, sparse, dtype, scale)
    X = aligned(X)
    B_i = B_i if with_b else None
    if sparse:
        return one_machine._csr_gradient(one_machine._checked_csr(A_i))(X, B_i)
    return one_machine._gradient_function(A_i)(X, B_i)


@dask.delayed(pure=True)
def _column_squares_block(block, b_block, sparse, dtype, scale):
    return one_machine.column_squares(_block(block, b_block, sparse, dtype, scale)[0])


@dask.delayed(pure=True)
def _preconditioned_gram_block(block, b_block, sparse, dtype, scale, R0):
    A_i, B_i = _block(block, b_block, sparse, dtype, scale)
    R0 = aligned(R0)
    Y = A_i.toarray() if sparse else np.array(A_i)
    _core.tall_times_upper(Y, R0, inverse=True)
    return _core.tall_gram(Y, B_i)


def _tsqr_solve(A, b_blocks, dtype, passes):
    """Dask's QR solve (TSQR) of A and b scaled as the passes scale them: (X, residual norms);
    LinAlgError if A is rank deficient. Counts its passes over A (two: the QR and Q^H b)."""
    a_exponent, b_exponent = passes.scale
    dense = A.map_blocks(lambda block: np.asarray(block.toarray() if hasattr(block, "toarray") else block,
                                                  dtype=dtype), dtype=dtype, meta=np.empty((0, 0), dtype=dtype))
    dense = times_power_of_two(dense, -a_exponent)
    B = times_power_of_two(b_blocks.array.astype(dtype), -b_exponent)
    n, d = A.shape
    X, _, rank, singular_values = da.linalg.lstsq(dense, B)
    X, rank, singular_values = dask.compute(X, rank, singular_values)
    passes.count += 2
    if rank < d:
        raise np.linalg.LinAlgError(f"A is rank deficient (numerical rank {rank} < {d} columns); sketched_lstsq "
                                    "needs full column rank")
    residual = np.sqrt(passes.gradient(np.asarray(X, dtype=dtype).reshape(d, -1), b_blocks)[1])
    return np.asarray(X, dtype=dtype).reshape(d, -1), residual
