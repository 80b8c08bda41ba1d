"""Sketching operators: random matrices S (m x n, m much smaller than n) that shrink the rows of
A while roughly keeping the geometry of its columns, so that ``S @ A`` stands in for A in least
squares and low-rank approximation.

Each operator is a ``scipy.sparse.linalg.LinearOperator`` of shape (m, n) that also applies
itself to SciPy sparse matrices (``S @ A``). Randomness comes from ``rng=`` (a seed or a
``numpy.random.Generator``); the same seed gives the same sketch, and the same bits, for any
number of threads.
"""

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla import _core
from pynla._validation import cast_csr, csr_parts, float_kernel_dtype, index_dtype_for
from pynla.spgemm import spgemm

__all__ = ["CountSketch", "GaussianSketch", "SRHT", "SparseSignSketch"]

#: Sparse products whose output width exceeds this go through SpGEMM (its hash accumulators need
#: no per-thread array as wide as the output): ColumnBitmap::kMaxWidth in the core.
_MAX_ACCUMULATOR_WIDTH = 1 << 24


class _Sketch(spla.LinearOperator):
    """What every sketch shares: shape checks, the dense/sparse dispatch of ``S @ A``."""

    def __init__(self, sketch_size, n, name):
        sketch_size, n = _count(sketch_size, "sketch_size", 1), _count(n, "n", 0)
        super().__init__(dtype=np.dtype(np.float64), shape=(sketch_size, n))
        self._name = name

    def __matmul__(self, other):
        if sp.issparse(other) or isinstance(other, (np.ndarray, list, tuple)):
            return self.apply(other)
        return super().__matmul__(other)

    def apply(self, A):
        """``S @ A`` for a dense 1-D or 2-D A, or a SciPy sparse A (see the class docstring)."""
        if sp.issparse(A):
            if A.ndim != 2 or A.shape[0] != self.shape[1]:
                raise ValueError(f"A has shape {A.shape}, expected ({self.shape[1]}, d) for {self._name} {self.shape}")
            return self._apply_sparse(A)
        A = np.asarray(A)
        if A.ndim not in (1, 2) or A.shape[0] != self.shape[1]:
            raise ValueError(f"A has shape {A.shape}, expected ({self.shape[1]},) or ({self.shape[1]}, d) "
                             f"for {self._name} {self.shape}")
        dtype = float_kernel_dtype(A.dtype, "A")
        A2 = A if A.ndim == 2 else A.reshape(-1, 1)
        Y = self._apply_dense(A2.astype(dtype, copy=False))
        return Y.reshape(-1) if A.ndim == 1 else Y

    def _matmat(self, X):
        return self.apply(X)

    def _matvec(self, x):
        return self.apply(np.asarray(x).reshape(-1))

    def _rmatvec(self, y):
        return self._rmatmat(np.asarray(y).reshape(-1, 1)).reshape(-1)

    def toarray(self):
        """S as a dense (m, n) float64 array."""
        return self.apply(np.eye(self.shape[1]))

    def _apply_sparse(self, A):
        """Dense sketches of sparse A: columns made dense a block at a time (a few million entries)."""
        dtype = float_kernel_dtype(A.dtype, "A")
        A = A.tocsc()
        step = max(1, (1 << 22) // max(1, A.shape[0]))
        blocks = [self._apply_dense(A[:, j:j + step].toarray(order="F").astype(dtype, copy=False))
                  for j in range(0, A.shape[1], step)]
        return np.hstack(blocks) if blocks else np.zeros((self.shape[0], 0), dtype=dtype)


class SparseSignSketch(_Sketch):
    """The sparse sign embedding: each column of S has ``nonzeros_per_column`` entries equal to
    ``+-1/sqrt(nonzeros_per_column)``, in distinct rows chosen uniformly at random, with random
    signs (Meng and Mahoney 2013; the very sparse random projection family).

    With 8 nonzeros per column it embeds a d-dimensional subspace about as well as a Gaussian
    sketch of the same size, at a cost of 8 additions per entry of A.

    Parameters
    ----------
    sketch_size : int
        m, the number of rows of S (at least ``nonzeros_per_column``).
    n : int
        The number of columns of S: the number of rows of the A it sketches.
    nonzeros_per_column : int, optional
        k, default 8.
    rng : None, int or numpy.random.Generator, optional
        The source of randomness (``numpy.random.default_rng(rng)``).

    Notes
    -----
    ``S @ A`` runs in C++ for float32, float64, complex64 and complex128 A (bool and integers
    in float64):

    - dense A (1-D or 2-D, any strides): a dense (m, ...) array in A's dtype, in about one
      pass over A (cost proportional to k times A's size), whatever the layout. Each entry of
      the result is summed in an order fixed by the sizes, so the bits do not depend on the
      number of threads.
    - sparse A: sparse, canonical (sorted indices, no duplicates, exact zeros dropped, as
      SciPy's products), CSC for CSC A and CSR for every other format; an array for a sparse
      array, a matrix for a sparse matrix.

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> S = pynla.SparseSignSketch(40, 1000, rng=0)
    >>> A = np.random.default_rng(1).standard_normal((1000, 5))
    >>> (S @ A).shape
    (40, 5)
    >>> bool(np.count_nonzero(S.toarray(), axis=0).max() == 8)
    True
    """

    def __init__(self, sketch_size, n, *, nonzeros_per_column=8, rng=None):
        super().__init__(sketch_size, n, type(self).__name__)
        k = _count(nonzeros_per_column, "nonzeros_per_column", 1)
        if k > self.shape[0]:
            raise ValueError(f"nonzeros_per_column={k} exceeds sketch_size={self.shape[0]}")
        self.nonzeros_per_column = k
        key = int(np.random.default_rng(rng).integers(2**64, dtype=np.uint64))
        self.rows, self.signs = _core.draw_sparse_sketch(self.shape[0], self.shape[1], k, key)
        self._scale = 1.0 / math.sqrt(k)

    @property
    def _core_tuple(self):
        return (self.rows, self.signs, self.shape[0], self.nonzeros_per_column, self._scale)

    def tosparse(self):
        """S as a canonical csc_array (m, n), float64."""
        m, n = self.shape
        k = self.nonzeros_per_column
        S = sp.csc_array((self.signs * self._scale, self.rows, np.arange(0, n * k + 1, k)), shape=(m, n))
        S.sort_indices()
        return S

    def _apply_dense(self, A):
        return _core.sketch_dense(self._core_tuple, A).reshape(self.shape[0], A.shape[1])

    def _apply_sparse(self, A):
        m, d = self.shape[0], A.shape[1]
        dtype = float_kernel_dtype(A.dtype, "A")
        array_in = isinstance(A, sp.sparray)
        if A.format == "csc":
            parts = csr_parts(A.T, "A")  # A's CSC arrays, checked, as the CSR arrays of A.T
            width, kernel, out_format = m, _core.sketch_csc, "csc"
        else:
            parts = csr_parts(A, "A")
            width, kernel, out_format = d, _core.sketch_csr, "csr"
        if width > _MAX_ACCUMULATOR_WIDTH:
            return spgemm(self.tosparse() if array_in else sp.csr_matrix(self.tosparse()), A)
        # Every entry of A lands in k rows before duplicates are summed: the index dtype must hold that.
        index_dtype = index_dtype_for([parts], maxval=self.nonzeros_per_column * len(parts.data))
        indptr, indices, data = kernel(self._core_tuple, cast_csr(parts, dtype, index_dtype))
        container = {("csr", True): sp.csr_array, ("csc", True): sp.csc_array,
                     ("csr", False): sp.csr_matrix, ("csc", False): sp.csc_matrix}[out_format, array_in]
        result = container((data, indices, indptr), shape=(m, d), copy=False)
        result.has_sorted_indices = True
        result.has_canonical_format = True
        return result

    def _rmatmat(self, Y):
        Y = np.asarray(Y)
        n, k = self.shape[1], self.nonzeros_per_column
        signed = self.signs.reshape(n, k, 1) * Y[self.rows.reshape(n, k)]
        return signed.sum(axis=1) * self._scale


class CountSketch(SparseSignSketch):
    """CountSketch (Clarkson and Woodruff 2013): one nonzero, +1 or -1, per column of S, in a row
    chosen uniformly at random; the distribution of ``scipy.linalg.clarkson_woodruff_transform``.

    ``S @ A`` adds each row of A, signed, into one row of the result: one pass over A.
    Everything in :class:`SparseSignSketch` holds, with ``nonzeros_per_column=1``.

    Parameters
    ----------
    sketch_size : int
        m, the number of rows of S.
    n : int
        The number of columns of S: the number of rows of the A it sketches.
    rng : None, int or numpy.random.Generator, optional
        The source of randomness (``numpy.random.default_rng(rng)``).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> S = pynla.CountSketch(3, 6, rng=0)
    >>> np.unique(np.abs(S.toarray()).sum(axis=0)).tolist()
    [1.0]
    >>> A = sp.random_array((6, 4), density=0.5, rng=1, format="csr")
    >>> bool(np.allclose((S @ A).toarray(), S.toarray() @ A.toarray()))
    True
    """

    def __init__(self, sketch_size, n, *, rng=None):
        super().__init__(sketch_size, n, nonzeros_per_column=1, rng=rng)


class SRHT(_Sketch):
    """The subsampled randomized Hadamard transform: ``S = sqrt(1/m) P H D``, with D random signs
    on A's rows (padded with zero rows to a power of two, n2), H the n2 x n2 Walsh-Hadamard
    matrix (entries +-1) and P keeping m of its rows chosen uniformly without replacement
    (Ailon and Chazelle 2006; Tropp 2011). A fast Johnson-Lindenstrauss transform: each column of
    A costs O(n2 log n2) additions, done in C++ column by column.

    Parameters
    ----------
    sketch_size : int
        m, at most n (and at least 1).
    n : int
        The number of columns of S: the number of rows of the A it sketches.
    rng : None, int or numpy.random.Generator, optional
        The source of randomness.

    Notes
    -----
    ``S @ A`` gives a dense array in A's dtype (float32, float64, complex64, complex128; bool and
    integers in float64); sparse A is made dense a block of columns at a time.

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> S = pynla.SRHT(4, 8, rng=0)
    >>> bool(np.allclose(S.toarray() @ S.toarray().T, 2 * np.eye(4)))
    True
    """

    def __init__(self, sketch_size, n, *, rng=None):
        super().__init__(sketch_size, n, type(self).__name__)
        m, n = self.shape
        if m > n:
            raise ValueError(f"sketch_size={m} exceeds n={n}: an SRHT keeps at most n of its rows")
        self.padded_size = 1 << max(0, (n - 1).bit_length())
        generator = np.random.default_rng(rng)
        self.signs = np.where(generator.integers(0, 2, n, dtype=np.int8) == 1, 1, -1).astype(np.int8)
        self.samples = np.sort(generator.choice(self.padded_size, size=m, replace=False)).astype(np.int64)
        self._scale = 1.0 / math.sqrt(m)

    def _apply_dense(self, A):
        if A.strides[1] != A.itemsize and A.strides[0] != A.itemsize and A.shape[1] > 1:
            A = np.ascontiguousarray(A)
        y = _core.srht(A, self.signs, self.samples, self.padded_size, self._scale)
        return y.reshape(self.shape[0], A.shape[1])

    def _rmatmat(self, Y):
        Y = np.asarray(Y)
        dtype = float_kernel_dtype(Y.dtype, "Y")
        Z = np.zeros((self.padded_size, Y.shape[1]), dtype=dtype, order="F")
        Z[self.samples] = Y
        _core.walsh_hadamard(Z)
        return Z[: self.shape[1]] * (self.signs[:, None] * self._scale)


class GaussianSketch(_Sketch):
    """A Gaussian sketch: S has independent N(0, 1/m) entries, stored dense (m n doubles) and
    applied by BLAS. The best embedding per row of S, and the most expensive to apply.

    Parameters
    ----------
    sketch_size : int
        m, the number of rows of S.
    n : int
        The number of columns of S: the number of rows of the A it sketches.
    rng : None, int or numpy.random.Generator, optional
        The source of randomness (``standard_normal`` of ``numpy.random.default_rng(rng)``).

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> S = pynla.GaussianSketch(2000, 50, rng=0)
    >>> x = np.ones(50)
    >>> bool(abs(np.linalg.norm(S @ x) / np.linalg.norm(x) - 1) < 0.1)
    True
    """

    def __init__(self, sketch_size, n, *, rng=None):
        super().__init__(sketch_size, n, type(self).__name__)
        m, n = self.shape
        self.matrix = np.random.default_rng(rng).standard_normal((m, n)) / math.sqrt(m)

    def _apply_dense(self, A):
        return self.matrix.astype(np.result_type(A.dtype, np.float32), copy=False) @ A

    def _apply_sparse(self, A):
        matrix = self.matrix.astype(float_kernel_dtype(A.dtype, "A"), copy=False)
        return np.asarray((A.T @ matrix.T).T)

    def _rmatmat(self, Y):
        return self.matrix.T @ np.asarray(Y)


def _count(value, name, minimum):
    """``value`` as an int >= minimum; TypeError or ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)
