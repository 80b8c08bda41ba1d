"""A row-chunked Dask array as a LinearOperator: ``A @ X`` and ``A^H @ Y`` as tasks, one per
row block, so that SciPy's and pynla's solvers that take a LinearOperator run on it."""

import dask
import numpy as np

from pynla._operator import KernelLinearOperator
from pynla.dask._blocks import aligned, block_values, row_blocks, summed


class DaskOperator(KernelLinearOperator):
    """A (m x n, a dask.array.Array chunked by rows, NumPy or SciPy sparse chunks) as a
    ``scipy.sparse.linalg.LinearOperator``. Each product is one pass over A: ``A @ X`` a task
    per row block, stacked; ``A^H @ Y`` a task per row block (with Y's matching rows), the
    results added in a fixed tree (pynla.dask's reductions), so the same bits on any cluster.
    Results are NumPy arrays on the client (X and Y are sent to every block's task).

    Products run on whatever Dask scheduler is active: a ``distributed.Client``'s cluster if one
    exists, else Dask's threads. ``passes`` counts the products taken so far.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> import pynla.dask
    >>> M = sp.random_array((1000, 40), density=0.05, format="csr", rng=0)
    >>> A = pynla.dask.from_sparse(M, rows_per_chunk=300)
    >>> op = pynla.dask.aslinearoperator(A)
    >>> x = np.ones(40)
    >>> bool(np.allclose(op @ x, M @ x)), bool(np.allclose(op.H @ (op @ x), M.T @ (M @ x))), op.passes
    (True, True, 3)
    """

    kernel_dtypes = None  # NumPy's and SciPy's products in every task take every dtype

    def __init__(self, A):
        self._rows = row_blocks(A, "A")
        super().__init__(self._rows.dtype, self._rows.shape, args=(A,))
        self.passes = 0

    def _kernel_product(self, X, adjoint):
        self.passes += 1
        rows = self._rows
        if adjoint:
            parts = [_adjoint_times(block, X[start:stop], rows.sparse)
                     for block, start, stop in zip(rows.blocks, rows.bounds[:-1], rows.bounds[1:])]
            return np.asarray(summed(parts, part_entries=self.shape[1] * X.shape[1]), dtype=X.dtype)
        X_task = dask.delayed(X, pure=True)
        blocks = dask.compute(*[_times(block, X_task, rows.sparse) for block in rows.blocks])
        return np.vstack(blocks).astype(X.dtype, copy=False) if blocks else np.zeros((0, X.shape[1]), dtype=X.dtype)


def aslinearoperator(A):
    """A row-chunked Dask array as a DaskOperator (a LinearOperator; a DaskOperator as is)."""
    return A if isinstance(A, DaskOperator) else DaskOperator(A)


@dask.delayed(pure=True)
def _times(block, X, sparse):
    return np.asarray(block_values(block, sparse, "A") @ aligned(X))


@dask.delayed(pure=True)
def _adjoint_times(block, Y, sparse):
    block = block_values(block, sparse, "A")
    adjoint = block.T.conj() if block.dtype.kind == "c" else block.T
    return np.asarray(adjoint @ aligned(Y))
