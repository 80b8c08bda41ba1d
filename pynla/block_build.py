"""Building BSR matrices: conversion from any sparse format (choosing the block shape if asked)
and assembly from lists of dense blocks, on SciPy's own ``bsr_array`` layout."""

import math
from collections import namedtuple

import numpy as np
import scipy.sparse as sp

from pynla import _core
from pynla._validation import KERNEL_DTYPES, CsrInput, as_csr_array, bsr_like, cast_csr, csr_parts, index_dtype_for, require_sparse

__all__ = ["BlocksizeChoice", "bsr_from_blocks", "choose_blocksize", "to_bsr"]

#: Block heights and widths that choose_blocksize tries (those that divide the shape).
BLOCKSIZE_CANDIDATES = (1, 2, 3, 4, 6, 8, 9, 12, 16)

#: choose_blocksize compares the candidates on a sample of rows when A stores more entries than
#: this: every SAMPLE_STRIDE-th band of rows (the shape it picks is then counted exactly).
SAMPLE_ABOVE_NNZ = 1 << 18
SAMPLE_STRIDE = 16

#: What choose_blocksize found: the block shape, and the stored values per nonzero of A with it.
BlocksizeChoice = namedtuple("BlocksizeChoice", ["blocksize", "fill_ratio"])


def choose_blocksize(A, candidates=BLOCKSIZE_CANDIDATES):
    """The block shape that stores sparse A in the fewest bytes as BSR, and its fill ratio.

    Every (R, C) with R and C in ``candidates`` dividing A's shape is counted, in parallel,
    one pass each: over all of A when it is small, else over evenly spaced bands of rows
    holding about 1/16 of them (bands as high as every candidate R divides, so blocks align);
    the chosen shape is then counted exactly over A. Bytes are the blocks' values and indices
    plus indptr, so larger blocks win where A is made of dense blocks and 1x1 (plain CSR) wins
    where it is not.

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
    row_sizes = [r for r in sizes if n_rows % r == 0]
    col_sizes = [c for c in sizes if n_cols % c == 0]
    if not row_sizes or not col_sizes:
        raise ValueError(f"candidates: none of {tuple(candidates)} divides the shape {A.shape}")
    sample = _row_sample(csr, math.lcm(*row_sizes))
    index_bytes, value_bytes = index_dtype.itemsize, np.dtype(A.dtype).itemsize

    def stored_bytes(r, c):
        n_blocks = _core.csr_count_blocks(sample, r, c)
        return n_blocks * (r * c * value_bytes + index_bytes) + (sample.shape[0] // r + 1) * index_bytes

    # Smallest storage; ties go to the smaller blocks (the first met).
    r, c = min(((r, c) for r in row_sizes for c in col_sizes), key=lambda shape: stored_bytes(*shape))
    n_blocks = _core.csr_count_blocks(csr, r, c)
    return BlocksizeChoice((r, c), n_blocks * r * c / len(parts.data) if len(parts.data) else 1.0)


def _row_sample(csr, band):
    """The CSR rows of every SAMPLE_STRIDE-th band of ``band`` rows (``band`` divides the row
    count), or ``csr`` itself if it stores at most SAMPLE_ABOVE_NNZ entries or has few bands."""
    n_bands = csr.shape[0] // band
    if len(csr.data) <= SAMPLE_ABOVE_NNZ or n_bands < 2 * SAMPLE_STRIDE:
        return csr
    rows = (np.arange(0, n_bands, SAMPLE_STRIDE)[:, None] * band + np.arange(band)).ravel()
    starts, lengths = csr.indptr[rows], np.diff(csr.indptr)[rows]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(csr.indptr.dtype)
    take = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
    return CsrInput(indptr, csr.indices[take], csr.data[take], (len(rows), csr.shape[1]))


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
        csr = as_csr_array(parts)
        if not csr.has_canonical_format:  # a copy: the arrays may be the caller's
            csr = csr.copy()
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
            raise ValueError(
                f"{name} must be {n_listed} integers (one per block), got {values.dtype} of shape {values.shape}"
            )
        if n_listed and (values.min() < 0 or values.max() >= size):
            bad = values.min() if values.min() < 0 else values.max()
            raise ValueError(f"{name} has index {bad} out of range for {size} blocks")
        coordinates.append(np.ascontiguousarray(values, dtype=index_dtype))
    if blocks.dtype not in KERNEL_DTYPES:
        rows = (coordinates[0][:, None, None] * r + np.arange(r)[None, :, None]) + np.zeros((1, 1, c), dtype=index_dtype)
        cols = (coordinates[1][:, None, None] * c + np.arange(c)[None, None, :]) + np.zeros((1, r, 1), dtype=index_dtype)
        return to_bsr(sp.coo_array((blocks.ravel(), (rows.ravel(), cols.ravel())), shape=shape), blocksize=(r, c))
    flat = np.ascontiguousarray(blocks).reshape(-1)
    indptr, indices, data = _core.bsr_from_blocks(*coordinates, flat, grid, (r, c))
    return bsr_like(None, (data, indices, indptr), shape, (r, c))
