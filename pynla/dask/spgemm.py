"""Sparse x sparse products of row-chunked Dask arrays: pynla.spgemm in a task per row block
of A, with B broadcast or, when B is itself a Dask array, gathered a block's worth at a time."""

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp

import pynla
from pynla.dask._blocks import block_values, row_blocks


def spgemm(A, B, *, sort_indices=True, semiring="plus_times"):
    """``C = A @ B`` for A (m x k, a dask.array.Array chunked by rows with SciPy sparse chunks)
    and B (k x n): a Dask array of CSR chunks, chunked by rows as A, whose rows are those of
    ``pynla.spgemm(A.compute(), B)``, bit for bit (each row's products are summed in the same
    order whatever the blocks).

    Block i of C is ``pynla.spgemm(A_i, B)`` in its own task (lazy: compute or persist C).

    - B a SciPy sparse array or matrix: broadcast, one copy per worker.
    - B a Dask array chunked by rows (sparse chunks): the one-dimensional algorithm. Each block
      of A lists the columns it uses; each block of B sends it only those of its rows; the
      block's product takes them, stacked, with A_i's columns renumbered to match. No worker
      holds more of B than its blocks of A need.

    ``sort_indices`` and ``semiring`` are pynla.spgemm's.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> import pynla, pynla.dask
    >>> M = sp.random_array((2000, 2000), density=0.002, format="csr", rng=0)
    >>> A = pynla.dask.from_sparse(M, rows_per_chunk=500)
    >>> C = pynla.dask.spgemm(A, M).compute()
    >>> bool(abs(C - pynla.spgemm(M, M)).max() == 0)
    True
    >>> C = pynla.dask.spgemm(A, A).compute()  # B as row blocks too
    >>> bool(abs(C - pynla.spgemm(M, M)).max() == 0)
    True
    """
    rows = row_blocks(A, "A")
    if not rows.sparse:
        raise TypeError("A's chunks must be SciPy sparse (pynla.dask.from_sparse builds such an array)")
    options = {"sort_indices": sort_indices, "semiring": semiring}
    if isinstance(B, da.Array):
        b_rows = row_blocks(B, "B")
        if not b_rows.sparse:
            raise TypeError("B's chunks must be SciPy sparse")
        b_shape, b_dtype = b_rows.shape, b_rows.dtype
        tasks = _one_dimensional(rows, b_rows, options)
    elif sp.issparse(B):
        b_shape, b_dtype = B.shape, B.dtype
        B_task = dask.delayed(B.tocsr(), pure=True)
        tasks = [_block_product(block, B_task, options) for block in rows.blocks]
    else:
        raise TypeError(f"B must be a SciPy sparse array or matrix or a row-chunked Dask array, got {type(B).__name__}")
    if rows.shape[1] != b_shape[0]:
        raise ValueError(f"A has shape {rows.shape}, B {b_shape}: A's columns must match B's rows")
    dtype = np.result_type(rows.dtype, b_dtype) if semiring != "or_and" else np.dtype(bool)
    meta = type(A._meta)((0, 0), dtype=dtype) if isinstance(A._meta, sp.spmatrix) else sp.csr_array((0, 0), dtype=dtype)
    blocks = [da.from_delayed(task, shape=(int(stop - start), b_shape[1]), dtype=dtype, meta=meta)
              for task, start, stop in zip(tasks, rows.bounds[:-1], rows.bounds[1:])]
    return da.concatenate(blocks, axis=0) if blocks else da.zeros((0, b_shape[1]), dtype=dtype)


def _one_dimensional(rows, b_rows, options):
    """The tasks of C's blocks when B is row blocks too: block i of A gets, from each block j of
    B, the rows it uses (in order), and multiplies by them stacked."""
    tasks = []
    for block in rows.blocks:
        used = _columns_used(block)
        pieces = [_rows_taken(b_block, used, int(start), int(stop))
                  for b_block, start, stop in zip(b_rows.blocks, b_rows.bounds[:-1], b_rows.bounds[1:])]
        tasks.append(_gathered_product(block, used, pieces, options))
    return tasks


@dask.delayed(pure=True)
def _block_product(block, B, options):
    return pynla.spgemm(block_values(block, True, "A"), block_values(B, True, "B"), **options)


@dask.delayed(pure=True)
def _columns_used(block):
    """The columns a block of A holds entries in, sorted."""
    return np.unique(block_values(block, True, "A").indices)


@dask.delayed(pure=True)
def _rows_taken(b_block, used, start, stop):
    """The rows of B's block (B's rows start:stop) that a block of A uses, in order, as CSR."""
    b_block = block_values(b_block, True, "B")
    wanted = used[(used >= start) & (used < stop)] - start
    return b_block[wanted]


@dask.delayed(pure=True)
def _gathered_product(block, used, pieces, options):
    """A_i @ B from the rows of B that A_i uses (``used``, sorted; stacked in ``pieces``): A_i's
    column j becomes column ``searchsorted(used, j)``, which keeps each row's order of entries,
    so the products are summed as in pynla.spgemm(A_i, B)."""
    block = block_values(block, True, "A")
    renumbered = type(block)((block.data, np.searchsorted(used, block.indices), block.indptr),
                             shape=(block.shape[0], len(used)))
    gathered = sp.vstack(pieces, format="csr") if pieces else None
    return pynla.spgemm(renumbered, type(block)(gathered), **options)
