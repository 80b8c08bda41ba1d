"""Block sparse row (BSR) matrices: products with dense matrices, conversion, building from
blocks, block-Jacobi preconditioning and LinearOperators, on SciPy's own ``bsr_array`` layout.
(BSR x BSR products are :func:`pynla.spgemm`.)"""

from collections import namedtuple

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pynla import _core
from pynla._validation import (
    KERNEL_DTYPES,
    bsr_like,
    bsr_parts,
    cast_bsr,
    cast_csr,
    csr_parts,
    index_dtype_for,
    require_sparse,
)

__all__ = [
    "BlocksizeChoice",
    "BsrLinearOperator",
    "aslinearoperator",
    "block_diagonal_inverse",
    "bsr_from_blocks",
    "bsr_matmul",
    "choose_blocksize",
    "to_bsr",
]

#: Block heights and widths that choose_blocksize tries (those that divide the shape).
BLOCKSIZE_CANDIDATES = (1, 2, 3, 4, 6, 8, 9, 12, 16)

#: What choose_blocksize found: the block shape, and the stored values per nonzero of A with it.
BlocksizeChoice = namedtuple("BlocksizeChoice", ["blocksize", "fill_ratio"])


def bsr_matmul(A, X, *, transpose=False):
    """Multiply a BSR matrix by a dense vector or matrix: ``A @ X``, or ``A.T @ X``.

    Each block row of the result is summed in registers by one thread, with kernels unrolled for
    the common block shapes (2x2, 2x3, 3x2, 3x3, 4x4, 6x6, 8x8, 9x9, 16x16) and a generic path
    for any other; ``transpose=True`` lists A's blocks by block column and never forms A.T.
    The result is the same, bit for bit, for any number of threads.

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
    parts = bsr_parts(require_sparse(A, "A"), "A")
    X = np.asarray(X)
    n_in = A.shape[0] if transpose else A.shape[1]
    if X.ndim not in (1, 2) or X.shape[0] != n_in:
        signature = "(m,n).T @ (m,k)" if transpose else "(m,n) @ (n,k)"
        raise ValueError(f"X has shape {X.shape}, expected ({n_in},) or ({n_in}, k) for {signature} with A {A.shape}")
    dtype = np.result_type(A.dtype, X.dtype)
    if dtype not in KERNEL_DTYPES:
        return (A.T if transpose else A) @ X
    return _bsr_matmul(cast_bsr(parts, dtype, index_dtype_for([parts], maxval=0)), X, dtype, transpose, None)


def _bsr_matmul(a, X, dtype, transpose, columns):
    """bsr_matmul on checked core parts ``a``; ``columns`` is _core.bsr_block_columns(a) or None."""
    (n_block_rows, n_block_cols), (block_rows, block_cols) = a[3], a[4]
    n_out = n_block_cols * block_cols if transpose else n_block_rows * block_rows
    x = np.ascontiguousarray(X.reshape(X.shape[0], 1 if X.ndim == 1 else X.shape[1]), dtype=dtype)
    y = _core.bsr_matmul(a, x, transpose=transpose, columns=columns)
    return y.reshape((n_out,) if X.ndim == 1 else (n_out, x.shape[1]))


def choose_blocksize(A, candidates=BLOCKSIZE_CANDIDATES):
    """The block shape that stores sparse A in the fewest bytes as BSR, and its fill ratio.

    Every (R, C) with R and C in ``candidates`` dividing A's shape is counted exactly, in
    parallel, one pass over A each. Bytes are the blocks' values and indices plus indptr, so
    larger blocks win where A is made of dense blocks and 1x1 (plain CSR) wins where it is not.

    Parameters
    ----------
    A : sparse array or matrix, any SciPy format
    candidates : sequence of int, optional
        Block heights and widths to try.

    Returns
    -------
    BlocksizeChoice
        ``blocksize`` (R, C) and ``fill_ratio``: stored values (blocks x R x C) per stored
        entry of A; 1.0 when the blocks hold no explicit zeros.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.kron(sp.eye_array(100), np.ones((3, 3)), format="csr")
    >>> pynla.choose_blocksize(A)
    BlocksizeChoice(blocksize=(3, 3), fill_ratio=1.0)
    """
    parts = csr_parts(require_sparse(A, "A"), "A")
    index_dtype = index_dtype_for([parts], maxval=max(*A.shape, len(parts.data)))
    dtype = parts.data.dtype if parts.data.dtype in KERNEL_DTYPES else np.dtype(np.float64)
    csr = cast_csr(parts, dtype, index_dtype)
    n_rows, n_cols = A.shape
    sizes = sorted({int(c) for c in candidates if c > 0})
    index_bytes, value_bytes = index_dtype.itemsize, np.dtype(A.dtype).itemsize
    best = None
    for r in (r for r in sizes if n_rows % r == 0):
        for c in (c for c in sizes if n_cols % c == 0):
            n_blocks = _core.csr_count_blocks(csr, r, c)
            stored_bytes = n_blocks * (r * c * value_bytes + index_bytes) + (n_rows // r + 1) * index_bytes
            if best is None or stored_bytes < best[0]:
                best = (stored_bytes, (r, c), n_blocks)
    if best is None:
        raise ValueError(f"candidates: none of {tuple(candidates)} divides the shape {A.shape}")
    _, (r, c), n_blocks = best
    return BlocksizeChoice((r, c), n_blocks * r * c / len(parts.data) if len(parts.data) else 1.0)


def to_bsr(A, blocksize=None):
    """Convert a sparse matrix of any format to BSR, in parallel.

    Parameters
    ----------
    A : sparse array or matrix, any SciPy format
        Unsorted and duplicate indices are allowed (duplicates add up).
    blocksize : (int, int), optional
        The block shape (R, C); R and C must divide A's shape. If None, the shape that stores A
        in the fewest bytes (see :func:`choose_blocksize`).

    Returns
    -------
    bsr_array or bsr_matrix
        ``bsr_array`` for a sparse array, ``bsr_matrix`` for a sparse matrix; canonical (sorted
        block columns, no repeats); zeros inside stored blocks are explicit, as in SciPy's.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla
    >>> A = sp.csr_array(np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0],
    ...                            [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 4.0, 5.0]]))
    >>> B = pynla.to_bsr(A, blocksize=(2, 2))
    >>> B.indices, B.data.shape
    (array([0, 1], dtype=int32), (2, 2, 2))
    >>> bool(np.array_equal(B.toarray(), A.toarray()))
    True
    """
    parts = csr_parts(require_sparse(A, "A"), "A")
    blocksize = choose_blocksize(A).blocksize if blocksize is None else _checked_blocksize(blocksize, A.shape)
    index_dtype = index_dtype_for([parts], maxval=max(*A.shape, len(parts.data)))
    if parts.data.dtype not in KERNEL_DTYPES:
        csr = sp.csr_array((parts.data, parts.indices, parts.indptr), shape=A.shape)
        csr.sum_duplicates()
        bsr = csr.tobsr(blocksize=blocksize)
        bsr.sort_indices()
        return bsr_like(A, (bsr.data, bsr.indices, bsr.indptr), A.shape, blocksize)
    indptr, indices, data = _core.csr_to_bsr(cast_csr(parts, parts.data.dtype, index_dtype), *blocksize)
    return bsr_like(A, (data, indices, indptr), A.shape, blocksize)


def _checked_blocksize(blocksize, shape):
    """blocksize as a pair of positive ints dividing shape; ValueError naming it if not."""
    try:
        r, c = (int(b) for b in blocksize)
    except (TypeError, ValueError):
        raise ValueError(f"blocksize must be a pair of positive integers, got {blocksize!r}") from None
    if r < 1 or c < 1 or shape[0] % r or shape[1] % c:
        raise ValueError(f"blocksize {(r, c)} does not divide the shape {shape}")
    return r, c


def bsr_from_blocks(block_rows, block_cols, blocks, shape):
    """Build a BSR matrix from dense blocks at given block coordinates; repeats add up.

    This is how finite-element stiffness matrices and bundle-adjustment Jacobians are
    assembled: each element or observation contributes a small dense block, and blocks at the
    same place are summed (in the order listed, so the result does not depend on the thread
    count).

    Parameters
    ----------
    block_rows, block_cols : array_like of int, shape (n,)
        Block coordinates: block k goes to rows ``block_rows[k] * R ...`` and columns
        ``block_cols[k] * C ...``.
    blocks : array_like, shape (n, R, C)
        The dense blocks.
    shape : (int, int)
        The matrix shape; R and C must divide it.

    Returns
    -------
    bsr_array
        Canonical: sorted block columns, no repeats.

    Examples
    --------
    >>> import numpy as np
    >>> import pynla
    >>> blocks = np.array([np.eye(2), 2 * np.eye(2), np.ones((2, 2))])
    >>> A = pynla.bsr_from_blocks([0, 1, 0], [0, 1, 0], blocks, shape=(4, 4))
    >>> A.toarray()
    array([[2., 1., 0., 0.],
           [1., 2., 0., 0.],
           [0., 0., 2., 0.],
           [0., 0., 0., 2.]])
    """
    blocks = np.asarray(blocks)
    if blocks.ndim != 3 or blocks.shape[1] < 1 or blocks.shape[2] < 1:
        raise ValueError(f"blocks must have shape (n, R, C) with R, C >= 1, got {blocks.shape}")
    n_listed, r, c = blocks.shape
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a pair of non-negative integers, got {shape!r}") from None
    if len(shape) != 2 or min(shape) < 0 or shape[0] % r or shape[1] % c:
        raise ValueError(f"shape {shape} is not a pair of multiples of the block shape {(r, c)}")
    grid = (shape[0] // r, shape[1] // c)
    index_dtype = np.dtype(np.int64 if max(*shape, n_listed) > np.iinfo(np.int32).max else np.int32)
    coordinates = []
    for name, values, size in (("block_rows", block_rows, grid[0]), ("block_cols", block_cols, grid[1])):
        values = np.asarray(values)
        if values.shape != (n_listed,) or (n_listed and not np.issubdtype(values.dtype, np.integer)):
            raise ValueError(f"{name} must be {n_listed} integers (one per block), got {values.dtype} of shape {values.shape}")
        if n_listed and (values.min() < 0 or values.max() >= size):
            raise ValueError(f"{name} has index {values.min() if values.min() < 0 else values.max()} out of range for {size} blocks")
        coordinates.append(np.ascontiguousarray(values, dtype=index_dtype))
    if blocks.dtype not in KERNEL_DTYPES:
        rows = (coordinates[0][:, None, None] * r + np.arange(r)[None, :, None]) + np.zeros((1, 1, c), dtype=index_dtype)
        cols = (coordinates[1][:, None, None] * c + np.arange(c)[None, None, :]) + np.zeros((1, r, 1), dtype=index_dtype)
        return to_bsr(sp.coo_array((blocks.ravel(), (rows.ravel(), cols.ravel())), shape=shape), blocksize=(r, c))
    flat = np.ascontiguousarray(blocks).reshape(-1)
    indptr, indices, data = _core.bsr_from_blocks(*coordinates, flat, grid, (r, c))
    return bsr_like(None, (data, indices, indptr), shape, (r, c))


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
    dtype = A.dtype if A.dtype in KERNEL_DTYPES else np.result_type(A.dtype, np.float64)
    a = cast_bsr(parts, dtype, index_dtype_for([parts], maxval=max(A.shape)))
    indptr, indices, data = _core.bsr_diagonal_inverses(a)
    return bsr_like(A, (data, indices, indptr), A.shape, parts.blocksize)


class BsrLinearOperator(spla.LinearOperator):
    """A BSR matrix as a ``scipy.sparse.linalg.LinearOperator`` on pynla's BSR kernels.

    ``matvec``/``matmat`` run :func:`bsr_matmul`, ``rmatvec``/``rmatmat`` its transposed form
    (conjugated for complex A, so they are the adjoint, as LinearOperator requires). The
    block-column listing the transposed products need is built once, at the first of them.
    Build it with :func:`aslinearoperator`.
    """

    def __init__(self, A):
        parts = bsr_parts(require_sparse(A, "A"), "A")
        dtype = A.dtype if A.dtype in KERNEL_DTYPES else np.result_type(A.dtype, np.float64)
        super().__init__(dtype=dtype, shape=A.shape)
        self.A = A
        self._parts = cast_bsr(parts, dtype, index_dtype_for([parts], maxval=0))
        self._columns = None

    def _product(self, X, transpose):
        dtype = np.result_type(self.dtype, X.dtype)
        parts = self._parts
        if dtype != self.dtype:
            parts = (*parts[:2], parts[2].astype(dtype), *parts[3:])
        if transpose and self._columns is None:
            self._columns = _core.bsr_block_columns(parts)
        return _bsr_matmul(parts, X, dtype, transpose, self._columns if transpose else None)

    def _matvec(self, x):
        return self._product(np.asarray(x), transpose=False)

    def _matmat(self, X):
        return self._product(np.asarray(X), transpose=False)

    def _rmatvec(self, x):
        return self._rmatmat(x)

    def _rmatmat(self, X):
        X = np.asarray(X)
        if np.iscomplexobj(self._parts[2]) or np.iscomplexobj(X):
            return np.conj(self._product(np.conj(X), transpose=True))
        return self._product(X, transpose=True)


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
        indptr, indices, data = _core.bsr_spgemm(cast_bsr(a_parts, dtype, index_dtype), cast_bsr(b_parts, dtype, index_dtype))
    except OverflowError:  # C's block count does not fit int32: once more with int64
        wide = np.dtype(np.int64)
        indptr, indices, data = _core.bsr_spgemm(cast_bsr(a_parts, dtype, wide), cast_bsr(b_parts, dtype, wide))
    return bsr_like(A, (data, indices, indptr), shape, blocksize)
