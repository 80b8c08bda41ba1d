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

from pynla import _core
from pynla._operator import KernelLinearOperator
from pynla._validation import cast_csr, csr_parts, index_dtype_for
from pynla.spgemm import spgemm

__all__ = ["CountSketch", "GaussianSketch", "SRHT", "SparseSignSketch"]

#: Sparse products whose output width exceeds this go through SpGEMM (its hash accumulators need
#: no per-thread array as wide as the output): ColumnBitmap::kMaxWidth in the core.
_MAX_ACCUMULATOR_WIDTH = 1 << 24

#: The dtypes of a sketch's entries.
_SKETCH_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class _Sketch(KernelLinearOperator):
    """What every sketch shares: its size and dtype checks, and the dispatch of sparse operands:
    ``S @ A`` to the sketch's sparse kernel; the rest (``S^H @ A``, dtypes the kernels lack) to
    ``_sparse_fallback``, which makes A dense unless the sketch has a sparse form."""

    def __init__(self, sketch_size, n, dtype):
        sketch_size, n = _count(sketch_size, "sketch_size", 1), _count(n, "n", 0)
        dtype = np.dtype(dtype).newbyteorder("=")
        if dtype not in _SKETCH_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        super().__init__(dtype, (sketch_size, n))

    def _entry(self, value):
        """A value of S's entries, rounded to S's dtype (the kernels then use it in any dtype,
        so S @ A is the product with S.toarray() whatever A's dtype)."""
        return float(self.dtype.type(value))

    def toarray(self):
        """S as a dense (m, n) array of S's dtype."""
        return self @ np.eye(self.shape[1], dtype=self.dtype)

    def columns(self, start, stop):
        """``S[:, start:stop]``, an operator of the same kind and dtype, for sketching A by row
        blocks: ``S @ A`` is the sum over A's row blocks ``A[start:stop]`` of
        ``S.columns(start, stop) @ A[start:stop]`` (pynla.dask sketches each block where it is
        stored)."""
        if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer))
                and 0 <= start <= stop <= self.shape[1]):
            raise ValueError(f"columns needs integers 0 <= start <= stop <= {self.shape[1]}, got {start!r}, {stop!r}")
        return self._columns(int(start), int(stop))

    def _columns(self, start, stop):
        raise NotImplementedError

    def _sparse_product(self, X, adjoint):
        dtype = np.result_type(self.dtype, X.dtype)
        if adjoint or (self.kernel_dtypes is not None and dtype not in self.kernel_dtypes):
            return self._sparse_fallback(X.astype(dtype, copy=False), adjoint)
        return self._apply_sparse(X.astype(dtype, copy=False))

    def _sparse_fallback(self, X, adjoint):
        """S^H X, or S X in a dtype the kernels lack, for sparse X: made dense."""
        return self._product(X.toarray(), adjoint)

    def _apply_sparse(self, A):
        """Dense sketches of sparse A: columns made dense a block at a time (a few million entries)."""
        A = A.tocsc()
        step = max(1, (1 << 22) // max(1, A.shape[0]))
        blocks = [self._kernel_product(A[:, j:j + step].toarray(order="F"), adjoint=False)
                  for j in range(0, A.shape[1], step)]
        return np.hstack(blocks) if blocks else np.zeros((self.shape[0], 0), dtype=A.dtype)


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
    dtype : float32 or float64, optional
        S's dtype (default float64). Results have NumPy's result type of S's and A's dtypes, as
        for SciPy's operator of the same matrix: a float32 A gives float32 only with a float32 S.

    Notes
    -----
    ``S @ A`` runs in C++ when its result dtype is float32, float64, complex64 or complex128
    (bool and integer A give S's dtype); long double by SciPy's product with ``S.tosparse()``.
    For float32 A, draw S with ``dtype=np.float32``: a float64 S (the default) gives float64,
    as SciPy would, from a float64 copy of A made first.

    - dense A (1-D or 2-D, any strides): a dense (m, ...) array, in about one pass over A
      (cost proportional to k times A's size), whatever the layout. Each entry of the result
      is summed in an order fixed by the sizes, so the bits do not depend on the number of
      threads.
    - sparse A: sparse, canonical (sorted indices, no duplicates, exact zeros dropped, as
      SciPy's products), CSC for CSC A and CSR for every other format; an array for a sparse
      array, a matrix for a sparse matrix.

    ``S.H @ Y`` (``rmatvec``, ``rmatmat``) gathers in NumPy; for sparse Y it is SciPy's
    product with ``S.tosparse().T``, sparse as above.

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

    def __init__(self, sketch_size, n, *, nonzeros_per_column=8, rng=None, dtype=np.float64):
        super().__init__(sketch_size, n, dtype)
        k = _count(nonzeros_per_column, "nonzeros_per_column", 1)
        if k > self.shape[0]:
            raise ValueError(f"nonzeros_per_column={k} exceeds sketch_size={self.shape[0]}")
        self.nonzeros_per_column = k
        self._draw(int(np.random.default_rng(rng).integers(2**64, dtype=np.uint64)), first=0)

    def _draw(self, key, first):
        """Columns [first, first + n) of the sketch drawn from ``key``: each column's draws
        depend on the key and its index only, and are made when first needed (a column block
        of S, or S sent to another process, carries only the key)."""
        self.key, self.first_column = key, first
        self._draws = None
        self._scale = self._entry(1.0 / math.sqrt(self.nonzeros_per_column))

    @property
    def rows(self):
        """Each column's k rows (int32, column after column)."""
        return self._drawn()[0]

    @property
    def signs(self):
        """Each column's k signs (int8, +-1), as ``rows``."""
        return self._drawn()[1]

    def _drawn(self):
        if self._draws is None:  # two threads may both draw: the same values
            self._draws = _core.draw_sparse_sketch(self.shape[0], self.shape[1], self.nonzeros_per_column, self.key,
                                                   self.first_column)
        return self._draws

    def __getstate__(self):
        return {**self.__dict__, "_draws": None}

    def _columns(self, start, stop):
        part = object.__new__(type(self))
        _Sketch.__init__(part, self.shape[0], stop - start, self.dtype)
        part.nonzeros_per_column = self.nonzeros_per_column
        part._draw(self.key, self.first_column + start)
        return part

    @property
    def _core_tuple(self):
        return (self.rows, self.signs, self.shape[0], self.nonzeros_per_column, self._scale)

    def tosparse(self):
        """S as a canonical csc_array (m, n) of S's dtype."""
        m, n = self.shape
        k = self.nonzeros_per_column
        values = (self.signs * self._scale).astype(self.dtype)
        S = sp.csc_array((values, self.rows, np.arange(0, n * k + 1, k)), shape=(m, n))
        S.sort_indices()
        return S

    def _kernel_product(self, X, adjoint):
        if adjoint:  # S^H X = S^T X: each row of the result sums its column's k signed rows of X
            n, k = self.shape[1], self.nonzeros_per_column
            signed = self.signs.reshape(n, k, 1) * X[self.rows.reshape(n, k)]
            return signed.sum(axis=1, dtype=X.dtype) * X.dtype.type(self._scale)
        return _core.sketch_dense(self._core_tuple, X).reshape(self.shape[0], X.shape[1])

    def _exact_product(self, X, adjoint):
        S = self.tosparse()
        return (S.T if adjoint else S) @ X

    def _sparse_fallback(self, X, adjoint):
        """SciPy's sparse product with S, in the kernels' container and format: a matrix for a
        sparse matrix, CSC for CSC X and CSR for the rest."""
        S = self.tosparse() if isinstance(X, sp.sparray) else sp.csc_matrix(self.tosparse())
        return ((S.T if adjoint else S) @ X).asformat("csc" if X.format == "csc" else "csr")

    def _apply_sparse(self, A):
        m, d = self.shape[0], A.shape[1]
        dtype = A.dtype
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
    dtype : float32 or float64, optional
        S's dtype (default float64); results have NumPy's result type of S's and A's dtypes.

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

    def __init__(self, sketch_size, n, *, rng=None, dtype=np.float64):
        super().__init__(sketch_size, n, nonzeros_per_column=1, rng=rng, dtype=dtype)


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
    dtype : float32 or float64, optional
        S's dtype (default float64); results have NumPy's result type of S's and A's dtypes.

    Notes
    -----
    ``S @ A`` and ``S.H @ Y`` give dense arrays, in C++ for float32, float64, complex64 and
    complex128 results (bool and integer A give S's dtype), in NumPy for long double; sparse A
    is made dense a block of columns at a time. For float32 A, draw S with ``dtype=np.float32``
    (a float64 S gives float64, from a float64 copy of A).

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> S = pynla.SRHT(4, 8, rng=0)
    >>> bool(np.allclose(S.toarray() @ S.toarray().T, 2 * np.eye(4)))
    True
    """

    def __init__(self, sketch_size, n, *, rng=None, dtype=np.float64):
        super().__init__(sketch_size, n, dtype)
        m, n = self.shape
        if m > n:
            raise ValueError(f"sketch_size={m} exceeds n={n}: an SRHT keeps at most n of its rows")
        self.padded_size = 1 << max(0, (n - 1).bit_length())
        generator = np.random.default_rng(rng)
        self.signs = np.where(generator.integers(0, 2, n, dtype=np.int8) == 1, 1, -1).astype(np.int8)
        self.samples = np.sort(generator.choice(self.padded_size, size=m, replace=False)).astype(np.int64)
        self._scale = self._entry(1.0 / math.sqrt(m))

    def _kernel_product(self, X, adjoint):
        if adjoint:
            Z = self._sampled_rows(X)
            _core.walsh_hadamard(Z)
            return self._signed_rows(Z)
        if X.strides[1] != X.itemsize and X.strides[0] != X.itemsize and X.shape[1] > 1:
            X = np.ascontiguousarray(X)
        y = _core.srht(X, self.signs, self.samples, self.padded_size, self._scale)
        return y.reshape(self.shape[0], X.shape[1])

    def _exact_product(self, X, adjoint):
        if adjoint:
            return self._signed_rows(_walsh_hadamard(self._sampled_rows(X)))
        Z = np.zeros((self.padded_size, X.shape[1]), dtype=X.dtype)
        Z[: self.shape[1]] = self.signs[:, None] * X
        return _walsh_hadamard(Z)[self.samples] * X.dtype.type(self._scale)

    def _columns(self, start, stop):
        return _SRHTColumns(self, start, stop)

    def _sampled_rows(self, Y):
        """P^T Y: the padded_size rows of which the sampled ones are Y's (Fortran order, for
        the C++ transform's columns)."""
        Z = np.zeros((self.padded_size, Y.shape[1]), dtype=Y.dtype, order="F")
        Z[self.samples] = Y
        return Z

    def _signed_rows(self, Z):
        """scale D Z[:n]: the last factor of S^H Y = scale D H P^T Y."""
        return Z[: self.shape[1]] * (self.signs[:, None] * Z.dtype.type(self._scale))


class _SRHTColumns(_Sketch):
    """Columns [first, first + n) of an SRHT (``SRHT.columns``): ``sqrt(1/m) P H[:, cols] D[cols]``.
    The range splits into aligned runs of 2^p columns (its dyadic pieces); on a run starting at
    o, ``H[i, o + c] = (-1)^popcount(i & o) H_{2^p}[i mod 2^p, c]``, because o's bits and c's
    are disjoint, so each run costs one transform of its own size."""

    def __init__(self, whole, start, stop):
        super().__init__(whole.shape[0], stop - start, whole.dtype)
        self.first = whole.first + start if isinstance(whole, _SRHTColumns) else start
        self.signs, self.samples, self._scale = whole.signs[start:stop], whole.samples, whole._scale

    def _columns(self, start, stop):
        return _SRHTColumns(self, start, stop)

    def _kernel_product(self, X, adjoint):
        return self._by_runs(X, adjoint, _core_walsh_hadamard)

    def _exact_product(self, X, adjoint):
        return self._by_runs(X, adjoint, _walsh_hadamard)

    def _by_runs(self, X, adjoint, transform):
        m, n = self.shape
        out = np.zeros((n if adjoint else m, X.shape[1]), dtype=X.dtype)
        for offset, size in _dyadic_runs(self.first, self.first + n):
            local = slice(offset - self.first, offset - self.first + size)
            rows = self.samples & (size - 1)
            flips = (1 - 2 * _parity(self.samples & offset)).astype(np.int8)[:, None]
            if adjoint:  # the sampled rows of Y, signed, summed into the run's rows, transformed
                Z = np.zeros((size, X.shape[1]), dtype=X.dtype, order="F")
                np.add.at(Z, rows, flips * X)
                out[local] = self.signs[local, None] * transform(Z)
            else:
                out += flips * transform(np.asfortranarray(self.signs[local, None] * X[local]))[rows]
        return out * X.dtype.type(self._scale)


def _dyadic_runs(start, stop):
    """(offset, size) of the aligned power-of-two runs that make up [start, stop), in order:
    each size is the largest power of two that divides its offset and fits."""
    while start < stop:
        size = start & -start if start else 1 << 62
        while size > stop - start:
            size >>= 1
        yield start, size
        start += size


def _parity(values):
    """popcount(v) mod 2 of nonnegative int64 values."""
    values = values.copy()
    for shift in (32, 16, 8, 4, 2, 1):
        values ^= values >> shift
    return values & 1


def _core_walsh_hadamard(Z):
    """H Z, in place, for a Fortran-ordered Z of a kernel dtype."""
    _core.walsh_hadamard(Z)
    return Z


def _walsh_hadamard(Z):
    """H Z for the Walsh-Hadamard matrix H of Z's rows (a power of two), in NumPy, in Z's dtype:
    for the dtypes the C++ transform lacks. A new array."""
    n, k = Z.shape
    Z = np.array(Z, order="C")
    half = 1
    while half < n:
        pairs = Z.reshape(n // (2 * half), 2, half, k)  # rows i and i + half of each run of 2 half
        first = pairs[:, 0].copy()
        pairs[:, 0] += pairs[:, 1]
        pairs[:, 1] = first - pairs[:, 1]
        half *= 2
    return Z


class GaussianSketch(_Sketch):
    """A Gaussian sketch: S has independent N(0, 1/m) entries, stored dense (m n values) and
    applied by BLAS. The best embedding per row of S, and the most expensive to apply.

    Parameters
    ----------
    sketch_size : int
        m, the number of rows of S.
    n : int
        The number of columns of S: the number of rows of the A it sketches.
    rng : None, int or numpy.random.Generator, optional
        The source of randomness (``standard_normal`` of ``numpy.random.default_rng(rng)``).
    dtype : float32 or float64, optional
        S's dtype (default float64); results have NumPy's result type of S's and A's dtypes,
        computed by NumPy's matmul (so every dtype NumPy takes).

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> S = pynla.GaussianSketch(2000, 50, rng=0)
    >>> x = np.ones(50)
    >>> bool(abs(np.linalg.norm(S @ x) / np.linalg.norm(x) - 1) < 0.1)
    True
    """

    kernel_dtypes = None  # NumPy's matmul takes them all

    def __init__(self, sketch_size, n, *, rng=None, dtype=np.float64):
        super().__init__(sketch_size, n, dtype)
        m, n = self.shape
        self.matrix = (np.random.default_rng(rng).standard_normal((m, n)) / math.sqrt(m)).astype(self.dtype)

    def _kernel_product(self, X, adjoint):
        return (self.matrix.T if adjoint else self.matrix) @ X

    def _columns(self, start, stop):
        part = object.__new__(type(self))
        _Sketch.__init__(part, self.shape[0], stop - start, self.dtype)
        part.matrix = self.matrix[:, start:stop]
        return part

    def _apply_sparse(self, A):
        return np.asarray((A.T @ self.matrix.T).T)


def _count(value, name, minimum):
    """``value`` as an int >= minimum; TypeError or ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)
