"""What the recycling Krylov solvers share: one linear system checked and prepared for the
kernels (A and M as counted products in the working dtype), SciPy's tolerance rule, and the
counts a solve reports.

A system is solved in float64, or complex128 if A, b or M is complex; the solution is returned
in SciPy's dtype for the call (float32 and complex64 stay so). Sparse A and M multiply through
the core's CSR and BSR kernels (multithreaded, the same bits for any thread count), dense ones
through NumPy, anything else through its ``LinearOperator``.
"""

import dataclasses
import numbers

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla import _core
from pynla._validation import bsr_parts, cast_bsr, cast_csr, csr_parts, index_dtype_for

#: The dtypes the solvers work in.
_WORK_DTYPES = (np.dtype(np.float64), np.dtype(np.complex128))


@dataclasses.dataclass(frozen=True)
class SolveStats:
    """The counts of one solve.

    Attributes
    ----------
    info : int
        As returned with x: 0 converged, > 0 ``maxiter`` reached, < 0 breakdown or stagnation.
    iterations : int
        Krylov iterations (Arnoldi steps for GCRO-DR, CG steps for recycled CG).
    matvecs : int
        Products with A, a block product of k columns counting k (the start-up residual and
        the final check of the true residual included).
    preconditioner_applications : int
        Products with M, counted the same way (0 without M).
    residual_norm : float
        The true residual ``||b - A x||`` of the returned x, computed from A (not a recurrence).
    cycles : int
        Restart cycles (GCRO-DR); 0 for CG.
    recycled : int
        Columns of the recycled space the solve started from.
    """

    info: int
    iterations: int
    matvecs: int
    preconditioner_applications: int
    residual_norm: float
    cycles: int = 0
    recycled: int = 0


class _Product:
    """``x -> A x`` for one operand (A or M) in the working dtype, counting columns."""

    def __init__(self, operand, name, n, dtype):
        self.count = 0
        self.operand = operand
        self._name = name
        self.diagonal = None  # the diagonal, for a diagonal sparse operand
        self.csr = None  # the core's CSR tuple, for any other sparse operand but BSR
        if sp.issparse(operand):
            self._sparse = self._sparse_parts(operand, dtype)
            self._dense = None
            if not self._bsr:
                self.diagonal = _diagonal_of(self._sparse, n)
                self.csr = self._sparse if self.diagonal is None else None
        elif isinstance(operand, np.ndarray):
            self._sparse = None
            self._dense = np.asarray(operand, dtype=dtype)
            if not np.isfinite(self._dense).all():
                raise ValueError(f"{name} contains non-finite entries (NaN or infinity)")
        else:
            self._sparse = self._dense = None
        self._dtype = dtype

    def _sparse_parts(self, operand, dtype):
        if operand.format == "bsr":
            parts = bsr_parts(operand, self._name)
            self._bsr = True
            arrays = cast_bsr(parts, dtype, index_dtype_for([parts], maxval=0))
        else:
            parts = csr_parts(operand, self._name)
            self._bsr = False
            # int32 indices where they fit: a product then reads a third fewer bytes.
            narrow = max(len(parts.indices), *parts.shape) <= np.iinfo(np.int32).max
            arrays = cast_csr(parts, dtype, np.dtype(np.int32 if narrow else np.int64))[:4]
        if not np.isfinite(arrays[2]).all():
            raise ValueError(f"{self._name} contains non-finite entries (NaN or infinity)")
        return arrays

    def __call__(self, x):
        """A x for x of shape (n,) or (n, k) in the working dtype; a new array of that dtype."""
        self.count += 1 if x.ndim == 1 else x.shape[1]
        if self.diagonal is not None:
            return self.diagonal * x if x.ndim == 1 else self.diagonal[:, None] * x
        if self._sparse is not None:
            x = np.ascontiguousarray(x)
            if self._bsr:
                y = _core.bsr_matmul(self._sparse, x.reshape(x.shape[0], -1), transpose=False, check=False, columns=None)
                return y.reshape(x.shape)  # A is square: y has x's shape
            return _core.csr_matvec(self._sparse, x)
        if self._dense is not None:
            return self._dense @ x
        y = self.operand.matvec(x) if x.ndim == 1 else self.operand.matmat(x)
        return np.asarray(y, dtype=self._dtype).reshape(x.shape)  # (n, 1) results of a vector too


