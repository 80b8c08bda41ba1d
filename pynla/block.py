"""Block sparse row (BSR) matrices: products with dense matrices and between BSR matrices,
block-Jacobi preconditioning and LinearOperators, on SciPy's own ``bsr_array`` layout.
(Building them: :mod:`pynla.block_build`.)"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla import _core
from pynla._operator import KernelLinearOperator
from pynla._validation import (
    KERNEL_DTYPES,
    bsr_kernel_arrays,
    bsr_like,
    bsr_parts,
    cast_bsr,
    float_kernel_dtype,
    index_dtype_for,
    require_sparse,
)
from pynla.block_build import to_bsr

__all__ = ["BsrLinearOperator", "aslinearoperator", "block_diagonal_inverse", "bsr_matmul", "spgemm_bsr"]


def bsr_matmul(A, X, *, transpose=False):
    """Multiply a BSR matrix by a dense vector or matrix: ``A @ X``, or ``A.T @ X``.

    Each block row of the result is summed in registers by one thread, with kernels unrolled for
    the common block shapes (2x2, 2x3, 3x2, 3x3, 4x4, 6x6, 8x8, 9x9, 16x16) and a generic path
    for any other; ``transpose=True`` lists A's blocks by block column and never forms A.T,
    except for a tall A (rows at least 8 times its columns) whose ``A.T @ X`` fits in 64 KiB:
    that is summed by fixed ranges of rows, each into a small result of its own, added in range
    order (A and X read in order instead of gathered). The result is the same, bit for bit, for
    any number of threads; a column of ``A.T @ X`` may differ at rounding level from the same
    product with one column of X alone, where the width decides between the two orders.

    Parameters
    ----------
    A : bsr_array or bsr_matrix, shape (m, n)
        Blocks may be unsorted and repeated (repeats add up).
    X : array_like, shape (n,) or (n, k); (m,) or (m, k) if ``transpose``
        C or Fortran order (Fortran order is copied to C order first, as SciPy does).
    transpose : bool, optional
        If True, compute ``A.T @ X`` (the transpose, not the conjugate transpose).

    Returns
    -------
    Y : ndarray, shape (m,) or (m, k); (n,) or (n, k) if ``transpose``
        C order, of NumPy's result type of A's and X's dtypes.

    Raises
    ------
    TypeError
        If A is not a BSR array or matrix.
    ValueError
        If X's rows do not match A, X is not 1-D or 2-D, or A's structure is malformed.

    Notes
    -----
    float32, float64, complex64 and complex128 run in the C++ kernels; other dtypes are
    multiplied by SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.bsr_array(np.arange(16.0).reshape(4, 4), blocksize=(2, 2))
    >>> X = np.ones((4, 3))
    >>> pynla.bsr_matmul(A, X)[:, 0]
    array([ 6., 22., 38., 54.])
    >>> bool(np.array_equal(pynla.bsr_matmul(A, X, transpose=True), A.T @ X))
    True
    """
    require_sparse(A, "A")
    X = np.asarray(X)
    n_in = A.shape[0] if transpose else A.shape[1]
    if X.ndim not in (1, 2) or X.shape[0] != n_in:
        signature = "(m,n).T @ (m,k)" if transpose else "(m,n) @ (n,k)"
        raise ValueError(f"X has shape {X.shape}, expected ({n_in},) or ({n_in}, k) for {signature} with A {A.shape}")
    dtype = A.dtype if X.dtype == A.dtype else np.result_type(A.dtype, X.dtype)
    if dtype not in KERNEL_DTYPES:
        bsr_parts(A, "A")
        return (A.T if transpose else A) @ X
    a = bsr_kernel_arrays(A, "A", dtype)
    try:  # the structure is checked in the kernel's call
        return _bsr_matmul(a, X, dtype, transpose, check=True)
    except ValueError:
        bsr_parts(A, "A")  # names the fault
        raise


def _bsr_matmul(a, X, dtype, transpose, *, check, columns=None):
    """bsr_matmul on core parts ``a`` (checked, or checked by the kernel's call if ``check``);
    ``columns`` is _core.bsr_block_columns(a) or None."""
    (n_block_rows, n_block_cols), (block_rows, block_cols) = a[3], a[4]
    n_out = n_block_cols * block_cols if transpose else n_block_rows * block_rows
    x = np.ascontiguousarray(X.reshape(X.shape[0], 1 if X.ndim == 1 else X.shape[1]), dtype=dtype)
    y = _core.bsr_matmul(a, x, transpose=transpose, check=check, columns=columns)
    return y.reshape((n_out,) if X.ndim == 1 else (n_out, x.shape[1]))


def block_diagonal_inverse(A, blocksize=None):
    """The inverses of the diagonal blocks of a square sparse matrix, as block-diagonal BSR.

    ``M = block_diagonal_inverse(A)`` is the block-Jacobi preconditioner
    ``blockdiag(A_11, ..., A_nn)^-1`` of bundle adjustment and Schur-complement solvers; pass
    ``pynla.aslinearoperator(M)`` (or M itself) as ``M=`` to ``scipy.sparse.linalg.cg``. Each
    block is inverted by LAPACK's ``gesv`` (SciPy's own LAPACK), blocks in parallel.

    Parameters
    ----------
    A : sparse array or matrix, square
        BSR with square blocks, or any format together with ``blocksize``.
    blocksize : int or (int, int), optional
        The diagonal block size; default: A's blocksize (A must then be BSR).

    Returns
    -------
    bsr_array or bsr_matrix
        One R x R block per block row: the inverse of A's diagonal block there.

    Raises
    ------
    numpy.linalg.LinAlgError
        If a diagonal block is missing or singular (the message names its block row).
    TypeError
        If A's dtype is not float32, float64, complex64, complex128, bool or an integer type
        (bool and integers are inverted in float64).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.bsr_array(np.array([[4.0, 1, 0, 0], [1, 3, 0, 1], [0, 0, 2, 0], [0, 1, 0, 5]]), blocksize=(2, 2))
    >>> M = pynla.block_diagonal_inverse(A)
    >>> M.blocksize, M.indices
    ((2, 2), array([0, 1], dtype=int32))
    >>> diagonal_blocks = np.array([[4.0, 1, 0, 0], [1, 3, 0, 0], [0, 0, 2, 0], [0, 0, 0, 5]])
    >>> bool(np.allclose(M.toarray() @ diagonal_blocks, np.eye(4)))
    True
    """
    require_sparse(A, "A")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}")
    if blocksize is not None:
        r, c = (blocksize, blocksize) if np.isscalar(blocksize) else blocksize
        if (r, c) != getattr(A, "blocksize", None):
            A = to_bsr(A, blocksize=(r, c))
    elif A.format != "bsr":
        raise ValueError(f"blocksize is needed for a matrix of format {A.format!r} (only BSR carries one)")
    parts = bsr_parts(A, "A")
    if parts.blocksize[0] != parts.blocksize[1]:
        raise ValueError(f"A.blocksize {parts.blocksize} is not square")
    dtype = float_kernel_dtype(A.dtype, "A")
    a = cast_bsr(parts, dtype, index_dtype_for([parts], maxval=max(A.shape)))
    indptr, indices, data = _core.bsr_diagonal_inverses(a)
    return bsr_like(A, (data, indices, indptr), A.shape, parts.blocksize)


class BsrLinearOperator(KernelLinearOperator):
    """A BSR matrix as a ``scipy.sparse.linalg.LinearOperator`` on pynla's BSR kernels.

    It behaves as SciPy's operator for the same matrix (``scipy.sparse.linalg.aslinearoperator``):
    its ``dtype`` is A's, ``args`` is ``(A,)``, results have NumPy's result type of A's and x's
    dtypes (an integer A times integer x gives integers), and np.matrix x gives np.matrix.
    ``matvec``/``matmat`` run :func:`bsr_matmul`, ``rmatvec``/``rmatmat`` its transposed form
    (conjugated for complex A or x: the adjoint). Result dtypes the kernels lack (integers,
    bool, long double) and sparse x are multiplied by SciPy (``A @ x``), as SciPy's
    matrix-backed operator does. A's arrays are checked once, here; the block-column listing
    the transposed products need is built at the first of them that reads it (a tall A's are
    summed by ranges of rows without it).
    Build it with :func:`aslinearoperator`.
    """

    kernel_order = "C"  # bsr_matmul's X: converted x is made C-ordered in the same copy

    def __init__(self, A):
        self._checked = bsr_parts(require_sparse(A, "A"), "A")
        super().__init__(A.dtype, A.shape, (A,))
        self.A = A
        self._index_dtype = index_dtype_for([self._checked], maxval=0)
        self._own_parts = cast_bsr(self._checked, A.dtype, self._index_dtype) if A.dtype in KERNEL_DTYPES else None
        self._columns = None

    def _parts(self, dtype):
        """The core's BSR tuple with values in ``dtype``: views of A's own arrays for A's dtype
        (so that products see A's values as they are now, as SciPy's operator does), a
        conversion of its values at each call for another."""
        if dtype == self.dtype:
            return self._own_parts
        return cast_bsr(self._checked, dtype, self._index_dtype)

    def _kernel_product(self, X, adjoint):
        parts = self._parts(X.dtype)
        if not adjoint:
            return _bsr_matmul(parts, X, X.dtype, False, check=False)
        if self._columns is None and not _core.bsr_transposed_by_ranges(parts, X.shape[1]):
            self._columns = _core.bsr_block_columns(parts)
        if X.dtype.kind != "c":
            return _bsr_matmul(parts, X, X.dtype, True, check=False, columns=self._columns)
        return np.conj(_bsr_matmul(parts, np.conj(X), X.dtype, True, check=False, columns=self._columns))

    def _exact_product(self, X, adjoint):
        if not adjoint:
            return self.A @ X
        return (self.A.conj().T if self.dtype.kind == "c" else self.A.T) @ X

    _sparse_product = _exact_product


def aslinearoperator(A):
    """A LinearOperator for A: BSR matrices on pynla's kernels, anything else as SciPy does.

    For a BSR array or matrix, returns a :class:`BsrLinearOperator`, whose products run the
    multithreaded BSR kernels; ``cg``, ``gmres``, ``lsqr``, ``svds`` and other SciPy solvers
    take it. Other inputs go to ``scipy.sparse.linalg.aslinearoperator``.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import scipy.sparse.linalg as spla
    >>> import pynla
    >>> A = sp.bsr_array(sp.diags_array([-1.0, 4.0, -1.0], offsets=[-1, 0, 1], shape=(6, 6)), blocksize=(2, 2))
    >>> b = np.ones(6)
    >>> x, info = spla.cg(pynla.aslinearoperator(A), b, M=pynla.aslinearoperator(pynla.block_diagonal_inverse(A)))
    >>> info, bool(np.allclose(A @ x, b, atol=1e-4))
    (0, True)
    """
    if sp.issparse(A) and A.format == "bsr":
        return BsrLinearOperator(A)
    return spla.aslinearoperator(A)


def spgemm_bsr(A, B):
    """``A @ B`` for BSR A and B, as BSR with A's block height and B's block width (SciPy's rule:
    B is first re-blocked to A's block width if its blocks are not that high). Used by
    :func:`pynla.spgemm`."""
    a_parts = bsr_parts(A, "A")
    if B.blocksize[0] != A.blocksize[1]:
        B = to_bsr(B, blocksize=(A.blocksize[1], B.blocksize[1]))
    b_parts = bsr_parts(B, "B")
    shape, blocksize = (A.shape[0], B.shape[1]), (A.blocksize[0], B.blocksize[1])
    dtype = np.result_type(A.dtype, B.dtype)
    if dtype not in KERNEL_DTYPES:
        c = sp.bsr_array(A) @ sp.bsr_array(B)
        c.sort_indices()
        return bsr_like(A, (c.data, c.indices, c.indptr), shape, blocksize)
    maxval = max(*A.shape, *B.shape, len(a_parts.indices), len(b_parts.indices))
    index_dtype = index_dtype_for([a_parts, b_parts], maxval=maxval)
    try:
        indptr, indices, data = _core.bsr_spgemm(*(cast_bsr(p, dtype, index_dtype) for p in (a_parts, b_parts)))
    except OverflowError:  # C's block count does not fit int32: once more with int64
        wide = np.dtype(np.int64)
        indptr, indices, data = _core.bsr_spgemm(*(cast_bsr(p, dtype, wide) for p in (a_parts, b_parts)))
    return bsr_like(A, (data, indices, indptr), shape, blocksize)
