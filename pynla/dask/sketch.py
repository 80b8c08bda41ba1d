"""``S @ A`` for a row-chunked Dask array A: each row block sketched where it is stored, with
the columns of S it meets, and the partial sketches added in a fixed tree."""

import dask
import numpy as np
import scipy.sparse as sp

from pynla.dask._blocks import aligned, block_values, row_blocks, summed
from pynla.sketch import _Sketch


def sketch(S, A):
    """``S @ A`` for a pynla sketch S (``CountSketch``, ``SparseSignSketch``, ``SRHT`` or
    ``GaussianSketch``, of shape (s, m)) and A (m x n, a dask.array.Array chunked by rows, NumPy
    or SciPy sparse chunks): what ``S @ A.compute()`` gives, up to the order of the sums.

    Block i (rows ``start:stop``) is sketched in its own task by ``S.columns(start, stop)``:
    for CountSketch and the sparse sign embedding a task draws its columns of S itself (only the
    sketch's key travels), for an SRHT it gets its signs, for a Gaussian sketch its columns.
    The partial sketches (s x n each) are added pairwise in a tree fixed by the number of
    blocks, so the result is the same bits on any cluster. Dense A, or an SRHT or Gaussian
    sketch, give a NumPy array; sparse A with CountSketch or the sparse sign embedding a
    canonical CSR array (a matrix for sparse-matrix chunks), as on one machine.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import pynla, pynla.dask
    >>> M = np.random.default_rng(0).standard_normal((10000, 5))
    >>> A = da.from_array(M, chunks=(2500, 5))
    >>> S = pynla.SparseSignSketch(200, 10000, rng=1)
    >>> bool(np.allclose(pynla.dask.sketch(S, A), S @ M))
    True
    """
    if not isinstance(S, _Sketch):
        raise TypeError(f"S must be a pynla sketch (CountSketch, SparseSignSketch, SRHT, GaussianSketch), "
                        f"got {type(S).__name__}")
    rows = row_blocks(A, "A")
    if S.shape[1] != rows.shape[0]:
        raise ValueError(f"S has shape {S.shape}, A {rows.shape}: S needs one column for each of A's rows")
    if not rows.blocks:
        return S @ (sp.csr_array(rows.shape, dtype=rows.dtype) if rows.sparse else A.compute())
    parts = [_sketched_block(S.columns(int(start), int(stop)), block, rows.sparse)
             for block, start, stop in zip(rows.blocks, rows.bounds[:-1], rows.bounds[1:])]
    return summed(parts, part_entries=S.shape[0] * rows.shape[1])


@dask.delayed(pure=True)
def _sketched_block(S_columns, block, sparse):
    # The sketch's own arrays (a Gaussian block's columns) arrive as the block does: aligned
    # here, so that its product sums as on the client (pynla.dask._blocks.aligned).
    for name, value in vars(S_columns).items():
        if isinstance(value, np.ndarray):
            setattr(S_columns, name, aligned(value))
    return S_columns @ block_values(block, sparse, "A")