def _diagonal_of(csr, n):
    """The diagonal of a CSR tuple as a vector if the matrix is diagonal (at most one stored
    entry a row, on the diagonal: a Jacobi preconditioner), else None."""
    indptr, indices, data = csr[:3]
    counts = np.diff(indptr)
    if counts.size and counts.max() > 1:
        return None
    rows = np.flatnonzero(counts)
    if not np.array_equal(indices, rows):
        return None
    diagonal = np.zeros(n, dtype=data.dtype)
    diagonal[rows] = data
    return diagonal


class _OperandsKey:
    """The identities of a system's A and M: equal only for the same objects (it holds them,
    so that an id cannot be reused by another object while a solver keeps the key)."""

    def __init__(self, A, M):
        self.operands = (A, M)

    def __eq__(self, other):
        return isinstance(other, _OperandsKey) and all(a is b for a, b in zip(self.operands, other.operands))

    __hash__ = None


class _Identity:
    """The product of no preconditioner: x itself, uncounted."""

    count = 0
    operand = None
    diagonal = csr = None

    def __call__(self, x):
        return x


def _square_operand(A, name, n=None):
    """A as an operand of known shape and dtype: sparse and ndarray as they are (np.matrix as
    ndarray), anything else through ``aslinearoperator``; ValueError unless square (and n x n)."""
    if isinstance(A, np.matrix):
        A = np.asarray(A)
    if not (sp.issparse(A) or isinstance(A, (np.ndarray, spla.LinearOperator))):
        try:
            A = spla.aslinearoperator(A)
        except TypeError:
            raise TypeError(f"{name} must be a sparse matrix, a dense array or a LinearOperator, "
                            f"got {type(A).__name__}") from None
    if isinstance(A, np.ndarray) and A.dtype.kind not in "biufc":
        raise TypeError(f"{name} has dtype {A.dtype}; expected a numeric dtype")
    shape = tuple(A.shape)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} must be square, got shape {shape}")
    if n is not None and shape[0] != n:
        raise ValueError(f"{name} has shape {shape}, expected ({n}, {n}) to match A")
    return A


def _vector(v, name, n):
    v = np.asarray(v)
    if v.dtype.kind not in "biufc":
        raise TypeError(f"{name} has dtype {v.dtype}; expected a numeric dtype")
    if v.shape not in ((n,), (n, 1)):
        raise ValueError(f"{name} has shape {v.shape}, expected ({n},) or ({n}, 1) to match A")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} contains non-finite entries (NaN or infinity)")
    return v.reshape(n)


