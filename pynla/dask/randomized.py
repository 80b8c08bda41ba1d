"""Randomized SVD of a row-chunked Dask array: pynla.randomized_svd with every product a
pass over A's blocks (pynla.dask.DaskOperator)."""

import pynla
from pynla.dask.products import aslinearoperator


def randomized_svd(A, k, **options):
    """:func:`pynla.randomized_svd` of A (a dask.array.Array chunked by rows, NumPy or SciPy
    sparse chunks, or a :class:`pynla.dask.DaskOperator`), each product with A or A^H one pass
    over its blocks: ``2 q + 2`` passes for q power iterations (8 with the defaults for
    ``k < 0.1 min(m, n)``). ``options`` are pynla.randomized_svd's; the same ``rng`` gives the
    one-machine answer up to the order of the blocks' sums. U, s and Vh are NumPy arrays; the
    basis (m x about 4 (k + oversamples)) is built on the client. Pass a DaskOperator
    (``pynla.dask.aslinearoperator(A)``) to read the passes taken from its ``passes``.

    Where pynla.randomized_svd's cost model picks the exact SVD (A with few columns or rows
    for k: 4000000 x 20 at k = 5, say), it is computed from A's product with the identity,
    which brings the whole of A to the client.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import pynla, pynla.dask
    >>> rng = np.random.default_rng(0)
    >>> M = (rng.standard_normal((4000, 30)) * 0.5 ** np.arange(30)) @ rng.standard_normal((30, 200))
    >>> A = pynla.dask.aslinearoperator(da.from_array(M, chunks=(1000, 200)))
    >>> U, s, Vh = pynla.dask.randomized_svd(A, 5, rng=1)
    >>> bool(np.allclose(s, np.linalg.svd(M, compute_uv=False)[:5], rtol=1e-10)), A.passes
    (True, 8)
    """
    return pynla.randomized_svd(aslinearoperator(A), k, **options)
