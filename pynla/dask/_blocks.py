"""Row-chunked Dask arrays as pynla's distributed functions read them: the checks on their
chunks, each block's task, and sums of per-block results added in a fixed order."""

from collections import namedtuple

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp

#: A row-chunked Dask array, checked: its blocks as Delayed objects (in row order), the row
#: where each block starts and ends (``bounds[i]:bounds[i + 1]``), its shape and dtype, and
#: whether its chunks are SciPy sparse (else NumPy).
RowBlocks = namedtuple("RowBlocks", ["blocks", "bounds", "shape", "dtype", "sparse"])


def row_blocks(A, name):
    """``A`` (a 2-D dask.array.Array chunked by rows only, with NumPy or SciPy sparse chunks) as
    RowBlocks; TypeError or ValueError naming ``name`` otherwise."""
    if not isinstance(A, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(A).__name__} (pynla's own functions "
                        "take NumPy and SciPy inputs)")
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
    if any(np.isnan(size) for size in A.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes: call {name}.compute_chunk_sizes() first")
    if len(A.chunks[1]) != 1:
        raise ValueError(f"{name} must be chunked by rows only (one chunk across its {A.shape[1]} columns), "
                         f"got column chunks {A.chunks[1]}: rechunk with {name}.rechunk({{1: -1}})")
    meta = A._meta
    sparse = sp.issparse(meta)
    if not sparse and type(meta) is not np.ndarray:
        raise TypeError(f"{name}'s chunks must be NumPy arrays or SciPy sparse arrays/matrices, got {type(meta).__name__}")
    if A.dtype.kind not in "biufc":
        raise TypeError(f"{name} must have a numeric dtype, got {A.dtype}")
    bounds = np.concatenate([[0], np.cumsum(A.chunks[0])]).astype(np.int64)
    return RowBlocks(list(A.to_delayed()[:, 0]), bounds, A.shape, np.dtype(A.dtype), sparse)


def same_row_chunks(A, B, a_name, b_name):
    """B's row blocks, with a ValueError naming both unless they split the rows as A's do."""
    if not np.array_equal(A.bounds, B.bounds):
        raise ValueError(f"{b_name}'s row chunks {tuple(np.diff(B.bounds))} must match {a_name}'s "
                         f"{tuple(np.diff(A.bounds))}: rechunk {b_name} with {b_name}.rechunk({{0: {a_name}.chunks[0]}})")
    return B


def block_values(block, sparse, name):
    """A block as a task sees it: CSR for a sparse array, an aligned ndarray otherwise
    (``aligned``); TypeError naming ``name`` for a chunk unlike the array's others (a Dask
    array's chunk types must agree)."""
    if sp.issparse(block) != sparse:
        expected = "SciPy sparse" if sparse else "NumPy"
        raise TypeError(f"{name} mixes chunk types: its chunks are {expected}, but one is {type(block).__name__}")
    if not sparse:
        return aligned(np.asarray(block))
    block = block.tocsr()
    if all(part.flags.aligned for part in (block.data, block.indices, block.indptr)):
        return block
    return type(block)((aligned(block.data), aligned(block.indices), aligned(block.indptr)), shape=block.shape)


def aligned(array):
    """``array``, or an aligned copy of it. Arrays a task receives from another process may sit
    at any byte offset of a message (measured: addresses 53 and 37 mod 64), and NumPy multiplies
    unaligned arrays by its own loops instead of the BLAS, which sum in another order: without
    the copy, one block's product came out in other bits on another worker."""
    return array if array.flags.aligned else array.copy()


#: Parts of at most this many entries are added on the client (summed).
SMALL_PART_ENTRIES = 1 << 18


def summed(parts, part_entries):
    """The sum of Delayed values (arrays, sparse matrices, or tuples of them, added entry by
    entry) of about ``part_entries`` entries each, computed, added pairwise in a balanced tree
    whose shape depends on the number of parts only: the same bits on any cluster and for any
    number of workers.

    Small parts (up to SMALL_PART_ENTRIES: the d x d and d x q blocks of least squares) come to
    the client and are added there: a tree of tasks costs a scheduler round trip per level (a
    pass of 8 blocks on a 2-worker local cluster: about 60 ms with the tree in tasks, 30 with it
    on the client). Large parts (a sketch, A^H Y for a wide A) are added in tasks, so that only
    the sum travels to the client."""
    if part_entries <= SMALL_PART_ENTRIES:
        return _pairwise(list(dask.compute(*parts)), _added)
    return _pairwise(list(parts), dask.delayed(_added, pure=True)).compute()


def _pairwise(parts, add):
    """parts added pairwise, level by level (an odd last part joins at the next level)."""
    while len(parts) > 1:
        paired = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = paired + parts[len(parts) - len(parts) % 2:]
    return parts[0]


def _added(first, second):
    # Overflow here is a caller's to judge (least squares reads it off the Gram matrix's
    # diagonal and rescales), as in the tasks, which run with NumPy's warnings unseen.
    with np.errstate(over="ignore", invalid="ignore"):
        if isinstance(first, tuple):
            return tuple(a + b for a, b in zip(first, second))
        return first + second