def _tolerance(value, name):
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive_int(value, name, *, low=1):
    """value as an int >= low; ValueError (TypeError for a non-integer) naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


class LinearSystem:
    """A x = b with x0, M and SciPy's tolerance, checked and prepared for a solve.

    Attributes: ``n``, ``dtype`` (the working dtype), ``result_dtype``, ``b``, ``x`` (the
    starting guess, a new working array), ``tolerance`` (``max(atol, rtol ||b||)``),
    ``maxiter`` (None: the solver's default), ``A`` and ``M`` (counted products), ``key`` (the
    operands' identities: a recycled space computed for one key holds for the same key).
    """

    def __init__(self, A, b, x0, *, rtol, atol, maxiter, M):
        A = _square_operand(A, "A")
        self.n = n = A.shape[0]
        b = _vector(b, "b", n)
        x0 = None if x0 is None else _vector(x0, "x0", n)
        M = None if M is None else _square_operand(M, "M", n)
        rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
        self.maxiter = None if maxiter is None else check_positive_int(maxiter, "maxiter")
        dtypes = [A.dtype, b.dtype] + ([] if M is None else [M.dtype])
        complex_system = any(np.dtype(t).kind == "c" for t in dtypes)
        self.dtype = _WORK_DTYPES[1] if complex_system else _WORK_DTYPES[0]
        given = np.result_type(A.dtype, b.dtype)
        self.result_dtype = given if given in (np.float32, np.complex64) else self.dtype
        self.A = _Product(A, "A", n, self.dtype)
        self.M = _Identity() if M is None else _Product(M, "M", n, self.dtype)
        self.key = _OperandsKey(A, M)
        self.b = np.array(b, dtype=self.dtype)
        self.x = np.zeros(n, dtype=self.dtype) if x0 is None else np.array(x0, dtype=self.dtype)
        self.b_norm = float(np.linalg.norm(self.b))
        self.tolerance = max(atol, rtol * self.b_norm)
        self.started_from_zero = x0 is None or not self.x.any()
        self._a_times_m = None

    def loop_operands(self):
        """(A, M) as the core's solver loops take them: a CSR tuple or a diagonal vector, which
        the core applies itself (count them with count_loop), else the counted products as
        Python callables; M is None without a preconditioner."""
        def operand(product):
            if product.operand is None:
                return None
            native = product.csr if product.csr is not None else product.diagonal
            return product if native is None else native

        return operand(self.A), operand(self.M)

    def right_preconditioned_operands(self):
        """loop_operands() for a loop that applies A M: (A M, None) as one CSR tuple when A is
        CSR and M a diagonal (Jacobi), M's entries folded into A's values once a system, so that
        a product reads A once and M takes no sweep of its own (8% of an Arnoldi step at 16384
        rows); otherwise loop_operands(). count_loop counts M's products alike."""
        if self.A.csr is None or self.M.diagonal is None:
            return self.loop_operands()
        if self._a_times_m is None:
            indptr, indices, data, shape = self.A.csr
            self._a_times_m = (indptr, indices, data * self.M.diagonal[indices], shape)
        return self._a_times_m, None

    def m_diagonal(self):
        """M's diagonal where M is a diagonal sparse matrix (ones without M), else None."""
        if self.M.operand is None:
            return np.ones(self.n)
        return self.M.diagonal

    def count_loop(self, products, preconditionings):
        """Adds a core loop's products with A and M to the counts, for the operands the core
        applied itself (Python callables count their own calls)."""
        for product, count in ((self.A, products), (self.M, preconditionings)):
            if product.operand is not None and (product.csr is not None or product.diagonal is not None):
                product.count += count

    def residual(self, x):
        """b - A x, computed (one product with A)."""
        return self.b - self.A(x)

    def result(self, x):
        return x.astype(self.result_dtype, copy=False)


def inner(Q, X):
    """Q^H X for n-row blocks, by the core's chunked kernel (the same bits for any number of
    threads; NumPy's product on several BLAS threads is not)."""
    dtype = np.result_type(Q.dtype, X.dtype)
    return _core.krylov_inner(np.asfortranarray(Q, dtype=dtype), np.asfortranarray(X, dtype=dtype))


def combine(Q, C, out=None, *, accumulate=False):
    """Q C (``out += Q C`` if accumulate) for an n-row block Q and a small C, by the core's
    chunked kernel on pynla's threads; ``out`` is Fortran-ordered."""
    dtype = np.result_type(Q.dtype, C.dtype)
    if out is None:
        out = np.empty((Q.shape[0], C.shape[1]), dtype=dtype, order="F")
    _core.krylov_combine(np.asfortranarray(Q, dtype=dtype), np.asfortranarray(C, dtype=dtype), out, accumulate)
    return out
